"""connection.close() gives the server connection back; the next borrow reuses it."""

from __future__ import annotations

from tests.server import connection_id


def test_closing_and_reconnecting_reuses_the_same_server_connection(
    make_wrapper, observer, own_database
):
    wrapper = make_wrapper(NAME=own_database)
    first = connection_id(wrapper)
    wrapper.close()

    ids = set()
    for _ in range(20):
        ids.add(connection_id(wrapper))
        wrapper.close()

    assert ids == {first}
    assert observer.connections_to(own_database) == {first}


def test_two_wrappers_at_once_get_two_server_connections(make_wrapper):
    options = {"pool_size": 2}
    one, two = make_wrapper(pool=options), make_wrapper(pool=options)
    assert connection_id(one) != connection_id(two)
