"""Verdicts: the honest core of gntk-checks (docs/verdicts.md).

A :class:`Verdict` stores what was observed and against what; its ``slack`` and ``status`` are
derived, never stored.  Definitions frozen here, before any claim is written:

Slack (positive = the claim holds with room)
    ``relation "<="`` (observed <= bound):  slack = bound - observed
    ``relation ">="`` (observed >= bound):  slack = observed - bound
    slack_ratio = bound/observed for "<=", observed/bound for ">=", defined when both sides are
    > 0 (ratio > 1 holds).  When a side is zero or negative the ratio is +inf if the claim holds
    strictly (e.g. observed <= 0 < bound), 0.0 if it fails strictly, and 1.0 if both sides are
    equal; it is never NaN.
    normalised slack = slack / max(|observed|, |bound|, tiny) in [-2, 2]: the scale-free number the
    search climbs on.  ``target()`` receives ``-normalised slack`` (Hypothesis maximises targets, we
    want the tightest case).

Status
    PREMISE_FAILED  ``premise_failed`` is set (valid input outside the claim's premises).
    INCONCLUSIVE    ``inconclusive`` is set (e.g. quadrature outside its validity domain), or the
                    evidence cannot decide (below).
    VIOLATED / HOLDS are decided from **brackets** (docs/verdicts.md, "Brackets"):
      every verdict carries an interval [observed_lower, observed_upper] that contains the true
      left-hand side and an interval [bound_lower, bound_upper] that contains the true right-hand
      side (by default both collapse to the point values ``observed`` and ``bound``).  For a "<="
      claim, with ``margin = tolerance + z*stderr`` (stderr only for the estimated tier):
        HOLDS     iff observed_upper + margin <= bound_lower   (an upper bound of the left side
                      below a lower bound of the right side),
        VIOLATED  iff observed_lower - margin >  bound_upper   (the reverse), and for the estimated
                      tier only after a confirmation run (fresh seed, 4m, dt/2) shows the same,
        INCONCLUSIVE otherwise.
      ">=" is the mirror image.  So an exact value within its refinement error of the bound is
      INCONCLUSIVE (equality cannot be told from a violation by that evidence), and a certified
      one-sided bound decides only the side it bounds: a lower bound of the left side of a "<="
      claim can prove a violation and never a HOLDS.
      Tiers: ``proved`` (rigorous ball-arithmetic enclosures, tolerance 0), ``exact`` (closed form or
      converged quadrature, tolerance = measured refinement error), ``certified`` (rigorous one-sided
      bounds computed at exact accuracy; at least one bracket must be given explicitly),
      ``estimated`` (Monte Carlo / particles, ``stderr`` > 0 allowed).
    ``undecidable`` turns a would-be VIOLATED into INCONCLUSIVE (e.g. Theorem 4.4 at a P not known
    to be admissible).
"""

from __future__ import annotations

import enum
import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, Mapping, Optional

__all__ = ["Status", "Tier", "Verdict", "DEFAULT_Z", "TINY"]

#: Standard errors an estimated excess must exceed before it can count as a violation (docs/verdicts.md).
DEFAULT_Z = 5.0
#: Floor of the normalising scale, so that two zero sides give a normalised slack of 0, not NaN.
TINY = 1e-300


class Status(str, enum.Enum):
    HOLDS = "HOLDS"
    VIOLATED = "VIOLATED"
    INCONCLUSIVE = "INCONCLUSIVE"
    PREMISE_FAILED = "PREMISE_FAILED"


class Tier(str, enum.Enum):
    PROVED = "proved"
    EXACT = "exact"
    CERTIFIED = "certified"
    ESTIMATED = "estimated"


def _finite_or_inf(name: str, value: float) -> float:
    out = float(value)
    if math.isnan(out):
        raise ValueError(f"Verdict.{name} must not be NaN, got {value!r}")
    return out


