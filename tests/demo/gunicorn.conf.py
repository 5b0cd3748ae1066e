"""gunicorn hooks for the demo: after the last worker is gone, ask the master's connection.

DEMO_MASTER_CHECK_FILE, if set, receives one JSON object: {"ok": true, "connection_id": N}
when the connection the master opened before forking still answers a query, else
{"ok": false, "error": "..."}. Workers exit through sys.exit, the moment an inherited
socket is most at risk, so this runs after all of them exited.
"""

from __future__ import annotations

import os

if os.environ.get("DEMO_GEVENT"):
    # With --preload the app (and Django's thread-locals) is imported in the master, before
    # gevent's worker would patch: patch here, first, as gevent recommends.
    from gevent import monkey

    monkey.patch_all()

import json  # noqa: E402
from typing import Any  # noqa: E402


def on_exit(server: Any) -> None:
    check_file = os.environ.get("DEMO_MASTER_CHECK_FILE")
    if not check_file:
        return
    from django.db import connection

    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT CONNECTION_ID()")
            result: dict[str, Any] = {"ok": True, "connection_id": cursor.fetchone()[0]}
    except Exception as error:  # what the master would see on its next query
        result = {"ok": False, "error": f"{type(error).__module__}.{type(error).__name__}: {error}"}
    with open(check_file, "w") as out:
        json.dump(result, out)


def post_worker_init(worker: Any) -> None:
    """DEMO_WARM_UP set: each worker opens its pool's min_idle connections at start
    (docs/deployment.rst, "Opening connections before the first request")."""
    if os.environ.get("DEMO_WARM_UP"):
        import django_mysqlpool

        django_mysqlpool.warm_up(timeout=10)


def child_exit(server: Any, worker: Any) -> None:
    """prometheus_client's multiprocess mode: a dead worker's live gauges go away."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
