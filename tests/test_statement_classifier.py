"""A statement's text is read as the server reads it: comments and literals neither hide a
session change nor fake one, and whatever cannot be read for sure counts as a change.

Explicit cases first (each evasion checked against the real server too), then generated
statements: state-changing ones with comments, literals and whitespace between their
tokens are always changes, the same decorations on plain queries are not, and whatever
state the server shows after a generated statement, the classifier predicted.
"""

from __future__ import annotations

import contextlib
import itertools
from typing import Any

import MySQLdb
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from MySQLdb.constants import CLIENT

from django_mysqlpool.connection import statements
from django_mysqlpool.connection.statements import classify, parse_setup, remembered
from tests.support.names import unique
from tests.support.observer import connect_plain

#: Session-scoped names: each example runs on a fresh connection.
VARIABLE = unique("v")
TABLE = unique("tmp")
_locks = itertools.count()


@pytest.fixture(autouse=True)
def _nothing_remembered() -> Any:
    """Each test sees what classify() remembers because of it alone."""
    remembered.clear()
    yield
    remembered.clear()


# --- explicit cases ------------------------------------------------------------------

CHANGES = [
    # Comments between INTO and the variable, or a literal that looks like a comment.
    "SELECT 1 INTO/**/@v",
    "SELECT 1 INTO -- c\n@v",
    "SELECT 1 INTO # c\n@v",
    "SELECT '/*', GET_LOCK('x', 1) -- */",
    "SELECT 1 # /*\n, @v := 1 -- */",
    # Executable comments are statement text.
    "/*!40101 SET @x=1 */",
    "SELECT 1 /*! INTO @v */",
    "SELECT 1 /*!50000 INTO @v */",
    "SELECT 1 /*M!100100 , @v := 1 */",
    "SELECT 1;/*!SET @v = 1*/",
    # An executable comment holding a quote or a comment: a server runs it as code (where
    # the quote opens a literal) or skips it to the first */ (above its version).
    "SELECT 1 /*!50000 , '*/' , @v := 1 */",
    "SELECT 1 /*!99999 '*/ , @v := 1 -- ' */",
    "SELECT 1 /*!100000 /* x */ , @v := 1 */",
    "SELECT 1 /*!50000 , 'x*/abc' , @v := 1 -- '\n*/",
    # A name calls a function: `GET_LOCK`(...), and "GET_LOCK"(...) under ANSI_QUOTES.
    "SELECT `GET_LOCK`('x', 0)",
    "SELECT `get_lock`('x', 0)",
    "SELECT \"GET_LOCK\"('x', 0)",
    "SELECT get_lock /* c */ ('x', 0)",
    "DO GET_LOCK('x', 0)",
    # Variables named with quotes.
    "SELECT 1 INTO @'v'",
    "SELECT 1 INTO @`v`",
    'SELECT @"v" := 1',
    # A comment before the statement is no disguise.
    "/* c */ SET @v = 1",
    "-- c\nSET @v = 1",
    "/* c */ CREATE TEMPORARY TABLE t (a INT)",
    "CREATE /* c */ TEMPORARY TABLE t (a INT)",
    "SELECT 1; SELECT 2",
    "SELECT 1 --x INTO @v",  # --x is code, INTO @v too
    # Under NO_BACKSLASH_ESCAPES (or ANSI_QUOTES) the backslash ends the literal early.
    "SELECT 'a\\'; SET @v = 1; -- '",
    'SELECT "a\\" , @v := 1 -- "',
    # Not read for sure: unterminated, or "--" before a character of unknown class.
    "SELECT 'x",
    'SELECT "x',
    "SELECT `x",
    "SELECT 1 /* open",
    "SELECT 1 /*! open",
    "SELECT 1 --\u00a0' , @v := 1 -- '",
    # Nothing we can read.
    "",
    "/* only a comment */",
    b"SELECT 1 INTO/**/@v",
    bytearray(b"SELECT 1 INTO/**/@v"),
    42,
    None,
]

