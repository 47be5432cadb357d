"""The claim suite: every registered claim variant searched under the active Hypothesis profile.

One test per variant (``test_claim[lemma_5_5-probe]``), so ``pytest -k lemma_5_5`` selects a
claim.  A variant passes when its declared outcome (DESIGN 4, checks/expectations.py) is met:
no violation found for HOLDS, a shrunk counterexample for probes and known findings, a sane report
for audits.  The results feed the terminal table and the JSON report of the plugin.
"""

import pytest

from checks.registry import variants
from checks.runner import run_variant

VARIANTS = variants()


@pytest.mark.parametrize(
    "variant", [pytest.param(v, marks=pytest.mark.claim(v.id), id=v.pytest_id) for v in VARIANTS])
def test_claim(variant):
    result = run_variant(variant)
    assert result.outcome == "pass", f"{variant.id} [{variant.expected.value}]: {result.message}"
