"""Compiled sweeps behind :mod:`theory._observe`: the sums of f, H, b, the stiffness and the moments of
a particle state in its component-major layout, block by block, with no ``(R, n, m)`` array.

The activation families and formulas are those of the particle kernel (:mod:`theory._kernels_numba`).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ._kernels_numba import _OPTS, _contract, _erf_exp, _pass1_block, _prepare, _tanh, particle_steps_primed

__all__ = ["observe_sums", "output_sums", "moment_sums", "record_sums", "run_records"]


@njit(**_OPTS)
def _act_rows(th, Xs, kind, hc, s, j0, L, z, h, h1, h2):
    """z (raw pre-activation), h, h', h'' of particles j0..j0+L-1 at every input into ``(n, >= L)`` rows."""
    n = Xs.shape[0]
    c0, c1, c2 = hc[0], hc[1], hc[2]
    for i in range(n):
        zr = z[i]
        _contract(zr, Xs[i], th, j0, L)                       # z / s
        hr, h1r, h2r = h[i], h1[i], h2[i]
        if kind == 0:
            for j in range(L):
                t = _tanh(zr[j])
                q = 1.0 - t * t
                hr[j] = c0 + c1 * t
                h1r[j] = (c2 / s) * q
                h2r[j] = (-2.0 * c2 / (s * s)) * t * q
                zr[j] = s * zr[j]
        else:
            for j in range(L):
                t, e = _erf_exp(zr[j])
                hr[j] = c1 * t
                h1r[j] = (c2 / s) * e
                h2r[j] = (-2.0 * zr[j] / s) * h1r[j]
                zr[j] = s * zr[j]


# A pair (j, j + 1) is summed as ((u_j + u_j+1)(g_j + g_j+1) + (u_j - u_j+1)(g_j - g_j+1)) / 2, which equals
# u_j g_j + u_j+1 g_j+1 and is 0.0 exactly for a mirrored pair (u_j+1 = -u_j, same theta, so g_j+1 = g_j)
# under any contraction or reassociation: both products are of an exact zero.  (u_j g_j + u_j+1 g_j+1
# written directly becomes fma(u_j, g_j, u_j+1 g_j+1), the rounding error of a product, not 0.)
@njit(inline="always", **_OPTS)
def _pair(ua, ub, ga, gb):
    return 0.5 * ((ua + ub) * (ga + gb) + (ua - ub) * (ga - gb))


@njit(inline="always", **_OPTS)
def _pair_dot(uu, hr, L):
    """sum_j u_j h_j over j < L, adjacent pairs first."""
    acc = 0.0
    P = L - L % 2
    for j in range(0, P, 2):
        acc += _pair(uu[j], uu[j + 1], hr[j], hr[j + 1])
    for j in range(P, L):
        acc += uu[j] * hr[j]
    return acc


@njit(inline="always", **_OPTS)
def _pair_b(uu, hr, zr, h1r, h2r, xsq, L):
    """sum_j u_j (h + z h' - |x|^2 h'')_j over j < L, adjacent pairs first."""
    acc = 0.0
    P = L - L % 2
    for j in range(0, P, 2):
        ga = hr[j] + zr[j] * h1r[j] - xsq * h2r[j]
        gb = hr[j + 1] + zr[j + 1] * h1r[j + 1] - xsq * h2r[j + 1]
        acc += _pair(uu[j], uu[j + 1], ga, gb)
    for j in range(P, L):
        acc += uu[j] * (hr[j] + zr[j] * h1r[j] - xsq * h2r[j])
    return acc


