"""Run one claim variant under Hypothesis, inside or outside pytest (DESIGN 2, 5).

:func:`run_variant` searches a variant's strategy with ``target()`` on the normalised slack,
``event()`` labels and ``note(explain())``; it collects every verdict, keeps the tightest case and
the shrunk failing case, rejects PREMISE_FAILED cases, and decides the run against the variant's
declared :class:`~checks.registry.Expected` outcome.

Definitions frozen here:

* **case tried**: one call of ``variant.check`` during generation (database replay included,
  explicit examples counted apart as ``explicit``, shrinking and the final replay of the shrunk
  case excluded, rejections counted apart as ``rejected``).
* **time budget**: once a search has used ``time_budget_s`` without finding a counterexample, the
  remaining generated examples are skipped (counted as ``skipped``), so ``ci`` runs stay bounded.
  Once a counterexample is found, shrinking gets ``shrink_budget_s``; past it, any *other* case is
  answered as not failing (this only stops the shrinker early: the reported case is always one that
  was really checked and really violated).
* **database key**: ``b"gntk-checks:" + variant id``, so each claim keeps its own examples.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from hypothesis import HealthCheck, Phase, event, given, note, reject, settings, target
from hypothesis.errors import Unsatisfiable

from .profiles import budget
from .registry import Expected, Variant
from .verdict import Status, Verdict

__all__ = ["CounterexampleFound", "VariantResult", "run_variant", "check_case", "RESULTS"]

#: Results of every run in this process, in order (the pytest plugin and the CLI report them).
RESULTS: List["VariantResult"] = []
#: How many verdict summaries a result keeps for histograms and scatter plots.
MAX_KEPT = 5000


class CounterexampleFound(AssertionError):
    """Raised inside the search when a case is VIOLATED; Hypothesis shrinks on it."""

    def __init__(self, verdict: Verdict):
        super().__init__(verdict.explain())
        self.verdict = verdict


@dataclass
class VariantResult:
    """What one search of one variant saw (JSON-able through :meth:`to_dict`)."""

    variant_id: str
    claim_id: str
    paper_ref: str
    name: str
    expected: str
    tier: str
    outcome: str = "pass"             # "pass" | "fail" | "error"
    message: str = ""
    cases: int = 0
    explicit: int = 0
    rejected: int = 0
    skipped: int = 0
    shrink_calls: int = 0
    counts: Dict[str, int] = field(default_factory=lambda: {s.value: 0 for s in Status})
    tightest: Optional[Dict[str, Any]] = None
    counterexample: Optional[Dict[str, Any]] = None
    kept: List[Dict[str, Any]] = field(default_factory=list)
    elapsed_s: float = 0.0
    profile: str = ""
    max_examples: int = 0

    @property
    def min_slack(self) -> float:
        return math.nan if self.tightest is None else float(self.tightest["slack"])

    @property
    def min_slack_ratio(self) -> float:
        if self.tightest is None:
            return math.nan
        r = self.tightest["slack_ratio"]
        return math.inf if r == "inf" else float(r)

    def to_dict(self) -> Dict[str, Any]:
        from .verdict import _jsonable

        d = {k: getattr(self, k) for k in self.__dataclass_fields__}
        d["min_slack"] = self.min_slack
        d["min_slack_ratio"] = self.min_slack_ratio
        return _jsonable(d)

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> "VariantResult":
        keys = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in d.items() if k in keys})


class _Collector:
    """Accumulates verdicts of one search; knows which phase a call belongs to."""

    def __init__(self, result: VariantResult):
        self.result = result
        self.best: Optional[Verdict] = None
        self.found_at: Optional[float] = None
        self.violating: Dict[str, Verdict] = {}

    def add(self, v: Verdict, *, explicit: bool = False) -> None:
        r = self.result
        if explicit:
            r.explicit += 1
        elif self.found_at is None:
            r.cases += 1
        else:
            r.shrink_calls += 1
            return  # shrinking varies a known counterexample: not a case tried (module docstring)
        r.counts[v.status.value] += 1
        if v.status is Status.PREMISE_FAILED:
            r.rejected += 1
            return
        if v.status is not Status.INCONCLUSIVE and (self.best is None or
                                                     v.normalised_slack < self.best.normalised_slack):
            self.best = v
        if len(r.kept) < MAX_KEPT:
            r.kept.append({"status": v.status.value, "normalised_slack": v.normalised_slack,
                           "slack_ratio": v.slack_ratio, "extra": dict(v.extra)})


def check_case(variant: Variant, case: Dict[str, Any]) -> Verdict:
    """Run ``variant.check(case)`` and validate what it returns."""
    v = variant.check(case)
    if not isinstance(v, Verdict):
        raise TypeError(f"{variant.id}: check returned {type(v).__name__}, expected a Verdict")
    return v


def _case_key(case: Any) -> str:
    return json.dumps(case, sort_keys=True, default=str)


def _settings_for(variant: Variant, profile: str, max_examples: Optional[int], database) -> settings:
    b = budget(profile)
    n = max_examples or max(1, int(round(variant.max_examples * b.example_factor)))
    base = settings.get_profile(profile)
    # Phase.explain re-runs the shrunk case many times only to comment on which arguments matter;
    # the verdict already says what matters, and it tripled the time of each shrink.
    phases = tuple(p for p in base.phases if p is not Phase.explain)
    kwargs = dict(max_examples=n, deadline=None, report_multiple_bugs=False, phases=phases,
                  suppress_health_check=list(HealthCheck))
    if database is not None:
        kwargs["database"] = database
    return settings(base, **kwargs)


def run_variant(variant: Variant, *, profile: Optional[str] = None, max_examples: Optional[int] = None,
                database=None, time_budget_s: Optional[float] = None, shrink_budget_s: Optional[float] = None,
                record: bool = True) -> VariantResult:
    """Search one variant and judge it against its declared outcome (module docstring)."""
    from .profiles import active_profile, ensure_registered

    ensure_registered()
    profile = profile or settings._current_profile or active_profile()  # noqa: SLF001
    b = budget(profile)
    time_budget_s = variant.time_budget_s * b.time_factor if time_budget_s is None else time_budget_s
    shrink_budget_s = 0.5 * time_budget_s if shrink_budget_s is None else shrink_budget_s
    result = VariantResult(variant.id, variant.claim.id, variant.claim.paper_ref, variant.name,
                           variant.expected.value, variant.tier.value, profile=profile)
    col = _Collector(result)
    t0 = time.perf_counter()
    try:
        explicit_found = _run_explicit(variant, col)
        found = _search(variant, col, profile, max_examples, database, t0, time_budget_s, shrink_budget_s)
        found = found or explicit_found
        _judge(variant, result, found)
    except Exception as exc:  # an error in a check is a failed run, with the reason shown
        result.outcome, result.message = "error", f"{type(exc).__name__}: {exc}"
    result.elapsed_s = time.perf_counter() - t0
    result.tightest = None if col.best is None else col.best.to_dict()
    if record:
        RESULTS.append(result)
    return result


def _run_explicit(variant: Variant, col: _Collector) -> Optional[Verdict]:
    """Run the variant's explicit examples; return the first VIOLATED one."""
    found = None
    for case in variant.examples:
        v = check_case(variant, dict(case))
        col.add(v, explicit=True)
        if v.status is Status.VIOLATED and found is None:
            found = v
    return found


