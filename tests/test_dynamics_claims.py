"""Tests of checks/dynamics_claims.py on fixed small cases: each stated check
holds, the known finding (E1) reproduces with a confirmation, the mutants are caught, the audits are
finite, and the verdicts say which width and step they were measured at (docs/verdicts.md)."""

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings

from checks import dynamics_claims as dc
from checks.verdict import Status, Tier
from _helpers import finite_numbers

PATH, T_INF = dc.EXAMPLE_PATH, dc.EXAMPLE_T_INF
THEOREM = dc.EXAMPLE_THEOREM


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
    assert finite_numbers(v.to_dict()["extra"])


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
    """Issue 10 item 9: a bias term 0.95 leaves no record with exp(-tau) above it (the first record is at
    tau >= 1/3): exactly INCONCLUSIVE, never HOLDS, and not a premise failure (t = 0 is no window)."""
    v = dc.check_lemma_5_2({**PATH, "bias_frac": 0.95, "m": 100, "replicas": 2, "n_records": 6})
    assert v.status is Status.INCONCLUSIVE, v.explain()
    assert "no resolving power" in v.reason


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


@pytest.mark.claim("lemma-5.3/stated")
def test_lemma_5_3_path_decides_holds_from_the_energy_upper_bound():
    """Issue 10 item 6: HOLDS of the "<=" claim reads the upper bracket (the energy bound), VIOLATED the lower
    one (the moment KL); with the RHS between the two brackets the verdict is INCONCLUSIVE (the old check
    judged the moment lower value and called it HOLDS)."""
    v = dc.check_lemma_5_3(PATH)
    assert v.observed_upper == v.observed == pytest.approx(v.extra["kl_energy_upper"])
    assert v.observed_lower == pytest.approx(v.extra["kl_moment_lower"])
    assert v.observed_lower < v.observed_upper
    assert v.observed_upper + v.margin <= v.bound_lower
    assert v.tier is Tier.ESTIMATED and dc.LEMMA_5_3.id == "lemma-5.3"
    between = dc._l53_path(PATH, "stated", rhs=math.sqrt(v.observed_lower * v.observed_upper))
    assert between.observed_lower + between.margin < between.bound < between.observed_upper - between.margin
    assert between.status is Status.INCONCLUSIVE, between.explain()


@pytest.mark.claim("lemma-5.3/stated")
def test_lemma_5_3_finite_width_moment_excess_is_no_violation():
    """At alpha ~ 1e5 the RHS is ~1e-5 while the plug-in moment KL keeps a finite-width excess ~1e-3 at m = 2000:
    the lower bracket is an estimate, so this is never VIOLATED (z se and the extrapolated 4m re-run)."""
    case = {**PATH, "n": 2, "seed": 550, "act": {"base": "erf", "c": 1.0, "s": 1.0}, "bias_frac": 1e-5,
            "lam": 0.018108605769578852}
    v = dc.check_lemma_5_3(case)
    assert v.status is not Status.VIOLATED, v.explain()
    assert v.observed_lower > v.bound          # the point estimate of the lower side is above the RHS ...
    assert v.observed_upper > v.bound          # ... and the energy side cannot prove HOLDS either


@pytest.mark.claim("lemma-5.3/audit")
def test_lemma_5_3_audit_and_mutant():
    v = dc.audit_lemma_5_3(PATH)
    assert v.observed > 4 and finite_numbers(v.to_dict()["extra"])    # docs/claims.md#lemma-53: slack >= 1e6 in our runs
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
def test_theorem_4_4_violation_at_p_not_known_admissible_is_inconclusive():
    """Issue 10 item 9: at P = P_lo and at any multiple of it below P_cert a violation is undecidable; at a
    multiple of P_cert (Lemma 5.1 proved on R(P) by the perturbation bound) the mutant is caught."""
    for at in ({**THEOREM, "P_mode": "P_min"}, THEOREM):
        assert dc.check_theorem_4_4(at).undecidable
        mutant = dc.mutant_check_thm44_rate_x8(at)
        assert mutant.status is Status.INCONCLUSIVE and "not known to be admissible" in mutant.reason
    cert = {**THEOREM, "P_mode": "certified"}
    v = dc.check_theorem_4_4(cert)
    assert not v.undecidable and v.extra["P_admissible"] and v.extra["P"] >= v.extra["P_cert"]
    assert v.status is Status.HOLDS, v.explain()
    assert dc.mutant_check_thm44_rate_x8(cert).status is Status.VIOLATED


