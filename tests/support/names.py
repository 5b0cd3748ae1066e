"""Names a test run creates on the shared server, all derived from one per-run prefix.

Two runs on one server (or a run next to an application's own tables) never collide:
every database, table, user and lock name a test creates comes from ``unique()``.
"""

from __future__ import annotations

import os
import secrets

#: Short enough to leave room in MySQL's 64-character identifiers. Processes a test
#: starts (gunicorn workers, Django's test runner) inherit it through the environment.
RUN_PREFIX = os.environ.setdefault(
    "MYSQLPOOL_TEST_PREFIX", f"mp{os.getpid()}{secrets.token_hex(2)}"
)


def unique(name: str) -> str:
    """``name`` made this run's own: ``<prefix>_<name>``."""
    return f"{RUN_PREFIX}_{name}"
