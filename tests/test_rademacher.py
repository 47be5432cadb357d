"""Tests of theory/rademacher.py: the exact Rademacher complexity of the KL ball (docs/claims.md#lemma-55).

Every reference number is pinned, and each route is cross-checked by an independent one:
DV with u integrated analytically vs a (theta, u) grid solved as a primal problem (SLSQP) and as a
discrete dual (scalar minimisation); Hubbard-Stratonovich vs direct Gauss-Hermite; the sign limit
vs steep tanh and vs enumeration of sign patterns; psi by root finding vs bounded minimisation;
QMC and Monte Carlo over sigma vs exact values within stated standard errors.
"""

import contextlib
import itertools
import math

import numpy as np
import pytest
from numpy.polynomial.hermite_e import hermegauss
from scipy.optimize import minimize, minimize_scalar

from theory.activations import ERF, RELU, SIGMOID, TANH, scaled
from theory.errors import DomainError, ShapeError
from theory.rademacher import (MAX_ENUMERATE_N, QUAD_RTOL, corrected_bound, critical_M, kl_ball_sup, log_mgf,
                               printed_bound_crossing, psi, rademacher, rademacher_orthonormal_odd,
                               primal_witness_orthonormal_odd, rademacher_orthonormal_sign_limit, sign_vectors,
                               stated_bound)

try:  # SLSQP calls BLAS on tiny matrices: on a loaded machine extra BLAS threads cost 50x
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover
    threadpool_limits = lambda limits: contextlib.nullcontext()  # noqa: E731


def logsumexp(a):
    """log sum exp (numpy; scipy's version carries ~100 us of dispatch per call, too slow inside SLSQP)."""
    m = np.max(a)
    return m + np.log(np.sum(np.exp(a - m)))


S5_X = np.array([[1.0], [0.5]])          # docs/claims.md#lemma-55 [V] s5: d = 1, n = 2, alpha = 1.5, M = 0.3, tanh
S5_ALPHA, S5_M = 1.5, 0.3


# ---------------------------------------------------------------------------- reference numbers
def test_s5_sup_per_sigma_matches_reference():
    a = kl_ball_sup(S5_X, [1, 1], TANH, S5_ALPHA, S5_M)
    b = kl_ball_sup(S5_X, [1, -1], TANH, S5_ALPHA, S5_M)
    # reference values are printed to 6 decimals (and beta* to 3)
    assert a.value == pytest.approx(0.635752, abs=5e-7) and a.beta == pytest.approx(0.871, abs=5e-4)
    assert b.value == pytest.approx(0.133673, abs=5e-7)
    for r in (a, b):
        assert r.converged and r.quad_error <= r.quad_tol and r.kl == pytest.approx(S5_M, rel=1e-12)


def test_s5_rademacher_and_bound():
    r = rademacher(S5_X, TANH, S5_ALPHA, S5_M)
    assert r.method == "enumerate-gh" and r.stderr == 0.0 and r.n_sigma == 4 and r.converged
    assert r.value == pytest.approx(0.3847, abs=5e-5)
    assert stated_bound(2, 1.0, S5_ALPHA, S5_M) == pytest.approx(1.1619, abs=5e-5)


@pytest.mark.parametrize("M,ref", [(0.1, 0.167869), (0.5, 0.414036), (2.0, 1.003631)])
def test_hs_reduction_reference_values_n3_tanh(M, ref):
    r = rademacher_orthonormal_odd(3, TANH, 1.0, M)
    assert r.method == "hs-1d" and r.converged
    assert r.value == pytest.approx(ref, abs=5e-7)


def test_psi_reference_values_and_critical_M():
    assert psi(0.5) == pytest.approx(1.190826, abs=5e-7)
    assert psi(1.0) == pytest.approx(1.882265, abs=5e-7)
    assert psi(2.0) == pytest.approx(3.106970, abs=5e-7)
    assert critical_M() == pytest.approx(1.3454118, abs=5e-8)
    assert psi(critical_M()) == pytest.approx(2.0 * math.sqrt(critical_M()), rel=1e-13)


