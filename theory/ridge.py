"""Kernel ridge regression as the large-alpha limit of the Gibbs minimiser p*, and the Lambda(n) datasets
of the paper's remark after Theorem 4.4 (docs/claims.md#headline).

Which kernel ridge regression p* approaches
-------------------------------------------
p* minimises Q(p) = L(p) + lam KL(p || p0) and has the form p*(theta, u) ∝ p0(theta, u) exp(-u s(theta))
with s(theta) = (2 alpha / (lam n)) sum_i r_i ht(theta . x_i), r = f(p*) - y (docs/claims.md#gibbs-minimiser).
Integrating u out: u | theta ~ N(-s(theta), 1) and theta ~ pi ∝ N(0, I) exp(s^2 / 2), so
f_i(p*) = alpha E_pi[-s ht(theta . x_i)].  When s is small (large alpha: s = O(1/alpha), below), pi =
N(0, I) (1 + O(s^2)) and, to first order,

    f_i = -(2 alpha^2 / (lam n)) sum_j E_N[ht(theta . x_i) ht(theta . x_j)] r_j = -(2 alpha^2/(lam n)) (H2(p0) r)_i.

With r = f - y this is r = -(I + (2 alpha^2/(lam n)) H2(p0))^{-1} y, i.e.

    f(p*) ≈ H2 (H2 + mu I)^{-1} y,     mu = lam n / (2 alpha^2),

kernel ridge regression with the Gram **H2(p0)** = E_{p0}[ht(theta . x_i) ht(theta . x_j)] (the output-layer
part of the NTK, the random-features kernel) and ridge mu.  The full NTK Gram H = H1 + H2 does not enter:
the tilt exp(-u s) moves u's conditional mean at first order while theta's law changes only at O(s^2),
and H1 = (x_i . x_j) E[u^2 ht' ht'] measures the theta-directions.  (H governs the *dynamics* r' =
-(2 alpha^2/n) H(p_t) r; the regularised minimiser they converge to is governed by H2.)  Then r = -mu (H2 +
mu I)^{-1} y = O(alpha^-2) and s = O(alpha^-1) (times 1/lambda_min(H2)), and the relative gap between
f(p*) and the ridge predictor, |r* - r_krr| / |r*|, is O(s^2) = O(alpha^-2) once kr = alpha^2
lambda_min(H2) / (lam n) >> 1.

Lambda(n) datasets
------------------
Unit-norm inputs whose separation ``delta = min_{i<j} min(|x_i - x_j|, |x_i + x_j|)`` (non-parallel data in
the sense of Oymak and Soltanolkotabi) is held fixed while n grows (``arc``, ``cap``) or falls with n as
the sphere fills (``half-circle``, ``random``): :func:`sphere_dataset`.
"""

from __future__ import annotations

import math
from typing import Tuple

import numpy as np

from ._validation import check_int, check_matrix, check_positive, check_vector
from .errors import DomainError, ShapeError

__all__ = ["ridge_from_gibbs", "kernel_ridge_residual", "relative_gap", "separation", "sphere_dataset",
           "FAMILIES", "lambda_min_with_error"]

#: Dataset families of :func:`sphere_dataset`; the first two keep the separation fixed as n grows.
FAMILIES = ("arc", "cap", "half-circle", "random")


def ridge_from_gibbs(alpha: float, lam: float, n: int) -> float:
    """The ridge ``mu = lam n / (2 alpha^2)`` that (3.5) implies at large alpha (module docstring)."""
    return check_positive("lam", lam) * check_int("n", n) / (2.0 * check_positive("alpha", alpha) ** 2)


def kernel_ridge_residual(K, y, mu: float) -> np.ndarray:
    """``r = K (K + mu I)^{-1} y - y = -mu (K + mu I)^{-1} y`` on the training inputs (K: (n, n) PSD Gram)."""
    y = check_vector("y", y)
    K = check_matrix("K", K, rows=y.size, cols=y.size)
    mu = check_positive("mu", mu)
    return -mu * np.linalg.solve(0.5 * (K + K.T) + mu * np.eye(y.size), y)


def relative_gap(r, r_ref) -> float:
    """``|r - r_ref| / |r|`` (the gap of f(p*) to a predictor, relative to p*'s own residual)."""
    r, r_ref = check_vector("r", r), check_vector("r_ref", r_ref)
    if r.shape != r_ref.shape:
        raise ShapeError(f"r {r.shape} and r_ref {r_ref.shape} must have the same shape")
    nr = float(np.linalg.norm(r))
    if not nr > 0:
        raise DomainError("relative_gap needs r != 0 (p* interpolates y exactly only at alpha = inf)")
    return float(np.linalg.norm(r - r_ref)) / nr


