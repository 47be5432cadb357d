"""The rate of Theorem 4.4's transient, fitted from particle runs at alphas over two decades (docs/claims.md#headline,
tier S).

What the paper says.  Theorem 4.4: ``L(p_t) <= 2 exp(-2 alpha^2 lambda0^2 t) + floor``.  In rescaled time
``tau = alpha^2 lambda0^2 t`` (``lambda0^2 = Lambda / n``) the loss L itself decays at rate 2 per unit tau while
it is above the floor (its proof: Lemma 5.2's ``sqrt L`` at rate 1, squared).  We measure the rate of **L**
(not of sqrt L) and compare it with 2; in physical time that is ``2 alpha^2 lambda0^2``, so the exponent of the
rate in alpha (the "alpha-rate") is the paper's 2.

What the NTK-linearised dynamics predicts.  The residual ``r = f(p_t) - y`` obeys (docs/model.md#residual-ode)
``dr/dt = -(2 alpha^2/n) H(p_t) r - lam alpha b(p_t)``.  Freezing ``H(p_t) = H(p0)`` and dropping the weight
decay term (``b(p0) = 0``) gives :func:`theory.trajectory.ntk_linearised_residual`:
``r(tau) = exp(-(2/Lambda) H(p0) tau) r(0)``.  On an eigenvector of H(p0) with eigenvalue mu, L = |r|^2/n
decays at rate ``4 mu / Lambda`` per unit tau, so the slowest rate is ``4 lambda_min(H(p0))/Lambda = 4``: in
the kernel regime the transient is at least twice as fast as the paper's 2, and exactly twice along the
slowest eigenvector.  The factor 2 is the proof's ``lambda_min(H(p_t)) >= Lambda/2`` (OP-H, Lemma 5.1's
radius) used in place of ``lambda_min(H(p0)) = Lambda``: the paper's rate is the linearised one at half the
Gram's smallest eigenvalue, conservative by 2 in the kernel limit (a looseness in the spirit of erratum E16,
docs/errata.md#e16, not an error).  Each verdict reports the measured rate against both.

The measurement, per alpha (``alpha lambda0 = a0 x 10^(k/2)``, k = 0..4):

* R replicas at widths m and 4m (fresh seeds per alpha and width, records on the same tau grid), the loss
  Richardson-extrapolated in 1/m replica by replica, ``L_ext = (4 L_4m - L_m)/3`` (the finite-width bias of
  L is O(1/m): the particle noise adds its variance to L);
* the resolving window: the records from tau > 0 on, while OP-H and OP-M have held (both runs), the
  extrapolated mean is resolved (>= 10 replica standard errors), the finite-width correction ``L_m - L_4m`` is
  at most half of it, and it is >= 100 times the weight-decay floor L(p*) (exact, Gibbs oracle; 4 times the
  kernel-ridge loss, p*'s linearisation, where the oracle does not refine);
* the rate is fitted on the **last two decades** of that window (:func:`theory.rates.fit_decay_rate`: least
  squares on the log of the replica mean, jackknife over replicas): the early part, where the fast
  eigenmodes of H decay, would overstate the slowest rate, which is what the claim is about;
* at least 4 records spanning a decade of L are needed, else the alpha is unresolved.

Variants (claim id ``headline``)
    headline/transient-rate       ``rate_tau >= 2`` at every alpha: HOLDS when every resolved alpha's
                                  ``rate - 5 se >= 2``; VIOLATED when some ``rate + 5 se < 2`` and a fresh-seed
                                  run at 4m and dt/2 (same records) shows it too; INCONCLUSIVE otherwise.
    headline/transient-alpha-rate the exponent of the rate in physical time against alpha over two decades
                                  (paper: 2, i.e. a rate in tau independent of alpha), fitted with its 95%
                                  interval; HOLDS when the interval reaches 2 (contains it or lies above),
                                  VIOLATED when it lies below and still does one decade further out in alpha
                                  (fresh seeds, 4m, dt/2: the rates are asymptotic, and near alpha lambda0 = 1
                                  the rate in tau is off its kernel limit), INCONCLUSIVE when the interval is
                                  wider than +-0.25 or fewer than two decades of alpha resolve.
Cases label the data by the dataset (``labels_mode="data"``) or along the slowest eigenvector of H(p0)
(``"slowest"``: the linearised rate is exactly 4 there, the edge of the claim).  Every verdict's extra records
per alpha ``alphas``, ``alphas_lambda0``, ``rate_tau`` (with ``rate_tau_se``, ``rate_tau_ci95``), ``rate_t``,
``rate_linearised``, ``window_tau``, ``dt_tau_per_alpha``, ``floor_L``, and n, d, m, replicas, lam, Lambda;
transient-rate also the judged alpha's sizes (``checks._dynamics_common.SIZE_KEYS``).
"""

