"""Tests of theory.generalisation: teachers, chi^2, 0-1 risk, Theorem 4.5's chain, Lemma 5.6 (docs/claims.md#lemma-56, 4.9)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from theory.errors import PremiseWarning
from scipy import integrate, stats

from theory.activations import IDENTITY, SIGMOID, TANH
from theory.errors import DomainError, ShapeError
from theory.generalisation import (chi2_gaussian, chi2_u_gaussian_teacher, lemma56_counterexample, lemma56_rhs,
                                   log1p_chi2_gaussian, phat_chi2, phat_loss, realisable_teacher, theorem45_chain,
                                   theorem45_rhs, zero_one_risk)
from theory.kernels import gram_p0

#: docs/claims.md#theorem-45's antipodal pair (30 and 210 degrees), tanh, labels (+1, -1): Dbar = 69.55.
ANTI = np.c_[np.cos(np.deg2rad([30.0, 210.0])), np.sin(np.deg2rad([30.0, 210.0]))]
Y_ANTI = np.array([1.0, -1.0])
#: Three points in d = 2 (0, 70, 140 degrees; radii 1, 0.8, 0.9): H2 invertible, but with +-1 labels
#: the teacher's coefficients are large (chi^2 overflows), so it serves the f_true checks only.
X3 = np.c_[np.cos(np.deg2rad([0.0, 70.0, 140.0])), np.sin(np.deg2rad([0.0, 70.0, 140.0]))] * np.array([[1.0], [0.8], [0.9]])
Y3 = np.array([1.0, -1.0, 1.0])


@pytest.fixture(scope="module")
def anti_teacher():
    return realisable_teacher(ANTI, Y_ANTI, TANH)


def _gauss_kl(mu, Sigma):
    k = len(mu)
    return 0.5 * (np.trace(Sigma) + mu @ mu - k - np.linalg.slogdet(Sigma)[1])


@pytest.mark.parametrize("mu,var", [(0.3, 0.7), (-0.5, 1.5), (1.2, 1.0)])
def test_chi2_gaussian_closed_form_vs_adaptive_quadrature_1d(mu, var):
    p, q = stats.norm(mu, math.sqrt(var)), stats.norm(0.0, 1.0)
    val = integrate.quad(lambda x: np.exp(2 * p.logpdf(x) - q.logpdf(x)), -np.inf, np.inf,
                         epsabs=1e-14, epsrel=1e-13)[0] - 1.0
    assert chi2_gaussian([mu], [[var]]) == pytest.approx(val, rel=1e-8, abs=1e-12)
    # KL <= log(1 + chi^2) (Jensen), an independent inequality between two closed forms
    assert _gauss_kl(np.array([mu]), np.array([[var]])) <= log1p_chi2_gaussian([mu], [[var]]) + 1e-15


def test_chi2_gaussian_closed_form_vs_adaptive_quadrature_2d():
    mu = np.array([0.2, -0.4])
    Sigma = np.array([[0.8, 0.3], [0.3, 1.4]])
    p, q = stats.multivariate_normal(mu, Sigma), stats.multivariate_normal(np.zeros(2), np.eye(2))
    # p^2/q decays like exp(-(2/s - 1) x^2/2) with s = lambda_max(Sigma) = 1.55: below e^-90 outside
    # the box; adaptive tolerances well below the 1e-8 compared
    val = integrate.dblquad(lambda b, a: np.exp(2 * p.logpdf([a, b]) - q.logpdf([a, b])), -25, 25, -25, 25,
                            epsabs=1e-11, epsrel=1e-11)[0] - 1.0
    assert chi2_gaussian(mu, Sigma) == pytest.approx(val, rel=1e-8)


def test_chi2_gaussian_overflow_is_inf_not_nan():
    assert chi2_gaussian([40.0], [[1.0]]) == math.inf  # log1p = 1600 > 709
    assert log1p_chi2_gaussian([40.0], [[1.0]]) == pytest.approx(1600.0, rel=1e-15)


def test_teacher_chi2_reproduces_math_and_adaptive_quadrature(anti_teacher):
    """Antipodal pair: m = c.h depends on z1 = theta.x1 ~ N(0, 1) only; Dbar by scipy quad in z1."""
    t = anti_teacher
    assert t.realisable and t.range_residual <= 1e-12
    m = lambda z: t.c[0] * np.tanh(z) + t.c[1] * np.tanh(-z)  # noqa: E731
    val = integrate.quad(lambda z: np.exp(m(z) ** 2) * stats.norm.pdf(z), -np.inf, np.inf,
                         epsabs=1e-12, epsrel=1e-13)[0] - 1.0
    assert t.Dbar == pytest.approx(val, rel=1e-9)
    assert t.Dbar == pytest.approx(69.55, abs=0.005)  # docs/claims.md#theorem-45, quoted to 4 digits
    assert t.chi2.converged and t.chi2.refine_error <= 1e-9


def test_teacher_outputs_equal_labels_three_ways():
    t = realisable_teacher(X3, Y3, TANH)
    assert t.realisable and np.max(np.abs(t.f_true - Y3)) <= 1e-10
    # an independent H2(p0) (theory.kernels' pairwise 2-D rule): f_true = H2 c = y to quadrature error
    assert np.max(np.abs(gram_p0(X3, TANH).H2 @ t.c - Y3)) <= 1e-8
    # sampling p_true: f_true(x_k) = E[u h_k], u | theta ~ N(c.h, 1); |est - y| <= 5 se (false alarm ~6e-7 each)
    rng = np.random.default_rng(11)
    theta = rng.standard_normal((200_000, 2))
    h = np.tanh(theta @ X3.T)
    u = h @ t.c + rng.standard_normal(200_000)
    vals = u[:, None] * h
    est, se = vals.mean(axis=0), vals.std(axis=0, ddof=1) / math.sqrt(200_000)
    assert np.all(np.abs(est - Y3) <= 5 * se)


def test_teacher_chi2_overflow_is_flagged():
    """docs/claims.md#theorem-45: inputs at 0, 60, 120 degrees with labels (+1, -1, +1): x1 + x3 = x2, chi^2 overflows."""
    X = np.c_[np.cos(np.deg2rad([0.0, 60.0, 120.0])), np.sin(np.deg2rad([0.0, 60.0, 120.0]))]
    y = np.array([1.0, -1.0, 1.0])
    t = realisable_teacher(X, y, TANH)
    assert y @ np.linalg.solve(t.H2, y) == pytest.approx(139, abs=0.5)  # the reference: y^T H2^-1 y = 139
    assert t.chi2.overflow and t.Dbar == math.inf and np.isfinite(t.chi2.log1p_chi2)
    assert t.chi2.log1p_chi2 > 709


