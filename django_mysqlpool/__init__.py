"""django-mysqlpool: a pooled MySQL/MariaDB backend for Django.

Set ``ENGINE`` to ``"django_mysqlpool.backends.mysqlpool"``. The public API is ``__all__``.

The package in four layers, each importing only from those before it (docs/development.rst):
``connection`` (one server session), ``pool`` (lending and lifecycle; neither imports
Django), ``integration`` (where Django meets them) and ``operations`` (checks, the
management command, Prometheus and OpenTelemetry metrics, the debug toolbar panel, which
read the pool through ``pool_stats()`` and ``pool``'s public names); ``backends``,
``management``, ``prometheus``, ``opentelemetry`` and ``debug_toolbar`` are the paths
settings and start-up code name.
"""

from __future__ import annotations

from typing import Any

from .integration.decorators import auto_close_db

__version__ = "1.2.0"
__all__ = [
    "PoolError",
    "PoolTimeout",
    "TooManyWaiting",
    "auto_close_db",
    "close_pool",
    "pool_stats",
    "warm_up",
]


def pool_stats(alias: str | None = None) -> Any:
    """Stats of this process's pools: a list of dicts, or the dict of ``alias``'s pool."""
    from .integration.lifecycle import pool_stats as stats_of

    return stats_of(alias)


def close_pool(alias: str | None = None, timeout: float | None = None) -> None:
    """Close this process's pools (all, or ``alias``'s); see ``lifecycle.close_pool``."""
    from .integration.lifecycle import close_pool as close

    close(alias, timeout)


def warm_up(alias: str | None = None, timeout: float | None = None) -> None:
    """Open the pools' ``min_idle`` connections now; see ``lifecycle.warm_up``."""
    from .integration.lifecycle import warm_up as open_now

    open_now(alias, timeout)


def __getattr__(name: str) -> Any:
    # Errors subclass the driver's OperationalError: bind them only when asked for, so
    # importing the package never imports MySQLdb before pymysql.install_as_MySQLdb().
    if name in ("PoolError", "PoolTimeout", "TooManyWaiting"):
        from .pool import errors

        return getattr(errors, name)
    raise AttributeError(f"module 'django_mysqlpool' has no attribute {name!r}")
