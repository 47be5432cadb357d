"""Compiled kernels of the particle step (docs/architecture.md#speed) and the counter-based noise they share with numpy.

Layout: particles are stored component-major, ``thetaT (R, d, m)`` and ``u (R, m)``, so that every
inner loop runs over a contiguous run of particles and vectorises.  The step is two passes over
blocks of ``block`` particles:

* pass 1: ``z = X theta``, ``T = tanh(z / s)`` (branch-free via exp) stored in ``buf (R, n, m)``,
  and the block's partial sums ``sum_j u_j T_ji`` and ``sum_j u_j``;
* serial reduction of the block partials in a fixed order (so the result does not depend on the
  thread count), residual and loss-drift coefficients;
* pass 2: gradients, noise, update of ``w`` and of the coupled OU reference ``v``.

:func:`particle_steps` runs a whole stretch of steps in one call; its sweep over the blocks does pass 2
of step l and, while the block is in cache, pass 1 of step l + 1 (one sweep over the state per step
instead of two; the same operations in the same order, so bitwise the result of single steps).
:func:`particle_steps_primed` takes the block partials from its caller and may skip the first pass 1
when a record (:func:`theory._observe_numba.record_sums`) has just computed it.

Activations: the tanh family ``h(z) = c0 + c1 tanh(z / s)`` (kind 0; sigmoid is
``c/2 + (c/2) tanh(z / (2 s))``) and scaled erf (kind 1: Cephes' rational forms, as in scipy, evaluated
branch-free so that the loop vectorises; a second buffer keeps h' = exp(-z^2) for pass 2).  Others take
the numpy path of :mod:`theory.dynamics`.

Noise: SplitMix64 words ``mix(key_r + idx * GOLDEN)`` at the counter ``idx = 2 (j kp + q) + e``
(particle j, pair q < kp = ceil(k/2), word e), with ``key_r = mix(key + (r + 1) * GOLDEN2)`` for
replica r and ``key`` a function of (seed, step) only; each pair gives two normals by Box-Muller
(cos to component 2q, sin to 2q + 1).  :func:`theory.dynamics.counter_normals` is the vectorised
numpy twin; both give the same stream whatever the block size or thread count.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange, types, uint64
from numba.cpython.unsafe.numbers import leading_zeros
from numba.extending import intrinsic

__all__ = ["particle_step", "particle_step_parallel", "particle_steps", "particle_steps_parallel",
           "particle_steps_primed", "particle_steps_primed_parallel", "stream_keys",
           "counter_normals_nb", "counter_normals_np", "stream_key",
           "erf_exp_nb", "KIND_TANH", "KIND_ERF"]

GOLDEN = 0x9E3779B97F4A7C15
GOLDEN2 = 0xD1B54A32D192ED03
KIND_TANH = 0
KIND_ERF = 1

# No nnan/ninf: exp(2z) may reach large values and inputs may carry inf from a diverging run,
# which must propagate (and be caught by the caller) rather than be assumed away.  No afn: the
# numpy path uses accurate libm functions and the two paths must agree to ~1e-15.
_FASTMATH = {"nsz", "arcp", "contract", "reassoc"}
_OPTS = dict(cache=True, error_model="numpy", fastmath=_FASTMATH, nogil=True)

_M1 = uint64(0xBF58476D1CE4E5B9)
_M2 = uint64(0x94D049BB133111EB)
_G = uint64(GOLDEN)
_G2 = uint64(GOLDEN2)
_TWO_M53 = 2.0 ** -53
_TWO_PI = 2.0 * math.pi
#: |z / s| beyond which tanh is +-1 in float64 (tanh(20) = 1 - 8e-18 rounds to 1), so clamping
#: changes nothing and keeps exp(2z) finite.
_TANH_CLAMP = 20.0


@njit(inline="always", **_OPTS)
def _mix(z):
    z = (z ^ (z >> uint64(30))) * _M1
    z = (z ^ (z >> uint64(27))) * _M2
    return z ^ (z >> uint64(31))


# ---- branch-free elementary functions (vectorisable; numpy twins in theory.dynamics) -----------
# Horner coefficients, highest order first.  Truncation errors on the reduced ranges are below
# 1e-17 relative (the first omitted Taylor term), i.e. below rounding.
EXPM1_C = tuple(1.0 / math.factorial(k + 1) for k in range(12, -1, -1))   # (e^r - 1)/r, |r| <= ln2/2
LOG_C = tuple(1.0 / (2 * k + 1) for k in range(11, -1, -1))                  # atanh(s)/s in s^2
SIN_C = tuple((-1.0) ** k / math.factorial(2 * k + 1) for k in range(8, -1, -1))  # sin(p)/p in p^2
COS_C = tuple((-1.0) ** k / math.factorial(2 * k) for k in range(9, -1, -1))      # cos(p) in p^2
LN2_HI = 6.93147180369123816490e-01   # fdlibm split of ln 2: n * LN2_HI is exact for |n| < 2^11
LN2_LO = 1.90821492927058770002e-10
LOG2E = 1.4426950408889634
SQRT2 = 1.4142135623730951


@njit(inline="always", **_OPTS)
def _horner(x, coefs):
    p = 0.0
    for c in coefs:
        p = p * x + c
    return p


@njit(inline="always", **_OPTS)
def _tanh(z):
    """tanh(z) = -em1 / (2 + em1) with em1 = e^{-2|z|} - 1, sign restored (|error| ~ 1 ulp)."""
    y = 2.0 * min(abs(z), _TANH_CLAMP)
    nf = math.floor(y * LOG2E + 0.5)
    r = -(y - nf * LN2_HI) + nf * LN2_LO
    q = r * _horner(r, EXPM1_C)
    p2 = float(uint64(1) << uint64(62 - int(nf))) * 2.0 ** -62   # 2^-n, exact
    em1 = p2 * q + (p2 - 1.0)
    return math.copysign(-em1 / (2.0 + em1), z)


# Cephes' erf (|x| <= 1: x T(x^2) / U(x^2)) and erfc (1 < |x| < 8: exp(-x^2) P(x) / Q(x)), the forms
# scipy.special.erf evaluates; leading 1.0 of the monic denominators written out.
ERF_T = (9.60497373987051638749E0, 9.00260197203842689217E1, 2.23200534594684319226E3,
         7.00332514112805075473E3, 5.55923013010394962768E4)
ERF_U = (1.0, 3.35617141647503099647E1, 5.21357949780152679795E2, 4.59432382970980127987E3,
         2.26290000613890934246E4, 4.92673942608635921086E4)
ERFC_P = (2.46196981473530512524E-10, 5.64189564831068821977E-1, 7.46321056442269912687E0,
          4.86371970985681366614E1, 1.96520832956077098242E2, 5.26445194995477358631E2,
          9.34528527171957607540E2, 1.02755188689515710272E3, 5.57535335369399327526E2)
ERFC_Q = (1.0, 1.32281951154744992508E1, 8.67072140885989742329E1, 3.54937778887819891062E2,
          9.75708501743205489753E2, 1.82390916687909736289E3, 2.24633760818710981792E3,
          1.65666309194161350182E3, 5.57535340817727675546E2)
#: |x| beyond which erf(x) is +-1 in float64 (erfc(6) = 2.2e-17 < half an ulp of 1).
_ERF_CLAMP = 6.0
#: x^2 beyond which exp(-x^2) is below the smallest normal float64 (2.2e-308) and is returned as 0.
_EXP_NEG_MAX = 708.0


@intrinsic
def _bits_to_float(typingctx, bits):
    """Reinterpret a uint64 as the float64 with those bits (a register move; keeps loops vectorisable)."""
    sig = types.float64(types.uint64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(types.float64))

    return sig, codegen


@njit(inline="always", **_OPTS)
def _exp_neg(y):
    """exp(-y) for y >= 0 (~1 ulp; 0 below the normal range), branch-free: 2^-n e^r, |r| <= ln2/2."""
    yc = min(y, _EXP_NEG_MAX)
    nf = math.floor(yc * LOG2E + 0.5)
    r = -(yc - nf * LN2_HI) + nf * LN2_LO
    q = r * _horner(r, EXPM1_C)
    p2 = _bits_to_float(uint64(1023 - int(nf)) << uint64(52))      # 2^-n, exact (n <= 1022)
    e = p2 * q + p2
    return e if y <= _EXP_NEG_MAX else 0.0


@njit(inline="always", **_OPTS)
def _erf_exp(x):
    """(erf(x), exp(-x^2)), both branches of Cephes' erf computed and one selected before a single division.

    For 1 < |x| the value is ``1 - e P/Q = (Q - e P) / Q``.  Agrees with scipy.special.erf to below
    5e-16 relative (tests/test_dynamics.py); NaN in gives NaN out.
    """
    e = _exp_neg(x * x)
    ax = min(abs(x), _ERF_CLAMP)
    a2 = ax * ax
    small = ax <= 1.0
    ql = _horner(ax, ERFC_Q)
    num = ax * _horner(a2, ERF_T) if small else ql - e * _horner(ax, ERFC_P)
    den = _horner(a2, ERF_U) if small else ql
    t = math.copysign(num / den, x)
    nan = x != x
    return (x if nan else t), (x if nan else e)


@njit(**_OPTS)
def erf_exp_nb(x):
    """(erf(x), exp(-x^2)) of a 1-D float64 array by the kernel's vectorised form (test twin)."""
    t = np.empty_like(x)
    e = np.empty_like(x)
    for j in range(x.size):
        t[j], e[j] = _erf_exp(x[j])
    return t, e


