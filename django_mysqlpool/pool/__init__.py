"""Lending connections and their lifecycle: the registry of pools, borrowing and giving
back, idle connections and waiters, configuration, stats, leaks, fork, hosts.

Imports nothing from Django (a test checks it); ``integration`` wires it to Django. The
names below are what the layers above read; the modules behind them are this layer's own.

They are bound when first asked for: importing any module of this package must not import
the driver (``MySQLdb``) before ``pymysql.install_as_MySQLdb()`` could run.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..connection.driver import FALLBACKS, client_library, original_connect
    from .config import LEGACY_ARGUMENTS
    from .counters import COUNTERS
    from .fork import register as after_fork
    from .hosts import parse as parse_host
    from .observers import (
        BORROWED,
        CONNECTED,
        GIVEN_BACK,
        TIMED_OUT,
        PoolEvent,
        add_listener,
        is_listening,
        remove_listener,
    )
    from .stats import PoolStats
    from .targets import POOL_OPTION, describe

#: Each public name: the module that holds it, and its name there.
_PUBLIC = {
    "FALLBACKS": ("..connection.driver", "FALLBACKS"),
    "client_library": ("..connection.driver", "client_library"),
    "original_connect": ("..connection.driver", "original_connect"),
    "LEGACY_ARGUMENTS": (".config", "LEGACY_ARGUMENTS"),
    "COUNTERS": (".counters", "COUNTERS"),
    "after_fork": (".fork", "register"),
    "parse_host": (".hosts", "parse"),
    "BORROWED": (".observers", "BORROWED"),
    "CONNECTED": (".observers", "CONNECTED"),
    "GIVEN_BACK": (".observers", "GIVEN_BACK"),
    "TIMED_OUT": (".observers", "TIMED_OUT"),
    "PoolEvent": (".observers", "PoolEvent"),
    "add_listener": (".observers", "add_listener"),
    "is_listening": (".observers", "is_listening"),
    "remove_listener": (".observers", "remove_listener"),
    "PoolStats": (".stats", "PoolStats"),
    "POOL_OPTION": (".targets", "POOL_OPTION"),
    "describe": (".targets", "describe"),
}
__all__ = [
    "BORROWED",
    "CONNECTED",
    "COUNTERS",
    "FALLBACKS",
    "GIVEN_BACK",
    "LEGACY_ARGUMENTS",
    "POOL_OPTION",
    "PoolEvent",
    "PoolStats",
    "TIMED_OUT",
    "add_listener",
    "after_fork",
    "client_library",
    "describe",
    "is_listening",
    "original_connect",
    "parse_host",
    "remove_listener",
]


def __getattr__(name: str) -> Any:
    if name not in _PUBLIC:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, attribute = _PUBLIC[name]
    value = getattr(importlib.import_module(module, __name__), attribute)
    globals()[name] = value  # the next lookup is a plain one
    return value
