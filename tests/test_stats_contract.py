"""``pool_stats()`` is one typed snapshot: its keys are ``PoolStats``'s, each documented.

The status command, Prometheus, OpenTelemetry and the toolbar panel read this snapshot and
nothing else of the pool (``tests/test_layers.py``), so a key that appears, disappears or
goes undocumented here is a change every one of them sees.
"""

from __future__ import annotations

import re
import typing
from pathlib import Path

import django_mysqlpool
from django_mysqlpool.pool import COUNTERS, PoolStats

API_PAGE = Path(__file__).parent.parent / "docs" / "api.rst"


def test_the_snapshot_has_exactly_the_typed_keys(make_wrapper):
    wrapper = make_wrapper(pool={"pool_size": 2})
    wrapper.ensure_connection()
    [found] = django_mysqlpool.pool_stats()
    wrapper.close()
    typed = typing.get_type_hints(PoolStats)
    optional = PoolStats.__optional_keys__
    assert set(found) == set(typed) - optional
    assert optional == {"hosts"}  # present only with OPTIONS["pool"]["hosts"]
    assert set(COUNTERS) <= set(typed)
    assert found["size"] == found["idle"] + found["checked_out"] + found["opening"] == 1


def test_every_key_is_documented_on_the_api_page():
    terms = [line for line in API_PAGE.read_text().splitlines() if line.startswith("   ``")]
    documented = {name for line in terms for name in re.findall(r"``(\w+)``", line)}
    missing = set(typing.get_type_hints(PoolStats)) - documented
    assert missing == set()