def test_unrealisable_labels_are_reported():
    """tanh is odd and x2 = -x1, so f(x2) = -f(x1) for every p: labels (1, 1) are out of range."""
    with pytest.warns(PremiseWarning, match="not in the range"):
        t = realisable_teacher(ANTI, np.array([1.0, 1.0]), TANH)
    assert not t.realisable and t.range_residual == pytest.approx(1.0, abs=1e-12)


def test_zero_one_risk_uses_the_label_and_counts_zero_as_error():
    f = np.array([0.5, -0.5, 0.0, -0.2])
    y = np.array([1.0, 1.0, -1.0, -1.0])
    # errors at 2 (y f < 0) and 3 (f = 0); the printed 1{f < 0} (E4) would say 2/4 for other reasons
    assert zero_one_risk(f, y) == pytest.approx(0.5)
    assert zero_one_risk(f, y, prob=[0.1, 0.2, 0.3, 0.4]) == pytest.approx(0.5)
    assert zero_one_risk(f, -y) == pytest.approx(0.75)  # a rule ignoring y could not change here


@pytest.mark.parametrize("alpha", [0.3, 1.0, 3.0, 30.0])
def test_identity_5_3_and_5_2(anti_teacher, alpha):
    """chi^2(p_hat || p0) = Dbar/alpha^2 with the (theta, u) double sum; L(p_hat) = 0."""
    t = anti_teacher
    assert phat_chi2(t, alpha) == pytest.approx(t.Dbar / alpha ** 2, rel=1e-10)
    assert phat_loss(t) <= 1e-24 and phat_loss(t, weights=[7, 3]) <= 1e-24


