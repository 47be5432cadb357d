"""Parallel runs (checks/parallel.py, checks/soak.py, issue 7): pytest-xdist, hunts with workers, soak runs.

* ``pytest -n 2`` gives the same claims report as a serial run (a subset of the claim suite, in
  subprocesses, under the deterministic ``ci`` profile).
* Hunts: rounds merge into one result per variant; a found counterexample settles the variant and
  ends the hunt early; Ctrl-C stops two workers cleanly, keeps what they saw, and writes nothing to
  the database as a failure.
* Soak: violations, inconclusive verdicts and errors are counted per variant, runs are reproducible
  from the base seed, and only variants declared to hold are soaked.

Toy claim ``toy-p``: the case ``{"a": int}``; the check says ``a <= limit`` (exact tier).
"""

import argparse
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from hypothesis import strategies as st
from hypothesis.database import DirectoryBasedExampleDatabase, InMemoryExampleDatabase

from checks import parallel, runner
from checks import soak as soaking
from checks.parallel import (HuntStopped, add_commands, derive_seed, hunt, hunt_variants, hypothesis_seed,
                             merge_results)
from checks.registry import Claim, Expected, Variant
from checks.runner import VariantResult, run_variant
from checks.soak import soak, soak_variants
from checks.verdict import Tier, Verdict

ROOT = Path(__file__).resolve().parents[1]
TOY = Claim("toy-p", "Toy P", "a <= limit")


def toy(name, expected, limit, hi=10 ** 6, inconclusive_every=0, error=False, max_examples=20):
    def check(case):
        if error:
            raise RuntimeError("toy check broke")
        inc = "toy: undecided" if inconclusive_every and case["a"] % inconclusive_every == 0 else None
        return Verdict(claim=f"toy-p/{name}", observed=case["a"], bound=limit, case=dict(case), inconclusive=inc)

    return Variant(TOY, name, expected, Tier.EXACT, "toy", lambda: st.fixed_dictionaries({"a": st.integers(0, hi)}),
                   check, max_examples=max_examples)


@pytest.fixture(autouse=True)
def _own_results(monkeypatch):
    monkeypatch.setattr(runner, "RESULTS", [])
    monkeypatch.delenv("GNTK_DB", raising=False)


def _env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "GNTK_DB"))}
    env.update(PYTHONPATH=str(ROOT), **extra)
    return env


# -- pytest-xdist -----------------------------------------------------------------------------
def _report(tmp_path, name, *xdist):
    path = tmp_path / f"{name}.json"
    cmd = [sys.executable, "-m", "pytest", "tests/test_claims.py", "-k", "lemma_5_4", "-p", "no:cacheprovider",
           "-q", *xdist, "--claims-report", str(path)]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300,
                         env=_env(CI="true", GNTK_PROFILE="ci"))
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    report = json.loads(path.read_text())
    return {r["variant_id"]: {k: v for k, v in r.items() if k != "elapsed_s"} for r in report["results"]}, report


def test_xdist_report_equals_the_serial_report(tmp_path):
    pytest.importorskip("xdist")
    serial, rep_s = _report(tmp_path, "serial")
    par, rep_p = _report(tmp_path, "xdist", "-n", "2")
    assert sorted(serial) == ["lemma-5.4/corrected", "lemma-5.4/stated"]
    # Everything but wall time is equal: cases, counts, min slack, tightest case, kept verdicts.
    diff = [(vid, k, str(serial[vid][k])[:200], str(par.get(vid, {}).get(k))[:200])
            for vid in serial for k in serial[vid] if par.get(vid, {}).get(k) != serial[vid][k]]
    assert not diff and sorted(par) == sorted(serial), diff
    assert rep_p["summary"]["statuses"] == rep_s["summary"]["statuses"] and rep_p["profile"] == "ci"


# -- merging and seeds ------------------------------------------------------------------------
def _result(variant, **kw):
    r = VariantResult(variant.id, "toy-p", "Toy P", variant.name, variant.expected.value, "exact", profile="hunt")
    for k, v in kw.items():
        setattr(r, k, v)
    return r


