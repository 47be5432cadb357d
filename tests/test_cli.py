"""The command line (checks/__main__.py): verify, hunt, replay, list, describe, ids, exit codes, progress.

The registry is replaced by toy claims (``toy-5``: a <= limit, exact tier) so that these tests do
not depend on the cost of the real claims; ``main(argv, out=, err=)`` runs in-process.
"""

import io
import json
import subprocess
import sys

import pytest
from hypothesis import strategies as st

from checks import __main__ as cli
from checks import mutants, registry, runner
from checks.registry import Claim, Expected, Variant
from checks.report import load_report
from checks.verdict import Tier, Verdict

C5, C6 = Claim("toy-5", "Toy 5", "a <= limit"), Claim("toy-6", "Toy 6", "a <= limit")


def _le(limit):
    def check(case):
        return Verdict(claim="toy", observed=case["a"], bound=limit, case=dict(case))
    return check


def _v(claim, name, expected, limit, hi=1000):
    return Variant(claim, name, expected, Tier.EXACT, "toy", lambda: st.fixed_dictionaries({"a": st.integers(0, hi)}),
                   _le(limit), max_examples=20)


@pytest.fixture
def toys(monkeypatch):
    reg = {}
    monkeypatch.setattr(registry, "_REGISTRY", reg)
    monkeypatch.setattr(registry, "CLAIM_MODULES", ())
    monkeypatch.setattr(mutants, "_EXTRA", {})
    monkeypatch.setattr(runner, "RESULTS", [])
    for v in (_v(C5, "stated", Expected.HOLDS, 2000), _v(C5, "probe", Expected.COUNTEREXAMPLE, 100),
              _v(C6, "stated", Expected.HOLDS, 2000)):
        registry.register(v)
    return reg


def run(*argv):
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_verify_subset_writes_table_report_and_plots(toys, tmp_path):
    code, out, err = run("verify", "--claims", "toy-5", "--report", str(tmp_path))
    assert code == 0, out + err
    assert out.splitlines()[0] == "2 claim variant(s): 2 pass, 0 inconclusive, 0 fail, 0 error"
    assert out.splitlines()[1].split()[:3] == ["variant", "expected", "outcome"]
    assert "toy-5/stated" in out and "toy-5/probe" in out and "toy-6" not in out
    lines = err.splitlines()   # not a terminal: one plain line per variant
    assert lines[0].startswith("[1/2] toy-5/stated: pass [holds] cases=20+0")
    assert lines[1].startswith("[2/2] toy-5/probe: pass [counterexample]")
    rep = load_report(tmp_path / "claims-report.json")
    assert [r["variant_id"] for r in rep["results"]] == ["toy-5/stated", "toy-5/probe"]
    assert rep["profile"] == "ci" and rep["results"][1]["counterexample"]["case"] == {"a": 101}
    assert f"report: {tmp_path / 'claims-report.json'}" in out
    pytest.importorskip("matplotlib")
    assert (tmp_path / "toy_5-slack.png").exists()


def test_verify_all_and_failures_exit_1(toys):
    code, out, _ = run("verify")
    assert code == 0 and "toy-6/stated" in out
    registry.register(_v(C6, "stated", Expected.HOLDS, 50))   # now false on the strategy's range
    code, out, _ = run("verify", "--claims", "toy-6/stated")
    assert code == 1 and "FAIL toy-6/stated [holds]: violation found" in out


def test_verify_with_mutants_shows_kill_rate(toys):
    base = toys["toy-5/stated"]
    mutants.register_mutant(mutants.make_mutant(base, "tighter", _le(10), "bound 10"))
    code, out, _ = run("verify", "--claims", "toy-5/stated", "--mutants")
    assert code == 0 and "mutant kill rate: toy-5 1/1" in out
    assert out.splitlines()[0].startswith("1 claim variant(s)")   # the count is of the rows shown
    assert "1 mutant(s): 1 killed, 0 not killed" in out and "toy-5/mutant-tighter  killed" in out


