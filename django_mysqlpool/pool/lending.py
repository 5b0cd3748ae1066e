"""Lending a pooled connection: the per-request hot path of a borrow.

A borrow takes an idle connection record from the bag (``bag.py``), or opens one in a
free slot, or queues up for one; it checks the record is alive and wraps it in the
borrower's handle. SQLAlchemy's own ``_ConnectionFairy`` (a second proxy, a weakref
finalizer and three event dispatches per request) is not used: it cost more than
everything else the pool does per request. Who holds a record at each step, and why an
interruption cannot lose one, is ``holdings.py``'s.

The common borrow (an idle connection, nobody queued, no setting that asks for more) runs
in ``borrow`` with the bag's ``take``, the socket poll and a recycling deadline noted once
per connection (``FRESH_UNTIL``) instead of SQLAlchemy's ``get_connection()``. Anything
else, a connect, a wait, a dead or due connection, takes the general steps below it. A
call costs about a tenth of a microsecond here, and the borrow runs on every request.
"""

from __future__ import annotations

import math
from threading import get_ident
from time import monotonic, time
from typing import Any
from weakref import ref

from sqlalchemy import exc as sa_exc

from ..connection import liveness
from ..connection.handle import PooledConnection
from ..connection.reset import NOTES
from . import leaks, messages, observers
from .bag import Waiter
from .counters import REFUSED, WAITED
from .errors import PoolError, PoolTimeout
from .giving_back import GivingBack
from .holdings import (
    _LIVENESS_ATTEMPTS,
    CONNECTED_AT,
    FRESH_UNTIL,
    HELD_SINCE,
    IDLE_SINCE,
    LENT_AT,
    PROBE,
    WAIT_SLICE,
    logger,
)
from .thread_end import thread_mark, thread_marks


class Lending(GivingBack):
    """A pool's borrow path: take a record, check it is alive, hand it out."""

    def borrow(self) -> PooledConnection:
        """The whole common borrow (an idle connection, nobody queued) in as few calls as
        it can: each call saved is a tenth of a microsecond on every request."""
        me = get_ident()
        in_hand = self.in_hand
        if me in in_hand:
            self._settle_leftovers(me)
        started = monotonic()
        try:
            if self.orphans:
                self._adopt_orphans()
            # No ``try`` statement in this one: CPython 3.11 leaves the first instruction
            # of a nested ``try`` outside every handler, so an interrupt landing on it
            # would skip the ``except`` below (tests/test_interrupts.py finds it).
            if self.bag.take(in_hand, me):  # an idle one, unless borrowers are queued
                waited = 0.0
            else:
                self.gate.borrow_started[me] = started  # bounds any connect it makes
                waited = self._take_record(me, started)
            record = in_hand[me]
            info = record.info
            raw = record.dbapi_connection
            # FRESH_UNTIL is there only for a connection with a probe, in a pool whose
            # settings ask for no other check (``_note_fresh``).
            if raw is None or started >= info.get(FRESH_UNTIL, 0.0) or info[PROBE].has_news():
                self.gate.borrow_started[me] = started  # all the checks, a connect or a
                raw = self._live_connection(record)  # replacement
            info[LENT_AT] = started
            self.count_borrow()
            if waited or not self.quick_borrow:  # rare: a queued borrow, leak watching
                self._note_lent(record, waited)
            # The handle's slots filled here, not by an ``__init__`` (``PooledConnection``):
            # a class call through an ``__init__`` costs a borrow a tenth of a microsecond.
            handle = self.handle_class()
            handle._raw, handle._lender, handle._notes = raw, self, info[NOTES]
            handle._cursors = None
            dropped = ref(handle, self.hand_over)  # to ``orphans`` if the handle is dropped
            # The borrowing thread's mark: read without a call after its first borrow.
            mark = getattr(thread_marks, "ref", None) or thread_mark()
            self.holders[id(dropped)] = (record, dropped, mark)
            handle._lease, handle._record = dropped, in_hand.pop(me)  # the handle's now
        except BaseException as error:
            self._settle_leftovers(me, error)
            messages.raise_translated(self, error)
        if observers.listeners:  # the handle holds the record: a listener cannot lose it
            self._tell_borrowed(record, started, waited)
        return handle

    def _tell_borrowed(self, record: Any, started: float, waited: float) -> None:
        info = record.info
        new = info.get(CONNECTED_AT, 0.0) >= started
        now = info[HELD_SINCE] = monotonic()  # the give-back's use time counts from here
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
                waited = 0.0 if waiter is None else monotonic() - started
                if self._open_into(me):
                    return waited
                if waiter is None:
                    # Before queueing up: connections of ended threads (or dropped handles)
                    # come back now rather than at the reaper's next look.
                    if self._adopt_unheld() and self.bag.take(self.in_hand, me):
                        return 0.0
                    self._refuse_beyond_max_waiting()
                    waiter = Waiter()
                self.bag.wait(waiter, min(WAIT_SLICE, max(0.0, deadline - monotonic())))
                if self.bag.collect(waiter, self.in_hand, me):
                    return monotonic() - started
                self.gate.fail_waiter()
                if self.orphans:
                    self._adopt_orphans()
                self._adopt_unheld()
                self.bag.recover()
                now = monotonic()
                if now >= deadline:
                    self.counters.count_timeout(now - started)
                    if observers.listeners:
                        observers.emit(
                            observers.PoolEvent(
                                observers.TIMED_OUT, self.target, now - started, now
                            )
                        )
                    raise PoolTimeout(messages.exhaustion_message(self, now - started)) from None
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
                messages.warn_about_wait(self, waited)
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
                    self._note_fresh(record)
                    return raw
            else:
                if before is not None and raw is not before:
                    self.counters.count_recycled()
                    logger.debug("django-mysqlpool: recycled a connection to %s", self.target)
                why = liveness.why_dead(raw, probe, ping=ping)
                if why is None:
                    self._note_fresh(record)
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

    def _note_fresh(self, record: Any) -> None:
        """Until when (``monotonic``) the borrow's short path may skip ``get_connection()``:
        its recycling deadline (SQLAlchemy recycles on ``time.time() - starttime > recycle``)."""
        info = record.info
        if not self.quick_borrow or info.get(PROBE) is None:
            return  # every borrow takes all the checks
        recycle = self.pool._recycle
        if recycle <= -1:
            info[FRESH_UNTIL] = math.inf
            return
        # On the borrow's clock (``monotonic``), which the borrow reads anyway: one call
        # fewer per borrow than SQLAlchemy's ``time.time()``.
        info[FRESH_UNTIL] = monotonic() + (record.starttime + recycle - time())

    def _ping_due(self, record: Any) -> bool:
        idle_since = record.info.get(IDLE_SINCE)
        return idle_since is not None and monotonic() - idle_since >= self.config.pre_ping_after

    def _refuse_beyond_max_waiting(self) -> None:
        """``max_waiting``: a borrower that would queue beyond it fails at once."""
        elastic = self.elastic
        if elastic is None or not elastic.max_waiting:
            return
        if len(self.bag.waiters) >= elastic.max_waiting:
            self.counters.count(REFUSED)
            raise messages.too_many_waiting(self, elastic.max_waiting)
