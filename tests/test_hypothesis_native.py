"""Claims as real Hypothesis tests (checks.as_hypothesis_test, checks/api.py, the pytest plugin).

Each subprocess runs pytest in a fresh directory outside the repository (no conftest.py), on a toy
claim module registered with ``--claims-module``, as a user of the installed package would: so the
profiles come from the plugin, and Hypothesis's own options must reach the claim tests.
"""

import json
import os
import random
import subprocess
import sys
import textwrap

import pytest

from checks import runner
from checks.registry import get_variant
from checks.runner import CounterexampleFound, as_hypothesis_test
from checks.verdict import Status

TOY_CLAIMS = '''
from hypothesis import strategies as st
from checks.registry import Claim, Expected, Variant, register
from checks.verdict import Tier, Verdict

C = Claim("toy-h", "Toy H", "a <= limit")

def le(name, limit, undecided=False):
    def check(case):
        return Verdict(claim="toy-h/" + name, observed=case["a"], bound=limit, case=dict(case),
                       inconclusive="undecided on purpose" if undecided else None, extra={"a": case["a"]})
    return check

cases = lambda: st.fixed_dictionaries({"a": st.integers(0, 10 ** 6)})
register(Variant(C, "stated", Expected.HOLDS, Tier.EXACT, "true", cases, le("stated", 2 * 10 ** 6),
                 max_examples=25, expected_reason="the limit exceeds every a drawn"))
register(Variant(C, "false", Expected.HOLDS, Tier.EXACT, "false", cases, le("false", 1000), max_examples=25))
register(Variant(C, "probe", Expected.COUNTEREXAMPLE, Tier.EXACT, "probe", cases, le("probe", 1000),
                 max_examples=25))
register(Variant(C, "undecided", Expected.HOLDS, Tier.EXACT, "undecided", cases,
                 le("undecided", 2 * 10 ** 6, True), max_examples=10))
'''

TEST_FILE = '''
from checks import check_claim, claim_tests, parametrize_with_claims, variants

test_claim = claim_tests(variants(["toy-h"]))

@parametrize_with_claims(["toy-h/stated", "toy-h/probe"])
def test_mine(variant):
    check_claim(variant)
'''


@pytest.fixture
def user_dir(tmp_path):
    (tmp_path / "toy_claims.py").write_text(textwrap.dedent(TOY_CLAIMS))
    (tmp_path / "test_toys.py").write_text(textwrap.dedent(TEST_FILE))
    return tmp_path


def run_pytest(cwd, *args, env=None, timeout=180):
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("GNTK_", "HYPOTHESIS"))}
    full_env.update({"PYTHONDONTWRITEBYTECODE": "1", "GNTK_DB": ":memory:"}, **(env or {}))
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:xdist",
                           "-q", "--claims-module", "toy_claims.py", *args],
                          cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout)


def test_claim_tests_are_hypothesis_tests_in_a_user_directory(user_dir):
    """Statistics, the falsifying report with its blob, outcomes, and one run per variant."""
    proc = run_pytest(user_dir, "--hypothesis-show-statistics", "--claims-report", "r.json")
    out = proc.stdout
    assert proc.returncode == 1, out + proc.stderr
    # one test per variant, with the pytest id; test_mine[toy_h-stated] and [toy_h-probe] run once only
    assert "6 deselected" not in out and "2 deselected" in out, out
    assert "4 claim variant run(s)" in out, out
    # Hypothesis statistics for a claim test
    assert "test_toys.py::test_claim[toy_h-stated]:" in out
    assert "Stopped because settings.max_examples=25" in out
    assert "status=HOLDS" in out
    # a claim expected to hold and found false: Hypothesis's own failure report
    assert "FAILED test_toys.py::test_claim[toy_h-false]" in out
    # Hypothesis >= 6.13x words it "Failing test case", earlier versions "Falsifying example"
    assert "Failing test case: claim_test(" in out or "Falsifying example: claim_test(" in out, out
    assert "case={'a': 1001}" in out   # shrunk to the smallest violation
    assert "@reproduce_failure(" in out
    # the probe passes (its counterexample found), the all-INCONCLUSIVE variant fails as inconclusive
    assert "test_claim[toy_h-probe]" not in out.split("short test summary info")[-1]
    assert "FAILED test_toys.py::test_claim[toy_h-undecided]" in out and "inconclusive" in out
    report = json.loads((user_dir / "r.json").read_text())
    outcomes = {r["variant_id"]: r["outcome"] for r in report["results"]}
    assert outcomes == {"toy-h/stated": "pass", "toy-h/false": "fail", "toy-h/probe": "pass",
                        "toy-h/undecided": "inconclusive"}


def test_allow_inconclusive_and_profile_selection(user_dir):
    proc = run_pytest(user_dir, "-k", "undecided or stated", "--allow-inconclusive", "--hypothesis-profile", "dev")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # test_mine[toy_h-stated] is deselected: toy-h/stated already ran as test_claim[toy_h-stated]
    assert "1 xfailed" in proc.stdout and "1 passed" in proc.stdout, proc.stdout
    assert "toy-h/stated     holds     pass          75" in proc.stdout   # dev: 3 x 25 cases
    bad = run_pytest(user_dir, "-k", "stated", env={"GNTK_PROFILE": "fast"})
    assert bad.returncode == 4 and "GNTK_PROFILE must be one of" in bad.stderr, bad.stdout + bad.stderr
    bad = run_pytest(user_dir, "-k", "stated", "--hypothesis-profile", "fast")
    assert bad.returncode == 4 and "--hypothesis-profile 'fast' is not a registered" in bad.stderr, bad.stderr
    assert "INTERNALERROR" not in bad.stdout + bad.stderr


def _cases(cwd, *args):
    proc = run_pytest(cwd, "-k", "test_claim and stated", "--claims-report", "r.json", *args)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (result,) = json.loads((cwd / "r.json").read_text())["results"]
    return [k["extra"]["a"] for k in result["kept"]]


def test_hypothesis_seed_changes_the_cases_of_a_random_profile(user_dir):
    one = _cases(user_dir, "--hypothesis-profile", "dev", "--hypothesis-seed", "1")
    assert len(one) == 75   # dev: 3x the ci count
    assert _cases(user_dir, "--hypothesis-profile", "dev", "--hypothesis-seed", "1") == one
    assert _cases(user_dir, "--hypothesis-profile", "dev", "--hypothesis-seed", "2") != one
    # ci is derandomised: the seed option cannot change its cases
    assert _cases(user_dir, "--hypothesis-seed", "1") == _cases(user_dir, "--hypothesis-seed", "2")


def test_fuzz_one_input_on_a_probe_finds_its_counterexample(monkeypatch):
    """A fuzzer drives the claim test's body with raw bytes; the lemma-5.5 probe's violation is found."""
    monkeypatch.setattr(runner, "RESULTS", [])
    test = as_hypothesis_test(get_variant("lemma-5.5/probe"), profile="ci", record=False)
    rng = random.Random(0)
    for tries in range(1, 301):
        try:
            test.hypothesis.fuzz_one_input(rng.randbytes(256))
        except CounterexampleFound as exc:
            assert exc.verdict.status is Status.VIOLATED and exc.verdict.claim == "lemma-5.5/probe"
            break
    else:
        pytest.fail("300 fuzz inputs found no counterexample of lemma-5.5/probe")
    assert test.gntk_search.result.cases == tries   # every input was checked and recorded
