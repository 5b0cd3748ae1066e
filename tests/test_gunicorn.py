"""A real ``gunicorn --preload -w 4`` with the plain backend: the hazard the pool removes.

The pooled run, 2,000 requests, is a fault scenario: tests/faults/test_forks_under_load.py.
"""

from __future__ import annotations

import pytest

from tests.demo.run_demo import PLAIN, Gunicorn, send_load

pytestmark = pytest.mark.slow


def serve(engine: str, tmp_path, database: str, requests: int):
    server = Gunicorn(engine, tmp_path, env={"MYSQLPOOL_TEST_DB": database})
    server.start()
    try:
        server.wait_ready()
        load = send_load(server.url, total=requests, threads=8, time_limit=60)
        return server, load
    except BaseException:
        server.stop()
        raise


def test_canary_with_the_plain_backend_the_masters_connection_dies(tmp_path, own_database):
    """Shows the check above can fail: Django's own backend loses the master's connection."""
    server, load = serve(PLAIN, tmp_path, own_database, requests=40)
    server.stop()
    assert load.errors == []
    check = server.master_check()
    assert check["ok"] is False and "2006" in check["error"]
