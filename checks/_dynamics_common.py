"""Shared machinery of the particle-dynamics claims (checks.dynamics_claims, checks.algorithm_1).

Sizes per profile, the case strategy they build on, the per-case context (dataset, activation, kernel
constants; Assumption 4.3 as a premise), seeds, batched runs in rescaled time tau, the Gibbs minimiser p*,
the estimated-tier verdict with its fresh-seed (4m, dt/2) confirmation (docs/verdicts.md), the cached path
evidence of a case's runs and the exact t = inf verdict from p*.  Private: the claim modules re-export
what is public (:class:`Sizes`, :func:`sizes`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable, Dict, Mapping, Optional, Tuple

import numba
import numpy as np
from hypothesis import strategies as st

from theory import bounds
from theory.dynamics import Dynamics, DynamicsConfig
from theory.errors import NonFiniteError, UnstableStepError
from theory.kernels import kernel_constants
from theory.trajectory import PathEvidence, gibbs_evidence, path_evidence, run_coupled, slack_orders

from .profiles import budget
from .registry import Variant, register
from .strategies import activation_specs, build_activation, build_dataset, dataset_cases
from .verdict import Tier, Verdict

__all__ = ["Sizes", "sizes"]

_EST_TOL = "estimated tier: decided by z standard errors over replicas plus a fresh-seed (4m, dt/2) re-run"
#: Purposes of the dynamics seeds derived from a case's seed (independent streams).
_SEED_M, _SEED_4M, _SEED_CONFIRM, _SEED_LADDER = 1, 2, 3, 10


# ------------------------------------------------------------------------------ sizes and cases
@dataclass(frozen=True)
class Sizes:
    """Particles, replicas, records and step fraction per profile (ci: a few seconds per case)."""

    m: int
    replicas: int
    n_records: int
    dt_c: float
    m_alg: int


_SIZES = {"ci": Sizes(2000, 4, 24, 0.25, 250), "dev": Sizes(4000, 6, 30, 0.25, 500),
          "hunt": Sizes(100_000, 8, 40, 0.2, 8_000)}


def sizes(profile: Optional[str] = None) -> Sizes:
    """The :class:`Sizes` of the active (or named) profile; hunt runs wide (m >= 1e5) and long."""
    return _SIZES.get(budget(profile).name, _SIZES["ci"])


def _base(sz: Sizes, **kw):
    return st.builds(lambda data, act, extra: {**data, "act": act, "m": sz.m, "replicas": sz.replicas,
                                               "n_records": sz.n_records, "dt_c": sz.dt_c, **extra},
                     dataset_cases(n=(2, 3), d=(2, 2), r_min=0.5, min_angle_deg=30.0),
                     activation_specs(c=(0.5, 2.0), s=(0.5, 2.0)), st.fixed_dictionaries(kw))


_DATA = {"n": 3, "d": 2, "seed": 7, "labels": "continuous", "r_min": 0.5, "min_angle_deg": 30.0,
         "act": {"base": "tanh", "c": 1.0, "s": 1.0}, "m": 2000, "replicas": 4, "n_records": 24, "dt_c": 0.25}


# ------------------------------------------------------------------------------ context
@dataclass(frozen=True)
class _Ctx:
    X: np.ndarray
    y: np.ndarray
    act: Any
    kc: Any
    lam: float
    alpha: float
    n: int
    d: int
    G: float

    @property
    def bias_term(self) -> float:
        """A1 lam / (alpha lambda0^2), the bias of Lemma 5.2."""
        return bounds.A1(self.G, self.d) * self.lam / (self.alpha * self.kc.lambda0 ** 2)

    @property
    def lam_rel_error(self) -> float:
        """Relative error of lambda0^2 from the Gram refinement (|d Lambda| <= n max-entry error)."""
        return self.n * self.kc.quad_error / self.kc.Lambda


def _key(case: Mapping[str, Any]) -> str:
    return json.dumps(dict(case), sort_keys=True)


@lru_cache(maxsize=64)
def _data(key: str):
    case = json.loads(key)
    X, y = build_dataset(case)
    act = build_activation(case["act"])
    return X, y, act, kernel_constants(X, act)


_DATA_KEYS = ("n", "d", "seed", "labels", "r_min", "min_angle_deg", "act")


def _data_key(case: Mapping[str, Any]) -> str:
    return _key({k: case[k] for k in _DATA_KEYS})


def _ctx(case: Mapping[str, Any], alpha: Optional[float] = None, lam: Optional[float] = None) -> _Ctx:
    X, y, act, kc = _data(_data_key(case))
    # Lambda must clear its own quadrature error by far for lambda0 (and every bound) to mean anything.
    if not kc.Lambda > 1e3 * X.shape[0] * kc.quad_error:
        raise _PremiseFailed(f"Assumption 4.3: Lambda = {kc.Lambda:.3g} not resolved above its quadrature error")
    lam = float(case["lam"]) if lam is None else lam
    if alpha is None:
        alpha = bounds.A1(act.G, X.shape[1]) * lam / (float(case["bias_frac"]) * kc.lambda0 ** 2)
    return _Ctx(X, y, act, kc, lam, float(alpha), X.shape[0], X.shape[1], act.G)


class _PremiseFailed(Exception):
    """Valid input outside the claims' premises (Assumption 4.3): the verdict is PREMISE_FAILED."""