@njit(**_OPTS)
def _accumulate(th, uu, j0, L, z, h, h1, h2, xsq, g, need_b, need_stiffness, full_gram, f, b, H1, H2, stats):
    """Add the sums of :func:`observe_sums` over one block (particles j0..j0+L-1 of one replica) to the
    replica's ``f (n,)``, ``b (n,)``, ``H1 (n, n)``, ``H2 (n, n)`` (lower triangle; only the diagonal unless
    ``full_gram``) and ``stats (4,)`` from its activation rows ``z, h, h1, h2 (n, >= L)``; ``g (n, >= L)``
    is scratch.  Shared by :func:`observe_sums` and :func:`record_sums`, so that a record equals the
    standalone observation bitwise when 1/s is exact."""
    n = h.shape[0]
    d = th.shape[0]
    for i in range(n):
        hr, h1r, gr = h[i], h1[i], g[i]
        f[i] += _pair_dot(uu, hr, L)
        if need_b:
            b[i] += _pair_b(uu, hr, z[i], h1r, h2[i], xsq[i], L)
        for j in range(L):
            gr[j] = uu[j] * h1r[j]
        if need_stiffness:
            mx1 = stats[2]
            mx2 = stats[3]
            h2r = h2[i]
            for j in range(L):
                mx1 = max(mx1, abs(h1r[j]))
                mx2 = max(mx2, abs(h2r[j]))
            stats[2] = mx1
            stats[3] = mx2
    for i in range(n):
        for k in range(0 if full_gram else i, i + 1):
            a1 = 0.0
            a2 = 0.0
            gi, gk, hi, hk = g[i], g[k], h[i], h[k]
            for j in range(L):
                a1 += gi[j] * gk[j]
                a2 += hi[j] * hk[j]
            H1[i, k] += a1
            H2[i, k] += a2
    _square_sums(th, uu, j0, L, stats)


@njit(inline="always", **_OPTS)
def _square_sums(th, uu, j0, L, stats):
    """``stats[0] += sum_j |w_j|^2`` and ``stats[1] = max(stats[1], max_j |u_j|)`` over one block."""
    d = th.shape[0]
    sq = 0.0
    mu = stats[1]
    for j in range(L):
        sq += uu[j] * uu[j]
        mu = max(mu, abs(uu[j]))
    for c in range(d):
        tc = th[c, j0:j0 + L]
        for j in range(L):
            sq += tc[j] * tc[j]
    stats[0] += sq
    stats[1] = mu


@njit(**_OPTS)
def _accumulate_outputs(th, uu, buf, buf2, r, j0, L, kind, hc, s, h, f, H1, H2, stats):
    """The sums of an outputs record over one block, straight from the kernel's pass 1 (``buf`` = tanh or erf
    of z/s, ``buf2`` = exp(-(z/s)^2)): ``f`` as :func:`_accumulate` sums it (the same pairs), the diagonals
    ``H1[i, i] += sum_j u_j^2 h'(z_ji)^2`` and ``H2[i, i] += sum_j h(z_ji)^2`` and ``stats[:2]``; ``h (n, >= L)``
    is scratch."""
    n = h.shape[0]
    c0, c1, c2 = hc[0], hc[1], hc[2]
    for i in range(n):
        tr, hr = buf[r, i, j0:j0 + L], h[i]
        a1 = 0.0
        a2 = 0.0
        if kind == 0:
            for j in range(L):
                t = tr[j]
                hv = c0 + c1 * t
                hr[j] = hv
                gv = uu[j] * ((c2 / s) * (1.0 - t * t))
                a1 += gv * gv
                a2 += hv * hv
        else:
            er = buf2[r, i, j0:j0 + L]
            for j in range(L):
                hv = c1 * tr[j]
                hr[j] = hv
                gv = uu[j] * ((c2 / s) * er[j])
                a1 += gv * gv
                a2 += hv * hv
        f[i] += _pair_dot(uu, hr, L)
        H1[i, i] += a1
        H2[i, i] += a2
    _square_sums(th, uu, j0, L, stats)


@njit(**_OPTS)
def _symmetrise(H1, H2):
    """Copy the lower triangles of H1, H2 (R, n, n) to the upper ones."""
    R, n = H1.shape[0], H1.shape[1]
    for r in range(R):
        for i in range(n):
            for k in range(i):
                H1[r, k, i] = H1[r, i, k]
                H2[r, k, i] = H2[r, i, k]


@njit(**_OPTS)
def _xsq(X):
    n, d = X.shape
    xsq = np.zeros(n)
    for i in range(n):
        for c in range(d):
            xsq[i] += X[i, c] * X[i, c]
    return xsq


