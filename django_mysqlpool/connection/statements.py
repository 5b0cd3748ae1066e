"""What a statement's text says about the session state it may leave behind.

Owns the reading of statement texts for the session cursor (``session.py``). A statement
counts as a change unless its text shows it leaves the session alone: its first word is
not a plain query, DML or DDL word (SET, USE, PREPARE, HANDLER, CALL, XA, LOCK, FLUSH...),
or it does what the server never flags in its reply (measured on MariaDB 10.11, see
../shared/UPSTREAM-FACTS.md): a named lock (``GET_LOCK``), a variable assigned inside a
query (``SELECT @v := 1``, ``SELECT ... INTO @v``), a temporary table, or more statements
after the first. What the text cannot show (a function or trigger that sets a variable)
the server's reply flag shows, where the client library can read it.

The rules read the text as the MySQL/MariaDB lexer does, so comments and literals cannot
hide a change or fake one:

- ``/* ... */`` is a comment up to the first ``*/`` (no nesting); ``#``, and ``--`` followed
  by whitespace, a control character or the end, comment out the rest of the line
  (``--x`` is code: minus minus x);
- executable comments (``/*! ... */``, ``/*!50700 ... */``, MariaDB's ``/*M! ... */``,
  ``/*M!100100 ... */``) are statement text, version digits aside;
- '...' and "..." are strings (a doubled quote or a backslash escapes), `...` is a name
  (a doubled backtick escapes); their contents are not code, except that a `name` (and
  "name" under ANSI_QUOTES) can call ``GET_LOCK``.

Wherever unsure, it is a change. A text with a backslash is read with and without
backslash escapes (sql_mode NO_BACKSLASH_ESCAPES), and a change in either reading counts;
an unterminated string, name or comment, an executable comment holding a quote or a
comment (the server reads it as code or, above its version, skips it as a comment: the
two end it in different places), and ``--`` before a non-ASCII character (a space or not,
by character set) are changes. A false alarm costs one reset of the session, a miss would
hand state to the next request.

A plain comment after the statement (tracing tools append one with the route and trace
context to every query) is not part of it: the text is remembered without it, so that a
new trace id per query does not empty what is remembered (bounded: Django sends the same
few texts over and over).
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
#: What the server's lexer skips as space; Python's ``str.isspace`` also takes characters
#: (``\x85``, ``\xa0``...) the server reads as part of a name.
_SPACE = " \t\n\r\f\v"
_FIRST_WORD = re.compile(r"[ \t\n\r\f\v(]*([A-Z_]*)")
_INTO_VARIABLE = re.compile(r"INTO\s*@")  # Unicode \s: more spaces than the server's, safe
_MORE_STATEMENTS = re.compile(r";[ \t\n\r\f\v]*[^ \t\n\r\f\v]")

#: In the code text: something that cannot be read for sure (the same character sent as
#: code counts too, which errs the safe way).
_UNSURE = "\x00"
#: In the code text: a line comment that only the end of the text closes. It ends the
#: code of a reading (removed before the rules look) and means the text does not end
#: clean: appended text (a comment after it) would be commented out too.
_OPEN_END = "\x01"
#: An executable comment holding these is read differently by a server that runs it
#: (literals and comments inside are lexed) and one that skips it (up to the first */).
_AMBIGUOUS_IN_EXECUTABLE = re.compile(r"['\"`#]|--|/\*")


def _lexer(string: str, quoted_name: str) -> re.Pattern[str]:
    """One alternation over everything that is not plain code, tried left to right.

    Each branch starts with a literal character: the regex engine then skips plain code
    at C speed instead of trying every branch at every position (3x faster).
    """
    return re.compile(
        r"`(?P<name>[^`]*(?:``[^`]*)*`)"
        rf'|"(?P<quoted_name>{quoted_name}")'
        rf"|'(?P<string>{string}')"
        r"|/\*(?P<executable>M?!(?:[0-9]{5}[0-9]?)?(?P<code>.*?)\*/)"
        r"|/\*(?P<comment>.*?\*/)"
        r"|#(?P<line>[^\n]*\n?)"
        r"|-(?P<dash_line>-(?=[\x00-\x20\x7f]|\Z)[^\n]*\n?)"
        # What the complete forms above did not match: "--" before a character whose
        # class depends on the character set, or an unterminated string, name or comment,
        # which runs to the end of the text (taking it all keeps a text full of openers
        # from costing a scan to the end per opener).
        r"|-(?P<unsure>-[^\x00-\x7f])|'(?P<open_string>.*)|\"(?P<open_quoted_name>.*)"
        r"|`(?P<open_name>.*)|/\*(?P<open_comment>.*)",
        re.DOTALL,
    )


#: The default reading: a backslash escapes the next character inside quotes.
_LEXER = _lexer(r"[^'\\]*(?:(?:\\.|'')[^'\\]*)*", r'[^"\\]*(?:(?:\\.|"")[^"\\]*)*')
#: sql_mode NO_BACKSLASH_ESCAPES (and "names" under ANSI_QUOTES): a backslash is a
#: character like any other.
_LEXER_NO_BACKSLASH_ESCAPES = _lexer(r"[^']*(?:''[^']*)*", r'[^"]*(?:""[^"]*)*')


def _as_code(token: re.Match[str]) -> str:
    """What a token is in the code text the rules read (most frequent kinds first)."""
    kind = token.lastgroup
    if kind == "name" or kind == "quoted_name" or kind == "string":
        return "''"  # never code; the @ of @'v' and @`v` stays in front of it
    if kind == "comment":
        return " "  # a comment separates tokens, as a space does
    if kind == "line" or kind == "dash_line":
        return " " if token.group().endswith("\n") else _OPEN_END
    if kind == "executable":
        code = token.group("code")
        # Joined without spaces: a word split by the comment may look whole (a false
        # alarm at worst), never the other way round.
        return _UNSURE if _AMBIGUOUS_IN_EXECUTABLE.search(code) else code
    return _UNSURE


def _as_code_keeping_get_lock(token: re.Match[str]) -> str:
    """``_as_code`` for a text that mentions GET_LOCK: `GET_LOCK`('x', 0) calls the
    function (so does "GET_LOCK"(...) under ANSI_QUOTES), so such a name stays."""
    kind = token.lastgroup
    if (kind == "name" or kind == "quoted_name") and "GET_LOCK" in token.group().upper():
        return " GET_LOCK "
    return _as_code(token)


class _Reading(NamedTuple):
    code: str  # upper-cased, literals as placeholders, comments as spaces
    ends_clean: bool  # read for sure, and not inside a comment at its end


def _read(query: str, lexer: re.Pattern[str]) -> _Reading:
    # Looking into names costs a call per name (Django quotes every one): only a text
    # that mentions GET_LOCK somewhere can name it.
    as_code = _as_code_keeping_get_lock if "GET_LOCK" in query.upper() else _as_code
    code = lexer.sub(as_code, query)
    if code.endswith(_OPEN_END):
        return _Reading(code[:-1].upper(), False)
    return _Reading(code.upper(), _UNSURE not in code)


def _readings(query: str) -> tuple[_Reading, ...]:
    """The ways the server may read ``query``: one, or two when a backslash is in it."""
    if "\\" in query:
        return _read(query, _LEXER), _read(query, _LEXER_NO_BACKSLASH_ESCAPES)
    return (_read(query, _LEXER),)


class Statement(NamedTuple):
    """What one statement text may do to the session."""

    #: Django setup assignments ``{setting: value}`` when the statement is only that.
    setup: dict[str, str] | None
    #: It may change session state (besides a transaction, which status flags show).
    may_change: bool
    #: The text ends outside any literal, name or comment, read for sure: a plain comment
    #: appended to it is exactly a comment, and the text with it is the same statement.
    #: False claims nothing (a text is then classified whole).
    ends_clean: bool = False


_CACHE_LIMIT = 256
#: What ``classify`` found, by statement text. Read directly (``remembered.get``) by the
#: session cursor, for which a call per statement is worth avoiding. A traced text is
#: not a key when its statement ends clean: that statement is. Rule: a remembered
#: Statement's ``ends_clean`` is true only if its key ends clean, which is what lets
#: ``classify`` answer for the key with a plain comment appended from it.
remembered: dict[Any, Statement] = {}


def classify(query: Any) -> Statement:
    """What ``query`` (str or bytes) may do to the session; remembered per text."""
    try:
        return remembered[query]
    except KeyError:
        pass
    except TypeError:  # not hashable (a bytearray): nothing to remember it by
        return _classify(query)
    if isinstance(query, str):
        if query.endswith("*/"):
            end = _end_before_trailing_comment(query, len(query))
            if end >= 0:
                found = remembered.get(query[:end])
                if found is not None and found.ends_clean:
                    return found  # the same statement, another trace id
                stripped = strip_trailing_comments(query)
                if stripped != query:
                    # Remembered without it: remembering every traced text would miss
                    # every time and empty the memory every 256 queries.
                    return classify(stripped)
        return _remember(query, _classify(query))
    if isinstance(query, bytes):
        text = query.decode("latin-1")
        found = classify(text)
        if text in remembered:  # not a traced text, which would take a key per trace id
            _remember(query, found)
        return found
    return Statement(None, True)  # not a statement we can read: assume the worst


def _remember(query: Any, found: Statement) -> Statement:
    if len(remembered) >= _CACHE_LIMIT:
        remembered.clear()
    remembered[query] = found
    return found


def _classify(query: Any) -> Statement:
    """What the whole text (trailing comments included) may do; not remembered here."""
    if isinstance(query, (bytes, bytearray)):
        # The text as a str, through classify(): its trailing comment stripped there.
        return classify(bytes(query).decode("latin-1"))
    if not isinstance(query, str):
        return Statement(None, True)  # not a statement we can read: assume the worst
    if query.lstrip()[:3].upper() == "SET":
        setup = parse_setup(query)  # a full match of plain SETs: no comment, no literal
        if setup is not None:
            return Statement(setup, False, True)
    code, ends_clean = _read(query, _LEXER)
    if "\\" not in query:
        return Statement(None, _may_change(code), ends_clean)
    # Either reading may be the server's (sql_mode NO_BACKSLASH_ESCAPES or not).
    other_code, other_ends_clean = _read(query, _LEXER_NO_BACKSLASH_ESCAPES)
    return Statement(
        None,
        _may_change(code) or _may_change(other_code),
        ends_clean and other_ends_clean,
    )


def strip_trailing_comments(query: str) -> str:
    """``query`` without the plain ``/* ... */`` comments at its end.

    Tracing tools append one to every query (OpenTelemetry's and Google's sqlcommenter:
    route, trace context): the statement before it is what the session sees. A comment
    is stripped only where the server reads one: the text before it ends clean, and it
    is plain (executable comments, ``/*! ... */`` and MariaDB's ``/*M! ... */``, are
    statement text).
    """
    ends: list[int] = []  # where the text ends without its last 1, 2, ... comments
    end = _end_before_trailing_comment(query, len(query.rstrip(_SPACE)))
    while end >= 0:
        ends.append(end)
        end = _end_before_trailing_comment(query, end)
    # A text that ends clean still does with a plain comment after it: the ones that end
    # clean come first in ``ends``. Find the last (a lexing per halving, not per comment).
    clean, unknown = 0, len(ends)  # ends[:clean] end clean, ends[unknown:] do not
    while clean < unknown:
        middle = (clean + unknown + 1) // 2
        text = query[: ends[middle - 1]]
        if all(reading.ends_clean for reading in _readings(text)):
            clean = middle
        else:
            unknown = middle - 1
    return query[: ends[clean - 1]] if clean else query


def _end_before_trailing_comment(text: str, end: int) -> int:
    """Where ``text[:end]`` ends without the plain comment at its end and the spaces
    before it, or -1 if it ends with none. The text before it must still be found to end
    clean for that comment to be one."""
    if not text.endswith("*/", 0, end):
        return -1
    # The last "/*" opens it if anything does: a comment holds no "*/", and a "/*" in
    # the text before it would leave that text inside a comment, not clean.
    start = text.rfind("/*", 0, end - 2)
    if (
        start < 0
        or text.startswith(("!", "M!"), start + 2, end - 2)  # executable: statement text
        or text.find("*/", start + 2, end - 2) >= 0
    ):
        return -1
    while start and text[start - 1] in _SPACE:
        start -= 1
    return start


def _may_change(code: str) -> bool:
    """Whether a statement's code text (see ``_read``) may leave session state behind.

    Statements the server flags (SET, USE, PREPARE, temporary tables) are caught here
    too, by their first word: an interrupted call leaves no reply to read the flag from.
    """
    if _UNSURE in code:
        return True
    match = _FIRST_WORD.match(code)
    first = match.group(1) if match else ""
    return (
        first not in _SESSION_NEUTRAL  # SET, USE, PREPARE, HANDLER, CALL, XA, nothing...
        or "GET_LOCK" in code  # LOCK TABLES, FLUSH ... READ LOCK: by their first word
        or ":=" in code
        or ("@" in code and _INTO_VARIABLE.search(code) is not None)
        or (";" in code and _MORE_STATEMENTS.search(code) is not None)
        or (first in ("CREATE", "DROP") and "TEMPORARY" in code)
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
