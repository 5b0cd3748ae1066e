"""What a connection goes through between two borrowers.

The next borrower must never see the previous one's open transaction or unread results,
and a connection whose last call failed fatally is never handed out again. In the default
``"transaction"`` mode nothing is sent unless the server's last reply said a transaction
is open; ``"session"`` mode also clears variables, temporary tables and locks
(COM_RESET_CONNECTION, one round trip).
"""

from __future__ import annotations

from typing import Any

from . import driver

TRANSACTION = "transaction"
SESSION = "session"
MODES = (TRANSACTION, SESSION)


class UnusableConnection(Exception):
    """The connection cannot be trusted with another borrower; the pool discards it."""


def reset_for_next_borrower(raw: Any, info: dict[str, Any], mode: str) -> None:
    """Bring the connection back to a clean state; raise if it must be discarded."""
    code = driver.last_error_code(raw)
    if code in driver.FATAL_ERROR_CODES:
        raise UnusableConnection(f"its last call failed with error {code}")
    if not driver.is_open(raw):
        raise UnusableConnection("the driver closed it")
    driver.drain_results(raw)
    # A streamed result or a raw protocol call may have left a reply unread, which only a
    # round trip reveals (2014 on ROLLBACK or reset, then the connection is discarded).
    in_doubt = info.pop("in_doubt", False)
    handle = info.get("native")
    if mode == SESSION:
        if not driver.reset_session(raw, handle):
            raise UnusableConnection("the driver cannot send COM_RESET_CONNECTION")
        info["session"] = {}  # back to the server's defaults
        return
    if in_doubt or driver.in_transaction(raw, handle) is not False:  # open, or unknown
        raw.rollback()
