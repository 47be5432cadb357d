"""Unit tests of the Lemma 5.5 checks (checks/lemma_5_5.py; docs/claims.md#lemma-55, E10, E18).

The generic search over the registry lives in tests/test_claims.py (and the mutant's kill in
tests/test_mutants.py); here each check is pinned to reference numbers, the probe's shrunk
counterexample is replayed and the probe's search is shown to shrink to n = 3.
"""

import math

import pytest
from hypothesis import given, settings

from checks.lemma_5_5 import (CLAIM, MUTANT_FACTOR, PROBE_EXAMPLE, SLACK_FLOOR, build_inputs, check_audit,
                              check_corrected, check_probe, check_stated, complexity, mutant_check_tighter,
                              probe_cases, stated_cases)
from checks.registry import Expected, get_variant
from checks.runner import run_variant
from checks.verdict import Status, Tier

pytestmark = pytest.mark.claim("lemma-5.5")


def case(n=3, inputs="orthonormal", d=None, base="tanh", c=1.0, s=1.0, alpha=1.0, M=0.5, seed=0):
    return {"n": n, "inputs": inputs, "d": n if d is None else d, "act": {"base": base, "c": c, "s": s},
            "alpha": alpha, "M": M, "seed": seed}


def test_slack_floor_value():
    assert SLACK_FLOOR == pytest.approx(2 * math.sqrt(0.5) / 1.190826, rel=1e-6)
    assert SLACK_FLOOR == pytest.approx(1.1876, abs=5e-5)


def test_variants_registered_with_their_outcomes():
    expected = {"stated": Expected.HOLDS, "corrected": Expected.HOLDS, "probe": Expected.COUNTEREXAMPLE,
                "audit": Expected.REPORT}
    for name, exp in expected.items():
        v = get_variant(f"lemma-5.5/{name}")
        assert v.expected is exp and v.tier is Tier.EXACT and v.claim is CLAIM
    assert get_variant("lemma-5.5/probe").examples == (PROBE_EXAMPLE,)


def test_probe_example_is_a_demonstrated_counterexample():
    """tanh, n = 3, orthonormal, M = 25 > M* = 23.78: exact R_hat above the printed bound."""
    v = check_probe(PROBE_EXAMPLE)
    assert v.status is Status.VIOLATED and v.tier is Tier.EXACT
    assert v.observed - v.bound > 100 * v.tolerance          # not a rounding-level excess
    # regression value of the HS route (which test_rademacher.py checks against direct quadrature)
    assert v.extra["rho"] == pytest.approx(1.00698, abs=1e-5)
    assert v.extra["M_star"] == pytest.approx(23.8, rel=2e-3)   # docs/claims.md#lemma-55 table
    assert v.extra["route"] == "hs-1d"


def test_probe_violation_comes_from_a_feasible_witness():
    """E10 (issue 10): the violation is decided from a lower bound of the left side, a feasible point: the tilt
    p_beta with KL(p_beta || p0) <= M (computed, refinement difference included) and its value above the bound."""
    v = check_probe(PROBE_EXAMPLE)
    e = v.extra
    assert e["witness_feasible"] and e["witness_kl_upper"] <= PROBE_EXAMPLE["M"]
    assert v.observed_lower == e["witness_value_lower"] and v.observed_lower - v.tolerance > v.bound_upper
    # primal <= exact <= dual (weak duality), to the HS route's refinement
    assert v.observed_lower <= v.observed <= e["dual_upper"] * (1 + 1e-9) and v.observed_upper >= v.observed
    assert v.holds_gap > 0 and v.violation_gap > 0


def test_corrected_bound_holds_on_the_probe_example():
    v = check_corrected(PROBE_EXAMPLE)
    assert v.status is Status.HOLDS and v.slack_ratio > 1.2


@pytest.mark.parametrize("M", [0.6, 5.0, 300.0])
def test_n2_never_violates_the_printed_bound(M):
    for s in (0.01, 1.0):
        v = check_probe(case(n=2, s=s, M=M))
        assert v.status is Status.HOLDS and v.extra["rho"] < 1.0


def test_sign_like_reference_rho_at_M5_n3():
    """tanh(z/0.001) is within 1e-3 of the sign limit, where rho(M=5, n=3) = 1.053 (docs/claims.md#lemma-55)."""
    v = check_probe(case(n=3, s=0.001, M=5.0))
    assert v.status is Status.VIOLATED and v.extra["rho"] == pytest.approx(1.053, abs=2e-3)


