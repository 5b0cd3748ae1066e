"""The borrower's handle: what Django holds as ``DatabaseWrapper.connection``.

A thin proxy to the driver's connection that gives it back to its pool on ``close()``,
or when it is dropped without one. Once given back, the handle and every cursor it
handed out fail as they would on a closed driver connection (mysqlclient:
``OperationalError(2006, '')``), and never reach the server connection, which by then
belongs to another borrower.

**The finaliser's rule: it only hands over.** A handle dropped without ``close()`` may be
finalised by the garbage collector in the middle of any code, the pool's own included.
Its lease (the pool's weak reference to it) hands itself to the pool's ``orphans``: its
callback is the deque's ``append``, which takes no lock and does no I/O, and the next
borrow or give-back does the rest (``pool/holdings.py``). A handle has no ``__del__``
(a Python call at the end of every borrow) unless it handed out cursors to cut off when
it is dropped (``_hand_out``), and that one only sets attributes. Nothing checks it at
run time; ``tests/test_gc_safety.py`` runs finalisers inside the pool's code (a lock or a
round trip there deadlocks or corrupts the connection) and ``tests/test_interrupts.py``
interrupts the hand-over itself.
"""

from __future__ import annotations

import collections
import importlib
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any, Protocol

from . import driver, native
from .session import SessionNotes, detach, session_cursor

#: Driver connection attributes that neither send anything nor change what the pool
#: knows of the session; reaching any other through the handle (``query``,
#: ``select_db``, ``change_user``...) puts the session in doubt, so the give-back resets it.
HARMLESS_ATTRIBUTES = frozenset(
    {
        "ping", "escape", "escape_string", "literal", "string_literal", "encoding",
        "charset", "thread_id", "get_server_info", "get_host_info", "get_proto_info",
        "character_set_name", "get_character_set_info", "server_capabilities", "client_flag",
        "info", "insert_id", "affected_rows", "warning_count", "show_warnings", "errno",
        "error", "open", "messages", "converter", "decoders", "cursorclass", "fileno",
        "server_version", "_server_version", "server_status", "host", "port", "user", "db",
        "sqlstate", "stat", "Warning", "Error", "InterfaceError", "DatabaseError",
        "DataError", "OperationalError", "IntegrityError", "InternalError",
        "ProgrammingError", "NotSupportedError", "_binary_prefix", "executemany_fallback",
    }
)  # fmt: skip
#: Driver connection calls after which the session cannot be made a new one's again:
#: ``change_user`` logs in as someone else (the reset keeps the user); the give-back
#: discards the connection.
UNRESETTABLE_CALLS = frozenset({"change_user"})
#: Past this many cursors a borrow's list drops the closed ones (a long borrow makes many).
_PRUNE_CURSORS_AT = 32


#: A handle's ``close()``: cuts the handle off and gives its connection back.
CloseHandle = Callable[["PooledConnection"], None]


class Lender(Protocol):
    """The pool a handle's connection came from (``pool.registered.RegisteredPool``)."""

    target: str
    database: ModuleType
    #: What a given-back handle holds instead (``driver.closed_stand_in``).
    closed_connection: Any
    #: Leases of handles dropped without close(), for the pool's next caller.
    orphans: collections.deque[Any]

    @staticmethod
    def close_handle(handle: PooledConnection) -> None:
        """The handle's ``close()`` (a function of the handle, not a method of the lender)."""


class ClosedConnection:
    """Stands in for a given-back connection: every use raises the driver's closed error."""

    __slots__ = ("_database",)

    def __init__(self, database: ModuleType) -> None:
        self._database = database

    def __getattr__(self, name: str) -> Any:
        raise driver.closed_error(self._database)

    def __repr__(self) -> str:
        return "<closed connection>"


