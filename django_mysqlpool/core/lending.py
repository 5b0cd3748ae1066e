"""Lending a pooled connection and taking it back: the per-request hot path.

A borrow takes an idle connection record from the bag (``bag.py``), or a new one from the
SQLAlchemy pool (``_do_get``, asked without waiting), or queues up for one; it checks the
record is alive and wraps it in the borrower's handle. Giving it back resets it and hands
it to the longest waiter or the bag (SQLAlchemy gets it back only when it is surplus or
the pool is retired). SQLAlchemy's own
``_ConnectionFairy`` (a second proxy, a weakref finalizer and three event dispatches per
request) is not used: it cost more than everything else the pool does per request.

Two rules keep a slot from ever being lost or lent twice:

* **Ownership is data, and moves in one line.** A checked-out record is always held by
  exactly one of: a handle (``PooledConnection._record``), this thread's ``in_hand`` entry
  (while being borrowed or given back), the ``orphans`` queue, or the bag (idle, or handed
  to a waiter). Each move between them is
  a single statement, so an exception (KeyboardInterrupt, a gevent timeout) can land only
  before or after it. A record an interrupted call left in ``in_hand`` is discarded by the
  thread's next borrow or give-back (its state is unknown).
* **A finalizer only hands over.** A handle dropped without ``close()`` appends its record
  to ``orphans`` (no lock, no I/O: the garbage collector may run it in the middle of any
  code, ours included); the next borrow, give-back or waiting borrower resets and returns it.
  Should the finalizer itself be interrupted, ``holders`` (each lent record with a weak
  reference to its handle) still shows a record whose handle is gone: a borrower waiting
  for a connection adopts it.
"""

from __future__ import annotations

import collections
import logging
import random
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, NoReturn

from sqlalchemy import exc as sa_exc
from sqlalchemy.pool import Pool

from . import (
    connecting,
    driver,
    fork,
    housekeeping,
    leaks,
    liveness,
    observers,
    reset,
    stats,
    thread_end,
)
from .bag import Bag, Waiter
from .config import DEFAULTS, PoolConfig
from .elastic import SLOT, ElasticPool, is_slot
from .errors import PoolError, PoolTimeout, TooManyWaiting
from .handle import PooledConnection
from .hosts import HostList
from .stats import WAITED, PoolCounters, connections_in_use

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

#: Dead idle connections replaced in one borrow before giving up (SQLAlchemy's figure).
_LIVENESS_ATTEMPTS = 3
#: How long a queued borrower sleeps before it looks up (for a connect error, orphans).
WAIT_SLICE = 0.05
#: A borrow at least this long gets its socket checked on return (see ``_reset``).
_SLOW_BORROW = 0.5


#: A lent record, a weak reference to the handle that holds it, and one to the
#: borrowing thread's mark (``thread_end.py``), dead once that thread has ended.
Lease = tuple[Any, "weakref.ref[PooledConnection]", "weakref.ref[Any]"]


