"""The runner on toy claims whose truth is known (checks/runner.py, docs/verdicts.md).

Toy claim ``toy-1``: the case ``{"a": int, "seed": int}``; the check says ``a <= limit`` (exact
tier).  Each declared outcome, premise rejection, the time budget, shrinking, explicit examples and
the per-variant database key are exercised with budgets of a few dozen examples under ``ci``.
"""

import dataclasses
import time

import pytest
from hypothesis import strategies as st
from hypothesis.database import InMemoryExampleDatabase

from checks import runner
from checks.registry import Claim, Expected, Variant
from checks.runner import run_variant
from checks.strategies import seeds
from checks.verdict import Status, Tier, Verdict

TOY = Claim("toy-1", "Toy 1", "a <= limit")


def cases(hi=1000, seed=True):
    """Cases ``{"a", "seed"}``; without the seed when a test shrinks (fewer calls to shrink)."""
    parts = {"a": st.integers(0, hi), "seed": seeds()} if seed else {"a": st.integers(0, hi)}
    return lambda: st.fixed_dictionaries(parts)


def le(limit, premise=None):
    def check(case):
        failed = premise(case) if premise else None
        return Verdict(claim="toy-1/x", observed=case["a"], bound=limit, case=dict(case), premise_failed=failed,
                       extra={"a": case["a"], "events": ["big" if case["a"] > limit else "small"]})
    return check


def toy(name, expected, check, strategy, **kw):
    kw.setdefault("max_examples", 30)
    if expected is Expected.KNOWN_FINDING:
        kw.setdefault("finding", "E0: toy finding")
    return Variant(TOY, name, expected, Tier.EXACT, "toy", strategy, check, **kw)


@pytest.fixture(autouse=True)
def _own_results(monkeypatch):
    """Runs here must not leak into the session's claim table."""
    monkeypatch.setattr(runner, "RESULTS", [])


def test_holds_variant_passes_and_counts_cases():
    r = run_variant(toy("stated", Expected.HOLDS, le(2000), cases()), profile="ci")
    assert r.outcome == "pass", r.message
    assert r.cases == 30 and r.explicit == 0 and r.counts[Status.HOLDS.value] == 30
    assert r.counts[Status.VIOLATED.value] == 0 and r.counterexample is None
    assert "no violation found in 30 cases" in r.message
    assert len(r.kept) == 30 and r.max_examples == 30 and r.profile == "ci"
    # The tightest case is the one with the largest a (smallest slack 2000 - a).
    assert r.tightest["slack"] == 2000 - max(k["extra"]["a"] for k in r.kept)
    assert r.min_slack == r.tightest["slack"] and r.min_slack_ratio == pytest.approx(2000 / (2000 - r.min_slack))
    assert runner.RESULTS == [r]


def test_holds_variant_with_a_violation_fails():
    r = run_variant(toy("stated", Expected.HOLDS, le(100), cases(seed=False)), profile="ci", record=False)
    assert r.outcome == "fail" and r.message.startswith("violation found: ")
    assert r.counterexample["status"] == "VIOLATED"
    assert runner.RESULTS == []   # record=False


def test_probe_finds_and_shrinks_to_the_minimal_case():
    r = run_variant(toy("probe", Expected.COUNTEREXAMPLE, le(100), cases(10 ** 6)), profile="ci")
    assert r.outcome == "pass", r.message
    # Shrinking acts on the integers: the minimal violating a is limit + 1, the seed shrinks to 0.
    assert r.counterexample["case"] == {"a": 101, "seed": 0}
    # Status counts cover the cases tried (runner docstring: shrinking excluded), like ``cases``.
    assert sum(r.counts.values()) == r.cases + r.explicit, (r.counts, r.cases, r.shrink_calls)
    assert r.message.startswith("counterexample (shrunk): ")
    assert r.shrink_calls > 0


def test_shrinking_a_two_parameter_case():
    def check(case):
        return Verdict(claim="toy-1/x", observed=case["a"] + case["b"], bound=1000, case=dict(case))

    strat = lambda: st.fixed_dictionaries({"a": st.integers(0, 10 ** 4), "b": st.integers(0, 10 ** 4)})  # noqa: E731
    # Two coupled integers take more shrink steps than the default count; a toy check costs microseconds.
    r = run_variant(toy("probe", Expected.COUNTEREXAMPLE, check, strat, max_shrink_calls=300), profile="ci")
    case = r.counterexample["case"]
    assert case["a"] + case["b"] == 1001 and min(case["a"], case["b"]) == 0, case