@pytest.mark.parametrize("M", [1e-3, 0.5, 1.0, 7.0, 300.0])
def test_psi_matches_bounded_minimisation(M):
    """Second route: minimise (M - log(1 - t^2)/2) / t over t in (0, 1) directly."""
    res = minimize_scalar(lambda t: (M - 0.5 * math.log1p(-t * t)) / t, bounds=(1e-9, 1 - 1e-12),
                          method="bounded", options={"xatol": 1e-13})
    # The objective is flat at its minimum: an xatol of 1e-13 gives a value error ~1e-12 relative.
    assert psi(M) == pytest.approx(res.fun, rel=1e-9)
    assert psi(M) <= res.fun * (1 + 1e-12)


def test_sign_limit_rho_at_M5_n3():
    r = rademacher_orthonormal_sign_limit(3, 1.0, 5.0)
    assert r.value / stated_bound(3, 1.0, 1.0, 5.0) == pytest.approx(1.053, abs=5e-4)


@pytest.mark.parametrize("n,act,ref", [(3, None, 3.46), (3, TANH, 23.8), (4, None, 2.53), (8, None, 1.78)])
def test_crossings_of_the_printed_bound(n, act, ref):
    """docs/claims.md#lemma-55 table of M* (orthonormal inputs), printed to 3 significant digits."""
    assert printed_bound_crossing(n, act) == pytest.approx(ref, rel=2e-3)


def test_n2_never_crosses():
    assert math.isinf(printed_bound_crossing(2, None, M_max=1e3))
    assert math.isinf(printed_bound_crossing(2, TANH, M_max=300.0, n_grid=6))


# ---------------------------------------------------------- DV vs brute force on a (theta, u) grid
def _grid_problem(K, sigma):
    x, w = hermegauss(K)
    w = w / w.sum()
    T, U = np.meshgrid(x, x, indexing="ij")
    S = S5_ALPHA / 2 * (np.asarray(sigma, float)[None, :] * np.tanh(T.ravel()[:, None] * S5_X[:, 0][None, :])).sum(1)
    return np.log(np.outer(w, w).ravel()), U.ravel() * S


def _discrete_dual(lP, g, M):
    res = minimize_scalar(lambda b: (M + logsumexp(lP + b * g)) / b, bounds=(1e-3, 50.0), method="bounded",
                          options={"xatol": 1e-12})
    return res.fun


def _slsqp_primal(lP, g, M):
    """max_q q.g s.t. KL(q||pi) <= M over the simplex, with q = softmax(log pi + eta)."""
    def q_of(eta):
        a = lP + eta
        return np.exp(a - logsumexp(a))

    def negobj(eta):
        q = q_of(eta)
        return -q @ g, -q * (g - q @ g)

    def kl(eta):
        q = q_of(eta)
        return q @ eta - logsumexp(lP + eta)

    with threadpool_limits(limits=1):
        res = minimize(negobj, np.zeros_like(lP), jac=True, method="SLSQP",
                       constraints=[{"type": "ineq", "fun": lambda e: M - kl(e),
                                     "jac": lambda e: -q_of(e) * (e - q_of(e) @ e)}],
                       options={"maxiter": 3000, "ftol": 1e-15})
    assert res.success, res.message
    return -res.fun, kl(res.x)


@pytest.mark.parametrize("sigma", [[1, 1], [1, -1]])
def test_primal_slsqp_agrees_with_discrete_dual_on_a_small_grid(sigma):
    lP, g = _grid_problem(10, sigma)
    primal, kl = _slsqp_primal(lP, g, S5_M)
    dual = _discrete_dual(lP, g, S5_M)
    assert kl <= S5_M + 1e-12                       # feasible
    assert primal <= dual + 1e-12                   # weak duality
    assert primal >= dual - 1e-6                    # SLSQP stops at ftol 1e-15 on ~100 variables: gaps seen <= 5e-8


