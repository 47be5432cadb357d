"""Tests of theory/trajectory.py: brackets, the OU reference, the Groenwall envelope, the linearised
residual, the plug-in biases, the Gibbs moments and the extrapolation helpers (docs/claims.md#lemma-52-4.6, 5).

Statistical assertions use |estimate - exact| <= 5 se (two-sided false alarm ~5.7e-7 each).
"""

import math

import numpy as np
import pytest
from scipy.linalg import expm

from theory.activations import TANH
from theory.data import unit_directions
from theory.divergences import kl_gaussian_p0, w2_squared_gaussian_p0
from theory.dynamics import Dynamics, DynamicsConfig, simulate
from theory.errors import DomainError, ShapeError
from theory.gibbs import linearised_gibbs
from theory.kernels import gram_p0, kernel_constants
from theory.network import mean_cov, sample_p0
from theory.trajectory import (CoupledRun, alpha_min_exponent, finite_width_floor, gibbs_evidence, gibbs_moments,
                               gronwall_envelope, linearisation_error, ntk_linearised_residual, observed_rate,
                               p_lower_exact_families, path_evidence, plugin_kl_bias, plugin_w2_sq_bias,
                               replica_mean_se, resolving_window, richardson, run_coupled, slack_orders)

Z = 5.0
X3 = unit_directions([0.0, 60.0, 120.0])
Y3 = np.array([0.9, -0.5, 0.3])
KC3 = kernel_constants(X3, TANH)


def _coupled(alpha=20.0, lam=0.005, m=2000, R=4, steps=120, every=10, dt=0.02, seed=3, time="tau") -> CoupledRun:
    cfg = DynamicsConfig(alpha=alpha, lam=lam, dt=dt, m=m, replicas=R, time=time, lambda0=KC3.lambda0)
    dyn = Dynamics(cfg, X3, Y3, TANH, seed)
    return run_coupled(dyn, dyn.initial_state(), steps, every)


RUN = _coupled()
EV = path_evidence(RUN, X3, Y3, KC3.Lambda)


# -- brackets -----------------------------------------------------------------------------------
def test_w2_brackets_ordered_replica_by_replica():
    # Gelbrich between the two plug-in Gaussians <= W2 of the two empirical measures <= index coupling:
    # an inequality for every replica and record, not only on average.  Compared squared: the Bures
    # trace formula cancels O(k) terms, leaving ~1e-15 absolute rounding in W2^2 (3e-8 after sqrt).
    assert np.all(EV.w2_lower ** 2 <= EV.w2_upper ** 2 * (1 + 1e-12) + 1e-13)
    assert np.all(EV.w2_upper[0] == 0.0)                    # v_0 = w_0
    assert EV.w2_upper[-1].min() > 0.05                     # the particles moved: the test has teeth


def test_kl_brackets_ordered_within_noise():
    lo, se_lo = EV.mean_se("kl_lower")
    hi, se_hi = EV.mean_se("kl_energy_upper")
    assert np.all(lo <= hi + Z * np.hypot(se_lo, se_hi))
    assert hi[-1] > 10 * lo[-1]


def test_w2_lower_from_bare_trajectory_is_bias_corrected_and_loose():
    ev = path_evidence(RUN.traj, X3, Y3, KC3.Lambda)
    assert np.all(ev.w2_lower >= 0.0) and np.all(ev.w2_lower[0] >= 0.0)
    assert np.array_equal(ev.w2_upper, EV.w2_upper)


def test_premises_and_ratios():
    assert EV.premises_hold.all() and EV.op_h.all() and EV.op_m.all()
    # OP-M: E|w|^2 ~ k = 3 under p0, so the ratio E|w|^2/(4k) starts at 1/4 within sampling noise
    assert abs(EV.moment_ratio[0].mean() - 0.25) < 0.01
    assert np.all(np.abs(EV.lam_min_ratio[0] - 1.0) < 0.1)
    assert np.allclose(EV.tau, 20.0 ** 2 * KC3.Lambda / 3 * EV.t_phys)
    assert np.allclose(EV.sqrt_loss[0], np.sqrt(np.mean(Y3 ** 2)), rtol=0, atol=1e-15)  # symmetric init