def separation(X) -> float:
    """``min_{i<j} min(|x_i - x_j|, |x_i + x_j|)`` of unit-norm rows (0 for parallel pairs; n >= 2)."""
    X = check_matrix("X", X)
    if X.shape[0] < 2:
        raise DomainError(f"separation needs n >= 2 inputs, got n={X.shape[0]}")
    G = np.clip(X @ X.T, -1.0, 1.0)
    d = np.sqrt(np.maximum(2.0 - 2.0 * np.abs(G), 0.0))
    np.fill_diagonal(d, np.inf)
    return float(d.min())


def _arc(n: int, delta: float) -> np.ndarray:
    ang = 2.0 * np.arcsin(delta / 2.0) * np.arange(n)
    if ang[-1] > np.pi / 2 + 1e-12 and ang[-1] + ang[1] > np.pi:
        raise DomainError(f"an arc of n={n} points at separation {delta!r} wraps past pi: use a smaller delta")
    return np.stack([np.cos(ang), np.sin(ang)], axis=1)


def _cap(n: int, delta: float) -> np.ndarray:
    """The n points of a triangular grid nearest the pole, mapped onto S^2 by the exponential map, with the
    grid's spacing rescaled (three fixed-point steps) until the separation is delta: the map compresses
    tangential distances by sin(rho)/rho, which would otherwise let the separation fall as n grows."""
    spacing = delta
    for _ in range(3):
        X = _cap_grid(n, spacing)
        spacing *= delta / separation(X)
    return _cap_grid(n, spacing)


def _cap_grid(n: int, delta: float) -> np.ndarray:
    k = int(math.ceil(math.sqrt(n))) + 2
    i, j = np.meshgrid(np.arange(-k, k + 1), np.arange(-k, k + 1))
    P = np.stack([i + 0.5 * j, j * math.sqrt(3) / 2], axis=-1).reshape(-1, 2) * delta
    P = P[np.argsort(np.linalg.norm(P, axis=1), kind="stable")[:n]]
    rho = np.linalg.norm(P, axis=1)
    if rho.max() >= np.pi / 2:
        raise DomainError(f"a cap of n={n} points at spacing {delta!r} passes the equator")
    dirs = np.divide(P, rho[:, None], out=np.zeros_like(P), where=rho[:, None] > 0)
    return np.concatenate([np.sin(rho)[:, None] * dirs, np.cos(rho)[:, None]], axis=1)


def sphere_dataset(family: str, n: int, delta: float = 0.1, d: int = 10, seed: int = 0) -> np.ndarray:
    """Unit-norm inputs (n, d') of a family of :data:`FAMILIES`.

    ``arc``: d' = 2, consecutive angles with chord ``delta`` (fixed separation); ``cap``: d' = 3, a
    triangular grid of spacing ``delta`` around the pole (separation ~ delta, fixed); ``half-circle``:
    d' = 2, n equispaced angles in [0, pi) (separation 2 sin(pi / 2n), falls like 1/n); ``random``: d' = d,
    uniform on S^{d-1} (``seed``).
    """
    n = check_int("n", n, minimum=2)
    delta = check_positive("delta", delta)
    if family == "arc":
        return _arc(n, delta)
    if family == "cap":
        return _cap(n, delta)
    if family == "half-circle":
        ang = np.pi * np.arange(n) / n
        return np.stack([np.cos(ang), np.sin(ang)], axis=1)
    if family == "random":
        Z = np.random.default_rng(check_int("seed", seed, minimum=0)).standard_normal((n, check_int("d", d, minimum=2)))
        return Z / np.linalg.norm(Z, axis=1, keepdims=True)
    raise DomainError(f"family must be one of {FAMILIES}, got {family!r}")


def lambda_min_with_error(H, entry_error: float = 0.0) -> Tuple[float, float]:
    """``(lambda_min(H), err)`` with ``err = n * entry_error + n * eps * |H|_2``: Weyl's bound for an
    entry-wise error of the Gram (|dH|_2 <= n max|dH_ij|) plus the backward error of the symmetric
    eigensolver (a modest multiple of eps |H|_2; n of it is a generous allowance)."""
    H = check_matrix("H", H)
    if H.shape[0] != H.shape[1]:
        raise ShapeError(f"H must be square, got {H.shape}")
    ev = np.linalg.eigvalsh(0.5 * (H + H.T))
    n = H.shape[0]
    return float(ev[0]), float(n * entry_error + n * np.finfo(float).eps * max(abs(ev[-1]), abs(ev[0])))
