"""The system checks the ENGINE registers when it is imported, with or without the app.

``mysqlpool.E001``: settings the first connection of a pooled alias would refuse (invalid
pool settings, pool arguments written into ``OPTIONS`` instead of ``OPTIONS["pool"]``);
``mysqlpool.W001``: ``CONN_MAX_AGE`` on a pooled alias. Django's checks that connect leave
an alias with such settings to E001 (``guard_django_checks``). The optional app adds the
rest (``operations/checks.py``).

Registered by ``backends/mysqlpool/base.py``, which Django imports for the default alias
as soon as a model class is defined, so before ``manage.py check`` runs its checks. An
ENGINE first imported during the checks (a pooled alias other than ``default``, in a
project whose checks never touch it earlier) is checked from the next run on; with the app
installed, always.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any

from django.core import checks

from .aliases import PooledAlias, pooled_aliases

#: Where the documentation lives, for hints.
DOCS = "https://django-mysqlpool.readthedocs.io/en/latest/"


def register() -> None:
    """Register the checks and guard Django's; a second call changes nothing."""
    checks.register(check_connect_settings, "mysqlpool")
    guard_django_checks()


def check_connect_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    found: list[checks.CheckMessage] = []
    for pooled in pooled_aliases():
        found.extend(_connect_messages(pooled))
    return found


def _connect_messages(pooled: PooledAlias) -> Iterable[checks.CheckMessage]:
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
            hint="Set CONN_MAX_AGE to 0 (the default); the pool keeps server connections. "
            f"Why this is a warning, not an error: {DOCS}settings.html#conn-max-age",
            obj=f"DATABASES[{alias!r}]",
            id="mysqlpool.W001",
        )


def leave_invalid_aliases_to_e001(check: Callable[..., Any]) -> Callable[..., Any]:
    """A Django check that connects to each ``--database`` alias, without the aliases whose
    pool settings are invalid.

    With ``--database ALIAS``, Django's database check (MySQL's reads ``sql_mode``) and its
    model checks (MySQL's column types depend on the server) connect; for an alias whose
    pool settings do not validate, connecting raises ImproperlyConfigured and ``manage.py
    check`` ends in a traceback instead of a report. Our checks cannot run first (Django
    keeps checks in a set), so those checks skip such an alias: E001 reports it, and the
    exit status is 1 all the same.
    """

    @functools.wraps(check)
    def skipping_invalid(*args: Any, databases: Any = None, **kwargs: Any) -> Any:
        if databases:
            invalid = {p.alias for p in pooled_aliases(only=list(databases)) if p.config is None}
            databases = [alias for alias in databases if alias not in invalid]
        return check(*args, databases=databases, **kwargs)

    setattr(skipping_invalid, _GUARDED, True)
    return skipping_invalid


_GUARDED = "_mysqlpool_leaves_invalid_aliases_to_e001"


def guard_django_checks() -> None:
    """Swap Django's checks that connect for their guarded forms; a second call changes
    nothing."""
    from django.core.checks import database, model_checks
    from django.core.checks.registry import registry

    for module, name in (
        (database, "check_database_backends"),
        (model_checks, "check_all_models"),
    ):
        original = getattr(module, name)
        if getattr(original, _GUARDED, False):
            continue
        guarded = leave_invalid_aliases_to_e001(original)
        if original in registry.registered_checks:
            registry.registered_checks.remove(original)
            registry.register(guarded, *original.tags)
        setattr(module, name, guarded)
