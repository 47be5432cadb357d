"""Evidence along a particle trajectory and at t = infinity for Lemmas 5.2, 5.3 and Theorem 4.4 (docs/claims.md#lemma-52-4.6, 5).

From a recorded :class:`~theory.dynamics.Trajectory` (R independent replicas of m particles each)
every quantity here is an estimate (tier S); replicas give the standard errors:

* W2(p_t, p0) brackets: the upper value ``sqrt(E|w_t - v_t|^2)`` of the OU reference v driven by
  the same noise (exact OU step, so ``v_t ~ p0`` exactly; docs/evidence.md#certified-and-estimated-quantities) and the Gelbrich lower value
  from moments, ``W2(N(mu_w, S_w), N(mu_v, S_v))`` between the plug-in Gaussians of w and of v
  (:func:`run_coupled` records v's moments; see :func:`path_evidence` for why this is ordered);
* KL(p_t || p0) brackets: the moment-matched value ``KL(N(mu_t, Sigma_t) || p0)`` less its plug-in
  bias (:func:`plugin_kl_bias`), and the energy upper value ``(L(p0) - L(p_t)) / lam`` (docs/model.md#first-variation-and-the-pde);
* the operational premises OP-H ``lambda_min(H(p_t)) >= Lambda/2`` and OP-M
  ``E|w|^2 <= 4(d+1)`` (docs/claims.md#lemma-52, 3.2), judged on every replica;
* the Groenwall envelope ``B' = -(2 alpha^2/n) lambda_min(H(p_t)) B + lam alpha |b(p_t)|``,
  ``B(0) = |r(0)|`` (docs/claims.md#lemma-52), and the NTK-linearised residual ``r' = -(2 alpha^2/n) H(p0) r``.

At t = infinity the Gibbs minimiser p* (docs/claims.md#gibbs-minimiser, :func:`theory.gibbs.solve_gibbs`) gives the same
quantities exactly (tier E, valid where its quadrature refinement passes): :func:`gibbs_evidence`.
Helpers for Algorithm 1: Richardson extrapolation and observed convergence rates.

Time: ``t`` is physical time; ``tau = alpha^2 lambda0^2 t`` (docs/model.md#particle-sde-and-algorithm-1), ``lambda0^2 = Lambda / n``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import List, Optional, Tuple

import numpy as np
from scipy.special import logsumexp

from ._validation import guard_numerics, as_float_array, check_int, check_matrix, check_nonnegative, check_positive, check_vector
from ._gaussian_stacks import kl_gaussian_p0_stack, w2_squared_gaussian_p0_stack, w2_squared_gaussian_stack
from .divergences import w2_squared_gaussian_p0
from .dynamics import Dynamics, State, Trajectory
from .errors import DomainError, MissingDerivativeError, ShapeError

__all__ = ["plugin_kl_bias", "plugin_w2_sq_bias", "replica_mean_se", "CoupledRun", "run_coupled", "record_stops",
           "PathEvidence", "path_evidence",
           "gronwall_envelope", "ntk_linearised_residual", "linearisation_error", "resolving_window",
           "finite_width_floor", "gibbs_moments", "GibbsEvidence", "gibbs_evidence", "richardson",
           "observed_rate", "slack_orders", "long_run_average", "p_lower_exact_families", "alpha_min_exponent"]


# ------------------------------------------------------------------------------ plug-in biases
def plugin_kl_bias(k: int, m: int, symmetric: bool = True) -> float:
    """Upward bias of the plug-in Gaussian KL ``KL(N(mu_hat, Sigma_hat) || p0)`` at p0, to O(1/m) (docs/claims.md#lemma-53).

    With ``Sigma_hat = I + E``, ``2 KL ~ |mu_hat|^2 + tr(E^2)/2``.  For m iid particles
    ``E|mu_hat|^2 = k/m`` and ``E tr(E^2) = k(k+1)/m``, giving ``k(k+3)/(4m)``.  Under the doubling
    init (docs/model.md#symmetric-initialisation) theta comes from m/2 draws, u has mean exactly 0 and Cov(theta, u) = 0, giving
    ``E|mu_hat|^2 = 2(k-1)/m`` and ``E tr(E^2) = (2(k-1)^2 + 2(k-1) + 4)/m``, i.e. ``k(k+1)/(2m)``,
    the larger of the two for k >= 1; the dynamics decorrelates the pairs, so along a run the bias
    lies between them and the doubling value is the conservative one to subtract.
    """
    k, m = check_int("k", k), check_int("m", m)
    return k * (k + 1) / (2.0 * m) if symmetric else k * (k + 3) / (4.0 * m)


def plugin_w2_sq_bias(k: int, m: int, symmetric: bool = True) -> float:
    """Upward bias of the plug-in Gelbrich value ``W2^2(N(mu_hat, Sigma_hat), p0)`` at p0, to O(1/m).

    ``W2^2 ~ |mu_hat|^2 + tr(E^2)/4`` (since ``(sqrt(1+e) - 1)^2 ~ e^2/4``): ``k(k+5)/(4m)`` for iid
    particles and ``(d^2 + 5d + 2)/(2m)`` (d = k - 1) under the doubling init, again the larger one.
    """
    k, m = check_int("k", k), check_int("m", m)
    d = k - 1
    return (d * d + 5 * d + 2) / (2.0 * m) if symmetric else k * (k + 5) / (4.0 * m)


def replica_mean_se(x, axis: int = 1) -> Tuple[np.ndarray, np.ndarray]:
    """Mean over the replica axis and its standard error ``std(ddof=1)/sqrt(R)`` (needs R >= 2)."""
    x = as_float_array("x", x)
    if x.size == 0 or x.ndim == 0:
        raise ShapeError(f"x must hold replicas along axis {axis}, got shape {x.shape}")
    R = x.shape[axis]
    if R < 2:
        raise DomainError(f"standard errors need at least 2 replicas, got R={R}")
    return x.mean(axis=axis), x.std(axis=axis, ddof=1) / math.sqrt(R)


# ------------------------------------------------------------------------------ along a path
@dataclass(frozen=True)
class CoupledRun:
    """A recorded run plus the plug-in moments of its OU reference particles v (exactly p0-distributed).

    ``ref_mean (N, R, k)`` and ``ref_cov (N, R, k, k)`` sit on the record grid of ``traj``.
    """

    traj: Trajectory
    ref_mean: np.ndarray
    ref_cov: np.ndarray


def run_coupled(dyn: Dynamics, state: State, n_steps: int, record_every: int) -> CoupledRun:
    """Advance ``state`` like :meth:`Dynamics.run`, recording also the reference particles' moments.

    Steps and records run through :meth:`Dynamics.records`: several records and the stretches between
    them in one compiled call, each record reusing the first pass of the next step; every record after
    the first re-checks the stability limit (raising :class:`~theory.errors.UnstableStepError`), as
    ``Dynamics.run`` does with ``check_stability``.
    """
    if not isinstance(dyn, Dynamics):
        raise TypeError(f"dyn must be a Dynamics, got {type(dyn).__name__}")
    # the stretches and records in compiled calls of several records each (Dynamics.records)
    traj, (means, covs) = dyn.records(state, record_stops(n_steps, record_every), reference=True, check=True)
    return CoupledRun(traj, means, covs)


def record_stops(n_steps: int, record_every: int) -> List[int]:
    """The record steps of :func:`run_coupled`: 0, every ``record_every`` steps, and ``n_steps``."""
    n_steps = check_int("n_steps", n_steps, minimum=0)
    every = check_int("record_every", record_every)
    return [0] + list(range(every, n_steps, every)) + ([n_steps] if n_steps else [])


@dataclass(frozen=True)
class PathEvidence:
    """Per record (N) and replica (R): the tier-S observables of a trajectory (module docstring).

    ``t``, ``t_phys``, ``tau`` (N,); ``sqrt_loss``, ``residual_norm``, ``gronwall``, ``w2_lower``,
    ``w2_upper``, ``kl_lower``, ``kl_energy_upper``, ``lam_min_ratio`` (= lambda_min(H)/Lambda) and
    ``moment_ratio`` (= E|w|^2 / (4(d+1))) of shape (N, R); ``op_h``, ``op_m`` (N,) true when every
    replica satisfies the premise at that record, ``premises_hold`` (N,) true while both have held at
    every record so far.  ``m``, ``dt`` (config time unit), ``time`` ("t" | "tau"), sizes, constants.
    """

    m: int
    dt: float
    time: str
    R: int
    n: int
    d: int
    alpha: float
    lam: float
    Lambda: float
    t: np.ndarray
    t_phys: np.ndarray
    tau: np.ndarray
    sqrt_loss: np.ndarray
    residual_norm: np.ndarray
    gronwall: np.ndarray
    w2_lower: np.ndarray
    w2_upper: np.ndarray
    kl_lower: np.ndarray
    kl_energy_upper: np.ndarray
    lam_min_ratio: np.ndarray
    moment_ratio: np.ndarray
    op_h: np.ndarray
    op_m: np.ndarray
    premises_hold: np.ndarray
    #: The particle step that ran (``Trajectory.kernel``: "numba-serial", "numba-parallel/T", "numpy").
    kernel: str = ""

    def mean_se(self, name: str) -> Tuple[np.ndarray, np.ndarray]:
        """``(mean (N,), se (N,))`` over replicas of the (N, R) field ``name``."""
        return replica_mean_se(getattr(self, name), axis=1)


@guard_numerics
def gronwall_envelope(t, lam_min, b_norm, r0_norm, alpha: float, lam: float, n: int) -> np.ndarray:
    """The Groenwall envelope B(t) of docs/claims.md#lemma-52 on a record grid, shape like ``lam_min`` (N, ...).

    ``B' = -a(t) B + c(t)`` with ``a = (2 alpha^2/n) lambda_min(H(p_t))`` and ``c = lam alpha |b(p_t)|``,
    ``B(0) = |r(0)|``.  Between records the coefficients are frozen at the mean of the two ends and
    the linear ODE is solved exactly: ``B <- B e^{-a h} + (c/a)(1 - e^{-a h})`` (``c h`` when a = 0).

    Parameters
    ----------
    t : (N,) increasing physical times; lam_min, b_norm : (N, ...) arrays; r0_norm : (...) array.
    """
    t = check_vector("t", t)
    lam_min, b_norm = as_float_array("lam_min", lam_min), as_float_array("b_norm", b_norm)
    if lam_min.shape != b_norm.shape or lam_min.shape[0] != t.size:
        raise ShapeError(f"lam_min {lam_min.shape} and b_norm {b_norm.shape} must both be (N={t.size}, ...)")
    if np.any(np.diff(t) < 0):
        raise DomainError("t must be non-decreasing")
    alpha, lam, n = check_positive("alpha", alpha), check_nonnegative("lam", lam), check_int("n", n)
    B = np.empty_like(lam_min)
    B[0] = as_float_array("r0_norm", r0_norm)
    for i in range(1, t.size):
        h = t[i] - t[i - 1]
        a = (alpha ** 2 / n) * (lam_min[i] + lam_min[i - 1])
        c = 0.5 * lam * alpha * (b_norm[i] + b_norm[i - 1])
        decay = np.exp(-a * h)
        # -expm1(-ah)/a -> h as a -> 0; the where() keeps a = 0 (lambda_min = 0) finite.
        gain = np.where(a > 0, -np.expm1(-a * h) / np.where(a > 0, a, 1.0), h)
        B[i] = B[i - 1] * decay + c * gain
    return B


def path_evidence(run, X, y, Lambda: float, symmetric: Optional[bool] = None) -> PathEvidence:
    """The :class:`PathEvidence` of a recorded run (module docstring; every value tier S).

    Parameters
    ----------
    run : CoupledRun or Trajectory
        From :func:`run_coupled` (preferred) or :func:`theory.dynamics.simulate`, with
        ``couple_ou=True`` and ``lam > 0``; needs b (an activation with h'').
    X : (n, d) array; y : (n,) array
        The data the run used.
    Lambda : float > 0
        lambda_min(H(p0)) (Assumption 4.3).
    symmetric : bool or None
        Whether the init was doubled (decides the plug-in biases); None reads the config.

    Notes
    -----
    The Gelbrich lower value: with a :class:`CoupledRun` it is ``W2(N(mu_w, S_w), N(mu_v, S_v))``
    between the plug-in Gaussians of the particles w and of their OU reference v.  Since v ~ p0
    exactly and is driven by the same noise, the sampling noise of the two moment sets largely
    cancels, and by Gelbrich's inequality applied to the two empirical measures it never exceeds
    the coupling value ``sqrt(mean_j |w_j - v_j|^2)``: the bracket is ordered replica by replica.
    From a bare Trajectory it is ``W2(N(mu_w, S_w), p0)`` less :func:`plugin_w2_sq_bias`, whose
    noise (~ sqrt(k^2/m)) swamps small distances.
    """
    ref = None
    if isinstance(run, CoupledRun):
        traj, ref = run.traj, (run.ref_mean, run.ref_cov)
    else:
        traj = run
    if not isinstance(traj, Trajectory):
        raise TypeError(f"run must be a CoupledRun or a Trajectory, got {type(run).__name__}")
    X = check_matrix("X", X)
    y = check_vector("y", y, length=X.shape[0])
    Lambda = check_positive("Lambda", Lambda)
    cfg = traj.config
    if cfg.lam <= 0:
        raise DomainError(f"the energy KL bracket needs lam > 0, got lam={cfg.lam!r}")
    if traj.lam_min_H is None:
        raise DomainError("path_evidence needs full records (Dynamics.records with observables='all'), got a "
                          "trajectory of outputs records")
    if traj.w2_ou_upper_sq is None:
        raise DomainError("the W2 upper value needs a coupled OU reference (couple_ou=True)")
    if traj.b is None:
        raise MissingDerivativeError("the Groenwall envelope needs b(p_t), i.e. an activation with h''")
    n, d = X.shape
    k, m = d + 1, cfg.m
    sym = cfg.symmetric if symmetric is None else bool(symmetric)
    N, R = traj.loss.shape
    # One stacked call per divergence over all (record, replica) pairs (theory._gaussian_stacks).
    if ref is None:
        w2sq = w2_squared_gaussian_p0_stack(traj.mean, traj.cov)
        w2_lower = np.sqrt(np.maximum(w2sq - plugin_w2_sq_bias(k, m, sym), 0.0))
    else:
        w2_lower = np.sqrt(w2_squared_gaussian_stack(traj.mean, traj.cov, ref[0], ref[1]))
    kl = kl_gaussian_p0_stack(traj.mean, traj.cov)
    rnorm = np.linalg.norm(traj.residual, axis=-1)
    gron = gronwall_envelope(traj.t_phys, traj.lam_min_H, np.linalg.norm(traj.b, axis=-1), rnorm[0],
                             cfg.alpha, cfg.lam, n)
    lam_ratio = traj.lam_min_H / Lambda
    mom_ratio = traj.second_moment / (4.0 * k)
    op_h = np.all(lam_ratio >= 0.5, axis=1)
    op_m = np.all(mom_ratio <= 1.0, axis=1)
    return PathEvidence(
        m=m, dt=cfg.dt, time=cfg.time, R=R, n=n, d=d, alpha=cfg.alpha, lam=cfg.lam, Lambda=Lambda,
        t=np.asarray(traj.t, float), t_phys=np.asarray(traj.t_phys, float),
        tau=cfg.alpha ** 2 * (Lambda / n) * np.asarray(traj.t_phys, float),
        sqrt_loss=np.sqrt(traj.loss), residual_norm=rnorm, gronwall=gron,
        w2_lower=w2_lower,
        w2_upper=np.sqrt(traj.w2_ou_upper_sq),
        kl_lower=np.maximum(kl - plugin_kl_bias(k, m, sym), 0.0),
        kl_energy_upper=(traj.loss[0][None, :] - traj.loss) / cfg.lam,
        lam_min_ratio=lam_ratio, moment_ratio=mom_ratio, op_h=op_h, op_m=op_m,
        premises_hold=np.logical_and.accumulate(op_h & op_m), kernel=str(getattr(traj, "kernel", "") or ""))


@guard_numerics
def ntk_linearised_residual(t, r0, H0, alpha: float, n: Optional[int] = None, dt: Optional[float] = None) -> np.ndarray:
    """The NTK-linearised residual ``r' = -(2 alpha^2/n) H(p0) r``, ``r(0) = r0`` (docs/model.md#residual-ode with H(p_t) = H(p0), b = 0).

    ``dt=None``: the exact flow ``exp(-(2 alpha^2/n) H(p0) t) r0``.  With a physical step ``dt`` the
    same ODE integrated by explicit Euler, ``(I - dt (2 alpha^2/n) H(p0))^{t/dt} r0``: the particle
    scheme's own step, so that comparing the two isolates the effect of alpha from the
    time-discretisation error (which at a fixed fraction of the stability limit does not shrink
    with alpha).  ``t`` (N,) physical times (multiples of dt), ``r0`` (n,), ``H0`` (n, n) -> (N, n).
    """
    t = check_vector("t", t)
    r0 = check_vector("r0", r0)
    H0 = check_matrix("H0", H0, rows=r0.size, cols=r0.size)
    alpha = check_positive("alpha", alpha)
    n = r0.size if n is None else check_int("n", n)
    evals, V = np.linalg.eigh(0.5 * (H0 + H0.T))
    rates = (2.0 * alpha ** 2 / n) * evals
    if dt is None:
        factors = np.exp(-np.outer(t, rates))
    else:
        steps = np.rint(t / check_positive("dt", dt))
        factors = (1.0 - dt * rates)[None, :] ** steps[:, None]
    return (factors * (V.T @ r0)) @ V.T


def linearisation_error(residual, r_lin, scale: float) -> Tuple[np.ndarray, np.ndarray]:
    """``e(t) = |mean_R r(t) - r_lin(t)| / scale`` and its jackknife standard error over replicas.

    ``residual`` (N, R, n) particle residuals, ``r_lin`` (N, n).  Averaging over replicas first
    removes the particle noise (which would bias a per-replica norm upward); the leave-one-out
    jackknife gives the standard error of the norm of the mean.
    """
    residual = as_float_array("residual", residual, ndim=3)
    r_lin = as_float_array("r_lin", r_lin, ndim=2)
    scale = check_positive("scale", scale)
    N, R, n = residual.shape
    if r_lin.shape != (N, n):
        raise ShapeError(f"r_lin must have shape {(N, n)}, got {r_lin.shape}")
    if R < 2:
        raise DomainError(f"the jackknife needs at least 2 replicas, got R={R}")
    full = np.linalg.norm(residual.mean(axis=1) - r_lin, axis=-1) / scale
    loo = (residual.sum(axis=1)[:, None, :] - residual) / (R - 1)            # (N, R, n)
    e_loo = np.linalg.norm(loo - r_lin[:, None, :], axis=-1) / scale
    se = np.sqrt((R - 1) / R * np.sum((e_loo - e_loo.mean(axis=1, keepdims=True)) ** 2, axis=1))
    return full, se


def finite_width_floor(sqrt_loss_m, sqrt_loss_4m, lam: float, n: int, m: int, Lambda: float) -> float:
    """The finite-width floor of sqrt(L) at width m: the larger of the docs/model.md#particle-sde-and-algorithm-1 noise scale
    ``sqrt(lam n / (m Lambda))`` and the measured bias ``2 max_t |sqrtL_m - sqrtL_4m|``.

    At the floor sqrt(L_m) ~ c/sqrt(m), so the bias at m is ``(1 - 1/2)^{-1} = 2`` times the m-to-4m
    difference; ``sqrt_loss_m``, ``sqrt_loss_4m`` are replica means on the same record grid (N,).
    """
    a, b = check_vector("sqrt_loss_m", sqrt_loss_m), check_vector("sqrt_loss_4m", sqrt_loss_4m)
    if a.shape != b.shape:
        raise ShapeError(f"sqrt_loss_m {a.shape} and sqrt_loss_4m {b.shape} must share the record grid")
    scale = math.sqrt(check_nonnegative("lam", lam) * check_int("n", n) / (check_int("m", m) *
                                                                            check_positive("Lambda", Lambda)))
    return max(scale, 2.0 * float(np.max(np.abs(a - b))))


def resolving_window(tau, bias_term: float, floor: float, factor: float = 2.0) -> np.ndarray:
    """Records where Lemma 5.2 has resolving power: ``exp(-tau) >= max(bias_term, factor * floor)``.

    Below the bias term the right side is a constant the particles cannot test against the
    exponential; below the finite-width floor the particle loss is the floor, not L(p_t).  The
    factor 2 leaves room for the floor adding to sqrt(L) while the true sqrt(L) decays at twice the
    bound's rate when OP-H holds (docs/claims.md#lemma-52).
    """
    tau = check_vector("tau", tau)
    bias_term, floor = check_nonnegative("bias_term", bias_term), check_nonnegative("floor", floor)
    return np.exp(-tau) >= max(bias_term, check_positive("factor", factor) * floor)


def slack_orders(observed, bound) -> np.ndarray:
    """``log10(bound / observed)``: the slack of ``observed <= bound`` in orders of magnitude (inf at 0)."""
    o, b = as_float_array("observed", observed), as_float_array("bound", bound)
    for name, a in (("observed", o), ("bound", b)):
        if a.size == 0:
            raise ShapeError(f"{name} is empty")
    if o.ndim and b.ndim and o.shape != b.shape:
        raise ShapeError(f"observed and bound must have one shape (or one be a scalar), got {o.shape} and {b.shape}")
    with np.errstate(divide="ignore"):
        return np.where(o > 0, np.log10(np.maximum(b, 1e-300) / np.where(o > 0, o, 1.0)), np.inf)


# ------------------------------------------------------------------------------ t = infinity
@guard_numerics
def gibbs_moments(sol, X) -> Tuple[np.ndarray, np.ndarray, float]:
    """Mean (k,), covariance (k, k) and ``E|w|^2`` of the Gibbs p* of a :class:`~theory.gibbs.GibbsSolution`.

    p* has theta-marginal ``pi ∝ N(0, I) exp(s^2/2)`` on the rule's nodes ``z = X theta`` and
    ``u | theta ~ N(-s, 1)`` (docs/claims.md#gibbs-minimiser).  Given z, theta is Gaussian with mean ``X^+ z`` and covariance
    ``I - X^+ X`` (the part of theta that X cannot see is untouched), so every moment is a
    z-expectation: ``E theta = X^+ E z``, ``Cov theta = X^+ Cov(z) X^+^T + I - X^+ X``,
    ``E u = -E s``, ``E[theta u] = -X^+ E[z s]``, ``E u^2 = 1 + E s^2``.
    """
    from .gibbs import GibbsSolution

    if not isinstance(sol, GibbsSolution):
        raise TypeError(f"sol must be a GibbsSolution (from solve_gibbs), got {type(sol).__name__}: {sol!r}")
    X = check_matrix("X", X)
    rule, s = sol.rule, np.asarray(sol.s, float)
    logw = np.log(rule.weights) + 0.5 * s * s
    pi = np.exp(logw - logsumexp(logw))
    Xp = np.linalg.pinv(X)                                    # (d, n)
    theta = rule.z @ Xp.T                                     # (N, d)
    d = X.shape[1]
    w = np.concatenate([theta, -s[:, None]], axis=1)          # u's conditional mean is -s
    mean = pi @ w
    c = w - mean
    cov = (pi[:, None] * c).T @ c
    cov[:d, :d] += np.eye(d) - Xp @ X
    cov[d, d] += 1.0                                          # Var(u | theta) = 1
    cov = 0.5 * (cov + cov.T)
    return mean, cov, float(np.trace(cov) + mean @ mean)


#: Absolute rounding level of KL(p*) computed as E_pi s^2 - log Z (a few ulps of O(1) sums).
_KL_ROUNDING = 1e-13


@dataclass(frozen=True)
class GibbsEvidence:
    """Lemma 5.2 / 5.3 / Theorem 4.4 quantities at p* = the t = infinity state (tier E where valid).

    ``sqrt_loss``, ``loss``, ``KL`` of p*; ``lam_min_ratio = lambda_min(H(p*)) / Lambda``;
    ``second_moment = E_{p*}|w|^2``; ``w2_lower`` (Gelbrich from the exact moments) and ``w2_upper``
    (``sqrt(2 KL*)``, Talagrand's sharp T2) bracket W2(p*, p0); ``f_error`` = max|f_K - f_2K|,
    ``KL_rel_error``; ``valid`` when the refinement passed (``reason`` says why not).
    """

    sqrt_loss: float
    loss: float
    KL: float
    lam_min_ratio: float
    second_moment: float
    w2_lower: float
    w2_upper: float
    f_error: float
    KL_rel_error: float
    valid: bool
    reason: str
    solution: object


def gibbs_evidence(X, y, act, alpha: float, lam: float, Lambda: float, K: Optional[int] = None,
                   tolerance: float = 1e-6) -> GibbsEvidence:
    """:class:`GibbsEvidence` of p* (docs/claims.md#gibbs-minimiser) from :func:`theory.gibbs.solve_gibbs` (refined at 2K)."""
    from .gibbs import solve_gibbs

    Lambda = check_positive("Lambda", Lambda)
    sol = solve_gibbs(X, y, act, alpha, lam, K=K, tolerance=tolerance, warn=False)
    mean, cov, mom = gibbs_moments(sol, X)
    f_err = float(sol.refine_error_f) if sol.refine_error_f is not None else math.inf
    kl_err = float(sol.refine_error_KL) if sol.refine_error_KL is not None else math.inf
    # KL = E_pi s^2 - log Z is a difference of O(KL) terms whose rounding is ~1e-16 absolute: at large
    # alpha (KL ~ 1e-12) a relative K-vs-2K change of 1e-4 is rounding, not quadrature error.
    kl_ok = kl_err <= tolerance or kl_err * abs(sol.KL) <= _KL_ROUNDING
    valid = bool(sol.exact_tier and f_err <= tolerance and kl_ok)
    reason = "" if valid else (f"Gibbs quadrature refinement failed ({sol.validity}: max|f_K - f_2K| = "
                               f"{f_err:.2e}, rel. KL change {kl_err:.2e}, max|s| = {sol.max_abs_s:.2f})")
    return GibbsEvidence(
        sqrt_loss=math.sqrt(sol.L), loss=float(sol.L), KL=float(sol.KL),
        lam_min_ratio=float(np.linalg.eigvalsh(sol.H)[0]) / Lambda, second_moment=mom,
        w2_lower=math.sqrt(w2_squared_gaussian_p0(mean, cov)), w2_upper=math.sqrt(2.0 * max(sol.KL, 0.0)),
        f_error=f_err, KL_rel_error=kl_err, valid=valid, reason=reason, solution=sol)


# ------------------------------------------------------------------------------ extrapolation
@guard_numerics
def richardson(coarse, fine, ratio: float, order: float):
    """Richardson extrapolation ``fine + (fine - coarse) / (ratio^order - 1)`` of a quantity with an
    error ``~ h^order`` measured at ``h`` (coarse) and ``h / ratio`` (fine)."""
    c, f = as_float_array("coarse", coarse), as_float_array("fine", fine)
    q = check_positive("ratio", ratio) ** check_positive("order", order)
    if q == 1.0:
        raise DomainError(f"ratio^order must differ from 1, got ratio={ratio!r}, order={order!r}")
    return f + (f - c) / (q - 1.0)


def observed_rate(values, ratio: float) -> float:
    """Observed convergence order from three levels ``h, h/ratio, h/ratio^2``:
    ``log(|v0 - v1| / |v1 - v2|) / log(ratio)`` (max-norm over components; inf when v1 = v2)."""
    v = as_float_array("values", values)
    if v.shape[0] != 3:
        raise ShapeError(f"values must hold 3 levels along axis 0, got shape {v.shape}")
    a, b = float(np.max(np.abs(v[0] - v[1]))), float(np.max(np.abs(v[1] - v[2])))
    if b == 0.0:
        return math.inf
    return math.log(max(a, 1e-300) / b) / math.log(check_positive("ratio", ratio))


def long_run_average(dyn: Dynamics, state: State, n_steps: int, every: int, X, act) -> Tuple[np.ndarray, np.ndarray]:
    """Advance ``state`` by ``n_steps`` and average the outputs f_m (3.2) over the second half of the run,
    sampled every ``every`` steps; returns ``(f_bar (R, n), E|w|^2 at the end (R,))`` (Algorithm 1, E15)."""
    from .network import output, second_moment

    if not isinstance(dyn, Dynamics):
        raise TypeError(f"dyn must be a Dynamics, got {type(dyn).__name__}")
    n_steps, every = check_int("n_steps", n_steps), check_int("every", every)
    total, count, done = 0.0, 0, 0
    for i in range(1, n_steps + 1):
        if 2 * i >= n_steps and (i % every == 0 or i == n_steps):
            dyn.advance(state, i - done)                # the steps up to the sample in one compiled call
            done = i
            total, count = total + output(state.particles(), X, act, dyn.config.alpha), count + 1
    return total / count, second_moment(state.particles())


def p_lower_exact_families(X, act) -> Tuple[float, float]:
    """``(P_lo, R_AB)``: the smallest radius at which the exact adversaries (A) shrink-u and (B) narrow
    Gaussians of :mod:`theory.stability` reach Lambda/2, and ``P_lo = lambda0^2 / R_AB`` (docs/kernels.md#radius-and-alpha-threshold).

    ``R_crit <= R_AB``, so ``P_lo <= P_min``: a lower bound on every admissible P.  The SLSQP Gaussian
    family (C) of :func:`theory.stability.critical_radius` tightens it (~10% in docs/kernels.md#reference-numbers's example) at
    ~100x the cost.
    """
    from .kernels import gram_p0, kernel_constants
    from .stability import adversary_narrow_gaussian, adversary_shrink_u

    kc = kernel_constants(X, act)
    if not kc.Lambda > 0:
        raise DomainError(f"P_min needs Lambda > 0 (Assumption 4.3), got Lambda = {kc.Lambda!r}")
    g = gram_p0(X, act)
    R = min(adversary_shrink_u(g.H1, g.H2, kc.Lambda).radius, adversary_narrow_gaussian(X, act, kc.Lambda).radius)
    return kc.lambda0 ** 2 / R, R


def alpha_min_exponent(act, P: float, lam: float, ns=(2, 4, 8)) -> float:
    """Slope of ``log alpha_min(P)`` against ``log n`` at fixed P (erratum E9), for n unit inputs at evenly
    spaced angles in R^2 (the paper's remark claims alpha = O~(n^3 d); (4.1) with R^-1 gives ~n^6 or more)."""
    from .bounds import alpha_min
    from .kernels import kernel_constants

    amins = []
    for n in ns:
        ang = np.pi * np.arange(check_int("n", n, minimum=2)) / n
        kc = kernel_constants(np.stack([np.cos(ang), np.sin(ang)], axis=1), act)
        amins.append(alpha_min(P, act.G, 2, lam, kc.lambda0))
    return float(np.polyfit(np.log(ns), np.log(amins), 1)[0])
