"""Multi-host targets: ``OPTIONS["pool"]["hosts"]``, tried in order for each new connection.

Modelled on libpq's ``host=a,b`` with ``target_session_attrs`` and Connector/J's failover
URLs. A new connection goes to the first host that accepts it (and, with ``require``, has
the right role: ``"primary"`` means ``@@read_only = 0``, ``"replica"`` ``@@read_only = 1``);
a host that failed is skipped for ``host_backoff`` seconds (with up to 20% jitter, so that
processes do not all come back at once). Connections already open are not moved: one on a
host that died is found dead and replaced on its next borrow, never retried mid-statement.
"""

from __future__ import annotations

import contextlib
import random
import time
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

PRIMARY = "primary"
REPLICA = "replica"
ROLES = (PRIMARY, REPLICA)
DEFAULT_BACKOFF = 5.0
_JITTER = 0.2
#: Where a raw connection came from: set on the connection object by the creator.
HOST_ATTRIBUTE = "_mysqlpool_host"


def parse(entry: str, default_port: int) -> tuple[str, int]:
    """``"db1:3307"`` → ("db1", 3307); ``"db1"`` → ("db1", default_port); IPv6 in brackets."""
    if entry.startswith("["):  # [::1]:3306
        host, _, rest = entry[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") else default_port
    host, sep, port = entry.rpartition(":")
    if sep and host and ":" not in host:
        return host, int(port)
    return entry, default_port


def is_valid_entry(entry: Any) -> bool:
    if not isinstance(entry, str) or not entry.strip():
        return False
    try:
        host, port = parse(entry, 3306)
    except ValueError:
        return False
    return bool(host) and 0 < port < 65536


class NoHostAvailable(Exception):
    """Every host failed or had the wrong role (raised only when no driver error applies)."""


@dataclass
class Host:
    name: str  # "host:port" as the user wrote it, normalised
    host: str
    port: int
    skip_until: float = 0.0
    last_failure: float | None = None  # time.time()
    last_error: str | None = None
    opened: weakref.WeakSet[Any] = field(default_factory=weakref.WeakSet)

    def report(self, is_open: Callable[[Any], bool]) -> dict[str, Any]:
        return {
            "host": self.name,
            "connections": sum(1 for raw in list(self.opened) if is_open(raw)),
            "last_failure": self.last_failure,
            "last_error": self.last_error,
            "skipped_for": max(0.0, round(self.skip_until - time.monotonic(), 3)),
        }


class HostList:
    """The hosts of one target, their back-off state, and the creator that uses them."""

    def __init__(
        self, entries: list[str], default_port: int, backoff: float, require: str | None
    ) -> None:
        self.hosts = []
        for entry in entries:
            host, port = parse(entry, default_port)
            self.hosts.append(Host(f"{host}:{port}", host, port))
        self.backoff = backoff
        self.require = require

    def opener(self, connect: Callable[..., Any], database: Any) -> Callable[[dict[str, Any]], Any]:
        """Opens a connection with the given kwargs on the first usable host."""

        def open_connection(connect_kwargs: dict[str, Any]) -> Any:
            return self.connect(connect, connect_kwargs, database)

        return open_connection

    def connect(
        self, connect: Callable[..., Any], connect_kwargs: Mapping[str, Any], database: Any
    ) -> Any:
        """A connection to the first usable host; raises the last host's error if none is."""
        now = time.monotonic()
        ready = [h for h in self.hosts if h.skip_until <= now]
        # Every host backing off: try them all anyway, soonest first, rather than fail.
        candidates = ready or sorted(self.hosts, key=lambda h: h.skip_until)
        last_error: BaseException | None = None
        for host in candidates:
            try:
                raw = connect(**{**connect_kwargs, "host": host.host, "port": host.port})
            except database.Error as error:
                self._failed(host, f"{type(error).__name__}: {error}")
                last_error = error
                continue
            role_problem = self._wrong_role(raw)
            if role_problem is not None:
                self._failed(host, role_problem)
                _close_quietly(raw)
                last_error = database.OperationalError(2003, f"{host.name}: {role_problem}")
                continue
            setattr(raw, HOST_ATTRIBUTE, host.name)
            host.opened.add(raw)
            return raw
        assert last_error is not None
        raise last_error

    def _wrong_role(self, raw: Any) -> str | None:
        if self.require is None:
            return None
        cursor = raw.cursor()
        try:
            cursor.execute("SELECT @@read_only")
            read_only = bool(int(cursor.fetchone()[0]))
        finally:
            cursor.close()
        if self.require == PRIMARY and read_only:
            return "is read-only (require: 'primary')"
        if self.require == REPLICA and not read_only:
            return "is writable (require: 'replica')"
        return None

    def connection_lost(self, raw: Any, why: str) -> None:
        """A connection to one of our hosts died: back off from that host at once.

        Otherwise the next new connection would try it first and wait out a connect
        timeout (a crashed node's port may still accept, with nobody answering).
        """
        name = getattr(raw, HOST_ATTRIBUTE, None)
        for host in self.hosts:
            if host.name == name and host.skip_until <= time.monotonic():
                self._failed(host, f"a connection to it was lost: {why}")

    def _failed(self, host: Host, why: str) -> None:
        # No lock (an exception may land on any line of a borrower's thread): each field
        # is one assignment, and two threads noting a failure at once agree anyway.
        host.last_failure = time.time()
        host.last_error = why[:300]
        host.skip_until = time.monotonic() + self.backoff * (1 + random.uniform(0, _JITTER))

    def report(self, is_open: Callable[[Any], bool]) -> list[dict[str, Any]]:
        return [host.report(is_open) for host in self.hosts]


def _close_quietly(raw: Any) -> None:
    with contextlib.suppress(Exception):  # a connection we are throwing away anyway
        raw.close()
