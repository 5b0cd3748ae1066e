"""Commands that fail clearly: ``manage.py check`` and ``manage.py mysqlpool status`` as a
deploy step runs them (exit status, no traceback), and the django-db-connection-pool check."""

from __future__ import annotations

import io
import json
import os
import re
import secrets
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.core import checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from tests.support.aliases import add_aliases
from tests.support.names import unique

ROOT = Path(__file__).resolve().parent.parent

#: ``manage.py`` on the test settings, with settings and DATABASES['default'] entries
#: replaced from the two JSON arguments; the rest of argv is the command line.
MANAGE = """
import json, sys
from django.conf import settings
for name, value in json.loads(sys.argv[1]).items():
    setattr(settings, name, value)
settings.DATABASES["default"].update(json.loads(sys.argv[2]))
from django.core.management import execute_from_command_line
execute_from_command_line(["manage.py", *sys.argv[3:]])
"""


def manage(*args: str, settings: Any = None, default: Any = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-c",
            MANAGE,
            json.dumps(settings or {}),
            json.dumps(default or {}),
            *args,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"},
    )


INVALID = [
    (
        {"MYSQLPOOL_ARGUMENTS": {"pool_size": "ten"}},
        {},
        "MYSQLPOOL_ARGUMENTS['pool_size'] must be an int >= 0 (0 means no limit), "
        "got the str 'ten'.",
    ),
    ({"MYSQLPOOL_ARGUMENTS": "x"}, {}, "MYSQLPOOL_ARGUMENTS must be a dict of pool arguments"),
    (
        {"MYSQLPOOL_BACKEND": "Nope"},
        {},
        "MYSQLPOOL_BACKEND must be one of 'ElasticPool', 'QueuePool'",
    ),
    (
        {},
        {"OPTIONS": {"pool": {"pool_size": "ten"}}},
        "DATABASES['default']['OPTIONS']['pool']['pool_size'] must be an int >= 0",
    ),
]


@pytest.mark.parametrize("settings_, default, message", INVALID)
@pytest.mark.parametrize("command", [["check"], ["check", "--database", "default"]])
def test_check_reports_invalid_pool_settings_as_e001_and_exits_1_without_a_traceback(
    command, settings_, default, message
):
    result = manage(*command, settings=settings_, default=default)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert "(mysqlpool.E001)" in result.stderr and message in result.stderr
    assert "System check identified 1 issue" in result.stderr


#: The test settings without the optional app: what the ENGINE does on its own.
WITHOUT_APP = {"INSTALLED_APPS": ["django.contrib.contenttypes", "django.contrib.auth"]}
MISPLACED = (
    "DATABASES['default']['OPTIONS'] has the pool arguments 'pool_size' and 'timeout', which "
    "the driver's connect() does not take: move them into "
    "DATABASES['default']['OPTIONS']['pool'], as in "
    '"OPTIONS": {"pool": {"pool_size": 3, "timeout": 4}}.'
)


@pytest.mark.parametrize("app", ["with the app", "without the app"])
@pytest.mark.parametrize("command", [["check"], ["check", "--database", "default"]])
def test_check_reports_pool_arguments_written_into_options_once_and_exits_1(command, app):
    # connect_timeout and read_timeout are the driver's: they stay where they are.
    options = {"pool_size": 3, "connect_timeout": 5, "read_timeout": 30, "timeout": 4}
    result = manage(
        *command,
        settings=WITHOUT_APP if app == "without the app" else {},
        default={"OPTIONS": options},
    )
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert f"DATABASES['default']: (mysqlpool.E001) {MISPLACED}\n" in result.stderr
    assert "System check identified 1 issue" in result.stderr  # not twice with the app


@pytest.mark.parametrize("app", ["with the app", "without the app"])
@pytest.mark.parametrize("max_age", [60, None])
def test_check_warns_once_about_conn_max_age_on_a_pooled_alias_and_exits_0(max_age, app):
    result = manage(
        "check",
        settings=WITHOUT_APP if app == "without the app" else {},
        default={"CONN_MAX_AGE": max_age},
    )
    assert result.returncode == 0, result.stderr
    assert (
        f"DATABASES['default']: (mysqlpool.W001) DATABASES['default']['CONN_MAX_AGE'] is "
        f"{max_age!r} on a pooled alias" in result.stderr
    )
    assert "System check identified 1 issue" in result.stdout + result.stderr


def test_check_says_nothing_of_the_default_conn_max_age_without_the_app():
    result = manage("check", settings=WITHOUT_APP, default={"CONN_MAX_AGE": 0})
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def test_status_reports_pool_arguments_in_options_as_invalid_settings_not_the_server():
    text = failed_status(
        False, "'default' has invalid pool settings", default={"OPTIONS": {"pool_size": 3}}
    )
    assert "settings: INVALID: DATABASES['default']['OPTIONS'] has the pool argument " in text
    assert "server:" not in text


