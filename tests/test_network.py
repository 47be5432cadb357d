"""Tests of theory.network: f(p, x) (3.1)/(3.2), p0 sampling with doubling (docs/model.md#symmetric-initialisation), b(p) (docs/model.md#residual-ode)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from theory.activations import IDENTITY, RELU, SIGMOID, TANH, scaled
from theory.errors import DomainError, MissingDerivativeError, NonFiniteError, ShapeError
from theory.kernels import gram_particles
from theory.network import Particles, mean_cov, output, residual_drift_b, sample_p0, second_moment
from theory.quadrature import hermite_rule


def _data(n, d, seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    return X / np.linalg.norm(X, axis=1, keepdims=True), rng


# ---------------------------------------------------------------------------------------------
# doubling initialisation (docs/model.md#symmetric-initialisation)
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("act", [TANH, scaled(SIGMOID, 2.0, 0.5), IDENTITY])
def test_symmetric_init_output_is_exactly_zero(act):
    X, rng = _data(7, 4, 0)
    p = sample_p0(1000, 4, rng, replicas=3)
    # Exactly 0.0, not merely small: each mirrored pair cancels bitwise, even at alpha = 1e5.
    assert np.all(output(p, X, act, alpha=1e5) == 0.0)
    assert np.all(residual_drift_b(p, X, act) == 0.0)


def test_symmetric_init_gram_equals_gram_of_base_pairs():
    # docs/model.md#symmetric-initialisation: H1 uses u^2 and H2 does not use u, so H(p_m) at init is H of the m/2 base particles.
    X, rng = _data(5, 3, 1)
    p = sample_p0(400, 3, rng)
    full = gram_particles(p.theta, p.u, X, TANH).H
    base = gram_particles(p.theta[::2], p.u[::2], X, TANH).H
    np.testing.assert_allclose(full, base, rtol=1e-13, atol=1e-15)  # summation-order rounding only
    assert np.array_equal(p.theta[0::2], p.theta[1::2]) and np.array_equal(p.u[0::2], -p.u[1::2])


def test_iid_init_output_has_order_alpha_over_sqrt_m():
    """f_m(x) = (alpha/m) sum_j u_j h(theta_j . x) has mean 0 and variance alpha^2 E[h(z)^2]/m, z ~ N(0,|x|^2).

    Over R independent replicas, Q = sum_r f_r^2 / sigma^2 is chi^2_R (f is a sum of m iid terms;
    its excess kurtosis ~1/m is negligible).  Two-sided band at total false-alarm rate 1e-6.
    """
    X, rng = _data(3, 4, 2)
    alpha, m, R = 5.0, 500, 400
    p = sample_p0(m, 4, rng, replicas=R, symmetric=False)
    f = output(p, X, TANH, alpha)[:, 0]
    nodes, weights = hermite_rule(80)
    Eh2 = float(np.sum(weights * np.tanh(np.linalg.norm(X[0]) * nodes) ** 2))
    Q = float(np.sum(f ** 2) / (alpha ** 2 * Eh2 / m))
    lo, hi = stats.chi2.ppf(5e-7, R), stats.chi2.isf(5e-7, R)
    assert lo <= Q <= hi, (Q, lo, hi)


# ---------------------------------------------------------------------------------------------
# output, b, moments: closed forms and independent routes
# ---------------------------------------------------------------------------------------------

def test_output_matches_explicit_sum_with_weights():
    X, rng = _data(4, 3, 3)
    theta, u = rng.standard_normal((2, 9, 3)), rng.standard_normal((2, 9))
    w = rng.uniform(0.1, 1.0, (2, 9))
    w /= w.sum(axis=1, keepdims=True)
    p = Particles(theta, u, w)
    expected = np.array([[1.7 * sum(w[r, j] * u[r, j] * math.tanh(theta[r, j] @ X[i]) for j in range(9))
                          for i in range(4)] for r in range(2)])
    np.testing.assert_allclose(output(p, X, TANH, 1.7), expected, rtol=1e-13)


def test_output_identity_activation_is_linear_in_first_moment():
    # For h(z) = z: f(x) = alpha E[u theta] . x, computed here from mean_cov's moments.
    X, rng = _data(5, 3, 4)
    p = sample_p0(301, 3, rng, symmetric=False)
    mean, cov = mean_cov(p)
    E_u_theta = cov[:3, 3] + mean[:3] * mean[3]
    np.testing.assert_allclose(output(p, X, IDENTITY, 2.0), 2.0 * X @ E_u_theta, rtol=1e-11, atol=1e-14)


def test_mean_cov_and_second_moment_match_numpy():
    _, rng = _data(1, 3, 5)
    p = sample_p0(200, 3, rng, symmetric=False)
    mean, cov = mean_cov(p)
    w = p.w()
    np.testing.assert_allclose(mean, w.mean(axis=0), rtol=1e-13)
    np.testing.assert_allclose(cov, np.cov(w.T, bias=True), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(second_moment(p), np.trace(cov) + mean @ mean, rtol=1e-12)


def test_second_moment_of_p0_sample_is_k_within_se():
    # |w|^2 ~ chi^2_k: mean k, variance 2k; 5 se band (false alarm ~6e-7).
    _, rng = _data(1, 4, 6)
    m, k = 20_000, 5
    value = float(second_moment(sample_p0(m, 4, rng, symmetric=False)))
    assert abs(value - k) <= 5.0 * math.sqrt(2 * k / m)


def test_b_identity_closed_form():
    # h(z) = z: b_i = E[u (z + z - 0)] = 2 E[u theta] . x_i.
    X, rng = _data(4, 3, 7)
    p = sample_p0(101, 3, rng, symmetric=False)
    expected = 2.0 * X @ np.mean(p.u[:, None] * p.theta, axis=0)
    np.testing.assert_allclose(residual_drift_b(p, X, IDENTITY), expected, rtol=1e-12, atol=1e-15)


def test_b_is_the_ou_derivative_of_f():
    """Under the pure OU flow dw = -lam w dt + sqrt(2 lam) dB, d f(p_s)/ds at 0 = -lam alpha b(p) (docs/model.md#residual-ode).

    Independent route: the OU semigroup in closed form, f(p_s, x) = alpha e^{-lam s} E_p[u E_g h(e^{-lam s} z
    + sigma_s |x| g)] with sigma_s^2 = 1 - e^{-2 lam s}, g ~ N(0,1) by Gauss-Hermite, differentiated by a
    Richardson-extrapolated forward difference (error O(s^2) ~ 1e-8).
    """
    X, rng = _data(3, 2, 8)
    theta, u = rng.standard_normal((40, 2)) * 0.8, rng.standard_normal(40) + 0.5
    p = Particles(theta, u)
    lam, alpha = 0.7, 1.3
    nodes, weights = hermite_rule(60)
    Z = theta @ X.T
    xnorm = np.linalg.norm(X, axis=1)

    def f_at(s):
        a, sig = math.exp(-lam * s), math.sqrt(-math.expm1(-2 * lam * s))
        inner = np.tensordot(np.tanh(a * Z[..., None] + sig * xnorm[None, :, None] * nodes), weights, axes=1)
        return alpha * a * np.mean(u[:, None] * inner, axis=0)

    s = 1e-4
    d1, d2 = (f_at(s) - f_at(0)) / s, (f_at(2 * s) - f_at(0)) / (2 * s)
    np.testing.assert_allclose(2 * d1 - d2, -lam * alpha * residual_drift_b(p, X, TANH), rtol=1e-5, atol=1e-7)


def test_b_needs_second_derivative():
    X, rng = _data(3, 2, 9)
    with pytest.raises(MissingDerivativeError, match="h''"):
        residual_drift_b(sample_p0(4, 2, rng), X, RELU)


# ---------------------------------------------------------------------------------------------
# bad input: one test per validation rule
# ---------------------------------------------------------------------------------------------

def test_particles_validation():
    th, u = np.zeros((4, 2)), np.zeros(4)
    with pytest.raises(ShapeError, match="theta must have shape"):
        Particles(np.zeros(4), u)
    with pytest.raises(ShapeError, match="m >= 1"):
        Particles(np.zeros((0, 2)), np.zeros(0))
    with pytest.raises(ShapeError, match="u must have shape"):
        Particles(th, np.zeros(3))
    with pytest.raises(NonFiniteError, match="theta must be finite"):
        Particles(np.full((4, 2), np.nan), u)
    with pytest.raises(NonFiniteError, match="u must be finite"):
        Particles(th, np.array([0.0, np.inf, 0.0, 0.0]))
    with pytest.raises(TypeError, match="theta must be an array"):
        Particles("abc", u)
    with pytest.raises(ShapeError, match="weights must have shape"):
        Particles(th, u, np.full(3, 1 / 3))
    with pytest.raises(DomainError, match="weights must be >= 0"):
        Particles(th, u, np.array([0.5, 0.75, -0.25, 0.0]))
    with pytest.raises(DomainError, match="sum to 1"):
        Particles(th, u, np.full(4, 0.3))
    with pytest.raises(NonFiniteError, match="weights must be finite"):
        Particles(th, u, np.array([np.nan, 0.5, 0.25, 0.25]))


def test_sample_p0_validation():
    rng = np.random.default_rng(0)
    with pytest.raises(DomainError, match="m must be even"):
        sample_p0(5, 2, rng)
    with pytest.raises(DomainError, match="m must be >= 1"):
        sample_p0(0, 2, rng, symmetric=False)
    with pytest.raises(DomainError, match="d must be >= 1"):
        sample_p0(4, 0, rng)
    with pytest.raises(DomainError, match="replicas must be >= 1"):
        sample_p0(4, 2, rng, replicas=0)
    with pytest.raises(TypeError, match="rng must be"):
        sample_p0(4, 2, "seed")
    with pytest.raises(TypeError, match="symmetric must be a bool"):
        sample_p0(4, 2, rng, symmetric="yes")
    with pytest.raises(TypeError, match="m must be an integer"):
        sample_p0(4.5, 2, rng)


def test_output_validation():
    X, rng = _data(3, 2, 10)
    p = sample_p0(4, 2, rng)
    with pytest.raises(DomainError, match="alpha must be > 0"):
        output(p, X, TANH, 0.0)
    with pytest.raises(DomainError, match="alpha must be > 0"):
        output(p, X, TANH, -1.0)
    with pytest.raises(NonFiniteError, match="alpha must be finite"):
        output(p, X, TANH, np.nan)
    with pytest.raises(ShapeError, match="X must have 2 columns"):
        output(p, np.ones((3, 3)), TANH, 1.0)
    with pytest.raises(NonFiniteError, match="X must be finite"):
        output(p, np.array([[np.inf, 0.0]]), TANH, 1.0)
    with pytest.raises(TypeError, match="particles must be a Particles"):
        output((p.theta, p.u), X, TANH, 1.0)
    with pytest.raises(DomainError, match="activation must be one of"):
        output(p, X, "cosh", 1.0)
    with pytest.raises(TypeError, match="particles must be a Particles"):
        second_moment(p.theta)
    with pytest.raises(TypeError, match="particles must be a Particles"):
        mean_cov(p.theta)


# ---------------------------------------------------------------------------------------------
# the validation layer at this boundary (issue 13)
# ---------------------------------------------------------------------------------------------

def test_output_accepts_numpy_scalars_and_0d_alpha():
    p = sample_p0(4, 2, 0, symmetric=False)
    X = np.array([[1.0, 0.0], [0.0, 1.0]])
    ref = output(p, X, TANH, 10.0)
    for alpha in (np.array(10.0), np.float32(10.0), np.int64(10), 10):
        np.testing.assert_allclose(output(p, X, TANH, alpha), ref, rtol=1e-7)


@pytest.mark.parametrize("X,err,match", [
    (np.ones((2, 2), dtype=bool), TypeError, "X must be an array of real numbers .*dtype bool"),
    (np.ones((2, 2)) + 0j, TypeError, "X must be an array of real numbers .*dtype complex"),
    ([["1", "0"], ["0", "1"]], TypeError, "X must be an array of real numbers .*dtype string"),
    ([[1.0, 2.0], [3.0]], TypeError, "X must be an array of numbers"),
    (np.full((2, 2), 1e200), DomainError, "X has an entry of size 1e\\+200, beyond 1e\\+150"),
])
def test_output_refuses_bad_inputs_by_name(X, err, match):
    with pytest.raises(err, match=match):
        output(sample_p0(4, 2, 0), X, TANH, 1.0)


def test_negative_seed_is_refused_by_name():
    with pytest.raises(DomainError, match="rng must be a seed >= 0, got -1"):
        sample_p0(4, 2, -1)


def test_particle_weights_must_form_a_probability_measure():
    p = sample_p0(4, 2, 0)
    with pytest.raises(DomainError, match="weights must sum to 1"):
        Particles(p.theta, p.u, np.full(4, 0.3))
    with pytest.raises(DomainError, match="weights must sum to 1"):
        gram_particles(p.theta, p.u, np.eye(2), TANH, np.full(4, 0.3))
