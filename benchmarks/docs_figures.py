"""``make bench-chart``: the figures the documentation quotes, from ``bench.py --save``'s JSON.

Usage: ``python benchmarks/docs_figures.py [RESULTS.json]`` (default
``benchmarks/results.json``). Writes ``docs/_generated/figures.rst``, reST substitutions that
``docs/conf.py`` appends to every page, and the Performance figures of ``README.rst`` between
``.. figures: start`` and ``.. figures: end`` (PyPI renders no substitutions).
``tests/test_docs_figures.py`` fails when either differs from what this writes.

One rounding everywhere: times (µs, ms) and "N× cheaper" factors whole from 10 up, with
two significant figures below; ratios to a persistent connection and between contention
runs with two decimals; requests/s whole, with thousands separators; statements whole when
they are.
"""

from __future__ import annotations

import json
import math
import re
import sys
import textwrap
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results.json"
FIGURES = ROOT / "docs" / "_generated" / "figures.rst"
README = ROOT / "README.rst"
README_START, README_END = ".. figures: start", ".. figures: end"

#: Substitution prefix -> the configuration row of results.json it reads (bench.py's names).
ROWS = {
    "no-pool": "no pool",
    "persistent": "persistent (CONN_MAX_AGE=None)",
    "pooled": "django-mysqlpool",
    "minimal": "minimal pool (no checks: the floor)",
    "reset-transaction": "django-mysqlpool reset=transaction",
    "reset-session": "django-mysqlpool reset=session",
    "persistent-setvar": "persistent, request sets @var",
    "pooled-setvar": "django-mysqlpool, request sets @var",
    "dbcp": "django-db-connection-pool",
    "pg-persistent": "PostgreSQL persistent (CONN_MAX_AGE=None)",
    "pg-pooled": "PostgreSQL, Django's pool",
}

#: Substitution -> (server, part) of the breakdown of a pooled request's time.
BREAKDOWN = {
    "round-trip-us": ("MariaDB", "round_trip"),
    "django-query-us": ("MariaDB", "django_query"),
    "django-connect-close-us": ("MariaDB", "django_connect_close"),
    "borrow-give-back-us": ("MariaDB", "borrow_give_back"),
    "rest-us": ("MariaDB", "rest"),
    "pg-django-connect-close-us": ("PostgreSQL", "django_connect_close"),
    "pg-borrow-give-back-us": ("PostgreSQL", "borrow_give_back"),
    "pg-rest-us": ("PostgreSQL", "rest"),
}

#: A threaded run's name in results.json ("16 threads, pool of 4") -> its substitution prefix.
THREADED_NAME = re.compile(r"(?P<threads>\d+) threads, (?P<kind>persistent|pool|minimal)\b")
THREADED_KIND = {"persistent": "persistent", "pool": "pooled", "minimal": "minimal"}


class MissingFigure(LookupError):
    """results.json lacks a figure the documentation quotes."""


def whole_from_ten(value: float) -> str:
    """µs, ms and factors: 579, 83, 15, 10 but 5.6, 7.1, 0.041 (two significant figures)."""
    if round(abs(value), 1) >= 10:
        return f"{value:.0f}"
    if value == 0:
        return "0"
    decimals = max(1, 1 - math.floor(math.log10(abs(value))))
    return f"{value:.{decimals}f}"


def ratio(value: float) -> str:
    return f"{value:.2f}"


def count(value: float | None) -> str:
    """Statements per request: 6, 1, or 1.50 when the median falls between two."""
    if value is None:
        return "–"
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.2f}"


def thousands(value: float) -> str:
    return f"{value:,.0f}"


def row(results: dict[str, Any], name: str) -> dict[str, Any]:
    for config in results["configurations"]:
        if config["name"] == name:
            return dict(config)
    raise MissingFigure(
        f"results.json has no configuration {name!r}, which the docs quote; run make "
        f"bench-chart with every configuration (django-db-connection-pool and PostgreSQL)"
    )


def machine(environment: dict[str, str]) -> str:
    """'Intel(R) Xeon(R) Processor, 2 cores, Linux' -> '2-core Intel Xeon'."""
    cpu, *rest = environment["machine"].split(", ")
    cpu = re.sub(r"\((R|TM)\)|\bProcessor\b|\bCPU\b|@.*", "", cpu)
    cpu = " ".join(cpu.split())
    cores = next((part.split()[0] for part in rest if re.fullmatch(r"\d+ cores?", part)), None)
    return f"{cores}-core {cpu}" if cores else cpu