def test_check_with_database_on_valid_settings_exits_0():
    result = manage("check", "--database", "default")
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def test_call_command_check_with_database_raises_the_e001_report_not_improperly_configured(
    settings, monkeypatch
):
    # A fresh alias: nothing has connected it, so Django's checks would have to.
    shop = {**settings.DATABASES["default"], "OPTIONS": {"pool": {"pool_size": "ten"}}}
    add_aliases(settings, monkeypatch, {"shop": shop})
    with pytest.raises(SystemCheckError) as raised:
        call_command("check", databases=["shop"])
    assert "DATABASES['shop']: (mysqlpool.E001)" in str(raised.value)
    assert "['pool_size'] must be an int >= 0" in str(raised.value)


def test_status_exits_0_and_says_whose_pools_it_shows():
    result = manage("mysqlpool", "status")
    assert result.returncode == 0, result.stderr
    assert "default: root@127.0.0.1:" in result.stdout
    assert "  this process: " in result.stdout
    assert "Pools of this process (pid " in result.stdout
    assert "not of your web workers" in result.stdout
    assert "Prometheus metrics or with django_mysqlpool.pool_stats()" in result.stdout


def failed_status(json_output: bool, problem: str, **manage_kwargs: Any) -> Any:
    """Run ``mysqlpool status`` that must exit 1 for ``problem``, saying so last on stderr
    without a traceback: the JSON report's one alias, or the text report."""
    args = ["--json"] if json_output else []
    result = manage("mysqlpool", "status", *args, **manage_kwargs)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.endswith(f"mysqlpool status: {problem}.\n")
    if not json_output:
        return result.stdout
    data = json.loads(result.stdout)
    assert data["problems"] == [problem]
    [found] = data["aliases"]
    return found


@pytest.mark.parametrize("json_output", [False, True])
def test_status_prints_the_whole_report_then_exits_1_for_invalid_settings(json_output):
    problem = "'default' has invalid pool settings"
    found = failed_status(json_output, problem, settings={"MYSQLPOOL_ARGUMENTS": "x"})
    if json_output:
        assert found["settings_error"].startswith("MYSQLPOOL_ARGUMENTS must be a dict")
    else:
        assert "settings: INVALID: MYSQLPOOL_ARGUMENTS must be a dict" in found


