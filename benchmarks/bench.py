"""``make bench``: what one request costs with each way of connecting, side by side.

One process, the configurations alternating round by round (each round starting one
configuration further on) so that machine noise hits them all alike. A "request" is what
Django does for one HTTP request: connect if needed, one ``SELECT 1``, then ``close()`` (or,
for the persistent configuration, keep the connection). Django's own PostgreSQL pool, on a
throwaway cluster this script starts and stops, runs the same loop in the same rounds as a
reference: each database's pool is compared with its own persistent connection. Server
facts come from a separate plain connection (``SHOW GLOBAL STATUS``), so other clients of
the MariaDB server add noise to the statement counts.

``--save FILE`` also writes the figures as JSON, which ``benchmarks/chart.py`` draws.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import time
from datetime import date
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import Any

# Importing workload sets Django up: it comes before anything that imports Django.
from workload import (
    DBCP,
    MARIADB,
    PLAIN,
    POOLED,
    POSTGRESQL,
    Config,
    one_request,
    rotated,
    wrapper_for,
)

# isort: split
import breakdown
import contention
import minimal_pool
import paired
import pgcluster
import targets

import django_mysqlpool
from tests.support.names import unique
from tests.support.observer import Observer

POSTGRESQL_ENGINE = "django.db.backends.postgresql"
OURS = "django-mysqlpool"
MINIMAL = targets.MINIMAL_ROW
PERSISTENT = "persistent (CONN_MAX_AGE=None)"
PG_POOLED = "PostgreSQL, Django's pool"
PG_PERSISTENT = "PostgreSQL persistent (CONN_MAX_AGE=None)"
#: Each server's pooled row and the persistent row it is divided by.
POOLED_ROW = {MARIADB: OURS, POSTGRESQL: PG_POOLED}
PERSISTENT_ROW = {MARIADB: PERSISTENT, POSTGRESQL: PG_PERSISTENT}
POOL_LABEL = {MARIADB: f"MariaDB, {OURS}", POSTGRESQL: "PostgreSQL, Django's pool"}


def configurations(
    with_dbcp: bool, postgresql: dict[str, Any] | None, minimal: minimal_pool.MinimalPool
) -> list[Config]:
    found = [
        Config("no pool", PLAIN),
        Config(PERSISTENT, PLAIN, {"CONN_MAX_AGE": None}, persistent=True),
        Config(OURS, POOLED),
        Config(MINIMAL, PLAIN, context=partial(minimal_pool.swapped_in, minimal)),
        Config(
            f"{OURS} reset=transaction", POOLED, {"OPTIONS": {"pool": {"reset": "transaction"}}}
        ),
        Config(f"{OURS} reset=session", POOLED, {"OPTIONS": {"pool": {"reset": "session"}}}),
        Config("persistent, request sets @var", PLAIN, {"CONN_MAX_AGE": None}, True, True),
        Config(f"{OURS}, request sets @var", POOLED, leaves_state=True),
    ]
    if with_dbcp:
        found.append(Config("django-db-connection-pool", DBCP, {"POOL_OPTIONS": {"POOL_SIZE": 5}}))
    if postgresql is not None:
        found += [
            Config(
                PG_PERSISTENT,
                POSTGRESQL_ENGINE,
                {"CONN_MAX_AGE": None},
                persistent=True,
                server=POSTGRESQL,
                base=postgresql,
            ),
            # Sized like ours in the test settings (pool_size 5); one thread uses one.
            Config(
                PG_POOLED,
                POSTGRESQL_ENGINE,
                {"OPTIONS": {"pool": {"min_size": 1, "max_size": 5}}},
                server=POSTGRESQL,
                base=postgresql,
            ),
        ]
    return found


def run_rounds(
    configs: list[Config],
    parts: list[breakdown.Part],
    rounds: int,
    requests: int,
    observer: Observer,
) -> None:
    """Every configuration and every part of the breakdown once a round, alternating, in
    an order that turns by one each round."""
    wrappers = {config.name: wrapper_for(config) for config in configs}
    for config in configs:  # warm up: connect, fill pools, run Django's one-time checks
        with config.context():
            for _ in range(20):
                one_request(wrappers[config.name], config.persistent, config.leaves_state)
    for turn in range(rounds):
        # Each round starts one configuration (and one part) further on: none always
        # runs right after the same one (the no-pool row leaves the server closing 2,000
        # connections), nor always first or last in the round.
        for config in rotated(configs, turn):
            run_round(config, wrappers[config.name], requests, observer)
        for part in rotated(list(parts), turn):
            if part in parts:  # a failed PostgreSQL part drops the others of its server
                run_part(part, parts, requests)
    for config in configs:
        wrapper = wrappers[config.name]
        wrapper.close()
        if config.server == POSTGRESQL:
            wrapper.close_pool()  # its worker threads, before the cluster goes away


def run_round(config: Config, wrapper: Any, requests: int, observer: Observer) -> None:
    counted = config.server == MARIADB  # the status counters are MariaDB's
    if counted:
        questions, connections = observer.status("Questions"), observer.status("Connections")
    with config.context():
        started = time.perf_counter()
        for _ in range(requests):
            one_request(wrapper, config.persistent, config.leaves_state)
        config.samples.append((time.perf_counter() - started) / requests * 1e6)
    if counted:
        # Between the two Questions readings the server also counts the Connections
        # reading and the second Questions reading itself.
        config.statements.append((observer.status("Questions") - questions - 2) / requests)
        config.connections.append((observer.status("Connections") - connections) / requests)


def run_part(part: breakdown.Part, parts: list[breakdown.Part], requests: int) -> None:
    try:
        part.run_round(requests)
    except Exception as error:
        if part.server == MARIADB:
            raise
        # The reference must never sink the MariaDB figures: its breakdown goes instead.
        print(f"(PostgreSQL breakdown skipped: {part.key}: {type(error).__name__}: {error})")
        parts[:] = [other for other in parts if other.server != POSTGRESQL]


def start_postgresql() -> tuple[pgcluster.Cluster | None, str]:
    """A throwaway cluster for the reference rows, or None and the one-line reason."""
    try:
        import psycopg
        import psycopg_pool  # noqa: F401
    except ImportError:
        return None, "psycopg / psycopg_pool not installed here (make bench installs them)"
    try:
        cluster = pgcluster.start_cluster()
    except (pgcluster.Unavailable, OSError, subprocess.SubprocessError) as error:
        return None, str(error)
    try:
        postgresql_version(cluster)
    except psycopg.Error as error:
        cluster.stop()
        return None, f"the throwaway cluster does not answer: {error}"
    return cluster, f"throwaway cluster on 127.0.0.1:{cluster.port} in {cluster.directory}"


def stop_on_signals() -> None:
    """SIGTERM / SIGHUP exit through ``finally`` and atexit, so the cluster is stopped."""

    def leave(number: int, frame: Any) -> None:
        raise SystemExit(128 + number)

    for number in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(number, leave)


def postgresql_version(cluster: pgcluster.Cluster) -> str:
    import psycopg

    with psycopg.connect(cluster.conninfo()) as connection:
        row = connection.execute("SHOW server_version").fetchone()
    return str(row[0]) if row else "?"


def environment(observer: Observer, cluster: pgcluster.Cluster | None) -> dict[str, str]:
    """What the figures were measured on, for the table and the chart."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    names = ["Django", "SQLAlchemy", "mysqlclient"]
    if cluster is not None:
        names += ["psycopg", "psycopg-pool"]
    about = {
        "date": date.today().isoformat(),
        "machine": f"{cpu}, {os.cpu_count()} cores, {platform.system()}",
        "python": platform.python_version(),
        **{name.lower().replace("-", "_"): metadata.version(name) for name in names},
        "server": str(observer.query("SELECT VERSION()")[0][0]),
    }
    if cluster is not None:
        about["postgresql"] = postgresql_version(cluster)
    return about


