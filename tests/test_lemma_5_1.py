"""Unit tests of the Lemma 5.1 checks (checks/lemma_5_1.py; docs/kernels.md#radius-and-alpha-threshold, 4.1, E7, E8, E9, E14).

The generic search over the registry lives in tests/test_claims.py; here each check is pinned to
the the reference case, the premise handling is tested directly on the degenerate sets of
docs/kernels.md#degenerate-data, and the probe's shrinking, the P-indexing, scale covariance and the mutant are checked.
"""

import json
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from checks.lemma_5_1 import (CLAIM, P_FACTOR_RANGE, REFERENCE, RESOLVED_RTOL, alpha_exponent, build_act,
                              build_inputs, check_audit, check_probe, check_stated, mutant_check_no_halving,
                              nodes_for, p_min_exponent, probe_cases, setup, stated_cases)
from checks.registry import Expected, get_variant
from checks.runner import run_variant
from checks.strategies import DEGENERATE_KINDS
from checks.verdict import Status, Tier
from theory.assumptions import lambda_tolerance
from theory.bounds import A1, A2
from theory.errors import DomainError
from theory.kernels import kernel_constants

pytestmark = pytest.mark.claim("lemma-5.1")

SIGMOID_REF = {**REFERENCE, "act": {"base": "sigmoid", "c": 1.0, "s": 1.0}}
TANH3_REF = {**REFERENCE, "act": {"base": "tanh", "c": 3.0, "s": 1.0}}


def test_stated_is_inconclusive_just_inside_the_critical_radius():
    """Issue 10 item 1: at R(P) = R_crit/1.001 no adversary reaches Lambda/2, but that is no proof over the
    ball: the old check called it HOLDS; now only the perturbation bound could, and it does not reach."""
    v = check_stated({**REFERENCE, "P_factor": 1.001})
    assert v.status is Status.INCONCLUSIVE and v.tier is Tier.CERTIFIED and v.relation == ">=", v.explain()
    assert v.bound == pytest.approx(0.5 * 0.07377, abs=5e-6)
    assert 0 < v.slack < 1e-3 * v.bound          # the adversaries' value: a hair above Lambda/2
    assert v.observed_lower == v.extra["perturbation_lower"] < v.bound_upper
    assert v.observed_upper - v.observed < 1e-7   # tanh at K = 80 vs 160
    for key in ("P_min", "G", "log_inv_lambda0", "Lambda", "R_crit", "R_crit_over_sqrt_d1", "adversaries", "P",
                "P_factor", "R_cert", "P_cert", "c1", "c2"):
        assert key in v.extra
    assert v.extra["G"] == 2.0 and v.extra["P_min"] == pytest.approx(0.0615, abs=5e-4)
    assert v.extra["P_factor"] == pytest.approx(1.001, rel=1e-12)
    assert v.extra["adversaries"]["C"]["tier"] == "exact" and v.extra["adversaries"]["D"]["tier"] == "estimated"
    assert v.extra["R_crit_over_sqrt_d1"] == pytest.approx(v.extra["R_crit"] / math.sqrt(3.0), rel=1e-15)
    json.dumps(v.to_dict())                        # the report can serialise it


def test_stated_holds_only_inside_the_certified_radius():
    """HOLDS iff R(P) <= R_cert (the perturbation bound clears Lambda/2), at the user's P; just outside it,
    INCONCLUSIVE although every adversary is far above Lambda/2."""
    s = setup(REFERENCE)
    R_cert = check_audit(dict(REFERENCE)).extra["R_cert"]
    assert R_cert == pytest.approx(3.414e-3, rel=1e-3)
    lam0sq = s.report.lambda0 ** 2
    inside = check_stated({**REFERENCE, "P": lam0sq / (0.999 * R_cert)})
    assert inside.status is Status.HOLDS, inside.explain()
    assert inside.observed_lower >= inside.bound_upper and inside.observed_lower == inside.extra["perturbation_lower"]
    outside = check_stated({**REFERENCE, "P": lam0sq / (1.01 * R_cert)})
    assert outside.status is Status.INCONCLUSIVE, outside.explain()
    assert outside.observed > 0.9 * s.Lambda       # the adversaries are nowhere near: no witness is no proof


