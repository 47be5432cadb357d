"""The example database setting (checks/database.py) and a counterexample shared through Redis (issue 7).

Toy claim: the case ``{"a": int in [0, 2**40]}`` violates iff the first byte of ``blake2b(str(a))``
is below 4, a pseudo-random event of probability 1/64 with no structure a generator could exploit.
The integration test runs three processes with fixed Hypothesis seeds (not derandomised: that would
disable the database): A searches with the shared Redis database and finds a counterexample c; B,
with Redis and a fresh local directory, must check c as its very first case; the control C, same seed
as B but a fresh local database only, must not.  So B's first case comes from the shared database.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from hypothesis import strategies as st
from hypothesis.database import DirectoryBasedExampleDatabase, InMemoryExampleDatabase, MultiplexedDatabase

from checks import runner
from checks.database import (ENV_VAR, DatabaseUnavailableError, DatabaseURLError, is_redis_url, make_database,
                             redact, redis_database)

ROOT = Path(__file__).resolve().parents[1]

#: Run by each worker process: search the toy with a fixed seed, print what it saw as JSON.
WORKER = r"""
import hashlib, json, sys
from hypothesis import strategies as st
from checks.database import make_database
from checks.parallel import hypothesis_seed
from checks.registry import Claim, Expected, Variant
from checks.runner import run_variant
from checks.verdict import Tier, Verdict

cfg = json.loads(sys.argv[1])
claim = Claim(cfg["claim"], "Toy", "blake2b(str(a))[0] >= 4")
seen = []

def check(case):
    bad = hashlib.blake2b(str(case["a"]).encode()).digest()[0] < 4
    v = Verdict(claim=claim.id + "/probe", observed=1.0 if bad else 0.0, bound=0.5, case=dict(case))
    seen.append({"case": dict(case), "status": v.status.value})
    return v

variant = Variant(claim, "probe", Expected.COUNTEREXAMPLE, Tier.EXACT, "toy",
                  lambda: st.fixed_dictionaries({"a": st.integers(0, 2 ** 40)}), check, max_examples=400)
with hypothesis_seed(cfg["seed"]):
    db = make_database(cfg["db"], local_path=cfg["local"])
    r = run_variant(variant, profile="hunt", max_examples=400, database=db, time_budget_s=30.0, shrink_budget_s=5.0,
                    record=False)
ce = r.counterexample and r.counterexample["case"]
print(json.dumps({"first": seen[0], "counterexample": ce, "cases": r.cases, "outcome": r.outcome,
                  "message": r.message}))
"""


@pytest.fixture(autouse=True)
def _own_results(monkeypatch):
    monkeypatch.setattr(runner, "RESULTS", [])
    monkeypatch.delenv(ENV_VAR, raising=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ping(url: str) -> bool:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=1.0)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


@pytest.fixture(scope="module")
def redis_url():
    """$GNTK_TEST_REDIS_URL (.ci/run starts a server), else a throw-away redis-server on loopback."""
    pytest.importorskip("redis", reason="redis-py is not installed: pip install 'gntk-checks[redis]'")
    url = os.environ.get("GNTK_TEST_REDIS_URL")
    if url:
        if not _ping(url):
            pytest.skip(f"GNTK_TEST_REDIS_URL={redact(url)} is set but no Redis server answers there")
        yield url
        return
    exe = shutil.which("redis-server")
    if exe is None:
        pytest.skip("no Redis server: GNTK_TEST_REDIS_URL is unset and redis-server is not on PATH "
                    "(apt-get install redis-server)")
    port = _free_port()
    proc = subprocess.Popen([exe, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + 10.0
    while not _ping(url):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            pytest.skip(f"redis-server could not be started on 127.0.0.1:{port}")
        time.sleep(0.05)
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _worker(cfg) -> dict:
    out = subprocess.run([sys.executable, "-c", WORKER, json.dumps(cfg)], cwd=ROOT, capture_output=True,
                         text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.redis
def test_two_processes_share_a_counterexample_through_redis(redis_url, tmp_path):
    import redis

    claim = f"toy-shared-{uuid.uuid4().hex[:12]}"  # a key no earlier run of this test has used
    base = {"claim": claim, "db": redis_url}
    try:
        a = _worker({**base, "seed": 11, "local": str(tmp_path / "A")})
        assert a["outcome"] == "pass" and a["counterexample"] is not None, a["message"]
        c = a["counterexample"]
        b = _worker({**base, "seed": 22, "local": str(tmp_path / "B")})
        assert b["first"] == {"case": c, "status": "VIOLATED"}, (b, c)
        assert b["cases"] == 1 and b["outcome"] == "pass"
        # Control: the same seed without the shared database does not start from c.
        ctrl = _worker({**base, "db": str(tmp_path / "C"), "seed": 22, "local": None})
        assert ctrl["first"]["case"] != c and ctrl["first"]["status"] == "HOLDS", ctrl
        # B keeps its own local copy of what it replayed (MultiplexedDatabase saves to both).
        key = f"gntk-checks:{claim}/probe".encode()
        assert list(DirectoryBasedExampleDatabase(tmp_path / "B").fetch(key))
        assert list(DirectoryBasedExampleDatabase(tmp_path / "A").fetch(key))
    finally:
        client = redis.Redis.from_url(redis_url)
        for k in client.scan_iter(match=f"*{claim}*".encode()):
            client.delete(k)
        client.close()


def _toy_variant(seen):
    """In-process toy: ``a <= 999999`` over a in [0, 2**40]; it shrinks to a = 10**6, which is never
    Hypothesis's first example (that is a = 0)."""
    from checks.registry import Claim, Expected, Variant
    from checks.verdict import Tier, Verdict

    claim = Claim("toy-local", "Toy", "a <= 999999")

    def check(case):
        seen.append(dict(case))
        return Verdict(claim="toy-local/probe", observed=case["a"], bound=10 ** 6 - 1, case=dict(case))

    return Variant(claim, "probe", Expected.COUNTEREXAMPLE, Tier.EXACT, "toy",
                   lambda: st.fixed_dictionaries({"a": st.integers(0, 2 ** 40)}), check, max_examples=50)


