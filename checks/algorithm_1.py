"""Algorithm 1 / Proposition 3.1 and the kernel (NTK) regime along particle trajectories (docs/claims.md#algorithm-1,
docs/claims.md#kernel-regime; erratum E1 in docs/errata.md).  Lemmas 5.2, 5.3 and Theorem 4.4 are in
:mod:`checks.dynamics_claims`, the paper's headline (p* against kernel ridge, the alpha-rates) in
:mod:`checks.headline`; the shared machinery in :mod:`checks._dynamics_common`.

Variants (checks/expectations.py)
    algorithm-1/stated     KNOWN FINDING (E1): Algorithm 1 as printed does not reach f(p*); its outputs stay
                           near 0 and its second moment follows the heat flow k(1 + 2 lam T).
    algorithm-1/corrected  the factor-m scheme reaches f(p*): along the ladder (m, dt), (m, dt/2), (4m, dt),
                           (16m, dt) its outputs and E|w|^2 fall at the scheme's rate, an O(1/m) bias plus an
                           O(dt) Euler error, and the value extrapolated to m = inf, dt = 0 is f(p*) to within
                           a 2.5% resolution (half the 5% bias the check must detect).
    algorithm-1/audit      the observed order in m of the corrected scheme, with its jackknife interval.
    kernel-regime/audit    the error of r(tau) to the NTK-linearised dynamics over two decades of alpha, its
                           finite-width part measured at m and 4m and removed, and its fitted exponent in
                           alpha with a confidence interval.  An audit: no predicate of the paper is tested
                           (the paper's headline variants are in :mod:`checks.headline`).

Cases, evidence tiers and fresh-seed confirmation as in :mod:`checks.dynamics_claims` (an optional case key
``backend``, "numba" or "numpy", selects the particle step); each verdict's ``extra`` names the width m and
step it was measured at.  Mutants are listed in :data:`MUTANTS`.
"""

from __future__ import annotations

import dataclasses
import json
import math
from functools import lru_cache
from typing import Any, Dict, Mapping, Tuple

import numpy as np
from hypothesis import strategies as st

from theory.dynamics import Dynamics, DynamicsConfig
from theory.errors import NonFiniteError, UnstableStepError
from theory.kernels import gram_particles
from theory.rates import fit_power_law
from theory.trajectory import linearisation_error, long_run_average, ntk_linearised_residual, replica_mean_se

from ._dynamics_common import (_DATA, _SEED_4M, _SEED_M, _base, _Ctx, _ctx, _estimated, _gibbs, _guard, _key,
                               _plain, _reg, _seed, _simulate, _threads, sizes)
from .registry import Claim, Expected, Variant, register
from .strategies import log_uniform
from .verdict import Tier, Verdict

__all__ = ["ALGORITHM_1", "KERNEL_REGIME", "algorithm_cases", "printed_cases", "kernel_cases", "check_algorithm_printed",
           "check_algorithm_corrected", "audit_algorithm", "audit_kernel_regime", "KERNEL_ONSET_CASES", "MUTANTS"]

ALGORITHM_1 = Claim("algorithm-1", "Algorithm 1 / Proposition 3.1", "noisy GD on Qhat approximates the PDE "
                    "(3.4); its long-run output is f(p*) as m -> inf, eta -> 0", ("Assumptions 4.1-4.2",),
                    family="algorithm-1")
KERNEL_REGIME = Claim("kernel-regime", "Section 4 (NTK regime)", "as alpha grows the residual follows the "
                      "NTK-linearised ODE r' = -(2 alpha^2/n) H(p0) r", ("Assumptions 4.1-4.3",),
                      family="kernel-regime")


# ------------------------------------------------------------------------------ cases
#: Replicas of the kernel-regime runs: at 4 the jackknife se resolved half a decade of alpha, at 16 two (ci
#: example), at about 7x the cost; 8 is the compromise the ci budget allows.
_KR_REPLICAS = 8