@pytest.mark.claim("theorem-4.4/audit")
def test_theorem_4_4_audit_quantities():
    v = dc.audit_theorem_4_4(THEOREM)
    e = v.extra
    assert 0 <= e["max_w2_upper_over_R"] < 0.5                      # W2 <= R/2, the proof's step 3
    assert e["min_lam_ratio"] >= 0.5 and e["max_moment_ratio"] <= 1.0  # OP-H, OP-M hold at alpha_min
    assert e["alpha_min_n_exponent"] > 3                              # E9
    assert finite_numbers(v.to_dict()["extra"])


# Algorithm 1 and the kernel regime: tests/test_algorithm_1.py


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
    names = {(m[0], m[1]) for m in dc.MUTANTS}
    assert ("bias-over-1e6", "lemma-5.2/stated") in names and len(dc.MUTANTS) == 4
    matplotlib = pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    assert matplotlib
    s = dc.check_lemma_5_2(PATH).extra["series"]
    ax = Figure().add_subplot(1, 1, 1)
    dc.plot_loss_vs_bounds(ax, s["tau"], s["sqrt_loss"], s["lemma_5_2"], gronwall_rms=s["gronwall_rms"])
    assert len(ax.get_lines()) == 3
    assert np.all(np.asarray(s["sqrt_loss"]) <= np.asarray(s["lemma_5_2"]))


def test_degenerate_data_is_rejected_by_name():
    # d = 1 with r_min = 1: both inputs equal, H(p0) singular (Assumption 4.3 fails); the dataset builder
    # refuses such a case (checks.strategies.separation_problem), naming it, before any verdict is made.
    from theory.errors import DomainError

    case = {**PATH, "n": 2, "d": 1, "r_min": 1.0}
    for fn in (dc.check_lemma_5_2, dc.check_theorem_4_4):
        full = {**case, **THEOREM, "n": 2, "d": 1, "r_min": 1.0, "mode": "t_inf"}
        with pytest.raises(DomainError, match="cannot be separated"):
            fn(full)
    with pytest.raises(DomainError, match="r_min"):
        dc.check_lemma_5_2(case)


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


# -- sizes per profile (issue 14) ---------------------------------------------------------------
def test_case_ranges_per_profile_and_the_hunt_cap():
    from checks._dynamics_common import (MEMORY_CAP, RUN_WIDTHS, WORK_CAP, CaseRanges, bytes_per_particle,
                                         capped_m, case_ranges)

    # ci keeps the sizes of the first dynamics checks (so its cases, and verdicts, stay the same)
    assert case_ranges("ci") == CaseRanges((2, 3), (2, 2), (1e-3, 3e-2)) and case_ranges("soak") == case_ranges("ci")
    hunt = case_ranges("hunt")
    assert hunt.n == (2, 50) and hunt.d == (2, 20) and hunt.lam == (1e-3, 1.0) and hunt.m[1] == 1_000_000
    assert case_ranges("dev").n[1] >= 10 and case_ranges("dev").d[1] >= 6
    for n, d in ((2, 2), (20, 10), (50, 20)):
        m = capped_m(1e6, 2000, 8, n, d, WORK_CAP)
        assert m % 2 == 0 and 2000 <= m <= 1_000_000
        assert RUN_WIDTHS * m * 8 * n * d <= WORK_CAP and 4 * m * 8 * bytes_per_particle(n, d) <= MEMORY_CAP
    assert capped_m(1e6, 2000, 8, 2, 2, WORK_CAP) == 1_000_000      # m = 1e6 is reachable at small n, d
    assert capped_m(1e6, 2000, 8, 50, 20, 1.0) == 2000               # never below the range's floor
    assert capped_m(3001.7, 2000, 8, 50, 20, None) == 3000           # no cap (dev): even, as drawn


@settings(max_examples=15, deadline=None, database=None)
@given(dc.dynamics_cases(profile="hunt"))
def test_hunt_cases_are_large_separated_and_capped(case):
    from checks._dynamics_common import RUN_WIDTHS, WORK_CAP
    from checks.strategies import build_dataset

    assert 2 <= case["n"] <= 50 and 2 <= case["d"] <= 20 and 1e-3 <= case["lam"] <= 1.0
    assert RUN_WIDTHS * case["m"] * case["replicas"] * case["n"] * case["d"] <= WORK_CAP or case["m"] == 2000
    X, _ = build_dataset(case)
    U = X / np.linalg.norm(X, axis=1)[:, None]
    assert np.max(np.abs(U @ U.T)[np.triu_indices(case["n"], 1)], initial=0.0) <= math.cos(math.radians(30.0))


