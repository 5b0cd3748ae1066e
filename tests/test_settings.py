"""MYSQLPOOL_BACKEND, MYSQLPOOL_ARGUMENTS and OPTIONS["pool"]: validated, legacy ones warned."""

from __future__ import annotations

import time

import pytest
from django.core.exceptions import ImproperlyConfigured

import django_mysqlpool
from tests.server import connection_id


def connect_error(make_wrapper, **kwargs) -> str:
    wrapper = make_wrapper(**kwargs)
    with pytest.raises(ImproperlyConfigured) as raised:
        wrapper.ensure_connection()
    return str(raised.value)


@pytest.mark.parametrize(
    ("backend", "expected"),
    [
        ("NoSuchPool", "MYSQLPOOL_BACKEND must be one of 'ElasticPool', 'QueuePool'"),
        ("os.path", "got 'os.path'"),
        ("sqlalchemy.pool.AsyncAdaptedQueuePool", "an asyncio pool"),
        ("collections.OrderedDict", "a dotted path to a sqlalchemy.pool.Pool subclass"),
        ("StaticPool", "hands the same connection to every thread at once"),
        ("SingletonThreadPool", "one connection per thread, shared by every borrow"),
        ("sqlalchemy.pool.AssertionPool", "raises on a second borrower"),
        ("sqlalchemy.pool.base.Pool", "neither an ElasticPool, a QueuePool nor a NullPool"),
        (False, "got False"),
        (0, "got 0"),
    ],
)
def test_unknown_backend_names_the_setting_and_what_is_allowed(
    make_wrapper, settings, observer, own_database, backend, expected
):
    settings.MYSQLPOOL_BACKEND = backend
    assert expected in connect_error(make_wrapper, NAME=own_database)
    assert observer.connections_to(own_database) == set()  # nothing half-applied connected


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (
            {"pool_size": "ten"},
            "MYSQLPOOL_ARGUMENTS['pool_size'] must be an int >= 0 (0 means no limit), "
            "got the str 'ten'",
        ),
        ({"max_overflow": -2}, "MYSQLPOOL_ARGUMENTS['max_overflow'] must be an int >= -1"),
        ({"timeout": 0}, "MYSQLPOOL_ARGUMENTS['timeout'] must be a number of seconds > 0, got 0"),
        ({"pool_size": True}, "got True"),
        # Read from the environment: a str that looks like a number says it is a str.
        (
            {"pool_size": "10"},
            "MYSQLPOOL_ARGUMENTS['pool_size'] must be an int >= 0 (0 means "
            "no limit), got the str '10'.",
        ),
        (
            {"pre_ping": "False"},
            "MYSQLPOOL_ARGUMENTS['pre_ping'] must be True or False, got the str 'False'.",
        ),
        (
            {"timeout": 10.0, "max_overflow": 2.0},
            "['max_overflow'] must be an int >= -1 (-1 means no limit), got 2.0.",
        ),
        (
            {"poolsize": 3},
            "unknown argument 'poolsize' for ElasticPool; allowed: echo, host_backoff, hosts",
        ),
        ({"creator": print}, "'creator'] is managed by django-mysqlpool"),
        ({"reset_on_return": "commit"}, "must be 'rollback'"),
        ({"pre_ping_after": -1}, "MYSQLPOOL_ARGUMENTS['pre_ping_after'] must be a number of"),
        ({"leak_timeout": 0}, "MYSQLPOOL_ARGUMENTS['leak_timeout'] must be a number of seconds"),
        ({"hosts": ["db1:99999"]}, "['hosts'] must be a non-empty list of 'host' or 'host:port'"),
        ({"hosts": "db1,db2"}, "['hosts'] must be a non-empty list"),
        ({"require": "master"}, "['require'] must be 'primary' (only a server with @@read_only"),
        (["pool_size"], "MYSQLPOOL_ARGUMENTS must be a dict of pool arguments"),
    ],
)
def test_bad_global_argument_names_the_setting_value_and_allowed(
    make_wrapper, settings, arguments, expected
):
    settings.MYSQLPOOL_ARGUMENTS = arguments
    assert expected in connect_error(make_wrapper)


def test_argument_the_chosen_backend_does_not_take_is_rejected(make_wrapper, settings):
    settings.MYSQLPOOL_BACKEND = "NullPool"
    settings.MYSQLPOOL_ARGUMENTS = {"pool_size": 3}
    assert "unknown argument 'pool_size' for NullPool" in connect_error(make_wrapper)


def test_bad_per_alias_option_names_the_alias_setting(make_wrapper):
    assert (
        "OPTIONS['pool'] must be True, False or a dict of pool arguments, got the str 'yes'."
        in (connect_error(make_wrapper, pool="yes"))
    )
    assert "OPTIONS['pool']['timeout'] must be a number" in connect_error(
        make_wrapper, pool={"timeout": "1s"}
    )


