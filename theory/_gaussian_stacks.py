"""Stacked forms of the Gaussian divergences of :mod:`theory._gaussian_divergences` (same formulas).

A recorded run carries one plug-in Gaussian per (record, replica): a few thousand (k, k) covariances
whose KL and W2 to the reference were taken one Python call at a time (about 0.25 ms each, 10-15% of a
``ci`` dynamics case).  Here every eigendecomposition and product runs on the whole stack
(``np.linalg.eigh`` and ``@`` broadcast over leading axes) and the Newton refinement of the Bures term
stops element by element exactly where the scalar function stops, so each entry is the scalar
function's value up to rounding (tested against it, entry by entry).  Private: used by
:func:`theory.trajectory.path_evidence`.
"""

from __future__ import annotations

import numpy as np

from ._gaussian_divergences import (_BURES_NEWTON_STEPS, _EPS, _PSD_RTOL, _SYM_RTOL, _bures_trace,
                                    _x_minus_log1p)
from .errors import DomainError, NonFiniteError, ShapeError

__all__ = ["kl_gaussian_p0_stack", "w2_squared_gaussian_p0_stack", "w2_squared_gaussian_stack"]


def _T(A: np.ndarray) -> np.ndarray:
    return np.swapaxes(A, -1, -2)


def _stack(name_m: str, mean, name_S: str, cov, psd: bool):
    """Validated ``(m (B, k), S (B, k, k) symmetrised, e (B, k), V (B, k, k))`` of a stack."""
    m = np.asarray(mean, dtype=np.float64)
    S = np.asarray(cov, dtype=np.float64)
    if m.ndim < 1 or S.shape != m.shape + m.shape[-1:]:
        raise ShapeError(f"{name_S} must have shape {m.shape + m.shape[-1:]} to match {name_m} {m.shape}, "
                         f"got {S.shape}")
    if not (np.isfinite(m).all() and np.isfinite(S).all()):
        raise NonFiniteError(f"{name_m} and {name_S} must be finite")
    k = m.shape[-1]
    m, S = m.reshape(-1, k), S.reshape(-1, k, k)
    scale = np.maximum(1.0, np.abs(S).max(axis=(1, 2), initial=0.0))
    asym = np.abs(S - _T(S)).max(axis=(1, 2), initial=0.0)
    if np.any(asym > _SYM_RTOL * scale):
        i = int(np.argmax(asym / scale))
        raise DomainError(f"{name_S}[{i}] must be symmetric, got max |S - S^T| = {asym[i]:.3g}")
    S = 0.5 * (S + _T(S))
    e, V = np.linalg.eigh(S)
    floor = -_PSD_RTOL * np.maximum(1.0, e[:, -1]) if psd else np.zeros(len(e))
    bad = e[:, 0] < floor if psd else e[:, 0] <= 0.0
    if np.any(bad):
        i = int(np.flatnonzero(bad)[0])
        kind = "semi-definite" if psd else "definite"
        raise DomainError(f"{name_S}[{i}] must be positive {kind}, smallest eigenvalue {e[i, 0]:.6g}")
    return m, S, (np.clip(e, 0.0, None) if psd else e), V


def kl_gaussian_p0_stack(mean, cov) -> np.ndarray:
    """``KL(N(m_b, S_b) || N(0, I))`` for a stack ``mean (..., k)``, ``cov (..., k, k)``; shape ``(...)``."""
    shape = np.shape(mean)[:-1]
    m, _, e, _ = _stack("mean", mean, "cov", cov, psd=False)
    out = 0.5 * (np.einsum("bi,bi->b", m, m) + _x_minus_log1p(e - 1.0, e).sum(axis=1))
    if not np.isfinite(out).all():
        raise DomainError("KL overflows float64 for these inputs (a covariance eigenvalue near 0 or huge)")
    return out.reshape(shape)


