"""Reports (checks/report.py, checks/plugin.py): table, JSON schema, plots, merge of xdist workers."""

import copy
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import strategies as st

from checks import plugin, report, runner
from checks.registry import Claim, Expected, Variant
from checks.report import (ReportSchemaError, build_report, check_report, format_table, load_report,
                           results_from_json, results_from_report, results_to_json, short_case, validate,
                           write_json, write_plots)
from checks.runner import VariantResult, run_variant
from checks.strategies import seeds
from checks.verdict import Tier, Verdict

TOY = Claim("toy-1", "Toy 1", "a <= limit")


def _check(limit):
    def check(case):
        return Verdict(claim="toy-1/x", observed=case["a"], bound=limit, case=dict(case), extra={"a": case["a"]})
    return check


def _variant(name, expected, limit):
    strat = lambda: st.fixed_dictionaries({"a": st.integers(0, 1000), "seed": seeds()})  # noqa: E731
    return Variant(TOY, name, expected, Tier.EXACT, "toy", strat, _check(limit), max_examples=25)


def _manual(variant_id, outcome="pass", kept=(), message="", profile="ci"):
    claim, _, name = variant_id.partition("/")
    return VariantResult(variant_id, claim, claim.title(), name, "counterexample" if "mutant" in name else "holds",
                         "exact", outcome=outcome, message=message, kept=list(kept), profile=profile, elapsed_s=0.5)


LEMMA_5_1_KEPT = [{"status": "HOLDS", "normalised_slack": 0.1 * i, "slack_ratio": 1.0 + i,
                   "extra": {"P_min": 2.0 ** i, "G": 1.0 + i, "log_inv_lambda0": 3.0 - 0.5 * i}} for i in range(5)]


@pytest.fixture(scope="module")
def results():
    holds = run_variant(_variant("stated", Expected.HOLDS, 2000), profile="ci", record=False)
    audit = run_variant(_variant("audit", Expected.REPORT, 500), profile="ci", record=False)
    return [audit, _manual("toy-2/stated", "fail", message="violation found: toy-2 boom"), holds,
            _manual("toy-1/mutant-a", "pass"), _manual("toy-1/mutant-b", "fail", message="probe did not reproduce"),
            _manual("lemma-5.1/audit", kept=LEMMA_5_1_KEPT)]


# -- table --------------------------------------------------------------------------------------
def test_table_rows_columns_and_order(results):
    text = format_table(results)
    lines = text.splitlines()
    assert lines[0] == "4 claim variant(s): 3 pass, 0 inconclusive, 1 fail, 0 error"   # the rows shown
    lines = lines[1:]
    assert lines[0].split() == ["variant", "expected", "outcome", "cases", "decided", "H", "V", "I", "P", "min",
                                "slack", "ratio", "rho*", "eps", "ci", "eps", "hunt", "time"]
    rows = [ln.split()[0] for ln in lines[2:] if ln and ln.split()[0] in
            ("toy-1/stated", "toy-1/audit", "toy-2/stated", "lemma-5.1/audit")]
    assert rows == ["lemma-5.1/audit", "toy-1/stated", "toy-1/audit", "toy-2/stated"]   # claim, then kind
    holds, audit = results[2], results[0]
    row = next(ln for ln in lines if ln.startswith("toy-1/stated")).split()
    assert row[1:9] == ["holds", "pass", "25", "25/1", "25", "0", "0", "0"]
    assert row[9] == f"{holds.min_slack:.3g}" and row[10] == f"{holds.min_slack_ratio:.3g}"
    assert row[11:14] == ["-", "-", "-"]   # no sensitivity measured
    assert f"  gntk-check replay-case toy-1/stated '{json.dumps(holds.tightest['case'], sort_keys=True, separators=(',', ':'))}'" in text
    arow = next(ln for ln in lines if ln.startswith("toy-1/audit")).split()
    assert int(arow[6]) == audit.counts["VIOLATED"] > 0
    assert next(ln for ln in lines if ln.startswith("toy-2/stated")).split()[1:3] == ["holds", "FAIL"]
    # Mutants have their own section, counted apart.
    mut = lines.index("2 mutant(s): 1 killed, 1 not killed")
    assert lines[mut + 1].split() == ["mutant", "outcome", "cases", "V", "time", "description"]
    assert [ln.split()[:2] for ln in lines[mut + 3: mut + 5]] == [["toy-1/mutant-a", "killed"],
                                                                  ["toy-1/mutant-b", "SURVIVED"]]
    assert not any(ln.startswith("toy-1/mutant") for ln in lines[:mut])
    assert "mutant kill rate: toy-1 1/2 (survived: mutant-b)" in text
    assert "FAIL toy-2/stated [holds]: violation found: toy-2 boom" in text
    assert format_table(list(reversed(results))) == text   # xdist finishing order does not matter