NOT_CHANGES = [
    "SELECT 1",
    "/* c */ SELECT 1",
    "-- c\nSELECT 1",
    "# c\nSELECT 1",
    "SELECT 1 -- c",
    "SELECT 1 # c",
    "SELECT 1; -- c",
    "SELECT 1 --x",  # minus minus x: code, and no change
    "SELECT 1 /*!40101 */",
    "SELECT 1 /*m! , @v := 1 */",  # only an upper-case M makes MariaDB run it
    "SELECT 1 /* INTO @v; SET @v := 1; GET_LOCK('x', 0) */",
    "SELECT 1 -- INTO @v; SET @v := 1\n, 2",
    # A single-quoted string is data, whatever it says (GET_LOCK included); a backslash
    # that escapes the same way in both readings is no ambiguity.
    "SELECT 'GET_LOCK(''x'', 0)'",
    "SELECT 'INTO @v', ':=', '; SET @v = 1', '/*', '*/', '--', '#'",
    "SELECT 'a\\\\b', 'it''s', \"say \"\"hi\"\"\"",
    "SELECT `a``INTO @v`, `;SET @v := 1`",
    "CREATE TABLE `TEMPORARY` (a INT)",
    "SELECT `auth_user`.`id` FROM `auth_user` WHERE `auth_user`.`username` = %s",
    b"/* c */ SELECT 1",
]


@pytest.mark.parametrize("query", CHANGES, ids=repr)
def test_a_statement_that_may_change_the_session_is_classified_as_a_change(query):
    assert classify(query).may_change


@pytest.mark.parametrize("query", NOT_CHANGES, ids=repr)
def test_a_plain_query_with_comments_and_literals_is_classified_as_no_change(query):
    assert not classify(query).may_change


def test_a_double_quoted_text_naming_get_lock_counts_as_a_change_a_single_quoted_one_not():
    """Documented choice: "..." may be a name under ANSI_QUOTES, and a name can call
    GET_LOCK; '...' is always a string."""
    assert classify('SELECT "GET_LOCK"').may_change
    assert not classify("SELECT 'GET_LOCK'").may_change


@pytest.mark.parametrize(
    "template",
    [
        "SELECT 1 INTO/**/@{v}",
        "SELECT 1 INTO -- c\n@{v}",
        "SELECT '/*', GET_LOCK('{lock}', 1) -- */",
        "SELECT 1 # /*\n, @{v} := 1 -- */",
        "SELECT 1 /*M!100100 , @{v} := 1 */",
        "SELECT 1 /*!50000 , '*/' , @{v} := 1 */",
        "SELECT 1 /*!99999 '*/ , @{v} := 1 -- ' */",
        "SELECT 1 /*!100000 /* x */ , @{v} := 1 */",
        "SELECT 1 /*!50000 , 'x*/abc' , @{v} := 1 -- '\n*/",
        "SELECT `get_lock`('{lock}', 0)",
        "SELECT 1 INTO @'{v}'",
        "/* c */ CREATE TEMPORARY TABLE {table} (a INT)",
    ],
)
def test_each_evasion_really_leaves_state_on_the_server_and_is_classified_a_change(template):
    lock = unique(f"lock{next(_locks)}")
    query = template.format(v=VARIABLE, lock=lock, table=TABLE)
    assert server_state_after(query, lock)  # the evasion is real
    assert classify(query).may_change


# --- Django's setup and traced statements ----------------------------------------------


@pytest.mark.parametrize(
    "query, setup",
    [
        (
            "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED",
            {"isolation": "READ COMMITTED"},
        ),
        (
            "SET SQL_AUTO_IS_NULL = 0; SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ",
            {"sql_auto_is_null": "0", "isolation": "REPEATABLE READ"},
        ),
        ("set session transaction isolation level serializable", {"isolation": "SERIALIZABLE"}),
    ],
)
def test_djangos_setup_statements_are_recognised_as_setup_not_as_changes(query, setup):
    assert parse_setup(query) == setup
    assert classify(query) == (setup, False, True)
    traced = classify(f"{query} /*controller='index',traceparent='00-4bf92f35-01'*/")
    assert traced.setup == setup


def test_a_setup_statement_behind_a_comment_is_a_change_not_setup():
    assert classify("/* c */ SET SESSION TRANSACTION ISOLATION LEVEL SERIALIZABLE") == (
        None,
        True,
        True,
    )


