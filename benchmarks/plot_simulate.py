"""Log-log plot of simulate()'s time and peak memory against m, from ``bench_simulate.py --json``.

    python benchmarks/bench_simulate.py --json benchmarks/simulate_vs_m.json
    python benchmarks/plot_simulate.py benchmarks/simulate_vs_m.json [--before OLD.json] [-o simulate_vs_m.png]

Left: CPU seconds of simulate() and of the bare steps (the dynamics alone); right: peak bytes per particle
(tracemalloc and RSS) with the floor of the state plus kernel buffers.  ``--before`` overlays the
same table measured on another version (dashed).
"""

from __future__ import annotations

import argparse
import json


def _load(path):
    with open(path) as fh:
        rows = json.load(fh)
    return sorted(rows, key=lambda r: r["m"])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("table")
    ap.add_argument("--before", default=None)
    ap.add_argument("-o", "--output", default="simulate_vs_m.png")
    a = ap.parse_args(argv)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_t, ax_m) = plt.subplots(1, 2, figsize=(10, 4))
    for path, style, tag in ((a.table, "-", ""), (a.before, "--", " (before)")):
        if path is None:
            continue
        rows = _load(path)
        m = [r["m"] for r in rows]
        ax_t.loglog(m, [r["cpu_s"] for r in rows], "o" + style, label="simulate()" + tag)
        ax_t.loglog(m, [r["steps_cpu_s"] for r in rows], "s" + style, label="steps alone" + tag)
        ax_m.loglog(m, [r["traced_bytes_per_particle"] for r in rows], "o" + style, label="tracemalloc peak" + tag)
        ax_m.loglog(m, [r["rss_bytes_per_particle"] for r in rows], "^" + style, label="RSS rise" + tag)
    rows = _load(a.table)
    ax_m.loglog([r["m"] for r in rows], [r["floor_bytes_per_particle"] for r in rows], "k:",
                label="state + kernel buffers")
    r0 = rows[0]
    ax_t.set(xlabel="m (particles)", ylabel="CPU seconds",
             title=f"n={r0['n']}, d={r0['d']}, {r0['steps']} steps, record every {r0['every']}")
    ax_m.set(xlabel="m (particles)", ylabel="peak bytes per particle", title="peak memory")
    for ax in (ax_t, ax_m):
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(a.output, dpi=120)
    print(f"wrote {a.output}")


if __name__ == "__main__":
    main()
