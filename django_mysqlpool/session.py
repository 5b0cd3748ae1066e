"""What a pooled server connection's session already has, so setup is not sent twice.

Django runs ``SET SESSION TRANSACTION ISOLATION LEVEL ...`` (and ``SET SQL_AUTO_IS_NULL =
0`` where needed) on every new Django connection, which with a pool is every borrow. The
cursors handed out note what such statements set, per server connection; a setup
statement whose values the session already has is not sent. Any other statement that
touches those settings makes them unknown, so the next setup is sent again.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

#: The session settings Django's ``init_connection_state`` sends, as we recognise them.
_SETUP = (
    ("isolation", re.compile(r"SET SESSION TRANSACTION ISOLATION LEVEL ([A-Z ]+)", re.I)),
    ("sql_auto_is_null", re.compile(r"SET SQL_AUTO_IS_NULL\s*=\s*(\d+)", re.I)),
)
#: Statements that may change those settings in ways we do not parse.
_TOUCHES_SETUP = re.compile(r"ISOLATION|SQL_AUTO_IS_NULL", re.I)

SessionState = dict[str, str]


def parse_setup(statement: str) -> list[tuple[str, str]] | None:
    """The settings a pure setup statement assigns, or None if it is anything else."""
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
    if isinstance(query, bytes):
        head: Any = query[:16].lstrip()
        if head[:3].upper() != b"SET" or not head[3:4].isspace():
            return None
        return query.decode(errors="replace")
    if isinstance(query, str):
        head = query[:16].lstrip()
        if head[:3].upper() != "SET" or not head[3:4].isspace():
            return None
        return query
    return None


class SessionCursor:
    """A driver cursor that skips setup the session already has and notes what changes it."""

    __slots__ = ("_cursor", "_session")

    def __init__(self, cursor: Any, session: SessionState) -> None:
        self._cursor = cursor
        self._session = session

    def execute(self, query: Any, args: Any = None) -> Any:
        text = _set_statement(query)
        if text is None:
            return self._cursor.execute(query, args)
        assignments = parse_setup(text) if args is None else None
        if assignments is None:
            if _TOUCHES_SETUP.search(text):
                self._session.clear()  # changed in a way we do not follow
            return self._cursor.execute(query, args)
        if all(self._session.get(name) == value for name, value in assignments):
            return 0  # the session already has exactly this: nothing to send
        self._session.clear()  # unknown until the server has answered
        result = self._cursor.execute(query)
        self._session.update(assignments)
        return result

    def executemany(self, query: Any, args: Any) -> Any:
        return self._cursor.executemany(query, args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._cursor)

    def __enter__(self) -> SessionCursor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._cursor.close()
