"""The same pooled workload on two source trees of django-mysqlpool, in alternating rounds.

For "not slower than the last release" targets: check the release out beside this tree
(``git worktree add /tmp/v1.1.0 <commit>``), then

    .venv/bin/python benchmarks/ab_trees.py /tmp/v1.1.0 .

Each round runs, in a fresh interpreter per tree, the per-statement cost (a ``SELECT 1``
through a Django cursor on a borrowed connection: the session tracking's path) and a
one-query request (borrow, query, give back), as thread CPU per operation; the trees
take turns so machine noise hits both alike. Prints the medians and the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

CHILD = r"""
import json, os, sys, time
sys.path.insert(0, sys.argv[1])
sys.path.insert(1, sys.argv[2])  # this tree's tests package, for the settings
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
import django
django.setup()
import django_mysqlpool
from django.conf import settings
from django.db.utils import ConnectionHandler
assert django_mysqlpool.__file__.startswith(sys.argv[1]), django_mysqlpool.__file__
statements, requests = int(sys.argv[3]), int(sys.argv[4])
database = {**settings.DATABASES["default"], "NAME": settings.DB_NAME,
            "ENGINE": "django_mysqlpool.backends.mysqlpool", "OPTIONS": {"pool": {"pool_size": 1}}}
wrapper = ConnectionHandler({"default": database, "ab": database})["ab"]

def per_statement():
    with wrapper.cursor() as cursor:
        for _ in range(50):
            cursor.execute("SELECT 1")
        started = time.thread_time()
        for _ in range(statements):
            cursor.execute("SELECT 1")
            cursor.fetchone()
        took = time.thread_time() - started
    wrapper.close()
    return took / statements

def per_request():
    def one():
        with wrapper.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        wrapper.close()
    for _ in range(50):
        one()
    started = time.thread_time()
    for _ in range(requests):
        one()
    return (time.thread_time() - started) / requests

print(json.dumps({"statement_us": per_statement() * 1e6, "request_us": per_request() * 1e6}))
"""


def measure(tree: Path, tests_tree: Path, statements: int, requests: int) -> dict[str, float]:
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(tree), str(tests_tree), str(statements), str(requests)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    return json.loads(result.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("baseline", type=Path, help="the tree to compare with (a release)")
    parser.add_argument("candidate", type=Path, help="this tree")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--statements", type=int, default=4000)
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    tests_tree = HERE.parent  # one settings module for both: the same server and names
    trees = {"baseline": args.baseline.resolve(), "candidate": args.candidate.resolve()}
    figures: dict[str, dict[str, list[float]]] = {
        name: {"statement_us": [], "request_us": []} for name in trees
    }
    for round_number in range(args.rounds):
        order = list(trees.items())
        if round_number % 2:
            order.reverse()
        for name, tree in order:
            found = measure(tree, tests_tree, args.statements, args.requests)
            for key, value in found.items():
                figures[name][key].append(value)
    print(f"{'thread CPU, median of ' + str(args.rounds) + ' rounds':<34}{'baseline':>10}"
          f"{'candidate':>11}{'ratio':>8}")  # fmt: skip
    for key, label in (("statement_us", "per statement (µs)"), ("request_us", "per request (µs)")):
        base = statistics.median(figures["baseline"][key])
        cand = statistics.median(figures["candidate"][key])
        print(f"{label:<34}{base:>10.2f}{cand:>11.2f}{cand / base:>8.3f}")


if __name__ == "__main__":
    main()
