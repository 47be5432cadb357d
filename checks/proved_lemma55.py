"""Proved verdicts of Lemma 5.5 (docs/claims.md#lemma-55; erratum E10 in docs/errata.md).

* ``lemma-5.5/probe``: at n = 3 orthonormal inputs, tanh, alpha = 1, M = 300, R_hat_S is enclosed between the
  value of a feasible DV tilt (its KL proved <= M) and the DV dual bound at beta*; the lower end exceeds the
  printed bound 2 G1 alpha sqrt(M/n) = 20.
* ``lemma-5.5/probe-shift``: the same violation from the Gaussian shift family (1-D integrals only).
* ``lemma-5.5/probe-crossing``: rho < 1 proved at M_lo and rho > 1 at M_hi, so a crossing M* lies between.
* ``lemma-5.5/{stated,corrected}-cases``: proved HOLDS per drawn ci case whose theta-integral is 1-D.
"""

from __future__ import annotations

import itertools
import math
from typing import Any, Callable, Dict, List, Mapping, Optional

import numpy as np

from theory import enclosures as E
from theory.errors import DomainError, GntkError

from ._proved_core import Proof, act_of, enc, printed_bound, proved_verdict
from .verdict import Status

__all__ = ["PROBE_CASE", "TILT_BACKOFF", "CROSSING_M", "tilt_bracket", "prove_probe", "prove_probe_shift",
           "prove_crossing", "draw_ci_cases", "prove_lemma55_cases", "rank1_upper"]


#: The shrunk counterexample of lemma-5.5/probe (checks.lemma_5_5.PROBE_EXAMPLE at M = 300).
PROBE_CASE = {"n": 3, "inputs": "orthonormal", "d": 3, "act": {"base": "tanh", "c": 1.0, "s": 1.0},
              "alpha": 1.0, "M": 300.0, "seed": 0}
#: beta of the feasible tilt = beta* (1 - TILT_BACKOFF): far enough inside the ball that the convexity
#: bracket of KL (half-width ~ step * KL'/2, step = TILT_BACKOFF beta / 2) cannot cross M.
TILT_BACKOFF = 3e-5
#: Where rho = R_hat / printed bound is proved < 1 and > 1 (n = 3, tanh; the float crossing is 23.783).
CROSSING_M = (23.775, 23.795)


def _beta_star(case: Mapping[str, Any]) -> float:
    """The DV optimum beta* (a float: where it comes from does not matter for rigour, any beta is valid)."""
    from theory.rademacher import primal_witness_orthonormal_odd
    from .strategies import build_activation
    return primal_witness_orthonormal_odd(int(case["n"]), build_activation(case["act"]), float(case["alpha"]),
                                          float(case["M"])).beta_star


def tilt_bracket(case: Mapping[str, Any], beta_star: Optional[float] = None) -> Dict[str, Any]:
    """Enclosed [lower, upper] of R_hat_S (orthonormal inputs, odd h): feasible tilt and DV dual at beta*.

    The lower end is -inf when the tilt cannot be proved inside the ball (then the bracket only proves HOLDS).
    """
    n, alpha, M = int(case["n"]), float(case["alpha"]), float(case["M"])
    h, G1, odd = act_of(case)
    if not (case["inputs"] == "orthonormal" and odd):
        raise DomainError(f"tilt_bracket needs orthonormal inputs and an odd activation, got {case!r}")
    s = float(case["act"].get("s", 1.0))
    bs = _beta_star(case) if beta_star is None else float(beta_star)
    upper = E.dv_upper(M, E.log_mgf_hs(n, h, G1, alpha, bs, s), bs)
    beta = bs * (1.0 - TILT_BACKOFF)
    t = E.tilt_bounds(n, h, G1, alpha, beta, 0.5 * TILT_BACKOFF * beta, s)
    feasible = bool(t["kl_upper"].upper() <= M)
    return {"upper": upper, "value_lower": t["value_lower"], "kl_upper": t["kl_upper"], "feasible": feasible,
            "beta_star": bs, "beta": beta, "G1": G1}


def prove_probe() -> Proof:
    """E10: lower(R_hat) from a feasible tilt > upper(printed bound) = 20 at the shrunk case."""
    c = PROBE_CASE
    br = tilt_bracket(c)
    bound = printed_bound(c["n"], br["G1"], c["alpha"], c["M"])
    lo = E.bounds(br["value_lower"])[0] if br["feasible"] else -math.inf
    v = proved_verdict("lemma-5.5/probe", (lo, E.bounds(br["upper"])[1]), E.bounds(bound), case=c,
                       extra={"beta_star": br["beta_star"], "tilt_beta": br["beta"],
                              "tilt_kl_upper": E.bounds(br["kl_upper"])[1]})
    return Proof("lemma-5.5/probe", [(v, Status.VIOLATED)],
                 enc(R_hat_lower_tilt=br["value_lower"], R_hat_upper_dv=br["upper"], tilt_kl=br["kl_upper"],
                      printed_bound=bound),
                 note=f"R_hat_S in [tilt value, DV bound]; the tilt p_beta, beta = beta*(1 - {TILT_BACKOFF:g}), has "
                      "KL <= M proved (convexity bracket of Lambda')")