from __future__ import annotations

import dataclasses
import json
import math
from functools import lru_cache
from typing import Any, Callable, Dict, Mapping, Optional

import numpy as np
from hypothesis import strategies as st

from theory.errors import NonFiniteError, UnstableStepError
from theory.kernels import gram_p0
from theory.rates import fit_decay_rate, fit_power_law
from theory.ridge import kernel_ridge_residual, ridge_from_gibbs
from theory.trajectory import gibbs_evidence, ntk_linearised_residual, path_evidence

from ._dynamics_common import (_base, _ctx, _data, _data_key, _guard, _key, _plain, _simulate, _sizes_extra,
                               case_ranges, sizes)
from .headline import HEADLINE, judged_further_out
from .profiles import budget
from .registry import Expected, Variant, register
from .strategies import log_uniform
from .verdict import Tier, Verdict

__all__ = ["transient_cases", "check_transient_rate", "check_transient_alpha_rate", "rate_verdict",
           "fit_window", "EXAMPLE_TRANSIENT", "MUTANTS", "PAPER_RATE", "LINEARISED_RATE"]

#: Theorem 4.4: L <= 2 exp(-2 tau) + floor, the rate of L per unit tau.
PAPER_RATE = 2.0
#: The NTK-linearised rate of L at the slowest eigenvector of H(p0): 4 lambda_min(H(p0)) / Lambda.
LINEARISED_RATE = 4.0
#: The paper's exponent of the physical-time rate 2 alpha^2 lambda0^2 in alpha.
PAPER_ALPHA_EXPONENT = 2.0
#: The fit uses the last this many decades of L above its floor (the slowest modes of the transient).
_LATE_DECADES = 2.0
#: An alpha is resolved with at least this many records spanning at least this many decades of L.
_MIN_POINTS, _MIN_DECADES = 4, 1.0
#: The window keeps L >= _FLOOR_FACTOR L(p*): the residual's cross term with r* then moves the log-slope by
#: at most 2 sqrt(L*/L) = 20% at the window's end (less inside it), never enough to take 4 to 2.
_FLOOR_FACTOR = 100.0
#: Resolution of the extrapolated mean in replica standard errors (the log of a noisy mean is biased).
_RESOLVE_SE = 10.0
#: The alpha exponent decides only when its 95% interval is this narrow (a wide interval reaches any value).
_MAX_HALF_WIDTH = 0.25
#: Seed purposes (independent streams per alpha index k: purpose + k).
_SEED_M, _SEED_4M, _SEED_CONFIRM = 200, 300, 400
#: Alphas: K = 5 points over two decades (with 3, the exponent's interval has one degree of freedom, t = 12.7).
_N_ALPHA = 5
#: A violation of the alpha exponent must persist this factor further out in alpha (pre-asymptotic bias).
_CONFIRM_FURTHER = 10.0
#: Largest a0 per profile (dev and hunt reach alpha lambda0 = 1e3 and 3e3).
_A0_MAX = {"ci": 3.0, "dev": 10.0, "hunt": 30.0}
#: Label modes per profile: at ci widths the slow mode of data labels sits within a decade of the particle
#: floor (the example's data set: 0 of 5 alphas resolved), so ci spends its cases on the slowest eigenvector.
_LABEL_MODES = {"ci": ("slowest",), "dev": ("slowest", "data"), "hunt": ("slowest", "data")}


def transient_cases():
    """Cases: the profile's sizes and ranges (:func:`checks._dynamics_common.sizes`, ``case_ranges``: ci n in
    [2, 3], d = 2, lam in [1e-3, 3e-2], m = 2000; dev and hunt larger n, d, lam and m per case), the smallest
    ``alpha lambda0`` a0 in [1, 3] (10 under dev, 30 under hunt; alpha runs to 100 a0 / lambda0; below a0 = 1
    the rate in tau is still well above its kernel limit, 6.9 at a0 = 0.5 on the example), labels along the
    slowest eigenvector of H(p0) or (dev, hunt) from the data (:data:`_LABEL_MODES`)."""
    ranges = case_ranges()
    return _base(sizes(), ranges, lam=log_uniform(*ranges.lam),
                 a0=log_uniform(1.0, _A0_MAX.get(budget().name, 3.0)),
                 labels_mode=st.sampled_from(_LABEL_MODES.get(budget().name, ("slowest",))), n_alpha=st.just(_N_ALPHA))


