"""Shared machinery of the particle-dynamics claims (checks.dynamics_claims, checks.algorithm_1).

Sizes and case ranges per profile (ci: n <= 3, d = 2, m = 2000; dev and hunt: up to n = 50, d = 20,
lam = 1, m = 1e6 under a work and memory cap), the case strategy they build on, the per-case context
(dataset, activation, kernel constants; Assumption 4.3 as a premise), the sizes every verdict records,
seeds, batched runs in rescaled time tau, the Gibbs minimiser p*, the estimated-tier verdict with its
fresh-seed (4m, dt/2) confirmation (docs/verdicts.md), the cached path evidence of a case's runs and the
exact t = inf verdict from p*.  Private: the claim modules re-export what is public (:class:`Sizes`,
:func:`sizes`).
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
from theory.dynamics import Dynamics, DynamicsConfig, machine_owner
from theory.errors import DomainError, NonFiniteError, UnstableStepError
from theory.kernels import kernel_constants
from theory.trajectory import PathEvidence, gibbs_evidence, path_evidence, record_stops, run_coupled, slack_orders

from .profiles import budget
from .registry import Variant, register
from .strategies import activation_specs, build_activation, build_dataset, dataset_cases, log_uniform
from .verdict import Tier, Verdict

__all__ = ["Sizes", "sizes", "ProfileExamples", "CaseRanges", "case_ranges", "capped_m", "RUN_WIDTHS", "WORK_CAP",
           "MEMORY_CAP", "bytes_per_particle", "SIZE_KEYS"]

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
    """The :class:`Sizes` of the active (or named) profile; hunt runs wide (m >= 1e5) and long.  The Lemma
    5.2/5.3 and Theorem 4.4 cases draw m per case instead under dev and hunt (:func:`case_ranges`)."""
    return _SIZES.get(budget(profile).name, _SIZES["ci"])


@dataclass(frozen=True)
class CaseRanges:
    """What a profile's dynamics cases draw: ``n``, ``d`` (inclusive integer ranges), ``lam`` (log-uniform),
    ``m`` (log-uniform per case; None: every case runs at :attr:`Sizes.m`) and ``work``, the cap on
    ``RUN_WIDTHS * m * R * n * d`` (None: no cap; see :data:`WORK_CAP`)."""

    n: Tuple[int, int]
    d: Tuple[int, int]
    lam: Tuple[float, float]
    m: Optional[Tuple[int, int]] = None
    work: Optional[float] = None


#: A case runs at m, at 4m and possibly a fresh-seed confirmation at 4m with dt/2 (twice the steps):
#: 1 + 4 + 8 width-step units of work per record interval.
RUN_WIDTHS = 13
#: hunt's cap on the work RUN_WIDTHS * m * R * n * d (particle-coordinate updates per step over a case's
#: runs).  Measured on this 2-core machine: a step costs 4e-10 to 9e-10 s per unit of m*R*n*d (R = 8;
#: n=20, d=10, m=1e4 and n=50, d=20, m=1e4-4e4), a record (Gram H(p_t) and moments, O(m R n^2)) 1-2 steps,
#: and a run takes 1.7e3-2.7e3 steps (dt_tau = 7e-4 at n = 50).  At the cap a case then costs about
#: 1e9/13 * 5 * 2.7e3 * 5e-10 s ~ 9 min without the confirmation run (~23 min with it): the most one hunt
#: case should take.  m reaches 1e6 at n = d = 2, ~5e4 at n=20, d=10, ~1e4 at n=50, d=20.
WORK_CAP = 1e9
#: hunt's cap on the memory of the widest run (4m particles per replica, run after the m run is freed),
#: at :func:`bytes_per_particle` each: 4 GB.
MEMORY_CAP = 4e9


def bytes_per_particle(n: int, d: int) -> int:
    """Memory of one particle of a run: state and OU reference (2(d+1) floats), the step buffers (n, 2n
    for erf) and the record sweep; 8 (2d + 4n + 2) bytes bounds the peak RSS measured at (n, d) =
    (2, 2), (20, 10), (50, 20): 87, 855, 1505 bytes per particle."""
    return 8 * (2 * d + 4 * n + 2)


#: ci keeps the sizes of the first dynamics checks (bitwise the same cases); dev draws moderately larger
#: ones; hunt the paper-sized ones of issue 14 (n <= 50, d <= 20, lam <= 1, m <= 1e6 under WORK_CAP).
_RANGES = {"ci": CaseRanges((2, 3), (2, 2), (1e-3, 3e-2)),
           "dev": CaseRanges((2, 10), (2, 6), (1e-3, 0.3), (2000, 6000), None),
           "hunt": CaseRanges((2, 50), (2, 20), (1e-3, 1.0), (2000, 1_000_000), WORK_CAP)}


def case_ranges(profile: Optional[str] = None) -> CaseRanges:
    """The :class:`CaseRanges` of the active (or named) profile (soak: ci's)."""
    return _RANGES.get(budget(profile).name, _RANGES["ci"])


def capped_m(m: float, m_lo: int, replicas: int, n: int, d: int, work: Optional[float]) -> int:
    """``m`` rounded to an even integer (the symmetric init pairs particles), lowered so that
    ``RUN_WIDTHS m R n d <= work`` and ``4 m R bytes_per_particle(n, d) <= MEMORY_CAP`` (with a work
    cap), but never below ``m_lo`` (a smaller width resolves nothing)."""
    for name, v in (("m_lo", m_lo), ("replicas", replicas), ("n", n), ("d", d)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise DomainError(f"{name} must be a positive integer, got {v!r}")
    if not (isinstance(m, (int, float)) and m >= 1) or (work is not None and not work > 0):
        raise DomainError(f"m must be a number >= 1 and work None or > 0, got m={m!r}, work={work!r}")
    if work is not None:
        m = min(m, work / (RUN_WIDTHS * replicas * n * d), MEMORY_CAP / (4 * replicas * bytes_per_particle(n, d)))
    return 2 * max(m_lo // 2, int(m) // 2)


def _base(sz: Sizes, ranges: Optional[CaseRanges] = None, **kw):
    """Dynamics cases: a dataset and activation, sizes ``sz`` (replicas, records, step fraction and, unless
    ``ranges`` draws it, m) and the further keys ``kw``.  ``ranges`` (e.g. ``case_ranges()``) sets n and d
    and m per case; None keeps ci's n in [2, 3], d = 2 and m = sz.m whatever the profile (Algorithm 1
    and others size their own m)."""
    rng = _RANGES["ci"] if ranges is None else ranges
    if rng.m is None:   # ci (and soak): the same strategy objects as ever, so the same cases
        return st.builds(lambda data, act, extra: {**data, "act": act, "m": sz.m, "replicas": sz.replicas,
                                                   "n_records": sz.n_records, "dt_c": sz.dt_c, **extra},
                         dataset_cases(n=rng.n, d=rng.d, r_min=0.5, min_angle_deg=30.0),
                         activation_specs(c=(0.5, 2.0), s=(0.5, 2.0)), st.fixed_dictionaries(kw))
    return st.builds(lambda data, act, m, extra: {
        **data, "act": act, "m": capped_m(m, rng.m[0], sz.replicas, data["n"], data["d"], rng.work),
        "replicas": sz.replicas, "n_records": sz.n_records, "dt_c": sz.dt_c, **extra},
        dataset_cases(n=rng.n, d=rng.d, r_min=0.5, min_angle_deg=30.0),
        activation_specs(c=(0.5, 2.0), s=(0.5, 2.0)), log_uniform(float(rng.m[0]), float(rng.m[1])),
        st.fixed_dictionaries(kw))


class ProfileExamples(tuple):
    """A variant's explicit examples: the tuple itself under every profile (ci's cases never change), plus
    ``extra[profile]`` when iterated under that profile (``checks.profiles.using_profile``, as the runner
    reads them), e.g. large cases that only dev and hunt can afford."""

    def __new__(cls, base, extra: Mapping[str, Tuple[Mapping[str, Any], ...]]):
        obj = super().__new__(cls, base)
        obj.extra = {k: tuple(v) for k, v in extra.items()}
        return obj

    def _more(self) -> Tuple[Mapping[str, Any], ...]:
        return self.extra.get(budget().name, ())

    def __iter__(self):
        yield from tuple.__iter__(self)
        yield from self._more()

    def __len__(self) -> int:
        return tuple.__len__(self) + len(self._more())


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
    """Turn a :class:`_PremiseFailed` raised anywhere in a check into a PREMISE_FAILED verdict, and make
    every verdict's ``extra`` name its sizes (:func:`_sizes_extra`, from the case where the check did not)."""
    def deco(fn):
        @functools.wraps(fn)
        def wrapper(case):
            try:
                v = fn(case)
            except _PremiseFailed as exc:
                v = _plain(claim_id, case, premise_failed=str(exc))
            # Keys the check set (None included: at t = inf no m or dt applies) win over the case's.
            return dataclasses.replace(v, extra={**_sizes_extra(case), **v.extra})
        return wrapper
    return deco


#: The sizes every dynamics verdict records (the report's slack-vs-size plot reads them).
SIZE_KEYS = ("n", "d", "m", "replicas", "lam", "alpha", "lambda0", "alpha_lambda0", "dt_tau", "dt_phys")


def _sizes_extra(case: Mapping[str, Any], ctx: Optional[_Ctx] = None, dt_tau: Optional[float] = None
                 ) -> Dict[str, Any]:
    """``n, d, m, replicas, lam`` of the case; ``alpha, lambda0, alpha_lambda0`` once known (``ctx``); the
    step ``dt_tau`` in tau and ``dt_phys = dt_tau / (alpha lambda0)^2`` in physical time (None at t = inf,
    where nothing is stepped, and wherever the check stopped before choosing a step)."""
    out: Dict[str, Any] = {k: None for k in SIZE_KEYS}
    out.update({k: case[k] for k in ("n", "d", "m", "replicas", "lam") if k in case})
    if ctx is not None:
        a0 = ctx.alpha * ctx.kc.lambda0
        out.update(alpha=ctx.alpha, lam=ctx.lam, lambda0=ctx.kc.lambda0, alpha_lambda0=a0)
        if dt_tau is not None:
            out.update(dt_tau=float(dt_tau), dt_phys=float(dt_tau) / a0 ** 2)
    return out


def _seed(case: Mapping[str, Any], purpose: int) -> int:
    return int(np.random.SeedSequence([int(case["seed"]), purpose]).generate_state(1)[0])


@contextlib.contextmanager
def _threads(particles: int):
    """One numba thread for runs below 200k particles unless this process owns the machine
    (:func:`theory.dynamics.machine_owner`: ``verify``, ``hunt --workers 1``), where the kernel's own threshold
    decides: beside other processes (xdist, hunt workers) the thread pool's contention costs ~100x."""
    old = numba.get_num_threads()
    numba.set_num_threads(old if (machine_owner() or particles >= 200_000) else 1)
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


def _simulate(ctx: _Ctx, case, tau_end: float, width: int, purpose: int, refine: int = 1,
              outputs_only: bool = False):
    """One batched run in tau at width ``width * m``, step ``dt / refine``; returns (run, dt_phys).

    ``run`` is the :class:`~theory.trajectory.CoupledRun` (full records and the reference OU's moments), or
    with ``outputs_only`` the :class:`~theory.dynamics.Trajectory` of outputs records (f, residual, loss,
    E|w|^2; no reference OU), bitwise the same particles and outputs at about a fifth of a record's cost.
    """
    dt, every, steps = _grid(ctx, case, tau_end)
    m, R = int(case["m"]) * width, int(case["replicas"])
    cfg = DynamicsConfig(alpha=ctx.alpha, lam=ctx.lam, dt=dt / refine, m=m, replicas=R, time="tau",
                         lambda0=ctx.kc.lambda0, backend=case.get("backend", "numba"), couple_ou=not outputs_only)
    dyn = Dynamics(cfg, ctx.X, ctx.y, ctx.act, _seed(case, purpose))
    with _threads(m * R):
        if outputs_only:
            stops = record_stops(steps * refine, every * refine)
            return dyn.records(dyn.initial_state(), stops, check=True, observables="outputs")[0], dyn.dt_phys
        return run_coupled(dyn, dyn.initial_state(), steps * refine, every * refine), dyn.dt_phys


#: Which run: (width factor, seed purpose, step refinement); "confirm" is the fresh-seed 4m, dt/2 re-run.
_RUNS = {"m": (1, _SEED_M, 1), "4m": (4, _SEED_4M, 1), "confirm": (4, _SEED_CONFIRM, 2)}


@lru_cache(maxsize=64)
def _gibbs_cached(key: str, alpha: float, lam: float):
    ctx = _ctx(json.loads(key), alpha=alpha, lam=lam)
    return gibbs_evidence(ctx.X, ctx.y, ctx.act, alpha, lam, ctx.kc.Lambda)


def _gibbs(case, ctx: _Ctx):
    return _gibbs_cached(_data_key(case), ctx.alpha, ctx.lam)


def _estimated(claim: str, observed: float, bound: float, se: float, case, confirm: Callable,
               reason: str = _EST_TOL, confirm_label: str = "fresh seed, 4m, dt/2", **kw) -> Verdict:
    """An estimated-tier verdict; when the excess exceeds z se the fresh-seed (4m, dt/2) re-run is paid for
    (``reason`` / ``confirm_label`` name another estimate and its re-run, e.g. the QMC p*)."""
    v = Verdict(claim=claim, observed=observed, bound=bound, tier=Tier.ESTIMATED, stderr=se, tolerance=0.0,
                tolerance_reason=reason, case=dict(case), **kw)
    # violation_gap reads the lower bracket of the left side (the point value unless the caller gave one).
    if v.violation_gap > 0.0 and not (v.premise_failed or v.inconclusive):
        try:
            obs, bnd, se2, extra = confirm()
        except (UnstableStepError, NonFiniteError) as exc:  # no confirmation: the excess stays INCONCLUSIVE
            return dataclasses.replace(v, extra={**v.extra, "confirmation_failed": str(exc)})
        conf = Verdict(claim=claim, observed=obs, bound=bnd, tier=Tier.ESTIMATED, stderr=se2, tolerance=0.0,
                       tolerance_reason=reason, case={**dict(case), "confirmation": confirm_label}, extra=extra)
        v = dataclasses.replace(v, confirmation=conf)
    return v


def _plain(claim: str, case, observed: float = 0.0, bound: float = 0.0, **kw) -> Verdict:
    """A verdict that carries only a reason (premise failed / inconclusive) or an audit number."""
    return Verdict(claim=claim, observed=observed, bound=bound, case=dict(case), **kw)


def _reg(claim, name, expected, tier, desc, strategy, check, n, examples=(), finding=None, budget_s=30.0, **fields):
    """Register a variant; ``fields`` are further :class:`~checks.registry.Variant` fields (``min_decided``,
    ``min_decided_reason``, ``rho_star``, ``rho_star_source``, ``rho_star_case``, ``expected_reason``...)."""
    register(Variant(claim=claim, name=name, expected=expected, tier=tier, description=desc, strategy=strategy,
                     check=check, max_examples=n, finding=finding, time_budget_s=budget_s,
                     # tuple() of ProfileExamples would fix its contents under the profile of the import
                     examples=examples if isinstance(examples, ProfileExamples) else tuple(examples), **fields))


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
           "kernel": ev.kernel or None,
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
    # p* is the t = inf state itself: no particles (m, replicas) and no step (dt) enter it.
    return {**_sizes_extra({"n": ctx.n, "d": ctx.d}, ctx),
            "evaluated_at": "t=inf (Gibbs p*)", "alpha": ctx.alpha, "lam": ctx.lam, "Lambda": ctx.kc.Lambda,
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
