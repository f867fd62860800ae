"""The cyclic garbage collector of a uvicorn worker, set for serving.

A page builds tens of thousands of short-lived objects (a document's triples, its view, the
template's strings); reference counting frees nearly all of them. With CPython's default
thresholds the collector still ran every 700 net allocations and, every few pages, a full
collection over everything the process holds (FastAPI's and pydantic's classes, the memoised
documents): 50-70 ms with the loop held, at 5M triples four times in 140 first visits of
entity and article pages served by two workers (bench/README.md, 2026-12-07). So what
start-up made is frozen (``gc.freeze``: out of the collector's sight), and the young
generation is collected after 50,000 net allocations instead of 700; none ran in the same
140 visits.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 50_000  # net allocations between young collections (CPython's default: 700)


def settle() -> None:
    """Collect once, then freeze what the process holds now: after start-up and after a
    reload has retired a backend (unfrozen first, so the retired one's cycles are freed)."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
