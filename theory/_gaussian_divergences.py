"""Gaussian KL, W2 and chi^2 in closed form, accurate near equality (re-exported by theory.divergences).

* ``KL(N(m1,S1)||N(m2,S2))`` and ``W2(N(m1,S1), N(m2,S2))`` formed from the covariance difference
  (relative eigenvalues with a log1p series; the Bures term as the sum of squares
  ``||X S2^{-1/2}||_F^2``), so both stay accurate when the two Gaussians almost agree, where the
  textbook trace formulas cancel (docs/claims.md#lemma-54);
* their forms against p0 = N(0, I) through the eigenvalues of Sigma, and ``chi^2(N(m,S)||p0)``;
* the certified lower bounds from exact moments: ``KL(p||p0) >= KL(N_p||p0)`` (moment matching)
  and ``W2(p,p0) >= W2(N_p,p0)`` (Gelbrich 1990, Math. Nachr. 147).
"""

from __future__ import annotations

import math

import numpy as np

from ._validation import check_matrix, check_vector
from .errors import DomainError, ShapeError

__all__ = [
    "kl_gaussian", "kl_gaussian_p0", "w2_squared_gaussian", "w2_gaussian", "w2_squared_gaussian_p0",
    "w2_gaussian_p0", "chi2_gaussian_p0", "kl_lower_bound_moments", "w2_lower_bound_gelbrich",
]

#: Relative asymmetry of a covariance accepted as rounding noise (products like A A^T).
_SYM_RTOL = 1e-10
#: Eigenvalues of a PSD covariance down to -_PSD_RTOL * largest are rounding noise, clipped to 0.
_PSD_RTOL = 1e-12
_EPS = float(np.finfo(np.float64).eps)


def _mean_cov(mean, cov, names: Tuple[str, str], psd: bool = False):
    """Validated ``(m (k,), S (k,k) symmetrised, eigenvalues (k,), eigenvectors (k,k))``."""
    m = check_vector(names[0], mean)
    S = check_matrix(names[1], cov, rows=m.size, cols=m.size)
    scale = max(1.0, float(np.max(np.abs(S))))
    asym = float(np.max(np.abs(S - S.T)))
    if asym > _SYM_RTOL * scale:
        raise DomainError(f"{names[1]} must be symmetric, got max |S - S^T| = {asym:.3g}")
    S = 0.5 * (S + S.T)
    e, V = np.linalg.eigh(S)
    if psd:
        if e[0] < -_PSD_RTOL * max(1.0, e[-1]):
            raise DomainError(f"{names[1]} must be positive semi-definite, smallest eigenvalue {e[0]:.6g}")
        e = np.clip(e, 0.0, None)
    elif e[0] <= 0.0:
        raise DomainError(f"{names[1]} must be positive definite, smallest eigenvalue {e[0]:.6g}")
    return m, S, e, V


def _psd_sqrt(e: np.ndarray, V: np.ndarray) -> np.ndarray:
    """Symmetric square root from an eigendecomposition (eigenvalues already >= 0)."""
    return (V * np.sqrt(e)) @ V.T


#: Coefficients 1/(2j + 3), j = 0..11, of the atanh series used by _x_minus_log1p (Horner order).
_ATANH_COEFS = 1.0 / (2.0 * np.arange(11, -1, -1) + 3.0)


def _x_minus_log1p(x: np.ndarray, e: np.ndarray) -> np.ndarray:
    """``e - 1 - log e`` (>= 0) for eigenvalue ratios ``e = 1 + x``, to full relative accuracy.

    Near e = 1 the direct difference loses ``eps |x| / (x^2/2)`` relative (2e-7 at x = 1e-9).  Inside
    |x| < 1/4, with ``u = x / (2 + x)`` and ``log1p(x) = 2 atanh(u)``, it equals
    ``x^2 / (2 + x) - 2 u^3 (1/3 + u^2/5 + ...)``: the second term is below 4% of the first (no
    cancellation), and 12 terms in ``u^2 <= 0.021`` truncate below 1e-20 relative.  Outside,
    ``x - log(e)`` with the separately computed ``e``: ``log1p(x)`` would meet x = -1 exactly for e
    below eps.
    """
    x = np.asarray(x, dtype=np.float64)
    e = np.asarray(e, dtype=np.float64)
    small = np.abs(x) < 0.25
    xs = np.where(small, x, 0.0)
    u = xs / (2.0 + xs)
    v = u * u
    series = np.zeros_like(v)
    for c in _ATANH_COEFS:
        series = series * v + c
    near = xs * xs / (2.0 + xs) - 2.0 * u * v * series
    with np.errstate(divide="ignore", invalid="ignore"):
        far = x - np.log(np.where(small, 1.0, e))
    return np.where(small, near, np.maximum(far, 0.0))


