"""Hermite (Mehler) series for the Gram matrices at p0, with the error of the returned value.

For ``z_i = a_i g`` and ``z_j = a_j g'`` with ``(g, g')`` standard normals of correlation ``rho``
(``a_i = |x_i|``, ``rho = cos angle(x_i, x_j)``), Mehler's formula gives, in the probabilists'
normalisation (``E He_k(g)^2 = k!``)::

    E[F(g) G(g')] = sum_k rho^k c_k(F) c_k(G),      c_k(F) = E[F(g) He_k(g)] / sqrt(k!).

So per input we need the coefficients of ``F_i(g) = ht(a_i g)`` and ``G_i(g) = ht'(a_i g)`` (a 1-D
transform, O(n N L) for N grid nodes) and per pair one series of L terms (O(n^2 L)), instead of a
K x K rule per pair (O(n^2 K^2)).  See docs/claims.md#lemma-55 for where H(p0) enters the claims.

Error of the returned value, per entry (all three are added):

* coefficients: returned from the trapezoid rule on a grid of step 0.1 and checked on the same grid
  shifted by half a step; the leading aliasing error flips sign under the shift, so
  ``|S(grid) - S(shifted)|`` is about twice the error of the returned S(grid);
* truncation: ``|sum_{k>=L} c_ik c_jk rho^k| <= |rho|^L sqrt(T_i T_j)`` (Cauchy-Schwarz) with
  ``T_i = sum_{k>=L} c_ik^2 = E[F_i^2] - sum_{k<L} c_ik^2`` (Parseval), plus the rounding of that
  difference;
* rounding of the Horner recursion: each step adds at most ``2 eps`` of a partial sum bounded by
  ``N_i N_j`` (``N_i = |c_i|_2``) and earlier errors are damped by ``|rho|``, hence
  ``2 eps N_i N_j min(L, 1 / (1 - |rho|))``.

Validity domain (estimated entry error of the series, measured for unit inputs at cosine rho, with
L <= 180 terms): ``c tanh(z/s)`` stays below 1e-14 for ``|x|/s <= 2`` at ``|rho| <= 0.9`` and below
1e-11 up to ``|x|/s = 3``; near-parallel pairs are the hard case (``|x|/s = 1``: 1e-13 at rho = 0.9999;
``|x|/s = 2``: 2e-8 at rho = 0.99), and sigmoid is about twice as tolerant (analytic in a strip twice
as wide).  Pairs above the tolerance of :func:`theory.kernels.gram_p0` go to its 2-D rules.  Exactly
parallel pairs (``x_j = t x_i``, the diagonal included) are 1-D integrals on the grids of steps 0.2,
0.1 and 0.05 (the last returned), below 1e-14 up to ``|x|/s = 3``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Tuple

import numpy as np
from numba import njit

from .activations import Activation
from .quadrature import refinement_error

__all__ = ["SeriesGram", "mehler_gram", "H_FINEST", "L_MAX"]

#: Step of the finest grid.  The series coefficients come from its even nodes (step 0.1, 681 nodes)
#: and are checked on its odd nodes (the same step, shifted by half of it): the leading aliasing
#: term of the trapezoid rule flips sign under the shift, so the difference of the two is about
#: twice the error of either.  Parallel pairs use steps 0.2, 0.1 and 0.05 (the last returned).
H_FINEST = 0.05
#: Half-width of the grids: the Hermite functions of order <= L_MAX have turned to Gaussian decay
#: (below e^-100) beyond |x| = 34.
X_MAX = 34.0
#: Most series terms (the grid resolves Hermite functions up to order (pi / h)^2 / 2 ~ 490).
L_MAX = 180
#: Candidate numbers of terms; the smallest whose truncation bound meets the target is used.
_L_GRID = (40, 60, 80, 100, 120, 150, L_MAX)
#: Parallel pairs per block of the 1-D integrals (blocks of 64 x 1361 float64 = 0.7 MB).
_PARALLEL_CHUNK = 64
_EPS = float(np.finfo(np.float64).eps)


def _fine_grid() -> np.ndarray:
    """Nodes ``x = H_FINEST q`` with |x| <= X_MAX; every other node forms the step-2h grids."""
    N = int(round(X_MAX / H_FINEST))
    return H_FINEST * np.arange(-N, N + 1, dtype=np.float64)


@lru_cache(maxsize=8)
def _hermite_functions(sub: int, offset: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The grid ``x = fine[offset::sub]`` (step ``sub * H_FINEST``), weights ``w = step phi(x)`` and
    ``P[q, k] = sqrt(w_q) hn_k(x_q)`` for k < L_MAX (hn_k the normalised He_k).

    The trapezoid rule on a uniform grid converges like ``exp(-(2 pi / h - sqrt(2k + 1)) tau)`` for an
    integrand ``F He_k phi`` with F analytic in the strip ``|Im x| < tau`` (the Hermite function of
    order k oscillates with wavenumber <= sqrt(2k + 1)), against ``exp(-tau sqrt(2Q))`` for a Q-node
    Gauss-Hermite rule: at h = 0.1, tanh(2g) (tau = pi/4) gets about 1e-15 from 681 nodes where
    Gauss-Hermite needs about 1000.  ``sqrt(w) hn_k`` is a sampled Hermite function, bounded where
    ``hn_k`` alone would overflow; values below 1e-140 are flushed to 0 (they change no sum by more
    than that, and their subnormal products slowed the transform about 15x, measured).
    """
    x = _fine_grid()[offset::sub].copy()
    w = sub * H_FINEST * np.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)
    sw = np.sqrt(w)
    P = np.empty((x.size, L_MAX))
    P[:, 0] = sw
    P[:, 1] = x * sw
    for k in range(1, L_MAX - 1):
        P[:, k + 1] = (x * P[:, k] - math.sqrt(k) * P[:, k - 1]) / math.sqrt(k + 1)
    P[np.abs(P) < 1e-140] = 0.0
    for a_ in (x, w, P):
        a_.setflags(write=False)
    return x, w, P


