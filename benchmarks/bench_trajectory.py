"""Benchmark of one full trajectory check (docs/architecture.md#speed): Lemma 5.2 along a run, width m and 4m, 4 replicas.

Run serially with ``pytest benchmarks/bench_trajectory.py --benchmark-enable`` (pytest-benchmark
switches itself off under xdist).  The reference implementation in the same run is the same check
with the plain numpy particle step instead of the compiled one; the post-processing
(:func:`theory.trajectory.path_evidence` on a recorded run) is timed on its own as well.
"""

import pytest

from checks import _dynamics_common as common
from checks import dynamics_claims as dc
from checks.strategies import build_dataset
from checks.verdict import Status
from theory.activations import TANH
from theory.dynamics import Dynamics, DynamicsConfig
from theory.kernels import kernel_constants
from theory.trajectory import path_evidence, run_coupled

CASE = dc.EXAMPLE_PATH


def _fresh():
    # The check memoises runs per case; clear them so that every round simulates from scratch.
    dc._paths_cached.cache_clear()
    common._gibbs_cached.cache_clear()
    return (), {}


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_lemma_5_2_path_check(benchmark, backend):
    case = {**CASE, "backend": backend}
    dc.check_lemma_5_2(case)  # compile and warm caches of the data (not timed)
    v = benchmark.pedantic(lambda: dc.check_lemma_5_2(case), setup=_fresh, rounds=3, iterations=1)
    assert v.status is Status.HOLDS


def test_path_evidence_postprocessing(benchmark):
    X, y = build_dataset(CASE)
    kc = kernel_constants(X, TANH)
    cfg = DynamicsConfig(alpha=30.0, lam=0.005, dt=0.02, m=2000, replicas=4, time="tau", lambda0=kc.lambda0)
    dyn = Dynamics(cfg, X, y, TANH, seed=1)
    run = run_coupled(dyn, dyn.initial_state(), 100, 5)
    ev = benchmark(path_evidence, run, X, y, kc.Lambda)
    assert ev.premises_hold.all()
