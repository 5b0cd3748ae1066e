"""A django-debug-toolbar panel: what each request's borrows cost, and this process's pools.

``pip install "django-mysqlpool[debug-toolbar]"`` and add
``"django_mysqlpool.debug_toolbar.PoolPanel"`` to ``DEBUG_TOOLBAR_PANELS``. Per request it
shows each borrow (how long getting the connection took, the part spent queued for a slot,
the connect, new or reused, how long it was held), the borrowers that timed out, and the
state of every pool of the process that served the request (as ``pool_stats()``).
"""

from __future__ import annotations

import os
import time
from contextvars import ContextVar, Token
from typing import Any

from debug_toolbar.panels import Panel
from django.db import connections
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string

from ..integration.lifecycle import pool_stats
from ..pool import BORROWED, CONNECTED, GIVEN_BACK, TIMED_OUT, PoolEvent, add_listener, is_listening

#: What a toolbar request heard: (when it happened, ``time.monotonic()``, the event).
Heard = list[tuple[float, PoolEvent]]

#: The list the toolbar request running in this context collects into, None outside one.
#: A ContextVar rather than a thread-local: under ASGI the view runs in a worker thread
#: with a copy of the request's context, which still holds the same list.
_collecting: ContextVar[Heard | None] = ContextVar("django_mysqlpool_toolbar", default=None)

#: The ``pool_stats()`` figures the panel shows, in its rows' order, with their labels.
POOL_FIGURES: dict[str, str] = {
    "size": "Open connections",
    "checked_out": "Checked out",
    "idle": "Idle",
    "overflow": "Beyond pool_size",
    "pending": "Waiting now",
    "max_connections": "Open at most",
    "created": "Connections opened",
    "borrowed": "Borrows",
    "waits": "Borrows that waited",
    "wait_seconds_max": "Longest wait (s)",
    "timeouts": "Timed out",
    "discarded": "Discarded",
}

#: Their keys: what the toolbar stores for each pool, and what the labels are shown for.
POOL_STATE = tuple(POOL_FIGURES)


def hear(event: PoolEvent) -> None:
    """The pool listener: one lookup outside a toolbar request, one append inside one.

    It runs on the borrower's thread in the middle of a query, where an interrupt may
    land on any line (see ``pool/observers.py``): no lock, no I/O, nothing to undo.
    """
    heard = _collecting.get()
    if heard is not None:
        heard.append((event.at, event))


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


def _borrow_row(
    event: PoolEvent, at_ms: float, held_so_far: float, connects: dict[str, float]
) -> dict[str, Any]:
    """A borrow's row; the target's last connect, if any, was made for this borrow."""
    connect = connects.pop(event.target, None)
    return {
        "target": event.target,
        "at_ms": at_ms,
        "wait_ms": _ms(event.seconds),
        "queued_ms": _ms(event.queued),
        "connect_ms": None if connect is None else _ms(connect),
        "new": event.new,
        "held_ms": _ms(held_so_far),
        "given_back": False,
    }


def summarise(heard: Heard, started: float, now: float) -> dict[str, Any]:
    """The request's borrows and timeouts as plain data (the toolbar stores it as JSON).

    Held counts from getting the connection. A borrow not given back yet (Django gives
    back on ``request_finished``, after the toolbar has rendered) is held ``now - got``,
    "so far". Give-backs pair with the oldest open borrow of their target: events do not
    say which connection they concern.
    """
    borrows: list[dict[str, Any]] = []
    timeouts: list[dict[str, Any]] = []
    open_borrows: dict[str, list[dict[str, Any]]] = {}
    connects: dict[str, float] = {}  # a connect belongs to the target's next borrow
    for at, event in heard:
        if event.kind == CONNECTED:
            connects[event.target] = event.seconds
        elif event.kind == BORROWED:
            borrow = _borrow_row(event, _ms(at - started), now - at, connects)
            borrows.append(borrow)
            open_borrows.setdefault(event.target, []).append(borrow)
        elif event.kind == GIVEN_BACK and open_borrows.get(event.target):
            # (A connection borrowed before this request began has no row to close.)
            given_back = open_borrows[event.target].pop(0)
            given_back.update(held_ms=_ms(event.seconds), given_back=True)
        elif event.kind == TIMED_OUT:
            timeouts.append(
                {"target": event.target, "at_ms": _ms(at - started), "wait_ms": _ms(event.seconds)}
            )
    return {"borrows": borrows, "timeouts": timeouts}