@njit(inline="always", **_OPTS)
def _log_unit(N):
    """log(N 2^-53) for an integer 1 <= N <= 2^53 (a uniform on (0, 1])."""
    lz = leading_zeros(N)
    mant = float(N << uint64(lz)) * 2.0 ** -63                    # N = mant 2^(63 - lz), mant in [1, 2)
    big = mant > SQRT2
    mant = mant * 0.5 if big else mant
    e = float(10 - int(lz)) + (1.0 if big else 0.0)
    s = (mant - 1.0) / (mant + 1.0)
    return e * LN2_HI + (2.0 * s * _horner(s * s, LOG_C) + e * LN2_LO)


@njit(inline="always", **_OPTS)
def _sincos_turns(u2):
    """cos and sin of 2 pi u2 for u2 in [0, 1), by quarter-turn reduction (exact) and polynomials."""
    v = u2 - math.floor(u2 + 0.5)
    qf = math.floor(4.0 * v + 0.5)
    p = _TWO_PI * (v - 0.25 * qf)                                  # |p| <= pi/4
    p2 = p * p
    s = p * _horner(p2, SIN_C)
    c = _horner(p2, COS_C)
    cq = 1.0 - abs(qf)                                             # cos(qf pi/2), qf in {-2..2}
    sq = qf * (2.0 - abs(qf))                                      # sin(qf pi/2)
    return cq * c - sq * s, sq * c + cq * s


