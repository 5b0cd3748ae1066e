"""What a connection goes through between two borrowers.

The next borrower must never see the previous one's open transaction or unread results,
and a connection whose last call failed fatally is never handed out again.
"""

from __future__ import annotations

from typing import Any

from . import driver


class UnusableConnection(Exception):
    """The connection cannot be trusted with another borrower; the pool discards it."""


def reset_for_next_borrower(raw: Any) -> None:
    """Drain unread results and roll back; raise if the connection must be discarded."""
    code = driver.last_error_code(raw)
    if code in driver.FATAL_ERROR_CODES:
        raise UnusableConnection(f"its last call failed with error {code}")
    if not driver.is_open(raw):
        raise UnusableConnection("the driver closed it")
    driver.drain_results(raw)
    raw.rollback()
