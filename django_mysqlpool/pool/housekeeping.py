"""The housekeeper: one daemon thread per process that does the pools' work off the
borrowers' path.

Every ``INTERVAL`` seconds it asks each pool to look after itself
(``registered.RegisteredPool.housekeep``): give back connections whose borrowing thread ended
or whose handle was dropped (``thread_end.py``), close idle connections unused for
``max_idle`` beyond ``min_idle``, and open connections up to ``min_idle`` after some were
lost or recycled (with backoff while connecting fails).

It starts lazily, in the process that uses the pool, when there is such work: a borrow from
a thread other than the main one, a connection opened beyond ``min_idle``, a connection
lost. A process that only ever borrowed from its main thread within ``min_idle`` never
starts it, so a preforking server's master that touched the database before forking
stays single-threaded. A forked child forgets the parent's housekeeper (threads do not
survive ``fork``) and starts its own when it needs one. Under gevent's monkey-patching
the thread is a greenlet and its sleep cooperative. It is a daemon: it ends with the
interpreter. A failure in one pool is logged and never stops it.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from typing import Any, Protocol

from . import fork

logger = logging.getLogger("django_mysqlpool")

#: How often the housekeeper looks; a connection of an ended thread comes back at most
#: this long after the thread ended (plus the time its reset takes).
INTERVAL = 0.25


class Housekept(Protocol):
    """A pool the housekeeper looks after (``registered.RegisteredPool``)."""

    retired: bool

    def housekeep(self, now: float) -> None: ...


#: The pools to look after, by id, weakly (a dropped pool is not kept alive).
_pools: dict[int, weakref.ref[Any]] = {}
_starting = threading.Lock()
_thread: threading.Thread | None = None


def watch(pool: Housekept) -> None:
    """Have the housekeeper look after ``pool`` (called once, when the pool is built)."""
    key = id(pool)
    _pools[key] = weakref.ref(pool, lambda _ref: _pools.pop(key, None))


def running() -> bool:
    return _thread is not None


def start() -> None:
    """Start the housekeeper in this process if it is not running (cheap when it is)."""
    global _thread
    if _thread is not None:
        return
    with _starting:  # taken once per process in practice, never on a borrow's common path
        if _thread is None:
            thread = threading.Thread(target=_run, name="django-mysqlpool housekeeper", daemon=True)
            thread.start()
            _thread = thread


def _run() -> None:
    while True:
        time.sleep(INTERVAL)
        look_after_all()


def look_after_all() -> None:
    """One round of housekeeping over every pool of this process."""
    now = time.monotonic()
    for ref in list(_pools.values()):
        pool = ref()
        if pool is None or pool.retired:
            continue
        try:
            pool.housekeep(now)
        except Exception:  # the housekeeper must outlive one bad connection or pool
            logger.exception("django-mysqlpool: housekeeping of a pool failed")


def _forget_parent() -> None:
    """In a forked child: the parent's housekeeper and pools are not this process's."""
    global _thread, _starting
    _thread, _starting = None, threading.Lock()
    _pools.clear()


fork.register(_forget_parent)