def _transform(V: np.ndarray, sub: int, offset: int):
    """Coefficients (m, L_MAX) ``c_k = E[F He_k] / sqrt(k!)`` and ``E[F^2]`` (m,) of the rows of V
    (values on the fine grid) by the trapezoid rule on ``fine[offset::sub]``."""
    _, w, P = _hermite_functions(sub, offset)
    Vs = V[:, offset::sub]
    return (Vs * np.sqrt(w)) @ P, (Vs * Vs) @ w


@njit(cache=True, nogil=True, error_model="numpy")
def _series_pairs(R, F1, G1, F2, G2, H2, E1, D2, D1):  # pragma: no cover - compiled
    """Upper triangle and mirror: H2/E1 = series with the returned coefficients (F1, G1), D2/D1 = the
    distance to the series with the check coefficients (F2, G2).

    Coefficients are transposed, (L, n): for a row i the Horner steps run over k, and within a step
    over the contiguous j >= i (independent, so they vectorise).
    """
    L, n = F1.shape
    s2, s1, t2, t1 = np.empty(n), np.empty(n), np.empty(n), np.empty(n)
    for i in range(n):
        s2[i:] = 0.0
        s1[i:] = 0.0
        t2[i:] = 0.0
        t1[i:] = 0.0
        for k in range(L - 1, -1, -1):
            a2, a1, b2, b1 = F1[k, i], G1[k, i], F2[k, i], G2[k, i]
            for j in range(i, n):
                r = R[i, j]
                s2[j] = s2[j] * r + a2 * F1[k, j]
                s1[j] = s1[j] * r + a1 * G1[k, j]
                t2[j] = t2[j] * r + b2 * F2[k, j]
                t1[j] = t1[j] * r + b1 * G2[k, j]
        for j in range(i, n):
            H2[i, j] = H2[j, i] = s2[j]
            E1[i, j] = E1[j, i] = s1[j]
            D2[i, j] = D2[j, i] = abs(s2[j] - t2[j])
            D1[i, j] = D1[j, i] = abs(s1[j] - t1[j])