def server(version: str) -> str:
    """'10.11.19-MariaDB-0+deb12u1' -> 'MariaDB 10.11.19'; '8.0.36' -> 'MySQL 8.0.36'."""
    name = "MariaDB" if "mariadb" in version.lower() else "MySQL"
    return f"{name} {version.split('-')[0]}"


def environment_figures(environment: dict[str, str]) -> dict[str, str]:
    figures = {
        "bench-date": environment["date"],
        "bench-machine": machine(environment),
        "python-version": environment["python"],
        "django-version": environment["django"],
        "sqlalchemy-version": environment["sqlalchemy"],
        "mysqlclient-version": environment["mysqlclient"],
        "server-version": server(environment["server"]),
        "postgresql-version": environment["postgresql"].split()[0],
        "psycopg-version": environment["psycopg"],
        "psycopg-pool-version": environment["psycopg_pool"],
    }
    figures["bench-versions"] = (
        f"Python {figures['python-version']}, Django {figures['django-version']}, "
        f"SQLAlchemy {figures['sqlalchemy-version']}, "
        f"mysqlclient {figures['mysqlclient-version']}, {figures['server-version']}, "
        f"PostgreSQL {figures['postgresql-version']}, psycopg {figures['psycopg-version']}, "
        f"psycopg_pool {figures['psycopg-pool-version']}"
    )
    return figures


def configuration_figures(results: dict[str, Any]) -> dict[str, str]:
    figures: dict[str, str] = {}
    for prefix, name in ROWS.items():
        config = row(results, name)
        figures[f"{prefix}-us"] = whole_from_ten(config["us_per_request"])
        figures[f"{prefix}-ratio"] = ratio(config["per_own_persistent"])
        figures[f"{prefix}-statements"] = count(config["statements_per_request"])
    figures["no-pool-factor"] = whole_from_ten(results["no_pool_per_ours"])
    if "dbcp_per_ours" not in results:
        raise MissingFigure("results.json has no dbcp_per_ours (django-db-connection-pool)")
    figures["dbcp-factor"] = whole_from_ten(results["dbcp_per_ours"])
    return figures


def breakdown_figures(results: dict[str, Any]) -> dict[str, str]:
    parts = results["breakdown"]
    return {name: whole_from_ten(parts[db][part]) for name, (db, part) in BREAKDOWN.items()}


def contention_figures(results: dict[str, Any]) -> dict[str, str]:
    """Per threaded run: 'pooled-16-threads-rps', '...-wait-median-ms', p99, max; and ratios."""
    figures: dict[str, str] = {}
    median: dict[str, float] = {}
    pool_peaks = []
    for run in results["threaded"]:
        found = THREADED_NAME.match(run["name"])
        if not found:
            continue
        prefix = f"{THREADED_KIND[found['kind']]}-{found['threads']}-threads"
        median[prefix] = run["median"]
        if found["kind"] == "pool":
            pool_peaks.append(run["peak_connections"])
        figures[f"{prefix}-rps"] = thousands(run["median"])
        for wait in ("median", "p99", "max"):
            figures[f"{prefix}-wait-{wait}-ms"] = whole_from_ten(run[f"wait_ms_{wait}"])
    try:
        persistent = median["persistent-4-threads"]
        for kind, label in (("pooled", "contention"), ("minimal", "contention-minimal")):
            figures[f"{label}-16-per-persistent"] = ratio(median[f"{kind}-16-threads"] / persistent)
            figures[f"{label}-64-per-4"] = ratio(
                median[f"{kind}-64-threads"] / median[f"{kind}-4-threads"]
            )
    except KeyError as missing:
        raise MissingFigure(f"results.json has no threaded run {missing}") from None
    runs = results["threaded"]
    figures["contention-errors"] = f"{sum(run['errors'] + run['unfinished'] for run in runs)}"
    figures["contention-peak-connections"] = f"{max(pool_peaks)}"  # django-mysqlpool's
    figures["contention-requests"] = thousands(results["contention"]["requests_per_run"])
    return figures


