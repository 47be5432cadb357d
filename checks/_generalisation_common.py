"""Shared machinery of Lemma 5.6 (checks.lemma_5_6) and Theorem 4.5 (checks.theorem_4_5): the finite-support
law D, samples as multiplicity vectors, the binomial (Clopper-Pearson) test of "with probability >= 1 - delta",
the exact sample complexity R_hat_S, and the strategy pieces both claims draw cases from (docs/claims.md#lemma-56, 4.9).

A sample S of size N from a finite support of k points is a multiplicity vector w ~ Multinomial(N, prob),
so every quantity costs O(k) in N: the 0-1 risk is exact on the support, the square loss is weighted by
w / N, and p* comes from the multiplicity-weighted dual of :mod:`theory.gibbs`.

"With probability >= 1 - delta" is decided from the failure frequency F/R over R samples by one-sided
Clopper-Pearson bounds (docs/verdicts.md): HOLDS when the upper bound at confidence 1 - ALPHA_HOLDS (99.9%),
with every unresolved sample counted as a failure, is <= delta; VIOLATED when the lower bound at confidence
1 - ALPHA_CP (the z = 5 normal tail) is > delta, confirmed on a fresh sample stream; INCONCLUSIVE otherwise.
A sample fails when a lower bound of its left side exceeds an upper bound of its right side, and is safe when
an upper bound of its left side is below a lower bound of its right side.  ``reps_to_decide(delta)`` samples
make both decisions reachable (0 failures give HOLDS, R give VIOLATED).

Cases (JSON-able; rebuilt deterministically)
    support: ``k`` (2-4 points), ``d`` (1-2), ``seed`` (inputs of :func:`checks.strategies.build_dataset`
    with directions >= 30 degrees apart) or ``angles_deg`` (unit inputs in the plane), or ``k`` points on two
    arcs (``width_deg``, ``gap_deg``, labels ``arcs``: +1 on one arc, -1 on the other); ``labels`` in
    ``LABEL_KINDS`` (``pm1`` random signs, ``halfspace`` sign(v.x), ``inside`` y_scale * U(-1, 1),
    ``const`` y_scale, ``given`` with a list ``y``); ``prob`` ``"uniform"`` or ``"random"`` (Dirichlet(2));
    ``act`` ``{"base", "c", "s"}``.  Each claim module adds its own keys.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

import numpy as np
from hypothesis import strategies as st
from scipy.stats import beta as beta_dist, binom, norm

from theory.activations import Activation
from theory.errors import DomainError, GntkError
from theory.gibbs import make_rule
from theory.rademacher import kl_ball_sup, rademacher

from .profiles import budget
from .strategies import build_activation, build_dataset, log_uniform, seeds
from .verdict import DEFAULT_Z, Status, Tier, Verdict

__all__ = ["ALPHA_CP", "ALPHA_HOLDS", "reps_to_hold", "reps_to_decide", "LABEL_KINDS", "Support", "build_support",
           "SAMPLE_STREAM", "CONFIRM_STREAM", "draw_samples",
           "reps_to_certify", "failures_needed", "clopper_pearson", "SampleOutcome", "binomial_verdict"]

#: One-sided false alarm of a VIOLATED decision: the normal tail at the estimated tier's z = 5 (2.87e-7).
ALPHA_CP = float(norm.sf(DEFAULT_Z))
#: One-sided level of a HOLDS decision (confidence 99.9%): a HOLDS is a statistical statement about the
#: failure probability, and at z = 5 it would need ~15/delta samples of an expensive p* each; 1e-3 needs
#: ~6.9/delta, which a ci case affords for delta >= 0.05.
ALPHA_HOLDS = 1e-3
LABEL_KINDS = ("pm1", "halfspace", "inside", "const", "given", "arcs")
#: Inputs at least this far from parallel: keeps H2(p0) well conditioned, so c = H2^+ y stays moderate.
MIN_ANGLE_DEG = 30.0
#: Coarse nodes per dimension of the witness and p* rules by rank (fine = 2K); 40^2 nodes keep a ci
#: case well under a second, and the K vs 2K refinement decides what is resolved.
COARSE_K = {0: 1, 1: 80, 2: 40, 3: 16}
#: A sign of f counts only when |f| exceeds its refinement error by this absolute margin (rounding of f).
SIGN_FLOOR = 1e-12
#: Relative rounding of sums of a few O(1) terms (the right-hand sides).
RHS_RTOL = 1e-12
#: Exact R_hat_S by 2^(N-1) sign vectors only for samples this small (< ~0.2 s each).
EXACT_COMPLEXITY_MAX_N = 6


# ------------------------------------------------------------------------------------ support
@dataclass(frozen=True, eq=False)
class Support:
    """The law D: points X (k, d), labels y (k,), probabilities prob (k,), activation act."""

    X: np.ndarray
    y: np.ndarray
    prob: np.ndarray
    act: Activation
    labels: str


def _arc_angles(case: Mapping[str, Any]) -> Tuple[np.ndarray, np.ndarray]:
    """Angles (k,) and labels (k,) of the ``arcs`` support: k points uniform on two arcs of the unit circle of
    width ``width_deg``, centred ``gap_deg`` apart (labels +1 on the first, -1 on the second; each arc gets
    at least one point), from ``default_rng([seed, 2])``."""
    k, width, gap = int(case["k"]), float(case["width_deg"]), float(case["gap_deg"])
    if not (k >= 2 and 0.0 < width and width + 1e-9 < gap <= 180.0):
        raise DomainError(f"arcs need k >= 2 and 0 < width_deg < gap_deg <= 180, got k={case['k']!r}, "
                          f"width_deg={case['width_deg']!r}, gap_deg={case['gap_deg']!r}")
    rng = np.random.default_rng([int(case.get("seed", 0)), 2])
    side = rng.permutation(np.arange(k) % 2)  # balanced: both arcs are represented
    centre = rng.uniform(0.0, 360.0)
    ang = centre + side * gap + rng.uniform(-0.5 * width, 0.5 * width, size=k)
    return ang, np.where(side == 0, 1.0, -1.0)


def _inputs(case: Mapping[str, Any]) -> np.ndarray:
    if "width_deg" in case:
        a = np.radians(_arc_angles(case)[0])
        return np.stack([np.cos(a), np.sin(a)], axis=1)
    if "angles_deg" in case:
        a = np.radians(np.asarray(case["angles_deg"], dtype=np.float64))
        return np.stack([np.cos(a), np.sin(a)], axis=1)
    X, _ = build_dataset({"n": int(case["k"]), "d": int(case["d"]), "seed": int(case["seed"]),
                          "labels": "pm1", "r_min": 0.5, "min_angle_deg": MIN_ANGLE_DEG})
    return X


def _labels(case: Mapping[str, Any], X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    kind, k = case.get("labels", "pm1"), X.shape[0]
    if kind not in LABEL_KINDS:
        raise DomainError(f"case['labels'] must be one of {LABEL_KINDS}, got {kind!r}")
    if kind == "arcs":
        if "width_deg" not in case:
            raise DomainError("case['labels'] = 'arcs' needs the arcs support (width_deg, gap_deg)")
        return _arc_angles(case)[1]
    if kind == "given":
        y = np.asarray(case["y"], dtype=np.float64)
        if y.shape != (k,) or np.any(np.abs(y) > 1.0):
            raise DomainError(f"case['y'] must hold {k} labels in [-1, 1], got {case['y']!r}")
        return y
    if kind == "pm1":
        return rng.choice([-1.0, 1.0], size=k)
    if kind == "halfspace":
        return np.where(X @ rng.standard_normal(X.shape[1]) >= 0.0, 1.0, -1.0)
    scale = float(case["y_scale"])
    if not 0.0 < scale <= 1.0:
        raise DomainError(f"case['y_scale'] must lie in (0, 1], got {case['y_scale']!r}")
    return scale * (rng.uniform(-1.0, 1.0, size=k) if kind == "inside" else np.ones(k))


def build_support(case: Mapping[str, Any]) -> Support:
    """The finite-support law D of a case (module docstring); labels and prob use ``default_rng([seed, 1])``."""
    X = _inputs(case)
    rng = np.random.default_rng([int(case.get("seed", 0)), 1])
    y = _labels(case, X, rng)
    kind = case.get("prob", "uniform")
    if kind not in ("uniform", "random"):
        raise DomainError(f"case['prob'] must be 'uniform' or 'random', got {kind!r}")
    k = X.shape[0]
    prob = np.full(k, 1.0 / k) if kind == "uniform" else rng.dirichlet(np.full(k, 2.0))
    return Support(X=X, y=y, prob=prob, act=build_activation(case["act"]), labels=str(case.get("labels", "pm1")))


#: Streams of ``default_rng([seed, stream])``: the samples of a verdict, and those of its confirmation.
SAMPLE_STREAM, CONFIRM_STREAM = 7, 8


def draw_samples(prob: np.ndarray, N: int, reps: int, seed: int, stream: int) -> np.ndarray:
    """Multiplicity vectors (reps, k) of reps samples of size N, from ``default_rng([seed, stream])``."""
    rng = np.random.default_rng([int(seed), int(stream)])
    return rng.multinomial(int(N), prob, size=int(reps)).astype(np.float64)


def _confidence_term(N: float, delta: float) -> float:
    return 6.0 * math.sqrt(math.log(2.0 / delta) / (2.0 * N))


# ---------------------------------------------------------------------- the probability part
def reps_to_certify(delta: float, alpha: float = ALPHA_CP) -> int:
    """Fewest samples R for which R failures out of R reject ``P(failure) <= delta`` (delta^R <= alpha)."""
    return max(1, math.ceil(math.log(alpha) / math.log(delta) - 1e-12))


def reps_to_hold(delta: float, alpha: float = ALPHA_HOLDS) -> int:
    """Fewest samples R for which 0 failures out of R give a CP upper bound <= delta: (1 - delta)^R <= alpha."""
    return max(1, math.ceil(math.log(alpha) / math.log1p(-delta) - 1e-12))


def reps_to_decide(delta: float) -> int:
    """Fewest samples with which both decisions are reachable (all failing -> VIOLATED, none -> HOLDS)."""
    return max(reps_to_certify(delta), reps_to_hold(delta))


def failures_needed(reps: int, delta: float, alpha: float = ALPHA_CP) -> Optional[int]:
    """Least m with ``P(Bin(reps, delta) >= m) <= alpha`` (None when even m = reps is not enough)."""
    m = np.arange(1, int(reps) + 1)
    ok = np.nonzero(binom.sf(m - 1, int(reps), delta) <= alpha)[0]
    return int(m[ok[0]]) if ok.size else None


def clopper_pearson(k: int, n: int, alpha: float = ALPHA_CP) -> Tuple[float, float]:
    """One-sided Clopper-Pearson bounds (each at level 1 - alpha) on a binomial proportion k/n."""
    lo = float(beta_dist.ppf(alpha, k, n - k + 1)) if k > 0 else 0.0
    hi = float(beta_dist.ppf(1.0 - alpha, k + 1, n - k)) if k < n else 1.0
    return lo, hi


@dataclass(frozen=True)
class SampleOutcome:
    """One sample S, as brackets of its two sides.

    ``lhs`` a lower bound of the left side (a feasible witness, or the errors of resolved sign), ``rhs`` an
    upper bound of the right side; ``lhs_upper`` an upper bound of the left side, ``rhs_lower`` (default
    ``rhs``) a lower bound of the right side; ``tol`` the refinement error of the difference; ``detail``
    report-only.  The sample fails when ``lhs - rhs > tol`` and is safe when ``lhs_upper - rhs_lower <=
    -tol`` (with ``<=`` at zero: the claim allows equality); anything else is unresolved.
    """

    lhs: float
    rhs: float
    tol: float
    lhs_upper: float
    detail: Dict[str, Any] = field(default_factory=dict)
    rhs_lower: Optional[float] = None
    #: the factor by which the claim's bound must shrink to fail on this sample, when it is not rhs/lhs
    #: (Lemma 5.6 compares differences: the bound is sqrt-loss + 4R + confidence of the best witness)
    edge: Optional[float] = None

    @property
    def rhs_low(self) -> float:
        return self.rhs if self.rhs_lower is None else self.rhs_lower

    @property
    def excess(self) -> float:
        return self.lhs - self.rhs

    @property
    def fails(self) -> bool:
        return self.excess > self.tol

    @property
    def safe(self) -> bool:
        return self.lhs_upper - self.rhs_low <= -self.tol

    @property
    def ambiguous(self) -> bool:
        return not self.fails and not self.safe

    @property
    def ratio(self) -> float:
        """``edge``, else rhs / lhs (inf when lhs <= 0): the factor by which the bound must shrink to fail here."""
        if self.edge is not None:
            return self.edge
        return self.rhs / self.lhs if self.lhs > 0.0 else math.inf


def _edge_ratios(outcomes: Sequence[SampleOutcome], delta: float, m: Optional[int]) -> Dict[str, float]:
    """How far the right side is from the delta-quantile of the left: per-sample ratios rhs/lhs, sorted.

    ``ratio_quantile`` is the (floor(delta R) + 1)-th smallest (the right side divided by more than it
    fails on more than a delta fraction of these samples); ``ratio_detectable`` the m-th smallest, m the
    failures the test needs (dividing by more makes this run's test reject, up to the tolerance).
    """
    r = np.sort(np.array([o.ratio for o in outcomes], dtype=np.float64))
    q = r[min(int(math.floor(delta * r.size)), r.size - 1)]
    return {"ratio_min": float(r[0]), "ratio_quantile": float(q), "claim_ratio": float(q),
            "ratio_detectable": float(r[m - 1]) if m is not None else math.inf}


def binomial_verdict(claim: str, outcomes: Sequence[SampleOutcome], delta: float, case, premises,
                     extra: Mapping[str, Any], tier: Tier,
                     unresolved_reason: str = "the brackets of their sides overlap") -> Verdict:
    """The verdict of "with probability >= 1 - delta" over R samples, by one-sided Clopper-Pearson bounds.

    observed = failure frequency F/R; its bracket: the CP lower bound of F failures at confidence
    1 - ALPHA_CP (decides VIOLATED: > delta, then confirmed on a fresh stream in the estimated tier) and
    the CP upper bound of F + U failures (U unresolved samples counted as failing) at confidence
    1 - ALPHA_HOLDS (decides HOLDS: <= delta); bound = delta.  Between the two: INCONCLUSIVE.
    """
    R = len(outcomes)
    if R < 1:
        raise DomainError(f"binomial_verdict needs at least one sample, got {R}")
    fails = sum(o.fails for o in outcomes)
    amb = sum(o.ambiguous for o in outcomes)
    m = failures_needed(R, delta)
    lo = clopper_pearson(fails, R, ALPHA_CP)[0]
    hi = clopper_pearson(fails + amb, R, ALPHA_HOLDS)[1]
    worst = max(outcomes, key=lambda o: o.excess - o.tol)
    ext = {**dict(extra), "samples": R, "failures": fails, "unresolved": amb, "failures_needed": m,
           "cp_lower": lo, "cp_upper": hi, "confidence_violated": 1.0 - ALPHA_CP, "confidence_holds": 1.0 - ALPHA_HOLDS,
           "failure_frequency": fails / R, "reps_to_decide": reps_to_decide(delta),
           "worst": {"lhs": worst.lhs, "rhs": worst.rhs, "lhs_upper": worst.lhs_upper, "rhs_lower": worst.rhs_low,
                     "tol": worst.tol, **worst.detail}, **_edge_ratios(outcomes, delta, m)}
    v = Verdict(claim=claim, observed=fails / R, bound=delta, relation="<=", tier=tier, stderr=0.0,
                tolerance=0.0, observed_lower=lo, observed_upper=hi,
                tolerance_reason=f"failure frequency over {R} samples: Clopper-Pearson upper bound at confidence "
                f"{1.0 - ALPHA_HOLDS:.4g} (unresolved samples counted as failures) decides HOLDS, lower bound at "
                f"{1.0 - ALPHA_CP:.7g} (z = {DEFAULT_Z:g}) decides VIOLATED; a sample's sides are brackets",
                case=dict(case), premises=dict(premises), extra=ext)
    if amb and v.status is Status.INCONCLUSIVE:  # say why: the unresolved samples keep the upper bound up
        v = dataclasses.replace(v, inconclusive=f"{amb} of {R} samples unresolved ({unresolved_reason}); counted as "
                                f"failures they put the CP upper bound at {hi:.3g} > delta = {delta:.3g}")
    return v


def _would_violate(v: Verdict) -> bool:
    return v.violation_gap > 0.0 and not v.inconclusive and not v.premise_failed


def _with_confirmation(v: Verdict, outcomes_fn, delta, case, premises, extra, **kwargs) -> Verdict:
    """Attach the re-run on the fresh sample stream when the first run would reject (estimated tier)."""
    if not _would_violate(v):
        return v
    conf = binomial_verdict(v.claim, outcomes_fn(CONFIRM_STREAM), delta, case, premises, extra, Tier.ESTIMATED,
                            **kwargs)
    return dataclasses.replace(v, confirmation=conf)


def _premise_failed(claim: str, case, premises, reason: str) -> Verdict:
    return Verdict(claim=claim, observed=0.0, bound=0.0, tier=Tier.EXACT, case=dict(case),
                   premises=dict(premises), premise_failed=reason)


# ------------------------------------------------------- quadrature and the exact complexity
def _coarse_K(X: np.ndarray) -> int:
    return COARSE_K[min(make_rule(X, 1).rank, 3)]


def _exact_complexity(X: np.ndarray, w: np.ndarray, act: Activation, alpha: float, M: float) -> Dict[str, Any]:
    """R_hat_S(F_KL(M)) on the sample itself (rows repeated by multiplicity) by DV + enumeration (docs/claims.md#lemma-55)."""
    N = int(w.sum())
    if N > EXACT_COMPLEXITY_MAX_N or not math.isfinite(M):
        return {"complexity_exact": None, "complexity_exact_note": f"not computed (N = {N} or M = {M:.3g})"}
    XS = np.repeat(X, w.astype(int), axis=0)
    try:
        if N == 1:  # E_sigma sup sigma f(x) = sup f(x) by the symmetry u -> -u of the ball (docs/claims.md#lemma-55)
            r = kl_ball_sup(XS, np.ones(1), act, alpha, M)
            return {"complexity_exact": r.value, "complexity_exact_converged": r.converged,
                    "complexity_exact_error": r.quad_error}
        r = rademacher(XS, act, alpha, M, method="enumerate")
    except GntkError as exc:
        return {"complexity_exact": None, "complexity_exact_note": f"failed: {exc}"}
    return {"complexity_exact": r.value, "complexity_exact_converged": r.converged,
            "complexity_exact_error": r.quad_error}


# ---------------------------------------------------------------------------------- strategies
def _hunt() -> bool:
    return budget().name == "hunt"


def _acts(c: Tuple[float, float], s: Tuple[float, float]) -> st.SearchStrategy[Dict[str, Any]]:
    return st.builds(lambda b, cc, ss: {"base": b, "c": cc, "s": ss}, st.sampled_from(["tanh", "sigmoid", "erf"]),
                     log_uniform(*c), log_uniform(*s))


def _support(labels: Sequence[str], k=(2, 4), d=(1, 2)) -> st.SearchStrategy[Dict[str, Any]]:
    return st.fixed_dictionaries({"k": st.integers(*k), "d": st.integers(*d), "seed": seeds(),
                                  "labels": st.sampled_from(list(labels)),
                                  "prob": st.sampled_from(["uniform", "random"])})


#: Range of delta the strategies draw: below 0.05 a HOLDS needs more than ~140 samples (reps_to_hold).
DELTA_RANGE = (0.05, 0.5)


def _with_reps(case: Dict[str, Any], extra: int) -> Dict[str, Any]:
    return {**case, "reps": reps_to_decide(case["delta"]) + extra}