@pytest.mark.parametrize("factor", [1.001, 1.01])
def test_p_below_p_min_yields_a_certified_witness(factor):
    """A user-supplied P = P_min / factor puts R(P) outside R_crit: VIOLATED (that P is not admissible)."""
    p_min = setup(REFERENCE).report.P_min
    v = check_stated({**REFERENCE, "P": p_min / factor})
    assert v.status is Status.VIOLATED
    assert v.extra["ball_w2"][v.extra["ball_witness"]] <= v.extra["R"] * (1 + 1e-12)
    assert v.observed_upper < v.bound_lower        # decided by the adversary's upper bracket
    above = check_stated({**REFERENCE, "P": p_min * factor})
    assert above.status is Status.INCONCLUSIVE


def test_a_lower_bound_above_a_witness_is_an_error_not_a_verdict(monkeypatch):
    """A certified lower bound above a certified adversary value would be a bug in one of them: raised."""
    import dataclasses

    import checks.lemma_5_1 as l51

    real = l51.pbound

    def broken(case, s):
        b = real(case, s)
        return dataclasses.replace(b, Lambda_lower=10.0 * b.Lambda_lower, c1=0.0, c2=0.0)

    monkeypatch.setattr(l51, "pbound", broken)
    with pytest.raises(ArithmeticError, match="exceeds the adversary"):
        check_stated({**REFERENCE, "P_factor": 1.001})


def test_probe_is_violated_by_the_point_mass():
    v = check_probe({**REFERENCE})
    assert v.status is Status.VIOLATED and v.observed == 0.0
    assert v.extra["ball_witness"] == "B0" and v.extra["R"] == math.sqrt(3.0)


def test_probe_search_finds_and_shrinks_to_n_2():
    """E8: the search finds the sqrt(d+1) counterexample and shrinks it to n = 2, d = 1."""
    variant = get_variant("lemma-5.1/probe")
    variant = type(variant)(**{**variant.__dict__, "examples": ()})
    result = run_variant(variant, max_examples=5, record=False)
    assert result.outcome == "pass", result.message
    case = result.counterexample["case"]
    assert case["n"] == 2 and case["d"] == 1


@pytest.mark.parametrize("kind", DEGENERATE_KINDS)
@pytest.mark.parametrize("check", [check_stated, check_probe, check_audit], ids=["stated", "probe", "audit"])
def test_degenerate_data_are_premise_failures(kind, check):
    """E14: Lambda = 0 up to rounding (docs/kernels.md#degenerate-data) is PREMISE_FAILED, decided against the quadrature error."""
    v = check({"kind": kind, "d": 2, "seed": 3, "P_factor": 2.0})
    assert v.status is Status.PREMISE_FAILED, v.explain()
    assert "indistinguishable from 0" in v.reason
    assert abs(v.observed) < 1e-12


def test_constant_activation_is_a_premise_failure():
    """E14: ht = const satisfies Assumption 4.2 but H = c0^2 11^T, so Lambda = 0 for n >= 2."""
    case = {**REFERENCE, "act": {"base": "constant", "c": 0.7}, "P_factor": 2.0}
    act = build_act(case)
    assert np.allclose(act.h(np.linspace(-3, 3, 7)), 0.7)
    for check in (check_stated, check_probe):
        v = check(case)
        assert v.status is Status.PREMISE_FAILED and v.premises[CLAIM.premises[1]] is True


def _parallel(n, base):
    return {"n": n, "d": 1, "seed": 1, "labels": "continuous", "r_min": 0.5, "min_angle_deg": 15.0,
            "act": {"base": base, "c": 1.0, "s": 1.0}, "P_factor": 1.001}


