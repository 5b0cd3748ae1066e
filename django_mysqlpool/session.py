"""What a pooled server connection's session already has, so setup is not sent twice.

Django runs ``SET SESSION TRANSACTION ISOLATION LEVEL ...`` (and ``SET SQL_AUTO_IS_NULL =
0`` where needed) on every new Django connection, which with a pool is every borrow. The
cursors handed out note what such statements set, per server connection; a setup
statement whose values the session already has is not sent. Any other statement that
touches those settings makes them unknown, so the next setup is sent again.
"""

from __future__ import annotations

import re
from typing import Any

from .driver import FATAL_ERROR_CODES
from .reset import FAILED_WITH

#: The session settings Django's ``init_connection_state`` sends, as we recognise them.
_SETUP = (
    ("isolation", re.compile(r"SET SESSION TRANSACTION ISOLATION LEVEL ([A-Z ]+)", re.I)),
    ("sql_auto_is_null", re.compile(r"SET SQL_AUTO_IS_NULL\s*=\s*(\d+)", re.I)),
)
#: Statements that may change those settings in ways we do not parse.
_TOUCHES_SETUP = re.compile(r"ISOLATION|SQL_AUTO_IS_NULL", re.I)

SessionState = dict[str, str]


_PARSE_CACHE_LIMIT = 64
_parsed: dict[str, list[tuple[str, str]] | None] = {}


def parse_setup(statement: str) -> list[tuple[str, str]] | None:
    """The settings a pure setup statement assigns, or None if it is anything else.

    Django sends the same few setup strings over and over: the answer is remembered.
    """
    try:
        return _parsed[statement]
    except KeyError:
        pass
    assignments = _parse(statement)
    if len(_parsed) >= _PARSE_CACHE_LIMIT:
        _parsed.clear()
    _parsed[statement] = assignments
    return assignments


def _parse(statement: str) -> list[tuple[str, str]] | None:
    assignments = []
    for part in statement.split(";"):
        part = part.strip()
        if not part:
            continue
        for name, pattern in _SETUP:
            match = pattern.fullmatch(part)
            if match:
                assignments.append((name, " ".join(match.group(1).upper().split())))
                break
        else:
            return None
    return assignments or None


def _set_statement(query: Any) -> str | None:
    """The text of a ``SET`` statement, or None for anything else (cheaply, per execute)."""
    if isinstance(query, str):
        head: Any = query[:16].lstrip()
        if head[:3].upper() != "SET" or not head[3:4].isspace():
            return None
        return query
    if isinstance(query, bytes):
        head = query[:16].lstrip()
        if head[:3].upper() != b"SET" or not head[3:4].isspace():
            return None
        return query.decode(errors="replace")
    return None


class SessionCursorMixin:
    """Put before a driver's cursor class: skips setup the session already has.

    A subclass rather than a proxy, so that every other cursor call (fetchone, rowcount,
    close, ...) costs what it costs on the driver's own cursor, and ``isinstance`` checks
    against the driver's classes keep working.
    """

    _mysqlpool_session: SessionState
    _mysqlpool_info: dict[str, Any]  # the connection record's, see reset.py
    #: Whether this cursor reached the driver (an execute that was not skipped, or more).
    _mysqlpool_used = False

    def _to_driver(self, call: Any, *args: Any) -> Any:
        """Run a driver call; remember a fatal error for the give-back.

        The error code of the connection does not survive until then: closing the cursor
        (``next_result()``) clears it, and a lost connection would go back to the pool.
        """
        self._mysqlpool_used = True
        try:
            return call(*args)
        except Exception as error:
            code = error.args[0] if error.args else None
            if code in FATAL_ERROR_CODES:
                self._mysqlpool_info[FAILED_WITH] = code
            raise

    def execute(self, query: Any, args: Any = None) -> Any:
        text = _set_statement(query)
        assignments = parse_setup(text) if text is not None and args is None else None
        session = self._mysqlpool_session
        if assignments is not None and all(session.get(n) == v for n, v in assignments):
            return 0  # the session already has exactly this: nothing to send
        if assignments is None:
            if text is not None and _TOUCHES_SETUP.search(text):
                session.clear()  # changed in a way we do not follow
            return self._to_driver(super().execute, query, args)  # type: ignore[misc]
        session.clear()  # unknown until the server has answered
        result = self._to_driver(super().execute, query)  # type: ignore[misc]
        session.update(assignments)
        return result

    def executemany(self, query: Any, args: Any) -> Any:
        return self._to_driver(super().executemany, query, args)  # type: ignore[misc]

    def callproc(self, procname: Any, args: Any = ()) -> Any:
        return self._to_driver(super().callproc, procname, args)  # type: ignore[misc]

    def close(self) -> None:
        if self._mysqlpool_used:
            super().close()  # type: ignore[misc]
        else:
            # Nothing was sent, so nothing is left to read: skip the driver's drain, a C
            # call that releases the GIL (the skipped setup's cursor is closed every borrow).
            self.connection = None


_session_classes: dict[type, type] = {}


def session_cursor_class(cursor_class: type) -> type:
    """``cursor_class`` with ``SessionCursorMixin`` in front, made once per class."""
    session_class = _session_classes.get(cursor_class)
    if session_class is None:
        # Same name, our module: tracebacks show both the driver's class and who wraps it.
        session_class = type(
            cursor_class.__name__, (SessionCursorMixin, cursor_class), {"__module__": __name__}
        )
        _session_classes[cursor_class] = session_class
    return session_class


def session_cursor(
    cursor_class: type, raw: Any, session: SessionState, info: dict[str, Any]
) -> Any:
    """A cursor of ``cursor_class`` on ``raw`` that tracks ``session`` and fatal errors."""
    cursor = session_cursor_class(cursor_class)(raw)
    cursor._mysqlpool_session = session
    cursor._mysqlpool_info = info
    return cursor