def kernel_cases():
    """Kernel-regime audit cases: ``alpha_lambda0 = alpha lambda0`` of the smallest alpha (the others are
    10^(k/2) times larger, k = 1..4), run to tau = 3 at width m and 4m.

    lam is small (1e-6 to 1e-4) because the particle noise floor sqrt(lam n / (m Lambda)) (docs/claims.md
    #lemma-52) does not shrink with alpha: at ci widths it must sit below the error at 100 alpha (about
    1e-3) for the fit to span two decades.
    """
    sz = sizes()
    return _base(dataclasses.replace(sz, m=sz.m_alg, replicas=_KR_REPLICAS), lam=log_uniform(1e-6, 1e-4),
                 alpha_lambda0=log_uniform(0.05, 0.2))


#: Replicas of each Algorithm 1 ladder level: the extrapolated error needs a standard error near 0.3% for
#: HOLDS (2.5% - 5 se) and a 5%-biased scheme to be told apart at z = 5 (measured: se 0.4% at 12).
_ALG_REPLICAS = 24


#: Replicas of the printed scheme's runs: it misses p* by ~100%, which 6 replicas resolve at z = 5.
_PRINTED_REPLICAS = 6


def printed_cases():
    """Cases of the printed scheme (E1): those of :func:`algorithm_cases` with 6 replicas."""
    return _base(dataclasses.replace(sizes(), m=sizes().m_alg, replicas=_PRINTED_REPLICAS), lam=log_uniform(0.4, 1.0),
                 alpha=log_uniform(1.5, 3.0), T_lam=st.just(8.0))


def algorithm_cases():
    """Algorithm 1 cases: moderate alpha and lam, so p* learns and is reached by ``T = T_lam / lam``."""
    return _base(dataclasses.replace(sizes(), m=sizes().m_alg, replicas=_ALG_REPLICAS), lam=log_uniform(0.4, 1.0),
                 alpha=log_uniform(1.5, 3.0), T_lam=st.just(8.0))


# ------------------------------------------------------------------------------ Algorithm 1
#: Accuracy at which the printed scheme is judged: 10% (it misses by ~100% in f and ~1500% in E|w|^2).
_PRINTED_RESOLUTION = 0.1
#: Accuracy at which the corrected scheme's limit must equal p*: half the 5% bias it must detect.
_RESOLUTION = 0.025
#: Floor of the output scale: where p* barely learns (max|f*| < 0.05) the outputs are judged against
#: 0.05 instead of a vanishing signal.
_MIN_SIGNAL = 0.05
#: Seed purposes of the ladder (pair at m, 4m, 16m) and of its fresh-seed confirmation.
_SEEDS_LADDER, _SEEDS_CONFIRM = (10, 11, 12), (20, 21, 22)


#: The particle kernels that ran for a case (``Dynamics.kernel``), for the verdicts' ``extra["kernel"]``.
_KERNELS: Dict[str, set] = {}


def _ran(key: str, kernel: str) -> None:
    _KERNELS.setdefault(key, set()).add(kernel)


def _kernel_extra(key: str) -> Dict[str, Any]:
    return {"kernel": ", ".join(sorted(_KERNELS.get(key, ())))}


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
        out = long_run_average(dyn, dyn.initial_state(), steps * refine, 4 * refine, ctx.X, ctx.act)
    _ran(key, dyn.kernel)
    return out


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
    i = int(np.argmax((err - _PRINTED_RESOLUTION) / np.maximum(s, 1e-12)))
    return float(err[i]), float(s[i]), i


def _alg_verdict(claim, case, key, level, scaling, target, scale, ge, extra) -> Verdict:
    (width, refine), purpose = level
    mean, se = _level(key, width, refine, scaling, purpose)
    err, s, i = _rel_error(mean, se, target, scale)
    dt = _alg_grid(key)[0]

    def confirm():
        mc, sc = _level(key, 4 * width, 2 * refine, scaling, _SEEDS_CONFIRM[0])
        e2, s2 = abs(mc[i] - target[i]) / scale[i], sc[i] / scale[i]
        return float(e2), _PRINTED_RESOLUTION, float(s2), {"m": 4 * width * int(case["m"]), "dt": dt / (2 * refine)}

    names = [f"f_{j}" for j in range(len(target) - 1)] + ["E|w|^2"]
    extra = {**extra, **_kernel_extra(key), "m": width * int(case["m"]), "dt": dt / refine, "judged": names[i],
             "f": mean[:-1].tolist(),
             "f_star": target[:-1].tolist(), "second_moment": float(mean[-1]), "gibbs_second_moment": float(target[-1]),
             "rel_errors": (np.abs(mean - target) / scale).tolist(), "gibbs_f_error": ge.f_error}
    return _estimated(claim, err, _PRINTED_RESOLUTION, s, case, confirm, extra=extra)


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


