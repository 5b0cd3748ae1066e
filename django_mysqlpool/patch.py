"""Install and uninstall the swap of the driver's ``connect`` for a pooled one.

Django's MySQL backend calls ``Database.connect(**params)`` where ``Database`` is the
``MySQLdb`` module (or PyMySQL installed as MySQLdb), so replacing that attribute is
enough: Django's ``DatabaseWrapper`` stays untouched. Idempotent, as django-mysql's
monkey patches are: a marker on the patched function says it is ours.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from types import ModuleType
from typing import Any

from . import fork, pools, targets

_MARKER = "_django_mysqlpool_original"


def install(database: ModuleType) -> None:
    """Make ``database.connect`` borrow from the pools; a second call changes nothing."""
    if is_installed(database):
        return
    from . import driver

    original = driver.original_connect(database)

    @functools.wraps(database.connect)
    def pooled_connect(*args: Any, **kwargs: Any) -> Any:
        return connect(database, original, *args, **kwargs)

    setattr(pooled_connect, _MARKER, database.connect)
    database.connect = pooled_connect  # type: ignore[attr-defined]
    # Keep the alias PyMySQL and mysqlclient both export pointing at the same function.
    if getattr(database, "Connect", None) is getattr(pooled_connect, _MARKER):
        database.Connect = pooled_connect  # type: ignore[attr-defined]


def uninstall(database: ModuleType) -> None:
    """Restore the driver's own ``connect`` (for tests); pools already created stay."""
    if not is_installed(database):
        return
    original = getattr(database.connect, _MARKER)
    if getattr(database, "Connect", None) is database.connect:
        database.Connect = original  # type: ignore[attr-defined]
    database.connect = original  # type: ignore[attr-defined]


def is_installed(database: ModuleType) -> bool:
    return is_installed_on(database.connect)


def is_installed_on(connect: Callable[..., Any]) -> bool:
    return hasattr(connect, _MARKER)


def connect(
    database: ModuleType, original: Callable[..., Any], /, *args: Any, **kwargs: Any
) -> Any:
    """Borrow a pooled connection for these kwargs, or open a plain one for ``pool=False``."""
    fork.check_pid()
    pool_option = kwargs.pop(targets.POOL_OPTION, True)
    registered = None
    if not args:
        registered = pools.pool_for(database, original, kwargs, pool_option)
    if registered is None:
        raw = original(*args, **kwargs)
        fork.track(raw)
        return raw
    return registered.borrow()
