"""Benchmarks of the exact Rademacher complexity of Lemma 5.5 (theory/rademacher.py; docs/architecture.md#speed).

Run explicitly (the default test run disables benchmarks)::

    python -m pytest benchmarks/bench_rademacher.py -p no:cacheprovider --benchmark-enable

Groups
------
``lemma-5.5 case n=8 d=2 tanh M=1/2``
    One ci case of checks/lemma_5_5.py: :func:`theory.rademacher.rademacher` (2^(n-1) sign vectors
    thanks to sigma -> -sigma, all solved at once by a vectorised safeguarded Newton in log beta,
    odd-symmetry folding of the Gauss-Hermite rule, K -> 2K refinement) against a straightforward
    reference: a plain loop over all 2^n sign vectors, each with its own bracket and scipy brentq
    on KL(beta) = M, on the same K and 2K rules.  Both must agree within their refinement errors.
``lemma-5.5 case n=8 orthonormal tanh(z/0.1) M=5``
    The Hubbard-Stratonovich route of the probe's cases (no reference: the direct route would
    need a rank-8 rule).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.optimize import brentq

from checks.lemma_5_5 import build_inputs
from theory.activations import TANH, scaled
from theory.quadrature import theta_rule
from theory.rademacher import DEFAULT_K, rademacher, rademacher_orthonormal_odd

CASE = {"n": 8, "inputs": "lowrank", "d": 2, "act": {"base": "tanh", "c": 1.0, "s": 1.0}, "alpha": 1.0, "M": 0.5,
        "seed": 11}
GROUP_CASE = "lemma-5.5 case n=8 d=2 tanh M=1/2"
GROUP_HS = "lemma-5.5 case n=8 orthonormal tanh(z/0.1) M=5"


def _lse(a):
    m = a.max()
    return m + np.log(np.exp(a - m).sum())


def _reference_sup(lw, S2, M):
    """DV for one sign vector: bracket by doubling, brentq on KL(beta) = M, sup = beta E_pi S^2."""
    def kl_and_value(b):
        a = lw + 0.5 * b * b * S2
        lm = _lse(a)
        es2 = np.exp(a - lm) @ S2
        return b * b * es2 - lm, b * es2

    lo = hi = 1.0
    while kl_and_value(hi)[0] < M:
        hi *= 2.0
    while kl_and_value(lo)[0] > M:
        lo /= 2.0
    b = brentq(lambda x: kl_and_value(x)[0] - M, lo, hi, xtol=1e-14, rtol=1e-14)
    return kl_and_value(b)[1]


def reference_rademacher(X, act, alpha, M, K):
    """All 2^n sign vectors in a plain loop, at K and 2K nodes; returns (value(2K), |v(2K) - v(K)|)."""
    n = X.shape[0]
    out = {}
    for k in (K, 2 * K):
        rule = theta_rule(X, k)
        keep = rule.weights > 0
        H, lw = act.h(rule.z[keep]) * (alpha / n), np.log(rule.weights[keep])
        out[k] = np.mean([_reference_sup(lw, (H @ np.array(s)) ** 2, M)
                          for s in itertools.product((1.0, -1.0), repeat=n)])
    return out[2 * K], abs(out[2 * K] - out[K])


@pytest.fixture(scope="module", autouse=True)
def one_blas_thread():
    """Both sides on one BLAS thread: the products here are small, and on a shared 2-core machine
    extra BLAS threads only add contention (seen: the reference loop 2 s alone, 57 s under load)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover
        yield
        return
    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="module")
def X():
    return build_inputs(CASE)


@pytest.mark.benchmark(group=GROUP_CASE)
def test_case_vectorised(benchmark, X):
    r = benchmark.pedantic(rademacher, args=(X, TANH, 1.0, 0.5), rounds=5, iterations=1, warmup_rounds=1)
    assert r.converged and r.method == "enumerate-gh"


@pytest.mark.benchmark(group=GROUP_CASE)
def test_case_reference_loop(benchmark, X):
    # 64 and 128 nodes per dimension: the rules rademacher refines to for this case, so both sides
    # reach the same accuracy (a plain loop at 32/64 would be faster but 1e-5 less accurate)
    K = 2 * DEFAULT_K[2]
    value, err = benchmark.pedantic(reference_rademacher, args=(X, TANH, 1.0, 0.5, K), rounds=1, iterations=1)
    fast = rademacher(X, TANH, 1.0, 0.5)
    assert fast.value == pytest.approx(value, abs=fast.quad_error + err + 1e-12)


@pytest.mark.benchmark(group=GROUP_HS)
def test_case_orthonormal_hs(benchmark):
    r = benchmark.pedantic(rademacher_orthonormal_odd, args=(8, scaled(TANH, 1.0, 0.1), 1.0, 5.0), rounds=5,
                           iterations=1, warmup_rounds=1)
    assert r.converged
