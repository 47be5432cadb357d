"""Unit tests of the Lemma 5.4 checks (checks/lemma_5_4.py; docs/claims.md#lemma-54, E6).

The generic search over the registry lives in tests/test_claims.py; here each check function is
pinned to closed-form numbers, the equality case of the sharp form, and the mutant's failure.
"""

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings

from checks.lemma_5_4 import (CLAIM, TRANSLATION, _sides_cached, build_gaussian, build_product, cases,
                              check_corrected, check_stated, mutant_check_sqrt_kl)
from checks.registry import Expected, get_variant
from checks.verdict import Status, Tier

pytestmark = pytest.mark.claim("lemma-5.4")

BIMODAL = {"kind": "product", "coords": [{"type": "mixture", "weights": [1.0, 1.0], "means": [-1.5, 1.5],
                                          "sds": [0.5, 0.5]}]}


def gaussian_case(eigenvalues, mean_norm, seed=0):
    return {"kind": "gaussian", "k": len(eigenvalues), "eigenvalues": list(eigenvalues), "mean_norm": mean_norm,
            "seed": seed}


@pytest.mark.parametrize("k,r,seed", [(1, 0.05, 0), (2, 1.0, 0), (3, 2.5, 7), (4, 4.0, 123)])
def test_translation_gives_ratio_one_in_the_sharp_form(k, r, seed):
    v = check_corrected(gaussian_case([1.0] * k, r, seed))
    # equality within the rounding tolerance: the brackets cannot tell it from a violation (docs/verdicts.md)
    assert v.status is Status.INCONCLUSIVE and v.tier is Tier.EXACT
    # W2 = |mu| and sqrt(2 KL) = |mu| up to rounding of the eigh closed forms.
    assert v.observed == pytest.approx(r, rel=1e-12) and v.bound == pytest.approx(r, rel=1e-12)
    assert abs(v.slack_ratio - 1.0) <= 1e-12 and abs(v.extra["ratio_sharp"] - 1.0) <= 1e-12
    assert "translation" in v.extra["events"]


def test_translation_as_a_1d_product_gives_ratio_one_within_quadrature_tolerance():
    case = {"kind": "product", "coords": [{"type": "mixture", "weights": [1.0], "means": [1.3], "sds": [1.0]}]}
    v = check_corrected(case)
    assert v.status is Status.INCONCLUSIVE  # equality within the quadrature tolerance decides neither side
    assert abs(v.observed - v.bound) <= v.tolerance < 1e-9
    assert v.observed == pytest.approx(1.3, rel=1e-11)


def test_known_gaussian_gives_the_closed_form_numbers():
    """N(m, S), |m| = 1, spectrum (1/4, 4): W2^2 = 1 + 1/4 + 1 and 2 KL = 1 + sum(e - 1 - log e)."""
    case = gaussian_case([0.25, 4.0], 1.0, seed=5)
    m, S = build_gaussian(case)
    np.testing.assert_allclose(np.linalg.eigvalsh(S), [0.25, 4.0], rtol=1e-13)
    assert np.linalg.norm(m) == pytest.approx(1.0, rel=1e-14)
    w2 = math.sqrt(2.25)
    kl = 0.5 * (1.0 + (0.25 - 1 - math.log(0.25)) + (4.0 - 1 - math.log(4.0)))
    s, c = check_stated(case), check_corrected(case)
    assert s.observed == pytest.approx(w2, rel=1e-12) and c.observed == pytest.approx(w2, rel=1e-12)
    assert s.bound == pytest.approx(2 * math.sqrt(kl), rel=1e-12)
    assert c.bound == pytest.approx(math.sqrt(2 * kl), rel=1e-12)
    assert s.status is Status.HOLDS and c.status is Status.HOLDS
    assert s.extra["ratio_stated"] == pytest.approx(w2 / (2 * math.sqrt(kl)), rel=1e-12)


def test_bimodal_mixture_gives_the_reference_numbers():
    """docs/claims.md#lemma-54 [V]: W2 = 0.7252452, sqrt(2 KL) = 1.22788, 2 sqrt(KL) = 1.73649."""
    s, c = check_stated(BIMODAL), check_corrected(BIMODAL)
    assert s.observed == pytest.approx(0.7252452, abs=5e-8)
    assert s.bound == pytest.approx(1.73649, abs=5e-6) and c.bound == pytest.approx(1.22788, abs=5e-6)
    assert s.status is Status.HOLDS and c.status is Status.HOLDS
    assert 0 < s.tolerance < 1e-9  # quadrature errors are ~1e-13
    assert s.extra["gelbrich_lower"] <= s.observed and s.extra["kl_moment_lower"] <= s.extra["KL"]


