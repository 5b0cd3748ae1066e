"""Tenants never share connections, TLS is real, and a password never shows anywhere.

A private server with TLS (certificates made by the test), two loopback addresses and
users with passwords; never the shared server.
"""

from __future__ import annotations

import contextlib
import io
import logging
import traceback
import warnings
from collections.abc import Iterator
from typing import Any

import MySQLdb
import pytest
from django.db import utils

import django_mysqlpool
from django_mysqlpool.connection import driver
from django_mysqlpool.pool import pools
from tests.support.aliases import add_aliases

pytestmark = pytest.mark.slow

SHOP_PASSWORD = "Shop-pw-4b8c1e"
SECRET = "Zz-distinctive-Pa55word-91QxE"  # grep target: must never appear in any output
SECOND_ADDRESS = "127.0.0.2"


@pytest.fixture(scope="module")
def tls_server() -> Iterator[Any]:
    from tests.support.mariadb_server import ThrowawayMariaDB, find_server

    if find_server() is None:
        pytest.skip("mariadbd is not installed: install mariadb-server to run this test")
    with ThrowawayMariaDB(
        tls=True,
        databases=("shop", "blog"),
        server_args=[f"--bind-address=127.0.0.1,{SECOND_ADDRESS}"],
    ) as server:
        server.create_user("shop", SHOP_PASSWORD, ["shop", "blog"])
        server.create_user("blog", SECRET, ["shop", "blog"])
        server.create_user("secure", SECRET, ["shop"], tls=True)
        yield server


