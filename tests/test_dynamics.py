"""Tests of theory.dynamics: the particle scheme of docs/model.md#particle-sde-and-algorithm-1, its noise, its oracles and its guards.

Statistical assertions use 5 standard errors (two-sided false alarm ~6e-7 per component under a
normal approximation) unless stated otherwise.  Runs are small (m <= 4000, <= 1000 steps) so the
file stays well under a minute including the numba compilation (cached after the first run).
"""

from __future__ import annotations

import math
import warnings
import os

import numba
import numpy as np
import pytest
from scipy import stats
from scipy.integrate import solve_ivp

from theory import _kernels_numba as K
from theory.activations import ERF, IDENTITY, SIGMOID, TANH, scaled
from theory.dynamics import (Dynamics, DynamicsConfig, State, Trajectory, counter_normals, simulate, stable_dt,
                             step_limits)
from theory.errors import PremiseWarning, DomainError, NonFiniteError, ShapeError, UnstableStepError
from theory.kernels import gram_particles, lambda0
from theory.network import Particles, output, residual_drift_b, sample_p0, second_moment

X3 = np.array([[1.0, 0.0], [0.6, 0.8], [-0.28, 0.96]])   # unit inputs at 0, 53 and 106 degrees
Y3 = np.array([0.8, 0.2, -0.5])


def _data(n, d, seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    return X / np.linalg.norm(X, axis=1, keepdims=True), rng.uniform(-1.0, 1.0, n)


# ---------------------------------------------------------------------------------------------
# counter-based noise
# ---------------------------------------------------------------------------------------------

def test_counter_stream_numpy_twin_equals_kernel_generator():
    key = K.stream_key(11, 3)
    a, b = K.counter_normals_nb(key, 2, 257, 5), K.counter_normals_np(key, 2, 257, 5)
    # Same integer words; the float formulas differ only by fused multiply-adds (a few ulp of |xi| < 9).
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-14)


def test_vectorised_stream_keys_equal_the_scalar_keys():
    for seed in (0, 5, 2 ** 64 - 1):
        for step0 in (0, 9, 10 ** 7):
            want = np.array([K.stream_key(seed, step0 + i) for i in range(17)], dtype=np.uint64)
            assert np.array_equal(K.stream_keys(seed, step0, 17), want)


def test_counter_stream_is_standard_normal_and_independent():
    xi = counter_normals(seed=5, step=0, R=1, m=20_000, k=5)[0]
    xi_next = counter_normals(seed=5, step=1, R=1, m=20_000, k=5)[0]
    flat = xi.ravel()
    N = flat.size
    assert stats.kstest(flat, "norm").pvalue > 1e-6                       # false alarm 1e-6
    assert abs(flat.mean()) <= 5 / math.sqrt(N)
    assert abs(flat.var() - 1.0) <= 5 * math.sqrt(2.0 / N)
    tail = np.mean(np.abs(flat) > 3.0)                                    # P = 0.0026998
    assert abs(tail - 0.0026998) <= 5 * math.sqrt(0.0027 / N)
    # Box-Muller partners (components 0, 1), neighbouring pairs (1, 2) and consecutive steps are
    # uncorrelated: sample correlations have se 1/sqrt(m).
    for a, b in ((xi[:, 0], xi[:, 1]), (xi[:, 1], xi[:, 2]), (xi[:, 0], xi_next[:, 0])):
        assert abs(np.corrcoef(a, b)[0, 1]) <= 5 / math.sqrt(xi.shape[0])


def test_counter_stream_is_keyed_by_replica_and_particle_not_by_sizes():
    small = counter_normals(seed=9, step=4, R=1, m=10, k=3)
    big = counter_normals(seed=9, step=4, R=2, m=30, k=3)
    assert np.array_equal(small[0], big[0, :10])
    assert not np.allclose(big[0, :10], big[1, :10])
    assert not np.allclose(small, counter_normals(seed=9, step=5, R=1, m=10, k=3))
    assert not np.allclose(small, counter_normals(seed=10, step=4, R=1, m=10, k=3))


# ---------------------------------------------------------------------------------------------
# numba vs numpy, step for step
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("act", [TANH, scaled(SIGMOID, 2.0, 0.5), scaled(ERF, 1.5, 2.0)], ids=lambda a: a.name)
@pytest.mark.parametrize("scaling,ou", [("pde", "exact"), ("printed", "exact"), ("pde", "euler")])
def test_numba_and_numpy_steps_agree(act, scaling, ou):
    X, y = _data(5, 3, 0)
    kw = dict(alpha=3.0, lam=0.3, dt=0.01, m=300, replicas=2, scaling=scaling, ou=ou)
    nb = Dynamics(DynamicsConfig(**kw), X, y, act, seed=4)
    npy = Dynamics(DynamicsConfig(**kw, backend="numpy"), X, y, act, seed=4)
    assert nb.backend == "numba" and npy.backend == "numpy"
    s1, s2 = nb.initial_state(), npy.initial_state()
    rng = np.random.default_rng(1)
    for i in range(6):
        noise = rng.standard_normal((2, 300, 4)) if i % 2 else None      # explicit and streamed noise
        nb.step(s1, noise)
        npy.step(s2, noise)
    # Both paths do the same float64 arithmetic up to summation order and 1-ulp activation values.
    for a, b in ((s1.thetaT, s2.thetaT), (s1.u, s2.u), (s1.v_thetaT, s2.v_thetaT), (s1.v_u, s2.v_u)):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
    assert s1.step == s2.step == 6


