"""Time and peak memory of the exact Gram at p0 against n: the series route against the 2-D rule.

Usage::

    python benchmarks/gram_scaling.py [--sizes 25 50 100 200 400] [--ref-max 100] [--out FILE.csv]

One thread (BLAS and numba pinned before numpy loads); tanh, d = 10, inputs of
benchmarks/bench_kernels.py.  Per n: the best of ``--repeats`` wall times of
``gram_p0(X, tanh)`` (series) and, for n <= ``--ref-max``, of ``gram_p0(X, tanh, method="gh")`` (2-D
rule, K = 80, one repeat: it takes seconds), with the process CPU time of the same call (less
sensitive to a shared machine's load than the wall time), each call's tracemalloc peak, and the
error each reports.  Prints a Markdown table and writes the CSV that benchmarks/plot_gram_scaling.py draws.
"""

from __future__ import annotations

import os

for _var in ("NUMBA_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import csv  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_kernels import K, inputs, peak_bytes  # noqa: E402
from theory.activations import TANH  # noqa: E402
from theory.kernels import gram_p0  # noqa: E402

HERE = Path(__file__).resolve().parent
FIELDS = ("n", "route", "seconds", "cpu_seconds", "peak_bytes", "quad_error")


def measure(n: int, method: str, repeats: int) -> dict:
    """Best wall time of ``repeats`` calls (after one warm-up), the peak memory and reported error."""
    X = inputs(n)
    kwargs = dict(K=K, method=method)
    g = gram_p0(X, TANH, **kwargs)
    best = cpu = float("inf")
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        gram_p0(X, TANH, **kwargs)
        best, cpu = min(best, time.perf_counter() - t), min(cpu, time.process_time() - c)
    return dict(n=n, route="series" if method == "auto" else "2-D rule", seconds=best, cpu_seconds=cpu,
                peak_bytes=peak_bytes(gram_p0, X, TANH, **kwargs), quad_error=g.quad_error)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[25, 50, 100, 200, 400])
    p.add_argument("--ref-max", type=int, default=100, help="largest n for the 2-D rule (14 s at n = 200)")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--out", type=Path, default=HERE / "gram_scaling.csv")
    args = p.parse_args(argv)
    rows = []
    for n in args.sizes:
        rows.append(measure(n, "auto", args.repeats))
        if n <= args.ref_max:
            rows.append(measure(n, "gh", 1))
    with open(args.out, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=FIELDS)
        w.writeheader()
        w.writerows(rows)
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; one thread\n")
    print("| n | route | wall | CPU | peak memory | reported error | 2-D rule / series (CPU) |")
    print("|---|---|---|---|---|---|---|")
    by = {(r["n"], r["route"]): r for r in rows}
    for r in rows:
        s = by[(r["n"], "series")]
        ratio = f"{r['cpu_seconds'] / s['cpu_seconds']:.0f}x" if r["route"] == "2-D rule" else ""
        print(f"| {r['n']} | {r['route']} | {r['seconds'] * 1e3:.1f} ms | {r['cpu_seconds'] * 1e3:.1f} ms "
              f"| {r['peak_bytes'] / 2 ** 20:.2f} MiB "
              f"| {r['quad_error']:.1e} | {ratio} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