@pytest.mark.parametrize("sigma,ref16", [([1, 1], 0.635735), ([1, -1], 0.133170)])
def test_grid_dual_reproduces_reference_and_converges_to_continuous_dv(sigma, ref16):
    """the reference's 16x16 grid numbers, then the grid value (u discretised, beta by minimisation) tends to
    the continuous DV (u integrated analytically, beta* by root finding)."""
    assert _discrete_dual(*_grid_problem(16, sigma), S5_M) == pytest.approx(ref16, abs=5e-7)
    cont = kl_ball_sup(S5_X, sigma, TANH, S5_ALPHA, S5_M).value
    fine = _discrete_dual(*_grid_problem(128, sigma), S5_M)
    # 128^2 grid: seen to agree with the continuous value to ~1e-13; allow the scalar minimiser's 1e-10
    assert fine == pytest.approx(cont, abs=1e-9)


def test_dual_objective_at_beta_star_equals_the_sup_and_is_its_infimum():
    r = kl_ball_sup(S5_X, [1, 1], TANH, S5_ALPHA, S5_M, K=64)
    dual = lambda b: (S5_M + log_mgf(S5_X, [1, 1], TANH, S5_ALPHA, b, K=128)) / b  # noqa: E731
    assert dual(r.beta) == pytest.approx(r.value, abs=1e-10)
    for f in (0.5, 0.9, 1.1, 2.0):
        assert dual(f * r.beta) >= r.value - 1e-12


# ------------------------------------------------------------------------------- log_mgf checks
def test_log_mgf_rank1_vs_adaptive_quad_and_sanity_bounds():
    from scipy.integrate import quad
    X, sigma, alpha, beta = np.array([[0.9], [-0.4], [0.7]]), np.array([1.0, 1.0, -1.0]), 2.0, 1.7
    S = lambda t: alpha / 3 * np.sum(sigma * np.tanh(t * X[:, 0]))  # noqa: E731
    val, err = quad(lambda t: math.exp(-t * t / 2 + beta ** 2 * S(t) ** 2 / 2) / math.sqrt(2 * math.pi),
                    -np.inf, np.inf, epsabs=1e-14, epsrel=1e-13)
    lm = log_mgf(X, sigma, TANH, alpha, beta)
    assert lm == pytest.approx(math.log(val), abs=1e-11 + err / val)
    grid = np.linspace(-30, 30, 200001)
    Sg = alpha / 3 * (sigma * np.tanh(grid[:, None] * X[:, 0])).sum(1)
    assert lm <= beta ** 2 * np.max(Sg ** 2) / 2                        # docs/claims.md#lemma-55 sanity bound
    assert lm >= beta ** 2 * np.sum(Sg ** 2 * np.exp(-grid ** 2 / 2)) * (grid[1] - grid[0]) / math.sqrt(
        2 * math.pi) / 2 - 1e-9                                          # Jensen


def test_sup_is_symmetric_in_sigma_and_linear_in_alpha():
    X = np.array([[1.0, 0.0], [0.6, 0.8], [-0.3, 0.5]])
    a = kl_ball_sup(X, [1, -1, 1], ERF, 1.0, 0.7)
    b = kl_ball_sup(X, [-1, 1, -1], ERF, 1.0, 0.7)
    c = kl_ball_sup(X, [1, -1, 1], ERF, 37.0, 0.7)
    assert a.value == pytest.approx(b.value, rel=1e-12)
    assert c.value == pytest.approx(37.0 * a.value, rel=1e-10) and c.beta == pytest.approx(a.beta / 37.0, rel=1e-9)


def test_constant_S_gives_sqrt_2M_closed_form_and_zero_S_gives_zero():
    """x = 0: S = (alpha/n) sum sigma_i ht(0); sigmoid(0) = 1/2 gives sup = sqrt(2M)|S| exactly."""
    X = np.zeros((2, 1))
    r = kl_ball_sup(X, [1, 1], SIGMOID, 2.0, 0.8)
    assert r.value == pytest.approx(math.sqrt(1.6) * 0.5 * 2.0, rel=1e-12)
    for act, sigma in ((SIGMOID, [1, -1]), (TANH, [1, 1])):
        z = kl_ball_sup(X, sigma, act, 2.0, 0.8)
        assert z.value == 0.0 and z.beta == 0.0 and z.kl == 0.0