def test_probe_that_finds_nothing_fails():
    r = run_variant(toy("probe", Expected.COUNTEREXAMPLE, le(2000), cases()), profile="ci")
    assert r.outcome == "fail" and "probe did not reproduce its counterexample in 30 cases" in r.message


@pytest.mark.parametrize("limit, outcome", [(100, "pass"), (2000, "fail")])
def test_known_finding_is_strict(limit, outcome):
    r = run_variant(toy("stated", Expected.KNOWN_FINDING, le(limit), cases(seed=False)), profile="ci")
    assert r.outcome == outcome, r.message
    if outcome == "fail":
        assert "known finding (strict)" in r.message


def test_report_variant_never_fails_on_violations():
    r = run_variant(toy("audit", Expected.REPORT, le(500), cases()), profile="ci")
    assert r.outcome == "pass" and r.message == "audit: 30 cases reported"
    assert r.counts["VIOLATED"] > 0 and r.counts["HOLDS"] > 0 and r.counterexample is None
    assert r.cases == 30   # the search went on after the first violation
    assert r.tightest["status"] == "VIOLATED"


def test_premise_failures_are_rejected_not_passed():
    odd = lambda case: "a is odd" if case["a"] % 2 else None  # noqa: E731
    r = run_variant(toy("stated", Expected.HOLDS, le(2000, odd), cases()), profile="ci")
    assert r.outcome == "pass"
    assert r.rejected == r.counts["PREMISE_FAILED"] > 0
    assert len(r.kept) == r.cases - r.rejected   # rejected cases feed neither plots nor the tightest
    assert r.tightest["case"]["a"] % 2 == 0


def test_every_case_outside_the_premises_fails_the_run():
    r = run_variant(toy("stated", Expected.HOLDS, le(2000, lambda c: "never inside"), cases()), profile="ci")
    assert r.outcome == "fail" and r.counts["HOLDS"] == 0
    assert "unsatisfiable" in r.message or "no case inside the premises" in r.message


def test_time_budget_skips_the_rest_under_a_timed_profile():
    def slow(case):
        time.sleep(0.02)
        return le(2000)(case)

    t0 = time.perf_counter()
    r = run_variant(toy("stated", Expected.HOLDS, slow, cases(), max_examples=200), profile="dev",
                    max_examples=200, database=InMemoryExampleDatabase(), time_budget_s=0.2)
    assert r.outcome == "pass"
    assert r.skipped > 0 and r.cases < 200 and r.cases + r.skipped >= 150
    assert r.truncated == f"truncated after {r.cases} cases"
    assert time.perf_counter() - t0 < 3.0   # 200 * 0.02 s = 4 s without the budget


def test_ci_budgets_are_counts_only():
    """Under ci no seconds budget applies (a slow check runs every example) and none may be asked for."""
    def slow(case):
        time.sleep(0.002)
        return le(2000)(case)

    v = toy("stated", Expected.HOLDS, slow, cases(), max_examples=40, time_budget_s=0.01)
    r = run_variant(v, profile="ci")
    assert r.cases == 40 and r.skipped == 0 and r.truncated is None
    for kw in (dict(time_budget_s=5.0), dict(shrink_budget_s=1.0)):
        with pytest.raises(ValueError, match="'ci' budgets are counts only"):
            run_variant(v, profile="ci", **kw)


def test_shrinking_under_ci_is_bounded_by_a_count():
    calls = []

    def counted(case):
        calls.append(case)
        return le(100)(case)

    v = toy("probe", Expected.COUNTEREXAMPLE, counted, cases(10 ** 6), max_shrink_calls=3)
    r = run_variant(v, profile="ci")
    assert r.outcome == "pass" and r.shrink_calls == 3
    assert len(calls) == r.cases + r.shrink_calls   # no check past the budget: cached or answered
    assert r.counterexample["case"]["a"] > 100      # really checked, really violated, maybe not minimal


def test_holds_variant_with_only_inconclusive_verdicts_is_inconclusive():
    def undecided(case):
        return dataclasses.replace(le(2000)(case), inconclusive="quadrature outside its domain")

    r = run_variant(toy("stated", Expected.HOLDS, undecided, cases()), profile="ci")
    assert r.outcome == "inconclusive", r.message
    assert r.decided == 0 and r.min_decided == 1 and r.counts["INCONCLUSIVE"] == 30
    assert "0 decided verdict(s) in 30 case(s) inside the premises, 1 needed" in r.message