@pytest.mark.parametrize("act", [TANH, ERF], ids=lambda a: a.name)
def test_blas_and_loop_kernels_agree_with_numpy(act):
    X, y = _data(20, 12, 5)
    states = []
    for backend, blas in (("numba", True), ("numba", False), ("numpy", None)):
        cfg = DynamicsConfig(alpha=2.0, lam=0.2, dt=0.01, m=600, replicas=2, backend=backend, blas=blas)
        dyn = Dynamics(cfg, X, y, act, seed=3)
        st = dyn.initial_state()
        for _ in range(4):
            dyn.step(st)
        states.append(st)
    for other in states[1:]:
        np.testing.assert_allclose(states[0].thetaT, other.thetaT, rtol=0, atol=1e-12)  # summation order only
        np.testing.assert_allclose(states[0].u, other.u, rtol=0, atol=1e-12)


def test_kernel_result_does_not_depend_on_block_size():
    X, y = _data(4, 3, 1)
    states = []
    for block in (64, 256):
        dyn = Dynamics(DynamicsConfig(alpha=2.0, lam=0.2, dt=0.01, m=500, block=block), X, y, TANH, seed=2)
        st = dyn.initial_state()
        for _ in range(5):
            dyn.step(st)
        states.append(st)
    np.testing.assert_allclose(states[0].thetaT, states[1].thetaT, rtol=0, atol=1e-13)  # reduction order only


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("CI") == "true", reason="compiling the parallel kernel takes ~20 s")
def test_parallel_kernel_is_bitwise_serial():
    X, y = _data(4, 3, 1)
    states = []
    for parallel in (False, True):
        dyn = Dynamics(DynamicsConfig(alpha=2.0, lam=0.2, dt=0.01, m=700, replicas=3, parallel=parallel),
                       X, y, TANH, seed=2)
        st = dyn.initial_state()
        for _ in range(3):
            dyn.step(st)
        dyn.advance(st, 4)                                   # a stretch: pass 2 and the next pass 1 fused
        dyn.records(st, [0, 2, 3, 7])                        # records in compiled calls, primed stretches
        states.append(st)
    assert np.array_equal(states[0].thetaT, states[1].thetaT) and np.array_equal(states[0].u, states[1].u)


def test_kernel_erf_matches_scipy_to_rounding():
    from scipy.special import erf

    # Dense grid over both branches (|x| <= 1 and 1 < |x| < 6), around the switch at 1, tiny and
    # subnormal arguments, and the saturated tails.
    x = np.concatenate([np.linspace(-9.0, 9.0, 360_001), np.linspace(0.999, 1.001, 20_001),
                        np.geomspace(1e-310, 1.0, 4001), -np.geomspace(1e-310, 1.0, 4001), [0.0, 5.9, 6.0, 6.1, 40.0]])
    t, e = K.erf_exp_nb(x)
    ref = erf(x)
    nz = ref != 0.0
    # Both are Cephes' rational forms; ours divides once after selecting the branch: a few ulp apart.
    assert np.max(np.abs(t - ref)[nz] / np.abs(ref[nz])) <= 1e-15
    assert np.array_equal(t[~nz], ref[~nz])
    big = np.exp(-x * x) > 1e-300                      # exp(-x^2) below the normal range is returned as 0
    assert np.max(np.abs(e - np.exp(-x * x))[big] / np.exp(-x * x)[big]) <= 1e-15
    assert np.all(e[~big] <= 1e-300)
    t, e = K.erf_exp_nb(np.array([np.inf, -np.inf, np.nan]))
    assert t[0] == 1.0 and t[1] == -1.0 and e[0] == e[1] == 0.0 and np.isnan(t[2]) and np.isnan(e[2])


@pytest.mark.parametrize("act", [TANH, scaled(ERF, 1.5, 2.0)], ids=lambda a: a.name)
@pytest.mark.parametrize("blas", [False, True])
def test_advance_is_bitwise_the_same_as_single_steps(act, blas):
    X, y = _data(4, 3, 2)
    states = []
    for mode in ("step", "advance"):
        dyn = Dynamics(DynamicsConfig(alpha=2.0, lam=0.2, dt=0.01, m=600, replicas=2, blas=blas, block=128), X, y,
                       act, seed=6)
        st = dyn.initial_state()
        if mode == "step":
            for _ in range(7):
                dyn.step(st)
        else:
            dyn.advance(dyn.advance(st, 3), 4)
        states.append(st)
    a, b = states
    assert a.step == b.step == 7
    for x1, x2 in ((a.thetaT, b.thetaT), (a.u, b.u), (a.v_thetaT, b.v_thetaT), (a.v_u, b.v_u)):
        assert np.array_equal(x1, x2)


