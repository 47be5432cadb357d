"""Meta-tests of the registry: the expected-outcome table is enforced both ways (DESIGN 4)."""

import importlib.util
import pathlib
import re

import pytest

from checks.expectations import EXPECTED_OUTCOMES, KNOWN_FINDINGS
from checks.registry import CLAIM_MODULES, Expected, Variant, pytest_id, registry

TESTS = pathlib.Path(__file__).parent


@pytest.mark.parametrize("module", CLAIM_MODULES)
def test_every_claim_module_exists(module):
    assert importlib.util.find_spec(module) is not None, f"claim module {module} is missing"


def test_every_registered_variant_is_in_the_table():
    for vid, v in registry().items():
        key = (v.claim.id, v.name)
        assert key in EXPECTED_OUTCOMES, f"{vid} is registered but not in checks/expectations.py"
        assert v.expected is EXPECTED_OUTCOMES[key], (
            f"{vid} declares {v.expected.value}, the table says {EXPECTED_OUTCOMES[key].value}")


def test_every_table_row_is_registered():
    reg = registry()
    missing = [f"{c}/{n}" for (c, n) in EXPECTED_OUTCOMES if f"{c}/{n}" not in reg]
    assert not missing, f"rows of the expected-outcome table with no registered variant: {missing}"


def test_known_findings_name_their_erratum():
    reg = registry()
    for (c, n), erratum in KNOWN_FINDINGS.items():
        v = reg[f"{c}/{n}"]
        assert v.expected is Expected.KNOWN_FINDING
        assert erratum in (v.finding or ""), f"{v.id}.finding must name {erratum}, got {v.finding!r}"


def test_pytest_id_mapping():
    assert pytest_id("lemma-5.4/stated") == "lemma_5_4-stated"
    assert pytest_id("theorem-4.5/audit") == "theorem_4_5-audit"
    assert pytest_id("algorithm-1") == "algorithm_1"


def _claim_markers():
    pattern = re.compile(r"pytest\.mark\.claim\(\s*[\"']([^\"']+)[\"']")
    return {m for f in TESTS.glob("test_*.py") for m in pattern.findall(f.read_text())}


def test_claim_markers_name_known_claims():
    reg = registry()
    known = set(reg) | {v.claim.id for v in reg.values()}
    unknown = sorted(m for m in _claim_markers() if m not in known)
    assert not unknown, f"tests mark unknown claims: {unknown}"


def test_every_claim_has_its_own_tests():
    """Beyond the generic search of test_claims.py, each claim has a test module or marked tests."""
    marked = {m.split("/")[0] for m in _claim_markers()}
    modules = {p.stem for p in TESTS.glob("test_*.py")}
    for cid in sorted({v.claim.id for v in registry().values()}):
        slug = cid.replace("-", "_").replace(".", "_")
        assert cid in marked or f"test_{slug}" in modules or any(slug in m for m in modules), (
            f"claim {cid} has no dedicated tests (name a module test_{slug}.py or mark tests with claim)")


def test_variant_validation():
    from hypothesis import strategies as st

    from checks.registry import Claim
    from checks.verdict import Tier

    c = Claim("toy-9", "Toy 9", "nothing")
    with pytest.raises(ValueError, match="finding"):
        Variant(c, "stated", Expected.KNOWN_FINDING, Tier.EXACT, "d", st.none, lambda case: None)
    with pytest.raises(ValueError, match="slug"):
        Variant(c, "a/b", Expected.HOLDS, Tier.EXACT, "d", st.none, lambda case: None)
    with pytest.raises(ValueError, match="Claim.id"):
        Claim("bad id", "x", "y")
