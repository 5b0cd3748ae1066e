"""What a connection goes through between two borrowers.

The next borrower must never see the previous one's open transaction, unread results or
autocommit mode, and a connection whose last call failed fatally is never handed out
again. Like HikariCP's "dirty bits", only what the borrower changed is reset: in the
default ``"transaction"`` mode a connection returned with autocommit on, no transaction
open and nothing unread costs no round trip (the server status flags of its last reply
tell, read without asking the server). ``"session"`` mode also clears variables,
temporary tables and locks (COM_RESET_CONNECTION, one round trip).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import driver
from .native import SERVER_MORE_RESULTS_EXIST, SERVER_STATUS_IN_TRANS

TRANSACTION = "transaction"
SESSION = "session"
MODES = (TRANSACTION, SESSION)

# ``record.info`` keys, kept for as long as the server connection lives:
#: set by the handle when a borrower did something whose effect on the wire no status
#: flag shows (a streamed cursor, a raw protocol call);
IN_DOUBT = "in_doubt"
#: the autocommit mode the connection was created with, which every borrower finds;
AUTOCOMMIT = "autocommit"
#: the C handle whose status flags can be read (``driver.native_handle``), or None;
NATIVE = "native"
#: what the session already has (``session.SessionState``);
SESSION_STATE = "session"
#: the code of a fatal error a borrower's statement got (set by the cursor).
FAILED_WITH = "failed_with"


class UnusableConnection(Exception):
    """The connection cannot be trusted with another borrower; the pool discards it."""

    def __init__(self, reason: str, error_code: int = 0, lost: bool = False) -> None:
        super().__init__(reason)
        self.error_code = error_code  # the driver's, when its last call failed
        #: The server or the network stopped answering (not a borrower's doing).
        self.lost = lost or error_code in driver.LOST_CONNECTION_CODES


def remember_initial_state(raw: Any, info: dict[str, Any]) -> None:
    """Note, for a new connection, the state every borrower must find it in."""
    info[AUTOCOMMIT] = raw.get_autocommit()


def reset_for_next_borrower(
    raw: Any, info: dict[str, Any], mode: str, has_news: Callable[[], bool] | None = None
) -> None:
    """Bring the connection back to a clean state; raise if it must be discarded.

    ``has_news`` polls the socket (``liveness``): with every reply read it must be quiet,
    else the connection was lost while borrowed (its error code may have been cleared by
    a later call, such as closing the cursor).
    """
    code = info.pop(FAILED_WITH, 0) or driver.last_error_code(raw)
    if code in driver.FATAL_ERROR_CODES:
        raise UnusableConnection(f"its last call failed with error {code}", code)
    if not driver.is_open(raw):
        raise UnusableConnection("the driver closed it")
    # A streamed result or a raw protocol call may have left a reply unread, which only a
    # round trip reveals (2014 on ROLLBACK or reset, then the connection is discarded).
    in_doubt = info.pop(IN_DOUBT, False)
    handle = info.get(NATIVE)
    status = driver.server_status(raw, handle)
    if in_doubt or status is None or status & SERVER_MORE_RESULTS_EXIST:
        driver.drain_results(raw)
        status = driver.server_status(raw, handle)
    elif has_news is not None and has_news():
        raise UnusableConnection("the server closed it or stopped answering", lost=True)
    if mode == SESSION:
        if not driver.reset_session(raw, handle):
            raise UnusableConnection("the driver cannot send COM_RESET_CONNECTION")
        info[SESSION_STATE] = {}  # back to the server's defaults
    elif in_doubt or status is None or status & SERVER_STATUS_IN_TRANS:  # open, or unknown
        raw.rollback()
    initial = info.get(AUTOCOMMIT)
    if initial is not None and raw.get_autocommit() != initial:
        raw.autocommit(initial)  # after the rollback: turning it on would commit
