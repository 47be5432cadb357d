"""gntk-checks: theorem-checking property tests for the generalized NTK paper (Chen, Cao, Gu, Zhang 2020).

The public API for your own claims and regression tests (docs/user-claims.md)::

    from checks import Claim, Variant, Expected, Tier, Verdict, register      # declare a claim
    from checks import check_claim, parametrize_with_claims, claim_tests     # run it under pytest
    from checks import as_hypothesis_test, run_variant, variants             # lower level
    from checks import strategies                                             # public strategies
"""

from .api import ClaimCheckFailed, ClaimInconclusive, check_claim, claim_tests, parametrize_with_claims
# Not the function registry(): it would shadow the submodule checks.registry on the package.
from .registry import Claim, ClaimModuleError, Expected, Variant, add_claim_modules, get_variant, register, variants
from .runner import CounterexampleFound, VariantResult, as_hypothesis_test, run_variant
from .verdict import Status, Tier, Verdict

__all__ = ["Claim", "Variant", "Expected", "Tier", "Status", "Verdict", "register", "variants",
           "get_variant", "add_claim_modules", "ClaimModuleError", "as_hypothesis_test", "run_variant",
           "VariantResult", "CounterexampleFound", "check_claim", "parametrize_with_claims", "claim_tests",
           "ClaimCheckFailed", "ClaimInconclusive"]
