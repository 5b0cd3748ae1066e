"""The public questions about this process's pools: their stats, and closing them.

Asking about or closing a pool never creates one: an alias's pool is found by the same
key its connections would use, without connecting.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from ..core import pools, stats, targets


def _key_for_alias(alias: str) -> Hashable | None:
    from django.db import connections

    wrapper = connections[alias]
    if wrapper.vendor != "mysql":
        return None
    params = dict(wrapper.get_connection_params())
    pool_option = params.pop(targets.POOL_OPTION, True)
    targets.add_django_autocommit(params, wrapper.settings_dict)
    return targets.target_key(params, pool_option)


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


def close_pool(alias: str | None = None) -> None:
    """Close this process's pools (all, or the one ``alias`` uses).

    Idle connections close now; borrowed ones close when given back. The next connection
    builds a new pool from the current settings.
    """
    for registered in _pools(alias):
        pools.retire(registered)