def test_traced_statements_are_remembered_once_without_their_comment():
    for trace in ("00-4bf92f3577b34da6-01", "00-a3ce929d0e0e4736-01", "00-00f067aa0ba902b7-01"):
        assert not classify(f"SELECT 1 /*controller='index',traceparent='{trace}'*/").may_change
        assert classify(f"SELECT 1 INTO @v /*traceparent='{trace}'*/").may_change
        assert not classify(f"SELECT 1 /* a */ /*traceparent='{trace}'*/".encode()).may_change
    assert set(remembered) == {"SELECT 1", "SELECT 1 INTO @v"}


def test_a_trace_comment_holding_a_comment_opener_is_classified_whole_and_correctly():
    assert not classify("SELECT 1 /* a /* b */").may_change
    assert classify("SELECT 1 INTO @v /* a /* b */").may_change


def test_a_comment_opened_inside_a_literal_or_a_line_comment_is_not_stripped():
    # The last "/*" is inside a literal: the text before it ends inside the literal.
    assert classify("SELECT '/*', GET_LOCK('x', 1) -- */").may_change
    # The last "/*" is inside a # comment whose line ends before the "*/".
    assert classify("SELECT 1 # /*\n, @v := 1 -- */").may_change
    assert set(remembered) == {
        "SELECT '/*', GET_LOCK('x', 1) -- */",
        "SELECT 1 # /*\n, @v := 1 -- */",
    }


def test_a_remembered_text_that_ends_inside_a_comment_never_answers_for_a_longer_one():
    """The hot path answers for ``prefix + comment`` from the remembered ``prefix``
    only when the prefix ends clean: here it ends inside a # comment that the longer
    text closes before an assignment."""
    assert not classify("SELECT 1 #").may_change
    assert classify("SELECT 1 # /*\n, @v := 1 -- */").may_change


def test_an_executable_or_unclosed_trailing_comment_is_never_stripped():
    assert classify("SELECT 1 /*!, @v := 1 */").may_change
    assert classify("SELECT 1 /*M!, @v := 1 */").may_change
    assert classify("SELECT 1 /* a */ , @v := 1 */").may_change
    assert "SELECT 1" not in remembered


def test_strip_trailing_comments_strips_only_plain_comments_after_a_clean_end():
    strip = statements.strip_trailing_comments
    assert strip("SELECT 1 /* a */ /* b */ ") == "SELECT 1"
    assert strip("SELECT '/*' /* a */") == "SELECT '/*'"
    assert strip("SELECT '/* a */") == "SELECT '/* a */"
    assert strip("SELECT 1 # /* a */") == "SELECT 1 # /* a */"
    assert strip("SELECT 1 /*! a */") == "SELECT 1 /*! a */"


def test_what_is_remembered_stays_bounded():
    for number in range(statements._CACHE_LIMIT * 2):
        classify(f"SELECT {number}")
    assert 0 < len(remembered) <= statements._CACHE_LIMIT


# --- generated statements --------------------------------------------------------------

#: Text fragments for comment bodies and literals: everything that could open or close
#: something, and the words of every rule.
FRAGMENTS = [
    "a", " ", "0", "'", '"', "`", "\\", "/*", "--", "-- ", "#", ";", "@", "@v", ":=",
    "INTO @v", "into", "SET @v = 1", "GET_LOCK('x', 0)", "TEMPORARY", "\t", "é", "*", "/",
]  # fmt: skip


def _text(fragments: list[str], max_size: int = 6) -> st.SearchStrategy[str]:
    return st.lists(st.sampled_from(fragments), max_size=max_size).map("".join)


_block_body = _text(FRAGMENTS + ["\n"]).filter(lambda body: "*/" not in body)
_line_body = _text(FRAGMENTS)
_space = st.sampled_from([" ", "  ", "\n", "\t", " \n\t"])
_comment = st.one_of(
    _block_body.map(lambda body: f"/*{body}*/"),
    _line_body.map(lambda body: f"-- {body}\n"),
    _line_body.map(lambda body: f"#{body}\n"),
)
#: What may separate two tokens: whitespace and comments, at least one of them.
_gap = st.lists(st.one_of(_space, _comment), min_size=1, max_size=3).map("".join)
_maybe_gap = st.one_of(st.just(""), _gap)
_trace = st.lists(
    st.tuples(_space, _block_body).map(lambda parts: f"{parts[0]}/*{parts[1]}*/"), max_size=2
).map("".join)