def test_min_decided_is_declared_with_its_reason():
    half = lambda case: dataclasses.replace(le(2000)(case), inconclusive="odd" if case["a"] % 2 else None)  # noqa: E731
    reason = "two thirds of the cases must be decided for the search to cover the premise set"
    v = toy("stated", Expected.HOLDS, half, cases(), min_decided=20, min_decided_reason=reason)
    r = run_variant(v, profile="ci")
    assert r.decided == r.counts["HOLDS"] and r.min_decided == 20
    assert (r.outcome == "pass") == (r.decided >= 20), (r.outcome, r.decided)
    if r.outcome == "inconclusive":
        assert reason in r.message
    assert run_variant(dataclasses.replace(v, min_decided=r.decided), profile="ci").outcome == "pass"
    assert run_variant(dataclasses.replace(v, min_decided=r.decided + 1), profile="ci").outcome == "inconclusive"
    with pytest.raises(ValueError, match="can never be reached"):
        toy("stated", Expected.HOLDS, half, cases(), min_decided=31)
    with pytest.raises(ValueError, match="needs min_decided_reason"):
        toy("stated", Expected.HOLDS, half, cases(), min_decided_reason="")


def test_result_carries_what_the_report_shows():
    claim = Claim("toy-2", "Toy 2", "a <= limit, as printed")
    v = Variant(claim, "stated", Expected.KNOWN_FINDING, Tier.EXACT, "the printed bound", cases(seed=False),
                le(100), max_examples=30, finding="E99: the bound is off by one")
    r = run_variant(v, profile="ci")
    d = r.to_dict()
    assert (d["statement"], d["description"], d["erratum"], d["mutant"]) == (
        "a <= limit, as printed", "the printed bound", "E99", False)
    assert d["sensitivity"] is None and d["truncated"] is None and d["min_decided"] == 0


def test_explicit_examples_run_first_and_count_apart():
    r = run_variant(toy("stated", Expected.HOLDS, le(2000), cases(), examples=({"a": 2500, "seed": 1},)),
                    profile="ci")
    assert r.outcome == "fail" and r.explicit == 1
    assert r.counterexample["case"] == {"a": 2500, "seed": 1}
    r2 = run_variant(toy("probe", Expected.COUNTEREXAMPLE, le(2000), cases(), examples=({"a": 2500, "seed": 1},)),
                     profile="ci")
    assert r2.outcome == "pass" and r2.explicit == 1 and r2.cases == 30


def test_errors_in_a_check_are_reported():
    def broken(case):
        raise ZeroDivisionError("boom")

    one = lambda: st.just({"a": 1})  # noqa: E731  (nothing to shrink: an error is shrunk like a failure)
    r = run_variant(toy("stated", Expected.HOLDS, broken, one), profile="ci")
    assert r.outcome == "error" and r.message == "ZeroDivisionError: boom"
    r = run_variant(toy("stated", Expected.HOLDS, lambda case: True, one), profile="ci")
    assert r.outcome == "error" and "check returned bool, expected a Verdict" in r.message

    def bad_strategy():
        raise ValueError("n must be >= 1, got 0")

    r = run_variant(toy("stated", Expected.HOLDS, le(1), bad_strategy), profile="ci")
    assert r.outcome == "error" and r.message == "ValueError: n must be >= 1, got 0"


def test_each_variant_has_its_own_database_key():
    db = InMemoryExampleDatabase()
    a = toy("probe", Expected.COUNTEREXAMPLE, le(100), cases(seed=False))
    b = toy("probe-2", Expected.COUNTEREXAMPLE, le(200), cases(seed=False))
    first = run_variant(a, profile="dev", database=db)
    run_variant(b, profile="dev", database=db)
    keys = set(db.data)
    assert b"gntk-checks:toy-1/probe" in keys and b"gntk-checks:toy-1/probe-2" in keys
    assert all(k.startswith(b"gntk-checks:toy-1/") for k in keys), keys
    again = run_variant(a, profile="dev", database=db)   # the saved counterexample replays first
    assert again.counterexample["case"] == first.counterexample["case"] == {"a": 101}
    assert again.cases == 1
