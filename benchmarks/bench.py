"""``make bench``: what one request costs with each way of connecting, side by side.

One process, the configurations alternating round by round so that machine noise hits them
all alike. A "request" is what Django does for one HTTP request: connect if needed, one
``SELECT 1``, then ``close()`` (or, for the persistent configuration, keep the connection).
Server facts come from a separate plain connection (``SHOW GLOBAL STATUS``), so other
clients of the server add noise to the statement and connection counts.

``--save FILE`` also writes the figures as JSON, which ``benchmarks/chart.py`` draws.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from importlib import metadata
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db.backends.mysql import base as mysql_base  # noqa: E402
from django.db.utils import ConnectionHandler  # noqa: E402

import django_mysqlpool  # noqa: E402
from tests.support.observer import Observer, server_params  # noqa: E402

PLAIN = "django.db.backends.mysql"
POOLED = "django_mysqlpool.backends.mysqlpool"
DBCP = "dj_db_conn_pool.backends.mysql"
BENCH_DATABASE = "mysqlpool_bench"

# Issue 4's targets, checked against the figures at the end.
TARGET_OURS_PER_PERSISTENT = 1.3
TARGET_NO_POOL_PER_OURS = 3.0
TARGET_DBCP_PER_OURS = 2.0
TARGET_BORROW_RETURN_US = 20.0
TARGET_THREADED_RATIO = 0.8


@dataclass
class Config:
    name: str
    engine: str
    extra: dict[str, Any] = field(default_factory=dict)
    persistent: bool = False
    #: The request also sets a user variable: with reset="auto" the give-back resets it.
    leaves_state: bool = False
    samples: list[float] = field(default_factory=list)
    statements: list[float] = field(default_factory=list)
    connections: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.samples)


def wrapper_for(config: Config, alias: str = "default") -> Any:
    database = {**settings.DATABASES["default"], "NAME": settings.DB_NAME, "ENGINE": config.engine}
    database.update(config.extra)
    return ConnectionHandler({"default": database, alias: database})[alias]


def one_request(wrapper: Any, persistent: bool, leaves_state: bool = False) -> None:
    wrapper.close_if_unusable_or_obsolete()  # what request_started does
    with wrapper.cursor() as cursor:
        if leaves_state:
            cursor.execute("SET @request_state = 1")
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
            "django-mysqlpool reset=transaction",
            POOLED,
            {"OPTIONS": {"pool": {"reset": "transaction"}}},
        ),
        Config(
            "django-mysqlpool reset=session", POOLED, {"OPTIONS": {"pool": {"reset": "session"}}}
        ),
        Config("persistent, request sets @var", PLAIN, {"CONN_MAX_AGE": None}, True, True),
        Config("django-mysqlpool, request sets @var", POOLED, leaves_state=True),
    ]
    if with_dbcp:
        found.append(Config("django-db-connection-pool", DBCP, {"POOL_OPTIONS": {"POOL_SIZE": 5}}))
    return found


def run_rounds(configs: list[Config], rounds: int, requests: int, observer: Observer) -> None:
    wrappers = {config.name: wrapper_for(config) for config in configs}
    for config in configs:  # warm up: connect, fill pools, run Django's one-time checks
        for _ in range(20):
            one_request(wrappers[config.name], config.persistent, config.leaves_state)
    for _ in range(rounds):
        for config in configs:
            wrapper = wrappers[config.name]
            questions, connections = observer.status("Questions"), observer.status("Connections")
            started = time.perf_counter()
            for _ in range(requests):
                one_request(wrapper, config.persistent, config.leaves_state)
            config.samples.append((time.perf_counter() - started) / requests * 1e6)
            # Between the two Questions readings the server also counts the Connections
            # reading and the second Questions reading itself.
            config.statements.append((observer.status("Questions") - questions - 2) / requests)
            config.connections.append((observer.status("Connections") - connections) / requests)
    for wrapper in wrappers.values():
        wrapper.close()


def timed(action: Callable[[], None], requests: int, rounds: int = 5) -> float:
    """Median µs per call of ``action`` over ``rounds`` loops of ``requests`` calls."""
    for _ in range(min(requests, 1000)):
        action()
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(requests):
            action()
        samples.append((time.perf_counter() - started) / requests * 1e6)
    return statistics.median(samples)


def borrow_and_return(requests: int) -> float:
    """Python cost of one borrow + give-back through the patched connect, no query (µs)."""
    import MySQLdb

    params = {**server_params(), "pool": {"pool_size": 1}}
    return timed(lambda: MySQLdb.connect(**params).close(), requests)


class _StubCursor:
    def execute(self, query: Any, args: Any = None) -> int:
        return 0

    def close(self) -> None:
        pass


class _StubConnection:
    """A driver connection that does nothing: what Django's own machinery costs alone."""

    encoders: dict[Any, Any] = {}

    def cursor(self) -> _StubCursor:
        return _StubCursor()

    def autocommit(self, on: bool) -> None:
        pass

    def get_autocommit(self) -> bool:
        return True

    def close(self) -> None:
        pass