@lru_cache(maxsize=16)
def _labels(data_key: str, mode: str):
    """``(y, H(p0), H2(p0))``: the dataset's labels, or the unit-sup-norm slowest eigenvector of the exact Gram."""
    X, y, act, _ = _data(data_key)
    g = gram_p0(X, act)
    H = g.H
    if mode == "data":
        return y, H, g.H2
    if mode != "slowest":
        raise ValueError(f"case labels_mode must be 'data' or 'slowest', got {mode!r}")
    v = np.linalg.eigh(0.5 * (H + H.T))[1][:, 0]
    v = v / v[np.argmax(np.abs(v))]
    return v, H, g.H2


def _context(case: Mapping[str, Any], alpha: float):
    ctx = _ctx(case, alpha=alpha)
    y = _labels(_data_key(case), case.get("labels_mode", "data"))[0]
    return dataclasses.replace(ctx, y=np.asarray(y, float))


def _alphas(case: Mapping[str, Any]) -> np.ndarray:
    K = int(case["n_alpha"])
    if K < 3:
        raise ValueError(f"case n_alpha must be >= 3 (two decades need 3 points), got {K!r}")
    lambda0 = _ctx(case, alpha=1.0).kc.lambda0
    return float(case["a0"]) / lambda0 * 10.0 ** (2.0 * np.arange(K) / (K - 1))


def _tau_end(ctx, case) -> float:
    """Horizon in tau: L(0) down to the particle noise scale lam n/(m Lambda) at the paper's rate 2 (the
    linearised rate 4 gets there half-way), within [1.5, 5]."""
    L0 = float(np.mean(ctx.y ** 2))
    noise = ctx.lam * ctx.n / (int(case["m"]) * ctx.kc.Lambda)
    return float(min(5.0, max(1.5, 0.5 * math.log(max(L0 / noise, 1.0)))))


#: Which run: (width factor, seed purpose, step refinement).
_WHICH = {"m": (1, _SEED_M, 1), "4m": (4, _SEED_4M, 1), "confirm": (4, _SEED_CONFIRM, 2)}


@lru_cache(maxsize=64)
def _run(key: str, k: int, which: str):
    """Path evidence of run ``which`` at alpha index k (cached: both variants and the mutants share it)."""
    case = json.loads(key)
    ctx = _context(case, float(_alphas(case)[k]))
    width, purpose, refine = _WHICH[which]
    fresh = 1000 if case.get("confirmation") else 0          # a confirmation case draws fresh seeds
    run, _ = _simulate(ctx, case, _tau_end(ctx, case), width, purpose + k + fresh, refine)
    return path_evidence(run, ctx.X, ctx.y, ctx.kc.Lambda)


@lru_cache(maxsize=64)
def _floor(key: str, k: int):
    """(L floor, its source): L(p*) from the Gibbs oracle (plus its error); where the oracle does not refine,
    the loss of kernel ridge regression with H2(p0) and mu = lam n/(2 alpha^2), p*'s linearisation
    (theory/ridge.py; headline/krr measures the gap shrinking like alpha^-2), times 4 for its error.  The
    paper's bias term squared would do too, but it exceeds L(p*) by orders (E16) and leaves no window."""
    case = json.loads(key)
    ctx = _context(case, float(_alphas(case)[k]))
    ge = gibbs_evidence(ctx.X, ctx.y, ctx.act, ctx.alpha, ctx.lam, ctx.kc.Lambda)
    if ge.valid:
        return ge.loss + 2.0 * ge.sqrt_loss * ge.f_error + ge.f_error ** 2, "L(p*) (Gibbs oracle)"
    H2 = _labels(_data_key(case), case.get("labels_mode", "data"))[2]
    r = kernel_ridge_residual(H2, ctx.y, ridge_from_gibbs(ctx.alpha, ctx.lam, ctx.n))
    return 4.0 * float(r @ r) / ctx.n, "4 x the loss of kernel ridge with H2 (the Gibbs oracle did not refine)"