@njit(**_OPTS)
def output_sums(thetaT, u, X, kind, hc, s, block):
    """Per replica r: ``f[r, i] = sum_j u_j h(z_ji)`` (pairs (2j, 2j + 1) first, as in :func:`observe_sums`)
    and ``sq[r] = sum_j |w_j|^2``: the output and the second moment without the Gram sums (a time average
    of Algorithm 1 samples them at every fourth step)."""
    R, d, m = thetaT.shape
    n = X.shape[0]
    Xs = (X / s).astype(np.float64)
    f, stats = np.zeros((R, n)), np.zeros((R, 2))
    z, h, h1, h2 = np.empty((n, block)), np.empty((n, block)), np.empty((n, block)), np.empty((n, block))
    for r in range(R):
        th = thetaT[r]
        for j0 in range(0, m, block):
            L = min(block, m - j0)
            uu = u[r, j0:j0 + L]
            _act_rows(th, Xs, kind, hc, s, j0, L, z, h, h1, h2)
            for i in range(n):
                f[r, i] += _pair_dot(uu, h[i], L)
            _square_sums(th, uu, j0, L, stats[r])
    return f, stats[:, 0].copy()


@njit(**_OPTS)
def observe_sums(thetaT, u, X, kind, hc, s, need_b, need_stiffness, block):
    """Sums over the particles of one state, per replica r (pairs (2j, 2j + 1) added first in f and b)::

        f[r, i]  = sum_j u_j h(z_ji)              b[r, i] = sum_j u_j (h + z h' - |x_i|^2 h'')(z_ji)
        H1[r]    = sum_j u_j^2 h'(z_j) h'(z_j)^T  H2[r]   = sum_j h(z_j) h(z_j)^T
        stats[r] = (sum_j |w_j|^2, max_j |u_j|, max_ji |h'|, max_ji |h''|)   (the last two if need_stiffness)

    ``hc``, ``s``: ``h = c0 + c1 tanh(z/s)``, ``h' = (c2/s)(1 - T^2)`` (kind 0) or ``h = c1 erf(z/s)``,
    ``h' = (c2/s) exp(-(z/s)^2)`` (kind 1), as in :func:`particle_step`.  The Gram sums are plain
    loops (measured faster than two BLAS products per block at n = 20, block 256 to 4096, one thread).
    """
    R, d, m = thetaT.shape
    n = X.shape[0]
    Xs = (X / s).astype(np.float64)
    xsq = np.zeros(n)
    for i in range(n):
        for c in range(d):
            xsq[i] += X[i, c] * X[i, c]
    f, b = np.zeros((R, n)), np.zeros((R, n))
    H1, H2, stats = np.zeros((R, n, n)), np.zeros((R, n, n)), np.zeros((R, 4))
    z, h, h1, h2 = np.empty((n, block)), np.empty((n, block)), np.empty((n, block)), np.empty((n, block))
    g = np.empty((n, block))
    for r in range(R):
        th = thetaT[r]
        for j0 in range(0, m, block):
            L = min(block, m - j0)
            uu = u[r, j0:j0 + L]
            _act_rows(th, Xs, kind, hc, s, j0, L, z, h, h1, h2)
            _accumulate(th, uu, j0, L, z, h, h1, h2, xsq, g, need_b, need_stiffness, True, f[r], b[r], H1[r], H2[r],
                        stats[r])
    _symmetrise(H1, H2)
    return f, b, H1, H2, stats


