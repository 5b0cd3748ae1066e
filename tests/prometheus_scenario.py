"""Run by test_prometheus.py: forked workers publish, the parent scrapes the sum.

What gunicorn does in prometheus_client's multiprocess mode: workers forked from one
master write their figures to PROMETHEUS_MULTIPROC_DIR, a scrape adds them up.
Prints the scraped text.
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
assert os.environ.get("PROMETHEUS_MULTIPROC_DIR"), "set PROMETHEUS_MULTIPROC_DIR"

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from prometheus_client import CollectorRegistry, generate_latest  # noqa: E402
from prometheus_client.multiprocess import MultiProcessCollector  # noqa: E402

from django_mysqlpool import prometheus  # noqa: E402

WORKERS = 3


def worker(ready: int, go: int) -> None:
    with connection.cursor() as cursor:  # borrowed, and held while the parent scrapes
        cursor.execute("SELECT 1")
        prometheus.publish()
        os.write(ready, b"x")
        os.read(go, 1)
    connection.close()
    os._exit(0)


def main() -> int:
    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()
    children = []
    for _ in range(WORKERS):
        pid = os.fork()
        if pid == 0:
            worker(ready_w, go_r)
        children.append(pid)
    for _ in range(WORKERS):
        os.read(ready_r, 1)
    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    scraped = generate_latest(registry).decode()
    os.write(go_w, b"x" * WORKERS)
    statuses = [os.waitpid(pid, 0)[1] for pid in children]
    sys.stdout.write(scraped)
    return 0 if all(status == 0 for status in statuses) else 1


if __name__ == "__main__":
    sys.exit(main())
