"""Algorithm 1 / Proposition 3.1 and the kernel (NTK) regime, along particle trajectories (tier S) and at
t = infinity through the Gibbs minimiser p* (tier E) (MATH 4.6, 6 E1).  Lemmas 5.2, 5.3 and Theorem 4.4 are in
:mod:`checks.dynamics_claims`; the shared machinery in :mod:`checks._dynamics_common`.

Variants (DESIGN 4, checks/expectations.py)
    algorithm-1/stated   KNOWN FINDING (E1): Algorithm 1 as printed does not reach f(p*); its outputs stay near
                         0 and its second moment follows the heat flow k(1 + 2 lam T).
    algorithm-1/corrected  the factor-m scheme reaches f(p*) as dt shrinks and m grows (dt, dt/2; m, 4m, 16m;
                         Richardson extrapolation in both).
    algorithm-1/audit    observed rates in m and dt.
    kernel-regime/stated r(t) follows the NTK-linearised ODE more closely at 4 alpha than at alpha (path), and p*
                         approaches kernel ridge regression with H2(p0) (t = inf, MATH 4.6 linearisation).
    kernel-regime/audit  the linearisation errors against alpha and their fitted exponents.

Cases, evidence tiers and the fresh-seed (4m, dt/2) confirmation of an excess are those of
:mod:`checks.dynamics_claims` (an optional case key ``backend``, "numba" or "numpy", selects the particle
step); each verdict's ``extra`` names the width m and step it was measured at.  Mutants are listed in
:data:`MUTANTS`.
"""

from __future__ import annotations

import dataclasses
import json
import math
from functools import lru_cache
from typing import Any, Mapping, Tuple

import numpy as np
from hypothesis import strategies as st

from theory.dynamics import Dynamics, DynamicsConfig
from theory.errors import NonFiniteError, UnstableStepError
from theory.gibbs import linearised_gibbs
from theory.kernels import gram_p0
from theory.trajectory import (linearisation_error, long_run_average, ntk_linearised_residual, observed_rate,
                               replica_mean_se, richardson)

from ._dynamics_common import (_DATA, _SEED_4M, _SEED_CONFIRM, _SEED_LADDER, _SEED_M, _base, _Ctx, _ctx, _estimated,
                               _gibbs, _guard, _key, _plain, _reg, _RUNS, _seed, _simulate, _threads, sizes)
from .registry import Claim, Expected
from .strategies import log_uniform
from .verdict import Tier, Verdict

__all__ = ["ALGORITHM_1", "KERNEL_REGIME", "algorithm_cases", "kernel_cases", "check_algorithm_printed",
           "check_algorithm_corrected", "audit_algorithm", "check_kernel_regime", "audit_kernel_regime", "MUTANTS"]

ALGORITHM_1 = Claim("algorithm-1", "Algorithm 1 / Proposition 3.1", "noisy GD on Qhat approximates the PDE "
                    "(3.4); its long-run output is f(p*) as m -> inf, eta -> 0", ("Assumptions 4.1-4.2",),
                    family="algorithm-1")
KERNEL_REGIME = Claim("kernel-regime", "Section 4 (NTK regime)", "as alpha grows the residual follows the "
                      "NTK-linearised ODE r' = -(2 alpha^2/n) H(p0) r and p* tends to kernel ridge regression "
                      "with H2(p0)", ("Assumptions 4.1-4.3",), family="kernel-regime")


# ------------------------------------------------------------------------------ cases
def kernel_cases():
    """Kernel-regime cases: ``alpha_lambda0 = alpha lambda0`` for runs (tau in [0, 3]) or
    ``kr = alpha^2 lambda_min(H2)/(lam n)``
    (>= 2: the kernel term dominates the ridge, MATH 4.6) for p*; the other alpha is 4 times larger."""
    # alpha lambda0 >= 0.05: the headline is asymptotic, and below its onset the linearisation error is
    # not monotone in alpha.  Two soaks (K=50 each) found confirmed counterexamples with alpha lambda0 of
    # 0.008 (sigmoid: 0.165 at alpha=0.69, 0.200 at 2.74) and 0.006 (0.56 sigmoid(z/1.9), alpha=2.2);
    # in the first the error peaks near alpha lambda0 ~ 0.03 and falls after (0.11 at 0.15).  alpha
    # lambda0 is scale-free (h -> c h multiplies lambda0 by c), a bare alpha range is not.
    # KERNEL_ONSET_CASES keep both cases in the audit, so the report shows where the regime starts.
    return _base(sizes(), lam=log_uniform(1e-3, 1e-2), alpha_lambda0=log_uniform(0.05, 0.2), lam_gibbs=log_uniform(0.1, 1.0),
                 kr=log_uniform(2.0, 50.0), mode=st.sampled_from(["path", "t_inf"]))