@njit(inline="always", **_OPTS)
def _pair_normals(key_r, word):
    a = _mix(key_r + word * _G)
    b = _mix(key_r + (word + uint64(1)) * _G)
    rad = math.sqrt(-2.0 * _log_unit((a >> uint64(11)) + uint64(1)))
    c, s = _sincos_turns(float(b >> uint64(11)) * _TWO_M53)
    return rad * c, rad * s


@njit(**_OPTS)
def _fill_noise(xi, key, r, j0, L, kp):
    """Normals of particles j0..j0+L-1 of replica r into ``xi (2 kp, >= L)``."""
    key_r = _mix(key + uint64(r + 1) * _G2)
    for q in range(kp):
        c0 = xi[2 * q]
        c1 = xi[2 * q + 1]
        for j in range(L):
            word = uint64(2) * (uint64(j0 + j) * uint64(kp) + uint64(q))
            g0, g1 = _pair_normals(key_r, word)
            c0[j] = g0
            c1[j] = g1


@njit(**_OPTS)
def counter_normals_nb(key, R, m, k):
    """The counter-based normals of one step, shape (R, m, k) (test twin of the numpy generator)."""
    kp = (k + 1) // 2
    out = np.empty((R, m, k))
    xi = np.empty((2 * kp, m))
    for r in range(R):
        _fill_noise(xi, key, r, 0, m, kp)
        for j in range(m):
            for c in range(k):
                out[r, j, c] = xi[c, j]
    return out


@njit(**_OPTS)
def _contract(out, w, V, off, L):
    """out[j] = sum_c w[c] V[c, off + j] for j < L: four rows of V per sweep (fewer loads/stores of out)."""
    K = w.shape[0]
    for j in range(L):
        out[j] = 0.0
    c = 0
    while c + 4 <= K:
        w0, w1, w2, w3 = w[c], w[c + 1], w[c + 2], w[c + 3]
        v0 = V[c, off:off + L]
        v1 = V[c + 1, off:off + L]
        v2 = V[c + 2, off:off + L]
        v3 = V[c + 3, off:off + L]
        for j in range(L):
            out[j] += (w0 * v0[j] + w1 * v1[j]) + (w2 * v2[j] + w3 * v3[j])
        c += 4
    while c < K:
        wc = w[c]
        vc = V[c, off:off + L]
        for j in range(L):
            out[j] += wc * vc[j]
        c += 1


