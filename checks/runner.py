"""Run one claim variant as a real Hypothesis test, inside or outside pytest.

Semantics: docs/verdicts.md#expected-outcomes and docs/verdicts.md#profiles-and-budgets.

:func:`as_hypothesis_test` builds a ``@given`` test from a variant's strategy and check, with
``target()`` on the normalised slack, ``event()`` labels and ``note(explain())``; it raises on a
VIOLATED verdict (Hypothesis then shrinks it and prints "Falsifying example" and, under our profiles,
the ``@reproduce_failure`` blob), while a :class:`ClaimSearch` collects every verdict, keeps the
tightest case and the shrunk failing case, and judges the run against the variant's declared
:class:`~checks.registry.Expected` outcome.  :func:`run_variant` runs the same test and returns
the :class:`VariantResult` instead of raising.

Definitions frozen here:

* **case tried**: one call of ``variant.check`` during generation (database replay included,
  explicit examples counted apart as ``explicit``, shrinking and the final replay of the shrunk
  case excluded, rejections counted apart as ``rejected``).
* **decided**: a verdict HOLDS or VIOLATED.  A variant expected to hold needs ``min_decided`` of
  them; with fewer (and no violation) its outcome is ``inconclusive``, never ``pass``.
* **budgets**: under ``ci`` only counts: ``max_examples`` generated cases, and at most
  ``Variant.shrink_calls`` checks spent shrinking a counterexample (past it, any *other* case is
  answered as not failing, which only stops the shrinker early: the reported case is always one
  that was really checked and really violated).  Under the timed profiles (``dev``, ``hunt``,
  ``soak``) the generated search also stops after ``time_budget_s`` seconds (the rest is counted as
  ``skipped`` and the result says ``truncated after N cases``) and shrinking after
  ``shrink_budget_s``.
* **database key**: ``b"gntk-checks:" + variant id``, so each claim keeps its own examples.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional

from hypothesis import HealthCheck, Phase, event, given, note, reject, settings, target
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable

from .profiles import budget, ensure_registered, profile_name, using_profile
from .registry import Expected, Variant
from .verdict import Status, Verdict

__all__ = ["CounterexampleFound", "VariantResult", "ClaimSearch", "as_hypothesis_test", "run_variant",
           "one_blas_thread", "source_independent_draws", "check_case", "new_result", "RESULTS", "OUTCOMES"]

#: Results of every run in this process, in order (the pytest plugin and the CLI report them).
RESULTS: List["VariantResult"] = []
#: How many verdict summaries a result keeps for histograms and scatter plots.
MAX_KEPT = 5000
#: The outcomes of a run: met its declaration, did not, could not decide, crashed.
OUTCOMES = ("pass", "fail", "inconclusive", "error")


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
    outcome: str = "pass"             # one of OUTCOMES
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
    decided: int = 0                  # HOLDS + VIOLATED verdicts among the cases counted
    min_decided: int = 0              # what the variant needs (0 unless it is expected to hold)
    truncated: Optional[str] = None   # "truncated after N cases" when a seconds budget cut the search
    statement: str = ""
    description: str = ""
    erratum: Optional[str] = None
    mutant: bool = False
    sensitivity: Optional[Dict[str, Any]] = None

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


#: Largest magnitude a number in a case dict may have: a case is a handful of sizes and
#: hyperparameters, and squares of anything beyond this overflow float64 (the theory layer refuses
#: array entries above the same scale, theory._validation.MAX_ABS).
CASE_MAX_ABS = 1e150


class MissingCaseField(KeyError):
    """A check looked up a field its case lacks; ``args[0]`` is the field, as for any KeyError."""

    def __init__(self, variant_id: str, field: str, fields):
        super().__init__(field)
        self.message = f"{variant_id}: the case has no field {field!r} (fields: {fields})"

    def __str__(self) -> str:
        return self.message


def validate_case(variant_id: str, case: Any, path: str = "case") -> None:
    """Refuse a case that no check can compute, naming the field and its value.

    Numbers must be finite and at most :data:`CASE_MAX_ABS` in magnitude (booleans, strings and None
    are the check's business); containers are walked.  Raises :class:`theory.errors.NonFiniteError`,
    :class:`theory.errors.DomainError` or ``TypeError``.
    """
    import math as _m

    from theory.errors import DomainError, NonFiniteError

    if isinstance(case, dict):
        for k, v in case.items():
            validate_case(variant_id, v, f"{path}[{k!r}]")
    elif isinstance(case, (list, tuple)):
        for i, v in enumerate(case):
            validate_case(variant_id, v, f"{path}[{i}]")
    elif isinstance(case, bool) or case is None or isinstance(case, str):
        return
    elif isinstance(case, (int, float)):
        if isinstance(case, float) and not _m.isfinite(case):
            raise NonFiniteError(f"{variant_id}: {path} = {case!r} is not finite")
        if abs(case) > CASE_MAX_ABS:
            raise DomainError(f"{variant_id}: {path} = {case!r} exceeds {CASE_MAX_ABS:g} in magnitude")
    else:
        raise TypeError(f"{variant_id}: {path} = {case!r} has type {type(case).__name__}; a case holds "
                        "JSON values (numbers, strings, booleans, lists, dicts)")


def check_case(variant: Variant, case: Dict[str, Any]) -> Verdict:
    """Run ``variant.check(case)`` and validate what it returns.

    The case is validated first (:func:`validate_case`), and a check that looks up a field the case
    lacks raises a ``KeyError`` naming the variant and the field instead of a bare key.
    """
    if not isinstance(case, dict):
        raise TypeError(f"{variant.id}: a case is a dict, got {type(case).__name__}")
    validate_case(variant.id, case)
    try:
        v = variant.check(case)
    except KeyError as exc:
        if not (exc.args and isinstance(exc.args[0], str) and exc.args[0] not in case):
            raise
        raise MissingCaseField(variant.id, exc.args[0], sorted(case)) from exc
    if not isinstance(v, Verdict):
        raise TypeError(f"{variant.id}: check returned {type(v).__name__}, expected a Verdict")
    return v


def _case_key(case: Any) -> str:
    return json.dumps(case, sort_keys=True, default=str)


def new_result(variant: Variant, profile: str) -> VariantResult:
    """An empty result of ``variant`` with what the report shows about it (statement, description,
    erratum, whether it is a mutant, its sensitivity declaration); for merging several searches."""
    from .mutants import is_mutant_id, sensitivity_record

    r = VariantResult(variant.id, variant.claim.id, variant.claim.paper_ref, variant.name,
                         variant.expected.value, variant.tier.value, profile=profile,
                         statement=variant.claim.statement, description=variant.description,
                         erratum=variant.erratum, mutant=is_mutant_id(variant.id))
    r.sensitivity = sensitivity_record(variant)
    return r


class ClaimSearch:
    """The state of one search of one variant: budgets, collected verdicts, the per-case body.

    Parameters
    ----------
    variant : Variant
    profile : str or None
        A gntk-checks profile (``ci``, ``dev``, ``hunt``, ``soak``); None: :func:`checks.profiles.profile_name`.
    max_examples : int or None
        Overrides the profile's example count.
    database : ExampleDatabase or None
        Overrides the profile's database.
    time_budget_s, shrink_budget_s : float or None
        Seconds budgets, allowed only under a timed profile (None: the variant's, scaled).
    """

    def __init__(self, variant: Variant, profile: Optional[str] = None, max_examples: Optional[int] = None,
                 database=None, time_budget_s: Optional[float] = None, shrink_budget_s: Optional[float] = None):
        if not isinstance(variant, Variant):
            raise TypeError(f"variant must be a Variant, got {type(variant).__name__}")
        ensure_registered()
        self.variant = variant
        self.profile = profile_name(profile)
        b = budget(self.profile)
        if not b.timed and (time_budget_s is not None or shrink_budget_s is not None):
            raise ValueError(f"profile {self.profile!r} budgets are counts only, so that its verdicts do not "
                             f"depend on machine load; got time_budget_s={time_budget_s!r}, "
                             f"shrink_budget_s={shrink_budget_s!r} (use dev, hunt or soak)")
        if max_examples is not None and (isinstance(max_examples, bool) or int(max_examples) < 1):
            raise ValueError(f"max_examples must be a positive int, got {max_examples!r}")
        self.time_budget_s = (None if not b.timed else
                              variant.time_budget_s * b.time_factor if time_budget_s is None else time_budget_s)
        self.shrink_budget_s = (None if self.time_budget_s is None else
                                0.5 * self.time_budget_s if shrink_budget_s is None else shrink_budget_s)
        self.max_shrink_calls = max(1, int(round(variant.shrink_calls * b.example_factor)))
        self.max_examples = max_examples or max(1, int(round(variant.max_examples * b.example_factor)))
        self.database = database
        self.reset()

    def reset(self) -> None:
        """Start afresh (a claim test called twice searches twice, each with its own result)."""
        self.result = new_result(self.variant, self.profile)
        self.result.max_examples = self.max_examples
        self.col = _Collector(self.result)
        self.t0: Optional[float] = None

    def settings(self) -> settings:
        """The Hypothesis settings of the search: the profile's, with the run's example count."""
        base = settings.get_profile(self.profile)
        # Phase.explain re-runs the shrunk case many times only to comment on which arguments matter;
        # the verdict already says what matters, and it tripled the time of each shrink.
        phases = tuple(p for p in base.phases if p is not Phase.explain)
        kwargs = dict(max_examples=self.max_examples, deadline=None, report_multiple_bugs=False, phases=phases,
                      suppress_health_check=list(HealthCheck), verbosity=settings.default.verbosity)
        if self.database is not None:
            kwargs["database"] = self.database
        return settings(base, **kwargs)

    def _shrink_exhausted(self) -> bool:
        if self.result.shrink_calls >= self.max_shrink_calls:
            return True
        return self.shrink_budget_s is not None and time.perf_counter() - self.col.found_at > self.shrink_budget_s

    def check_one(self, case: Dict[str, Any]) -> None:
        """The body of the Hypothesis test: check one case, record it, raise if it is VIOLATED."""
        col, result, variant = self.col, self.result, self.variant
        key = _case_key(case)
        if (col.found_at is None and self.t0 is not None and self.time_budget_s is not None
                and time.perf_counter() - self.t0 > self.time_budget_s):
            result.skipped += 1
            return
        if col.found_at is not None and key not in col.violating and self._shrink_exhausted():
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

    def run_explicit(self) -> Optional[Verdict]:
        """Run the variant's explicit examples; return the first VIOLATED one."""
        found = None
        with using_profile(self.profile):     # some variants add examples under dev/hunt only
            examples = tuple(self.variant.examples)
        for case in examples:
            v = check_case(self.variant, dict(case))
            self.col.add(v, explicit=True)
            if v.status is Status.VIOLATED and found is None:
                found = v
        return found

    def finish(self, found: Optional[Verdict], error: Optional[BaseException] = None,
               record: bool = True) -> VariantResult:
        """Judge the run, fill in the tightest case and the elapsed time, record the result."""
        result = self.result
        if error is not None:
            result.outcome, result.message = "error", f"{type(error).__name__}: {error}"
        else:
            _judge(self.variant, result, found)
        result.elapsed_s = time.perf_counter() - (self.t0 or time.perf_counter())
        result.tightest = None if self.col.best is None else self.col.best.to_dict()
        if result.sensitivity is not None:
            # the eps columns are filled from checks.mutants.measure_sensitivity (gntk-check sensitivity)
            claimed = [float(k["extra"]["claim_ratio"]) for k in result.kept
                       if k["status"] in ("HOLDS", "VIOLATED") and "claim_ratio" in k.get("extra", {})]
            result.sensitivity["ratio_found"] = min(claimed) if claimed else result.min_slack_ratio
        if record:
            RESULTS.append(result)
        return result


def as_hypothesis_test(variant: Variant, *, profile: Optional[str] = None, max_examples: Optional[int] = None,
                       database=None, time_budget_s: Optional[float] = None,
                       shrink_budget_s: Optional[float] = None, record: bool = True) -> Callable[[], None]:
    """A real Hypothesis test of ``variant``: ``@given(case=variant.strategy())`` with the profile's settings.

    Calling it runs the variant's explicit examples, then the search; it raises the exception
    Hypothesis reports (a :class:`CounterexampleFound` carrying "Falsifying example" and the
    reproduce blob) when a case is VIOLATED (audits never raise on a violation), and an error of the
    check as itself.  Either way the run is judged against the declared outcome and its
    :class:`VariantResult` is kept in ``test.gntk_search.result`` (and appended to :data:`RESULTS`
    when ``record``).  ``test.hypothesis.fuzz_one_input`` drives the same per-case body, for fuzzers.
    """
    search = ClaimSearch(variant, profile, max_examples, database, time_budget_s, shrink_budget_s)

    try:
        with using_profile(search.profile):   # the strategy's sizes are the searched profile's
            strategy, strategy_error = variant.strategy(), None
    except Exception as exc:  # noqa: BLE001 - a strategy that fails to build is this run's error
        strategy, strategy_error = st.nothing(), exc

    @search.settings()
    @given(case=strategy)
    def claim_test(case):
        search.check_one(case)

    claim_test._hypothesis_internal_database_key = b"gntk-checks:" + variant.id.encode()

    @functools.wraps(claim_test)  # copies .hypothesis, is_hypothesis_test, the settings: a Hypothesis test
    def run_claim_test():
        with one_blas_thread(), source_independent_draws():
            _run_search()

    def _run_search():
        search.reset()
        search.t0 = time.perf_counter()
        found, raised = None, None
        try:
            if strategy_error is not None:
                raise strategy_error
            found = search.run_explicit()
            claim_test()
        except CounterexampleFound as exc:
            found, raised = exc.verdict, exc
        except Unsatisfiable as exc:
            search.result.message = f"search unsatisfiable: every case was rejected ({exc})"
        except Exception as exc:  # an error in a check: a run with outcome "error", raised as itself
            search.finish(None, error=exc, record=record)
            raise
        search.finish(found, record=record)
        if raised is not None:
            raise raised
        if found is not None and variant.expected is not Expected.REPORT:
            raise CounterexampleFound(found)   # found by an explicit example only

    run_claim_test.__name__ = run_claim_test.__qualname__ = f"claim_test[{variant.pytest_id}]"
    run_claim_test.gntk_search = search
    run_claim_test.gntk_variant = variant
    return run_claim_test


def one_blas_thread():
    """BLAS (OpenBLAS/MKL) limited to one thread for a claim search (docs/architecture.md#speed).

    Every BLAS call of a check is small (n <= 400 Grams, (256, d) x (d, n) blocks inside the compiled
    particle step), where a second thread only adds its fork-join; on a shared or oversubscribed machine
    (pytest-xdist workers, hunt workers, helpers) OpenBLAS's spinning threads cost far more: the exact Gram
    of a 3-point case took 0.6 ms with one thread against 40-70 ms with two on this 2-core machine under
    load (measured).  Parallelism lives one level up: numba's threads in the particle step, or processes.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:   # a declared dependency; an environment installed before it was added still runs
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


@contextlib.contextmanager
def source_independent_draws():
    """Claim searches draw without the constants Hypothesis mines from local source files.

    Recent Hypothesis versions collect the literals of every *local* module in ``sys.modules`` (not
    site-packages, not test files) and draw one of them with probability 5% per choice.  For a claim
    search that makes the cases depend on which modules the command happened to import (``verify``
    against ``pytest``, a user's ``--claims-module``), on whether the package was installed editable,
    and on any literal anyone adds to checks/ or theory/: a ``ci`` run would no longer give the same
    verdicts for the same claims (docs/verdicts.md#profiles-and-budgets).  Inside a search the pool of
    local constants is empty (Hypothesis's global constants stay); outside it is restored.  The hook is
    private to Hypothesis, so when it is absent nothing is patched (tests/test_ci_determinism.py notices).
    """
    try:
        from hypothesis.internal.conjecture import providers
        original, cache = providers._get_local_constants, providers.CONSTANTS_CACHE
        empty = type(providers._local_constants)()
    except (ImportError, AttributeError):   # a Hypothesis without the feature: nothing to switch off
        yield
        return
    cache.cache.clear()                       # the cache holds the permitted local constants per choice
    providers._get_local_constants = lambda: empty
    try:
        yield
    finally:
        providers._get_local_constants = original
        cache.cache.clear()


def run_variant(variant: Variant, *, profile: Optional[str] = None, max_examples: Optional[int] = None,
                database=None, time_budget_s: Optional[float] = None, shrink_budget_s: Optional[float] = None,
                record: bool = True) -> VariantResult:
    """Search one variant and judge it against its declared outcome; never raises for the claim's sake."""
    test = as_hypothesis_test(variant, profile=profile, max_examples=max_examples, database=database,
                              time_budget_s=time_budget_s, shrink_budget_s=shrink_budget_s, record=record)
    try:
        test()
    except Exception:  # noqa: BLE001 - judged and recorded by the test itself
        pass
    return test.gntk_search.result


def _decided(result: VariantResult) -> int:
    return int(result.counts.get(Status.HOLDS.value, 0)) + int(result.counts.get(Status.VIOLATED.value, 0))


def _judge(variant: Variant, result: VariantResult, found: Optional[Verdict]) -> None:
    exp = variant.expected
    result.max_examples = result.max_examples or variant.max_examples
    result.decided = _decided(result)
    result.min_decided = variant.min_decided if exp is Expected.HOLDS else 0
    result.truncated = f"truncated after {result.cases} cases" if result.skipped else None
    if found is not None:
        result.counterexample = found.to_dict()
    if exp is Expected.HOLDS:
        inside = result.cases + result.explicit - result.rejected
        if found is not None:
            result.outcome = "fail"
            result.message = "violation found: " + found.explain()
        elif inside <= 0:
            result.outcome = "fail"
            result.message = result.message or "no case inside the premises was checked"
        elif result.decided < variant.min_decided:
            result.outcome = "inconclusive"
            result.message = (f"{result.decided} decided verdict(s) in {inside} case(s) inside the premises, "
                              f"{variant.min_decided} needed ({variant.min_decided_reason})")
        else:
            result.outcome = "pass"
            result.message = (f"no violation found in {result.cases} cases "
                              f"({result.rejected} outside premises, {result.skipped} skipped for time)")
    elif exp in (Expected.COUNTEREXAMPLE, Expected.KNOWN_FINDING):
        if found is None:
            result.outcome = "fail"
            what = "probe" if exp is Expected.COUNTEREXAMPLE else "known finding (strict)"
            result.message = f"{what} did not reproduce its counterexample in {result.cases} cases"
        else:
            result.outcome = "pass"
            result.message = "counterexample (shrunk): " + found.explain()
    else:  # REPORT
        result.outcome = "pass"
        result.message = f"audit: {result.cases} cases reported"
