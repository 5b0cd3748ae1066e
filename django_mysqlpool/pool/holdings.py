"""Who holds each connection record of a pool, and the moves between holders.

Two rules keep a slot from ever being lost or lent twice:

* **Ownership is data, and moves in one line.** A checked-out record is always held by
  exactly one of: a handle (``PooledConnection._record``), this thread's ``in_hand`` entry
  (while being borrowed or given back), the ``orphans`` queue, or the bag (idle, or handed
  to a waiter). Each move between them is a single statement, so an exception
  (KeyboardInterrupt, a gevent timeout) can land only before or after it. A record an
  interrupted call left in ``in_hand`` is discarded by the thread's next borrow or
  give-back (its state is unknown): ``_settle_leftovers``.
* **A finalizer only hands over.** A handle dropped without ``close()`` hands its lease
  to ``orphans``: the callback of the lease's weak reference to the handle is the deque's
  own ``append`` (no Python frame, no lock, no I/O: the garbage collector may run it in
  the middle of any code, ours included); the next borrow, give-back or waiting borrower
  resets and returns it. A handle given back drops that weak reference first, so its end
  runs nothing. Should the hand-over fail, ``holders`` (each lent record with a weak
  reference to its handle) still shows a record whose handle is gone: a borrower waiting
  for a connection adopts it.

* **Nothing escapes the settling ``except``.** The borrow's and the give-back's
  ``try ... except BaseException`` (which settles this thread's hand) holds no nested
  ``try`` statement: CPython 3.11 leaves a nested ``try``'s first instruction outside
  every handler, so an interrupt landing there would skip the settling. A nested
  ``try`` goes in a function of its own, whose exception the caller's handler catches
  (``tests/test_interrupts.py`` checks every settling ``try`` of the package for it).

What verifies them at run time: nothing can (a check would cost the hot path); the
tests do. ``tests/test_interrupts.py`` raises a KeyboardInterrupt at every line a request
runs here and then borrows every connection; ``tests/test_gc_safety.py`` runs finalizers
inside the pool's own code. Make any move two statements and the first fails.

The pool is one object whose class is built in layers, each in its own module and each
adding one job to the one below: ``Holdings`` (here: the records and their moves),
``giving_back.GivingBack``, ``lending.Lending`` (the borrow) and
``registered.RegisteredPool`` (upkeep and reports). One object, not several that call
each other: the hot path pays no hop between them.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from sqlalchemy import exc as sa_exc
from sqlalchemy.pool import Pool

from ..connection import driver, reset
from ..connection.handle import PooledConnection
from . import connecting, fork, housekeeping, leaks
from .bag import Bag
from .config import DEFAULTS, PoolConfig
from .counters import PoolCounters
from .elastic import SLOT, ElasticPool, is_slot
from .errors import PoolError
from .hosts import HostList

logger = logging.getLogger("django_mysqlpool")

# ``record.info`` keys: when the current borrow started; when it last went back to the
# pool (for ``pre_ping_after``); its liveness probe (``liveness.probe_for``); when its
# server connection was opened (``pool_events.py``).
LENT_AT = "lent_at"
CONNECTED_AT = "connected_at"
#: When the current borrower got it (set only while event listeners are on).
HELD_SINCE = "held_since"
IDLE_SINCE = "idle_since"
PROBE = "probe"
#: Until when (``time.monotonic()``, the borrow's clock) the connection needs no
#: recycling: set once it has passed a full check, gone when it connects anew.
FRESH_UNTIL = "fresh_until"

#: Dead idle connections replaced in one borrow before giving up (SQLAlchemy's figure).
_LIVENESS_ATTEMPTS = 3
#: How long a queued borrower sleeps before it looks up (for a connect error, orphans).
WAIT_SLICE = 0.05
#: A borrow at least this long gets its socket checked on return (see ``_reset``).
_SLOW_BORROW = 0.5


#: A lent record, a weak reference to the handle that holds it (the handle's ``_lease``,
#: which hands itself to ``orphans`` when the handle is dropped), and one to the
#: borrowing thread's mark (``thread_end.py``), dead once that thread has ended.
Lease = tuple[Any, "weakref.ref[PooledConnection]", "weakref.ref[Any]"]


@dataclass(repr=False, eq=False)
class Holdings:
    """A SQLAlchemy pool, the records it lent and where each one is.

    Its ``key`` holds every connect kwarg, the password included: never shown (``__repr__``).
    """

    key: Any
    target: str
    setting: str  # where users change its size, for error messages
    config: PoolConfig
    database: ModuleType
    pool: Pool = field(default=None)  # type: ignore[assignment]  # set by pools._build
    gate: connecting.ConnectGate = field(default=None)  # type: ignore[assignment]
    counters: PoolCounters = field(default_factory=PoolCounters)
    recycle: float | None = None
    retired: bool = False
    created_at: float = field(default_factory=time.monotonic)
    fork_generation: int = field(default_factory=lambda: fork.generation)
    hosts: HostList | None = None  # OPTIONS["pool"]["hosts"]
    #: How to set a session up again after COM_RESET_CONNECTION.
    recipe: reset.SessionRecipe = field(default_factory=lambda: reset.SessionRecipe((), False))
    #: What given-back handles and cursors hold instead (``driver.closed_stand_in``).
    closed_connection: Any = None
    #: What the client library can do, as seen on the first connection (None before it).
    capabilities: driver.Capabilities | None = None
    #: Leases of handles dropped without close(), for the next caller to give back.
    orphans: collections.deque[Any] = field(default_factory=collections.deque)
    #: The record each thread is borrowing or giving back right now.
    in_hand: dict[int, Any] = field(default_factory=dict)
    #: Idle connections and borrowers waiting for one (``bag.py``); set by pools._build.
    bag: Bag = field(default=None)  # type: ignore[assignment]
    #: Whether SQLAlchemy's pool can lend without waiting: an idle record, or room for one.
    has_room: Callable[[], bool] = lambda: True
    #: The ``timeout`` setting: how long a borrow may take, waiting and connecting.
    timeout: float = DEFAULTS["timeout"]
    #: Every lease (a lent record and a weak reference to the handle that holds it), by
    #: the id of that weak reference: a record is lent many times, a lease once.
    holders: dict[int, Lease] = field(default_factory=dict)
    #: The pool when it is the default ``ElasticPool`` (slots and idle connections ours),
    #: None for a SQLAlchemy class a user chose (``QueuePool``, ``NullPool``...).
    elastic: ElasticPool | None = None
    #: When the housekeeper may next open connections up to ``min_idle`` (monotonic), and
    #: the backoff that set it (doubling while connecting fails, at most 60 s).
    top_up_at: float = 0.0
    top_up_backoff: float = 0.0
    #: Connections lost (discarded, closed by the server) that the housekeeper is to
    #: replace, up to ``min_idle``: it replaces losses, it does not warm a pool up.
    to_replace: int = 0
    #: The most connections this pool had open at once (``ElasticPool``; sizing advice).
    peak_size: int = 0
    #: The setup assignments accepted as Django's own (``targets.django_setup``); none
    #: for connections made outside Django.
    django_setup: frozenset[tuple[str, str]] = frozenset()
    #: Whether a borrow may skip the checks only some settings ask for (a ping due, leak
    #: watching), and a give-back may find the session clean from its status flags
    #: alone: the common case's short paths (``lending.py``, ``giving_back.py``).
    #: The class of this pool's handles: ``handle.handle_class_for`` the first connection.
    handle_class: type[PooledConnection] = PooledConnection
    quick_borrow: bool = field(init=False, default=False)
    quick_give_back: bool = field(init=False, default=False)
    #: The callback of a lease's weak reference to its handle: ``orphans.append``.
    hand_over: Callable[[Any], None] = field(init=False, default=None)  # type: ignore[assignment]
    #: Counts a borrow: ``counters.borrows``' own ``__next__`` (a C call, no frame).
    count_borrow: Callable[[], int] = field(init=False, default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        self.hand_over = self.orphans.append
        self.count_borrow = self.counters.borrows.__next__
        config = self.config
        self.quick_borrow = not config.pre_ping and not config.leak_timeout
        self.quick_give_back = config.reset != reset.SESSION and not config.leak_timeout

    def __repr__(self) -> str:
        state = " retired" if self.retired else ""
        return f"<RegisteredPool {self.target} {type(self.pool).__name__}{state}>"

    def _open_into(self, me: int) -> bool:
        """Put a new record in this thread's hand, or False when the pool is full.

        ``ElasticPool``: a slot token first, then a record holding it, not connected yet
        (``_live_connection`` connects it): each a one-statement move, so an interruption
        leaves either the token (given back by ``_settle_leftovers``) or the record in
        hand. A user's ``QueuePool``: its ``_do_get``, asked without waiting (it connects).
        """
        elastic = self.elastic
        if elastic is None:
            if not self.has_room():  # else _do_get would refuse, at the cost of an exception
                return False
            try:
                self.in_hand[me] = self.pool._do_get()  # an idle one, or a new one
            except sa_exc.TimeoutError:
                return False  # taken by another borrower meanwhile
            return True
        if not elastic.slots.take_into(self.in_hand, me):
            return False
        record = elastic.new_record()
        record.record_info[SLOT] = self.in_hand[me]
        self.in_hand[me] = record
        in_use = elastic.slots.in_use()
        if in_use > self.peak_size:  # counted when opening (rare), not on every borrow
            self.peak_size = in_use
        if in_use > elastic.min_idle:
            housekeeping.start()  # a surplus to close once it stays unused
        return True

    def _close_in_hand(self, me: int) -> None:
        """Close the connection of the record in this thread's hand and free its slot."""
        record = self.in_hand[me]
        record.close()
        elastic = self.elastic
        if elastic is None:
            self.in_hand.pop(me).checkin(_fairy_was_created=False)
        else:
            elastic.slots.free.append(self.in_hand.pop(me).record_info.pop(SLOT))

    def _note_lost(self) -> None:
        """A connection of an ``ElasticPool`` closed for good: the housekeeper replaces
        it (up to ``min_idle``) in the background."""
        self.to_replace += 1  # approximate under races: a replacement more or less
        elastic = self.elastic
        if elastic is not None and elastic.min_idle:
            housekeeping.start()

    def _forget_lent(self, record: Any) -> None:
        """Idempotent: safe to run again for a record an interrupted call left behind,
        and for one never watched (the give-back calls it only with ``leak_timeout``)."""
        leaks.unwatch(record)

    def _settle_leftovers(self, me: int, error: BaseException | None = None) -> None:
        """Discard the record an interrupted borrow or give-back left in this thread's hand.

        Its state is unknown (a half-done reset, a half-checked connection): closing it is
        the only safe way back to the pool.
        """
        if me not in self.in_hand:
            return
        record = self.in_hand[me]
        if is_slot(record):  # interrupted before a record was made for the slot
            assert self.elastic is not None
            self.elastic.slots.free.append(self.in_hand.pop(me))
            return
        self._forget_lent(record)
        for key, lease in list(self.holders.items()):
            if lease[0] is record:  # registered before the interruption: no longer lent
                self.holders.pop(key, None)
        cause = f" ({error!r})" if error is not None else ""
        if self.elastic is not None:
            self._close_in_hand(me)
            self._note_lost()
            return
        self.in_hand.pop(me)._checkin_failed(
            PoolError(f"its state is unknown: a borrow or give-back ended early{cause}"),
            _fairy_was_created=False,
        )

    def close_idle(self) -> None:
        """Close the connections waiting in the pool; borrowed ones stay untouched.

        Their slots go back to SQLAlchemy's pool, which opens a new connection in one
        when it is next needed.
        """
        me = threading.get_ident()
        try:
            while self.bag.drain_idle(self.in_hand, me):
                self._close_in_hand(me)
        except BaseException as error:
            self._settle_leftovers(me, error)
            raise
        queue = getattr(self.pool, "_pool", None)
        if queue is None:  # not a QueuePool: it has no notion of idle beyond dispose()
            self.pool.dispose()
            return
        with queue.mutex:
            for record in list(queue.queue):
                record.close()

    def max_connections(self) -> int | None:
        """The most connections this pool opens at once, or None for no limit."""
        return self.config.connection_limit()

    def effective_settings(self) -> dict[str, Any]:
        """The settings in force, defaults filled in (never a connect kwarg); ``recycle``
        is None until derived from the server's wait_timeout (-1 would say "never")."""
        found = self.config.effective()
        if "recycle" in found:
            found["recycle"] = self.recycle
        return found
