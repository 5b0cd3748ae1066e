"""Install and uninstall the swap of the driver's ``connect`` for a pooled one.

Django's MySQL backend calls ``Database.connect(**params)`` where ``Database`` is the
``MySQLdb`` module (or PyMySQL installed as MySQLdb), so replacing that attribute is
enough: Django's ``DatabaseWrapper`` stays untouched. Idempotent, as django-mysql's
monkey patches are: a marker on the patched function says it is ours.
"""

from __future__ import annotations

import copy
import functools
import inspect
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from ..pool import fork, pools, targets
from . import pool_settings

_MARKER = "_django_mysqlpool_original"
#: Set in an ENGINE's ``base`` module to have its connections pooled (ours, and subclasses').
ENGINE_FLAG = "MYSQLPOOL_POOLED_ENGINE"
_engine_is_pooled: dict[str, bool] = {}


def install(database: ModuleType) -> None:
    """Make ``database.connect`` borrow from the pools; a second call changes nothing."""
    if is_installed(database):
        return
    check_sqlalchemy()
    global _DJANGO_CONNECTS
    _DJANGO_CONNECTS = _django_connect_code()
    from ..connection import driver

    original = driver.original_connect(database)

    @functools.wraps(database.connect)
    def pooled_connect(*args: Any, **kwargs: Any) -> Any:
        """Borrow a pooled connection, or open a plain one.

        Pooled: calls from a Django wrapper whose ENGINE is ours (unless its OPTIONS say
        ``"pool": False``), and any call passing ``pool=``. Plain: everything else, such
        as an alias on Django's own MySQL backend in the same process, or a library
        calling ``MySQLdb.connect`` directly; the patch is process-wide, so it must tell
        them apart. One frame, called on every borrow: no helper calls it does not need.

        A failed connect leaves no connect kwargs (the password) in this frame's locals:
        Django's debug page prints every frame's locals when ``DEBUG = True``,
        ``sensitive_variables`` or not, and shows Django's own backend's password only in
        Django's and the driver's frames. The ``except`` costs a borrow nothing until it
        runs (a decorator's wrapper would cost a call each time).
        """
        wrapper = None  # read by the ``except``, wherever the error comes from
        try:
            if not fork.not_forked[0]:
                fork.check_pid()
            if _DJANGO_PASSES not in kwargs:  # every Django wrapper passes ``conv``
                route = _direct_route
                if (
                    route is not None
                    and route.kwargs == kwargs
                    and not args
                    and not route.registered.retired
                    and route.generation == fork.generation
                ):
                    # A direct call (``MySQLdb.connect(pool=...)`` from code that is not a
                    # Django wrapper connecting) equal to the last one that borrowed
                    # (``pool=`` compared by value): its pool, without a walk up the stack.
                    return route.registered.borrow()
            # The Django wrapper connecting, if one is: only its settings tell our ENGINE
            # from Django's own (the wrapper class is the same for both). Django's own
            # ``get_new_connection`` calling: its ``self``, without the walk's call.
            caller_frame: Any = sys._getframe(1)  # None once read: it holds the caller
            if caller_frame.f_code is _DJANGO_CONNECTS:
                wrapper = caller_frame.f_locals["self"]
            else:  # a subclass's, or tracing tools' frames between (or no wrapper)
                wrapper = _connecting_wrapper(caller_frame)
            caller_frame = None
            if wrapper is not None and not args:
                caller = wrapper.settings_dict
                # The pool this wrapper borrowed from last, if nothing that chooses the
                # pool changed since (``Route``): Django builds equal kwargs every time.
                route = wrapper.__dict__.get(_ROUTE)
                if (
                    route is not None
                    and route.kwargs == kwargs
                    and route.settings is caller
                    and route.autocommit == caller.get("AUTOCOMMIT")
                    and route.isolation == getattr(wrapper, "isolation_level", None)
                    and not route.registered.retired
                    and route.generation == fork.generation
                ):
                    return route.registered.borrow()
                given = dict(kwargs)
            else:
                caller = given = None
                if wrapper is None and not args and _DJANGO_PASSES not in kwargs:
                    # The direct call's ``Route``, made below: only for a call that can
                    # take it (one passing ``conv`` looks for a wrapper first, and is
                    # looked up anew).
                    given = _kept_by_value(kwargs)
            pool_option = kwargs.pop(targets.POOL_OPTION, None)
            if pool_option is None:
                pool_option = caller is not None and is_pooled_engine(caller.get("ENGINE"))
            registered = None
            if not args and pool_option is not False:
                if caller is not None:
                    targets.add_django_session_settings(kwargs, caller)
                registered = pools.pool_for(
                    database, original, kwargs, pool_option, pool_settings.resolve
                )
            if registered is None:
                raw = original(*args, **kwargs)
                fork.track(raw)
                return raw
            if given is not None:
                _remember_route(wrapper, Route(given, caller, registered, wrapper))
            return registered.borrow()
        except BaseException as error:
            # Pool arguments written into OPTIONS instead of OPTIONS["pool"] reach the
            # driver, whose TypeError would say nothing of the fix.
            misplaced = (
                pool_settings.misplaced_arguments(kwargs) if isinstance(error, TypeError) else {}
            )
            alias = getattr(wrapper, "alias", None)
            # test_debug_page: none of the connect's values stays in this frame's locals
            args, kwargs, caller, wrapper, given, caller_frame = (), {}, None, None, None, None
            if misplaced:
                raise ImproperlyConfigured(
                    pool_settings.misplaced_message(alias, misplaced)
                ) from None
            raise

    replaced = database.connect
    setattr(pooled_connect, _MARKER, replaced)
    installed = _around(replaced, pooled_connect)
    database.connect = installed  # type: ignore[attr-defined]
    # Keep the alias PyMySQL and mysqlclient both export pointing at the same function.
    if getattr(database, "Connect", None) is replaced:
        database.Connect = installed  # type: ignore[attr-defined]