def _search(variant, col, profile, max_examples, database, t0, time_budget_s, shrink_budget_s):
    result = col.result
    s = _settings_for(variant, profile, max_examples, database)
    result.max_examples = s.max_examples

    @s
    @given(variant.strategy())
    def search(case):
        key = _case_key(case)
        now = time.perf_counter()
        if col.found_at is None and now - t0 > time_budget_s:
            result.skipped += 1
            return
        if col.found_at is not None and now - col.found_at > shrink_budget_s:
            if key in col.violating:
                raise CounterexampleFound(col.violating[key])
            return
        v = col.violating.get(key) or check_case(variant, case)
        if key not in col.violating:
            col.add(v)
        if v.status is Status.PREMISE_FAILED:
            reject()
        event(f"status={v.status.value}")
        for label in v.extra.get("events", ()):
            event(str(label))
        target(float(max(-2.0, min(2.0, v.target_score))), label=variant.id)
        note(v.explain())
        if v.status is Status.VIOLATED and variant.expected is not Expected.REPORT:
            col.violating[key] = v
            if col.found_at is None:
                col.found_at = time.perf_counter()
            raise CounterexampleFound(v)

    search._hypothesis_internal_database_key = b"gntk-checks:" + variant.id.encode()
    try:
        search()
    except CounterexampleFound as exc:
        return exc.verdict
    except Unsatisfiable as exc:
        result.message = f"search unsatisfiable: every case was rejected ({exc})"
    return None


def _judge(variant: Variant, result: VariantResult, found: Optional[Verdict]) -> None:
    exp = variant.expected
    if found is not None:
        result.counterexample = found.to_dict()
    if exp is Expected.HOLDS:
        if found is not None:
            result.outcome = "fail"
            result.message = "violation found: " + found.explain()
        elif result.cases + result.explicit - result.rejected <= 0:
            result.outcome = "fail"
            result.message = result.message or "no case inside the premises was checked"
        else:
            result.message = (f"no violation found in {result.cases} cases "
                              f"({result.rejected} outside premises, {result.skipped} skipped for time)")
    elif exp in (Expected.COUNTEREXAMPLE, Expected.KNOWN_FINDING):
        if found is None:
            result.outcome = "fail"
            what = "probe" if exp is Expected.COUNTEREXAMPLE else "known finding (strict)"
            result.message = f"{what} did not reproduce its counterexample in {result.cases} cases"
        else:
            result.message = "counterexample (shrunk): " + found.explain()
    else:  # REPORT
        result.message = f"audit: {result.cases} cases reported"