def test_the_local_default_replays_a_counterexample_in_the_next_run(tmp_path):
    from checks.parallel import hypothesis_seed

    def run(seed, db):
        seen = []
        with hypothesis_seed(seed):
            r = runner.run_variant(_toy_variant(seen), profile="hunt", database=db, max_examples=50, record=False)
        return r, seen

    db = make_database(None, local_path=tmp_path)
    assert isinstance(db, DirectoryBasedExampleDatabase)
    first, _ = run(1, db)
    assert first.counterexample is not None and first.counterexample["case"] == {"a": 10 ** 6}
    again, seen = run(2, make_database(str(tmp_path)))
    assert seen[0] == {"a": 10 ** 6} and again.cases == 1
    control, seen = run(2, make_database(":memory:"))  # same seed, empty database
    assert seen[0] != {"a": 10 ** 6} and control.cases > 1


def test_setting_chooses_the_database(tmp_path, monkeypatch):
    assert isinstance(make_database(None, local_path=tmp_path), DirectoryBasedExampleDatabase)
    assert isinstance(make_database(":memory:"), InMemoryExampleDatabase)
    assert make_database(str(tmp_path / "d")) == DirectoryBasedExampleDatabase(tmp_path / "d")
    assert make_database(tmp_path / "d") == DirectoryBasedExampleDatabase(tmp_path / "d")
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "env"))
    assert make_database() == DirectoryBasedExampleDatabase(tmp_path / "env")
    assert make_database(str(tmp_path / "arg")) == DirectoryBasedExampleDatabase(tmp_path / "arg")  # arg wins


def test_a_redis_url_multiplexes_the_local_directory_and_redis(tmp_path, monkeypatch):
    pytest.importorskip("redis")
    from hypothesis.extra.redis import RedisExampleDatabase

    monkeypatch.setenv(ENV_VAR, "redis://127.0.0.1:1/0")
    db = make_database(local_path=tmp_path, ping=False)  # no server needed without the ping
    assert isinstance(db, MultiplexedDatabase)
    local, shared = db._wrapped  # noqa: SLF001 (the only way to look inside)
    assert local == DirectoryBasedExampleDatabase(tmp_path) and isinstance(shared, RedisExampleDatabase)
    assert is_redis_url("rediss://h:1/0") and is_redis_url("unix:///tmp/r.sock") and not is_redis_url("/tmp/x")


def test_an_unreachable_server_is_reported_at_once_with_the_password_hidden():
    pytest.importorskip("redis")
    url = f"redis://me:s3cret@127.0.0.1:{_free_port()}/0"  # nothing listens on a port just freed
    with pytest.raises(DatabaseUnavailableError, match=r"cannot reach the Redis server at redis://me:\*\*\*@") as err:
        make_database(url)
    assert "s3cret" not in str(err.value)


@pytest.mark.parametrize("redis_installed", [True, False])
def test_bad_settings_are_rejected(monkeypatch, redis_installed):
    """The URL is checked before redis-py is imported: the same errors with or without the extra."""
    if not redis_installed:
        monkeypatch.setitem(sys.modules, "redis", None)   # import redis now raises ImportError
    with pytest.raises(DatabaseURLError,
                       match=r"GNTK_DB/--db must be a directory or a redis/rediss/unix:// URL, got 'http://x'"):
        make_database("http://x")
    with pytest.raises(DatabaseURLError, match=r"url must be a redis/rediss/unix:// URL, got '/tmp/x'"):
        redis_database("/tmp/x")
    with pytest.raises(DatabaseURLError, match=r"malformed Redis URL 'redis://h:port/0'"):
        make_database("redis://h:port/0")
    with pytest.raises(TypeError, match=r"url_or_path must be a str, a path or None, got int"):
        make_database(3)
    with pytest.raises(TypeError, match=r"local_path must be a str, a path or None, got int"):
        make_database(None, local_path=3)


def test_without_redis_py_a_good_url_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "redis", None)
    with pytest.raises(DatabaseUnavailableError, match=r"needs redis-py: pip install 'gntk-checks\[redis\]'"):
        make_database("redis://127.0.0.1:6379/0")