def test_5_3_on_a_rank_two_teacher():
    # two independent directions keep H2 well conditioned, so chi^2 stays finite (seen 547.69)
    t = realisable_teacher(np.array([[1.0, 0.0], [0.3, 0.8]]), np.array([0.5, -0.4]), TANH)
    assert t.chi2.converged and t.chi2.K == 80 and t.realisable
    assert phat_chi2(t, 4.0) == pytest.approx(t.Dbar / 16.0, rel=1e-8)


def test_theorem45_chain_math_case(anti_teacher):
    """docs/claims.md#theorem-45 [V]: 10 samples, lam = alpha^2/n; (5.4) and (5.5) hold for alpha in {0.3..30},
    including alpha < 1 where p_hat is not a density (E12); H3 (M <= 1/2) only at alpha = 30."""
    w = np.array([6.0, 4.0])
    for alpha in (0.3, 0.6, 1.0, 3.0, 10.0, 30.0):
        ch = theorem45_chain(anti_teacher, alpha, alpha ** 2 / 10, w)
        assert ch.gibbs.converged
        # exact tier: the quantities are converged to <= 1e-6 (refinement), the slacks are >= 5x
        assert ch.L_star <= ch.bound_54 and ch.KL_star <= ch.bound_55
        assert ch.chi2_phat == pytest.approx(ch.chi2_phat_identity, rel=1e-10)
        assert ch.phat_is_density == (alpha >= 1.0)
        assert ch.M_le_half == (alpha == 30.0)
        assert ch.premise_alpha and ch.labels_pm1 and ch.N == 10.0
        assert ch.rhs > 1.0  # vacuous for small n (the reference)
        assert ch.rhs == pytest.approx(theorem45_rhs(69.5548, 10, 0.1, 2.0), rel=1e-5)
        assert ch.rhs_G1 < ch.rhs  # E18: G1 = 1 < G = 2 for tanh
        assert 0.0 <= ch.risk_star <= 1.0


def test_theorem45_chain_weighted_gibbs_matches_direct_solve(anti_teacher):
    from theory.gibbs import solve_gibbs

    ch = theorem45_chain(anti_teacher, 2.0, 0.5, [6, 4])
    direct = solve_gibbs(ANTI, Y_ANTI, TANH, 2.0, 0.5, weights=[0.6, 0.4])
    assert ch.L_star == pytest.approx(direct.L, rel=1e-13) and ch.KL_star == pytest.approx(direct.KL, rel=1e-13)
    assert not ch.premise_alpha  # alpha = 2 < sqrt(N lam) = sqrt(5)
    assert ch.Q_star <= ch.lam * ch.chi2_phat_identity  # Q(p*) <= Q(p_hat) <= lam chi^2(p_hat): the proof's step


def test_lemma56_counterexample_reproduces_math():
    """docs/claims.md#lemma-56: alpha=1, n=1000, delta=0.1, y=0.1: LHS = 1, RHS = 0.200 + 4R + 0.2322 ~ 0.443-0.468."""
    exact = lemma56_counterexample(1.0, 0.1, 1000, 0.1, complexity=0.0110 / 4)
    assert exact.lhs == 1.0 and exact.f_value == pytest.approx(-0.1, rel=1e-15)
    assert exact.sqrt_loss == pytest.approx(0.2) and exact.confidence_term == pytest.approx(0.2322, abs=5e-5)
    assert exact.rhs == pytest.approx(0.443, abs=5e-4) and exact.violated
    assert exact.M == pytest.approx(0.02) and 4 * exact.lemma55_bound == pytest.approx(0.0358, abs=5e-5)
    via55 = lemma56_counterexample(1.0, 0.1, 1000, 0.1, complexity=exact.lemma55_bound)
    assert via55.rhs == pytest.approx(0.468, abs=5e-4) and via55.violated
    # |y| = 1 (the hidden premise H1 holds): sqrt loss 2 alone exceeds the 0-1 risk
    assert not lemma56_counterexample(1.0, 1.0, 1000, 0.1, complexity=0.0).violated


