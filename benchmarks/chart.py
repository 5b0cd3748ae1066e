"""``make bench-chart``: draw the figures ``bench.py --save`` wrote as the README's PNG.

Usage: ``python benchmarks/chart.py RESULTS.json OUTPUT.png``

Three panels: µs per request in a MariaDB group (the minimal pool among them) and a
PostgreSQL reference group; each database's pool ÷ its own persistent connection, side by
side, with the minimal pool's; threads over a pool of 4, ours and the minimal pool's.
Results files from before the PostgreSQL reference (no ``server`` keys) still draw.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display on servers and CI

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402

OURS = "django-mysqlpool"
MARIADB, POSTGRESQL = "MariaDB", "PostgreSQL"
BLUE, ORANGE, GREY, RED = "#2a7ab9", "#e08a2c", "#9aa5b1", "#c0392b"
LIGHT = "#d5dbe1"  # the minimal pool: the floor, not a product
#: The minimal pool's row and runs (targets.MINIMAL_ROW, contention.MINIMAL_OF_4).
MINIMAL, MINIMAL_RUNS = "minimal pool", "minimal of 4"
#: Issue 13's ratio target (targets.OURS_PER_PERSISTENT), drawn on the side-by-side panel.
TARGET_OURS_PER_PERSISTENT = 1.25


def server_of(config: dict[str, Any]) -> str:
    return str(config.get("server", MARIADB))


def persistent_of(configs: list[dict[str, Any]], server: str) -> float:
    return float(
        next(
            c["us_per_request"]
            for c in configs
            if server_of(c) == server and "persistent (CONN_MAX_AGE=None)" in c["name"]
        )
    )


def is_pool(config: dict[str, Any]) -> bool:
    name = str(config["name"])
    return name.startswith(OURS) or name.startswith("PostgreSQL, Django")


def colour(config: dict[str, Any]) -> str:
    if config["name"].startswith(OURS):
        return BLUE
    if config["name"].startswith(MINIMAL):
        return LIGHT
    return ORANGE if is_pool(config) else GREY


def label(config: dict[str, Any], persistent: float) -> str:
    us = config["us_per_request"]
    text = f"{us:.0f} µs · {us / persistent:.2f}× its persistent"
    if config.get("statements_per_request") is not None:
        text += (
            f" · {config['statements_per_request']:.2f} statements · "
            f"{config['connections_per_request']:.2f} new connections"
        )
    return text


def rows(configs: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any] | None]]:
    """Top to bottom: a heading row per server, then that server's configurations."""
    found: list[tuple[str, dict[str, Any] | None]] = []
    for server in (MARIADB, POSTGRESQL):
        members = [c for c in configs if server_of(c) == server]
        if members:
            heading = server if server == MARIADB else f"{server} (reference: Django's own pool)"
            found.append((heading, None))
            found += [(c["name"], c) for c in members]
    return found


def floors(results: dict[str, Any]) -> dict[str, float]:
    """Per server: persistent + Django's own connect() and close(), when measured."""
    configs = results["configurations"]
    found = {MARIADB: persistent_of(configs, MARIADB) + results["django_connect_floor_us"]}
    postgresql = results.get("breakdown", {}).get(POSTGRESQL)
    if postgresql:
        found[POSTGRESQL] = persistent_of(configs, POSTGRESQL) + postgresql["django_connect_close"]
    return found


def draw_row(
    axes: Axes,
    position: int,
    config: dict[str, Any],
    persistent: float,
    floor: float | None,
    gap: float,
) -> None:
    """One configuration's bar, its label and its share of its database's floor line."""
    axes.barh(
        position, config["us_per_request"], xerr=config["spread"], color=colour(config), capsize=3
    )
    axes.text(
        config["us_per_request"] + config["spread"] + gap,
        position,
        label(config, persistent),
        va="center",
        fontsize=7,
    )
    if floor is not None:
        axes.vlines(floor, position - 0.5, position + 0.5, color=RED, linestyle="--", linewidth=1)


def draw_requests(axes: Axes, results: dict[str, Any]) -> None:
    configs = results["configurations"]
    ordered = rows(configs)
    positions = list(range(len(ordered)))[::-1]
    gap = max(c["us_per_request"] for c in configs) * 0.01
    # The longest label takes over half the width: every label starts well left of the middle.
    right = 2.2 * (max(c["us_per_request"] + c["spread"] for c in configs) + gap)
    floor_of = floors(results)
    for position, (name, config) in zip(positions, ordered, strict=True):
        if config is None:  # a group heading
            axes.text(gap / 2, position, name, fontweight="bold", fontsize=9, va="center")
        else:
            server = server_of(config)
            draw_row(
                axes, position, config, persistent_of(configs, server), floor_of.get(server), gap
            )
    axes.set_yticks(positions, [name if config else "" for name, config in ordered], fontsize=8)
    axes.tick_params(axis="y", length=0)
    floor_note = "dashed: persistent + Django's own connect() and close(), each database's floor"
    axes.text(right * 0.98, positions[-1] - 0.9, floor_note, color=RED, fontsize=7, ha="right")
    axes.set_xlabel("µs per request (one SELECT 1 through Django), median of rounds")
    axes.set_xlim(0, right)
    axes.set_ylim(-1.3, len(ordered) - 0.5)


