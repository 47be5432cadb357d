"""Calibration of the estimated-tier verdict rule on synthetic claims with a known truth.

See docs/verdicts.md#estimated-verdicts.

The claim ``E[X] <= bound`` about ``X ~ N(mu, sigma^2)`` is checked the way every estimated-tier
claim is: a Monte Carlo mean of ``m`` draws with its standard error ``se = s / sqrt(m)`` (``s`` the
sample standard deviation), judged by :class:`~checks.verdict.Verdict`: VIOLATED only when the excess
``mean - bound`` exceeds ``z`` standard errors (z = 5) *and* a confirmation run with a fresh seed
and ``4m`` draws exceeds its own ``z`` standard errors; HOLDS only when the mean is ``z`` standard
errors *below* the bound (the mirror image: an upper confidence bound of the left side below the
right side); otherwise INCONCLUSIVE.

The true gap is set in units of the first run's exact standard error ``sigma / sqrt(m)``:
``gap_se = (bound - mu) / (sigma / sqrt(m))``, positive for a true claim.  With
``T = (mean - bound) / se``, which follows a noncentral t distribution with ``m - 1`` degrees of
freedom and noncentrality ``-gap_se``, the exact probability of a VIOLATED verdict is::

    P(VIOLATED) = P(T_1 > z) * P(T_2 > z),   T_1 ~ nct(m - 1, -gap_se),  T_2 ~ nct(4m - 1, -2 gap_se)

(the confirmation's standard error is half the first one's, so the same gap is twice as many of its
standard errors).  :meth:`MeanClaim.violation_probability` evaluates it with scipy, and
:meth:`MeanClaim.holds_probability` the mirror ``P(HOLDS) = P(T_1 <= -z)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Dict, Mapping, Tuple

import numpy as np
from hypothesis import strategies as st

from theory._validation import check_int, check_positive, check_rng
from theory.errors import DomainError

from .registry import Claim, Expected, Variant
from .strategies import seeds
from .verdict import DEFAULT_Z, Status, Tier, Verdict

__all__ = ["CALIBRATION_CLAIM", "MeanClaim", "check_mean_case", "mean_variant"]

CALIBRATION_CLAIM = Claim(
    id="calibration-mean", paper_ref="(synthetic)", family="calibration",
    statement="E[X] <= bound for X ~ N(mu, sigma^2), estimated by a Monte Carlo mean of m draws",
    premises=("the gap (bound - mu) is known, in units of sigma / sqrt(m)",))


@dataclass(frozen=True)
class MeanClaim:
    """``E[X] <= bound`` with ``X ~ N(bound - gap_se * sigma / sqrt(m), sigma^2)`` (module docstring)."""

    gap_se: float
    m: int = 100
    sigma: float = 1.0
    bound: float = 0.0
    z: float = DEFAULT_Z
    confirm_factor: int = 4

    def __post_init__(self):
        if not math.isfinite(float(self.gap_se)):
            raise DomainError(f"gap_se must be finite, got {self.gap_se!r}")
        check_int("m", self.m, minimum=2)
        check_positive("sigma", self.sigma)
        check_positive("z", self.z)
        check_int("confirm_factor", self.confirm_factor, minimum=1)
        if not math.isfinite(float(self.bound)):
            raise DomainError(f"bound must be finite, got {self.bound!r}")

    @property
    def mu(self) -> float:
        """The true mean of X."""
        return self.bound - self.gap_se * self.sigma / math.sqrt(self.m)

    @property
    def is_true(self) -> bool:
        return self.gap_se >= 0

    def estimate(self, rng: np.random.Generator, runs: int, factor: int = 1) -> Tuple[np.ndarray, np.ndarray]:
        """``runs`` independent Monte Carlo means of ``factor * m`` draws and their standard errors.

        Returns ``(means (runs,), se (runs,))``; one ``(runs, factor*m)`` block of normal draws.
        """
        rng = check_rng("rng", rng)
        n = factor * self.m
        x = rng.normal(self.mu, self.sigma, size=(check_int("runs", runs), n))
        return x.mean(axis=1), x.std(axis=1, ddof=1) / math.sqrt(n)

    def verdict(self, mean: float, se: float, case: Mapping[str, Any], confirmation=None) -> Verdict:
        return Verdict(claim=f"{CALIBRATION_CLAIM.id}/gap{self.gap_se:+g}", observed=float(mean),
                       bound=self.bound, relation="<=", tier=Tier.ESTIMATED, stderr=float(se),
                       tolerance=0.0, tolerance_reason="unbiased estimator: noise only, no bias",
                       z=self.z, case=dict(case), confirmation=confirmation,
                       extra={"true_mean": self.mu, "m": self.m})

    def case(self, seed: int) -> Dict[str, Any]:
        return {"seed": int(seed), "gap_se": float(self.gap_se), "m": int(self.m), "sigma": float(self.sigma),
                "bound": float(self.bound), "z": float(self.z), "confirm_factor": int(self.confirm_factor)}

    def check(self, seed: int) -> Verdict:
        """One case: a run from ``seed``, confirmed with an independent child seed and ``4m`` draws."""
        first_ss, confirm_ss = np.random.SeedSequence(int(seed)).spawn(2)
        mean, se = (a[0] for a in self.estimate(np.random.default_rng(first_ss), 1))
        confirmation = None
        if mean - self.bound > self.z * se:  # a confirmation run is only paid for when needed
            cm, cs = (a[0] for a in self.estimate(np.random.default_rng(confirm_ss), 1, self.confirm_factor))
            confirmation = self.verdict(cm, cs, {**self.case(seed), "confirmation": True})
        return self.verdict(mean, se, self.case(seed), confirmation)

    def simulate(self, rng: np.random.Generator, runs: int) -> Dict[str, int]:
        """Status counts of ``runs`` independent cases, the draws vectorised over the runs."""
        means, ses = self.estimate(rng, runs)
        cmeans, cses = self.estimate(rng, runs, self.confirm_factor)
        counts = {s.value: 0 for s in Status}
        for i in range(runs):
            conf = self.verdict(cmeans[i], cses[i], {"run": i, "confirmation": True})
            counts[self.verdict(means[i], ses[i], {"run": i}, conf).status.value] += 1
        return counts

    def violation_probability(self) -> float:
        """Exact P(VIOLATED) of one case (module docstring: product of two noncentral t tails)."""
        from scipy.stats import nct

        first = nct.sf(self.z, self.m - 1, -self.gap_se)
        n2 = self.confirm_factor * self.m
        confirm = nct.sf(self.z, n2 - 1, -self.gap_se * math.sqrt(self.confirm_factor))
        return float(first * confirm)

    def holds_probability(self) -> float:
        """Exact P(HOLDS) = P(mean + z se <= bound) = P(T_1 <= -z), T_1 ~ nct(m - 1, -gap_se)."""
        from scipy.stats import nct

        return float(nct.cdf(-self.z, self.m - 1, -self.gap_se))


def check_mean_case(case: Mapping[str, Any]) -> Verdict:
    """The check of :func:`mean_variant`: rebuild the claim from the case and run it."""
    params = {k: case[k] for k in ("gap_se", "m", "sigma", "bound", "z", "confirm_factor") if k in case}
    return MeanClaim(**params).check(int(case["seed"]))


def mean_variant(claim: MeanClaim, name: str, expected: Expected, max_examples: int = 20) -> Variant:
    """A runnable (unregistered) variant of ``claim`` for the runner, the CLI and the report."""
    if not isinstance(claim, MeanClaim):
        raise TypeError(f"claim must be a MeanClaim, got {type(claim).__name__}")
    return Variant(claim=CALIBRATION_CLAIM, name=name, expected=expected, tier=Tier.ESTIMATED,
                   description=f"synthetic mean claim, true gap {claim.gap_se:+g} se",
                   strategy=lambda: st.builds(claim.case, seeds()), check=check_mean_case,
                   max_examples=max_examples, finding="synthetic" if expected is Expected.KNOWN_FINDING else None)
