"""Run my lemma as pytest tests:  pytest --claims-module my_lemma.py test_my_lemma.py

``claim_tests`` gives one real Hypothesis test per variant (statistics with
``--hypothesis-show-statistics``, ``--hypothesis-seed`` under ``--hypothesis-profile dev``, the
falsifying example and its reproduce blob when a claim fails); ``parametrize_with_claims`` and
``check_claim`` are the plain-pytest form, like scikit-learn's ``parametrize_with_checks``.
"""

import pytest

from checks import ClaimCheckFailed, check_claim, claim_tests, parametrize_with_claims, variants

test_claim = claim_tests(variants(["my-rayleigh/stated"]))


@parametrize_with_claims(variants(["my-rayleigh/probe"]))
def test_probe_finds_its_counterexample(variant):
    result = check_claim(variant)
    assert result.counterexample["status"] == "VIOLATED"


def test_a_false_lemma_declared_true_is_caught():
    """The probe's claim declared HOLDS fails, with the shrunk case in the message."""
    import dataclasses

    from checks import Expected

    (probe,) = variants(["my-rayleigh/probe"])
    wrong = dataclasses.replace(probe, name="wrongly-declared", expected=Expected.HOLDS)
    with pytest.raises(ClaimCheckFailed, match="violation found"):
        check_claim(wrong, record=False)
