"""The borrowed handle reaches what the driver's connection has, as the driver's would.

Every attribute the handle does not define itself is a ``DriverAttribute`` on its class
(made from the first connection), not a ``__getattr__``: these tests hold it to what the
driver's own connection does, on the plain backend in the same test.
"""

from __future__ import annotations

import pytest

from tests.server import connection_id


@pytest.fixture(params=["pooled", "plain"])
def wrapper(request, make_wrapper):
    if request.param == "plain":
        return make_wrapper(pool=None, engine="django.db.backends.mysql")
    return make_wrapper({"pool_size": 1})


def test_driver_attributes_and_calls_answer_as_on_the_drivers_connection(wrapper):
    wrapper.ensure_connection()
    handle = wrapper.connection
    assert handle.thread_id() == connection_id(wrapper)
    assert handle.get_server_info()
    assert handle.character_set_name() == "utf8mb4"
    assert isinstance(handle.encoders, dict)
    wrapper.close()


def test_an_attribute_the_driver_lacks_raises_attribute_error(wrapper):
    wrapper.ensure_connection()
    with pytest.raises(AttributeError):
        wrapper.connection.no_such_attribute  # noqa: B018
    assert not hasattr(wrapper.connection, "no_such_attribute")
    wrapper.close()


def test_a_driver_call_on_a_handle_given_back_fails_as_the_plain_backends_does(make_wrapper):
    failures = []
    for wrapper in (
        make_wrapper({"pool_size": 1}),
        make_wrapper(pool=None, engine="django.db.backends.mysql"),
    ):
        wrapper.ensure_connection()
        handle = wrapper.connection
        wrapper.close()
        with pytest.raises(Exception) as raised:
            handle.thread_id()
        failures.append((type(raised.value), raised.value.args))
    assert failures[0] == failures[1]