def algorithm_cases():
    """Algorithm 1 cases: moderate alpha and lam, so p* learns and is reached by ``T = T_lam / lam``."""
    return _base(dataclasses.replace(sizes(), m=sizes().m_alg, replicas=6), lam=log_uniform(0.4, 1.0),
                 alpha=log_uniform(1.5, 3.0), T_lam=st.just(8.0))


# ------------------------------------------------------------------------------ Algorithm 1
#: Accuracy at which "reaches p*" is tested: 10% relative error (the printed scheme misses by ~100% in f
#: and by ~1500% in E|w|^2).
_RESOLUTION = 0.1
#: Floor of the output scale: where p* barely learns (max|f*| < 0.05) the outputs are judged to an
#: absolute 0.005, which the 16m runs resolve (se ~ 1e-3), instead of to 10% of a vanishing signal.
_MIN_SIGNAL = 0.05
#: The ladder of (width factor, step refinement): (m, dt), (m, dt/2), (4m, dt), (16m, dt); judged at 16m.
_LADDER = ((1, 1), (1, 2), (4, 1), (16, 1))


def _alg_ctx(case) -> _Ctx:
    return _ctx(case, alpha=float(case["alpha"]))


@lru_cache(maxsize=16)
def _alg_grid(key: str) -> Tuple[float, int]:
    """``(dt, n_steps)`` in physical time: dt_c times the PDE-scheme stability limit, T = T_lam / lam."""
    case = json.loads(key)
    ctx = _alg_ctx(case)
    cfg = DynamicsConfig(alpha=ctx.alpha, lam=ctx.lam, dt=1.0, m=int(case["m"]), replicas=int(case["replicas"]))
    probe = Dynamics(cfg, ctx.X, ctx.y, ctx.act, _seed(case, _SEED_M), check_stability=False)
    lim = probe.limits(probe.initial_state())
    T = float(case["T_lam"]) / ctx.lam
    steps = math.ceil(T / (float(case["dt_c"]) * min(lim.limit, 1.0 / ctx.lam)))
    return T / steps, steps


@lru_cache(maxsize=48)
def _alg_run(key: str, width: int, refine: int, scaling: str, purpose: int) -> Tuple[np.ndarray, np.ndarray]:
    """Outputs averaged over [T/2, T] (R, n) and the final E|w|^2 (R,) of one batched run."""
    case = json.loads(key)
    ctx = _alg_ctx(case)
    dt, steps = _alg_grid(_key(case))
    m, R = int(case["m"]) * width, int(case["replicas"])
    cfg = DynamicsConfig(alpha=ctx.alpha, lam=ctx.lam, dt=dt / refine, m=m, replicas=R, scaling=scaling,
                         couple_ou=False, backend=case.get("backend", "numba"))
    dyn = Dynamics(cfg, ctx.X, ctx.y, ctx.act, _seed(case, purpose))
    with _threads(m * R):
        # outputs are cheap next to a step, but decorrelate only over several steps: sample every 4th
        return long_run_average(dyn, dyn.initial_state(), steps * refine, 4 * refine, ctx.X, ctx.act)


def _level(key: str, width: int, refine: int, scaling: str, purpose: int):
    """Replica means and standard errors of (f_1..f_n, E|w|^2): ``(mean (n+1,), se (n+1,))``."""
    fbar, mom = _alg_run(key, width, refine, scaling, purpose)
    return replica_mean_se(np.concatenate([fbar, mom[:, None]], axis=1), axis=0)