def fit_window(tau, L_ext, resolved) -> np.ndarray:
    """Indices of the fit: the prefix of records from index 1 on where ``resolved`` holds, cut to its last
    :data:`_LATE_DECADES` decades of the replica mean of ``L_ext`` (N, R)."""
    tau, resolved = np.asarray(tau, float), np.asarray(resolved, bool)
    bad = np.flatnonzero(~resolved[1:])
    end = 1 + (bad[0] if bad.size else resolved.size - 1)          # exclusive
    idx = np.arange(1, end)
    if idx.size == 0:
        return idx
    mean = np.asarray(L_ext, float).mean(axis=1)
    return idx[mean[idx] <= mean[idx[-1]] * 10.0 ** _LATE_DECADES]


def _alpha_fit(case, k: int) -> Dict[str, Any]:
    """The fitted rate at alpha index k and what it needs: the window, floors, linearised rate, sizes."""
    key = _key(case)
    ev, ev4 = _run(key, k, "m"), _run(key, k, "4m")
    Lm, L4 = ev.sqrt_loss ** 2, ev4.sqrt_loss ** 2
    L_ext = (4.0 * L4 - Lm) / 3.0
    mean = L_ext.mean(axis=1)
    se = L_ext.std(axis=1, ddof=1) / math.sqrt(L_ext.shape[1])
    floor, source = _floor(key, k)
    resolved = (ev.premises_hold & ev4.premises_hold & (mean >= _RESOLVE_SE * se)
                & (np.abs(Lm.mean(axis=1) - L4.mean(axis=1)) <= 0.5 * mean) & (mean >= _FLOOR_FACTOR * floor))
    idx = fit_window(ev.tau, L_ext, resolved)
    ctx = _context(case, float(_alphas(case)[k]))
    out = {"alpha": ctx.alpha, "alpha_lambda0": ctx.alpha * ctx.kc.lambda0, "dt_tau": ev.dt, "m": ev.m,
           "floor": floor, "floor_source": source, "idx": idx, "tau": ev.tau, "fit": None, "reason": "",
           # OP-H/OP-M failed before the first record after tau = 0: the proof's premises never held here
           "premise_failed": not bool(ev.premises_hold[1] and ev4.premises_hold[1])}
    if idx.size < _MIN_POINTS or np.log10(mean[idx[0]] / mean[idx[-1]]) < _MIN_DECADES:
        out["reason"] = (f"alpha lambda0 = {out['alpha_lambda0']:.3g}: {idx.size} records resolved above the floor"
                         f" (need {_MIN_POINTS} spanning {_MIN_DECADES:g} decade of L)")
        return out
    fit = fit_decay_rate(ev.tau[idx], L_ext[idx])
    if fit is None:
        out["reason"] = f"alpha lambda0 = {out['alpha_lambda0']:.3g}: a leave-one-out mean of L is not > 0"
        return out
    H0 = _labels(_data_key(case), case.get("labels_mode", "data"))[1]
    r_lin = ntk_linearised_residual(ev.t_phys[idx], -ctx.y, H0, ctx.alpha, ctx.n)
    L_lin = np.sum(r_lin ** 2, axis=1) / ctx.n
    out.update(fit=fit, window=[float(ev.tau[idx[0]]), float(ev.tau[idx[-1]])],
               rate_linearised=-float(np.polyfit(ev.tau[idx], np.log(L_lin), 1)[0]))
    return out


def _confirm_fit(case, k: int, idx) -> Optional[Any]:
    """The fresh-seed run at 4m and dt/2 (records on the same tau grid), fitted on the same records.  L at 4m
    is not extrapolated: on the window its finite-width bias is at most a sixth of L (the window's rule
    ``L_m - L_4m <= L_ext / 2``), which slows the apparent decay by at most ln(7/6) over the fit's span."""
    evc = _run(_key(case), k, "confirm")
    return fit_decay_rate(evc.tau[idx], evc.sqrt_loss[idx] ** 2)


