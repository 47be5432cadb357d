"""Mutants (checks/mutants.py): every falsified variant must be caught by the search under ``ci``.

The meta-test runs each mutant discovered in the claim modules; a mutant that survives means the
check (or its strategy) has no power against that kind of error.  Mutant runs are recorded, so the
session's table reports the kill rate per claim.  The machinery itself is tested on a toy claim.
"""

import dataclasses
import importlib.machinery
import math
import sys
import types

import pytest
from hypothesis import strategies as st

from checks import mutants, registry, runner
from checks.mutants import (Mutant, discover, get_mutant_variant, is_mutant_id, kill_rates, make_mutant,
                            module_mutants, mutate, register_mutant)
from checks.registry import Claim, Expected, Variant, pytest_id
from checks.runner import run_variant
from checks.verdict import Tier, Verdict

DISCOVERED = discover()


@pytest.mark.parametrize("mutant", [pytest.param(m, id=pytest_id(m.id)) for m in DISCOVERED])
def test_mutant_is_killed(mutant):
    result = run_variant(mutant.make_variant(), profile="ci")
    assert result.outcome == "pass" and result.counterexample is not None, (
        f"mutant {mutant.id} survived the ci search ({mutant.description}): {result.message}")


def test_every_claim_has_a_mutant():
    """Each claim with a variant expected to hold has at least one falsified variant (the issue's rule)."""
    have = {m.claim_id for m in DISCOVERED}
    need = {v.claim.id for v in registry.variants() if v.expected is Expected.HOLDS}
    assert not need - have, f"claims without a mutant (define MUTANTS or mutant_check_*): {sorted(need - have)}"


# -- the machinery, on a toy claim ------------------------------------------------------------------
TOY = Claim("toy-7", "Toy 7", "a <= 1000")


def _le(limit, name="toy-7/stated"):
    def check(case):
        return Verdict(claim=name, observed=case["a"], bound=limit, case=dict(case))
    return check


def _toy_module(name="toy_claims_7", mutants_list=None, extra=None):
    mod = types.ModuleType(name)
    mod.__spec__ = importlib.machinery.ModuleSpec(name, None)
    mod.CLAIM = TOY
    mod.check_stated = _le(1000)

    def mutant_check_dropped_premise(case):
        """a <= 10: as if the premise a <= 100 were dropped from the strategy."""
        return _le(10)(case)

    def mutant_check_useless(case):
        """Identical to the real check: no search can kill it."""
        return _le(1000)(case)

    mod.mutant_check_dropped_premise = mutant_check_dropped_premise
    mod.mutant_check_useless = mutant_check_useless
    mod.MUTANTS = ([("tighter-constant", "stated", _le(50), "bound 50 instead of 1000")]
                   if mutants_list is None else mutants_list)
    for k, v in (extra or {}).items():
        setattr(mod, k, v)
    return mod


@pytest.fixture
def toy_world(monkeypatch):
    """A registry holding only the toy claim, and a claim-module list holding only its module."""
    monkeypatch.setattr(registry, "_REGISTRY", {})
    monkeypatch.setattr(mutants, "_EXTRA", {})
    monkeypatch.setattr(runner, "RESULTS", [])
    strat = lambda: st.fixed_dictionaries({"a": st.integers(0, 100)})  # noqa: E731
    base = registry.register(Variant(TOY, "stated", Expected.HOLDS, Tier.EXACT, "toy", strat, _le(1000),
                                     max_examples=30, examples=({"a": 99},)))
    registry.register(Variant(TOY, "audit", Expected.REPORT, Tier.EXACT, "toy", strat, _le(1000)))
    mod = _toy_module()
    monkeypatch.setitem(sys.modules, mod.__name__, mod)
    monkeypatch.setattr(registry, "CLAIM_MODULES", (mod.__name__,))
    return base, mod


def test_discovery_from_mutants_lists_and_functions(toy_world):
    base, _ = toy_world
    found = {m.id: m for m in discover()}
    assert sorted(found) == ["toy-7/mutant-dropped-premise", "toy-7/mutant-tighter-constant",
                             "toy-7/mutant-useless"]
    assert found["toy-7/mutant-dropped-premise"].description == "a <= 10: as if the premise a <= 100 were dropped from the strategy."
    assert found["toy-7/mutant-tighter-constant"].description == "bound 50 instead of 1000"
    assert all(m.base_id == base.id and is_mutant_id(m.id) for m in found.values())
    assert not is_mutant_id(base.id)


