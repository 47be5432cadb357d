"""Meta-tests of the registry: the expected-outcome table is enforced both ways (docs/verdicts.md#expected-outcomes)."""

import importlib.util
import pathlib
import re

import pytest

from hypothesis import strategies as st

from checks import registry as reg_mod
from checks.expectations import EXPECTED_OUTCOMES, KNOWN_FINDINGS
from checks.registry import (CLAIM_MODULES, Claim, ClaimModuleError, Expected, Variant, is_builtin, pytest_id,
                             registry)
from checks.verdict import Tier, Verdict

TESTS = pathlib.Path(__file__).parent


@pytest.mark.parametrize("module", CLAIM_MODULES)
def test_every_claim_module_exists(module):
    assert importlib.util.find_spec(module) is not None, f"claim module {module} is missing"


def test_every_registered_variant_is_in_the_table():
    """The table is the built-ins' declaration; a user's claim declares its outcome itself."""
    for vid, v in registry().items():
        if not is_builtin(v):
            continue
        key = (v.claim.id, v.name)
        assert key in EXPECTED_OUTCOMES, f"{vid} is registered but not in checks/expectations.py"
        assert v.expected is EXPECTED_OUTCOMES[key], (
            f"{vid} declares {v.expected.value}, the table says {EXPECTED_OUTCOMES[key].value}")


def test_every_table_row_is_registered():
    reg = registry()
    missing = [f"{c}/{n}" for (c, n) in EXPECTED_OUTCOMES if f"{c}/{n}" not in reg or not is_builtin(reg[f"{c}/{n}"])]
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
    for cid in sorted({v.claim.id for v in registry().values() if is_builtin(v)}):
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


# -- users' claim modules: entry points, $GNTK_CLAIM_MODULES, --claims-module ----------------------------
USER_MODULE = """
from hypothesis import strategies as st
from checks import Claim, Expected, Tier, Variant, Verdict, register

C = Claim("{cid}", "My lemma", "a <= 10")
register(Variant(C, "stated", Expected.HOLDS, Tier.EXACT, "mine",
                 lambda: st.fixed_dictionaries({{"a": st.integers(0, 10)}}),
                 lambda case: Verdict(claim="{cid}/stated", observed=case["a"], bound=10.0, case=dict(case)),
                 expected_reason="a is drawn from [0, 10]"))
"""


@pytest.fixture
def clean_registry(monkeypatch):
    monkeypatch.setattr(reg_mod, "_REGISTRY", dict(reg_mod._REGISTRY))
    monkeypatch.setattr(reg_mod, "_ORIGIN", dict(reg_mod._ORIGIN))
    monkeypatch.setattr(reg_mod, "_EXTRA_MODULES", [])
    monkeypatch.setattr(reg_mod, "_IMPORTED", {})
    monkeypatch.delenv(reg_mod.ENV_CLAIM_MODULES, raising=False)
    return monkeypatch


def _write(tmp_path, stem, cid):
    path = tmp_path / f"{stem}.py"
    path.write_text(USER_MODULE.format(cid=cid))
    return path


def test_user_module_from_the_environment_by_path_and_by_name(clean_registry, tmp_path):
    by_path = _write(tmp_path, "mine_a", "user-a")
    _write(tmp_path, "mine_b", "user-b")
    clean_registry.syspath_prepend(str(tmp_path))
    clean_registry.setenv(reg_mod.ENV_CLAIM_MODULES, f"{by_path}, mine_b")
    reg = registry()
    assert {"user-a/stated", "user-b/stated"} <= set(reg)
    assert not is_builtin(reg["user-a/stated"]) and not is_builtin(reg["user-b/stated"])
    assert reg["user-a/stated"].expected_reason == "a is drawn from [0, 10]"
    assert reg_mod.claim_modules()[-2:] == [str(by_path), "mine_b"]
    assert all(is_builtin(v) for k, v in reg.items() if not k.startswith("user-"))
    registry()   # imported once: a second load does not re-execute the file
    assert len(reg_mod._IMPORTED) == 1


def test_claims_module_option_and_entry_points(clean_registry, tmp_path):
    path = _write(tmp_path, "mine_c", "user-c")
    _write(tmp_path, "mine_ep", "user-ep")
    clean_registry.syspath_prepend(str(tmp_path))

    class EP:
        value = "mine_ep"

    import importlib.metadata as md

    clean_registry.setattr(md, "entry_points", lambda group=None: [EP()] if group == reg_mod.ENTRY_POINT_GROUP else [])
    assert reg_mod.add_claim_modules([str(path), str(path)], source="--claims-module") == [str(path)]
    reg = registry()
    assert {"user-c/stated", "user-ep/stated"} <= set(reg)
    assert reg_mod.claim_modules().index("mine_ep") < reg_mod.claim_modules().index(str(path))


@pytest.mark.parametrize("names, exc, match", [
    (["no_such_claim_module_xyz"], ClaimModuleError, "cannot be found"),
    (["/no/such/file.py"], ClaimModuleError, "does not exist"),
])
def test_bad_claim_modules_are_named(clean_registry, names, exc, match):
    reg_mod.add_claim_modules(names, source="--claims-module")
    with pytest.raises(exc, match=match):
        registry()


def test_add_claim_modules_validates(clean_registry):
    with pytest.raises(ClaimModuleError, match="--claims-module: an empty claim module name"):
        reg_mod.add_claim_modules(["  "], source="--claims-module")
    with pytest.raises(TypeError, match="got the string"):
        reg_mod.add_claim_modules("mine", source="--claims-module")


def test_ids_in_pytest_form_and_no_duplicates():
    assert [v.id for v in reg_mod.variants(["lemma_5_5-probe"])] == ["lemma-5.5/probe"]
    both = reg_mod.variants(["lemma-5.5", "lemma-5.5/probe", "lemma_5_5"])
    assert len(both) == len({v.id for v in both}) == len(reg_mod.variants(["lemma-5.5"]))
    assert reg_mod.get_variant("lemma_5_5-stated").id == "lemma-5.5/stated"
    with pytest.raises(KeyError, match="unknown claim or variant id 'lemma-9.9'"):
        reg_mod.variants(["lemma-9.9"])


def test_variant_declares_its_decision_needs():
    c = Claim("toy-9", "Toy 9", "nothing")
    check = lambda case: Verdict(claim="toy-9/x", observed=0.0, bound=1.0)  # noqa: E731
    v = Variant(c, "x", Expected.HOLDS, Tier.EXACT, "d", st.none, check, max_examples=10)
    assert v.min_decided == 1 and "verified nothing" in v.min_decided_reason
    assert v.shrink_calls == 50 and Variant(c, "y", "holds", "exact", "d", st.none, check,
                                            max_shrink_calls=80).shrink_calls == 80
    k = Variant(c, "z", Expected.KNOWN_FINDING, Tier.EXACT, "d", st.none, check, finding="E11: labels in (-1, 1)")
    assert k.erratum == "E11"
    with pytest.raises(TypeError, match="min_decided must be an int"):
        Variant(c, "x", Expected.HOLDS, Tier.EXACT, "d", st.none, check, min_decided=1.5)
    with pytest.raises(ValueError, match="max_shrink_calls must be >= 1"):
        Variant(c, "x", Expected.HOLDS, Tier.EXACT, "d", st.none, check, max_shrink_calls=0)
