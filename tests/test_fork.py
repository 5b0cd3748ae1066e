"""A forked child never touches its parent's sockets; both keep working."""

from __future__ import annotations

from pathlib import Path

import MySQLdb
import pytest

from django_mysqlpool.connection import driver
from tests.support.scenarios import run_scenario as run_in_fresh_interpreter

ROOT = Path(__file__).resolve().parent.parent


def run_scenario(mode: str) -> dict:
    return run_in_fresh_interpreter(
        "tests.fork_scenario", mode, env={"PYTHONWARNINGS": "error::ResourceWarning"}
    )


@pytest.mark.parametrize("exit_mode", ["sys.exit", "os._exit", "return"])
def test_os_fork_children_leave_the_parents_connections_alive(exit_mode):
    report = run_scenario(exit_mode)
    parent_ids = {report["parent_id"], report["idle_id"]}
    child_ids = {child["id"] for child in report["children"]}

    assert len(report["children"]) == 3
    assert len(child_ids) == 3 and not child_ids & parent_ids  # fresh, empty pools
    assert [child["lent_by_own_pool"] for child in report["children"]] == [1, 1, 1]
    assert report["parent_alive"] and report["idle_alive"]
    assert report["parent_id_after"] == report["parent_id"]
    assert report["idle_id_after"] == report["idle_id"]  # the idle pooled one is reused


@pytest.mark.skipif(
    driver.is_pymysql(MySQLdb),
    reason="a dropped PyMySQL connection sends no COM_QUIT: the hazard shown is mysqlclient's",
)
def test_canary_a_connection_opened_around_the_pool_dies_when_a_child_drops_it():
    """Proves the hazard is real and that the checks above would see it."""
    report = run_scenario("canary")
    assert report["untracked_alive"] is False
    assert report["parent_alive"] and report["idle_alive"]