def test_mutant_variant_is_a_falsified_copy(toy_world):
    base, _ = toy_world
    v = get_mutant_variant("toy-7/mutant-tighter-constant")
    assert v.id == "toy-7/mutant-tighter-constant" and v.claim is base.claim
    assert v.expected is Expected.COUNTEREXAMPLE and v.examples == () and v.finding is None
    assert v.strategy is base.strategy and v.max_examples == base.max_examples and v.tier is base.tier
    verdict = v.check({"a": 60})
    assert verdict.claim == v.id and verdict.status.value == "VIOLATED"   # relabelled to the mutant
    with pytest.raises(KeyError, match="unknown mutant id"):
        get_mutant_variant("toy-7/mutant-nope")


def test_search_kills_real_mutants_and_reports_survivors(toy_world):
    results = [run_variant(m.make_variant(), profile="ci", record=False) for m in discover()]
    by_name = {r.name: r for r in results}
    assert by_name["mutant-tighter-constant"].counterexample["case"] == {"a": 51}   # shrunk
    assert by_name["mutant-dropped-premise"].counterexample["case"] == {"a": 11}
    assert by_name["mutant-useless"].outcome == "fail"
    rates = kill_rates(results)
    assert list(rates) == ["toy-7"]
    k = rates["toy-7"]
    assert (k.killed, k.total, k.survivors) == (2, 3, ("mutant-useless",)) and k.rate == pytest.approx(2 / 3)
    assert kill_rates([r.to_dict() for r in results])["toy-7"] == k   # dicts from a JSON report too


def test_kill_rates_ignore_real_variants_and_count_errors_as_survivors():
    rows = [{"variant_id": "c/stated", "claim_id": "c", "name": "stated", "outcome": "fail"},
            {"variant_id": "c/mutant-x", "claim_id": "c", "name": "mutant-x", "outcome": "error"}]
    assert kill_rates(rows)["c"].to_dict() == {"killed": 0, "total": 1, "rate": 0.0, "survivors": ["mutant-x"]}


def test_function_base_attribute_and_hand_registered_mutants(toy_world, monkeypatch):
    base, mod = toy_world

    def mutant_check_other(case):
        return _le(5)(case)

    mutant_check_other.base = "toy-7/audit"
    monkeypatch.setattr(mod, "mutant_check_other", mutant_check_other, raising=False)
    m = {x.name: x for x in module_mutants(mod)}["other"]
    assert m.base_id == "toy-7/audit" and m.description == "other"   # no docstring: the name
    extra = register_mutant(make_mutant(base, "by-hand", _le(1), "registered outside a claim module"))
    assert extra.id in {x.id for x in discover()}
    with pytest.raises(ValueError, match="share the id"):
        register_mutant(make_mutant(base, "tighter-constant", _le(1), "clash"))
        discover()


@pytest.mark.parametrize("entries, error, match", [
    ([("a", "stated", _le(1))], ValueError, "MUTANTS entries must be"),
    ([("a", "nope", _le(1), "d")], ValueError, "matches 0 variants"),
    ([("a", "toy-7/nope", _le(1), "d")], ValueError, "is not a registered variant"),
    ([("a b", "stated", _le(1), "d")], ValueError, "slug"),
    ([("a", "stated", 42, "d")], TypeError, "check must be callable"),
])
def test_bad_mutant_declarations(toy_world, entries, error, match):
    with pytest.raises(error, match=match):
        module_mutants(_toy_module(mutants_list=entries))


def test_bad_objects_rejected(toy_world):
    base, _ = toy_world
    with pytest.raises(TypeError, match="base must be a Variant"):
        mutate("toy-7/stated", "x", _le(1), "d")
    with pytest.raises(TypeError, match="make_variant must be callable"):
        Mutant("toy-7", "x", "d", make_variant=None)
    with pytest.raises(TypeError, match="register_mutant\\(\\) takes a Mutant"):
        register_mutant(base)