@lru_cache(maxsize=24)
def _alg_avg(key: str, width: int, scaling: str, purpose: int, pair: bool) -> Tuple[np.ndarray, ...]:
    """Per-replica time averages over [T/2, T] of (f_1..f_n, E|w|^2), each (R, n+1), at width ``width * m``:
    one run at dt, or (``pair``) the runs at dt and dt/2 on common noise.

    Both runs of a pair start from the same particles; the dt/2 run takes the stream's noise of its steps
    2l, 2l+1 and the dt run the normalised sum (xi_2l + xi_2l+1)/sqrt(2), itself N(0, I).  Their difference
    then carries the O(dt) error with little of the particle noise (two independent runs would add their
    full noise to it).  E|w|^2 is averaged like f: its value at T alone is several times noisier.
    """
    case = json.loads(key)
    ctx = _alg_ctx(case)
    dt, steps = _alg_grid(key)
    m, R = int(case["m"]) * width, int(case["replicas"])
    dyns = [Dynamics(DynamicsConfig(alpha=ctx.alpha, lam=ctx.lam, dt=dt / r, m=m, replicas=R, scaling=scaling,
                                    couple_ou=False, backend=case.get("backend", "numba")),
                     ctx.X, ctx.y, ctx.act, _seed(case, purpose)) for r in ((1, 2) if pair else (1,))]
    states = [dyn.initial_state() for dyn in dyns]
    acc, count, done = [0.0] * len(dyns), 0, 0
    with _threads(m * R):
        # the time average of long_run_average: second half, every 4th (coarse) step; the steps up to each
        # sample run in compiled stretches (Dynamics.advance), bitwise the same as one step at a time
        for i in range(1, steps + 1):
            if 2 * i >= steps and (i % 4 == 0 or i == steps):
                _alg_stretch(dyns, states, done, i, pair)
                done = i
                # f and E|w|^2 in one compiled sweep (theory.network.output / second_moment to rounding)
                acc = [a + np.concatenate([f, q[:, None]], axis=1)
                       for a, (f, q) in zip(acc, (dyn.output_moment(s) for dyn, s in zip(dyns, states)))]
                count += 1
    for dyn in dyns:
        _ran(key, dyn.kernel)
    return tuple(a / count for a in acc)


#: Coarse steps per compiled call of a common-noise pair: its explicit noise is held for the whole stretch.
_PAIR_STRETCH = 16


def _alg_stretch(dyns, states, start: int, stop: int, pair: bool) -> None:
    """Advance the run(s) of :func:`_alg_avg` from coarse step ``start`` to ``stop``: the dt run on the stream,
    or (``pair``) the dt/2 run on the stream's noise of its steps 2l, 2l+1 and the dt run on their normalised
    sum, in stretches of :data:`_PAIR_STRETCH` coarse steps with explicit noise."""
    if not pair:
        dyns[0].advance(states[0], stop - start)
        return
    for a in range(start, stop, _PAIR_STRETCH):
        ls = range(a + 1, min(stop, a + _PAIR_STRETCH) + 1)
        xi = [(dyns[1].noise(2 * i - 2), dyns[1].noise(2 * i - 1)) for i in ls]
        dyns[1].advance(states[1], 2 * len(ls), noise=np.stack([x for p in xi for x in p]))
        dyns[0].advance(states[0], len(ls), noise=np.stack([(x1 + x2) / math.sqrt(2.0) for x1, x2 in xi]))


def _ladder(key: str, scaling: str, seeds, base: int = 1, bias: float = 0.0):
    """The four ladder levels per replica, each (R, n+1): ``{"m", "m,dt/2", "4m", "16m"}`` (widths times
    ``base``).  ``bias`` multiplies every output f by ``1 + bias`` (the biased-scheme mutant)."""
    coarse, fine = _alg_avg(key, base, scaling, seeds[0], True)
    lad = {"m": coarse, "m,dt/2": fine, "4m": _alg_avg(key, 4 * base, scaling, seeds[1], False)[0],
           "16m": _alg_avg(key, 16 * base, scaling, seeds[2], False)[0]}
    if bias:
        scale = np.append(np.full(coarse.shape[1] - 1, 1.0 + bias), 1.0)
        lad = {k: v * scale for k, v in lad.items()}
    return lad


