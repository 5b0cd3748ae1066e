"""What the pool does when SQLAlchemy creates or discards a server connection.

New connections are counted, fork-tracked and probed once (their C handle, liveness probe
and autocommit mode are kept in the record's ``info``); the first one of a pool reads the
server's ``wait_timeout`` to derive ``recycle``. Borrow and give-back are ``lending.py``'s
and ``giving_back.py``'s.
"""

from __future__ import annotations

import logging
import random
import time
from typing import Any

from sqlalchemy import event

from ..connection import driver, liveness, native, reset
from ..connection.handle import PooledConnection, handle_class_for
from ..connection.session import SessionNotes
from . import fork
from .holdings import CONNECTED_AT, PROBE
from .registered import RegisteredPool

logger = logging.getLogger("django_mysqlpool")


def listen(registered: RegisteredPool) -> None:
    pool, counters = registered.pool, registered.counters

    @event.listens_for(pool, "first_connect")
    def first_connection(raw: Any, record: Any) -> None:
        if registered.config.recycle is None:
            registered.recycle = recycle_for(server_wait_timeout(raw))
            pool._recycle = registered.recycle
        # Every connection of a pool logs in as the same user, so with the same role.
        registered.recipe = registered.recipe.with_role_of(raw)

    @event.listens_for(pool, "connect")
    def created(raw: Any, record: Any) -> None:
        counters.count_created()
        record.info[CONNECTED_AT] = time.monotonic()  # a borrow that started before: "new"
        logger.debug("django-mysqlpool: new connection to %s", registered.target)
        fork.track(raw)
        record.info[PROBE] = liveness.probe_for(raw)
        if registered.handle_class is PooledConnection:  # the first connection's class
            registered.handle_class = handle_class_for(raw, type(registered).close_handle)
        record.info[reset.NOTES] = notes_for(registered, raw)
        reset.remember_initial_state(raw, record.info)
        # Connections opened together (a burst) are not all recycled on the same borrow.
        record.starttime -= random.uniform(0, recycle_spread(pool._recycle))

    @event.listens_for(pool, "invalidate")
    def discarded(raw: Any, record: Any, error: Any) -> None:
        counters.count_discarded()
        logger.debug("django-mysqlpool: discarded a connection to %s: %s", registered.target, error)


def notes_for(registered: RegisteredPool, raw: Any) -> SessionNotes:
    """A new connection's session notes, and what its client library can do for them."""
    handle = native.handle_of(raw)
    read_status = driver.status_reader(raw, handle)
    tracked = driver.enable_session_tracking(raw, read_status)
    can_reset = driver.can_reset(raw, handle)
    registered.note_capabilities(
        driver.Capabilities(
            status_read=read_status is not None, session_tracking=tracked, reset_command=can_reset
        )
    )
    return SessionNotes(
        read_status,
        tracked,
        handle,
        can_reset,
        driver.error_code_reader(raw),
        raw.cursorclass,
        registered.django_setup,
        raw.character_set_name(),
    )


def server_wait_timeout(raw: Any) -> int:
    cursor = raw.cursor()
    try:
        cursor.execute("SELECT @@wait_timeout")
        return int(cursor.fetchone()[0])
    finally:
        cursor.close()


#: A connection's ``recycle`` deadline is brought forward by a random part of this much
#: of ``recycle`` (at most ``_MAX_RECYCLE_SPREAD`` seconds), as psycopg_pool and HikariCP
#: spread their maximum lifetimes.
RECYCLE_SPREAD = 0.1
_MAX_RECYCLE_SPREAD = 60.0


def recycle_spread(recycle: float) -> float:
    """How far a connection's recycling may be brought forward (0 when it never is)."""
    if recycle is None or recycle <= 0:
        return 0.0
    return min(recycle * RECYCLE_SPREAD, _MAX_RECYCLE_SPREAD)


def recycle_for(wait_timeout: int) -> int:
    """Recycle a little before the server would drop an idle connection (10%, at most 60 s)."""
    margin = max(1, min(60, wait_timeout // 10))
    return max(1, wait_timeout - margin)