def _verdict(a, limit=100):
    return Verdict(claim="toy-p/x", observed=a, bound=limit, case={"a": a}).to_dict()


def test_merge_adds_counts_keeps_the_tightest_and_rejudges():
    v = toy("stated", Expected.HOLDS, 100)
    r1 = _result(v, cases=10, explicit=1, counts={"HOLDS": 11, "VIOLATED": 0}, tightest=_verdict(90), elapsed_s=1.0)
    r2 = _result(v, cases=5, skipped=2, counts={"HOLDS": 5, "VIOLATED": 0}, tightest=_verdict(99), elapsed_s=2.0)
    m = merge_results(v, [r1, r2], note="2 rounds")
    assert (m.cases, m.explicit, m.skipped, m.counts["HOLDS"], m.elapsed_s) == (15, 1, 2, 16, 3.0)
    assert m.tightest["case"] == {"a": 99} and m.outcome == "pass"
    assert m.message == "no violation found in 15 cases (0 outside premises, 2 skipped for time) (2 rounds)"
    bad = _result(v, cases=3, counts={"HOLDS": 2, "VIOLATED": 1}, counterexample=_verdict(101))
    m = merge_results(v, [r1, bad, _result(v, cases=1, counterexample=_verdict(200))])
    assert m.outcome == "fail" and m.counterexample["case"] == {"a": 101}  # the first one found
    probe = toy("probe", Expected.COUNTEREXAMPLE, 100)
    assert merge_results(probe, [_result(probe, cases=4)]).outcome == "fail"
    err = _result(v, cases=1, outcome="error", message="RuntimeError: boom")
    assert (merge_results(v, [r1, err]).outcome, merge_results(v, [r1, err]).message) == ("error", "RuntimeError: boom")


def test_seeds_are_distinct_per_worker_and_round_and_reproducible():
    seeds = {derive_seed(7, w, r) for w in range(4) for r in range(50)}
    assert len(seeds) == 200 and all(0 <= s < 2 ** 64 for s in seeds)
    assert derive_seed(7, 1, 2) == derive_seed(7, 1, 2) != derive_seed(8, 1, 2)


def _cases_seen(seed):
    seen = []
    v = toy("stated", Expected.HOLDS, 10 ** 7)
    tracked = Variant(v.claim, v.name, v.expected, v.tier, "", v.strategy, lambda c: seen.append(c["a"]) or v.check(c),
                      max_examples=20)
    with hypothesis_seed(seed):
        run_variant(tracked, profile="hunt", database=InMemoryExampleDatabase(), max_examples=20, record=False)
    return seen


def test_hypothesis_seed_fixes_the_search_without_derandomising():
    assert _cases_seen(5) == _cases_seen(5) != _cases_seen(6)


def test_an_interrupt_is_not_saved_as_a_failure(tmp_path):
    """Hypothesis saves a test's choices to the database on any BaseException but KeyboardInterrupt,
    which is why HuntStopped subclasses it: an interrupted round must not plant a fake failure."""
    key = b"gntk-checks:toy-p/stated"

    def run(exc_type, path):
        calls = []

        def check(case):
            calls.append(case)
            if len(calls) == 5:
                raise exc_type()
            return Verdict(claim="toy-p/stated", observed=case["a"], bound=10 ** 7, case=dict(case))

        cases = lambda: st.fixed_dictionaries({"a": st.integers(0, 10 ** 6)})  # noqa: E731 (no violation exists)
        v = Variant(TOY, "stated", Expected.HOLDS, Tier.EXACT, "", cases, check)
        with pytest.raises(exc_type):
            run_variant(v, profile="hunt", database=DirectoryBasedExampleDatabase(path), max_examples=20, record=False)
        return list(DirectoryBasedExampleDatabase(path).fetch(key))

    class Abort(BaseException):
        pass

    assert run(HuntStopped, tmp_path / "stopped") == []
    assert run(Abort, tmp_path / "abort")  # the contrast: any other BaseException is saved


