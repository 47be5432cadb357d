"""Verdict semantics (checks/verdict.py, docs/verdicts.md): slack conventions, tiers, overrides, serialisation."""

import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from checks.verdict import DEFAULT_Z, Status, Tier, Verdict

INF = math.inf


def V(observed, bound, relation="<=", **kw):
    return Verdict(claim="toy-1/stated", observed=observed, bound=bound, relation=relation, **kw)


# -- slack and ratio conventions ---------------------------------------------------------------
@pytest.mark.parametrize("relation, observed, bound, slack, ratio", [
    ("<=", 1.0, 3.0, 2.0, 3.0),      # holds with room: bound - observed, bound / observed
    ("<=", 3.0, 1.0, -2.0, 1 / 3),   # violated
    (">=", 3.0, 1.0, 2.0, 3.0),      # holds: observed - bound, observed / bound
    (">=", 1.0, 3.0, -2.0, 1 / 3),
    ("<=", 2.0, 2.0, 0.0, 1.0),      # equality
])
def test_slack_and_ratio_positive_sides(relation, observed, bound, slack, ratio):
    v = V(observed, bound, relation)
    assert v.slack == slack
    assert v.slack_ratio == pytest.approx(ratio, rel=1e-15)
    assert v.excess == -slack
    assert v.normalised_slack == pytest.approx(slack / max(observed, bound), rel=1e-15)
    assert v.target_score == -v.normalised_slack


@pytest.mark.parametrize("relation, observed, bound, ratio", [
    ("<=", -1.0, 2.0, INF),   # a side <= 0 and the claim holds strictly: ratio +inf
    ("<=", 0.0, 2.0, INF),
    ("<=", 2.0, -1.0, 0.0),   # fails strictly: 0
    ("<=", 2.0, 0.0, 0.0),
    ("<=", 0.0, 0.0, 1.0),    # equal sides: 1
    ("<=", -2.0, -1.0, INF),  # both negative, holds
    ("<=", -1.0, -2.0, 0.0),  # both negative, fails
    (">=", 0.0, -1.0, INF),
    (">=", -1.0, 0.0, 0.0),
    (">=", 0.0, 0.0, 1.0),
])
def test_ratio_with_zero_or_negative_sides(relation, observed, bound, ratio):
    v = V(observed, bound, relation)
    assert v.slack_ratio == ratio
    assert not math.isnan(v.normalised_slack)


def test_zero_sides_give_zero_normalised_slack_and_hold():
    v = V(0.0, 0.0)
    assert v.normalised_slack == 0.0 and v.status is Status.HOLDS


@pytest.mark.parametrize("observed, bound, relation, slack, ratio, norm, status", [
    (1.0, INF, "<=", INF, INF, 1.0, Status.HOLDS),
    (INF, 1.0, "<=", -INF, 0.0, -1.0, Status.VIOLATED),
    (INF, INF, "<=", 0.0, 1.0, 0.0, Status.HOLDS),    # inf - inf is defined as 0 here, not NaN
    (-INF, -INF, "<=", 0.0, 1.0, 0.0, Status.HOLDS),
    (-INF, 0.0, "<=", INF, INF, 1.0, Status.HOLDS),
    (INF, 5.0, ">=", INF, INF, 1.0, Status.HOLDS),
])
def test_infinite_sides(observed, bound, relation, slack, ratio, norm, status):
    v = V(observed, bound, relation)
    assert v.slack == slack and v.slack_ratio == ratio and v.normalised_slack == norm
    assert v.status is status


@given(st.floats(allow_nan=False, allow_infinity=False), st.floats(allow_nan=False, allow_infinity=False),
       st.sampled_from(["<=", ">="]))
def test_slack_invariants(observed, bound, relation):
    v = V(observed, bound, relation)
    for x in (v.slack_ratio, v.normalised_slack):
        assert not math.isnan(x)
    assert -2.0 <= v.normalised_slack <= 2.0
    if v.slack > 0:
        assert v.slack_ratio >= 1.0   # rounding can make b/o exactly 1 for adjacent floats
    elif v.slack < 0:
        assert v.slack_ratio <= 1.0
    assert (v.status is Status.HOLDS) == (v.slack >= 0)   # exact tier, zero tolerance


