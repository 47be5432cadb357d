"""Benchmarks of the Lemma 5.1 adversaries (theory/stability.py; docs/architecture.md#speed).

Run: ``python -m pytest benchmarks/bench_stability.py --benchmark-enable -p no:cacheprovider``
(about 30 s).  Each hot path sits beside a straightforward reference computing the same numbers:

* H(N(mu, Sigma)): the conditional 2-D rule with u integrated out analytically and negligible
  corner nodes pruned (K = 80) against docs/claims.md#lemma-51's recipe, a 3-D tensor Gauss-Hermite rule per pair
  over (z_i, z_j, u) (K = 40, already 64000 nodes a pair); the two agree to 1e-12 (asserted);
* a whole ``ci`` case (n = 4, d = 2, tanh; adversaries A-D, then the ball minimum at one P):
  the budget is "a few seconds at most on one core";
* the particle gradient of lambda_min that drives the free-form adversary (E), against central
  finite differences (the reference a gradient replaces).
"""

import numpy as np
import pytest

from theory.activations import SIGMOID, TANH
from theory.quadrature import gaussian_rule
from theory.stability import critical_radius, gram_gaussian, lambda_min_particles, min_lambda_within

ANG = np.deg2rad([0.0, 45.0, 90.0, 135.0])
X_REF = np.stack([np.cos(ANG), np.sin(ANG)], axis=1)
MU = np.array([0.1, -0.2, 0.3])
SIGMA = np.array([[0.8, 0.1, 0.05], [0.1, 0.7, -0.1], [0.05, -0.1, 0.6]])


def gram_gaussian_reference(X, act, mu, Sigma, K=40):
    """H1, H2 of N(mu, Sigma) by a 3-D Gauss-Hermite rule per pair over (z_i, z_j, u) (docs/claims.md#lemma-51 (C))."""
    n, d = X.shape
    H1, H2 = np.empty((n, n)), np.empty((n, n))
    for i in range(n):
        for j in range(i, n):
            A = np.zeros((3, d + 1))
            A[0, :d], A[1, :d], A[2, d] = X[i], X[j], 1.0
            rule = gaussian_rule(A @ Sigma @ A.T, K)
            Y = rule.z + A @ mu
            h, d1 = act.derivatives(Y[:, :2], 1)
            H2[i, j] = H2[j, i] = rule.expect(h[:, 0] * h[:, 1])
            H1[i, j] = H1[j, i] = (X[i] @ X[j]) * rule.expect(Y[:, 2] ** 2 * d1[:, 0] * d1[:, 1])
    return H1, H2


def test_gram_gaussian_conditional(benchmark):
    H1, H2 = benchmark(gram_gaussian, X_REF, SIGMOID, MU, SIGMA, 80)
    R1, R2 = gram_gaussian_reference(X_REF, SIGMOID, MU, SIGMA)
    # Both rules are converged for sigmoid (errors ~1e-14): 1e-12 is rounding room only.
    np.testing.assert_allclose(H1 + H2, R1 + R2, atol=1e-12, rtol=0)


def test_gram_gaussian_reference_3d(benchmark):
    benchmark.pedantic(gram_gaussian_reference, args=(X_REF, SIGMOID, MU, SIGMA), rounds=3, iterations=1)


def _ci_case():
    rep = critical_radius(X_REF, TANH)
    ball = min_lambda_within(X_REF, TANH, rep.R_crit / 1.5, rep)
    return rep, ball


def test_ci_case_certified_adversaries(benchmark):
    rep, ball = benchmark.pedantic(_ci_case, rounds=2, iterations=1)
    assert rep.R_crit == pytest.approx(0.29991, abs=1e-4)
    assert ball.observed > 0.5 * rep.Lambda


def _particles(m=1000, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((m, 3)), np.full(m, 1.0 / m)


def test_particle_gradient_analytic(benchmark):
    W, pi = _particles()
    lam, v, grad = benchmark(lambda_min_particles, W, X_REF[:3], TANH, pi)
    assert grad.shape == W.shape


def _finite_difference_gradient(W, pi, h=1e-5):
    out = np.empty_like(W)
    for j in range(W.shape[0]):
        for a in range(W.shape[1]):
            E = np.zeros_like(W)
            E[j, a] = h
            out[j, a] = (lambda_min_particles(W + E, X_REF[:3], TANH, pi)[0]
                         - lambda_min_particles(W - E, X_REF[:3], TANH, pi)[0]) / (2 * h)
    return out


def test_particle_gradient_finite_difference_reference(benchmark):
    W, pi = _particles(m=100)     # 600 gradient evaluations already; m = 1000 would take ~10x longer
    fd = benchmark.pedantic(_finite_difference_gradient, args=(W, pi), rounds=1, iterations=1)
    assert np.max(np.abs(fd - lambda_min_particles(W, X_REF[:3], TANH, pi)[2])) <= 1e-10
