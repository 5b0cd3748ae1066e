"""The backend swaps the driver's connect once, keeps the original, and can be undone."""

from __future__ import annotations

import functools
import importlib

import MySQLdb
import pytest

import django_mysqlpool
from django_mysqlpool.connection import driver
from django_mysqlpool.integration import patch
from tests.server import connection_id

# The driver's own connection class, and where its ``connect`` lives. PyMySQL installed as
# MySQLdb is the ``pymysql`` package: ``import MySQLdb.connections`` would load a second
# copy of its module, whose classes are not the driver's.
if driver.is_pymysql(MySQLdb):
    from pymysql.connections import Connection as DriverConnection

    DRIVER_MODULE = "pymysql.connections"
else:
    from MySQLdb.connections import Connection as DriverConnection

    DRIVER_MODULE = "MySQLdb"


def test_backend_import_installs_the_patch_keeping_the_drivers_own_connect():
    import django_mysqlpool.backends.mysqlpool.base  # noqa: F401

    assert patch.is_installed(MySQLdb)
    original = MySQLdb.connect._django_mysqlpool_original
    assert not patch.is_installed_on(original)
    assert original.__module__ == DRIVER_MODULE


def test_reloading_the_backend_twice_never_wraps_the_wrapper():
    import django_mysqlpool.backends.mysqlpool.base as base

    installed = MySQLdb.connect
    importlib.reload(base)
    importlib.reload(base)
    assert MySQLdb.connect is installed


def test_uninstall_restores_plain_connections_and_install_brings_the_pool_back(observer):
    from tests.support.observer import server_params

    params = server_params()
    patch.uninstall(MySQLdb)
    try:
        plain = MySQLdb.connect(**params)
        assert isinstance(plain, DriverConnection)
        plain_id = plain.thread_id()
        plain.close()
        assert observer.is_gone(plain_id)
    finally:
        patch.install(MySQLdb)

    pooled = MySQLdb.connect(**params, pool={"pool_size": 1})
    pooled_id = pooled.thread_id()
    pooled.close()
    assert observer.is_alive(pooled_id)  # given back, not closed
    import django_mysqlpool

    django_mysqlpool.close_pool()


def test_an_alias_on_djangos_own_backend_in_the_same_process_is_not_pooled(make_wrapper, observer):
    plain = make_wrapper(engine="django.db.backends.mysql", pool=None)
    pooled = make_wrapper()
    first_plain, first_pooled = connection_id(plain), connection_id(pooled)
    plain.close()
    pooled.close()

    assert observer.is_gone(first_plain)  # really closed
    assert connection_id(plain) != first_plain
    assert connection_id(pooled) == first_pooled  # really given back
    assert len(django_mysqlpool.pool_stats()) == 1


@pytest.mark.parametrize("engine", ["django.db.backends.mysql", None])
def test_every_django_mysql_wrapper_passes_the_argument_that_tells_it_from_a_direct_call(
    make_wrapper, engine
):
    """A connect without ``conv`` may take a direct call's route without looking for a
    connecting wrapper (``patch._DJANGO_PASSES``): Django's MySQL wrappers, ours and its
    own, must keep passing it, whichever Django version runs."""
    wrapper = make_wrapper(engine=engine, pool=None) if engine else make_wrapper()
    assert patch._DJANGO_PASSES in wrapper.get_connection_params()


def test_djangos_own_connect_is_recognised_without_walking_the_stack(
    make_wrapper, observer, monkeypatch
):
    """Django's ``get_new_connection`` calling ``connect`` itself is known by its code
    (``patch._DJANGO_CONNECTS``), whichever Django version runs: the stack walk is for
    frames between (tracing tools) and subclasses only. Both of Django's ENGINEs still
    get what their ENGINE says."""

    def walk(frame):
        raise AssertionError(f"walked the stack from {frame.f_code.co_name}")

    monkeypatch.setattr(patch, "_connecting_wrapper", walk)
    plain = make_wrapper(engine="django.db.backends.mysql", pool=None)
    pooled = make_wrapper(pool=None)
    first_plain, first_pooled = connection_id(plain), connection_id(pooled)
    plain.close()
    pooled.close()

    assert connection_id(pooled) == first_pooled  # pooled
    assert observer.is_gone(first_plain)  # plain