def test_compiled_observation_agrees_with_the_network_functions():
    from theory._observe import observe_state

    X, y = _data(3, 2, 4)
    for act, sym in ((TANH, True), (scaled(ERF, 1.5, 2.0), False), (scaled(SIGMOID, 2.0, 0.5), True)):
        dyn = Dynamics(DynamicsConfig(alpha=2.0, lam=0.2, dt=0.01, m=1000, replicas=2, symmetric=sym), X, y, act,
                       seed=1)
        st = dyn.initial_state()
        snap0 = dyn.observe(st)
        if sym:  # mirrored pairs cancel exactly, as in theory.network.output
            assert np.all(snap0.f == 0.0) and np.all(snap0.b == 0.0)
        dyn.advance(st, 20)
        snap = dyn.observe(st)
        p = st.particles()
        H = gram_particles(p.theta, p.u, X, act).H
        ev = np.linalg.eigvalsh(H)
        # Sums in another order and activation values within 1 ulp: agreement to rounding.
        np.testing.assert_allclose(snap.f, output(p, X, act, 2.0), rtol=0, atol=1e-14)
        np.testing.assert_allclose(snap.b, residual_drift_b(p, X, act), rtol=0, atol=1e-14)
        np.testing.assert_allclose(snap.lam_min_H, ev[:, 0], rtol=0, atol=1e-13)
        np.testing.assert_allclose(snap.second_moment, second_moment(p), rtol=1e-13)
        numpy_obs = observe_state(st.thetaT, st.u, st.v_thetaT, st.v_u, X, act, 2.0, need_b=True, need_ref=True)
        comp_obs = observe_state(st.thetaT, st.u, st.v_thetaT, st.v_u, X, act, 2.0, need_b=True, need_ref=True,
                                 compiled=dyn._numba)
        for name in ("mean", "cov", "w2_sq", "ref_mean", "ref_cov", "H"):
            np.testing.assert_allclose(getattr(comp_obs, name), getattr(numpy_obs, name), rtol=0, atol=1e-13)


_RECORD_FIELDS = ("f", "b", "lam_min_H", "lam_max_H", "second_moment", "mean", "cov", "w2_ou_upper_sq")


def _loop_records(dyn, st, stops):
    """The records of Dynamics.records by advance and a plain (unprimed) record in turn."""
    snaps, refs, done = [], [], 0
    for q in stops:
        dyn.advance(st, q - done)
        done = q
        snap, ref = dyn.record(st, check=False, reference=True)
        snaps.append(snap)
        refs.append(ref)
    return snaps, refs


@pytest.mark.parametrize("act", [TANH, scaled(ERF, 1.5, 2.0), scaled(SIGMOID, 2.0, 0.7)])
def test_records_in_compiled_calls_equal_advance_and_record(act, monkeypatch):
    X, y = _data(3, 2, 4)
    stops = [0, 1, 2, 5, 5, 9, 30]
    cfg = DynamicsConfig(alpha=2.0, lam=0.2, dt=0.01, m=600, replicas=2)
    mk = lambda: Dynamics(cfg, X, y, act, seed=1)  # noqa: E731
    dyn = mk()
    st = dyn.initial_state()
    traj, (means, covs) = dyn.records(st, stops, reference=True, check=False)
    ref_dyn = mk()
    ref_st = ref_dyn.initial_state()
    loop, refs = _loop_records(ref_dyn, ref_st, stops)
    # the same particles, bitwise, and the same records (the same sums of the kernel's own pass 1)
    for a, b in ((st.thetaT, ref_st.thetaT), (st.u, ref_st.u), (st.v_thetaT, ref_st.v_thetaT)):
        assert np.array_equal(a, b)
    assert st.step == 30 and traj.steps.tolist() == stops and traj.kernel == "numba-serial"
    looped = Trajectory.from_snapshots(ref_dyn.config, 1, "numba", loop)
    for name in _RECORD_FIELDS + ("steps", "t", "t_phys", "residual", "loss"):
        assert np.array_equal(getattr(traj, name), getattr(looped, name)), name
    assert np.array_equal(means, np.stack([r[0] for r in refs]))
    assert np.array_equal(covs, np.stack([r[1] for r in refs]))
    # one record per compiled call gives the same records and particles
    monkeypatch.setattr(Dynamics, "STEPS_PER_CALL", 0)
    one = mk()
    st1 = one.initial_state()
    traj1, _ = one.records(st1, stops, reference=True, check=False)
    assert np.array_equal(st1.thetaT, st.thetaT)
    assert all(np.array_equal(getattr(traj, k), getattr(traj1, k)) for k in _RECORD_FIELDS)


def test_advance_with_explicit_noise_equals_single_steps():
    X, y = _data(3, 2, 6)
    cfg = DynamicsConfig(alpha=2.0, lam=0.2, dt=0.01, m=300, replicas=2)
    mk = lambda: Dynamics(cfg, X, y, TANH, seed=2)  # noqa: E731
    noise = np.random.default_rng(0).standard_normal((5, 2, 300, 3))
    a, b = mk(), mk()
    sa, sb = a.initial_state(), b.initial_state()
    a.advance(sa, 5, noise=noise)
    for xi in noise:
        b.step(sb, xi)
    assert np.array_equal(sa.thetaT, sb.thetaT) and np.array_equal(sa.u, sb.u) and sa.step == sb.step == 5
    with pytest.raises(ShapeError, match="noise must have shape"):
        a.advance(sa, 4, noise=noise)


