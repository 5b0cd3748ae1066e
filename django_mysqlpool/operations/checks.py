"""System checks, registered by the optional app (``"django_mysqlpool"`` in INSTALLED_APPS).

``mysqlpool.E001`` invalid pool settings; ``W001`` CONN_MAX_AGE on a pooled alias; ``W002``
CONN_HEALTH_CHECKS on a pooled alias; ``W003`` 0.2.1 arguments. With ``--database ALIAS``
(Django's database checks), against that alias's server: ``W004`` more connections per
process than the server's ``max_connections``; ``W005`` ``recycle`` above ``wait_timeout``;
``W006`` the client library lacks a capability the pool's fast path uses.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core import checks

from ..core import driver
from ..core.config import LEGACY_ARGUMENTS
from ..integration import lifecycle
from ..integration.aliases import PooledAlias, pooled_aliases, server_cursor

#: Where the documentation lives, for hints.
DOCS = "https://django-mysqlpool.readthedocs.io/en/latest/"


@checks.register("mysqlpool")
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    found: list[checks.CheckMessage] = []
    for pooled in pooled_aliases():
        found.extend(_settings_messages(pooled))
    return found


def _settings_messages(pooled: PooledAlias) -> Iterable[checks.CheckMessage]:
    alias, database = pooled.alias, pooled.database
    if pooled.error is not None:
        yield checks.Error(
            pooled.error,
            hint=f"Fix the value as the message says; every setting: {DOCS}settings.html",
            obj=f"DATABASES[{alias!r}]",
            id="mysqlpool.E001",
        )
    max_age = database.get("CONN_MAX_AGE", 0)
    if max_age != 0:
        yield checks.Warning(
            f"DATABASES[{alias!r}]['CONN_MAX_AGE'] is {max_age!r} on a pooled alias: Django "
            f"keeps each thread's connection instead of giving it back, so the pool cannot "
            f"share it and the process holds one connection per thread.",
            hint="Set CONN_MAX_AGE to 0 (the default); the pool keeps server connections.",
            obj=f"DATABASES[{alias!r}]",
            id="mysqlpool.W001",
        )
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
                f"{name}: {driver.FALLBACKS[name]}.",
                hint="Sessions stay clean, at the cost of round trips. mysqlclient built "
                "against MariaDB Connector/C (Debian's default-libmysqlclient-dev) has all "
                f"three; see {DOCS}guarantees.html#client-libraries",
                obj=f"DATABASES[{alias!r}]",
                id="mysqlpool.W006",
            )


def client_library() -> str:
    from django.db.backends.mysql.base import Database  # type: ignore[attr-defined]

    return driver.client_library(Database)


def _server_limits(alias: str) -> tuple[int, int]:
    with server_cursor(alias) as cursor:
        cursor.execute("SELECT @@max_connections, @@wait_timeout")
        max_connections, wait_timeout = cursor.fetchone()
    return int(max_connections), int(wait_timeout)
