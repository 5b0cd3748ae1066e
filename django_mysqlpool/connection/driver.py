"""What differs between the two DB-API drivers we support: mysqlclient and PyMySQL.

PyMySQL reaches us as ``MySQLdb`` after ``pymysql.install_as_MySQLdb()``; everything the
pool needs to know about a raw connection beyond PEP 249 is asked here.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
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


def client_library(database: ModuleType) -> str:
    """The driver and the client library it speaks through, for messages."""
    if is_pymysql(database):
        return f"PyMySQL {getattr(database, '__version__', '')}".strip()
    try:
        from MySQLdb import _mysql

        return f"mysqlclient on {_mysql.get_client_info()}"
    except (ImportError, AttributeError):
        return "mysqlclient"


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
    fileno = getattr(raw, "fileno", None)  # mysqlclient
    if fileno is None:
        sock = getattr(raw, "_sock", None)  # PyMySQL
        return None if sock is None else sock.fileno()
    try:
        return fileno()  # type: ignore[no-any-return]
    except Exception:
        return None


def socket_fd_reader(raw: Any) -> Callable[[], int | None]:
    """A function reading ``raw``'s socket fd now, cheaper than ``socket_fd`` per call."""
    fileno = getattr(raw, "fileno", None)  # mysqlclient: raises once closed
    if fileno is not None:
        return fileno  # type: ignore[no-any-return]
    return lambda: socket_fd(raw)


def is_open(raw: Any) -> bool:
    return bool(getattr(raw, "open", False))


def error_code_reader(raw: Any) -> Callable[[], int]:
    """Reads the error code of ``raw``'s last call while it is open (made once per connection).

    mysqlclient keeps it; PyMySQL closes the connection on a fatal error instead (0).
    """
    errno = getattr(raw, "errno", None)
    return errno if errno is not None else lambda: 0


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


#: Capabilities switched off (names of ``Capabilities`` fields): the fallbacks' tests set
#: it, before the pool makes the connections they observe.
disabled: set[str] = set()


@dataclass(frozen=True)
class Capabilities:
    """What the client library lets the pool do without a round trip, for one connection."""

    #: The status flags of each reply can be read (open transaction, unread results).
    status_read: bool
    #: The server flags session changes in its replies (session_track_state_change).
    session_tracking: bool
    #: COM_RESET_CONNECTION can be sent (clears the session in one round trip).
    reset_command: bool

    def missing(self) -> list[str]:
        return [name for name, present in self.__dict__.items() if not present]


#: What each missing capability costs, for the warning and the status command.
FALLBACKS = {
    "status_read": "whether a transaction is open is judged from autocommit and statement "
    "texts, and streamed or raw use costs a ROLLBACK",
    "session_tracking": "session changes are judged from statement texts only (any SET, USE, "
    "CALL... resets the session)",
    "reset_command": "a connection whose session changed is closed instead of reset",
}


def status_reader(raw: Any, handle: int | None) -> Callable[[], int | None] | None:
    """Reads the status flags of ``raw``'s last reply (no round trip); None if impossible."""
    if "status_read" in disabled:
        return None
    if handle is not None:
        read = native.status_reader(handle)
        status = None if read is None else read()
        # Checked against what the driver itself knows, in case the library is another one.
        if read is None or bool((status or 0) & native.SERVER_STATUS_AUTOCOMMIT) != bool(
            raw.get_autocommit()
        ):
            return None
        if status is None:
            return read
        word = native.status_word_reader(handle, raw.thread_id(), raw.get_proto_info(), status)
        return word or read
    if isinstance(getattr(raw, "server_status", None), int):  # PyMySQL keeps it...
        return lambda: _pymysql_status(raw)
    return None


def _pymysql_status(raw: Any) -> int | None:
    """PyMySQL's status flags, or None after a result set (whose flags PyMySQL drops)."""
    result = raw._result
    if result is not None and result.server_status is None:
        return None
    return raw.server_status  # type: ignore[no-any-return]


