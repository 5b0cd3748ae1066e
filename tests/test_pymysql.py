"""PyMySQL, installed as MySQLdb before Django loads the backend, is pooled the same way."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.scenarios import run_scenario

ROOT = Path(__file__).resolve().parent.parent


def test_pymysql_connections_are_pooled_checked_and_fork_safe():
    report = run_scenario("tests.pymysql_scenario")

    assert report["module"] == "pymysql"
    assert report["reused"] == report["first"]
    assert report["after_kill"] != report["reused"]
    assert report["killed_error"] == ["OperationalError", 2013]
    assert report["child"] != report["held"]
    assert report["parent_after_fork"] == report["held"]
    assert report["parent_alive"]
    assert report["stats"]["discarded"] == 2


def test_clean_sessions_stale_handles_production_paths_and_plain_parity_hold_under_pymysql():
    """The same behaviour modules, run again with PyMySQL installed as MySQLdb."""
    modules = ["tests/test_plain_parity.py", "tests/test_clean_sessions.py"]
    result = subprocess.run(
        # PyMySQL's streamed results warn when collected after their connection closed
        # (as with the plain engine); pytest's report of those trips a CPython 3.11 bug
        # ("AST constructor recursion depth mismatch"), so that plugin stays off here.
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:unraisableexception",
            *modules,
            "tests/test_stale_handles.py",
            "tests/test_production_paths.py",
            "tests/test_ended_threads.py",
            "tests/test_documented_differences.py",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "MYSQLPOOL_TEST_DRIVER": "pymysql"},
    )
    assert result.returncode == 0, result.stdout[-4000:]
    assert " passed" in result.stdout.splitlines()[-1]
