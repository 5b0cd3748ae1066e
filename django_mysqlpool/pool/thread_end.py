"""A borrow ends with its thread: connections of threads that ended without ``close()``.

Django's ``DatabaseWrapper`` sits in reference cycles, so when a thread ends without
closing its connection, the wrapper (and the borrowed connection in it) lives on until
the cyclic garbage collector runs, which may be much later: a pool would run dry, and the
connection's open transaction would keep its row locks meanwhile. What does die with the
thread is what the thread alone holds in a ``threading.local`` (a greenlet-local under
gevent's monkey-patching): each lease keeps a weak reference to its thread's mark, and a
lease whose mark is dead belongs to an ended thread.

Nothing runs at the thread's end (no finalizer, so no lock and no I/O where the rule
forbids them): the housekeeper (``housekeeping.py``), started the first time a thread
other than the main one borrows, looks every ``housekeeping.INTERVAL`` seconds and gives
such connections back (rolled back, reset) through ``giving_back.GivingBack.reclaim``; a
borrower that finds the pool empty reclaims them at once, before it queues up.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

from . import housekeeping


class _Mark:
    """What dies with its thread (kept only in the thread's ``threading.local``)."""

    __slots__ = ("__weakref__",)


#: Each thread's mark (``mark``) and the weak reference to it (``ref``), once it borrowed:
#: the borrow reads ``ref`` itself (``getattr(thread_marks, "ref", None)``, no call) and
#: calls ``thread_mark`` only on a thread's first borrow.
thread_marks = threading.local()


def thread_mark() -> weakref.ref[Any]:
    """A weak reference to the calling thread's mark (dead once the thread has ended)."""
    try:
        return thread_marks.ref  # type: ignore[no-any-return]
    except AttributeError:
        return _mark_this_thread()


def _mark_this_thread() -> weakref.ref[Any]:
    mark = _Mark()
    ref = weakref.ref(mark)
    thread_marks.mark, thread_marks.ref = mark, ref
    if threading.current_thread() is not threading.main_thread():
        housekeeping.start()  # someone must look after this thread's borrows
    return ref