def _best_shift_c(n: int, M: float) -> float:
    """c maximising the shift family's value 2 (M - n c^2/2) E[S^2](c) for tanh (floats; any c is valid)."""
    from scipy.optimize import minimize_scalar
    z, w = np.polynomial.hermite_e.hermegauss(120)
    w = w / w.sum()

    def neg(c):
        A, B = w @ np.tanh(z + c), w @ np.tanh(z + c) ** 2
        return -(M - n * c * c / 2) * (n * B + n * (n - 1) * A * A) / n ** 2
    return float(minimize_scalar(neg, bounds=(0.0, math.sqrt(2 * M / n) * 0.999), method="bounded").x)


def prove_probe_shift() -> Proof:
    """E10 from the Gaussian shift family: 1-D integrals A, B only (no nested integral)."""
    c = PROBE_CASE
    n, alpha, M = c["n"], c["alpha"], c["M"]
    h, G1, _ = act_of(c)
    r = E.shift_family_value(n, h, G1, alpha, M, _best_shift_c(n, M))
    bound = printed_bound(n, G1, alpha, M)
    v = proved_verdict("lemma-5.5/probe", (E.bounds(r["value"])[0], math.inf), E.bounds(bound), case=c,
                       extra={"family": "shift", "c": r["c"], "b": r["b"]})
    return Proof("lemma-5.5/probe-shift", [(v, Status.VIOLATED)],
                 enc(shift_value=r["value"], shift_kl=r["kl"], A=r["A"], B=r["B"], printed_bound=bound),
                 note=f"theta ~ N(c sigma, I), u | theta ~ N(b S, 1) at c = {r['c']:.6g}, b = {r['b']:.6g}")


def prove_crossing() -> Proof:
    """rho(M_lo) < 1 (DV upper < bound) and rho(M_hi) > 1 (tilt lower > bound): a crossing in between."""
    out, encl = [], {}
    for M, want in zip(CROSSING_M, (Status.HOLDS, Status.VIOLATED)):
        c = {**PROBE_CASE, "M": M}
        br = tilt_bracket(c)
        bound = printed_bound(c["n"], br["G1"], c["alpha"], M)
        lo = E.bounds(br["value_lower"])[0] if br["feasible"] else -math.inf
        out.append((proved_verdict("lemma-5.5/probe", (lo, E.bounds(br["upper"])[1]), E.bounds(bound), case=c),
                    want))
        encl.update({f"R_hat_lower@M={M:g}": br["value_lower"], f"R_hat_upper@M={M:g}": br["upper"],
                    f"bound@M={M:g}": bound})
    return Proof("lemma-5.5/probe-crossing", out, enc(**encl),
                 note=f"rho < 1 at M = {CROSSING_M[0]:g} and rho > 1 at M = {CROSSING_M[1]:g}, so (rho continuous) "
                      f"a crossing M* lies in {list(CROSSING_M)}; uniqueness of the crossing is not proved")


