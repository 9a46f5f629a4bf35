"""Process-wide tuning of long-running processes (ingest workers, web workers).

Python's cyclic garbage collector runs a young-generation pass every 700 allocations of container objects and
walks everything that survived it in the older passes. An ingest batch allocates tens of thousands of tuples
and dicts that are freed by reference counting anyway, so the collector ran about 70 times per 2,000-message
batch and took 40 % of the MQTT worker's CPU (30 µs → 17.6 µs per message in ``benchmarks/ingest_sink.py``,
2026-12-04). Here the objects loaded at start (modules, ORM mappings, caches) are frozen out of the collector's
walks and the young generation holds ``CHAOYUN_GC_GEN0`` allocations before a pass. Cycles are still collected:
later and in larger passes, a few megabytes at most.
"""

from __future__ import annotations

import gc
import logging

from chaoyun.settings import env

log = logging.getLogger(__name__)


def tune_gc() -> None:
    """Call once the process has imported and loaded what it keeps for its lifetime; idempotent."""
    gen0 = int(env("GC_GEN0"))
    if gen0 <= 0:
        return  # Python's defaults
    gc.collect()
    gc.freeze()
    _g0, g1, g2 = gc.get_threshold()
    gc.set_threshold(gen0, max(g1, 20), max(g2, 100))
    log.info("gc: %d objects frozen, thresholds %s", gc.get_freeze_count(), gc.get_threshold())
