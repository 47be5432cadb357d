"""Rigorous enclosures in ball arithmetic (python-flint / Arb): the building blocks of the proved tier.

Every function here returns an :class:`flint.arb` ball that is *guaranteed* to contain the true value
(Arb's propagated rounding and truncation errors, plus analytic bounds for what is not computed, e.g.
Gaussian tails outside an integration window).  Nothing here is a floating-point estimate: a ball with
a non-finite radius means the enclosure failed and callers must treat it as "not proved".

python-flint is an optional dependency (the ``proved`` extra): it is imported lazily, and
:func:`require_flint` raises an ImportError naming the extra when it is missing.

Gaussian expectations ``E f(Z)``, Z ~ N(0, 1), are ``acb.integral`` of ``f phi`` on ``[-L, L]`` plus a
ball of radius ``sup|f| * P(|Z| > L)`` (``f`` bounded) or ``e^{a^2/2} Q(.)`` terms (``|f| <= e^{a|z|}``);
``P(|Z| > L) = erfc(L / sqrt 2)`` is itself enclosed.  flint's working precision is raised to PREC bits
(a process-wide setting of python-flint) the first time a function here runs.  The derivations are in docs/claims.md
(the claim each one serves) and docs/verdicts.md ("proved").
"""

from __future__ import annotations

import math
from typing import Callable, Tuple

from .errors import DomainError

__all__ = ["require_flint", "bounds", "width", "gauss_pdf", "gauss_tail", "gauss_expect",
           "arb_activation", "log_mgf_hs", "sym_eig2", "sym_eigenvalues", "gaussian_w2_kl",
           "shift_family_value", "tilt_bounds", "dv_upper", "psi_bracket", "log_mgf_rank1",
           "activation_constant", "tail_bounds", "series_derivs", "expression_constant"]

#: Working precision in bits (~19 decimal digits): the reported widths (>= 1e-16 relative) are set by the
#: integration tolerances and tails, not by rounding.
PREC = 64
#: Relative tolerance asked of acb.integral (the result's radius is still rigorous when it is missed).
INT_TOL = 1e-14
#: Tolerances of the nested Hubbard-Stratonovich integral (inner m(t), outer over zeta): ~1e-8 absolute on
#: Lambda, 100x below the finite-difference widths the tilt bounds carry (their step is >= 1e-4); the
#: returned radius is rigorous whatever acb.integral reaches.
INNER_TOL, OUTER_TOL = 1e-10, 1e-8
#: Half-width of the outer window around zeta = beta alpha G1: the envelope e^{b zeta} phi(zeta) is a unit-width
#: Gaussian bump there, so its mass beyond is ~e^{-36} of the total (bounded analytically, added as a ball).
HS_WINDOW = 8.5


def require_flint():
    """The ``flint`` module, or ImportError naming the extra that provides it."""
    try:
        import flint
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError('the proved tier needs python-flint: pip install "gntk-checks[proved]"') from exc
    flint.ctx.prec = max(flint.ctx.prec, PREC)
    return flint


def bounds(x) -> Tuple[float, float]:
    """(lower, upper) floats of a ball, rounded outward (so the float interval still contains it)."""
    fl = require_flint()
    x = fl.arb(x)
    if not x.is_finite():
        return -math.inf, math.inf
    lo, hi = float(x.lower()), float(x.upper())
    # float() rounds to nearest: step outward only when the rounding went inward (exact ends stay exact)
    if not fl.arb(lo) <= x.lower():
        lo = math.nextafter(lo, -math.inf)
    if not fl.arb(hi) >= x.upper():
        hi = math.nextafter(hi, math.inf)
    return lo, hi


def width(x) -> float:
    """Width (2 * radius) of a ball as a float (inf when not finite)."""
    lo, hi = bounds(x)
    return hi - lo


def gauss_pdf(z):
    """phi(z) = exp(-z^2/2)/sqrt(2 pi) for an acb/arb argument (entire: no analytic check needed)."""
    fl = require_flint()
    return (-(z * z) / 2).exp() / (2 * fl.arb.pi()).sqrt()


