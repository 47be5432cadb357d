"""Time and peak memory of :func:`theory.dynamics.simulate` against m (n = 20, d = 10, tanh, one replica).

As a script it prints a table (and writes it as JSON for ``plot_simulate.py``); each size runs in a
fresh subprocess so that the peak resident memory (``ru_maxrss``) belongs to that size alone::

    python benchmarks/bench_simulate.py [--steps 20] [--every 5] [--json benchmarks/simulate_vs_m.json]

Columns (times are CPU seconds of this one-thread process, steadier than wall time on a shared
machine): simulate(); the same steps by :meth:`Dynamics.advance` without records (the
reference: the dynamics alone) and the initial state (p0 sample, stability check), hence the share of
simulate()'s time spent observing; the peak of numpy
allocations under tracemalloc and the rise of the peak RSS over the RSS before the call, both in bytes
per particle, next to the state plus kernel buffers (``(2 (d + 1) + n) * 8``, coupled reference
included), the floor any implementation of this scheme pays.  Issue 12 targets: peak <= 400 bytes per
particle at m = 1e6 and observation <= 5% of the dynamics time.

Under pytest (``--benchmark-enable``) the group ``simulate n20-d10-m100000`` times simulate() beside
the bare stepping of the same run.
"""

from __future__ import annotations

import os

for _var in ("NUMBA_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402

import numpy as np  # noqa: E402

from theory.activations import TANH  # noqa: E402
from theory.dynamics import Dynamics, DynamicsConfig, simulate  # noqa: E402

N, D = 20, 10
MS = (10_000, 30_000, 100_000, 300_000, 1_000_000)


def _setup(m, steps):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((N, D))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    y = rng.uniform(-1.0, 1.0, N)
    cfg = DynamicsConfig(alpha=2.0, lam=0.1, dt=1e-3, m=m, parallel=False)
    return cfg, X, y


def _rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def measure(m: int, steps: int, every: int) -> dict:
    """One size, in this process: simulate() time, bare-stepping time, tracemalloc and RSS peaks."""
    cfg, X, y = _setup(m, steps)
    simulate(DynamicsConfig(alpha=2.0, lam=0.1, dt=1e-3, m=64, parallel=False), X, y, TANH, 2, 0)  # compile
    rss0 = _rss_bytes()
    t0 = time.process_time()
    simulate(cfg, X, y, TANH, steps, seed=1, record_every=every)
    cpu = time.process_time() - t0
    rss_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - rss0
    t0 = time.process_time()
    dyn = Dynamics(cfg, X, y, TANH, 1)
    st = dyn.initial_state()                      # p0 sample and the stability check at step 0
    t1 = time.process_time()
    if hasattr(dyn, "advance"):
        dyn.advance(st, steps)
    else:                                         # a version before Dynamics.advance (for comparisons)
        for _ in range(steps):
            dyn.step(st)
    bare, init = time.process_time() - t1, t1 - t0
    del dyn, st
    tracemalloc.start()
    simulate(cfg, X, y, TANH, steps, seed=1, record_every=every)
    traced = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {"m": m, "n": N, "d": D, "steps": steps, "every": every, "cpu_s": cpu, "steps_cpu_s": bare,
            "init_cpu_s": init, "observe_share": max(0.0, 1.0 - (bare + init) / cpu),
            "traced_bytes_per_particle": traced / m,
            "rss_bytes_per_particle": rss_peak / m, "floor_bytes_per_particle": (2 * (D + 1) + N) * 8}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--every", type=int, default=5)
    ap.add_argument("--json", default=None)
    ap.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)   # child: one size, JSON out
    a = ap.parse_args(argv)
    if a.one is not None:
        print(json.dumps(measure(a.one, a.steps, a.every)))
        return
    rows = []
    print(f"{'m':>9} {'simulate':>11} {'steps':>8} {'observe':>8} {'traced B/p':>11} {'RSS B/p':>8} "
          f"{'floor B/p':>9}")
    for m in MS:
        out = subprocess.run([sys.executable, __file__, "--one", str(m), "--steps", str(a.steps),
                              "--every", str(a.every)], check=True, capture_output=True, text=True).stdout
        r = json.loads(out.strip().splitlines()[-1])
        rows.append(r)
        print(f"{m:9d} {r['cpu_s']:11.3f} {r['steps_cpu_s']:8.3f} {r['observe_share']:8.1%} "
              f"{r['traced_bytes_per_particle']:11.0f} {r['rss_bytes_per_particle']:8.0f} "
              f"{r['floor_bytes_per_particle']:9.0f}", flush=True)
    print(f"load average: {os.getloadavg()}")
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(rows, fh, indent=1)


def _group_params():
    import pytest
    return pytest.mark.parametrize("what", ["bare_steps", "simulate"])


try:
    _what = _group_params()
except ImportError:  # pragma: no cover
    _what = lambda f: f  # noqa: E731


@_what
def test_simulate_vs_bare_steps(benchmark, what):
    """simulate() (20 steps, a record every 5) beside the same 20 steps without records, m = 1e5."""
    if not hasattr(Dynamics, "advance"):  # pragma: no cover - an older theory/ on the path
        import pytest
        pytest.skip("Dynamics.advance not available")
    m, steps, every = 100_000, 20, 5
    benchmark.group = f"simulate n{N}-d{D}-m{m}"
    cfg, X, y = _setup(m, steps)
    simulate(DynamicsConfig(alpha=2.0, lam=0.1, dt=1e-3, m=64, parallel=False), X, y, TANH, 2, 0)  # compile
    if what == "simulate":
        benchmark.pedantic(lambda: simulate(cfg, X, y, TANH, steps, seed=1, record_every=every), rounds=3,
                           iterations=1)
    else:
        def setup():
            dyn = Dynamics(cfg, X, y, TANH, 1, check_stability=False)
            return (dyn, dyn.initial_state()), {}
        benchmark.pedantic(lambda dyn, st: dyn.advance(st, steps), setup=setup, rounds=3, iterations=1)


if __name__ == "__main__":
    main()
