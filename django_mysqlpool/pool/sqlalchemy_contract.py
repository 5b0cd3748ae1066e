"""What the hot path uses of SQLAlchemy beyond its public API, checked once at import.

``lending.py`` lends connection records straight from the pool (see ``holdings.py``); those
methods are stable from 2.0 to 2.1 but private. Should a SQLAlchemy release change one,
the pool must refuse to start with a message naming the version, not fail mid-request.
``make test-sqlalchemy-next`` runs the suite against the newest pre-release.
"""

from __future__ import annotations

import inspect

import sqlalchemy
from sqlalchemy import exc, pool

#: (what, where it is looked up, the attribute, keyword arguments it must accept)
_USED: tuple[tuple[str, object, str, tuple[str, ...]], ...] = (
    ("Pool._do_get()", pool.Pool, "_do_get", ()),
    ("QueuePool._do_get()", pool.QueuePool, "_do_get", ()),
    ("NullPool._do_get()", pool.NullPool, "_do_get", ()),
    ("_ConnectionRecord.get_connection()", pool.base._ConnectionRecord, "get_connection", ()),
    (
        "_ConnectionRecord.checkin()",
        pool.base._ConnectionRecord,
        "checkin",
        ("_fairy_was_created",),
    ),
    (
        "_ConnectionRecord._checkin_failed()",
        pool.base._ConnectionRecord,
        "_checkin_failed",
        ("_fairy_was_created",),
    ),
    ("_ConnectionRecord.invalidate()", pool.base._ConnectionRecord, "invalidate", ()),
    ("_ConnectionRecord.close()", pool.base._ConnectionRecord, "close", ()),
    ("_ConnectionRecord.info", pool.base._ConnectionRecord, "info", ()),
    ("exc.TimeoutError", exc, "TimeoutError", ()),
    ("exc.DisconnectionError", exc, "DisconnectionError", ()),
)


def problems() -> list[str]:
    """What is missing or changed in the installed SQLAlchemy (empty when all is there)."""
    found = []
    for what, owner, attribute, keywords in _USED:
        member = getattr(owner, attribute, None)
        if member is None:
            found.append(what)
            continue
        if keywords:
            parameters = inspect.signature(member).parameters
            if not all(keyword in parameters for keyword in keywords):
                found.append(f"{what} with {', '.join(keywords)}")
    instance = pool.QueuePool(lambda: None, pool_size=1)  # type: ignore[arg-type]  # no connect
    for attribute, what in (
        ("_pool", "QueuePool._pool (its queue)"),
        ("_recycle", "Pool._recycle"),
    ):
        if not hasattr(instance, attribute):
            found.append(what)
    # The borrow's short path computes the recycling deadline from these (``lending.py``):
    # SQLAlchemy recycles once ``time.time() - starttime > _recycle``.
    record = pool.base._ConnectionRecord(instance, connect=False)
    for attribute in ("starttime", "dbapi_connection"):
        if not hasattr(record, attribute):
            found.append(f"_ConnectionRecord.{attribute}")
    queue = getattr(instance, "_pool", None)
    if queue is not None and not (hasattr(queue, "mutex") and hasattr(queue, "queue")):
        found.append("QueuePool._pool.mutex and .queue")
    return found


def version() -> str:
    return str(sqlalchemy.__version__)
