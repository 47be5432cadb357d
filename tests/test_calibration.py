"""Calibration of the estimated-tier verdict rule (checks/calibration.py, docs/verdicts.md).

Synthetic claims ``E[X] <= bound`` with a known gap, checked by a Monte Carlo mean of m = 100 draws,
z = 5, confirmation with a fresh seed and 4m draws.  Exact rates (noncentral t, module docstring of
checks/calibration.py; evaluated by ``MeanClaim.violation_probability``):

* true claim, mean 3 se below the bound:  P(VIOLATED) = 2.1e-14 * 3.3e-16 = 7e-30 per case;
* true claim exactly at the bound (the worst true case): 1.24e-6 * 4.3e-7 = 5.3e-13 per case, so
  over 2000 seeds the false-alarm probability is 1.1e-9 (without the confirmation it would be 2.5e-3);
* false claim, mean 8 se above the bound: P(VIOLATED) = nct.sf(5, 99, 8) * nct.sf(5, 399, 16)
  = 0.99772 * (1 - 1e-26) = 0.99772 (a normal approximation gives Phi(3) = 0.99865; the t tails of the
  estimated se cost the rest).  The number of misses in 2000 seeds is Binomial(2000, 0.00228), mean 4.6;
  the test allows 20 (>= 99% flagged): P(misses > 20) = binom.sf(20, 2000, 0.00228) = 1.7e-8.
* HOLDS is the mirror image: the mean 5 se below the bound, P(HOLDS) = nct.cdf(-5, 99, -gap_se):
  0.030 at 3 se (a true claim that close is mostly INCONCLUSIVE), 1 - 1.2e-6 at 10 se, 1.2e-6 at 0.
"""

import math

import numpy as np
import pytest
from scipy.stats import binom, nct, norm

from checks.calibration import MeanClaim, check_mean_case, mean_variant
from checks.registry import Expected
from checks.runner import run_variant
from checks.verdict import Status, Tier
from theory.errors import DomainError

SEEDS = range(2000)
TRUE_3SE = MeanClaim(gap_se=3.0)
AT_BOUND = MeanClaim(gap_se=0.0)
FALSE_8SE = MeanClaim(gap_se=-8.0)
TRUE_10SE = MeanClaim(gap_se=10.0)


def _statuses(claim, seeds=SEEDS):
    counts = {s.value: 0 for s in Status}
    for seed in seeds:
        counts[claim.check(seed).status.value] += 1
    return counts


def test_exact_rates_quoted_in_the_docstring():
    assert TRUE_3SE.holds_probability() == pytest.approx(0.0305, abs=0.0005)
    assert 1 - TRUE_10SE.holds_probability() == pytest.approx(1.2e-6, rel=0.05)
    assert AT_BOUND.holds_probability() == pytest.approx(1.24e-6, rel=0.01)   # = P(T_1 > 5) by symmetry
    assert TRUE_3SE.violation_probability() == pytest.approx(7.1e-30, rel=0.01)
    assert AT_BOUND.violation_probability() == pytest.approx(5.34e-13, rel=0.01)
    p = FALSE_8SE.violation_probability()
    assert p == pytest.approx(0.99772, abs=1e-5)
    # The product form: confirmation at 4m sees twice the gap in its own (halved) standard errors.
    assert p == pytest.approx(nct.sf(5, 99, 8) * nct.sf(5, 399, 16), rel=1e-12)
    assert binom.sf(20, 2000, 1 - p) == pytest.approx(1.7e-8, rel=0.05)


def test_true_claims_are_never_flagged_over_2000_seeds():
    for claim in (TRUE_3SE, AT_BOUND):
        counts = _statuses(claim)
        assert counts["VIOLATED"] == 0, (claim, counts)   # false alarm over 2000 seeds <= 1.1e-9
    # HOLDS needs the estimate z standard errors below the bound: P = nct.cdf(-z, m - 1, -gap).
    # |count - 2000 p| <= 5 sd, sd = sqrt(2000 p (1 - p)); false alarm ~6e-7.
    for claim in (TRUE_3SE, AT_BOUND, TRUE_10SE):
        p = claim.holds_probability()
        n_holds = _statuses(claim, range(2000, 4000))["HOLDS"]
        assert abs(n_holds - 2000 * p) <= 5 * math.sqrt(2000 * p * (1 - p)) + 1e-9, (claim, n_holds)


