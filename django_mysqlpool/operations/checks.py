"""System checks, registered by the optional app (``"django_mysqlpool"`` in INSTALLED_APPS).

The ENGINE registers ``mysqlpool.E001`` (settings the first connection would refuse) and
``W001`` (CONN_MAX_AGE) itself (``integration/engine_checks.py``). Here: ``W002``
CONN_HEALTH_CHECKS on a pooled alias; ``W003`` 0.2.1 arguments; ``W007``
django-db-connection-pool settings left over. With ``--database ALIAS`` (Django's database
checks), against that alias's server: ``W004`` more connections per process than the
server's ``max_connections``; ``W005`` ``recycle`` above ``wait_timeout``; ``W006`` the
client library lacks a capability the pool's fast path uses.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.conf import settings as django_settings
from django.core import checks

from ..integration import engine_checks, lifecycle
from ..integration.aliases import PooledAlias, is_pooled_engine, pooled_aliases, server_cursor
from ..integration.engine_checks import DOCS
from ..pool import FALLBACKS, LEGACY_ARGUMENTS
from ..pool import client_library as library_of

engine_checks.register()  # the ENGINE's own, in case no pooled ENGINE was imported yet


@checks.register("mysqlpool")
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    found: list[checks.CheckMessage] = []
    for pooled in pooled_aliases():
        found.extend(_settings_messages(pooled))
    return found


def _settings_messages(pooled: PooledAlias) -> Iterable[checks.CheckMessage]:
    alias, database = pooled.alias, pooled.database
    if database.get("CONN_HEALTH_CHECKS"):
        yield checks.Warning(
            f"DATABASES[{alias!r}]['CONN_HEALTH_CHECKS'] is on for a pooled alias: the pool "
            f"already checks every connection it hands out.",
            hint="Remove CONN_HEALTH_CHECKS (or set pre_ping in OPTIONS['pool']).",
            obj=f"DATABASES[{alias!r}]",
            id="mysqlpool.W002",
        )
    for where, name in pooled.legacy_arguments:
        yield checks.Warning(
            f"{where} is a django-mysqlpool 0.2.1 argument: it {LEGACY_ARGUMENTS[name]}.",
            hint=f"Remove it; the migration guide: {DOCS}migration.html",
            obj=f"DATABASES[{alias!r}]",
            id="mysqlpool.W003",
        )


#: django-db-connection-pool's MySQL ENGINE, and the ``POOL_OPTIONS`` keys it honours
#: (upper case only) with the ``OPTIONS["pool"]`` argument each becomes.
DBCP_ENGINE = "dj_db_conn_pool.backends.mysql"
DBCP_KEYS = {
    "POOL_SIZE": "pool_size",
    "MAX_OVERFLOW": "max_overflow",
    "RECYCLE": "recycle",
    "TIMEOUT": "timeout",
    "PRE_PING": "pre_ping",
    "ECHO": "echo",
}


@checks.register("mysqlpool")
def check_dbcp_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """django-db-connection-pool's ENGINE, or its POOL_OPTIONS that our ENGINE ignores."""
    found = []
    for alias, database in (getattr(django_settings, "DATABASES", {}) or {}).items():
        message = _dbcp_message(alias, database)
        if message is not None:
            found.append(message)
    return found


def _dbcp_message(alias: str, database: dict[str, Any]) -> checks.CheckMessage | None:
    engine = database.get("ENGINE")
    options = database.get("OPTIONS") or {}
    places = {
        f"DATABASES[{alias!r}]['POOL_OPTIONS']": database.get("POOL_OPTIONS"),
        f"DATABASES[{alias!r}]['OPTIONS']['POOL_OPTIONS']": options.get("POOL_OPTIONS"),
    }
    leftovers = [(where, value) for where, value in places.items() if value is not None]
    if engine != DBCP_ENGINE and not (leftovers and is_pooled_engine(engine)):
        return None
    pool, unknown = _pool_equivalent([value for _, value in leftovers])
    suggested = f'OPTIONS["pool"] = {_as_literal(pool)}'
    if engine == DBCP_ENGINE:
        if not leftovers:
            suggested = 'OPTIONS["pool"] as needed (its default pool_size 10 is 5 here)'
        text = (
            f"DATABASES[{alias!r}]['ENGINE'] is django-db-connection-pool's {DBCP_ENGINE!r}; "
            f'with django-mysqlpool: ENGINE "django_mysqlpool.backends.mysqlpool" and '
            f"{suggested}."
        )
    else:
        where = " and ".join(where for where, _ in leftovers)
        what = "is django-db-connection-pool's setting"
        if len(leftovers) > 1:
            what = "are django-db-connection-pool's settings"
        text = f"{where} {what}, which django-mysqlpool ignores; the equivalent is {suggested}."
    if unknown:
        text += f" No equivalent for {', '.join(map(repr, unknown))}: leave it out."
    return checks.Warning(
        text,
        hint="Set OPTIONS['pool'] as shown (POOL_OPTIONS' keys in lower case) and remove "
        f"POOL_OPTIONS; the migration guide: {DOCS}migration.html#from-dbcp",
        obj=f"DATABASES[{alias!r}]",
        id="mysqlpool.W007",
    )