def w2_squared_gaussian_p0_stack(mean, cov) -> np.ndarray:
    """``W2^2(N(m_b, S_b), N(0, I))`` for a stack (covariances may be singular); shape ``(...)``."""
    shape = np.shape(mean)[:-1]
    m, _, e, _ = _stack("mean", mean, "cov", cov, psd=True)
    out = np.einsum("bi,bi->b", m, m) + (((e - 1.0) / (np.sqrt(e) + 1.0)) ** 2).sum(axis=1)
    return out.reshape(shape)


def _bures_difference_stack(S1, S2, e2, V2) -> np.ndarray:
    """:func:`theory._gaussian_divergences._bures_difference` on a stack (S2 positive definite).

    Each element leaves the Newton loop where the scalar function breaks: when its step is at rounding
    (after applying it) or when ``S2 + X`` is singular (before).
    """
    sq = np.sqrt(e2)
    A = (V2 * sq[:, None, :]) @ _T(V2)
    D = A @ (S1 - S2) @ A
    D = 0.5 * (D + _T(D))
    C = A @ S1 @ A
    ec, Vc = np.linalg.eigh(0.5 * (C + _T(C)))
    X = (Vc * np.sqrt(np.clip(ec, 0.0, None))[:, None, :]) @ _T(Vc) - S2
    active = np.ones(len(X), dtype=bool)
    for _ in range(_BURES_NEWTON_STEPS):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        Xa, S2a = X[idx], S2[idx]
        F = S2a @ Xa + Xa @ S2a + Xa @ Xa - D[idx]
        F = 0.5 * (F + _T(F))
        lm, Vm = np.linalg.eigh(S2a + 0.5 * (Xa + _T(Xa)))
        denom = lm[:, :, None] + lm[:, None, :]
        singular = np.any(denom <= 0.0, axis=(1, 2))
        step = Vm @ ((_T(Vm) @ F @ Vm) / np.where(denom > 0.0, denom, 1.0)) @ _T(Vm)
        Xn = Xa - step
        Xn = 0.5 * (Xn + _T(Xn))
        go = ~singular
        X[idx[go]] = Xn[go]
        done = np.abs(step).max(axis=(1, 2)) <= 4.0 * _EPS * np.abs(Xn).max(axis=(1, 2))
        active[idx[singular | done]] = False
    XA = (X @ V2) / sq[:, None, :]
    return np.einsum("bij,bij->b", XA, XA)


def w2_squared_gaussian_stack(m1, S1, m2, S2) -> np.ndarray:
    """``W2^2(N(m1_b, S1_b), N(m2_b, S2_b))`` for stacks of equal shape (Bures, accurate near equality).

    As :func:`theory._gaussian_divergences.w2_squared_gaussian`, element by element: the
    better-conditioned covariance plays S2; pairs where both are singular use the trace formula.
    """
    shape = np.shape(m1)[:-1]
    if np.shape(m2) != np.shape(m1):
        raise ShapeError(f"m2 must have shape {np.shape(m1)} like m1, got {np.shape(m2)}")
    m1, S1, e1, V1 = _stack("m1", m1, "S1", S1, psd=True)
    m2, S2, e2, V2 = _stack("m2", m2, "S2", S2, psd=True)
    swap = e1[:, 0] > e2[:, 0]
    S1, S2 = np.where(swap[:, None, None], S2, S1), np.where(swap[:, None, None], S1, S2)
    e2, V2 = np.where(swap[:, None], e1, e2), np.where(swap[:, None, None], V1, V2)
    d = m1 - m2
    out = np.einsum("bi,bi->b", d, d)
    pd = e2[:, 0] > 0.0
    if pd.any():
        out[pd] += _bures_difference_stack(S1[pd], S2[pd], e2[pd], V2[pd])
    for i in np.flatnonzero(~pd):
        out[i] += _bures_trace(S1[i], S2[i], e2[i], V2[i])
    return out.reshape(shape)