def pool_state(found: dict[str, Any]) -> dict[str, Any]:
    """One pool's column: its target, the ``POOL_STATE`` figures and its settings in force."""
    settings = found.get("settings") or {}
    return {
        "target": found["target"],
        "figures": [(key, found.get(key)) for key in POOL_STATE],
        "settings": ", ".join(f"{name}={value}" for name, value in settings.items()),
    }


def figure_rows(pools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The pools' figures turned for the panel: a row per figure (its key, its label, each
    pool's value), so that many pools add columns of one short figure each."""
    figures = [dict(pool["figures"]) for pool in pools]
    return [
        {"key": key, "label": label, "values": [one.get(key) for one in figures]}
        for key, label in POOL_FIGURES.items()
    ]


def subtitle(found: dict[str, Any]) -> str:
    """The side bar's line: "1 borrow, reused, waited 0.1 ms"."""
    borrows, timeouts = found.get("borrows", []), found.get("timeouts", [])
    if not borrows:
        line = "no borrow" + (", connection held from before" if found.get("already_held") else "")
    else:
        waited = sum(borrow["wait_ms"] for borrow in borrows)
        new = sum(1 for borrow in borrows if borrow["new"])
        if len(borrows) == 1:
            line = f"1 borrow, {'new' if new else 'reused'}, waited {waited:.1f} ms"
        else:
            line = f"{len(borrows)} borrows ({new} new), waited {waited:.1f} ms"
    if timeouts:
        line += f", {len(timeouts)} timed out"
    return line


def _aliases_holding_a_connection() -> list[str]:
    """Aliases whose connection this request did not borrow: it was held when it began."""
    return [
        wrapper.alias
        for wrapper in connections.all(initialized_only=True)
        if wrapper.vendor == "mysql" and wrapper.connection is not None
    ]


class PoolPanel(Panel):
    """The "Connection pool" panel."""

    title = "Connection pool"
    template = "django_mysqlpool/debug_toolbar/pool.html"
    is_async = True  # the context holding the list reaches the view's thread (see above)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._heard: Heard = []
        self._started = 0.0
        self._token: Token[Heard | None] | None = None
        self._already_held: list[str] = []

    @property
    def content(self) -> str:
        # The labels are added as the panel is shown: the toolbar's store keeps the figures.
        found = self.get_stats()  # type: ignore[no-untyped-call]
        rows = figure_rows(found.get("pools", []))
        return render_to_string(self.template, {**found, "figure_rows": rows})

    @property
    def nav_subtitle(self) -> str:
        # From the stats, so a request the history panel brings back from the store reads
        # the same.
        return subtitle(self.get_stats())  # type: ignore[no-untyped-call]

    def enable_instrumentation(self) -> None:
        if self._token is not None:  # the toolbar asks for idempotence
            return
        if not is_listening(hear):  # from the first request the toolbar watches
            add_listener(hear)
        self._heard, self._started = [], time.monotonic()
        self._already_held = _aliases_holding_a_connection()
        self._token = _collecting.set(self._heard)

    def disable_instrumentation(self) -> None:
        if self._token is None:
            return
        try:
            _collecting.reset(self._token)
        except ValueError:  # set in another context (an async hop): stop collecting anyway
            _collecting.set(None)
        self._token = None

    def generate_stats(self, request: HttpRequest, response: HttpResponse) -> None:
        found = summarise(list(self._heard), self._started, time.monotonic())
        found["already_held"] = self._already_held
        found["pid"] = os.getpid()
        found["pools"] = [pool_state(one) for one in pool_stats()]
        self.record_stats(found)  # type: ignore[no-untyped-call]