def _extrapolated(lad) -> np.ndarray:
    """Per replica: Richardson in m over (4m, 16m) for the O(1/m) bias, less the O(dt) Euler error
    measured by the common-noise pair, 2 (y(m, dt) - y(m, dt/2)) = C dt.  The pair sits at width m: its
    C differs from C(inf) by O(1/m), an O(dt/m) error that is second order."""
    y4, y16 = lad["4m"], lad["16m"]
    return y16 + (y16 - y4) / 3.0 - 2.0 * (lad["m"] - lad["m,dt/2"])


def _jackknife(values: np.ndarray, stat) -> float:
    """Leave-one-replica-out jackknife standard error of ``stat(values)`` (values: (R, ...))."""
    R = values.shape[0]
    loo = np.array([stat(np.delete(values, r, axis=0)) for r in range(R)])
    return float(math.sqrt((R - 1) / R * np.sum((loo - loo.mean()) ** 2)))


def _rate_m(lad, i: int) -> Tuple[float, float, float]:
    """Observed order in m of component i over (m, 4m, 16m), its jackknife se, and the lack of fit of the
    1/m model, ``(y_m - y_4m) - 4 (y_4m - y_16m)`` in its own standard errors (0 under the model)."""
    stack = np.stack([lad["m"][:, i], lad["4m"][:, i], lad["16m"][:, i]], axis=1)      # (R, 3)

    def rate(v):
        mu = v.mean(axis=0)
        return math.log(max(abs(mu[0] - mu[1]), 1e-300) / max(abs(mu[1] - mu[2]), 1e-300)) / math.log(4.0)

    lof = (stack[:, 0] - stack[:, 1]) - 4.0 * (stack[:, 1] - stack[:, 2])
    lm, ls = replica_mean_se(lof, axis=0)
    return rate(stack), _jackknife(stack, rate), float(lm / max(ls, 1e-300))


def _ladder_judgement(lad, target, scale):
    """(error, se, index, per-level errors) of the extrapolated value to p*, judged on the component whose
    relative error exceeds the resolution by the most standard errors."""
    mean, se = replica_mean_se(_extrapolated(lad), axis=0)
    err, s = np.abs(mean - target) / scale, se / scale
    i = int(np.argmax((err - _RESOLUTION) / np.maximum(s, 1e-12)))
    levels = {k: float(np.max(np.abs(v.mean(axis=0) - target) / scale)) for k, v in lad.items()}
    return float(err[i]), float(s[i]), i, levels


def _corrected(case, name: str, scaling: str = "pde", bias: float = 0.0) -> Verdict:
    """The ladder verdict: extrapolated relative error <= 2.5%, estimated tier, fresh-seed 2m re-run."""
    claim = f"algorithm-1/{name}"
    ctx, ge, target, scale, early = _alg_common(case, claim)
    if early:
        return early
    key = _key(case)
    lad = _ladder(key, scaling, _SEEDS_LADDER, bias=bias)
    err, s, i, levels = _ladder_judgement(lad, target, scale)
    rate, rate_se, lof = _rate_m(lad, i)
    dt, steps = _alg_grid(key)
    names = [f"f_{j}" for j in range(ctx.n)] + ["E|w|^2"]
    dt_term, dt_se = replica_mean_se(2.0 * (lad["m"][:, i] - lad["m,dt/2"][:, i]), axis=0)

    def confirm():
        # Fresh seeds, every width doubled (a 4m base would cost 64m particles per replica for little gain:
        # m and dt are already extrapolated away).
        e2, s2, _, lv2 = _ladder_judgement(_ladder(key, scaling, _SEEDS_CONFIRM, base=2, bias=bias), target, scale)
        return e2, _RESOLUTION, s2, {"m": 2 * int(case["m"]), "dt": dt, "rel_error_ladder": lv2}

    extra = {"T": dt * steps, "m": int(case["m"]), "dt": dt, "judged": names[i], "rel_error_ladder": levels,
             "rate_m": rate, "rate_m_se": rate_se, "rate_m_ci95": [rate - 1.96 * rate_se, rate + 1.96 * rate_se],
             "lack_of_fit_z": lof, "dt_term_rel": float(dt_term / scale[i]), "dt_term_rel_se": float(dt_se / scale[i]),
             "f_star": target[:-1].tolist(), "gibbs_second_moment": float(target[-1]), "gibbs_f_error": ge.f_error,
             "events": [f"scaling={scaling}"] + ([f"bias={bias:g}"] if bias else []), **_kernel_extra(key)}
    # The extrapolation assumes the 1/m rate; a ladder that contradicts it decides nothing.
    bad_rate = (f"the ladder does not fall at the 1/m rate (lack of fit {lof:.1f} standard errors)"
                if abs(lof) > 5.0 else None)
    return _estimated(claim, err, _RESOLUTION, s, case, confirm, extra=extra, inconclusive=bad_rate)


