"""``make bench``: what one request costs with each way of connecting, side by side.

One process, the configurations alternating round by round so that machine noise hits them
all alike. A "request" is what Django does for one HTTP request: connect if needed, one
``SELECT 1``, then ``close()`` (or, for the persistent configuration, keep the connection).
Server facts come from a separate plain connection (``SHOW GLOBAL STATUS``), so other
clients of the server add noise to the statement and connection counts.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db.utils import ConnectionHandler  # noqa: E402

import django_mysqlpool  # noqa: E402
from tests.support.observer import Observer  # noqa: E402

PLAIN = "django.db.backends.mysql"
POOLED = "django_mysqlpool.backends.mysqlpool"
DBCP = "dj_db_conn_pool.backends.mysql"


@dataclass
class Config:
    name: str
    engine: str
    extra: dict[str, Any] = field(default_factory=dict)
    persistent: bool = False
    samples: list[float] = field(default_factory=list)
    statements: float = 0.0
    connections: float = 0.0


def wrapper_for(config: Config, alias: str = "default") -> Any:
    database = {**settings.DATABASES["default"], "NAME": settings.DB_NAME, "ENGINE": config.engine}
    database.update(config.extra)
    return ConnectionHandler({"default": database, alias: database})[alias]


def one_request(wrapper: Any, persistent: bool) -> None:
    wrapper.close_if_unusable_or_obsolete()  # what request_started does
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    if persistent:
        wrapper.close_if_unusable_or_obsolete()  # request_finished keeps it
    else:
        wrapper.close()


def configurations(with_dbcp: bool) -> list[Config]:
    found = [
        Config("no pool", PLAIN),
        Config("persistent (CONN_MAX_AGE=None)", PLAIN, {"CONN_MAX_AGE": None}, persistent=True),
        Config("django-mysqlpool", POOLED),
        Config(
            "django-mysqlpool reset=session", POOLED, {"OPTIONS": {"pool": {"reset": "session"}}}
        ),
    ]
    if with_dbcp:
        found.append(Config("django-db-connection-pool", DBCP, {"POOL_OPTIONS": {"POOL_SIZE": 5}}))
    return found


def run_rounds(configs: list[Config], rounds: int, requests: int, observer: Observer) -> None:
    wrappers = {config.name: wrapper_for(config) for config in configs}
    for config in configs:  # warm up: connect, fill pools, run Django's one-time checks
        for _ in range(20):
            one_request(wrappers[config.name], config.persistent)
    for _ in range(rounds):
        for config in configs:
            wrapper = wrappers[config.name]
            questions, connections = observer.status("Questions"), observer.status("Connections")
            started = time.perf_counter()
            for _ in range(requests):
                one_request(wrapper, config.persistent)
            config.samples.append((time.perf_counter() - started) / requests * 1e6)
            # The two status queries of the observer count as 3 questions.
            config.statements = (observer.status("Questions") - questions - 2) / requests
            config.connections = (observer.status("Connections") - connections) / requests
    for wrapper in wrappers.values():
        wrapper.close()


def borrow_and_return(requests: int) -> float:
    """Python cost of one borrow + give-back through the patched connect, no query (µs)."""
    import MySQLdb

    params = {**observer_params(), "pool": {"pool_size": 1}}
    MySQLdb.connect(**params).close()
    started = time.perf_counter()
    for _ in range(requests):
        MySQLdb.connect(**params).close()
    return (time.perf_counter() - started) / requests * 1e6


def observer_params() -> dict[str, Any]:
    from tests.support.observer import server_params

    return server_params()


def threaded(
    config: Config, threads: int, seconds: float, observer: Observer
) -> tuple[float, int, int]:
    """Requests/s from ``threads`` threads for ``seconds``; errors; peak server connections."""
    counts = [0] * threads
    errors = [0]
    stop = time.monotonic() + seconds
    database = config.extra.get("NAME", settings.DB_NAME)

    def work(index: int) -> None:
        wrapper = wrapper_for(config, alias=f"t{index}")
        while time.monotonic() < stop:
            try:
                one_request(wrapper, config.persistent)
                counts[index] += 1
            except Exception:
                errors[0] += 1
        wrapper.close()

    peak = [0]

    def watch() -> None:
        while time.monotonic() < stop:
            peak[0] = max(peak[0], len(observer.connections_to(database)) - 1)
            time.sleep(0.05)

    pool = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    watcher = threading.Thread(target=watch)
    for thread in [*pool, watcher]:
        thread.start()
    for thread in [*pool, watcher]:
        thread.join()
    return sum(counts) / seconds, errors[0], peak[0]


def spread(samples: list[float]) -> float:
    return (max(samples) - min(samples)) / 2


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=3.0, help="per threaded scenario")
    args = parser.parse_args()
    try:
        import dj_db_conn_pool  # noqa: F401

        with_dbcp = True
    except ImportError:
        with_dbcp = False
    observer = Observer()
    configs = configurations(with_dbcp)
    run_rounds(configs, args.rounds, args.requests, observer)

    persistent = statistics.median(configs[1].samples)
    print(
        f"{'configuration':34} {'µs/request':>11} {'±':>6} {'÷ persistent':>13} "
        f"{'statements/req':>15} {'connections/req':>16}"
    )
    for config in configs:
        median = statistics.median(config.samples)
        print(
            f"{config.name:34} {median:11.1f} {spread(config.samples):6.1f} "
            f"{median / persistent:13.2f} {config.statements:15.2f} {config.connections:16.3f}"
        )
    ours = statistics.median(configs[2].samples)
    print(f"\nno pool ÷ ours: {statistics.median(configs[0].samples) / ours:.2f}")
    if with_dbcp:
        print(
            f"django-db-connection-pool ÷ ours: {statistics.median(configs[-1].samples) / ours:.2f}"
        )
    else:
        print(
            "django-db-connection-pool: not installed in this environment (make bench installs it)"
        )
    print(f"borrow + give back, no query: {borrow_and_return(20000):.1f} µs")

    # A database of its own, so the peak counts only this scenario's server connections.
    observer.query("CREATE DATABASE IF NOT EXISTS mysqlpool_bench")
    own = {"NAME": "mysqlpool_bench"}
    pool = {"OPTIONS": {"pool": {"pool_size": 4, "max_overflow": 0}}}
    rate, errors, peak = threaded(
        Config("pooled", POOLED, {**own, **pool}), 16, args.seconds, observer
    )
    persistent_4 = Config("persistent", PLAIN, {**own, "CONN_MAX_AGE": None}, persistent=True)
    base_rate, _, _ = threaded(persistent_4, 4, args.seconds, observer)
    print(
        f"16 threads over a pool of 4: {rate:.0f} req/s, {errors} errors, peak {peak} server "
        f"connections; 4 threads persistent: {base_rate:.0f} req/s; ratio {rate / base_rate:.2f}"
    )
    django_mysqlpool.close_pool()
    observer.query("DROP DATABASE IF EXISTS mysqlpool_bench")
    return 0


if __name__ == "__main__":
    sys.exit(main())
