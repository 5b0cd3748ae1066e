"""The borrower's handle: what Django holds as ``DatabaseWrapper.connection``.

A thin proxy to the driver's connection that gives it back to its pool on ``close()``,
or when it is dropped without one. Once given back, any further use raises what a closed
MySQLdb connection raises (``OperationalError(2006, '')``), as Django expects.
"""

from __future__ import annotations

import contextlib
from types import ModuleType
from typing import Any, Protocol

from . import driver, reset
from .session import SessionState, session_cursor


class Lender(Protocol):
    """The pool a handle's connection came from (``lending.RegisteredPool``)."""

    target: str
    database: ModuleType

    def give_back(self, record: Any) -> None: ...


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

    __slots__ = ("_record", "_raw", "_lender", "_info", "_session", "__weakref__")

    def __init__(self, record: Any, raw: Any, lender: Lender) -> None:
        self._record: Any = record  # SQLAlchemy's connection record; None once given back
        self._raw: Any = raw
        self._lender = lender
        # What we know about this server connection; lives as long as it does.
        self._info: dict[str, Any] = record.info
        self._session: SessionState = self._info.setdefault(reset.SESSION_STATE, {})

    def cursor(self, cursorclass: Any = None, **kwargs: Any) -> Any:
        """A cursor of the driver's class (or the one asked for) that skips repeated setup.

        ``cursorclass`` is mysqlclient's name for the argument, ``cursor`` PyMySQL's.
        """
        raw = self._raw
        cursor_class = cursorclass or kwargs.pop("cursor", None) or raw.cursorclass
        if kwargs or not isinstance(cursor_class, type):
            # Not a call we know how to wrap: the driver's own cursor, and a checking
            # ROLLBACK on return since we cannot tell what it leaves on the wire.
            self._info[reset.IN_DOUBT] = True
            return raw.cursor(cursor_class, **kwargs)
        if driver.is_unbuffered(cursor_class):
            self._info[reset.IN_DOUBT] = True
        return session_cursor(cursor_class, raw, self._session, self._info)

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
        record = self._record
        if record is None:
            raise driver.closed_error(self._lender.database)
        self._record = None
        self._raw = ClosedConnection(self._lender.database)
        self._lender.give_back(record)

    def __del__(self) -> None:
        # Dropped without close() (a thread that died mid-request): the pool rolls the
        # connection back and takes it back, as SQLAlchemy does for a collected checkout.
        record = self._record
        if record is not None:
            self._record = None
            with contextlib.suppress(Exception):  # nowhere to raise to from a finalizer
                self._lender.give_back(record)

    def __getattr__(self, name: str) -> Any:
        if name in driver.RAW_PROTOCOL_CALLS and self._record is not None:
            self._info[reset.IN_DOUBT] = True
        return getattr(self._raw, name)

    def __enter__(self) -> PooledConnection:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._record is None else "open"
        return f"<PooledConnection {state} to {self._lender.target}>"