@njit(**_OPTS)
def _pass1_block(thetaT, u, Xs, buf, buf2, kind, r, j0, L, part, use_blas):
    """z, activation values and the block's partial sums (part[i] = sum_j u_j T_ji, part[n] = sum u).

    ``use_blas``: z = Xs @ theta_block by BLAS on a contiguous copy (wins for large n d, docs/architecture.md#speed).
    """
    n, d = Xs.shape
    th = thetaT[r]
    uu = u[r, j0:j0 + L]
    zb = np.empty((0, 0))
    if use_blas:
        thb = np.empty((d, L))
        for c in range(d):
            thb[c] = th[c, j0:j0 + L]
        zb = np.dot(Xs, thb)
    for i in range(n):
        row = buf[r, i, j0:j0 + L]
        if use_blas:
            row[:] = zb[i]
        else:
            _contract(row, Xs[i], th, j0, L)
        acc = 0.0
        if kind == 0:
            for j in range(L):
                t = _tanh(row[j])
                row[j] = t
                acc += uu[j] * t
        else:
            row2 = buf2[r, i, j0:j0 + L]
            for j in range(L):
                t, e = _erf_exp(row[j])
                row2[j] = e
                row[j] = t
                acc += uu[j] * t
        part[i] = acc
    su = 0.0
    for j in range(L):
        su += uu[j]
    part[n] = su


@njit(**_OPTS)
def _pass2_block(thetaT, u, vT, vu, XT, buf, buf2, kind, hc, a, noise, use_noise, key, coef, r, j0, L, kp,
                 couple, use_blas, gth, gu, sb, xi):
    """Gradients, noise and the update of particles j0..j0+L-1 of replica r (see particle_step).

    ``gth (d, >= L)``, ``gu (>= L)``, ``sb (n, >= L)``, ``xi (2 kp, >= L)``: scratch, overwritten.
    """
    d, n = XT.shape
    c0, c1, c2 = hc[0], hc[1], hc[2]
    A, S, A0, S0 = coef[0], coef[1], coef[2], coef[3]
    for j in range(L):
        gu[j] = 0.0
    for i in range(n):
        ai = a[r, i]
        row = buf[r, i, j0:j0 + L]
        s = sb[i]
        if kind == 0:
            for j in range(L):
                t = row[j]
                gu[j] += ai * (c0 + c1 * t)
                s[j] = ai * c2 * (1.0 - t * t)
        else:
            row2 = buf2[r, i, j0:j0 + L]
            for j in range(L):
                gu[j] += ai * (c0 + c1 * row[j])
                s[j] = ai * c2 * row2[j]
    if use_blas:
        # BLAS needs contiguous operands: a fresh (n, L) copy (n d >= 200, so the copy is amortised).
        gth = np.dot(XT, np.ascontiguousarray(sb[:, :L]))
    else:
        for c in range(d):
            _contract(gth[c], XT[c], sb, 0, L)
    if use_noise:
        for c in range(d + 1):
            for j in range(L):
                xi[c, j] = noise[r, j0 + j, c]
    else:
        _fill_noise(xi, key, r, j0, L, kp)
    uu = u[r, j0:j0 + L]
    for c in range(d):
        t = thetaT[r, c, j0:j0 + L]
        g = gth[c]
        x = xi[c]
        for j in range(L):
            t[j] = A * t[j] + uu[j] * g[j] + S * x[j]
    x = xi[d]
    for j in range(L):
        uu[j] = A * uu[j] + gu[j] + S * x[j]
    if couple:
        for c in range(d):
            v = vT[r, c, j0:j0 + L]
            x = xi[c]
            for j in range(L):
                v[j] = A0 * v[j] + S0 * x[j]
        v = vu[r, j0:j0 + L]
        x = xi[d]
        for j in range(L):
            v[j] = A0 * v[j] + S0 * x[j]


