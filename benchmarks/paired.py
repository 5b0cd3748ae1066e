"""Ours against the minimal pool, chunk beside chunk: issue 22's request gap, measured closely.

The table's rows each run 2,000 requests at a time, one configuration after another. On
this virtual machine the speed changes within a second, so two rows of the same run differ
by ±0.05–0.1 × persistent from that alone (15 rounds): as much as the gap issue 22 asks
for, whichever way. Here the same request loop (``workload.one_request``) runs in short
chunks, ours, the minimal pool and the persistent connection in turn, the order turning
each time, many times over; each chunk of ours is compared with the minimal pool's chunk
beside it, and the median of those differences is the gap. Six runs of it on one day
gave 12 to 16 µs, where the two rows' difference ranged over 20 µs.

Switching configuration every chunk leaves a little of each chunk's first request cold:
all three pay that, the bigger code path a little more; chunks of 100 requests gave the
same gap as chunks of 20.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

# First: importing workload sets Django up.
from workload import PLAIN, POOLED, Config, one_request, rotated, wrapper_for

# isort: split
import minimal_pool

#: Requests a chunk: short enough that the machine's speed does not change within a pair.
CHUNK = 20


@dataclass
class PairedGap:
    chunks: int
    requests_per_chunk: int
    #: Medians of µs per request, each over its chunks.
    ours_us: float
    minimal_us: float
    persistent_us: float
    #: The median of (ours − minimal) over chunks side by side, and its quartiles.
    gap_us: float
    gap_q1_us: float
    gap_q3_us: float

    @property
    def ratio_gap(self) -> float:
        """ours ÷ persistent − minimal ÷ persistent, from the paired chunks."""
        return self.gap_us / self.persistent_us

    def summary(self) -> dict[str, Any]:
        return {**self.__dict__, "ratio_gap": self.ratio_gap}


def measure_gap(chunks: int, requests: int = CHUNK) -> PairedGap:
    """Runs ``chunks`` chunks of each of the three, in turn; see the module's docstring."""
    pool = minimal_pool.new_pool(1)
    ours = wrapper_for(Config("ours, paired", POOLED))
    minimal = wrapper_for(Config("minimal pool, paired", PLAIN))
    persistent = wrapper_for(
        Config("persistent, paired", PLAIN, {"CONN_MAX_AGE": None}, persistent=True)
    )
    arms: list[tuple[Any, bool, Callable[[], Any]]] = [
        (ours, False, nullcontext),
        (minimal, False, lambda: minimal_pool.swapped_in(pool)),
        (persistent, True, nullcontext),
    ]
    samples: list[list[float]] = [[], [], []]
    try:
        for turn in range(chunks + 1):  # the first turn warms up, untimed
            for index in rotated(list(range(len(arms))), turn):
                wrapper, keeps, context = arms[index]
                with context():
                    started = time.perf_counter()
                    for _ in range(requests):
                        one_request(wrapper, keeps)
                    took = (time.perf_counter() - started) / requests * 1e6
                if turn:
                    samples[index].append(took)
    finally:
        for wrapper, _, _ in arms:
            wrapper.close()
        pool.close()
    gaps = [a - b for a, b in zip(samples[0], samples[1], strict=True)]
    q1, _, q3 = statistics.quantiles(gaps, n=4)
    median = statistics.median
    return PairedGap(
        chunks=chunks,
        requests_per_chunk=requests,
        ours_us=median(samples[0]),
        minimal_us=median(samples[1]),
        persistent_us=median(samples[2]),
        gap_us=median(gaps),
        gap_q1_us=q1,
        gap_q3_us=q3,
    )


def print_gap(gap: PairedGap) -> None:
    print(
        f"\nours against the minimal pool, {gap.chunks} chunks of {gap.requests_per_chunk} "
        f"requests each, the two and the persistent connection in turn (paired.py):\n"
        f"  ours {gap.ours_us:.1f} µs, minimal pool {gap.minimal_us:.1f} µs, persistent "
        f"{gap.persistent_us:.1f} µs a request (medians over chunks)\n"
        f"  ours − minimal, chunk beside chunk: {gap.gap_us:+.1f} µs (quartiles "
        f"{gap.gap_q1_us:+.1f} to {gap.gap_q3_us:+.1f}) = {gap.ratio_gap:+.3f} × persistent"
    )
