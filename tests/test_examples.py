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
