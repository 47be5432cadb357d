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
