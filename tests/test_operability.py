"""The optional app: system checks with ids, and ``manage.py mysqlpool status``."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from django.core import checks
from django.core.management import CommandError, call_command

from tests.server import connection_id


def ids(messages) -> list[str]:
    return sorted(message.id for message in messages if message.id.startswith("mysqlpool."))


def pooled_database(settings, **changes):
    database = {**settings.DATABASES["default"], **changes}
    return {"default": settings.DATABASES["default"], "shop": database}


# The checks read settings.DATABASES itself; Django warns that other code may not follow.
overriding_databases = pytest.mark.filterwarnings("ignore:Overriding setting DATABASES")


@overriding_databases
def test_settings_checks_name_each_problem_with_its_id(settings):
    settings.DATABASES = pooled_database(
        settings,
        CONN_MAX_AGE=60,
        CONN_HEALTH_CHECKS=True,
        OPTIONS={"pool": {"pool_size": "ten", "use_threadlocal": True}},
    )
    messages = checks.run_checks(tags=["mysqlpool"])
    assert ids(messages) == ["mysqlpool.E001", "mysqlpool.W001", "mysqlpool.W002", "mysqlpool.W003"]
    by_id = {message.id: message for message in messages}
    assert "OPTIONS']['pool']['pool_size'] must be an int" in by_id["mysqlpool.E001"].msg
    assert "CONN_MAX_AGE'] is 60" in by_id["mysqlpool.W001"].msg
    assert "['use_threadlocal']" in by_id["mysqlpool.W003"].msg
    assert all(message.obj == "DATABASES['shop']" for message in messages)


@overriding_databases
def test_a_plain_or_unpooled_alias_is_not_checked(settings):
    settings.DATABASES = {
        "default": settings.DATABASES["default"],
        "plain": {
            **settings.DATABASES["default"],
            "ENGINE": "django.db.backends.mysql",
            "CONN_MAX_AGE": 60,
        },
        "off": {**settings.DATABASES["default"], "CONN_MAX_AGE": 60, "OPTIONS": {"pool": False}},
    }
    assert ids(checks.run_checks(tags=["mysqlpool"])) == []


def test_database_checks_compare_with_the_server_only_when_asked(settings):
    settings.MYSQLPOOL_ARGUMENTS = {"pool_size": 200, "max_overflow": 0, "recycle": 99999}
    assert ids(checks.run_checks()) == []  # manage.py check without --database: no server
    messages = checks.run_checks(tags=[checks.Tags.database], databases=["default"])
    assert ids(messages) == ["mysqlpool.W004", "mysqlpool.W005"]
    by_id = {message.id: message for message in messages}
    assert "may open 200 connections" in by_id["mysqlpool.W004"].msg
    assert "max_connections (151)" in by_id["mysqlpool.W004"].msg
    assert "recycle is 99999 s" in by_id["mysqlpool.W005"].msg


def test_a_missing_client_library_capability_is_reported_by_check_and_status(monkeypatch):
    from django_mysqlpool.connection import driver

    monkeypatch.setattr(driver, "disabled", {"session_tracking"})
    messages = checks.run_checks(tags=[checks.Tags.database], databases=["default"])
    assert ids(messages) == ["mysqlpool.W006"]
    assert "lacks session_tracking: session changes are judged" in messages[0].msg
    assert "client library lacks session_tracking" in run_status()


def run_status(*args: str) -> str:
    out = io.StringIO()
    call_command("mysqlpool", "status", *args, stdout=out)
    return out.getvalue()


def test_status_json_reports_settings_pool_server_and_sizing():
    from django.db import connection

    held = connection_id(connection)  # this process has a pool, with one borrowed
    data = json.loads(run_status("--json", "--processes", "20", "--database", "default"))
    connection.close()

    assert data["version"] == 1 and data["processes"] == 20
    [found] = data["aliases"]
    assert found["alias"] == "default" and found["target"].startswith("root@127.0.0.1:3306/")
    assert found["settings"]["pool_size"] == 5 and found["settings"]["max_overflow"] == 10
    assert found["pool"]["checked_out"] == 1
    server = found["server"]
    assert server["max_connections"] == 151 and server["threads_connected"] >= 1
    clients = server["connections_by_user_and_host"]
    assert any(c["user"] == "root" and c["host"] == "127.0.0.1" for c in clients)
    assert found["sizing"] == {
        "per_process": 15,
        "processes": 20,
        "total": 300,
        "max_connections": 151,
        "fits": False,
    }
    assert held


def test_status_text_says_whether_the_processes_fit():
    text = run_status("--processes", "4")
    assert "default: root@127.0.0.1:3306/" in text
    assert (
        "sizing: 4 process(es) × 15 (pool_size + max_overflow) = 60 of max_connections 151" in text
    )
    assert "fits, 91 to spare" in text
    assert "DOES NOT FIT" in run_status("--processes", "11")


def test_status_rejects_an_unknown_alias_and_a_bad_process_count():
    with pytest.raises(CommandError, match="--database 'nope' is not in DATABASES"):
        run_status("--database", "nope")
    with pytest.raises(CommandError, match="--processes must be 1 or more"):
        run_status("--processes", "0")


def test_the_status_sample_in_the_docs_has_the_fields_the_command_prints():
    docs = (Path(__file__).resolve().parent.parent / "docs" / "operations.rst").read_text()
    printed = run_status()
    for head, field in (("settings: ", r"(\w+)="), ("this process: ", r"\d+ (\w+)")):
        [sample] = [line for line in docs.splitlines() if line.startswith(f"      {head}")]
        [real] = [line for line in printed.splitlines() if line.startswith(f"  {head}")]
        assert re.findall(field, sample) == re.findall(field, real), (sample, real)