# -- validation --------------------------------------------------------------------------------
@pytest.mark.parametrize("kw, match", [
    (dict(observed=math.nan), "observed must not be NaN"),
    (dict(bound=math.nan), "bound must not be NaN"),
    (dict(stderr=math.nan), "stderr must be finite and >= 0"),
    (dict(stderr=-1.0), "stderr must be finite and >= 0"),
    (dict(tolerance=INF), "tolerance must be finite and >= 0"),
    (dict(z=-5.0), "z must be finite and >= 0"),
    (dict(relation="<"), "relation must be '<=' or '>='"),
])
def test_bad_values_rejected(kw, match):
    base = dict(claim="toy-1/stated", observed=1.0, bound=2.0)
    with pytest.raises(ValueError, match=match):
        Verdict(**{**base, **kw})


def test_bad_tier_rejected():
    with pytest.raises(ValueError, match="bogus"):
        V(1.0, 2.0, tier="bogus")


# -- exact and certified tiers ----------------------------------------------------------------
def test_exact_tier_decides_outside_the_tolerance_only():
    # Binary fractions, so that the excess is exactly the tolerance (1.5 - 1.0 == 0.5 in floats).
    # An exact value within its refinement error of the bound cannot be told from equality: it
    # decides neither side (docs/verdicts.md#brackets).
    assert V(1.5, 1.0, tolerance=0.5).status is Status.INCONCLUSIVE        # excess == tol
    assert V(0.5, 1.0, tolerance=0.5).status is Status.HOLDS               # 0.5 + 0.5 <= 1.0
    assert V(0.5 + 2 ** -40, 1.0, tolerance=0.5).status is Status.INCONCLUSIVE
    assert V(1.5 + 2 ** -40, 1.0, tolerance=0.5).status is Status.VIOLATED
    assert V(1.5 + 2 ** -40, 1.0, tolerance=0.5, stderr=1.0).status is Status.VIOLATED  # se ignored
    assert V(1.0, 1.0).status is Status.HOLDS                               # equality, tolerance 0
    assert V(1.0, 1.0, tolerance=2 ** -40).status is Status.INCONCLUSIVE


def test_certified_verdict_must_name_the_side_it_bounds():
    with pytest.raises(ValueError, match="certified verdict must say which side"):
        V(1.0, 2.0, tier=Tier.CERTIFIED)
    assert V(1.0, 2.0, tier=Tier.CERTIFIED, observed_upper=1.5).status is Status.HOLDS


def test_certified_lower_bound_of_the_left_side_only_proves_violations():
    # observed is a certified *lower* bound of the left side of a "<=" claim: the true value may be
    # anywhere above it, so HOLDS is out of reach however small it is ...
    low = dict(tier=Tier.CERTIFIED, observed_upper=INF)
    assert V(0.1, 2.0, **low).status is Status.INCONCLUSIVE
    assert V(0.1, 2.0, **low).holds_gap == INF
    # ... and a lower bound above the right side proves the violation.
    assert V(3.0, 2.0, **low).status is Status.VIOLATED
    # Mirror: an upper bound of the left side proves HOLDS, never a violation.
    up = dict(tier=Tier.CERTIFIED, observed_lower=-INF)
    assert V(0.1, 2.0, **up).status is Status.HOLDS
    assert V(3.0, 2.0, **up).status is Status.INCONCLUSIVE
    # ">=" claims: a lower bound of the left side proves HOLDS only.
    ge = dict(relation=">=", tier=Tier.CERTIFIED, observed_upper=INF)
    assert V(3.0, 2.0, **ge).status is Status.HOLDS and V(1.0, 2.0, **ge).status is Status.INCONCLUSIVE