@njit(**_OPTS)
def _rows_from_pass1(buf, buf2, r, j0, zs, kind, hc, s, L, z, h, h1, h2, need_h2):
    """The activation rows of :func:`_act_rows` from the particle kernel's pass 1 of particles j0..j0+L-1 of
    replica r: ``buf`` = tanh or erf of z/s, ``buf2`` = exp(-(z/s)^2) (erf only), ``zs`` = z/s (read only
    when ``need_h2``)."""
    n = h.shape[0]
    c0, c1, c2 = hc[0], hc[1], hc[2]
    for i in range(n):
        tr = buf[r, i, j0:j0 + L]
        hr, h1r, h2r = h[i], h1[i], h2[i]
        if kind == 0:
            for j in range(L):
                t = tr[j]
                q = 1.0 - t * t
                hr[j] = c0 + c1 * t
                h1r[j] = (c2 / s) * q
                h2r[j] = (-2.0 * c2 / (s * s)) * t * q
        else:
            er = buf2[r, i, j0:j0 + L]
            for j in range(L):
                hr[j] = c1 * tr[j]
                h1r[j] = (c2 / s) * er[j]
        if need_h2:
            zr, zsr = z[i], zs[i]
            if kind != 0:
                for j in range(L):
                    h2r[j] = (-2.0 * zsr[j] / s) * h1r[j]
            for j in range(L):
                zr[j] = s * zsr[j]


@njit(**_OPTS)
def record_sums(thetaT, u, vT, vu, X, X64, buf, buf2, parts, kind, hc, s, need_b, need_stiffness, couple, need_ref,
                block, use_blas, full=True):
    """The sums of :func:`observe_sums` and :func:`moment_sums` of a state from the particle kernel's own
    pass 1, which it leaves in ``buf``, ``buf2``, ``parts`` (so that
    :func:`theory._kernels_numba.particle_steps_primed` can skip it): a record costs the accumulation and
    the moments, not a second activation sweep.  Returns ``(f, b, H1, H2, stats, mean, cov, w2, ref_mean,
    ref_cov)``; ``ref_*`` are zeros unless ``need_ref``.  ``X`` is the kernel's copy (state dtype), ``X64`` the
    float64 data.  ``full=False`` (an outputs record): f, stats and only the diagonals of H1, H2 (enough for
    the trace bound on lambda_max(H) of the stability check); mean, cov, w2 and ``ref_*`` are zeros and the
    caller passes ``need_b=False``.

    Same formulas and block order as :func:`observe_sums`; the pre-activations are the kernel's
    ``X (1/s) theta`` (``observe_sums`` divides X by s: equal up to rounding when 1/s is inexact).
    """
    R, d, m = thetaT.shape
    n = X.shape[0]
    inv_s = 1.0 / s
    nb, Xs, XT, hcs = _prepare(thetaT, X, hc, inv_s, block)
    xsq = _xsq(X64)
    f, b = np.zeros((R, n)), np.zeros((R, n))
    H1, H2, stats = np.zeros((R, n, n)), np.zeros((R, n, n)), np.zeros((R, 4))
    zs, z, h, h1, h2 = (np.empty((n, block)), np.empty((n, block)), np.empty((n, block)), np.empty((n, block)),
                        np.empty((n, block)))
    g = np.empty((n, block))
    need_h2 = need_b or need_stiffness
    for r in range(R):
        th = thetaT[r]
        for bi in range(nb):
            j0 = bi * block
            L = min(block, m - j0)
            _pass1_block(thetaT, u, Xs, buf, buf2, kind, r, j0, L, parts[r, bi], use_blas)
            if not full and not need_stiffness:
                _accumulate_outputs(th, u[r, j0:j0 + L], buf, buf2, r, j0, L, kind, hc, s, h, f[r], H1[r], H2[r],
                                    stats[r])
                continue
            if need_h2:
                for i in range(n):
                    _contract(zs[i], Xs[i], th, j0, L)
            _rows_from_pass1(buf, buf2, r, j0, zs, kind, hc, s, L, z, h, h1, h2, need_h2)
            _accumulate(th, u[r, j0:j0 + L], j0, L, z, h, h1, h2, xsq, g, need_b, need_stiffness, full, f[r], b[r],
                        H1[r], H2[r], stats[r])
    _symmetrise(H1, H2)
    ref_mean, ref_cov = np.zeros((R, d + 1)), np.zeros((R, d + 1, d + 1))
    if not full:
        return f, b, H1, H2, stats, ref_mean.copy(), ref_cov.copy(), np.zeros(R), ref_mean, ref_cov
    mean, cov, w2 = moment_sums(thetaT, u, vT, vu, couple)
    if need_ref:
        ref_mean, ref_cov, _ = moment_sums(vT, vu, vT, vu, False)
    return f, b, H1, H2, stats, mean, cov, w2, ref_mean, ref_cov


