"""Log-log plot of the exact Gram's time and peak memory against n, from benchmarks/gram_scaling.py.

Usage::

    python benchmarks/gram_scaling.py          # writes benchmarks/gram_scaling.csv
    python benchmarks/plot_gram_scaling.py     # writes benchmarks/gram_scaling.png

Process CPU time (less sensitive to a shared machine's load than wall time); reference slopes n^2
(pairs) through the last point of each route.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display on the benchmark machines
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402,F401

HERE = Path(__file__).resolve().parent


def load(path: Path) -> dict:
    """Rows of the CSV grouped by route: {route: [(n, cpu_seconds, peak_bytes), ...]} sorted by n."""
    out = {}
    with open(path, newline="") as fh:
        for r in csv.DictReader(fh):
            out.setdefault(r["route"], []).append((int(r["n"]), float(r["cpu_seconds"]), float(r["peak_bytes"])))
    return {k: sorted(v) for k, v in out.items()}


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    src = Path(argv[0]) if argv else HERE / "gram_scaling.csv"
    dst = Path(argv[1]) if len(argv) > 1 else HERE / "gram_scaling.png"
    data = load(src)
    fig, (ax_t, ax_m) = plt.subplots(1, 2, figsize=(9, 3.6))
    for route, rows in data.items():
        n = [r[0] for r in rows]
        ax_t.loglog(n, [r[1] for r in rows], "o-", label=route)
        ax_m.loglog(n, [r[2] / 2 ** 20 for r in rows], "o-", label=route)
        n_last, t_last = n[-1], rows[-1][1]
        ax_t.loglog(n, [t_last * (k / n_last) ** 2 for k in n], ":", color="grey")
    ax_t.set(xlabel="n", ylabel="CPU seconds (one thread)", title="gram_p0, tanh, d = 10 (dotted: n^2)")
    ax_m.set(xlabel="n", ylabel="peak MiB (tracemalloc)", title="peak memory")
    sizes = sorted({r[0] for rows in data.values() for r in rows})
    for ax in (ax_t, ax_m):
        ax.set_xticks(sizes, [str(k) for k in sizes])
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(dst, dpi=120)
    print(f"wrote {dst}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