def test_near_degenerate_lambda_is_never_a_verdict():
    """Six parallel inputs with sigmoid: Lambda = 1.9e-13, within its quadrature and rounding error (E14):
    a premise failure or INCONCLUSIVE (theory.assumptions decides which), never HOLDS or VIOLATED."""
    case = _parallel(6, "sigmoid")
    for check in (check_stated, check_probe, check_audit):
        v = check(case)
        assert v.status in (Status.PREMISE_FAILED, Status.INCONCLUSIVE), v.explain()
        assert "indistinguishable from 0" in v.reason or "not resolved" in v.reason
    assert 0 < setup(case).Lambda < 1e-12


def test_setup_resolves_lambda_before_judging():
    """Four parallel inputs with tanh: Lambda = 6.8e-7; the setup's K (doubled from 80 while needed) resolves
    it to RESOLVED_RTOL, and the verdict's brackets carry no more than that error."""
    case = _parallel(4, "tanh")
    s = setup(case)
    tol = lambda_tolerance(kernel_constants(s.X, s.act, s.K))
    assert tol <= RESOLVED_RTOL * s.Lambda
    if s.K > nodes_for(s.act):                     # it doubled: the coarser rule was not enough
        assert lambda_tolerance(kernel_constants(s.X, s.act, s.K // 2)) > RESOLVED_RTOL * s.Lambda
    v = check_stated(case)
    assert v.status is Status.INCONCLUSIVE and v.observed_upper - v.observed < 1e-4 * s.Lambda, v.explain()
    assert v.observed > v.bound                    # no adversary inside R_crit/1.001, the bound too loose


def test_scale_covariance_of_the_verdict_numbers():
    """ht -> 3 ht: R_crit unchanged, P_min times 9, G times 3 (E7); the verdict is the same."""
    one, three = check_audit(dict(REFERENCE)), check_audit(dict(TANH3_REF))
    assert three.extra["R_crit"] == pytest.approx(one.extra["R_crit"], rel=1e-6)
    assert three.extra["P_min"] == pytest.approx(9.0 * one.extra["P_min"], rel=1e-6)
    assert three.extra["G"] == pytest.approx(3.0 * one.extra["G"], rel=1e-15)
    for name in ("A", "B"):
        assert three.extra[f"R_{name}"] == pytest.approx(one.extra[f"R_{name}"], rel=1e-9)
    assert three.extra["R_cert"] == pytest.approx(one.extra["R_cert"], rel=1e-6)
    assert three.extra["P_cert"] == pytest.approx(9.0 * one.extra["P_cert"], rel=1e-6)
    for f in (1.5, 1e3):
        s1, s3 = check_stated({**REFERENCE, "P_factor": f}), check_stated({**TANH3_REF, "P_factor": f})
        assert s1.status is s3.status
        assert s3.slack_ratio == pytest.approx(s1.slack_ratio, rel=1e-6)


def test_audit_reports_radii_and_alpha_min():
    """docs/kernels.md#reference-numbers: A1 = 25.856, A2 = 63.426 and alpha_min = 9.2e4 at R_hat = 0.2988 (tanh, lambda = 0.005)."""
    v = check_audit(dict(REFERENCE))
    assert v.status is Status.HOLDS and v.observed < 0.18 * v.bound   # R_crit far below sqrt(d+1) (E8)
    assert v.observed_lower == v.extra["R_cert"] < v.observed_upper == v.extra["R_crit"]   # R* in [R_cert, R_crit]
    assert 50 < v.extra["R_crit_over_R_cert"] < 200
    assert A1(2.0, 2) == pytest.approx(25.856, abs=1e-3) and A2(2.0, 2) == pytest.approx(63.426, abs=1e-3)
    lam0sq = v.extra["lambda0"] ** 2
    expected = 8 * math.sqrt(A2(2.0, 2) ** 2 + 0.005 * A1(2.0, 2) ** 2) / (lam0sq * v.extra["R_crit"])
    assert v.extra["alpha_min"] == pytest.approx(expected, rel=1e-12)
    assert v.extra["alpha_min"] == pytest.approx(9.2e4, rel=1e-2)
    s = check_audit(dict(SIGMOID_REF))
    assert s.extra["R_C"] == pytest.approx(0.2489, abs=5e-5) and s.extra["witness_crit"] == "C"


def test_alpha_exponent_sweep_reports_a_slope():
    """E9: alpha_min(P_min) on generated data for n = 2, 3, 4 (d = 2) and its log-log slope in n."""
    out = alpha_exponent([2, 3, 4], d=2, act={"base": "sigmoid", "c": 1.0, "s": 1.0}, seed=1)
    assert [r["n"] for r in out["rows"]] == [2, 3, 4]
    assert all(r["alpha_min"] > 0 and math.isfinite(r["alpha_min"]) for r in out["rows"])
    assert math.isfinite(out["slope"])
    # alpha_min(P_min) = 8 sqrt(A2^2 + lam A1^2) n / (Lambda R_crit): check the formula row by row.
    c = 8 * math.sqrt(A2(1.0, 2) ** 2 + 0.005 * A1(1.0, 2) ** 2)
    for r in out["rows"]:
        assert r["alpha_min"] == pytest.approx(c * r["n"] / (r["Lambda"] * r["R_crit"]), rel=1e-12)


def test_p_min_exponent_fits_the_growth_in_n():
    """The falsifiable content of Lemma 5.1: P_min's exponent in n at a fixed activation, with its uncertainty."""
    out = p_min_exponent([2, 3, 4], d=2, seeds=(0, 1))
    assert len(out["rows"]) == 6 and out["dof"] == 3
    lo, hi = out["ci95_n"]
    assert lo < out["exponent_n"] < hi and out["se_n"] > 0 and math.isfinite(hi - lo)
    assert math.isnan(out["exponent_d"])           # one d: no d column
    for r in out["rows"]:
        assert r["P_min"] <= r["P_cert"]           # the adversaries' P_min below the proved P_cert
    both = p_min_exponent([2, 3], d_values=(1, 2), seeds=(0, 1))
    assert both["dof"] == 4 and math.isfinite(both["exponent_d"]) and both["se_d"] > 0
    with pytest.raises(DomainError, match="lambda0 < 1"):
        p_min_exponent([2, 3], d=1, seeds=(0,), act={"base": "tanh", "c": 4.0, "s": 0.25})


def test_mutant_no_halving_is_caught_where_the_stated_form_holds():
    case = {**REFERENCE, "P_factor": 10.0}
    assert check_stated(case).status is Status.INCONCLUSIVE
    m = mutant_check_no_halving(case)
    assert m.status is Status.VIOLATED and m.bound == pytest.approx(0.99 * setup(case).Lambda, rel=1e-15)


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(stated_cases())
def test_stated_cases_are_json_and_replay(case):
    assert json.loads(json.dumps(case)) == case
    lo, hi = P_FACTOR_RANGE
    assert lo <= case["P_factor"] <= hi and case["n"] >= 2
    np.testing.assert_array_equal(build_inputs(case), build_inputs(json.loads(json.dumps(case))))
    assert build_act(case).s >= 1.0               # ci: K = 80 resolves the rule (see _act_specs)


@settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck))
@given(probe_cases())
def test_probe_holds_its_counterexample_on_every_drawn_case(case):
    v = check_probe(case)
    assert v.status in (Status.VIOLATED, Status.PREMISE_FAILED)


def test_registered_variants_declare_their_outcomes():
    assert get_variant("lemma-5.1/stated").expected is Expected.HOLDS
    assert get_variant("lemma-5.1/probe").expected is Expected.COUNTEREXAMPLE
    assert get_variant("lemma-5.1/audit").expected is Expected.REPORT