@njit(**_OPTS)
def moment_sums(thetaT, u, vT, vu, couple):
    """Mean (R, k) and plug-in covariance (R, k, k) of w = (theta, u) (two passes), and the coupling
    sums ``sum_j |w_j - v_j|^2`` (R,) when ``couple``."""
    R, d, m = thetaT.shape
    k = d + 1
    mean = np.zeros((R, k))
    cov = np.zeros((R, k, k))
    w2 = np.zeros(R)
    for r in range(R):
        for c in range(d):
            acc = 0.0
            for j in range(m):
                acc += thetaT[r, c, j]
            mean[r, c] = acc / m
        acc = 0.0
        for j in range(m):
            acc += u[r, j]
        mean[r, d] = acc / m
        for a in range(k):
            ra = thetaT[r, a] if a < d else u[r]
            for c in range(a + 1):
                rc = thetaT[r, c] if c < d else u[r]
                ma, mc = mean[r, a], mean[r, c]
                acc = 0.0
                for j in range(m):
                    acc += (ra[j] - ma) * (rc[j] - mc)
                cov[r, a, c] = acc / m
                cov[r, c, a] = acc / m
        if couple:
            acc = 0.0
            for c in range(d):
                for j in range(m):
                    e = thetaT[r, c, j] - vT[r, c, j]
                    acc += e * e
            for j in range(m):
                e = u[r, j] - vu[r, j]
                acc += e * e
            w2[r] = acc
    return mean, cov, w2


@njit(**_OPTS)
def run_records(thetaT, u, vT, vu, X, X64, y, buf, buf2, parts, kind, hc, s, alpha, drift, coef, keys, couple, block,
                use_blas, primed, stops, need_b, need_stiffness, need_ref, full=True):
    """Steps and records in one call: record q is taken after ``stops[q]`` steps of ``keys`` (non-decreasing,
    ``stops[-1] == keys.size``), each stretch by :func:`particle_steps_primed` starting from the pass 1 that
    the previous record left in the buffers.  Returns the stacked :func:`record_sums` (leading axis Q).

    Serial kernel only: a compiled caller of the threaded kernel crashes (numba 0.6x, cached parfors), so
    the threaded runs loop in Python (:meth:`theory.dynamics.Dynamics.records`), where a stretch is long.
    ``full=False``: outputs records (:func:`record_sums`).
    """
    R, d, m = thetaT.shape
    n, k, Q = X.shape[0], d + 1, stops.size
    f, b, stats, w2 = np.zeros((Q, R, n)), np.zeros((Q, R, n)), np.zeros((Q, R, 4)), np.zeros((Q, R))
    H1, H2 = np.zeros((Q, R, n, n)), np.zeros((Q, R, n, n))
    mean, cov, ref_mean, ref_cov = (np.zeros((Q, R, k)), np.zeros((Q, R, k, k)), np.zeros((Q, R, k)),
                                    np.zeros((Q, R, k, k)))
    noise = np.empty((1, 1, 1, 1), thetaT.dtype)
    done = 0
    for q in range(Q):
        if stops[q] > done:
            particle_steps_primed(thetaT, u, vT, vu, X, y, buf, buf2, kind, hc, 1.0 / s, alpha, drift, coef,
                                  noise, False, keys[done:stops[q]], couple, block, use_blas, parts, primed)
            done = stops[q]
        (f[q], b[q], H1[q], H2[q], stats[q], mean[q], cov[q], w2[q], ref_mean[q],
         ref_cov[q]) = record_sums(thetaT, u, vT, vu, X, X64, buf, buf2, parts, kind, hc, s, need_b, need_stiffness,
                                   couple, need_ref, block, use_blas, full)
        primed = True
    return f, b, H1, H2, stats, mean, cov, w2, ref_mean, ref_cov
