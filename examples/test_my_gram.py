"""Regression test of my own NTK Gram implementation (Monte Carlo) against gntk-checks' oracle.

``theory.kernels.gram_p0`` computes H1, H2 of the paper's (3.6) at p0 = N(0, I) to about 1e-12
and reports its error; my estimate averages over M draws of theta ~ N(0, I_d):
H2_ij = E[h(z_i) h(z_j)], H1_ij = (x_i . x_j) E[h'(z_i) h'(z_j)], z = X theta (E u^2 = 1 under p0).
Run:  pytest test_my_gram.py
"""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from checks.strategies import activation_specs, build_activation, build_dataset, dataset_cases
from theory.kernels import gram_p0

#: Standard errors a Monte Carlo entry may stray: P(|N(0,1)| > 5) = 6e-7 per entry, so a false
#: alarm is rare over all the entries this test draws; a wrong formula is off by many more.
Z = 5.0


def my_gram(X, act, M, rng):
    """My implementation: Monte Carlo estimates of H1, H2 and their entry-wise standard errors."""
    Zs = rng.standard_normal((M, X.shape[1])) @ X.T            # (M, n): z_i = theta . x_i
    h, dh = act.h(Zs), act.d1(Zs)
    p2 = h[:, :, None] * h[:, None, :]                         # (M, n, n) products per draw
    p1 = (X @ X.T)[None] * dh[:, :, None] * dh[:, None, :]
    se = lambda p: p.std(axis=0, ddof=1) / np.sqrt(M)          # noqa: E731
    return p1.mean(axis=0), p2.mean(axis=0), se(p1), se(p2)


@settings(max_examples=10, deadline=None, derandomize=True, database=None)
@given(dataset_cases(n=(2, 4), d=(1, 3)), activation_specs(), st.integers(0, 2 ** 32 - 1))
def test_my_gram_matches_the_oracle(data, spec, seed):
    X, _ = build_dataset(data)
    act = build_activation(spec)
    oracle = gram_p0(X, act)
    H1, H2, se1, se2 = my_gram(X, act, 20_000, np.random.default_rng(seed))
    assert np.all(np.abs(H1 - oracle.H1) <= Z * se1 + oracle.quad_error), (H1, oracle.H1, se1)
    assert np.all(np.abs(H2 - oracle.H2) <= Z * se2 + oracle.quad_error), (H2, oracle.H2, se2)


def test_a_wrong_gram_is_caught():
    """Power: dropping the (x_i . x_j) factor of H1, a plausible bug, is detected."""
    X, _ = build_dataset({"n": 3, "d": 2, "seed": 1, "labels": "continuous", "r_min": 0.5,
                          "min_angle_deg": 15.0})
    act = build_activation({"base": "tanh", "c": 1.0, "s": 1.0})
    oracle = gram_p0(X, act)
    H1, _, se1, _ = my_gram(X, act, 20_000, np.random.default_rng(0))
    wrong = H1 / (X @ X.T)
    assert np.any(np.abs(wrong - oracle.H1) > Z * se1 / np.abs(X @ X.T) + oracle.quad_error)