def test_fifty_points_in_twenty_dimensions_are_separated():
    from checks.strategies import build_dataset, separation_problem

    assert separation_problem(50, 20, 0.5, 30.0) is None and separation_problem(51, 20, 0.5, 30.0) is not None
    X, _ = build_dataset({"n": 50, "d": 20, "seed": 1, "r_min": 0.5, "min_angle_deg": 30.0})
    U = X / np.linalg.norm(X, axis=1)[:, None]
    assert np.max(np.abs(U @ U.T)[np.triu_indices(50, 1)]) <= math.cos(math.radians(30.0))


@pytest.mark.parametrize("case", [PATH, T_INF], ids=["path", "t_inf"])
def test_every_verdict_records_its_sizes(case):
    from checks._dynamics_common import SIZE_KEYS

    for fn in (dc.check_lemma_5_2, dc.check_lemma_5_3):
        e = fn(case).extra
        assert set(SIZE_KEYS) <= set(e) and (e["n"], e["d"]) == (case["n"], case["d"])
        assert e["alpha_lambda0"] == pytest.approx(e["alpha"] * e["lambda0"]) and e["lam"] == case["lam"]
        if case["mode"] == "path":
            assert e["m"] == case["m"] and e["replicas"] == case["replicas"]
            assert e["dt_phys"] == pytest.approx(e["dt_tau"] / e["alpha_lambda0"] ** 2)
        else:   # p* is the t = inf state: no particles, no step
            assert e["m"] is None and e["dt_tau"] is None and e["dt_phys"] is None
    # a premise failure (raised before any context exists) still names the case's sizes
    from checks._dynamics_common import _guard, _PremiseFailed

    def fails(case):
        raise _PremiseFailed("Assumption 4.3: Lambda not resolved")

    v = _guard("lemma-5.2/stated")(fails)(case)
    assert v.status is Status.PREMISE_FAILED and v.extra["n"] == case["n"] and v.extra["m"] == case["m"]
    assert v.extra["alpha"] is None


def test_t_inf_beyond_rank_3_is_an_estimate_over_qmc_scrambles():
    # n = 6 points in d = 5: rank 5 > 3, so p* is solved on scrambled Sobol rules (no tensor rule): the
    # verdict is tier S with a standard error over scrambles, and says so.
    case = {**T_INF, "n": 6, "d": 5, "lam": 0.1}
    for fn, key in ((dc.check_lemma_5_2, "sqrt_loss"), (dc.check_lemma_5_3, "KL")):
        v = fn(case)
        assert v.tier is Tier.ESTIMATED and v.stderr > 0 and "Sobol" in v.tolerance_reason, v.explain()
        assert v.status is Status.HOLDS and v.extra["qmc_points"] >= 2 ** 13 and v.extra["replicas"] >= 2
        assert "gibbs=qmc" in v.extra["events"]
    thm = dc.check_theorem_4_4({**THEOREM, "n": 6, "d": 5, "lam": 0.1, "mode": "t_inf", "P_mode": "certified"})
    assert thm.tier is Tier.ESTIMATED and thm.status is Status.HOLDS, thm.explain()
    # the route can fail: the bias term over 1e6 is violated, and confirmed on fresh scrambles at 4x points
    bad = dc.mutant_check_l52_bias_over_1e6({**case, "bias_frac": 0.2})
    assert bad.status is Status.VIOLATED, bad.explain()
    assert bad.confirmation.case["confirmation"] == "fresh scrambles, 4x points"
    assert bad.confirmation.extra["qmc_points"] == 4 * v.extra["qmc_points"]


def test_large_examples_run_only_under_dev_and_hunt_and_strategies_follow_the_searched_profile():
    from checks import runner
    from checks._dynamics_common import case_ranges
    from checks.profiles import using_profile
    from checks.registry import get_variant

    v = get_variant("lemma-5.2/stated")
    ci = tuple(v.examples)
    assert ci == (dc.EXAMPLE_T_INF, dc.EXAMPLE_PATH, dc._RHO_52) and max(c["n"] for c in ci) <= 3
    with using_profile("dev"):
        dev = tuple(v.examples)
        assert case_ranges() == case_ranges("dev")
    with using_profile("hunt"):
        hunt = tuple(v.examples)
    assert dev[:3] == ci and max(c["n"] for c in dev) == 10 and len(dev) < len(hunt)
    assert max(c["n"] for c in hunt) == 50 and max(c["d"] for c in hunt) == 20
    assert tuple(v.examples) == ci   # outside the block: ci again
    # the runner builds the strategy and reads the examples under the profile it searches with
    seen = []

    def strategy():
        seen.append(case_ranges().n)
        return dc.dynamics_cases()

    import dataclasses

    probe = dataclasses.replace(v, strategy=strategy, check=lambda case: dc._plain("lemma-5.2/stated", case),
                                examples=())
    runner.as_hypothesis_test(probe, profile="dev", max_examples=1, record=False)
    assert seen == [case_ranges("dev").n]