def test_fused_record_equals_the_standalone_observation():
    """A record reads the kernel's pre-activations X (1/s) theta; the standalone sweep divides X by s: bitwise
    the same when 1/s is exact, to rounding otherwise."""
    from theory._observe import observe_state

    X, y = _data(3, 2, 4)
    for act, exact in ((TANH, True), (scaled(SIGMOID, 2.0, 0.5), True), (scaled(TANH, 1.0, 0.7), False)):
        dyn = Dynamics(DynamicsConfig(alpha=2.0, lam=0.2, dt=0.01, m=500, replicas=2), X, y, act, seed=3)
        st = dyn.advance(dyn.initial_state(), 7)
        snap, (mu, cov) = dyn.record(st, reference=True)
        obs = observe_state(st.thetaT, st.u, st.v_thetaT, st.v_u, X, act, 2.0, need_b=True, need_ref=True,
                            compiled=dyn._numba)
        pairs = ((snap.f, obs.f), (snap.b, obs.b), (snap.second_moment, obs.second_moment), (cov, obs.ref_cov),
                 (snap.cov, obs.cov), (snap.lam_min_H, np.linalg.eigvalsh(obs.H)[:, 0]))
        for a, b in pairs:
            if exact:
                assert np.array_equal(a, b)
            else:   # one rounding of X/s, carried through sums of 500 terms
                np.testing.assert_allclose(a, b, rtol=0, atol=1e-13)


def test_a_primed_record_leaves_the_steps_bitwise_unchanged():
    X, y = _data(3, 2, 5)
    states = []
    for prime in (False, True):
        dyn = Dynamics(DynamicsConfig(alpha=2.0, lam=0.2, dt=0.01, m=400, replicas=2), X, y, TANH, seed=4)
        st = dyn.advance(dyn.initial_state(), 3)
        dyn.record(st, prime=prime)
        dyn.advance(st, 4)
        dyn.step(st)
        states.append(st)
    assert np.array_equal(states[0].thetaT, states[1].thetaT) and np.array_equal(states[0].u, states[1].u)
    # a primed record is not reused for another state, nor after the state moved on
    dyn = Dynamics(DynamicsConfig(alpha=2.0, lam=0.2, dt=0.01, m=400, replicas=2), X, y, TANH, seed=4)
    a = dyn.advance(dyn.initial_state(), 3)
    b = a.copy()
    b.thetaT *= 0.5
    dyn.record(a, prime=True)
    assert not dyn._is_primed(b)
    dyn.advance(a, 1)
    assert not dyn._is_primed(a)


def test_records_raise_at_the_failing_record_with_its_step():
    dyn = Dynamics(DynamicsConfig(alpha=10.0, lam=0.1, dt=0.1, m=100), X3, Y3, TANH, 1, check_stability=False)
    st = dyn.initial_state()
    with pytest.raises(UnstableStepError, match="diverged"):
        dyn.records(st, [0] + list(range(100, 2001, 100)), check=False)
    for bad in ([0, 5, 3], []):
        with pytest.raises(DomainError, match="stops must be a non-empty non-decreasing list"):
            dyn.records(dyn.initial_state(), bad)
    with pytest.raises(DomainError, match="stops"):
        dyn.records(dyn.initial_state(), [-1])
    # an unstable (not yet diverged) step: the exact check of Dynamics.record decides and names the step
    p = sample_p0(400, 2, np.random.default_rng(1))
    lim = step_limits(DynamicsConfig(alpha=10.0, lam=0.1, dt=1e-3, m=400), p, X3, Y3, TANH)
    dyn = Dynamics(DynamicsConfig(alpha=10.0, lam=0.1, dt=1.01 * lim.limit, m=400), X3, Y3, TANH, 1,
                   check_stability=False)
    with pytest.raises(UnstableStepError, match="exceeds the stability limit .* at step 0"):
        dyn.records(dyn.initial_state(p), [0, 1], check=True, check_first=True)
    assert dyn.records(dyn.initial_state(p), [0], check=True)[0].steps.tolist() == [0]   # the first: not checked


def test_chunked_observation_equals_one_chunk(monkeypatch):
    from theory import _observe

    X, y = _data(3, 2, 4)
    dyn = Dynamics(DynamicsConfig(alpha=2.0, lam=0.2, dt=0.01, m=1000, replicas=2, backend="numpy"), X, y, TANH,
                   seed=1)
    st = dyn.advance(dyn.initial_state(), 5)
    one = dyn.record(st, reference=True)
    monkeypatch.setattr(_observe, "CHUNK_ELEMENTS", 64)            # 10-particle chunks
    many = dyn.record(st, reference=True)
    for name in ("f", "b", "lam_min_H", "lam_max_H", "second_moment", "mean", "cov", "w2_ou_upper_sq"):
        np.testing.assert_allclose(getattr(many[0], name), getattr(one[0], name), rtol=0, atol=1e-13)
    np.testing.assert_allclose(many[1][1], one[1][1], rtol=0, atol=1e-13)


def test_kernel_choice_is_automatic_and_recorded(monkeypatch):
    import theory.dynamics as D

    X, y = _data(3, 2, 4)
    cfg = DynamicsConfig(alpha=2.0, lam=0.2, dt=0.01, m=100, replicas=2)
    assert simulate(cfg, X, y, TANH, 3, seed=1).kernel == "numba-serial"     # small: serial whatever the owner
    assert simulate(DynamicsConfig(alpha=2.0, lam=0.2, dt=0.01, m=100, backend="numpy"), X, y, TANH, 2,
                    seed=1).kernel == "numpy"
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw0")
    assert not D.machine_owner()
    monkeypatch.delenv("PYTEST_XDIST_WORKER")
    D.set_machine_owner(False)
    try:
        assert not D.machine_owner()
        big = Dynamics(DynamicsConfig(alpha=2.0, lam=0.2, dt=0.01, m=20_000), X, y, TANH, seed=1)
        assert not big._parallel()
        D.set_machine_owner(True)
        monkeypatch.setattr(D, "_machine_busy", lambda: False)
        assert big._parallel() is (numba.get_num_threads() > 1)
        monkeypatch.setattr(D, "_machine_busy", lambda: True)          # other processes load the cores
        assert not big._parallel()
    finally:
        D.set_machine_owner(None)
    with pytest.raises(TypeError, match="owner must be a bool or None"):
        D.set_machine_owner("yes")


