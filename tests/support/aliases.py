"""Adding database aliases for one test: settings.DATABASES and Django's connection handler."""

from __future__ import annotations

import warnings
from typing import Any

import pytest


def add_aliases(settings: Any, monkeypatch: pytest.MonkeyPatch, added: dict[str, Any]) -> None:
    """Make ``added`` usable as ``connections[alias]`` and visible in ``DATABASES``.

    Django's handler reads DATABASES once; the test's own aliases are put into it (and
    taken out again by ``monkeypatch``) the way it would have read them.
    """
    from django.db import connections

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # Django: "Overriding DATABASES..."
        settings.DATABASES = {**settings.DATABASES, **added}
    everything = {"default": settings.DATABASES["default"], **added}
    configured = connections.configure_settings({a: dict(d) for a, d in everything.items()})
    for alias in added:
        monkeypatch.setitem(connections.settings, alias, configured[alias])
