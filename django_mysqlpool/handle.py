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

from . import driver, reset
from .session import SessionState, session_cursor


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
        self._session: SessionState = fairy.info.setdefault(reset.SESSION_STATE, {})

    def cursor(self, cursorclass: Any = None, **kwargs: Any) -> Any:
        """A cursor of the driver's class (or the one asked for) that skips repeated setup.

        ``cursorclass`` is mysqlclient's name for the argument, ``cursor`` PyMySQL's.
        """
        raw = self._raw
        cursor_class = cursorclass or kwargs.pop("cursor", None) or raw.cursorclass
        if kwargs or not isinstance(cursor_class, type):
            # Not a call we know how to wrap: the driver's own cursor, and a checking
            # ROLLBACK on return since we cannot tell what it leaves on the wire.
            self._fairy.info[reset.IN_DOUBT] = True  # type: ignore[union-attr]
            return raw.cursor(cursor_class, **kwargs)
        if driver.is_unbuffered(cursor_class):
            self._fairy.info[reset.IN_DOUBT] = True  # type: ignore[union-attr]
        return session_cursor(cursor_class, raw, self._session)

    # Called on every borrow by Django: direct methods, not the __getattr__ detour.
    def autocommit(self, on: bool) -> None:
        self._raw.autocommit(on)

    def get_autocommit(self) -> bool:
        return self._raw.get_autocommit()  # type: ignore[no-any-return]

    def commit(self) -> None:
        self._raw.commit()

    def rollback(self) -> None:
        self._raw.rollback()

    @property
    def encoders(self) -> Any:
        return self._raw.encoders

    def close(self) -> None:
        fairy = self._fairy
        if fairy is None:
            raise driver.closed_error(self._database)
        self._fairy = None
        self._raw = ClosedConnection(self._database)
        fairy.close()

    def __getattr__(self, name: str) -> Any:
        if name in driver.RAW_PROTOCOL_CALLS and self._fairy is not None:
            self._fairy.info[reset.IN_DOUBT] = True
        return getattr(self._raw, name)

    def __enter__(self) -> PooledConnection:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._fairy is None else "open"
        return f"<PooledConnection {state} to {self._target}>"