class PooledConnection:
    """A pooled DB-API connection; ``close()`` gives it back to its pool.

    Its slots are filled by the pool that lends it (a call of the class, which defines no
    ``__init__``, then one statement each: ``pool/lending.py``): a class call through an
    ``__init__`` costs every borrow a tenth of a microsecond more, and ``object.__new__``
    (no ``__init__`` run) a fifth more than the plain call.

    * ``_raw``: the driver connection, while borrowed (a closed stand-in after).
    * ``_lender``: the pool it came from (``Lender``).
    * ``_notes``: what we know about this server connection (``SessionNotes``, living as
      long as it does; their ``stale`` twin once given back).
    * ``_cursors``: every cursor handed out during this borrow, cut off when it ends;
      None until the first (a borrow that makes none allocates nothing for them).
    * ``_lease``: the pool's weak reference to this handle (its key in ``holders``),
      which hands itself over when the handle is dropped; None once given back.
    * ``_record``: SQLAlchemy's connection record while borrowed: set by the pool in one
      statement once the handle is registered, taken back by it in one
      (``pool/holdings.py``); None after. Set last: a handle without it was never lent.
    """

    __slots__ = (
        "_record", "_lease", "_raw", "_lender", "_notes", "_cursors", "__weakref__",
    )  # fmt: skip
    _record: Any
    _lease: Any
    _raw: Any
    _lender: Lender
    _notes: SessionNotes
    _cursors: list[Any] | None
    #: This class with a ``__del__`` that cuts off kept cursors (``_with_cursors_class``).
    _with_cursors: type[PooledConnection]

    def cursor(self, cursorclass: Any = None, **kwargs: Any) -> Any:
        """A cursor of the driver's class (or the one asked for) that keeps session notes.

        ``cursorclass`` is mysqlclient's name for the argument, ``cursor`` PyMySQL's.
        """
        notes = self._notes
        session_class = notes.session_class
        if (  # Django's call, twice a request: the short way
            session_class is not None
            and cursorclass is None
            and not kwargs
            and self._record is not None
        ):
            # The cursor's ``connection`` is this handle, as a DB-API cursor's is the
            # connection that made it: what user code reaches through it is seen like
            # any use of the handle, and ``_cut_off`` cuts it off with the handle.
            return session_class(self)
        raw = self._raw
        cursor_class = cursorclass or kwargs.pop("cursor", None) or notes.cursor_class
        if self._record is None:
            # Given back: a cursor that fails on first use, as a closed driver
            # connection's does (Django raises its own error first inside atomic()).
            return cursor_class(raw)
        if kwargs or not isinstance(cursor_class, type):
            # Not a call we know how to wrap: the driver's own cursor, whose effect on the
            # wire and the session nobody sees; the give-back resets what it may have left.
            self._notes.in_doubt = True
            cursor = raw.cursor(cursor_class, **kwargs)
        else:
            if driver.is_unbuffered(cursor_class):
                self._notes.in_doubt = True
            cursor = session_cursor(cursor_class, self)
        return self._hand_out(cursor)

    def _hand_out(self, cursor: Any) -> Any:
        """Keep ``cursor`` to cut it off at give-back (a long borrow's closed ones pruned):
        a driver's cursor, or a session cursor that may stream its rows (``detach``)."""
        cursors = self._cursors
        if cursors is None:
            # From now on, dropping the handle without close() cuts these off too.
            self.__class__ = self._with_cursors
            cursors = self._cursors = []
        cursors.append(cursor)
        if len(cursors) > _PRUNE_CURSORS_AT:
            cursors[:] = [c for c in cursors if c.connection is not None]
        return cursor

    # What mysqlclient's cursors call on their ``connection`` (this handle) when they
    # drop a result: reading replies already due, not a use of the session's own.
    def next_result(self) -> int:
        return self._raw.next_result()  # type: ignore[no-any-return]

    def discard_result(self) -> None:
        self._raw.discard_result()

    # Called on every borrow by Django: direct methods, not ``DriverAttribute``s.
    def autocommit(self, on: bool) -> None:
        self._raw.autocommit(on)

    def get_autocommit(self) -> bool:
        return self._raw.get_autocommit()  # type: ignore[no-any-return]

    def commit(self) -> None:
        self._raw.commit()

    def rollback(self) -> None:
        self._raw.rollback()

    @property
    def encoders(self) -> Any:
        return self._raw.encoders

    def close(self) -> None:
        """Give the connection back. The classes ``handle_class_for`` makes replace this
        with their lender's ``close_handle`` itself, which does it in one frame."""
        self._lender.close_handle(self)

    def _cut_off(self) -> None:
        """The handle and its cursors stop reaching the server connection, and what they
        note stops reaching the session's notes (the next borrower's by then)."""
        self._raw = self._lender.closed_connection
        self._notes = self._notes.stale
        if self._cursors is not None:
            self._detach_cursors()

    def _detach_cursors(self) -> None:
        """The cursors ``_hand_out`` kept stop reaching the server connection."""
        cursors, self._cursors = self._cursors, None
        closed = self._lender.closed_connection
        for cursor in cursors or ():
            detach(cursor, closed)

    def __enter__(self) -> PooledConnection:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._record is None else "open"
        return f"<PooledConnection {state} to {self._lender.target}>"


