"""The claim suite: every registered claim variant as a real Hypothesis test, under the active profile.

One ``@given`` test per variant (``test_claim[lemma_5_5-probe]``, built by
:func:`checks.as_hypothesis_test` and collected by the gntk-checks pytest plugin), so ``pytest -k
lemma_5_5`` selects a claim and Hypothesis's own options (statistics, seed, verbosity) reach it.
A variant passes when its declared outcome (docs/claims.md; checks/expectations.py for the built-ins)
is met: no violation and enough decided verdicts for HOLDS, a shrunk counterexample for probes and
known findings, a sane report for audits.  The results feed the terminal table and the JSON report.
"""

from checks.api import claim_tests
from checks.registry import variants

test_claim = claim_tests(variants())
