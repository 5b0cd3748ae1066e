"""What differs between the two DB-API drivers we support: mysqlclient and PyMySQL.

PyMySQL reaches us as ``MySQLdb`` after ``pymysql.install_as_MySQLdb()``; everything the
pool needs to know about a raw connection beyond PEP 249 is asked here.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from types import ModuleType
from typing import Any

from . import native

#: Client errors after which a connection is never handed out again: server gone (2006),
#: lost during a query (2013), out of sync (2014), lost (2055), idle-disconnected (4031).
FATAL_ERROR_CODES = frozenset({2006, 2013, 2014, 2055, 4031})
#: Of those, the ones that say the server or the network stopped answering.
LOST_CONNECTION_CODES = frozenset({2006, 2013, 2055, 4031})


COM_RESET_CONNECTION = 0x1F


def is_pymysql(database: ModuleType) -> bool:
    return database.__name__.startswith("pymysql") or hasattr(database, "install_as_MySQLdb")


def original_connect(database: ModuleType) -> Callable[..., Any]:
    """The driver's own connection class, which ``connect`` wraps.

    Taken from the ``connections`` submodule rather than ``database.connect`` so that a
    second install of the patch can never wrap the wrapper.
    """
    connections = importlib.import_module(database.__name__ + ".connections")
    return connections.Connection  # type: ignore[no-any-return]


def socket_fd(raw: Any) -> int | None:
    """The socket file descriptor of an open connection, or None once it is closed."""
    if not is_open(raw):
        return None
    sock = getattr(raw, "_sock", None)  # PyMySQL
    if sock is not None:
        return sock.fileno()  # type: ignore[no-any-return]
    try:
        return raw.fileno()  # type: ignore[no-any-return]
    except Exception:
        return None


def is_open(raw: Any) -> bool:
    return bool(getattr(raw, "open", False))


def last_error(raw: Any, database: Any) -> Exception:
    """The driver's last error on ``raw`` as its ``OperationalError`` (mysqlclient)."""
    try:
        message = raw.error()
    except Exception:
        message = ""
    return database.OperationalError(last_error_code(raw), message)  # type: ignore[no-any-return]


def last_error_code(raw: Any) -> int:
    """The error code of the driver's last call (mysqlclient only; PyMySQL closes instead)."""
    errno = getattr(raw, "errno", None)
    if errno is None:
        return 0
    try:
        return int(errno())
    except Exception:
        return 0


#: Calls after which the wire may hold a reply nobody read, which no status flag shows.
RAW_PROTOCOL_CALLS = frozenset(
    {"query", "send_query", "use_result", "read_query_result", "next_result", "store_result"}
)


_unbuffered_classes: dict[type, bool] = {}


def is_unbuffered(cursor_class: type) -> bool:
    """Whether a cursor class streams its rows (SSCursor): unread rows stay on the wire."""
    unbuffered = _unbuffered_classes.get(cursor_class)
    if unbuffered is None:
        names = {klass.__name__ for klass in cursor_class.__mro__}
        unbuffered = bool(names & {"CursorUseResultMixIn", "SSCursor"})
        _unbuffered_classes[cursor_class] = unbuffered
    return unbuffered


def drain_results(raw: Any) -> None:
    """Read and drop result sets a multi-statement query or a raw call left unread.

    A connection with unread results answers the next statement with 2014 "Commands out of
    sync"; an unbuffered result still being read makes this raise, and the caller discards.
    """
    if hasattr(raw, "more_results"):  # mysqlclient
        raw.discard_result()  # the current result, if a raw query() left it unread
        while raw.more_results():
            if raw.next_result() != 0:
                break
            raw.discard_result()
        return
    result = getattr(raw, "_result", None)  # PyMySQL
    if result is not None and getattr(result, "unbuffered_active", False):
        raise raw.OperationalError(2014, "an unbuffered result set was left unread")
    while getattr(raw, "server_status", 0) & native.SERVER_MORE_RESULTS_EXIST:
        raw.next_result()


def native_handle(raw: Any) -> int | None:
    """The C handle whose status flags we can read, once checked to agree with the driver."""
    handle = native.handle_of(raw)
    if handle is None:
        return None
    status = native.server_status(handle)
    if status is None or bool(status & native.SERVER_STATUS_AUTOCOMMIT) != raw.get_autocommit():
        return None  # not the library we know: fall back to round trips
    return handle


def server_status(raw: Any, handle: int | None) -> int | None:
    """The status flags of the server's last reply (no round trip); None if unknown."""
    if handle is not None:
        return native.server_status(handle)
    status = getattr(raw, "server_status", None)  # PyMySQL keeps it
    return status if isinstance(status, int) else None


def reset_session(raw: Any, handle: int | None) -> bool:
    """COM_RESET_CONNECTION: roll back and clear all session state. False if unavailable."""
    if handle is not None:
        return native.reset_connection(handle)
    if hasattr(raw, "_execute_command"):  # PyMySQL, which has no constant for it
        raw._execute_command(COM_RESET_CONNECTION, b"")
        raw._read_ok_packet()
        return True
    return False


def ping(raw: Any) -> None:
    """One round trip; raises if the server does not answer. Never reconnects."""
    if hasattr(raw, "_sock"):  # PyMySQL reconnects silently unless told not to
        raw.ping(reconnect=False)
    else:
        raw.ping()


def closed_error(database: ModuleType) -> Exception:
    """The exception the driver raises when a closed connection is used."""
    if is_pymysql(database):
        return database.InterfaceError(0, "")  # type: ignore[no-any-return]
    return database.OperationalError(2006, "")  # type: ignore[no-any-return]
