"""Run by test_housekeeping.py in a fresh interpreter: a parent whose housekeeper runs
forks a child that warms its own pool up; prints one JSON object of facts.

The parent opens a surplus beyond ``min_idle`` (so its housekeeper starts), forks, and
the child (as a preforked worker's ``post_worker_init`` would) calls ``warm_up()``, waits
longer than ``max_idle`` and exits through ``sys.exit`` (as gunicorn's workers do). The
report says which threads each process had, the connection ids each used, and whether
the parent's connections survived the child.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
django.setup()

from django.db import connections  # noqa: E402

import django_mysqlpool  # noqa: E402
from django_mysqlpool.pool import housekeeping  # noqa: E402
from tests.server import Observer, connection_id  # noqa: E402

POOL = {"pool_size": 2, "max_overflow": 2, "min_idle": 2, "max_idle": 30}


def thread_names() -> list[str]:
    return sorted(thread.name for thread in threading.enumerate())


def child(write_fd: int) -> None:
    report = {"threads_after_fork": thread_names(), "running_after_fork": housekeeping.running()}
    django_mysqlpool.warm_up("default", timeout=10)
    [stats] = django_mysqlpool.pool_stats()
    report["warmed"] = (stats["size"], stats["idle"], stats["created"])
    wrapper = connections["default"]
    report["child_id"] = connection_id(wrapper)
    wrapper.close()
    os.write(write_fd, json.dumps(report).encode() + b"\n")
    sys.exit(0)


def main() -> None:
    connections.settings["default"]["OPTIONS"] = {"pool": POOL}
    held = [connections.create_connection("default") for _ in range(3)]  # 3 > min_idle 2
    parent_ids = [connection_id(wrapper) for wrapper in held]
    for wrapper in held:
        wrapper.close()
    time.sleep(0.1)
    report: dict[str, object] = {
        "parent_ids": parent_ids,
        "parent_threads": thread_names(),
        "parent_running": housekeeping.running(),
    }
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        child(write_fd)
    os.close(write_fd)
    os.waitpid(pid, 0)
    with os.fdopen(read_fd) as lines:
        report["child"] = json.loads(lines.readline())
    alive = Observer().connection_ids()
    report["parent_ids_alive"] = [connection_id in alive for connection_id in parent_ids]
    again = connections.create_connection("default")
    report["parent_reuses"] = connection_id(again) in parent_ids
    again.close()
    print(json.dumps(report))


if __name__ == "__main__":
    main()
