"""The garbage collector of a long-running process, tuned once its start-up is over.

A send allocates many short-lived objects (protobuf, aiohttp, SQLAlchemy), so with CPython's
default threshold (700 allocations) the collector ran often, and each older-generation pass
walked the whole start-up heap (every imported module's objects): 12% of the service's samples
under load (docs/benchmarks.md, "Single sends"). Start-up's objects live as long as the process:
frozen, no collection walks them again; and young collections wait for 50,000 allocations
(CPython counts allocations less deallocations): a bulk worker's young and middle collections
took about 355 CPU ms over a 12,000-message run at 10,000 and about 70 ms at 50,000
(docs/benchmarks.md, "Cluster throughput"). Cycles are still collected, a little later.
"""

from __future__ import annotations

import gc

# Allocations between young collections (CPython's default: 700); the older generations' ratios
# stay at their defaults.
YOUNG_THRESHOLD = 50_000


def settle_start_up_heap() -> None:
    """Call once the process has started (imports done, connections open), before serving."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