# ------------------------------------------------------------------- HS and sign-limit routes
@pytest.mark.parametrize("n,act,M", [(2, TANH, 0.05), (2, ERF, 3.0), (2, scaled(TANH, 2.0, 1.5), 20.0),
                                     (3, TANH, 1.0)])
def test_hs_matches_direct_quadrature_with_d_ge_n(n, act, M):
    X = np.hstack([np.eye(n), np.zeros((n, 1))])          # orthonormal rows in d = n + 1
    direct = rademacher(X, act, 1.3, M)
    hs = rademacher_orthonormal_odd(n, act, 1.3, M)
    assert direct.converged and hs.converged
    assert hs.value == pytest.approx(direct.value, abs=direct.quad_error + hs.quad_error + 1e-9 * hs.value)


def test_sign_limit_matches_enumeration_of_sign_patterns():
    """Second route: all 2^n patterns s = sign(z) with sigma = 1 (S depends on sum s only)."""
    n, alpha, M = 5, 1.7, 2.5
    pats = np.array(list(itertools.product((-1.0, 1.0), repeat=n)))
    S2 = (alpha * pats.sum(1) / n) ** 2
    lw = np.full(len(pats), -n * math.log(2.0))
    b = minimize_scalar(lambda b: (M + logsumexp(lw + 0.5 * b * b * S2)) / b, bounds=(1e-3, 100.0),
                        method="bounded", options={"xatol": 1e-13})
    # sup = inf_beta (M + log_mgf)/beta with u integrated: log_mgf = log E exp(beta^2 S^2 / 2)
    assert rademacher_orthonormal_sign_limit(n, alpha, M).value == pytest.approx(b.fun, rel=1e-9)


@pytest.mark.parametrize("n", [2, 3, 6])
def test_steep_tanh_tends_to_the_sign_limit(n):
    sign = rademacher_orthonormal_sign_limit(n, 1.0, 2.0).value
    gaps = [abs(rademacher_orthonormal_odd(n, scaled(TANH, 1.0, s), 1.0, 2.0).value - sign) for s in (1e-1, 1e-2, 1e-3)]
    # E|tanh(Z/s) - sign Z| = O(s): the gap shrinks about tenfold per decade of s
    assert gaps[2] < 2e-3 * sign and gaps[2] < gaps[1] / 5 < gaps[0] / 25


def test_large_M_is_finite_and_approaches_sqrt_2M():
    for r, G in ((rademacher_orthonormal_sign_limit(4, 1.0, 1000.0), 1.0),
                 (rademacher_orthonormal_odd(4, TANH, 1.0, 1000.0), 1.0)):
        assert np.isfinite(r.value) and r.converged
        ratio = r.value / (math.sqrt(2000.0) * G)
        assert 0.9 < ratio <= 1.0                       # docs/claims.md#lemma-55: R/sqrt(2M) -> alpha G from below


# --------------------------------------------------------------------------- corrected bound
def test_corrected_bound_is_never_exceeded_on_a_deterministic_sweep():
    worst = 0.0
    for n in (2, 3, 5, 8, 64):
        for M in (1e-3, 0.1, 0.5, 1.3, 4.0, 30.0, 300.0):
            vals = [rademacher_orthonormal_sign_limit(n, 1.0, M).value]
            if n <= 8 and M <= 30.0:
                vals += [rademacher_orthonormal_odd(n, scaled(TANH, 1.0, s), 1.0, M).value for s in (0.1, 1.0)]
            for v in vals:
                worst = max(worst, v / corrected_bound(n, 1.0, 1.0, M))
    X = np.array([[1.0, 0.0], [0.5, 0.5], [0.0, -0.9], [-0.6, 0.3]])
    for M in (0.01, 0.5, 5.0):
        worst = max(worst, rademacher(X, TANH, 1.0, M).value / corrected_bound(4, 1.0, 1.0, M))
    assert worst <= 1.0 + 1e-9
    assert worst > 0.99          # the reference s6b: the bound is tight (0.99998 seen); the sweep must get close


