"""OpenTelemetry metrics for this process's pools (``pip install django-mysqlpool[opentelemetry]``).

The semantic conventions for database client connection pools: ``instrument_pool_metrics()``
(once, e.g. in ``AppConfig.ready()``) registers them with the global MeterProvider, or the
one given. Gauges and the timeout counter read ``pool_stats()`` when a reader collects; the
wait, use and create times come from pool events (``pool/observers.py``).

A pool event is heard on the borrower's thread, where nothing may take a lock (see
``observers``), and the SDK's ``Histogram.record`` takes several. So the listener only
appends the event to a bounded deque, and the collection folds the deque into the
histograms (in the count's callback, which the SDK runs before it reads its storage): an
event heard before a collection starts is in that collection. When more than ``buffer``
events arrive between two collections, the oldest are dropped (and a warning says so).
"""

from __future__ import annotations

import collections
import functools
import logging
from collections.abc import Callable, Iterable, Iterator

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Histogram, MeterProvider, Observation

from ..integration.lifecycle import pool_stats
from ..pool import (
    BORROWED,
    CONNECTED,
    GIVEN_BACK,
    PoolEvent,
    add_listener,
    after_fork,
    remove_listener,
)

logger = logging.getLogger("django_mysqlpool")

POOL_NAME = "db.client.connection.pool.name"
STATE = "db.client.connection.state"
#: Wait and use times run from microseconds (an idle connection) to the pool's timeout.
# fmt: off
SECONDS_BUCKETS = (
    0.0001, 0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
)
# fmt: on
#: Which histogram each event feeds; a timed-out borrow obtained nothing, so none.
HISTOGRAMS = {
    BORROWED: ("db.client.connection.wait_time", "time to obtain a connection"),
    GIVEN_BACK: ("db.client.connection.use_time", "time from borrow to give-back"),
    CONNECTED: ("db.client.connection.create_time", "time to open a connection"),
}
#: (name, pool_stats() key, unit, description) of the gauges besides the count.
GAUGES = (
    ("db.client.connection.max", "max_connections", "{connection}", "pool_size + max_overflow"),
    ("db.client.connection.idle.max", "idle_max", "{connection}", "most that may stay idle"),
    ("db.client.connection.idle.min", "idle_min", "{connection}", "kept open when idle"),
    ("db.client.connection.pending_requests", "pending", "{request}", "borrowers waiting"),
)  # fmt: skip
DEFAULT_BUFFER = 100_000


class _Installation:
    """What one ``instrument_pool_metrics()`` call set up: the histograms and the buffer."""

    def __init__(self, provider: MeterProvider | None, buffer: int) -> None:
        #: The argument as given (None: the global provider, even once it is replaced).
        self.provider = provider
        self.events: collections.deque[PoolEvent] = collections.deque(maxlen=buffer)
        #: Collections that found the buffer full, so that some events were dropped.
        self.overflows = 0
        self.histograms: dict[str, Histogram] = {}

    def fold_events(self) -> None:
        """Record the buffered events into the histograms (at collection time)."""
        events = self.events
        if len(events) == events.maxlen:
            self.overflows += 1
            if self.overflows == 1:
                logger.warning(
                    "django-mysqlpool: the buffer of %d pool events filled up between two "
                    "metric collections; the oldest were dropped from the wait, use and "
                    "create time histograms. Collect more often (OTEL_METRIC_EXPORT_INTERVAL) "
                    "or pass a larger buffer to instrument_pool_metrics().",
                    events.maxlen,
                )
        # Only what is there now: borrowers keep appending while this runs.
        for _ in range(len(events)):
            event = events.popleft()
            histogram = self.histograms.get(event.kind)
            if histogram is not None:
                histogram.record(event.seconds, {POOL_NAME: event.target})


_installed: _Installation | None = None
Observe = Callable[[_Installation], Iterator[Observation]]