def rate_verdict(claim: str, case, fit, paper: float, extra=None, confirm: Optional[Callable] = None) -> Verdict:
    """``rate >= paper`` from a :class:`~theory.rates.DecayFit`: z = 5 jackknife standard errors either way; a
    violation counts only if ``confirm()`` (a DecayFit of the fresh-seed run, or None) shows it too."""
    v = Verdict(claim=claim, observed=fit.rate, bound=paper, relation=">=", tier=Tier.ESTIMATED,
                stderr=fit.rate_se, tolerance_reason="estimated tier: the rate of the replica mean, 5 jackknife "
                "standard errors over independent replicas, a violation confirmed at 4m and dt/2 (fresh seed)",
                case=dict(case), extra={**(extra or {}), "fit": fit.to_dict()})
    if v.violation_gap > 0 and confirm is not None and not case.get("confirmation"):
        try:
            c = confirm()
        except (UnstableStepError, NonFiniteError) as exc:
            return dataclasses.replace(v, extra={**v.extra, "confirmation_failed": str(exc)})
        if c is not None:
            conf = Verdict(claim=claim, observed=c.rate, bound=paper, relation=">=", tier=Tier.ESTIMATED,
                           stderr=c.rate_se, tolerance_reason=v.tolerance_reason,
                           case={**dict(case), "confirmation": "fresh seed, 4m, dt/2"}, extra={"fit": c.to_dict()})
            v = dataclasses.replace(v, confirmation=conf)
    return v


def _series(case):
    """Per-alpha fits and the report columns (n, d, m, dt, alpha, lambda with each)."""
    ctx = _ctx(case, alpha=1.0)
    fits = [_alpha_fit(case, k) for k in range(int(case["n_alpha"]))]
    l02 = ctx.kc.lambda0 ** 2
    cols = {"alphas": [f["alpha"] for f in fits], "alphas_lambda0": [f["alpha_lambda0"] for f in fits],
            "rate_tau": [f["fit"].rate if f["fit"] else None for f in fits],
            "rate_tau_se": [f["fit"].rate_se if f["fit"] else None for f in fits],
            "rate_tau_ci95": [list(f["fit"].ci) if f["fit"] else None for f in fits],
            "rate_t": [f["fit"].rate * f["alpha"] ** 2 * l02 if f["fit"] else None for f in fits],
            "rate_linearised": [f.get("rate_linearised") for f in fits], "window_tau": [f.get("window") for f in fits],
            "dt_tau_per_alpha": [f["dt_tau"] for f in fits], "floor_L": [f["floor"] for f in fits],
            "floor_source": [f["floor_source"] for f in fits], "unresolved": [f["reason"] for f in fits if f["reason"]],
            "n": ctx.n, "d": ctx.d, "m": int(case["m"]), "replicas": int(case["replicas"]), "lam": ctx.lam,
            "Lambda": ctx.kc.Lambda, "lambda0": ctx.kc.lambda0, "labels_mode": case.get("labels_mode", "data"),
            "paper_rate_tau": PAPER_RATE, "linearised_rate_tau": LINEARISED_RATE,
            "quantity": "L(p_t) (not sqrt L), Richardson-extrapolated from m and 4m"}
    return fits, cols


def _transient_rate(case, claim: str, paper: float) -> Verdict:
    try:
        fits, extra = _series(case)
    except (UnstableStepError, NonFiniteError) as exc:
        return _plain(claim, case, inconclusive=f"particle scheme unstable at this step: {exc}")
    ok = [k for k, f in enumerate(fits) if f["fit"] is not None]
    if not ok and all(f["premise_failed"] for f in fits):
        return _plain(claim, case, extra=extra, premise_failed="OP-H/OP-M (lambda_min(H(p_t)) >= Lambda/2, "
                      "E|w|^2 <= 4(d+1)) failed before the first record at every alpha")
    if not ok:
        return _plain(claim, case, extra=extra, inconclusive="; ".join(extra["unresolved"]))
    # judge the alpha most likely to violate (smallest upper end), else the tightest (smallest lower end)
    ups = [fits[k]["fit"].rate + 5 * fits[k]["fit"].rate_se for k in ok]
    los = [fits[k]["fit"].rate - 5 * fits[k]["fit"].rate_se for k in ok]
    k = ok[int(np.argmin(ups))] if min(ups) < paper else ok[int(np.argmin(los))]
    # the sizes of the judged alpha (n, d, m, replicas, lam, alpha, lambda0, alpha_lambda0, dt_tau, dt_phys), as
    # every dynamics verdict records its own
    extra.update(_sizes_extra(case, _context(case, fits[k]["alpha"]), fits[k]["dt_tau"]))
    extra.update(ratio_to_linearised=fits[k]["fit"].rate / fits[k]["rate_linearised"])
    return rate_verdict(claim, case, fits[k]["fit"], paper, extra, lambda: _confirm_fit(case, k, fits[k]["idx"]))


