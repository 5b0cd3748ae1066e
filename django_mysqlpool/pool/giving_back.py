"""Giving a connection back: reset it for the next borrower and return it to the pool.

A give-back takes the record from the borrower's handle in one move (``holdings.py``),
resets the session (``connection/reset.py``) and hands it to the longest waiter or the
bag; a connection that cannot be reset is closed and its slot goes to the longest waiter.
Records nobody can give back any more (a handle the garbage collector dropped, a
borrowing thread that ended) are adopted here too: by the next borrow or give-back, by a
borrower that finds the pool empty, and by the housekeeper.

The common give-back (a quick borrow whose session ``reset.is_clean`` finds clean) puts
the record back from ``close_handle`` itself; ``_return`` does everything else.
"""

from __future__ import annotations

import threading
import time
from threading import get_ident
from time import monotonic
from typing import Any

from ..connection import driver, reset
from ..connection.handle import PooledConnection
from . import fork, observers
from .holdings import _SLOW_BORROW, HELD_SINCE, IDLE_SINCE, LENT_AT, PROBE, Holdings


class GivingBack(Holdings):
    """A pool's give-back path, and the adoption of records left without a holder."""

    @staticmethod
    def close_handle(handle: PooledConnection) -> None:
        """A pooled handle's ``close()``: cut the handle off, then give its connection back.

        A function of the handle (``handle.handle_class_for`` makes it the ``close`` of the
        pool's handle classes), so that Django's ``close()`` runs one frame here instead of
        the handle's and then the pool's: it runs on every request. ``self`` is the pool.
        """
        self: GivingBack = handle._lender  # type: ignore[assignment]  # a handle's lender is a pool
        if handle._record is None:
            raise driver.closed_twice_error(self.database)
        # ``handle._cut_off``'s steps, its call saved: Django's cursors reach the server
        # through this handle, cut off with it.
        handle._raw = self.closed_connection
        handle._notes = handle._notes.stale
        if handle._cursors is not None:
            handle._detach_cursors()
        if not fork.not_forked[0] or fork.generation != self.fork_generation:
            fork.check_pid()
            return  # a handle inherited through fork: the parent's pool is not ours
        me = get_ident()
        in_hand = self.in_hand
        if me in in_hand:
            self._settle_leftovers(me)
        try:
            if self.orphans:
                self._adopt_orphans()
            # The record to this hand, and the handle's lease gone with its hold (dropping
            # the handle later hands nothing over): one line, so one move (holdings.py).
            # No local keeps the lease: this frame may hold the handle's last reference,
            # and a lease outliving its handle would hand it over to ``orphans``.
            lent = self.holders
            in_hand[me], handle._record, handle._lease = lent.pop(id(handle._lease))[0], None, None
            record = in_hand[me]
            held_since = self._held_since(record) if observers.listeners else None
            # The common give-back, without ``_return``'s layers: a quick borrow that left
            # the session clean (``reset.is_clean``); anything else takes ``_return``.
            info = record.info
            now = monotonic()
            raw = record.dbapi_connection
            probe = info.get(PROBE)
            # ``read_fd`` is ``probe.moved()``'s test without its call: the session is open
            # by then (``is_clean``), so reading its socket's number cannot fail.
            if (
                self.quick_give_back
                and raw is not None
                and probe is not None
                and now - info[LENT_AT] < _SLOW_BORROW
                and reset.is_clean(raw, info[reset.NOTES])
                and probe.read_fd() == probe.fd
                and not self.retired
            ):
                info[IDLE_SINCE] = now  # for max_idle and pre_ping_after
                if not self.bag.put(in_hand, me):  # beyond what the pool keeps (QueuePool)
                    self._close_in_hand(me)
                if self.retired:  # retired meanwhile: close what we put back
                    self.close_idle()
            else:
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

    def _adopt_orphans(self) -> None:
        """Give back the records of handles the garbage collector dropped (``orphans``
        holds their leases' weak references)."""
        me = threading.get_ident()
        while self.orphans:
            try:
                dropped = self.orphans.popleft()
            except IndexError:
                return  # another thread took the last one
            try:
                self.in_hand[me] = self.holders.pop(id(dropped))[0]  # claimed: ours now
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
