"""A borrow ends with its thread: connections of threads that ended without ``close()``.

Django's ``DatabaseWrapper`` sits in reference cycles, so when a thread ends without
closing its connection, the wrapper (and the borrowed connection in it) lives on until
the cyclic garbage collector runs, which may be much later: a pool would run dry, and the
connection's open transaction would keep its row locks meanwhile. What does die with the
thread is what the thread alone holds in a ``threading.local`` (a greenlet-local under
gevent's monkey-patching): each lease keeps a weak reference to its thread's mark, and a
lease whose mark is dead belongs to an ended thread.

Nothing runs at the thread's end (no finalizer, so no lock and no I/O where the rule
forbids them): a reaper thread, started the first time a thread other than the main one
borrows, looks every ``INTERVAL`` seconds and gives such connections back (rolled back,
reset) through ``lending.RegisteredPool.reclaim``; a borrower that finds the pool empty
reclaims them at once, before it queues up.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from typing import Any, Protocol

from . import fork

logger = logging.getLogger("django_mysqlpool")

#: How often the reaper looks; a connection comes back at most this long after its
#: thread ended (plus the time its reset takes).
INTERVAL = 0.25


class _Mark:
    """What dies with its thread (kept only in the thread's ``threading.local``)."""

    __slots__ = ("__weakref__",)


class Reclaimer(Protocol):
    """A pool that can take back what ended threads and dropped handles left lent."""

    retired: bool

    def has_strays(self) -> bool: ...

    def reclaim(self) -> int: ...


_threads = threading.local()
#: The pools to look at, by id, weakly (a retired or dropped pool is not kept alive).
_pools: dict[int, weakref.ref[Any]] = {}
_starting = threading.Lock()
_reaper: threading.Thread | None = None


def thread_mark() -> weakref.ref[Any]:
    """A weak reference to the calling thread's mark (dead once the thread has ended).

    The common call (a thread's second borrow on) is one attribute read.
    """
    try:
        return _threads.ref  # type: ignore[no-any-return]
    except AttributeError:
        return _mark_this_thread()


def _mark_this_thread() -> weakref.ref[Any]:
    mark = _Mark()
    ref = weakref.ref(mark)
    _threads.mark, _threads.ref = mark, ref
    if _reaper is None and threading.current_thread() is not threading.main_thread():
        _start_reaper()
    return ref


def watch(pool: Reclaimer) -> None:
    """Have the reaper look at ``pool`` (called once, when the pool is built)."""
    key = id(pool)
    _pools[key] = weakref.ref(pool, lambda _ref: _pools.pop(key, None))


def _start_reaper() -> None:
    global _reaper
    with _starting:  # once per process; a borrower's thread comes here once in its life
        if _reaper is None:
            reaper = threading.Thread(target=_reap, name="django-mysqlpool reaper", daemon=True)
            reaper.start()
            _reaper = reaper


def _reap() -> None:
    while True:
        time.sleep(INTERVAL)
        reap_once()


def reap_once() -> int:
    """Give back what ended threads and dropped handles left lent; how many came back."""
    reclaimed = 0
    for ref in list(_pools.values()):
        pool = ref()
        if pool is None or pool.retired or not pool.has_strays():
            continue
        try:
            reclaimed += pool.reclaim()
        except Exception:  # the reaper must outlive one bad connection or pool
            logger.exception("django-mysqlpool: giving back a stranded connection failed")
    return reclaimed


def _forget_parent_threads() -> None:
    """In a forked child: the parent's reaper and pools are not this process's."""
    global _reaper, _starting
    _reaper, _starting = None, threading.Lock()
    _pools.clear()


fork.register(_forget_parent_threads)
