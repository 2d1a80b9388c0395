"""Run every benchmark, or the ones named: ``python -m bench [meta_transport ...]``.

A benchmark is a module of this package with a ``run() -> None`` that prints its figures. Add
new ones to ``BENCHMARKS``.
"""

from __future__ import annotations

import importlib
import sys
import time

BENCHMARKS = (
    "meta_transport",
    "bulk_accept",
    "bulk_rate",
    "estimate_accuracy",
    "pipeline_ceiling",
    "webhook_http",
    "webhook_ingest",
    "watch_lag",
    "watch_lag_cluster",
    "bulk_memory",
    "single_sends",
    "shared_number",
    "quota_decisions",
    "callback_delivery",
    "dashboard",
    "send_window_plan",
    "takeover",
    "crash_unknown",
    "cluster_throughput",
)


def main(argv: list[str]) -> int:
    names = argv or list(BENCHMARKS)
    unknown = sorted(set(names) - set(BENCHMARKS))
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
        return 2
    for name in names:
        started = time.perf_counter()
        importlib.import_module(f"bench.{name}").run()
        print(f"({name}: {time.perf_counter() - started:.1f} s)\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
