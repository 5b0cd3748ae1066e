"""What mysqlclient does not expose from the C client library, reached through ctypes.

The pool needs two things Python's mysqlclient lacks: the server status flags of the last
reply (to know, without a round trip, whether a transaction is open) and
``mysql_reset_connection`` (COM_RESET_CONNECTION, to clear a changed session). Both exist in
MariaDB Connector/C (libmariadb), which Debian's mysqlclient links. Where the library is
another one, every function here answers None and the pool falls back to round trips.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from typing import Any

#: ``enum mariadb_value`` in mysql.h: MARIADB_CONNECTION_SERVER_STATUS.
_SERVER_STATUS = 30
SERVER_STATUS_IN_TRANS = 0x0001
SERVER_STATUS_AUTOCOMMIT = 0x0002
SERVER_MORE_RESULTS_EXIST = 0x0008
#: Set in a reply whose statement changed session state, once session_track_state_change
#: is on and the client library declared CLIENT_SESSION_TRACK (libmariadb does).
SERVER_SESSION_STATE_CHANGED = 0x4000


class _Library:
    """The client library mysqlclient's ``_mysql`` extension is linked against, if usable."""

    def __init__(self) -> None:
        self.get_info: Any = None
        self.reset_connection: Any = None
        try:
            from MySQLdb import _mysql

            library = ctypes.CDLL(_mysql.__file__)  # its dependencies resolve the symbols
            # Reading status flags is a memory read: call it holding the GIL (PyDLL), as a
            # CDLL call would let every thread waiting for the GIL run first.
            holding_gil = ctypes.PyDLL(_mysql.__file__)
        except (ImportError, OSError):
            return
        get_info = getattr(holding_gil, "mariadb_get_infov", None)
        if get_info is not None:
            # No argtypes: the caller passes ctypes objects made once (``status_reader``),
            # which halves the cost of a call that runs after every statement.
            get_info.restype = ctypes.c_char
            self.get_info = get_info
        reset = getattr(library, "mysql_reset_connection", None)
        if reset is not None:
            reset.restype = ctypes.c_int
            reset.argtypes = [ctypes.c_void_p]
            self.reset_connection = reset


_library = _Library()
_capsule_name = ctypes.pythonapi.PyCapsule_GetName
_capsule_name.restype = ctypes.c_char_p
_capsule_name.argtypes = [ctypes.py_object]
_capsule_pointer = ctypes.pythonapi.PyCapsule_GetPointer
_capsule_pointer.restype = ctypes.c_void_p
_capsule_pointer.argtypes = [ctypes.py_object, ctypes.c_char_p]


def handle_of(raw: Any) -> int | None:
    """The ``MYSQL*`` behind a mysqlclient connection, or None (PyMySQL, other builds)."""
    native = getattr(raw, "_get_native_connection", None)
    if native is None:
        return None
    capsule = native()
    return _capsule_pointer(capsule, _capsule_name(capsule))  # type: ignore[no-any-return]


def status_reader(handle: int) -> Callable[[], int | None] | None:
    """A function reading ``handle``'s status flags (no round trip); None if impossible.

    Called after every statement of a borrow: the output buffer is made once.
    """
    get_info = _library.get_info
    if get_info is None:
        return None
    status = ctypes.c_uint()
    where = ctypes.byref(status)
    connection, what = ctypes.c_void_p(handle), ctypes.c_int(_SERVER_STATUS)

    def read() -> int | None:
        if get_info(connection, what, where) != b"\x00":
            return None
        return status.value

    return read


def can_reset(handle: int | None) -> bool:
    return handle is not None and _library.reset_connection is not None


def reset_connection(handle: int) -> bool:
    """COM_RESET_CONNECTION (one round trip); False if the library cannot send it."""
    if _library.reset_connection is None:
        return False
    if _library.reset_connection(handle) != 0:
        raise ConnectionError("mysql_reset_connection failed")
    return True