def _finite(value: float, what: str, **inputs) -> float:
    """``value`` when finite; else a DomainError naming the inputs and their largest entries.

    Inputs are bounded by MAX_ABS, so overflow can only come from an extreme ratio of scales
    (a covariance of 1e-300 against one of 1e150); the answer then does not fit in a float.
    """
    if math.isfinite(value):
        return value
    sizes = ", ".join(f"{k} up to {float(np.max(np.abs(v))):.3g}" for k, v in inputs.items())
    raise DomainError(f"{what} overflows float64 for these inputs ({sizes})")


def _relative_eigenvalues(S1: np.ndarray, S2: np.ndarray, e2: np.ndarray, V2: np.ndarray) -> np.ndarray:
    """Eigenvalues of ``S2^{-1/2} S1 S2^{-1/2} - I`` formed from the difference ``S1 - S2``.

    Forming the difference first keeps them accurate relative to their own size when S1 ~ S2
    (the eigenvalues of ``S2^{-1/2} S1 S2^{-1/2}`` minus 1 would lose everything below eps).
    """
    r = 1.0 / np.sqrt(e2)
    W = (V2.T @ (S1 - S2) @ V2) * r[:, None] * r[None, :]
    return np.linalg.eigvalsh(0.5 * (W + W.T))


def kl_gaussian(m1, S1, m2, S2) -> float:
    """``KL(N(m1,S1) || N(m2,S2))`` in closed form, accurate near equality.

    ``2 KL = (m2-m1)^T S2^{-1} (m2-m1) + sum_i (x_i - log1p(x_i))`` with ``x_i`` the eigenvalues of
    ``S2^{-1/2} (S1 - S2) S2^{-1/2}``: the same value as ``tr(S2^{-1} S1) - k + log det S2 - log det S1``
    but free of its cancellation, so a KL of 1e-18 is not returned as 1e-16 of rounding
    (see docs/claims.md#lemma-54).  ``m1, m2`` have shape (k,), ``S1, S2`` (k, k) symmetric positive
    definite.
    """
    m1, S1, _, _ = _mean_cov(m1, S1, ("m1", "S1"))
    m2, S2, e2, V2 = _mean_cov(m2, S2, ("m2", "S2"))
    if m2.size != m1.size:
        raise ShapeError(f"m2 must have length {m1.size} like m1, got shape {m2.shape}")
    x = _relative_eigenvalues(S1, S2, e2, V2)
    # The ratios themselves, for the terms far from 1 (where e ~ 1e-300 must not become 1 + x = 0).
    r = 1.0 / np.sqrt(e2)
    W = (V2.T @ S1 @ V2) * r[:, None] * r[None, :]
    e = np.linalg.eigvalsh(0.5 * (W + W.T))
    if e[0] <= 0.0:
        raise DomainError(f"S1 must be positive definite relative to S2, got a relative eigenvalue {e[0]:.3g}")
    maha = float(np.sum((V2.T @ (m2 - m1)) ** 2 / e2))
    return _finite(0.5 * (maha + float(np.sum(_x_minus_log1p(x, e)))), "KL", m1=m1, S1=S1, m2=m2, S2=S2)


def kl_gaussian_p0(m, S) -> float:
    """``KL(N(m,S) || N(0,I))`` through the eigenvalues e_i of S.

    ``2 KL = |m|^2 + sum_i (e_i - 1 - log e_i)``; each term is ``x - log1p(x)``, ``x = e_i - 1``,
    by :func:`_x_minus_log1p`, accurate (and >= 0) for e_i near 1.
    """
    m, _, e, _ = _mean_cov(m, S, ("m", "S"))
    return _finite(0.5 * (float(m @ m) + float(np.sum(_x_minus_log1p(e - 1.0, e)))), "KL", m=m, S=S)