def test_hunt_one_variant(toys, tmp_path):
    code, out, err = run("hunt", "toy-5/probe", "--examples", "50", "--profile", "dev", "--seed", "1",
                         "--report", str(tmp_path))
    assert code == 0, out + err
    assert "toy-5/probe" in out and "VIOLATED" in out, out
    rep = load_report(tmp_path / "claims-report.json")
    assert rep["results"][0]["max_examples"] == 50


def test_replay_round_trip_and_regression(toys, tmp_path, monkeypatch):
    assert run("verify", "--claims", "toy-5", "--report", str(tmp_path))[0] == 0
    path = str(tmp_path / "claims-report.json")
    code, out, _ = run("replay", path)
    assert code == 0, out
    assert "toy-5/probe counterexample\n  recorded: toy: VIOLATED" in out
    assert "  replayed: toy: VIOLATED" in out and "0 recorded violation(s) not reproduced" in out
    code, out, _ = run("replay", path, "--variant", "toy-5/stated")
    assert code == 0 and "toy-5/probe" not in out and "replayed 1 variant(s)" in out
    # The code changes: the probe's violation no longer occurs.
    registry.register(_v(C5, "probe", Expected.COUNTEREXAMPLE, 5000))
    code, out, _ = run("replay", path)
    assert code == 1 and "NOT REPRODUCED" in out and "status changed" not in out
    del toys["toy-5/stated"]
    code, out, _ = run("replay", path, "--variant", "toy-5/stated")
    assert code == 1 and "cannot replay, unknown variant id 'toy-5/stated'" in out


@pytest.mark.parametrize("argv, match", [
    ((), "required: command"),
    (("verify", "--profile", "nope"), "invalid choice: 'nope'"),
    (("verify", "--bogus"), "unrecognized arguments: --bogus"),
    (("hunt", "toy-5/probe", "--profile", "ci"), "profile 'ci' is derandomised"),
    (("hunt", "toy-5/probe", "--examples", "0"), "expected a positive integer, got '0'"),
])
def test_parser_usage_errors_exit_2(toys, capsys, argv, match):
    assert cli.main(list(argv)) == 2
    assert match in capsys.readouterr().err


def test_usage_errors_exit_2(toys, tmp_path):
    code, _, err = run("verify", "--claims", "no-such-claim")
    assert code == 2 and "unknown claim or variant id 'no-such-claim'" in err
    code, _, err = run("verify", "--claims", "toy-7")
    assert code == 2 and "did you mean 'toy-6', 'toy-5'?" in err
    code, _, err = run("hunt", "no-such-claim", "--examples", "5")
    assert code == 2 and "no-such-claim" in err
    code, _, err = run("replay", str(tmp_path / "missing.json"))
    assert code == 2 and "cannot read report" in err
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"schema_version": 1}))
    code, _, err = run("replay", str(bad))
    assert code == 2 and "does not match report_schema.json" in err
    assert run("verify", "--claims", "toy-5/stated", "--report", str(tmp_path))[0] == 0
    code, _, err = run("replay", str(tmp_path / "claims-report.json"), "--variant", "toy-6/stated")
    assert code == 2 and "variant 'toy-6/stated' is not in" in err
    registry._REGISTRY.clear()
    code, _, err = run("verify")
    assert code == 2 and "no claim variants are registered" in err
    code, _, err = run("replay-case", "toy-5/stated", "{}")
    assert code == 2 and "unknown claim or variant id" in err


def test_help_exits_0(capsys):
    assert cli.main(["--help"]) == 0
    assert "verify" in capsys.readouterr().out


class _Tty(io.StringIO):
    def isatty(self):
        return True