# -- the OU reference ---------------------------------------------------------------------------
def test_ou_reference_stays_p0():
    """After many OU steps the reference particles still have mean 0 and covariance I (exact OU step)."""
    run = _coupled(alpha=1.0, lam=0.5, m=4000, R=8, steps=60, every=60, dt=0.05, time="t")
    mean, cov = run.ref_mean[-1], run.ref_cov[-1]                      # (R, k), (R, k, k)
    k = mean.shape[-1]
    mu, se = replica_mean_se(mean, axis=0)
    assert np.all(np.abs(mu) <= Z * se + 1e-12)
    c, sc = replica_mean_se(cov.reshape(len(cov), -1), axis=0)
    assert np.all(np.abs(c - np.eye(k).ravel() * (1 - 1 / 4000)) <= Z * sc + 1e-12)
    # and the particles themselves did leave p0 (lam t = 1.5)
    assert run.traj.w2_ou_upper_sq[-1].min() > 1e-3


# -- Groenwall envelope -------------------------------------------------------------------------
def test_gronwall_constant_coefficients_match_closed_form():
    t = np.linspace(0.0, 3.0, 31)
    a_lam, b, B0, alpha, lam, n = 0.7, 0.4, 2.0, 1.5, 0.2, 3
    B = gronwall_envelope(t, np.full(31, a_lam), np.full(31, b), B0, alpha, lam, n)
    a, c = 2 * alpha ** 2 / n * a_lam, lam * alpha * b
    assert np.allclose(B, B0 * np.exp(-a * t) + c / a * (1 - np.exp(-a * t)), rtol=1e-13, atol=0)
    B_zero = gronwall_envelope(t, np.zeros(31), np.full(31, b), B0, alpha, lam, n)
    assert np.allclose(B_zero, B0 + c * t, rtol=1e-13)


def test_residual_stays_under_gronwall_envelope_on_a_short_run():
    # docs/claims.md#lemma-52: tight until the noise floor; tolerance 3 sqrt(lam n/(m Lambda)) in sqrt(L), times sqrt(n) for |r|.
    tol = 3 * math.sqrt(3) * math.sqrt(0.005 * 3 / (EV.m * KC3.Lambda))
    assert np.all(EV.residual_norm <= EV.gronwall + tol)
    assert EV.residual_norm[6].mean() < 0.1 * EV.residual_norm[0].mean()   # it decayed: not vacuous


def test_gronwall_validation():
    t = np.linspace(0, 1, 3)
    with pytest.raises(ShapeError, match="lam_min"):
        gronwall_envelope(t, np.ones(3), np.ones(4), 1.0, 1.0, 0.1, 2)
    with pytest.raises(DomainError, match="non-decreasing"):
        gronwall_envelope(t[::-1], np.ones(3), np.ones(3), 1.0, 1.0, 0.1, 2)
    with pytest.raises(DomainError, match="alpha"):
        gronwall_envelope(t, np.ones(3), np.ones(3), 1.0, 0.0, 0.1, 2)


# -- linearised residual ------------------------------------------------------------------------
def test_ntk_linearised_residual_exact_and_euler():
    H0 = gram_p0(X3, TANH).H
    t = np.array([0.0, 0.1, 0.5])
    r = ntk_linearised_residual(t, -Y3, H0, 2.0)
    for ti, ri in zip(t, r):
        assert np.allclose(ri, expm(-(2 * 4.0 / 3) * H0 * ti) @ -Y3, rtol=0, atol=1e-13)
    dt = 0.01
    re = ntk_linearised_residual(np.array([0.0, 0.05]), -Y3, H0, 2.0, dt=dt)
    x = -Y3.copy()
    for _ in range(5):
        x = x - dt * (2 * 4.0 / 3) * H0 @ x
    assert np.allclose(re[1], x, rtol=0, atol=1e-14)
    with pytest.raises(DomainError, match="dt"):
        ntk_linearised_residual(t, -Y3, H0, 2.0, dt=0.0)
    with pytest.raises(ShapeError, match="H0"):
        ntk_linearised_residual(t, -Y3, H0[:2, :2], 2.0)


def test_linearisation_error_and_jackknife():
    rng = np.random.default_rng(0)
    r_lin = rng.standard_normal((4, 3))
    res = r_lin[:, None, :] + 0.1 + 0.01 * rng.standard_normal((4, 50, 3))
    e, se = linearisation_error(res, r_lin, 2.0)
    assert np.allclose(e, np.linalg.norm(res.mean(1) - r_lin, axis=-1) / 2)
    # the norm of a mean offset of 0.1 per component: sqrt(3)*0.1/2, noise 0.01/sqrt(50) per component
    assert np.all(np.abs(e - math.sqrt(3) * 0.05) <= Z * se)
    assert np.all(se < 0.01)
    with pytest.raises(DomainError, match="2 replicas"):
        linearisation_error(res[:, :1], r_lin, 1.0)


