"""Lemma 5.1 (eigenvalue stability on a W2 ball): ``W2(p, p0) <= R  =>  lambda_min(H(p)) >= Lambda/2``.

MATH 3.3, 4.1, E7, E8, E9, E14.  R = min{sqrt(d+1), lambda0^2 / P} contains an unspecified
polynomial P, so every verdict is indexed by P and the suite reports the least admissible one,
``P_min = lambda0^2 / R_crit``, where R_crit is the smallest W2 radius at which a certified
adversary of :mod:`theory.stability` (A: shrink u; B: delta_0 and narrow Gaussians; C: Gaussians,
exact Bures W2 and H at tier E) brings lambda_min(H(p)) down to Lambda/2.

Variants
    stated   for P = P_factor * P_min (P_factor log-uniform in [1.001, 1e3]) or a user-supplied
             ``P``: observed = min lambda_min(H(p)) over the certified adversaries with
             ``W2 <= R(P)``, bound Lambda/2, relation ">=", tier certified.  Expected to hold for
             P >= P_min; a drawn P below P_min would be VIOLATED by construction, which is not a
             finding about the paper (the lemma only claims that *some* P works).  The margin
             1.001 keeps a VIOLATED meaningful: it would say the radius search is inconsistent
             by 1e-3, a thousand times its own tolerance.
    probe    the sqrt(d+1) branch of R (E8): delta_0 has W2 = sqrt(d+1) and lambda_min = 0, so
             the search must find a violation; it shrinks to n = 2, d = 1.
    audit    P_min against G, log(1/lambda0), n and d (keys ``P_min``, ``G``, ``log_inv_lambda0``
             of ``extra``, which the report plots), every adversary's radius with its tier,
             R_crit / sqrt(d+1), and alpha_min(P_min) of (4.1) (E9).  Under ``hunt`` also the
             free-form adversary (E) and larger n, d.
    mutant   :func:`mutant_check_no_halving`: Lambda/2 replaced by 0.99 Lambda.

Cases (JSON-able; rebuilt deterministically)
    data: a :func:`checks.strategies.dataset_cases` dict (``n, d, seed, r_min, min_angle_deg``),
    or ``{"angles_deg": [...]}`` (unit inputs in the plane, the MATH 4.1 reference), or a
    degenerate ``{"kind", "d", "seed"}`` of MATH 2.4; ``act``: ``{"base", "c", "s"}`` (base
    ``"constant"`` gives ht = c, a premise probe of E14); plus ``P_factor`` or ``P``, optional
    ``lam`` (for alpha_min, default 0.005 as in MATH 3.4) and ``free_form`` (run adversary E).

Premises (E14) are decided by :func:`theory.assumptions.assumption_4_3` against the quadrature
error: Lambda indistinguishable from 0 gives PREMISE_FAILED, never a violation.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Dict, Mapping, Optional, Sequence

import numpy as np
from hypothesis import strategies as st

from theory.activations import Activation, from_callables
from theory.assumptions import assumption_4_1, assumption_4_2, assumption_4_3, lambda_tolerance
from theory.bounds import alpha_min, radius_R
from theory.kernels import kernel_constants
from theory.stability import BallMinimum, StabilityReport, critical_radius, min_lambda_within

from .profiles import budget
from .registry import Claim, Expected, Variant, register
from .strategies import (activation_specs, build_activation, build_dataset, build_degenerate_dataset,
                         dataset_cases, log_uniform)
from .verdict import Tier, Verdict

__all__ = ["CLAIM", "REFERENCE", "P_FACTOR_RANGE", "build_inputs", "build_act", "nodes_for", "setup", "Setup",
           "stated_cases", "probe_cases", "audit_cases", "check_stated", "check_probe", "check_audit",
           "mutant_check_no_halving", "alpha_exponent"]

CLAIM = Claim(
    id="lemma-5.1", paper_ref="Lemma 5.1",
    statement="for any p with W2(p, p0) <= R, lambda_min(H(p)) >= Lambda/2, where "
              "R = min{sqrt(d+1), lambda0^2 / poly(G, log(1/lambda0))}",
    premises=("Assumption 4.1: |x_i| <= 1", "Assumption 4.2: ht is C^3 with G1..G5 finite",
              "Assumption 4.3: Lambda = lambda_min(H(p0)) > 0"),
    family="stability")

#: P = P_factor * P_min.  The lower end 1.001 puts R(P) a relative 1e-3 inside R_crit, a
#: thousand times the radius search's own precision (SLSQP + bisection, ~1e-6 at worst).
P_FACTOR_RANGE = (1.001, 1e3)
#: A verdict whose quadrature tolerance exceeds this fraction of Lambda is INCONCLUSIVE: the
#: smallest designed margin (P_factor = 1.001) moves lambda_min by ~4e-4 Lambda, so a larger
#: tolerance (K nodes per axis checked against 2K) could hide the decision.
RESOLVED_RTOL = 1e-4
#: Most Gauss-Hermite nodes per axis the setup doubles K up to when H(p0) is not resolved at
#: RESOLVED_RTOL (gram_p0 accepts K <= 180 and evaluates 2K: 320^2 nodes a pair).
MAX_K = 160
#: lambda (entropy weight) for alpha_min of (4.1) in the audit, as in MATH 3.4.
DEFAULT_LAM = 0.005
#: The MATH 4.1 reference: unit inputs at 0, 45, 90, 135 degrees, tanh.
REFERENCE = {"angles_deg": [0.0, 45.0, 90.0, 135.0], "act": {"base": "tanh", "c": 1.0, "s": 1.0}}
#: Keys that do not change the inputs, the activation or the radius search (cache key excludes them).
_NON_DATA_KEYS = ("P_factor", "P", "lam")


# ---------------------------------------------------------------------------------- builders
def build_inputs(case: Mapping[str, Any]) -> np.ndarray:
    """X (n, d) of a case: planar unit inputs at ``angles_deg``, a degenerate set, or a generated one."""
    if "angles_deg" in case:
        a = np.deg2rad(np.asarray(case["angles_deg"], dtype=np.float64))
        return np.stack([np.cos(a), np.sin(a)], axis=1)
    if "kind" in case:
        return build_degenerate_dataset(case)[0]
    return build_dataset(case)[0]


def build_act(case: Mapping[str, Any]) -> Activation:
    """The activation of a case; a degenerate data case brings its own (MATH 2.4) unless ``act`` is set."""
    spec = case.get("act") or {"base": build_degenerate_dataset(case)[1]}
    if spec["base"] == "constant":
        c0 = float(spec.get("c", 1.0))
        zero = lambda z: np.zeros_like(np.asarray(z, dtype=np.float64))  # noqa: E731
        return from_callables(f"constant({c0:g})", [lambda z: np.full_like(np.asarray(z, dtype=np.float64), c0)]
                              + [zero] * 4)
    return build_activation(spec)


def nodes_for(act: Activation) -> int:
    """Gauss-Hermite nodes per axis: 80 for s >= 1, 80 * ceil(1/s) for steeper ``c h(z/s)`` (MATH 2.2),
    at most MAX_K."""
    return min(int(80 * math.ceil(1.0 / min(act.s, 1.0))), MAX_K)


# ------------------------------------------------------------------------------------ setup
@dataclass(frozen=True)
class Setup:
    """Inputs, activation, premises and (when asked) the critical-radius report of a case."""

    X: np.ndarray
    act: Activation
    K: int
    Lambda: float
    premises: Dict[str, bool]
    premise_failed: Optional[str]
    inconclusive: Optional[str]
    report: Optional[StabilityReport] = None


def _premises(X, act, K):
    a1, a2 = assumption_4_1(X), assumption_4_2(act)
    consts = kernel_constants(X, act, K) if a2.holds else None
    a3 = assumption_4_3(X, act, K, constants=consts) if a2.holds else None
    prem = {CLAIM.premises[0]: a1.holds, CLAIM.premises[1]: a2.holds, CLAIM.premises[2]: bool(a3 and a3.holds)}
    failed = next((r.detail for r in (a1, a2, a3) if r is not None and r.status == "fails"), None)
    inconclusive = a3.detail if (a3 is not None and a3.status == "inconclusive") else None
    return prem, failed, inconclusive, consts


def _resolved_premises(X, act, K):
    """Premises at the smallest K (doubling up to MAX_K) whose quadrature error is below
    RESOLVED_RTOL |Lambda|, stopping early once rounding dominates (more nodes cannot help)."""
    while True:
        prem, failed, inconclusive, consts = _premises(X, act, K)
        if consts is None or K >= MAX_K:
            break
        quad = consts.n * consts.quad_error
        rounding = lambda_tolerance(consts) - quad
        if quad <= RESOLVED_RTOL * abs(consts.Lambda) or quad <= rounding:
            break
        K *= 2
    if failed is None and inconclusive is None and lambda_tolerance(consts) > RESOLVED_RTOL * consts.Lambda:
        inconclusive = (f"Lambda = {consts.Lambda:.3g} is not resolved: its numerical error "
                        f"{lambda_tolerance(consts):.3g} exceeds {RESOLVED_RTOL:g} Lambda at K = {K}")
    return K, prem, failed, inconclusive, (consts.Lambda if consts is not None else 0.0)


@lru_cache(maxsize=64)
def _setup_cached(key: str, with_report: bool) -> Setup:
    case = json.loads(key)
    X, act = build_inputs(case), build_act(case)
    K, prem, failed, inconclusive, Lam = _resolved_premises(X, act, nodes_for(act))
    report = None
    if with_report and failed is None and inconclusive is None:
        report = critical_radius(X, act, K=K, free_form=bool(case.get("free_form", False)))
    return Setup(X, act, K, Lam, prem, failed, inconclusive, report)


def setup(case: Mapping[str, Any], with_report: bool = True) -> Setup:
    """The :class:`Setup` of a case, cached on its data and activation (variants share it)."""
    data = {k: v for k, v in dict(case).items() if k not in _NON_DATA_KEYS}
    return _setup_cached(json.dumps(data, sort_keys=True), with_report)


# ----------------------------------------------------------------------------------- verdicts
def _report_extra(s: Setup) -> Dict[str, Any]:
    rep = s.report
    n, d = s.X.shape
    out = {"Lambda": s.Lambda, "n": n, "d": d, "K": s.K, "G": s.act.G, "act": s.act.name}
    if rep is None:
        return out
    out.update(lambda0=rep.lambda0, log_inv_lambda0=-math.log(rep.lambda0), R_crit=rep.R_crit,
               R_crit_over_sqrt_d1=rep.R_crit / math.sqrt(d + 1.0), P_min=rep.P_min, K_search=rep.K_search,
               witness_crit=rep.witness.name,
               adversaries={a.name: {"radius": a.radius, "tier": a.tier} for a in rep.adversaries})
    out.update({f"R_{a.name}": a.radius for a in rep.adversaries})
    if math.isfinite(rep.R_est):
        out.update(R_est=rep.R_est, P_min_est=rep.P_min_est)
    return out


def _blocked(name: str, case, s: Setup) -> Optional[Verdict]:
    """A PREMISE_FAILED / INCONCLUSIVE verdict when the premises do not hold, else None."""
    if s.premise_failed is None and s.inconclusive is None:
        return None
    return Verdict(claim=f"{CLAIM.id}/{name}", observed=s.Lambda, bound=0.5 * s.Lambda, relation=">=",
                   tier=Tier.CERTIFIED, case=dict(case), premises=s.premises, premise_failed=s.premise_failed,
                   inconclusive=s.inconclusive, extra=_report_extra(s))


def _ball_verdict(name: str, case, s: Setup, ball: BallMinimum, bound: float, P: Optional[float],
                  label: str) -> Verdict:
    extra = {**_report_extra(s), "R": ball.R, "ball_witness": ball.witness, "ball_values": ball.values,
             "ball_w2": ball.w2, "events": [f"act={s.act.base or s.act.name}", f"n={s.X.shape[0]}",
                                            f"witness={ball.witness}"]}
    if P is not None:
        extra["P"] = P
    inconclusive = None
    if ball.tolerance > RESOLVED_RTOL * s.Lambda:
        inconclusive = (f"quadrature not resolved: tolerance {ball.tolerance:.3g} > {RESOLVED_RTOL:g} Lambda "
                        f"at K = {ball.K} (raise K)")
    return Verdict(claim=f"{CLAIM.id}/{name}", observed=ball.observed, bound=bound, relation=">=",
                   tier=Tier.CERTIFIED, tolerance=ball.tolerance,
                   tolerance_reason=f"{label}; witness lambda_min at K vs 2K nodes + n quad_error/2 on Lambda/2 "
                                    "+ 64 n eps ||H|| rounding",
                   case=dict(case), premises=s.premises, inconclusive=inconclusive, extra=extra)


def _at_P(case, name: str, bound_factor: float) -> Verdict:
    s = setup(case)
    blocked = _blocked(name, case, s)
    if blocked is not None:
        return blocked
    rep = s.report
    d = s.X.shape[1]
    if "P" not in case and not math.isfinite(rep.R_crit):
        return Verdict(claim=f"{CLAIM.id}/{name}", observed=s.Lambda, bound=0.5 * s.Lambda, relation=">=",
                       tier=Tier.CERTIFIED, case=dict(case), premises=s.premises, extra=_report_extra(s),
                       inconclusive="no certified adversary reaches Lambda/2: P_min = 0, P_factor undefined")
    P = float(case["P"]) if "P" in case else float(case["P_factor"]) * rep.P_min
    R = radius_R(P, d, rep.lambda0)
    ball = min_lambda_within(s.X, s.act, R, rep)
    return _ball_verdict(name, case, s, ball, bound_factor * rep.Lambda, P,
                         f"R(P) = min(sqrt(d+1), lambda0^2/P) = {R:.6g}")


def check_stated(case: Mapping[str, Any]) -> Verdict:
    """Lemma 5.1 at ``P = P_factor * P_min`` (or the case's ``P``): min lambda_min over W2 <= R(P) vs Lambda/2."""
    return _at_P(case, "stated", 0.5)


def mutant_check_no_halving(case: Mapping[str, Any]) -> Verdict:
    """Mutant: Lambda/2 replaced by 0.99 Lambda; caught wherever R(P) is within ~R_crit/60 (P_factor <~ 60)."""
    return _at_P(case, "mutant-no-halving", 0.99)


def check_probe(case: Mapping[str, Any]) -> Verdict:
    """E8: the sqrt(d+1) branch of R; delta_0 (W2 = sqrt(d+1), lambda_min = 0) violates it for n >= 2."""
    s = setup(case, with_report=False)
    blocked = _blocked("probe", case, s)
    if blocked is not None:
        return blocked
    R = math.sqrt(s.X.shape[1] + 1.0)
    ball = min_lambda_within(s.X, s.act, R, None, K=s.K)
    return _ball_verdict("probe", case, s, ball, 0.5 * s.Lambda, None, "R = sqrt(d+1) (P -> 0)")


def check_audit(case: Mapping[str, Any]) -> Verdict:
    """Audit: R_crit against sqrt(d+1) (E8), with P_min, G, log(1/lambda0), every radius and alpha_min(P_min)."""
    s = setup(case)
    blocked = _blocked("audit", case, s)
    if blocked is not None:
        return blocked
    rep = s.report
    d = s.X.shape[1]
    extra = _report_extra(s)
    lam = float(case.get("lam", DEFAULT_LAM))
    if math.isfinite(rep.R_crit):
        extra["alpha_min"] = alpha_min(rep.P_min, s.act.G, d, lam, rep.lambda0)
        extra["lam"] = lam
    extra["events"] = [f"act={s.act.base or s.act.name}", f"n={s.X.shape[0]}", f"d={d}", f"witness={rep.witness.name}"]
    return Verdict(claim=f"{CLAIM.id}/audit", observed=rep.R_crit, bound=math.sqrt(d + 1.0), relation="<=",
                   tier=Tier.CERTIFIED, tolerance=0.0, tolerance_reason="report only (radii to a relative 1e-9)",
                   case=dict(case), premises=s.premises, extra=extra)


# ------------------------------------------------------------------------------- E9 sweep
def alpha_exponent(n_values: Sequence[int], *, d: int = 2, act: Optional[Mapping[str, Any]] = None,
                   seed: int = 0, lam: float = DEFAULT_LAM) -> Dict[str, Any]:
    """alpha_min(P_min) of (4.1) on generated data for each n, and its log-log slope in n (E9).

    The remark after Theorem 4.4 says alpha = Omega~(n^3 d); (4.1) has an extra R^{-1}, so at
    P = P_min the exponent is that of ``n / (Lambda R_crit)``.  Returns the per-n numbers and the
    least-squares slope of log alpha_min against log n.
    """
    act = dict(act or {"base": "tanh", "c": 1.0, "s": 1.0})
    rows = []
    for n in n_values:
        case = {"n": int(n), "d": d, "seed": seed, "labels": "continuous", "r_min": 0.5, "min_angle_deg": 15.0,
                "act": act, "lam": lam}
        v = check_audit(case)
        if v.status.value == "PREMISE_FAILED" or "alpha_min" not in v.extra:
            continue
        rows.append({"n": int(n), "Lambda": v.extra["Lambda"], "R_crit": v.extra["R_crit"],
                     "P_min": v.extra["P_min"], "alpha_min": v.extra["alpha_min"]})
    slope = math.nan
    if len(rows) >= 2:
        slope = float(np.polyfit(np.log([r["n"] for r in rows]), np.log([r["alpha_min"] for r in rows]), 1)[0])
    return {"rows": rows, "slope": slope, "d": d, "act": act, "seed": seed, "lam": lam}


# ------------------------------------------------------------------------------- strategies
def _hunt() -> bool:
    return budget().name == "hunt"


def _act_specs():
    # s >= 1 under ci: tanh's Gauss-Hermite error at K = 80 is ~1e-7 relative there, while
    # s = 0.5 already needs K ~ 300 (MATH 2.2); hunt widens to s >= 0.5 with K = 160.
    return activation_specs(c=(0.25, 4.0), s=(0.5 if _hunt() else 1.0, 4.0))


def _data(n=(2, 4), d=(1, 2)):
    return dataset_cases(n=(2, 6) if _hunt() else n, d=(1, 3) if _hunt() else d)


def stated_cases() -> st.SearchStrategy[Dict[str, Any]]:
    """Dataset + activation + ``P_factor`` log-uniform in :data:`P_FACTOR_RANGE`."""
    return st.builds(lambda data, a, f: {**data, "act": a, "P_factor": f}, _data(), _act_specs(),
                     log_uniform(*P_FACTOR_RANGE))


def probe_cases() -> st.SearchStrategy[Dict[str, Any]]:
    """Dataset + activation (n >= 2: delta_0 has lambda_min = 0 there)."""
    return st.builds(lambda data, a: {**data, "act": a}, _data(), _act_specs())


def audit_cases() -> st.SearchStrategy[Dict[str, Any]]:
    """Dataset + activation; under ``hunt`` also the free-form adversary (E)."""
    return st.builds(lambda data, a: {**data, "act": a, "free_form": _hunt(), "lam": DEFAULT_LAM},
                     _data(), _act_specs())


_SIGMOID_REF = {**REFERENCE, "act": {"base": "sigmoid", "c": 1.0, "s": 1.0}}
_PROBE_SHRUNK = {"n": 2, "d": 1, "seed": 0, "labels": "continuous", "r_min": 0.5, "min_angle_deg": 15.0,
                 "act": {"base": "tanh", "c": 1.0, "s": 1.0}}

register(Variant(
    claim=CLAIM, name="stated", expected=Expected.HOLDS, tier=Tier.CERTIFIED,
    description="min lambda_min(H(p)) over certified adversaries (A-C) with W2 <= R(P) vs Lambda/2, "
                "P = P_factor * P_min, P_factor in [1.001, 1e3]",
    strategy=stated_cases, check=check_stated, max_examples=15, time_budget_s=30.0,
    examples=({**REFERENCE, "P_factor": 1.001},)))

register(Variant(
    claim=CLAIM, name="probe", expected=Expected.COUNTEREXAMPLE, tier=Tier.CERTIFIED,
    description="E8: R = sqrt(d+1); delta_0 has W2 = sqrt(d+1) and lambda_min = 0 < Lambda/2 (n >= 2)",
    strategy=probe_cases, check=check_probe, max_examples=5, time_budget_s=15.0, examples=(_PROBE_SHRUNK,)))

register(Variant(
    claim=CLAIM, name="audit", expected=Expected.REPORT, tier=Tier.CERTIFIED,
    description="P_min = lambda0^2/R_crit against G, log(1/lambda0), n, d; radii per adversary; alpha_min(P_min)",
    strategy=audit_cases, check=check_audit, max_examples=8, time_budget_s=20.0,
    examples=(dict(REFERENCE), _SIGMOID_REF)))