def gauss_tail(L):
    """P(|Z| > L) = erfc(L / sqrt 2), enclosed (L >= 0)."""
    fl = require_flint()
    L = fl.arb(L)
    return (L / fl.arb(2).sqrt()).erfc()


def _err_ball(r):
    """The complex ball {|w| <= r} (as a square enclosing it), r an arb >= 0."""
    fl = require_flint()
    rr = fl.arb(0, fl.arb(r).abs_upper())
    return fl.acb(rr, rr)


def gauss_expect(f: Callable, L: float, tail) -> "object":
    """Enclosure of ``E f(Z)``: ``int_{-L}^{L} f(z) phi(z) dz`` plus a ball of radius ``tail``.

    Parameters
    ----------
    f : callable
        acb -> acb, analytic near [-L, L] (meromorphic functions are fine: a pole gives a non-finite ball).
    L : float
        Half-width of the integration window.
    tail : arb
        A rigorous upper bound on ``|int_{|z| > L} f(z) phi(z) dz|`` (e.g. ``sup|f| * gauss_tail(L)``).

    Returns
    -------
    acb
        The enclosure (real integrands give a ball whose imaginary part contains 0).
    """
    fl = require_flint()
    if not (L > 0):
        raise DomainError(f"L must be > 0, got {L!r}")
    core = fl.acb.integral(lambda z, _: f(z) * gauss_pdf(z), -L, L, rel_tol=INT_TOL, abs_tol=INT_TOL * 1e-3)
    return core + _err_ball(tail)


def arb_activation(base: str, c: float = 1.0, s: float = 1.0) -> Tuple[Callable, float, bool]:
    """``(h, G1, odd)`` of ``c * base(z / s)`` as an acb function (tanh, erf, sigmoid).

    G1 = sup|h| = |c| for all three (sigmoid < 1 and tanh, erf -> +-1); sigmoid is ``1/(1 + e^{-z})``,
    meromorphic (poles at i pi (2k+1)), so acb.integral needs no analytic flag.
    """
    c, s = float(c), float(s)
    if not (s > 0 and math.isfinite(s)):
        raise DomainError(f"s must be a finite number > 0, got {s!r}")
    if base == "tanh":
        return (lambda z: c * (z / s).tanh()), abs(c), True
    if base == "erf":
        return (lambda z: c * (z / s).erf()), abs(c), True
    if base == "sigmoid":
        return (lambda z: c / (1 + (-(z / s)).exp())), abs(c), False
    raise DomainError(f"base must be 'tanh', 'erf' or 'sigmoid', got {base!r}")


def _m_real(h: Callable, G1: float, t, s: float = 1.0):
    """m(t) = E exp(t h(Z)) = 2 int_0^inf cosh(t h(z)) phi(z) dz for a real ball t and odd h (|h| <= G1).

    The window [0, L] with L = max(12, 6 s) + 2 leaves ``cosh(t h) <= e^{G1 |t|}`` times P(|Z| > L) outside,
    added as a ball (rigorous; its size shows in the radius).  The integrand is written without helper
    calls because it is the hot loop of the proved tier (Python callbacks dominate the time).
    """
    fl = require_flint()
    t = fl.arb(t)
    L = max(12.0, 6.0 * s) + 2.0
    tail = (fl.arb(t.abs_upper()) * G1).exp() * gauss_tail(L)
    core = fl.acb.integral(lambda z, _: (t * h(z)).cosh() * (-(z * z) / 2).exp(), 0, L, rel_tol=INNER_TOL)
    return 2 * core.real / (2 * fl.arb.pi()).sqrt() + fl.arb(0, tail.upper())