# ---------------------------------------------------------------------------------------------
# oracles: residual ODE (docs/model.md#residual-ode), Gaussian closure (docs/model.md#gaussian-closure-oracle), printed scheme (docs/model.md#particle-sde-and-algorithm-1)
# ---------------------------------------------------------------------------------------------

def _residual_rhs(p, X, y, alpha, lam):
    """-(2 alpha^2/n) H(p) r - lam alpha b(p) and its kernel part alone, shape (R, n) each."""
    r = output(p, X, TANH, alpha) - y
    kern = -(2 * alpha ** 2 / X.shape[0]) * np.einsum("rij,rj->ri", gram_particles(p.theta, p.u, X, TANH).H, r)
    return kern - lam * alpha * residual_drift_b(p, X, TANH), kern


def test_residual_ode_holds_along_a_run():
    """f(T) - f(0) = int_0^T [-(2 alpha^2/n) H r - lam alpha b] dt + martingale (docs/model.md#residual-ode, Ito on f_m).

    The integral is a left-point sum over the steps; its O(dt^2)-per-step bias is ~1e-4 here, far
    below the se (~5e-3, over 32 replicas).  The start is not p0 (shifted theta, u with mean 1) so
    that b is far from 0; dropping b must then fail the same test (power check).
    """
    alpha, lam, m, R, dt, steps = 2.0, 0.5, 1000, 32, 0.002, 100
    rng = np.random.default_rng(3)
    init = Particles(np.array([1.0, -0.5]) + 0.8 * rng.standard_normal((R, m, 2)), 1.0 + rng.standard_normal((R, m)))
    dyn = Dynamics(DynamicsConfig(alpha=alpha, lam=lam, dt=dt, m=m, replicas=R, symmetric=False), X3, Y3, TANH, 7)
    st = dyn.initial_state(init)
    f0 = output(st.particles(), X3, TANH, alpha)
    full, kern_only = np.zeros_like(f0), np.zeros_like(f0)
    for _ in range(steps):
        rhs, kern = _residual_rhs(st.particles(), X3, Y3, alpha, lam)
        full += dt * rhs
        kern_only += dt * kern
        dyn.step(st)
    df = output(st.particles(), X3, TANH, alpha) - f0
    gap, gap_without_b = df - full, df - kern_only
    se = gap.std(axis=0, ddof=1) / math.sqrt(R)
    assert np.all(np.abs(gap.mean(axis=0)) <= 5 * se), (gap.mean(axis=0), se)
    assert np.any(np.abs(gap_without_b.mean(axis=0)) > 5 * se)


def _closure_ode(X, y, alpha, lam, T):
    """docs/model.md#gaussian-closure-oracle: mu' = -A mu, Sigma' = -A Sigma - Sigma A + 2 lam I, f = alpha (Sigma_tu + mu_t mu_u) . x."""
    n, d = X.shape
    k = d + 1

    def f_of(mu, S):
        return alpha * X @ (S[:d, d] + mu[:d] * mu[d])

    def rhs(_, s):
        mu, S = s[:k], s[k:].reshape(k, k)
        c = (2 * alpha / n) * (f_of(mu, S) - y) @ X
        A = lam * np.eye(k)
        A[:d, d] = A[d, :d] = c
        return np.concatenate([-A @ mu, (-A @ S - S @ A + 2 * lam * np.eye(k)).ravel()])

    sol = solve_ivp(rhs, (0.0, T), np.concatenate([np.zeros(k), np.eye(k).ravel()]), rtol=1e-11, atol=1e-13)
    mu, S = sol.y[:k, -1], sol.y[k:, -1].reshape(k, k)
    return f_of(mu, S), float(np.trace(S) + mu @ mu)


def test_gaussian_closure_oracle_identity_activation():
    """Particles vs the exact Gaussian ODE of docs/model.md#gaussian-closure-oracle (h(z) = z keeps p_t Gaussian).

    Tolerance: 5 se over replicas plus the step-size bias measured as |mean(dt) - mean(dt/2)|
    (first-order scheme: the bias of the dt/2 run is about that difference).
    """
    alpha, lam, T, m, R = 3.0, 0.5, 0.5, 2000, 16
    f_ode, w2_ode = _closure_ode(X3, Y3, alpha, lam, T)
    runs = {}
    for dt in (0.02, 0.01):
        tr = simulate(DynamicsConfig(alpha=alpha, lam=lam, dt=dt, m=m, replicas=R), X3, Y3, IDENTITY,
                      n_steps=round(T / dt), seed=11)
        runs[dt] = (tr.f[-1], tr.second_moment[-1])
    f_half, w2_half = runs[0.01]
    bias = np.abs(runs[0.02][0].mean(axis=0) - f_half.mean(axis=0))
    se = f_half.std(axis=0, ddof=1) / math.sqrt(R)
    assert np.all(np.abs(f_half.mean(axis=0) - f_ode) <= 5 * se + bias), (f_half.mean(axis=0), f_ode, se, bias)
    assert np.all(np.abs(f_ode) > 0.2)                       # the oracle is in the learning regime
    se_w2 = w2_half.std(ddof=1) / math.sqrt(R)
    w2_bias = abs(runs[0.02][1].mean() - w2_half.mean())
    assert abs(w2_half.mean() - w2_ode) <= 5 * se_w2 + w2_bias