def test_per_alias_dict_overrides_global_arguments(make_wrapper, settings):
    settings.MYSQLPOOL_ARGUMENTS = {"pool_size": 7, "max_overflow": 1}
    connection_id(make_wrapper(pool={"pool_size": 2}))
    [stats] = django_mysqlpool.pool_stats()
    assert stats["settings"]["pool_size"] == 2 and stats["size"] == 1  # the setting; open


def test_pool_false_bypasses_the_pool(make_wrapper, observer):
    wrapper = make_wrapper(pool=False)
    first = connection_id(wrapper)
    wrapper.close()
    assert observer.is_gone(first)
    assert connection_id(wrapper) != first
    assert django_mysqlpool.pool_stats() == []


def test_per_alias_backend_choice(make_wrapper, observer):
    wrapper = make_wrapper(pool={"backend": "NullPool"})
    first = connection_id(wrapper)
    wrapper.close()
    assert observer.is_gone(first)  # NullPool closes on return


@pytest.mark.parametrize("legacy", ["use_threadlocal", "listeners"])
def test_0_2_1_arguments_warn_and_are_ignored(make_wrapper, settings, legacy):
    settings.MYSQLPOOL_BACKEND = "QueuePool"
    settings.MYSQLPOOL_ARGUMENTS = {legacy: False, "pool_size": 4}
    wrapper = make_wrapper()
    with pytest.warns(DeprecationWarning, match=rf"MYSQLPOOL_ARGUMENTS\['{legacy}'\] is ignored"):
        connection_id(wrapper)
    assert django_mysqlpool.pool_stats()[0]["settings"]["pool_size"] == 4


def test_0_2_1_poolclass_argument_still_chooses_the_backend(make_wrapper, settings, observer):
    del settings.MYSQLPOOL_BACKEND
    settings.MYSQLPOOL_ARGUMENTS = {"poolclass": "NullPool"}
    wrapper = make_wrapper()
    with pytest.warns(DeprecationWarning, match="set MYSQLPOOL_BACKEND instead"):
        first = connection_id(wrapper)
    wrapper.close()
    assert observer.is_gone(first)


def test_default_recycle_follows_the_servers_wait_timeout(make_wrapper):
    # A session wait_timeout of 3 s (set per connection, the shared server is untouched).
    wrapper = make_wrapper(OPTIONS={"init_command": "SET SESSION wait_timeout = 3"})
    first = connection_id(wrapper)
    wrapper.close()
    time.sleep(2.2)  # past the derived recycle (2 s), still inside the server's 3 s

    second = connection_id(wrapper)
    assert second != first  # recycled before the server could drop it


def test_pool_idle_past_wait_timeout_never_says_gone_away(make_wrapper, observer):
    wrapper = make_wrapper(
        OPTIONS={"init_command": "SET SESSION wait_timeout = 2"}, pool={"recycle": -1}
    )
    first = connection_id(wrapper)
    wrapper.close()
    assert observer.is_gone(first, within=10)  # the server dropped it
    assert connection_id(wrapper) != first  # liveness check replaced it, no error


def test_pool_arguments_written_into_options_raise_improperly_configured_not_type_error(
    make_wrapper, observer, own_database
):
    wrapper = make_wrapper(NAME=own_database, OPTIONS={"pool_size": 3, "connect_timeout": 5})
    where = f"DATABASES[{wrapper.alias!r}]['OPTIONS']"
    with pytest.raises(ImproperlyConfigured) as raised:
        wrapper.ensure_connection()
    assert str(raised.value) == (
        f"{where} has the pool argument 'pool_size', which the driver's connect() does not "
        f'take: move it into {where}[\'pool\'], as in "OPTIONS": {{"pool": {{"pool_size": 3}}}}.'
    )
    assert raised.value.__suppress_context__  # no TypeError traceback above it
    assert observer.connections_to(own_database) == set()


def test_driver_timeouts_in_options_are_the_drivers_not_misplaced_pool_arguments(make_wrapper):
    wrapper = make_wrapper(OPTIONS={"connect_timeout": 5, "read_timeout": 30, "write_timeout": 30})
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)


def test_conn_max_age_on_a_pooled_alias_is_allowed_and_keeps_the_connection_borrowed(
    make_wrapper, observer
):
    # Warned (mysqlpool.W001), not refused as Django's PostgreSQL pool does: see
    # docs/settings.rst, CONN_MAX_AGE.
    wrapper = make_wrapper(CONN_MAX_AGE=None)
    held = connection_id(wrapper)
    wrapper.close_if_unusable_or_obsolete()  # what Django does at the end of a request
    assert connection_id(wrapper) == held and observer.is_alive(held)
    [stats] = django_mysqlpool.pool_stats()
    assert stats["checked_out"] == 1  # never given back: what W001 is about