def test_a_library_calling_mysqldb_connect_directly_gets_a_plain_connection(observer):
    from tests.support.observer import server_params

    raw = MySQLdb.connect(**server_params())
    assert isinstance(raw, DriverConnection)
    raw_id = raw.thread_id()
    raw.close()
    assert observer.is_gone(raw_id)


def wrapped_in_frames(connect, depth: int):
    """``connect`` behind ``depth`` Python frames, as tracing and profiling tools wrap it."""
    if depth == 0:
        return connect

    @functools.wraps(connect)
    def traced(*args, **kwargs):
        return inner(*args, **kwargs)

    inner = wrapped_in_frames(connect, depth - 1)
    return traced


@pytest.mark.parametrize("depth", [1, 3, 12])
def test_pooling_does_not_depend_on_how_many_frames_wrap_connect(
    make_wrapper, observer, monkeypatch, depth
):
    monkeypatch.setattr(MySQLdb, "connect", wrapped_in_frames(MySQLdb.connect, depth))
    plain = make_wrapper(engine="django.db.backends.mysql", pool=None)
    pooled = make_wrapper(pool=None)  # pooled by its ENGINE alone, as most aliases are
    first_plain, first_pooled = connection_id(plain), connection_id(pooled)
    plain.close()
    pooled.close()

    assert connection_id(pooled) == first_pooled  # still pooled
    assert observer.is_gone(first_plain)  # still plain


def test_a_sqlalchemy_without_what_the_hot_path_uses_is_refused_naming_its_version(monkeypatch):
    import sqlalchemy
    from django.core.exceptions import ImproperlyConfigured
    from sqlalchemy.pool.base import _ConnectionRecord

    monkeypatch.delattr(_ConnectionRecord, "_checkin_failed")
    with pytest.raises(ImproperlyConfigured) as raised:
        patch.check_sqlalchemy()
    message = str(raised.value)
    assert f"cannot use SQLAlchemy {sqlalchemy.__version__}" in message
    assert "_ConnectionRecord._checkin_failed()" in message
    assert ">=2.0,<2.2" in message


def test_a_sqlalchemy_whose_records_keep_no_start_time_is_refused(monkeypatch):
    """The borrow's short path computes the recycling deadline from ``starttime``."""
    from django.core.exceptions import ImproperlyConfigured
    from sqlalchemy.pool.base import _ConnectionRecord

    made = _ConnectionRecord.__init__

    def without_start_time(self, *args, **kwargs):
        made(self, *args, **kwargs)
        del self.starttime

    monkeypatch.setattr(_ConnectionRecord, "__init__", without_start_time)
    with pytest.raises(ImproperlyConfigured, match=r"_ConnectionRecord\.starttime"):
        patch.check_sqlalchemy()


def test_the_installed_sqlalchemy_has_everything_the_hot_path_uses():
    patch.check_sqlalchemy()  # raises otherwise


def test_a_custom_engine_that_star_imports_ours_is_pooled(make_wrapper, tmp_path, monkeypatch):
    """docs/settings.rst: ``from django_mysqlpool.backends.mysqlpool.base import *`` in an
    ENGINE's ``base`` brings the flag that pools its aliases."""
    engine = tmp_path / "star_engine"
    engine.mkdir()
    (engine / "__init__.py").write_text("")
    (engine / "base.py").write_text("from django_mysqlpool.backends.mysqlpool.base import *\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    wrapper = make_wrapper(engine="star_engine", pool=None)  # pooled by its ENGINE alone
    first = connection_id(wrapper)
    wrapper.close()

    assert connection_id(wrapper) == first