# -- sensitivity mutants, on a toy claim with a known edge ---------------------------------------------
#: "a <= 1000" on a in [0, 100]: the tightest ratio is 1000/100 = 10, attained at a = 100.
EDGE = Claim("toy-8", "Toy 8", "a <= 1000 on 0 <= a <= 100")


def _edge_variant(relation="<=", tier=Tier.EXACT, rho=10.0, **kw):
    def check(case):
        a = case["a"]
        if relation == "<=":
            return Verdict(claim="toy-8/stated", observed=a, bound=1000.0, relation="<=", tier=tier,
                           case=dict(case), **kw)
        return Verdict(claim="toy-8/stated", observed=1000.0, bound=max(a, 1), relation=">=", tier=tier,
                       case=dict(case), **kw)   # 1000 >= a: the same claim written the other way

    strat = lambda: st.fixed_dictionaries({"a": st.integers(0, 100)})  # noqa: E731
    return Variant(EDGE, "stated", Expected.HOLDS, Tier.EXACT if tier is Tier.EXACT else tier, "toy", strat, check,
                   max_examples=40, rho_star=rho, rho_star_source="closed form: 1000/100 at a = 100",
                   rho_star_case={"a": 100})


@pytest.mark.parametrize("relation", ["<=", ">="])
@pytest.mark.parametrize("eps", [0.5, 0.05, 0.02])
def test_sensitivity_mutant_puts_the_edge_at_one_minus_eps(relation, eps):
    base = _edge_variant(relation)
    m = mutants.sensitivity_mutant(base, eps)
    assert m.id == f"toy-8/mutant-sensitivity-{round(eps * 100):d}pct" and m.expected is Expected.COUNTEREXAMPLE
    assert m.rho_star is None and m.examples == ()
    edge, inner = m.check({"a": 100}), m.check({"a": 50})
    assert edge.slack_ratio == pytest.approx(1 - eps, rel=1e-14) and edge.status.value == "VIOLATED"
    assert edge.claim == m.id
    # elsewhere the ratio is scaled by the same factor: a = 50 has base ratio 20, so 2 (1 - eps) > 1
    assert inner.slack_ratio == pytest.approx(2 * (1 - eps), rel=1e-14) and inner.status.value == "HOLDS"
    assert mutants.ratio_at_rho_star_case(base) == pytest.approx(10.0, rel=1e-15)


def test_scale_bound_scales_brackets_and_the_confirmation():
    conf = Verdict(claim="c", observed=9.0, bound=4.0, tier=Tier.ESTIMATED, stderr=0.1)
    v = Verdict(claim="c", observed=8.0, bound=4.0, bound_lower=3.0, bound_upper=math.inf, tier=Tier.ESTIMATED,
                stderr=0.1, tolerance=0.5, confirmation=conf)
    s = mutants.scale_bound(v, 2.0, 0.2, "c/mutant")
    f = 0.8 / 2.0
    assert (s.bound, s.bound_lower, s.bound_upper) == (4.0 * f, 3.0 * f, math.inf)
    assert s.confirmation.bound == 4.0 * f and s.confirmation.claim == "c/mutant"
    assert (s.observed, s.tolerance, s.stderr) == (8.0, 0.5, 0.1)
    assert mutants.sensitivity_factor(">=", 2.0, 0.2) == pytest.approx(2.0 / 0.8)


def test_sensitivity_arguments_are_validated():
    base = _edge_variant()
    for eps in (0.0, 1.0, -0.1):
        with pytest.raises(ValueError, match="eps must lie in"):
            mutants.sensitivity_mutant(base, eps)
    with pytest.raises(TypeError, match="eps must be a float"):
        mutants.sensitivity_mutant(base, "5%")
    with pytest.raises(ValueError, match="declares no rho_star"):
        mutants.sensitivity_mutant(_edge_variant(rho=None), 0.1)
    with pytest.raises(ValueError, match="no finite edge"):
        mutants.sensitivity_mutant(_edge_variant(rho=math.inf), 0.1)
    with pytest.raises(ValueError, match="rho_star must be >= 1"):
        _edge_variant(rho=0.9)
    with pytest.raises(ValueError, match="needs rho_star_source"):
        Variant(EDGE, "x", Expected.HOLDS, Tier.EXACT, "toy", st.none, _le(1), rho_star=2.0)
    with pytest.raises(ValueError, match="declared for variants expected to hold"):
        Variant(EDGE, "x", Expected.REPORT, Tier.EXACT, "toy", st.none, _le(1), rho_star=2.0, rho_star_source="s")


