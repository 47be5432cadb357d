"""The paper's constants and right-hand sides (docs/kernels.md#derived-constants, 3.3, 4.2-4.9).

Every function validates its arguments, cites its equation, and never returns NaN: an overflow to
infinity or NaN raises :class:`~theory.errors.DomainError`.  Time arguments ``t`` may be arrays
(``t >= 0``); the result then has the shape of ``t``.

Notation (docs/architecture.md#house-style): ``G`` the constant of Assumption 4.2 (``G1`` where docs/errata.md#e18 says so),
``d`` the input dimension (``k = d + 1`` parameters per neuron), ``lam`` the entropy weight
lambda, ``lambda0 = sqrt(Lambda / n)``, ``P`` the unspecified polynomial of the radius R.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from ._validation import as_float_array, guard_numerics, check_int, check_nonnegative, check_positive, check_probability
from .errors import DomainError

__all__ = [
    "A1",
    "A2",
    "radius_R",
    "P_min",
    "alpha_min_for_radius",
    "alpha_min",
    "lemma_5_2_rhs",
    "lemma_5_2_rhs_sharp",
    "lemma_5_3_rhs",
    "theorem_4_4_loss_rhs",
    "lemma_5_5_rhs",
    "lemma_5_6_rhs",
    "theorem_4_5_rhs",
]


def _finite(name: str, value):
    """Return ``value`` (float, or array unchanged) or raise if any entry is NaN or infinite."""
    arr = np.asarray(value, dtype=np.float64)
    if not np.all(np.isfinite(arr)):
        raise DomainError(f"{name} overflowed to {arr.ravel()[~np.isfinite(arr.ravel())][0]!r}; "
                          f"the arguments are outside the representable range")
    return float(arr) if arr.ndim == 0 else arr


def _guarded(func):
    """Run ``func`` with float overflow turned into :class:`DomainError` naming its arguments and a
    finite-result check (:func:`theory._validation.guard_numerics`): never a silent inf or NaN."""
    return guard_numerics(func)


def _check_t(t):
    arr = as_float_array("t", t)
    if np.any(arr < 0):
        raise DomainError(f"t must be >= 0, got minimum {arr.min()!r}")
    return arr


@_guarded
def A1(G: float, d: int) -> float:
    """``A1 = 2G(d+1) + 4G sqrt(d+1)`` (docs/kernels.md#derived-constants; bounds max_i |b_i(p)| of Lemma 5.2)."""
    G = check_positive("G", G)
    k = check_int("d", d) + 1
    return _finite("A1", 2.0 * G * k + 4.0 * G * math.sqrt(k))


@_guarded
def A2(G: float, d: int) -> float:
    """``A2 = 16 G sqrt(d+1) + 4G`` (docs/kernels.md#derived-constants; enters Lemma 5.3)."""
    G = check_positive("G", G)
    k = check_int("d", d) + 1
    return _finite("A2", 16.0 * G * math.sqrt(k) + 4.0 * G)


@_guarded
def radius_R(P: float, d: int, lambda0: float) -> float:
    """``R = min{sqrt(d+1), lambda0^2 / P}`` (docs/kernels.md#radius-and-alpha-threshold, Lemma 5.1, with the unspecified poly P)."""
    P = check_positive("P", P)
    k = check_int("d", d) + 1
    lambda0 = check_positive("lambda0", lambda0)
    return _finite("R", min(math.sqrt(k), lambda0 ** 2 / P))


@_guarded
def P_min(lambda0: float, R_hat: float) -> float:
    """``P_min = lambda0^2 / R_hat``: the least P consistent with a radius R_hat (docs/kernels.md#radius-and-alpha-threshold item 2)."""
    lambda0 = check_positive("lambda0", lambda0)
    R_hat = check_positive("R_hat", R_hat)
    return _finite("P_min", lambda0 ** 2 / R_hat)


@_guarded
def alpha_min_for_radius(R: float, G: float, d: int, lam: float, lambda0: float) -> float:
    """``8 sqrt(A2^2 + lam A1^2) / (lambda0^2 R)``: the threshold (4.1) for a given radius R."""
    R = check_positive("R", R)
    lam = check_nonnegative("lam", lam)
    lambda0 = check_positive("lambda0", lambda0)
    a1, a2 = A1(G, d), A2(G, d)
    return _finite("alpha_min", 8.0 * math.sqrt(a2 ** 2 + lam * a1 ** 2) / (lambda0 ** 2 * R))


@_guarded
def alpha_min(P: float, G: float, d: int, lam: float, lambda0: float) -> float:
    """``alpha_min(P) = 8 sqrt(A2^2 + lam A1^2) / (lambda0^2 R(P))``, condition (4.1) (docs/kernels.md#radius-and-alpha-threshold).

    At equality the Lemma 5.3 bound equals R^2/16 exactly (so ``2 sqrt(KL) <= R/2``).
    """
    return alpha_min_for_radius(radius_R(P, d, lambda0), G, d, lam, lambda0)


def _bias(alpha, lambda0, lam, G, d) -> float:
    """``A1 lam / (alpha lambda0^2)``, the bias term of Lemma 5.2."""
    alpha = check_positive("alpha", alpha)
    lambda0 = check_positive("lambda0", lambda0)
    lam = check_nonnegative("lam", lam)
    return _finite("bias", A1(G, d) * lam / (alpha * lambda0 ** 2))


def _rate(alpha, lambda0) -> float:
    """``alpha^2 lambda0^2``, the exponential rate of Lemma 5.2."""
    alpha = check_positive("alpha", alpha)
    lambda0 = check_positive("lambda0", lambda0)
    return _finite("alpha^2 lambda0^2", alpha ** 2 * lambda0 ** 2)


@_guarded
def lemma_5_2_rhs(t, alpha: float, lambda0: float, lam: float, G: float, d: int):
    """Lemma 5.2 as printed: ``sqrt(L(p_t)) <= exp(-alpha^2 lambda0^2 t) + A1 lam / (alpha lambda0^2)``.

    docs/claims.md#lemma-52.  ``t`` is a scalar or an array of times >= 0.
    """
    t = _check_t(t)
    return _finite("lemma_5_2_rhs", np.exp(-_rate(alpha, lambda0) * t) + _bias(alpha, lambda0, lam, G, d))


@_guarded
def lemma_5_2_rhs_sharp(t, alpha: float, lambda0: float, lam: float, G: float, d: int, sqrt_L0: float):
    """The stronger form of Lemma 5.2 that its proof gives (docs/claims.md#lemma-52, proof mechanism):

    ``sqrt(L_t) <= e^{-alpha^2 lambda0^2 t} sqrt(L(p0)) + (1 - e^{-alpha^2 lambda0^2 t}) A1 lam/(alpha lambda0^2)``.

    ``sqrt_L0 = sqrt(L(p0)) >= 0``; with ``sqrt_L0 <= 1`` it never exceeds :func:`lemma_5_2_rhs`.
    """
    t = _check_t(t)
    sqrt_L0 = check_nonnegative("sqrt_L0", sqrt_L0)
    decay = np.exp(-_rate(alpha, lambda0) * t)
    return _finite("lemma_5_2_rhs_sharp", decay * sqrt_L0 + (1.0 - decay) * _bias(alpha, lambda0, lam, G, d))


@_guarded
def lemma_5_3_rhs(alpha: float, lambda0: float, lam: float, G: float, d: int) -> float:
    """Lemma 5.3: ``KL(p_t || p0) <= 4 A2^2 / (alpha^2 lambda0^4) + 4 A1^2 lam / (alpha^2 lambda0^4)`` (docs/claims.md#lemma-53)."""
    alpha = check_positive("alpha", alpha)
    lambda0 = check_positive("lambda0", lambda0)
    lam = check_nonnegative("lam", lam)
    a1, a2 = A1(G, d), A2(G, d)
    return _finite("lemma_5_3_rhs", 4.0 * (a2 ** 2 + lam * a1 ** 2) / (alpha ** 2 * lambda0 ** 4))


@_guarded
def theorem_4_4_loss_rhs(t, alpha: float, lambda0: float, lam: float, G: float, d: int):
    """Theorem 4.4: ``L(p_t) <= 2 exp(-2 alpha^2 lambda0^2 t) + 2 A1^2 lam^2 / (alpha^2 lambda0^4)`` (docs/claims.md#theorem-44).

    It is Lemma 5.2 squared with ``(a + b)^2 <= 2a^2 + 2b^2``.
    """
    t = _check_t(t)
    bias = _bias(alpha, lambda0, lam, G, d)
    return _finite("theorem_4_4_loss_rhs", 2.0 * np.exp(-2.0 * _rate(alpha, lambda0) * t) + 2.0 * bias ** 2)


@_guarded
def lemma_5_5_rhs(G: float, alpha: float, M: float, n: int) -> float:
    """Lemma 5.5: ``R_n(F_KL(M)) <= 2 G alpha sqrt(M / n)`` (docs/claims.md#lemma-55; premise M <= 1/2 not checked here).

    ``G`` bounds |h| (G1 suffices, docs/errata.md#e18); ``M >= 0`` is the KL radius.
    """
    G = check_positive("G", G)
    alpha = check_positive("alpha", alpha)
    M = check_nonnegative("M", M)
    n = check_int("n", n)
    return _finite("lemma_5_5_rhs", 2.0 * G * alpha * math.sqrt(M / n))


def _confidence_term(delta: float, n: int) -> float:
    """``sqrt(log(2/delta) / (2n))``, the McDiarmid term of Lemma 5.6 and Theorem 4.5."""
    delta = check_probability("delta", delta)
    n = check_int("n", n)
    return math.sqrt(math.log(2.0 / delta) / (2.0 * n))


@_guarded
def lemma_5_6_rhs(sqrt_loss: float, rademacher: float, delta: float, n: int) -> float:
    """Lemma 5.6: ``sqrt(E_S |f - y|^2) + 4 R_n + 6 sqrt(log(2/delta) / (2n))`` (docs/claims.md#lemma-56).

    ``sqrt_loss >= 0`` is the empirical root-mean-square error, ``rademacher >= 0`` the complexity.
    """
    sqrt_loss = check_nonnegative("sqrt_loss", sqrt_loss)
    rademacher = check_nonnegative("rademacher", rademacher)
    return _finite("lemma_5_6_rhs", sqrt_loss + 4.0 * rademacher + 6.0 * _confidence_term(delta, n))


@_guarded
def theorem_4_5_rhs(G: float, Dbar: float, n: int, delta: float) -> float:
    """Theorem 4.5: ``(8G + 1) sqrt(Dbar / n) + 6 sqrt(log(2/delta) / (2n))`` (docs/claims.md#theorem-45).

    ``Dbar = chi^2(p_true || p0) >= 0``.
    """
    G = check_positive("G", G)
    Dbar = check_nonnegative("Dbar", Dbar)
    n = check_int("n", n)
    return _finite("theorem_4_5_rhs", (8.0 * G + 1.0) * math.sqrt(Dbar / n) + 6.0 * _confidence_term(delta, n))