#: The connect argument every Django MySQL wrapper passes (its converters, in
#: ``DatabaseWrapper.get_connection_params``): a call without it may take the direct
#: call's route (``tests/test_patch.py`` checks each Django version still passes it).
_DJANGO_PASSES = "conv"
#: The code of Django's own ``DatabaseWrapper.get_new_connection`` (``install`` reads it):
#: a caller frame running it is a Django wrapper connecting, and its ``self`` the wrapper.
_DJANGO_CONNECTS: Any = None
#: Where a Django wrapper keeps its ``Route`` (in its ``__dict__``: its class is Django's).
_ROUTE = "_mysqlpool_route"
#: The ``Route`` of the last direct call that borrowed (``MySQLdb.connect(pool=...)`` from
#: code that is not a Django wrapper connecting): one per process, replaced on a miss.
_direct_route: Route | None = None


def _django_connect_code() -> Any:
    """The code Django's own MySQL ``get_new_connection`` runs (inside ``@async_unsafe``)."""
    from django.db.backends.mysql.base import DatabaseWrapper

    return inspect.unwrap(DatabaseWrapper.get_new_connection).__code__


def _remember_route(wrapper: Any, route: Route) -> None:
    global _direct_route
    if wrapper is None:
        _direct_route = route  # one statement: a borrower interrupted here loses a cache
    else:
        wrapper.__dict__[_ROUTE] = route


def _kept_by_value(kwargs: dict[str, Any]) -> dict[str, Any]:
    """A copy of a direct call's kwargs to compare the next call's with: its ``pool``
    option deep-copied, so that a caller changing that dict in place between two calls
    (``params["pool"]["pool_size"] = 5``) gets the pool it now asks for."""
    kept = dict(kwargs)
    if targets.POOL_OPTION in kept:
        kept[targets.POOL_OPTION] = copy.deepcopy(kept[targets.POOL_OPTION])
    return kept