def seen_by_server(wrapper) -> tuple[int, str, str, str]:
    """(connection id, CURRENT_USER(), DATABASE(), Ssl_cipher) of the wrapper's connection."""
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT CONNECTION_ID(), CURRENT_USER(), DATABASE()")
        connection, user, database = cursor.fetchone()
        cursor.execute("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
        cipher = cursor.fetchone()[1]
    return int(connection), user, database, cipher


def alias(make_wrapper, server, **changes):
    settings = {
        "HOST": server.host,
        "PORT": server.port,
        "USER": "shop",
        "PASSWORD": SHOP_PASSWORD,
        "NAME": "shop",
    }
    options = changes.pop("OPTIONS", {})
    if "ssl" not in options and driver.is_pymysql(MySQLdb):
        # PyMySQL 2 tries TLS unless told not to (mysqlclient only when asked): a plain
        # alias here is one that never encrypts, with either driver.
        options = {**options, "ssl_disabled": True}
    settings.update(changes)
    # One shared pool option object: only the connect kwargs may tell the aliases apart.
    return make_wrapper(pool=True, OPTIONS=options, **settings)


@pytest.mark.parametrize(
    ("changes", "expected_user", "expected_database", "encrypted"),
    [
        ({"USER": "blog", "PASSWORD": SECRET}, "blog@%", "shop", False),
        ({"NAME": "blog"}, "shop@%", "blog", False),
        ({"HOST": SECOND_ADDRESS}, "shop@%", "shop", False),
        ({"OPTIONS": {"ssl": {"ca": "CA"}}}, "shop@%", "shop", True),
    ],
    ids=["user", "database", "host", "tls"],
)
def test_aliases_differing_in_one_setting_never_share_a_server_connection(
    make_wrapper, tls_server, changes, expected_user, expected_database, encrypted
):
    if "OPTIONS" in changes:
        changes = {"OPTIONS": {"ssl": {"ca": str(tls_server.certificates["ca"])}}}
    base = alias(make_wrapper, tls_server)
    other = alias(make_wrapper, tls_server, **changes)
    first = seen_by_server(base)
    base.close()  # idle in its pool: the other alias must not be handed it
    second = seen_by_server(other)
    other.close()

    assert first[1:] == ("shop@%", "shop", "")
    assert second[0] != first[0]
    assert second[1:3] == (expected_user, expected_database)
    assert bool(second[3]) is encrypted
    assert seen_by_server(base)[0] == first[0]  # each alias still reuses its own


def test_a_wrong_password_never_gets_the_pooled_connection_of_the_right_one(
    make_wrapper, tls_server
):
    right = alias(make_wrapper, tls_server)
    wrong = alias(make_wrapper, tls_server, PASSWORD=SHOP_PASSWORD + "-wrong")
    seen_by_server(right)
    right.close()
    with pytest.raises(utils.OperationalError, match="1045"):
        wrong.ensure_connection()


def test_tls_alias_is_encrypted_on_every_borrow_and_the_server_refuses_it_without(
    make_wrapper, tls_server
):
    tls = {"ssl": {"ca": str(tls_server.certificates["ca"])}}
    secure = alias(make_wrapper, tls_server, USER="secure", PASSWORD=SECRET, OPTIONS=tls)
    ids = set()
    for _ in range(20):
        connection, user, _, cipher = seen_by_server(secure)
        secure.close()
        ids.add(connection)
        assert user == "secure@%" and cipher  # e.g. TLS_AES_256_GCM_SHA384
    assert len(ids) == 1  # pooled: one server connection, encrypted every time
    plain = alias(make_wrapper, tls_server, USER="secure", PASSWORD=SECRET)
    with pytest.raises(utils.OperationalError, match="1045"):
        plain.ensure_connection()  # REQUIRE SSL: no plain connection ever authenticates


def test_the_password_never_appears_in_reprs_logs_warnings_errors_or_stats(
    make_wrapper, tls_server, caplog, settings, monkeypatch
):
    """Exercise every path that talks about a connection, with a distinctive password."""
    caplog.set_level(logging.DEBUG)  # every logger, SQLAlchemy's pool included
    said: list[str] = []
    options = {"pool_size": 1, "max_overflow": 0, "timeout": 0.2, "echo": "debug"}
    options["leak_timeout"] = 0.1
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")

        def blog(password: str = SECRET) -> Any:
            where = {"HOST": tls_server.host, "PORT": tls_server.port, "NAME": "blog"}
            return make_wrapper(pool=options, USER="blog", PASSWORD=password, **where)

        holder, waiter = blog(), blog()
        victim = seen_by_server(holder)[0]
        with pytest.raises(utils.OperationalError) as exhausted:
            waiter.ensure_connection()  # PoolTimeout, with the target in the message
        said.append(_everything_about(exhausted.value))
        said.append(repr(holder.connection))
        said.append(repr(pools.all_pools()))
        said.append(repr(django_mysqlpool.pool_stats()))
        import time

        time.sleep(0.3)  # the leak watcher reports the held connection
        holder.close()
        tls_server.sql(f"KILL {victim}")  # replaced on the next borrow, which logs it
        seen_by_server(holder)
        holder.close()
        said.append(repr(holder.connection))
        wrong = blog(SECRET + "x")
        with pytest.raises(utils.OperationalError) as refused:
            wrong.ensure_connection()
        said.append(_everything_about(refused.value))
        said.append(_status_of_an_alias_with_the_password(tls_server, settings, monkeypatch))
        django_mysqlpool.close_pool()
    said.extend(str(w.message) for w in caught)
    said.append(caplog.text)
    said.extend(repr(record.args) for record in caplog.records)

    text = "\n".join(said)
    assert "leak_timeout" in text and "couldn't get a connection" in text  # paths were hit
    assert SECRET not in text
    assert SECRET[:12] not in text


def _status_of_an_alias_with_the_password(tls_server, settings, monkeypatch) -> str:
    """``manage.py mysqlpool status`` (text and JSON) and the checks, for such an alias."""
    from django.core import checks
    from django.core.management import call_command
    from django.db import connections

    blog = {
        **settings.DATABASES["default"],
        "HOST": tls_server.host,
        "PORT": tls_server.port,
        "USER": "blog",
        "PASSWORD": SECRET,
        "NAME": "blog",
        "CONN_MAX_AGE": 5,  # so that a check has something to say about it
        "OPTIONS": {"pool": {"pool_size": "bad"}},
    }
    add_aliases(settings, monkeypatch, {"blog": blog, "blog_ok": {**blog, "OPTIONS": {}}})
    told = []
    for args in (["--json"], []):
        out = io.StringIO()
        call_command(
            "mysqlpool", "status", "--database", "blog", "--database", "blog_ok", *args, stdout=out
        )
        told.append(out.getvalue())
    told.append(repr(checks.run_checks(tags=["mysqlpool"], databases=["blog", "blog_ok"])))
    for alias in ("blog", "blog_ok"):
        connections[alias].close()
    assert "blog@127.0.0.1" in told[0] and "INVALID" in told[1]  # both were reported on
    return "\n".join(told)


def _everything_about(error: BaseException) -> str:
    with contextlib.redirect_stderr(io.StringIO()):
        shown = "".join(traceback.format_exception(error))
    return f"{error!s}\n{error!r}\n{shown}"