def test_s5_reference_through_the_lowrank_builder():
    """The lowrank d = 1 builder spaces radii evenly in [1/2, 1]: n = 2 gives x = (1, 0.5), the reference's s5."""
    c5 = case(n=2, inputs="lowrank", d=1, alpha=1.5, M=0.3, seed=7)
    assert build_inputs(c5)[:, 0].tolist() == [1.0, 0.5]
    v = check_stated(c5)
    assert v.status is Status.HOLDS
    assert v.observed == pytest.approx(0.3847, abs=5e-5) and v.bound == pytest.approx(1.1619, abs=5e-5)


def test_stated_premise_failed_above_one_half():
    v = check_stated(case(M=0.75))
    assert v.status is Status.PREMISE_FAILED and "M = 0.75 > 1/2" in v.reason


def test_stated_in_the_steep_limit_approaches_the_floor():
    v = check_stated(case(n=8, s=0.01, M=0.5, c=0.5, alpha=7.0))
    assert v.status is Status.HOLDS
    assert SLACK_FLOOR < v.slack_ratio < 1.23          # n = 8 sign limit: 1/0.822 = 1.216
    a = check_audit(case(n=8, s=0.01, M=0.5, c=0.5, alpha=7.0))
    assert a.status is Status.HOLDS and a.observed == pytest.approx(v.slack_ratio, rel=1e-12)


def test_G_is_G1_and_scales_cancel_in_rho():
    """rho is invariant under c and alpha (R_hat and the bound both scale linearly)."""
    r1 = check_stated(case(n=4, s=0.3, M=0.2)).extra["rho"]
    r2 = check_stated(case(n=4, s=0.3, M=0.2, c=3.0, alpha=1e4)).extra["rho"]
    assert r1 == pytest.approx(r2, rel=1e-9)
    assert check_stated(case(n=4, s=0.3, M=0.2, c=3.0)).extra["G1"] == 3.0


def test_mutant_is_false_in_the_steep_limit_and_true_for_plain_tanh():
    steep = mutant_check_tighter(case(n=6, s=0.01, M=0.5))
    assert steep.status is Status.VIOLATED and steep.observed / (steep.bound / MUTANT_FACTOR) > MUTANT_FACTOR
    assert mutant_check_tighter(case(n=6, s=1.0, M=0.5)).status is Status.HOLDS


def test_lowrank_outside_the_quadrature_domain_is_inconclusive():
    v = check_corrected(case(n=4, inputs="lowrank", d=1, s=0.5, M=300.0, seed=1))
    assert v.status is Status.INCONCLUSIVE and "validity domain" in v.reason
    assert not complexity(case(n=4, inputs="lowrank", d=1, s=0.5, M=300.0, seed=1)).converged


def test_orthonormal_non_odd_has_no_exact_route():
    v = check_corrected(case(n=4, base="sigmoid", M=0.3))
    assert v.status is Status.INCONCLUSIVE and "no exact route" in v.reason


@settings(max_examples=15, deadline=None, derandomize=True, database=None)
@given(stated_cases())
def test_stated_and_corrected_hold_on_generated_cases(c):
    for check in (check_stated, check_corrected):
        assert check(c).status in (Status.HOLDS, Status.INCONCLUSIVE)
    assert check_audit(c).observed >= SLACK_FLOOR * (1 - 1e-9)


@settings(max_examples=10, deadline=None, derandomize=True, database=None)
@given(probe_cases())
def test_probe_cases_are_orthonormal_beyond_one_half(c):
    assert c["inputs"] == "orthonormal" and c["M"] > 0.5 and c["act"]["base"] in ("tanh", "erf")


def test_probe_search_finds_a_counterexample_that_shrinks_to_n3():
    """The probe's own search (no explicit example) under ci: n = 2 never fails, so n = 3."""
    import dataclasses
    variant = dataclasses.replace(get_variant("lemma-5.5/probe"), examples=())
    result = run_variant(variant, profile="ci", record=False)
    assert result.outcome == "pass", result.message
    ce = result.counterexample
    assert ce["case"]["n"] == 3 and ce["status"] == "VIOLATED"
    assert ce["extra"]["M_star"] < ce["case"]["M"]
