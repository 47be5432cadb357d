"""KL, chi^2 and W2 divergences, mostly against p0 = N(0, I) (docs/claims.md#lemma-54, 4.9, 5).

* Gaussians, tier E: ``KL(N(m1,S1)||N(m2,S2))``, the Bures formula for ``W2``, and their forms
  against p0 through the eigenvalues e_i of Sigma (docs/claims.md#lemma-54); ``chi^2(N(m,S)||p0)`` (docs/claims.md#theorem-45).
* Certified bounds (docs/evidence.md#certified-and-estimated-quantities) for a measure p known only through its exact mean and covariance:
  ``KL(p||p0) >= KL(N_p||p0)`` (moment matching) and ``W2(p,p0) >= W2(N_p,p0)`` (Gelbrich).
* 1-D measures with a positive density (:class:`Measure1D`), tier E: ``KL(p||N(0,1))`` and
  ``W2(p,N(0,1))`` by adaptive Gauss-Kronrod quadrature with its error estimate, either in x
  (density, cdf) or in the Gaussian variable z through the monotone transport ``T = F^{-1} o Phi``,
  ``W2^2 = E_Z (T(Z) - Z)^2`` and ``KL = E_Z[(T(Z)^2 - Z^2)/2 - log T'(Z)]``.  Product measures add
  both over coordinates.
* Exact optimal transport between equal-size point clouds, for cross-checks.

References: Gelbrich (1990), Math. Nachr. 147; Otto & Villani (2000), J. Funct. Anal. 173 (T2).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Callable, Optional, Sequence, Tuple

import numpy as np
from scipy.integrate import cubature
from scipy.optimize import linear_sum_assignment
from scipy.special import log_ndtr, logsumexp, ndtri, ndtri_exp

from ._validation import MAX_ABS, as_float_array, check_positive, check_real, check_rng, check_vector
from .errors import ConvergenceError, DomainError, QuadratureWarning, ShapeError

__all__ = [
    "kl_gaussian", "kl_gaussian_p0", "w2_squared_gaussian", "w2_gaussian", "w2_squared_gaussian_p0",
    "w2_gaussian_p0", "chi2_gaussian_p0", "kl_lower_bound_moments", "w2_lower_bound_gelbrich",
    "Measure1D", "Integral1D", "gaussian_1d", "mixture_1d", "pushforward_1d", "kl_1d",
    "w2_squared_1d", "w2_1d", "kl_product", "w2_squared_product", "w2_product", "product_moments",
    "w2_squared_empirical", "w2_empirical",
]

#: Half-width of the z-range integrated: phi(37.5) ~ 1e-306 is still a normal float, and what lies
#: beyond (mass ~ 1e-308 times polynomial growth) is far below any tolerance we use.
Z_MAX = 37.5
#: Quadrature tolerances: values are O(1e-3..1e2); 1e-12 relative leaves room under the 1e-11
#: agreement docs/claims.md#lemma-54 reports between two independent quadratures.
_QUAD_RTOL, _QUAD_ATOL = 1e-12, 1e-15
#: Region cap of the adaptive rule (x 21 nodes); smooth integrands here need tens of regions.
_QUAD_MAX_SUBDIVISIONS = 4000
_LOG_2PI = math.log(2.0 * math.pi)


def _log_phi(z):
    return -0.5 * z * z - 0.5 * _LOG_2PI


# ------------------------------------------------------------------------------------ Gaussians
# (closed forms in theory/_gaussian_divergences.py, re-exported here)
from ._gaussian_divergences import (chi2_gaussian_p0, kl_gaussian, kl_gaussian_p0,  # noqa: E402
                                    kl_lower_bound_moments, w2_gaussian, w2_gaussian_p0,
                                    w2_lower_bound_gelbrich, w2_squared_gaussian, w2_squared_gaussian_p0)


# ------------------------------------------------------------------------------- 1-D measures
@dataclass(frozen=True)
class Measure1D:
    """A probability measure on R with a positive density, also written as ``T # N(0,1)``.

    Attributes
    ----------
    name : str
    logpdf, logcdf, logsf : callables on arrays of x
    transport : callable, z -> x
        The increasing map ``T = F^{-1} o Phi`` (accurate in both tails).
    log_dtransport : callable, z -> log T'(z)
    mean, var : float
        Exact first two moments (certified bounds of docs/evidence.md#certified-and-estimated-quantities use them).
    x_range : (float, float)
        ``(T(-Z_MAX), T(Z_MAX))``: outside it the mass is below 1e-300.
    breakpoints : tuple of float
        Points of x where the density changes fast (component centres), for the quadrature.
    native : {"x", "z"}
        The cheap quadrature route; the other one needs root finding.
    """

    name: str
    logpdf: Callable[[np.ndarray], np.ndarray]
    logcdf: Callable[[np.ndarray], np.ndarray]
    logsf: Callable[[np.ndarray], np.ndarray]
    transport: Callable[[np.ndarray], np.ndarray]
    log_dtransport: Callable[[np.ndarray], np.ndarray]
    mean: float
    var: float
    x_range: Tuple[float, float]
    breakpoints: Tuple[float, ...]
    native: str

    def pdf(self, x):
        """Density at x."""
        return np.exp(self.logpdf(np.asarray(x, dtype=np.float64)))

    def cdf(self, x):
        """Distribution function at x."""
        return np.exp(self.logcdf(np.asarray(x, dtype=np.float64)))

    def ppf(self, q):
        """Quantile function ``F^{-1}(q) = T(Phi^{-1}(q))`` for q in (0, 1)."""
        q = as_float_array("q", q)
        if np.any((q <= 0.0) | (q >= 1.0)):
            raise DomainError(f"q must lie in (0, 1), got min {q.min()!r}, max {q.max()!r}")
        return self.transport(ndtri(q))

    def to_z(self, x):
        """``S(x) = Phi^{-1}(F(x))``, the inverse transport, from whichever tail is accurate."""
        x = np.asarray(x, dtype=np.float64)
        lc, ls = self.logcdf(x), self.logsf(x)
        return np.where(lc < ls, ndtri_exp(np.minimum(lc, 0.0)), -ndtri_exp(np.minimum(ls, 0.0)))

    def sample(self, size: int, rng) -> np.ndarray:
        """``size`` draws ``T(Z)``, Z ~ N(0,1) from ``rng``."""
        rng = check_rng("rng", rng)
        return self.transport(rng.standard_normal(int(size)))


def _solve_increasing(g: Callable, target: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                      dg: Optional[Callable] = None, max_iter: int = 200) -> np.ndarray:
    """Elementwise root of ``g(x) = target`` for increasing g bracketed by [lo, hi].

    Safeguarded Newton (Numerical Recipes' rtsafe): a Newton step is taken when it stays inside
    the bracket and is at most half the previous step, otherwise the bracket is bisected.
    """
    lo, hi = np.array(lo, dtype=np.float64), np.array(hi, dtype=np.float64)
    x = 0.5 * (lo + hi)
    step_prev = hi - lo
    for _ in range(max_iter):
        val = g(x) - target
        above = val > 0
        hi, lo = np.where(above, x, hi), np.where(above, lo, x)
        x_new = 0.5 * (lo + hi)
        if dg is not None:
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                cand = x - val / dg(x)
            ok = np.isfinite(cand) & (cand >= lo) & (cand <= hi) & (np.abs(cand - x) <= 0.5 * step_prev)
            x_new = np.where(ok, cand, x_new)
        step = np.abs(x_new - x)
        # Converged when the step (or the bracket) is at rounding level: a few ulps of x.
        ulps = 4e-16 * (1.0 + np.abs(x_new))
        if np.all((step <= ulps) | (hi - lo <= ulps)):
            return x_new
        x, step_prev = x_new, np.maximum(step, hi - lo)
    raise ConvergenceError(f"monotone inversion did not converge in {max_iter} iterations")


def gaussian_1d(mean: float, sd: float) -> Measure1D:
    """``N(mean, sd^2)`` as a :class:`Measure1D` (every function in closed form)."""
    m = check_real("mean", mean)
    if abs(m) > MAX_ABS:
        raise DomainError(f"mean must have |mean| <= {MAX_ABS:.0e} (its square enters the moments), got {mean!r}")
    # sd^2 is the variance field, and sd^-1 scales every density: both must stay inside float64.
    s = check_positive("sd", sd, minimum=1.0 / MAX_ABS, maximum=MAX_ABS, why="sd^2 and 1/sd must stay finite")
    return Measure1D(
        name=f"N({m:.4g},{s:.4g}^2)",
        logpdf=lambda x: _log_phi((np.asarray(x) - m) / s) - math.log(s),
        logcdf=lambda x: log_ndtr((np.asarray(x) - m) / s),
        logsf=lambda x: log_ndtr((m - np.asarray(x)) / s),
        transport=lambda z: m + s * np.asarray(z, dtype=np.float64),
        log_dtransport=lambda z: np.full(np.shape(z), math.log(s)),
        mean=m, var=s * s, x_range=(m - Z_MAX * s, m + Z_MAX * s), breakpoints=(m,), native="z")


def mixture_1d(weights: Sequence[float], means: Sequence[float], sds: Sequence[float]) -> Measure1D:
    """The Gaussian mixture ``sum_j w_j N(means_j, sds_j^2)`` as a :class:`Measure1D`.

    Weights must be positive and sum to 1 (within 1e-12).  The transport solves
    ``F(x) = Phi(z)`` in log space (``log F`` left of the median, ``log(1-F)`` right of it), so
    both tails keep full relative accuracy; the bracket ``[min_j(m_j + s_j z), max_j(m_j + s_j z)]``
    is exact because each component cdf crosses Phi(z) there.
    """
    w = check_vector("weights", weights)
    mu = check_vector("means", means, length=w.size)
    s = check_vector("sds", sds, length=w.size)
    if np.any(w <= 0) or abs(float(w.sum()) - 1.0) > 1e-12:
        raise DomainError(f"weights must be > 0 and sum to 1, got {w.tolist()!r}")
    if np.any(s <= 0):
        raise DomainError(f"sds must be > 0, got {s.tolist()!r}")
    lw = np.log(w)

    def comps(x):
        return (np.asarray(x, dtype=np.float64)[..., None] - mu) / s

    logpdf = lambda x: logsumexp(lw + _log_phi(comps(x)) - np.log(s), axis=-1)  # noqa: E731
    logcdf = lambda x: logsumexp(lw + log_ndtr(comps(x)), axis=-1)  # noqa: E731
    logsf = lambda x: logsumexp(lw + log_ndtr(-comps(x)), axis=-1)  # noqa: E731

    def transport(z):
        z = np.asarray(z, dtype=np.float64)
        left = z < 0
        tgt = np.where(left, log_ndtr(z), -log_ndtr(-z))
        g = lambda x: np.where(left, logcdf(x), -logsf(x))  # noqa: E731
        dg = lambda x: np.exp(logpdf(x) - np.where(left, logcdf(x), logsf(x)))  # noqa: E731
        ends = mu + s * z[..., None]
        return _solve_increasing(g, tgt, ends.min(axis=-1), ends.max(axis=-1), dg)

    mean = float(w @ mu)
    var = float(w @ (s ** 2 + mu ** 2)) - mean ** 2
    return Measure1D(
        name="mixture(" + ", ".join(f"{a:.3g}N({b:.3g},{c:.3g}^2)" for a, b, c in zip(w, mu, s)) + ")",
        logpdf=logpdf, logcdf=logcdf, logsf=logsf, transport=transport,
        log_dtransport=lambda z: _log_phi(np.asarray(z)) - logpdf(transport(z)),
        mean=mean, var=var, x_range=(float(np.min(mu - Z_MAX * s)), float(np.max(mu + Z_MAX * s))),
        breakpoints=tuple(sorted(set(float(v) for v in mu))), native="x")


def pushforward_1d(base: Measure1D, T: Callable, dT: Callable, name: str = "pushforward") -> Measure1D:
    """The image ``T # base`` of a 1-D measure by an increasing C^1 map T with derivative dT > 0.

    ``log p(x) = log base(y) - log T'(y)``, ``F(x) = F_base(y)`` with ``y = T^{-1}(x)`` (safeguarded
    Newton); the transport from N(0,1) is ``T o T_base``.  T and dT must accept arrays.  Monotonicity
    is checked on 513 points spanning the base's range (a necessary check, not a proof).
    """
    if not isinstance(base, Measure1D):
        raise TypeError(f"base must be a Measure1D, got {type(base).__name__}")
    if not callable(T) or not callable(dT):
        raise TypeError(f"T and dT must be callables, got {type(T).__name__} and {type(dT).__name__}")
    grid = base.transport(np.linspace(-8.0, 8.0, 513))
    ty, dty = np.asarray(T(grid), dtype=np.float64), np.asarray(dT(grid), dtype=np.float64)
    if not np.all(np.isfinite(dty)) or np.any(dty <= 0):
        raise DomainError(f"dT must be finite and > 0 on the support, got min {np.nanmin(dty)!r}")
    if not np.all(np.isfinite(ty)) or np.any(np.diff(ty) <= 0):
        raise DomainError("T must be finite and strictly increasing on the support")
    a, b = base.x_range
    ta, tb = float(T(np.array(a))), float(T(np.array(b)))

    def inverse(x):
        x = np.clip(np.asarray(x, dtype=np.float64), ta, tb)
        return _solve_increasing(T, x, np.full(x.shape, a), np.full(x.shape, b), dT)

    transport = lambda z: T(base.transport(z))  # noqa: E731
    # Exact moments up to the quadrature error (~1e-12 relative): E T(Z), E (T(Z) - mean)^2.
    phi_t = lambda z, k, c: np.exp(_log_phi(z)) * (transport(z) - c) ** k  # noqa: E731
    mean = _integrate(lambda z: phi_t(z, 1, 0.0), -Z_MAX, Z_MAX, [0.0], "z").value
    var = _integrate(lambda z: phi_t(z, 2, mean), -Z_MAX, Z_MAX, [0.0], "z").value
    return Measure1D(
        name=f"{name}#{base.name}",
        logpdf=lambda x: (lambda y: base.logpdf(y) - np.log(dT(y)))(inverse(x)),
        logcdf=lambda x: base.logcdf(inverse(x)), logsf=lambda x: base.logsf(inverse(x)),
        transport=transport,
        log_dtransport=lambda z: np.log(dT(base.transport(z))) + base.log_dtransport(z),
        mean=mean, var=var, x_range=(ta, tb),
        breakpoints=tuple(float(T(np.array(v))) for v in base.breakpoints), native=base.native)


# ------------------------------------------------------------------------- 1-D divergences
@dataclass(frozen=True)
class Integral1D:
    """A quadrature value with its error estimate (Gauss-Kronrod 21 vs Gauss 10, summed over regions).

    ``converged`` is False when the adaptive rule stopped above its tolerance (a
    :class:`~theory.errors.QuadratureWarning` was issued); ``error`` is then still its estimate.
    """

    value: float
    error: float
    route: str
    converged: bool


def _integrate(fn: Callable, lo: float, hi: float, points: Sequence[float], route: str) -> Integral1D:
    inner = sorted(p for p in set(points) if lo < p < hi)
    res = cubature(lambda t: fn(t[:, 0]), [lo], [hi], rtol=_QUAD_RTOL, atol=_QUAD_ATOL,
                   max_subdivisions=_QUAD_MAX_SUBDIVISIONS, points=[[p] for p in inner] or None)
    value, error = float(res.estimate), float(res.error)
    if not (math.isfinite(value) and math.isfinite(error)):
        raise ConvergenceError(f"quadrature ({route} route) returned a non-finite value {value!r}")
    converged = res.status == "converged"
    if not converged:
        warnings.warn(f"adaptive quadrature ({route} route) stopped at error {error:.3g} above its tolerance "
                      f"(rtol {_QUAD_RTOL:g}); the result carries converged=False", QuadratureWarning, stacklevel=3)
    return Integral1D(value=value, error=error, route=route, converged=converged)


def _route(p: Measure1D, route: Optional[str]) -> str:
    if not isinstance(p, Measure1D):
        raise TypeError(f"p must be a Measure1D, got {type(p).__name__}")
    route = p.native if route is None else route
    if route not in ("x", "z"):
        raise DomainError(f"route must be 'x' or 'z', got {route!r}")
    return route


def _z_points(p: Measure1D) -> list:
    return [0.0] + [float(v) for v in p.to_z(np.array(p.breakpoints))]


def kl_1d(p: Measure1D, route: Optional[str] = None) -> Integral1D:
    """``KL(p || N(0,1))`` by adaptive quadrature (docs/claims.md#lemma-54), with an error estimate.

    Route "x": ``int p(x) [log p(x) - log phi(x)] dx`` over ``p.x_range``, split at the breakpoints.
    Route "z": ``E_Z[(T(Z)^2 - Z^2)/2 - log T'(Z)]`` over ``|z| <= Z_MAX``.
    """
    route = _route(p, route)
    if route == "x":
        def fx(x):
            lp = p.logpdf(x)
            return np.where(lp > -np.inf, np.exp(lp) * (lp - _log_phi(x)), 0.0)
        return _integrate(fx, *p.x_range, p.breakpoints, "x")

    def fz(z):
        t = p.transport(z)
        if p.native == "x":
            # log T'(z) = log phi(z) - log p(T(z)): use the density at t rather than invert T twice.
            return np.exp(_log_phi(z)) * (p.logpdf(t) - _log_phi(t))
        return np.exp(_log_phi(z)) * (0.5 * (t - z) * (t + z) - p.log_dtransport(z))
    return _integrate(fz, -Z_MAX, Z_MAX, _z_points(p), "z")


def w2_squared_1d(p: Measure1D, route: Optional[str] = None) -> Integral1D:
    """``W2^2(p, N(0,1))`` by the quantile coupling (docs/claims.md#lemma-54), with an error estimate.

    Route "z": ``E_Z (T(Z) - Z)^2`` (``q = Phi(z)`` in ``int_0^1 (F^{-1}(q) - Phi^{-1}(q))^2 dq``,
    which removes the quantile singularities at 0 and 1).  Route "x": ``int p(x) (x - S(x))^2 dx``.
    """
    route = _route(p, route)
    if route == "x":
        def fx(x):
            lp = p.logpdf(x)
            return np.where(lp > -np.inf, np.exp(lp) * (x - p.to_z(x)) ** 2, 0.0)
        return _integrate(fx, *p.x_range, p.breakpoints, "x")

    def fz(z):
        return np.exp(_log_phi(z)) * (p.transport(z) - z) ** 2
    return _integrate(fz, -Z_MAX, Z_MAX, _z_points(p), "z")


def _sqrt_result(r: Integral1D) -> Integral1D:
    """sqrt of a non-negative integral; the error bound uses the steeper (downward) side of sqrt."""
    v = max(r.value, 0.0)
    err = math.sqrt(v) - math.sqrt(max(v - r.error, 0.0))
    return Integral1D(value=math.sqrt(v), error=err, route=r.route, converged=r.converged)


def w2_1d(p: Measure1D, route: Optional[str] = None) -> Integral1D:
    """``W2(p, N(0,1))``: square root of :func:`w2_squared_1d` with its propagated error."""
    return _sqrt_result(w2_squared_1d(p, route))


def _check_product(measures) -> list:
    if isinstance(measures, Measure1D) or not isinstance(measures, (list, tuple)) or not measures:
        raise TypeError("measures must be a non-empty list of Measure1D")
    for i, p in enumerate(measures):
        if not isinstance(p, Measure1D):
            raise TypeError(f"measures[{i}] must be a Measure1D, got {type(p).__name__}")
    return list(measures)


def _sum_results(results: Sequence[Integral1D]) -> Integral1D:
    return Integral1D(value=sum(r.value for r in results), error=sum(r.error for r in results),
                      route="+".join(r.route for r in results), converged=all(r.converged for r in results))


def kl_product(measures: Sequence[Measure1D]) -> Integral1D:
    """``KL(p_1 x ... x p_k || N(0, I_k)) = sum_i KL(p_i || N(0,1))`` (docs/claims.md#lemma-54); errors add."""
    return _sum_results([kl_1d(p) for p in _check_product(measures)])


def w2_squared_product(measures: Sequence[Measure1D]) -> Integral1D:
    """``W2^2(p_1 x ... x p_k, N(0, I_k)) = sum_i W2^2(p_i, N(0,1))`` (docs/claims.md#lemma-54); errors add."""
    return _sum_results([w2_squared_1d(p) for p in _check_product(measures)])


def w2_product(measures: Sequence[Measure1D]) -> Integral1D:
    """``W2`` of a product measure against N(0, I_k): square root of :func:`w2_squared_product`."""
    return _sqrt_result(w2_squared_product(measures))


def product_moments(measures: Sequence[Measure1D]) -> Tuple[np.ndarray, np.ndarray]:
    """Exact ``(mean (k,), cov (k, k) diagonal)`` of a product measure, for the bounds of docs/evidence.md#certified-and-estimated-quantities."""
    ms = _check_product(measures)
    return np.array([p.mean for p in ms]), np.diag([p.var for p in ms])


# ---------------------------------------------------------------------------- point clouds
#: Largest cloud solved exactly: the Hungarian algorithm is O(n^3) time and O(n^2) memory.
MAX_EMPIRICAL_POINTS = 4000


def w2_squared_empirical(a, b) -> float:
    """Exact ``W2^2`` between the uniform measures on two equal-size clouds (linear assignment).

    ``a, b`` have shape (n,) or (n, k); ``W2^2 = min_sigma (1/n) sum_i |a_i - b_sigma(i)|^2``.
    """
    A, B = as_float_array("a", a), as_float_array("b", b)
    A, B = (A[:, None] if A.ndim == 1 else A), (B[:, None] if B.ndim == 1 else B)
    if A.ndim != 2 or A.shape != B.shape or A.shape[0] == 0:
        raise ShapeError(f"a and b must be non-empty clouds of equal shape (n,) or (n, k), got {A.shape} and {B.shape}")
    if A.shape[0] > MAX_EMPIRICAL_POINTS:
        raise ShapeError(f"a has {A.shape[0]} points; at most {MAX_EMPIRICAL_POINTS} are solved exactly")
    cost = np.sum(A * A, axis=1)[:, None] + np.sum(B * B, axis=1)[None, :] - 2.0 * A @ B.T
    rows, cols = linear_sum_assignment(cost)
    return float(np.mean(np.sum((A[rows] - B[cols]) ** 2, axis=1)))


def w2_empirical(a, b) -> float:
    """``W2`` between two equal-size point clouds: square root of :func:`w2_squared_empirical`."""
    return math.sqrt(w2_squared_empirical(a, b))