def test_stated_bound_holds_up_to_M_c_even_in_the_sign_limit():
    for n in (2, 3, 8, 64):
        assert rademacher_orthonormal_sign_limit(n, 1.0, critical_M()).value <= stated_bound(n, 1.0, 1.0, critical_M())


# ------------------------------------------------------------------------ estimated routes
def test_monte_carlo_over_sigma_agrees_with_enumeration():
    X = np.array([[1.0, 0.0], [0.7, 0.7], [0.0, 1.0], [-0.5, 0.5], [0.9, -0.1], [0.2, 0.3]])
    exact = rademacher(X, TANH, 1.0, 0.4)
    mc = rademacher(X, TANH, 1.0, 0.4, method="mc", n_sigma=200, rng=np.random.default_rng(3))
    assert mc.method == "mc-gh" and mc.stderr > 0 and mc.n_sigma == 200
    # |est - exact| <= 5 se: false-alarm rate ~6e-7 (normal approximation, 200 draws)
    assert abs(mc.value - exact.value) <= 5 * mc.stderr


def test_qmc_route_beyond_rank_3_agrees_with_hs_within_5_standard_errors():
    X = np.eye(4)
    hs = rademacher_orthonormal_odd(4, TANH, 1.0, 0.5).value
    runs = [rademacher(X, TANH, 1.0, 0.5, K=1024, seed=2 * k) for k in range(8)]
    assert all(r.method == "enumerate-qmc" and not r.exact_tier for r in runs)
    vals = np.array([r.value for r in runs])
    se = vals.std(ddof=1) / math.sqrt(len(vals))
    # 8 independent scramblings: |t_7| > 5 has probability ~1.6e-3
    assert abs(vals.mean() - hs) <= 5 * se


def test_hard_tilt_is_flagged_not_converged():
    """Steep activation, rank 1, M = 100: the refinement check fails and says so (docs/generation.md)."""
    X = np.array([[1.0], [0.8], [-0.6], [0.3]])
    r = rademacher(X, scaled(TANH, 1.0, 0.25), 1.0, 100.0)
    assert not r.converged and r.quad_error > r.quad_tol == pytest.approx(QUAD_RTOL * r.value + 1e-12, rel=1e-12)


def test_sign_vectors_cover_each_pair_once():
    half = sign_vectors(5)
    full = sign_vectors(5, half=False)
    assert half.shape == (16, 5) and full.shape == (32, 5) and np.all(half[:, 0] == 1)
    assert {tuple(r) for r in full} == {tuple(r) for r in np.vstack([half, -half])}


# ------------------------------------------------------------------------------- bad inputs
@pytest.mark.parametrize("kwargs,match", [
    (dict(M=0.0), "M must be > 0"), (dict(M=-1.0), "M must be > 0"),
    (dict(alpha=0.0), "alpha must be > 0"), (dict(alpha=-2.0), "alpha must be > 0")])
def test_nonpositive_M_or_alpha_rejected(kwargs, match):
    args = dict(X=S5_X, act=TANH, alpha=1.0, M=0.3)
    args.update(kwargs)
    with pytest.raises(DomainError, match=match):
        rademacher(**args)
    with pytest.raises(DomainError, match=match):
        rademacher_orthonormal_odd(3, TANH, args["alpha"], args["M"])


def test_bad_sigma_rejected():
    with pytest.raises(DomainError, match="sigma must have entries"):
        kl_ball_sup(S5_X, [1, 0.5], TANH, 1.0, 0.3)
    with pytest.raises(ShapeError, match="sigma must have length 2"):
        kl_ball_sup(S5_X, [1, 1, 1], TANH, 1.0, 0.3)


def test_enumeration_beyond_max_n_rejected():
    X = np.ones((MAX_ENUMERATE_N + 1, 1))
    with pytest.raises(DomainError, match="n must be <= 12 to enumerate"):
        rademacher(X, TANH, 1.0, 0.3, method="enumerate")


