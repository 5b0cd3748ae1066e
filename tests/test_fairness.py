"""Borrowers that wait for a connection are served in the order they arrived.

A give-back hands its connection to the borrower that has waited longest, so a later
waiter never overtakes an earlier one, and the thread that just gave a connection back
(the usual winner of a race for it) queues up behind those already waiting.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import django_mysqlpool
from tests.server import connection_id

WAITERS = 6


def pending() -> int:
    [stats] = django_mysqlpool.pool_stats()
    return int(stats["pending"])


def wait_until(condition: Callable[[], bool], within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "the borrower never queued up"
        time.sleep(0.005)


def test_waiters_are_served_in_arrival_order_and_the_giver_queues_behind_them(make_wrapper):
    options = {"pool_size": 1, "max_overflow": 0, "timeout": 30}
    holder = make_wrapper(pool=options)
    held = connection_id(holder)
    served: list[tuple[Any, int]] = []  # (who, server connection id), in order of service
    errors: list[BaseException] = []

    def borrow_once(name: Any, wrapper: Any) -> None:
        try:
            served.append((name, connection_id(wrapper)))  # appended while holding it
            wrapper.close()
        except BaseException as error:
            errors.append(error)

    threads = []
    for index in range(WAITERS):
        wrapper = make_wrapper(pool=options)
        wrapper.inc_thread_sharing()
        thread = threading.Thread(target=borrow_once, args=(index, wrapper))
        thread.start()
        threads.append(thread)
        wait_until(lambda index=index: pending() == index + 1)  # queued, in this order

    holder.close()  # hands the connection to waiter 0...
    borrow_once("giver", holder)  # ...and borrows again at once: behind all of them
    for thread in threads:
        thread.join(30)

    assert errors == []
    assert [name for name, _ in served] == [*range(WAITERS), "giver"]
    assert {cid for _, cid in served} == {held}  # one server connection throughout
    [stats] = django_mysqlpool.pool_stats()
    assert stats["pending"] == 0 and stats["waits"] == WAITERS + 1


def test_a_waiter_that_timed_out_leaves_the_queue_and_the_next_one_is_served(make_wrapper):
    options = {"pool_size": 1, "max_overflow": 0, "timeout": 1}
    holder = make_wrapper(pool=options)
    held = connection_id(holder)
    impatient, patient = make_wrapper(pool=options), make_wrapper(pool=options)
    outcomes: list[Any] = []

    def borrow(wrapper: Any) -> None:
        try:
            outcomes.append(connection_id(wrapper))
        except Exception as error:
            outcomes.append(type(error).__name__)

    for wrapper in (impatient, patient):
        wrapper.inc_thread_sharing()
        thread = threading.Thread(target=borrow, args=(wrapper,))
        thread.start()
        wait_until(lambda: pending() == 1)  # the impatient one gives up before the next
        if wrapper is patient:
            holder.close()  # must reach the patient one, not the departed one
        thread.join(10)
        assert pending() == 0  # the one that gave up is out of the queue

    assert outcomes == ["OperationalError", held]
    [stats] = django_mysqlpool.pool_stats()
    assert stats["pending"] == 0 and stats["timeouts"] == 1
