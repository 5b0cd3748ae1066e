"""What a connection target is: the full set of connect kwargs, and how to name it safely.

Two connections may only share a pool when every kwarg the driver sees is equal, so the
key is all of them, frozen recursively. The label is what users see: never a password.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

POOL_OPTION = "pool"


#: The kwargs mysqlclient and PyMySQL take a password in.
_PASSWORD_KWARGS = frozenset({"password", "passwd"})


class ConnectKwargs(dict[str, Any]):
    """A pool's connect kwargs, whose repr (what Django's debug page prints) hides the password.

    The pool's creator holds them in locals that Django's debug page shows for a failed
    connect; a plain dict there would add copies of the password to the page.
    """

    def __repr__(self) -> str:
        shown = {k: "********" if k in _PASSWORD_KWARGS else v for k, v in self.items()}
        return f"ConnectKwargs({shown!r})"

    __str__ = __repr__


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


def add_django_session_settings(
    connect_kwargs: dict[str, Any], settings_dict: Mapping[str, Any]
) -> None:
    """Have a Django alias's pooled connections created in the autocommit mode it uses,
    and keyed by whether its setup sets the isolation level (``django_setup``).

    Django sets ``AUTOCOMMIT`` on every new Django connection, which with a pool is every
    borrow; a server connection already in that mode costs neither Django's setup nor the
    reset between borrowers a round trip. It is part of the key, like every kwarg.
    """
    connect_kwargs.setdefault("autocommit", bool(settings_dict.get("AUTOCOMMIT", True)))
    options = settings_dict.get("OPTIONS")
    # Whether Django's setup sets the isolation level decides what counts as the
    # borrower's own change (``django_setup``): part of the key, taken out before the
    # driver sees the kwargs.
    level = options.get("isolation_level", True) if options else True
    connect_kwargs[DJANGO_SETS_ISOLATION] = bool(level)


#: The connect kwarg (never passed to the driver) that says whether a Django alias's
#: setup sets the isolation level (``OPTIONS["isolation_level"]`` is not None).
DJANGO_SETS_ISOLATION = "_django_sets_isolation"
_ISOLATION_LEVELS = ("READ UNCOMMITTED", "READ COMMITTED", "REPEATABLE READ", "SERIALIZABLE")


def django_setup(connect_kwargs: dict[str, Any]) -> frozenset[tuple[str, str]]:
    """Take the Django marker out of ``connect_kwargs``; the setup assignments to accept
    as Django's own (``statements.SETUP_STATEMENTS`` names and values).

    Django's ``init_connection_state`` sends ``SET SQL_AUTO_IS_NULL = 0`` (when the server
    has it on) and ``SET SESSION TRANSACTION ISOLATION LEVEL <the alias's level>``, unless
    the level is None, on every new Django connection, so every borrow. An isolation level
    is accepted as setup only where every borrower sends its own (another borrower's level
    is then replaced, never inherited); ``SQL_AUTO_IS_NULL`` only as 0. Anything else is
    the borrower's change of the session, undone like any other. A connection made outside
    Django expects no setup at all.
    """
    if DJANGO_SETS_ISOLATION not in connect_kwargs:
        return frozenset()
    accepted = {("sql_auto_is_null", "0")}
    if connect_kwargs.pop(DJANGO_SETS_ISOLATION):
        accepted.update(("isolation", level) for level in _ISOLATION_LEVELS)
    return frozenset(accepted)


def describe(connect_kwargs: Mapping[str, Any], hosts: Sequence[str] | None = None) -> str:
    """``user@host:port/db`` (``user@/path/to.sock/db``, ``user@h1:p1,h2:p2/db``)."""
    user = connect_kwargs.get("user") or ""
    database = connect_kwargs.get("database") or connect_kwargs.get("db") or ""
    socket = connect_kwargs.get("unix_socket")
    if hosts:
        where = ",".join(hosts)
    elif socket:
        where = str(socket)
    else:
        host = connect_kwargs.get("host") or "localhost"
        where = f"{host}:{connect_kwargs.get('port') or 3306}"
    tls = " (TLS)" if connect_kwargs.get("ssl") or connect_kwargs.get("ssl_mode") else ""
    return f"{user}@{where}/{database}{tls}"