def django_connect_floor(requests: int) -> float:
    """µs of Django's own ``connect()`` + ``close()`` with a do-nothing driver.

    Every pool that keeps Django's wrapper pays at least this per request on top of a
    persistent connection; no pool can be cheaper than persistent + this.
    """
    wrapper = wrapper_for(Config("floor", PLAIN))
    wrapper.ensure_connection()  # the one-time version check, on a real connection
    wrapper.close()
    real_connect = mysql_base.Database.connect
    mysql_base.Database.connect = lambda **kwargs: _StubConnection()
    try:

        def connect_and_close() -> None:
            wrapper.connect()
            wrapper.close()

        return timed(connect_and_close, requests)
    finally:
        mysql_base.Database.connect = real_connect


@dataclass
class Threaded:
    name: str
    config: Config
    threads: int
    rates: list[float] = field(default_factory=list)
    errors: int = 0
    peak_connections: int = 0


def run_threaded(scenario: Threaded, seconds: float, observer: Observer) -> None:
    """One run of ``threads`` threads for ``seconds``: requests/s, errors, peak connections."""
    counts = [0] * scenario.threads
    errors = [0]
    stop = time.monotonic() + seconds

    def work(index: int) -> None:
        wrapper = wrapper_for(scenario.config, alias=f"t{index}")
        while time.monotonic() < stop:
            try:
                one_request(wrapper, scenario.config.persistent)
                counts[index] += 1
            except Exception:
                errors[0] += 1
        wrapper.close()

    peak = [0]

    def watch() -> None:
        while time.monotonic() < stop:
            peak[0] = max(peak[0], len(observer.connections_to(BENCH_DATABASE)))
            time.sleep(0.05)

    workers = [threading.Thread(target=work, args=(n,)) for n in range(scenario.threads)]
    watcher = threading.Thread(target=watch)
    for thread in [*workers, watcher]:
        thread.start()
    for thread in [*workers, watcher]:
        thread.join()
    scenario.rates.append(sum(counts) / seconds)
    scenario.errors += errors[0]
    scenario.peak_connections = max(scenario.peak_connections, peak[0])


def threaded_scenarios(rounds: int, seconds: float, observer: Observer) -> list[Threaded]:
    """16 threads over a pool of 4 against 4 threads on persistent connections, alternating."""
    observer.query(f"CREATE DATABASE IF NOT EXISTS {BENCH_DATABASE}")
    own = {"NAME": BENCH_DATABASE}
    pool_of_4 = {"OPTIONS": {"pool": {"pool_size": 4, "max_overflow": 0}}}
    scenarios = [
        Threaded("16 threads, pool of 4", Config("pooled", POOLED, {**own, **pool_of_4}), 16),
        Threaded(
            "4 threads, persistent",
            Config("persistent", PLAIN, {**own, "CONN_MAX_AGE": None}, persistent=True),
            4,
        ),
    ]
    try:
        for _ in range(rounds):
            for scenario in scenarios:
                run_threaded(scenario, seconds, observer)
                django_mysqlpool.close_pool()
    finally:
        observer.query(f"DROP DATABASE IF EXISTS {BENCH_DATABASE}")
    return scenarios


def spread(samples: list[float]) -> float:
    return (max(samples) - min(samples)) / 2