# -- plug-in biases (sampling cross-check of the second-order expansions) -----------------------
def _plugin_values(symmetric: bool, m=400, R=4000, d=2, seed=1):
    p = sample_p0(m, d, np.random.default_rng(seed), replicas=R, symmetric=symmetric)
    mean, cov = mean_cov(p)
    kl = np.array([kl_gaussian_p0(mu, S) for mu, S in zip(mean, cov)])
    w2 = np.array([w2_squared_gaussian_p0(mu, S) for mu, S in zip(mean, cov)])
    return kl, w2


@pytest.mark.parametrize("symmetric", [False, True])
def test_plugin_biases_match_sampling(symmetric):
    kl, w2 = _plugin_values(symmetric)
    for vals, bias in ((kl, plugin_kl_bias(3, 400, symmetric)), (w2, plugin_w2_sq_bias(3, 400, symmetric))):
        mu, se = vals.mean(), vals.std(ddof=1) / math.sqrt(len(vals))
        # O(1/m^2) terms are ~k/m = 1% of the bias, far inside 5 se (~6% here)
        assert abs(mu - bias) <= Z * se, (mu, bias, se)


def test_plugin_bias_values_and_validation():
    assert plugin_kl_bias(3, 40000, False) == pytest.approx(1.125e-4)     # docs/claims.md#lemma-53
    assert plugin_kl_bias(3, 40000, True) == pytest.approx(1.5e-4)        # seen 1.46e-4 with doubling
    assert plugin_kl_bias(3, 100, True) >= plugin_kl_bias(3, 100, False)
    with pytest.raises(DomainError, match="k"):
        plugin_kl_bias(0, 10)
    with pytest.raises(TypeError, match="m"):
        plugin_w2_sq_bias(3, 1.5)


# -- t = infinity ---------------------------------------------------------------------------------
def test_gibbs_moments_match_importance_sampling():
    ge = gibbs_evidence(X3, Y3, TANH, 2.0, 0.5, KC3.Lambda)
    sol = ge.solution
    mean, cov, mom = gibbs_moments(sol, X3)
    rng = np.random.default_rng(0)
    batches = []
    for _ in range(20):                                       # batch means give the standard error
        th = rng.standard_normal((20000, 2))
        s = (2.0 / 0.5) * (np.tanh(th @ X3.T) @ sol.a)
        w = np.exp(0.5 * s * s - np.max(0.5 * s * s))
        w /= w.sum()
        u = -s + rng.standard_normal(s.size)
        W = np.column_stack([th, u])
        mu = w @ W
        batches.append(np.concatenate([mu, ((w[:, None] * (W - mu)).T @ (W - mu)).ravel()]))
    b = np.array(batches)
    est, se = b.mean(0), b.std(0, ddof=1) / math.sqrt(len(b))
    assert np.all(np.abs(est - np.concatenate([mean, cov.ravel()])) <= Z * se + 1e-3 / 20000 ** 0.5)
    assert mom == pytest.approx(np.trace(cov) + mean @ mean, rel=1e-14)


def test_gibbs_evidence_brackets_and_decomposition():
    ge = gibbs_evidence(X3, Y3, TANH, 2.0, 0.5, KC3.Lambda)
    assert ge.valid and ge.reason == ""
    assert ge.w2_lower <= ge.w2_upper                         # Gelbrich <= sharp T2 (both certified)
    mean, cov, _ = gibbs_moments(ge.solution, X3)
    assert ge.KL >= kl_gaussian_p0(mean, cov) - 1e-9          # KL(p*) = KL(p*||N_p*) + KL(N_p*||p0)
    assert ge.sqrt_loss == pytest.approx(math.sqrt(np.mean(ge.solution.r ** 2)))


def test_gibbs_evidence_at_huge_alpha_is_valid_despite_rounding_of_tiny_kl():
    ge = gibbs_evidence(X3, Y3, TANH, 3e5, 0.005, KC3.Lambda)
    assert ge.valid, ge.reason
    # docs/claims.md#gibbs-minimiser linearisation: KL* -> y^T H2^-1 y / (2 alpha^2), relative corrections O(lam n/(alpha^2 H2)) ~ 1e-9
    assert ge.KL == pytest.approx(linearised_gibbs(X3, Y3, TANH, 3e5, 0.005).KL_limit, rel=1e-4)
    assert ge.lam_min_ratio == pytest.approx(1.0, abs=1e-6)