@njit(**_OPTS)
def _residual_coefs(parts, hc, alpha, m, y, drift):
    """f (R, n) from the block partials (summed in block order) and a_i = -drift (2 alpha/n) r_i."""
    R, nb, n1 = parts.shape
    n = n1 - 1
    f = np.empty((R, n))
    a = np.empty((R, n))
    scale = -drift * 2.0 * alpha / n
    for r in range(R):
        su = 0.0
        for b in range(nb):
            su += parts[r, b, n]
        for i in range(n):
            st = 0.0
            for b in range(nb):
                st += parts[r, b, i]
            f[r, i] = alpha / m * (hc[0] * su + hc[1] * st)
            a[r, i] = scale * (f[r, i] - y[i])
    return f, a


@njit(**_OPTS)
def _scratch(n, d, kp, L):
    """Scratch of one block's pass 2: gth (d, L), gu (L), sb (n, L), xi (2 kp, L)."""
    return np.empty((d, L)), np.empty(L), np.empty((n, L)), np.empty((2 * kp, L))


@njit(**_OPTS)
def _prepare(thetaT, X, hc, inv_s, block):
    """Per-call constants: (nb, X / s, X^T, hc with h' scaled by 1/s)."""
    R, d, m = thetaT.shape
    nb = (m + block - 1) // block
    Xs = (X * inv_s).astype(np.float64)
    XT = np.ascontiguousarray(X.T).astype(np.float64)
    hcs = np.array([hc[0], hc[1], hc[2] * inv_s])
    return nb, Xs, XT, hcs


@njit(**_OPTS)
def particle_step(thetaT, u, vT, vu, X, y, buf, buf2, kind, hc, inv_s, alpha, drift, coef, noise, use_noise,
                  key, couple, block, use_blas):
    """One step of the particle scheme for all replicas, in place; returns f (R, n) before the step.

    Update (loss drift by Euler, OU part by the coefficients ``coef``)::

        r_i = f_m(x_i) - y_i,   a_i = -drift * (2 alpha / n) r_i
        theta <- A theta + u sum_i a_i h'(z_i) x_i + S xi_theta
        u     <- A u     + sum_i a_i h(z_i)         + S xi_u
        v     <- A0 v    + S0 xi                      (reference OU, same xi)

    Parameters
    ----------
    thetaT (R, d, m), u (R, m), vT (R, d, m), vu (R, m) : float arrays, updated in place
    X (n, d), y (n,) : data
    buf (R, n, m), buf2 (R, n, m) or (1, 1, 1) : work buffers (buf2 used by kind 1 only)
    kind : 0 (tanh family) or 1 (erf)
    hc : (3,) array
        ``h = c0 + c1 T``, ``h' = c2 (1 - T^2)`` (kind 0) or ``c2 exp(-(z/s)^2)`` (kind 1).
    inv_s : float
        1 / s, the input scale of the activation.
    alpha : float
    drift : float
        dt (scaling "pde") or dt / m (scaling "printed").
    coef : (4,) array
        ``A, S, A0, S0``.
    noise : (R, m, k) array (used when ``use_noise``) else any (1, 1, 1) array
    key : uint64
        Stream key of this step (seed, step).
    couple : bool
        Whether to advance the reference OU ``v``.
    block : int
        Particles per block.
    use_blas : bool
        The two (n x d x block) products by BLAS instead of the unrolled loops (faster for large n d).
    """
    keys = np.empty(1, dtype=np.uint64)
    keys[0] = key
    return particle_steps(thetaT, u, vT, vu, X, y, buf, buf2, kind, hc, inv_s, alpha, drift, coef, noise,
                          use_noise, keys, couple, block, use_blas)