def log_mgf_hs(n: int, h: Callable, G1: float, alpha: float, beta, s: float = 1.0):
    """Enclosure of ``Lambda(beta) = log E_zeta[m(beta alpha zeta / n)^n]`` (Hubbard-Stratonovich), h odd.

    ``Lambda(beta) = log E_{p0} exp(beta alpha u S_sigma(theta))`` for orthonormal inputs and odd h
    (the same for every sign vector sigma): ``E_u e^{b u S} = e^{b^2 S^2/2} = E_zeta e^{b zeta S}`` and the
    coordinates factorise.  The outer integrand ``F(zeta) = m(k zeta)^n phi(zeta)`` (k = beta alpha / n) is
    even and ``|m(t)| <= e^{G1 |Re t|}``, so ``|F| <= e^{b |zeta|} phi`` with b = beta alpha G1: the mass
    sits within HS_WINDOW of zeta = b, and the rest is bounded analytically (``e^{b^2/2} Q(.)`` terms).  On
    the complex balls acb.integral asks about (its error bounds), F is bounded by that same envelope (no
    inner integral); at the Gauss nodes (real points) m is the rigorous inner integral :func:`_m_real`.
    """
    fl = require_flint()
    beta = fl.arb(beta)
    k = beta * alpha / n
    b = bounds(beta * alpha * G1)[1]   # rounded up: the envelope needs b >= beta alpha G1
    lo, hi = max(0.0, b - HS_WINDOW), b + HS_WINDOW
    env = (fl.arb(b) ** 2 / 2).exp()
    sq2 = fl.arb(2).sqrt()
    # int_hi^inf e^{b z} phi = e^{b^2/2} Q(hi - b); int_0^lo e^{b z} phi <= e^{b^2/2} Q(b - lo)
    tails = env * (((fl.arb(hi) - b) / sq2).erfc() + ((fl.arb(b) - lo) / sq2).erfc() * (1 if lo > 0 else 0)) / 2

    def F(z, analytic):
        # exact-real nodes only take the precise path: dropping a non-zero imaginary part would not be rigorous
        if analytic or not z.imag.is_zero() or z.real.rad() > 1e-15:
            r = fl.arb((k * z).real.abs_upper() * G1)
            B = ((n * r).exp() * gauss_pdf(z).abs_upper()).upper()
            return fl.acb(fl.arb(0, B), fl.arb(0, B))
        return _m_real(h, G1, (k * z).real, s) ** n * gauss_pdf(z)

    core = fl.acb.integral(F, lo, hi, rel_tol=OUTER_TOL)
    return (2 * (core.real + fl.arb(0, tails.upper()))).log()


def sym_eig2(a, b, c):
    """Eigenvalues (lo, hi) of the symmetric 2x2 matrix [[a, b], [b, c]] of balls, enclosed in closed form."""
    mean, half = (a + c) / 2, (a - c) / 2
    r = (half * half + b * b).sqrt()
    return mean - r, mean + r


def sym_eigenvalues(rows) -> list:
    """Enclosures of the eigenvalues of a real symmetric matrix (rows of floats, taken exactly).

    flint's certified eigenvalue enclosures (``acb_mat.eig``, Rump's method, clusters allowed); the real
    parts are kept, which is valid because a real symmetric matrix has real eigenvalues.  ValueError when
    the enclosure fails (non-finite balls).
    """
    fl = require_flint()
    ev = fl.acb_mat([[fl.arb(float(v)) for v in r] for r in rows]).eig(algorithm="rump", multiple=True)
    out = [e.real for e in ev]
    if not all(e.is_finite() for e in out):
        raise DomainError(f"eigenvalue enclosure failed for the matrix {rows!r}")
    return sorted(out, key=lambda x: float(x.mid()))


