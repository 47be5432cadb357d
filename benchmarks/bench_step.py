"""Speed of the particle step: compiled kernel vs a straightforward numpy reference, erf vs tanh, and
whole stretches of steps vs the bare kernel.

Groups (``benchmark.group``), each benchmark beside its reference:

* ``step n..-d..-m..``: the numpy reference step, the kernel with tanh and the kernel with erf (issue 12
  target: erf within 1.25x of tanh at every size);
* ``stretch n3-d2-m8000``: the bare compiled step called directly, :meth:`Dynamics.step` once per step
  and :meth:`Dynamics.advance` over 50 steps, per step (target: advance within 5% of the bare kernel);
* ``block n3-d2-m8000``: :meth:`Dynamics.advance` with the default block for n (2048 here) beside the
  fixed 256-particle block used before;
* ``record n3-d2-m8000``: 8 steps with no record (:meth:`Dynamics.advance`), 8 steps then a separate
  record (:meth:`Dynamics.record`, the reference) and 8 steps and a record in one compiled call
  (:meth:`Dynamics.records`, the record reusing the next step's first pass); the report gives a record's
  cost in steps (issue 12: observation <= 5% of the dynamics at the checks' 2-31 steps per record).

Run with pytest-benchmark (benchmarks are serial; the project's addopts disable them by default)::

    python -m pytest benchmarks/bench_step.py --benchmark-enable -p no:cacheprovider -s

or as a script, which prints particle-steps per CPU-second and the ratios directly (the two steps of
each comparison timed alternately)::

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

from theory import _kernels_numba as _K  # noqa: E402
from theory.activations import ERF, TANH  # noqa: E402
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
    """The plain numpy Euler-Maruyama step of docs/model.md#particle-sde-and-algorithm-1 (theta (m, d), u (m,), numpy normals)."""

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
    """The project's step (numba backend, exact OU splitting, coupled reference OU), tanh."""

    act = TANH
    block = None      # the default block for n (theory._observe.default_block)

    def __init__(self, n, d, m, dt, seed=0, replicas=None):
        X, y = _data(n, d)
        cfg = DynamicsConfig(alpha=ALPHA, lam=LAM, dt=dt, m=m, backend="numba", replicas=replicas, parallel=False,
                             block=self.block)
        self.dyn = Dynamics(cfg, X, y, self.act, seed, check_stability=False)
        self.state = self.dyn.initial_state()
        self.dyn.step(self.state)  # compile (or load from the numba cache) outside the timing

    def __call__(self):
        self.dyn.step(self.state)


class ErfStep(KernelStep):
    """The same step with erf (kind 1: branch-free Cephes erf and exp(-z^2) in the kernel)."""

    act = ERF


class BareKernel(KernelStep):
    """The compiled one-step kernel called directly with prepared arguments (no Python around it)."""

    def __init__(self, n, d, m, dt, seed=0, replicas=None):
        super().__init__(n, d, m, dt, seed, replicas)
        dyn, st = self.dyn, self.state
        bf, (kind, _, s) = dyn._buffers, dyn._numba
        self.args = (st.thetaT, st.u, st.v_thetaT, st.v_u, bf["X"], bf["y"], bf["buf"], bf["buf2"], kind, bf["hc"],
                     1.0 / s, dyn.config.alpha, dyn._coef[4], dyn._coef[:4], bf["d3"], False)
        self.key = _K.stream_key(seed, 1)
        self.tail = (True, dyn.config.block, dyn._use_blas)

    def __call__(self):
        _K.particle_step(*self.args, self.key, *self.tail)


class Stretch(KernelStep):
    """:meth:`Dynamics.advance` over STRETCH steps (divide the time by STRETCH for a per-step figure)."""

    def __call__(self):
        self.dyn.advance(self.state, STRETCH)


class Block256(Stretch):
    """:class:`Stretch` with the fixed block of 256 particles used before the block followed n."""

    block = 256


STRETCH = 50
STRETCH_SIZE = (3, 2, 2000, 4)     # n, d, m, replicas: m R = 8000 particles, the ci size of the checks
RECORD_EVERY, RECORDS = 8, 8       # steps per record (the ci runs record every 2 to 31 steps), records per call