def _alg_common(case, claim: str):
    """(ctx, Gibbs evidence, target (f*, E*|w|^2), scales, inconclusive-verdict-or-None)."""
    ctx = _alg_ctx(case)
    ge = _gibbs(case, ctx)
    fstar = np.asarray(ge.solution.f)
    target = np.append(fstar, ge.second_moment)
    scale = np.append(np.full(ctx.n, max(float(np.max(np.abs(fstar))), _MIN_SIGNAL)), ge.second_moment)
    return ctx, ge, target, scale, (_plain(claim, case, inconclusive=ge.reason) if ge.reason else None)


def _rel_error(mean, se, target, scale) -> Tuple[float, float, int]:
    """The observable (f_i relative to max|f*|, or E|w|^2 relative to E*|w|^2) whose relative error
    exceeds the resolution by the most standard errors: (error, se, index)."""
    err, s = np.abs(mean - target) / scale, se / scale
    i = int(np.argmax((err - _RESOLUTION) / np.maximum(s, 1e-12)))
    return float(err[i]), float(s[i]), i


def _alg_verdict(claim, case, key, level, scaling, target, scale, ge, extra) -> Verdict:
    (width, refine), purpose = level
    mean, se = _level(key, width, refine, scaling, purpose)
    err, s, i = _rel_error(mean, se, target, scale)
    dt = _alg_grid(key)[0]

    def confirm():
        mc, sc = _level(key, 4 * width, 2 * refine, scaling, _SEED_CONFIRM)
        e2, s2 = abs(mc[i] - target[i]) / scale[i], sc[i] / scale[i]
        return float(e2), _RESOLUTION, float(s2), {"m": 4 * width * int(case["m"]), "dt": dt / (2 * refine)}

    names = [f"f_{j}" for j in range(len(target) - 1)] + ["E|w|^2"]
    extra = {**extra, "m": width * int(case["m"]), "dt": dt / refine, "judged": names[i], "f": mean[:-1].tolist(),
             "f_star": target[:-1].tolist(), "second_moment": float(mean[-1]), "gibbs_second_moment": float(target[-1]),
             "rel_errors": (np.abs(mean - target) / scale).tolist(), "gibbs_f_error": ge.f_error}
    return _estimated(claim, err, _RESOLUTION, s, case, confirm, extra=extra)


def _printed(case, name: str) -> Verdict:
    claim = f"algorithm-1/{name}"
    ctx, ge, target, scale, early = _alg_common(case, claim)
    if early:
        return early
    key = _key(case)
    dt, steps = _alg_grid(key)
    T = dt * steps
    extra = {"T": T, "heat_flow_second_moment": (ctx.d + 1) * (1.0 + 2.0 * ctx.lam * T), "events": ["scaling=printed"]}
    # Judged at 16m like the corrected scheme: the printed outputs are sums of m diffusing terms with
    # variance ~ alpha^2 (1 + 2 lam T)/m that time averaging barely reduces.
    return _alg_verdict(claim, case, key, ((16, 1), _SEED_4M), "printed", target, scale, ge, extra)


@_guard("algorithm-1/stated")
def check_algorithm_printed(case: Mapping[str, Any]) -> Verdict:
    """Algorithm 1 as printed (E1): its long-run state must be within 10% of p* (outputs f and E|w|^2)."""
    return _printed(case, "stated")


def _extrapolate(lad):
    """Richardson in m (4m, 16m; bias ~ 1/m) plus the dt correction 2(f(dt/2) - f(dt)) (Euler, order 1)."""
    (a, sa), (b, sb), (c, sc), (e, se) = lad
    f = richardson(c, e, 4.0, 1.0) + 2.0 * (b - a)
    return f, np.sqrt((4 / 3) ** 2 * se ** 2 + (1 / 3) ** 2 * sc ** 2 + 4.0 * (sa ** 2 + sb ** 2))