# -- hunts ------------------------------------------------------------------------------------
def test_a_timed_hunt_runs_rounds_and_merges_them(tmp_path):
    err = io.StringIO()
    v = toy("stated", Expected.HOLDS, 10 ** 7)
    out = hunt([v], workers=1, minutes=0.04, db=str(tmp_path), seed=3, round_s=1.0, stream=err)
    (m,) = out.results
    assert out.rounds >= 2 and not out.interrupted and out.seed == 3
    assert m.outcome == "pass" and m.profile == "hunt" and m.message.endswith(f"({out.rounds} round(s), 1 worker(s))")
    lines = [ln for ln in err.getvalue().splitlines() if " round: " in ln]
    assert len(lines) == out.rounds and out.checks >= m.cases + m.explicit > 0
    # 0.04 min = 2.4 s; no round starts with less than MIN_ROUND_S left, and the last one may overrun
    # by its shrinking/skipping tail.
    assert 2.4 - parallel.MIN_ROUND_S - 0.2 <= out.wall_s <= 2.4 + 10.0


def test_a_found_counterexample_settles_the_variant_and_ends_the_hunt(tmp_path):
    err = io.StringIO()
    out = hunt([toy("probe", Expected.COUNTEREXAMPLE, 100)], workers=1, minutes=1.0, db=str(tmp_path), seed=4,
               round_s=5.0, stream=err)
    (m,) = out.results
    assert m.outcome == "pass" and m.counterexample["case"] == {"a": 101} and out.rounds == 1
    assert out.wall_s < 30 and "found a counterexample" in err.getvalue()
    assert [f["variant_id"] for f in out.found] == ["toy-p/probe"]


def test_a_round_stops_when_another_worker_settles_the_variant():
    sent, settled = [], [0]
    v = toy("stated", Expected.HOLDS, 10 ** 7)
    tracker = parallel._Tracker(v, 0, sent.append, threading.Event(), lambda: bool(settled[0]))
    check = tracker.wrap(v).check
    assert check({"a": 1}).status.value == "HOLDS"
    settled[0] = 1
    with pytest.raises(HuntStopped):
        check({"a": 2})
    part = tracker.partial_result("hunt")
    assert (part.cases, part.counts["HOLDS"], part.tightest["case"]) == (1, 1, {"a": 1})


def _lines(stream, sink):
    for line in stream:
        sink.append(line)


def test_ctrl_c_stops_two_workers_cleanly(tmp_path):
    cmd = [sys.executable, "-m", "checks.parallel", "hunt", "lemma-5.4/stated", "--workers", "2", "--minutes", "3",
           "--round-seconds", "30", "--db", str(tmp_path / "db"), "--report", str(tmp_path / "rep"), "--seed", "9"]
    err = []
    with subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env()) as p:
        reader = threading.Thread(target=_lines, args=(p.stderr, err), daemon=True)
        reader.start()
        try:
            deadline = time.monotonic() + 90
            while sum("ready" in ln for ln in err) < 2 and time.monotonic() < deadline and p.poll() is None:
                time.sleep(0.1)
            assert sum("ready" in ln for ln in err) == 2, "".join(err)
            time.sleep(1.5)
            t0 = time.monotonic()
            p.send_signal(signal.SIGINT)
            out = p.stdout.read()
            rc = p.wait(timeout=60)
        finally:
            if p.poll() is None:
                p.kill()
    reader.join(5)
    assert rc == 130 and time.monotonic() - t0 < 30, "".join(err)
    assert "interrupted" in out and "stopping" in "".join(err)
    (r,) = json.loads((tmp_path / "rep" / "claims-report.json").read_text())["results"]
    assert r["variant_id"] == "lemma-5.4/stated" and r["cases"] > 0
    # an interrupted hunt may stop before the variant's minimum of decided verdicts: then it is
    # inconclusive, never a pass (and never a fail: no violation exists to find)
    assert r["outcome"] == ("pass" if r["decided"] >= r["min_decided"] else "inconclusive"), r
    assert sum("round:" in ln for ln in err) >= 2  # each worker reported its interrupted round
    assert list(DirectoryBasedExampleDatabase(tmp_path / "db").fetch(b"gntk-checks:lemma-5.4/stated")) == []


