"""Handles dropped without close() and freed by the garbage collector never hang the process.

The cyclic collector runs finalizers at any allocation, in any thread, in the middle of
any code, the pool's own included (while it holds the counters', the leak watcher's or a
host list's lock). A finalizer that took one of those locks would deadlock; one that did
I/O would write on a socket another thread is using. The pool's finalizer only hands the
record over; the next borrower gives it back.
"""

from __future__ import annotations

import gc
import threading
import time
from typing import Any

import django_mysqlpool
from tests.server import connection_id

THREADS = 8
REQUESTS = 150
POOL = {"pool_size": 4, "max_overflow": 0, "timeout": 10, "leak_timeout": 5}


def test_handles_collected_anywhere_by_a_hyperactive_collector_never_deadlock(make_wrapper):
    done: list[int] = []
    errors: list[BaseException] = []

    def work() -> None:
        wrapper = make_wrapper(pool=POOL)
        try:
            for number in range(REQUESTS):
                with wrapper.cursor() as cursor:
                    cursor.execute("SELECT CONNECTION_ID()")
                if number % 2:
                    # Dropped inside a reference cycle: only the cyclic collector frees it,
                    # at an allocation of whichever thread, in the middle of any code.
                    cycle: list[Any] = [wrapper.connection]
                    cycle.append(cycle)
                    wrapper.connection = None
                    del cycle
                else:
                    wrapper.close()
                done.append(number)
        except BaseException as error:
            errors.append(error)

    thresholds = gc.get_threshold()
    gc.set_threshold(1, 1, 1)  # collect at nearly every allocation
    started = time.monotonic()
    try:
        threads = [threading.Thread(target=work) for _ in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
    finally:
        gc.set_threshold(*thresholds)
    elapsed = time.monotonic() - started

    assert not any(thread.is_alive() for thread in threads), f"{len(done)} requests in 120 s"
    assert errors == []
    assert len(done) == THREADS * REQUESTS
    gc.collect()
    last = make_wrapper(pool=POOL)
    last.ensure_connection()  # gives back what the collector handed over
    last.close()
    [stats] = django_mysqlpool.pool_stats()
    assert stats["checked_out"] == 0
    print(f"{len(done)} requests, half dropped into cycles, in {elapsed:.1f} s")


def test_a_handle_finalized_while_its_thread_holds_every_pool_lock_returns_its_connection(
    make_wrapper,
):
    """The collector may run a finalizer inside the pool's own locked sections: it must
    take none of those locks (they are not reentrant) and still hand the connection over."""
    from django_mysqlpool.pool import fork, leaks, pools

    wrapper = make_wrapper(pool={**POOL, "pool_size": 1})
    wrapper.ensure_connection()
    [registered] = pools.all_pools()
    finished = threading.Event()

    def drop_while_holding_the_locks() -> None:
        # The locks left anywhere near a borrow (counters, the leak watcher's borrows and
        # the registry need none since 1.1): the watcher's start, fork hooks'.
        with leaks.watcher._starting, fork._lock:
            wrapper.connection = None  # the handle's finalizer runs here, in this thread
            gc.collect()
        finished.set()

    dropper = threading.Thread(target=drop_while_holding_the_locks, daemon=True)
    wrapper.inc_thread_sharing()
    dropper.start()
    assert finished.wait(10), "the finalizer waited for a lock its own thread holds"
    wrapper.dec_thread_sharing()
    wrapper.ensure_connection()  # the only connection: handed over, given back, lent again
    wrapper.close()


def test_a_dropped_handles_connection_is_lent_by_the_next_borrow(make_wrapper):
    """A handle dropped without close() hands its connection over as it goes: the next
    borrow gets that connection back instead of opening another (not only a borrower
    that finds the pool empty, or the housekeeper later)."""
    pool = {**POOL, "pool_size": 2, "max_overflow": 0}
    dropping, next_one = make_wrapper(pool=pool), make_wrapper(pool=pool)
    dropped = connection_id(dropping)
    dropping.connection = None  # never closed: the handle is garbage now
    assert connection_id(next_one) == dropped
    [stats] = django_mysqlpool.pool_stats()
    assert (stats["created"], stats["checked_out"]) == (1, 1)


def test_a_handle_closed_in_the_same_breath_as_it_goes_hands_nothing_over():
    """``close()`` ends the handle's lease before the handle can go: a handle whose last
    reference is the ``close()`` call itself (``MySQLdb.connect(...).close()``) hands
    nothing to the pool's orphans as it is freed, which every next borrow would otherwise
    go through (a give-back frame keeping the lease alive past the handle did that)."""
    import MySQLdb

    from tests.support.observer import server_params

    params = {**server_params(), "pool": {"pool_size": 1, "max_overflow": 0}}
    first = MySQLdb.connect(**params)
    registered = first._lender
    first.close()
    del first
    for _ in range(3):
        MySQLdb.connect(**params).close()
    assert list(registered.orphans) == []
    assert registered.holders == {}
    django_mysqlpool.close_pool()
