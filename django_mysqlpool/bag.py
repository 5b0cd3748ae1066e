"""Idle connections and the borrowers waiting for one: first come, first served.

In the spirit of HikariCP's ConcurrentBag: the common case, a borrow that finds an idle
connection and a give-back with nobody waiting, is one atomic deque operation each
(no lock, no condition variable). A borrower that finds none queues up; a give-back then
hands its connection straight to the borrower that has waited longest, so nobody can
overtake a waiter, the thread that just gave a connection back included (sliced polling
let it win every race and starved the others for seconds).

Records are opaque here (SQLAlchemy connection records in practice). Every record the
bag holds is in exactly one place, ``idle`` or ``handed`` (waiting for the borrower it
was handed to), and every move in or out is one statement from or to the caller's own
dict entry: an exception (KeyboardInterrupt, a gevent timeout) lands before or after it,
never in the middle, so a record is neither lost nor in two places.
"""

from __future__ import annotations

import collections
import contextlib
import threading
from typing import Any


class Waiter:
    """A queued borrower: its thread, and the lock a give-back releases to wake it."""

    __slots__ = ("thread", "wake", "queued_before")

    def __init__(self, thread: int) -> None:
        self.thread = thread
        self.queued_before = False
        self.wake = threading.Lock()
        self.wake.acquire()

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
        self.waiters: collections.deque[Waiter] = collections.deque()
        #: Records handed to a waiter, by its thread, until it collects them.
        self.handed: dict[int, Any] = {}
        self._lock = threading.Lock()  # orders the waiters; the idle path never takes it

    def __len__(self) -> int:
        return len(self.idle)

    def take(self, hand: dict[int, Any], me: int) -> bool:
        """Move an idle record into ``hand[me]``; False if there is none, or if borrowers
        are queued (a newcomer does not jump the queue)."""
        if self.waiters or not self.idle:
            return False
        try:
            hand[me] = self._take()
        except IndexError:  # another thread took the last one since
            return False
        return True

    def put(self, source: dict[int, Any], key: int) -> bool:
        """Move ``source[key]`` to the longest waiter, else to the idle records.

        False, leaving it in ``source``, when nobody waits and ``keep`` records are idle.
        """
        if self.waiters and self._hand_over(source, key):
            return True
        if len(self.idle) >= self.keep:
            return False
        self.idle.append(source.pop(key))
        if self.waiters:  # one queued up after our look: it may have missed this record
            self._serve_from_idle()
        return True

    def _hand_over(self, source: dict[int, Any], key: int) -> bool:
        with self._lock:
            if not self.waiters:
                return False
            waiter = self.waiters.popleft()
            # An interruption right here leaves the waiter unqueued and empty-handed: it
            # queues up again at the front when it next looks (``wait``).
            self.handed[waiter.thread] = source.pop(key)
        waiter.alarm()
        return True

    def _serve_from_idle(self) -> None:
        with self._lock:
            while self.waiters and self.idle:
                waiter = self.waiters.popleft()
                self.handed[waiter.thread] = self._take()
                waiter.alarm()

    def wait(self, waiter: Waiter, seconds: float) -> None:
        """Queue up (or stay queued) and sleep until handed a record or ``seconds`` pass."""
        with self._lock:
            if waiter.thread not in self.handed and waiter not in self.waiters:
                # Dropped by an interrupted hand-over: it was first in line, and stays so.
                (self.waiters.appendleft if waiter.queued_before else self.waiters.append)(waiter)
                waiter.queued_before = True
        if self.idle:  # given back between our look and queueing up
            self._serve_from_idle()
        waiter.wake.acquire(timeout=seconds)

    def wake_all(self) -> None:
        """Make every waiter look up now (connecting just failed: they give up at once)."""
        with self._lock:
            for waiter in self.waiters:
                waiter.alarm()

    def collect(self, hand: dict[int, Any], me: int) -> bool:
        """Move a record handed to this thread into ``hand[me]``; False if none was."""
        if me not in self.handed:
            return False
        hand[me] = self.handed.pop(me)
        return True

    def leave(self, waiter: Waiter) -> None:
        """Stop waiting; a record handed meanwhile goes to the next waiter or idle."""
        with self._lock, contextlib.suppress(ValueError):  # served, or never queued
            self.waiters.remove(waiter)
        if waiter.thread in self.handed and not self.put(self.handed, waiter.thread):
            self.idle.append(self.handed.pop(waiter.thread))  # over ``keep`` by one, briefly

    def drain_idle(self, hand: dict[int, Any], me: int) -> bool:
        """Move one idle record into ``hand[me]`` whether or not anyone waits."""
        try:
            hand[me] = self._take()
        except IndexError:
            return False
        return True