#: How a literal's fragments are spelled inside it. Doubled quotes and escaped
#: backslashes end the literal in the same place with or without backslash escapes.
_SAME_BOTH_WAYS = {"'": "''", '"': '""', "\\": "\\\\"}
#: \' and \" end it elsewhere under NO_BACKSLASH_ESCAPES: only changes may use them.
_ESCAPED = {"'": "\\'", '"': '\\"', "\\": "\\\\"}


@st.composite
def _literal(draw: Any, fragments: list[str], ambiguous: bool) -> str:
    quote = draw(st.sampled_from(["'", '"']))
    spellings = [_SAME_BOTH_WAYS] + ([_ESCAPED] if ambiguous else [])
    content = "".join(draw(st.lists(st.sampled_from(fragments), max_size=5)))
    spelled = "".join(
        draw(st.sampled_from(spellings))[char] if char in "'\"\\" else char for char in content
    )
    return f"{quote}{spelled}{quote}"


def _items(fragments: list[str], ambiguous: bool) -> st.SearchStrategy[list[str]]:
    """Tokens of one select-list item: a literal or a number, maybe with a name."""
    names = _text([f for f in fragments if f != "`"], max_size=3).map(lambda n: f"`{n}x`")
    value = st.one_of(_literal(fragments, ambiguous), st.sampled_from(["1", "2.5", "0x41"]))
    return st.one_of(
        value.map(lambda v: [v]),
        st.tuples(value, _keyword("AS"), names).map(list),
    )


def _keyword(word: str) -> st.SearchStrategy[str]:
    return st.sampled_from([word, word.lower(), word.title()])


def _variable() -> st.SearchStrategy[str]:
    return st.sampled_from([f"@{VARIABLE}", f"@'{VARIABLE}'", f'@"{VARIABLE}"', f"@`{VARIABLE}`"])


@st.composite
def _joined(draw: Any, tokens: list[str]) -> str:
    """The tokens with whitespace or comments between them, before and after."""
    text = draw(_maybe_gap)
    for index, token in enumerate(tokens):
        text += (draw(_gap) if index else "") + token
    return text + draw(st.sampled_from(["", " ", "\n"])) + draw(_trace)


@st.composite
def _select_list(draw: Any, fragments: list[str], ambiguous: bool) -> list[str]:
    tokens: list[str] = []
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        tokens += ([","] if tokens else []) + draw(_items(fragments, ambiguous))
    return tokens


#: Fragments for plain queries: without GET_LOCK, which a name or a double-quoted text
#: may call (and so counts as a change).
_NEUTRAL_FRAGMENTS = [f for f in FRAGMENTS if "GET_LOCK" not in f]


@st.composite
def neutral_tokens(draw: Any) -> list[str]:
    """SELECT <literals> [FROM DUAL]: no state change, however decorated."""
    tokens = [draw(_keyword("SELECT")), *draw(_select_list(_NEUTRAL_FRAGMENTS, False))]
    if draw(st.booleans()):
        tokens += [draw(_keyword("FROM")), "DUAL"]
    return tokens


@st.composite
def changing_tokens(draw: Any, lock: str) -> list[str]:
    """A statement that leaves session state behind, as tokens."""
    select = draw(_keyword("SELECT"))
    items = draw(_select_list(FRAGMENTS, ambiguous=True))
    get_lock = [
        draw(st.sampled_from(["GET_LOCK", "get_lock", "`GET_LOCK`", "`get_lock`"])),
        "(", f"'{lock}'", ",", "0", ")",
    ]  # fmt: skip
    kind = draw(
        st.sampled_from(["into", "assign", "select lock", "do lock", "set", "temporary", "two"])
    )
    event(kind)
    if kind == "into":
        value = draw(_items(FRAGMENTS, ambiguous=True))
        return [select, *value, draw(_keyword("INTO")), draw(_variable())]
    if kind == "assign":
        value = draw(_literal(FRAGMENTS, ambiguous=True))
        return [select, *items, ",", draw(_variable()), ":=", value]
    if kind == "select lock":
        return [select, *items, ",", *get_lock]
    if kind == "do lock":
        return [draw(_keyword("DO")), *get_lock]
    if kind == "set":
        value = draw(_literal(FRAGMENTS, ambiguous=True))
        return [draw(_keyword("SET")), draw(_variable()), "=", value]
    if kind == "temporary":
        return [
            draw(_keyword("CREATE")), draw(_keyword("TEMPORARY")), draw(_keyword("TABLE")),
            TABLE, "(", "a", "INT", ")",
        ]  # fmt: skip
    return [*draw(neutral_tokens()), ";", *draw(changing_tokens(lock).filter(_single))]


