"""Test your own claims, or your own code against our oracles, in your own repository.

In the spirit of scikit-learn's ``check_estimator`` / ``parametrize_with_checks``:

* :func:`check_claim` runs one variant (object or id) under a profile and raises
  :class:`ClaimCheckFailed` unless it met its declared outcome; it returns the
  :class:`~checks.runner.VariantResult`.
* :func:`parametrize_with_claims` parametrizes a pytest test over variants, one test per variant
  with the pytest id ``lemma_5_5-probe`` and the ``claim(id)`` marker::

      @parametrize_with_claims(variants(["my-lemma"]))
      def test_my_lemma(variant):
          check_claim(variant)

* :func:`claim_tests` is the Hypothesis-native form the claim suite uses: with the gntk-checks
  pytest plugin, ``test_claim = claim_tests(variants())`` in a test module collects one real
  ``@given`` test per variant (``test_claim[lemma_5_5-probe]``), so ``--hypothesis-show-statistics``,
  ``--hypothesis-seed``, ``--hypothesis-verbosity``, the "Falsifying example" and
  ``@reproduce_failure`` output, and fuzzers driving ``.hypothesis.fuzz_one_input`` all reach the
  claim.  Probes and known findings pass when their counterexample is found.

A variant is run at most once per pytest session (the plugin deselects a second test of the same
variant id); the outcome ``inconclusive`` fails unless ``--allow-inconclusive`` is given, where it
is reported as an expected failure (xfail) with its reason.
"""

from __future__ import annotations

from typing import Callable, Iterable, List, Optional, Sequence, Union

from .registry import Expected, Variant, get_variant
from .runner import CounterexampleFound, VariantResult, as_hypothesis_test

__all__ = ["ClaimCheckFailed", "ClaimInconclusive", "check_claim", "parametrize_with_claims", "claim_tests",
           "ClaimTests", "claim_item_test"]


class ClaimCheckFailed(AssertionError):
    """A claim variant did not meet its declared outcome (the result is in ``.result``)."""

    def __init__(self, result: VariantResult):
        super().__init__(f"{result.variant_id} [{result.expected}]: {result.outcome}: {result.message}")
        self.result = result


class ClaimInconclusive(ClaimCheckFailed):
    """A variant expected to hold saw fewer decided verdicts than it declares it needs."""


def _as_variant(variant_or_id: Union[Variant, str]) -> Variant:
    if isinstance(variant_or_id, Variant):
        return variant_or_id
    if isinstance(variant_or_id, str):
        return get_variant(variant_or_id)
    raise TypeError(f"variant_or_id must be a Variant or a variant id, got {type(variant_or_id).__name__}")


def _raise_for(result: VariantResult, raised: Optional[BaseException], allow_inconclusive: bool) -> None:
    """Raise what the run's outcome calls for (nothing for ``pass``)."""
    if result.outcome == "pass":
        return
    if result.outcome == "inconclusive":
        if allow_inconclusive:
            return
        raise ClaimInconclusive(result)
    if raised is not None and result.outcome == "error":
        raise raised
    # chained, so that a violation shows Hypothesis's "Falsifying example" and reproduce blob
    raise ClaimCheckFailed(result) from raised


def claim_item_test(variant: Variant, *, profile: Optional[str] = None, allow_inconclusive: bool = False,
                    record: bool = True, on_inconclusive: Optional[Callable[[VariantResult], None]] = None):
    """The pytest test of one variant: its Hypothesis test, judged against the declared outcome.

    The returned function keeps the Hypothesis test's attributes (``is_hypothesis_test``,
    ``.hypothesis.fuzz_one_input``, its settings), so the Hypothesis pytest plugin treats it as one.
    ``on_inconclusive`` (e.g. ``pytest.xfail``) is called with the result instead of passing.
    """
    import functools

    test = as_hypothesis_test(variant, profile=profile, record=record)

    @functools.wraps(test)
    def claim_test():
        raised = None
        try:
            test()
        except CounterexampleFound as exc:
            raised = exc
            if variant.expected is Expected.HOLDS:
                raise   # Hypothesis's own failure report: the falsifying case and its blob
        except Exception as exc:  # noqa: BLE001 - an error of the check: raised as itself below
            raised = exc
        result = test.gntk_search.result
        if result.outcome == "inconclusive" and on_inconclusive is not None:
            on_inconclusive(result)
        _raise_for(result, raised, allow_inconclusive)

    return claim_test


def check_claim(variant_or_id: Union[Variant, str], *, profile: Optional[str] = None,
                allow_inconclusive: bool = False, record: bool = True) -> VariantResult:
    """Run one claim variant and raise unless it met its declared outcome.

    Parameters
    ----------
    variant_or_id : Variant or str
        A variant, or a registered variant id (``"lemma-5.5/probe"`` or ``"lemma_5_5-probe"``).
    profile : str or None
        ``ci``, ``dev``, ``hunt`` or ``soak``; None: the loaded profile if it is one of these, else
        ``$GNTK_PROFILE`` or ``ci``.
    allow_inconclusive : bool
        Return instead of raising when the outcome is ``inconclusive``.
    record : bool
        Append the result to :data:`checks.runner.RESULTS` (the session's report).

    Returns
    -------
    VariantResult

    Raises
    ------
    ClaimCheckFailed
        The outcome is ``fail`` (chained from Hypothesis's falsifying report when the search found a
        violation of a claim expected to hold) or ``inconclusive`` (:class:`ClaimInconclusive`).
    Exception
        An error raised by the variant's check, as itself.
    """
    variant = _as_variant(variant_or_id)
    test = as_hypothesis_test(variant, profile=profile, record=record)
    raised = None
    try:
        test()
    except Exception as exc:  # noqa: BLE001 - judged below from the recorded result
        raised = exc
    result = test.gntk_search.result
    _raise_for(result, raised, allow_inconclusive)
    return result


def _params(variants: Iterable[Union[Variant, str]]):
    import pytest

    vs = [_as_variant(v) for v in variants]
    return vs, [pytest.param(v, marks=pytest.mark.claim(v.id), id=v.pytest_id) for v in vs]


def parametrize_with_claims(variants: Iterable[Union[Variant, str]]):
    """A pytest decorator: one test per variant, argument ``variant``, id ``lemma_5_5-probe``."""
    import pytest

    _, params = _params(variants)
    return pytest.mark.parametrize("variant", params)


class ClaimTests:
    """What :func:`claim_tests` returns: collected by the gntk-checks pytest plugin as one
    Hypothesis test per variant, named ``<attribute>[<pytest id>]``."""

    def __init__(self, variants: Sequence[Variant], profile: Optional[str] = None):
        self.variants: List[Variant] = [_as_variant(v) for v in variants]
        self.profile = profile

    def __call__(self):  # pragma: no cover - only reached without the plugin
        raise RuntimeError("claim_tests() objects are collected by the gntk-checks pytest plugin "
                           "(entry point gntk_checks); it is not loaded (-p no:gntk_checks?)")


def claim_tests(variants: Iterable[Union[Variant, str]], *, profile: Optional[str] = None) -> ClaimTests:
    """One real ``@given`` test per variant, collected by the pytest plugin (module docstring)."""
    return ClaimTests(list(variants), profile)
