"""Meta-test: every registered variant decides from the right side of its brackets (docs/verdicts.md, "Brackets").

For each variant of the registry, its explicit examples are checked and every verdict (and its
confirmation) must satisfy:

* a HOLDS verdict of a "<=" claim has a finite upper bracket of the left side and a finite lower
  bracket of the right side with ``observed_upper + margin <= bound_lower`` (">=" mirrored): two
  infinite sides would otherwise "hold" by ``inf - inf = 0``;
* a VIOLATED verdict has the reverse, finite too;
* a decided certified verdict has at least one bracket wider than its point value;
* the verdict's tier is at least as strong as the variant's registered tier (the registry must not
  advertise a stronger tier than the route that decided);

and, for the variants whose brackets have a known origin, that the bracket used is the right one:
Lemma 5.1's lower bracket is the certified perturbation bound, Lemma 5.3's path verdict reads the
energy upper bound (not the moment lower bound) for HOLDS, Theorem 4.4 at a P not known to be
admissible can never be VIOLATED.  Generated cases are left to the claim suite (tests/test_claims.py).
"""

import math
from functools import lru_cache

import pytest

from checks.registry import variants
from checks.verdict import DEFAULT_Z, Status, Tier

#: Strength order of the evidence tiers (a verdict may be stronger than its registered tier, not weaker).
_STRENGTH = {Tier.ESTIMATED: 0, Tier.CERTIFIED: 1, Tier.EXACT: 2, Tier.PROVED: 3}
_VARIANTS = {v.id: v for v in variants()}


@lru_cache(maxsize=None)
def _verdicts(variant_id):
    """The verdicts of a variant's explicit examples, confirmations included."""
    var = _VARIANTS[variant_id]
    out = []
    for case in var.examples:
        v = var.check(dict(case))
        out.append((case, v))
        if v.confirmation is not None:
            out.append((case, v.confirmation))
    return tuple(out)


def _holds_sides(v):
    """(upper bracket of the smaller side, lower bracket of the larger side) for HOLDS."""
    return (v.observed_upper, v.bound_lower) if v.relation == "<=" else (v.bound_upper, v.observed_lower)


def _violation_sides(v):
    """(lower bracket of the side claimed smaller, upper bracket of the side claimed larger) for VIOLATED."""
    return (v.observed_lower, v.bound_upper) if v.relation == "<=" else (v.bound_lower, v.observed_upper)


def _generic_failures(v, registered_tier):
    bad = []
    st = v.status
    if st is Status.HOLDS:
        small, large = _holds_sides(v)
        if not (math.isfinite(small) and math.isfinite(large) and small + v.margin <= large):
            bad.append(f"HOLDS without finite brackets clearing the margin: {small!r} + {v.margin!r} vs {large!r}")
    if st is Status.VIOLATED:
        low, high = _violation_sides(v)
        if not (math.isfinite(low) and math.isfinite(high) and low - v.margin > high):
            bad.append(f"VIOLATED without finite brackets beyond the margin: {low!r} - {v.margin!r} vs {high!r}")
    if st in (Status.HOLDS, Status.VIOLATED) and v.tier is Tier.CERTIFIED:
        # A point value may itself be the bracket it decides from (an adversary's value is an upper bound),
        # but a certified verdict whose every bracket collapses to its points bounds nothing it can name.
        if (v.observed_lower, v.observed_upper, v.bound_lower, v.bound_upper) == (v.observed, v.observed,
                                                                                  v.bound, v.bound):
            bad.append("a decided certified verdict with point values only: which side do its numbers bound?")
    if _STRENGTH[v.tier] < _STRENGTH[registered_tier]:
        bad.append(f"tier {v.tier.value} is weaker than the registered tier {registered_tier.value}")
    return bad


def _specific_failures(variant_id, v):
    """The bracket each of these variants must use (module docstring)."""
    e = v.extra
    bad = []
    decided = v.status in (Status.HOLDS, Status.VIOLATED)
    if variant_id == "lemma-5.1/stated" and decided:
        if "perturbation_lower" not in e or v.observed_lower != e["perturbation_lower"]:
            bad.append("Lemma 5.1's lower bracket must be the certified perturbation bound over the whole ball")
    if variant_id == "lemma-5.3/stated" and str(e.get("evaluated_at", "")).startswith("path"):
        energy = e.get("kl_bracket_max", [math.nan, math.nan])[1]
        # The upper bracket is the energy record with the largest mean + z se, so within z se of the largest mean.
        if not v.observed_upper + DEFAULT_Z * v.stderr >= energy:
            bad.append(f"Lemma 5.3 on a path must read the energy upper bound {energy!r}, "
                       f"not {v.observed_upper!r}")
        if "kl_moment_lower" not in e or v.observed_lower != pytest.approx(e["kl_moment_lower"]):
            bad.append("Lemma 5.3's lower bracket on a path must be the moment-matched KL")
    if variant_id == "theorem-4.4/stated" and not e.get("P_admissible", False):
        if v.status is Status.VIOLATED or not v.undecidable:
            bad.append("Theorem 4.4 at a P not known to be admissible must be undecidable")
    return bad


@pytest.mark.parametrize("variant_id", sorted(_VARIANTS))
def test_every_verdict_decides_from_the_right_side_of_its_brackets(variant_id):
    var = _VARIANTS[variant_id]
    failures = []
    for case, v in _verdicts(variant_id):
        if v.status is Status.PREMISE_FAILED:
            continue
        for why in _generic_failures(v, var.tier) + _specific_failures(variant_id, v):
            failures.append(f"{why}\n    {v.explain()}")
    assert not failures, "\n".join(failures)


def test_the_specific_rules_cover_registered_variants():
    """The variants the specific rules name exist (a rename would silently switch a rule off)."""
    for vid in ("lemma-5.1/stated", "lemma-5.3/stated", "theorem-4.4/stated"):
        assert vid in _VARIANTS and _VARIANTS[vid].examples


#: Variants cheap enough to also check on a few generated cases (seconds each under ci).
_GENERATED = ("lemma-5.1/stated", "lemma-5.3/stated")


@pytest.mark.parametrize("variant_id", _GENERATED)
def test_generated_verdicts_decide_from_the_right_side(variant_id):
    from hypothesis import HealthCheck, given, settings

    var = _VARIANTS[variant_id]
    seen = []

    @settings(max_examples=3, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(var.strategy())
    def run(case):
        v = var.check(case)
        seen.append(v.status)
        if v.status is not Status.PREMISE_FAILED:
            bad = _generic_failures(v, var.tier) + _specific_failures(variant_id, v)
            assert not bad, "\n".join(bad) + "\n" + v.explain()

    run()
    assert seen                                     # the strategy produced cases