def gaussian_w2_kl(mean, eigenvalues):
    """(W2^2, 2 KL, W2^2 - 2 KL) of N(mean, Sigma) against N(0, I), from enclosed eigenvalues e_i of Sigma.

    ``W2^2 = |mean|^2 + sum (sqrt(e_i) - 1)^2`` (Bures, Sigma and I commute) and ``2 KL = |mean|^2 +
    sum (e_i - 1 - log e_i)``: balls, in the cancellation-free forms.  The difference is computed on its own
    as ``sum (log e_i - 2 (sqrt(e_i) - 1))`` (the mean cancels symbolically, so at e_i = 1 it is exactly 0).
    """
    fl = require_flint()
    m2 = sum((fl.arb(float(v)) ** 2 for v in mean), fl.arb(0))
    w2 = m2 + sum(((e.sqrt() - 1) ** 2 for e in eigenvalues), fl.arb(0))
    kl2 = m2 + sum(((e - 1) - e.log() for e in eigenvalues), fl.arb(0))
    gap = sum((e.log() - 2 * (e.sqrt() - 1) for e in eigenvalues), fl.arb(0))
    return w2, kl2, gap


# ------------------------------------------------------------------------- Lemma 5.5 (E10)
def shift_family_value(n: int, h: Callable, G1: float, alpha: float, M: float, c: float):
    """Feasible-measure lower bound on R_hat_S (orthonormal inputs, odd h): the Gaussian shift family.

    For each sign vector sigma, ``theta ~ N(c sigma, I)`` and ``u | theta ~ N(b S_sigma(theta), 1)`` with
    ``S_sigma = (1/n) sum_i sigma_i h(theta_i)``: ``KL = n c^2/2 + b^2 E[S^2]/2`` and the value
    ``alpha b E[S^2]``, where ``E[S^2] = (n B + n(n-1) A^2)/n^2``, ``A = E h(Z + c)``, ``B = E h(Z + c)^2``
    (odd h: the law of sigma_i h(theta_i) does not depend on sigma).  b is a float chosen just inside the
    ball; feasibility is checked on the enclosure (upper KL <= M), else ValueError.

    Returns
    -------
    dict
        ``value`` (ball), ``kl`` (ball), ``A``, ``B``, ``ES2`` (balls), ``b`` and ``c`` (floats).
    """
    fl = require_flint()
    L = 12.0 + abs(c)
    tail = gauss_tail(12.0) * max(G1, G1 ** 2)   # |h| <= G1 and |h^2| <= G1^2 outside [-L, L] too
    A = gauss_expect(lambda z: h(z + c), L, tail).real
    B = gauss_expect(lambda z: h(z + c) ** 2, L, tail).real
    ES2 = (n * B + n * (n - 1) * A * A) / (n * n)
    room = M - n * c * c / 2
    if not room > 0:
        raise DomainError(f"c = {c!r} spends the whole ball: n c^2 / 2 >= M = {M!r}")
    b = math.sqrt(2.0 * room / float(ES2.mid())) * (1.0 - 1e-9)   # just inside, by a rounding margin
    kl = fl.arb(n) * c * c / 2 + fl.arb(b) ** 2 * ES2 / 2
    if not kl.upper() <= M:
        raise DomainError(f"shift family at c = {c!r}, b = {b!r} is not provably inside KL <= {M!r}: {kl}")
    return {"value": alpha * fl.arb(b) * ES2, "kl": kl, "A": A, "B": B, "ES2": ES2, "b": b, "c": c}


def tilt_bounds(n: int, h: Callable, G1: float, alpha: float, beta: float, step: float, s: float = 1.0):
    """Enclosed bounds from the DV tilt ``p_beta ∝ p0 e^{beta alpha u S}`` (orthonormal inputs, odd h).

    Lambda is convex, so its difference quotients bracket the derivative:
    ``(Lambda(b) - Lambda(b - e))/e <= Lambda'(b) <= (Lambda(b + e) - Lambda(b))/e``.  The tilt's value is
    ``Lambda'(beta)`` (bounded below by the left quotient) and its divergence ``KL(p_beta) = beta Lambda'(beta)
    - Lambda(beta)`` (bounded above with the right quotient).  The Donsker-Varadhan bound
    ``(M + Lambda(beta))/beta`` is an upper bound on R_hat_S at any beta and any M.

    Returns
    -------
    dict
        ``lam`` (Lambda(beta)), ``value_lower`` (ball whose every point is <= Lambda'(beta)), ``kl_upper``
        (ball whose every point is >= KL(p_beta)).
    """
    fl = require_flint()
    b, e = fl.arb(beta), fl.arb(step)
    lam_m, lam, lam_p = (log_mgf_hs(n, h, G1, alpha, x, s) for x in (b - e, b, b + e))
    return {"lam": lam, "value_lower": (lam - lam_m) / e, "kl_upper": b * (lam_p - lam) / e - lam}


