"""The housekeeper: one per process, started only when there is work, never in a child
by inheritance, and it never touches a parent's connections from a forked child."""

from __future__ import annotations

from tests.support.scenarios import run_scenario


def test_a_forked_child_has_no_housekeeper_of_its_parent_and_warms_up_its_own_pool():
    report = run_scenario("tests.housekeeper_fork_scenario")

    # The parent opened a connection beyond min_idle: its housekeeper runs.
    assert report["parent_running"]
    assert "django-mysqlpool housekeeper" in report["parent_threads"]
    # The child starts without it (threads do not survive fork) and with no pool.
    child = report["child"]
    assert not child["running_after_fork"]
    assert "django-mysqlpool housekeeper" not in child["threads_after_fork"]
    # warm_up() in the child opened min_idle connections of its own, in parallel.
    assert child["warmed"] == [2, 2, 2]
    assert child["child_id"] not in report["parent_ids"]
    # The child exited through sys.exit: every parent connection is alive and reused.
    assert report["parent_ids_alive"] == [True, True, True]
    assert report["parent_reuses"]


EXIT_SCRIPT = """
import os, threading, django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
django.setup()
from django.db import connections
from django_mysqlpool.pool import housekeeping

def borrow():
    connections["default"].ensure_connection()
    connections["default"].close()

thread = threading.Thread(target=borrow)  # a borrow off the main thread starts it
thread.start()
thread.join()
assert housekeeping.running()
print("housekeeper running; exiting")
"""


def test_the_housekeeper_ends_with_the_interpreter():
    import subprocess
    import sys
    import time

    from tests.support.scenarios import ROOT

    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-c", EXIT_SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    took = time.monotonic() - started
    print(f"a process whose housekeeper ran exited in {took:.2f} s")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "housekeeper running; exiting" in result.stdout
    assert "Traceback" not in result.stderr  # no error from the thread at shutdown