def closed_port() -> int:
    """A loopback port nothing listens on: bound, then closed."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("json_output", [False, True])
def test_status_prints_the_whole_report_then_exits_1_when_the_server_is_unreachable(
    json_output,
):
    port = closed_port()
    problem = "'default' cannot reach its server"
    found = failed_status(json_output, problem, default={"HOST": "127.0.0.1", "PORT": port})
    # Connection refused: 2002 from mysqlclient's client library, 2003 from PyMySQL.
    if json_output:
        assert found["target"] == f"root@127.0.0.1:{port}/{found['target'].split('/')[-1]}"
        assert re.match(r"OperationalError: \(200[23]", found["server_error"])
        assert found["server_error_kind"] == "unreachable"
        assert found["settings"]["recycle"] is None  # not derived yet; -1 would say "never"
    else:
        assert re.search(r"\n  server: unreachable: OperationalError: \(200[23]", found)
        assert (
            "\n  fix: check HOST and PORT in DATABASES['default'], and that the server is "
            "running and accepts connections from this host\n" in found
        )
        assert " recycle=None (derived from wait_timeout on the first connection) " in found
        assert "sizing: 1 process(es) × 15" in found  # the rest of the report


@pytest.fixture
def login(observer):
    """A user of this run's own, with a password and no privileges at all."""
    user, password = unique("login"), secrets.token_hex(12)
    observer.query(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'")
    yield user, password
    observer.query(f"DROP USER IF EXISTS '{user}'@'%'")


@pytest.mark.parametrize("json_output", [False, True])
@pytest.mark.parametrize(
    ("attempt", "code"), [("wrong password", 1045), ("no access to NAME", 1044)]
)
def test_status_tells_a_refused_login_from_an_unreachable_server_without_the_password(
    login, json_output, attempt, code
):
    user, password = login
    given = f"wrong-{secrets.token_hex(6)}" if attempt == "wrong password" else password
    problem = "'default' cannot log in to its server"
    args = ["--json"] if json_output else []
    result = manage("mysqlpool", "status", *args, default={"USER": user, "PASSWORD": given})
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.endswith(f"mysqlpool status: {problem}.\n")
    assert given not in result.stdout + result.stderr and password not in result.stdout
    if json_output:
        [found] = json.loads(result.stdout)["aliases"]
        assert found["server_error_kind"] == "login_refused"
        assert found["server_error"].startswith(f"OperationalError: ({code}, ")
        return
    assert f'\n  server: login refused: OperationalError: ({code}, "Access denied for user ' in (
        result.stdout
    )
    assert (
        "\n  fix: check USER and PASSWORD in DATABASES['default'], and that this user may use "
        "its NAME from this host\n" in result.stdout
    )
    assert "unreachable" not in result.stdout + result.stderr


def test_status_prints_settings_as_settings_py_spells_them():
    result = manage("mysqlpool", "status", settings={"MYSQLPOOL_ARGUMENTS": {"pool_size": 2}})
    assert result.returncode == 0, result.stderr
    [line] = [line for line in result.stdout.splitlines() if line.startswith("  settings: ")]
    assert line.startswith("  settings: ElasticPool echo=False host_backoff=5.0 hosts=None ")
    assert " pool_size=2 " in line and " reset='auto' reset_on_return='rollback' " in line
    assert re.search(r" recycle=\d+ \(derived from wait_timeout\) ", line)
    chosen = manage("mysqlpool", "status", settings={"MYSQLPOOL_ARGUMENTS": {"recycle": -1}}).stdout
    assert " recycle=-1 require=None " in chosen  # the user's own value, as written


def test_call_command_status_returns_the_report_with_its_problems(settings):
    settings.MYSQLPOOL_ARGUMENTS = "x"
    out = io.StringIO()
    call_command("mysqlpool", "status", "--json", stdout=out)
    data = json.loads(out.getvalue())
    assert data["problems"] == ["'default' has invalid pool settings"]
    assert data["pid"] == os.getpid()


# W007 reads settings.DATABASES itself; Django warns that other code may not follow.
overriding_databases = pytest.mark.filterwarnings("ignore:Overriding setting DATABASES")


def w007(settings, **database: Any) -> list[str]:
    settings.DATABASES = {
        "default": settings.DATABASES["default"],
        "shop": {**settings.DATABASES["default"], **database},
    }
    messages = checks.run_checks(tags=["mysqlpool"])
    assert all(m.obj == "DATABASES['shop']" for m in messages if m.id == "mysqlpool.W007")
    return [m.msg for m in messages if m.id == "mysqlpool.W007"]


DBCP_OPTIONS = {"POOL_SIZE": 10, "MAX_OVERFLOW": 10, "RECYCLE": 24 * 60 * 60}
SUGGESTED = 'OPTIONS["pool"] = {"pool_size": 10, "max_overflow": 10, "recycle": 86400}'


@overriding_databases
def test_pool_options_left_on_our_engine_warn_w007_with_the_equivalent_settings(settings):
    [message] = w007(settings, POOL_OPTIONS=DBCP_OPTIONS)
    assert message == (
        "DATABASES['shop']['POOL_OPTIONS'] is django-db-connection-pool's setting, which "
        f"django-mysqlpool ignores; the equivalent is {SUGGESTED}."
    )


@overriding_databases
def test_pool_options_inside_options_warn_w007_too(settings):
    options = {"POOL_OPTIONS": {"TIMEOUT": 20, "PRE_PING": True, "LIFO": True}}
    [message] = w007(settings, OPTIONS=options)
    assert message.startswith("DATABASES['shop']['OPTIONS']['POOL_OPTIONS'] is django-db-")
    assert 'OPTIONS["pool"] = {"timeout": 20, "pre_ping": True}.' in message
    assert message.endswith("No equivalent for 'LIFO': leave it out.")


@overriding_databases
def test_the_dbcp_engine_warns_w007_with_our_engine_and_its_pool_options(settings):
    [message] = w007(settings, ENGINE="dj_db_conn_pool.backends.mysql", POOL_OPTIONS=DBCP_OPTIONS)
    assert message == (
        "DATABASES['shop']['ENGINE'] is django-db-connection-pool's "
        "'dj_db_conn_pool.backends.mysql'; with django-mysqlpool: ENGINE "
        f'"django_mysqlpool.backends.mysqlpool" and {SUGGESTED}.'
    )
    [bare] = w007(settings, ENGINE="dj_db_conn_pool.backends.mysql")
    assert bare.endswith('and OPTIONS["pool"] as needed (its default pool_size 10 is 5 here).')


@overriding_databases
def test_pool_options_on_django_own_mysql_engine_are_not_ours_to_report(settings):
    assert w007(settings, ENGINE="django.db.backends.mysql", POOL_OPTIONS=DBCP_OPTIONS) == []
    assert w007(settings, OPTIONS={"pool": {"pool_size": 10}}) == []