@_guard("algorithm-1/corrected")
def check_algorithm_corrected(case: Mapping[str, Any]) -> Verdict:
    """The factor-m scheme, extrapolated along its width/step ladder to m = inf, dt = 0, is f(p*) (and
    E*|w|^2) to within 2.5% relative."""
    return _corrected(case, "corrected")


@_guard("algorithm-1/audit")
def audit_algorithm(case: Mapping[str, Any]) -> Verdict:
    """The observed order in m of the corrected scheme (``rate_m``, 1 for the scheme's O(1/m) bias) with its
    jackknife standard error, and the ladder it comes from."""
    v = _corrected(case, "audit")
    if "rate_m" not in v.extra:
        return v
    return Verdict(claim="algorithm-1/audit", observed=v.extra["rate_m"], bound=1.0, relation=">=",
                   tier=Tier.ESTIMATED, stderr=v.extra["rate_m_se"], case=dict(case), extra=dict(v.extra),
                   tolerance_reason="report only: observed order in m of the error to p* (1 for the scheme)")


@_guard("algorithm-1/mutant-printed-as-corrected")
def mutant_check_alg_printed_as_corrected(case: Mapping[str, Any]) -> Verdict:
    """The corrected check run on the printed scheme: its long-run state misses p* (E1)."""
    return _corrected(case, "mutant-printed-as-corrected", scaling="printed")


def _biased(bias: float):
    @_guard(f"algorithm-1/mutant-bias-{round(100 * bias)}pct")
    def check(case: Mapping[str, Any]) -> Verdict:
        return _corrected(case, f"mutant-bias-{round(100 * bias)}pct", bias=bias)
    check.__doc__ = f"A scheme whose outputs converge to (1 + {bias:g}) f(p*): the ladder must see the bias."
    return check


_mutant_bias_5pct = _biased(0.05)

# ------------------------------------------------------------------------------ kernel regime (audit)
_KR_TAU = 3.0   # tau horizon: the linearised residual has decayed by e^-6 or more in its slowest mode
#: alpha / alpha_lo: two decades in half-decade steps.
_KR_FACTORS = tuple(10.0 ** (k / 2.0) for k in range(5))


@lru_cache(maxsize=32)
def _kr_difference(key: str, alpha: float, width: int, purpose: int) -> np.ndarray:
    """r(tau) minus the NTK-linearised residual per replica, (N, R, n), at width ``width * m``.

    The linearised ODE uses each replica's own Gram at its initial particles (the empirical NTK): as
    m -> inf it is H(p0), and it removes the O(m^-1/2) sampling error of H(p_m(0)) - H(p0), which does not
    shrink with alpha and would otherwise hide the alpha-dependence below it.  The ODE is integrated by
    the scheme's own Euler step, so that the time-discretisation error cancels (theory.trajectory).
    """
    case = json.loads(key)
    ctx = _ctx(case, alpha=alpha)
    traj, dt_phys = _simulate(ctx, case, _KR_TAU, width, purpose, outputs_only=True)   # only r(tau) is read
    _ran(key, traj.kernel)
    dyn = Dynamics(traj.config, ctx.X, ctx.y, ctx.act, _seed(case, purpose), check_stability=False)
    p0 = dyn.initial_state().particles()
    H = gram_particles(p0.theta, p0.u, ctx.X, ctx.act).H                               # (R, n, n)
    r_lin = np.stack([ntk_linearised_residual(traj.t_phys, -ctx.y, H[r], alpha, dt=dt_phys)
                      for r in range(H.shape[0])], axis=1)
    return np.asarray(traj.residual) - r_lin


