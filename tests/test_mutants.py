"""Mutants (checks/mutants.py): every falsified variant must be caught by the search under ``ci``.

The meta-test runs each mutant discovered in the claim modules; a mutant that survives means the
check (or its strategy) has no power against that kind of error.  Mutant runs are recorded, so the
session's table reports the kill rate per claim.  The machinery itself is tested on a toy claim.
"""

import importlib.machinery
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