def test_measure_sensitivity_walks_the_ladder(monkeypatch):
    monkeypatch.setattr(runner, "RESULTS", [])
    found = mutants.measure_sensitivity(_edge_variant(), "ci")
    # a in [0, 100] drawn by Hypothesis reaches the edge a = 100 (and a >= 100 (1 - eps)/... near it):
    # every rung of the ladder is killed, down to 2%.
    assert found["eps_killed"] == 0.02 and [r["eps"] for r in found["runs"]] == [0.5, 0.2, 0.1, 0.05, 0.02]
    base = run_variant(_edge_variant(), profile="ci", record=False)
    mutants.attach_sensitivity(base, found)
    assert base.sensitivity["eps_killed_ci"] == 0.02 and base.sensitivity["eps_killed_hunt"] is None
    with pytest.raises(ValueError, match="ci and hunt"):
        mutants.attach_sensitivity(base, {**found, "profile": "dev"})
    assert all(r["killed"] for r in found["runs"]) and runner.RESULTS == []
    for r in found["runs"]:   # the base ratio at the counterexample lies in [rho*, rho* / (1 - eps))
        assert 10.0 - 1e-9 <= r["ratio"] < 10.0 / (1 - r["eps"])


def test_measure_sensitivity_stops_at_the_first_survivor(monkeypatch):
    """A search that never reaches the edge (a <= 60 here, ratio >= 16.7) cannot see a tightening
    below 1 - 10/16.7 = 40%: the 50% mutant is killed, the 20% one survives, the walk stops."""
    monkeypatch.setattr(runner, "RESULTS", [])
    v = _edge_variant()
    far = dataclasses.replace(v, strategy=lambda: st.fixed_dictionaries({"a": st.integers(0, 60)}))
    found = mutants.measure_sensitivity(far, "ci")
    assert found["eps_killed"] == 0.5
    assert [(r["eps"], r["killed"]) for r in found["runs"]] == [(0.5, True), (0.2, False)]


def test_result_carries_the_sensitivity_declaration(monkeypatch):
    monkeypatch.setattr(runner, "RESULTS", [])
    r = run_variant(_edge_variant(), profile="ci", record=False)
    assert r.outcome == "pass"
    s = r.sensitivity
    assert set(s) == {"rho_star", "rho_star_source", "ratio_found", "eps_killed_ci", "eps_killed_hunt", "measured"}
    assert s["rho_star"] == 10.0 and s["ratio_found"] == r.min_slack_ratio >= 10.0


def test_recorded_sensitivity_names_registered_variants_and_ladder_values():
    """The recorded eps columns (checks/sensitivity_measured.json) belong to variants expected to hold
    that declare rho*, and every value is a rung of the ladder or None (nothing killed)."""
    from checks.mutants import SENSITIVITY_LADDER, recorded_sensitivity, sensitivity_record
    from checks.registry import Expected, get_variant

    rec = recorded_sensitivity()
    assert rec, "no recorded sensitivity measurements"
    for vid, cols in rec.items():
        v = get_variant(vid)
        assert v.expected is Expected.HOLDS and v.rho_star is not None, vid
        assert set(cols) <= {"ci", "hunt"} and cols, vid
        assert all(e is None or e in SENSITIVITY_LADDER for e in cols.values()), (vid, cols)
        s = sensitivity_record(v)
        assert (s["eps_killed_ci"], s["eps_killed_hunt"]) == (cols.get("ci"), cols.get("hunt"))


def test_record_sensitivity_writes_one_profile(tmp_path):
    from checks.mutants import record_sensitivity, recorded_sensitivity

    path = tmp_path / "m.json"
    record_sensitivity("lemma-5.4/stated", "hunt", 0.05, path)
    record_sensitivity("lemma-5.4/stated", "ci", None, path)
    assert recorded_sensitivity(path) == {"lemma-5.4/stated": {"hunt": 0.05, "ci": None}}
    with pytest.raises(ValueError, match="profile"):
        record_sensitivity("lemma-5.4/stated", "dev", 0.5, path)