def _corrected(case, name: str, scaling: str = "pde") -> Verdict:
    """Judged at the finest width (16m, dt); the ladder, its rates and the extrapolation in m and dt are
    reported (the extrapolation amplifies the replica noise about threefold, so it is not judged)."""
    claim = f"algorithm-1/{name}"
    ctx, ge, target, scale, early = _alg_common(case, claim)
    if early:
        return early
    key = _key(case)
    lad = [_level(key, w, r, scaling, _SEED_LADDER + j) for j, (w, r) in enumerate(_LADDER)]
    fx, sx = _extrapolate(lad)
    dt, steps = _alg_grid(key)
    errs = [float(np.max(np.abs(v - target) / scale)) for v, _ in lad]
    extra = {"T": dt * steps, "rel_error_ladder": dict(zip(("m,dt", "m,dt/2", "4m,dt", "16m,dt"), errs)),
             "rate_m": observed_rate(np.stack([lad[0][0], lad[2][0], lad[3][0]]), 4.0),
             "rate_dt_vs_target": float(np.log2(max(errs[0], 1e-300) / max(errs[1], 1e-300))),
             "extrapolated_rel_error": float(np.max(np.abs(fx - target) / scale)),
             "extrapolated_rel_se": float(np.max(sx / scale)), "events": [f"scaling={scaling}"]}
    return _alg_verdict(claim, case, key, (_LADDER[3], _SEED_LADDER + 3), scaling, target, scale, ge, extra)


@_guard("algorithm-1/corrected")
def check_algorithm_corrected(case: Mapping[str, Any]) -> Verdict:
    """The factor-m scheme at 16m reaches p* within 10% (outputs and E|w|^2); ladder reported."""
    return _corrected(case, "corrected")


@_guard("algorithm-1/audit")
def audit_algorithm(case: Mapping[str, Any]) -> Verdict:
    """Observed orders of the corrected scheme: the log-log slope of its relative error to p* over m, 4m, 16m
    (``order_m``), the three-level difference order (``rate_m``) and log2 of the dt to dt/2 error ratio."""
    v = _corrected(case, "audit")
    lad = v.extra.get("rel_error_ladder")
    if lad is None:
        return v
    errs = np.array([lad["m,dt"], lad["4m,dt"], lad["16m,dt"]])
    order = float(-np.polyfit(np.log([1.0, 4.0, 16.0]), np.log(np.maximum(errs, 1e-300)), 1)[0])
    return dataclasses.replace(v, observed=order, bound=0.0, relation=">=", stderr=0.0, confirmation=None,
                               tolerance_reason="report only: observed order in m of the error to p*",
                               extra={**v.extra, "order_m": order})


@_guard("algorithm-1/mutant-printed-as-corrected")
def mutant_check_alg_printed_as_corrected(case: Mapping[str, Any]) -> Verdict:
    """The corrected check run on the printed scheme: its long-run state misses p* (E1)."""
    return _corrected(case, "mutant-printed-as-corrected", scaling="printed")


# ------------------------------------------------------------------------------ kernel regime
_KR_TAU = 3.0   # tau horizon: the linearised residual has decayed by e^-6 or more in its slowest mode


@lru_cache(maxsize=32)
def _kr_path(key: str, alpha: float, which: str) -> Tuple[np.ndarray, np.ndarray, int, float]:
    """Linearisation error e(tau) (N,), its jackknife se, the width and the tau step, of one run."""
    case = json.loads(key)
    ctx = _ctx(case, alpha=alpha)
    traj, dt_phys = _simulate(ctx, case, _KR_TAU, *_RUNS[which])
    traj = traj.traj
    H0 = gram_p0(ctx.X, ctx.act).H
    r_lin = ntk_linearised_residual(traj.t_phys, -ctx.y, H0, alpha, dt=dt_phys)
    e, se = linearisation_error(traj.residual, r_lin, float(np.linalg.norm(ctx.y)))
    return e, se, traj.config.m, traj.config.dt


def _kr_path_verdict(case, name: str, reverse: bool = False) -> Verdict:
    claim, key = f"kernel-regime/{name}", _key(case)
    lo = _kr_alpha_path(case)   # checks Assumption 4.3 too
    hi = 4.0 * lo

    def errors(which):
        (e1, s1, m, dt1), (e2, s2, _, dt2) = _kr_path(key, lo, which), _kr_path(key, hi, which)
        i, j = int(np.argmax(e1)), int(np.argmax(e2))
        obs, bnd = (e1[i], e2[j]) if reverse else (e2[j], e1[i])
        return float(obs), float(bnd), float(math.hypot(s1[i], s2[j])), {"m": m, "dt_tau": [dt1, dt2]}

    try:
        obs, bnd, se, ex = errors("m")
    except (UnstableStepError, NonFiniteError) as exc:
        return _plain(claim, case, inconclusive=f"particle scheme unstable at this step: {exc}")
    extra = {**ex, "alpha": [lo, hi], "lam": float(case["lam"]), "evaluated_at": f"path, tau <= {_KR_TAU}",
             "error_alpha_lo": bnd if not reverse else obs, "error_alpha_hi": obs if not reverse else bnd,
             "events": ["mode=path"]}
    return _estimated(claim, obs, bnd, se, case, lambda: errors("confirm"), extra=extra)