@dataclass(repr=False, eq=False)
class RegisteredPool:
    """A SQLAlchemy pool plus what we know about it, and how to borrow from it.

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
    #: the lease's id: a record is lent many times, a lease once.
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

    def __repr__(self) -> str:
        state = " retired" if self.retired else ""
        return f"<RegisteredPool {self.target} {type(self.pool).__name__}{state}>"

    # -- borrowing ---------------------------------------------------------------------

    def borrow(self) -> PooledConnection:
        me = threading.get_ident()
        if me in self.in_hand:
            self._settle_leftovers(me)
        started = time.monotonic()
        self.gate.borrow_started[me] = started  # bounds any connect this borrow makes
        try:
            if self.orphans:
                self._adopt_orphans()
            waited = 0.0 if self.bag.take(self.in_hand, me) else self._take_record(me, started)
            record = self.in_hand[me]
            raw = self._live_connection(record)
            info = record.info
            info[LENT_AT] = started
            self.counters.count_borrow(me)
            if waited or self.config.leak_timeout:  # rare: a queued borrow, leak watching
                self._note_lent(record, waited)
            handle = PooledConnection(info, raw, self)
            lease = (record, weakref.ref(handle), thread_end.thread_mark())
            self.holders[id(lease)] = lease
            handle._lease, handle._record = lease, self.in_hand.pop(me)  # the handle's now
        except BaseException as error:
            self._settle_leftovers(me, error)
            self._raise_translated(error)
        if observers.listeners:  # the handle holds the record: a listener cannot lose it
            self._tell_borrowed(record, started, waited)
        return handle

    def _tell_borrowed(self, record: Any, started: float, waited: float) -> None:
        info = record.info
        new = info.get(CONNECTED_AT, 0.0) >= started
        now = info[HELD_SINCE] = time.monotonic()  # the give-back's use time counts from here
        took = now - started
        event = observers.PoolEvent(observers.BORROWED, self.target, took, now, waited, new)
        observers.emit(event)

    def _take_record(self, me: int, started: float) -> float:
        """Put a record in this thread's hand within the ``timeout`` setting, or fail.

        Returns how long the borrower waited for it (opening a connection is not waiting).

        A new connection while the pool may open one; else the borrower queues up and a
        give-back hands it a connection (first come, first served: ``bag.py``). It looks
        up every ``WAIT_SLICE`` to give up with the connect error as soon as connecting is
        known to fail, and to give back records whose owners were garbage-collected.
        """
        deadline = started + self.timeout
        waiter = None
        try:
            while True:
                waited = 0.0 if waiter is None else time.monotonic() - started
                if self._open_into(me):
                    return waited
                if waiter is None:
                    # Before queueing up: connections of ended threads (or dropped handles)
                    # come back now rather than at the reaper's next look.
                    if self._adopt_unheld() and self.bag.take(self.in_hand, me):
                        return 0.0
                    self._refuse_beyond_max_waiting()
                    waiter = Waiter()
                self.bag.wait(waiter, min(WAIT_SLICE, max(0.0, deadline - time.monotonic())))
                if self.bag.collect(waiter, self.in_hand, me):
                    return time.monotonic() - started
                self.gate.fail_waiter()
                if self.orphans:
                    self._adopt_orphans()
                self._adopt_unheld()
                self.bag.recover()
                now = time.monotonic()
                if now >= deadline:
                    self.counters.count_timeout(now - started)
                    if observers.listeners:
                        observers.emit(
                            observers.PoolEvent(
                                observers.TIMED_OUT, self.target, now - started, now
                            )
                        )
                    raise PoolTimeout(self._exhaustion_message(now - started)) from None
        finally:
            if waiter is not None:
                self.bag.leave(waiter)

    def _note_lent(self, record: Any, waited: float) -> None:
        """A borrow that queued, or a lent record to watch for leaks."""
        config = self.config
        if waited:  # 0.0 unless it queued up
            if waited > WAITED:
                self.counters.count_wait(waited)
            if waited > config.wait_warning_after:
                self._warn_about_wait(waited)
        if config.leak_timeout:
            leaks.watch(record, self.target, config.leak_timeout)

    def _live_connection(self, record: Any) -> Any:
        """The record's connection, replaced (up to 3 times) while it turns out dead."""
        for _ in range(_LIVENESS_ATTEMPTS):
            before = record.dbapi_connection
            raw = record.get_connection()  # connects if needed, or if due for recycling
            ping = self.config.pre_ping and self._ping_due(record)
            probe = record.info.get(PROBE)
            if raw is before and probe is not None and not ping:
                # The common case: given back by a borrower that found it open on the same
                # socket, idle since: only the server can have closed it.
                reason = "the server closed it or sent data while it was idle"
                if not probe.has_news():
                    return raw
            else:
                if before is not None and raw is not before:
                    self.counters.count_recycled()
                    logger.debug("django-mysqlpool: recycled a connection to %s", self.target)
                why = liveness.why_dead(raw, probe, ping=ping)
                if why is None:
                    return raw
                reason = why
            self.counters.count_dead_on_borrow(ping_failed=reason.startswith("ping"))
            if self.hosts is not None:
                self.hosts.connection_lost(raw, reason)
            record.invalidate(sa_exc.DisconnectionError(f"connection to {self.target}: {reason}"))
        raise PoolError(
            f"django-mysqlpool: {_LIVENESS_ATTEMPTS} connections in a row to {self.target} "
            f"were dead on arrival (the last: {reason}); the server or the network is "
            f"dropping them. Check the server's error log, its max_connections and "
            f"wait_timeout, and firewalls or proxies that cut connections."
        )

    def _ping_due(self, record: Any) -> bool:
        idle_since = record.info.get(IDLE_SINCE)
        return (
            idle_since is not None and time.monotonic() - idle_since >= self.config.pre_ping_after
        )

    # -- giving back -------------------------------------------------------------------

    def give_back(self, handle: PooledConnection) -> None:
        """Take the record from ``handle``, reset it for the next borrower and return it."""
        if fork.generation != self.fork_generation or fork.forked():
            fork.check_pid()
            return  # a handle inherited through fork: the parent's pool is not ours
        me = threading.get_ident()
        if me in self.in_hand:
            self._settle_leftovers(me)
        try:
            if self.orphans:
                self._adopt_orphans()
            self.in_hand[me], handle._record = self.holders.pop(id(handle._lease))[0], None
            held_since = self._held_since(self.in_hand[me]) if observers.listeners else None
            self._return(me)
        except BaseException as error:
            self._settle_leftovers(me, error)
            raise
        if held_since is not None:  # read before _return: a waiter may be lent it right after
            now = time.monotonic()
            event = observers.PoolEvent(observers.GIVEN_BACK, self.target, now - held_since, now)
            observers.emit(event)

    @staticmethod
    def _held_since(record: Any) -> float:
        """When the borrower got the record: a listener's borrow noted it (HELD_SINCE); a
        borrow made before any listener was added counts from its start (LENT_AT)."""
        info = record.info
        return max(info.get(HELD_SINCE, 0.0), info[LENT_AT])  # type: ignore[no-any-return]

    def _adopt_orphans(self) -> None:
        """Give back the records of handles the garbage collector dropped."""
        me = threading.get_ident()
        while self.orphans:
            try:
                lease = self.orphans.popleft()
            except IndexError:
                return  # another thread took the last one
            try:
                self.in_hand[me] = self.holders.pop(id(lease))[0]  # claimed: ours now
            except KeyError:
                continue  # a waiting borrower adopted it already (``_adopt_unheld``)
            self._return(me)  # the caller settles what an interruption leaves in hand

    def _adopt_unheld(self) -> int:
        """Give back lent records that nobody can give back any more; how many.

        Their borrowing thread ended without ``close()`` (its Django wrapper waits in a
        reference cycle for the garbage collector: its handle is cut off now, and fails
        from then on as a closed connection does), or their handle is gone without
        handing them over (a finalizer interrupted before its one hand-over). The reaper
        and borrowers that find the pool empty look (the holders are at most the pool's
        size). No lock: taking a record out of ``holders`` is the claim, and one thread
        only gets it.
        """
        me = threading.get_ident()
        in_hands = {id(record) for record in list(self.in_hand.values())}
        given_back = 0
        for key, (record, holder, thread) in list(self.holders.items()):
            handle = holder()
            if (handle is not None and thread() is not None) or id(record) in in_hands:
                continue
            try:
                self.in_hand[me] = self.holders.pop(key)[0]
            except KeyError:
                continue  # claimed by another thread
            if handle is not None:
                handle._record = None  # its close() now fails as a second close() does
                handle._cut_off()
            self._return(me)  # the caller settles what an interruption leaves in hand
            given_back += 1
        return given_back

    def housekeep(self, now: float) -> None:
        """The housekeeper's round (``housekeeping.py``): strays back, surplus closed,
        ``min_idle`` restored. Off every borrower's path; an interruption settles what it
        left in this thread's hand, as on a borrower's."""
        if self.has_strays():
            self.reclaim()
        elastic = self.elastic
        if elastic is None or self.retired:
            return
        me = threading.get_ident()
        try:
            self._close_dead_idle(me)
            if elastic.max_idle is not None:
                self._close_unused(me, now, elastic)
            if self.to_replace and now >= self.top_up_at and self._quiet():
                self._top_up(me, elastic)
        except BaseException as error:
            self._settle_leftovers(me, error)
            raise

    def _close_dead_idle(self, me: int) -> None:
        """Close idle connections the server closed (KILL, restart, ``wait_timeout``), so
        that the stats say what the server shows without waiting for a borrow to find out.

        A poll of each socket, no round trip. A connection lent meanwhile is not idle any
        more (``remove`` fails) and stays its borrower's. The housekeeper's thread is not
        a borrower's: no KeyboardInterrupt or gevent timeout lands between its claim
        (``remove``) and the hand it puts the record in.
        """
        idle = self.bag.idle
        for record in list(idle):
            probe = record.info.get(PROBE)
            if probe is None or not probe.has_news():
                continue
            try:
                idle.remove(record)  # the claim
            except ValueError:
                continue  # lent meanwhile: its borrower's check finds out
            self.in_hand[me] = record
            self.counters.count(stats.CLOSED_DEAD)
            self._note_lost()
            record.invalidate(
                sa_exc.DisconnectionError(
                    f"connection to {self.target}: closed by the server while idle"
                )
            )
            self._close_in_hand(me)

    def _close_unused(self, me: int, now: float, elastic: ElasticPool) -> None:
        """Close idle connections unused for ``max_idle``, least recently used first,
        down to ``min_idle``."""
        idle, max_idle = self.bag.idle, float(elastic.max_idle or 0)
        while len(idle) > elastic.min_idle and not self.bag.waiters:
            try:
                oldest = idle[0]
            except IndexError:
                return
            if now - oldest.info.get(IDLE_SINCE, now) < max_idle:
                return
            try:
                self.in_hand[me] = idle.popleft()  # the claim: a borrower takes the other end
            except IndexError:
                return
            if self.in_hand[me] is not oldest:  # lent and given back meanwhile: recent now
                if not self.bag.put(self.in_hand, me):
                    self._close_in_hand(me)
                return
            self.counters.count(stats.CLOSED_IDLE)
            self._close_in_hand(me)

    def _quiet(self) -> bool:
        """Nothing lent, nobody waiting: the time to replace lost connections.

        A busy pool's borrowers open what they need themselves; a replacement opened
        meanwhile would hold a slot they want while it connects (a whole connect timeout,
        against a server that stopped answering). An outage does not count: the top-up's
        own backoff spaces its attempts, and only a successful connect ends the outage, so
        waiting for its end would leave an idle pool unreplenished for good.
        """
        return not self.holders and not self.bag.waiters

    def _top_up(self, me: int, elastic: ElasticPool) -> None:
        """Replace lost connections, up to ``min_idle``, backing off while connecting fails."""
        while self.to_replace > 0 and not self.retired and self._quiet():
            if elastic.slots.in_use() >= elastic.min_idle:
                self.to_replace = 0
                return
            try:
                if not self._open_idle(me):
                    self.to_replace = 0
                    return
            except Exception:
                self.top_up_backoff = min(60.0, max(1.0, self.top_up_backoff * 2))
                self.top_up_at = time.monotonic() + self.top_up_backoff * random.uniform(0.5, 1)
                return
            self.to_replace -= 1
        self.top_up_backoff = 0.0

    def warm_up(self, timeout: float | None) -> int:
        """Open connections up to ``min_idle`` (a QueuePool: ``pool_size``) now, in
        parallel, and return once they are open or ``timeout`` passes; how many opened.

        Idempotent: what is open already counts. The first connect error is raised (the
        driver's own, as a borrow would raise it); connections that did open stay.
        """
        elastic = self.elastic
        wanted = (
            elastic.min_idle
            if elastic is not None
            else self.config.effective().get("pool_size") or 0
        )
        missing = wanted - stats.connection_states(self)[stats.SIZE]
        if missing <= 0:
            return 0
        opened: list[bool] = []
        errors: list[BaseException] = []
        workers = [
            threading.Thread(
                target=self._open_one_idle,
                args=(opened, errors),
                name="django-mysqlpool warm-up",
                daemon=True,
            )
            for _ in range(missing)
        ]
        for worker in workers:
            worker.start()
        deadline = None if timeout is None else time.monotonic() + timeout
        for worker in workers:
            worker.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        if errors:
            self._raise_translated(errors[0])
        return len(opened)

    def _open_one_idle(self, opened: list[bool], errors: list[BaseException]) -> None:
        """One warm-up connection, on a thread of its own."""
        try:
            if self._open_idle(threading.get_ident()):
                opened.append(True)
        except BaseException as error:
            errors.append(error)

    def _open_idle(self, me: int) -> bool:
        """Open one connection and leave it idle (the longest waiter gets it, if any);
        False when the pool is full. A failed connect raises, this thread's hand settled.
        """
        try:
            if not self._open_into(me):
                return False
            self.gate.borrow_started[me] = time.monotonic()  # ``timeout`` bounds the connect
            self._live_connection(self.in_hand[me])
            self.in_hand[me].info[IDLE_SINCE] = time.monotonic()
            if not self.bag.put(self.in_hand, me):
                self._close_in_hand(me)
        except BaseException as error:
            self._settle_leftovers(me, error)
            raise
        return True

    def has_strays(self) -> bool:
        """Whether anything is lent or orphaned (the reaper's cheap look)."""
        return bool(self.holders or self.orphans)

    def reclaim(self) -> int:
        """Give back what dropped handles and ended threads left lent (the reaper's call)."""
        me = threading.get_ident()
        try:
            if self.orphans:
                self._adopt_orphans()
            return self._adopt_unheld()
        except BaseException as error:
            self._settle_leftovers(me, error)
            raise

    def _return(self, me: int) -> None:
        """Reset the record this thread holds and check it in (or discard it)."""
        record = self.in_hand[me]
        raw = record.dbapi_connection
        now = record.info[IDLE_SINCE] = time.monotonic()  # for max_idle and pre_ping_after
        usable = raw is not None
        if usable and not self.retired:
            try:
                self._reset(record, raw, now)
            except Exception as error:  # never lend it again
                self._discard_lost(raw, error)
                record.invalidate(error)
                usable = False
        if self.config.leak_timeout:
            self._forget_lent(record)
        if self.retired:
            self._close_in_hand(me)
        elif self.elastic is not None and not usable:
            # The bag's idle records are open connections only. Its slot goes to the
            # longest waiter, which connects it in turn (first come, first served, as a
            # connection would be), else back to the free slots.
            record.close()
            if not self.bag.hand_to_waiter(self.in_hand, me):
                self._close_in_hand(me)
                self._note_lost()
        elif not self.bag.put(self.in_hand, me):
            # Beyond the idle records the pool keeps (an overflow connection of a
            # QueuePool; NullPool): SQLAlchemy keeps the slot and closes the connection.
            self._close_in_hand(me)
        if self.retired:  # retired while we were returning: close what we put back
            self.close_idle()

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

    def _refuse_beyond_max_waiting(self) -> None:
        """``max_waiting``: a borrower that would queue beyond it fails at once."""
        elastic = self.elastic
        if elastic is None or not elastic.max_waiting:
            return
        if len(self.bag.waiters) >= elastic.max_waiting:
            self.counters.count(stats.REFUSED)
            raise TooManyWaiting(
                f"django-mysqlpool: {len(self.bag.waiters)} borrowers are already waiting "
                f"for a connection to {self.target}, the most 'max_waiting' "
                f"({elastic.max_waiting}) allows: this one is refused at once. Raise "
                f"'max_waiting' (0: no bound) or 'pool_size' / 'max_overflow' in "
                f"{self.setting}, or find what holds the connections (leak_timeout)."
            )

    def _reset(self, record: Any, raw: Any, now: float) -> None:
        info = record.info
        # A borrow that lasted long may have met a server that stopped answering (a read
        # timeout); only then is the socket worth a look now. A quick borrow's dead
        # connection is found by the next borrow's check anyway.
        probe = info.get(PROBE)
        has_news = None
        if probe is not None:
            if probe.moved():
                raise reset.UnusableConnection(
                    "the client library closed it after an error", lost=True
                )
            if now - info[LENT_AT] >= _SLOW_BORROW:
                has_news = probe.has_news
        reset.reset_for_next_borrower(raw, info, self.config.reset, self.recipe, has_news)

    def _discard_lost(self, raw: Any, error: BaseException) -> None:
        """A connection lost while borrowed: with ``hosts``, its host backs off.

        Nothing else: a lost connection is no outage (a slow query's read timeout on a
        healthy server looks the same). Waiters are not failed: the slot goes to the one
        that waited longest, which connects anew; only a failed connect starts an outage
        (``connecting.py``).
        """
        if self.hosts is not None and getattr(error, "lost", False):
            self.hosts.connection_lost(raw, str(error))

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

    # -- errors and reports ------------------------------------------------------------

    def note_capabilities(self, capabilities: driver.Capabilities) -> None:
        """Keep what the first connection could do; say once what is missing and its cost."""
        if self.capabilities is not None:
            return
        self.capabilities = capabilities
        for name in capabilities.missing():
            logger.warning(
                "django-mysqlpool: connections to %s lack %s (client library %s): %s.",
                self.target,
                name,
                driver.client_library(self.database),
                driver.FALLBACKS[name],
            )

    def _warn_about_wait(self, waited: float) -> None:
        limit = self.max_connections()
        logger.warning(
            "django-mysqlpool: waited %.2f s for a connection to %s: %s. "
            "Raise 'pool_size' or 'max_overflow' in %s, or give connections back sooner "
            "(this warning: 'wait_warning_after', now %g s).",
            waited,
            self.target,
            connections_in_use(limit, past=True),
            self.setting,
            self.config.wait_warning_after,
        )

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

    def _raise_translated(self, error: BaseException) -> NoReturn:
        """Driver errors go on as the plain backend raises them; pool errors become ours."""
        if isinstance(error, self.database.Error):
            # A reconnect after a dead idle connection fails as the plain backend would;
            # the DisconnectionError it replaced is bookkeeping, not the cause.
            error.__suppress_context__ = True
            raise error
        if isinstance(error, sa_exc.SQLAlchemyError):
            raise PoolError(
                f"django-mysqlpool: the pool for {self.target} failed to hand out a "
                f"connection: {error}. SQLAlchemy's pool refused; if this persists, check "
                f"MYSQLPOOL_BACKEND and the pool arguments in {self.setting}, or report it "
                f"with this message."
            ) from error
        raise error

    def _exhaustion_message(self, waited: float) -> str:
        effective = self.config.effective()
        size, overflow = effective["pool_size"], effective["max_overflow"]
        return (
            f"django-mysqlpool: couldn't get a connection to {self.target} after "
            f"{waited:.2f} sec: {connections_in_use(size + max(overflow, 0))} "
            f"(pool_size={size}, max_overflow={overflow}). Raise 'pool_size' or 'max_overflow' in "
            f"{self.setting} to allow more, raise 'timeout' (now "
            f"{effective['timeout']:g} sec) to wait longer, or give connections back "
            f"sooner (connection.close(), django_mysqlpool.auto_close_db)."
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
