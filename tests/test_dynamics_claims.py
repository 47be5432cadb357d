"""Tests of checks/dynamics_claims.py and checks/algorithm_1.py on fixed small cases: each stated check
holds, the known finding (E1) reproduces with a confirmation, the mutants are caught, the audits are
finite, and the verdicts say which width and step they were measured at (DESIGN 3)."""

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings

from checks import algorithm_1 as alg
from checks import dynamics_claims as dc
from checks.verdict import Status, Tier

PATH, T_INF = dc.EXAMPLE_PATH, dc.EXAMPLE_T_INF
THEOREM, KERNEL, ALGORITHM = dc.EXAMPLE_THEOREM, alg.EXAMPLE_KERNEL, alg.EXAMPLE_ALGORITHM


def _finite_numbers(obj):
    """Every number in a JSON-able structure is finite (None allowed for 'not applicable')."""
    if isinstance(obj, dict):
        return all(_finite_numbers(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return all(_finite_numbers(v) for v in obj)
    if isinstance(obj, float):
        return math.isfinite(obj)
    return True


# -- Lemma 5.2 ----------------------------------------------------------------------------------
@pytest.mark.claim("lemma-5.2/stated")
def test_lemma_5_2_path_holds_and_reports_width_and_step():
    v = dc.check_lemma_5_2(PATH)
    assert v.status is Status.HOLDS, v.explain()
    assert v.tier is Tier.ESTIMATED and v.stderr > 0
    assert v.extra["m"] == PATH["m"] and v.extra["dt_tau"] > 0
    lo, hi = v.extra["window_tau"]
    assert 0 < lo <= v.extra["tau_star"] <= hi
    # the window is where exp(-tau) dominates the bias term and twice the floor
    assert math.exp(-hi) >= max(v.extra["bias_term"], 2 * v.extra["floor"])
    assert v.premises["L(p0) <= 1 (symmetric init, E17)"]


@pytest.mark.claim("lemma-5.2/stated")
def test_lemma_5_2_t_inf_holds_exactly():
    v = dc.check_lemma_5_2(T_INF)
    assert v.status is Status.HOLDS and v.tier is Tier.EXACT, v.explain()
    assert v.bound == pytest.approx(v.extra["bias_term"])      # exp term is 0 at t = inf
    # E16: loose by orders of magnitude at t = inf (sqrt L* ~ lam/alpha^2 against lam/alpha)
    assert v.extra["slack_orders"] > 2


@pytest.mark.claim("lemma-5.2/audit")
def test_lemma_5_2_audit_is_finite():
    v = dc.audit_lemma_5_2(PATH)
    assert math.isfinite(v.observed) and v.observed > 0
    assert v.extra["finite_width_bias_sqrt_loss"] >= 0
    assert _finite_numbers(v.to_dict()["extra"])


def test_lemma_5_2_mutants_are_caught():
    small_bias = {**T_INF, "bias_frac": 0.2}
    v = dc.mutant_check_l52_bias_over_1e6(small_bias)
    assert v.status is Status.VIOLATED, v.explain()
    steep = {**PATH, "seed": 1, "bias_frac": 1e-3}   # y has weight on the slow mode (~exp(-2 tau))
    v = dc.mutant_check_l52_rate_x8(steep)
    assert v.status is Status.VIOLATED, v.explain()
    assert v.confirmation is not None and v.confirmation.extra["m"] == 4 * PATH["m"]
    # the stated lemma holds on the same run
    assert dc.check_lemma_5_2(steep).status is Status.HOLDS


def test_no_resolving_power_is_inconclusive():
    v = dc.check_lemma_5_2({**PATH, "bias_frac": 0.3, "m": 100, "replicas": 2, "n_records": 6})
    # bias 0.3 and a floor ~0.05 at m = 100 leave a short window or none; never a violation
    assert v.status in (Status.HOLDS, Status.INCONCLUSIVE)


# -- Lemma 5.3 ----------------------------------------------------------------------------------
@pytest.mark.claim("lemma-5.3/stated")
def test_lemma_5_3_holds_on_both_routes():
    for case in (PATH, T_INF):
        v = dc.check_lemma_5_3(case)
        assert v.status is Status.HOLDS, v.explain()
    v = dc.check_lemma_5_3(PATH)
    lo, up = v.extra["kl_bracket_max"]
    assert 0 <= lo <= up
    assert v.extra["slack_orders_energy_upper"] > 0             # even the energy upper value is below the bound


@pytest.mark.claim("lemma-5.3/audit")
def test_lemma_5_3_audit_and_mutant():
    v = dc.audit_lemma_5_3(PATH)
    assert v.observed > 4 and _finite_numbers(v.to_dict()["extra"])    # MATH 4.3: slack >= 1e6 in our runs
    big_alpha = {**T_INF, "bias_frac": 1e-5}
    assert dc.mutant_check_l53_alpha_power_4(big_alpha).status is Status.VIOLATED


# -- Theorem 4.4 --------------------------------------------------------------------------------
@pytest.mark.claim("theorem-4.4/stated")
def test_theorem_4_4_holds_on_the_path_and_at_t_inf():
    v = dc.check_theorem_4_4(THEOREM)
    assert v.status is Status.HOLDS, v.explain()
    assert v.extra["alpha"] == pytest.approx(v.extra["alpha_min"])        # alpha_factor = 1: at the threshold
    assert v.extra["evaluated_at"].startswith("path")
    w = dc.check_theorem_4_4({**THEOREM, "mode": "t_inf"})
    assert w.status is Status.HOLDS and w.extra["evaluated_at"].startswith("t=inf"), w.explain()


@pytest.mark.claim("theorem-4.4/stated")
def test_theorem_4_4_violation_at_p_min_is_inconclusive():
    at_min = {**THEOREM, "P_mode": "P_min"}
    assert dc.check_theorem_4_4(at_min).undecidable
    mutant = dc.mutant_check_thm44_rate_x8(at_min)
    assert mutant.status is Status.INCONCLUSIVE and "P_min" in mutant.reason
    assert dc.mutant_check_thm44_rate_x8(THEOREM).status is Status.VIOLATED


@pytest.mark.claim("theorem-4.4/audit")
def test_theorem_4_4_audit_quantities():
    v = dc.audit_theorem_4_4(THEOREM)
    e = v.extra
    assert 0 <= e["max_w2_upper_over_R"] < 0.5                      # W2 <= R/2, the proof's step 3
    assert e["min_lam_ratio"] >= 0.5 and e["max_moment_ratio"] <= 1.0  # OP-H, OP-M hold at alpha_min
    assert e["alpha_min_n_exponent"] > 3                              # E9
    assert _finite_numbers(v.to_dict()["extra"])


# -- Algorithm 1 --------------------------------------------------------------------------------
@pytest.mark.claim("algorithm-1/stated")
def test_printed_algorithm_known_finding_reproduces():
    v = alg.check_algorithm_printed(ALGORITHM)
    assert v.status is Status.VIOLATED, v.explain()
    assert v.confirmation is not None and v.confirmation.extra["m"] == 64 * ALGORITHM["m"]
    # E1: outputs near 0, second moment on the heat flow k(1 + 2 lam T) within 5%
    e = v.extra
    assert max(abs(f) for f in e["f"]) < 0.25 * max(abs(f) for f in e["f_star"])
    assert e["second_moment"] == pytest.approx(e["heat_flow_second_moment"], rel=0.05)


@pytest.mark.claim("algorithm-1/corrected")
def test_corrected_algorithm_holds_and_the_ladder_converges():
    v = alg.check_algorithm_corrected(ALGORITHM)
    assert v.status is Status.HOLDS, v.explain()
    lad = v.extra["rel_error_ladder"]
    assert lad["16m,dt"] < lad["m,dt"]
    assert alg.mutant_check_alg_printed_as_corrected(ALGORITHM).status is Status.VIOLATED


@pytest.mark.claim("algorithm-1/audit")
def test_algorithm_audit_is_finite():
    v = alg.audit_algorithm(ALGORITHM)
    assert math.isfinite(v.observed) and _finite_numbers(v.to_dict()["extra"])


# -- kernel regime ------------------------------------------------------------------------------
@pytest.mark.claim("kernel-regime/stated")
def test_kernel_regime_holds_and_reversal_is_caught():
    for case in (KERNEL, {**KERNEL, "mode": "t_inf"}):
        v = alg.check_kernel_regime(case)
        assert v.status is Status.HOLDS, v.explain()
        assert alg.mutant_check_kr_reversed(case).status is Status.VIOLATED


@pytest.mark.claim("kernel-regime/audit")
def test_kernel_regime_audit_slopes_negative():
    v = alg.audit_kernel_regime(KERNEL)
    assert v.observed < 0 and v.extra["slope_gibbs"] < 0
    assert _finite_numbers(v.to_dict()["extra"])


# -- strategies, cases, plot, mutants list -----------------------------------------------------
@settings(max_examples=10, deadline=None, database=None)
@given(dc.dynamics_cases())
def test_cases_are_json_and_sized_by_profile(case):
    assert json.loads(json.dumps(case)) == case
    sz = dc.sizes()
    assert case["m"] == sz.m and case["m"] % 2 == 0 and case["mode"] in ("t_inf", "path")


def test_sizes_by_profile():
    assert dc.sizes("hunt").m >= 100_000
    assert dc.sizes("ci").m <= 10_000 and dc.sizes("ci").replicas <= 8


def test_mutants_list_and_plot():
    names = {(m[0], m[1]) for m in dc.MUTANTS + alg.MUTANTS}
    assert ("bias-over-1e6", "lemma-5.2/stated") in names and (len(dc.MUTANTS), len(alg.MUTANTS)) == (4, 2)
    matplotlib = pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    assert matplotlib
    s = dc.check_lemma_5_2(PATH).extra["series"]
    ax = Figure().add_subplot(1, 1, 1)
    dc.plot_loss_vs_bounds(ax, s["tau"], s["sqrt_loss"], s["lemma_5_2"], gronwall_rms=s["gronwall_rms"])
    assert len(ax.get_lines()) == 3
    assert np.all(np.asarray(s["sqrt_loss"]) <= np.asarray(s["lemma_5_2"]))


def test_degenerate_data_is_premise_failed():
    # d = 1 with r_min = 1: both inputs equal, H(p0) singular, Lambda = 0 (Assumption 4.3 fails)
    case = {**PATH, "n": 2, "d": 1, "r_min": 1.0}
    for fn in (dc.check_lemma_5_2, dc.check_theorem_4_4, alg.check_kernel_regime):
        full = {**case, **THEOREM, **KERNEL, "n": 2, "d": 1, "r_min": 1.0, "mode": "t_inf"}
        v = fn(full)
        assert v.status is Status.PREMISE_FAILED and "Assumption 4.3" in v.reason
    assert dc.check_lemma_5_2(case).status is Status.PREMISE_FAILED


def test_report_plot_hook_registered():
    from checks.report import PLOTS
    from checks.runner import VariantResult

    names = {name: fn for name, fn in PLOTS.get("lemma-5.2", [])}
    assert "loss-vs-bounds" in names and "loss-vs-bounds" in dict(PLOTS.get("theorem-4.4", []))
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    extra = dc.check_lemma_5_2(PATH).to_dict()["extra"]
    r = VariantResult("lemma-5.2/stated", "lemma-5.2", "Lemma 5.2", "stated", "holds", "estimated",
                      kept=[{"status": "HOLDS", "normalised_slack": 0.5, "slack_ratio": 2.0, "extra": extra}])
    fig = Figure()
    assert names["loss-vs-bounds"]([r], fig) is True and len(fig.axes) == 1
