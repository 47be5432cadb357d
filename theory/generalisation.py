"""Theorem 4.5 and Lemma 5.6: realisable teachers, chi^2, 0-1 risk and the proof chain (docs/claims.md#lemma-56, 4.9).

Pieces (errata as in docs/errata.md):

* the realisable teacher on a finite support: ``theta ~ N(0, I)``, ``u | theta ~ N(m(theta), 1)`` with
  ``m = c.h(theta)`` and ``c = H2(p0)^+ y``, so ``f_true(x_k) = E[u h_k] = (H2 c)_k = y_k`` when y lies in
  the range of H2 (the residual is reported);
* its ``Dbar = chi^2(p_true || p0) = E_theta exp(m^2) - 1`` (u integrated analytically: the density ratio
  is ``exp(u m - m^2/2)`` and ``E_u exp(2 u m - m^2) = exp(m^2)``), by the theta-quadrature in log space
  with a K vs 2K refinement; naive sampling of ``(p_true/p0)^2`` has variance ``E e^{6 m^2}`` and is useless;
* the Gaussian closed form ``1 + chi^2(N(mu, Sigma) || N(0, I)) = det(Sigma (2I - Sigma))^{-1/2}
  exp(mu^T (2I - Sigma)^{-1} mu)`` (needs ``0 < Sigma < 2I``);
* the 0-1 risk ``E_D 1{y f(x) <= 0}`` on a finite support (E4: the printed ``1{y' < 0}`` ignores y;
  docs/generation.md counts a zero output as an error);
* the proof chain of Theorem 4.5: ``p_hat = (1 - 1/alpha) p0 + p_true/alpha`` (a density only for alpha >= 1,
  E12), ``L(p_hat) = 0`` (5.2), ``chi^2(p_hat || p0) = Dbar/alpha^2`` (5.3), ``L(p*) <= lam Dbar/alpha^2`` (5.4),
  ``KL(p*) <= Dbar/alpha^2`` (5.5), with Dbar where the paper prints D-hat (E5);
* the Lemma 5.6 counterexample for ``|y| < 1`` (E11): sigmoid, ``p = N((0_d, mu_u), I)``,
  ``f == alpha mu_u / 2``, ``KL = mu_u^2 / 2``.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from functools import lru_cache
from typing import Optional, Tuple

import numpy as np
from scipy.special import logsumexp

from ._validation import guard_numerics, check_int, check_matrix, check_positive, check_probability, check_vector
from .activations import SIGMOID, Activation
from .bounds import lemma_5_6_rhs, theorem_4_5_rhs
from .errors import DomainError, NonFiniteError, PremiseWarning
from .gibbs import GibbsSolution, _check_problem, loss_weights, make_rule, solve_gibbs
from .quadrature import hermite_rule

__all__ = ["min_chi2_conditional", "MinChi2Teacher", "min_chi2_teacher", "chi2_gaussian", "log1p_chi2_gaussian",
           "Chi2Result", "chi2_u_gaussian_teacher", "Teacher",
           "realisable_teacher", "zero_one_risk", "phat_loss", "phat_chi2", "theorem45_rhs", "lemma56_rhs",
           "Theorem45Chain", "theorem45_chain", "Lemma56Counterexample", "lemma56_counterexample"]

#: Refinement tolerance on the relative change of chi^2 between K and 2K (as for Gibbs p*).
CHI2_TOL = 1e-6
#: exp overflows beyond this log value: chi^2 is then reported as inf with its finite log.
_LOG_MAX = 709.0


# ------------------------------------------------------------------------------------------------
# chi^2 divergences
# ------------------------------------------------------------------------------------------------

def log1p_chi2_gaussian(mu, Sigma) -> float:
    """``log(1 + chi^2(N(mu, Sigma) || N(0, I)))`` in closed form (docs/claims.md#theorem-45).

    ``= -(1/2) log det(Sigma (2I - Sigma)) + mu^T (2I - Sigma)^{-1} mu``; finite iff ``0 < Sigma < 2I``.
    mu : (k,), Sigma : (k, k) symmetric.
    """
    mu = check_vector("mu", mu)
    Sigma = check_matrix("Sigma", Sigma, rows=mu.shape[0], cols=mu.shape[0])
    # symmetry to rounding of the caller's arithmetic; an asymmetric matrix is not a covariance
    if np.max(np.abs(Sigma - Sigma.T)) > 1e-12 * max(1.0, float(np.max(np.abs(Sigma)))):
        raise DomainError(f"Sigma must be symmetric, got {Sigma}")
    ev, U = np.linalg.eigh(0.5 * (Sigma + Sigma.T))
    if ev.min() <= 0.0 or ev.max() >= 2.0:
        raise DomainError(f"Sigma must satisfy 0 < Sigma < 2I (chi^2 is infinite otherwise), "
                          f"got eigenvalues in [{ev.min():.6g}, {ev.max():.6g}]")
    proj = U.T @ mu
    return float(-0.5 * np.sum(np.log(ev * (2.0 - ev))) + np.sum(proj ** 2 / (2.0 - ev)))


def chi2_gaussian(mu, Sigma) -> float:
    """``chi^2(N(mu, Sigma) || N(0, I))`` (docs/claims.md#theorem-45); ``inf`` when ``exp`` overflows (see the log form)."""
    ell = log1p_chi2_gaussian(mu, Sigma)
    return math.expm1(ell) if ell <= _LOG_MAX else math.inf


@dataclass(frozen=True)
class Chi2Result:
    """``chi^2 = E_theta exp(m^2) - 1`` on a rule of K nodes/dim with its 2K refinement.

    ``log1p_chi2`` is always finite; ``chi2`` is inf when it overflows (``overflow``).
    ``refine_error``: ``|log1p_K - log1p_2K|``, the relative error of ``1 + chi^2``.
    """

    chi2: float
    log1p_chi2: float
    overflow: bool
    max_abs_m: float
    K: int
    exact_tier: bool
    refine_error: float
    tolerance: float
    converged: bool


def _log_E_exp_m2(c: np.ndarray, X: np.ndarray, act: Activation, K: Optional[int]):
    rule = make_rule(X, K)
    m = act.derivatives(rule.z, 0)[0] @ c
    with np.errstate(divide="ignore"):
        lw = np.log(rule.weights) + m * m
    return float(logsumexp(lw)), float(np.max(np.abs(m))), rule


def chi2_u_gaussian_teacher(c, X, act: Activation, K: Optional[int] = None, *,
                            tolerance: float = CHI2_TOL) -> Chi2Result:
    """chi^2 of ``theta ~ N(0,I), u | theta ~ N(c.h(theta), 1)`` against p0: ``E_N exp(m^2) - 1`` (docs/claims.md#theorem-45).

    c : (n,), X : (n, d).  Log-space on the z-rule of :func:`theory.gibbs.make_rule`; refined at 2K.
    """
    X = check_matrix("X", X)
    c = check_vector("c", c, length=X.shape[0])
    X, _, act, _, _ = _check_problem(X, np.zeros(X.shape[0]), act, 1.0, 1.0)
    tolerance = check_positive("tolerance", tolerance)
    ell, mmax, rule = _log_E_exp_m2(c, X, act, K)
    ell2, _, _ = _log_E_exp_m2(c, X, act, 2 * rule.K)
    err = abs(ell2 - ell)
    chi2 = math.expm1(ell) if ell <= _LOG_MAX else math.inf
    return Chi2Result(chi2=chi2, log1p_chi2=ell, overflow=ell > _LOG_MAX, max_abs_m=mmax, K=rule.K,
                      exact_tier=rule.exact_tier, refine_error=err, tolerance=tolerance, converged=err <= tolerance)


# ------------------------------------------------------------------------------------------------
# the realisable teacher
# ------------------------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class Teacher:
    """Realisable teacher p_true on a finite support (docs/claims.md#theorem-45).

    ``c = H2^+ y`` (n,), ``H2`` (n, n) on the z-rule of K nodes, ``f_true = H2 c`` (n,),
    ``range_residual = max|H2 c - y|``, ``realisable`` (residual <= ``range_tol``), ``chi2`` (Dbar).
    """

    X: np.ndarray
    y: np.ndarray
    act: Activation
    c: np.ndarray
    H2: np.ndarray
    f_true: np.ndarray
    range_residual: float
    realisable: bool
    chi2: Chi2Result

    @property
    def Dbar(self) -> float:
        """``Dbar = chi^2(p_true || p0)`` (E5: the paper's D-hat)."""
        return self.chi2.chi2


def realisable_teacher(X, y, act: Activation, K: Optional[int] = None, *, range_tol: float = 1e-8,
                       tolerance: float = CHI2_TOL, warn: bool = True) -> Teacher:
    """The teacher ``u | theta ~ N(c.h(theta), 1)``, ``c = H2(p0)^+ y``, with its chi^2 (docs/claims.md#theorem-45).

    X : (n, d) support, y : (n,) labels.  ``range_tol`` (relative to max(1, max|y|)) decides whether y
    lies in the range of H2; H2 singular (antipodal inputs with an odd h) is fine when it does.
    ``warn``: issue :class:`~theory.errors.PremiseWarning` when y is not in that range (Theorem 4.5's
    realisability premise fails, e.g. near-duplicate inputs with conflicting labels); callers that read
    ``realisable`` themselves pass False.
    """
    X, y, act, _, _ = _check_problem(X, y, act, 1.0, 1.0)
    range_tol = check_positive("range_tol", range_tol)
    rule = make_rule(X, K)
    h = act.derivatives(rule.z, 0)[0]
    H2 = h.T @ (rule.weights[:, None] * h)
    # pinv's default cut (1e-15 relative) drops the rounding-level eigenvalues of a singular H2
    c = np.linalg.pinv(0.5 * (H2 + H2.T), hermitian=True) @ y
    f_true = H2 @ c
    res = float(np.max(np.abs(f_true - y)))
    chi2 = chi2_u_gaussian_teacher(c, X, act, rule.K if rule.exact_tier else None, tolerance=tolerance)
    realisable = res <= range_tol * max(1.0, float(np.max(np.abs(y))))
    if warn and not realisable:
        warnings.warn(f"labels y are not in the range of H2(p0) (residual {res:.3g} > range_tol): no teacher "
                      "represents them, so Theorem 4.5's realisability premise fails", PremiseWarning, stacklevel=2)
    return Teacher(X=X, y=y, act=act, c=c, H2=H2, f_true=f_true, range_residual=res,
                   realisable=realisable, chi2=chi2)


# ------------------------------------------------------------------------------------------------
# the minimum-chi^2 teacher: the smallest legitimate Dbar, bracketed
# ------------------------------------------------------------------------------------------------

#: Below this |mean| the linear conditional density 1 + mu u is negative only where u < -1/|mu| < -40,
#: a N(0, 1) mass below 1e-348: the min-chi^2 conditional is then mu^2 to double precision.
_LINEAR_MU = 0.025
#: Above this |mean| the truncated-linear formulas lose more than 4 digits (1 - t R(t) ~ 1/t^2).
_MAX_MU = 30.0


def _truncated_linear(t: np.ndarray):
    """mean mu(t) and 1 + chi^2 of ``q(u) = phi(u) (u - t)_+ / Z`` (the min-chi^2 density of mean mu(t))."""
    from scipy.special import erfcx
    from scipy.stats import norm

    t = np.asarray(t, dtype=np.float64)
    neg = t < 0.0
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        # t < 0: every term positive; t >= 0: the Mills ratio R = Q/phi avoids underflow of Q and phi
        Q, ph = norm.sf(t), norm.pdf(t)
        Z_neg, S_neg = ph - t * Q, (1.0 + t * t) * Q - t * ph
        R = math.sqrt(math.pi / 2.0) * erfcx(t / math.sqrt(2.0))
        Z_pos, S_pos = 1.0 - t * R, (1.0 + t * t) * R - t   # both divided by phi(t)
        mu = np.where(neg, Q / Z_neg, R / Z_pos)
        one_g = np.where(neg, S_neg / Z_neg ** 2, S_pos / (ph * Z_pos ** 2))
    return mu, one_g


@lru_cache(maxsize=1)
def _g_table() -> Tuple[np.ndarray, np.ndarray]:
    """Points (mu(t), g(t)) of the min-chi^2 curve on a dense t-grid (mu increasing), from |mu| = 0.025 to 30."""
    t = np.linspace(-45.0, 35.0, 20001)
    mu, one_g = _truncated_linear(t)
    keep = (mu >= _LINEAR_MU * 0.99) & (mu <= _MAX_MU * 1.01) & np.isfinite(one_g)
    return mu[keep], one_g[keep] - 1.0


def min_chi2_conditional(mu) -> np.ndarray:
    """An upper bound of ``g(mu) = min chi^2(q || N(0, 1))`` over densities q with mean mu, attained by a density.

    KKT of the convex problem: ``q/phi = (a + b u)_+``.  For |mu| <= 0.025 this is ``1 + mu u`` (g = mu^2
    exactly).  Otherwise q/phi is ``(u - t)_+`` up to scale: the exact points (mu(t), g(t)) on a dense t-grid
    are joined by chords.  g is convex in mu (the value of a convex program in the right side of a linear
    constraint), and the chord value is chi^2 of a mixture of the two grid densities, which has mean mu
    exactly and chi^2 at most the chord (chi^2 is convex): every value returned is that of a density.
    Beyond |mu| = 30 the result is inf.  Elementwise; odd-symmetric in mu (reflect u).
    """
    m = np.abs(np.asarray(mu, dtype=np.float64))
    out = m * m
    big = m > _LINEAR_MU
    if np.any(big):
        tm, tg = _g_table()
        x = m[big]
        j = np.clip(np.searchsorted(tm, x), 1, tm.size - 1)
        lam = (x - tm[j - 1]) / (tm[j] - tm[j - 1])
        vals = (1.0 - lam) * tg[j - 1] + lam * tg[j]
        # below the first grid point: the chord from (0.025, 0.025^2) of the linear regime
        first = x < tm[0]
        if np.any(first):
            l0 = (x[first] - _LINEAR_MU) / (tm[0] - _LINEAR_MU)
            vals[first] = (1.0 - l0) * _LINEAR_MU ** 2 + l0 * tg[0]
        vals[x > tm[-1]] = math.inf
        out[big] = vals
    return out


@dataclass(frozen=True, eq=False)
class MinChi2Teacher:
    """Teachers representing y on a finite support, and the bracket of the smallest legitimate Dbar.

    ``c = H2^+ y``, ``m = c.h``.  ``D_lower = c^T H2 c = y^T H2^+ y`` is the minimum of chi^2 over signed
    measures (density ratio ``1 + u m``), hence a lower bound of chi^2(p_true || p0) for every density p_true
    representing y.  ``D_upper`` is chi^2 of a legitimate density: theta reweighted by ``rho = (1 + |m|/kappa)/Z``
    and, given theta, the min-chi^2 density of mean ``m/rho`` (:func:`min_chi2_conditional`), the best kappa
    of a grid (inf: no reweighting, ``E g(m)``); the Gaussian-shift teacher of :func:`realisable_teacher`
    (``E e^{m^2} - 1``) is one more legitimate teacher, never below the kappa = inf one.  ``*_error``: K vs 2K.
    """

    c: np.ndarray
    H2: np.ndarray
    f_true: np.ndarray
    range_residual: float
    realisable: bool
    D_lower: float
    D_lower_error: float
    D_upper: float
    D_upper_error: float
    max_abs_m: float
    K: int


#: Scales kappa of the theta-reweighting searched for the legitimate teacher (inf: theta ~ N(0, I) as is).
_KAPPAS = np.concatenate([np.geomspace(0.05, 20.0, 25), [np.inf]])


def _legit_chi2(m: np.ndarray, wts: np.ndarray, kappa: float) -> float:
    """chi^2 of the legitimate teacher with theta-weight rho = (1 + |m|/kappa)/Z and, given theta, the
    min-chi^2 u-density of mean m/rho: the mean density rho * mean is m, so it represents the same y."""
    if math.isinf(kappa):
        return float(wts @ min_chi2_conditional(m))
    rho = 1.0 + np.abs(m) / kappa
    rho = rho / float(wts @ rho)
    return float(wts @ (rho * rho * (1.0 + min_chi2_conditional(m / rho)))) - 1.0


def _min_chi2_on_rule(X, y, act, K, kappa=None):
    rule = make_rule(X, K)
    h = act.derivatives(rule.z, 0)[0]
    H2 = h.T @ (rule.weights[:, None] * h)
    c = np.linalg.pinv(0.5 * (H2 + H2.T), hermitian=True) @ y
    m = h @ c
    if kappa is None:  # the best reweighting on this rule (every kappa gives a legitimate teacher)
        vals = [_legit_chi2(m, rule.weights, kp) for kp in _KAPPAS]
        kappa = float(_KAPPAS[int(np.argmin(vals))])
    return rule, H2, c, float(rule.weights @ (m * m)), _legit_chi2(m, rule.weights, kappa), m, kappa


def min_chi2_teacher(X, y, act: Activation, K: Optional[int] = None, *, range_tol: float = 1e-8) -> MinChi2Teacher:
    """The bracket ``[y^T H2^+ y, chi^2 of a legitimate teacher]`` of the smallest Dbar (MinChi2Teacher).

    X : (n, d) support, y : (n,) labels; K nodes per dimension of the z-rule (refined at 2K).
    """
    X, y, act, _, _ = _check_problem(X, y, act, 1.0, 1.0)
    range_tol = check_positive("range_tol", range_tol)
    rule, H2, c, lo, up, m, kappa = _min_chi2_on_rule(X, y, act, K)
    if rule.exact_tier:
        _, _, _, lo2, up2, _, _ = _min_chi2_on_rule(X, y, act, 2 * rule.K, kappa)
        e_lo, e_up = abs(lo2 - lo), (abs(up2 - up) if math.isfinite(up) else 0.0)
    else:  # QMC: no refinement bound; the caller sees an infinite error
        e_lo = e_up = math.inf
    f_true = H2 @ c
    res = float(np.max(np.abs(f_true - y)))
    return MinChi2Teacher(c=c, H2=H2, f_true=f_true, range_residual=res,
                          realisable=res <= range_tol * max(1.0, float(np.max(np.abs(y)))), D_lower=lo,
                          D_lower_error=e_lo, D_upper=up, D_upper_error=e_up, max_abs_m=float(np.max(np.abs(m))),
                          K=rule.K)


# ------------------------------------------------------------------------------------------------
# risks, right-hand sides, the proof chain of Theorem 4.5
# ------------------------------------------------------------------------------------------------

def _distribution(prob, n: int) -> np.ndarray:
    if prob is None:
        return np.full(n, 1.0 / n)
    p = check_vector("prob", prob, length=n)
    # a probability vector up to the rounding of the caller's normalisation
    if np.any(p < 0) or abs(p.sum() - 1.0) > 1e-12:
        raise DomainError(f"prob must be non-negative and sum to 1, got {p} (sum {p.sum()!r})")
    return p


def zero_one_risk(f, y, prob=None) -> float:
    """``E_D 1{y f(x) <= 0}`` on a finite support (E4; a zero output counts as an error, docs/generation.md).

    f, y : (n,) outputs and labels at the support points; prob : (n,) law D (default uniform).
    """
    f = check_vector("f", f)
    y = check_vector("y", y, length=f.shape[0])
    p = _distribution(prob, f.shape[0])
    return float(p @ (y * f <= 0.0))


def phat_loss(teacher: Teacher, weights=None) -> float:
    """``L(p_hat)`` (5.2): ``f(p_hat) = (1 - 1/alpha) f(p0) + f_true = f_true`` for every alpha, so
    ``L = sum_k omega_k (f_true_k - y_k)^2`` (0 up to the range residual)."""
    if not isinstance(teacher, Teacher):
        raise TypeError(f"teacher must be a Teacher (from realisable_teacher), got {type(teacher).__name__}: {teacher!r}")
    omega = loss_weights(weights, teacher.y.shape[0])
    return float(omega @ (teacher.f_true - teacher.y) ** 2)


@guard_numerics
def phat_chi2(teacher: Teacher, alpha: float, K_u: int = 80) -> float:
    """``chi^2(p_hat || p0) = E_{p0}[(p_hat/p0)^2] - 1`` with u integrated by Gauss-Hermite (5.3 cross-check).

    ``p_hat/p0 = (1 - 1/alpha) + exp(u m - m^2/2)/alpha``; the (theta, u) double sum does not use the
    identity ``chi^2 = Dbar/alpha^2`` it is meant to check.  For alpha < 1 p_hat is a signed measure (E12);
    the value is still the chi^2 functional of it.
    """
    if not isinstance(teacher, Teacher):
        raise TypeError(f"teacher must be a Teacher, got {type(teacher).__name__}")
    alpha = check_positive("alpha", alpha)
    K_u = check_int("K_u", K_u, minimum=2, maximum=400)
    rule = make_rule(teacher.X, teacher.chi2.K)
    m = teacher.act.derivatives(rule.z, 0)[0] @ teacher.c
    u, wu = hermite_rule(K_u)
    ratio = (1.0 - 1.0 / alpha) + np.exp(np.outer(m, u) - 0.5 * (m * m)[:, None]) / alpha
    val = float(rule.weights @ ((ratio * ratio) @ wu)) - 1.0
    if not np.isfinite(val):
        raise NonFiniteError(f"chi^2(p_hat || p0) overflowed (max|m| = {np.max(np.abs(m)):.3g}); use Dbar/alpha^2")
    return val


def theorem45_rhs(Dbar: float, n: float, delta: float, G: float) -> float:
    """``(8G + 1) sqrt(Dbar/n) + 6 sqrt(log(2/delta)/(2n))`` (Theorem 4.5): :func:`theory.bounds.theorem_4_5_rhs`."""
    return theorem_4_5_rhs(G, Dbar, n, delta)


def lemma56_rhs(sqrt_loss: float, complexity: float, n: float, delta: float) -> float:
    """``sqrt(L_S) + 4 R_n + 6 sqrt(log(2/delta)/(2n))`` (Lemma 5.6 as printed): :func:`theory.bounds.lemma_5_6_rhs`."""
    return lemma_5_6_rhs(sqrt_loss, complexity, delta, n)


@dataclass(frozen=True, eq=False)
class Theorem45Chain:
    """The auditable chain of Theorem 4.5 (docs/claims.md#theorem-45) for one sample (multiplicities over the support).

    ``N`` sample size; ``M = Dbar/alpha^2``; ``L_phat`` (5.2), ``chi2_phat`` (u-GH) vs
    ``chi2_phat_identity = Dbar/alpha^2`` (5.3); ``L_star <= bound_54 = lam M`` (5.4),
    ``KL_star <= bound_55 = M`` (5.5); premises ``alpha >= sqrt(N lam)`` (stated), hidden H1 (labels
    in {+-1}), H2 (alpha >= 1: p_hat a density, E12), H3 (M <= 1/2, E10); ``risk_star`` the 0-1 risk
    of p* under prob; ``rhs`` with the global G, ``rhs_G1`` with G1 (E18).  ``gibbs`` carries the
    quadrature validity of the starred quantities.
    """

    alpha: float
    lam: float
    N: float
    Dbar: float
    M: float
    L_phat: float
    chi2_phat: Optional[float]
    chi2_phat_identity: float
    L_star: float
    KL_star: float
    Q_star: float
    bound_54: float
    bound_55: float
    premise_alpha: bool
    labels_pm1: bool
    phat_is_density: bool
    M_le_half: bool
    risk_star: float
    rhs: float
    rhs_G1: float
    gibbs: GibbsSolution


@guard_numerics
def theorem45_chain(teacher: Teacher, alpha: float, lam: float, weights, *, delta: float = 0.1, prob=None,
                    K: Optional[int] = None, K_u: int = 80, warn: bool = False) -> Theorem45Chain:
    """Compute every step of the proof of Theorem 4.5 for the sample with multiplicities ``weights`` (n,).

    p* minimises ``Q = L_S + lam KL`` with ``L_S = (1/N) sum_k w_k (f_k - y_k)^2`` (weighted dual of
    :mod:`theory.gibbs`, cost independent of N).  ``chi2_phat`` is None when the u-quadrature overflows.
    """
    if not isinstance(teacher, Teacher):
        raise TypeError(f"teacher must be a Teacher, got {type(teacher).__name__}")
    alpha, lam = check_positive("alpha", alpha), check_positive("lam", lam)
    delta = check_probability("delta", delta)
    w = check_vector("weights", weights, length=teacher.y.shape[0])
    loss_weights(w, w.shape[0])  # validates w >= 0 with a positive sum
    N = float(w.sum())
    sol = solve_gibbs(teacher.X, teacher.y, teacher.act, alpha, lam, K=K, weights=w, warn=warn)
    Dbar = teacher.Dbar
    M = Dbar / alpha ** 2
    try:
        chi2_ph = phat_chi2(teacher, alpha, K_u)
    except NonFiniteError:
        chi2_ph = None
    G, G1 = teacher.act.G, teacher.act.G1
    # premise_alpha: the 1e-12 allowance lets the boundary case lam = alpha^2/N (docs/claims.md#theorem-45) count as
    # satisfied despite the rounding of alpha^2/N * N
    return Theorem45Chain(
        alpha=alpha, lam=lam, N=N, Dbar=Dbar, M=M, L_phat=phat_loss(teacher, w), chi2_phat=chi2_ph,
        chi2_phat_identity=M, L_star=sol.L, KL_star=sol.KL, Q_star=sol.Q, bound_54=lam * M, bound_55=M,
        premise_alpha=alpha >= math.sqrt(N * lam) * (1.0 - 1e-12), labels_pm1=bool(np.all(np.abs(teacher.y) == 1.0)),
        phat_is_density=alpha >= 1.0, M_le_half=M <= 0.5,
        risk_star=zero_one_risk(sol.f, teacher.y, prob),
        rhs=theorem45_rhs(Dbar, N, delta, G) if np.isfinite(Dbar) else math.inf,
        rhs_G1=theorem45_rhs(Dbar, N, delta, G1) if np.isfinite(Dbar) else math.inf, gibbs=sol)


# ------------------------------------------------------------------------------------------------
# Lemma 5.6 counterexample for |y| < 1 (E11)
# ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Lemma56Counterexample:
    """LHS and the pieces of the RHS of Lemma 5.6 for the construction of docs/claims.md#lemma-56.

    ``mu_u = -2 y / alpha`` makes ``f == alpha mu_u / 2 = -y`` for every x (sigmoid symmetry), so
    ``lhs = 1`` (``y f = -y^2 < 0``), ``sqrt_loss = 2|y|``, ``M = KL = mu_u^2/2 = 2 y^2/alpha^2``.
    ``complexity_term = 4 R``, ``confidence_term = 6 sqrt(log(2/delta)/(2n))``; ``lemma55_bound =
    2 G1 alpha sqrt(M/n)`` (G1 = 1 for sigmoid) is the value Lemma 5.5 allows for R when M <= 1/2.
    """

    lhs: float
    f_value: float
    mu_u: float
    M: float
    sqrt_loss: float
    complexity_term: float
    confidence_term: float
    rhs: float
    lemma55_bound: float
    violated: bool


@guard_numerics
def lemma56_counterexample(alpha: float, y_value: float, n: int, delta: float,
                           complexity: float) -> Lemma56Counterexample:
    """Lemma 5.6 with constant labels ``y_value`` (0 < |y| <= 1) and ``p = N((0_d, mu_u), I)`` (docs/claims.md#lemma-56).

    ``complexity`` is the value used for R_n(F_KL(M)) (an exact DV value, or the Lemma 5.5 bound).
    The construction does not depend on d or on the inputs.
    """
    alpha = check_positive("alpha", alpha)
    yv = float(y_value)
    if not (0.0 < abs(yv) <= 1.0):
        raise DomainError(f"y_value must satisfy 0 < |y| <= 1 (Assumption 4.1, nonzero label), got {y_value!r}")
    n = check_int("n", n, minimum=1)
    delta = check_probability("delta", delta)
    complexity = float(complexity)
    if not complexity >= 0:
        raise DomainError(f"complexity must be >= 0, got {complexity!r}")
    mu_u = -2.0 * yv / alpha
    f_val = alpha * mu_u * 0.5  # E_theta sigmoid(theta.x) = 1/2 for every x, u independent of theta
    M = 0.5 * mu_u ** 2
    lhs = zero_one_risk(np.array([f_val]), np.array([yv]))
    sqrt_loss = abs(f_val - yv)
    conf = 6.0 * math.sqrt(math.log(2.0 / delta) / (2.0 * n))
    rhs = sqrt_loss + 4.0 * complexity + conf
    return Lemma56Counterexample(lhs=lhs, f_value=f_val, mu_u=mu_u, M=M, sqrt_loss=sqrt_loss,
                                 complexity_term=4.0 * complexity, confidence_term=conf, rhs=rhs,
                                 lemma55_bound=2.0 * SIGMOID.G1 * alpha * math.sqrt(M / n), violated=lhs > rhs)
