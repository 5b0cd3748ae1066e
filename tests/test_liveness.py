"""Borrow-time liveness: a free socket check on every borrow, a ping only after idling.

The socket check (no round trip) is what ``test_dead_connections`` relies on; here, the
opt-in ``pre_ping`` costs a round trip only for connections idle ``pre_ping_after``
seconds or more, so a busy pool never pings. The server counts pings per session in
``Com_admin_commands``.
"""

from __future__ import annotations

import time

import pytest

from tests.server import connection_id


def pings_seen_by_the_server(wrapper) -> tuple[int, int]:
    """(connection id, pings this server connection has received so far)."""
    with wrapper.cursor() as cursor:
        cursor.execute("SHOW SESSION STATUS LIKE 'Com_admin_commands'")
        pings = int(cursor.fetchone()[1])
    return connection_id(wrapper), pings


def pings_after_borrows(wrapper, borrows: int) -> tuple[int, int, int]:
    """(connection id, pings before, pings after ``borrows`` quick borrows and one more)."""
    first, before = pings_seen_by_the_server(wrapper)
    wrapper.close()
    for _ in range(borrows):
        connection_id(wrapper)
        wrapper.close()
    again, after = pings_seen_by_the_server(wrapper)
    assert again == first  # the same server connection throughout
    return first, before, after


def test_a_busy_pool_never_pings(make_wrapper):
    wrapper = make_wrapper(pool={"pool_size": 1, "pre_ping": True, "pre_ping_after": 30})
    _, before, after = pings_after_borrows(wrapper, 20)
    assert after == before


def test_a_connection_idle_past_the_threshold_is_pinged_once(make_wrapper):
    wrapper = make_wrapper(pool={"pool_size": 1, "pre_ping": True, "pre_ping_after": 0.3})
    first, before = pings_seen_by_the_server(wrapper)
    wrapper.close()
    time.sleep(0.4)
    assert pings_seen_by_the_server(wrapper) == (first, before + 1)


@pytest.mark.parametrize(("pre_ping", "expected_pings"), [(True, 5), (False, 0)])
def test_threshold_zero_pings_every_borrow_and_pre_ping_off_never(
    make_wrapper, pre_ping, expected_pings
):
    wrapper = make_wrapper(pool={"pool_size": 1, "pre_ping": pre_ping, "pre_ping_after": 0})
    _, before, after = pings_after_borrows(wrapper, 4)
    assert after == before + expected_pings  # four borrows and the one reading the counter