def test_hunt_selection():
    all_ = hunt_variants("all")
    assert all_ and all(v.name in ("stated", "probe") for v in all_)
    assert [v.id for v in hunt_variants("lemma-5.4")] == ["lemma-5.4/stated", "lemma-5.4/corrected"]
    assert [v.id for v in hunt_variants("lemma-5.4/corrected")] == ["lemma-5.4/corrected"]
    assert [v.id for v in hunt_variants("lemma_5_4-corrected")] == ["lemma-5.4/corrected"]   # pytest form
    with pytest.raises(KeyError, match="unknown claim or variant id 'lemma-5.4/nope'"):
        hunt_variants("lemma-5.4/nope")


# -- soak -------------------------------------------------------------------------------------
def test_soak_counts_violations_inconclusive_verdicts_and_errors():
    err = io.StringIO()
    good = toy("stated", Expected.HOLDS, 10 ** 7, inconclusive_every=3)
    false = toy("corrected", Expected.HOLDS, 100)
    broken = toy("broken", Expected.HOLDS, 100, error=True)
    out = soak([good, false, broken], 2, seed=1, stream=err)
    g, f, b = out.rows
    assert (g.runs, g.violations, g.errors) == (2, 0, 0) and g.cases == 40
    assert g.inconclusive > 0 and 1 <= g.inconclusive_runs <= 2   # a % 3 == 0 among 40 varied cases
    assert (f.violations, f.errors, len(f.counterexamples)) == (2, 0, 2)
    assert {c["seed"] for c in f.counterexamples} == {derive_seed(1, parallel._variant_key(f.variant_id), i)
                                                       for i in range(2)}
    assert (b.violations, b.errors) == (0, 2) and "RuntimeError: toy check broke" in b.error_messages[0]
    again = soak([good], 2, seed=1, stream=io.StringIO()).rows[0]
    assert (again.cases, again.inconclusive) == (g.cases, g.inconclusive)   # reproducible from the seed
    text = soaking.format_soak(out)
    assert "2 confirmed violation(s)" in text and "VIOLATED toy-p/corrected (seed" in text


def test_an_interrupted_pooled_soak_keeps_each_finished_run_once():
    from checks.registry import get_variant

    calls = []

    def collect(v, seed, d):
        calls.append(seed)
        if len(calls) == 2:  # Ctrl-C arrives while the parent handles a result
            raise KeyboardInterrupt

    tasks = soaking._soak_tasks([get_variant("lemma-5.4/stated")], 8, seed=3)
    assert soaking._soak_pool(tasks, 2, collect) is True
    assert 2 <= len(calls) < 8 and len(set(calls)) == len(calls)   # queued runs dropped, none twice
    assert set(calls) <= {s for _, _, s in tasks}


def test_soak_command_on_lemma_5_4(tmp_path):
    assert all(v.expected is Expected.HOLDS for v in soak_variants(None))
    out, err = io.StringIO(), io.StringIO()
    args = _parser().parse_args(["soak", "--runs", "2", "--claims", "lemma-5.4/stated", "--seed", "2",
                                 "--report", str(tmp_path)])
    assert args.func(args, out, err) == 0, out.getvalue() + err.getvalue()
    rep = json.loads((tmp_path / "soak-report.json").read_text())
    assert rep["runs_per_variant"] == 2 and rep["totals"]["runs"] == 2 and rep["totals"]["violations"] == 0
    assert [r["variant_id"] for r in rep["variants"]] == ["lemma-5.4/stated"]
    assert "false-alarm rate per run < 0.776 (95 %, no violation in 2 runs)" in out.getvalue()  # 1 - 0.05**0.5


