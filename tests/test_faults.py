"""Faults lose nothing: unwritable databases and report directories, tampered reports, interrupted
and concurrent hunts, an unreachable Redis (issues 13 and 16).

Each fault is made for real where the machine allows it: a regular file where a directory should be,
a path under a regular file, a read-only tmpfs mount (root only, skipped where ``mount`` is refused),
a directory replaced by a file in the middle of a run, SIGINT and SIGKILL sent to a running hunt.
Tests run as root in CI, where permission bits do not stop writes, so no test relies on chmod.

Toy claim ``toy-f`` (a claim module file given with ``--claims-module``, so the subprocess runs the
real command line): ``probe`` is violated iff the first byte of ``blake2b(str(a))`` is 0 (probability
1/256, no structure a generator could exploit); ``stated`` (a <= 2**41) holds and sleeps a little per
case, so a hunt is still running when a signal arrives.  Network addresses stay on loopback.
"""

import copy
import io
import json
import math
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import strategies as st
from hypothesis.database import DirectoryBasedExampleDatabase

from checks import __main__ as cli
from checks import mutants, registry, runner
from checks.database import CheckedDirectoryDatabase, DatabaseWriteError, check_writable_directory, write_errors
from checks.registry import Claim, Expected, Variant
from checks.verdict import Tier, Verdict

ROOT = Path(__file__).resolve().parents[1]
TOY_MODULE = '''
import hashlib, os, time
from hypothesis import strategies as st
from checks.registry import Claim, Expected, Variant, register
from checks.verdict import Tier, Verdict

C = Claim("toy-f", "Toy F", "blake2b(str(a))[0] > 0 and a <= 2**41")


def probe(case):
    bad = hashlib.blake2b(str(case["a"]).encode()).digest()[0] == 0
    return Verdict(claim="toy-f/probe", observed=1.0 if bad else 0.0, bound=0.5, case=dict(case))


def stated(case):
    time.sleep(float(os.environ.get("TOY_SLEEP_S", "0.005")))
    return Verdict(claim="toy-f/stated", observed=case["a"], bound=2 ** 41, case=dict(case))


cases = lambda: st.fixed_dictionaries({"a": st.integers(0, 2 ** 40)})
register(Variant(C, "probe", Expected.COUNTEREXAMPLE, Tier.EXACT, "toy", cases, probe, max_examples=2000))
register(Variant(C, "stated", Expected.HOLDS, Tier.EXACT, "toy", cases, stated, max_examples=2000))
'''
PROBE_KEY = b"gntk-checks:toy-f/probe"


@pytest.fixture
def toy_module(tmp_path):
    path = tmp_path / "toy_f_claims.py"
    path.write_text(TOY_MODULE)
    return path


def _env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "GNTK_"))}
    env.update(PYTHONPATH=str(ROOT), HYPOTHESIS_STORAGE_DIRECTORY=extra.pop("storage", ""), **extra)
    return {k: v for k, v in env.items() if v != ""}


def _cli(module, *argv):
    return [sys.executable, "-m", "checks", "--claims-module", str(module), *argv]


def _run(module, *argv, timeout=120, **env):
    return subprocess.run(_cli(module, *argv), capture_output=True, text=True, timeout=timeout, env=_env(**env))


# -- in-process toys ----------------------------------------------------------------------------
C = Claim("toy-q", "Toy Q", "a <= 2000")


def _le(limit, side_effect=None):
    def check(case):
        if side_effect is not None:
            side_effect()
        return Verdict(claim="toy-q", observed=case["a"], bound=limit, case=dict(case))
    return check