# -- windows, floors, extrapolation ------------------------------------------------------------
def test_resolving_window_and_floor():
    tau = np.linspace(0, 5, 6)
    w = resolving_window(tau, 0.05, 0.01)
    assert w.tolist() == [bool(math.exp(-t) >= 0.05) for t in tau]
    assert resolving_window(tau, 0.0, 0.2).tolist() == [bool(math.exp(-t) >= 0.4) for t in tau]
    f = finite_width_floor(np.array([0.5, 0.02]), np.array([0.5, 0.01]), 0.01, 3, 1000, 0.1)
    assert f == pytest.approx(max(math.sqrt(0.03 / 100), 0.02))
    with pytest.raises(ShapeError, match="record grid"):
        finite_width_floor(np.ones(2), np.ones(3), 0.01, 3, 10, 0.1)


def test_richardson_and_observed_rate():
    h = np.array([1.0, 0.5, 0.25])
    v = 2.0 + 0.3 * h ** 2
    assert richardson(v[0], v[1], 2.0, 2.0) == pytest.approx(2.0, abs=1e-14)
    assert observed_rate(v, 2.0) == pytest.approx(2.0, rel=1e-12)
    assert observed_rate(np.array([1.0, 1.0, 1.0]), 2.0) == math.inf
    with pytest.raises(DomainError, match="ratio"):
        richardson(1.0, 2.0, 1.0, 1.0)
    with pytest.raises(ShapeError, match="3 levels"):
        observed_rate(np.ones(2), 2.0)


def test_slack_orders_and_replica_se():
    assert slack_orders(1e-3, 1.0) == pytest.approx(3.0)
    assert slack_orders(0.0, 1.0) == math.inf
    mu, se = replica_mean_se(np.array([[1.0, 3.0]]))
    assert mu[0] == 2.0 and se[0] == pytest.approx(1.0)
    with pytest.raises(DomainError, match="2 replicas"):
        replica_mean_se(np.ones((3, 1)))


# -- the paper's constants -----------------------------------------------------------------------
def test_p_lower_is_below_the_certified_p_min_of_math_3_4():
    X = unit_directions([0.0, 45.0, 90.0, 135.0])
    P_lo, R = p_lower_exact_families(X, TANH)
    # docs/kernels.md#reference-numbers: certified R_hat = 0.2988 (all families); the two cheap families cannot do better.
    assert R >= 0.2988
    assert P_lo == pytest.approx(kernel_constants(X, TANH).lambda0 ** 2 / R)


def test_alpha_min_exponent_is_minus_twice_the_lambda0_sq_slope():
    P, ns = 0.5, (2, 4, 8)
    lam0sq = []
    for n in ns:
        ang = np.pi * np.arange(n) / n
        lam0sq.append(kernel_constants(np.stack([np.cos(ang), np.sin(ang)], 1), TANH).lambda0 ** 2)
    assert max(lam0sq) / P < math.sqrt(3)                    # the lambda0^2/P branch of R is active
    slope = np.polyfit(np.log(ns), np.log(lam0sq), 1)[0]
    assert alpha_min_exponent(TANH, P, 0.005) == pytest.approx(-2 * slope, rel=1e-10)
    assert alpha_min_exponent(TANH, P, 0.005) > 3.0           # E9: not the remark's n^3


# -- validation of path_evidence / run_coupled -------------------------------------------------
def test_path_evidence_and_run_coupled_validation():
    with pytest.raises(TypeError, match="CoupledRun or a Trajectory"):
        path_evidence("x", X3, Y3, KC3.Lambda)
    with pytest.raises(TypeError, match="Dynamics"):
        run_coupled(None, None, 1, 1)
    with pytest.raises(DomainError, match="Lambda"):
        path_evidence(RUN, X3, Y3, 0.0)
    cfg = DynamicsConfig(alpha=1.0, lam=0.0, dt=0.01, m=20, replicas=2)
    with pytest.raises(DomainError, match="lam > 0"):
        path_evidence(simulate(cfg, X3, Y3, TANH, 2, seed=0), X3, Y3, KC3.Lambda)
    cfg = DynamicsConfig(alpha=1.0, lam=0.1, dt=0.01, m=20, replicas=2, couple_ou=False)
    with pytest.raises(DomainError, match="couple_ou"):
        path_evidence(simulate(cfg, X3, Y3, TANH, 2, seed=0), X3, Y3, KC3.Lambda)
