"""``make bench-chart``: draw the figures ``bench.py --save`` wrote as the README's PNG.

Usage: ``python benchmarks/chart.py RESULTS.json OUTPUT.png``
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display on servers and CI

import matplotlib.pyplot as plt  # noqa: E402

OURS = "django-mysqlpool"


def draw(results: dict[str, Any], output: Path) -> None:
    configs = results["configurations"]
    names = [c["name"] for c in configs]
    medians = [c["us_per_request"] for c in configs]
    spreads = [c["spread"] for c in configs]
    colours = ["#2a7ab9" if c["name"].startswith(OURS) else "#9aa5b1" for c in configs]
    persistent = next(c["us_per_request"] for c in configs if c["name"].startswith("persistent"))
    floor = persistent + results["django_connect_floor_us"]

    figure, (requests, threads) = plt.subplots(
        2, 1, figsize=(9, 6.4), gridspec_kw={"height_ratios": [3, 1.3]}
    )
    positions = range(len(configs))[::-1]
    requests.barh(positions, medians, xerr=spreads, color=colours, capsize=3)
    requests.set_yticks(list(positions), names)
    for position, config in zip(positions, configs, strict=True):
        requests.text(
            config["us_per_request"] + config["spread"] + 6,
            position,
            f"{config['us_per_request']:.0f} µs · {config['statements_per_request']:.2f} "
            f"statements · {config['connections_per_request']:.2f} new connections",
            va="center",
            fontsize=8,
        )
    requests.axvline(floor, color="#c0392b", linestyle="--", linewidth=1)
    requests.text(
        floor + 6,
        -0.75,
        "floor: persistent + Django's own connect() and close()",
        color="#c0392b",
        fontsize=7,
        va="center",
    )
    requests.set_xlabel("µs per request (one SELECT 1 through Django), median of rounds")
    requests.set_xlim(0, max(medians) * 1.9)
    requests.set_ylim(-1.1, len(configs) - 0.5)

    threaded = results["threaded"]
    labels = [t["name"] for t in threaded][::-1]
    rates = [t["median"] for t in threaded][::-1]
    threads.barh(range(len(threaded)), rates, color=["#9aa5b1", "#2a7ab9"])
    threads.set_yticks(range(len(threaded)), labels)
    threads.set_xlabel("requests per second, all threads together")
    for position, rate in enumerate(rates):
        threads.text(rate + 100, position, f"{rate:.0f}", va="center", fontsize=8)
    threads.set_xlim(0, max(rates) * 1.2)

    about = results["environment"]
    figure.suptitle(
        f"{about['machine']} · Python {about['python']} · Django {about['django']} · "
        f"SQLAlchemy {about['sqlalchemy']} · mysqlclient {about['mysqlclient']}\n"
        f"MariaDB {about['server']} on loopback · measured {about['date']} with make bench",
        fontsize=8,
    )
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