class Unrecorded(KernelStep):
    """RECORDS * RECORD_EVERY steps by :meth:`Dynamics.advance`, no record."""

    def __call__(self):
        self.dyn.advance(self.state, RECORDS * RECORD_EVERY)


class ThenRecord(KernelStep):
    """RECORDS times: RECORD_EVERY steps, then :meth:`Dynamics.record` with the reference moments and the
    stability check (a separate sweep over the particles: the reference)."""

    def __call__(self):
        for _ in range(RECORDS):
            self.dyn.advance(self.state, RECORD_EVERY)
            self.dyn.record(self.state, check=True, reference=True)


class Recorded(KernelStep):
    """The same steps and records by :meth:`Dynamics.records` (compiled calls of several records; each
    record is the next step's first pass)."""

    def __call__(self):
        self.dyn.records(self.state, [RECORD_EVERY * (q + 1) for q in range(RECORDS)], reference=True, check=True)


_RESULTS = {}


def _bench(benchmark, cls, n, d, m):
    benchmark.group = f"step n{n}-d{d}-m{m}"
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


@_sizes
def test_kernel_step_erf(benchmark, n, d, m):
    _bench(benchmark, ErfStep, n, d, m)


def _classes(*classes):
    """``@pytest.mark.parametrize("cls", classes)``; the identity when pytest is absent (script use)."""
    try:
        import pytest
    except ImportError:  # pragma: no cover
        return lambda f: f
    return pytest.mark.parametrize("cls", list(classes), ids=lambda c: c.__name__)


def _bench_stretch_size(benchmark, cls, group, rounds, warmup=1, per=1):
    """Benchmark ``cls`` at STRETCH_SIZE in group ``group``; the median divided by ``per`` goes to _RESULTS."""
    n, d, m, R = STRETCH_SIZE
    benchmark.group = f"{group} n{n}-d{d}-m{m * R}"
    run = cls(n, d, m, dt=1e-3, replicas=R)
    with _one_thread():
        benchmark.pedantic(run, rounds=rounds, iterations=1, warmup_rounds=warmup)
    if benchmark.stats is not None:
        _RESULTS[(group, cls.__name__)] = benchmark.stats.stats.median / per


