"""The paper's constants and right-hand sides (docs/kernels.md#derived-constants-3.4, 4.2-4.9)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from theory import bounds
from theory.activations import TANH
from theory.data import unit_directions
from theory.errors import DomainError
from theory.kernels import kernel_constants

LAM = 0.005


@pytest.fixture(scope="module")
def example():
    """docs/kernels.md#reference-numbers: tanh, n = 4, d = 2, inputs at 0, 45, 90, 135 degrees."""
    return kernel_constants(unit_directions([0, 45, 90, 135]), TANH)


def test_math_3_4_constants(example):
    G, d = TANH.G, 2
    assert G == 2.0
    # docs/kernels.md#reference-numbers quotes 4-5 significant digits
    assert bounds.A1(G, d) == pytest.approx(25.856, abs=5e-4)
    assert bounds.A2(G, d) == pytest.approx(63.426, abs=5e-4)
    assert example.Lambda == pytest.approx(0.07377, abs=5e-6)
    assert example.lambda0 ** 2 == pytest.approx(0.01844, abs=5e-6)


def test_math_3_4_alpha_min(example):
    lam0 = example.lambda0
    P = bounds.P_min(lam0, 0.2988)
    assert P == pytest.approx(0.062, abs=5e-4)  # docs/claims.md#lemma-51: P_min = 0.062 (certified)
    assert bounds.radius_R(P, 2, lam0) == pytest.approx(0.2988, rel=1e-14)
    a_cert = bounds.alpha_min(P, TANH.G, 2, LAM, lam0)
    assert a_cert == pytest.approx(9.2e4, rel=5e-3)
    a_est = bounds.alpha_min_for_radius(0.1834, TANH.G, 2, LAM, lam0)
    assert a_est == pytest.approx(1.5e5, rel=5e-3)
    # at alpha_min the bias term A1 lam/(alpha lambda0^2) of Lemma 5.2 is "about 5-8e-5" in the reference
    # 3.4, a one-digit rounding of 4.67e-5 (estimated R_hat) and 7.61e-5 (certified R_hat)
    for a, quoted in ((a_cert, 7.61e-5), (a_est, 4.67e-5)):
        bias = bounds.lemma_5_2_rhs(1e9, a, lam0, LAM, TANH.G, 2)  # e^{-rate t} underflows to 0
        assert bias == pytest.approx(25.856406 * LAM / (a * lam0 ** 2), rel=1e-6)
        assert bias == pytest.approx(quoted, abs=5e-8)


def test_alpha_min_independent_formula(example):
    lam0, G, d = example.lambda0, 2.0, 2
    A1 = 2 * G * 3 + 4 * G * math.sqrt(3)
    A2 = 16 * G * math.sqrt(3) + 4 * G
    R = min(math.sqrt(3), lam0 ** 2 / 0.5)
    assert bounds.alpha_min(0.5, G, d, LAM, lam0) == pytest.approx(
        8 * math.sqrt(A2 ** 2 + LAM * A1 ** 2) / (lam0 ** 2 * R), rel=1e-14)


@pytest.mark.parametrize("P,G,d,lam,lambda0", [
    (0.06, 2.0, 2, 0.005, 0.1358), (1.0, 1.0, 1, 0.0, 0.3), (1e-3, 4.0, 10, 10.0, 0.05), (50.0, 0.5, 3, 1e-4, 0.9),
])
def test_equality_in_4_1_gives_R_squared_over_16(P, G, d, lam, lambda0):
    R = bounds.radius_R(P, d, lambda0)
    alpha = bounds.alpha_min(P, G, d, lam, lambda0)
    # docs/kernels.md#radius-and-alpha-threshold: at equality in (4.1), 4 (A2^2 + lam A1^2)/(alpha^2 lambda0^4) = R^2/16 exactly
    assert bounds.lemma_5_3_rhs(alpha, lambda0, lam, G, d) == pytest.approx(R ** 2 / 16, rel=1e-13)
    # and the chain W2 <= 2 sqrt(KL bound) equals R/2
    assert 2 * math.sqrt(bounds.lemma_5_3_rhs(alpha, lambda0, lam, G, d)) == pytest.approx(R / 2, rel=1e-13)


def test_radius_sqrt_branch():
    assert bounds.radius_R(1e-9, 3, 0.5) == 2.0


def test_lemma_5_2_forms():
    t = np.array([0.0, 0.5, 3.0])
    a, lam0, lam, G, d = 30.0, 0.1358, 0.005, 2.0, 2
    printed = bounds.lemma_5_2_rhs(t, a, lam0, lam, G, d)
    bias = bounds.A1(G, d) * lam / (a * lam0 ** 2)
    np.testing.assert_allclose(printed, np.exp(-a ** 2 * lam0 ** 2 * t) + bias, rtol=1e-15)
    sharp = bounds.lemma_5_2_rhs_sharp(t, a, lam0, lam, G, d, sqrt_L0=0.689)
    assert sharp[0] == pytest.approx(0.689, rel=1e-15)
    assert np.all(sharp <= printed)  # sqrt(L0) <= 1 makes the sharp form the smaller one
    assert isinstance(bounds.lemma_5_2_rhs(0.0, a, lam0, lam, G, d), float)


