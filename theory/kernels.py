"""Gram matrices H1, H2, H of (3.6), Lambda = lambda_min(H(p0)) and lambda0 (docs/kernels.md, 3.2).

Definitions (docs/kernels.md)::

    H1(p)_ij = (x_i . x_j) E_p[u^2 ht'(z_i) ht'(z_j)],   H2(p)_ij = E_p[ht(z_i) ht(z_j)],
    H = H1 + H2,   z_i = theta . x_i,   Lambda = lambda_min(H(p0)),   lambda0 = sqrt(Lambda / n).

Three routes, which the tests cross-check against each other:

* :func:`gram_particles`: a weighted particle (or quadrature) measure, docs/kernels.md#gram-from-particles (tier S for samples);
* :func:`gram_p0`: exactly at p0, by default through the Hermite (Mehler) series of
  :mod:`theory._mehler` (O(n K + n^2 L)), with the 2-D Gaussian pair reduction and a tensor
  Gauss-Hermite rule (docs/claims.md#lemma-55) for the pairs where the series does not converge;
  both report an estimate of the error of the values they return (tier E);
* :func:`gram_p0_erf`: the closed form of Williams (1997) for ``c * erf(z / s)``, docs/kernels.md#erf-closed-form.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
from scipy import special

from ._mehler import _hermite_functions, mehler_gram
from ._validation import as_float_array, check_int, check_matrix, check_positive, check_scale, check_weights
from .activations import Activation, get_activation
from .errors import DomainError, ShapeError
from .quadrature import hermite_rule, refinement_error

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
#: Elements per working array of the pair quadrature: 2^14 - 512 float64 = 124 KiB, below glibc's
#: default mmap threshold (128 KiB), so the temporaries of one block come from the heap instead of
#: fresh page-faulting mmaps (at 2^16 = 512 KiB the same call ran 5x faster or slower depending on
#: the process's allocation history).  Smaller blocks cost Python overhead: CPU time at n = 100,
#: K = 80 was 1.01 s at 2^12, 0.65 s at 2^13, 0.54 s here, 0.49 s at 2^16 without page faults.
_PAIR_CHUNK_ELEMENTS = 2 ** 14 - 512
#: The series is accepted for a pair when its estimated error is below this times the largest
#: entry bound ``max_ij magnitude_ij`` (about max |H_ij|); 1e-13 leaves a decade to the 1e-12
#: accuracy target and sits above the Horner rounding level (a few 1e-15 near |rho| = 1).
_SERIES_RTOL = 1e-13
#: Largest coarse K: the fine rule has 2K nodes, and numpy's hermegauss returns infinite weights
#: (with a RuntimeWarning) from about 371 nodes on.
_K_MAX = 180
#: Nodes of the 1-D rule for the entry bounds ``sqrt(E F_i^2 E F_j^2)`` (tolerance scales only).
_MAGNITUDE_NODES = 160
_EPS = float(np.finfo(np.float64).eps)
#: Outer nodes of the hybrid rule with a smaller weight are dropped (see _hybrid_pairs).
_HYBRID_MIN_WEIGHT = 1e-25


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
    """H1, H2 of (3.6) exactly at p0 (docs/kernels.md#exact-gram-at-p0 / 2.3).

    Attributes
    ----------
    H1, H2 : (n, n) arrays
        Values from the series, the 2-D rule at 2K nodes per dimension, or the closed form.
    quad_error : float
        ``max_ij`` of ``entry_error``: the estimated error of the returned ``H = H1 + H2``; 0.0 for
        the closed form; ``inf`` where a refinement does not converge.
    K : int
        Coarse number of Gauss-Hermite nodes per dimension of the 2-D rule (its values use 2K).
    method : str
        ``"series"``, ``"series+2d"`` (some pairs by a 2-D rule), ``"gh"`` or ``"closed-form"``.
    entry_error : (n, n) array or None
        Estimated error of each returned entry of H (see :func:`gram_p0`); None for the closed form.
    L : int
        Series terms used (0 when the series was not used).
    fallback_pairs : int
        Pairs i < j whose values come from a 2-D rule (all of them for ``"gh"``).
    """

    H1: np.ndarray
    H2: np.ndarray
    quad_error: float
    K: int
    method: str
    entry_error: Optional[np.ndarray] = None
    L: int = 0
    fallback_pairs: int = 0

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
# particles (docs/kernels.md#gram-from-particles)
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
        weights = check_weights("weights", weights, u.shape)  # >= 0, summing to 1 (issue 13)
    return theta, u, X, weights


def gram_particles(theta, u, X, act, weights=None) -> GramMatrices:
    """H1, H2 of (3.6) for the weighted particle measure ``sum_j pi_j delta_{(theta_j, u_j)}`` (docs/kernels.md#gram-from-particles).

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
# exactly at p0 (docs/kernels.md#exact-gram-at-p0)
# ----------------------------------------------------------------------------------------------

def _pair_geometry(X: np.ndarray, I: np.ndarray, J: np.ndarray):
    """For pairs (i, j): sqrt(a), the regression coefficient c/a and the conditional std of z_j.

    ``z_i = sqrt(a) g1`` and ``z_j = (c/a) z_i + sd g2`` with ``sd^2 = |x_j - (c/a) x_i|^2``, which
    equals ``b - c^2/a`` but is computed from the residual vector: for x_j = +-x_i it is exactly 0
    (b - c^2/a would leave rounding noise of order eps*b under a square root, i.e. 1e-8), and for
    x_j = -x_i the coefficient is exactly -1, so odd activations give rows that are exact negatives
    (docs/kernels.md#degenerate-data).  If a = 0 the coefficient is 0 and sd^2 = b, the a = 0 rule of docs/kernels.md#exact-gram-at-p0.
    """
    xi, xj = X[I], X[J]
    a = np.einsum("pk,pk->p", xi, xi)
    c = np.einsum("pk,pk->p", xi, xj)
    ratio = np.divide(c, a, out=np.zeros_like(c), where=a > 0)
    resid = xj - ratio[:, None] * xi
    return np.sqrt(a), ratio, np.sqrt(np.einsum("pk,pk->p", resid, resid)), c


def _pair_moments(act: Activation, X: np.ndarray, I, J, K: int, outer=None):
    """E[h(z_i)h(z_j)] and (x_i.x_j) E[h'(z_i)h'(z_j)] for the pairs (I, J) with a K x K tensor rule.

    ``outer = (nodes, weights)`` replaces the rule in g1 (``z_i = |x_i| g1``) while g2 keeps the
    K-node Gauss-Hermite rule.  The (pair, g1) rows are processed in blocks of
    ``_PAIR_CHUNK_ELEMENTS // K`` rows, so that no working array exceeds ``_PAIR_CHUNK_ELEMENTS``
    elements; each block's inner sums over g2 are folded into the pairs with ``np.bincount``.
    """
    g, w = hermite_rule(K)
    g1, w1 = (g, w) if outer is None else outer
    sa, ratio, sd, c = _pair_geometry(X, I, J)
    P, K1 = sa.size, g1.size
    e2, e1 = np.zeros(P), np.zeros(P)
    rows = max(1, _PAIR_CHUNK_ELEMENTS // K)
    for start in range(0, P * K1, rows):
        r = np.arange(start, min(P * K1, start + rows))
        p, k1 = r // K1, r % K1
        zi = sa[p] * g1[k1]                                         # node g1 of each row
        zj = (ratio[p] * zi)[:, None] + sd[p][:, None] * g[None, :]  # (rows, K): nodes g2
        hi, hi1 = _value_and_slope(act, zi)
        hj, hj1 = _value_and_slope(act, zj)
        wk = w1[k1]
        e2[p[0]:p[-1] + 1] += np.bincount(p - p[0], weights=wk * hi * (hj @ w))
        e1[p[0]:p[-1] + 1] += np.bincount(p - p[0], weights=wk * hi1 * (hj1 @ w))
    return e2, c * e1


def _gh_pairs(X: np.ndarray, act: Activation, I, J, K: int, magnitude: np.ndarray):
    """H2, H1 entries of the pairs (I, J) by the 2-D rule at 2K, and their estimated errors.

    Levels K // 2, K and 2K (the first costs a quarter of the second); the rounding floor of a
    pair is ``64 eps magnitude`` (sums of K^2 products bounded by ``magnitude`` in total).
    """
    levels = [_pair_moments(act, X, I, J, k) for k in (max(1, K // 2), K, 2 * K)]
    err = refinement_error([e2 + e1 for e2, e1 in levels], 64.0 * _EPS * magnitude)
    return levels[-1][0], levels[-1][1], err


def _hybrid_pairs(X: np.ndarray, act: Activation, I, J, magnitude: np.ndarray):
    """Like :func:`_gh_pairs`, with the trapezoid grids of :mod:`theory._mehler` in g1 (steps 0.2, 0.1,
    0.05) and Gauss-Hermite in g2 (16, 32, 64 nodes); the finest level is returned.

    For near-parallel pairs the conditional spread of z_j given z_i is small, so the inner rule
    converges fast, while the outer integral is as hard as the diagonal: where ``|x| / s`` is large
    the trapezoid grid resolves it (tanh(2g) to 1e-15 at step 0.1) and a Gauss-Hermite rule of a
    few hundred nodes does not.  Outer nodes of weight below 1e-25 (|x| > 10.6) are dropped: the
    integrands are bounded by ``magnitude``, so they change no value by more than 1e-25 of it.
    """
    levels = []
    for sub, k in ((4, 16), (2, 32), (1, 64)):
        x, w, _ = _hermite_functions(sub, 0)
        keep = w > _HYBRID_MIN_WEIGHT
        levels.append(_pair_moments(act, X, I, J, k, outer=(x[keep], w[keep])))
    err = refinement_error([e2 + e1 for e2, e1 in levels], 64.0 * _EPS * magnitude)
    return levels[-1][0], levels[-1][1], err


def _magnitudes(X: np.ndarray, act: Activation, G: np.ndarray) -> np.ndarray:
    """``sqrt(E F_i^2 E F_j^2) + |G_ij| sqrt(E G_i^2 E G_j^2)`` >= |H_ij| (Cauchy-Schwarz), 1-D rule."""
    x, w = hermite_rule(_MAGNITUDE_NODES)
    norms = np.sqrt(np.einsum("ik,ik->i", X, X))
    h, h1 = _value_and_slope(act, norms[:, None] * x[None, :])
    m2, m1 = np.sqrt((h * h) @ w), np.sqrt((h1 * h1) @ w)
    return np.outer(m2, m2) + np.abs(G) * np.outer(m1, m1)


def _gram_p0_gh(X: np.ndarray, act: Activation, K: int, G: np.ndarray):
    """All pairs by the 2-D rule: H1, H2 (n, n) at 2K and the per-entry error estimate."""
    n = X.shape[0]
    I, J = np.triu_indices(n)
    e2, e1, err = _gh_pairs(X, act, I, J, K, _magnitudes(X, act, G)[I, J])
    H1, H2, E = np.empty((n, n)), np.empty((n, n)), np.empty((n, n))
    for A, B in ((I, J), (J, I)):
        H2[A, B], H1[A, B], E[A, B] = e2, e1, err
    return H1, H2, E


def _gram_p0_series(X: np.ndarray, act: Activation, K: int, G: np.ndarray, fallback: bool):
    """The series for every pair; with ``fallback``, pairs above tolerance are redone by the 2-D rule
    and keep whichever of the two routes has the smaller estimated error."""
    sg = mehler_gram(X, act, G, _SERIES_RTOL)
    H1, H2, E = sg.H1.copy(), sg.H2.copy(), sg.error.copy()
    I, J = np.nonzero(np.triu(E > sg.tol, 1) & ~sg.parallel)
    used = 0
    if fallback and I.size:
        e2, e1, err = _hybrid_pairs(X, act, I, J, sg.magnitude[I, J])
        g2, g1, gerr = _gh_pairs(X, act, I, J, K, sg.magnitude[I, J])
        take = gerr < err                  # steep activations: the route whose refinement converges
        e2, e1, err = np.where(take, g2, e2), np.where(take, g1, e1), np.where(take, gerr, err)
        s_err = E[I, J]
        better = err < s_err
        # Two routes whose values differ by more than the sum of their estimates contradict them
        # (seen outside the validity domain: erf(z/0.25) at |x| = 1.5, where the kept estimate was
        # 7% short); such a pair reports the largest of the two estimates and of the distance
        # between the two values, which bounds the larger of the two errors from below.
        dist = np.abs(e2 + e1 - H2[I, J] - H1[I, J])
        lost = dist > err + s_err
        wide = np.maximum(np.maximum(err, s_err), dist)
        E[I, J] = E[J, I] = np.where(lost, wide, np.minimum(err, s_err))
        I, J, e2, e1 = I[better], J[better], e2[better], e1[better]
        for A, B in ((I, J), (J, I)):
            H2[A, B], H1[A, B] = e2, e1
        used = int(I.size)
    return H1, H2, E, sg.L, used


def gram_p0(X, act, K: int = 80, method: str = "auto") -> GramP0:
    """H1(p0), H2(p0) of (3.6) exactly at p0 = N(0, I), with the estimated error of what is returned.

    Under p0, u is independent of theta with E u^2 = 1, so
    ``H2_ij = E[ht(z_i) ht(z_j)]`` and ``H1_ij = (x_i . x_j) E[ht'(z_i) ht'(z_j)]`` with
    ``(z_i, z_j) ~ N(0, [[a, c], [c, b]])`` (docs/claims.md#lemma-55).  Routes:

    * series (:mod:`theory._mehler`): Mehler's formula in the cosine of each pair, from the 1-D
      Hermite coefficients of ``ht(|x_i| g)`` and ``ht'(|x_i| g)``; exactly parallel pairs (the
      diagonal included) as 1-D integrals.  Error per entry: coefficient check on a shifted grid +
      truncation bound + rounding (see theory/_mehler.py, which also states the validity domain).
    * hybrid 2-D rule (fallback of ``"auto"``): trapezoid grid in g1, Gauss-Hermite in g2, three
      levels; suited to near-parallel pairs, where the series needs too many terms.
    * 2-D rule: a tensor probabilists' Gauss-Hermite rule per pair at K // 2, K and 2K nodes per
      dimension; the 2K values are returned with the error estimate of
      :func:`theory.quadrature.refinement_error`.

    Parameters
    ----------
    X : (n, d) array
        Inputs (rows x_i; x_i = 0 is allowed).
    act : Activation or str
        The activation ``ht`` (h and h' are used).
    K : int
        Coarse nodes per dimension of the 2-D rule (80 suits smooth activations; about 80/s for
        steep ``c tanh(z/s)``).
    method : {"auto", "series", "gh", "closed-form"}
        ``"auto"``: the closed form for a scaled erf, otherwise the series, with the two 2-D rules
        for the pairs where the series misses its tolerance (each such pair keeps the route with
        the smallest estimated error: steep activations thus get whichever refinement converges);
        ``"series"``: the series only; ``"gh"``: the 2-D rule only; ``"closed-form"``: scaled erf only.

    Returns
    -------
    GramP0
        ``quad_error`` is the largest estimated entry error of the returned H (``entry_error``).
    """
    X = check_matrix("X", X)
    act = get_activation(act)
    # numpy's hermegauss loses its weights to underflow above ~370 nodes, and the fine rule uses 2K
    K = check_int("K", K, minimum=2, maximum=_K_MAX)
    if method not in ("auto", "series", "gh", "closed-form"):
        raise DomainError(f"method must be 'auto', 'series', 'gh' or 'closed-form', got {method!r}")
    is_erf = act.base == "erf"
    if method == "closed-form" and not is_erf:
        raise DomainError(f"method='closed-form' needs a scaled erf activation, got {act.name!r}")
    if method in ("auto", "closed-form") and is_erf:
        return gram_p0_erf(X, c=act.c, s=act.s)
    act.derivatives(np.zeros(1), 1)  # raises MissingDerivativeError before any work without h'
    G = _symmetrise(X @ X.T)
    L, used = 0, 0
    if method == "gh":
        H1, H2, E = _gram_p0_gh(X, act, K, G)
    else:
        H1, H2, E, L, used = _gram_p0_series(X, act, K, G, fallback=method == "auto")
    name = "gh" if method == "gh" else ("series+2d" if used else "series")
    return GramP0(H1=_frozen(H1), H2=_frozen(H2), quad_error=float(E.max()), K=K, method=name,
                  entry_error=_frozen(E), L=L,
                  fallback_pairs=used if method != "gh" else X.shape[0] * (X.shape[0] - 1) // 2)


def gram_p0_erf(X, c: float = 1.0, s: float = 1.0) -> GramP0:
    """Closed-form H1(p0), H2(p0) for ``ht(z) = c erf(z / s)`` (Williams 1997; docs/kernels.md#erf-closed-form).

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
    # Scale check (issue 13): the formula squares |x|/s and |x| c/s; refuse before they overflow.
    xmax = float(np.max(np.abs(X)))
    check_scale("s", s, max(s, max(1.0, xmax) / s), why="s or |x|/s")
    check_scale("c", c, c * max(1.0, xmax) / s, why="c |x| / s")
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
# Lambda and lambda0 (Assumption 4.3, docs/kernels.md#derived-constants)
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
    """lambda0 = sqrt(Lambda / n) (docs/kernels.md#derived-constants); 0.0 when Lambda <= 0 (Assumption 4.3 fails)."""
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
