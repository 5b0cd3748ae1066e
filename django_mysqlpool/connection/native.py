"""What mysqlclient does not expose from the C client library, reached through ctypes.

The pool needs two things Python's mysqlclient lacks: the server status flags of the last
reply (to know, without a round trip, whether a transaction is open) and
``mysql_reset_connection`` (COM_RESET_CONNECTION, to clear a changed session). Both exist in
MariaDB Connector/C (libmariadb), which Debian's mysqlclient links. Where the library is
another one, every function here answers None and the pool falls back to round trips.

**The hidden rule: the status word is read from the ``MYSQL`` struct by offset.** After
every statement the pool reads ``server_status`` straight from the struct mysqlclient
embeds, at a fixed distance after ``thread_id`` (``status_word_reader``), because a call
into the library costs ten times as much. Nothing in the library promises that layout.

* Verified at run time, on the first connection of a process: ``thread_id`` must be found
  exactly once where the struct can hold it, ``protocol_version`` must sit where the layout
  puts it, and the word must equal what ``mariadb_get_infov`` reports; else the offset is
  not used. On every new connection ``driver.status_reader`` checks the reader's
  autocommit flag against the driver's own ``get_autocommit()``.
* The fallback: the library call ``mariadb_get_infov`` (``status_reader``), then, without
  libmariadb, one round trip per question (``driver.FALLBACKS``).
* ``MYSQLPOOL_STRUCT_READ=0`` in the environment switches the struct read off: CI runs the
  suite that way too (``make test-fallback``), so the fallback is never untested.
* The tests that break when the rule does: ``tests/test_status_flags.py`` compares the word
  with the library's answer after replies that set and clear each flag the pool acts on,
  and checks that a struct it cannot vouch for is refused; the clean-session tests
  (``tests/test_clean_sessions.py``) see a wrong flag as a dirty next borrower.
"""

from __future__ import annotations

import ctypes
import functools
import os
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


#: libmariadb's ``MYSQL`` (mysql.h) on LP64: ``server_status`` and ``protocol_version`` sit
#: this far after ``thread_id`` (thread_id, packet_length, port, client_flag,
#: server_capabilities: 8 bytes each; then protocol_version, field_count, server_status).
_STATUS_AFTER_THREAD_ID = 48
_PROTOCOL_AFTER_THREAD_ID = 40
#: ``thread_id`` lies within this many bytes of the struct's start (848 in libmariadb 3.3,
#: after NET and the connection's strings); the struct goes on well past it (the options).
_THREAD_ID_WITHIN = 1024
#: Where ``server_status`` was found on the first connection (the same library for all).
_status_offset: int | None = None
#: ``MYSQLPOOL_STRUCT_READ=0``: never read the struct, always call the library.
STRUCT_READ = os.environ.get("MYSQLPOOL_STRUCT_READ", "1") != "0"


def status_word_reader(
    handle: int, thread_id: int, protocol: int, status: int
) -> Callable[[], int] | None:
    """Reads ``handle``'s status flags from the ``MYSQL`` struct itself; None if unsure.

    mysqlclient embeds the struct in its connection object and libmariadb writes the last
    reply's flags into ``server_status``: reading that word costs a tenth of a call into
    the library (it runs after every statement). The word is where the public struct
    puts it relative to ``thread_id``, and is used only if ``protocol_version`` and the
    flags the library reports (``status``) are where they must be too; else None, and the
    caller keeps the library call.
    """
    global _status_offset
    if not STRUCT_READ or ctypes.sizeof(ctypes.c_ulong) != 8:
        return None
    if _status_offset is not None:
        candidates = [_status_offset]
    else:
        candidates = [
            at + _STATUS_AFTER_THREAD_ID
            for at in range(0, _THREAD_ID_WITHIN, ctypes.sizeof(ctypes.c_ulong))
            if ctypes.c_ulong.from_address(handle + at).value == thread_id
        ]
    found = [
        offset
        for offset in candidates
        if _word(handle, offset - _STATUS_AFTER_THREAD_ID + _PROTOCOL_AFTER_THREAD_ID) == protocol
        and _word(handle, offset) == status
    ]
    if len(found) != 1:
        return None
    _status_offset = found[0]
    word = ctypes.c_uint.from_address(handle + found[0])
    # A C-level callable: no Python frame per read.
    return functools.partial(getattr, word, "value")


def _word(handle: int, offset: int) -> int:
    return ctypes.c_uint.from_address(handle + offset).value


def can_reset(handle: int | None) -> bool:
    return handle is not None and _library.reset_connection is not None


def reset_connection(handle: int) -> bool:
    """COM_RESET_CONNECTION (one round trip); False if the library cannot send it."""
    if _library.reset_connection is None:
        return False
    if _library.reset_connection(handle) != 0:
        raise ConnectionError("mysql_reset_connection failed")
    return True
