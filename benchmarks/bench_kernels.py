"""Benchmarks of the exact Gram matrix at p0 and of Lambda = lambda_min(H(p0)) (issue 12, item 1).

Run explicitly (the default test run disables benchmarks)::

    python -m pytest benchmarks/bench_kernels.py -p no:cacheprovider -n 0 --benchmark-enable

One thread (BLAS and numba pinned before numpy loads), float64, tanh, d = 10, inputs on the unit
ball (|x| in [0.5, 1]).  ``extra_info`` holds the tracemalloc peak (bytes) of one call and the
estimated error the call reports; benchmarks/gram_scaling.py prints the same comparison as a table
over n = 25..400 and benchmarks/plot_gram_scaling.py draws it.

Groups
------
``gram-p0 n=N d=10 tanh`` (N = 25, 50, 100)
    :func:`theory.kernels.gram_p0` by its default route (Hermite / Mehler series) against the
    straightforward route it replaces: the 2-D tensor Gauss-Hermite rule per pair
    (``method="gh"``, K = 80: levels 40, 80, 160).  The two must agree within their estimates.
``gram-p0 textbook n=20``
    The 2-D rule against a plain double loop over pairs, each integrated by its own K x K rule
    (the textbook recipe), at the same K: the pair vectorisation alone.
``lambda-min n=100``
    ``numpy.linalg.eigvalsh`` (all eigenvalues) against ``scipy.linalg.eigh`` with
    ``subset_by_index=[0, 0]`` (the smallest one only).
"""

from __future__ import annotations

import os

for _var in ("NUMBA_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import tracemalloc  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import scipy.linalg  # noqa: E402

from theory.activations import TANH  # noqa: E402
from theory.data import sphere_inputs  # noqa: E402
from theory.kernels import _value_and_slope, gram_p0  # noqa: E402
from theory.quadrature import hermite_rule  # noqa: E402

D, K = 10, 80
SIZES = (25, 50, 100)
GROUP_EIG = "lambda-min n=100"
GROUP_TEXTBOOK = "gram-p0 textbook n=20"


def inputs(n: int) -> np.ndarray:
    """The benchmark's inputs: n points of the unit ball in R^10 with |x| >= 0.5 (seed 0)."""
    return sphere_inputs(n, D, np.random.default_rng(0), r_min=0.5)


def peak_bytes(fn, *args, **kwargs) -> int:
    """tracemalloc peak of one call (numpy reports its buffers to tracemalloc)."""
    tracemalloc.start()
    try:
        fn(*args, **kwargs)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _record(benchmark, fn, *args, **kwargs):
    result = fn(*args, **kwargs)  # warm-up (numba cache load, rule caches) outside the timing
    benchmark.extra_info["peak_bytes"] = peak_bytes(fn, *args, **kwargs)
    benchmark.extra_info["quad_error"] = float(result.quad_error)
    return result


@pytest.mark.parametrize("n", SIZES)
def test_gram_p0_series(benchmark, n):
    benchmark.group = f"gram-p0 n={n} d={D} tanh"
    X = inputs(n)
    _record(benchmark, gram_p0, X, TANH)
    g = benchmark.pedantic(gram_p0, args=(X, TANH), rounds=5, iterations=1, warmup_rounds=1)
    assert g.method.startswith("series") and g.quad_error <= 1e-12


@pytest.mark.parametrize("n", SIZES)
def test_gram_p0_two_dimensional_rule(benchmark, n):
    benchmark.group = f"gram-p0 n={n} d={D} tanh"
    X = inputs(n)
    _record(benchmark, gram_p0, X, TANH, K=K, method="gh")
    g = benchmark.pedantic(gram_p0, args=(X, TANH), kwargs=dict(K=K, method="gh"), rounds=1, iterations=1)
    s = gram_p0(X, TANH)
    # two routes to the same integrals: each within its estimated error of the limit
    assert np.all(np.abs(g.H - s.H) <= g.entry_error + s.entry_error + 1e-15)


def _pair_gh(xi, xj, act, K):
    """E[h(z_i)h(z_j)] and (x_i.x_j) E[h'(z_i)h'(z_j)] for one pair: the textbook K x K recipe."""
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
    """Double loop over pairs at K // 2, K and 2K (the levels of method="gh"); returns the 2K (H1, H2)."""
    n = X.shape[0]
    out = {}
    for k in (K // 2, K, 2 * K):
        H1, H2 = np.empty((n, n)), np.empty((n, n))
        for i in range(n):
            for j in range(i, n):
                H2[i, j], H1[i, j] = _pair_gh(X[i], X[j], act, k)
                H2[j, i], H1[j, i] = H2[i, j], H1[i, j]
        out[k] = (H1, H2)
    return out[2 * K]


@pytest.mark.benchmark(group=GROUP_TEXTBOOK)
def test_gram_p0_textbook_double_loop(benchmark):
    X = inputs(20)
    H1, H2 = benchmark.pedantic(reference_gram_p0, args=(X, TANH, K), rounds=1, iterations=1)
    g = gram_p0(X, TANH, K=K, method="gh")
    # same rule, sums in another order (and b - c^2/a vs the residual norm): rounding
    assert np.max(np.abs(H1 - g.H1)) <= 1e-12 and np.max(np.abs(H2 - g.H2)) <= 1e-12


@pytest.mark.benchmark(group=GROUP_TEXTBOOK)
def test_gram_p0_two_dimensional_rule_n20(benchmark):
    X = inputs(20)
    benchmark.pedantic(gram_p0, args=(X, TANH), kwargs=dict(K=K, method="gh"), rounds=1, iterations=1)


@pytest.fixture(scope="module")
def H():
    return gram_p0(inputs(100), TANH).H


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
