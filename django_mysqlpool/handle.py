"""The borrower's handle: what Django holds as ``DatabaseWrapper.connection``.

SQLAlchemy's ``_ConnectionFairy`` is the checkout token; this thin proxy adds the driver's
own semantics once the borrower gave the connection back: any further use raises what a
closed MySQLdb connection raises (``OperationalError(2006, '')``), never an
``AttributeError`` from inside SQLAlchemy.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from sqlalchemy.pool import PoolProxiedConnection

from . import driver
from .session import SessionCursor, SessionState


class ClosedConnection:
    """Stands in for a given-back connection: every use raises the driver's closed error."""

    __slots__ = ("_database",)

    def __init__(self, database: ModuleType) -> None:
        self._database = database

    def __getattr__(self, name: str) -> Any:
        raise driver.closed_error(self._database)

    def __repr__(self) -> str:
        return "<closed connection>"


class PooledConnection:
    """A pooled DB-API connection; ``close()`` gives it back to its pool."""

    __slots__ = ("_fairy", "_raw", "_target", "_database", "_session", "__weakref__")

    def __init__(self, fairy: PoolProxiedConnection, target: str, database: ModuleType) -> None:
        self._fairy: PoolProxiedConnection | None = fairy
        self._raw: Any = fairy.dbapi_connection
        self._target = target
        self._database = database
        # What this server connection's session already has; lives as long as it does.
        self._session: SessionState = fairy.info.setdefault("session", {})

    def cursor(self, *args: Any, **kwargs: Any) -> Any:
        cursor = self._raw.cursor(*args, **kwargs)
        if driver.is_unbuffered(cursor):
            self._fairy.info["in_doubt"] = True  # type: ignore[union-attr]
        return SessionCursor(cursor, self._session)

    def close(self) -> None:
        fairy = self._fairy
        if fairy is None:
            raise driver.closed_error(self._database)
        self._fairy = None
        self._raw = ClosedConnection(self._database)
        fairy.close()

    def __getattr__(self, name: str) -> Any:
        if name in driver.RAW_PROTOCOL_CALLS and self._fairy is not None:
            self._fairy.info["in_doubt"] = True
        return getattr(self._raw, name)

    def __enter__(self) -> PooledConnection:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._fairy is None else "open"
        return f"<PooledConnection {state} to {self._target}>"
