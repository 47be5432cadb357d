"""The command line (checks/__main__.py): verify, hunt, replay, exit codes, progress.

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
    assert out.splitlines()[0].split()[:3] == ["variant", "expected", "outcome"]
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