def test_other_bad_arguments_rejected():
    with pytest.raises(DomainError, match="method must be"):
        rademacher(S5_X, TANH, 1.0, 0.3, method="exact")
    with pytest.raises(DomainError, match="act must be odd"):
        rademacher_orthonormal_odd(3, SIGMOID, 1.0, 0.3)
    with pytest.raises(DomainError, match="act must be bounded"):
        rademacher(S5_X, RELU, 1.0, 0.3)
    with pytest.raises(DomainError, match="K must be >= 1 and <= 150"):
        rademacher(S5_X, TANH, 1.0, 0.3, K=400)
    with pytest.raises(DomainError, match="quad_rtol must be > 0"):
        kl_ball_sup(S5_X, [1, 1], TANH, 1.0, 0.3, quad_rtol=0.0)
    with pytest.raises(DomainError, match="M must be > 0"):
        psi(0.0)
    with pytest.raises(DomainError, match="n must be >= 1"):
        corrected_bound(0, 1.0, 1.0, 0.3)
    with pytest.raises(TypeError, match="rng must be"):
        rademacher(S5_X, TANH, 1.0, 0.3, method="mc")
    with pytest.raises(DomainError, match="n_sigma must be >= 2"):
        rademacher(S5_X, TANH, 1.0, 0.3, method="mc", n_sigma=1, rng=np.random.default_rng(0))
    with pytest.raises(DomainError, match="order must be >= 2"):
        rademacher_orthonormal_odd(3, TANH, 1.0, 0.3, order=1)
    with pytest.raises(DomainError, match="beta must be > 0"):
        log_mgf(S5_X, [1, 1], TANH, 1.0, 0.0)
    with pytest.raises(DomainError, match="G must be > 0"):
        stated_bound(3, 0.0, 1.0, 0.3)
    with pytest.raises(DomainError, match="n_grid must be >= 2"):
        printed_bound_crossing(3, None, n_grid=1)
    with pytest.raises(DomainError, match="z must be > 0"):
        rademacher_orthonormal_sign_limit(3, 1.0, 0.3).interval(z=0.0)


def test_interval_of_mc_and_exact_results():
    X = np.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])
    mc = rademacher(X, TANH, 1.0, 0.4, method="mc", n_sigma=64, rng=np.random.default_rng(1))
    lo, hi = mc.interval(5.0)
    assert hi - lo == pytest.approx(2 * (5 * mc.stderr + mc.quad_error), rel=1e-12)
    exact = rademacher(X, TANH, 1.0, 0.4)
    assert lo <= exact.value <= hi           # 5 se: false-alarm rate ~6e-7
    assert exact.interval() == (exact.value - exact.quad_error, exact.value + exact.quad_error)


def test_primal_witness_against_direct_quadrature():
    """E10's primal witness: the tilt p_beta (n = 2 orthonormal, tanh) recomputed by a 2-D Gauss-Hermite
    product rule: log_mgf(beta) = log E exp(beta^2 S^2 / 2), value = beta E_pi S^2, KL = beta value - log_mgf."""
    n, alpha, M = 2, 1.5, 3.0
    w = primal_witness_orthonormal_odd(n, TANH, alpha, M)
    x, wx = hermegauss(160)
    wx = wx / wx.sum()
    S = alpha / n * (np.tanh(x)[:, None] + np.tanh(x)[None, :])
    lw = np.log(np.outer(wx, wx)) + 0.5 * (w.beta * S) ** 2
    lm = float(np.logaddexp.reduce(lw.ravel()))
    pi = np.exp(lw - lm)
    value = w.beta * float((pi * S * S).sum())
    kl = w.beta * value - lm
    assert w.feasible and w.kl_upper <= M and kl <= M
    assert w.value == pytest.approx(value, rel=1e-8) and w.kl == pytest.approx(kl, rel=1e-8)
    exact = rademacher_orthonormal_odd(n, TANH, alpha, M).value
    assert w.value_lower <= exact <= w.dual_upper * (1 + 1e-9) and exact - w.value_lower < 1e-4 * exact


def test_primal_witness_rejects_non_odd():
    with pytest.raises(DomainError, match="odd"):
        primal_witness_orthonormal_odd(2, SIGMOID, 1.0, 1.0)
