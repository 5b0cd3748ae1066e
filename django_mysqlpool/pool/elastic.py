"""The default pool class: every server connection of a pool has one owner at a time.

SQLAlchemy keeps doing what it is good at (the connection record: creating, recycling,
invalidating a connection, and the events around it); this pool owns the rest, in one
place, with no lock on a borrower's path:

* **slots**: the right to have a server connection open. ``pool_size + max_overflow``
  slot tokens exist (no limit: tokens are made as needed); a free one waits in
  ``Slots.free``, a taken one sits in its record's ``record_info[SLOT]`` for as long as the
  record exists (connected or being connected). Open connections = tokens taken, so the
  figure cannot drift from what was opened and closed;
* **idle connections and waiters**: the ``bag.Bag`` of the lending pool (``lending.py``),
  lent most recently used first, so that a surplus ages out at the other end;
* **lent connections**: the lending pool's ``holders``.

Each move of a token or a record is one statement (a pop from where it was into where
it goes), as everywhere on the borrower's path: an exception (KeyboardInterrupt, a gevent
timeout) lands before or after it, never in the middle. Connections above ``pool_size``
are no longer closed when given back: they stay idle, and the housekeeper
(``housekeeping.py``) closes what stays unused for ``max_idle`` seconds beyond
``min_idle``, and opens connections up to ``min_idle``.
"""

from __future__ import annotations

import collections
import itertools
import math
from typing import Any

from sqlalchemy.pool import Pool
from sqlalchemy.pool.base import _ConnectionRecord

#: ``record.record_info`` key: the slot token the record holds (``record_info`` lasts as
#: long as the record; ``info`` is cleared whenever the record connects anew).
SLOT = "slot"


class Slots:
    """Slot tokens: taken to open a connection, given back when it is closed."""

    def __init__(self, limit: float) -> None:
        self.limit = limit
        #: Tokens made so far (a bounded pool makes them all at once).
        self._made = itertools.count()
        self._made_count = 0
        self.free: collections.deque[int] = collections.deque()
        if math.isfinite(limit):
            self.free.extend(range(int(limit)))
            self._made_count = int(limit)

    def take_into(self, hand: dict[int, Any], me: int) -> bool:
        """Move a free token into ``hand[me]``; False when every one is taken."""
        try:
            hand[me] = self.free.pop()
        except IndexError:
            if math.isfinite(self.limit):
                return False
            hand[me] = self._new_token()
        return True

    def _new_token(self) -> int:
        self._made_count += 1  # only read for stats: an unbounded pool has no limit to keep
        return -next(self._made) - 1

    def in_use(self) -> int:
        """Tokens taken: the connections open or being opened (or closed)."""
        return self._made_count - len(self.free)


def is_slot(value: Any) -> bool:
    """Whether a thread's hand holds a bare slot token (a record is being made for it)."""
    return isinstance(value, int)


class ElasticPool(Pool):
    """SQLAlchemy's ``Pool`` whose slots, idle connections and waiters django-mysqlpool keeps.

    Arguments follow SQLAlchemy's ``QueuePool`` (``pool_size``, ``max_overflow``,
    ``timeout``) and psycopg_pool / HikariCP for the elastic part (``min_idle``,
    ``max_idle``, ``max_waiting``); see docs/settings.rst.
    """

    def __init__(
        self,
        creator: Any,
        pool_size: int = 5,
        max_overflow: int = 10,
        timeout: float = 30.0,
        use_lifo: bool = False,
        min_idle: int | None = None,
        max_idle: float | None = 600.0,
        max_waiting: int = 0,
        **kw: Any,
    ) -> None:
        super().__init__(creator, **kw)
        self._pool_size = pool_size
        self._max_overflow = max_overflow
        self._timeout = timeout
        #: Accepted for compatibility: idle connections are always lent most recently
        #: used first (the surplus must age out at the other end).
        self._use_lifo = use_lifo
        unlimited = pool_size == 0 or max_overflow < 0
        self.slots = Slots(math.inf if unlimited else pool_size + max_overflow)
        self.min_idle = pool_size if min_idle is None else min_idle
        self.max_idle = max_idle
        self.max_waiting = max_waiting

    def new_record(self) -> Any:
        """A record not connected yet (no I/O): ``get_connection()`` connects it."""
        return _ConnectionRecord(self, connect=False)

    # SQLAlchemy's own checkout path (``pool.connect()``), for code that uses the pool
    # directly; django-mysqlpool's borrowers go through ``lending.py`` instead.
    def _do_get(self) -> Any:
        from sqlalchemy import exc

        hand: dict[int, Any] = {}
        if not self.slots.take_into(hand, 0):
            raise exc.TimeoutError(
                f"ElasticPool limit of size {self._pool_size} overflow {self._max_overflow} "
                f"reached; django-mysqlpool lends through Django's connections"
            )
        record = self.new_record()
        record.record_info[SLOT] = hand.pop(0)
        try:
            record.get_connection()
        except BaseException:
            self.release(record)
            raise
        return record

    def _do_return_conn(self, record: Any) -> None:
        self.release(record)

    def release(self, record: Any) -> None:
        """Close ``record``'s connection and free its slot (idempotent for the slot)."""
        record.close()
        slot = record.record_info.pop(SLOT, None)
        if slot is not None:
            self.slots.free.append(slot)

    def size(self) -> int:
        return self._pool_size

    def overflow(self) -> int:
        return max(0, self.slots.in_use() - self._pool_size)

    def checkedout(self) -> int:
        return self.slots.in_use()

    def checkedin(self) -> int:
        return 0  # idle connections live in django-mysqlpool's bag, never here

    def status(self) -> str:
        return (
            f"ElasticPool size: {self._pool_size} max_overflow: {self._max_overflow} "
            f"open: {self.slots.in_use()} min_idle: {self.min_idle} max_idle: {self.max_idle}"
        )

    def dispose(self) -> None:
        """Nothing idle is kept here (``holdings.Holdings.close_idle`` closes the bag)."""

    def recreate(self) -> ElasticPool:
        return self.__class__(
            self._creator,
            pool_size=self._pool_size,
            max_overflow=self._max_overflow,
            timeout=self._timeout,
            use_lifo=self._use_lifo,
            min_idle=self.min_idle,
            max_idle=self.max_idle,
            max_waiting=self.max_waiting,
            recycle=self._recycle,
            echo=self.echo,
            logging_name=self._orig_logging_name,
            reset_on_return=self._reset_on_return,
            pre_ping=self._pre_ping,
            _dispatch=self.dispatch,
            dialect=self._dialect,
        )