def _kr_alpha_path(case) -> float:
    """alpha of a path case: ``alpha_lambda0 / lambda0`` (generated cases) or an explicit ``alpha_lo``."""
    if "alpha_lambda0" in case:
        return float(case["alpha_lambda0"]) / _ctx(case, alpha=1.0).kc.lambda0
    return float(_ctx(case, alpha=float(case["alpha_lo"])).alpha)


def _kr_point(key: str, alpha: float, scale: float):
    """(error, se, finite-width part at m, raw error at m) of one alpha: max over tau of |mean_R D| / |y|
    with D Richardson-extrapolated in 1/m from the runs at m and 4m (independent seeds, replica by
    replica), its jackknife se at that tau, and (4/3) max_tau |mean (D_m - D_4m)| / |y|."""
    Dm, D4 = _kr_difference(key, alpha, 1, _SEED_M), _kr_difference(key, alpha, 4, _SEED_4M)
    zero = np.zeros((Dm.shape[0], Dm.shape[2]))
    e, se = linearisation_error(D4 + (D4 - Dm) / 3.0, zero, scale)
    j = int(np.argmax(e))
    floor = 4.0 / 3.0 * float(np.max(np.linalg.norm((Dm - D4).mean(axis=1), axis=-1))) / scale
    raw = float(np.max(linearisation_error(Dm, zero, scale)[0]))
    return float(e[j]), float(se[j]), floor, raw


@_guard("kernel-regime/audit")
def audit_kernel_regime(case: Mapping[str, Any]) -> Verdict:
    """The linearisation error against alpha over two decades (finite-width part removed) and its fitted
    exponent with a 95% interval (the lazy-training expectation is -1: parameters move O(1/alpha))."""
    key, a0 = _key(case), _kr_alpha_path(case)
    ctx = _ctx(case, alpha=a0)
    alphas = np.array([a0 * f for f in _KR_FACTORS])
    try:
        pts = np.array([_kr_point(key, float(a), float(np.linalg.norm(ctx.y))) for a in alphas])
    except (UnstableStepError, NonFiniteError) as exc:
        return _plain("kernel-regime/audit", case, inconclusive=f"particle scheme unstable at this step: {exc}")
    fit = fit_power_law(alphas, pts[:, 0], pts[:, 1])
    extra = {"alphas": alphas.tolist(), "alpha_lambda0": (alphas * ctx.kc.lambda0).tolist(), "errors": pts[:, 0].tolist(),
             "errors_se": pts[:, 1].tolist(), "finite_width_part_m": pts[:, 2].tolist(), "errors_raw_m": pts[:, 3].tolist(),
             "m": int(case["m"]), "lam": ctx.lam, "fit": None if fit is None else fit.to_dict(), **_kernel_extra(key)}
    reason = None
    if fit is None or fit.decades < 1.99:
        reason = (f"the error is resolved above its noise over {0 if fit is None else fit.decades:.2f} decades of "
                  "alpha, fewer than the two a fitted exponent needs")
    slope, se = (fit.slope, fit.slope_se) if fit is not None else (0.0, 0.0)
    extra["exponent"], extra["exponent_ci95"] = slope, (None if fit is None else list(fit.ci))
    return Verdict(claim="kernel-regime/audit", observed=slope, bound=0.0, tier=Tier.ESTIMATED, stderr=se,
                   tolerance_reason="report only: fitted exponent of the linearisation error in alpha",
                   case=dict(case), inconclusive=reason, extra=extra)


