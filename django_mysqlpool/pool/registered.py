"""A pool as the registry keeps it: lending and giving back (inherited), plus its upkeep.

The upkeep runs off every borrower's path, on the housekeeper's thread
(``housekeeping.py``) or a caller's: connections whose borrower is gone come back, idle
ones the server closed or nobody used for ``max_idle`` close, lost ones are replaced up
to ``min_idle``; ``warm_up`` opens them ahead of the first request.
"""

from __future__ import annotations

import random
import threading
import time

from sqlalchemy import exc as sa_exc

from ..connection import driver
from . import messages, stats
from .counters import CLOSED_DEAD, CLOSED_IDLE, SIZE
from .elastic import ElasticPool
from .holdings import IDLE_SINCE, PROBE, logger
from .lending import Lending


class RegisteredPool(Lending):
    """A SQLAlchemy pool plus what we know about it, how to borrow from it and how it is
    kept in shape."""

    def housekeep(self, now: float) -> None:
        """The housekeeper's round (``housekeeping.py``): strays back, surplus closed,
        ``min_idle`` restored. Off every borrower's path; an interruption settles what it
        left in this thread's hand, as on a borrower's."""
        if self.has_strays():
            self.reclaim()
        elastic = self.elastic
        if elastic is None or self.retired:
            return
        me = threading.get_ident()
        try:
            self._close_dead_idle(me)
            if elastic.max_idle is not None:
                self._close_unused(me, now, elastic)
            if self.to_replace and now >= self.top_up_at and self._quiet():
                self._top_up(me, elastic)
        except BaseException as error:
            self._settle_leftovers(me, error)
            raise

    def _close_dead_idle(self, me: int) -> None:
        """Close idle connections the server closed (KILL, restart, ``wait_timeout``), so
        that the stats say what the server shows without waiting for a borrow to find out.

        A poll of each socket, no round trip. A connection lent meanwhile is not idle any
        more (``remove`` fails) and stays its borrower's. The housekeeper's thread is not
        a borrower's: no KeyboardInterrupt or gevent timeout lands between its claim
        (``remove``) and the hand it puts the record in.
        """
        idle = self.bag.idle
        for record in list(idle):
            probe = record.info.get(PROBE)
            if probe is None or not probe.has_news():
                continue
            try:
                idle.remove(record)  # the claim
            except ValueError:
                continue  # lent meanwhile: its borrower's check finds out
            self.in_hand[me] = record
            self.counters.count(CLOSED_DEAD)
            self._note_lost()
            record.invalidate(
                sa_exc.DisconnectionError(
                    f"connection to {self.target}: closed by the server while idle"
                )
            )
            self._close_in_hand(me)

    def _close_unused(self, me: int, now: float, elastic: ElasticPool) -> None:
        """Close idle connections unused for ``max_idle``, least recently used first,
        down to ``min_idle``."""
        idle, max_idle = self.bag.idle, float(elastic.max_idle or 0)
        while len(idle) > elastic.min_idle and not self.bag.waiters:
            try:
                oldest = idle[0]
            except IndexError:
                return
            if now - oldest.info.get(IDLE_SINCE, now) < max_idle:
                return
            try:
                self.in_hand[me] = idle.popleft()  # the claim: a borrower takes the other end
            except IndexError:
                return
            if self.in_hand[me] is not oldest:  # lent and given back meanwhile: recent now
                if not self.bag.put(self.in_hand, me):
                    self._close_in_hand(me)
                return
            self.counters.count(CLOSED_IDLE)
            self._close_in_hand(me)

    def _quiet(self) -> bool:
        """Nothing lent, nobody waiting: the time to replace lost connections.

        A busy pool's borrowers open what they need themselves; a replacement opened
        meanwhile would hold a slot they want while it connects (a whole connect timeout,
        against a server that stopped answering). An outage does not count: the top-up's
        own backoff spaces its attempts, and only a successful connect ends the outage, so
        waiting for its end would leave an idle pool unreplenished for good.
        """
        return not self.holders and not self.bag.waiters

    def _top_up(self, me: int, elastic: ElasticPool) -> None:
        """Replace lost connections, up to ``min_idle``, backing off while connecting fails."""
        while self.to_replace > 0 and not self.retired and self._quiet():
            if elastic.slots.in_use() >= elastic.min_idle:
                self.to_replace = 0
                return
            try:
                if not self._open_idle(me):
                    self.to_replace = 0
                    return
            except Exception:
                self.top_up_backoff = min(60.0, max(1.0, self.top_up_backoff * 2))
                self.top_up_at = time.monotonic() + self.top_up_backoff * random.uniform(0.5, 1)
                return
            self.to_replace -= 1
        self.top_up_backoff = 0.0

    def warm_up(self, timeout: float | None) -> int:
        """Open connections up to ``min_idle`` (a QueuePool: ``pool_size``) now, in
        parallel, and return once they are open or ``timeout`` passes; how many opened.

        Idempotent: what is open already counts. The first connect error is raised (the
        driver's own, as a borrow would raise it); connections that did open stay.
        """
        elastic = self.elastic
        wanted = (
            elastic.min_idle
            if elastic is not None
            else self.config.effective().get("pool_size") or 0
        )
        missing = wanted - stats.connection_states(self)[SIZE]
        if missing <= 0:
            return 0
        opened: list[bool] = []
        errors: list[BaseException] = []
        workers = [
            threading.Thread(
                target=self._open_one_idle,
                args=(opened, errors),
                name="django-mysqlpool warm-up",
                daemon=True,
            )
            for _ in range(missing)
        ]
        for worker in workers:
            worker.start()
        deadline = None if timeout is None else time.monotonic() + timeout
        for worker in workers:
            worker.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        if errors:
            messages.raise_translated(self, errors[0])
        return len(opened)

    def _open_one_idle(self, opened: list[bool], errors: list[BaseException]) -> None:
        """One warm-up connection, on a thread of its own."""
        try:
            if self._open_idle(threading.get_ident()):
                opened.append(True)
        except BaseException as error:
            errors.append(error)

    def _open_idle(self, me: int) -> bool:
        """Open one connection and leave it idle (the longest waiter gets it, if any);
        False when the pool is full. A failed connect raises, this thread's hand settled.
        """
        try:
            if not self._open_into(me):
                return False
            self.gate.borrow_started[me] = time.monotonic()  # ``timeout`` bounds the connect
            self._live_connection(self.in_hand[me])
            self.in_hand[me].info[IDLE_SINCE] = time.monotonic()
            if not self.bag.put(self.in_hand, me):
                self._close_in_hand(me)
        except BaseException as error:
            self._settle_leftovers(me, error)
            raise
        return True

    def note_capabilities(self, capabilities: driver.Capabilities) -> None:
        """Keep what the first connection could do; say once what is missing and its cost."""
        if self.capabilities is not None:
            return
        self.capabilities = capabilities
        for name in capabilities.missing():
            logger.warning(
                "django-mysqlpool: connections to %s lack %s (client library %s): %s.",
                self.target,
                name,
                driver.client_library(self.database),
                driver.FALLBACKS[name],
            )