def _guard(claim_id: str):
    """Turn a :class:`_PremiseFailed` raised anywhere in a check into a PREMISE_FAILED verdict."""
    def deco(fn):
        @functools.wraps(fn)
        def wrapper(case):
            try:
                return fn(case)
            except _PremiseFailed as exc:
                return _plain(claim_id, case, premise_failed=str(exc))
        return wrapper
    return deco


def _seed(case: Mapping[str, Any], purpose: int) -> int:
    return int(np.random.SeedSequence([int(case["seed"]), purpose]).generate_state(1)[0])


@contextlib.contextmanager
def _threads(particles: int):
    """One numba thread for ci-sized runs: on a shared machine the thread pool's contention costs ~100x."""
    old = numba.get_num_threads()
    numba.set_num_threads(1 if particles < 200_000 else old)
    try:
        yield
    finally:
        numba.set_num_threads(old)


# ------------------------------------------------------------------------------ running
def _grid(ctx: _Ctx, case, tau_end: float) -> Tuple[float, int, int]:
    """``(dt, record_every, n_steps)`` in tau: dt_c times the stability limit at a p0 sample of width m,
    rounded so that records fall on the same tau for every width and for dt/2."""
    cfg = DynamicsConfig(alpha=ctx.alpha, lam=ctx.lam, dt=1.0, m=int(case["m"]), replicas=int(case["replicas"]),
                         time="tau", lambda0=ctx.kc.lambda0)
    probe = Dynamics(cfg, ctx.X, ctx.y, ctx.act, _seed(case, _SEED_M), check_stability=False)
    lim = probe.limits(probe.initial_state())
    dt0 = float(case["dt_c"]) * lim.limit * lim.to_time
    nrec = int(case["n_records"])
    every = max(1, math.ceil(tau_end / (dt0 * nrec)))
    return tau_end / (every * nrec), every, every * nrec


def _simulate(ctx: _Ctx, case, tau_end: float, width: int, purpose: int, refine: int = 1):
    """One batched run in tau at width ``width * m``, step ``dt / refine``; returns (trajectory, dt_phys)."""
    dt, every, steps = _grid(ctx, case, tau_end)
    m, R = int(case["m"]) * width, int(case["replicas"])
    cfg = DynamicsConfig(alpha=ctx.alpha, lam=ctx.lam, dt=dt / refine, m=m, replicas=R, time="tau",
                         lambda0=ctx.kc.lambda0, backend=case.get("backend", "numba"))
    dyn = Dynamics(cfg, ctx.X, ctx.y, ctx.act, _seed(case, purpose))
    with _threads(m * R):
        return run_coupled(dyn, dyn.initial_state(), steps * refine, every * refine), dyn.dt_phys


#: Which run: (width factor, seed purpose, step refinement); "confirm" is the fresh-seed 4m, dt/2 re-run.
_RUNS = {"m": (1, _SEED_M, 1), "4m": (4, _SEED_4M, 1), "confirm": (4, _SEED_CONFIRM, 2)}


@lru_cache(maxsize=64)
def _gibbs_cached(key: str, alpha: float, lam: float):
    ctx = _ctx(json.loads(key), alpha=alpha, lam=lam)
    return gibbs_evidence(ctx.X, ctx.y, ctx.act, alpha, lam, ctx.kc.Lambda)


