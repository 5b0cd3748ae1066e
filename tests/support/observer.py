"""Looking at the server from outside the pool: the facts tests and the demo assert on.

Its connection is the driver's own class, never ``MySQLdb.connect``, so the pool's patch
(and PyMySQL installed as MySQLdb) cannot change what it sees.
"""

from __future__ import annotations

import importlib
import os
import time
from typing import Any


def django_database(**extra: Any) -> dict[str, Any]:
    """A ``DATABASES`` entry for the test server."""
    params = server_params()
    return {
        "HOST": params["host"],
        "PORT": params["port"],
        "USER": params["user"],
        "PASSWORD": params["password"],
        "NAME": params["database"],
        **extra,
    }


def server_params() -> dict[str, Any]:
    """Where the test server is: MYSQLPOOL_TEST_* variables, defaulting to local root."""
    return {
        "host": os.environ.get("MYSQLPOOL_TEST_HOST", "127.0.0.1"),
        "port": int(os.environ.get("MYSQLPOOL_TEST_PORT", "3306")),
        "user": os.environ.get("MYSQLPOOL_TEST_USER", "root"),
        "password": os.environ.get("MYSQLPOOL_TEST_PASSWORD", ""),
        "database": os.environ.get("MYSQLPOOL_TEST_DB", "test"),
    }


def connect_plain(**overrides: Any) -> Any:
    """A raw driver connection that bypasses the pool."""
    import MySQLdb  # late: PyMySQL may be installed as MySQLdb after this module loads

    connection_class = importlib.import_module(MySQLdb.__name__ + ".connections").Connection
    return connection_class(**{**server_params(), "autocommit": True, **overrides})


class Observer:
    """A plain connection that reads server facts: status counters and the process list."""

    def __init__(self, **overrides: Any) -> None:
        self.raw = connect_plain(**overrides)
        # A transaction the pool failed to roll back holds its locks: fail, don't hang.
        self.query("SET SESSION lock_wait_timeout = 10, innodb_lock_wait_timeout = 10")

    def query(self, sql: str, args: Any = None) -> list[tuple[Any, ...]]:
        cursor = self.raw.cursor()
        try:
            cursor.execute(sql, args)
            return list(cursor.fetchall())
        finally:
            cursor.close()

    def status(self, name: str) -> int:
        return int(self.query("SHOW GLOBAL STATUS LIKE %s", (name,))[0][1])

    def version(self) -> str:
        return str(self.query("SELECT VERSION()")[0][0])

    def connection_ids(self) -> set[int]:
        return {int(row[0]) for row in self.query("SELECT ID FROM information_schema.PROCESSLIST")}

    def connections_to(self, database: str) -> set[int]:
        """Ids of the connections whose current database is ``database``.

        A database of the caller's own makes this immune to other clients of the server.
        """
        rows = self.query(
            "SELECT ID FROM information_schema.PROCESSLIST WHERE DB = %s", (database,)
        )
        return {int(row[0]) for row in rows}

    def is_alive(self, connection_id: int) -> bool:
        return connection_id in self.connection_ids()

    def is_gone(self, connection_id: int, within: float = 5.0) -> bool:
        """Whether the connection leaves the process list within ``within`` seconds.

        A client's close (COM_QUIT) or a KILL returns before the server thread is gone,
        so absence is polled for, bounded.
        """
        deadline = time.monotonic() + within
        while self.is_alive(connection_id):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    def kill(self, connection_id: int) -> None:
        self.query(f"KILL {int(connection_id)}")

    def close(self) -> None:
        self.raw.close()