def _pool_equivalent(leftovers: list[Any]) -> tuple[dict[str, Any], list[Any]]:
    """``OPTIONS["pool"]`` for django-db-connection-pool's POOL_OPTIONS, and keys without one."""
    pool: dict[str, Any] = {}
    unknown: list[Any] = []
    for value in leftovers:
        for key, setting in value.items() if isinstance(value, dict) else []:
            if key in DBCP_KEYS:
                pool[DBCP_KEYS[key]] = setting
            else:
                unknown.append(key)
    return pool, unknown


def _as_literal(pool: dict[str, Any]) -> str:
    """``{"pool_size": 10, ...}``: what to paste into settings.py."""
    return "{" + ", ".join(f'"{name}": {value!r}' for name, value in pool.items()) + "}"


@checks.register(checks.Tags.database)
def check_against_server(
    app_configs: Any = None, databases: Any = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """Only with ``manage.py check --database ALIAS``, as Django's own database checks."""
    if not databases:
        return []
    found: list[checks.CheckMessage] = []
    for pooled in pooled_aliases(only=list(databases)):
        if pooled.config is None:
            continue  # E001 says why
        max_connections, wait_timeout = _server_limits(pooled.alias)
        limit = pooled.config.connection_limit()
        if limit is not None and limit > max_connections:
            found.append(
                checks.Warning(
                    f"DATABASES[{pooled.alias!r}]: one process may open {limit} connections "
                    f"(pool_size + max_overflow), more than the server's max_connections "
                    f"({max_connections}).",
                    hint="Lower pool_size / max_overflow, or raise max_connections; "
                    "'manage.py mysqlpool status --processes N' shows the whole budget.",
                    obj=f"DATABASES[{pooled.alias!r}]",
                    id="mysqlpool.W004",
                )
            )
        recycle = pooled.config.recycle
        if recycle is not None and (recycle == -1 or recycle > wait_timeout):
            found.append(
                checks.Warning(
                    f"DATABASES[{pooled.alias!r}]: recycle is {recycle} s but the server "
                    f"closes connections idle for {wait_timeout} s (wait_timeout): idle "
                    f"connections die before the pool replaces them.",
                    hint="Remove 'recycle' to derive it from the server's wait_timeout.",
                    obj=f"DATABASES[{pooled.alias!r}]",
                    id="mysqlpool.W005",
                )
            )
        found.extend(_capability_messages(pooled.alias))
    return found


def _capability_messages(alias: str) -> Iterable[checks.CheckMessage]:
    """What the first connection of ``alias``'s pool showed (the limits check made one)."""
    stats = lifecycle.pool_stats(alias)
    capabilities = (stats or {}).get("capabilities") or {}
    for name, present in capabilities.items():
        if not present:
            yield checks.Warning(
                f"DATABASES[{alias!r}]: the client library ({client_library()}) lacks "
                f"{name}: {FALLBACKS[name]}.",
                hint="Sessions stay clean, at the cost of round trips. mysqlclient built "
                "against MariaDB Connector/C (Debian's default-libmysqlclient-dev) has all "
                f"three; see {DOCS}guarantees.html#client-libraries",
                obj=f"DATABASES[{alias!r}]",
                id="mysqlpool.W006",
            )


def client_library() -> str:
    from django.db.backends.mysql.base import Database  # type: ignore[attr-defined]

    return library_of(Database)


def _server_limits(alias: str) -> tuple[int, int]:
    with server_cursor(alias) as cursor:
        cursor.execute("SELECT @@max_connections, @@wait_timeout")
        max_connections, wait_timeout = cursor.fetchone()
    return int(max_connections), int(wait_timeout)