@_guard("headline/transient-rate")
def check_transient_rate(case: Mapping[str, Any]) -> Verdict:
    """The loss decays at rate >= 2 per unit tau (Theorem 4.4's exp(-2 tau)) at every alpha of the case."""
    return _transient_rate(case, "headline/transient-rate", PAPER_RATE)


def _tightened(case: Mapping[str, Any], factor: float) -> Verdict:
    """The rate claim with the paper's rate times ``factor`` (checks.mutants.sensitivity_mutant): decided, and
    confirmed, against the tightened rate itself, not a HOLDS of the true claim rescaled afterwards."""
    return _guard("headline/transient-rate")(lambda c: _transient_rate(c, "headline/transient-rate",
                                                                         PAPER_RATE * float(factor)))(case)


check_transient_rate.tightened = _tightened


@_guard("headline/mutant-transient-rate-x8")
def mutant_check_transient_rate_x8(case: Mapping[str, Any]) -> Verdict:
    """Theorem 4.4's transient claimed at 2 exp(-16 tau): the loss decays at about 4, not 16."""
    return _transient_rate(case, "headline/mutant-transient-rate-x8", 8.0 * PAPER_RATE)


def _exponent(alphas, fits_or_none, l02):
    """fit_power_law of the physical-time rate against alpha on the resolved alphas (None if < 2)."""
    pts = [(a, f.rate * a * a * l02, f.rate_se * a * a * l02) for a, f in zip(alphas, fits_or_none) if f is not None]
    if len(pts) < 2:
        return None
    a, r, s = (np.array(c) for c in zip(*pts))
    return fit_power_law(a, r, s)


def _alpha_rate(case, claim: str, paper: float) -> Verdict:
    try:
        fits, extra = _series(case)
    except (UnstableStepError, NonFiniteError) as exc:
        return _plain(claim, case, inconclusive=f"particle scheme unstable at this step: {exc}")
    l02 = extra["lambda0"] ** 2
    fit = _exponent(extra["alphas"], [f["fit"] for f in fits], l02)
    extra.update(paper_exponent=paper, fit_alpha=None if fit is None else fit.to_dict())
    if fit is None and all(f["premise_failed"] for f in fits):
        return _plain(claim, case, extra=extra, premise_failed="OP-H/OP-M failed before the first record at every "
                      "alpha")
    if fit is None or fit.decades < 1.99:
        return _plain(claim, case, extra=extra, inconclusive="the rate is resolved over fewer than two decades of "
                      "alpha: " + "; ".join(extra["unresolved"]))
    lo, hi = fit.ci
    extra.update(exponent=fit.slope, exponent_ci95=[lo, hi])
    if (hi - lo) / 2 > _MAX_HALF_WIDTH:
        return _plain(claim, case, observed=hi, bound=paper, relation=">=", extra=extra,
                      inconclusive=f"the exponent's 95% interval [{lo:.3g}, {hi:.3g}] is wider than "
                      f"+-{_MAX_HALF_WIDTH}: it would reach any value")
    tol = ("exponent claim: the upper end of the fitted exponent's 95% interval (replica jackknife standard errors "
           "of each rate); a violation confirmed on fresh-seed runs at 4m and dt/2")
    v = Verdict(claim=claim, observed=hi, bound=paper, relation=">=", tier=Tier.ESTIMATED, tolerance_reason=tol,
                case=dict(case), extra=extra)
    if v.violation_gap > 0 and not case.get("confirmation"):
        v = _confirm_far(v, case, claim, paper)
    return v


def _confirm_far(v: Verdict, case, claim: str, paper: float) -> Verdict:
    """The exponent's violation re-run one decade further out in alpha with fresh seeds at 4m and dt/2: the
    rates are asymptotic, and below alpha lambda0 of a few the rate in tau is still above its kernel limit
    (5.2 at alpha lambda0 = 1 on the example against 4.05-4.11 beyond), which pulls the exponent under 2
    without any rate falling below the paper's.  Persisting there: VIOLATED; else INCONCLUSIVE (undecidable)."""
    far = {**dict(case), "a0": float(case["a0"]) * _CONFIRM_FURTHER, "m": 4 * int(case["m"]),
           "dt_c": 0.5 * float(case["dt_c"]), "confirmation": "10x further out in alpha, fresh seeds, 4m, dt/2"}
    return judged_further_out(v, _alpha_rate(far, claim, paper), paper, "upper end")