class Route:
    """Which pool a Django wrapper's connect borrowed from, and what chose it.

    Finding the pool means reading the wrapper's settings, adding Django's session
    settings to the kwargs and comparing them with recent targets (``pools.pool_for``);
    the next connect of the same wrapper, with equal kwargs (passwords included: never
    shown) and the same settings object, autocommit setting, isolation level and process,
    borrows from the same pool without any of it. A closed pool (``retired``) is looked
    up again. A direct call's route (``_direct_route``) has no settings: its kwargs and
    the process choose the pool.
    """

    __slots__ = ("kwargs", "settings", "autocommit", "isolation", "registered", "generation")

    def __init__(
        self, kwargs: dict[str, Any], settings: Any, registered: Any, wrapper: Any
    ) -> None:
        self.kwargs = kwargs
        self.settings = settings
        self.autocommit = None if settings is None else settings.get("AUTOCOMMIT")
        self.isolation = getattr(wrapper, "isolation_level", None)
        self.registered = registered
        self.generation = fork.generation

    def __repr__(self) -> str:
        return f"<Route to {self.registered!r}>"


def _around(replaced: Any, pooled_connect: Callable[..., Any]) -> Any:
    """``pooled_connect``, inside the tracing wrapper ``replaced`` has, if any.

    ``opentelemetry-instrument`` and ``ddtrace-run`` wrap the driver's ``connect`` before
    Django loads the backend, with wrapt: replacing their wrapper would send every pooled
    query untraced. The same wrapper function goes around the pooled connect instead, so
    the borrowed handle comes back in their traced proxy. (Wrapped after us, they wrap
    ``pooled_connect`` themselves.)
    """
    tracer = getattr(replaced, "_self_wrapper", None)  # wrapt's FunctionWrapper
    if tracer is None or not callable(tracer):
        return pooled_connect
    try:
        return type(replaced)(pooled_connect, tracer)
    except TypeError:  # another kind of wrapper: ours alone, as before
        return pooled_connect


def check_sqlalchemy() -> None:
    """Refuse to pool on a SQLAlchemy whose internals the hot path relies on changed."""
    from ..pool import sqlalchemy_contract

    missing = sqlalchemy_contract.problems()
    if missing:
        raise ImproperlyConfigured(
            f"django-mysqlpool cannot use SQLAlchemy {sqlalchemy_contract.version()}: it "
            f"lacks {'; '.join(missing)}. Install a SQLAlchemy version django-mysqlpool "
            f"supports (>=2.0,<2.2), or upgrade django-mysqlpool."
        )


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


def _connecting_wrapper(frame: Any) -> Any:
    """The Django wrapper whose ``get_new_connection`` frame is ``frame`` or an outer one
    (the caller's frame is the one place that knows which wrapper is connecting).

    The whole stack is searched, not a fixed window: tracing and profiling tools wrap
    ``connect`` (and ``get_new_connection``) in frames of their own, as many as they like.
    """
    while frame is not None:
        if frame.f_code.co_name == "get_new_connection":
            wrapper = frame.f_locals.get("self")
            if isinstance(getattr(wrapper, "settings_dict", None), dict):
                return wrapper
        frame = frame.f_back
    return None


def is_pooled_engine(engine: Any) -> bool:
    if not isinstance(engine, str):
        return False
    pooled = _engine_is_pooled.get(engine)
    if pooled is None:
        module = sys.modules.get(engine + ".base")
        pooled = _engine_is_pooled[engine] = bool(getattr(module, ENGINE_FLAG, False))
    return pooled


def _detach_django_connections() -> None:
    """In a forked child: make this thread's Django wrappers reconnect instead of using
    the parent's sockets (which ``fork`` has pointed at /dev/null by then)."""
    if "django.db" not in sys.modules:
        return
    from django.db import connections

    for wrapper in connections.all(initialized_only=True):
        if wrapper.vendor == "mysql" and wrapper.connection is not None:
            wrapper.connection = None


fork.register(_detach_django_connections)