# ------------------------------------------------------------------------------ registration
EXAMPLE_ALGORITHM = {**_DATA, "m": 250, "replicas": _ALG_REPLICAS, "lam": 0.5, "alpha": 2.0, "T_lam": 8.0}
EXAMPLE_PRINTED = {**EXAMPLE_ALGORITHM, "replicas": _PRINTED_REPLICAS}
EXAMPLE_KERNEL = {**_DATA, "seed": 1, "m": 250, "replicas": _KR_REPLICAS, "lam": 1e-5, "alpha_lambda0": 0.1}
#: Audit cases kept from the soaks of the former kernel-regime "stated" predicate (error at 4 alpha <= error
#: at alpha), which found it false below the regime's onset: alpha lambda0 = 0.008 (sigmoid, error 0.165 at
#: alpha = 0.69 and 0.200 at 2.74) and 0.006 (0.56 sigmoid(z/1.9), alpha = 2.2).  The audit's two decades from
#: these alphas show where the regime starts; at m = 2000 they take minutes, so they are not explicit
#: examples: ``audit_kernel_regime(KERNEL_ONSET_CASES[0])`` runs one.
_ONSET_COMMON = {"d": 2, "dt_c": 0.25, "labels": "continuous", "m": 2000, "min_angle_deg": 30.0, "n": 3,
                 "n_records": 24, "r_min": 0.5, "replicas": 4}
KERNEL_ONSET_CASES = (
    {**_ONSET_COMMON, "act": {"base": "sigmoid", "c": 1.0, "s": 1.0}, "alpha_lo": 0.6854546855949036,
     "lam": 0.003651592834383138, "seed": 615189},
    {**_ONSET_COMMON, "act": {"base": "sigmoid", "c": 0.5638989310385787, "s": 1.9138897732851334},
     "alpha_lo": 2.1943282857189024, "lam": 0.001, "seed": 92593},
)


def _with_power(**fields):
    """Sensitivity fields of a variant (min_decided, rho_star, ...) that this registry version knows."""
    known = Variant.__dataclass_fields__
    return {k: v for k, v in fields.items() if k in known}


H, R_, K = Expected.HOLDS, Expected.REPORT, Expected.KNOWN_FINDING
_reg(ALGORITHM_1, "stated", K, Tier.ESTIMATED, "Algorithm 1 as printed reaches f(p*) within 10%: it does not (E1)",
     printed_cases, check_algorithm_printed, 2, (EXAMPLE_PRINTED,),
     finding="E1: the printed step uses grad Qhat = O(1/m) with O(1) noise; its limit is the heat flow "
             "(f ~ 0, E|w|^2 ~ k(1 + 2 lam T)), not the PDE (3.4)")
register(Variant(
    claim=ALGORITHM_1, name="corrected", expected=H, tier=Tier.ESTIMATED,
    description="with the factor m, the outputs extrapolated along the (m, dt) ladder at the scheme's rate "
                "(O(1/m) + O(dt)) equal f(p*) and E*|w|^2 to 2.5%", strategy=algorithm_cases,
    check=check_algorithm_corrected, max_examples=3, examples=(EXAMPLE_ALGORITHM,), time_budget_s=60.0,
    **_with_power(min_decided=1, min_decided_reason="the explicit example is sized to decide (extrapolated se "
                  "about 0.3%); a generated ci case with a noisier ladder is INCONCLUSIVE, never HOLDS",
                  expected_reason="Proposition 3.1 with the factor m (E1): the particle scheme is consistent with "
                  "the PDE; no rho* is declared because the claim is a limit (its m = inf, dt = 0 intercept is 0, "
                  "so bound/observed is unbounded): its power is the 5%-bias mutant")))
_reg(ALGORITHM_1, "audit", R_, Tier.ESTIMATED, "observed order in m of the corrected scheme, with its interval",
     algorithm_cases, audit_algorithm, 1, budget_s=30.0)
_reg(KERNEL_REGIME, "audit", R_, Tier.ESTIMATED, "error to the NTK-linearised dynamics over two decades of alpha "
     "(finite width removed by m vs 4m) and its fitted exponent", kernel_cases, audit_kernel_regime, 1,
     budget_s=30.0)

MUTANTS = [
    ("printed-as-corrected", "algorithm-1/corrected", mutant_check_alg_printed_as_corrected,
     "the corrected Algorithm 1 check run on the printed scheme (E1)"),
    ("bias-5pct", "algorithm-1/corrected", _mutant_bias_5pct,
     "a scheme converging to 1.05 f(p*): the ladder resolves a 5% bias"),
]
