"""What a statement's text says about the session state it may leave behind.

Every statement that is not known to leave the session alone counts as a change: its
first word is not a plain query, DML or DDL word (SET, USE, PREPARE, HANDLER, CALL, XA,
LOCK, FLUSH, a leading comment...), or it does what the server never flags in its reply
(measured on MariaDB 10.11, see ../shared/UPSTREAM-FACTS.md): a named lock
(``GET_LOCK``), a variable assigned inside a query (``SELECT @v := 1``, ``SELECT ... INTO
@v``), a temporary table, or more statements after the first. What the text cannot show
(a function or trigger that sets a variable) the server's reply flag shows, where the
client library can read it (``session.py``).

A plain comment after the statement (tracing tools append one with the route and trace
context to every query) is not part of it; an executable comment (``/*! */``) is.

Classifying errs on the side of "changed": a false alarm costs one reset of the session,
a miss would hand state to the next request. Django sends the same statement texts over
and over, so each answer is remembered (bounded).
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

#: The session settings Django's ``init_connection_state`` sends, as we recognise them.
_SETUP = (
    ("isolation", re.compile(r"SET SESSION TRANSACTION ISOLATION LEVEL ([A-Z ]+)", re.I)),
    ("sql_auto_is_null", re.compile(r"SET SQL_AUTO_IS_NULL\s*=\s*(\d+)", re.I)),
)
#: How to send each of those settings again (after a reset of the session).
SETUP_STATEMENTS = {
    "isolation": "SET SESSION TRANSACTION ISOLATION LEVEL {}",
    "sql_auto_is_null": "SET SQL_AUTO_IS_NULL = {}",
}

#: First words of statements that leave no session state behind by themselves (besides
#: a transaction, which the give-back rolls back); what they call may, which the server
#: flags where it can.
_SESSION_NEUTRAL = frozenset(
    {
        "SELECT", "INSERT", "UPDATE", "DELETE", "REPLACE", "WITH", "VALUES", "TABLE",
        "SHOW", "EXPLAIN", "DESCRIBE", "DESC", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE",
        "CREATE", "ALTER", "DROP", "TRUNCATE", "RENAME", "ANALYZE", "OPTIMIZE", "CHECK",
        "CHECKSUM", "REPAIR", "GRANT", "REVOKE", "DO",
    }
)  # fmt: skip
_FIRST_WORD = re.compile(r"[\s(]*([A-Za-z_]*)")
_INTO_VARIABLE = re.compile(r"INTO\s*@")
_MORE_STATEMENTS = re.compile(r";\s*\S")


class Statement(NamedTuple):
    """What one statement text may do to the session."""

    #: Django setup assignments ``{setting: value}`` when the statement is only that.
    setup: dict[str, str] | None
    #: It may change session state (besides a transaction, which status flags show).
    may_change: bool


_CACHE_LIMIT = 256
#: What ``classify`` found, by statement text. Read directly (``remembered.get``) by the
#: session cursor, for which a call per statement is worth avoiding.
remembered: dict[Any, Statement] = {}


def classify(query: Any) -> Statement:
    """What ``query`` (str or bytes) may do to the session; remembered per text."""
    try:
        return remembered[query]
    except KeyError:
        pass
    except TypeError:  # not hashable (a bytearray): nothing to remember it by
        return _classify(query)
    if isinstance(query, str) and query.endswith("*/"):
        stripped = strip_trailing_comments(query)
        if stripped != query:
            # Remembered without it: the same statement, another trace id. Remembering
            # every traced text would miss every time and empty the memory every 256.
            return classify(stripped)
    found = _classify(query)
    if len(remembered) >= _CACHE_LIMIT:
        remembered.clear()
    remembered[query] = found
    return found


def _classify(query: Any) -> Statement:
    if isinstance(query, (bytes, bytearray)):
        # The text as a str, through classify(): its trailing comment stripped there.
        return classify(bytes(query).decode("latin-1"))
    if not isinstance(query, str):
        return Statement(None, True)  # not a statement we can read: assume the worst
    text = query.upper()
    setup = parse_setup(query) if text.lstrip().startswith("SET") else None
    if setup is not None:
        return Statement(setup, False)
    match = _FIRST_WORD.match(text)
    first = match.group(1) if match else ""
    return Statement(None, _may_change(text, first))


def strip_trailing_comments(query: str) -> str:
    """``query`` without the plain ``/* ... */`` comments at its end.

    Tracing tools append one to every query (OpenTelemetry's and Google's sqlcommenter:
    route, trace context): the statement before it is what the session sees. Executable
    comments (``/*! ... */``, MariaDB's ``/*M! ... */``) are statement text, and stay.
    """
    while True:
        end = query.rstrip()
        if not end.endswith("*/"):
            return query
        # A comment's text holds no "/*": the last one opens it, wherever a literal has one.
        start = end.rfind("/*", 0, len(end) - 2)
        text = end[start + 2 : -2]
        if start < 0 or text.startswith(("!", "M!")) or "*/" in text:
            return query
        query = end[:start].rstrip()


def _may_change(text: str, first: str) -> bool:
    """Whether an upper-cased statement may leave session state behind.

    Statements the server flags (SET, USE, PREPARE, temporary tables) are caught here
    too, by their first word: an interrupted call leaves no reply to read the flag from.
    """
    return (
        first not in _SESSION_NEUTRAL  # SET, USE, PREPARE, HANDLER, CALL, XA, a comment...
        or "GET_LOCK" in text  # LOCK TABLES, FLUSH ... READ LOCK: by their first word
        or ":=" in text
        or ("@" in text and _INTO_VARIABLE.search(text) is not None)
        or (";" in text and _MORE_STATEMENTS.search(text) is not None)
        or (first in ("CREATE", "DROP") and "TEMPORARY" in text)
    )


def parse_setup(statement: str) -> dict[str, str] | None:
    """The settings a pure Django setup statement assigns, or None if it is anything else.

    A setting assigned twice keeps its last value, as the session does.
    """
    assignments: dict[str, str] = {}
    for part in statement.split(";"):
        part = part.strip()
        if not part:
            continue
        for name, pattern in _SETUP:
            match = pattern.fullmatch(part)
            if match:
                assignments[name] = " ".join(match.group(1).upper().split())
                break
        else:
            return None
    return assignments or None
