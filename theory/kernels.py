"""Gram matrices H1, H2, H of (3.6), Lambda = lambda_min(H(p0)) and lambda0 (MATH 2, 3.2).

Definitions (MATH 2)::

    H1(p)_ij = (x_i . x_j) E_p[u^2 ht'(z_i) ht'(z_j)],   H2(p)_ij = E_p[ht(z_i) ht(z_j)],
    H = H1 + H2,   z_i = theta . x_i,   Lambda = lambda_min(H(p0)),   lambda0 = sqrt(Lambda / n).

Three routes, which the tests cross-check against each other:

* :func:`gram_particles`: a weighted particle (or quadrature) measure, MATH 2.1 (tier S for samples);
* :func:`gram_p0`: exactly at p0 by the 2-D Gaussian pair reduction and a tensor Gauss-Hermite rule,
  MATH 2.2, evaluated at K and 2K nodes so that the refinement difference is reported (tier E);
* :func:`gram_p0_erf`: the closed form of Williams (1997) for ``c * erf(z / s)``, MATH 2.3.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

from ._validation import as_float_array, check_int, check_matrix, check_positive
from .activations import Activation, get_activation
from .errors import DomainError, ShapeError
from .quadrature import hermite_rule

__all__ = [
    "GramMatrices",
    "GramP0",
    "KernelConstants",
    "gram_particles",
    "gram_p0",
    "gram_p0_erf",
    "lambda_min",
    "Lambda",
    "lambda0",
    "kernel_constants",
]

#: Largest number of float64 elements in one working array (chunks of particles or of pairs):
#: 2^21 elements = 16 MiB, so a few temporaries stay far below the memory of a shared machine.
_CHUNK_ELEMENTS = 2 ** 21
#: Elements per working array of the pair quadrature: 2^16 float64 = 512 KiB, so the half-dozen
#: elementwise temporaries of one chunk stay in cache (measured about 2x faster than 2^21 at n = 100, d = 10).
_PAIR_CHUNK_ELEMENTS = 2 ** 16
#: Largest coarse K: the fine rule has 2K nodes, and numpy's hermegauss returns infinite weights
#: (with a RuntimeWarning) from about 371 nodes on.
_K_MAX = 180


@dataclass(frozen=True)
class GramMatrices:
    """H1 and H2 of (3.6) for a particle measure; shapes ``(..., n, n)`` (leading replica axes)."""

    H1: np.ndarray
    H2: np.ndarray

    @property
    def H(self) -> np.ndarray:
        """H = H1 + H2."""
        return self.H1 + self.H2


@dataclass(frozen=True)
class GramP0:
    """H1, H2 of (3.6) exactly at p0 (MATH 2.2 / 2.3).

    Attributes
    ----------
    H1, H2 : (n, n) arrays
        Values from the finer rule (2K nodes per dimension) or the closed form.
    quad_error : float
        max_ij |H_ij(2K) - H_ij(K)|, the measured refinement error; 0.0 for the closed form.
    K : int
        Coarse number of Gauss-Hermite nodes per dimension (the reported values use 2K).
    method : str
        ``"gh"`` or ``"closed-form"``.
    """

    H1: np.ndarray
    H2: np.ndarray
    quad_error: float
    K: int
    method: str

    @property
    def H(self) -> np.ndarray:
        """H = H1 + H2."""
        return self.H1 + self.H2


@dataclass(frozen=True)
class KernelConstants:
    """Lambda = lambda_min(H(p0)) (Assumption 4.3), lambda0 = sqrt(max(Lambda, 0)/n), and context.

    ``H_norm`` is ||H(p0)||_2 (= lambda_max, H is PSD); ``quad_error`` as in :class:`GramP0`.
    """

    Lambda: float
    lambda0: float
    lambda_min_H2: float
    quad_error: float
    H_norm: float
    n: int
    K: int


def _frozen(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


def _symmetrise(a: np.ndarray) -> np.ndarray:
    # BLAS products A^T A are symmetric only up to rounding; eigvalsh reads one triangle, so an
    # asymmetric result would make the two triangles tell different stories.
    return 0.5 * (a + np.swapaxes(a, -1, -2))


def _value_and_slope(act: Activation, z: np.ndarray):
    """``(h(z), h'(z))``, specialised for the scaled tanh and sigmoid families.

    ``Activation.derivatives`` of the built-ins evaluates the whole derivative table (orders 0..4)
    whatever ``upto`` is; the Gram routines need two orders and spend most of their time here, so
    ``c tanh(z/s)`` and ``c sigmoid(z/s)`` (identified by ``act.base``, ``act.c``, ``act.s``) are
    evaluated directly (about 9x fewer array operations).  tests/test_kernels.py checks the two
    paths agree.
    """
    if act.base == "tanh":
        t = np.tanh(z / act.s) if act.s != 1.0 else np.tanh(z)
        return act.c * t, (act.c / act.s) * (1.0 - t * t)
    if act.base == "sigmoid":
        e = special.expit(z / act.s) if act.s != 1.0 else special.expit(z)
        return act.c * e, (act.c / act.s) * (e * (1.0 - e))
    h, h1 = act.derivatives(z, 1)
    return h, h1


# ----------------------------------------------------------------------------------------------
# particles (MATH 2.1)
# ----------------------------------------------------------------------------------------------

def _check_particles(theta, u, X, weights):
    theta = as_float_array("theta", theta)
    if theta.ndim < 2:
        raise ShapeError(f"theta must have shape (..., m, d), got shape {theta.shape}")
    X = check_matrix("X", X, cols=theta.shape[-1])
    u = as_float_array("u", u)
    if u.shape != theta.shape[:-1]:
        raise ShapeError(f"u must have shape {theta.shape[:-1]} (theta.shape[:-1]), got shape {u.shape}")
    m = theta.shape[-2]
    if m == 0:
        raise ShapeError(f"theta must hold at least one particle, got shape {theta.shape}")
    if weights is None:
        weights = np.full(u.shape, 1.0 / m)
    else:
        weights = as_float_array("weights", weights)
        if weights.shape != u.shape:
            raise ShapeError(f"weights must have shape {u.shape} (like u), got shape {weights.shape}")
        if np.any(weights < 0):
            raise DomainError(f"weights must be >= 0, got minimum {weights.min()!r}")
    return theta, u, X, weights


def gram_particles(theta, u, X, act, weights=None) -> GramMatrices:
    """H1, H2 of (3.6) for the weighted particle measure ``sum_j pi_j delta_{(theta_j, u_j)}`` (MATH 2.1).

    ``H2 = Phi^T diag(pi) Phi`` and ``H1 = (X X^T) o (Phi'^T diag(pi u^2) Phi')`` with
    ``Phi_ji = ht(theta_j . x_i)`` and ``Phi'_ji = ht'(theta_j . x_i)``.  Cost O(m n^2); memory
    O(m n) per replica at most, particles being processed in chunks.

    Parameters
    ----------
    theta : (..., m, d) array
        Particle positions; leading axes are independent replicas.
    u : (..., m) array
        Output weights of the particles.
    X : (n, d) array
        Inputs.
    act : Activation or str
        The activation ``ht``; only h and h' are used, so relu is accepted.
    weights : (..., m) array or None
        Non-negative measure weights pi_j (not renormalised); None means 1/m each (samples).

    Returns
    -------
    GramMatrices
        ``H1``, ``H2`` of shape ``(..., n, n)``.
    """
    act = get_activation(act)
    theta, u, X, weights = _check_particles(theta, u, X, weights)
    batch = theta.shape[:-2]
    m, d = theta.shape[-2:]
    n = X.shape[0]
    th = theta.reshape((-1, m, d))
    pi = weights.reshape((-1, m))
    piu2 = pi * u.reshape((-1, m)) ** 2
    B = th.shape[0]
    H1 = np.zeros((B, n, n))
    H2 = np.zeros((B, n, n))
    step = max(1, _CHUNK_ELEMENTS // max(1, B * max(n, d)))
    for start in range(0, m, step):
        sl = slice(start, min(m, start + step))
        Z = th[:, sl, :] @ X.T                          # (B, chunk, n)
        h, h1 = _value_and_slope(act, Z)
        H2 += np.swapaxes(h * pi[:, sl, None], 1, 2) @ h
        H1 += np.swapaxes(h1 * piu2[:, sl, None], 1, 2) @ h1
    H1 *= X @ X.T
    shape = batch + (n, n)
    return GramMatrices(H1=_frozen(_symmetrise(H1).reshape(shape)), H2=_frozen(_symmetrise(H2).reshape(shape)))


# ----------------------------------------------------------------------------------------------
# exactly at p0 (MATH 2.2)
# ----------------------------------------------------------------------------------------------

def _pair_geometry(X: np.ndarray, I: np.ndarray, J: np.ndarray):
    """For pairs (i, j): sqrt(a), the regression coefficient c/a and the conditional std of z_j.

    ``z_i = sqrt(a) g1`` and ``z_j = (c/a) z_i + sd g2`` with ``sd^2 = |x_j - (c/a) x_i|^2``, which
    equals ``b - c^2/a`` but is computed from the residual vector: for x_j = +-x_i it is exactly 0
    (b - c^2/a would leave rounding noise of order eps*b under a square root, i.e. 1e-8), and for
    x_j = -x_i the coefficient is exactly -1, so odd activations give rows that are exact negatives
    (MATH 2.4).  If a = 0 the coefficient is 0 and sd^2 = b, the a = 0 rule of MATH 2.2.
    """
    xi, xj = X[I], X[J]
    a = np.einsum("pk,pk->p", xi, xi)
    c = np.einsum("pk,pk->p", xi, xj)
    ratio = np.divide(c, a, out=np.zeros_like(c), where=a > 0)
    resid = xj - ratio[:, None] * xi
    return np.sqrt(a), ratio, np.sqrt(np.einsum("pk,pk->p", resid, resid)), c


def _pair_moments(act: Activation, X: np.ndarray, I, J, K: int):
    """E[h(z_i)h(z_j)] and E[h'(z_i)h'(z_j)] for the pairs (I, J) with a K x K tensor rule."""
    g, w = hermite_rule(K)
    sa, ratio, sd, c = _pair_geometry(X, I, J)
    zi = sa[:, None] * g[None, :]                                   # (P, K): node g1
    zj = ratio[:, None, None] * zi[:, :, None] + sd[:, None, None] * g[None, None, :]   # (P, K, K)
    hi, hi1 = _value_and_slope(act, zi)
    hj, hj1 = _value_and_slope(act, zj)
    e2 = np.einsum("pk,pk->p", hi * w, hj @ w)
    e1 = np.einsum("pk,pk->p", hi1 * w, hj1 @ w)
    return e2, c * e1


def _gram_p0_gh_at(X: np.ndarray, act: Activation, K: int):
    n = X.shape[0]
    I, J = np.triu_indices(n)
    H1 = np.empty((n, n))
    H2 = np.empty((n, n))
    step = max(1, _PAIR_CHUNK_ELEMENTS // (K * K))
    for start in range(0, I.size, step):
        sl = slice(start, start + step)
        e2, e1 = _pair_moments(act, X, I[sl], J[sl], K)
        H2[I[sl], J[sl]] = e2
        H2[J[sl], I[sl]] = e2
        H1[I[sl], J[sl]] = e1
        H1[J[sl], I[sl]] = e1
    return H1, H2


def gram_p0(X, act, K: int = 80, method: str = "auto") -> GramP0:
    """H1(p0), H2(p0) of (3.6) exactly at p0 = N(0, I) by the 2-D pair reduction (MATH 2.2).

    Under p0, u is independent of theta with E u^2 = 1, so
    ``H2_ij = E[ht(z_i) ht(z_j)]`` and ``H1_ij = (x_i . x_j) E[ht'(z_i) ht'(z_j)]`` with
    ``(z_i, z_j) ~ N(0, [[a, c], [c, b]])``.  Each pair is integrated with a tensor
    probabilists' Gauss-Hermite rule, all pairs at once (in chunks), at K and at 2K nodes per
    dimension; the 2K values are returned with ``quad_error = max |H(2K) - H(K)|``.

    Parameters
    ----------
    X : (n, d) array
        Inputs (rows x_i; x_i = 0 is allowed).
    act : Activation or str
        The activation ``ht`` (h and h' are used).
    K : int
        Coarse number of nodes per dimension (80 suits smooth activations; use about 80/s for
        steep ``c tanh(z/s)``).
    method : {"auto", "gh", "closed-form"}
        ``"auto"`` uses :func:`gram_p0_erf` for a scaled erf and Gauss-Hermite otherwise; ``"gh"``
        forces the quadrature; ``"closed-form"`` requires a scaled erf.
    """
    X = check_matrix("X", X)
    act = get_activation(act)
    # numpy's hermegauss loses its weights to underflow above ~370 nodes, and the fine rule uses 2K
    K = check_int("K", K, minimum=2, maximum=_K_MAX)
    if method not in ("auto", "gh", "closed-form"):
        raise DomainError(f"method must be 'auto', 'gh' or 'closed-form', got {method!r}")
    is_erf = act.base == "erf"
    if method == "closed-form" and not is_erf:
        raise DomainError(f"method='closed-form' needs a scaled erf activation, got {act.name!r}")
    if method != "gh" and is_erf:
        return gram_p0_erf(X, c=act.c, s=act.s)
    H1c, H2c = _gram_p0_gh_at(X, act, K)
    H1, H2 = _gram_p0_gh_at(X, act, 2 * K)
    err = float(np.max(np.abs((H1 + H2) - (H1c + H2c))))
    return GramP0(H1=_frozen(H1), H2=_frozen(H2), quad_error=err, K=K, method="gh")


def gram_p0_erf(X, c: float = 1.0, s: float = 1.0) -> GramP0:
    """Closed-form H1(p0), H2(p0) for ``ht(z) = c erf(z / s)`` (Williams 1997; MATH 2.3).

    With ``a = |x_i|^2/s^2``, ``b = |x_j|^2/s^2``, ``q = x_i.x_j/s^2`` (since z/s = theta . (x/s)):

        H2_ij = c^2 (2/pi) arcsin(2q / sqrt((1 + 2a)(1 + 2b))),
        H1_ij = (x_i . x_j) (c/s)^2 (4/pi) / sqrt((1 + 2a)(1 + 2b) - 4q^2).

    Parameters
    ----------
    X : (n, d) array
        Inputs.
    c, s : float
        Output scale and input scale, both > 0.
    """
    X = check_matrix("X", X)
    c = check_positive("c", c)
    s = check_positive("s", s)
    G = X @ X.T
    Q = G / s ** 2
    diag = 1.0 + 2.0 * np.diag(Q)
    prod = np.outer(diag, diag)
    # |2q| < sqrt(prod) holds strictly (prod - 4q^2 >= 1 + 2a + 2b), so the clip only removes
    # rounding at the last bit and never changes a value.
    arg = np.clip(2.0 * Q / np.sqrt(prod), -1.0, 1.0)
    H2 = c ** 2 * (2.0 / np.pi) * np.arcsin(arg)
    H1 = G * (c / s) ** 2 * (4.0 / np.pi) / np.sqrt(prod - 4.0 * Q ** 2)
    return GramP0(H1=_frozen(_symmetrise(H1)), H2=_frozen(_symmetrise(H2)), quad_error=0.0, K=0,
                  method="closed-form")


# ----------------------------------------------------------------------------------------------
# Lambda and lambda0 (Assumption 4.3, MATH 3.2)
# ----------------------------------------------------------------------------------------------

def lambda_min(H) -> float:
    """Smallest eigenvalue of a symmetric matrix (``numpy.linalg.eigvalsh`` of its symmetric part)."""
    H = check_matrix("H", H)
    if H.shape[0] != H.shape[1]:
        raise ShapeError(f"H must be square, got shape {H.shape}")
    return float(np.linalg.eigvalsh(_symmetrise(H))[0])


def Lambda(X, act, K: int = 80) -> float:
    """Lambda = lambda_min(H(p0)) of Assumption 4.3, with H(p0) from :func:`gram_p0`."""
    return lambda_min(gram_p0(X, act, K).H)


def lambda0(X, act, K: int = 80) -> float:
    """lambda0 = sqrt(Lambda / n) (MATH 3.2); 0.0 when Lambda <= 0 (Assumption 4.3 fails)."""
    X = check_matrix("X", X)
    return float(np.sqrt(max(Lambda(X, act, K), 0.0) / X.shape[0]))


def kernel_constants(X, act, K: int = 80) -> KernelConstants:
    """Lambda, lambda0, lambda_min(H2(p0)), ||H(p0)||_2 and the quadrature error, from one Gram."""
    X = check_matrix("X", X)
    gram = gram_p0(X, act, K)
    evals = np.linalg.eigvalsh(_symmetrise(gram.H))
    lam = float(evals[0])
    return KernelConstants(
        Lambda=lam,
        lambda0=float(np.sqrt(max(lam, 0.0) / X.shape[0])),
        lambda_min_H2=lambda_min(gram.H2),
        quad_error=gram.quad_error,
        H_norm=float(np.max(np.abs(evals))),
        n=X.shape[0],
        K=gram.K,
    )
