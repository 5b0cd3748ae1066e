"""Which SQLAlchemy pool class a pool is built from (``MYSQLPOOL_BACKEND``): the default
``ElasticPool``, or a ``QueuePool`` / ``NullPool`` (sub)class a user names; the classes
that would share one connection between borrowers are refused by name."""

from __future__ import annotations

import importlib
import inspect
from typing import Any

from sqlalchemy import pool as sa_pool

from .config_error import ConfigError
from .elastic import ElasticPool

DEFAULT_BACKEND = "ElasticPool"
BUILTIN_BACKENDS = ("ElasticPool", "QueuePool", "NullPool")
#: SQLAlchemy pool classes that hand one connection to several borrowers at once (or
#: refuse a second), which a pool shared by Django's threads must never do.
SHARING_BACKENDS = {
    "StaticPool": "it hands the same connection to every thread at once",
    "SingletonThreadPool": "it hands one connection per thread, shared by every borrow "
    "of that thread, and closes connections of other threads at random",
    "AssertionPool": "it allows one connection per process and raises on a second borrower",
}


def load_backend(value: Any, setting: str) -> type[sa_pool.Pool]:
    """A ``sqlalchemy.pool.Pool`` subclass from a class, a built-in name or a dotted path."""
    allowed = (
        f"one of {', '.join(repr(n) for n in BUILTIN_BACKENDS)}, or a dotted path to a "
        "sqlalchemy.pool.Pool subclass"
    )
    backend: Any = value
    name = value.rpartition(".")[2] if isinstance(value, str) else getattr(value, "__name__", "")
    if name in SHARING_BACKENDS:
        raise ConfigError(
            f"{setting} is {value!r}: {SHARING_BACKENDS[name]}. Use 'QueuePool' (with "
            f"pool_size=1, max_overflow=0 for a single connection) or 'NullPool'."
        )
    if isinstance(value, str):
        if value == "ElasticPool":
            backend = ElasticPool
        elif "." not in value:
            backend = getattr(sa_pool, value, None) if value in BUILTIN_BACKENDS else None
        else:
            module_name, _, class_name = value.rpartition(".")
            try:
                backend = getattr(importlib.import_module(module_name), class_name, None)
            except ImportError:
                backend = None
    if not (inspect.isclass(backend) and issubclass(backend, sa_pool.Pool)):
        raise ConfigError(f"{setting} must be {allowed}; got {value!r}.")
    if issubclass(backend, sa_pool.AsyncAdaptedQueuePool):
        raise ConfigError(
            f"{setting} is {value!r}, an asyncio pool; Django's MySQL drivers are "
            f"synchronous. Use 'QueuePool'."
        )
    if not issubclass(backend, (ElasticPool, sa_pool.QueuePool, sa_pool.NullPool)):
        raise ConfigError(
            f"{setting} is {value!r}, which is neither an ElasticPool, a QueuePool nor a "
            f"NullPool (sub)class: only those hand each connection to one borrower at a "
            f"time. Remove {setting} for the default ('ElasticPool'), or use 'QueuePool'."
        )
    return backend