def pooled_connect_kwargs(
    database: ModuleType, connect_kwargs: Mapping[str, Any]
) -> dict[str, Any]:
    """The kwargs pooled connections are made with: the user's, plus what tracking needs.

    PyMySQL does not declare CLIENT_SESSION_TRACK by itself, and without it the server
    never flags session changes. Declaring it only adds data to OK packets, which PyMySQL
    keeps as the unused ``message``.
    """
    kwargs = dict(connect_kwargs)
    if is_pymysql(database) and "session_tracking" not in disabled:
        kwargs["client_flag"] = int(kwargs.get("client_flag") or 0) | _CLIENT_SESSION_TRACK
    return kwargs


_CLIENT_SESSION_TRACK = 1 << 23


def enable_session_tracking(raw: Any, read_status: Callable[[], int | None] | None) -> bool:
    """Ask the server to flag session changes; True if this connection sees the flag."""
    if "session_tracking" in disabled or read_status is None:
        return False
    try:
        run_statements(raw, [TRACK_SESSION_STATE], multi=False)
    except Exception:  # a server without the variable (MySQL < 5.7)
        return False
    tracked = bool((read_status() or 0) & native.SERVER_SESSION_STATE_CHANGED)
    if not tracked:
        run_statements(raw, [TRACK_SESSION_STATE.replace("ON", "OFF")], multi=False)
    return tracked


TRACK_SESSION_STATE = "SET SESSION session_track_state_change = ON"


def can_reset(raw: Any, handle: int | None) -> bool:
    if "reset_command" in disabled:
        return False
    return native.can_reset(handle) or hasattr(raw, "_execute_command")


def reset_session(raw: Any, handle: int | None) -> None:
    """COM_RESET_CONNECTION: roll back and clear all session state (one round trip)."""
    if handle is not None and native.reset_connection(handle):
        return
    raw._execute_command(COM_RESET_CONNECTION, b"")  # PyMySQL, which has no constant for it
    raw._read_ok_packet()


def allows_multi_statements(database: ModuleType, connect_kwargs: Mapping[str, Any]) -> bool:
    """Whether connections made with these kwargs accept several statements in one query."""
    if is_pymysql(database):
        return bool(int(connect_kwargs.get("client_flag") or 0) & _CLIENT_MULTI_STATEMENTS)
    return connect_kwargs.get("multi_statements", True) is not False  # mysqlclient's default


_CLIENT_MULTI_STATEMENTS = 1 << 16


def run_statements(raw: Any, statements: Sequence[str], multi: bool) -> None:
    """Run statements on the driver's own cursor, reading every reply; raise on any error."""
    cursor = raw.cursor()
    try:
        if multi:
            cursor.execute(";\n".join(statements))
        else:
            for statement in statements:
                cursor.execute(statement)
    finally:
        cursor.close()  # reads the replies of the statements after the first (errors too)


def current_role(raw: Any) -> str:
    """The statement that gives a session the role ``raw``'s session has now.

    MariaDB answers NULL for no role and has no ``SET ROLE DEFAULT``; MySQL 8 answers
    ``NONE`` or the roles, and ``SET ROLE DEFAULT`` restores the login's. Raises on a
    server without roles.
    """
    cursor = raw.cursor()
    try:
        cursor.execute("SELECT CURRENT_ROLE(), VERSION()")
        role, version = cursor.fetchone()
    finally:
        cursor.close()
    if isinstance(role, bytes):
        role = role.decode()
    if "mariadb" not in str(version).lower():
        return "SET ROLE DEFAULT"
    if role is None:
        return "SET ROLE NONE"
    return "SET ROLE `{}`".format(str(role).replace("`", "``"))


def ping(raw: Any) -> None:
    """One round trip; raises if the server does not answer. Never reconnects."""
    if hasattr(raw, "_sock"):  # PyMySQL reconnects silently unless told not to
        raw.ping(reconnect=False)
    else:
        raw.ping()


def closed_twice_error(database: ModuleType) -> Exception:
    """The exception the driver raises when a closed connection is closed again."""
    if is_pymysql(database):
        return database.Error("Already closed")  # type: ignore[no-any-return]
    return closed_error(database)


def closed_error(database: ModuleType) -> Exception:
    """The exception the driver raises when a closed connection is used."""
    if is_pymysql(database):
        return database.InterfaceError(0, "")  # type: ignore[no-any-return]
    return database.OperationalError(2006, "")  # type: ignore[no-any-return]