@njit(**_OPTS)
def particle_steps(thetaT, u, vT, vu, X, y, buf, buf2, kind, hc, inv_s, alpha, drift, coef, noise, use_noise,
                   keys, couple, block, use_blas):
    """``len(keys)`` steps of :func:`particle_step` in one call (step l uses ``keys[l]``); returns f (R, n)
    before the last step.  Explicit ``noise`` needs a single key.

    Each sweep over the blocks does pass 2 of step l and, while the block is in cache, pass 1 of step
    l + 1 (the same operations on the same values as separate sweeps, so the result is bitwise that
    of ``len(keys)`` calls).  Block scratch is allocated once per call.
    """
    parts = np.empty((thetaT.shape[0], (thetaT.shape[2] + block - 1) // block, X.shape[0] + 1))
    return particle_steps_primed(thetaT, u, vT, vu, X, y, buf, buf2, kind, hc, inv_s, alpha, drift, coef,
                                 np.expand_dims(noise, 0), use_noise, keys, couple, block, use_blas, parts, False)


@njit(**_OPTS)
def particle_steps_primed(thetaT, u, vT, vu, X, y, buf, buf2, kind, hc, inv_s, alpha, drift, coef, noise,
                          use_noise, keys, couple, block, use_blas, parts, primed):
    """:func:`particle_steps` with the block partials ``parts (R, nb, n + 1)`` given; ``primed``: ``buf``,
    ``buf2`` and ``parts`` already hold pass 1 of the current state (left there by
    :func:`theory._observe_numba.record_sums`), so the first sweep is skipped (same values, bitwise).
    ``noise``: the explicit noise of every step, ``(len(keys), R, m, k)``, used when ``use_noise``
    (else any ``(1, 1, 1, 1)`` array)."""
    R, d, m = thetaT.shape
    n = X.shape[0]
    kp = (d + 2) // 2
    nb, Xs, XT, hcs = _prepare(thetaT, X, hc, inv_s, block)
    gth, gu, sb, xi = _scratch(n, d, kp, block)
    if not primed:
        for idx in range(R * nb):
            r, b = idx // nb, idx % nb
            _pass1_block(thetaT, u, Xs, buf, buf2, kind, r, b * block, min(block, m - b * block), parts[r, b],
                         use_blas)
    f = np.empty((R, n))
    for l in range(keys.size):
        f, a = _residual_coefs(parts, hc, alpha, m, y, drift)
        more = l + 1 < keys.size
        for idx in range(R * nb):
            r, b = idx // nb, idx % nb
            j0, L = b * block, min(block, m - b * block)
            _pass2_block(thetaT, u, vT, vu, XT, buf, buf2, kind, hcs, a, noise[l if use_noise else 0], use_noise,
                         keys[l], coef, r, j0, L, kp, couple, use_blas, gth, gu, sb, xi)
            if more:
                _pass1_block(thetaT, u, Xs, buf, buf2, kind, r, j0, L, parts[r, b], use_blas)
    return f


@njit(**_OPTS)
def particle_steps_parallel(thetaT, u, vT, vu, X, y, buf, buf2, kind, hc, inv_s, alpha, drift, coef, noise,
                            use_noise, keys, couple, block, use_blas):
    """:func:`particle_steps` with the block loops spread over numba's threads (same result, bitwise:
    block partials are reduced serially in block order and the noise is keyed per particle)."""
    parts = np.empty((thetaT.shape[0], (thetaT.shape[2] + block - 1) // block, X.shape[0] + 1))
    return particle_steps_primed_parallel(thetaT, u, vT, vu, X, y, buf, buf2, kind, hc, inv_s, alpha, drift, coef,
                                          np.expand_dims(noise, 0), use_noise, keys, couple, block, use_blas, parts,
                                          False)


@njit(parallel=True, **_OPTS)
def particle_steps_primed_parallel(thetaT, u, vT, vu, X, y, buf, buf2, kind, hc, inv_s, alpha, drift, coef, noise,
                                   use_noise, keys, couple, block, use_blas, parts, primed):
    """:func:`particle_steps_primed` with the block loops spread over numba's threads (bitwise the same)."""
    R, d, m = thetaT.shape
    n = X.shape[0]
    kp = (d + 2) // 2
    nb, Xs, XT, hcs = _prepare(thetaT, X, hc, inv_s, block)
    if not primed:
        for idx in prange(R * nb):
            r, b = idx // nb, idx % nb
            _pass1_block(thetaT, u, Xs, buf, buf2, kind, r, b * block, min(block, m - b * block), parts[r, b],
                         use_blas)
    f = np.empty((R, n))
    for l in range(keys.size):
        f, a = _residual_coefs(parts, hc, alpha, m, y, drift)
        more = l + 1 < keys.size
        key = keys[l]
        for idx in prange(R * nb):
            r, b = idx // nb, idx % nb
            j0, L = b * block, min(block, m - b * block)
            gth, gu, sb, xi = _scratch(n, d, kp, L)
            _pass2_block(thetaT, u, vT, vu, XT, buf, buf2, kind, hcs, a, noise[l if use_noise else 0], use_noise,
                         key, coef, r, j0, L, kp, couple, use_blas, gth, gu, sb, xi)
            if more:
                _pass1_block(thetaT, u, Xs, buf, buf2, kind, r, j0, L, parts[r, b], use_blas)
    return f


@njit(**_OPTS)
def particle_step_parallel(thetaT, u, vT, vu, X, y, buf, buf2, kind, hc, inv_s, alpha, drift, coef, noise,
                           use_noise, key, couple, block, use_blas):
    """One step of :func:`particle_steps_parallel` (same arguments as :func:`particle_step`)."""
    keys = np.empty(1, dtype=np.uint64)
    keys[0] = key
    return particle_steps_parallel(thetaT, u, vT, vu, X, y, buf, buf2, kind, hc, inv_s, alpha, drift, coef, noise,
                                   use_noise, keys, couple, block, use_blas)


# ---- numpy twin of the counter-based generator (same formulas, same order of operations) ----

def _mix_np(z):
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _horner_np(x, coefs):
    p = np.zeros_like(x)
    for c in coefs:
        p = p * x + c
    return p


def _log_unit_np(N):
    mant, ex = np.frexp(N.astype(np.float64))           # exact: N <= 2^53
    mant = mant * 2.0
    big = mant > SQRT2
    mant = np.where(big, mant * 0.5, mant)
    e = (ex - 1 - 53).astype(np.float64) + np.where(big, 1.0, 0.0)
    s = (mant - 1.0) / (mant + 1.0)
    return e * LN2_HI + (2.0 * s * _horner_np(s * s, LOG_C) + e * LN2_LO)


def _sincos_turns_np(u2):
    v = u2 - np.floor(u2 + 0.5)
    qf = np.floor(4.0 * v + 0.5)
    p = _TWO_PI * (v - 0.25 * qf)
    p2 = p * p
    s = p * _horner_np(p2, SIN_C)
    c = _horner_np(p2, COS_C)
    cq = 1.0 - np.abs(qf)
    sq = qf * (2.0 - np.abs(qf))
    return cq * c - sq * s, sq * c + cq * s


def counter_normals_np(key, R: int, m: int, k: int) -> np.ndarray:
    """The normals of one step, shape (R, m, k): the vectorised numpy twin of the kernel generator.

    Equal to :func:`counter_normals_nb` up to the rounding of fused multiply-adds (~1e-16).
    Memory: a few arrays of R * m * ceil(k/2) words.
    """
    kp = (k + 1) // 2
    key = np.uint64(key)
    r = np.arange(R, dtype=np.uint64)
    key_r = _mix_np(key + (r + np.uint64(1)) * np.uint64(GOLDEN2))[:, None, None]
    j = np.arange(m, dtype=np.uint64)[:, None]
    q = np.arange(kp, dtype=np.uint64)[None, :]
    word = (np.uint64(2) * (j * np.uint64(kp) + q))[None]
    a = _mix_np(key_r + word * np.uint64(GOLDEN))
    b = _mix_np(key_r + (word + np.uint64(1)) * np.uint64(GOLDEN))
    rad = np.sqrt(-2.0 * _log_unit_np((a >> np.uint64(11)) + np.uint64(1)))
    c, s = _sincos_turns_np((b >> np.uint64(11)).astype(np.float64) * _TWO_M53)
    return np.stack([rad * c, rad * s], axis=-1).reshape(R, m, 2 * kp)[..., :k]


def stream_keys(seed: int, step0: int, count: int) -> np.ndarray:
    """``[stream_key(seed, step0 + i) for i < count]`` as a uint64 array, vectorised (wrapping uint64
    arithmetic in numpy equals the masked Python arithmetic of :func:`stream_key`)."""
    mask = (1 << 64) - 1
    base = np.uint64((seed * GOLDEN + 0x632BE59BD9B4E019) & mask)
    steps = np.arange(step0 + 1, step0 + count + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        return _mix_np(_mix_np(base) + steps * np.uint64(GOLDEN2))


def stream_key(seed: int, step: int) -> np.uint64:
    """The 64-bit key of the noise of step ``step`` under ``seed`` (pure Python integer arithmetic)."""
    mask = (1 << 64) - 1

    def mix(z):
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
        return z ^ (z >> 31)

    return np.uint64(mix((mix((seed * GOLDEN + 0x632BE59BD9B4E019) & mask) + (step + 1) * GOLDEN2) & mask))
