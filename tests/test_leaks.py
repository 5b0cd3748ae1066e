"""``leak_timeout``: a connection held too long is logged with the borrower's stack."""

from __future__ import annotations

import logging
import time

from tests.server import connection_id

LEAKS = "django_mysqlpool.leaks"


def borrow_in_a_function_with_a_telling_name(wrapper) -> int:
    return connection_id(wrapper)


def test_a_connection_held_past_leak_timeout_is_reported_once_with_where_it_was_borrowed(
    make_wrapper, caplog
):
    caplog.set_level(logging.INFO, logger=LEAKS)
    wrapper = make_wrapper(pool={"pool_size": 1, "leak_timeout": 0.2})
    borrow_in_a_function_with_a_telling_name(wrapper)
    time.sleep(0.7)  # several looks by the watcher: still one warning

    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    message = warnings[0].getMessage()
    assert "held for" in message and "leak_timeout (0.2 s)" in message
    assert "borrow_in_a_function_with_a_telling_name" in message
    assert "django_mysqlpool/" not in message  # the stack is the borrower's, not ours
    assert "root@127.0.0.1" in message

    wrapper.close()
    returned = [r for r in caplog.records if r.levelno == logging.INFO]
    assert len(returned) == 1 and "given back after" in returned[0].getMessage()


def test_a_connection_given_back_in_time_or_without_leak_timeout_is_never_reported(
    make_wrapper, caplog
):
    caplog.set_level(logging.INFO, logger=LEAKS)
    watched = make_wrapper(pool={"pool_size": 1, "leak_timeout": 0.3})
    unwatched = make_wrapper(pool={"pool_size": 1})
    for _ in range(5):
        connection_id(watched)
        watched.close()
    connection_id(unwatched)
    time.sleep(0.6)
    unwatched.close()
    assert [r for r in caplog.records if r.name == LEAKS] == []
