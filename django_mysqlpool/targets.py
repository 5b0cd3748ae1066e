"""What a connection target is: the full set of connect kwargs, and how to name it safely.

Two connections may only share a pool when every kwarg the driver sees is equal, so the
key is all of them, frozen recursively. The label is what users see: never a password.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

POOL_OPTION = "pool"


def freeze(value: Any) -> Hashable:
    """A hashable, order-independent image of kwargs (dicts, lists, sets, nested)."""
    if isinstance(value, Mapping):
        return frozenset((freeze(k), freeze(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return tuple(freeze(v) for v in value)
    if isinstance(value, (set, frozenset)):
        return frozenset(freeze(v) for v in value)
    try:
        hash(value)
    except TypeError:
        return ("unhashable", type(value).__qualname__, id(value))
    return value  # type: ignore[no-any-return]


def target_key(connect_kwargs: Mapping[str, Any], pool_option: Any) -> Hashable:
    """The registry key: one pool per distinct driver kwargs and per-alias pool options."""
    return (freeze(connect_kwargs), freeze(pool_option))


_SCALARS = (str, int, float, bytes, bool, type(None))
_MEMO_LIMIT = 256
_memo: dict[Hashable, tuple[Hashable, list[Any]]] = {}


def cached_target_key(connect_kwargs: Mapping[str, Any], pool_option: Any) -> Hashable:
    """``target_key``, memoised on the identity of container values.

    Django passes the same ``conv`` dict (and OPTIONS values) on every connect; freezing
    them costs tens of microseconds, so a borrow looks the key up by their identity. The
    memo keeps those objects alive, so an id cannot be reused by another object.
    """
    items = [(name, _identity(value)) for name, value in connect_kwargs.items()]
    items.sort()
    shallow = (tuple(items), _identity(pool_option))
    hit = _memo.get(shallow)
    if hit is not None:
        return hit[0]
    key = target_key(connect_kwargs, pool_option)
    if len(_memo) >= _MEMO_LIMIT:
        _memo.clear()
    _memo[shallow] = (key, [*connect_kwargs.values(), pool_option])
    return key


def _identity(value: Any) -> Hashable:
    return value if isinstance(value, _SCALARS) else ("id", id(value))


def describe(connect_kwargs: Mapping[str, Any]) -> str:
    """``user@host:port/db`` (or ``user@/path/to.sock/db``), for messages and stats."""
    user = connect_kwargs.get("user") or ""
    database = connect_kwargs.get("database") or connect_kwargs.get("db") or ""
    socket = connect_kwargs.get("unix_socket")
    if socket:
        where = str(socket)
    else:
        host = connect_kwargs.get("host") or "localhost"
        where = f"{host}:{connect_kwargs.get('port') or 3306}"
    tls = " (TLS)" if connect_kwargs.get("ssl") or connect_kwargs.get("ssl_mode") else ""
    return f"{user}@{where}/{database}{tls}"
