"""The exact minimiser p* of the energy Q(p) = L(p) + lam KL(p || p0) (3.5) through its concave dual (docs/claims.md#gibbs-minimiser).

Derivation (weighted form; the paper's case is ``omega_k = 1/n``)
-----------------------------------------------------------------
Let the loss weight the n points by ``omega_k >= 0`` with ``sum_k omega_k = 1``:
``L(p) = sum_k omega_k (f(p, x_k) - y_k)^2``.  For Theorem 4.5 a sample S of size N drawn from a
finite support of n points is a multiplicity vector w (``sum_k w_k = N``) and ``omega = w / N``;
``omega = 1/n`` recovers ``L = (1/n) sum_i (f(x_i) - y_i)^2`` of (3.5).

1. Conjugate of the square: ``omega t^2 >= a t - a^2 / (4 omega)`` for every a (complete the square),
   with equality at ``a = 2 omega t``; for ``omega = 0`` only ``a = 0`` gives a finite bound.
   Summing with ``t_k = f_k - y_k``: ``L(p) >= a.f(p) - a.y - sum_k a_k^2 / (4 omega_k)``.
2. Gibbs variational principle: ``inf_p [a.f(p) + lam KL(p||p0)] = -lam log E_{p0} exp(-alpha u (a.h)/lam)``
   and, integrating ``u ~ N(0, 1)`` out, ``= -lam log E_{theta ~ N(0,I)} exp(alpha^2 (a.h)^2 / (2 lam^2))``,
   attained by ``p_a ∝ p0 exp(-u s)`` with ``s(theta) = (alpha/lam) a.h(theta)``.
3. Hence weak duality ``Q(p) >= D(a)`` for every p and a, with

       D(a) = -a.y - sum_k a_k^2 / (4 omega_k) - lam log E_N exp(s^2 / 2),
       grad D = r(p_a) - a / (2 omega),                       r(p_a) = f(p_a) - y,
       Hess D = -diag(1/(2 omega)) - (alpha^2/lam) [E_pi h h^T + (alpha^2/lam^2) Cov_pi((a.h) h)],

   where ``pi ∝ N(theta; 0, I) exp(s^2/2)`` is the theta-marginal of p_a and ``u | theta ~ N(-s, 1)``.
   D is strictly concave; its maximiser satisfies ``a* = 2 omega r*`` (the fixed point ``r = F(r) - y``)
   and strong duality ``Q(p*) = D(a*)`` holds, since ``Q(p_a) - D(a) = sum_k omega_k (r_k - a_k/(2 omega_k))^2``.
   With ``omega = 1/n`` this is docs/claims.md#gibbs-minimiser verbatim (``a* = 2 r*/n``).

Points with ``omega_k = 0`` carry ``a_k = 0``: they take no part in the dual, yet ``f(p*)`` is reported at
every support point.  The cost depends on the n support points only, never on N.

Quadrature: theta enters only through ``z = X theta ~ N(0, X X^T)``; expectations use
:func:`theory.quadrature.theta_rule` (tensor Gauss-Hermite, rank <= 3, exact tier) or scrambled Sobol
(rank > 3, an estimate).  The tilt is handled in log space: ``log Z = logsumexp(log w + s^2/2)``.
On a fixed rule the rule *is* a discrete reference measure, so duality, weak duality and the
Gibbs optimality hold on it to rounding; the rule's distance to the continuum is estimated by
solving at K // 2, K and 2K (the refinement): the 2K solve is returned, with the error estimate of
:func:`theory.quadrature.refinement_error`, which decides ``converged``
(docs/verdicts.md, validity of quadrature).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Callable, Optional, Union

import numpy as np
from scipy.special import logsumexp

from ._validation import guard_numerics, check_int, check_matrix, check_positive, check_scale, check_vector
from .activations import Activation, get_activation
from .errors import ConvergenceError, DomainError, QuadratureWarning, ShapeError
from .quadrature import (MAX_TENSOR_RANK, GaussianRule, _factor, qmc_rule, refinement_error, refinement_ratio,
                         theta_rule)

__all__ = ["GibbsSolution", "solve_gibbs", "dual_value", "fixed_point_map", "UGaussianEnergy",
           "energy_u_gaussian_family", "GibbsLinearisation", "linearised_gibbs", "default_K",
           "make_rule", "loss_weights"]

#: Nodes per dimension by rank of X X^T: 1-D rules are cheap, K^3 must stay near 3e4 (2K: 2.6e5).
_DEFAULT_K = {0: 1, 1: 160, 2: 80, 3: 32}
#: Default refinement tolerance on max|f_K - f_2K| and on |KL_K - KL_2K| / KL_2K: claims compare
#: against bounds whose slack is orders larger; a claim needing a finer rule passes its own.
REFINE_TOL = 1e-6
#: Largest tensor rule (nodes) built: the tilt holds a few (N, n) float64 arrays at once, and
#: 2^21 nodes x n = 8 columns is ~130 MB per array (rank 3: K <= 128, so K <= 64 with refinement).
MAX_NODES = 2 ** 21
#: Newton stops once max|grad D| <= _GTOL * max(1, max|y|): grad D is the fixed-point error in
#: label units, and a few hundred ulps is what the O(N) sums of the tilt can deliver.
_GTOL = 1e-13
#: At a stall (D cannot resolve the gain, full steps no longer halve the gradient) a gradient this
#: small (label units) is accepted whatever the conditioning: it is far below any claim's slack.
_GTOL_STALL = 1e-9
#: Relative resolution of D (a few hundred ulps of its O(N) sums).
_EPS_D = 1e-13
_EPS = float(np.finfo(np.float64).eps)
#: Gradients within these multiples of the rounding floor are converged / acceptable at a stall.
_FLOOR_FACTOR = 16.0
_STALL_FACTOR = 1e3
_MAX_NEWTON = 200
#: Refinement differences below this many Newton tolerances (``_GTOL`` in label units) are solver
#: noise, not quadrature error: the floor of the error estimates.
_REFINE_FLOOR = 16.0
_ARMIJO = 1e-4


def default_K(rank: int) -> int:
    """Default Gauss-Hermite nodes per dimension for a z-rule of the given rank."""
    rank = check_int("rank", rank, minimum=0)
    return _DEFAULT_K.get(rank, _DEFAULT_K[3])


def make_rule(X: np.ndarray, K: Optional[int] = None, *, qmc_points: int = 2 ** 14, seed: int = 0) -> GaussianRule:
    """The rule for ``z = X theta``: tensor GH at rank <= 3 (K per dim), scrambled Sobol beyond (K points)."""
    X = check_matrix("X", X)
    rank = _factor(X @ X.T).shape[1]
    if rank <= MAX_TENSOR_RANK:
        K = default_K(rank) if K is None else check_int("K", K, minimum=1, maximum=2000)
        if K ** rank > MAX_NODES:
            raise DomainError(f"K must satisfy K^rank <= {MAX_NODES} (rank {rank}), got K={K}: "
                              f"{K ** rank} nodes times n columns would not fit in memory")
        return theta_rule(X, K)
    n_pts = qmc_points if K is None else check_int("K", K, minimum=2)
    return qmc_rule(X @ X.T, n_pts, seed=seed)


def loss_weights(weights, n: int) -> np.ndarray:
    """``omega = w / sum(w)`` from multiplicities (None: ``1/n``); shape (n,)."""
    n = check_int("n", n)
    if weights is None:
        return np.full(n, 1.0 / n)
    w = check_vector("weights", weights, length=n)
    if np.any(w < 0):
        raise DomainError(f"weights must be >= 0, got {w}")
    if w.sum() <= 0:
        raise DomainError(f"weights must have a positive sum, got {w}")
    return w / w.sum()


def _check_problem(X, y, act, alpha, lam):
    X = check_matrix("X", X)
    y = check_vector("y", y, length=X.shape[0])
    act = get_activation(act)  # an Activation or a built-in's name, like every other entry point
    if not act.admissible:
        # p* has |s| <= 2 alpha G1 |r|_1 / (lam n) only for bounded h; for unbounded h the
        # normaliser E exp(s^2/2) can be infinite while every quadrature returns a finite number.
        raise DomainError(f"act must be a bounded admissible activation (Assumption 4.2), got {act.name!r}")
    alpha, lam = check_positive("alpha", alpha), check_positive("lam", lam)
    # Scale check (issue 13): the dual squares alpha and alpha/lam (s = (alpha/lam) a.h, hessian
    # alpha^2/lam^2); refuse before they overflow instead of a ZeroDivisionError deep inside.
    check_scale("alpha", alpha, alpha, why="alpha")
    check_scale("lam", lam, alpha / lam, why="alpha/lam")
    check_scale("lam", lam, lam, why="lam (the Hessian divides by lam^2)")
    return X, y, act, alpha, lam


class _Problem:
    """The dual problem on a fixed rule: node features h (N, n) and the active loss weights."""

    def __init__(self, X, y, act, alpha, lam, omega, rule: GaussianRule):
        self.X, self.y, self.act, self.alpha, self.lam, self.omega, self.rule = X, y, act, alpha, lam, omega, rule
        self.active = omega > 0
        self.h = act.derivatives(rule.z, 0)[0]
        with np.errstate(divide="ignore"):
            self.logw = np.log(rule.weights)  # GH weights underflow to 0 far out: log 0 = -inf drops them

    def tilt(self, a_act: np.ndarray):
        """``t = a.h`` at the nodes, ``s``, ``log Z`` and the tilted weights pi (all (N,))."""
        t = self.h[:, self.active] @ a_act
        s = (self.alpha / self.lam) * t
        lw = self.logw + 0.5 * s * s
        logZ = float(logsumexp(lw))
        return t, s, logZ, np.exp(lw - logZ)

    def value(self, a_act: np.ndarray) -> float:
        _, _, logZ, _ = self.tilt(a_act)
        om = self.omega[self.active]
        return float(-a_act @ self.y[self.active] - np.sum(a_act ** 2 / (4.0 * om)) - self.lam * logZ)

    def derivatives(self, a_act: np.ndarray):
        """D(a), grad D, Hess D (docs/claims.md#gibbs-minimiser, weighted) on the active coordinates."""
        t, s, logZ, pi = self.tilt(a_act)
        hA, om = self.h[:, self.active], self.omega[self.active]
        c = self.alpha ** 2 / self.lam
        g = t[:, None] * hA
        Eg = pi @ g
        gc = g - Eg
        D = float(-a_act @ self.y[self.active] - np.sum(a_act ** 2 / (4.0 * om)) - self.lam * logZ)
        grad = -self.y[self.active] - a_act / (2.0 * om) - c * Eg
        cov = gc.T @ (pi[:, None] * gc)
        hess = -np.diag(1.0 / (2.0 * om)) - c * (hA.T @ (pi[:, None] * hA) + (self.alpha ** 2 / self.lam ** 2) * cov)
        # rounding floor of grad: its summands (y, a/(2 omega), c E|t h|) carry relative error eps,
        # and a itself is only known to an ulp, which moves grad by |Hess| ulp(a)
        size = np.abs(self.y[self.active]) + np.abs(a_act) / (2.0 * om) + c * (pi @ np.abs(g))
        floor = _EPS * (float(size.max()) + np.linalg.norm(hess, 2) * float(np.max(np.abs(a_act), initial=0.0)))
        return D, grad, hess, floor


def _newton(prob: _Problem, a0: np.ndarray):
    """Maximise the concave dual by Newton with Armijo backtracking; returns (a_active, iterations, Hess D).

    Stops at ``max|grad D| <= max(_GTOL * scale, _FLOOR_FACTOR * floor)`` where ``floor`` is the
    rounding floor of the gradient (see :meth:`_Problem.derivatives`).  When D can no longer resolve
    the predicted gain, full Newton steps are taken; if they stop halving the gradient the best
    iterate is accepted provided its gradient is below ``_GTOL_STALL * scale`` or ``_STALL_FACTOR * floor``.
    The achieved gradient is reported (``GibbsSolution.dual_gradient``).
    """
    a = a0.copy()
    scale = max(1.0, float(np.max(np.abs(prob.y))))
    best = (np.inf, a, None)
    stalls = 0
    for it in range(1, _MAX_NEWTON + 1):
        D, grad, hess, floor = prob.derivatives(a)
        gmax = float(np.max(np.abs(grad)))
        stalls = stalls + 1 if gmax > 0.5 * best[0] else 0
        if gmax < best[0]:
            best = (gmax, a, hess)
        if gmax <= max(_GTOL * scale, _FLOOR_FACTOR * floor):
            return a, it, hess
        acceptable = best[0] <= max(_GTOL_STALL * scale, _STALL_FACTOR * floor)
        step = np.linalg.solve(-hess, grad)
        slope = float(grad @ step)  # > 0: -hess is positive definite
        if 0.5 * slope <= _EPS_D * max(1.0, abs(D)):
            if stalls >= 3 and acceptable:
                return best[1], it, best[2]
            # the predicted gain is below the resolution of D: Armijo cannot see it, and the
            # full Newton step is safe this deep in the quadratic-convergence region
            a = a + step
            continue
        t = 1.0
        while t > 1e-12:
            if prob.value(a + t * step) >= D + _ARMIJO * t * slope:
                break
            t *= 0.5
        else:
            if acceptable:
                return best[1], it, best[2]
            raise ConvergenceError(f"Newton line search failed at iteration {it} with max|grad D| = {gmax:.3e}")
        a = a + t * step
    raise ConvergenceError(f"Newton did not converge in {_MAX_NEWTON} iterations (max|grad D| = {best[0]:.3e})")


@dataclass(frozen=True, eq=False)
class GibbsSolution:
    """p* of (3.5) on the finest rule solved, with its estimated quadrature error (docs/claims.md#gibbs-minimiser).  Arrays have length n.

    ``a`` (dual optimum, 0 where omega = 0), ``r = f - y``, ``f = f(p*, x_k)``; ``L``, ``KL``, ``Q`` and
    ``dual = D(a*)``; ``gap = Q - D`` (>= 0, rounding-small); ``fixed_point_error = max|F(r) - y - r|``
    and ``dual_gradient = max|grad D(a*)| = max|r - a/(2 omega)|`` (active points; Newton's stopping
    quantity, whose rounding floor grows with the conditioning of Hess D); ``rounding``: eps times the
    magnitudes summed in Q and D (the gap is ``sum omega (r - a/(2 omega))^2`` up to a few hundred of it);
    ``H1``, ``H2``, ``H`` (n, n) and ``b`` (n,) of p*; ``stationarity = 2 alpha^2 H (omega r) + lam alpha b``
    (docs/model.md#residual-ode; ``(2 alpha^2/n) H r + lam alpha b`` for omega = 1/n); ``b`` and ``stationarity`` are None
    when the activation has no h''.  ``max_abs_s`` over the nodes; ``K`` (nodes per dimension of the
    rule the values come from: 2K of the request when refined), ``rank``, ``exact_tier``;
    ``refine_error_f``: estimated ``max|f - f_exact|`` of the returned f and ``refine_error_KL`` the
    estimated relative error of the returned KL, both from the solves at K // 2, K and 2K
    (:func:`theory.quadrature.refinement_error`; NaN-free; None when refinement was skipped);
    ``refine_difference_f = max|f_K - f_2K|`` (the error of the K solve, kept for comparison);
    ``converged`` (both estimates <= ``tolerance``), ``validity`` in
    {"exact", "not-converged", "estimate", "unrefined"}; ``rule`` and ``s`` (N,) for tests on p*'s own grid;
    ``dual_hessian`` (n_active, n_active) of D at a*.
    """

    alpha: float
    lam: float
    omega: np.ndarray
    y: np.ndarray
    a: np.ndarray
    r: np.ndarray
    f: np.ndarray
    L: float
    KL: float
    Q: float
    dual: float
    gap: float
    fixed_point_error: float
    dual_gradient: float
    rounding: float
    log_Z: float
    H1: np.ndarray
    H2: np.ndarray
    H: np.ndarray
    b: Optional[np.ndarray]
    stationarity: Optional[np.ndarray]
    max_abs_s: float
    K: int
    rank: int
    exact_tier: bool
    iterations: int
    refine_error_f: Optional[float]
    refine_error_KL: Optional[float]
    tolerance: float
    converged: bool
    validity: str
    rule: GaussianRule
    s: np.ndarray
    dual_hessian: np.ndarray
    refine_difference_f: Optional[float] = None

    @property
    def fixed_point_conditioning(self) -> float:
        """``1 + 2 max(omega) |Hess D(a*)|_2``: the norm of the Jacobian of r -> F(r) - y is at most
        this, so rounding in r shows up in ``fixed_point_error`` amplified by it."""
        return 1.0 + 2.0 * float(self.omega.max()) * float(np.linalg.norm(self.dual_hessian, 2))


def _outputs(prob: _Problem, a_act: np.ndarray) -> dict:
    """Primal quantities of p_a in closed form (docs/claims.md#gibbs-minimiser) from the tilt at a."""
    t, s, logZ, pi = prob.tilt(a_act)
    alpha, lam, om, A = prob.alpha, prob.lam, prob.omega, prob.active
    f = -alpha * (pi * s) @ prob.h
    r = f - prob.y
    Es2 = float(pi @ (s * s))
    KL = Es2 - logZ
    L = float(om @ (r * r))
    a = np.zeros_like(prob.y)
    a[A] = a_act
    D = prob.value(a_act)
    # F(r): f of the tilt at a(r) = 2 omega r (the fixed-point map evaluated at the primal residual)
    _, s_r, _, pi_r = prob.tilt(2.0 * om[A] * r[A])
    fp_err = float(np.max(np.abs(-alpha * (pi_r * s_r) @ prob.h - prob.y - r)))
    grad = float(np.max(np.abs(r[A] - a_act / (2.0 * om[A]))))
    # rounding scale of Q and D: the magnitudes of their summands, plus t = a.h computed with
    # cancellation (error eps |a|.|h|) entering f and lam E s^2 through alpha E|s| |a|.|h|
    sizes = (np.abs(a_act) @ np.abs(prob.y[A]) + np.sum(a_act ** 2 / (4.0 * om[A])) + 2.0 * lam * abs(logZ) + L
             + lam * Es2 + alpha * float(pi @ (np.abs(s) * (np.abs(prob.h[:, A]) @ np.abs(a_act)))))
    out = dict(a=a, r=r, f=f, L=L, KL=KL, Q=L + lam * KL, dual=D, gap=L + lam * KL - D, dual_gradient=grad,
               fixed_point_error=fp_err, rounding=_EPS * float(sizes), log_Z=logZ, max_abs_s=float(np.max(np.abs(s))),
               s=s)
    out.update(_grams(prob, s, pi, r))
    return out


def _grams(prob: _Problem, s, pi, r) -> dict:
    """H1, H2, H, b of p* and the stationarity residual of docs/model.md#residual-ode (b needs h'')."""
    X, z = prob.X, prob.rule.z
    G = X @ X.T
    order = 2 if prob.act.max_order >= 2 else 1
    h, d1 = prob.h, prob.act.derivatives(z, 1)[1]
    H2 = h.T @ (pi[:, None] * h)
    H1 = G * (d1.T @ ((pi * (1.0 + s * s))[:, None] * d1))
    H = H1 + H2
    if order < 2:
        return dict(H1=H1, H2=H2, H=H, b=None, stationarity=None)
    d2 = prob.act.derivatives(z, 2)[2]
    b = -(pi * s) @ (h + z * d1 - np.diag(G)[None, :] * d2)
    stat = 2.0 * prob.alpha ** 2 * H @ (prob.omega * r) + prob.lam * prob.alpha * b
    return dict(H1=H1, H2=H2, H=H, b=b, stationarity=stat)


def _solve_on_rule(X, y, act, alpha, lam, omega, rule, a0=None):
    prob = _Problem(X, y, act, alpha, lam, omega, rule)
    start = np.zeros(int(prob.active.sum())) if a0 is None else a0[prob.active]
    a_act, its, hess = _newton(prob, start)
    out = _outputs(prob, a_act)
    out["dual_hessian"] = hess
    return out, its


def solve_gibbs(X, y, act: Activation, alpha: float, lam: float, K: Optional[int] = None, weights=None, *,
                refine: bool = True, tolerance: float = REFINE_TOL, warn: bool = True,
                qmc_points: int = 2 ** 14, seed: int = 0) -> GibbsSolution:
    """The minimiser p* of ``Q = L + lam KL(.||p0)`` (3.5) via Newton on the concave dual (docs/claims.md#gibbs-minimiser).

    Parameters
    ----------
    X : (n, d) array; y : (n,) array
        Support points and labels.
    act : Activation
        Bounded admissible activation (Assumption 4.2).
    alpha, lam : float > 0
    K : int, optional
        Gauss-Hermite nodes per dimension of the z-rule (rank <= 3; default by rank, see
        :func:`default_K`) or Sobol points (rank > 3, estimate tier; default ``qmc_points``).
    weights : (n,) array, optional
        Multiplicities w of a sample from the support (``L = (1/N) sum_k w_k (f_k - y_k)^2``);
        None means uniform (the paper's ``1/n``).  See the module docstring for the weighted dual.
    refine : bool
        Also solve at K // 2 and 2K (warm-started), return the 2K solve and report the estimated
        errors ``refine_error_f`` / ``refine_error_KL`` of what is returned.
    tolerance : float
        Refinement tolerance deciding ``converged`` (default :data:`REFINE_TOL`).
    warn : bool
        Issue :class:`~theory.errors.QuadratureWarning` when the refinement of a tensor rule fails
        (a QMC rule is labelled ``validity="estimate"`` whatever its refinement); callers that read
        ``converged`` themselves (claims reporting INCONCLUSIVE) pass False.

    Returns
    -------
    GibbsSolution
        Quantities of the 2K solve when refined (returning it costs nothing: it is solved anyway,
        and is about 1e3 x closer to the continuum), of the K solve otherwise.
    """
    X, y, act, alpha, lam = _check_problem(X, y, act, alpha, lam)
    omega = loss_weights(weights, X.shape[0])
    tolerance = check_positive("tolerance", tolerance)
    rule = make_rule(X, K, qmc_points=qmc_points, seed=seed)
    out, its = _solve_on_rule(X, y, act, alpha, lam, omega, rule)
    err_f = err_kl = diff_f = None
    converged, validity = False, "unrefined"
    if refine:
        coarse_K = rule.K
        out, its, rule, err_f, err_kl, diff_f = _refined(X, y, act, alpha, lam, omega, rule, out, seed)
        converged = err_f <= tolerance and err_kl <= tolerance
        validity = ("exact" if converged else "not-converged") if rule.exact_tier else "estimate"
        if warn and rule.exact_tier and not converged:  # QMC is already flagged 'estimate'
            warnings.warn(f"Gibbs p* quadrature not converged at K={coarse_K} (2K returned): estimated "
                          f"max|f - f_exact| = {err_f:.2e}, rel. KL error {err_kl:.2e} (tolerance {tolerance:g}; "
                          f"max|s| = {out['max_abs_s']:.2f})", QuadratureWarning, stacklevel=2)
    return GibbsSolution(alpha=alpha, lam=lam, omega=omega, y=y, K=rule.K, rank=rule.rank, exact_tier=rule.exact_tier,
                         iterations=its, refine_error_f=err_f, refine_error_KL=err_kl, tolerance=tolerance,
                         converged=converged, validity=validity, rule=rule, refine_difference_f=diff_f, **out)


def _refined(X, y, act, alpha, lam, omega, rule, out, seed):
    """Solve at 2K and K // 2 (warm-started from the K solve); return the 2K solve and its error estimates.

    Returns ``(fine_out, fine_iterations, fine_rule, err_f, err_KL, max|f_K - f_2K|)``; the estimates
    are :func:`theory.quadrature.refinement_error` of the three levels, with floors at the Newton
    stopping level (differences below it are solver noise, not quadrature).  If the K // 2 solve
    does not converge (a very coarse rule), the estimate falls back to the K-vs-2K difference, which
    over-states the error of the 2K solve.
    """
    fine_rule = make_rule(X, 2 * rule.K, seed=seed)
    fine, its = _solve_on_rule(X, y, act, alpha, lam, omega, fine_rule, a0=out["a"])
    try:
        half, _ = _solve_on_rule(X, y, act, alpha, lam, omega, make_rule(X, max(1, rule.K // 2), seed=seed),
                                 a0=out["a"])
    except ConvergenceError:
        half = out  # d1 = 0: only the K-vs-2K difference is used below
    scale = max(1.0, float(np.max(np.abs(y))))
    floor_f = _REFINE_FLOOR * _GTOL * scale
    diff_f = float(np.max(np.abs(fine["f"] - out["f"])))
    if half is out:
        err_f = max(diff_f, floor_f)
        err_kl_abs = max(abs(fine["KL"] - out["KL"]), _REFINE_FLOOR * _GTOL * abs(fine["KL"]))
    else:
        f_levels = [half["f"], out["f"], fine["f"]]
        kl_levels = [np.array([v["KL"]]) for v in (half, out, fine)]
        # one convergence ratio for both: the single KL value can have K and 2K errors of opposite
        # signs (seen: alpha=3, lam=0.2, K=20, where KL alone understated its error 16x)
        # log Z = log E exp(s^2/2) is the log of a number near 1 when KL is tiny: its absolute
        # rounding is a few eps whatever KL is, so KL differences below that are not quadrature.
        kl_floor = max(_REFINE_FLOOR * _GTOL * abs(fine["KL"]), _REFINE_FLOOR * _EPS)
        q = max(refinement_ratio(f_levels, floor_f), refinement_ratio(kl_levels, kl_floor))
        err_f = float(np.max(refinement_error(f_levels, floor_f, ratio=q)))
        err_kl_abs = float(refinement_error(kl_levels, kl_floor, ratio=q)[0])
    err_kl = 0.0 if err_kl_abs == 0.0 else err_kl_abs / max(abs(fine["KL"]), 1e-300)
    return fine, its, fine_rule, err_f, err_kl, diff_f


def _rule_for(X, K, rule) -> GaussianRule:
    if rule is None:
        return make_rule(X, K)
    if not isinstance(rule, GaussianRule):
        raise TypeError(f"rule must be a GaussianRule, got {type(rule).__name__}")
    if rule.z.shape[1] != X.shape[0]:
        raise ShapeError(f"rule has nodes for {rule.z.shape[1]} points, X has {X.shape[0]} rows")
    return rule


def dual_value(a, X, y, act: Activation, alpha: float, lam: float, K: Optional[int] = None, weights=None, *,
               rule: Optional[GaussianRule] = None) -> float:
    """``D(a) = -a.y - sum_k a_k^2/(4 omega_k) - lam log E_N exp(s^2/2)``, ``s = (alpha/lam) a.h`` (docs/claims.md#gibbs-minimiser).

    Weak duality: ``Q(p) >= D(a)`` for every p and every a (n,).  Returns ``-inf`` when ``a_k != 0`` at
    a point of zero weight (the conjugate of ``0 * t^2`` is infinite there).
    """
    X, y, act, alpha, lam = _check_problem(X, y, act, alpha, lam)
    a = check_vector("a", a, length=X.shape[0])
    omega = loss_weights(weights, X.shape[0])
    if np.any(a[omega == 0] != 0):
        return -np.inf
    prob = _Problem(X, y, act, alpha, lam, omega, _rule_for(X, K, rule))
    return prob.value(a[prob.active])


def fixed_point_map(r, X, act: Activation, alpha: float, lam: float, K: Optional[int] = None, weights=None, *,
                    rule: Optional[GaussianRule] = None) -> np.ndarray:
    """``F(r)_i = -alpha E_N[e^{s^2/2} s h_i] / E_N[e^{s^2/2}]`` with ``s = (2 alpha/lam) sum_k omega_k r_k h_k`` (docs/claims.md#gibbs-minimiser).

    p* solves ``r = F(r) - y``; returns F at all n points, shape (n,).
    """
    X = check_matrix("X", X)
    r = check_vector("r", r, length=X.shape[0])
    X, _, act, alpha, lam = _check_problem(X, np.zeros(X.shape[0]), act, alpha, lam)
    omega = loss_weights(weights, X.shape[0])
    prob = _Problem(X, np.zeros_like(r), act, alpha, lam, omega, _rule_for(X, K, rule))
    _, s, _, pi = prob.tilt(2.0 * omega[prob.active] * r[prob.active])
    return -alpha * (pi * s) @ prob.h


@dataclass(frozen=True, eq=False)
class UGaussianEnergy:
    """Q, L, KL, f (n,) and ``log E_N e^psi`` of a member of the "u | theta Gaussian" family."""

    f: np.ndarray
    L: float
    KL: float
    Q: float
    log_norm: float


ArrayOrFn = Union[np.ndarray, Callable[[np.ndarray], np.ndarray]]


def _on_nodes(name: str, value: ArrayOrFn, z: np.ndarray) -> np.ndarray:
    arr = value(z) if callable(value) else value
    return check_vector(name, arr, length=z.shape[0])


def energy_u_gaussian_family(psi: ArrayOrFn, m: ArrayOrFn, v: ArrayOrFn, X, y, act: Activation, alpha: float,
                             lam: float, *, rule: Optional[GaussianRule] = None, K: Optional[int] = None,
                             weights=None) -> UGaussianEnergy:
    """Energy of ``theta ~ pi_psi ∝ N e^psi``, ``u | theta ~ N(m, v)`` on a rule (docs/claims.md#gibbs-minimiser, general family).

    ``KL = E_pi[psi] - log E_N[e^psi] + E_pi[(m^2 + v - 1 - log v)/2]``, ``f_i = alpha E_pi[m h_i]``,
    ``L = sum_k omega_k (f_k - y_k)^2``, ``Q = L + lam KL``.  ``psi``, ``m``, ``v`` are arrays (N,) on
    ``rule.z`` or callables ``z (N, n) -> (N,)``; ``v > 0``.  On p*'s own rule (``sol.rule``) the rule is
    an exact discrete reference measure, so ``Q >= D(a)`` and ``Q >= Q(p*)`` hold to rounding there.
    Gibbs p*: ``psi = s^2/2``, ``m = -s``, ``v = 1``.
    """
    X, y, act, alpha, lam = _check_problem(X, y, act, alpha, lam)
    omega = loss_weights(weights, X.shape[0])
    rule = _rule_for(X, K, rule)
    psi, m, v = (_on_nodes(nm, val, rule.z) for nm, val in (("psi", psi), ("m", m), ("v", v)))
    if np.any(v <= 0):
        raise DomainError(f"v must be > 0 (a variance), got min {v.min()!r}")
    with np.errstate(divide="ignore"):
        lw = np.log(rule.weights) + psi
    log_norm = float(logsumexp(lw))
    pi = np.exp(lw - log_norm)
    KL = float(pi @ psi - log_norm + 0.5 * pi @ (m * m + v - 1.0 - np.log(v)))
    f = alpha * (pi * m) @ act.derivatives(rule.z, 0)[0]
    L = float(omega @ (f - y) ** 2)
    return UGaussianEnergy(f=f, L=L, KL=KL, Q=L + lam * KL, log_norm=log_norm)


@dataclass(frozen=True, eq=False)
class GibbsLinearisation:
    """Large-alpha linearisation of p* (docs/claims.md#gibbs-minimiser): r, f (n,), KL, and the limit ``y^T H2^{-1} y / (2 alpha^2)``."""

    r: np.ndarray
    f: np.ndarray
    KL: float
    KL_limit: float
    H2: np.ndarray


@guard_numerics
def linearised_gibbs(X, y, act: Activation, alpha: float, lam: float, weights=None, *, K: int = 80,
                     H2=None) -> GibbsLinearisation:
    """``r* ~ -(I + (2 alpha^2/(lam n)) H2(p0))^{-1} y`` and ``KL* ~ (1/2)(2 alpha/(lam n))^2 r^T H2 r`` (docs/claims.md#gibbs-minimiser).

    Weighted form (a = 2 omega r on the active set A): ``(diag(1/(2 omega_A)) + (alpha^2/lam) H2_AA) a_A = -y_A``,
    ``f = -(alpha^2/lam) H2[:, A] a_A``, ``KL = (alpha^2/(2 lam^2)) a^T H2 a`` and, as alpha -> inf,
    ``KL -> y_A^T H2_AA^+ y_A / (2 alpha^2)`` (inf when y_A is outside the range of H2_AA).
    ``H2`` defaults to ``theory.kernels.gram_p0(X, act, K).H2``.
    """
    X, y, act, alpha, lam = _check_problem(X, y, act, alpha, lam)
    omega = loss_weights(weights, X.shape[0])
    if H2 is None:
        from .kernels import gram_p0  # written concurrently by another module owner; imported on use

        H2 = gram_p0(X, act, K=K).H2
    H2 = check_matrix("H2", H2, rows=X.shape[0], cols=X.shape[0])
    A = omega > 0
    c = alpha ** 2 / lam
    aA = np.linalg.solve(np.diag(1.0 / (2.0 * omega[A])) + c * H2[np.ix_(A, A)], -y[A])
    f = -c * H2[:, A] @ aA
    KL = float(0.5 * c / lam * aA @ H2[np.ix_(A, A)] @ aA)
    sol, *_ = np.linalg.lstsq(H2[np.ix_(A, A)], y[A], rcond=None)
    # y_A in range(H2_AA) up to rounding of the least-squares solve; otherwise the limit is infinite.
    in_range = np.max(np.abs(H2[np.ix_(A, A)] @ sol - y[A])) <= 1e-8 * max(1.0, float(np.max(np.abs(y))))
    KL_limit = float(y[A] @ sol / (2.0 * alpha ** 2)) if in_range else np.inf
    return GibbsLinearisation(r=f - y, f=f, KL=KL, KL_limit=KL_limit, H2=H2)
