"""The public questions about this process's pools: their stats, and closing them.

Asking about or closing a pool never creates one: an alias's pool is found by the same
key its connections would use, without connecting.
"""

from __future__ import annotations

import time
from collections.abc import Hashable
from typing import Any

from ..connection import driver
from ..pool import pools, stats, targets
from . import patch, pool_settings


def _connect_call(alias: str) -> tuple[dict[str, Any], Any] | None:
    """The kwargs and pool option ``alias``'s connect would pass to the pooled connect
    (what its pool is keyed and built by); None for an alias of another vendor."""
    from django.db import connections

    wrapper = connections[alias]
    if wrapper.vendor != "mysql":
        return None
    params = dict(wrapper.get_connection_params())
    pool_option = params.pop(targets.POOL_OPTION, True)
    targets.add_django_session_settings(params, wrapper.settings_dict)
    return params, pool_option


def _key_for_alias(alias: str) -> Hashable | None:
    call = _connect_call(alias)
    return None if call is None else targets.target_key(*call)


def _pools(alias: str | None) -> list[pools.RegisteredPool]:
    if alias is None:
        return pools.all_pools()
    key = _key_for_alias(alias)
    registered = pools.registry.find(key) if key is not None else None
    return [registered] if registered is not None else []


def pool_stats(alias: str | None = None) -> Any:
    """All pools' stats as a list of dicts, or one alias's dict (None before it connects)."""
    if alias is None:
        return [stats.snapshot(registered) for registered in pools.all_pools()]
    found = _pools(alias)
    return stats.snapshot(found[0]) if found else None


def close_pool(alias: str | None = None, timeout: float | None = None) -> None:
    """Close this process's pools (all, or the one ``alias`` uses).

    Idle connections close now; borrowed ones close when given back. With ``timeout``,
    wait up to that many seconds for the borrowed ones to come back (and be closed)
    before returning; those still out then close when given back, as without it. The next
    connection builds a new pool from the current settings.
    """
    retired = _pools(alias)
    for registered in retired:
        pools.retire(registered)
    if timeout is not None:
        deadline = time.monotonic() + timeout
        while any(registered.holders for registered in retired):
            if time.monotonic() >= deadline:
                break
            time.sleep(0.01)


def warm_up(alias: str | None = None, timeout: float | None = None) -> None:
    """Open each pooled alias's ``min_idle`` connections now (or ``alias``'s), in parallel.

    Returns once they are open or ``timeout`` seconds have passed; idempotent (open
    connections count). Raises the driver's error, as a query would, if the server refuses.
    For a worker's start-up hook (gunicorn ``post_worker_init``, uWSGI ``postfork``, Celery
    ``worker_process_init``): the first requests then find their connections open.
    """
    from django.db import connections

    deadline = None if timeout is None else time.monotonic() + timeout
    aliases = [alias] if alias is not None else list(connections)
    for name in aliases:
        registered = _pool_for_alias(name)
        if registered is None:
            continue
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        registered.warm_up(left)


def _pool_for_alias(alias: str) -> pools.RegisteredPool | None:
    """The pool ``alias`` borrows from, created as its first connect would create it;
    None when the alias is not pooled (another vendor, another ENGINE, pool False)."""
    from django.db import connections

    call = _connect_call(alias)
    if call is None or not patch.is_pooled_engine(connections[alias].settings_dict["ENGINE"]):
        return None
    params, pool_option = call
    if pool_option is False:
        return None
    from django.db.backends.mysql.base import (  # type: ignore[attr-defined]
        Database as database,
    )

    return pools.pool_for(
        database, driver.original_connect(database), params, pool_option, pool_settings.resolve
    )
