"""Run by test_fork.py in a fresh interpreter: fork with pooled connections, report facts.

A child that exits through ``sys.exit`` must do so outside pytest, hence a script. It
prints one JSON object: server connection ids seen by the parent and the children, and
which of the parent's ids are still alive on the server after the children exited.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sys

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
django.setup()

from django.db import connection, connections  # noqa: E402

import django_mysqlpool  # noqa: E402
from tests.server import Observer, connect_plain, connection_id  # noqa: E402


def child_work(exit_mode: str, write_fd: int) -> None:
    child_id = connection_id(connection)
    # The child's own pool lends it (the wrapper last borrowed from the parent's).
    lent = django_mysqlpool.pool_stats("default")["checked_out"]
    connection.close()
    line = {"pid": os.getpid(), "id": child_id, "lent_by_own_pool": lent}
    os.write(write_fd, json.dumps(line).encode() + b"\n")
    if exit_mode == "sys.exit":
        sys.exit(0)
    if exit_mode == "os._exit":
        os._exit(0)
    raise SystemExit(0)  # "return": unwinds like a normal end of the program


def child_id_via_orm(_: int) -> tuple[int, int]:
    return os.getpid(), connection_id(connection)


def main(exit_mode: str) -> None:
    parent_id = connection_id(connection)  # held by this thread's Django wrapper
    other = connections.create_connection("default")  # a second borrower, given back idle
    idle_id = connection_id(other)
    other.close()
    untracked = connect_plain() if exit_mode == "canary" else None
    untracked_id = untracked.thread_id() if untracked else None

    children: list[dict[str, int]] = []
    if exit_mode == "multiprocessing":
        with multiprocessing.get_context("fork").Pool(2) as workers:
            for pid, child_id in workers.map(child_id_via_orm, range(8)):
                children.append({"pid": pid, "id": child_id})
    else:
        read_fd, write_fd = os.pipe()
        pids = []
        for _ in range(3):
            pid = os.fork()
            if pid == 0:
                os.close(read_fd)
                if untracked is not None:
                    del untracked  # the child drops a connection it does not own
                    import gc

                    gc.collect()
                child_work("sys.exit" if exit_mode == "canary" else exit_mode, write_fd)
            pids.append(pid)
        os.close(write_fd)
        for pid in pids:
            os.waitpid(pid, 0)
        with os.fdopen(read_fd) as lines:
            children = [json.loads(line) for line in lines]

    observer = Observer()  # opened after the forks: the children never had it
    alive = observer.connection_ids()
    report = {
        "parent_id": parent_id,
        "idle_id": idle_id,
        "children": children,
        "parent_alive": parent_id in alive,
        "idle_alive": idle_id in alive,
        "parent_id_after": connection_id(connection),
        "idle_id_after": connection_id(other),
        "untracked_alive": (not observer.is_gone(untracked_id)) if untracked_id else None,
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main(sys.argv[1])