def spread(samples: list[float]) -> float:
    return (max(samples) - min(samples)) / 2


def median_or_none(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def per_own_persistent(config: Config, by_name: dict[str, Config]) -> float:
    return config.median / by_name[PERSISTENT_ROW[config.server]].median


def print_table(configs: list[Config], by_name: dict[str, Config]) -> None:
    print(
        f"{'configuration':42} {'server':10} {'µs/request':>10} {'±':>5} "
        f"{'÷ its persistent':>16} {'statements/req':>14} {'connections/req':>15}"
    )
    for config in configs:
        statements, connections = (
            median_or_none(config.statements),
            median_or_none(config.connections),
        )
        print(
            f"{config.name:42} {config.server:10} {config.median:10.1f} "
            f"{spread(config.samples):5.1f} {per_own_persistent(config, by_name):16.2f} "
            f"{'–' if statements is None else f'{statements:.2f}':>14} "
            f"{'–' if connections is None else f'{connections:.3f}':>15}"
        )


def pooled_per_persistent(by_name: dict[str, Config]) -> dict[str, dict[str, float]]:
    """For each server measured: its pool's and its persistent connection's µs, and the ratio."""
    found = {}
    for server, pooled_name in POOLED_ROW.items():
        if pooled_name in by_name:
            pooled = by_name[pooled_name].median
            persistent = by_name[PERSISTENT_ROW[server]].median
            found[server] = {
                "persistent_us": persistent,
                "pooled_us": pooled,
                "ratio": pooled / persistent,
            }
    return found


def print_side_by_side(ratios: dict[str, dict[str, float]], note: str) -> None:
    print("\neach pool ÷ its own database's persistent connection (same run, same request loop):")
    print(f"  {'':34} {'persistent µs':>13} {'pooled µs':>10} {'extra µs':>9} {'ratio':>6}")
    for server, figures in ratios.items():
        label = POOL_LABEL[server]
        extra = figures["pooled_us"] - figures["persistent_us"]
        print(
            f"  {label:34} {figures['persistent_us']:13.1f} {figures['pooled_us']:10.1f} "
            f"{extra:9.1f} {figures['ratio']:6.2f}"
        )
    if POSTGRESQL not in ratios:
        print(f"  PostgreSQL reference skipped: {note}")


def breakdown_of(
    by_name: dict[str, Config], timed_parts: list[breakdown.Part]
) -> dict[str, dict[str, float]]:
    """Per server, the medians of its parts, and the rest: pooled − persistent − the parts."""
    parts: dict[str, dict[str, float]] = {}
    for part in timed_parts:
        parts.setdefault(part.server, {})[part.key] = statistics.median(part.samples)
    for server, found in parts.items():
        pooled = by_name[POOLED_ROW[server]].median
        persistent = by_name[PERSISTENT_ROW[server]].median
        found["django_query"] = persistent - found["round_trip"]
        found["pooled"] = pooled
        found["rest"] = (
            pooled - persistent - found["django_connect_close"] - found["borrow_give_back"]
        )
    return parts


BREAKDOWN_LINES = [
    ("round_trip", "network round trip: driver-level SELECT 1, open connection"),
    ("django_query", "Django's query path (persistent − round trip)"),
    ("django_connect_close", "Django's connect() + close(), do-nothing driver/pool"),
    ("borrow_give_back", "the pool's borrow + give-back, no query"),
    ("minimal_borrow_give_back", "  the same, minimal pool (no checks: the floor)"),
    ("pooled_connect_close", "Django's connect() + close() through the pool, no query"),
    ("minimal_connect_close", "  the same, minimal pool"),
    ("rest", "the rest (pooled − all of the above)"),
    ("pooled", "one pooled request"),
]


def print_breakdown(parts: dict[str, dict[str, float]]) -> None:
    servers = list(parts)
    header = "".join(f"{server:>12}" for server in servers)
    title = "where one pooled request's time goes, µs"
    print(f"\n{title:56}{header}")
    for key, label in BREAKDOWN_LINES:
        figures = [parts[server].get(key) for server in servers]
        print(f"  {label:54}" + "".join("" if f is None else f"{f:12.1f}" for f in figures))
    if POSTGRESQL in parts:
        print("  (PostgreSQL: borrow + give-back is psycopg_pool's getconn() + putconn())")


def print_contention(found: list[contention.Scenario], args: argparse.Namespace) -> None:
    every_ms = contention.SAMPLE_EVERY_S * 1e3
    print(
        f"\ncontention, MariaDB: a pool of 4 (max_overflow 0) vs 4 persistent connections; "
        f"{args.contention_requests} requests a run\nshared by the threads, "
        f"{args.contention_rounds} runs each, alternating, at most {args.contention_seconds:.0f} s "
        f"a run. wait: a request's time in\nconnection.ensure_connection() (the borrow, queueing "
        f"included). server conns: the most held at\nonce / opened in one run, from the process "
        f"list every {every_ms:.0f} ms."
    )
    print(
        f"  {'run':24} {'req/s':>7} {'±':>6} {'wait ms: median':>16} {'p99':>7} {'max':>8} "
        f"{'errors':>6} {'unfinished':>10} {'server conns: peak':>18} {'opened':>6}"
    )
    for s in found:
        print(
            f"  {s.name:24} {s.rate:7.0f} {spread(s.rates):6.0f} "
            f"{statistics.median(s.waits_ms):16.3f} {s.wait_percentile(0.99):7.2f} "
            f"{max(s.waits_ms):8.1f} {s.errors:6d} {s.unfinished:10d} "
            f"{s.peak_connections:18d} {s.distinct_connections:6d}"
        )
        if s.first_error:
            print(f"    first error: {s.first_error}")


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--contention-requests", type=int, default=6000, help="per run")
    parser.add_argument("--contention-seconds", type=float, default=10.0, help="bound per run")
    parser.add_argument("--contention-rounds", type=int, default=5)
    parser.add_argument(
        "--paired-chunks", type=int, default=1000, help="ours against the minimal pool (paired.py)"
    )
    parser.add_argument("--no-postgresql", action="store_true", help="skip the reference rows")
    parser.add_argument("--save", type=Path, help="also write the figures to this JSON file")
    return parser.parse_args()


def saved_figures(
    configs: list[Config], by_name: dict[str, Config], **extra: Any
) -> dict[str, Any]:
    """results.json: the keys chart.py has always read, and the per-server ones beside them."""
    return {
        "configurations": [
            {
                "name": config.name,
                "server": config.server,
                "us_per_request": config.median,
                "spread": spread(config.samples),
                "per_own_persistent": per_own_persistent(config, by_name),
                "statements_per_request": median_or_none(config.statements),
                "connections_per_request": median_or_none(config.connections),
                "samples": config.samples,
            }
            for config in configs
        ],
        **extra,
    }


def measure(args: argparse.Namespace, cluster: pgcluster.Cluster | None, note: str) -> int:
    try:
        import dj_db_conn_pool  # noqa: F401

        with_dbcp = True
    except ImportError:
        with_dbcp = False
    observer = Observer()
    about = environment(observer, cluster)
    print(" · ".join(f"{key}: {value}" for key, value in about.items()))
    print(f"PostgreSQL reference: {note}", end="\n\n")

    postgresql = cluster.database() if cluster else None
    minimal = minimal_pool.new_pool(5)  # sized like ours in the test settings
    configs = configurations(with_dbcp, postgresql, minimal)
    timed_parts = breakdown.parts(cluster.conninfo() if cluster else None, postgresql)
    try:
        run_rounds(configs, timed_parts, args.rounds, args.requests, observer)
    finally:
        minimal.close()
    by_name = {config.name: config for config in configs}
    print_table(configs, by_name)
    ratios = pooled_per_persistent(by_name)
    print_side_by_side(ratios, note)
    parts = breakdown_of(by_name, timed_parts)
    print_breakdown(parts)
    gap = paired.measure_gap(args.paired_chunks)
    paired.print_gap(gap)

    found = contention.run_contention(
        args.contention_rounds,
        args.contention_requests,
        args.contention_seconds,
        observer,
        unique("bench"),
    )
    print_contention(found, args)
    checked = targets.check(by_name, ratios, parts, found, gap)
    django_mysqlpool.close_pool()

    if args.save:
        figures = saved_figures(
            configs,
            by_name,
            environment=about,
            postgresql={"measured": POSTGRESQL in ratios, "note": note},
            no_pool_per_ours=by_name["no pool"].median / by_name[OURS].median,
            pooled_per_persistent=ratios,
            django_connect_floor_us=parts[MARIADB]["django_connect_close"],
            borrow_and_return_us=parts[MARIADB]["borrow_give_back"],
            breakdown=parts,
            paired_gap=gap.summary(),
            threaded=[s.summary() for s in found],
            contention={
                "requests_per_run": args.contention_requests,
                "rounds": args.contention_rounds,
                "bound_s": args.contention_seconds,
                "wait": "time in connection.ensure_connection()",
            },
            targets=checked,
        )
        if "django-db-connection-pool" in by_name:
            figures["dbcp_per_ours"] = (
                by_name["django-db-connection-pool"].median / by_name[OURS].median
            )
        args.save.parent.mkdir(parents=True, exist_ok=True)
        args.save.write_text(json.dumps(figures, indent=2) + "\n")
        print(f"\nfigures written to {args.save}")
    return 0


def main() -> int:
    args = parse_arguments()
    stop_on_signals()
    cluster, note = (None, "skipped (--no-postgresql)")
    if not args.no_postgresql:
        cluster, note = start_postgresql()
    try:
        return measure(args, cluster, note)
    finally:
        if cluster is not None:
            cluster.stop()


if __name__ == "__main__":
    sys.exit(main())
