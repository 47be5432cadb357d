"""The claim registry: every claim of the paper, its variants and their declared outcomes (DESIGN 4).

A :class:`Claim` is one statement of the paper (``lemma-5.5``); a :class:`Variant` is one reading of
it (``stated``, ``corrected``, ``probe``, ``audit``) with a declared :class:`Expected` outcome, an
evidence tier, a Hypothesis strategy of case dicts, and a check ``case -> Verdict``.

Expected outcomes and what makes a run of the variant pass:

=================  ==============================================================================
HOLDS              no confirmed VIOLATED verdict in the search ("no violation found"; a search can
                   never prove HOLDS).
COUNTEREXAMPLE     a probe: the search must find a VIOLATED verdict (shrunk); finding none fails.
KNOWN_FINDING      a stated variant the paper gets wrong (MATH 6): the search must reproduce the
                   violation; if it stops failing the run says so (strict, like a strict xfail).
REPORT             an audit: computed, range-checked for sanity, reported; never fails on the
                   paper's account (only on an error or a non-finite number).
=================  ==============================================================================

Id conventions: variant id ``"<claim-id>/<variant-name>"`` (``lemma-5.5/probe``); the pytest id is
``lemma_5_5-probe`` (dots and dashes of the claim id become underscores) so that
``pytest -k lemma_5_5`` selects every variant of the claim.
"""

from __future__ import annotations

import enum
import importlib
import importlib.util
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from .verdict import Tier, Verdict

__all__ = ["Expected", "Claim", "Variant", "register", "registry", "get_variant", "variants",
           "claims", "load_all", "pytest_id", "CLAIM_MODULES"]


class Expected(str, enum.Enum):
    HOLDS = "holds"
    COUNTEREXAMPLE = "counterexample"
    KNOWN_FINDING = "known-finding"
    REPORT = "report"


#: Modules that register claims, imported by :func:`load_all`.
CLAIM_MODULES = (
    "checks.lemma_5_1",
    "checks.dynamics_claims",
    "checks.algorithm_1",
    "checks.lemma_5_4",
    "checks.lemma_5_5",
    "checks.lemma_5_6",
    "checks.theorem_4_5",
)


@dataclass(frozen=True)
class Claim:
    """One statement of the paper.

    id : e.g. ``"lemma-5.5"``; paper_ref : e.g. ``"Lemma 5.5"``; statement : the paper's words in
    ASCII; premises : the premises as printed (and hidden ones MATH 6 adds); family : the group
    whose ``ci`` searches together should take about 60 s (DESIGN 5;
    measured in the report's time column, not enforced).
    """

    id: str
    paper_ref: str
    statement: str
    premises: Tuple[str, ...] = ()
    family: str = ""

    def __post_init__(self):
        if not self.id or "/" in self.id or " " in self.id:
            raise ValueError(f"Claim.id must be a non-empty slug without '/' or spaces, got {self.id!r}")


@dataclass(frozen=True)
class Variant:
    """One reading of a claim with its declared outcome (DESIGN 4).

    strategy : zero-argument callable returning a Hypothesis strategy of case dicts.
    check : ``check(case) -> Verdict``.
    max_examples : examples under the ``ci`` profile (other profiles scale it).
    examples : explicit cases always run first (shrunk counterexamples, regression cases).
    finding : for KNOWN_FINDING, the erratum it reproduces (e.g. ``"E11"``) and why.
    time_budget_s : wall-clock cap of the generated search under ``ci`` (explicit examples and shrinking
        come on top).
    """

    claim: Claim
    name: str
    expected: Expected
    tier: Tier
    description: str
    strategy: Callable[[], Any]
    check: Callable[[Mapping[str, Any]], Verdict]
    max_examples: int = 20
    examples: Tuple[Mapping[str, Any], ...] = ()
    finding: Optional[str] = None
    time_budget_s: float = 30.0

    def __post_init__(self):
        object.__setattr__(self, "expected", Expected(self.expected))
        object.__setattr__(self, "tier", Tier(self.tier))
        if not self.name or "/" in self.name:
            raise ValueError(f"Variant.name must be a slug without '/', got {self.name!r}")
        if self.expected is Expected.KNOWN_FINDING and not self.finding:
            raise ValueError(f"variant {self.id}: a KNOWN_FINDING needs `finding` (the erratum and reason)")
        if self.max_examples < 1:
            raise ValueError(f"variant {self.id}: max_examples must be >= 1, got {self.max_examples}")

    @property
    def id(self) -> str:
        return f"{self.claim.id}/{self.name}"

    @property
    def pytest_id(self) -> str:
        return pytest_id(self.id)


_REGISTRY: Dict[str, Variant] = {}


def pytest_id(variant_id: str) -> str:
    """``lemma-5.5/probe`` -> ``lemma_5_5-probe``."""
    claim, _, name = variant_id.partition("/")
    return claim.replace("-", "_").replace(".", "_") + ("-" + name if name else "")


def register(variant: Variant) -> Variant:
    """Add a variant; re-registering the same id (a module re-import) replaces it."""
    if not isinstance(variant, Variant):
        raise TypeError(f"register() takes a Variant, got {type(variant).__name__}")
    _REGISTRY[variant.id] = variant
    return variant


def load_all() -> Dict[str, Variant]:
    """Import every claim module (registering its variants) and return the registry."""
    for mod in CLAIM_MODULES:
        # A claim module not written yet is skipped here; tests/test_registry.py requires every
        # module of CLAIM_MODULES to exist and every row of the expected-outcome table to be registered.
        if importlib.util.find_spec(mod) is not None:
            importlib.import_module(mod)
    return dict(_REGISTRY)


def registry() -> Dict[str, Variant]:
    return load_all()


def variants(ids: Optional[List[str]] = None) -> List[Variant]:
    """Registered variants, in registration order, optionally filtered by variant or claim ids."""
    reg = load_all()
    if not ids:
        return list(reg.values())
    out = []
    for key in ids:
        matched = [v for v in reg.values() if v.id == key or v.claim.id == key]
        if not matched:
            raise KeyError(f"unknown claim or variant id {key!r}; known: {sorted(reg)}")
        out.extend(m for m in matched if m not in out)
    return out


def get_variant(variant_id: str) -> Variant:
    reg = load_all()
    try:
        return reg[variant_id]
    except KeyError:
        raise KeyError(f"unknown variant id {variant_id!r}; known: {sorted(reg)}") from None


def claims() -> Dict[str, Claim]:
    return {v.claim.id: v.claim for v in load_all().values()}
