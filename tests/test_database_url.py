"""The DATABASE_URL recipes of docs/recipes.rst, run for real against the test server.

dj-database-url and django-environ turn ``mysql://user:pass@host:3306/db`` into a
``DATABASES`` entry; each recipe must give an alias whose connections are pooled, with
the pool options the recipe sets.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import dj_database_url
import environ  # type: ignore[import-untyped]
import pytest

import django_mysqlpool
from tests.server import connection_id
from tests.support.observer import server_params

ENGINE = "django_mysqlpool.backends.mysqlpool"


def database_url(scheme: str = "mysql", query: str = "") -> str:
    """The test server as a URL; an empty password gives ``user:@host``."""
    server = server_params()
    user, password = quote(server["user"], safe=""), quote(server["password"], safe="")
    url = f"{scheme}://{user}:{password}@{server['host']}:{server['port']}/{server['database']}"
    return f"{url}?{query}" if query else url


def assert_pooled(wrapper: Any, pool_size: int | None = None) -> dict[str, Any]:
    """Two borrows with close() between get the same server connection, from one pool."""
    first = connection_id(wrapper)
    wrapper.close()
    assert connection_id(wrapper) == first
    wrapper.close()
    [stats] = django_mysqlpool.pool_stats()
    assert isinstance(stats, dict)
    assert (stats["borrowed"], stats["created"]) == (2, 1)
    if pool_size is not None:
        assert stats["settings"]["pool_size"] == pool_size and stats["size"] == 1
    return stats


def test_dj_database_url_parse_with_our_engine_and_pool_options_gives_a_pooled_alias(
    wrapper_for: Callable[[Any], Any],
) -> None:
    database = dj_database_url.parse(database_url(), engine=ENGINE, conn_max_age=0)
    database.setdefault("OPTIONS", {})["pool"] = {"pool_size": 3, "max_overflow": 2}
    assert database["ENGINE"] == ENGINE
    stats = assert_pooled(wrapper_for(database), pool_size=3)
    assert stats["settings"]["max_overflow"] == 2


def test_dj_database_url_config_reads_database_url_from_the_environment(
    wrapper_for: Callable[[Any], Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url())
    database = dj_database_url.config(engine=ENGINE)
    database.setdefault("OPTIONS", {})["pool"] = {"pool_size": 4}
    assert_pooled(wrapper_for(database), pool_size=4)


def test_dj_database_url_passes_query_options_to_options_so_pool_true_and_charset_work(
    wrapper_for: Callable[[Any], Any], settings: Any
) -> None:
    settings.MYSQLPOOL_ARGUMENTS = {"pool_size": 6}
    database = dj_database_url.parse(database_url(query="pool=true&charset=utf8mb4"), engine=ENGINE)
    assert database["OPTIONS"] == {"pool": True, "charset": "utf8mb4"}
    wrapper = wrapper_for(database)
    assert_pooled(wrapper, pool_size=6)  # the MYSQLPOOL_ARGUMENTS defaults
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT @@character_set_client")
        assert cursor.fetchone()[0] == "utf8mb4"


def test_dj_database_url_flattens_query_options_so_pool_size_cannot_go_in_the_url() -> None:
    database = dj_database_url.parse(database_url(query="pool_size=3"), engine=ENGINE)
    assert database["OPTIONS"] == {"pool_size": 3}  # a driver kwarg, not OPTIONS["pool"]


def test_dj_database_url_can_register_a_mysqlpool_scheme(
    wrapper_for: Callable[[Any], Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(dj_database_url.ENGINE_SCHEMES, "mysqlpool", None)  # undone after
    dj_database_url.register("mysqlpool", ENGINE)(dj_database_url.apply_ssl_ca)
    database = dj_database_url.parse(database_url(scheme="mysqlpool"))
    assert database["ENGINE"] == ENGINE
    database.setdefault("OPTIONS", {})["pool"] = {"pool_size": 2}
    assert_pooled(wrapper_for(database), pool_size=2)


def test_django_environ_db_url_with_our_engine_and_pool_options_gives_a_pooled_alias(
    wrapper_for: Callable[[Any], Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url(query="charset=utf8mb4&CONN_MAX_AGE=0"))
    env = environ.Env()
    database = env.db_url("DATABASE_URL", engine=ENGINE)
    assert database["OPTIONS"] == {"charset": "utf8mb4"} and database["CONN_MAX_AGE"] == 0
    database["OPTIONS"]["pool"] = {"pool_size": 3}
    assert_pooled(wrapper_for(database), pool_size=3)


def test_django_environ_maps_a_mysqlpool_scheme_to_our_engine(
    wrapper_for: Callable[[Any], Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(environ.Env.DB_SCHEMES, "mysqlpool", ENGINE)
    monkeypatch.setenv("DATABASE_URL", database_url(scheme="mysqlpool"))
    database = environ.Env().db("DATABASE_URL")
    assert database["ENGINE"] == ENGINE
    database.setdefault("OPTIONS", {})["pool"] = {"pool_size": 2}
    assert_pooled(wrapper_for(database), pool_size=2)


def test_django_environ_leaves_query_values_as_strings_so_pool_true_is_not_a_bool() -> None:
    database = environ.Env.db_url_config(database_url(query="pool=true"), engine=ENGINE)
    assert database["OPTIONS"] == {"pool": "true"}  # set OPTIONS["pool"] in settings instead
