"""Leak detection: warn, with the borrower's stack, about a connection held too long.

Modelled on HikariCP's ``leakDetectionThreshold``: with ``leak_timeout`` set, each borrow
notes where it happened, and one watcher thread per process logs a WARNING on the
``django_mysqlpool.leaks`` logger for every connection held longer than that (once per
borrow), and an INFO line if it is given back later. Off by default: noting the stack
costs tens of microseconds per borrow.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import traceback
from dataclasses import dataclass, field

from . import fork

logger = logging.getLogger("django_mysqlpool.leaks")

#: How often the watcher looks, at most (it looks more often for shorter thresholds).
_LONGEST_NAP = 1.0


_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # whole package


def _borrowers_stack() -> str:
    """Where the borrow happened, without this package's own frames."""
    frames = traceback.extract_stack(limit=40)
    theirs = [f for f in frames if not os.path.abspath(f.filename).startswith(_PACKAGE_DIR)]
    return "".join(traceback.format_list(theirs))


@dataclass
class Borrow:
    target: str
    timeout: float
    thread: str = field(default_factory=lambda: threading.current_thread().name)
    started: float = field(default_factory=time.monotonic)
    stack: str = field(default_factory=_borrowers_stack)
    reported: bool = False


class Watcher:
    """The borrows being watched and the thread that looks at them.

    Borrowers' threads only set and pop dict items (atomic, no lock): an exception may
    land on any of their lines, and a lock held then would never be released.
    """

    def __init__(self) -> None:
        self._starting = threading.Lock()  # taken once, to start the watcher thread
        self._borrows: dict[int, Borrow] = {}
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def watch(self, token: object, target: str, timeout: float) -> None:
        self._borrows[id(token)] = Borrow(target, timeout)
        if self._thread is None:
            self._start()
        self._wake.set()  # a shorter threshold than the others may need an earlier look

    def _start(self) -> None:
        with self._starting:
            if self._thread is None:
                thread = threading.Thread(
                    target=self._run, name="django-mysqlpool leak watcher", daemon=True
                )
                thread.start()
                self._thread = thread

    def unwatch(self, token: object) -> None:
        borrow = self._borrows.pop(id(token), None)
        if borrow is not None and borrow.reported:
            logger.info(
                "django-mysqlpool: the connection to %s reported as leaked was given back "
                "after %.1f s (thread %s).",
                borrow.target,
                time.monotonic() - borrow.started,
                borrow.thread,
            )

    def _run(self) -> None:
        while True:
            self._wake.wait(self._report_overdue())
            self._wake.clear()

    def _report_overdue(self) -> float:
        """Log the borrows past their threshold; return how long to sleep until the next."""
        now = time.monotonic()
        nap = _LONGEST_NAP
        overdue = []
        for borrow in list(self._borrows.values()):
            if borrow.reported:
                continue
            left = borrow.started + borrow.timeout - now
            if left <= 0:
                borrow.reported = True
                overdue.append(borrow)
            else:
                nap = min(nap, left)
        for borrow in overdue:
            logger.warning(
                "django-mysqlpool: a connection to %s has been held for %.1f s by thread %s, "
                "longer than leak_timeout (%g s); it was borrowed at:\n%s"
                "Give it back with connection.close() or django_mysqlpool.auto_close_db.",
                borrow.target,
                now - borrow.started,
                borrow.thread,
                borrow.timeout,
                borrow.stack,
            )
        return max(nap, 0.01)


watcher = Watcher()


def _forget_parent_borrows() -> None:
    global watcher
    watcher = Watcher()  # the parent's thread does not exist in a forked child


fork.register(_forget_parent_borrows)


def watch(token: object, target: str, timeout: float) -> None:
    watcher.watch(token, target, timeout)


def unwatch(token: object) -> None:
    watcher.unwatch(token)
