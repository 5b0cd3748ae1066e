"""Django's test runner and pytest-django create and destroy test databases cleanly."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.db import connection

import django_mysqlpool
from tests.settings import DB_NAME
from tests.support.names import unique

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.django_db(transaction=True)
def test_pytest_django_test_database_is_pooled():
    Group.objects.create(name="pooled")
    assert connection.settings_dict["NAME"] == unique(f"test_{DB_NAME}")
    stats = django_mysqlpool.pool_stats("default")
    assert stats is not None and stats["borrowed"] >= 1


@pytest.mark.slow
def test_django_test_runner_with_parallel_workers_creates_and_drops_test_databases(observer):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "django",
            "test",
            "tests.runner_project.cases",
            "--settings",
            "tests.runner_project.settings",
            "--parallel",
            "2",
            "--noinput",
            "-v",
            "2",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Ran 3 tests" in result.stderr
    assert "OK" in result.stderr
    assert "Cloning test database" in result.stderr  # the parallel, forked path ran
    assert observer.query("SHOW DATABASES LIKE %s", (unique("runner%"),)) == []