@pytest.mark.parametrize("relation, ol, ou, bl, bu, status", [
    ("<=", 1.0, 2.0, 3.0, 4.0, Status.HOLDS),          # upper of lhs 2 <= lower of rhs 3
    ("<=", 1.0, 3.5, 3.0, 4.0, Status.INCONCLUSIVE),   # brackets overlap
    ("<=", 4.5, 5.0, 3.0, 4.0, Status.VIOLATED),       # lower of lhs 4.5 > upper of rhs 4
    ("<=", 4.0, 5.0, 3.0, 4.0, Status.INCONCLUSIVE),   # touching: not strictly beyond
    (">=", 4.5, 5.0, 3.0, 4.0, Status.HOLDS),
    (">=", 1.0, 2.0, 3.0, 4.0, Status.VIOLATED),
    (">=", 1.0, 3.5, 3.0, 4.0, Status.INCONCLUSIVE),
])
def test_brackets_decide(relation, ol, ou, bl, bu, status):
    v = V((ol + ou) / 2, (bl + bu) / 2, relation, observed_lower=ol, observed_upper=ou, bound_lower=bl,
          bound_upper=bu)
    assert v.status is status, v.explain()
    assert (v.holds_gap <= 0) == (status is Status.HOLDS)
    assert (v.violation_gap > 0) == (status is Status.VIOLATED)
    if status is Status.INCONCLUSIVE:
        assert "brackets overlap" in v.reason
    assert "lhs in [" in v.explain() and "rhs in [" in v.explain()


def test_bracket_must_contain_its_point():
    with pytest.raises(ValueError, match="outside its bracket"):
        V(1.0, 2.0, observed_lower=1.5)
    with pytest.raises(ValueError, match="bound_upper must not be NaN"):
        V(1.0, 2.0, bound_upper=math.nan)


def test_proved_tier_has_no_tolerance():
    assert V(1.0, 2.0, tier=Tier.PROVED, observed_upper=1.25).status is Status.HOLDS
    assert V(1.0, 1.0, tier=Tier.PROVED).status is Status.HOLDS            # exact equality, tolerance 0
    for kw in (dict(tolerance=1e-12), dict(stderr=0.1)):
        with pytest.raises(ValueError, match="proved verdict is decided by its enclosures alone"):
            V(1.0, 2.0, tier=Tier.PROVED, **kw)


def test_margin_of_each_tier():
    assert V(1.0, 2.0, tolerance=0.25, stderr=1.0).margin == 0.25           # exact: se ignored
    assert V(1.0, 2.0, tier=Tier.ESTIMATED, tolerance=0.25, stderr=0.1).margin == pytest.approx(0.75)


# -- estimated tier -----------------------------------------------------------------------------
def E(observed, stderr, confirmation=None, **kw):
    return V(observed, 0.0, tier=Tier.ESTIMATED, stderr=stderr, confirmation=confirmation, **kw)


def test_estimated_bands():
    # HOLDS needs the estimate z standard errors (plus the tolerance) below the bound, the mirror of
    # what a violation needs: a noisy estimate just below the bound decides nothing.
    assert E(-0.6, 0.1).status is Status.HOLDS                # 6 se below
    assert E(-0.5, 0.1).status is Status.HOLDS                # exactly 5 se below: -0.5 + 0.5 <= 0
    below = E(-0.1, 0.1)                                      # 1 se below: noise
    assert below.status is Status.INCONCLUSIVE
    assert f"within tolerance + {DEFAULT_Z:g} standard errors" in below.reason
    assert E(0.0, 0.1).status is Status.INCONCLUSIVE
    within = E(0.49, 0.1)                                     # 4.9 se above: noise
    assert within.status is Status.INCONCLUSIVE
    assert E(0.49, 0.1, z=4.0).status is Status.INCONCLUSIVE  # beyond 4 se but unconfirmed
    tol = E(0.6, 0.1, tolerance=0.2)                          # the band widens by the tolerance
    assert tol.status is Status.INCONCLUSIVE
    assert E(-0.75, 0.1, tolerance=0.2).status is Status.HOLDS and E(-0.65, 0.1, tolerance=0.2).status is \
        Status.INCONCLUSIVE
    assert E(-0.1, 0.0).status is Status.HOLDS                # se 0: the point decides


