"""What a pool says when it cannot lend: errors and warnings, each naming the setting
to change and how."""

from __future__ import annotations

from typing import TYPE_CHECKING, NoReturn

from sqlalchemy import exc as sa_exc

from .errors import PoolError, TooManyWaiting
from .holdings import logger

if TYPE_CHECKING:
    from .holdings import Holdings


def raise_translated(pool: Holdings, error: BaseException) -> NoReturn:
    """Driver errors go on as the plain backend raises them; pool errors become ours."""
    if isinstance(error, pool.database.Error):
        # A reconnect after a dead idle connection fails as the plain backend would;
        # the DisconnectionError it replaced is bookkeeping, not the cause.
        error.__suppress_context__ = True
        raise error
    if isinstance(error, sa_exc.SQLAlchemyError):
        raise PoolError(
            f"django-mysqlpool: the pool for {pool.target} failed to hand out a "
            f"connection: {error}. SQLAlchemy's pool refused; if this persists, check "
            f"MYSQLPOOL_BACKEND and the pool arguments in {pool.setting}, or report it "
            f"with this message."
        ) from error
    raise error


def exhaustion_message(pool: Holdings, waited: float) -> str:
    effective = pool.config.effective()
    size, overflow = effective["pool_size"], effective["max_overflow"]
    return (
        f"django-mysqlpool: couldn't get a connection to {pool.target} after "
        f"{waited:.2f} sec: {connections_in_use(size + max(overflow, 0))} "
        f"(pool_size={size}, max_overflow={overflow}). Raise 'pool_size' or 'max_overflow' in "
        f"{pool.setting} to allow more, raise 'timeout' (now "
        f"{effective['timeout']:g} sec) to wait longer, or give connections back "
        f"sooner (connection.close(), django_mysqlpool.auto_close_db)."
    )


def warn_about_wait(pool: Holdings, waited: float) -> None:
    limit = pool.max_connections()
    logger.warning(
        "django-mysqlpool: waited %.2f s for a connection to %s: %s. "
        "Raise 'pool_size' or 'max_overflow' in %s, or give connections back sooner "
        "(this warning: 'wait_warning_after', now %g s).",
        waited,
        pool.target,
        connections_in_use(limit, past=True),
        pool.setting,
        pool.config.wait_warning_after,
    )


def too_many_waiting(pool: Holdings, max_waiting: int) -> TooManyWaiting:
    return TooManyWaiting(
        f"django-mysqlpool: {len(pool.bag.waiters)} borrowers are already waiting "
        f"for a connection to {pool.target}, the most 'max_waiting' "
        f"({max_waiting}) allows: this one is refused at once. Raise "
        f"'max_waiting' (0: no bound) or 'pool_size' / 'max_overflow' in "
        f"{pool.setting}, or find what holds the connections (leak_timeout)."
    )


def connections_in_use(limit: int | None, past: bool = False) -> str:
    """``all 15 connections are in use``, ``its only connection is in use``, or ``every
    connection is in use`` without a limit: messages about a full pool, in good grammar."""
    verb = ("were" if past else "are") if limit not in (None, 1) else ("was" if past else "is")
    if limit is None:
        return f"every connection {verb} in use"
    if limit == 1:
        return f"its only connection {verb} in use"
    return f"all {limit} connections {verb} in use"


def borrowers(count: float) -> str:
    """``1 borrower``, ``2 borrowers`` (counters are read as sums: floats in general)."""
    return f"{count:g} borrower{'' if count == 1 else 's'}"