def instrument_pool_metrics(
    meter_provider: MeterProvider | None = None, *, buffer: int = DEFAULT_BUFFER
) -> None:
    """Report this process's pools to OpenTelemetry (idempotent for the same provider).

    ``meter_provider`` defaults to the global one, which may be set later (in gunicorn's
    ``post_fork``, say): instruments made before that report once it is set. ``buffer``
    is how many pool events are kept between two collections.
    """
    global _installed
    if not isinstance(buffer, int) or isinstance(buffer, bool) or buffer < 1:
        raise ValueError(
            f"instrument_pool_metrics(buffer=...) must be a positive int (pool events kept "
            f"between two metric collections), got {buffer!r}"
        )
    if _installed is not None:
        if _installed.provider is meter_provider:
            return
        raise ValueError(
            "django-mysqlpool: pool metrics already report to another MeterProvider; call "
            "django_mysqlpool.opentelemetry.uninstrument_pool_metrics() first, or pass the "
            "same meter_provider"
        )
    installation = _Installation(meter_provider, buffer)
    _register_instruments(installation)
    after_fork(_forget_parent_events)
    _installed = installation
    add_listener(installation.events.append)  # no lock, no I/O: see observers


def uninstrument_pool_metrics() -> None:
    """Stop reporting: the listener goes, the instruments report nothing from now on.

    OpenTelemetry cannot remove an instrument from a MeterProvider, so each callback
    checks that its installation is still the current one.
    """
    global _installed
    installation, _installed = _installed, None
    if installation is not None:
        remove_listener(installation.events.append)
        installation.events.clear()


def _forget_parent_events() -> None:
    """In a forked child: the buffer holds the parent's events, not this process's."""
    if _installed is not None:
        _installed.events.clear()


def _register_instruments(installation: _Installation) -> None:
    provider = installation.provider or metrics.get_meter_provider()
    meter = provider.get_meter("django_mysqlpool", _version())
    for kind, (name, description) in HISTOGRAMS.items():
        installation.histograms[kind] = meter.create_histogram(
            name, "s", description, explicit_bucket_boundaries_advisory=SECONDS_BUCKETS
        )

    # Each callback is bound to this installation's provider: instrumented again after an
    # undo, the SDK hands back the instruments it has under those names, callbacks and all.
    def callbacks(observe: Observe) -> list[Callable[[CallbackOptions], Iterable[Observation]]]:
        return [functools.partial(_observe_if_current, installation.provider, observe)]

    meter.create_observable_up_down_counter(
        "db.client.connection.count",
        callbacks(_observe_count),
        "{connection}",
        "connections in the state given by db.client.connection.state",
    )
    for name, key, unit, description in GAUGES:
        observe = functools.partial(_observe_key, key)
        meter.create_observable_up_down_counter(name, callbacks(observe), unit, description)
    meter.create_observable_counter(
        "db.client.connection.timeouts",
        callbacks(functools.partial(_observe_key, "timeouts")),
        "{timeout}",
        "borrowers that got no connection within timeout",
    )


def _observe_if_current(
    provider: MeterProvider | None,
    observe: Observe,
    options: CallbackOptions,
) -> Iterable[Observation]:
    installation = _installed
    if installation is None or installation.provider is not provider:
        return []
    return list(observe(installation))


def _observe_count(installation: _Installation) -> Iterator[Observation]:
    # The SDK runs every callback before it reads the histograms' storage: folding here
    # puts the events heard so far into this very collection.
    installation.fold_events()
    for state, key in (("used", "checked_out"), ("idle", "idle")):
        for name, value in _by_pool_name(key).items():
            yield Observation(value, {POOL_NAME: name, STATE: state})


def _observe_key(key: str, installation: _Installation) -> Iterator[Observation]:
    for name, value in _by_pool_name(key).items():
        yield Observation(value, {POOL_NAME: name})


def _by_pool_name(key: str) -> dict[str, float]:
    """``pool_stats()[key]`` by target, the pool name.

    Pools of one target (aliases that differ only in pool options) are added up: one
    name must have one value. A target with a pool without a limit (None) has none.
    """
    totals: dict[str, float] = {}
    unlimited: set[str] = set()
    for found in pool_stats():
        name, value = found["target"], found[key]
        if value is None:
            unlimited.add(name)
        else:
            totals[name] = totals.get(name, 0) + value
    return {name: value for name, value in totals.items() if name not in unlimited}


def _version() -> str:
    from .. import __version__

    return __version__