def _gibbs(case, ctx: _Ctx):
    return _gibbs_cached(_data_key(case), ctx.alpha, ctx.lam)


def _estimated(claim: str, observed: float, bound: float, se: float, case, confirm: Callable, **kw) -> Verdict:
    """An estimated-tier verdict; when the excess exceeds z se the fresh-seed (4m, dt/2) re-run is paid for."""
    v = Verdict(claim=claim, observed=observed, bound=bound, tier=Tier.ESTIMATED, stderr=se, tolerance=0.0,
                tolerance_reason=_EST_TOL, case=dict(case), **kw)
    # violation_gap reads the lower bracket of the left side (the point value unless the caller gave one).
    if v.violation_gap > 0.0 and not (v.premise_failed or v.inconclusive):
        try:
            obs, bnd, se2, extra = confirm()
        except (UnstableStepError, NonFiniteError) as exc:  # no confirmation: the excess stays INCONCLUSIVE
            return dataclasses.replace(v, extra={**v.extra, "confirmation_failed": str(exc)})
        conf = Verdict(claim=claim, observed=obs, bound=bnd, tier=Tier.ESTIMATED, stderr=se2, tolerance=0.0,
                       tolerance_reason=_EST_TOL, case={**dict(case), "confirmation": "fresh seed, 4m, dt/2"},
                       extra=extra)
        v = dataclasses.replace(v, confirmation=conf)
    return v


def _plain(claim: str, case, observed: float = 0.0, bound: float = 0.0, **kw) -> Verdict:
    """A verdict that carries only a reason (premise failed / inconclusive) or an audit number."""
    return Verdict(claim=claim, observed=observed, bound=bound, case=dict(case), **kw)


def _reg(claim, name, expected, tier, desc, strategy, check, n, examples=(), finding=None, budget_s=30.0, **fields):
    """Register a variant; ``fields`` are further :class:`~checks.registry.Variant` fields (``min_decided``,
    ``min_decided_reason``, ``rho_star``, ``rho_star_source``, ``rho_star_case``, ``expected_reason``...)."""
    register(Variant(claim=claim, name=name, expected=expected, tier=tier, description=desc, strategy=strategy,
                     check=check, max_examples=n, examples=tuple(examples), finding=finding, time_budget_s=budget_s,
                     **fields))


# ------------------------------------------------------------------------------ runs, p* and t = inf verdicts
# (used by checks.dynamics_claims, which re-exports them)
@lru_cache(maxsize=48)
def _paths_cached(key: str, alpha: float, lam: float, tau_end: float, which: str) -> PathEvidence:
    case = json.loads(key)
    ctx = _ctx(case, alpha=alpha, lam=lam)
    run, _ = _simulate(ctx, case, tau_end, *_RUNS[which])
    return path_evidence(run, ctx.X, ctx.y, ctx.kc.Lambda)


def _path(case, ctx: _Ctx, tau_end: float, which: str) -> PathEvidence:
    """The run ``which`` in {"m", "4m", "confirm" (fresh seed, 4m, dt/2)} of a case (cached)."""
    return _paths_cached(_key(case), ctx.alpha, ctx.lam, float(tau_end), which)


def _t_end(ctx: _Ctx, m: int) -> float:
    """Horizon in tau: past the window where exp(-tau) >= 2 sqrt(lam n/(m Lambda)) (docs/model.md#particle-sde-and-algorithm-1 floor), <= 10."""
    floor = math.sqrt(ctx.lam * ctx.n / (m * ctx.kc.Lambda))
    return float(min(10.0, max(2.0, math.log(1.0 / (2.0 * floor)) + 0.5)))


def _series(ev: PathEvidence, **curves) -> Dict[str, list]:
    out = {"tau": ev.tau.tolist(), "sqrt_loss": ev.mean_se("sqrt_loss")[0].tolist(),
           "gronwall_rms": (ev.gronwall.mean(axis=1) / math.sqrt(ev.n)).tolist()}
    out.update({k: np.asarray(v, float).tolist() for k, v in curves.items()})
    return out