@pytest.fixture(scope="module")
def printed_and_pde():
    """docs/model.md#particle-sde-and-algorithm-1 at small size: tanh, n=3, d=2, alpha=2, lam=0.5, dt=0.005, T=5, m=2000, 4 replicas."""
    out = {}
    for scaling in ("pde", "printed"):
        cfg = DynamicsConfig(alpha=2.0, lam=0.5, dt=0.005, m=2000, replicas=4, scaling=scaling)
        dyn = Dynamics(cfg, X3, Y3, TANH, seed=5)
        st = dyn.initial_state()
        out[scaling] = (dyn.run(st, 1000, record_every=250), st)
    return out


def test_printed_scheme_drifts_to_heat_flow(printed_and_pde):
    tr, st = printed_and_pde["printed"]
    lam, T, m, k = 0.5, 5.0, 2000, 3
    # Exact OU at rate lam/m with diffusion sqrt(2 lam) from E|w_0|^2 (the loss drift is divided by m).
    decay = math.exp(-2 * lam * T / m)
    predicted = tr.second_moment[0] * decay + k * m * (-math.expm1(-2 * lam * T / m))   # ~ k + 2 lam k T
    # Var|w_T|^2 = 2 k (1 + 2 lam T)^2 per particle; mirrored pairs counted once (m/2 per replica).
    se = math.sqrt(2 * k * (1 + 2 * lam * T) ** 2 / (m / 2))
    assert np.all(np.abs(tr.second_moment[-1] - predicted) <= 5 * se)
    # No learning: |f_m| stays at the fluctuation size alpha sqrt(E u^2 / m) (|tanh| <= 1).
    assert np.all(np.abs(tr.f[-1]) <= 5 * 2.0 * np.sqrt(np.mean(st.u ** 2) / m))


def test_pde_scheme_stays_near_p0_and_learns(printed_and_pde):
    tr, _ = printed_and_pde["pde"]
    lam, k = 0.5, 3
    L0 = float(np.mean(Y3 ** 2))
    # lam KL(p_t||p0) <= L(p0) (docs/model.md#first-variation-and-the-pde) and Donsker-Varadhan with s = 1/2:
    # E|w|^2 <= 4 (KL + (k/2) log 2).  Particle noise in E|w|^2 (se ~0.05) is far inside the gap.
    assert np.all(tr.second_moment[-1] <= 4 * (L0 / lam + 0.5 * k * math.log(2)))
    assert np.all(tr.loss[-1] < 0.2 * L0)
    printed, _ = printed_and_pde["printed"]
    assert np.all(printed.loss[-1] > 0.5 * L0)


def test_reference_ou_stays_p0(printed_and_pde):
    for scaling in ("pde", "printed"):
        tr, st = printed_and_pde[scaling]
        v = st.reference()
        m, R, k = 2000, 4, 3
        se = math.sqrt(2 * k / (R * m / 2))   # chi^2_k per particle; mirrored pairs counted once
        assert abs(float(np.mean(second_moment(v))) - k) <= 5 * se
        mean = v.w().reshape(-1, k).mean(axis=0)
        assert np.all(np.abs(mean) <= 5 / math.sqrt(R * m / 2))
        assert tr.w2_ou_upper[0].max() == 0.0 and np.all(tr.w2_ou_upper[-1] > 0)
    # The pde particles stay close to their p0 twins; the printed ones wander off (heat flow).
    assert printed_and_pde["pde"][0].w2_ou_upper[-1].max() < printed_and_pde["printed"][0].w2_ou_upper[-1].min()


# ---------------------------------------------------------------------------------------------
# time scale, step-size rule
# ---------------------------------------------------------------------------------------------

def test_tau_time_is_rescaled_physical_time():
    lam0 = lambda0(X3, TANH)
    alpha = 2.0
    kw = dict(alpha=alpha, lam=0.1, m=200)
    tr_t = simulate(DynamicsConfig(dt=0.01, **kw), X3, Y3, TANH, 20, seed=3, record_every=10)
    dyn = Dynamics(DynamicsConfig(dt=0.01 * alpha ** 2 * lam0 ** 2, time="tau", **kw), X3, Y3, TANH, seed=3)
    assert dyn.dt_phys == pytest.approx(0.01, rel=1e-14)
    tr_tau = dyn.run(dyn.initial_state(), 20, record_every=10)
    np.testing.assert_allclose(tr_tau.f, tr_t.f, rtol=0, atol=1e-12)
    np.testing.assert_allclose(tr_tau.t, tr_t.t * alpha ** 2 * lam0 ** 2, rtol=1e-14)


