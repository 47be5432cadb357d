"""Shared pieces of the proved tier: the :class:`Proof` record and proved verdicts from enclosures.

A proved verdict has tolerance 0 and stderr 0 and is decided by its brackets alone: for "<=", HOLDS iff
upper(LHS) <= lower(RHS), VIOLATED iff lower(LHS) > upper(RHS) (docs/verdicts.md).  The enclosures come from
theory.enclosures (python-flint, imported lazily).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from theory import enclosures as E
from theory.errors import DomainError

from .verdict import Status, Tier, Verdict

__all__ = ["Proof", "proved_verdict", "enc", "wants", "printed_bound", "act_of", "gauss_mean"]


@dataclass
class Proof:
    """The outcome of one proof: its verdicts (with the status each must have), enclosures and timing."""

    id: str
    verdicts: List[Tuple[Verdict, Any]]   # (verdict, the status it must have, or a tuple of allowed ones)
    enclosures: Dict[str, Tuple[float, float]]
    note: str = ""
    seconds: float = 0.0
    #: named yes/no facts the proof must establish besides its verdicts (e.g. a closed form inside its enclosure)
    checks: Dict[str, bool] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return (all(v.status in (want if isinstance(want, tuple) else (want,)) for v, want in self.verdicts)
                and all(self.checks.values()))

    def to_dict(self) -> Dict[str, Any]:
        return {"id": self.id, "ok": self.ok, "seconds": self.seconds, "note": self.note, "checks": dict(self.checks),
                "enclosures": {k: {"lower": _num(lo), "upper": _num(hi), "width": _num(hi - lo)} for k, (lo, hi) in
                               self.enclosures.items()},
                "verdicts": [dict(v.to_dict(), expected=wants(want)) for v, want in self.verdicts]}


def _num(x: float):
    """A float for JSON: infinities as the strings "inf"/"-inf" (as Verdict.to_dict writes them)."""
    return ("inf" if x > 0 else "-inf") if math.isinf(x) else x


def wants(want) -> str:
    return "|".join(w.value for w in (want if isinstance(want, tuple) else (want,)))


def _point(lo: float, hi: float) -> float:
    """A float inside [lo, hi] to report as the point value (the midpoint, or the finite end)."""
    if math.isfinite(lo) and math.isfinite(hi):
        return min(max(0.5 * (lo + hi), lo), hi)
    return lo if math.isfinite(lo) else hi


def proved_verdict(claim: str, lhs: Tuple[float, float], rhs: Tuple[float, float], relation: str = "<=",
                   case: Optional[Mapping[str, Any]] = None, extra: Optional[Mapping[str, Any]] = None) -> Verdict:
    """A :class:`Verdict` of tier ``proved`` from float brackets ``lhs = (lower, upper)`` and ``rhs``.

    The brackets must come from :func:`theory.enclosures.bounds` (outward-rounded), or be -inf/inf for a
    side that is not bounded in that direction.
    """
    for name, (lo, hi) in (("lhs", lhs), ("rhs", rhs)):
        if math.isnan(lo) or math.isnan(hi) or lo > hi:
            raise DomainError(f"{name} must be a bracket (lower <= upper), got {(lo, hi)!r}")
    return Verdict(claim=claim, observed=_point(*lhs), bound=_point(*rhs), relation=relation, tier=Tier.PROVED,
                   tolerance_reason="rigorous enclosures (ball arithmetic): decided by the brackets alone",
                   case=dict(case or {}), observed_lower=lhs[0], observed_upper=lhs[1], bound_lower=rhs[0],
                   bound_upper=rhs[1], extra=dict(extra or {}))


def enc(**balls) -> Dict[str, Tuple[float, float]]:
    return {k: E.bounds(v) for k, v in balls.items()}


def printed_bound(n: int, G1: float, alpha: float, M: float):
    fl = E.require_flint()
    return 2 * fl.arb(G1) * alpha * (fl.arb(M) / n).sqrt()


def act_of(case: Mapping[str, Any]):
    a = case["act"]
    return E.arb_activation(a["base"], float(a.get("c", 1.0)), float(a.get("s", 1.0)))


def gauss_mean(f: Callable, scale: float = 1.0, sup: float = 1.0):
    """Enclosed ``E f(Z)`` for a bounded ``|f| <= sup`` (window [-L, L], L = 12 + the argument's scale)."""
    L = 12.0 * max(1.0, scale)
    return E.gauss_expect(f, L, E.gauss_tail(L) * sup).real