def paired_figures(results: dict[str, Any]) -> dict[str, str]:
    """Ours against the minimal pool in chunks side by side (``paired.py``)."""
    gap = results.get("paired_gap")
    if gap is None:
        raise MissingFigure("results.json has no paired_gap (run make bench-chart again)")
    # What django-mysqlpool costs over the minimal pool: the paired chunks' figure, not
    # the difference of two table rows (within their noise of it).
    return {
        "pooled-over-minimal-us": whole_from_ten(gap["gap_us"]),
        "minimal-faster-percent": f"{gap['gap_us'] / gap['ours_us'] * 100:.0f}",
        "paired-chunks": thousands(gap["chunks"]),
        "paired-requests": f"{gap['requests_per_chunk']}",
        "paired-gap-ratio": ratio(gap["ratio_gap"]),
    }


def figures_of(results: dict[str, Any]) -> dict[str, str]:
    """Every figure the documentation quotes, by substitution name."""
    return {
        **environment_figures(results["environment"]),
        **configuration_figures(results),
        **breakdown_figures(results),
        **contention_figures(results),
        **paired_figures(results),
    }


def substitutions(figures: dict[str, str]) -> str:
    lines = [
        ".. Generated by benchmarks/docs_figures.py from benchmarks/results.json (make",
        "   bench-chart); do not edit. docs/conf.py appends it to every page (rst_epilog).",
        "",
    ]
    lines += [f".. |{name}| replace:: {value}" for name, value in figures.items()]
    return "\n".join(lines) + "\n"


def _paragraph(text: str, indent: str = "", first: str = "") -> str:
    return textwrap.fill(
        text,
        width=88,
        initial_indent=first or indent,
        subsequent_indent=indent,
        break_on_hyphens=False,
        break_long_words=False,
    ).replace("\u00a0", " ")  # a no-break space in the text keeps "12 %" on one line


IMAGE = "https://raw.githubusercontent.com/smartfile/django-mysqlpool/main/docs/benchmark.png"
README_ALT = (
    "each pool ÷ its own database's persistent connection: django-mysqlpool {pooled-ratio}, "
    "Django's PostgreSQL pool {pg-pooled-ratio}, a minimal pool that checks nothing "
    "{minimal-ratio}, no pool {no-pool-ratio}, django-db-connection-pool {dbcp-ratio}"
)
README_TEXT = (
    "Measured {bench-date} on a {bench-machine} VM: Python {python-version}, Django "
    "{django-version}, SQLAlchemy {sqlalchemy-version}, mysqlclient {mysqlclient-version}, "
    "{server-version}; PostgreSQL {postgresql-version} with psycopg {psycopg-version} and "
    "psycopg_pool {psycopg-pool-version} for the reference. One connection per request costs "
    "{no-pool-factor}× more; a pool that checks nothing at all (and is unsafe to use) is "
    "{minimal-faster-percent}\u00a0% faster than django-mysqlpool: what its guarantees cost; "
    "Django's PostgreSQL pool is at that floor."
)


def readme_block(figures: dict[str, str]) -> str:
    """The README's Performance figures, markers included."""
    return "\n".join(
        [
            README_START,
            "",
            f".. image:: {IMAGE}",
            _paragraph(README_ALT.format_map(figures), indent=" " * 9, first="   :alt: "),
            "",
            _paragraph(README_TEXT.format_map(figures)),
            "",
            README_END,
        ]
    )


def with_readme_block(readme: str, figures: dict[str, str]) -> str:
    start, end = readme.find(README_START), readme.find(README_END)
    if start < 0 or end < start:
        raise ValueError(
            f"README.rst lacks the {README_START!r} ... {README_END!r} comments around its "
            f"Performance figures; put them back around the image and the paragraph below it"
        )
    return readme[:start] + readme_block(figures) + readme[end + len(README_END) :]


def main(argv: list[str]) -> int:
    results_path = Path(argv[1]) if len(argv) > 1 else RESULTS
    figures = figures_of(json.loads(results_path.read_text(encoding="utf-8")))
    FIGURES.parent.mkdir(parents=True, exist_ok=True)
    FIGURES.write_text(substitutions(figures), encoding="utf-8")
    README.write_text(with_readme_block(README.read_text(encoding="utf-8"), figures), "utf-8")
    print(f"{len(figures)} figures from {results_path} written to {FIGURES} and {README}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