def test_table_without_results():
    assert format_table([]) == "(no claim variants were run)"


def test_short_case():
    assert short_case({"b": 1, "a": [1, 2]}) == '{"a":[1,2],"b":1}'
    long = short_case({"k": "x" * 100}, width=20)
    assert len(long) == 20 and long.endswith("...")
    assert short_case(None) == "-"


# -- JSON report ----------------------------------------------------------------------------------
def test_report_validates_and_records_the_environment(results):
    rep = build_report(results)
    assert validate(rep) == []
    env = rep["environment"]
    import hypothesis
    import scipy

    assert env["versions"]["numpy"] == np.__version__ and env["versions"]["scipy"] == scipy.__version__
    assert env["versions"]["hypothesis"] == hypothesis.__version__ and env["versions"]["numba"]
    assert env["blas"] and any(b.get("name") or b.get("internal_api") for b in env["blas"])
    assert env["cpu"] and env["cpu_count"] >= 1 and env["python"] == ".".join(map(str, sys.version_info[:3]))
    assert rep["profile"] == "ci" and rep["summary"]["variants"] == 6
    assert rep["summary"]["outcomes"] == {"pass": 4, "inconclusive": 0, "fail": 2, "error": 0}
    assert rep["kill_rates"] == {"toy-1": {"killed": 1, "total": 2, "rate": 0.5, "survivors": ["mutant-b"]}}
    assert build_report(results + [_manual("toy-3/stated", profile="dev")])["profile"] == "mixed"


def test_report_round_trip_through_a_file(results, tmp_path):
    rep = build_report(results)
    path = write_json(rep, tmp_path / "sub" / "claims-report.json")
    text = path.read_text()
    assert "NaN" not in text and "Infinity" not in text          # strict JSON
    assert list(tmp_path.joinpath("sub").iterdir()) == [path]     # the temporary file was renamed
    back = load_report(path)
    assert back == rep
    # build_report may add the statement, description and erratum of a registered variant that a
    # result lacks (whether lemma-5.1 is registered depends on the tests run before): compare the rest.
    added = ("statement", "description", "erratum")
    strip = lambda d: {k: v for k, v in d.items() if k not in added}  # noqa: E731
    by_id = {r.variant_id: strip(r.to_dict()) for r in results}
    assert all(strip(r.to_dict()) == by_id[r.variant_id] for r in results_from_report(back))


def test_report_carries_statement_description_and_erratum(results, monkeypatch):
    from checks import registry

    monkeypatch.setattr(registry, "_REGISTRY", {})
    finding = Variant(Claim("toy-7", "Toy 7", "b <= 1"), "stated", Expected.KNOWN_FINDING, Tier.EXACT, "toy finding",
                      lambda: st.just({"b": 2}), _check(1), finding="E11: the toy is wrong")
    registry.register(finding)
    old = _manual("toy-7/stated")   # a result of an older run: no statement or description recorded
    rep = build_report([results[2], old])
    by_id = {r["variant_id"]: r for r in rep["results"]}
    assert by_id["toy-1/stated"]["statement"] == "a <= limit" and by_id["toy-1/stated"]["description"] == "toy"
    assert by_id["toy-1/stated"]["erratum"] is None
    assert (by_id["toy-7/stated"]["statement"], by_id["toy-7/stated"]["description"],
            by_id["toy-7/stated"]["erratum"]) == ("b <= 1", "toy finding", "E11")
    assert validate(rep) == []
    unregistered = build_report([_manual("toy-8/stated")])["results"][0]
    assert unregistered["statement"] in ("", None) and unregistered["erratum"] is None


def _broken(rep, edit):
    rep = copy.deepcopy(rep)
    edit(rep)
    return rep