def draw_ci_cases(variant_id: str) -> List[Dict[str, Any]]:
    """The variant's cases drawn as under ``ci`` (derandomised, its ci example count, no database).

    These are the strategy's deterministic draws at the same count, not the runner's kept cases (the
    runner also targets and shrinks); explicit examples come first.
    """
    from hypothesis import HealthCheck, Phase, given, settings
    from .registry import get_variant
    v = get_variant(variant_id)
    got: List[Dict[str, Any]] = [dict(c) for c in (v.examples or ())]

    @settings(derandomize=True, database=None, deadline=None, max_examples=v.max_examples,
              phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    @given(v.strategy())
    def collect(case):
        got.append(dict(case))
    collect()
    return got


def _rhs(variant: str, case: Mapping[str, Any], G1: float):
    """Enclosed right side of Lemma 5.5 (stated: 2 G1 alpha sqrt(M/n); corrected: alpha G1 min{psi/sqrt n, sqrt 2M})."""
    fl = E.require_flint()
    n, alpha, M = int(case["n"]), float(case["alpha"]), float(case["M"])
    if variant == "stated":
        return printed_bound(n, G1, alpha, M)
    a, b = E.psi_bracket(M) / fl.arb(n).sqrt(), (2 * fl.arb(M)).sqrt()
    return alpha * fl.arb(G1) * (a if a.upper() < b.lower() else b if b.upper() < a.lower() else a.union(b))


def _case_upper(case: Mapping[str, Any]):
    """(enclosed upper bound on R_hat_S, beta*) of a case with a 1-D theta-integral, or None (d = 2)."""
    n, alpha, M = int(case["n"]), float(case["alpha"]), float(case["M"])
    h, G1, odd = act_of(case)
    if case["inputs"] == "orthonormal" and odd:
        bs = _beta_star(case)
        return E.dv_upper(M, E.log_mgf_hs(n, h, G1, alpha, bs, float(case["act"]["s"])), bs), bs
    if case["inputs"] == "lowrank" and int(case["d"]) == 1:
        return rank1_upper(case), None
    return None


def prove_lemma55_cases(variant: str) -> Proof:
    """Proved HOLDS per drawn case of lemma-5.5/<variant> where the theta-integral is one-dimensional.

    Orthonormal inputs with odd h: DV upper bound at the float optimum beta* (any beta is valid) against the
    enclosed right side.  Low-rank d = 1 inputs: the average over sign vectors of per-sigma DV bounds
    (:func:`rank1_upper`).  Low-rank d = 2 cases (a 2-D theta-integral) are counted as not attempted; a case
    whose enclosure fails (an error of the float beta search or of the integration) is listed in the note.
    """
    cases = draw_ci_cases(f"lemma-5.5/{variant}")
    out, encl, skipped, failed = [], {}, 0, []
    for i, case in enumerate(cases):
        try:
            got = _case_upper(case)
        except (GntkError, ArithmeticError, ValueError) as exc:
            failed.append(f"case{i}: {type(exc).__name__}: {exc}")
            continue
        if got is None:
            skipped += 1
            continue
        upper, bs = got
        rhs = _rhs(variant, case, act_of(case)[1])
        out.append((proved_verdict(f"lemma-5.5/{variant}", (0.0, E.bounds(upper)[1]), E.bounds(rhs), case=case,
                                   extra={"beta_star": bs}), (Status.HOLDS, Status.INCONCLUSIVE)))
        encl.update({f"case{i}:R_hat_upper": upper, f"case{i}:rhs": rhs})
    proved = sum(v.status is Status.HOLDS for v, _ in out)
    return Proof(f"lemma-5.5/{variant}-cases", out, enc(**encl), checks={"every 1-D case enclosed": not failed},
                 note=f"{proved} of {len(out)} one-dimensional cases proved HOLDS ({len(cases)} drawn, {skipped} "
                      "low-rank d = 2 cases not attempted: their theta-integral is 2-D"
                      + (f"; enclosure failed: {'; '.join(failed)}" if failed else "") + ")")


def _np_act(spec: Mapping[str, Any]) -> Callable[[np.ndarray], np.ndarray]:
    from scipy.special import erf, expit
    base = {"tanh": np.tanh, "erf": erf, "sigmoid": expit}[spec["base"]]
    c, s = float(spec.get("c", 1.0)), float(spec.get("s", 1.0))
    return lambda z: c * base(z / s)


def _float_beta(S: np.ndarray, lw: np.ndarray, alpha: float, M: float) -> float:
    """argmin_beta (M + Lambda(beta))/beta on a float rule (only chooses beta; the bound is enclosed later)."""
    from scipy.optimize import minimize_scalar
    from scipy.special import logsumexp
    g = lambda lb: (M + logsumexp(lw + 0.5 * (math.exp(lb) * alpha * S) ** 2)) / math.exp(lb)   # noqa: E731
    smax = max(float(np.max(np.abs(S))), 1e-300)
    b0 = math.sqrt(2.0 * M) / (alpha * smax)   # the optimum of the envelope bound beta^2 alpha^2 smax^2 / 2
    r = minimize_scalar(g, bounds=(math.log(b0) - 8.0, math.log(b0) + 8.0), method="bounded")
    return math.exp(r.x)


def rank1_upper(case: Mapping[str, Any]):
    """Enclosed upper bound on R_hat_S for d = 1 inputs: mean over sigma of ``(M + Lambda_sigma(b))/b``.

    sigma and -sigma give the same S^2, so half the sign vectors are computed; each beta is a float optimum.
    """
    from .lemma_5_5 import build_inputs
    fl = E.require_flint()
    x = [float(v) for v in build_inputs(case)[:, 0]]
    n, alpha, M = len(x), float(case["alpha"]), float(case["M"])
    h, G1, _ = act_of(case)
    hf = _np_act(case["act"])
    z = np.linspace(-40.0, 40.0, 8001)
    lw = -0.5 * z * z - math.log(np.sum(np.exp(-0.5 * z * z)))
    total = fl.arb(0)
    for rest in itertools.product((1, -1), repeat=n - 1):
        sigma = (1,) + rest
        S = sum(si * hf(z * xi) for si, xi in zip(sigma, x)) / n
        b = _float_beta(S, lw, alpha, M)
        total += E.dv_upper(M, E.log_mgf_rank1(x, sigma, h, G1, alpha, b), b)
    return total / 2 ** (n - 1)
