"""What one benchmarked request is, and how a configuration becomes a Django connection.

Importing this module sets Django up with the test settings (the MariaDB the tests use).
"""

from __future__ import annotations

import os
import statistics
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db.utils import ConnectionHandler  # noqa: E402

PLAIN = "django.db.backends.mysql"
POOLED = "django_mysqlpool.backends.mysqlpool"
DBCP = "dj_db_conn_pool.backends.mysql"
MARIADB = "MariaDB"
POSTGRESQL = "PostgreSQL"


@dataclass
class Config:
    name: str
    engine: str
    extra: dict[str, Any] = field(default_factory=dict)
    persistent: bool = False
    #: The request also sets a user variable: with reset="auto" the give-back resets it.
    leaves_state: bool = False
    #: Which server: the MariaDB rows carry server counters, the PostgreSQL ones do not.
    server: str = MARIADB
    #: The DATABASES entry to start from; None for the test settings' MariaDB.
    base: dict[str, Any] | None = None
    #: What the configuration's requests run inside (the minimal pool swaps itself in).
    context: Callable[[], AbstractContextManager[Any]] = nullcontext
    samples: list[float] = field(default_factory=list)
    statements: list[float] = field(default_factory=list)
    connections: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.samples)


def mariadb_database() -> dict[str, Any]:
    return {**settings.DATABASES["default"], "NAME": settings.DB_NAME}


def wrapper_for(config: Config, alias: str = "default") -> Any:
    database = {**(config.base or mariadb_database()), "ENGINE": config.engine}
    database.update(config.extra)
    return ConnectionHandler({"default": database, alias: database})[alias]


def run_query(wrapper: Any, leaves_state: bool) -> None:
    with wrapper.cursor() as cursor:
        if leaves_state:
            cursor.execute("SET @request_state = 1")
        cursor.execute("SELECT 1")
        cursor.fetchone()


def finish(wrapper: Any, persistent: bool) -> None:
    if persistent:
        wrapper.close_if_unusable_or_obsolete()  # request_finished keeps it
    else:
        wrapper.close()


def one_request(wrapper: Any, persistent: bool, leaves_state: bool = False) -> None:
    """What Django does for one HTTP request that runs one ``SELECT 1``."""
    wrapper.close_if_unusable_or_obsolete()  # what request_started does
    run_query(wrapper, leaves_state)
    finish(wrapper, persistent)


def rotated(items: list[Any], turn: int) -> list[Any]:
    """``items`` starting at ``turn`` (modulo their number), the ones before it after."""
    if not items:
        return items
    start = turn % len(items)
    return items[start:] + items[:start]