def test_stated_form_is_loose_by_sqrt2_at_translations():
    v = check_stated(TRANSLATION)
    assert v.status is Status.HOLDS
    assert v.slack_ratio == pytest.approx(math.sqrt(2.0), rel=1e-12)
    assert v.extra["ratio_stated"] == pytest.approx(1.0 / math.sqrt(2.0), rel=1e-12)


def test_mutant_is_violated_on_a_unit_translation():
    v = mutant_check_sqrt_kl(gaussian_case([1.0, 1.0, 1.0], 1.0, seed=3))
    assert v.status is Status.VIOLATED
    assert v.observed == pytest.approx(1.0, rel=1e-12) and v.bound == pytest.approx(math.sqrt(0.5), rel=1e-12)


def test_p_equal_p0_is_inconclusive_not_a_pass_or_fail():
    v = check_corrected(gaussian_case([1.0], 0.0))
    assert v.status is Status.INCONCLUSIVE and "rounding" in v.reason


def test_pushforward_coords_build_monotone_measures():
    case = {"kind": "product", "coords": [
        {"type": "pushforward", "map": "tanh", "shift": 0.5, "scale": 0.4, "a": -0.9 * 0.4 / 3.0, "b": 3.0},
        {"type": "pushforward", "map": "cubic", "shift": -1.0, "scale": 1.5, "a": 0.3, "b": 0.0}]}
    ms = build_product(case)
    assert ms[0].mean == pytest.approx(0.5, abs=1e-12) and ms[1].mean == pytest.approx(-1.0, abs=1e-12)
    v = check_corrected(case)
    assert v.status is Status.HOLDS and 0 < v.extra["ratio_sharp"] < 1


def test_unknown_case_kind_is_an_error():
    with pytest.raises(ValueError, match="case\\['kind'\\]"):
        check_stated({"kind": "cauchy"})
    with pytest.raises(ValueError, match="coord type"):
        build_product({"kind": "product", "coords": [{"type": "laplace"}]})


@settings(max_examples=8)
@given(cases())
def test_cases_replay_from_their_json(case):
    replayed = json.loads(json.dumps(case))
    a, b = check_stated(case), check_stated(replayed)
    assert (a.observed, a.bound, a.status) == (b.observed, b.bound, b.status)
    assert a.status in (Status.HOLDS, Status.INCONCLUSIVE)
    assert a.extra["ratio_stated"] <= 1 / math.sqrt(2) + 1e-9  # the sharp constant bounds the stated ratio


def test_variants_are_registered_with_the_equality_example():
    for name in ("stated", "corrected"):
        v = get_variant(f"{CLAIM.id}/{name}")
        assert v.expected is Expected.HOLDS and v.tier is Tier.EXACT and CLAIM.family == "divergences"
        assert TRANSLATION in v.examples


def test_unconverged_quadrature_makes_the_verdict_inconclusive(monkeypatch):
    import theory.divergences as dv

    monkeypatch.setattr(dv, "_QUAD_RTOL", 1e-30)  # unreachable: every quadrature stops unconverged
    monkeypatch.setattr(dv, "_QUAD_ATOL", 0.0)
    monkeypatch.setattr(dv, "_QUAD_MAX_SUBDIVISIONS", 3)
    case = {"kind": "product", "coords": [{"type": "mixture", "weights": [1.0], "means": [0.7], "sds": [1.4]}]}
    try:
        v = check_stated(case)
    finally:
        _sides_cached.cache_clear()  # do not leave the unconverged sides in the shared cache
    assert v.status is Status.INCONCLUSIVE and "did not reach" in v.reason


def test_stated_is_decided_at_translations():
    """The stated constant 2 leaves a sqrt(2) margin at the sharp form's equality cases: decided HOLDS there."""
    v = check_stated(gaussian_case([1.0, 1.0], 1.0))
    assert v.status is Status.HOLDS and v.slack_ratio == pytest.approx(math.sqrt(2.0), rel=1e-12)
