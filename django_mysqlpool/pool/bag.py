"""Idle connections and the borrowers waiting for one: first come, first served.

In the spirit of HikariCP's ConcurrentBag: the common case, a borrow that finds an idle
connection and a give-back with nobody waiting, is one atomic deque operation each. A
borrower that finds none queues up; a give-back then hands its connection straight to the
borrower that has waited longest, so nobody can overtake a waiter, the thread that just
gave a connection back included (sliced polling let it win every race and starved the
others for seconds).

No lock, on purpose: an exception (KeyboardInterrupt, a gevent timeout) may land between
any two lines, and a lock held at that moment would never be released (``with`` is not
proof against it: Python can raise between a block's last line and the lock's release).
Instead, every record the bag holds is in exactly one place, ``idle`` or ``handed`` (to a
waiter, until it collects), and every move is one statement that takes it from where it
was (a pop) and puts it where it goes: an exception lands before or after, never in the
middle, so a record is neither lost nor in two places. Waiters are queue entries that
can be dropped by an interrupted hand-over; they put themselves back at the front. The
queue and the hand-overs hold waiters by weak reference: a borrower that died without
leaving the queue (interrupted in its own clean-up) is skipped, and what was handed to it
goes on (``recover``).

Nothing checks these rules at run time (a check would cost every borrow); the tests do:
``tests/test_interrupts.py`` raises a KeyboardInterrupt at each line of a borrow, a
queued borrow and a hand-over, then borrows every connection at once (a lost or doubled
record fails it); ``tests/test_fairness.py`` measures the order waiters are served in. A
lock taken here, or a move split in two statements, fails the first.
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import threading
import weakref
from typing import Any


class Waiter:
    """A queued borrower: the lock a give-back releases to wake it, and its state."""

    __slots__ = ("wake", "queued_before", "gone", "ref", "__weakref__")

    def __init__(self) -> None:
        #: How the queue and the hand-overs know it: it may die without leaving.
        self.ref = weakref.ref(self)
        self.wake = threading.Lock()
        self.wake.acquire()
        self.queued_before = False
        #: It stopped waiting: whatever is handed to it now goes on to the next one.
        self.gone = False

    def alarm(self) -> None:
        # Woken already and not waiting again yet (RuntimeError): it will look anyway.
        with contextlib.suppress(RuntimeError):
            self.wake.release()


class Bag:
    """Idle records (at most ``keep``), FIFO waiters, and records handed to them."""

    def __init__(self, keep: float, lifo: bool) -> None:
        #: How many idle records the bag holds; a give-back beyond it is refused (the pool
        #: closes that connection, as SQLAlchemy's QueuePool does with a full queue).
        self.keep = keep
        self.idle: collections.deque[Any] = collections.deque()
        self._take = self.idle.pop if lifo else self.idle.popleft
        self.waiters: collections.deque[weakref.ref[Waiter]] = collections.deque()
        #: Records handed to a waiter, until it collects them, each under its own ticket: a
        #: waiter can be handed two (queued again while a hand-over was under way), and a
        #: second must never replace the first.
        self.handed: dict[tuple[weakref.ref[Waiter], int], Any] = {}
        self._tickets = itertools.count()

    def __len__(self) -> int:
        return len(self.idle)

    def take(self, hand: dict[int, Any], me: int) -> bool:
        """Move an idle record into ``hand[me]``; False if there is none, or if borrowers
        are queued (a newcomer does not jump the queue)."""
        if self.waiters or not self.idle:
            return False
        try:  # drain_idle's steps, without its call: this runs on every borrow
            hand[me] = self._take()
        except IndexError:  # another thread took the last one since
            return False
        return True

    def put(self, source: dict[Any, Any], key: Any) -> bool:
        """Move ``source[key]`` to the longest waiter, else to the idle records.

        False, leaving it in ``source``, when nobody waits and ``keep`` records are idle.
        """
        if self.waiters and self.hand_to_waiter(source, key):  # the call only if needed
            return True
        if len(self.idle) >= self.keep:
            return False
        self.idle.append(source.pop(key))
        if self.waiters:  # one queued up after our look: it may have missed this record
            self._serve_from_idle()
        return True

    def hand_to_waiter(self, source: dict[Any, Any], key: Any) -> bool:
        """Move ``source[key]`` to the longest waiter; False, leaving it, if nobody waits.

        A record without a connection (its slot) goes only this way: the waiter connects
        it, in its turn, with what its own ``timeout`` has left.
        """
        while self.waiters:
            try:
                ref = self.waiters.popleft()
            except IndexError:
                break  # served by another give-back meanwhile
            waiter = ref()
            if waiter is None:
                continue  # died without leaving
            # An interruption right here leaves the waiter unqueued and empty-handed: it
            # queues up again at the front when it next looks (``wait``).
            self.handed[ref, next(self._tickets)] = source.pop(key)
            self._handed_to(waiter)
            return True
        return False

    def _handed_to(self, waiter: Waiter) -> None:
        waiter.alarm()
        if waiter.gone:  # it gave up meanwhile: the record goes on
            self._pass_on(waiter.ref)

    def _serve_from_idle(self) -> None:
        while self.waiters and self.idle:
            try:
                ref = self.waiters.popleft()
            except IndexError:
                return
            waiter = ref()
            if waiter is None:
                continue  # died without leaving
            try:
                self.handed[ref, next(self._tickets)] = self._take()
            except IndexError:  # taken meanwhile: back to the front of the queue
                self.waiters.appendleft(ref)
                return
            self._handed_to(waiter)

    def _tickets_of(self, ref: weakref.ref[Waiter]) -> list[tuple[weakref.ref[Waiter], int]]:
        return [ticket for ticket in list(self.handed) if ticket[0] is ref]

    def _pass_on(self, ref: weakref.ref[Waiter]) -> None:
        """Move what was handed to a departed waiter to the next one, or idle."""
        for ticket in self._tickets_of(ref):
            self._move_on(ticket)

    def _move_on(self, ticket: tuple[weakref.ref[Waiter], int]) -> None:
        try:
            if not self.put(self.handed, ticket):
                self.idle.append(self.handed.pop(ticket))  # over ``keep`` by one, briefly
        except KeyError:
            pass  # moved on by another thread that saw it too

    def recover(self) -> None:
        """Pass on what was handed to waiters that died without collecting it (a queued
        borrower's thread interrupted in its own clean-up). Waiting borrowers call it."""
        for ticket in list(self.handed):
            if ticket[0]() is None:
                self._move_on(ticket)

    def wait(self, waiter: Waiter, seconds: float) -> None:
        """Queue up (or stay queued) and sleep until handed a record or ``seconds`` pass."""
        ref = waiter.ref
        if ref not in self.waiters and not self._tickets_of(ref):
            # Dropped by an interrupted hand-over: it was first in line, and stays so.
            (self.waiters.appendleft if waiter.queued_before else self.waiters.append)(ref)
            waiter.queued_before = True
        if self.idle:  # given back between our look and queueing up
            self._serve_from_idle()
        waiter.wake.acquire(timeout=seconds)

    def wake_all(self) -> None:
        """Make every waiter look up now (connecting just failed: they give up at once)."""
        for ref in list(self.waiters):
            waiter = ref()
            if waiter is not None:
                waiter.alarm()

    def collect(self, waiter: Waiter, hand: dict[int, Any], me: int) -> bool:
        """Move a record handed to ``waiter`` into ``hand[me]``; False if none was."""
        for ticket in self._tickets_of(waiter.ref):
            try:
                hand[me] = self.handed.pop(ticket)
            except KeyError:  # passed on meanwhile (the waiter had given up)
                continue
            return True
        return False

    def leave(self, waiter: Waiter) -> None:
        """Stop waiting; a record handed meanwhile goes to the next waiter or idle."""
        waiter.gone = True  # first: a hand-over from now on passes the record on
        if waiter.ref in self.waiters:  # else served, or never queued
            with contextlib.suppress(ValueError):  # served since
                self.waiters.remove(waiter.ref)
        self._pass_on(waiter.ref)

    def drain_idle(self, hand: dict[int, Any], me: int) -> bool:
        """Move one idle record into ``hand[me]`` whether or not anyone waits."""
        if not self.idle:
            return False  # the common miss, without raising
        try:
            hand[me] = self._take()
        except IndexError:  # another thread took the last one since
            return False
        return True
