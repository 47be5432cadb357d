"""The claim registry: every claim of the paper, its variants and their declared outcomes.

See docs/user-claims.md for writing your own claim.

A :class:`Claim` is one statement of the paper (``lemma-5.5``); a :class:`Variant` is one reading of
it (``stated``, ``corrected``, ``probe``, ``audit``) with a declared :class:`Expected` outcome, an
evidence tier, a Hypothesis strategy of case dicts, and a check ``case -> Verdict``.

Expected outcomes and what makes a run of the variant pass:

=================  ==============================================================================
HOLDS              no VIOLATED verdict in the search, and at least ``min_decided`` decided verdicts
                   (HOLDS or VIOLATED); with fewer the outcome is ``inconclusive``, never ``pass``
                   ("no violation found" alone is never HOLDS).
COUNTEREXAMPLE     a probe: the search must find a VIOLATED verdict (shrunk); finding none fails.
KNOWN_FINDING      a stated variant the paper gets wrong (docs/errata.md): the search must reproduce the
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
import hashlib
import importlib
import importlib.util
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Tuple

from .verdict import Tier, Verdict

__all__ = ["Expected", "Claim", "Variant", "register", "registry", "get_variant", "variants",
           "claims", "load_all", "pytest_id", "CLAIM_MODULES", "ENTRY_POINT_GROUP", "ENV_CLAIM_MODULES",
           "ClaimModuleError", "add_claim_modules", "claim_modules", "import_claim_module", "is_builtin"]


class Expected(str, enum.Enum):
    HOLDS = "holds"
    COUNTEREXAMPLE = "counterexample"
    KNOWN_FINDING = "known-finding"
    REPORT = "report"


#: The built-in claim modules (the paper's claims), imported first by :func:`load_all`; users' own
#: claim modules come from the entry-point group, ``$GNTK_CLAIM_MODULES`` and ``--claims-module``.
CLAIM_MODULES = (
    "checks.lemma_5_1",
    "checks.dynamics_claims",
    "checks.algorithm_1",
    "checks.lemma_5_4",
    "checks.lemma_5_5",
    "checks.lemma_5_6",
    "checks.theorem_4_5",
    "checks.headline",
    "checks.headline_lambda",
    "checks.headline_path",
    "checks.headline_transient",
)


@dataclass(frozen=True)
class Claim:
    """One statement of the paper.

    id : e.g. ``"lemma-5.5"``; paper_ref : e.g. ``"Lemma 5.5"``; statement : the paper's words in
    ASCII; premises : the premises as printed (and hidden ones docs/errata.md adds); family : the group
    whose ``ci`` searches together should take about 60 s (docs/verdicts.md#profiles-and-budgets;
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


#: The default reason of :attr:`Variant.min_decided`.
DEFAULT_MIN_DECIDED_REASON = ("a search whose every verdict is INCONCLUSIVE has verified nothing: at least "
                              "one case must be decided (docs/verdicts.md#expected-outcomes)")
#: Checks the shrinker may spend under ``ci`` unless a variant says otherwise: enough for the few
#: integers and floats of a case dict (the lemma-5.5 probe shrinks in about 10 checks).
DEFAULT_SHRINK_CALLS = 50
_ERRATUM = re.compile(r"\bE\d+\b")


@dataclass(frozen=True)
class Variant:
    """One reading of a claim with its declared outcome (docs/user-claims.md).

    Parameters
    ----------
    claim : Claim
    name : str
        Slug without '/': ``stated``, ``corrected``, ``probe``, ``audit``...
    expected : Expected
        The declared outcome (the variant's own declaration; for the built-in claims the table of
        :mod:`checks.expectations` must agree).
    tier : Tier
        Evidence tier of the check's verdicts.
    description : str
    strategy : callable
        Zero-argument callable returning a Hypothesis strategy of JSON-able case dicts.
    check : callable
        ``check(case) -> Verdict``.
    max_examples : int
        Generated examples under the ``ci`` profile (other profiles scale it).
    examples : tuple of dict
        Explicit cases always run first (shrunk counterexamples, regression cases).
    finding : str or None
        For KNOWN_FINDING, the erratum it reproduces (e.g. ``"E11: ..."``) and why.
    time_budget_s : float
        Wall-clock cap of the generated search, applied only under the timed profiles (``dev``,
        ``hunt``, ``soak``; scaled by their time factor).  Under ``ci`` every budget is a count.
    expected_reason : str
        Why the declared outcome is expected (shown by ``describe`` and in the report).
    min_decided, min_decided_reason : int, str
        For a variant expected to hold: how many decided verdicts (HOLDS or VIOLATED) a run needs,
        and why; below it the run's outcome is ``inconclusive``, never ``pass``.
    max_shrink_calls : int or None
        Checks the shrinker may spend on a counterexample under ``ci`` (a count, so that ``ci`` is
        deterministic); None: :data:`DEFAULT_SHRINK_CALLS` (50; a claim with checks of a few ms
        can afford more, one with checks of seconds should declare fewer).
    rho_star, rho_star_source, rho_star_case : float or None, str, dict or None
        Best-known tightest ratio (bound/observed for "<=", observed/bound for ">=") of a variant
        expected to hold, where it comes from ("closed form: ...", "best of hunt, case recorded"),
        and the case attaining it; used by :func:`checks.mutants.sensitivity_mutant`.  ``inf`` declares
        that no finite tightest ratio exists (the sensitivity mutant is then undefined).
    erratum : str or None
        The erratum id the variant reproduces or corrects (``"E10"``); default: the first ``E<n>``
        named in ``finding``.
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
    expected_reason: str = ""
    min_decided: int = 1
    min_decided_reason: str = DEFAULT_MIN_DECIDED_REASON
    max_shrink_calls: Optional[int] = None
    rho_star: Optional[float] = None
    rho_star_source: str = ""
    rho_star_case: Optional[Mapping[str, Any]] = None
    erratum: Optional[str] = None

    def __post_init__(self):
        if not isinstance(self.claim, Claim):
            raise TypeError(f"Variant.claim must be a Claim, got {type(self.claim).__name__}")
        object.__setattr__(self, "expected", Expected(self.expected))
        object.__setattr__(self, "tier", Tier(self.tier))
        if not self.name or "/" in self.name or " " in self.name:
            raise ValueError(f"Variant.name must be a slug without '/', got {self.name!r}")
        if self.expected is Expected.KNOWN_FINDING and not self.finding:
            raise ValueError(f"variant {self.id}: a KNOWN_FINDING needs `finding` (the erratum and reason)")
        for name in ("max_examples", "min_decided", "max_shrink_calls"):
            val = getattr(self, name)
            if val is None and name == "max_shrink_calls":
                continue
            if isinstance(val, bool) or not isinstance(val, int):
                raise TypeError(f"variant {self.id}: {name} must be an int, got {type(val).__name__}")
            if val < (0 if name == "min_decided" else 1):
                raise ValueError(f"variant {self.id}: {name} must be >= {0 if name == 'min_decided' else 1}, "
                                 f"got {val}")
        if self.min_decided > self.max_examples + len(self.examples):
            raise ValueError(f"variant {self.id}: min_decided = {self.min_decided} can never be reached with "
                             f"max_examples = {self.max_examples} and {len(self.examples)} explicit example(s)")
        if self.min_decided and not self.min_decided_reason:
            raise ValueError(f"variant {self.id}: min_decided = {self.min_decided} needs min_decided_reason")
        self._check_rho_star()
        if self.erratum is None and self.finding:
            m = _ERRATUM.search(self.finding)
            object.__setattr__(self, "erratum", m.group(0) if m else None)

    def _check_rho_star(self) -> None:
        if self.rho_star is None:
            return
        if self.expected is not Expected.HOLDS:
            raise ValueError(f"variant {self.id}: rho_star is declared for variants expected to hold, "
                             f"not {self.expected.value}")
        rho = float(self.rho_star)
        # A true claim's ratio is >= 1 everywhere (1: equality is attained); below 1 it is false.
        # inf: the edge is not approached at any finite ratio (no sensitivity mutant can be built).
        if not rho >= 1.0:
            raise ValueError(f"variant {self.id}: rho_star must be >= 1 (or inf), got {self.rho_star!r}")
        if not self.rho_star_source:
            raise ValueError(f"variant {self.id}: rho_star = {rho!r} needs rho_star_source "
                             "(e.g. 'closed form: ...' or 'best of hunt, case recorded')")
        object.__setattr__(self, "rho_star", rho)

    @property
    def id(self) -> str:
        return f"{self.claim.id}/{self.name}"

    @property
    def pytest_id(self) -> str:
        return pytest_id(self.id)

    @property
    def shrink_calls(self) -> int:
        """Checks the shrinker may spend under ``ci`` (see ``max_shrink_calls``)."""
        return self.max_shrink_calls if self.max_shrink_calls is not None else DEFAULT_SHRINK_CALLS


_REGISTRY: Dict[str, Variant] = {}
#: Variant id -> the module that registered it (built-ins: a module of the ``checks`` package).
_ORIGIN: Dict[str, str] = {}
#: Entry-point group through which installed packages declare their claim modules.
ENTRY_POINT_GROUP = "gntk_checks.claims"
#: Environment variable naming extra claim modules (comma-separated module names or file paths).
ENV_CLAIM_MODULES = "GNTK_CLAIM_MODULES"
#: Claim modules added by ``--claims-module`` (pytest and CLI) or :func:`add_claim_modules`.
_EXTRA_MODULES: List[str] = []
#: Claim modules imported from a file path, by resolved path (module names: sys.modules).
_IMPORTED: Dict[str, ModuleType] = {}


class ClaimModuleError(ValueError):
    """A claim module named by the user (entry point, option or variable) cannot be imported."""


def pytest_id(variant_id: str) -> str:
    """``lemma-5.5/probe`` -> ``lemma_5_5-probe``."""
    claim, _, name = variant_id.partition("/")
    return claim.replace("-", "_").replace(".", "_") + ("-" + name if name else "")


def register(variant: Variant) -> Variant:
    """Add a variant; re-registering the same id (a module re-import) replaces it."""
    if not isinstance(variant, Variant):
        raise TypeError(f"register() takes a Variant, got {type(variant).__name__}")
    _REGISTRY[variant.id] = variant
    caller = sys._getframe(1).f_globals.get("__name__", "")  # noqa: SLF001 - who declares it
    _ORIGIN.setdefault(variant.id, caller)
    return variant


def is_builtin(variant: Variant) -> bool:
    """Whether ``variant`` is one of the paper's claims registered by this package's own modules."""
    origin = _ORIGIN.get(variant.id, "")
    return origin == "checks" or origin.startswith("checks.")


def add_claim_modules(names: Iterable[str], *, source: str = "add_claim_modules") -> List[str]:
    """Add claim modules (module names or ``.py`` paths) to those :func:`load_all` imports.

    ``source`` names the option or variable they came from, for the error message.  Returns the
    names added (duplicates are ignored).  Raises :class:`ClaimModuleError` for an empty name.
    """
    if isinstance(names, str):
        raise TypeError(f"{source}: names must be a list of module names, got the string {names!r}")
    added = []
    for raw in names:
        name = str(raw).strip()
        if not name:
            raise ClaimModuleError(f"{source}: an empty claim module name in {list(names)!r}")
        if name not in _EXTRA_MODULES:
            _EXTRA_MODULES.append(name)
            added.append(name)
    return added


def _env_modules() -> List[str]:
    raw = os.environ.get(ENV_CLAIM_MODULES, "")
    return [part.strip() for part in raw.split(",") if part.strip()]


def _entry_point_modules() -> List[str]:
    from importlib.metadata import entry_points

    return [ep.value.split(":")[0].strip() for ep in entry_points(group=ENTRY_POINT_GROUP)]


def claim_modules() -> List[str]:
    """Every claim module :func:`load_all` imports, in order: the built-ins (:data:`CLAIM_MODULES`),
    the entry-point group ``gntk_checks.claims``, ``$GNTK_CLAIM_MODULES``, then ``--claims-module``."""
    out: List[str] = []
    for name in (*CLAIM_MODULES, *_entry_point_modules(), *_env_modules(), *_EXTRA_MODULES):
        if name not in out:
            out.append(name)
    return out


def _looks_like_path(name: str) -> bool:
    return name.endswith(".py") or os.sep in name or (os.altsep is not None and os.altsep in name)


def import_claim_module(name: str) -> ModuleType:
    """Import a claim module by module name or file path (once; a path under its resolved name)."""
    if _looks_like_path(name):
        path = Path(name).expanduser().resolve()
        key = str(path)
        if key in _IMPORTED:
            return _IMPORTED[key]
        if not path.is_file():
            raise ClaimModuleError(f"claim module file {name!r} does not exist (resolved: {path})")
        modname = "gntk_user_claims." + re.sub(r"\W", "_", path.stem) + "_" + hashlib.sha1(key.encode()).hexdigest()[:8]
        spec = importlib.util.spec_from_file_location(modname, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[modname] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[modname]
            raise
        _IMPORTED[key] = module
        return module
    try:
        module = importlib.import_module(name)   # sys.modules is the cache of module names
    except ModuleNotFoundError as exc:
        if exc.name and name.startswith(exc.name) and exc.name.split(".")[0] == name.split(".")[0]:
            raise ClaimModuleError(f"claim module {name!r} cannot be found ({exc}); give an importable "
                                   f"module name or a path to a .py file") from exc
        raise
    return module


def load_all() -> Dict[str, Variant]:
    """Import every claim module (registering its variants) and return the registry."""
    for mod in claim_modules():
        # A built-in claim module not written yet is skipped here; tests/test_registry.py requires
        # every module of CLAIM_MODULES to exist.  A user's module that cannot be found is an error.
        if mod in CLAIM_MODULES and importlib.util.find_spec(mod) is None:
            continue
        import_claim_module(mod)
    return dict(_REGISTRY)


def registry() -> Dict[str, Variant]:
    return load_all()


def _normalise_key(key: str) -> str:
    """Accept the pytest form (``lemma_5_5-probe``) of a variant or claim id too."""
    reg = _REGISTRY
    if key in reg or any(v.claim.id == key for v in reg.values()):
        return key
    for v in reg.values():
        if v.pytest_id == key:
            return v.id
        if pytest_id(v.claim.id) == key:
            return v.claim.id
    return key


def variants(ids: Optional[List[str]] = None) -> List[Variant]:
    """Registered variants, in registration order, optionally filtered by variant or claim ids
    (each id at most once in the result, whatever the overlap of the ids asked for)."""
    reg = load_all()
    if not ids:
        return list(reg.values())
    out: List[Variant] = []
    for raw in ids:
        key = _normalise_key(raw)
        matched = [v for v in reg.values() if v.id == key or v.claim.id == key]
        if not matched:
            raise KeyError(f"unknown claim or variant id {raw!r}; known: {sorted(reg)}")
        out.extend(m for m in matched if m not in out)
    return out


def get_variant(variant_id: str) -> Variant:
    reg = load_all()
    try:
        return reg[_normalise_key(variant_id)]
    except KeyError:
        raise KeyError(f"unknown variant id {variant_id!r}; known: {sorted(reg)}") from None


def claims() -> Dict[str, Claim]:
    return {v.claim.id: v.claim for v in load_all().values()}
