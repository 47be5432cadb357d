"""Benchmarks of the exact Gram matrix at p0 and of Lambda = lambda_min(H(p0)) (DESIGN 6).

Run explicitly (the default test run disables benchmarks)::

    python -m pytest benchmarks/bench_kernels.py -p no:cacheprovider --benchmark-enable

Groups
------
``gram-p0 n=100 d=10 tanh K=80``
    :func:`theory.kernels.gram_p0` (all pairs at once, in chunks) against a straightforward
    reference: a double loop over pairs i <= j, each integrated by its own K x K Gauss-Hermite
    rule.  Both evaluate at K and 2K, as gram_p0 does, and must agree.
``lambda-min n=100``
    ``numpy.linalg.eigvalsh`` (all eigenvalues) against ``scipy.linalg.eigh`` with
    ``subset_by_index=[0, 0]`` (the smallest one only).
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg

from theory.activations import TANH
from theory.data import sphere_inputs
from theory.kernels import _value_and_slope, gram_p0
from theory.quadrature import hermite_rule

N, D, K = 100, 10, 80
GROUP_GRAM = f"gram-p0 n={N} d={D} tanh K={K}"
GROUP_EIG = f"lambda-min n={N}"


@pytest.fixture(scope="module")
def X():
    return sphere_inputs(N, D, np.random.default_rng(0), r_min=0.5)


def _pair_gh(xi, xj, act, K):
    """E[h(z_i)h(z_j)] and (x_i.x_j) E[h'(z_i)h'(z_j)] for one pair: textbook MATH 2.2 recipe."""
    g, w = hermite_rule(K)
    g1, g2 = np.meshgrid(g, g, indexing="ij")
    ww = np.outer(w, w)
    a, b, c = xi @ xi, xj @ xj, xi @ xj
    if a > 0:
        zi, zj = np.sqrt(a) * g1, (c / np.sqrt(a)) * g1 + np.sqrt(max(b - c * c / a, 0.0)) * g2
    else:
        zi, zj = np.zeros_like(g1), np.sqrt(b) * g2
    # same activation primitive as gram_p0, so the comparison measures the pair vectorisation only
    hi, hi1 = _value_and_slope(act, zi)
    hj, hj1 = _value_and_slope(act, zj)
    return np.sum(ww * hi * hj), c * np.sum(ww * hi1 * hj1)


def reference_gram_p0(X, act, K):
    """Double loop over pairs at K and 2K; returns (H1, H2, max |H(2K) - H(K)|)."""
    n = X.shape[0]
    out = {}
    for k in (K, 2 * K):
        H1, H2 = np.empty((n, n)), np.empty((n, n))
        for i in range(n):
            for j in range(i, n):
                H2[i, j], H1[i, j] = _pair_gh(X[i], X[j], act, k)
                H2[j, i], H1[j, i] = H2[i, j], H1[i, j]
        out[k] = (H1, H2)
    err = np.max(np.abs(sum(out[2 * K]) - sum(out[K])))
    return out[2 * K][0], out[2 * K][1], err


@pytest.fixture(scope="module")
def exact(X):
    """gram_p0 computed once for the comparisons (outside the timed calls)."""
    return gram_p0(X, TANH, K)


@pytest.mark.benchmark(group=GROUP_GRAM)
def test_gram_p0_vectorised(benchmark, X):
    g = benchmark.pedantic(gram_p0, args=(X, TANH, K), rounds=2, iterations=1, warmup_rounds=0)
    assert g.quad_error < 1e-6


@pytest.mark.benchmark(group=GROUP_GRAM)
def test_gram_p0_reference_double_loop(benchmark, X, exact):
    H1, H2, err = benchmark.pedantic(reference_gram_p0, args=(X, TANH, K), rounds=2, iterations=1,
                                     warmup_rounds=0)
    g = exact
    # same rule, different arrangement of the sums (and b - c^2/a vs the residual norm): rounding
    assert np.max(np.abs(H1 - g.H1)) <= 1e-12 and np.max(np.abs(H2 - g.H2)) <= 1e-12
    assert abs(err - g.quad_error) <= 1e-12


@pytest.fixture(scope="module")
def H(exact):
    return exact.H


@pytest.mark.benchmark(group=GROUP_EIG)
def test_lambda_min_eigvalsh(benchmark, H):
    lam = benchmark.pedantic(lambda: np.linalg.eigvalsh(H)[0], rounds=50, iterations=1, warmup_rounds=2)
    assert lam > 0


@pytest.mark.benchmark(group=GROUP_EIG)
def test_lambda_min_scipy_subset(benchmark, H):
    lam = benchmark.pedantic(
        lambda: scipy.linalg.eigh(H, eigvals_only=True, subset_by_index=[0, 0])[0],
        rounds=50, iterations=1, warmup_rounds=2)
    # both are backward-stable symmetric solvers: agreement to a few eps * ||H||
    assert abs(lam - np.linalg.eigvalsh(H)[0]) <= 1e-12 * np.linalg.norm(H, 2)
