"""The paper's headline at t = infinity, exactly (docs/claims.md#headline): p* against kernel ridge regression
and the alpha-rates of Theorem 4.4's floor and KL, from the Gibbs oracle and the exact Gram (tier E).

Variants (claim id ``headline``; checks/expectations.py)
    headline/krr       as alpha grows, f(p*) on the training inputs approaches kernel ridge regression with
                       the Gram H2(p0) and the ridge mu = lam n / (2 alpha^2) that (3.5) implies (derived in
                       :mod:`theory.ridge`); the relative gap |r* - r_krr| / |r*| shrinks, at a fitted exponent
                       (about -2) with a 95% interval.  Holds when the interval lies below 0.  The gap to ridge
                       regression with the full NTK Gram H = H1 + H2 is reported beside it: it does not shrink,
                       which says H2, not H, governs p*.
    headline/loss-rate L(p*) decays in alpha at least as fast as Theorem 4.4's floor 2 A1^2 lam^2 alpha^-2
                       lambda0^-4, i.e. with an exponent <= -2 (it is about -4: r* = O(alpha^-2), E16).
    headline/kl-rate   KL(p* || p0) decays like Lemma 5.3's alpha^-2 (exponent <= -2; it tends to
                       y^T H2^-1 y / (2 alpha^2)).

Each exponent is fitted over two decades of alpha, from the alpha where kr = alpha^2 lambda_min(H2)/(lam n)
is ``kr_lo`` (the kernel term dominates the ridge) upwards, on five half-decade points; the rates use the
asymptotic form y ~ C alpha^p (1 + b1 alpha^-2 + b2 alpha^-4) (the gap too) so that the onset points
do not bias p.  An exponent claim
``p <= p_paper`` HOLDS when the interval reaches p_paper (contains it or lies below: the decay is at least
the paper's), is VIOLATED when the whole interval lies above it, and is INCONCLUSIVE when fewer than two
decades are resolved above the oracle's refinement error.  Fitted exponents, intervals and the series
are in ``Verdict.extra`` (keys ``exponent``, ``exponent_ci95``, ``alphas``, ``series``, ``paper_exponent``).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Mapping

import numpy as np
from hypothesis import strategies as st

from theory.kernels import gram_p0
from theory.rates import fit_power_law
from theory.ridge import kernel_ridge_residual, relative_gap, ridge_from_gibbs

from ._dynamics_common import _ctx, _data, _data_key, _gibbs_cached, _guard, _plain
from .registry import Claim, Expected, Variant, register
from .profiles import budget
from .strategies import activation_specs, dataset_cases, log_uniform
from .verdict import Tier, Verdict

__all__ = ["HEADLINE", "ridge_cases", "check_krr", "check_loss_rate", "check_kl_rate", "EXAMPLE_RIDGE", "MUTANTS",
           "judged_further_out"]

HEADLINE = Claim("headline", "Abstract, Section 1, Theorem 4.4 and its remark",
                 "noisy GD with weight decay trains like a kernel method: p* approaches kernel ridge regression "
                 "as alpha grows, the loss floor and KL(p || p0) shrink like alpha^-2, Lambda = Omega(n^-2), and "
                 "the parameters move while the distribution stays close to p0",
                 ("Assumptions 4.1-4.3",), family="headline")

#: alpha / alpha_lo: two decades in half-decade steps.
_FACTORS = tuple(10.0 ** (k / 2.0) for k in range(5))
#: Corrections of the asymptotic power laws: every quantity here is a series in kr^-1 ∝ alpha^-2 at large
#: alpha (theory/ridge.py), so y ~ C alpha^p (1 + b1 alpha^-2 + b2 alpha^-4); with one term only, the onset
#: points pulled KL's fitted exponent to -1.976 [-1.983, -1.969] on a case where alpha^2 KL rises
#: monotonically to its limit (KL = O(alpha^-2) exactly), a spurious "violation".
_CORRECTIONS = (2.0, 4.0)
#: Decades a fit must resolve before its exponent decides anything.
_MIN_DECADES = 1.99
#: (n range, minimum angle) per profile.  ci generates small cases (n <= 10 at 15 degrees: every oracle
#: solve refines, about 0.1 s) and runs the n = 20 example; dev and hunt draw up to the 34 inputs that fit in
#: a half-plane at 5 degrees (d = 2 is where the oracle is exact; n = 50 would need d = 3, where its tensor
#: rule does not refine to 1e-6).  At n = 20 and 5 degrees most datasets leave the oracle unrefined below
#: kr ~ 100 (max|s| ~ 24): their verdicts are INCONCLUSIVE, never evidence.
_N = {"ci": ((6, 10), 15.0), "dev": ((8, 20), 5.0), "hunt": ((8, 34), 5.0)}


def ridge_cases():
    """Exact t = inf cases: d = 2 (the Gibbs oracle's tensor rule is exact at rank 2), n and separation by
    profile (:data:`_N`), radii in [0.5, 1], lam in [0.1, 1], and ``kr_lo`` in [0.5, 2]: the fit starts
    at the onset (the kernel term about the ridge) because the oracle's refinement error, about 1.5e-5 of
    |r*|, leaves two decades of a gap falling like alpha^-2 only from a gap of order one.  Smaller lam n or
    separation make the tilt exp(s^2/2) too peaked for the oracle's rule (max|s| ~ 25 at lam = 0.01, 3
    degrees: its refinement fails at every alpha), and those points are unresolved, never evidence."""
    n, angle = _N.get(budget().name, _N["ci"])
    return st.builds(lambda data, act, kw: {**data, "act": act, **kw},
                     dataset_cases(n=n, d=(2, 2), r_min=0.5, min_angle_deg=angle),
                     activation_specs(c=(0.5, 2.0), s=(0.5, 2.0)),
                     st.fixed_dictionaries({"lam": log_uniform(0.1, 1.0), "kr_lo": log_uniform(0.5, 2.0)}))


def _alphas(case) -> np.ndarray:
    ctx = _ctx(case, alpha=1.0)
    a_lo = math.sqrt(float(case["kr_lo"]) * ctx.lam * ctx.n / ctx.kc.lambda_min_H2)
    return a_lo * np.array(_FACTORS)


def _series(case) -> dict:
    """Gap to ridge with H2 and with H, L*, KL* and their refinement errors at each alpha (exact)."""
    ctx = _ctx(case, alpha=1.0)
    X, y, act, _ = _data(_data_key(case))
    g = gram_p0(X, act)
    out = {k: [] for k in ("gap_H2", "gap_H2_err", "gap_H", "loss", "loss_err", "kl", "kl_err", "valid", "mu")}
    for a in _alphas(case):
        ge = _gibbs_cached(_data_key(case), float(a), ctx.lam)
        r = np.asarray(ge.solution.r)
        mu = ridge_from_gibbs(float(a), ctx.lam, ctx.n)
        nr = float(np.linalg.norm(r))
        # |f_K - f_2K| measures the quadrature error of f(p*), hence of r*; the Gram's entry error dH moves
        # r_krr = -mu (H2 + mu)^-1 y by at most n |dH|_max |r_krr| / (lambda_min(H2) + mu) (first-order
        # perturbation of the resolvent).
        ferr = ge.f_error * math.sqrt(ctx.n)
        r_krr = kernel_ridge_residual(g.H2, y, mu)
        krr_err = ctx.n * g.quad_error * float(np.linalg.norm(r_krr)) / (ctx.kc.lambda_min_H2 + mu)
        out["gap_H2"].append(relative_gap(r, r_krr))
        out["gap_H2_err"].append((ferr + krr_err) / nr)
        out["gap_H"].append(relative_gap(r, kernel_ridge_residual(g.H, y, mu)))
        out["loss"].append(ge.loss)
        out["loss_err"].append(2.0 * nr * ferr / ctx.n + ferr ** 2 / ctx.n)
        out["kl"].append(ge.KL)
        out["kl_err"].append(ge.KL_rel_error * abs(ge.KL) + 1e-13)
        out["valid"].append(bool(ge.valid))
        out["mu"].append(mu)
    # A point whose quadrature refinement failed has no trustworthy error estimate: it is unresolved.
    for key in ("gap_H2_err", "loss_err", "kl_err"):
        out[key] = [e if ok else math.inf for e, ok in zip(out[key], out["valid"])]
    return out


def _fit_with_truncation(x, y, err):
    """The fit with :data:`_CORRECTIONS` and its truncation error: how far the exponent moves when the last
    correction term is added (the a-posteriori size of the terms left out; 0 when the shorter fit fails)."""
    fit = fit_power_law(x, y, err, correction=_CORRECTIONS)
    short = fit_power_law(x, y, err, correction=_CORRECTIONS[:-1])
    trunc = abs(fit.slope - short.slope) if fit is not None and short is not None else 0.0
    return fit, trunc


#: A violation of a rate claim must persist this factor further out in kr (10x further in alpha).
_CONFIRM_KR = 100.0


def _exponent_verdict(claim: str, case, x, y, err, paper: float, extra=None, key: str = "") -> Verdict:
    """``exponent <= paper``: HOLDS when the 95% interval, widened by the truncation error, reaches ``paper``
    (contains it or lies below), VIOLATED when it lies above it, INCONCLUSIVE when under two decades resolve.

    The paper's rates are asymptotic (alpha -> inf), and the window's pre-asymptotic part is a bias, not
    noise: a soak found a window whose fitted KL exponent lay above -2 (-1.84 at its lower end; sigmoid,
    n = 6) while alpha^2 KL was still rising to its finite limit.  So, as a particle violation is confirmed at
    4m and dt/2, an exponent above the paper's counts as VIOLATED only if it persists on the window one decade
    further out in alpha (``kr_lo`` x 100); otherwise it is undecidable (INCONCLUSIVE)."""
    v = _exponent_verdict_on(claim, case, x, y, err, paper, extra)
    if not key or v.status.value != "VIOLATED" or case.get("confirmation"):
        return v
    far = {**dict(case), "kr_lo": float(case["kr_lo"]) * _CONFIRM_KR, "confirmation": "window 10x further out"}
    s = _series(far)
    c = _exponent_verdict_on(claim, far, _alphas(far), s[key], s[f"{key}_err"], paper)
    return judged_further_out(v, c, paper, "lower end")


def judged_further_out(v: Verdict, c: Verdict, paper: float, end: str) -> Verdict:
    """An exponent's violation ``v`` judged by ``c``, the same claim one decade further out in alpha (rates
    are asymptotic: the window's onset is a bias, as finite width is for particles).  VIOLATED when ``c``
    shows the excess too (``c`` is itself a confirmation, so its excess is read, not its status); else
    INCONCLUSIVE, pre-asymptotic when ``c`` holds.  ``end``: the interval end ``c.observed`` is."""
    if c.violation_gap > 0 and not (c.inconclusive or c.premise_failed or c.undecidable):
        return dataclasses.replace(v, confirmation=c)
    if c.status.value == "HOLDS":
        why = (f"pre-asymptotic: one decade further out in alpha the exponent's interval reaches the paper's "
               f"{paper:g} ({end} {c.observed:.4g})")
    else:
        why = f"not confirmed: the window one decade further out in alpha is not decided ({c.reason})"
    return dataclasses.replace(v, confirmation=c, undecidable=why)


def _exponent_verdict_on(claim: str, case, x, y, err, paper: float, extra=None) -> Verdict:
    """The verdict of one window (see :func:`_exponent_verdict`)."""
    fit, trunc = _fit_with_truncation(x, y, err)
    extra = {**(extra or {}), "alphas": list(map(float, x)), "series": list(map(float, y)),
             "series_err": list(map(float, err)), "paper_exponent": paper, "fit": None if fit is None else fit.to_dict()}
    if fit is None or fit.decades < _MIN_DECADES:
        dec = 0.0 if fit is None else fit.decades
        return _plain(claim, case, observed=0.0 if fit is None else fit.slope, bound=paper, extra=extra,
                      inconclusive=f"resolved over {dec:.2f} decades of alpha, fewer than two")
    lo, hi = fit.ci[0] - trunc, fit.ci[1] + trunc
    extra.update(exponent=fit.slope, exponent_ci95=list(fit.ci), truncation_error=trunc, interval=[lo, hi])
    # The claim read is "the data allow an exponent <= paper": the interval's lower end against the paper's
    # value (both sides exact numbers from the oracle; the interval is the fit's, widened by its truncation).
    return Verdict(claim=claim, observed=lo, bound=paper, relation="<=", tier=Tier.EXACT, tolerance=0.0,
                   tolerance_reason="exponent claim: the lower end of the fitted exponent's 95% interval, widened "
                   "by the truncation error of the asymptotic expansion", case=dict(case), extra=extra)


@_guard("headline/krr")
def check_krr(case: Mapping[str, Any]) -> Verdict:
    """The gap of f(p*) to kernel ridge regression with H2(p0) shrinks in alpha (its exponent's interval < 0)."""
    s, x = _series(case), _alphas(case)
    fit, trunc = _fit_with_truncation(x, np.array(s["gap_H2"]), np.array(s["gap_H2_err"]))
    extra = {"alphas": x.tolist(), "gap_H2": s["gap_H2"], "gap_H2_err": s["gap_H2_err"], "gap_H": s["gap_H"],
             "ridge_mu": s["mu"], "gibbs_valid": s["valid"], "fit": None if fit is None else fit.to_dict(),
             "n": len(_data(_data_key(case))[1]), "gram": "H2(p0)"}
    if fit is None or fit.decades < _MIN_DECADES:
        return _plain("headline/krr", case, extra=extra, inconclusive="the gap is resolved over fewer than two "
                      "decades of alpha above the Gibbs refinement error")
    lo, hi = fit.ci[0] - trunc, fit.ci[1] + trunc
    extra.update(exponent=fit.slope, exponent_ci95=list(fit.ci), truncation_error=trunc, interval=[lo, hi])
    return Verdict(claim="headline/krr", observed=fit.slope, bound=0.0, relation="<=", tier=Tier.EXACT,
                   observed_lower=lo, observed_upper=hi, tolerance_reason="exact gaps; the bracket is the fitted "
                   "exponent's 95% interval widened by the truncation error of the asymptotic expansion",
                   case=dict(case), extra=extra)


@_guard("headline/loss-rate")
def check_loss_rate(case: Mapping[str, Any]) -> Verdict:
    """L(p*) decays at least like alpha^-2 (Theorem 4.4's floor)."""
    s = _series(case)
    return _exponent_verdict("headline/loss-rate", case, _alphas(case), s["loss"], s["loss_err"], -2.0, key="loss")


@_guard("headline/kl-rate")
def check_kl_rate(case: Mapping[str, Any]) -> Verdict:
    """KL(p* || p0) decays at least like alpha^-2 (Lemma 5.3 at t = inf)."""
    s = _series(case)
    return _exponent_verdict("headline/kl-rate", case, _alphas(case), s["kl"], s["kl_err"], -2.0, key="kl")


def _tightened(name: str, fn, paper: float):
    @_guard(f"headline/mutant-{name}")
    def check(case: Mapping[str, Any]) -> Verdict:
        s = _series(case)
        key = "loss" if "loss" in name else "kl"
        return _exponent_verdict(f"headline/mutant-{name}", case, _alphas(case), s[key], s[f"{key}_err"], paper,
                                 key=key)
    check.__doc__ = f"{fn.__doc__.splitlines()[0]} -- with the exponent tightened to {paper:g}"
    return check


_mutant_kl_steeper = _tightened("kl-exponent-2.5", check_kl_rate, -2.5)
_mutant_loss_steeper = _tightened("loss-exponent-5", check_loss_rate, -5.0)

EXAMPLE_RIDGE = {"n": 20, "d": 2, "seed": 3, "labels": "continuous", "r_min": 0.5, "min_angle_deg": 5.0,
                 "act": {"base": "tanh", "c": 1.0, "s": 1.0}, "lam": 0.5, "kr_lo": 1.0}

#: The soak of 2026-12-06 (seed 20261206) found this window's KL exponent above -2 (interval from -1.84): it is
#: pre-asymptotic, and one decade further out the exponent is -2.000 (kept: it must stay INCONCLUSIVE).
PRE_ASYMPTOTIC_KL = {"act": {"base": "sigmoid", "c": 1.0, "s": 1.0}, "d": 2, "kr_lo": 0.5, "labels": "continuous",
                     "lam": 0.10000000000000002, "min_angle_deg": 15.0, "n": 6, "r_min": 0.5, "seed": 11125704}

_EXACT_REASON = "exact: one case decides (the oracle's values are exact; an unresolved fit is INCONCLUSIVE)"
for _name, _fn, _desc in (
        ("krr", check_krr, "f(p*) -> kernel ridge with H2(p0), ridge lam n/(2 alpha^2): gap exponent's interval < 0"),
        ("loss-rate", check_loss_rate, "L(p*) exponent in alpha <= -2 (Theorem 4.4's floor), over two decades"),
        ("kl-rate", check_kl_rate, "KL(p*||p0) exponent in alpha <= -2 (Lemma 5.3), over two decades")):
    register(Variant(claim=HEADLINE, name=_name, expected=Expected.HOLDS, tier=Tier.EXACT, description=_desc,
                     strategy=ridge_cases, check=_fn, max_examples=2,
                     examples=(EXAMPLE_RIDGE,) + ((PRE_ASYMPTOTIC_KL,) if _name == "kl-rate" else ()), time_budget_s=60.0,
                     min_decided=1, min_decided_reason=_EXACT_REASON))

MUTANTS = [
    ("kl-exponent-2.5", "headline/kl-rate", _mutant_kl_steeper, "KL(p*) claimed to decay like alpha^-2.5"),
    ("loss-exponent-5", "headline/loss-rate", _mutant_loss_steeper, "L(p*) claimed to decay like alpha^-5"),
]