def _bures_trace(S1: np.ndarray, S2: np.ndarray, e2: np.ndarray, V2: np.ndarray) -> float:
    """``tr(S1 + S2 - 2 (S2^{1/2} S1 S2^{1/2})^{1/2})`` directly (for a singular S2 only)."""
    r2 = _psd_sqrt(e2, V2)
    C = r2 @ S1 @ r2
    cross = float(np.sum(np.sqrt(np.clip(np.linalg.eigvalsh(0.5 * (C + C.T)), 0.0, None))))
    # >= 0; cancellation in the trace can leave -1e-15 when S1 ~ S2.
    return max(0.0, float(np.trace(S1) + np.trace(S2)) - 2.0 * cross)


#: Newton steps refining X = R - S2 below; each squares the relative error of the starting
#: eigh square root (about 1e-16 |S2| / |X|), so 4 steps reach rounding even when |X| ~ 1e-12 |S2|.
_BURES_NEWTON_STEPS = 4


def _bures_difference(S1: np.ndarray, S2: np.ndarray, e2: np.ndarray, V2: np.ndarray) -> float:
    """The Bures term ``tr(S1 + S2 - 2 R)``, ``R = (S2^{1/2} S1 S2^{1/2})^{1/2}``, for S2 positive definite.

    With ``A = S2^{1/2}`` and ``X = R - S2`` (symmetric), the optimal map from N(0, S2) to N(0, S1)
    is ``T = I + A^{-1} X A^{-1}``, so the term equals ``E|T z - z|^2 = ||X A^{-1}||_F^2``: a sum of
    squares, with no cancellation.  X solves ``S2 X + X S2 + X^2 = A (S1 - S2) A`` (the right side
    formed from the difference); it starts from the eigh square root and is refined by Newton steps
    ``(S2 + X) E + E (S2 + X) = -residual`` solved in the eigenbasis of ``S2 + X``.
    """
    sq = np.sqrt(e2)
    A = (V2 * sq) @ V2.T
    D = A @ (S1 - S2) @ A
    D = 0.5 * (D + D.T)
    C = A @ S1 @ A
    ec, Vc = np.linalg.eigh(0.5 * (C + C.T))
    X = (Vc * np.sqrt(np.clip(ec, 0.0, None))) @ Vc.T - S2
    for _ in range(_BURES_NEWTON_STEPS):
        F = S2 @ X + X @ S2 + X @ X - D
        F = 0.5 * (F + F.T)
        lm, Vm = np.linalg.eigh(S2 + 0.5 * (X + X.T))
        denom = lm[:, None] + lm[None, :]
        if np.any(denom <= 0.0):
            break  # R is singular: the eigh start is the best available
        step = Vm @ ((Vm.T @ F @ Vm) / denom) @ Vm.T
        X = X - step
        X = 0.5 * (X + X.T)  # X = R - S2 is symmetric; the eigh start is so only to rounding
        if np.max(np.abs(step)) <= 4.0 * _EPS * np.max(np.abs(X)):
            break  # converged to rounding: a further step changes nothing
    XA = (X @ V2) / sq[None, :]  # X A^{-1} in the eigenbasis of S2 (same Frobenius norm)
    return float(np.sum(XA * XA))


def w2_squared_gaussian(m1, S1, m2, S2) -> float:
    """``W2^2(N(m1,S1), N(m2,S2))`` by the Bures formula, accurate near equality; covariances may be singular.

    ``W2^2 = |m1-m2|^2 + tr(S1 + S2 - 2 (S2^{1/2} S1 S2^{1/2})^{1/2})``.  The trace is formed as the
    sum of squares ``||X S2^{-1/2}||_F^2`` of :func:`_bures_difference` (W2 is symmetric, so the
    better-conditioned covariance plays S2); covariances 1e-8 I apart then give W2 to full
    precision, where the trace formula cancels to a 44% error.  Only when both covariances are
    singular is the trace formula used directly.
    """
    m1, S1, e1, V1 = _mean_cov(m1, S1, ("m1", "S1"), psd=True)
    m2, S2, e2, V2 = _mean_cov(m2, S2, ("m2", "S2"), psd=True)
    if m2.size != m1.size:
        raise ShapeError(f"m2 must have length {m1.size} like m1, got shape {m2.shape}")
    d = m1 - m2
    if e1[0] > e2[0]:
        S1, S2, e2, V2 = S2, S1, e1, V1
    if e2[0] <= 0.0:
        return float(d @ d) + _bures_trace(S1, S2, e2, V2)
    return float(d @ d) + _bures_difference(S1, S2, e2, V2)