def dv_upper(M: float, lam, beta: float):
    """The Donsker-Varadhan upper bound ``(M + Lambda(beta)) / beta`` on sup_{KL <= M} E_p[g], enclosed."""
    fl = require_flint()
    return (fl.arb(M) + lam) / fl.arb(beta)


def psi_bracket(M: float):
    """Enclosure of ``psi(M) = inf_{0<t<1} (M - log(1 - t^2)/2) / t`` (the corrected Lemma 5.5 bound).

    ``g(t) = (M - log(1-t^2)/2)/t`` has ``t^2 g'(t) = N(t) = t^2/(1-t^2) - M + log(1-t^2)/2``, and N is
    increasing (``N' = t (1 + t^2)/(1 - t^2)^2 > 0``), so g is minimal at the root t* of N.  A float t* is
    bracketed by [t1, t2] with N(t1) < 0 < N(t2) proved in ball arithmetic, and psi lies in the interval
    evaluation of g on [t1, t2] (which contains g(t*)).  ValueError when the bracket cannot be proved.
    """
    from scipy.optimize import brentq
    fl = require_flint()
    Mf = float(M)
    if not (Mf > 0 and math.isfinite(Mf)):
        raise DomainError(f"M must be a finite number > 0, got {M!r}")
    Nf = lambda t: t * t / (1 - t * t) - Mf + 0.5 * math.log1p(-t * t)   # noqa: E731
    hi = 1.0 - 1e-16
    t = brentq(Nf, 1e-12, hi, xtol=1e-15, rtol=1e-15, maxiter=300)
    Nb = lambda t: t * t / (1 - t * t) - Mf + (1 - t * t).log() / 2   # noqa: E731
    for eps in (1e-12, 1e-9, 1e-6):
        t1, t2 = fl.arb(t * (1 - eps)), fl.arb(min(t * (1 + eps), 0.5 * (t + 1)))
        if Nb(t1) < 0 and Nb(t2) > 0:
            T = t1.union(t2)
            return (Mf - (1 - T * T).log() / 2) / T
    raise DomainError(f"could not bracket the minimiser of psi at M = {M!r}")


def log_mgf_rank1(x, sigma, h: Callable, G1: float, alpha: float, beta):
    """Enclosure of ``Lambda_sigma(beta) = log E_z exp(beta^2 alpha^2 S(z)^2 / 2)``, ``S = (1/n) sum sigma_i h(z x_i)``.

    Rank-1 inputs ``x_i = r_i e`` (d = 1 included): ``theta . x_i = z r_i`` with z ~ N(0, 1), so the DV
    log-MGF of ``alpha u S_sigma(theta)`` is this one-dimensional integral.  ``|S| <= G1`` gives the tail
    ``e^{kappa G1^2} P(|Z| > L)`` (kappa = beta^2 alpha^2 / 2) with L = sqrt(2 kappa) G1 + 12, below e^{-72}
    of the integral (>= 1).
    """
    fl = require_flint()
    n = len(x)
    beta = fl.arb(beta)
    kappa = beta * beta * alpha * alpha / 2
    L = math.sqrt(2.0 * float(kappa.upper())) * G1 + 12.0
    tail = (kappa * G1 * G1).exp() * gauss_tail(L)
    xs, sg = [fl.arb(float(v)) for v in x], [int(v) for v in sigma]

    def f(z):
        S = sum((h(z * xi) if si > 0 else -h(z * xi) for si, xi in zip(sg, xs)), fl.acb(0)) / n
        return (kappa * S * S).exp()
    return gauss_expect(f, L, tail).real.log()