# -- command line -----------------------------------------------------------------------------
def _parser(existing_hunt=False):
    parser = argparse.ArgumentParser(prog="gntk-check")
    sub = parser.add_subparsers(dest="command", required=True)
    if existing_hunt:  # the shape of checks/__main__.py's own hunt parser
        h = sub.add_parser("hunt")
        h.add_argument("id")
        h.add_argument("--examples", type=int, required=True)
    add_commands(sub)
    return parser


def test_add_commands_creates_or_extends_hunt_and_adds_soak():
    for existing in (False, True):
        a = _parser(existing).parse_args(["hunt", "lemma-5.4/stated", "--workers", "2", "--minutes", "0.5",
                                          "--db", "redis://127.0.0.1:6379/0"])
        assert (a.workers, a.minutes, a.db, a.examples, a.profile) == (2, 0.5, "redis://127.0.0.1:6379/0", None, "hunt")
        assert a.func is parallel._cmd_hunt
    s = _parser().parse_args(["soak", "--runs", "50"])
    assert (s.runs, s.claims, s.workers, s.func) == (50, None, 1, soaking._cmd_soak)
    with pytest.raises(SystemExit):
        _parser().parse_args(["hunt", "x", "--workers", "0"])


@pytest.mark.parametrize("argv, message", [
    (["hunt", "nope/x"], "unknown claim or variant id 'nope/x'"),
    (["hunt", "lemma-5.4/stated", "--profile", "ci"], "profile 'ci' is derandomised"),
    (["hunt", "lemma-5.4/stated", "--db", "http://x"], "must be a directory or a redis"),
    (["soak", "--runs", "1", "--claims", "nope"], "unknown claim or variant id 'nope'"),
])
def test_usage_errors_exit_2(argv, message):
    args = _parser().parse_args(argv)
    err = io.StringIO()
    assert args.func(args, io.StringIO(), err) == 2
    assert err.getvalue().startswith(f"gntk-check {argv[0]}: error: ") and message in err.getvalue()


# -- the threaded particle kernel where one process owns the machine (issue 12) -------------------
def test_threads_follow_the_machine_owner():
    import numba

    from checks._dynamics_common import _threads
    from theory.dynamics import set_machine_owner

    old = numba.get_num_threads()
    try:
        set_machine_owner(False)                  # beside other processes: one thread below 200k particles
        with _threads(8_000):
            assert numba.get_num_threads() == 1
        with _threads(200_000):
            assert numba.get_num_threads() == old
        set_machine_owner(True)                   # verify, hunt --workers 1: the kernel's own threshold decides
        with _threads(8_000):
            assert numba.get_num_threads() == old
        assert numba.get_num_threads() == old
    finally:
        set_machine_owner(None)


@pytest.mark.parametrize("argv, owner", [(["verify", "--claims", "lemma-5.4"], True),
                                         (["hunt", "lemma-5.4/stated", "--examples", "1"], True),
                                         (["hunt", "lemma-5.4/stated", "--examples", "1", "--workers", "2"], False)])
def test_verify_and_single_worker_hunts_own_the_machine(argv, owner, monkeypatch, tmp_path):
    """verify (outside xdist) and hunt --workers 1 declare the machine theirs while they run, then undo it."""
    from checks import __main__ as cli
    from checks import hunt_command
    from theory import dynamics

    seen = []
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    monkeypatch.setattr(cli, "run_variants", lambda *a, **k: seen.append(dynamics._OWNER) or [])
    monkeypatch.setattr(cli, "_finish", lambda results, args, out: 0)

    def fake_hunt(*a, **k):
        seen.append(dynamics._OWNER)
        raise KeyboardInterrupt

    monkeypatch.setattr(hunt_command, "hunt", fake_hunt)
    monkeypatch.chdir(tmp_path)
    try:
        cli.main(argv, out=io.StringIO(), err=io.StringIO())
    except KeyboardInterrupt:
        pass
    assert seen == [owner] and dynamics._OWNER is None