def test_estimated_violation_needs_confirmation():
    unconfirmed = E(1.0, 0.1)                                 # 10 se beyond the bound
    assert unconfirmed.status is Status.INCONCLUSIVE
    assert "not confirmed" in unconfirmed.reason
    noise = E(0.1, 0.05)                                      # the re-run (4m: se halves) says 2 se: noise
    assert E(1.0, 0.1, confirmation=noise).status is Status.INCONCLUSIVE
    holds = E(-1.0, 0.05)
    assert holds.status is Status.HOLDS
    assert E(1.0, 0.1, confirmation=holds).status is Status.INCONCLUSIVE


def test_estimated_violation_confirmed_by_a_fresh_run():
    """A confirmation run beyond its own z standard errors turns the excess into a VIOLATED verdict.

    The confirmation is itself an estimated verdict without a confirmation of its own (a re-run of a
    re-run is not required): it confirms when its excess exceeds tolerance + z * its stderr.
    """
    confirm = E(0.9, 0.05)                                    # 18 se beyond, at 4m
    v = E(1.0, 0.1, confirmation=confirm)
    assert v.status is Status.VIOLATED, v.explain()
    assert v.reason == ""


def test_premise_failed_and_inconclusive_override():
    pf = V(5.0, 1.0, premise_failed="M > 1/2", inconclusive="quadrature")
    assert pf.status is Status.PREMISE_FAILED and pf.reason == "M > 1/2"
    inc = V(5.0, 1.0, inconclusive="quadrature did not converge")
    assert inc.status is Status.INCONCLUSIVE and inc.reason == "quadrature did not converge"
    assert V(0.0, 1.0, inconclusive="x").status is Status.INCONCLUSIVE   # even when it would hold


def test_undecidable_only_demotes_violations():
    why = "P = P_min is only a lower bound on the admissible P"
    v = V(5.0, 1.0, undecidable=why)
    assert v.status is Status.INCONCLUSIVE and v.reason == why
    assert V(0.5, 1.0, undecidable=why).status is Status.HOLDS


# -- serialisation and explain ------------------------------------------------------------------
def test_round_trip_through_json():
    conf = E(0.9, 0.05, case={"seed": 8, "m": 400})
    v = Verdict(claim="toy-1/probe", observed=1.0, bound=INF, relation=">=", tier=Tier.ESTIMATED, stderr=0.1,
                tolerance=1e-3, tolerance_reason="bias bound", case={"seed": 7, "n": [1, 2]},
                premises={"M <= 1/2": False}, premise_failed=None, inconclusive=None, undecidable="u",
                confirmation=conf, z=4.0, extra={"P_min": 2.5, "events": ["lazy"]})
    d = v.to_dict()
    text = json.dumps(d, allow_nan=False)          # infinities are strings: strict JSON
    assert d["bound"] == "inf" and d["slack_ratio"] == 0.0
    assert d["status"] == v.status.value and d["slack"] == "-inf" and d["tier"] == "estimated"
    back = Verdict.from_dict(json.loads(text))
    assert back == v
    assert back.confirmation == conf and back.status is v.status


def test_from_dict_ignores_derived_fields():
    d = V(3.0, 1.0).to_dict()
    d.update(status="HOLDS", slack=99.0)           # stale derived values are recomputed
    assert Verdict.from_dict(d).status is Status.VIOLATED


def test_explain_has_every_number():
    v = V(3.0, 1.0, tolerance=1e-12, tolerance_reason="K vs 2K", case={"seed": 3, "n": 2})
    text = v.explain()
    for part in ("toy-1/stated", "VIOLATED", "observed=3", "<= bound=1", "slack=-2", "ratio=0.3333",
                 "tier=exact", "tol=1e-12", "[K vs 2K]", 'case={"n":2,"seed":3}'):
        assert part in text, (part, text)
    assert " se=" not in text
    est = E(0.3, 0.1).explain()
    assert "se=0.1 z=5" in est and "(brackets overlap within tolerance + 5 standard errors)" in est