def environment(observer: Observer) -> dict[str, str]:
    """What the figures were measured on, for the table and the chart."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {name: metadata.version(name) for name in ("Django", "SQLAlchemy", "mysqlclient")}
    return {
        "date": date.today().isoformat(),
        "machine": f"{cpu}, {os.cpu_count()} cores, {platform.system()}",
        "python": platform.python_version(),
        **{name.lower(): version for name, version in versions.items()},
        "server": str(observer.query("SELECT VERSION()")[0][0]),
    }


def verdict(met: bool) -> str:
    return "met" if met else "NOT met"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=2.0, help="per threaded run")
    parser.add_argument("--threaded-rounds", type=int, default=3)
    parser.add_argument("--save", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args()
    try:
        import dj_db_conn_pool  # noqa: F401

        with_dbcp = True
    except ImportError:
        with_dbcp = False
    observer = Observer()
    about = environment(observer)
    print(" · ".join(f"{key}: {value}" for key, value in about.items()), end="\n\n")

    configs = configurations(with_dbcp)
    run_rounds(configs, args.rounds, args.requests, observer)
    by_name = {config.name: config for config in configs}
    persistent = by_name["persistent (CONN_MAX_AGE=None)"].median
    ours = by_name["django-mysqlpool"].median
    print(
        f"{'configuration':38} {'µs/request':>11} {'±':>6} {'÷ persistent':>13} "
        f"{'statements/req':>15} {'connections/req':>16}"
    )
    for config in configs:
        print(
            f"{config.name:38} {config.median:11.1f} {spread(config.samples):6.1f} "
            f"{config.median / persistent:13.2f} {statistics.median(config.statements):15.2f} "
            f"{statistics.median(config.connections):16.3f}"
        )

    floor = django_connect_floor(args.requests * 5)
    borrow = borrow_and_return(args.requests * 5)
    no_pool_ratio = by_name["no pool"].median / ours
    print(
        f"\nDjango's own connect()+close(), do-nothing driver: {floor:.1f} µs, so no pool under "
        f"Django's wrapper can go below persistent + that = "
        f"{(persistent + floor) / persistent:.2f} × persistent"
    )
    print(f"borrow + give back through MySQLdb.connect, no query: {borrow:.1f} µs")
    print("\ntargets (issue 4):")
    print(
        f"  ours ÷ persistent           {ours / persistent:5.2f}  (≤ {TARGET_OURS_PER_PERSISTENT})"
        f"  {verdict(ours / persistent <= TARGET_OURS_PER_PERSISTENT)}"
    )
    print(
        f"  no pool ÷ ours              {no_pool_ratio:5.2f}  (≥ {TARGET_NO_POOL_PER_OURS})"
        f"  {verdict(no_pool_ratio >= TARGET_NO_POOL_PER_OURS)}"
    )
    figures: dict[str, Any] = {"no_pool_per_ours": no_pool_ratio}
    if with_dbcp:
        dbcp_ratio = by_name["django-db-connection-pool"].median / ours
        figures["dbcp_per_ours"] = dbcp_ratio
        print(
            f"  django-db-connection-pool ÷ ours {dbcp_ratio:5.2f}  (≥ {TARGET_DBCP_PER_OURS})"
            f"  {verdict(dbcp_ratio >= TARGET_DBCP_PER_OURS)}"
        )
    else:
        print("  django-db-connection-pool: not installed here (make bench installs it)")
    statements = statistics.median(by_name["django-mysqlpool"].statements)
    print(
        f"  statements per request      {statements:5.2f}  (= 1.00)  {verdict(statements < 1.05)}"
    )
    print(
        f"  borrow + give back          {borrow:5.1f} µs  (≤ {TARGET_BORROW_RETURN_US:.0f})"
        f"  {verdict(borrow <= TARGET_BORROW_RETURN_US)}"
    )

    pooled, base = threaded_scenarios(args.threaded_rounds, args.seconds, observer)
    ratio = statistics.median(pooled.rates) / statistics.median(base.rates)
    print(
        f"  {pooled.name}: {statistics.median(pooled.rates):.0f} req/s, {pooled.errors} errors, "
        f"peak {pooled.peak_connections} server connections (≤ 4); {base.name}: "
        f"{statistics.median(base.rates):.0f} req/s; ratio {ratio:.2f} (≥ "
        f"{TARGET_THREADED_RATIO})  {verdict(ratio >= TARGET_THREADED_RATIO)}"
    )
    print(
        f"  (threads share one interpreter lock: the single-thread ratio persistent ÷ ours, "
        f"{persistent / ours:.2f}, bounds the threaded one)"
    )
    django_mysqlpool.close_pool()

    if args.save:
        figures.update(
            environment=about,
            configurations=[
                {
                    "name": config.name,
                    "us_per_request": config.median,
                    "spread": spread(config.samples),
                    "statements_per_request": statistics.median(config.statements),
                    "connections_per_request": statistics.median(config.connections),
                    "samples": config.samples,
                }
                for config in configs
            ],
            django_connect_floor_us=floor,
            borrow_and_return_us=borrow,
            threaded=[
                {
                    "name": s.name,
                    "threads": s.threads,
                    "rates": s.rates,
                    "median": statistics.median(s.rates),
                    "errors": s.errors,
                    "peak_connections": s.peak_connections,
                }
                for s in (pooled, base)
            ],
        )
        args.save.parent.mkdir(parents=True, exist_ok=True)
        args.save.write_text(json.dumps(figures, indent=2) + "\n")
        print(f"\nfigures written to {args.save}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