@_guard("headline/transient-alpha-rate")
def check_transient_alpha_rate(case: Mapping[str, Any]) -> Verdict:
    """The transient's physical-time rate grows like alpha^2 (its fitted exponent's interval reaches 2)."""
    return _alpha_rate(case, "headline/transient-alpha-rate", PAPER_ALPHA_EXPONENT)


@_guard("headline/mutant-transient-alpha-exponent-3")
def mutant_check_transient_alpha_exponent_3(case: Mapping[str, Any]) -> Verdict:
    """The transient's rate claimed to grow like alpha^3."""
    return _alpha_rate(case, "headline/mutant-transient-alpha-exponent-3", 3.0)


#: tanh, n = 3, d = 2 (the dynamics claims' data set), labels along the slowest eigenvector of H(p0): the
#: linearised rate is exactly 4 there, the claim's edge.
EXAMPLE_TRANSIENT = {"n": 3, "d": 2, "seed": 7, "labels": "continuous", "r_min": 0.5, "min_angle_deg": 30.0,
                     "act": {"base": "tanh", "c": 1.0, "s": 1.0}, "m": 2000, "replicas": 4, "n_records": 24,
                     "dt_c": 0.25, "lam": 0.005, "a0": 1.0, "labels_mode": "slowest", "n_alpha": 5}

#: Best-known tightest ratio rate / 2 (see the variant's rho_star_source).
_RHO_STAR = 3.186 / PAPER_RATE
_MIN_REASON = ("the example is decided (labels along the slowest eigenvector resolve two decades or more of L at "
               "every alpha); a generated case with data labels may leave too little of the slow mode above the "
               "floor at ci widths and is INCONCLUSIVE, never evidence")
register(Variant(claim=HEADLINE, name="transient-rate", expected=Expected.HOLDS, tier=Tier.ESTIMATED,
                 description="L(p_t) decays at rate >= 2 per unit tau (Theorem 4.4's exp(-2 tau)) at alphas over two "
                 "decades: rate of the last two decades above the floor, m vs 4m extrapolated, 5 jackknife se",
                 strategy=transient_cases, check=check_transient_rate, max_examples=1, examples=(EXAMPLE_TRANSIENT,),
                 time_budget_s=60.0, min_decided=1, min_decided_reason=_MIN_REASON, max_shrink_calls=5,
                 rho_star=_RHO_STAR, rho_star_source="best seen: a dev run of 2026-12-06 measured 3.186 +- 0.015 "
                 "(ratio 1.593) at alpha lambda0 = 1.16 (data labels, n = 3, lam = 0.001; its case was not kept); "
                 "every other fit, of 2 dev runs and a scan of 40 data sets at alpha lambda0 = 1.16, lay at >= 3.89 "
                 "(ratio 1.95).  Kernel limit: the NTK-linearised rate along the slowest eigenvector of H(p0), "
                 "4 lambda_min(H(p0))/Lambda = 4, ratio 2 (the example: 2.03)"))
register(Variant(claim=HEADLINE, name="transient-alpha-rate", expected=Expected.HOLDS, tier=Tier.ESTIMATED,
                 description="the transient's rate in t grows like alpha^2 (2 alpha^2 lambda0^2): fitted exponent over "
                 "two decades of alpha, its 95% interval reaches 2",
                 strategy=transient_cases, check=check_transient_alpha_rate, max_examples=1,
                 examples=(EXAMPLE_TRANSIENT,), time_budget_s=60.0, min_decided=1, min_decided_reason=_MIN_REASON,
                 max_shrink_calls=5))

MUTANTS = [
    ("transient-rate-x8", "headline/transient-rate", mutant_check_transient_rate_x8,
     "Theorem 4.4's transient claimed at exp(-16 tau) (rate 16 per unit tau; the loss decays at about 4)"),
    ("transient-alpha-exponent-3", "headline/transient-alpha-rate", mutant_check_transient_alpha_exponent_3,
     "the transient's rate in t claimed to grow like alpha^3 (it grows like alpha^2)"),
]