def pool_ratios(results: dict[str, Any]) -> dict[str, float]:
    """Each database's pool ÷ its own persistent connection (older files: MariaDB only),
    and the minimal pool's where it ran."""
    configs = results["configurations"]
    saved = results.get("pooled_per_persistent")
    if saved:
        found = {server: figures["ratio"] for server, figures in saved.items()}
    else:
        ours = next(c["us_per_request"] for c in configs if c["name"] == OURS)
        found = {MARIADB: ours / persistent_of(configs, MARIADB)}
    for config in configs:
        if config["name"].startswith(MINIMAL):
            found[MINIMAL] = config["us_per_request"] / persistent_of(configs, MARIADB)
    return found


def draw_ratios(axes: Axes, results: dict[str, Any]) -> None:
    ratios = pool_ratios(results)
    names = {
        MARIADB: f"MariaDB: {OURS}",
        POSTGRESQL: "PostgreSQL: Django's pool",
        MINIMAL: "MariaDB: minimal pool (checks nothing)",
    }
    colours = {MARIADB: BLUE, POSTGRESQL: ORANGE, MINIMAL: LIGHT}
    servers = [server for server in (MARIADB, POSTGRESQL, MINIMAL) if server in ratios][::-1]
    axes.barh(
        range(len(servers)),
        [ratios[s] for s in servers],
        color=[colours[s] for s in servers],
    )
    axes.set_yticks(range(len(servers)), [names[s] for s in servers], fontsize=8)
    for position, server in enumerate(servers):
        axes.text(
            ratios[server] + 0.02, position, f"{ratios[server]:.2f}×", va="center", fontsize=8
        )
    axes.axvline(1, color="black", linewidth=0.8)
    axes.axvline(TARGET_OURS_PER_PERSISTENT, color=RED, linestyle="--", linewidth=1)
    axes.set_xlim(0, max([*ratios.values(), TARGET_OURS_PER_PERSISTENT]) * 1.25)
    axes.set_xlabel(
        f"pooled ÷ its own database's persistent connection, same run "
        f"(dashed: target ≤ {TARGET_OURS_PER_PERSISTENT})"
    )


def thread_colour(name: str) -> str:
    if "persistent" in name:
        return GREY
    return LIGHT if MINIMAL_RUNS in name else BLUE


def draw_threads(axes: Axes, results: dict[str, Any]) -> None:
    threaded = results["threaded"][::-1]
    rates = [t["median"] for t in threaded]
    axes.barh(
        range(len(threaded)),
        rates,
        color=[thread_colour(t["name"]) for t in threaded],
    )
    axes.set_yticks(range(len(threaded)), [t["name"] for t in threaded], fontsize=8)
    for position, run in enumerate(threaded):
        text = f"{run['median']:.0f}"
        if "wait_ms_max" in run:
            text += f" · wait p99 {run['wait_ms_p99']:.1f} ms, max {run['wait_ms_max']:.0f} ms"
        axes.text(run["median"] + max(rates) * 0.01, position, text, va="center", fontsize=7)
    axes.set_xlabel("MariaDB: requests per second, all threads together (median of runs)")
    axes.set_xlim(0, max(rates) * 1.6)


def title(about: dict[str, Any]) -> str:
    lines = [
        f"{about['machine']} · Python {about['python']} · Django {about['django']} · "
        f"SQLAlchemy {about['sqlalchemy']} · mysqlclient {about['mysqlclient']}",
        f"MariaDB {about['server']} on loopback · measured {about['date']} with make bench",
    ]
    if "postgresql" in about:
        lines.append(
            f"PostgreSQL {about['postgresql']} on loopback (throwaway cluster) · psycopg "
            f"{about['psycopg']} · psycopg_pool {about['psycopg_pool']}"
        )
    return "\n".join(lines)


def draw(results: dict[str, Any], output: Path) -> None:
    request_rows = len(rows(results["configurations"]))
    ratio_rows = len(pool_ratios(results))
    thread_rows = len(results["threaded"])
    figure, (requests, ratios, threads) = plt.subplots(
        3,
        1,
        figsize=(10, 2.2 + 0.3 * (request_rows + ratio_rows + thread_rows) + 1.2),
        gridspec_kw={"height_ratios": [request_rows + 1.5, ratio_rows + 1, thread_rows + 1]},
    )
    draw_requests(requests, results)
    draw_ratios(ratios, results)
    draw_threads(threads, results)
    figure.suptitle(title(results["environment"]), fontsize=8)
    figure.tight_layout()
    output.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(output, dpi=110)


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    draw(json.loads(Path(sys.argv[1]).read_text()), Path(sys.argv[2]))
    print(f"chart written to {sys.argv[2]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