def w2_gaussian(m1, S1, m2, S2) -> float:
    """``W2(N(m1,S1), N(m2,S2))``: the square root of :func:`w2_squared_gaussian`."""
    return math.sqrt(w2_squared_gaussian(m1, S1, m2, S2))


def w2_squared_gaussian_p0(m, S) -> float:
    """``W2^2(N(m,S), N(0,I)) = |m|^2 + sum_i (sqrt(e_i) - 1)^2``; S may be singular.

    ``sqrt(e) - 1`` is formed as ``(e - 1) / (sqrt(e) + 1)``, exact to rounding for e near 1.
    """
    m, _, e, _ = _mean_cov(m, S, ("m", "S"), psd=True)
    return float(m @ m) + float(np.sum(((e - 1.0) / (np.sqrt(e) + 1.0)) ** 2))


def w2_gaussian_p0(m, S) -> float:
    """``W2(N(m,S), N(0,I))``: the square root of :func:`w2_squared_gaussian_p0`."""
    return math.sqrt(w2_squared_gaussian_p0(m, S))


def chi2_gaussian_p0(m, S) -> float:
    """``chi^2(N(m,S) || N(0,I))`` in closed form (docs/claims.md#theorem-45); needs ``S < 2I``.

    ``1 + chi^2 = det(S(2I - S))^{-1/2} exp(m^T (2I - S)^{-1} m)``, formed in the eigenbasis of S
    (``log(e(2-e)) = log1p(-(1-e)^2)``).  Returns ``inf`` when ``1 + chi^2`` overflows a float.
    """
    m, _, e, V = _mean_cov(m, S, ("m", "S"))
    if e[-1] >= 2.0:
        raise DomainError(f"S must satisfy S < 2 I (otherwise chi^2 = inf), largest eigenvalue {e[-1]:.6g}")
    # log(e (2 - e)) = log1p(-(1 - e)^2) keeps accuracy near e = 1; for e near 0 (or 2) the square
    # rounds to 1 and log1p would meet -1, so log(e) + log(2 - e) is used there.
    far = (1.0 - e) ** 2 > 0.5
    log_e2e = np.where(far, np.log(np.where(far, e * (2.0 - e), 1.0)), np.log1p(-np.where(far, 0.0, (1.0 - e) ** 2)))
    if not np.all(np.isfinite(log_e2e)):
        raise DomainError(f"S must be positive definite, smallest eigenvalue {e[0]:.6g}")
    log_ratio = -0.5 * float(np.sum(log_e2e)) + float(np.sum((V.T @ m) ** 2 / (2.0 - e)))
    # expm1 overflows (and would warn) beyond log(max float) ~ 709.78.
    return math.inf if log_ratio > 709.0 else math.expm1(log_ratio)


def kl_lower_bound_moments(mean, cov) -> float:
    """Certified lower bound ``KL(p||p0) >= KL(N(mean, cov)||p0)`` from p's exact moments (docs/evidence.md#certified-and-estimated-quantities).

    Exact decomposition: ``KL(p||p0) = KL(p||N_p) + KL(N_p||p0)``, since ``log(N_p/p0)`` is quadratic
    and p, N_p share two moments.  ``mean`` (k,), ``cov`` (k, k) positive definite (a singular
    covariance means KL = inf, which no finite bound certifies).
    """
    m, S, _, _ = _mean_cov(mean, cov, ("mean", "cov"))
    return kl_gaussian_p0(m, S)


def w2_lower_bound_gelbrich(mean, cov) -> float:
    """Certified lower bound ``W2(p,p0) >= W2(N(mean, cov), p0)`` from p's exact moments (Gelbrich; docs/evidence.md#certified-and-estimated-quantities).

    ``mean`` (k,), ``cov`` (k, k) positive semi-definite.
    """
    m, S, _, _ = _mean_cov(mean, cov, ("mean", "cov"), psd=True)
    return w2_gaussian_p0(m, S)
