"""One pool per connection target: distinct databases or settings never share a connection."""

from __future__ import annotations

import pytest

import django_mysqlpool
from django_mysqlpool.pool.targets import describe, target_key
from tests.server import connection_id
from tests.settings import DB_NAME


@pytest.fixture
def second_database(own_database):
    return own_database


def current(wrapper, expression: str):
    with wrapper.cursor() as cursor:
        cursor.execute(f"SELECT CONNECTION_ID(), {expression}")
        return cursor.fetchone()


def test_aliases_on_different_databases_never_share_a_server_connection(
    make_wrapper, second_database
):
    first, second = make_wrapper(), make_wrapper(NAME=second_database)
    for _ in range(3):
        a_id, a_db = current(first, "DATABASE()")
        first.close()
        b_id, b_db = current(second, "DATABASE()")
        second.close()
        assert (a_db, b_db) == (DB_NAME, second_database)
        assert a_id != b_id
    assert len(django_mysqlpool.pool_stats()) == 2


def test_aliases_with_different_connect_options_never_share(make_wrapper):
    utf8, latin1 = make_wrapper(), make_wrapper(OPTIONS={"charset": "latin1"})
    a_id, a_charset = current(utf8, "@@character_set_client")
    utf8.close()
    b_id, b_charset = current(latin1, "@@character_set_client")
    assert (a_charset, b_charset) == ("utf8mb4", "latin1")
    assert a_id != b_id


def test_key_covers_every_kwarg_including_nested_ssl_and_conv():
    base = {
        "user": "u",
        "password": "p",
        "host": "h",
        "conv": {1: str, int: repr},
        "ssl": {"ca": "a"},
    }
    variants = [
        {**base, "password": "q"},
        {**base, "user": "v"},
        {**base, "ssl": {"ca": "b"}},
        {**base, "ssl": {"ca": "a", "cert": "c"}},
        {**base, "conv": {1: str}},
        {**base, "client_flag": 2},
    ]
    keys = {target_key(v, True) for v in variants} | {target_key(base, True)}
    assert len(keys) == len(variants) + 1
    assert target_key(dict(reversed(base.items())), True) == target_key(base, True)


def test_target_description_never_contains_the_password():
    text = describe(
        {
            "user": "app",
            "password": "hunter2-secret",
            "host": "db",
            "port": 3307,
            "database": "shop",
        }
    )
    assert text == "app@db:3307/shop"


SECRET = "Zq9-distinctive-pa55word"


@pytest.fixture(scope="module")
def two_users(private_server):
    for user in ("alice", "bob"):
        private_server.sql(
            f"CREATE USER '{user}'@'127.0.0.1' IDENTIFIED BY '{SECRET}-{user}';"
            f"GRANT ALL ON test.* TO '{user}'@'127.0.0.1'"
        )
    return private_server


@pytest.mark.slow
def test_aliases_with_different_credentials_never_share_and_never_show_a_password(
    make_wrapper, two_users
):
    where = {"HOST": two_users.host, "PORT": two_users.port, "NAME": "test"}
    options = {"pool_size": 1, "max_overflow": 0, "timeout": 0.2}
    alice = make_wrapper(pool=options, USER="alice", PASSWORD=f"{SECRET}-alice", **where)
    bob = make_wrapper(pool=options, USER="bob", PASSWORD=f"{SECRET}-bob", **where)
    seen = set()
    for _ in range(3):
        for wrapper, user in ((alice, "alice"), (bob, "bob")):
            conn_id, current_user = current(wrapper, "CURRENT_USER()")
            assert current_user == f"{user}@127.0.0.1"
            seen.add((conn_id, user))
            wrapper.close()
    assert len(seen) == 2  # one connection each, reused, never crossed

    connection_id(alice)
    second_alice = make_wrapper(pool=options, USER="alice", PASSWORD=f"{SECRET}-alice", **where)
    with pytest.raises(Exception) as exhausted:
        second_alice.ensure_connection()
    shown = [
        str(exhausted.value),
        repr(alice.connection),
        repr(django_mysqlpool.pool_stats()),
    ]
    assert f"alice@127.0.0.1:{two_users.port}/test" in shown[0]
    assert not any(SECRET in text for text in shown)
