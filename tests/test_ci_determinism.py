"""Under the ``ci`` profile every budget is a count: the same run gives the same verdicts under any load.

The same variant is searched in two fresh processes, the second while busy-loop processes keep every
core occupied; their verdict lists must be identical.  The variant's seconds budget is cut to
10 ms, so any wall-clock budget leaking into ``ci`` would truncate the loaded run (and most likely
the idle one) at a different case.
"""

import json
import os
import subprocess
import sys
import time

import pytest

SCRIPT = r"""
import dataclasses, json, sys
from checks.registry import get_variant
from checks.runner import run_variant
v = dataclasses.replace(get_variant(sys.argv[1]), time_budget_s=0.01)
r = run_variant(v, profile="ci", record=False)
print(json.dumps({"outcome": r.outcome, "cases": r.cases, "skipped": r.skipped, "truncated": r.truncated,
                  "counts": r.counts, "verdicts": r.kept, "tightest": r.tightest}, sort_keys=True))
"""

BUSY = "import time\nend = time.time() + 300\nwhile time.time() < end:\n    pass\n"
#: One BLAS/OpenMP thread in both runs, so that load cannot change a reduction order either.
THREADS = {k: "1" for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")}


def _run(variant_id: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GNTK_", "HYPOTHESIS"))}
    env.update(THREADS)
    proc = subprocess.run([sys.executable, "-c", SCRIPT, variant_id], env=env, capture_output=True, text=True,
                          timeout=240)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("variant_id", ["lemma-5.5/stated"])
def test_ci_verdicts_do_not_depend_on_load(variant_id):
    idle = _run(variant_id)
    busy = [subprocess.Popen([sys.executable, "-c", BUSY]) for _ in range(os.cpu_count() or 2)]
    try:
        time.sleep(0.5)   # let the busy loops take the cores first
        loaded = _run(variant_id)
    finally:
        for p in busy:
            p.kill()
            p.wait()
    assert idle["cases"] == 30 and idle["skipped"] == 0 and idle["truncated"] is None
    assert len(idle["verdicts"]) == idle["cases"] - idle["counts"]["PREMISE_FAILED"]
    assert loaded == idle


#: A module of the user's own (a local file, not a test file) full of literals: Hypothesis mines the
#: constants of every local module in sys.modules and draws one with probability 5% per choice.
LITERALS = "VALUES = [" + ", ".join(f"{k / 97:.6f}" for k in range(1, 97)) + "]\nCOUNTS = [" + \
    ", ".join(str(k) for k in range(2, 60)) + "]\n"

SCRIPT_WITH_MODULE = r"""
import importlib, sys
sys.path.insert(0, sys.argv[2])
importlib.import_module("gntk_user_literals")
""" + SCRIPT


def test_ci_cases_do_not_depend_on_the_literals_of_loaded_modules(tmp_path):
    """The same ci search draws the same cases whether or not a module full of literals is loaded.

    Without :func:`checks.runner.source_independent_draws` the second run draws some of those literals,
    so the cases (and which modules a command happens to import, or an edit adding a constant) would
    change a ci run's verdicts.
    """
    (tmp_path / "gntk_user_literals.py").write_text(LITERALS)
    # lemma-5.2/stated draws bounded floats (lam, bias_frac), where such literals are permitted values.
    plain = _run("lemma-5.2/stated")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GNTK_", "HYPOTHESIS"))}
    env.update(THREADS)
    proc = subprocess.run([sys.executable, "-c", SCRIPT_WITH_MODULE, "lemma-5.2/stated", str(tmp_path)],
                          env=env, capture_output=True, text=True, timeout=240, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    with_module = json.loads(proc.stdout.strip().splitlines()[-1])
    assert with_module == plain
