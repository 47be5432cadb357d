"""Decided cases per second of the particle-dynamics claim variants under the ``ci`` profile.

A script, not a pytest benchmark (one variant runs for tens of seconds)::

    python benchmarks/bench_dynamics_variants.py [VARIANT_ID ...] [--json OUT]

For each variant: ``checks.runner.run_variant(get_variant(id), profile="ci")``, its counts per status,
wall time, decided cases (HOLDS + VIOLATED) per second and all cases per second, plus the time spent
in :func:`theory.dynamics.simulate`-like runs (``Dynamics.run`` / ``run_coupled`` /
``long_run_average`` are not wrapped: the figure is the variant's whole wall time).  The load average
is printed before and after, since the machine may be shared.
"""

from __future__ import annotations

import json
import os
import sys
import time

VARIANTS = ("lemma-5.2/stated", "lemma-5.3/stated", "theorem-4.4/stated", "algorithm-1/corrected",
            "kernel-regime/audit")


def measure(vid: str) -> dict:
    """Run one variant under ci and return its counts, wall time and rates."""
    from checks.registry import get_variant
    from checks.runner import run_variant

    t0, c0 = time.perf_counter(), time.process_time()
    res = run_variant(get_variant(vid), profile="ci", record=False)   # ci budgets are counts
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    counts = dict(res.counts)
    total = sum(counts.values())
    decided = counts.get("HOLDS", 0) + counts.get("VIOLATED", 0)
    return {"variant": vid, "outcome": res.outcome, "counts": counts, "wall_s": wall,
            "cpu_s": cpu,
            "decided_per_s": decided / wall, "cases_per_s": total / wall, "decided_per_cpu_s": decided / cpu,
            "cases_per_cpu_s": total / cpu, "load_before": os.getloadavg()[0],
            "message": res.message}


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    out = None
    if "--json" in argv:
        i = argv.index("--json")
        out = argv[i + 1]
        del argv[i:i + 2]
    rows = []
    print(f"load average before: {os.getloadavg()}")
    for vid in argv or VARIANTS:
        row = measure(vid)
        rows.append(row)
        print(f"{vid:24s} {row['outcome']:10s} wall {row['wall_s']:7.1f} s  decided/s {row['decided_per_s']:6.3f}  "
              f"cases/s {row['cases_per_s']:6.3f}  cpu {row['cpu_s']:6.1f} s  decided/cpu-s "
              f"{row['decided_per_cpu_s']:6.3f}  cases/cpu-s {row['cases_per_cpu_s']:6.3f}  counts {row['counts']}  "
              f"load {row['load_before']:.2f}"
              + ("" if row["outcome"] != "error" else f"  ({row['message']})"), flush=True)
    print(f"load average after: {os.getloadavg()}")
    if out:
        with open(out, "w") as fh:
            json.dump(rows, fh, indent=1)


if __name__ == "__main__":
    main()