def test_progress_on_a_terminal(toys):
    stream = _Tty()
    results = cli.run_variants([toys["toy-5/stated"]], cli.RunOptions(profile="ci"), stream)
    text = stream.getvalue()
    assert results[0].outcome == "pass" and results[0].variant_id == "toy-5/stated"   # ids unchanged
    assert text.startswith("\r\x1b[K[1/1] toy-5/stated: 0 cases")
    assert text.endswith("\r\x1b[K[1/1] toy-5/stated: pass [holds] cases=20+0 violated=0 "
                         f"min_slack={results[0].min_slack:.3g} {results[0].elapsed_s:.1f}s\n")


def test_console_entry_point():
    """``python -m checks`` is the same program (the gntk-check script points at main)."""
    proc = subprocess.run([sys.executable, "-m", "checks", "verify", "--profile", "nope"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "invalid choice" in proc.stderr


# -- CLI conventions ----------------------------------------------------------------------------
def test_version(capsys):
    from importlib import metadata

    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"gntk-check {metadata.version('gntk-checks')}"


def test_list_and_describe(toys):
    code, out, _ = run("list")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:5] == ["variant", "pytest", "id", "expected", "tier"]
    assert [ln.split()[0] for ln in lines[2:]] == ["toy-5/stated", "toy-5/probe", "toy-6/stated"]
    assert "toy_5-probe" in out and "counterexample" in out
    code, out, _ = run("describe", "toy_5")     # the pytest form of a claim id
    assert code == 0 and out.startswith("toy-5 (Toy 5)\n  statement: a <= limit")
    assert "toy-5/probe  [pytest id toy_5-probe]" in out and "declared outcome: counterexample" in out
    assert "erratum: none" in out and "docs/claims.md#toy-5" in out
    code, out, _ = run("describe", "toy_5-probe")
    assert code == 0 and "toy-5/probe" in out and "toy-5/stated" not in out
    code, _, err = run("describe", "toy-55")
    assert code == 2 and "did you mean 'toy-5'" in err


def test_pytest_ids_are_accepted(toys):
    code, out, _ = run("verify", "--claims", "toy_5-stated,toy_6")
    assert code == 0
    rows = [ln.split()[0] for ln in out.splitlines()[3:5]]
    assert rows == ["toy-5/stated", "toy-6/stated"]


@pytest.mark.parametrize("value", ["", " ", ",", " , "])
def test_empty_claims_is_an_error(toys, capsys, value):
    assert cli.main(["verify", "--claims", value]) == 2
    assert f"expected one or more comma-separated claim or variant ids, got {value!r}" in capsys.readouterr().err


def test_bad_gntk_profile_names_the_variable_and_choices(toys, monkeypatch):
    monkeypatch.setenv("GNTK_PROFILE", "bogus")
    for argv in (("verify",), ("hunt", "toy-5/probe", "--examples", "5")):
        code, _, err = run(*argv)
        assert code == 2 and "GNTK_PROFILE must be one of ci, dev, hunt" in err and "got 'bogus'" in err
    monkeypatch.setenv("GNTK_PROFILE", "dev")
    code, out, err = run("verify", "--claims", "toy-5/stated")
    assert code == 0 and "[1/1] toy-5/stated" in err   # a valid value is the default profile


def test_markdown_report_and_replay_commands(toys, tmp_path):
    code, out, _ = run("verify", "--claims", "toy-5", "--format", "md", "--report", str(tmp_path))
    assert code == 0
    assert out.startswith("# gntk-checks: claims report\n\n2 claim variant(s): 2 pass")
    assert "| variant | expected | outcome |" in out and "| `toy-5/probe` | counterexample | pass |" in out
    md = (tmp_path / "claims-report.md").read_text()
    assert md.startswith("# gntk-checks: claims report")
    # Each row's command replays its tightest case exactly.
    cmd = next(ln for ln in out.splitlines() if ln.startswith("| `toy-5/probe`")).split("`")[3]
    argv = __import__("shlex").split(cmd)
    assert argv[:3] == ["gntk-check", "replay-case", "toy-5/probe"]
    code, out, _ = run(*argv[1:])
    assert code == 0 and "replayed: toy: VIOLATED" in out
    rep = load_report(tmp_path / "claims-report.json")
    assert rep["results"][0]["statement"] == "a <= limit" and rep["results"][0]["description"] == "toy"
    assert rep["results"][0]["erratum"] is None


def test_text_table_replay_lines_and_colour(toys):
    code, out, _ = run("verify", "--claims", "toy-5/stated")
    case = load_tightest(out)
    assert f"replay the tightest case of a row:\n  gntk-check replay-case toy-5/stated '{case}'" in out
    assert "\x1b[" not in out   # not a terminal: no colour
    from checks.report import format_table

    r = runner.run_variant(toys["toy-5/stated"], profile="ci", record=False)
    assert "\x1b[32mpass" in format_table([r], color=True)


def load_tightest(out):
    """The tightest case of the toy-5/stated row, e.g. '{"a":857}' (from the run's JSON-free output)."""
    r = runner.run_variant(registry.get_variant("toy-5/stated"), profile="ci", record=False)
    return json.dumps(r.tightest["case"], separators=(",", ":"))


def _slow_holds(claim, min_decided):
    def check(case):
        return Verdict(claim="toy", observed=case["a"], bound=2000, case=dict(case),
                       inconclusive="toy: undecidable" if case["a"] > 0 else None)
    return Variant(claim, "stated", Expected.HOLDS, Tier.EXACT, "toy",
                   lambda: st.fixed_dictionaries({"a": st.integers(1, 10)}), check, max_examples=20,
                   min_decided=min_decided, min_decided_reason="toy needs decided cases")


def test_inconclusive_outcome_exits_1_unless_allowed(toys):
    registry.register(_slow_holds(C6, 5))
    code, out, _ = run("verify", "--claims", "toy-6/stated")
    assert code == 1 and "INCONCLUSIVE toy-6/stated [holds]" in out
    assert out.splitlines()[0] == "1 claim variant(s): 0 pass, 1 inconclusive, 0 fail, 0 error"
    row = next(ln for ln in out.splitlines() if ln.startswith("toy-6/stated")).split()
    assert row[2:5] == ["INCONCLUSIVE", "10", "0/5"]   # the strategy has 10 distinct cases
    code, _, _ = run("verify", "--claims", "toy-6/stated", "--allow-inconclusive")
    assert code == 0


def test_replay_case_outside_the_premises_is_reported(toys):
    def check(case):
        return Verdict(claim="toy", observed=case["a"], bound=2000, case=dict(case),
                       premise_failed="a > 1000 (toy premise)" if case["a"] > 1000 else None)
    registry.register(Variant(C6, "stated", Expected.HOLDS, Tier.EXACT, "toy",
                              lambda: st.fixed_dictionaries({"a": st.integers(0, 1000)}), check))
    code, out, err = run("replay-case", "toy_6-stated", '{"a": 5000}')
    assert code == 0 and "OUTSIDE THE PREMISES of toy-6: a > 1000 (toy premise)" in out and not err
    code, out, err = run("replay-case", "toy-6/stated", '[1]')
    assert code == 2 and "the case must be a JSON object" in err
    code, out, err = run("replay-case", "toy-6", '{"a": 1}')
    assert code == 2 and "replay-case needs a variant id" in err


def test_missing_plots_extra_names_the_install_command(toys, tmp_path, monkeypatch):
    for mod in ("matplotlib", "matplotlib.figure", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, mod, None)
    code, out, _ = run("verify", "--claims", "toy-5/stated", "--report", str(tmp_path))
    assert code == 0 and 'pip install "gntk-checks[plots]"' in out


def test_prove_without_python_flint_names_the_extra(toys, monkeypatch):
    monkeypatch.setitem(sys.modules, "flint", None)           # import flint now raises ImportError
    monkeypatch.delitem(sys.modules, "checks.proved", raising=False)
    import importlib.util

    if importlib.util.find_spec("checks.proved") is None:     # the module is not written yet
        code, _, err = run("prove")
        assert code == 2 and "`prove` is not available" in err
    else:
        code, _, err = run("prove")
        assert code == 2 and 'pip install "gntk-checks[proved]"' in err


def test_prove_forwards_its_arguments(toys, monkeypatch):
    import types

    seen = []
    fake = types.SimpleNamespace(main=lambda argv, out=None: seen.append(argv) or 0)
    monkeypatch.setitem(sys.modules, "checks.proved", fake)
    import checks

    monkeypatch.setattr(checks, "proved", fake, raising=False)
    assert run("prove", "lemma-5.5", "--digits", "30")[0] == 0
    assert seen == [["lemma-5.5", "--digits", "30"]]
    assert run("prove", "--json", "x.json", "lemma-5.5")[0] == 0   # a leading option reaches checks.proved too
    assert seen[-1] == ["--json", "x.json", "lemma-5.5"]


def test_sensitivity_calls_measure_sensitivity_per_variant_expected_to_hold(toys, monkeypatch):
    calls = []
    def measure(v, p):
        calls.append((v.id, p))
        return {"eps_killed": 0.05, "runs": [{"eps": 0.1, "killed": True, "cases": 7},
                                             {"eps": 0.05, "killed": True, "cases": 9},
                                             {"eps": 0.02, "killed": False, "cases": 20}]}
    monkeypatch.setattr(mutants, "measure_sensitivity", measure, raising=False)
    registry.register(dataclass_replace(toys["toy-5/stated"], rho_star=2.0, rho_star_source="toy"))
    code, out, _ = run("sensitivity", "--claims", "toy-5,toy-6")
    assert code == 0 and calls == [("toy-5/stated", "ci")]
    assert ("toy-5/stated: rho* = 2, smallest eps killed (ci) = 0.05" in out
            and "ladder: 0.1 killed (7 cases), 0.05 killed (9 cases), 0.02 survived (20 cases)" in out)
    assert "toy-6/stated: skipped, no best-known tightest ratio rho* declared" in out
    code, _, err = run("sensitivity", "--claims", "toy-5/probe")
    assert code == 2 and "no variant expected to hold" in err


def dataclass_replace(obj, **kw):
    import dataclasses

    return dataclasses.replace(obj, **kw)


USER_CLAIM = '''
from hypothesis import strategies as st
from checks import Claim, Expected, Tier, Variant, Verdict, register

C = Claim("user-lemma", "User lemma", "b <= 10")
register(Variant(C, "stated", Expected.HOLDS, Tier.EXACT, "b <= 10 on [0, 5]",
                 lambda: st.fixed_dictionaries({"b": st.integers(0, 5)}),
                 lambda case: Verdict(claim="user-lemma/stated", observed=case["b"], bound=10, case=dict(case)),
                 max_examples=5))
'''


def test_claims_module_option_loads_a_users_claims(toys, tmp_path, monkeypatch):
    monkeypatch.setattr(registry, "_EXTRA_MODULES", [])   # the option adds to this list for the process
    monkeypatch.setattr(registry, "_IMPORTED", {})
    monkeypatch.delenv("GNTK_CLAIM_MODULES", raising=False)
    path = tmp_path / "user_claims.py"
    path.write_text(USER_CLAIM)
    code, out, err = run("--claims-module", str(path), "verify", "--claims", "user_lemma")
    assert code == 0, out + err
    assert "user-lemma/stated  holds     pass" in out
    assert "GNTK_CLAIM_MODULES" not in __import__("os").environ   # restored after the command
    code, _, err = run("--claims-module", str(tmp_path / "missing.py"), "list")
    assert code == 2 and "missing.py" in err