@_classes(BareKernel, KernelStep, Stretch)
def test_stretch(benchmark, cls):
    per = STRETCH if cls is Stretch else 1
    _bench_stretch_size(benchmark, cls, "stretch", 200 // per + 5, per=per)


@_classes(Block256, Stretch)
def test_block(benchmark, cls):
    _bench_stretch_size(benchmark, cls, "block", 30, per=STRETCH)


@_classes(Unrecorded, ThenRecord, Recorded)
def test_record(benchmark, cls):
    _bench_stretch_size(benchmark, cls, "record", 20, warmup=2)


def _record_line(plain, sep, fused) -> str:
    plain, sep, fused = plain / RECORDS, sep / RECORDS, fused / RECORDS
    step = plain / RECORD_EVERY
    return (f"record every {RECORD_EVERY} steps, m R = {STRETCH_SIZE[2] * STRETCH_SIZE[3]}: a record costs "
            f"{(sep - plain) / step:.2f} steps apart, {(fused - plain) / step:.2f} steps in one call (observation "
            f"{(sep - plain) / sep:.1%} -> {(fused - plain) / fused:.1%} of the dynamics)")


def test_report():
    """Print particle-steps/s and the ratios (needs --benchmark-enable)."""
    for n, d, m in SIZES:
        ref, ker = _RESULTS.get(("ReferenceStep", n, d, m)), _RESULTS.get(("KernelStep", n, d, m))
        erf = _RESULTS.get(("ErfStep", n, d, m))
        if ref and ker:
            print(f"\nn={n} d={d} m={m}: kernel {ker / 1e6:.2f} M particle-steps/s, "
                  f"reference {ref / 1e6:.2f} M/s, ratio {ker / ref:.2f}"
                  + (f"; erf {erf / 1e6:.2f} M/s, time erf/tanh {ker / erf:.3f}" if erf else ""))
    bare = _RESULTS.get(("stretch", "BareKernel"))
    if bare:
        for name in ("KernelStep", "Stretch"):
            t = _RESULTS.get(("stretch", name))
            if t:
                print(f"\nstretch {STRETCH_SIZE}: {name} {t * 1e6:.1f} us/step, bare kernel {bare * 1e6:.1f} us, "
                      f"ratio {t / bare:.3f}")
    fixed, default = _RESULTS.get(("block", "Block256")), _RESULTS.get(("block", "Stretch"))
    if fixed and default:
        print(f"\nblock {STRETCH_SIZE}: 256 particles {fixed * 1e6:.1f} us/step, default "
              f"{Stretch(*STRETCH_SIZE[:3], 1e-3, replicas=STRETCH_SIZE[3]).dyn.config.block} {default * 1e6:.1f} us, "
              f"ratio {default / fixed:.3f}")
    rec = [_RESULTS.get(("record", c.__name__)) for c in (Unrecorded, ThenRecord, Recorded)]
    if all(rec):
        print("\n" + _record_line(*rec))


def _interleaved_rates(ker, ref, m, rounds):
    """Particle-steps/s of both steps, timed alternately so that machine load hits both alike.

    Returns ((kernel median, kernel best), (reference median, reference best)).
    """
    tk, tr = [], []
    for _ in range(rounds):
        for step, times in ((ker, tk), (ref, tr)):
            t0 = time.process_time()       # CPU time: one thread, so load on a shared machine matters less
            step()
            times.append(time.process_time() - t0)
    return tuple((m / float(np.median(t)), m / float(np.min(t))) for t in (tk, tr))


def main():
    with _one_thread():
        for n, d, m in SIZES:
            tanh, erf = KernelStep(n, d, m, 1e-3), ErfStep(n, d, m, 1e-3)
            (t_med, _), (e_med, _) = _interleaved_rates(tanh, erf, m, 40 if m <= 10_000 else 10)
            print(f"n={n:4d} d={d:3d} m={m:7d}: tanh {t_med / 1e6:6.2f} M particle-steps/s, erf {e_med / 1e6:6.2f}, "
                  f"time erf/tanh {t_med / e_med:5.3f}")
        n, d, m, R = STRETCH_SIZE
        bare, stretch = BareKernel(n, d, m, 1e-3, replicas=R), Stretch(n, d, m, 1e-3, replicas=R)
        (b_med, _), (s_med, _) = _interleaved_rates(bare, stretch, 1, 100)
        print(f"stretch n={n} d={d} m R={m * R}: bare kernel {1e6 / b_med:7.1f} us/step, advance "
              f"{1e6 / (s_med * STRETCH):7.1f} us/step, ratio {b_med / (s_med * STRETCH):5.3f}")
        fixed = Block256(n, d, m, 1e-3, replicas=R)
        (f_med, _), (s_med, _) = _interleaved_rates(fixed, stretch, 1, 60)
        print(f"block n={n} d={d} m R={m * R}: 256 particles {1e6 / (f_med * STRETCH):7.1f} us/step, default "
              f"{stretch.dyn.config.block} {1e6 / (s_med * STRETCH):7.1f} us/step, ratio {f_med / s_med:5.3f}")
        runs = [c(n, d, m, 1e-3, replicas=R) for c in (Unrecorded, ThenRecord, Recorded)]
        (p_med, _), (s_med, _) = _interleaved_rates(runs[0], runs[1], 1, 40)
        (_, _), (f_med, _) = _interleaved_rates(runs[0], runs[2], 1, 40)
        print(_record_line(1.0 / p_med, 1.0 / s_med, 1.0 / f_med))
        for n, d, m in SIZES:
            ker, ref = KernelStep(n, d, m, 1e-3), ReferenceStep(n, d, m, 1e-3)
            ref()
            (k_med, k_best), (r_med, r_best) = _interleaved_rates(ker, ref, m, 40 if m <= 10_000 else 10)
            print(f"n={n:4d} d={d:3d} m={m:7d}: kernel {k_med / 1e6:6.2f} M particle-steps/s "
                  f"(best {k_best / 1e6:6.2f}), reference {r_med / 1e6:5.2f} M/s (best {r_best / 1e6:5.2f}), "
                  f"ratio {k_med / r_med:5.2f} (best/best {k_best / r_best:5.2f})")


if __name__ == "__main__":
    main()
