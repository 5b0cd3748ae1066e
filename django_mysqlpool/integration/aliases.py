"""Which Django database aliases are pooled, and what their pool settings resolve to.

Read from ``settings.DATABASES`` without connecting: shared by the system checks and the
``mysqlpool`` management command.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured

from ..pool.config import LEGACY_ARGUMENTS, PoolConfig
from . import patch, pool_settings

LEGACY = tuple(LEGACY_ARGUMENTS)


@dataclass
class PooledAlias:
    alias: str
    database: dict[str, Any]
    pool_option: Any
    config: PoolConfig | None  # None when the settings are invalid (``error`` says why)
    error: str | None = None

    @property
    def legacy_arguments(self) -> list[tuple[str, str]]:
        """0.2.1 arguments still present: (``SETTING['name']``, name)."""
        found = [
            (f"MYSQLPOOL_ARGUMENTS[{name!r}]", name)
            for name in LEGACY
            if name in (getattr(django_settings, "MYSQLPOOL_ARGUMENTS", None) or {})
        ]
        if isinstance(self.pool_option, dict):
            where = f"DATABASES[{self.alias!r}]['OPTIONS']['pool']"
            found += [(f"{where}[{name!r}]", name) for name in LEGACY if name in self.pool_option]
        return found


def is_pooled_engine(engine: Any) -> bool:
    """``patch.is_pooled_engine``, for an ENGINE no connection has imported yet."""
    if not isinstance(engine, str):
        return False
    try:
        importlib.import_module(engine + ".base")
    except ImportError:
        return False
    return patch.is_pooled_engine(engine)


def pooled_aliases(only: list[str] | None = None) -> list[PooledAlias]:
    """The aliases whose connections the pool serves (all, or those in ``only``)."""
    found = []
    for alias, database in (getattr(django_settings, "DATABASES", {}) or {}).items():
        if only is not None and alias not in only:
            continue
        options = database.get("OPTIONS") or {}
        pool_option = options.get("pool", True)
        if pool_option is False or not is_pooled_engine(database.get("ENGINE")):
            continue
        config, error = None, None
        misplaced = pool_settings.misplaced_arguments(options)
        if misplaced:  # first: the driver refuses them whatever OPTIONS["pool"] says
            error = pool_settings.misplaced_message(alias, misplaced)
        else:
            config, error = _resolve(pool_option)
        found.append(PooledAlias(alias, database, pool_option, config, error))
    return found


def _resolve(pool_option: Any) -> tuple[PoolConfig | None, str | None]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # reported as a check
        try:
            return pool_settings.resolve(pool_option), None
        except ImproperlyConfigured as problem:
            return None, str(problem)


@contextmanager
def server_cursor(alias: str) -> Iterator[Any]:
    """A cursor on ``alias``'s server; gives back the connection if it opened it."""
    from django.db import connections

    connection = connections[alias]
    must_close = connection.connection is None
    try:
        with connection.cursor() as cursor:
            yield cursor
    finally:
        if must_close:
            connection.close()
