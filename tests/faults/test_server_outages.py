"""The server goes away while threads serve requests: restarts, and a server nothing reaches."""

from __future__ import annotations

import time

import pytest

import django_mysqlpool
from tests.faults.harness import RESULTS, Load, ScenarioResult

pytestmark = pytest.mark.slow

THREADS = 8
#: Scheduling slack on top of a bound in whole seconds: a borrower queued behind requests
#: whose reads time out (after 2 s) is handed a slot at that moment and makes its one
#: connect attempt with the 1 s its budget has left (connect timeouts are whole seconds).
SLACK = 0.25
#: Bounded I/O, as production settings should have: a frozen server cannot hang a request.
TIMEOUTS = {"connect_timeout": 2, "read_timeout": 2, "write_timeout": 2}


def test_restart_while_8_threads_run_requests(server, ledger, app_wrappers):
    pool = {"pool_size": THREADS, "max_overflow": 0}
    load = Load(lambda: app_wrappers(pool=pool), ledger, THREADS, pause=0.002).start()
    time.sleep(1.0)
    down_at = time.monotonic()
    server.halt()
    time.sleep(1.0)
    server.boot()
    up_at = time.monotonic()
    time.sleep(2.0)
    hung = load.stop()
    lost, phantom, ambiguous = ledger.verify()
    recovered = load.first_success_after(up_at)
    stats = django_mysqlpool.pool_stats()

    assert hung == []
    assert load.failures, "the outage should have been seen"
    outside = [f for f in load.failures if f.at + f.seconds < down_at or f.at > up_at + 1.0]
    assert outside == []  # errors only while the server was down
    assert all(delay is not None and delay <= 1.0 for delay in recovered), recovered
    assert (lost, phantom) == (0, 0)
    assert all(pool_stats["checked_out"] == 0 for pool_stats in stats)
    worst = max(d for d in recovered if d is not None)
    RESULTS.append(
        ScenarioResult(
            f"server restarts under {THREADS} threads",
            load.requests,
            len(load.failures),
            lost,
            f"{worst:.2f} s after the server was back (all threads)",
            f"errors only while down; {ambiguous} ambiguous inserts (reply lost, row kept)",
        )
    )


@pytest.mark.parametrize("outage", ["stopped", "frozen"])
def test_unreachable_server_fails_each_request_within_connect_timeout(
    server, ledger, app_wrappers, outage
):
    """Stopped: connections are refused. Frozen (SIGSTOP): nothing answers at all."""
    pool = {"pool_size": 2, "max_overflow": 0, "timeout": 30}
    wrapper_options = {"OPTIONS": dict(TIMEOUTS)}
    warm = [app_wrappers(pool=pool, **wrapper_options) for _ in range(2)]
    for wrapper in warm:  # the pool holds idle connections when the outage starts
        wrapper.ensure_connection()
    for wrapper in warm:
        wrapper.close()
    load = Load(lambda: app_wrappers(pool=pool, **wrapper_options), ledger, 6)
    if outage == "stopped":
        server.halt()
    else:
        server.freeze()
    load.start()
    time.sleep(6.0)
    hung = load.stop(timeout=TIMEOUTS["connect_timeout"] + 5)
    slowest = max(f.seconds for f in load.failures)
    if outage == "stopped":
        server.boot()
    else:
        server.thaw()
    lost, phantom, _ = ledger.verify()

    assert hung == []
    assert load.failures and sum(len(s) for s in load.successes) == 0
    assert slowest <= TIMEOUTS["connect_timeout"] + 1.0 + SLACK, sorted(
        (f.seconds, f.error) for f in load.failures
    )[-3:]
    assert (lost, phantom) == (0, 0)
    RESULTS.append(
        ScenarioResult(
            f"server unreachable ({outage}), 6 threads, pool of 2",
            load.requests,
            len(load.failures),
            lost,
            "n/a (server kept down)",
            f"slowest failure {slowest:.2f} s (connect_timeout {TIMEOUTS['connect_timeout']} s)",
        )
    )