def _cut_off_when_dropped(handle: PooledConnection) -> None:
    """``__del__`` of a handle that handed out cursors to cut off (``_hand_out``), dropped
    without close() (a thread that died mid-request): they stop reaching the connection,
    which the lease's callback hands over. The garbage collector may run this in the
    middle of any code, ours included: attribute stores only, no lock, no I/O."""
    if getattr(handle, "_record", None) is not None:
        handle._cut_off()


def _with_cursors_class(handle_class: type[PooledConnection]) -> type[PooledConnection]:
    """``handle_class`` with ``_cut_off_when_dropped`` as its ``__del__``: what a handle
    becomes (``__class__``) once it keeps cursors; the same slots, so the same layout."""
    namespace = {"__slots__": (), "__module__": __name__, "__del__": _cut_off_when_dropped}
    return type(handle_class.__name__, (handle_class,), namespace)


PooledConnection._with_cursors = _with_cursors_class(PooledConnection)


class DriverAttribute:
    """An attribute of the driver's connection that the handle reaches for its borrower.

    Each one the handle does not define itself is one of these on its class
    (``handle_class_for``), not a ``__getattr__``: a class with ``__getattr__`` makes every
    attribute read on its instances take the slow, unspecialised path, the handle's own
    included (10k instructions a request, measured with callgrind). Reaching one that is
    not harmless puts the session in doubt, so the give-back resets it.
    """

    __slots__ = ("name", "in_doubt", "unusable")

    def __init__(self, name: str) -> None:
        self.name = name
        self.in_doubt = name not in HARMLESS_ATTRIBUTES
        self.unusable = f"a borrower called {name}()" if name in UNRESETTABLE_CALLS else ""

    def __get__(self, handle: PooledConnection | None, owner: Any = None) -> Any:
        if handle is None:
            return self
        if self.in_doubt and handle._record is not None:
            notes = handle._notes
            notes.in_doubt = True
            if self.unusable:
                notes.unusable = self.unusable
        return getattr(handle._raw, self.name)


_handle_classes: dict[tuple[type, CloseHandle], type[PooledConnection]] = {}


def handle_class_for(raw: Any, close: CloseHandle) -> type[PooledConnection]:
    """``PooledConnection`` with a ``DriverAttribute`` for each attribute connections of
    ``raw``'s class have (``raw``'s own included: drivers set most in ``__init__``), and
    ``close`` (the lender's ``close_handle``) as its ``close()``: the cut-off and the
    give-back in one frame instead of two on every request. Made once per driver class
    and ``close``. An attribute the driver adds to a connection later is not reached."""
    key = (type(raw), close)
    found = _handle_classes.get(key)
    if found is None:
        own = set(dir(PooledConnection))
        names = sorted(
            name
            for name in {*dir(raw), *HARMLESS_ATTRIBUTES, *UNRESETTABLE_CALLS}
            if name not in own and not (name.startswith("__") and name.endswith("__"))
        )
        namespace: dict[str, Any] = {"__slots__": (), "__module__": __name__, "close": close}
        namespace.update((name, DriverAttribute(name)) for name in names)
        found = type("PooledConnection", (PooledConnection,), namespace)
        found._with_cursors = _with_cursors_class(found)
        _handle_classes[key] = found
    return found


def closed_stand_in(database: ModuleType, connect_kwargs: Mapping[str, Any]) -> Any:
    """What a given-back handle and its cursors hold instead of the server connection.

    It fails in every way a closed driver connection fails: for PyMySQL, a connection of
    its own class that never connected (``defer_connect``, no network); for mysqlclient,
    whose closed connections raise ``OperationalError(2006, '')`` on every call,
    ``ClosedConnection``.
    """
    if driver.is_pymysql(database):
        connections = importlib.import_module(database.__name__ + ".connections")
        stand_in = connections.Connection(**{**connect_kwargs, "defer_connect": True})
        stand_in.server_status = native.SERVER_STATUS_AUTOCOMMIT  # as connecting would set
        return stand_in
    return ClosedConnection(database)
