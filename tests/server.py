"""Server facts, read over a plain (never pooled) connection: what the tests assert on."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.backends.mysql.base import Database

from django_mysqlpool import driver


def connect_plain(**overrides: Any) -> Any:
    """A raw driver connection that bypasses the pool (the driver's own class)."""
    params: dict[str, Any] = {
        "host": settings.DB_HOST,
        "port": settings.DB_PORT,
        "user": settings.DB_USER,
        "password": settings.DB_PASSWORD,
        "database": settings.DB_NAME,
        "autocommit": True,
    }
    params.update(overrides)
    return driver.original_connect(Database)(**params)


class Observer:
    """A plain connection that looks at the server from outside the pool."""

    def __init__(self) -> None:
        self.raw = connect_plain()

    def query(self, sql: str, args: Any = None) -> list[tuple[Any, ...]]:
        cursor = self.raw.cursor()
        try:
            cursor.execute(sql, args)
            return list(cursor.fetchall())
        finally:
            cursor.close()

    def status(self, name: str) -> int:
        return int(self.query("SHOW GLOBAL STATUS LIKE %s", (name,))[0][1])

    def connection_ids(self) -> set[int]:
        return {row[0] for row in self.query("SELECT ID FROM information_schema.PROCESSLIST")}

    def connections_to(self, database: str) -> set[int]:
        """Ids of the server connections whose current database is ``database``.

        A database of the test's own makes this immune to other clients of the server.
        """
        rows = self.query(
            "SELECT ID FROM information_schema.PROCESSLIST WHERE DB = %s", (database,)
        )
        return {row[0] for row in rows}

    def is_alive(self, connection_id: int) -> bool:
        return connection_id in self.connection_ids()

    def kill(self, connection_id: int) -> None:
        self.query(f"KILL {int(connection_id)}")

    def close(self) -> None:
        self.raw.close()


def connection_id(wrapper: Any) -> int:
    """The server-side id of the connection a Django wrapper holds (connects if needed)."""
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT CONNECTION_ID()")
        return int(cursor.fetchone()[0])