def test_false_claim_is_flagged_in_99_percent_of_seeds():
    counts = _statuses(FALSE_8SE)
    assert counts["VIOLATED"] >= 0.99 * len(SEEDS), counts   # P(fail) = 1.7e-8 (module docstring)
    assert counts["HOLDS"] == 0   # the estimate below the bound needs an 8 se deviation: P = 6e-16 per seed


def test_vectorised_power_matches_the_exact_rate():
    """20000 vectorised runs: the VIOLATED fraction is within 5 se of the exact power (false alarm ~6e-7)."""
    runs = 20000
    p = FALSE_8SE.violation_probability()
    counts = FALSE_8SE.simulate(np.random.default_rng(20260101), runs)
    se = math.sqrt(p * (1 - p) / runs)
    assert abs(counts["VIOLATED"] / runs - p) <= 5 * se, (counts, p, se)
    # A borderline false claim (gap -5 se): first-stage power nct.sf(5, 99, 5) = 0.505 -- the rule
    # trades power at the edge for never flagging noise.
    edge = MeanClaim(gap_se=-5.0)
    q = edge.violation_probability()
    c = edge.simulate(np.random.default_rng(7), runs)
    assert abs(c["VIOLATED"] / runs - q) <= 5 * math.sqrt(q * (1 - q) / runs), (c, q)
    assert c["HOLDS"] / runs == pytest.approx(norm.cdf(-5.0), abs=1e-3)


def test_a_case_replays_and_names_its_sizes():
    v = FALSE_8SE.check(123)
    again = check_mean_case(dict(v.case))
    assert again == v
    assert v.tier is Tier.ESTIMATED and v.case["m"] == 100 and v.confirmation.case["confirmation"] is True
    assert v.confirmation.stderr == pytest.approx(v.stderr / 2, rel=0.2)   # 4m draws halve the se
    assert TRUE_3SE.check(5).confirmation is None   # no confirmation is paid for when not needed


def test_mean_variant_runs_through_the_runner():
    r = run_variant(mean_variant(FALSE_8SE, "false", Expected.COUNTEREXAMPLE, max_examples=5),
                    profile="ci", record=False)
    assert r.outcome == "pass", r.message
    r = run_variant(mean_variant(TRUE_10SE, "true", Expected.HOLDS, max_examples=20), profile="ci", record=False)
    assert r.outcome == "pass" and r.counts["VIOLATED"] == 0 and r.decided >= 19
    # 3 se below the bound: true, but the evidence rarely decides it (P(HOLDS) = 0.030 per case)
    r = run_variant(mean_variant(TRUE_3SE, "near", Expected.HOLDS, max_examples=20), profile="ci", record=False)
    assert r.counts["VIOLATED"] == 0 and r.outcome in ("pass", "inconclusive")
    assert (r.outcome == "pass") == (r.decided >= 1)


@pytest.mark.parametrize("kw, error, match", [
    (dict(gap_se=math.nan), DomainError, "gap_se must be finite"),
    (dict(gap_se=1.0, m=1), DomainError, "m must be >= 2"),
    (dict(gap_se=1.0, m=2.5), TypeError, "m must be an integer"),
    (dict(gap_se=1.0, sigma=0.0), DomainError, "sigma must be > 0"),
    (dict(gap_se=1.0, z=-1.0), DomainError, "z must be > 0"),
    (dict(gap_se=1.0, confirm_factor=0), DomainError, "confirm_factor must be >= 1"),
    (dict(gap_se=1.0, bound=math.inf), DomainError, "bound must be finite"),
])
def test_bad_parameters(kw, error, match):
    with pytest.raises(error, match=match):
        MeanClaim(**kw)


def test_bad_arguments():
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator"):
        TRUE_3SE.estimate("seed", 3)
    with pytest.raises(DomainError, match="runs must be >= 1"):
        TRUE_3SE.estimate(np.random.default_rng(0), 0)
    with pytest.raises(TypeError, match="claim must be a MeanClaim"):
        mean_variant(3.0, "x", Expected.HOLDS)