def _path_extra(ev: PathEvidence, ev4: Optional[PathEvidence] = None) -> Dict[str, Any]:
    failed = np.flatnonzero(~ev.premises_hold)
    out = {"evidence": "tier S: particle estimates, standard errors over independent replicas",
           "m": ev.m, "dt_tau": ev.dt, "replicas": ev.R, "alpha": ev.alpha, "lam": ev.lam, "Lambda": ev.Lambda,
           "min_lam_ratio": float(ev.lam_min_ratio.min()), "max_moment_ratio": float(ev.moment_ratio.max()),
           "max_w2_upper": float(ev.w2_upper.max()), "max_w2_lower": float(ev.w2_lower.max()),
           "op_failed_tau": float(ev.tau[failed[0]]) if failed.size else None,
           "max_kl_lower": float(ev.mean_se("kl_lower")[0].max()),
           "max_kl_energy_upper": float(ev.mean_se("kl_energy_upper")[0].max())}
    if ev4 is not None:
        out["finite_width_bias_sqrt_loss"] = float(2.0 * np.max(np.abs(ev.mean_se("sqrt_loss")[0] -
                                                                       ev4.mean_se("sqrt_loss")[0])))
    return out


def _failed(premises: Mapping[str, bool]) -> Optional[str]:
    bad = [k for k, ok in premises.items() if not ok]
    return ("premise fails: " + "; ".join(bad)) if bad else None


#: exp(-1600) underflows to exactly 0.0, so a bound evaluated at tau = 800 is its t = inf value.
_TAU_INF = 800.0


def _t_inf_phys(ctx: _Ctx) -> float:
    return _TAU_INF / (ctx.alpha ** 2 * ctx.kc.lambda0 ** 2)


def _t_inf_premises(ctx: _Ctx, ge) -> Dict[str, bool]:
    # t = inf is inside the lemmas' domain only if t* = inf; OP-H / OP-M at p* are what can be checked.
    return {"OP-H at p*: lambda_min(H(p*)) >= Lambda/2": bool(ge.lam_min_ratio >= 0.5),
            "OP-M at p*: E|w|^2 <= 4(d+1)": bool(ge.second_moment <= 4.0 * (ctx.d + 1)),
            "L(p0) = mean(y^2) <= 1": bool(np.mean(ctx.y ** 2) <= 1.0)}


def _gibbs_extra(ctx: _Ctx, ge, observed: float, bound: float) -> Dict[str, Any]:
    return {"evaluated_at": "t=inf (Gibbs p*)", "alpha": ctx.alpha, "lam": ctx.lam, "Lambda": ctx.kc.Lambda,
            "slack_orders": float(slack_orders(observed, bound)), "lam_min_ratio": ge.lam_min_ratio,
            "moment_ratio": ge.second_moment / (4.0 * (ctx.d + 1)), "w2_bracket": [ge.w2_lower, ge.w2_upper],
            "KL": ge.KL, "events": ["mode=t_inf"]}


def _exact_t_inf(claim: str, case, ctx: _Ctx, ge, observed: float, bound: float, tol: float, reason: str,
                 premises: Optional[Dict[str, bool]] = None, **kw) -> Verdict:
    premises = _t_inf_premises(ctx, ge) if premises is None else premises
    pf = _failed(premises) if ge.valid else None
    extra = {**_gibbs_extra(ctx, ge, observed, bound), **kw.pop("extra", {})}
    inconclusive = ge.reason or None
    if not math.isfinite(tol):   # the K vs 2K refinement did not give a finite error: nothing is decided
        inconclusive = inconclusive or f"Gibbs refinement error not finite ({reason})"
        extra["tolerance_not_finite"] = True
        tol = 0.0
    return Verdict(claim=claim, observed=observed, bound=bound, tier=Tier.EXACT, tolerance=tol,
                   tolerance_reason=reason, case=dict(case), premises=premises, premise_failed=pf,
                   inconclusive=inconclusive, extra=extra, **kw)


def _window_pick(mean: np.ndarray, se: np.ndarray, rhs: np.ndarray, window: np.ndarray) -> int:
    """The judged record: the largest excess in standard errors, (mean - rhs)/se, inside the window
    (the record most likely to show a violation; se is floored at 1e-12 rhs for exact records)."""
    idx = np.flatnonzero(window)
    return int(idx[np.argmax(((mean - rhs) / np.maximum(se, 1e-12 * rhs))[idx])])


def _paths_or_reason(case, ctx: _Ctx, tau_end: float, which=("m", "4m")):
    try:
        return [_path(case, ctx, tau_end, w) for w in which], None
    except (UnstableStepError, NonFiniteError) as exc:
        return None, f"particle scheme unstable at this step: {exc}"