# ------------------------------------------------------------------ activation constants G1..G5
def _derivs(base: str, z):
    """(h, h', h'', h''', h'''') of a built-in at an arb ball z (closed-form derivative expressions)."""
    fl = require_flint()
    if base == "tanh":
        t = z.tanh()
        d1 = 1 - t * t
        return t, d1, -2 * t * d1, d1 * (6 * t * t - 2), d1 * (16 * t - 24 * t ** 3)
    if base == "sigmoid":
        t = 1 / (1 + (-z).exp())
        d1 = t * (1 - t)
        return t, d1, d1 * (1 - 2 * t), d1 * (1 - 6 * t + 6 * t * t), d1 * (1 - 14 * t + 36 * t * t - 24 * t ** 3)
    if base == "erf":
        d1 = 2 / fl.arb.pi().sqrt() * (-(z * z)).exp()
        return z.erf(), d1, -2 * z * d1, (4 * z * z - 2) * d1, (12 * z - 8 * z ** 3) * d1
    raise DomainError(f"base must be 'tanh', 'sigmoid' or 'erf', got {base!r}")


def _g_and_slope(derivs: Callable, k: int, z):
    """(g_k(z), g_k'(z)) for g = h, h', h'', h' + z h'', h''' (k = 1..5), from ``derivs(z) = (h, .., h'''')``."""
    d = derivs(z)
    if k == 4:
        return d[1] + z * d[2], 2 * d[2] + z * d[3]
    i = k - 1 if k < 4 else 3
    return d[i], d[i + 1]


def _abs_upper_on(derivs: Callable, k: int, z) -> float:
    """Upper bound of |g_k| on the ball z: the tighter of the direct and the centred (mean-value) forms."""
    fl = require_flint()
    direct, slope = _g_and_slope(derivs, k, z)
    up = bounds(abs(direct))[1]
    if z.rad() > 0:
        centred = _g_and_slope(derivs, k, fl.arb(z.mid()))[0] + slope * fl.arb(0, z.rad())
        up = min(up, bounds(abs(centred))[1])
    return up


#: Where the subdivision stops: beyond |z| > TAIL_B every |expression| is bounded in closed form.
TAIL_B = 40.0


def tail_bounds(base: str, B: float):
    """Upper bounds of (|h|, |h'|, |h''|, |h' + z h''|, |h'''|) on |z| >= B (B >= 3), in closed form.

    tanh: sech^2 z <= 4 e^{-2|z|}, |tanh| <= 1, |6t^2 - 2| <= 4, and (1 + 2|z|) 4 e^{-2|z|} decreases for
    |z| >= 1/2.  sigmoid: s(1 - s) <= e^{-|z|}, |1 - 2s| <= 1, |1 - 6s + 6s^2| <= 1, (1 + |z|) e^{-|z|}
    decreasing.  erf: poly(|z|) e^{-z^2} with polynomials of degree <= 2 decreases for |z| >= 3.
    """
    fl = require_flint()
    B = fl.arb(B)
    if base == "tanh":
        e = 4 * (-2 * B).exp()
        return fl.arb(1), e, 2 * e, e * (1 + 2 * B), 4 * e
    if base == "sigmoid":
        e = (-B).exp()
        return fl.arb(1), e, e, e * (1 + B), e
    e = 2 / fl.arb.pi().sqrt() * (-(B * B)).exp()
    return fl.arb(1), e, 2 * B * e, (2 * B * B + 1) * e, (4 * B * B + 2) * e


