"""examples/ runs from a separate directory through the public API only, as an installed user would."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_examples_run_outside_the_repository(tmp_path):
    work = tmp_path / "user"
    shutil.copytree(EXAMPLES, work)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GNTK_", "HYPOTHESIS"))}
    env.update(PYTHONDONTWRITEBYTECODE="1", GNTK_CLAIM_MODULES="my_lemma.py")
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:xdist", "-q",
                           "--claims-report", "r.json"], cwd=work, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "5 passed" in proc.stdout, proc.stdout   # 3 of my_lemma, 2 of my_gram
    assert "my-rayleigh/stated" in proc.stdout and "my-rayleigh/probe" in proc.stdout
    # the CLI on the user's claim: verify with a report, replay of that report, and the dev profile
    cli = [sys.executable, "-m", "checks", "--claims-module", "my_lemma.py"]
    outputs = []
    for args in (cli + ["verify", "--claims", "my-rayleigh", "--report", "rep"],
                 cli + ["replay", "rep/claims-report.json"],
                 [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:xdist", "-q", "--claims-module",
                  "my_lemma.py", "test_my_lemma.py", "--hypothesis-profile", "dev"]):
        proc = subprocess.run(args, cwd=work, env={**env, "GNTK_CLAIM_MODULES": ""}, capture_output=True, text=True,
                              timeout=300)
        assert proc.returncode == 0, (args, proc.stdout + proc.stderr)
        outputs.append(proc.stdout)
    assert "replayed 2 variant(s): 0 recorded violation(s) not reproduced" in outputs[1], outputs[1]
    assert "3 passed" in outputs[2], outputs[2]