@dataclass(frozen=True)
class SeriesGram:
    """Series values and their per-entry error estimates.

    ``H1``, ``H2`` (n, n); ``error`` (n, n): estimated error of ``H1 + H2`` entry by entry;
    ``magnitude`` (n, n): ``sqrt(E F_i^2 E F_j^2) + |x_i.x_j| sqrt(E G_i^2 E G_j^2)``, a bound on
    ``|H_ij|`` used to scale tolerances; ``parallel`` (n, n) bool: pairs done as 1-D integrals;
    ``L``: series terms used; ``tol``: the absolute target (``rtol * max magnitude``).
    """

    H1: np.ndarray
    H2: np.ndarray
    error: np.ndarray
    magnitude: np.ndarray
    parallel: np.ndarray
    L: int
    tol: float


def _cosines(X: np.ndarray, G: np.ndarray, norms: np.ndarray):
    """rho (n, n) and the mask of exactly parallel pairs (residual ``x_j - (c/a) x_i`` exactly 0).

    A zero row has rho = 0 (its only non-zero coefficient is c_0, so any rho gives the same value).
    Only pairs with |rho| within 1e-8 of 1 are tested for exact parallelism; the others cannot be.
    """
    outer = np.outer(norms, norms)
    R = np.divide(G, outer, out=np.zeros_like(G), where=outer > 0)
    np.clip(R, -1.0, 1.0, out=R)
    par = np.eye(X.shape[0], dtype=bool)
    I, J = np.nonzero(np.triu(np.abs(R) > 1.0 - 1e-8, 1))
    if I.size:
        a = norms[I] ** 2
        ratio = np.einsum("pk,pk->p", X[I], X[J]) / a
        exact = ~np.any(X[J] - ratio[:, None] * X[I], axis=1)
        par[I[exact], J[exact]] = par[J[exact], I[exact]] = True
        R[I[exact], J[exact]] = R[J[exact], I[exact]] = np.sign(ratio[exact])
    np.fill_diagonal(R, 1.0)
    return R, par


def _choose_L(R, par, T2, T1, G, tol) -> int:
    """Smallest L of the grid whose truncation bound is below tol/8 on every series pair.

    Per row, ``|rho_ij|^L sqrt(T_i T_j) <= rho_i^L sqrt(T_i max_j T_j)`` with ``rho_i`` the largest
    |rho| of row i among series pairs: O(n) per candidate.
    """
    absR = np.where(par, 0.0, np.abs(R))
    rho_row = absR.max(axis=1)
    gmax = np.abs(G).max()
    for idx, L in enumerate(_L_GRID):
        t = np.sqrt(T2[:, idx] * T2[:, idx].max()) + gmax * np.sqrt(T1[:, idx] * T1[:, idx].max())
        if np.max(rho_row ** L * t) <= tol / 8.0:
            return L
    return L_MAX


def _tails(C: np.ndarray, Esq: np.ndarray) -> np.ndarray:
    """``T_i(L) = E[F_i^2] - sum_{k < L} c_ik^2`` (Parseval) for each L of the grid, (m, len(grid)).

    The difference cancels: it carries an absolute rounding error of about ``sqrt(Q) eps E[F^2]``
    (sums of Q and L positive terms), which is added so that T never understates the tail.
    """
    cum = np.cumsum(C * C, axis=1)
    T = np.stack([Esq - cum[:, L - 1] for L in _L_GRID], axis=1)
    return np.maximum(T, 0.0) + 4.0 * math.sqrt(_fine_grid().size) * _EPS * Esq[:, None]


