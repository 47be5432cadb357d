"""The public helpers for users' own claims (checks/api.py): check_claim, parametrize_with_claims."""

import dataclasses

import pytest
from hypothesis import strategies as st

from checks import (ClaimCheckFailed, ClaimInconclusive, Claim, CounterexampleFound, Expected, Tier, Variant,
                    Verdict, check_claim, parametrize_with_claims, runner)

TOY = Claim("toy-api", "Toy API", "a <= limit")


def _variant(name, expected, limit, inconclusive=None):
    def check(case):
        return Verdict(claim=f"toy-api/{name}", observed=case["a"], bound=limit, case=dict(case),
                       inconclusive=inconclusive)

    return Variant(TOY, name, expected, Tier.EXACT, "toy", lambda: st.fixed_dictionaries({"a": st.integers(0, 5000)}),
                   check, max_examples=20)


@pytest.fixture(autouse=True)
def _own_results(monkeypatch):
    monkeypatch.setattr(runner, "RESULTS", [])


def test_check_claim_returns_the_result_when_the_declaration_is_met():
    r = check_claim(_variant("stated", Expected.HOLDS, 10 ** 4), profile="ci")
    assert r.outcome == "pass" and r.decided == 20 and runner.RESULTS == [r]
    probe = check_claim(_variant("probe", Expected.COUNTEREXAMPLE, 1000), profile="ci", record=False)
    assert probe.counterexample["case"] == {"a": 1001} and len(runner.RESULTS) == 1


def test_check_claim_raises_from_hypothesis_on_a_violation():
    with pytest.raises(ClaimCheckFailed, match="toy-api/false \\[holds\\]: fail: violation found") as info:
        check_claim(_variant("false", Expected.HOLDS, 1000), profile="ci")
    cause = info.value.__cause__
    assert isinstance(cause, CounterexampleFound) and cause.verdict.case == {"a": 1001}
    notes = "\n".join(getattr(cause, "__notes__", []))
    assert "claim_test(" in notes and "@reproduce_failure(" in notes   # Hypothesis's own report
    assert info.value.result.outcome == "fail"


def test_check_claim_inconclusive_and_its_allowance():
    v = _variant("undecided", Expected.HOLDS, 10 ** 4, inconclusive="on purpose")
    with pytest.raises(ClaimInconclusive, match="inconclusive: 0 decided verdict"):
        check_claim(v, profile="ci")
    assert check_claim(v, profile="ci", allow_inconclusive=True).outcome == "inconclusive"


def test_check_claim_accepts_registered_ids_and_rejects_other_kinds():
    r = check_claim("lemma_5_5-probe", profile="ci", record=False)   # the pytest form of the id
    assert r.variant_id == "lemma-5.5/probe" and r.outcome == "pass"
    with pytest.raises(TypeError, match="variant_or_id must be a Variant or a variant id, got int"):
        check_claim(3)
    with pytest.raises(ValueError, match="profile must be one of"):
        check_claim(_variant("stated", Expected.HOLDS, 10 ** 4), profile="fast")


def test_parametrize_with_claims_gives_ids_and_markers():
    a, b = _variant("stated", Expected.HOLDS, 10 ** 4), _variant("probe", Expected.COUNTEREXAMPLE, 10)
    mark = parametrize_with_claims([a, b])
    assert mark.name == "parametrize" and mark.args[0] == "variant"
    params = mark.args[1]
    assert [p.id for p in params] == ["toy_api-stated", "toy_api-probe"]
    assert [p.values[0] for p in params] == [a, b]
    assert [m.args for p in params for m in p.marks] == [("toy-api/stated",), ("toy-api/probe",)]


def test_a_claim_test_is_a_hypothesis_test():
    from hypothesis import is_hypothesis_test

    from checks import as_hypothesis_test

    test = as_hypothesis_test(dataclasses.replace(_variant("stated", Expected.HOLDS, 10 ** 4), max_examples=7),
                              profile="ci")
    assert is_hypothesis_test(test) and test.__name__ == "claim_test[toy_api-stated]"
    assert test.hypothesis.inner_test is not None
    test()
    test()   # a second call searches afresh: one result each
    assert [r.cases for r in runner.RESULTS] == [7, 7]