def test_records_at_chosen_times_with_consistent_fields():
    cfg = DynamicsConfig(alpha=2.0, lam=0.1, dt=0.01, m=100)
    tr = simulate(cfg, X3, Y3, TANH, 50, seed=0, record_times=[0.1, 0.25])
    assert tr.steps.tolist() == [0, 10, 25, 50]
    np.testing.assert_allclose(tr.t, [0.0, 0.1, 0.25, 0.5], rtol=1e-14)
    assert tr.residual.shape == tr.b.shape == (4, 1, 3) and tr.cov.shape == (4, 1, 3, 3)
    np.testing.assert_array_equal(tr.residual, tr.f - Y3)
    np.testing.assert_allclose(tr.loss, np.mean(tr.residual ** 2, axis=-1), rtol=1e-15)
    assert np.all(tr.f[0] == 0.0)                              # doubling start (docs/model.md#symmetric-initialisation)
    assert np.all(tr.lam_min_H > 0) and np.all(tr.lam_min_H <= tr.lam_max_H)
    with pytest.raises(DomainError, match="record_times must lie"):
        simulate(cfg, X3, Y3, TANH, 50, seed=0, record_times=[1.0])


def test_unstable_step_raises_and_the_limit_is_real():
    X, y = X3, Y3
    base = DynamicsConfig(alpha=10.0, lam=0.1, dt=1e-3, m=400)
    p = sample_p0(400, 2, np.random.default_rng(1))
    lim = step_limits(base, p, X, y, TANH)
    assert lim.limit < min(lim.kernel, lim.particle)
    mk = lambda dt, **kw: Dynamics(DynamicsConfig(alpha=10.0, lam=0.1, dt=dt, m=400), X, y, TANH, 1, **kw)  # noqa: E731
    with pytest.raises(UnstableStepError, match=r"dt=.* exceeds the stability limit"):
        mk(1.01 * lim.limit).initial_state(p)
    mk(0.99 * lim.limit).initial_state(p)
    assert stable_dt(base, p, X, y, TANH) == pytest.approx(0.2 * lim.limit, rel=1e-12)
    # Beyond the kernel limit the residual oscillates instead of contracting (here it saturates at a
    # loss ~1e2 times the stable run's noise floor; a factor 10 leaves room for the noise).
    losses = {}
    for c in (0.5, 1.5):
        dyn = mk(c * lim.kernel, check_stability=False)
        with warnings.catch_warnings(record=True) as seen:   # the check is off, but never silently
            warnings.simplefilter("always")
            losses[c] = dyn.run(dyn.initial_state(p), 300).loss[-1, 0]
        assert any(issubclass(w.category, PremiseWarning) for w in seen) == (c * lim.kernel > lim.limit)
    assert losses[1.5] > 10 * losses[0.5]


def test_diverging_run_raises_instead_of_returning_nan():
    dyn = Dynamics(DynamicsConfig(alpha=10.0, lam=0.1, dt=0.1, m=100), X3, Y3, TANH, 1, check_stability=False)
    with pytest.raises(UnstableStepError, match="diverged"), pytest.warns(PremiseWarning, match="check_stability=False"):
        dyn.run(dyn.initial_state(), 2000, record_every=100)


def test_float32_numpy_path_tracks_float64():
    kw = dict(alpha=2.0, lam=0.2, dt=0.01, m=200, backend="numpy")
    a = simulate(DynamicsConfig(**kw), X3, Y3, TANH, 20, seed=1)
    b = simulate(DynamicsConfig(dtype=np.float32, **kw), X3, Y3, TANH, 20, seed=1)
    np.testing.assert_allclose(b.f, a.f, rtol=0, atol=1e-4)   # float32 rounding (~1e-7) amplified over 20 steps


# ---------------------------------------------------------------------------------------------
# bad input: one test per validation rule
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kw,err,match", [
    (dict(alpha=0.0), DomainError, "alpha must be > 0"),
    (dict(alpha=-1.0), DomainError, "alpha must be > 0"),
    (dict(alpha=float("nan")), NonFiniteError, "alpha must be finite"),
    (dict(lam=-0.1), DomainError, "lam must be >= 0"),
    (dict(dt=0.0), DomainError, "dt must be > 0"),
    (dict(dt=float("inf")), NonFiniteError, "dt must be finite"),
    (dict(m=0), DomainError, "m must be >= 1"),
    (dict(m=7), DomainError, "m must be even"),
    (dict(m=2.5), TypeError, "m must be an integer"),
    (dict(scaling="paper"), DomainError, "scaling must be one of"),
    (dict(time="steps"), DomainError, "time must be one of"),
    (dict(backend="jax"), DomainError, "backend must be one of"),
    (dict(ou="milstein"), DomainError, "ou must be one of"),
    (dict(replicas=0), DomainError, "replicas must be >= 1"),
    (dict(dtype=np.int64), DomainError, "dtype must be one of"),
    (dict(dtype="nonsense"), TypeError, "dtype must be a numpy float dtype"),
    (dict(symmetric=1), TypeError, "symmetric must be a bool"),
    (dict(lambda0=0.0), DomainError, "lambda0 must be > 0"),
    (dict(block=0), DomainError, "block must be >= 1"),
    (dict(blas="yes"), TypeError, "blas must be a bool or None"),
    (dict(parallel="yes"), TypeError, "parallel must be a bool or None"),
])
def test_config_validation(kw, err, match):
    args = dict(alpha=1.0, lam=0.1, dt=0.01, m=4)
    args.update(kw)
    with pytest.raises(err, match=match):
        DynamicsConfig(**args)