@dataclass(frozen=True)
class Verdict:
    """The outcome of checking one claim on one case (docs/verdicts.md).

    Parameters
    ----------
    claim : str
        Variant id, e.g. ``"lemma-5.4/stated"``.
    observed, bound : float
        Left-hand side and right-hand side of the claim.
    relation : {"<=", ">="}
        The claimed relation ``observed <relation> bound``.
    tier : Tier
        Evidence tier of the weaker side.
    stderr : float
        Standard error of ``observed - bound`` (0 for exact and certified tiers).
    tolerance, tolerance_reason : float, str
        Numerical tolerance on the excess, and where it comes from.
    case : dict
        JSON-able parameters that replay the case (sizes, hyperparameters, seed).
    premises : dict
        Premise name -> whether it holds (only informative; ``premise_failed`` decides).
    premise_failed, inconclusive, undecidable : str or None
        Reasons that override the numeric rule (see the module docstring).
    observed_lower, observed_upper, bound_lower, bound_upper : float or None
        Brackets: an interval known to contain the true left-hand side, and one for the right-hand
        side (module docstring).  ``None`` means the point value (``observed`` or ``bound``); use
        ``-inf``/``inf`` for a side that is not bounded in that direction.
    confirmation : Verdict or None
        For the estimated tier: the re-run with a fresh seed at larger width / smaller step.
    z : float
        Standard errors required for an estimated violation.
    extra : dict
        Report-only numbers (audits, P_min, ratios ...).
    """

    claim: str
    observed: float
    bound: float
    relation: str = "<="
    tier: Tier = Tier.EXACT
    stderr: float = 0.0
    tolerance: float = 0.0
    tolerance_reason: str = ""
    case: Mapping[str, Any] = field(default_factory=dict)
    premises: Mapping[str, bool] = field(default_factory=dict)
    premise_failed: Optional[str] = None
    inconclusive: Optional[str] = None
    undecidable: Optional[str] = None
    observed_lower: Optional[float] = None
    observed_upper: Optional[float] = None
    bound_lower: Optional[float] = None
    bound_upper: Optional[float] = None
    confirmation: Optional["Verdict"] = None
    z: float = DEFAULT_Z
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        if self.relation not in ("<=", ">="):
            raise ValueError(f"relation must be '<=' or '>=', got {self.relation!r}")
        object.__setattr__(self, "tier", Tier(self.tier))
        for name in ("observed", "bound"):
            object.__setattr__(self, name, _finite_or_inf(name, getattr(self, name)))
        for name in ("stderr", "tolerance", "z"):
            val = float(getattr(self, name))
            if not (val >= 0.0) or math.isinf(val):
                raise ValueError(f"Verdict.{name} must be finite and >= 0, got {getattr(self, name)!r}")
            object.__setattr__(self, name, val)
        self._check_brackets()

    def _check_brackets(self) -> None:
        explicit = False
        for side, point in (("observed", self.observed), ("bound", self.bound)):
            lo_name, hi_name = f"{side}_lower", f"{side}_upper"
            lo, hi = getattr(self, lo_name), getattr(self, hi_name)
            explicit = explicit or lo is not None or hi is not None
            lo = point if lo is None else _finite_or_inf(lo_name, lo)
            hi = point if hi is None else _finite_or_inf(hi_name, hi)
            # A bracket must contain its point value: otherwise the point value reported as the
            # left or right side would not be one the evidence allows.
            if not (lo <= point <= hi):
                raise ValueError(f"Verdict.{side} = {point!r} lies outside its bracket "
                                 f"[{lo!r}, {hi!r}] ({self.claim})")
            object.__setattr__(self, lo_name, lo)
            object.__setattr__(self, hi_name, hi)
        if self.tier is Tier.CERTIFIED and not explicit:
            raise ValueError(f"{self.claim}: a certified verdict must say which side its numbers bound "
                             "(give observed_lower/observed_upper or bound_lower/bound_upper)")
        if self.tier is Tier.PROVED and (self.stderr or self.tolerance):
            raise ValueError(f"{self.claim}: a proved verdict is decided by its enclosures alone "
                             f"(stderr={self.stderr!r}, tolerance={self.tolerance!r} must be 0)")

    # -- derived quantities -------------------------------------------------------------------
    @property
    def slack(self) -> float:
        """bound - observed for '<=', observed - bound for '>=' (positive: holds with room)."""
        if math.isinf(self.observed) and math.isinf(self.bound) and self.observed == self.bound:
            return 0.0
        return self.bound - self.observed if self.relation == "<=" else self.observed - self.bound

    @property
    def slack_ratio(self) -> float:
        """bound/observed ('<=') or observed/bound ('>='); > 1 holds; conventions of the module doc."""
        big, small = (self.bound, self.observed) if self.relation == "<=" else (self.observed, self.bound)
        if big > 0 and small > 0 and not (math.isinf(big) and math.isinf(small)):
            return big / small
        s = self.slack
        return math.inf if s > 0 else (0.0 if s < 0 else 1.0)

    @property
    def claim_ratio(self) -> float:
        """The ratio of the claim's own inequality (> 1 holds): ``slack_ratio``, unless the check reports
        another in ``extra["claim_ratio"]``.  Probability claims need it: their verdict compares a
        failure frequency with delta, while the claim's ratio is that of the inequality inside the
        probability at its delta-quantile (docs/verdicts.md#power-and-sensitivity)."""
        r = self.extra.get("claim_ratio") if isinstance(self.extra, Mapping) else None
        return self.slack_ratio if r is None else float(r)

    @property
    def normalised_slack(self) -> float:
        """slack / max(|observed|, |bound|): scale-free, in [-2, 2]; the search's objective."""
        scale = max(abs(self.observed), abs(self.bound), TINY)
        if math.isinf(scale):
            s = self.slack
            return 0.0 if s == 0 else math.copysign(1.0, s)
        return self.slack / scale

    @property
    def target_score(self) -> float:
        """What the runner passes to ``hypothesis.target``: larger = closer to a violation."""
        return -self.normalised_slack

    @property
    def excess(self) -> float:
        return -self.slack

    @property
    def margin(self) -> float:
        """What the brackets must clear: tolerance, plus z standard errors for the estimated tier."""
        return self.tolerance + (self.z * self.stderr if self.tier is Tier.ESTIMATED else 0.0)

    @property
    def holds_gap(self) -> float:
        """How far the brackets are from deciding HOLDS (<= 0: HOLDS); the right side of each bracket."""
        if self.relation == "<=":
            return _gap(self.observed_upper, self.bound_lower) + self.margin
        return _gap(self.bound_upper, self.observed_lower) + self.margin

    @property
    def violation_gap(self) -> float:
        """How far the brackets are beyond a violation (> 0: the evidence shows a violation)."""
        if self.relation == "<=":
            return _gap(self.observed_lower, self.bound_upper) - self.margin
        return _gap(self.bound_lower, self.observed_upper) - self.margin

    def _numeric_status(self) -> Status:
        if self.holds_gap <= 0.0:
            return Status.HOLDS
        if self.violation_gap <= 0.0:
            return Status.INCONCLUSIVE
        if self.tier is not Tier.ESTIMATED:
            return Status.VIOLATED
        if self.confirmation is None or not self.confirmation._confirms():
            return Status.INCONCLUSIVE
        return Status.VIOLATED

    def _confirms(self) -> bool:
        """Whether this verdict, as the fresh-seed re-run of another, confirms its violation.

        An estimated re-run confirms when its own excess is beyond tolerance + z * its stderr; it
        needs no confirmation of its own (that would be an infinite regress).
        """
        if self.premise_failed or self.inconclusive:
            return False
        if self.tier is Tier.ESTIMATED:
            return self.violation_gap > 0.0
        return self.status is Status.VIOLATED

    @property
    def status(self) -> Status:
        if self.premise_failed:
            return Status.PREMISE_FAILED
        if self.inconclusive:
            return Status.INCONCLUSIVE
        st = self._numeric_status()
        if st is Status.VIOLATED and self.undecidable:
            return Status.INCONCLUSIVE
        return st

    @property
    def reason(self) -> str:
        """Why the status is what it is, in a few words."""
        st = self.status
        if st is Status.PREMISE_FAILED:
            return self.premise_failed or ""
        if self.inconclusive:
            return self.inconclusive
        if st is Status.INCONCLUSIVE and self.undecidable and self._numeric_status() is Status.VIOLATED:
            return self.undecidable
        if st is Status.INCONCLUSIVE:
            if self.violation_gap <= 0.0:
                if self.tier is Tier.ESTIMATED and self.stderr > 0:
                    return f"brackets overlap within tolerance + {self.z:g} standard errors"
                return "brackets overlap within the tolerance: the evidence decides neither side"
            return "excess beyond z*se but not confirmed by a fresh-seed re-run"
        return ""

    # -- presentation -------------------------------------------------------------------------
    def explain(self) -> str:
        """One line a person can read and paste (docs/verdicts.md)."""
        se = f" se={self.stderr:.3g} z={self.z:g}" if self.tier is Tier.ESTIMATED else ""
        why = f" ({self.reason})" if self.reason else ""
        br = ""
        if (self.observed_lower, self.observed_upper) != (self.observed, self.observed):
            br += f" lhs in [{self.observed_lower:.6g}, {self.observed_upper:.6g}]"
        if (self.bound_lower, self.bound_upper) != (self.bound, self.bound):
            br += f" rhs in [{self.bound_lower:.6g}, {self.bound_upper:.6g}]"
        case = json.dumps(_jsonable(dict(self.case)), sort_keys=True, separators=(",", ":"))
        return (f"{self.claim}: {self.status.value}{why} observed={self.observed:.6g} {self.relation} "
                f"bound={self.bound:.6g}{br} slack={self.slack:.4g} ratio={self.slack_ratio:.4g} "
                f"tier={self.tier.value}{se} tol={self.tolerance:.3g} [{self.tolerance_reason}] case={case}")

    def to_dict(self) -> Dict[str, Any]:
        """JSON-able dict with the stored fields and the derived slack/status."""
        d = asdict(self) if self.confirmation is None else {**asdict(self), "confirmation": None}
        d["tier"] = self.tier.value
        d["confirmation"] = None if self.confirmation is None else self.confirmation.to_dict()
        d.update(status=self.status.value, reason=self.reason, slack=self.slack,
                 slack_ratio=self.slack_ratio, normalised_slack=self.normalised_slack)
        return _jsonable(d)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Verdict":
        """Inverse of :meth:`to_dict` (derived fields are ignored and recomputed)."""
        keys = {f for f in cls.__dataclass_fields__}
        kwargs = {k: v for k, v in d.items() if k in keys}
        if kwargs.get("confirmation") is not None:
            kwargs["confirmation"] = cls.from_dict(kwargs["confirmation"])
        for k in ("observed", "bound"):
            kwargs[k] = float(kwargs[k])
        for k in ("observed_lower", "observed_upper", "bound_lower", "bound_upper"):
            if kwargs.get(k) is not None:
                kwargs[k] = float(kwargs[k])
        return cls(**kwargs)


def _gap(a: float, b: float) -> float:
    """a - b with inf - inf = 0 (two unbounded sides decide nothing either way)."""
    if math.isinf(a) and math.isinf(b) and a == b:
        return 0.0
    return a - b


def _jsonable(obj):
    """Recursively turn numpy scalars/arrays and infinities into JSON-safe Python values."""
    import numpy as np

    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, (np.floating, float)):
        f = float(obj)
        if math.isinf(f):
            return "inf" if f > 0 else "-inf"
        return None if math.isnan(f) else f
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.bool_,)):
        return bool(obj)
    if isinstance(obj, enum.Enum):
        return obj.value
    return obj