@pytest.fixture
def toys(monkeypatch):
    monkeypatch.setattr(registry, "_REGISTRY", {})
    monkeypatch.setattr(registry, "CLAIM_MODULES", ())
    monkeypatch.setattr(mutants, "_EXTRA", {})
    monkeypatch.setattr(runner, "RESULTS", [])
    monkeypatch.delenv("GNTK_DB", raising=False)
    monkeypatch.delenv("GNTK_CLAIM_MODULES", raising=False)
    strat = lambda: st.fixed_dictionaries({"a": st.integers(0, 1000)})  # noqa: E731
    registry.register(Variant(C, "stated", Expected.HOLDS, Tier.EXACT, "toy", strat, _le(2000), max_examples=20))
    registry.register(Variant(C, "probe", Expected.COUNTEREXAMPLE, Tier.EXACT, "toy", strat, _le(100),
                              max_examples=50))


def run(*argv):
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def read_only_dir(tmp_path):
    """A directory on a read-only tmpfs (needs root and a permitted mount; skipped otherwise)."""
    where = tmp_path / "ro"
    where.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(where)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a read-only tmpfs here ({proc.stderr.strip()}); the regular-file cases cover it")
    try:
        yield where
    finally:
        subprocess.run(["umount", str(where)], check=True)


def _unwritable(tmp_path, kind, read_only_dir=None):
    """(path, what the error must name): a regular file, a path under a regular file, a read-only mount."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    return {"file": blocker, "under-file": blocker / "db", "read-only": (read_only_dir / "db")
            if read_only_dir else None}[kind]


# -- unwritable example database and report directory -----------------------------------------
@pytest.mark.parametrize("kind", ["file", "under-file", "read-only"])
def test_hunt_with_an_unwritable_database_fails_at_once_naming_the_path(toys, tmp_path, request, kind):
    ro = request.getfixturevalue("read_only_dir") if kind == "read-only" else None
    db = _unwritable(tmp_path, kind, ro)
    t0 = time.perf_counter()
    code, out, err = run("hunt", "toy-q/probe", "--examples", "50", "--profile", "dev", "--db", str(db))
    assert code == 2 and out == "" and len(err.splitlines()) == 1, (out, err)
    assert err.startswith(f"gntk-check hunt: error: cannot write the example database directory {db}: ")
    assert "hunt:" not in out and time.perf_counter() - t0 < 5.0   # no search ran


@pytest.mark.parametrize("kind", ["file", "under-file", "read-only"])
def test_verify_checks_the_report_directory_before_the_run(toys, tmp_path, request, kind):
    ro = request.getfixturevalue("read_only_dir") if kind == "read-only" else None
    report = _unwritable(tmp_path, kind, ro)
    code, out, err = run("verify", "--report", str(report))
    assert code == 2 and out == "" and err.splitlines() == [
        err.splitlines()[0]] and f"cannot write the report directory {report}" in err
    code, out, err = run("hunt", "toy-q/probe", "--examples", "20", "--profile", "dev", "--db", ":memory:",
                         "--report", str(report))
    assert code == 2 and f"cannot write the report directory {report}" in err and out == ""


def test_check_writable_directory(tmp_path):
    assert check_writable_directory(tmp_path / "new" / "dir") == tmp_path / "new" / "dir"
    assert list((tmp_path / "new" / "dir").iterdir()) == []   # the probe file is removed
    (tmp_path / "f").write_text("x")
    with pytest.raises(DatabaseWriteError, match=f"cannot write the report directory {tmp_path / 'f'}: "):
        check_writable_directory(tmp_path / "f", "report directory")


def test_a_report_directory_lost_during_verify_keeps_the_results(toys, tmp_path):
    """The directory passes the check, then becomes a regular file while the claims run."""
    report = tmp_path / "report"

    def break_it():
        if report.is_dir():
            report.rmdir()
            report.write_text("in the way")
    registry.register(Variant(C, "stated", Expected.HOLDS, Tier.EXACT, "toy",
                              lambda: st.fixed_dictionaries({"a": st.integers(0, 1000)}), _le(2000, break_it),
                              max_examples=20))
    code, out, err = run("verify", "--claims", "toy-q/stated", "--report", str(report))
    assert code == 1
    assert out.splitlines()[0] == "1 claim variant(s): 1 pass, 0 inconclusive, 0 fail, 0 error"   # table printed
    assert "toy-q/stated  holds     pass" in out
    assert f"report NOT written: cannot write {report}" in out and "the results are the table above" in out


def test_a_database_write_failure_in_the_middle_of_a_hunt_is_reported_and_nothing_is_lost(toys, tmp_path):
    """The database directory is replaced by a regular file once the search has started: every later
    save fails (Hypothesis swallows such errors); the hunt says so, and the counterexample it found is
    in its output and in its report."""
    db, report = tmp_path / "db", tmp_path / "report"

    def break_db():
        if db.is_dir():
            for p in sorted(db.rglob("*"), reverse=True):
                p.unlink() if p.is_file() else p.rmdir()
            db.rmdir()
            db.write_text("in the way")
    strat = lambda: st.fixed_dictionaries({"a": st.integers(0, 1000)})  # noqa: E731
    registry.register(Variant(C, "probe", Expected.COUNTEREXAMPLE, Tier.EXACT, "toy", strat, _le(100, break_db),
                              max_examples=50))
    code, out, err = run("hunt", "toy-q/probe", "--examples", "50", "--profile", "dev", "--seed", "3",
                         "--db", str(db), "--report", str(report))
    assert code == 1, out + err
    assert f"cannot save an example to the database directory {db}" in err
    assert f"hunt: database write failed: cannot save an example to the database directory {db}" in out
    assert "toy-q/probe counterexample: toy-q: VIOLATED" in out
    rep = json.loads((report / "claims-report.json").read_text())
    assert rep["results"][0]["counterexample"]["status"] == "VIOLATED"


def test_checked_database_records_failed_writes(tmp_path):
    db = CheckedDirectoryDatabase(tmp_path / "db")
    db.save(b"k", b"v")
    assert list(db.fetch(b"k")) == [b"v"] and write_errors(db) == []
    assert db == DirectoryBasedExampleDatabase(tmp_path / "db")
    blocked = CheckedDirectoryDatabase(tmp_path / "file")
    (tmp_path / "file").write_text("x")
    blocked.save(b"k", b"v")
    assert write_errors(blocked) == [f"cannot save an example to the database directory {tmp_path / 'file'}"]


# -- argument validation ----------------------------------------------------------------------
@pytest.mark.parametrize("argv", [("hunt", "toy-q/probe", "--seed", "-5"), ("soak", "--runs", "1", "--seed", "-1"),
                                  ("hunt", "toy-q/probe", "--seed", "x")])
def test_negative_seed_is_an_argparse_error(toys, capsys, argv):
    assert cli.main(list(argv)) == 2
    err = capsys.readouterr().err
    assert "argument --seed: expected a non-negative integer, got" in err and "Traceback" not in err


# -- replay of truncated and tampered reports -------------------------------------------------
TAMPER = {  # name -> (field, value; None: delete the key)
    "string": ("n", "three"),
    "negative": ("alpha", -1.0),
    "huge": ("M", 1e300),
    "nan": ("alpha", math.nan),
    "unknown activation": ("act", {"base": "no-such-activation", "c": 1.0, "s": 1.0}),
    "missing key": ("M", None),
}


@pytest.fixture(scope="module")
def lemma_5_5_report(tmp_path_factory):
    """A real report of lemma-5.5/stated (two cases: about a second)."""
    from checks.report import build_report

    v = registry.get_variant("lemma-5.5/stated")
    r = runner.run_variant(v, profile="ci", max_examples=2, record=False)
    return build_report([r])


def test_replay_of_a_tampered_report_names_each_bad_case_and_goes_on(lemma_5_5_report, tmp_path):
    rep = copy.deepcopy(lemma_5_5_report)
    intact = rep["results"][0]
    rep["results"] = []
    for name, (key, value) in TAMPER.items():
        e = copy.deepcopy(intact)
        if value is None:
            del e["tightest"]["case"][key]
        else:
            e["tightest"]["case"][key] = value
        rep["results"].append(e)
    rep["results"].append(intact)
    path = tmp_path / "tampered.json"
    path.write_text(json.dumps(rep, allow_nan=True))   # NaN as JSON's NaN token, as a tamperer would
    code, out, err = run("replay", str(path))
    assert code == 1 and "Traceback" not in out + err
    bad = [ln for ln in out.splitlines() if "BAD CASE" in ln]
    outside = out.count("OUTSIDE THE PREMISES")
    assert len(bad) + outside == len(TAMPER), out
    for name, (key, value) in TAMPER.items():   # each bad line names the variant, the field and the value
        shown = f"{key!r} missing" if value is None else f"{key!r} = {value!r}"
        assert any(ln.startswith("lemma-5.5/stated tightest: BAD CASE, field ") and shown in ln for ln in bad) \
            or outside, (name, out)
    assert out.count("lemma-5.5/stated tightest\n  recorded:") == 1 + outside   # the intact case was replayed
    assert out.splitlines()[-1] == (f"replayed {len(TAMPER) + 1} variant(s): 0 recorded violation(s) not "
                                    f"reproduced, 0 unknown variant(s), {len(bad)} bad case(s), {outside} "
                                    "case(s) outside the premises")


def test_replay_of_a_truncated_report_is_one_clear_error(lemma_5_5_report, tmp_path):
    text = json.dumps(lemma_5_5_report)
    path = tmp_path / "truncated.json"
    path.write_text(text[: len(text) // 2])
    code, out, err = run("replay", str(path))
    assert code == 2 and out == "" and len(err.splitlines()) == 1
    assert err.startswith(f"gntk-check replay: error: cannot read report {path}: ")


def test_replay_of_a_report_with_a_broken_entry_schema_still_replays(lemma_5_5_report, tmp_path):
    rep = copy.deepcopy(lemma_5_5_report)
    rep["results"][0]["cases"] = -3
    path = tmp_path / "schema.json"
    path.write_text(json.dumps(rep))
    code, out, _ = run("replay", str(path))
    assert code == 0 and out.startswith("warning: report does not match report_schema.json")
    assert "lemma-5.5/stated tightest\n  recorded:" in out


# -- interrupted and concurrent hunts (subprocesses) ------------------------------------------
def _entries(db_dir, key=PROBE_KEY):
    return list(DirectoryBasedExampleDatabase(db_dir).fetch(key))


def _case(text, needle="found a counterexample"):
    """The case of the first line holding ``needle`` (Verdict.explain ends with ``case={...}``)."""
    line = next(ln for ln in text.splitlines() if needle in ln)
    return line.rsplit("case=", 1)[1]


def _start_hunt(module, db, storage, *extra):
    return subprocess.Popen(_cli(module, "hunt", "toy-f", "--examples", "4000", "--profile", "dev", "--seed", "11",
                                 "--db", str(db), *extra),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=_env(storage=str(storage), TOY_SLEEP_S="0.01"))


def _wait_for(proc, needle, timeout=90.0):
    """Read stderr lines until one contains ``needle``; return everything read."""
    seen, t0 = [], time.monotonic()
    while time.monotonic() - t0 < timeout:
        line = proc.stderr.readline()
        if not line:
            break
        seen.append(line)
        if needle in line:
            return "".join(seen)
    proc.kill()
    raise AssertionError(f"{needle!r} not seen: {''.join(seen)}")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["SIGINT", "SIGKILL"])
def test_an_interrupted_hunt_keeps_the_database_and_its_counterexamples(toy_module, tmp_path, sig):
    """The probe's counterexample is saved, the hunt is interrupted while it searches ``stated``,
    and a restart replays the saved counterexample as its first case."""
    db, storage = tmp_path / "db", tmp_path / "storage"
    proc = _start_hunt(toy_module, db, storage)
    seen = _wait_for(proc, "found a counterexample")
    _wait_for(proc, "round: toy-f/probe")      # the probe's round finished: its shrunk case is saved
    time.sleep(1.0)                            # ... and the stated search is under way
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    saved = _entries(db)
    assert saved, "the counterexample was not in the database"
    assert all(p.stat().st_size > 0 for p in db.rglob("*") if p.is_file())   # no torn entry
    if sig == signal.SIGINT:
        assert proc.returncode == 130, out + err
        assert "toy-f/probe counterexample: toy-f/probe: VIOLATED" in out and "interrupted" in out
    else:
        assert proc.returncode == -signal.SIGKILL
    # Restart: the saved counterexample is replayed first, so even 3 examples find it again; the
    # control (same seed, empty database) does not.
    again = _run(toy_module, "hunt", "toy-f/probe", "--examples", "3", "--profile", "dev", "--seed", "99",
                 "--db", str(db), storage=str(storage))
    assert again.returncode == 0, again.stdout + again.stderr
    if sig == signal.SIGINT:   # the shrunk case the interrupted hunt printed is the one replayed
        assert _case(again.stderr) == _case(out, "toy-f/probe counterexample:")
    control = _run(toy_module, "hunt", "toy-f/probe", "--examples", "3", "--profile", "dev", "--seed", "99",
                   "--db", str(tmp_path / "empty"), storage=str(tmp_path / "storage2"))
    assert control.returncode == 1 and "did not reproduce its counterexample" in control.stdout
    assert seen and len(_entries(db)) >= 1


def test_two_hunts_share_one_database_directory(toy_module, tmp_path):
    db, storage = tmp_path / "db", tmp_path / "storage"
    procs = [subprocess.Popen(_cli(toy_module, "hunt", "toy-f/probe", "--examples", "3000", "--profile", "dev",
                                   "--seed", str(seed), "--db", str(db)),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=_env(storage=str(storage))) for seed in (1, 2)]
    outs = [p.communicate(timeout=120) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, out + err
        assert "toy-f/probe counterexample: toy-f/probe: VIOLATED" in out
        assert "database write failed" not in out
    saved = _entries(db)
    assert saved and all(p.stat().st_size > 0 for p in db.rglob("*") if p.is_file())
    found = {_case(o, "toy-f/probe counterexample:") for o, _ in outs}
    # A third run with 3 examples replays a saved case: one of the two hunts' finds.
    again = _run(toy_module, "hunt", "toy-f/probe", "--examples", "3", "--profile", "dev", "--seed", "5",
                 "--db", str(db), storage=str(storage))
    assert again.returncode == 0 and _case(again.stderr) in found


# -- Redis --------------------------------------------------------------------------------------
def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unreachable_redis_is_one_clear_error(toys):
    url = f"redis://127.0.0.1:{_free_port()}/0"   # nothing listens on a port just freed
    t0 = time.perf_counter()
    code, out, err = run("hunt", "toy-q/probe", "--examples", "5", "--profile", "dev", "--db", url)
    assert code == 2 and out == "" and len(err.splitlines()) == 1, err
    assert err.startswith("gntk-check hunt: error: ")
    assert f"cannot reach the Redis server at {url}" in err or "needs redis-py" in err
    assert time.perf_counter() - t0 < 10.0


def test_a_malformed_redis_url_is_reported_without_redis_py(monkeypatch):
    monkeypatch.setitem(sys.modules, "redis", None)   # as if the redis extra were not installed
    from checks.database import DatabaseURLError, make_database

    for url, why in (("redis://h:port/0", "port 'port'"), ("redis:///0", "no host"),
                     ("redis://h:6379/x", "database number 'x'"), ("unix://", "socket path")):
        with pytest.raises(DatabaseURLError, match=f"malformed Redis URL .*{why}"):
            make_database(url)
