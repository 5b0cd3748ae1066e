"""Pool event listeners (``pool/observers.py``) hear every borrow, give-back, timeout and
connect, with the figures metrics and the debug toolbar need; a broken one breaks nothing."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from django.db import utils

import django_mysqlpool
from django_mysqlpool.pool import observers
from django_mysqlpool.pool.observers import BORROWED, CONNECTED, GIVEN_BACK, TIMED_OUT
from tests.server import connection_id


@pytest.fixture
def heard() -> Iterator[list[observers.PoolEvent]]:
    events: list[observers.PoolEvent] = []
    observers.add_listener(events.append)
    try:
        yield events
    finally:
        observers.remove_listener(events.append)


def test_a_borrow_that_opens_a_connection_is_new_and_the_next_is_not(make_wrapper, heard):
    wrapper = make_wrapper(pool={"pool_size": 1, "max_overflow": 0})
    first = connection_id(wrapper)
    time.sleep(0.05)
    wrapper.close()
    second = connection_id(wrapper)
    wrapper.close()

    assert first == second
    target = django_mysqlpool.pool_stats()[0]["target"]
    kinds = [event.kind for event in heard]
    assert kinds == [CONNECTED, BORROWED, GIVEN_BACK, BORROWED, GIVEN_BACK]
    assert {event.target for event in heard} == {target}
    connected, borrowed, given_back, borrowed_again, _ = heard
    assert borrowed.new and not borrowed_again.new
    assert 0 < connected.seconds <= borrowed.seconds  # the connect is part of the borrow
    assert borrowed.queued == 0.0
    assert given_back.seconds >= 0.05  # held across the sleep


def test_a_queued_borrow_reports_its_wait_and_a_timeout_its_own(make_wrapper, heard):
    options = {"pool_size": 1, "max_overflow": 0, "timeout": 0.3}
    holder, waiter = make_wrapper(pool=options), make_wrapper(pool=options)
    connection_id(holder)
    with pytest.raises(utils.OperationalError):
        waiter.ensure_connection()
    holder.inc_thread_sharing()
    giver = threading.Timer(0.2, holder.close)
    giver.start()
    connection_id(waiter)
    waiter.close()
    giver.join()

    timed_out = [event for event in heard if event.kind == TIMED_OUT]
    assert len(timed_out) == 1 and timed_out[0].seconds >= 0.3
    last_borrow = [event for event in heard if event.kind == BORROWED][-1]
    assert 0.15 <= last_borrow.queued <= last_borrow.seconds
    assert not last_borrow.new
    # Its use time counts from getting the connection, not from queueing for it (the
    # holder's give-back, held 0.2 s, may be told before or after the waiter's).
    uses = sorted(event.seconds for event in heard if event.kind == GIVEN_BACK)
    assert len(uses) == 2 and uses[0] < 0.1 <= 0.15 <= uses[1]


def test_a_failing_listener_costs_no_query_and_no_slot(make_wrapper, heard, caplog):
    def broken(event: observers.PoolEvent) -> None:
        raise RuntimeError("exporter down")

    observers.add_listener(broken)
    try:
        wrapper = make_wrapper(pool={"pool_size": 1, "max_overflow": 0})
        ids = set()
        for _ in range(3):
            ids.add(connection_id(wrapper))
            wrapper.close()
    finally:
        observers.remove_listener(broken)

    assert len(ids) == 1  # the slot came back every time
    assert django_mysqlpool.pool_stats()[0]["checked_out"] == 0
    assert len([event for event in heard if event.kind == BORROWED]) == 3  # others still hear
    failures = [record for record in caplog.records if "listener" in record.getMessage()]
    assert len(failures) == 1  # reported once, not per event
