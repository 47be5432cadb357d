"""Shared machinery of Lemma 5.6 (checks.lemma_5_6) and Theorem 4.5 (checks.theorem_4_5): the finite-support
law D, samples as multiplicity vectors, the binomial (Clopper-Pearson) test of "with probability >= 1 - delta",
the exact sample complexity R_hat_S, and the strategy pieces both claims draw cases from (MATH 4.8, 4.9).

A sample S of size N from a finite support of k points is a multiplicity vector w ~ Multinomial(N, prob),
so every quantity costs O(k) in N: the 0-1 risk is exact on the support, the square loss is weighted by
w / N, and p* comes from the multiplicity-weighted dual of :mod:`theory.gibbs`.

"With probability >= 1 - delta" is a one-sided binomial test over R samples: it needs at least m failing
samples, m the least count with ``P(Bin(R, delta) >= m) <= ALPHA_CP`` (the false alarm of DESIGN's z = 5),
which is the same as the Clopper-Pearson lower bound on the failure frequency exceeding delta.  The verdict
shows the m-th worst sample (``observed`` its left side, ``bound`` its right side), so it is VIOLATED iff
the test rejects, and only after a confirmation on a fresh sample stream (estimated tier).  When R is too
small for any m the verdict is ``undecidable`` (a failure is then INCONCLUSIVE, never a violation).

Cases (JSON-able; rebuilt deterministically)
    support: ``k`` (2-4 points), ``d`` (1-2), ``seed`` (inputs of :func:`checks.strategies.build_dataset`
    with directions >= 30 degrees apart) or ``angles_deg`` (unit inputs in the plane); ``labels`` in
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
from .verdict import DEFAULT_Z, Tier, Verdict

__all__ = ["ALPHA_CP", "LABEL_KINDS", "Support", "build_support", "SAMPLE_STREAM", "CONFIRM_STREAM", "draw_samples",
           "reps_to_certify", "failures_needed", "clopper_pearson", "SampleOutcome", "binomial_verdict"]

#: One-sided false alarm of the binomial test: the normal tail at DESIGN's z = 5 (2.87e-7).
ALPHA_CP = float(norm.sf(DEFAULT_Z))
LABEL_KINDS = ("pm1", "halfspace", "inside", "const", "given")
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


def _inputs(case: Mapping[str, Any]) -> np.ndarray:
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
    """One sample S: ``lhs`` (errors of resolved sign), ``rhs``, ``tol`` (refinement error of rhs - lhs),
    ``lhs_upper`` (lhs plus the mass of unresolved signs) and report-only ``detail``."""

    lhs: float
    rhs: float
    tol: float
    lhs_upper: float
    detail: Dict[str, Any] = field(default_factory=dict)

    @property
    def excess(self) -> float:
        return self.lhs - self.rhs

    @property
    def fails(self) -> bool:
        return self.excess > self.tol

    @property
    def ambiguous(self) -> bool:
        return not self.fails and self.lhs_upper - self.rhs > self.tol


def binomial_verdict(claim: str, outcomes: Sequence[SampleOutcome], delta: float, case, premises,
                     extra: Mapping[str, Any], tier: Tier) -> Verdict:
    """The verdict of the probability statement over ``outcomes`` (module docstring: the m-th worst sample)."""
    R = len(outcomes)
    fails = sum(o.fails for o in outcomes)
    amb = sum(o.ambiguous for o in outcomes)
    m = failures_needed(R, delta)
    order = sorted(range(R), key=lambda i: outcomes[i].excess - outcomes[i].tol, reverse=True)
    chosen = outcomes[order[(m or 1) - 1]]
    undecidable = inconclusive = None
    if m is None:
        undecidable = (f"{R} samples cannot reject P(failure) <= delta = {delta:.4g} at false alarm "
                       f"{ALPHA_CP:.2g} (needs >= {reps_to_certify(delta)})")
    elif fails < m <= fails + amb:
        inconclusive = f"{amb} samples with unresolved signs of f could decide the binomial test"
    lo, hi = clopper_pearson(fails, R)
    ext = {**dict(extra), "samples": R, "failures": fails, "unresolved": amb, "failures_needed": m,
           "cp_lower": lo, "cp_upper": hi, "cp_upper_95": clopper_pearson(fails, R, 0.05)[1],
           "failure_frequency": fails / R, "chosen": chosen.detail}
    return Verdict(claim=claim, observed=chosen.lhs, bound=chosen.rhs, relation="<=", tier=tier, stderr=0.0,
                   tolerance=chosen.tol, tolerance_reason="K vs 2K refinement of the sides; the sampling error "
                   f"enters through the binomial test (m-th worst of R samples, false alarm {ALPHA_CP:.2g})",
                   case=dict(case), premises=dict(premises), inconclusive=inconclusive, undecidable=undecidable,
                   extra=ext)


def _would_violate(v: Verdict) -> bool:
    m = v.extra["failures_needed"]
    return m is not None and v.extra["failures"] >= m and not v.inconclusive


def _with_confirmation(v: Verdict, outcomes_fn, delta, case, premises, extra) -> Verdict:
    """Attach the re-run on the fresh sample stream when the first run would reject (estimated tier)."""
    if not _would_violate(v):
        return v
    conf = binomial_verdict(v.claim, outcomes_fn(CONFIRM_STREAM), delta, case, premises, extra, Tier.EXACT)
    return dataclasses.replace(v, confirmation=conf)


def _premise_failed(claim: str, case, premises, reason: str) -> Verdict:
    return Verdict(claim=claim, observed=0.0, bound=0.0, tier=Tier.EXACT, case=dict(case),
                   premises=dict(premises), premise_failed=reason)


# ------------------------------------------------------- quadrature and the exact complexity
def _coarse_K(X: np.ndarray) -> int:
    return COARSE_K[min(make_rule(X, 1).rank, 3)]


def _exact_complexity(X: np.ndarray, w: np.ndarray, act: Activation, alpha: float, M: float) -> Dict[str, Any]:
    """R_hat_S(F_KL(M)) on the sample itself (rows repeated by multiplicity) by DV + enumeration (MATH 4.7)."""
    N = int(w.sum())
    if N > EXACT_COMPLEXITY_MAX_N or not math.isfinite(M):
        return {"complexity_exact": None, "complexity_exact_note": f"not computed (N = {N} or M = {M:.3g})"}
    XS = np.repeat(X, w.astype(int), axis=0)
    try:
        if N == 1:  # E_sigma sup sigma f(x) = sup f(x) by the symmetry u -> -u of the ball (MATH 4.7)
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


def _with_reps(case: Dict[str, Any], extra: int) -> Dict[str, Any]:
    return {**case, "reps": reps_to_certify(case["delta"]) + extra}

