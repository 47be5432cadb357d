"""Speed of the particle step (DESIGN 6): compiled kernel vs a straightforward numpy reference.

Run with pytest-benchmark (benchmarks are serial; the project's addopts disable them by default)::

    python -m pytest benchmarks/bench_step.py --benchmark-enable -p no:cacheprovider -s

or as a script, which prints particle-steps/s and the ratio directly::

    python benchmarks/bench_step.py

Both pin one thread: NUMBA_NUM_THREADS / numba.set_num_threads(1) for the kernel and
OPENBLAS/OMP/MKL_NUM_THREADS (plus threadpoolctl when installed) for BLAS.  float64 throughout.
The project's step also advances the coupled reference OU (k more multiply-adds per particle),
which the reference does not: the comparison is conservative.
"""

from __future__ import annotations

import os

for _var in ("NUMBA_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import contextlib  # noqa: E402
import time  # noqa: E402

import numba  # noqa: E402
import numpy as np  # noqa: E402

from theory.activations import TANH  # noqa: E402
from theory.dynamics import Dynamics, DynamicsConfig  # noqa: E402

try:  # optional: limits BLAS even when numpy was imported before the variables above were set
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover
    threadpool_limits = None

SIZES = [(20, 10, 10_000), (20, 10, 100_000), (100, 50, 10_000)]
ALPHA, LAM = 2.0, 0.1


def _one_thread():
    numba.set_num_threads(1)
    return threadpool_limits(limits=1) if threadpool_limits is not None else contextlib.nullcontext()


def _data(n, d, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    return X, rng.uniform(-1.0, 1.0, n)


class ReferenceStep:
    """The plain numpy Euler-Maruyama step of MATH 1.3 (theta (m, d), u (m,), numpy normals)."""

    def __init__(self, n, d, m, dt, seed=0):
        rng = np.random.default_rng(seed)
        self.X, self.y = _data(n, d)
        self.theta, self.u = rng.standard_normal((m, d)), rng.standard_normal(m)
        self.rng, self.dt, self.m, self.n, self.d = rng, dt, m, n, d

    def __call__(self):
        X, th, u, dt = self.X, self.theta, self.u, self.dt
        t = np.tanh(th @ X.T)                                   # (m, n)
        r = ALPHA / self.m * (u @ t) - self.y
        a = -(2.0 * ALPHA / self.n) * r
        g_u = t @ a - LAM * u
        g_th = u[:, None] * (((1.0 - t * t) * a) @ X) - LAM * th
        xi = self.rng.standard_normal((self.m, self.d + 1))
        th += dt * g_th + np.sqrt(2.0 * LAM * dt) * xi[:, : self.d]
        u += dt * g_u + np.sqrt(2.0 * LAM * dt) * xi[:, self.d]


class KernelStep:
    """The project's step (numba backend, exact OU splitting, coupled reference OU)."""

    def __init__(self, n, d, m, dt, seed=0):
        X, y = _data(n, d)
        cfg = DynamicsConfig(alpha=ALPHA, lam=LAM, dt=dt, m=m, backend="numba")
        self.dyn = Dynamics(cfg, X, y, TANH, seed, check_stability=False)
        self.state = self.dyn.initial_state()
        self.dyn.step(self.state)  # compile (or load from the numba cache) outside the timing

    def __call__(self):
        self.dyn.step(self.state)


_RESULTS = {}


def _bench(benchmark, cls, n, d, m):
    step = cls(n, d, m, dt=1e-3)
    with _one_thread():
        benchmark.pedantic(step, rounds=20 if m <= 10_000 else 5, iterations=1, warmup_rounds=1)
    if benchmark.stats is not None:
        _RESULTS[(cls.__name__, n, d, m)] = m / benchmark.stats.stats.median


def _params():
    import pytest
    return pytest.mark.parametrize("n,d,m", SIZES, ids=[f"n{n}-d{d}-m{m}" for n, d, m in SIZES])


try:
    _sizes = _params()
except ImportError:  # pragma: no cover - script mode without pytest
    _sizes = lambda f: f  # noqa: E731


@_sizes
def test_reference_step(benchmark, n, d, m):
    _bench(benchmark, ReferenceStep, n, d, m)


@_sizes
def test_kernel_step(benchmark, n, d, m):
    _bench(benchmark, KernelStep, n, d, m)


def test_report():
    """Print particle-steps/s and the ratio kernel/reference (needs --benchmark-enable)."""
    for n, d, m in SIZES:
        ref, ker = _RESULTS.get(("ReferenceStep", n, d, m)), _RESULTS.get(("KernelStep", n, d, m))
        if ref and ker:
            print(f"\nn={n} d={d} m={m}: kernel {ker / 1e6:.2f} M particle-steps/s, "
                  f"reference {ref / 1e6:.2f} M/s, ratio {ker / ref:.2f}")


def _interleaved_rates(ker, ref, m, rounds):
    """Particle-steps/s of both steps, timed alternately so that machine load hits both alike.

    Returns ((kernel median, kernel best), (reference median, reference best)).
    """
    tk, tr = [], []
    for _ in range(rounds):
        for step, times in ((ker, tk), (ref, tr)):
            t0 = time.perf_counter()
            step()
            times.append(time.perf_counter() - t0)
    return tuple((m / float(np.median(t)), m / float(np.min(t))) for t in (tk, tr))


def main():
    with _one_thread():
        for n, d, m in SIZES:
            ker, ref = KernelStep(n, d, m, 1e-3), ReferenceStep(n, d, m, 1e-3)
            ref()
            (k_med, k_best), (r_med, r_best) = _interleaved_rates(ker, ref, m, 40 if m <= 10_000 else 10)
            print(f"n={n:4d} d={d:3d} m={m:7d}: kernel {k_med / 1e6:6.2f} M particle-steps/s "
                  f"(best {k_best / 1e6:6.2f}), reference {r_med / 1e6:5.2f} M/s (best {r_best / 1e6:5.2f}), "
                  f"ratio {k_med / r_med:5.2f} (best/best {k_best / r_best:5.2f})")


if __name__ == "__main__":
    main()