def test_lemma56_construction_pieces_independently():
    """f(p) = alpha E[u] E[sigmoid(theta.x)] = alpha mu_u / 2 at any x, and KL(N((0, mu_u), I) || p0) = mu_u^2/2."""
    ce = lemma56_counterexample(2.5, -0.3, 50, 0.05, complexity=0.01)
    from theory.quadrature import hermite_rule

    g, w = hermite_rule(60)
    for r in (0.0, 0.3, 1.0):  # theta.x ~ N(0, r^2)
        assert ce.f_value == pytest.approx(2.5 * ce.mu_u * float(w @ SIGMOID.h(r * g)), rel=1e-14)
    k = 4
    mu = np.r_[np.zeros(k - 1), ce.mu_u]
    assert ce.M == pytest.approx(_gauss_kl(mu, np.eye(k)), rel=1e-14)
    assert ce.rhs == pytest.approx(lemma56_rhs(ce.sqrt_loss, 0.01, 50, 0.05), rel=1e-15)


def test_rhs_formulas():
    assert theorem45_rhs(4.0, 100, 0.1, 2.0) == pytest.approx(17 * 0.2 + 6 * math.sqrt(math.log(20) / 200))
    assert lemma56_rhs(0.1, 0.02, 200, 0.5) == pytest.approx(0.1 + 0.08 + 6 * math.sqrt(math.log(4) / 400))


def test_u_gaussian_teacher_chi2_zero_coefficients_is_zero():
    res = chi2_u_gaussian_teacher(np.zeros(3), X3, TANH)
    assert res.chi2 == 0.0 and res.converged and res.exact_tier


# ------------------------------------------------------------------------------------------------
# bad inputs
# ------------------------------------------------------------------------------------------------

def test_bad_inputs(anti_teacher):
    with pytest.raises(DomainError, match="0 < Sigma < 2I"):
        chi2_gaussian([0.0], [[2.0]])
    with pytest.raises(DomainError, match="0 < Sigma < 2I"):
        chi2_gaussian([0.0, 0.0], [[1.0, 0.0], [0.0, 0.0]])
    with pytest.raises(DomainError, match="Sigma must be symmetric"):
        chi2_gaussian([0.0, 0.0], [[1.0, 0.2], [0.0, 1.0]])
    with pytest.raises(ShapeError, match="Sigma must have 2 rows"):
        chi2_gaussian([0.0, 0.0], [[1.0]])
    with pytest.raises(DomainError, match="prob must be non-negative and sum to 1"):
        zero_one_risk([1.0, -1.0], [1.0, 1.0], prob=[0.5, 0.6])
    with pytest.raises(ShapeError, match="y must have length 2"):
        zero_one_risk([1.0, -1.0], [1.0])
    with pytest.raises(DomainError, match="y_value must satisfy 0 < |y| <= 1"):
        lemma56_counterexample(1.0, 0.0, 10, 0.1, 0.0)
    with pytest.raises(DomainError, match="y_value must satisfy"):
        lemma56_counterexample(1.0, 1.5, 10, 0.1, 0.0)
    with pytest.raises(DomainError, match="complexity must be >= 0"):
        lemma56_counterexample(1.0, 0.5, 10, 0.1, -1.0)
    with pytest.raises(DomainError, match="delta must lie in"):
        lemma56_counterexample(1.0, 0.5, 10, 1.0, 0.0)
    with pytest.raises(DomainError, match="alpha must be > 0"):
        phat_chi2(anti_teacher, 0.0)
    with pytest.raises(TypeError, match="teacher must be a Teacher"):
        phat_chi2("teacher", 1.0)
    with pytest.raises(TypeError, match="teacher must be a Teacher"):
        theorem45_chain(None, 1.0, 0.1, [1, 1])
    with pytest.raises(DomainError, match="weights must be >= 0"):
        theorem45_chain(anti_teacher, 1.0, 0.1, [3, -1])
    with pytest.raises(DomainError, match="bounded admissible"):
        realisable_teacher(ANTI, Y_ANTI, IDENTITY)
    with pytest.raises(DomainError, match="range_tol must be > 0"):
        realisable_teacher(ANTI, Y_ANTI, TANH, range_tol=0.0)
    with pytest.raises(DomainError, match="Dbar must be >= 0"):
        theorem45_rhs(-1.0, 10, 0.1, 1.0)
    with pytest.raises(DomainError, match="sqrt_loss must be >= 0"):
        lemma56_rhs(-0.1, 0.0, 10, 0.1)