def mehler_gram(X: np.ndarray, act: Activation, G: np.ndarray, rtol: float) -> SeriesGram:
    """H1, H2 at p0 by the Mehler series, with per-entry error estimates (module docstring).

    ``G = X X^T`` (symmetric); the number of terms is the smallest whose truncation bound is below
    ``tol / 8`` with ``tol = rtol * max_ij magnitude_ij`` (a bound on max |H_ij|).
    """
    n = X.shape[0]
    norms = np.sqrt(np.einsum("ik,ik->i", X, X))
    R, par = _cosines(X, G, norms)
    from .kernels import _value_and_slope  # kernels imports this module: import on use

    V = np.concatenate(_value_and_slope(act, norms[:, None] * _fine_grid()[None, :]), axis=0)  # (2n, nodes)
    C1, S1 = _transform(V, 2, 0)
    C2, _ = _transform(V, 2, 1)
    T = _tails(C1, S1)
    m = np.sqrt(S1)
    aG = np.abs(G)
    magnitude = np.outer(m[:n], m[:n]) + aG * np.outer(m[n:], m[n:])
    tol = rtol * max(float(magnitude.max()), 1e-300)
    L = _choose_L(R, par, T[:n], T[n:], G, tol)
    k = _L_GRID.index(L)
    H2, E1, D2, D1 = (np.empty((n, n)) for _ in range(4))
    F1, G1, F2, G2 = (np.ascontiguousarray(C[rows, :L].T) for C in (C1, C2) for rows in (slice(0, n), slice(n, None)))
    _series_pairs(R, F1, G1, F2, G2, H2, E1, D2, D1)
    absR = np.abs(R)
    # Horner rounding: earlier errors are damped by |rho| per step (module docstring)
    damp = 2.0 * _EPS * np.minimum(float(L), 1.0 / np.maximum(1.0 - absR, 1e-300))
    rL = absR ** L
    nF, nG = np.linalg.norm(F1, axis=0), np.linalg.norm(G1, axis=0)
    tF, tG = np.sqrt(T[:n, k]), np.sqrt(T[n:, k])
    err = (D2 + rL * np.outer(tF, tF) + damp * np.outer(nF, nF)
           + aG * (D1 + rL * np.outer(tG, tG) + damp * np.outer(nG, nG)))
    _parallel_pairs(V, R, par, H2, E1, err, aG)
    return SeriesGram(H1=G * E1, H2=H2, error=err, magnitude=magnitude, parallel=par, L=L, tol=tol)


def _parallel_pairs(V, R, par, H2, E1, err, aG) -> None:
    """Overwrite exactly parallel pairs with the 1-D integral ``E[F_i(g) F_j(+-g)]`` (in place).

    ``V`` (2n, nodes) holds F then G on the fine grid.  Grids are symmetric (x[::-1] = -x), so the
    antiparallel case reverses the node order.  Steps 4h, 2h, h (every 4th, every 2nd, every node):
    the h values are returned, with :func:`theory.quadrature.refinement_error` of the three and a
    rounding floor of ``4 eps E|F_i F_j|``.
    """
    n = V.shape[0] // 2
    I, J = np.nonzero(np.triu(par))
    flip = R[I, J] < 0
    out = []
    for sub in (4, 2, 1):
        _, w, _ = _hermite_functions(sub, 0)
        e2, e1, mag = np.empty(I.size), np.empty(I.size), np.empty(I.size)
        for lo in range(0, I.size, _PARALLEL_CHUNK):  # bounded temporaries: (chunk, nodes)
            sl = slice(lo, lo + _PARALLEL_CHUNK)
            i, j, f = I[sl], J[sl], flip[sl, None]
            Fi, Gi = V[i, ::sub], V[n + i, ::sub]
            Fj, Gj = V[j, ::sub], V[n + j, ::sub]
            if f.any():
                Fj, Gj = np.where(f, Fj[:, ::-1], Fj), np.where(f, Gj[:, ::-1], Gj)
            p2, p1 = Fi * Fj, Gi * Gj
            e2[sl], e1[sl] = p2 @ w, p1 @ w
            mag[sl] = np.abs(p2) @ w + aG[i, j] * (np.abs(p1) @ w)
        out.append((e2, e1, mag))
    e2, e1, mag = out[-1]
    E = refinement_error([o[0] + aG[I, J] * o[1] for o in out], 4.0 * _EPS * mag)
    for A, B in ((I, J), (J, I)):
        H2[A, B] = e2
        E1[A, B] = e1
        err[A, B] = E