def _single(tokens: list[str]) -> bool:
    return ";" not in tokens


@st.composite
def _maybe_executable(draw: Any, tokens: list[str]) -> list[str]:
    """The tokens, or the same with their tail inside an executable comment."""
    if not draw(st.booleans()):
        return tokens
    start = draw(st.integers(min_value=0, max_value=len(tokens) - 1))
    opener = draw(st.sampled_from(["/*!", "/*!50000", "/*M!", "/*M!100100", "/*!99999"]))
    return [*tokens[:start], f"{opener} {' '.join(tokens[start:])} */"]


@st.composite
def changing_statement(draw: Any, lock: str = "x") -> str:
    tokens = draw(changing_tokens(lock))
    return draw(_joined(draw(_maybe_executable(tokens))))


@st.composite
def neutral_statement(draw: Any) -> str:
    tokens = draw(neutral_tokens())
    if draw(st.booleans()):
        tokens.append(";")
    return draw(_joined(tokens))


GENERATED = settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@GENERATED
@given(statement=changing_statement())
def test_a_state_changing_statement_is_a_change_however_it_is_decorated(statement):
    assert classify(statement).may_change
    assert classify(statement.encode()).may_change
    remembered.clear()  # a remembered answer must not hide the work: classify afresh
    assert statements._classify(statement).may_change


@GENERATED
@given(statement=neutral_statement())
def test_a_plain_select_is_no_change_however_it_is_decorated(statement):
    assert not classify(statement).may_change


#: A trace comment holding "/*" is classified whole (correctly, but remembered with its
#: trace id): trailing comments are found with rfind, which takes the last "/*" for the
#: opener (see test_a_trace_comment_holding_a_comment_opener_is_classified_whole...).
_trace_body = _block_body.filter(lambda body: "/*" not in body)


@GENERATED
@given(statement=st.one_of(changing_statement(), neutral_statement()), trace=_trace_body)
def test_a_trace_comment_changes_neither_the_answer_nor_what_is_remembered(statement, trace):
    found = classify(statement)
    remembered.clear()
    traced = f"{statement.rstrip()} /*traceparent='{trace}'*/"
    assert classify(traced).may_change == found.may_change
    if found.ends_clean:
        assert traced not in remembered


# --- the server's word ----------------------------------------------------------------


def server_state_after(query: str, lock: str) -> list[str]:
    """The state a fresh session holds after ``query`` (errors are fine: a failed
    statement may still have left something)."""
    connection = connect_plain(client_flag=CLIENT.MULTI_STATEMENTS)
    try:
        cursor = connection.cursor()
        try:
            cursor.execute(query)
            while cursor.nextset():
                pass
        except MySQLdb.Error:
            pass
        finally:
            with contextlib.suppress(MySQLdb.Error):
                cursor.close()
        cursor = connection.cursor()
        cursor.execute(
            f"SELECT @{VARIABLE} IS NOT NULL, IS_USED_LOCK(%s) <=> CONNECTION_ID()", (lock,)
        )
        variable, locked = cursor.fetchone()
        state = ["variable"] * variable + ["lock"] * locked
        try:
            cursor.execute(f"SELECT 1 FROM {TABLE} LIMIT 0")
            state.append("temporary table")
        except MySQLdb.Error:
            pass
        cursor.close()
        return state
    finally:
        connection.close()


@st.composite
def _statement_and_lock(draw: Any) -> tuple[str, str]:
    lock = unique(f"lock{next(_locks)}")  # the last example's may not be released yet
    statement = draw(st.one_of(changing_statement(lock), neutral_statement()))
    return statement, lock


@settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=_statement_and_lock())
def test_whatever_state_the_server_shows_after_a_statement_was_predicted(case):
    statement, lock = case
    state = server_state_after(statement, lock)
    event("server shows state" if state else "server shows none")
    if state:
        assert classify(statement).may_change, (statement, state)
