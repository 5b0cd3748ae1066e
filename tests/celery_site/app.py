"""A Celery app for tests/test_deployments.py: ``celery -A tests.celery_site.app worker``.

Broker and results: the machine's Redis (CELERY_BROKER), on a queue of the test's own
(CELERY_QUEUE). Like a gunicorn master with --preload, the main worker process opens a
pooled connection before it forks its pool processes; at shutdown it records whether
that connection still answers (CELERY_MASTER_CHECK_FILE).
"""

from __future__ import annotations

import json
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django  # noqa: E402

django.setup()

from celery import Celery, signals  # noqa: E402
from django.db import connection  # noqa: E402

from django_mysqlpool import auto_close_db  # noqa: E402

BROKER = os.environ.get("CELERY_BROKER", "redis://127.0.0.1:6379/0")
QUEUE = os.environ.get("CELERY_QUEUE", "mysqlpool-test")

app = Celery("mysqlpool_test", broker=BROKER, backend=BROKER)
app.conf.update(
    task_default_queue=QUEUE,
    worker_prefetch_multiplier=1,
    broker_connection_retry_on_startup=True,
    result_expires=300,
)


def connection_id() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT CONNECTION_ID()")
        return int(cursor.fetchone()[0])


@app.task(name="mysqlpool.which_connection")
@auto_close_db  # the recipe: tasks run outside Django's request cycle
def which_connection() -> dict[str, int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT CONNECTION_ID(), SLEEP(0.05)")
        return {"pid": os.getpid(), "connection_id": int(cursor.fetchone()[0])}


@signals.worker_init.connect
def hold_a_connection_in_the_main_process(**kwargs: object) -> None:
    master = connection_id()
    path = os.environ.get("CELERY_MASTER_CHECK_FILE")
    if path:
        with open(path + ".id", "w") as out:
            out.write(str(master))


@signals.worker_shutdown.connect
def check_the_main_process_connection(**kwargs: object) -> None:
    path = os.environ.get("CELERY_MASTER_CHECK_FILE")
    if not path:
        return
    try:
        result: dict[str, object] = {"ok": True, "connection_id": connection_id()}
    except Exception as error:
        result = {"ok": False, "error": f"{type(error).__name__}: {error}"}
    with open(path, "w") as out:
        json.dump(result, out)
