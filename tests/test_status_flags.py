"""The status flags of the last reply, read without a round trip, are the client library's.

The pool reads them after every statement (did it change the session?) and at give-back
(a transaction open? a result unread?). With mysqlclient on libmariadb it reads the word
in the connection's ``MYSQL`` struct directly (``native.status_word_reader``); every
reply here must give what ``mariadb_get_infov`` reports, and a struct it cannot vouch
for must not be read that way.
"""

from __future__ import annotations

import os
import subprocess
import sys

import MySQLdb
import pytest

from django_mysqlpool.connection import driver, native
from tests.support.observer import connect_plain

pytestmark = pytest.mark.skipif(
    driver.is_pymysql(MySQLdb), reason="PyMySQL keeps the flags in Python: nothing to read"
)

#: Replies with each flag the pool acts on, set and cleared again.
STATEMENTS = [
    "SELECT 1",
    "BEGIN",  # SERVER_STATUS_IN_TRANS
    "SELECT 2",
    "SET @v = 1",  # SERVER_SESSION_STATE_CHANGED (tracking on)
    "ROLLBACK",
    "SET autocommit = 0",  # SERVER_STATUS_AUTOCOMMIT cleared
    "SELECT 3",
    "COMMIT",
    "SET autocommit = 1",
    "SELECT 1; SELECT 2",  # SERVER_MORE_RESULTS_EXIST, until the second result is read
]


@pytest.fixture
def connection():
    raw = connect_plain(client_flag=MySQLdb.constants.CLIENT.MULTI_STATEMENTS)
    yield raw
    raw.close()


def readers(raw):
    handle = native.handle_of(raw)
    library = native.status_reader(handle)
    if library is None:
        pytest.skip("the client library cannot report status flags (not libmariadb)")
    return library, driver.status_reader(raw, handle)


def test_the_struct_word_is_read_where_the_library_supports_it(connection):
    library, used = readers(connection)
    if not native.STRUCT_READ:
        # MYSQLPOOL_STRUCT_READ=0: the library call is what runs (a reader of its own kind)
        assert used.__qualname__ == library.__qualname__
        return
    assert used is not library, "libmariadb: the pool should read the word, not call"


def test_the_struct_read_can_be_switched_off_from_the_environment():
    """``make test-fallback`` runs the suite on the library call with this switch."""
    code = (
        "from django_mysqlpool.connection import native, driver\n"
        "from tests.support.observer import connect_plain\n"
        "raw = connect_plain()\n"
        "handle = native.handle_of(raw)\n"
        "library = native.status_reader(handle)\n"
        "used = driver.status_reader(raw, handle)\n"
        "print(native.STRUCT_READ, library is not None, type(used).__name__)\n"
    )
    environment = {**os.environ, "MYSQLPOOL_STRUCT_READ": "0"}
    found = subprocess.run(
        [sys.executable, "-c", code], env=environment, capture_output=True, text=True, timeout=60
    )
    # The library call is a function; the struct read would be a functools.partial.
    assert found.stdout.split() == ["False", "True", "function"], found.stderr


def test_every_reply_gives_the_flags_the_library_reports(connection):
    library, used = readers(connection)
    driver.enable_session_tracking(connection, used)
    seen = set()
    for statement in STATEMENTS:
        connection.query(statement)
        connection.store_result()
        assert used() == library(), statement
        seen.add(used())
        while connection.next_result() == 0:
            connection.store_result()
            assert used() == library(), f"{statement}, next result"
    flags = 0
    for status in seen:
        flags |= status
    wanted = (
        native.SERVER_STATUS_IN_TRANS
        | native.SERVER_STATUS_AUTOCOMMIT
        | native.SERVER_MORE_RESULTS_EXIST
        | native.SERVER_SESSION_STATE_CHANGED
    )
    assert flags & wanted == wanted  # each flag was seen set, so the comparison meant it


@pytest.mark.parametrize(
    "mismatch",
    [
        pytest.param({"thread_id": -1}, id="thread id not in the struct"),
        pytest.param({"protocol": 9}, id="protocol version elsewhere"),
        pytest.param({"status": 0xFFFF}, id="flags the library does not report"),
    ],
)
def test_a_struct_that_does_not_match_is_not_read(connection, monkeypatch, mismatch):
    monkeypatch.setattr(native, "_status_offset", None)  # look afresh, as on a first connection
    handle = native.handle_of(connection)
    facts = {
        "thread_id": connection.thread_id(),
        "protocol": connection.get_proto_info(),
        "status": native.status_reader(handle)(),
        **mismatch,
    }
    assert native.status_word_reader(handle, **facts) is None
