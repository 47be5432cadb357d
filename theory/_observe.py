"""Every observable of a particle state in one chunked sweep (private helper of :mod:`theory.dynamics`).

A record of a run needs f, H = H1 + H2, b, the moments of w, E|w|^2, the coupling distance to the
reference OU, the moments of the reference and the stiffness constants of the stability limit.
Computed one by one (:func:`theory.network.output`, :func:`theory.kernels.gram_particles`, ...) they
evaluate the activation three times on full ``(R, m, n)`` arrays, about 1400 bytes per particle at
n = 20, d = 10.  Here the state is read in its component-major layout ``thetaT (R, d, m)`` in chunks
of particles, the activation table ``h, h', h''`` is evaluated once per chunk, and each quantity is
accumulated with the formulas of those functions (same sums, chunked; within a chunk mirrored
particle pairs are added first, as in :func:`theory.network.output`, so the doubling initialisation
still gives f = b = 0 exactly).  Temporaries are bounded by :data:`CHUNK_ELEMENTS` whatever m is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np

from . import _observe_numba as _K

__all__ = ["Observation", "observe_state", "observe_primed", "CHUNK_ELEMENTS"]

#: Elements (R * chunk * n) of one working array: 2^18 float64 = 2 MiB, so the dozen temporaries of a
#: chunk stay a few tens of MiB at most (about 30 bytes per particle at m = 1e6, R = 1, n = 20) while
#: ci-sized states (R m n <= 1e5) are still one chunk, i.e. one numpy call per quantity.
CHUNK_ELEMENTS = 2 ** 18


#: Largest n for the compiled sweep: its Gram sums cost n^2 multiply-adds per particle in plain loops, and
#: its rows of one block (5 n block words) stay in the second-level cache up to here.
COMPILED_MAX_N = 64
#: The compiled step and sweep work block by block; a block's rows (5 n block words in a record) are kept
#: within about half a second-level cache (1 MiB per core here) down to the floor of 256 (reached at
#: n = 26; above n = 51 the rows exceed that half), and the block is otherwise as long as
#: measured useful: each block pays a fixed cost of some 0.5 us (the set-up of about 25 vector loops), which
#: at n = 3, d = 2 is 16% of a 256-particle block's step and 4% of a 2048-particle one
#: (docs/architecture.md#speed).
_BLOCK_WORDS = 2 ** 16 // 5
_BLOCK_MIN, _BLOCK_MAX = 256, 2048


def default_block(n: int) -> int:
    """Particles per block for n inputs: the largest power of two in [256, 2048] with n * block <= 13107, and
    256 where none qualifies (n >= 52: the block the kernel had before it followed n)."""
    fit = max(1, _BLOCK_WORDS // max(1, int(n)))
    return int(min(_BLOCK_MAX, max(_BLOCK_MIN, 1 << (fit.bit_length() - 1))))


@dataclass(frozen=True)
class Observation:
    """Observables of one state (R replicas, n inputs, k = d + 1); see :func:`observe_state`.

    ``f (R, n)``; ``H (R, n, n)`` (symmetrised); ``b (R, n)`` or None; ``mean (R, k)``, ``cov (R, k, k)``;
    ``second_moment (R,)``; ``w2_sq (R,)`` = mean_j |w_j - v_j|^2 or None; ``ref_mean``, ``ref_cov`` of the
    reference particles v or None; ``max_abs_u`` over all replicas; ``g2``, ``g3`` = max |h'|, |h''| over
    the pre-activations (None when not asked for).
    """

    f: np.ndarray
    H: np.ndarray
    b: Optional[np.ndarray]
    mean: np.ndarray
    cov: np.ndarray
    second_moment: np.ndarray
    w2_sq: Optional[np.ndarray]
    ref_mean: Optional[np.ndarray]
    ref_cov: Optional[np.ndarray]
    max_abs_u: float
    g2: Optional[float]
    g3: Optional[float]


def _pair_sum(c: np.ndarray) -> np.ndarray:
    """Sum over the last (particle) axis adding adjacent pairs (2j, 2j + 1) first (mirrored pairs -> 0.0)."""
    L = c.shape[-1]
    if L % 2:
        return c.sum(axis=-1)
    return c.reshape(c.shape[:-1] + (L // 2, 2)).sum(axis=-1).sum(axis=-1)


def _chunk_size(R: int, m: int, n: int, k: int) -> int:
    """Particles per chunk: even (keeps mirrored pairs together) and within CHUNK_ELEMENTS."""
    c = max(2, CHUNK_ELEMENTS // max(1, R * max(n, k)))
    return m if c >= m else c - c % 2


def _moments(thetaT, u, step) -> Tuple[np.ndarray, np.ndarray]:
    """Mean (R, k) and plug-in covariance (R, k, k) of w = (theta, u), two chunked passes."""
    R, d, m = thetaT.shape
    total = np.zeros((R, d + 1))
    for s in range(0, m, step):
        total[:, :d] += thetaT[:, :, s:s + step].sum(axis=-1, dtype=np.float64)
        total[:, d] += u[:, s:s + step].sum(axis=-1, dtype=np.float64)
    mean = total / m
    cov = np.zeros((R, d + 1, d + 1))
    for s in range(0, m, step):
        c = np.concatenate([thetaT[:, :, s:s + step], u[:, None, s:s + step]], axis=1).astype(np.float64)
        c -= mean[:, :, None]
        cov += c @ np.swapaxes(c, -1, -2)
    cov /= m
    return mean, 0.5 * (cov + np.swapaxes(cov, -1, -2))


def observe_state(thetaT, u, vT, vu, X, act, alpha: float, *, need_b: bool, need_ref: bool = False,
                  need_stiffness: bool = False, compiled=None) -> Observation:
    """The :class:`Observation` of the state ``thetaT (R, d, m)``, ``u (R, m)`` (reference ``vT``, ``vu``
    or None) on inputs ``X (n, d)`` with activation ``act`` and output scale ``alpha``.

    ``need_b`` needs h'' (the caller checks ``act.max_order``); ``need_ref`` needs the reference.
    ``compiled``: ``(kind, hc, s)`` of the particle kernel's activation families, which takes the
    compiled sweep of :func:`theory._observe_numba.observe_sums` (for n <= COMPILED_MAX_N); else numpy.
    Arithmetic in float64 whatever the state's dtype.  Non-finite values propagate (the caller checks).
    """
    if compiled is not None and X.shape[0] <= COMPILED_MAX_N:
        return _observe_compiled(thetaT, u, vT, vu, X, alpha, need_b, need_ref, need_stiffness, compiled)
    R, d, m = thetaT.shape
    n = X.shape[0]
    X = np.asarray(X, dtype=np.float64)
    order = min(2, act.max_order)
    step = _chunk_size(R, m, n, d + 1)
    f, b = np.zeros((R, n)), np.zeros((R, n)) if need_b else None
    H1, H2 = np.zeros((R, n, n)), np.zeros((R, n, n))
    sm = np.zeros(R)
    w2 = np.zeros(R) if vT is not None else None
    g2 = g3 = max_u = 0.0
    xsq = np.sum(X * X, axis=1)[None, :, None]
    for s in range(0, m, step):
        th = thetaT[:, :, s:s + step].astype(np.float64, copy=False)
        uu = u[:, None, s:s + step].astype(np.float64, copy=False)              # (R, 1, C)
        Z = X @ th                                                              # (R, n, C)
        derivs = act.derivatives(Z, order)
        h, h1 = derivs[0], derivs[1]
        f += _pair_sum(uu * h)
        H2 += h @ np.swapaxes(h, -1, -2)
        H1 += (h1 * (uu * uu)) @ np.swapaxes(h1, -1, -2)
        if need_b:
            b += _pair_sum(uu * (h + Z * h1 - derivs[2] * xsq))
        if need_stiffness:
            g2 = max(g2, float(np.abs(h1).max()))
            g3 = max(g3, float(np.abs(derivs[2]).max()) if order >= 2 else 0.0)
        sm += np.sum(th * th, axis=(1, 2)) + np.sum(uu * uu, axis=(1, 2))
        max_u = max(max_u, float(np.abs(uu).max()))
        if w2 is not None:
            dv = th - vT[:, :, s:s + step]
            du = uu[:, 0] - vu[:, s:s + step]
            w2 += np.sum(dv * dv, axis=(1, 2)) + np.sum(du * du, axis=1)
    H1 *= X @ X.T
    H = H1 + H2
    H = 0.5 * (H + np.swapaxes(H, -1, -2)) / m
    mean, cov = _moments(thetaT, u, step)
    ref_mean = ref_cov = None
    if need_ref:
        ref_mean, ref_cov = _moments(vT, vu, step)
    return Observation(f=(alpha / m) * f, H=H, b=None if b is None else b / m, mean=mean, cov=cov,
                       second_moment=sm / m, w2_sq=None if w2 is None else w2 / m, ref_mean=ref_mean,
                       ref_cov=ref_cov, max_abs_u=max_u,
                       g2=g2 if need_stiffness else None, g3=g3 if need_stiffness else None)


def _observe_compiled(thetaT, u, vT, vu, X, alpha, need_b, need_ref, need_stiffness, compiled) -> Observation:
    """:func:`observe_state` by the compiled sweeps (same sums; activation by the kernel's formulas)."""
    kind, hc, s = compiled
    R, d, m = thetaT.shape
    X = np.ascontiguousarray(X, dtype=np.float64)
    f, b, H1, H2, stats = _K.observe_sums(thetaT, u, X, kind, np.asarray(hc, dtype=np.float64), float(s),
                                         bool(need_b), bool(need_stiffness), default_block(X.shape[0]))
    couple = vT is not None
    dummy3, dummy2 = np.zeros((1, 1, 1), thetaT.dtype), np.zeros((1, 1), thetaT.dtype)
    mean, cov, w2 = _K.moment_sums(thetaT, u, vT if couple else dummy3, vu if couple else dummy2, couple)
    ref_mean = ref_cov = None
    if need_ref:
        ref_mean, ref_cov, _ = _K.moment_sums(vT, vu, dummy3, dummy2, False)
    H = (H1 * (X @ X.T) + H2) / m
    return Observation(f=(alpha / m) * f, H=H, b=b / m if need_b else None, mean=mean, cov=cov,
                       second_moment=stats[:, 0] / m, w2_sq=w2 / m if couple else None, ref_mean=ref_mean,
                       ref_cov=ref_cov, max_abs_u=float(stats[:, 1].max()),
                       g2=float(stats[:, 2].max()) if need_stiffness else None,
                       g3=float(stats[:, 3].max()) if need_stiffness else None)


def observe_primed(thetaT, u, vT, vu, X, XXt, alpha, compiled, buffers, *, need_b: bool, need_ref: bool = False,
                   need_stiffness: bool = False, block: Optional[int] = None,
                   use_blas: bool = False) -> Observation:
    """:func:`observe_state` (compiled families, n <= COMPILED_MAX_N) from the particle kernel's own pass 1
    (:func:`theory._observe_numba.record_sums`), which it leaves in ``buffers`` (``buf``, ``buf2``,
    ``parts`` of :class:`theory.dynamics.Dynamics`) for the next step to reuse.  ``XXt`` = ``X @ X.T``.

    The same sums in the same order as the compiled :func:`observe_state`; the pre-activations are the
    kernel's ``X (1/s) theta``, so the two agree bitwise when 1/s is exact and to rounding otherwise.
    ``block``: the kernel's (default :func:`default_block`), which laid out ``buffers["parts"]``.
    """
    kind, hc, s = compiled
    m = thetaT.shape[-1]
    block = default_block(X.shape[0]) if block is None else block
    couple = vT is not None
    if not couple:
        vT, vu = np.zeros((1, 1, 1), thetaT.dtype), np.zeros((1, 1), thetaT.dtype)
    f, b, H1, H2, stats, mean, cov, w2, ref_mean, ref_cov = _K.record_sums(
        thetaT, u, vT, vu, buffers["X"], np.ascontiguousarray(X, dtype=np.float64), buffers["buf"], buffers["buf2"],
        buffers["parts"], kind, buffers["hc"], float(s), bool(need_b), bool(need_stiffness), couple, bool(need_ref), block, bool(use_blas))
    return Observation(f=(alpha / m) * f, H=(H1 * XXt + H2) / m, b=b / m if need_b else None, mean=mean, cov=cov,
                       second_moment=stats[:, 0] / m, w2_sq=w2 / m if couple else None,
                       ref_mean=ref_mean if need_ref else None, ref_cov=ref_cov if need_ref else None,
                       max_abs_u=float(stats[:, 1].max()),
                       g2=float(stats[:, 2].max()) if need_stiffness else None,
                       g3=float(stats[:, 3].max()) if need_stiffness else None)
