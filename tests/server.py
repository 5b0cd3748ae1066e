"""Server facts for the tests; see ``tests/support/observer.py``."""

from __future__ import annotations

from typing import Any

from tests.support.observer import Observer, connect_plain

__all__ = ["Observer", "connect_plain", "connection_id"]


def connection_id(wrapper: Any) -> int:
    """The server-side id of the connection a Django wrapper holds (connects if needed)."""
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT CONNECTION_ID()")
        return int(cursor.fetchone()[0])