def test_dynamics_validation():
    cfg = DynamicsConfig(alpha=1.0, lam=0.1, dt=0.01, m=4, backend="numpy")
    with pytest.raises(TypeError, match="config must be a DynamicsConfig"):
        Dynamics(dict(alpha=1.0), X3, Y3, TANH, 0)
    with pytest.raises(ShapeError, match="y must have length 3"):
        Dynamics(cfg, X3, Y3[:2], TANH, 0)
    with pytest.raises(NonFiniteError, match="X must be finite"):
        Dynamics(cfg, np.full((3, 2), np.nan), Y3, TANH, 0)
    with pytest.raises(DomainError, match="seed must be >= 0"):
        Dynamics(cfg, X3, Y3, TANH, -1)
    dyn = Dynamics(cfg, X3, Y3, TANH, 0)
    with pytest.raises(ShapeError, match="particles must have theta of shape"):
        dyn.initial_state(sample_p0(6, 2, 0))
    with pytest.raises(DomainError, match="equally weighted"):
        dyn.initial_state(Particles(np.zeros((4, 2)), np.zeros(4), np.full(4, 0.25)))
    with pytest.raises(TypeError, match="particles must be a Particles"):
        dyn.initial_state(np.zeros((4, 2)))
    st = dyn.initial_state()
    with pytest.raises(ShapeError, match="noise must have shape"):
        dyn.step(st, np.zeros((1, 4, 2)))
    with pytest.raises(NonFiniteError, match="noise must be finite"):
        dyn.step(st, np.full((1, 4, 3), np.nan))
    with pytest.raises(TypeError, match="state must be a State"):
        dyn.step(st.particles())
    other = Dynamics(DynamicsConfig(alpha=1.0, lam=0.1, dt=0.01, m=6), X3, Y3, TANH, 0).initial_state()
    with pytest.raises(ShapeError, match=r"state.thetaT must be a C-contiguous float64 array of shape \(1, 2, 4\)"):
        dyn.step(other)
    with pytest.raises(DomainError, match="n_steps must be >= 0"):
        dyn.run(st, -1)
    no_ou = Dynamics(DynamicsConfig(alpha=1.0, lam=0.1, dt=0.01, m=4, couple_ou=False), X3, Y3, TANH, 0)
    with pytest.raises(DomainError, match="couple_ou=False"):
        no_ou.initial_state().reference()
    assert isinstance(st, State)


@pytest.mark.parametrize("spec", [("tanh", 1.0, 1.0), ("sigmoid", 1.3, 0.7), ("erf", 0.8, 1.47)])
def test_output_moment_equals_the_network_functions(spec):
    """The compiled sweep of Dynamics.output_moment against theory.network.output / second_moment (numpy)."""
    from theory.activations import get_activation, scaled
    from theory.network import output, second_moment

    act = scaled(get_activation(spec[0]), spec[1], spec[2])
    dyn = Dynamics(DynamicsConfig(alpha=3.0, lam=0.01, dt=1e-3, m=1000, replicas=3), X3, Y3, act, 5)
    state = dyn.initial_state()
    dyn.advance(state, 10)
    f, q = dyn.output_moment(state)
    p = state.particles()
    np.testing.assert_allclose(f, output(p, X3, act, 3.0), rtol=0, atol=1e-14 * np.max(np.abs(f)))
    np.testing.assert_allclose(q, second_moment(p), rtol=1e-14)
    numpy_dyn = Dynamics(DynamicsConfig(alpha=3.0, lam=0.01, dt=1e-3, m=1000, replicas=3, backend="numpy"), X3, Y3,
                         act, 5)
    assert np.array_equal(numpy_dyn.output_moment(state)[0], output(p, X3, act, 3.0))


@pytest.mark.parametrize("d", [1, 2])
def test_a_run_from_given_particles_leaves_them_alone(d):
    """A run advances its state in place; the particles it started from are the caller's and stay unchanged
    (before the fix, u and, at d = 1, theta were the state's own arrays and moved with the run)."""
    p = sample_p0(200, d, np.random.default_rng(0))
    theta0, u0 = p.theta.copy(), p.u.copy()
    X = X3[:, :d] / np.linalg.norm(X3[:, :d], axis=1, keepdims=True)
    dyn = Dynamics(DynamicsConfig(alpha=2.0, lam=0.2, dt=1e-3, m=200), X, Y3, TANH, 1)
    dyn.records(dyn.initial_state(p), [0, 5])
    assert np.array_equal(p.theta, theta0) and np.array_equal(p.u, u0)


def test_the_default_block_follows_n_and_is_recorded():
    """256-2048 particles per block with n * block <= 13107 (a record's block rows within half an L2); the
    Dynamics' config, which its records carry, holds the block that ran, and an explicit block is kept."""
    from theory._observe import default_block

    assert [default_block(n) for n in (1, 3, 6, 7, 12, 13, 25, 26, 64, 10 ** 6)] == \
        [2048, 2048, 2048, 1024, 1024, 512, 512, 256, 256, 256]
    dyn = Dynamics(DynamicsConfig(alpha=2.0, lam=0.2, dt=0.01, m=100), X3, Y3, TANH, 1)
    assert dyn.config.block == 2048 and dyn.run(dyn.initial_state(), 2).config.block == 2048
    assert Dynamics(DynamicsConfig(alpha=2.0, lam=0.2, dt=0.01, m=100, block=64), X3, Y3, TANH, 1).config.block == 64