def test_theorem_4_4_is_lemma_5_2_squared_with_2a2_2b2():
    t = np.linspace(0, 2, 5)
    args = (40.0, 0.2, 0.01, 2.0, 3)
    a = np.exp(-args[0] ** 2 * args[1] ** 2 * t)
    b = bounds.lemma_5_2_rhs(t, *args) - a
    np.testing.assert_allclose(bounds.theorem_4_4_loss_rhs(t, *args), 2 * a ** 2 + 2 * b ** 2, rtol=1e-14)
    assert np.all(bounds.theorem_4_4_loss_rhs(t, *args) >= bounds.lemma_5_2_rhs(t, *args) ** 2)


def test_generalisation_bounds():
    assert bounds.lemma_5_5_rhs(1.0, 1.5, 0.3, 2) == pytest.approx(2 * 1.5 * math.sqrt(0.15), rel=1e-15)
    assert bounds.lemma_5_5_rhs(1.0, 1.5, 0.0, 2) == 0.0
    # docs/claims.md#lemma-56: alpha = 1, n = 1000, delta = 0.1: 6 sqrt(log(20)/2000) = 0.2322
    assert bounds.lemma_5_6_rhs(0.2, 0.0, 0.1, 1000) == pytest.approx(0.2 + 0.2322, abs=5e-5)
    assert bounds.lemma_5_6_rhs(0.0, 0.01, 0.1, 1000) == pytest.approx(0.04 + 0.2322, abs=5e-5)
    expected = (8 * 2 + 1) * math.sqrt(69.55 / 10) + 6 * math.sqrt(math.log(2 / 0.05) / 20)
    assert bounds.theorem_4_5_rhs(2.0, 69.55, 10, 0.05) == pytest.approx(expected, rel=1e-15)


@pytest.mark.parametrize("call,err,msg", [
    (lambda: bounds.A1(0.0, 2), DomainError, "G must be > 0"),
    (lambda: bounds.A2(1.0, 0), DomainError, "d must be >= 1"),
    (lambda: bounds.A1(1.0, 2.5), TypeError, "d must be an integer"),
    (lambda: bounds.radius_R(-1.0, 2, 0.1), DomainError, "P must be > 0"),
    (lambda: bounds.radius_R(1.0, 2, 0.0), DomainError, "lambda0 must be > 0"),
    (lambda: bounds.P_min(0.1, 0.0), DomainError, "R_hat must be > 0"),
    (lambda: bounds.alpha_min(1.0, 2.0, 2, -0.1, 0.1), DomainError, "lam must be >= 0"),
    (lambda: bounds.alpha_min_for_radius(0.0, 2.0, 2, 0.1, 0.1), DomainError, "R must be > 0"),
    (lambda: bounds.lemma_5_2_rhs(-1.0, 1.0, 0.1, 0.1, 2.0, 2), DomainError, "t must be >= 0"),
    (lambda: bounds.lemma_5_2_rhs(np.array([0.0, np.nan]), 1.0, 0.1, 0.1, 2.0, 2), Exception, "t must be finite"),
    (lambda: bounds.lemma_5_2_rhs(1.0, 0.0, 0.1, 0.1, 2.0, 2), DomainError, "alpha must be > 0"),
    (lambda: bounds.lemma_5_2_rhs_sharp(1.0, 1.0, 0.1, 0.1, 2.0, 2, -0.5), DomainError, "sqrt_L0 must be >= 0"),
    (lambda: bounds.lemma_5_3_rhs(1.0, -0.1, 0.1, 2.0, 2), DomainError, "lambda0 must be > 0"),
    (lambda: bounds.theorem_4_4_loss_rhs(1.0, 1.0, 0.1, float("nan"), 2.0, 2), Exception, "lam must be finite"),
    (lambda: bounds.lemma_5_5_rhs(1.0, 1.0, -0.1, 3), DomainError, "M must be >= 0"),
    (lambda: bounds.lemma_5_5_rhs(1.0, 1.0, 0.1, 0), DomainError, "n must be >= 1"),
    (lambda: bounds.lemma_5_6_rhs(0.1, 0.1, 1.0, 10), DomainError, r"delta must lie in \(0, 1\)"),
    (lambda: bounds.lemma_5_6_rhs(0.1, -0.1, 0.5, 10), DomainError, "rademacher must be >= 0"),
    (lambda: bounds.theorem_4_5_rhs(1.0, -1.0, 10, 0.1), DomainError, "Dbar must be >= 0"),
    (lambda: bounds.theorem_4_5_rhs(1.0, 1.0, 10, "0.1"), TypeError, "delta must be a real number"),
    (lambda: bounds.lemma_5_3_rhs(1e-200, 1e-100, 0.1, 2.0, 2), DomainError, r"alpha = 1e-200, lambda0 = 1e-100.*outside the representable range"),
    (lambda: bounds.lemma_5_2_rhs(0.0, 1e200, 1e200, 0.1, 2.0, 2), DomainError, r"alpha = 1e\+200, lambda0 = 1e\+200.*outside the representable range"),
])
def test_validation(call, err, msg):
    with pytest.raises(err, match=msg):
        call()