BROKEN = {
    "missing counts": (lambda r: r["results"][0].pop("counts"), "missing required key 'counts'"),
    "bad outcome": (lambda r: r["results"][0].update(outcome="maybe"), "'maybe' is not one of"),
    "negative cases": (lambda r: r["results"][0].update(cases=-1), "-1 < minimum 0"),
    "unknown top key": (lambda r: r.update(extra=1), "unexpected key 'extra'"),
    "bad verdict status": (lambda r: r["results"][1]["tightest"].update(status="OK"), "tightest"),
    "nan as string": (lambda r: r["results"][1].update(min_slack="nan"), "min_slack"),
    "rate above 1": (lambda r: r["kill_rates"]["toy-1"].update(rate=1.5), "1.5 > maximum 1"),
    "no numpy version": (lambda r: r["environment"]["versions"].pop("numpy"), "missing required key 'numpy'"),
    "kept slack out of range": (lambda r: r["results"][1]["kept"][0].update(normalised_slack=3.0), "kept[0]"),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_schema_rejects_broken_reports(results, name):
    edit, where = BROKEN[name]
    bad = _broken(build_report(results), edit)
    errors = validate(bad)
    assert errors and any(where in e for e in errors), errors
    with pytest.raises(ReportSchemaError, match="report does not match report_schema.json"):
        check_report(bad)


def test_schema_agrees_with_jsonschema(results):
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(report.SCHEMA_PATH.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    good = build_report(results)
    assert validator.is_valid(good) and validate(good) == []
    for name, (edit, _) in BROKEN.items():
        bad = _broken(good, edit)
        assert not validator.is_valid(bad) and validate(bad), name


def test_validator_rejects_remote_references():
    with pytest.raises(ValueError, match="only local"):
        validate({}, {"$ref": "https://example.org/schema.json"})


def test_results_json_round_trip(results):
    back = results_from_json(results_to_json(results))
    assert [r.to_dict() for r in back] == [r.to_dict() for r in results]
    with pytest.raises(TypeError, match="expected a JSON list"):
        results_from_json('{"a": 1}')


# -- plots ----------------------------------------------------------------------------------------
def test_plots_per_claim_and_registered(results, tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    seen = []
    from checks import plots

    monkeypatch.setattr(plots, "PLOTS", dict(plots.PLOTS))

    @report.register_plot("toy-1", "custom")
    def custom(rs, fig):
        seen.append(sorted(r.variant_id for r in rs))
        fig.add_subplot(1, 1, 1).plot([0, 1], [1, 0])
        return True

    out = write_plots(results, tmp_path, prefix="run-")
    names = sorted(p.name for p in out.paths)
    assert out.skipped is None
    assert names == ["run-lemma_5_1-pmin.png", "run-lemma_5_1-slack.png", "run-toy_1-custom.png",
                     "run-toy_1-slack.png"]   # toy-2 kept no cases: nothing to draw
    assert seen == [["toy-1/audit", "toy-1/stated"]]   # a claim's plots get its results, mutants excluded
    for p in out.paths:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 2000


def test_plots_skipped_without_matplotlib(results, tmp_path, monkeypatch):
    for mod in ("matplotlib", "matplotlib.figure", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, mod, None)   # import of any of them now raises ImportError
    out = write_plots(results, tmp_path)
    assert out.paths == () and out.skipped.startswith("plots skipped: matplotlib is not installed")
    assert list(tmp_path.iterdir()) == []


# -- plugin: merging xdist workers ----------------------------------------------------------------
class _Node:
    def __init__(self, text):
        self.workeroutput = {plugin.WORKER_KEY: text} if text is not None else {}


class _Config:
    def __init__(self, **kw):
        self.__dict__.update(kw)


def test_plugin_merges_worker_outputs(results, monkeypatch):
    monkeypatch.setattr(runner, "RESULTS", [results[0]])
    session = plugin.ClaimsSession(_Config())
    session.pytest_sessionstart(None)
    runner.RESULTS.append(results[2])   # run on the controller itself (no xdist)
    session.pytest_testnodedown(_Node(results_to_json(results[3:5])), None)
    session.pytest_testnodedown(_Node(None), None)   # a worker that ran no claims
    merged = session.results()
    assert [r.variant_id for r in merged] == ["toy-1/stated", "toy-1/mutant-a", "toy-1/mutant-b"]


def test_plugin_worker_ships_its_results(results, monkeypatch):
    monkeypatch.setattr(runner, "RESULTS", [])
    config = _Config(workerinput={"workerid": "gw0"}, workeroutput={})
    session = plugin.ClaimsSession(config)
    runner.RESULTS.extend(results[:2])
    session.pytest_sessionfinish(None, 0)
    shipped = results_from_json(config.workeroutput[plugin.WORKER_KEY])
    assert [r.to_dict() for r in shipped] == [r.to_dict() for r in results[:2]]


TOY_SUITE = '''
import pytest
from hypothesis import strategies as st
from checks.registry import Claim, Expected, Variant
from checks.runner import run_variant
from checks.verdict import Tier, Verdict

C = Claim("toy-9", "Toy 9", "a <= limit")

def make(name, limit):
    def check(case):
        return Verdict(claim="toy-9/" + name, observed=case["a"], bound=limit, case=dict(case))
    return Variant(C, name, Expected.HOLDS, Tier.EXACT, "toy", lambda: st.fixed_dictionaries(
        {"a": st.integers(0, 100)}), check, max_examples=10)

@pytest.mark.parametrize("name", ["stated", "corrected", "probe", "audit"])
def test_toy(name):
    assert run_variant(make(name, 1000)).outcome == "pass"
'''


def test_pytest_xdist_run_merges_workers(tmp_path):
    pytest.importorskip("xdist")
    (tmp_path / "conftest.py").write_text("from checks.profiles import register_profiles\nregister_profiles()\n")
    (tmp_path / "test_toy.py").write_text(textwrap.dedent(TOY_SUITE))
    env = {**os.environ, "CI": "true", "GNTK_PROFILE": "ci", "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-n", "2", "-p", "no:cacheprovider", "-q",
                           "--claims-report", "out/claims.json", "test_toy.py"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "gntk-checks: 4 claim variant run(s)" in proc.stdout, proc.stdout
    for name in ("stated", "corrected", "probe", "audit"):
        assert f"toy-9/{name} " in proc.stdout
    rep = load_report(tmp_path / "out" / "claims.json")   # validated against the schema
    assert sorted(r["name"] for r in rep["results"]) == ["audit", "corrected", "probe", "stated"]
    assert all(r["cases"] == 10 for r in rep["results"])
    assert "claims report:" in proc.stdout
    if _has_matplotlib():
        assert (tmp_path / "out" / "claims-toy_9-slack.png").exists()


def _has_matplotlib():
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


# -- plot styles ----------------------------------------------------------------------------------
def _kept(status, slack, ratio, **extra):
    return {"status": status, "normalised_slack": slack, "slack_ratio": ratio, "extra": extra}


def test_slack_plot_draws_each_status_in_its_own_style_with_a_log_ratio_panel():
    pytest.importorskip("matplotlib")
    from matplotlib.colors import to_rgba
    from matplotlib.figure import Figure

    from checks import plots

    kept = ([_kept("HOLDS", 0.5, 10.0 ** i) for i in range(5)] + [_kept("INCONCLUSIVE", -0.98, 0.02)] * 4
            + [_kept("VIOLATED", -0.3, 0.7)] + [_kept("HOLDS", 1.0, "inf")])
    r = _manual("lemma-5.3/stated", kept=kept)
    fig = Figure()
    assert plots.slack_histogram([r], fig)
    left, right = fig.axes
    labels = fig.legends[0].get_texts()
    assert [t.get_text() for t in labels] == ["stated: holds (6)", "stated: inconclusive (4)", "stated: violated (1)"]
    edge = {t.get_text().split(": ")[1].split()[0]: h.get_edgecolor()
            for t, h in zip(labels, fig.legends[0].legend_handles)}
    assert edge["inconclusive"] == to_rgba("tab:gray") != edge["violated"] == to_rgba("tab:red")
    assert "violated" not in left.get_xlabel()   # the axis no longer calls every negative slack a violation
    assert right.get_xlabel().startswith("log10 slack ratio")
    assert any("1 off scale" in t.get_text() for t in right.texts)   # the infinite ratio is counted, not lost
    lo, hi = right.get_xlim()
    assert lo < -1.5 and hi > 3.5   # 0.02 .. 1e4: orders of magnitude visible


def test_loss_vs_bounds_has_title_case_labels_legend_off_the_curves_and_caption():
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    from checks import plots

    tau = [0.0, 1.0, 2.0]
    series = {"tau": tau, "sqrt_loss": [1.0, 0.4, 0.1], "lemma_5_2": [1.1, 0.5, 0.2], "gronwall_rms": [1.0, 0.6, 0.3]}
    kept = [_kept("HOLDS", 0.2, 1.5, series=series, n=3, d=2, alpha=a, lam=0.005, m=2000) for a in (1.0, 4.0)]
    r = _manual("lemma-5.2/stated", kept=kept)
    fig = Figure()
    assert plots.loss_vs_bounds([r], fig)
    assert fig._suptitle.get_text() == "lemma-5.2: loss along simulated runs against the bounds"
    assert [ax.get_title() for ax in fig.axes] == ["stated: n=3 d=2 alpha=1 lambda=0.005 m=2000",
                                                   "stated: n=3 d=2 alpha=4 lambda=0.005 m=2000"]
    assert all(ax.get_legend() is None for ax in fig.axes) and len(fig.legends) == 1   # one legend, beside
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["sqrt L (simulated)", "Lemma 5.2",
                                                                   "Gronwall / sqrt n"]
    caption = " ".join(t.get_text() for t in fig.texts).replace("\n", " ")
    assert "Gronwall / sqrt n: the Gronwall envelope" in caption and "divided by sqrt n" in caption
    assert "Finite-width floor" in caption


def test_headline_exponent_plot_draws_the_series_and_the_paper_slope(tmp_path):
    """A headline result whose verdicts carry a series gets a log-log panel; one without a series gets none."""
    from matplotlib.figure import Figure

    from checks.plots import headline_exponents

    r = runner.VariantResult("headline/kl-rate", "headline", "headline", "kl-rate", "holds", "exact")
    r.kept = [{"status": "HOLDS", "extra": {"alphas": [1.0, 10.0, 100.0], "series": [1.0, 1e-2, 1e-4],
                                             "paper_exponent": -2.0, "exponent": -2.0}}]
    fig = Figure()
    assert headline_exponents([r], fig)
    (ax,) = fig.axes
    assert len(ax.lines) == 2 and "slope -2" in ax.get_legend().get_texts()[1].get_text()
    empty = runner.VariantResult("headline/kl-rate", "headline", "headline", "kl-rate", "holds", "exact")
    assert not headline_exponents([empty], Figure())


def test_slack_vs_size_plot_is_written_for_dynamics_verdicts_and_absent_without_them(results, tmp_path):
    """slack-vs-size.png: one figure across claims, slack orders against n and (log) alpha lambda0, a marker
    per variant and a colour per status, the caption saying what slack orders are; no file without sizes."""
    pytest.importorskip("matplotlib")
    from matplotlib.colors import to_rgba
    from matplotlib.figure import Figure

    from checks import plots

    l52 = _manual("lemma-5.2/stated", kept=[
        _kept("HOLDS", 0.9, 100.0, n=3, d=2, m=2000, alpha_lambda0=20.0, slack_orders=2.0),
        _kept("HOLDS", 0.5, 2.0, n=30, d=10, m=20000, alpha_lambda0=3e3, slack_orders=0.3),
        _kept("HOLDS", 1.0, "inf", n=50, d=20, m=None, alpha_lambda0=1e5, slack_orders="inf")])
    # no slack_orders recorded: log10 of the slack ratio (bound/observed) is used
    l53 = _manual("lemma-5.3/stated", kept=[_kept("INCONCLUSIVE", -1.0, 1e-3, n=10, d=6, alpha_lambda0=50.0)])
    fig = Figure()
    assert plots.slack_vs_size([l52, l53], fig)
    left, right = fig.axes
    assert right.get_xscale() == "log" and left.get_xlabel().startswith("n")
    pts = sorted(tuple(map(tuple, c.get_offsets())) for c in left.collections)
    assert pts == [((3.0, 2.0), (30.0, 0.3)), ((10.0, -3.0),)]
    grey = [c for c in left.collections if np.allclose(c.get_facecolor()[0][:3], to_rgba("tab:gray")[:3])]
    assert len(grey) == 1   # the inconclusive verdict in the inconclusive colour
    assert any("1 off scale" in t.get_text() for t in left.texts)   # the infinite slack is counted, not lost
    caption = " ".join(t.get_text() for t in fig.texts).replace("\n", " ")
    assert "slack orders = log10(bound / observed)" in caption
    out = write_plots([l52, l53], tmp_path)
    assert "slack-vs-size.png" in [p.name for p in out.paths]
    # results without sizes (the toy claims, lemma-5.1): no dynamics verdict, so no file
    out = write_plots(results, tmp_path / "none")
    assert "slack-vs-size.png" not in [p.name for p in out.paths]
    assert not plots.slack_vs_size(results, Figure())