def _kr_gibbs(case, alpha: float):
    ctx = _ctx(case, alpha=alpha, lam=float(case["lam_gibbs"]))
    ge = _gibbs(case, ctx)
    lin = linearised_gibbs(ctx.X, ctx.y, ctx.act, alpha, ctx.lam)
    r = np.asarray(ge.solution.r)
    scale = float(np.linalg.norm(r))
    return float(np.linalg.norm(r - lin.r)) / scale, ge.f_error * math.sqrt(ctx.n) / scale, ge


def _kr_alpha_path(case) -> float:
    """alpha of a path case: ``alpha_lambda0 / lambda0`` (generated cases) or an explicit ``alpha_lo``."""
    if "alpha_lambda0" in case:
        return float(case["alpha_lambda0"]) / _ctx(case, alpha=1.0).kc.lambda0
    return float(_ctx(case, alpha=float(case["alpha_lo"])).alpha)


def _kr_alpha_lo(case) -> float:
    ctx = _ctx(case, alpha=1.0, lam=float(case["lam_gibbs"]))
    return math.sqrt(float(case["kr"]) * ctx.lam * ctx.n / ctx.kc.lambda_min_H2)


def _kr_t_inf_verdict(case, name: str, reverse: bool = False) -> Verdict:
    lo = _kr_alpha_lo(case)
    (e1, t1, g1), (e2, t2, g2) = _kr_gibbs(case, lo), _kr_gibbs(case, 4.0 * lo)
    obs, bnd = (e1, e2) if reverse else (e2, e1)
    return Verdict(claim=f"kernel-regime/{name}", observed=obs, bound=bnd, tier=Tier.EXACT, tolerance=t1 + t2,
                   tolerance_reason="Gibbs K vs 2K refinement of r* at both alphas, relative to |r*|",
                   case=dict(case), inconclusive=(g1.reason or g2.reason) or None,
                   extra={"evaluated_at": "t=inf: |r* - r_krr| / |r*| (MATH 4.6 linearisation)", "alpha": [lo, 4 * lo],
                          "lam": float(case["lam_gibbs"]), "rel_error_alpha_lo": e1, "rel_error_alpha_hi": e2,
                          "events": ["mode=t_inf"]})


@_guard("kernel-regime/stated")
def check_kernel_regime(case: Mapping[str, Any]) -> Verdict:
    """The error to the NTK-linearised dynamics (path) or to kernel ridge regression (p*) at 4 alpha is at
    most the error at alpha."""
    return _kr_t_inf_verdict(case, "stated") if case["mode"] == "t_inf" else _kr_path_verdict(case, "stated")


@_guard("kernel-regime/audit")
def audit_kernel_regime(case: Mapping[str, Any]) -> Verdict:
    """Linearisation errors at alpha_lo * (1, 2, 4, 8) on runs and at p*, and their log-log slopes."""
    key, a0 = _key(case), _kr_alpha_path(case)
    alphas = a0 * np.array([1.0, 2.0, 4.0, 8.0])
    path = [float(_kr_path(key, float(a), "m")[0].max()) for a in alphas]
    g0 = _kr_alpha_lo(case)
    gibbs = [_kr_gibbs(case, float(a))[0] for a in g0 * alphas / a0]
    slope = float(np.polyfit(np.log(alphas), np.log(np.maximum(path, 1e-300)), 1)[0])
    slope_g = float(np.polyfit(np.log(alphas), np.log(np.maximum(gibbs, 1e-300)), 1)[0])
    return Verdict(claim="kernel-regime/audit", observed=slope, bound=0.0, tier=Tier.ESTIMATED,
                   tolerance_reason="report only: log-log slope of the path error against alpha", case=dict(case),
                   extra={"alphas_path": alphas.tolist(), "errors_path": path, "alphas_gibbs": (g0 * alphas / a0).tolist(),
                          "rel_errors_gibbs": gibbs, "slope_gibbs": slope_g, "m": int(case["m"])})