def _branch_and_bound(derivs: Callable, k: int, B: float, tail_up: float, tol: float, max_boxes: int):
    """Enclosure of max(sup_{|z| <= B} |g_k|, a tail bound): branch and bound on [-B, B].

    A box's interval evaluation (direct or centred, the tighter: quadratic convergence at an interior
    maximum) bounds |g_k| on it from above, point values bound the sup from below; boxes whose upper bound
    is below the best lower bound are dropped, the rest bisected until the enclosure is narrower than
    ``tol`` (relative) or ``max_boxes`` boxes were evaluated (then the enclosure is just wider).
    """
    import heapq
    fl = require_flint()
    if k not in (1, 2, 3, 4, 5):
        raise DomainError(f"k must be 1..5, got {k!r}")
    low = lambda z: bounds(abs(_g_and_slope(derivs, k, fl.arb(z))[0]))[0]   # noqa: E731  (rounded down)
    lower = max(low(B), low(-B), low(0.0))
    heap, done_up, n_eval = [(-math.inf, -B, B)], tail_up, 0
    while heap:
        neg_up, a, b = heapq.heappop(heap)
        up = -neg_up
        if up <= lower:
            continue
        if n_eval >= max_boxes or (b - a) < 1e-15 or (math.isfinite(up) and up - lower <= tol * max(lower, 1e-300)):
            done_up = max(done_up, up)   # kept as it is: its bound enters the enclosure
            continue
        m = 0.5 * (a + b)
        lower = max(lower, low(m))
        for lo, hi in ((a, m), (m, b)):
            u = _abs_upper_on(derivs, k, fl.arb(lo).union(fl.arb(hi)))   # covers [lo, hi] exactly
            n_eval += 1
            if u > lower:
                heapq.heappush(heap, (-u, lo, hi))
    return fl.arb(lower).union(fl.arb(max(done_up, lower)))


def activation_constant(base: str, k: int, tol: float = 1e-12, max_boxes: int = 20000):
    """Enclosure [lower, upper] of G_k = sup_z |g_k(z)| of a built-in (k = 1..5: h, h', h'', h' + z h'', h''').

    :func:`_branch_and_bound` on [-TAIL_B, TAIL_B]; the tail |z| > TAIL_B is bounded by :func:`tail_bounds`,
    and a sup approached at infinity (|h| of all three) is caught from below by |h(+-TAIL_B)|.
    """
    tail = bounds(tail_bounds(base, TAIL_B)[k - 1])[1] if k in (1, 2, 3, 4, 5) else 0.0
    return _branch_and_bound(lambda z: _derivs(base, z), k, TAIL_B, tail, tol, max_boxes)


def series_derivs(expr: Callable) -> Callable:
    """``z -> (h, h', h'', h''', h'''')`` of an expression, by Taylor arithmetic (``flint.arb_series``).

    ``expr`` maps an arb_series to an arb_series using arithmetic and arb_series methods (exp, log, erf,
    atan, sqrt, ...); at a ball z the Taylor coefficients are rigorous enclosures over the whole ball, so
    ``h^(j)(z) = j! c_j``.  This is what makes the constants of a user activation rigorous.
    """
    fl = require_flint()

    def derivs(z):
        try:
            c = expr(fl.arb_series([fl.arb(z), 1], prec=5))
        except (ValueError, ZeroDivisionError):   # a wide ball met a division by a ball containing 0
            return (fl.arb("nan"),) * 5           # non-finite: the box is bisected, never trusted
        co = (list(c.coeffs()) + [fl.arb(0)] * 5)[:5]
        return tuple(co[j] * math.factorial(j) for j in range(5))
    return derivs


def expression_constant(expr: Callable, k: int, B: float, tail_upper: float, tol: float = 1e-10,
                        max_boxes: int = 20000):
    """Enclosure of G_k for an activation given as an expression flint can evaluate (see :func:`series_derivs`).

    The sup over |z| <= B is enclosed rigorously; ``tail_upper`` must be a bound of |g_k| on |z| > B that the
    caller vouches for (e.g. from monotone tails): it enters the upper end only, and is reported as such.
    """
    B, tail_upper = float(B), float(tail_upper)
    if not (B > 0 and math.isfinite(B)):
        raise DomainError(f"B must be a finite number > 0, got {B!r}")
    if not (tail_upper >= 0):
        raise DomainError(f"tail_upper must be >= 0, got {tail_upper!r}")
    return _branch_and_bound(series_derivs(expr), k, B, tail_upper, tol, max_boxes)