@_guard("kernel-regime/mutant-reversed")
def mutant_check_kr_reversed(case: Mapping[str, Any]) -> Verdict:
    """The kernel-regime claim reversed (the error grows with alpha): the check resolves the direction."""
    if case["mode"] == "t_inf":
        return _kr_t_inf_verdict(case, "mutant-reversed", reverse=True)
    return _kr_path_verdict(case, "mutant-reversed", reverse=True)


# ------------------------------------------------------------------------------ registration
EXAMPLE_ALGORITHM = {**_DATA, "m": 250, "replicas": 6, "lam": 0.5, "alpha": 2.0, "T_lam": 8.0}
EXAMPLE_KERNEL = {**_DATA, "seed": 1, "lam": 0.003, "alpha_lambda0": 0.1, "lam_gibbs": 0.2, "kr": 4.0, "mode": "path"}
#: The soaks' counterexamples to monotonicity below the regime's onset (see kernel_cases).  The first is an
#: explicit example of the audit (about 20 s); the second (about 75 s, alpha up to 18 at lambda0 = 0.003)
#: is too slow to run every time: the README gives it, and ``check_kernel_regime(KERNEL_ONSET_CASES[1])``
#: reproduces its VIOLATED verdict.
_ONSET_COMMON = {"d": 2, "dt_c": 0.25, "kr": 2.0, "labels": "continuous", "lam_gibbs": 0.1, "m": 2000,
                 "min_angle_deg": 30.0, "mode": "path", "n": 3, "n_records": 24, "r_min": 0.5, "replicas": 4}
KERNEL_ONSET_CASES = (
    {**_ONSET_COMMON, "act": {"base": "sigmoid", "c": 1.0, "s": 1.0}, "alpha_lo": 0.6854546855949036,
     "lam": 0.003651592834383138, "seed": 615189},
    {**_ONSET_COMMON, "act": {"base": "sigmoid", "c": 0.5638989310385787, "s": 1.9138897732851334},
     "alpha_lo": 2.1943282857189024, "lam": 0.001, "seed": 92593},
)

H, R_, K = Expected.HOLDS, Expected.REPORT, Expected.KNOWN_FINDING
_reg(ALGORITHM_1, "stated", K, Tier.ESTIMATED, "Algorithm 1 as printed reaches f(p*) within 10%: it does not (E1)",
     algorithm_cases, check_algorithm_printed, 2, (EXAMPLE_ALGORITHM,),
     finding="E1: the printed step uses grad Qhat = O(1/m) with O(1) noise; its limit is the heat flow "
             "(f ~ 0, E|w|^2 ~ k(1 + 2 lam T)), not the PDE (3.4)")
_reg(ALGORITHM_1, "corrected", H, Tier.ESTIMATED, "with the factor m, extrapolated to m = inf and dt = 0, the "
     "output is within 10% of f(p*)", algorithm_cases, check_algorithm_corrected, 4, (EXAMPLE_ALGORITHM,))
_reg(ALGORITHM_1, "audit", R_, Tier.ESTIMATED, "observed rates in m and dt of the corrected scheme", algorithm_cases,
     audit_algorithm, 1, budget_s=20.0)
_reg(KERNEL_REGIME, "stated", H, Tier.ESTIMATED, "error to the NTK-linearised ODE (runs, alpha lambda0 >= 0.05) / kernel "
     "ridge with H2(p0) (p*, kr >= 2) at 4 alpha <= at alpha", kernel_cases, check_kernel_regime, 8, (EXAMPLE_KERNEL,))
_reg(KERNEL_REGIME, "audit", R_, Tier.ESTIMATED, "linearisation error against alpha and its exponent",
     kernel_cases, audit_kernel_regime, 1, KERNEL_ONSET_CASES[:1], budget_s=20.0)

MUTANTS = [
    ("printed-as-corrected", "algorithm-1/corrected", mutant_check_alg_printed_as_corrected,
     "the corrected Algorithm 1 check run on the printed scheme (E1)"),
    ("reversed", "kernel-regime/stated", mutant_check_kr_reversed, "the kernel-regime claim with alpha reversed"),
]
