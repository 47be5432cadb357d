"""Mutants: deliberately falsified claim variants, to prove each check has power (DESIGN 2, 4).

A mutant is a copy (``dataclasses.replace``) of a real registered variant whose check is falsified
(a constant made tighter, a premise dropped) and whose declared outcome is
:attr:`~checks.registry.Expected.COUNTEREXAMPLE`: the search must catch it within the ``ci`` budget
(tests/test_mutants.py), and the report shows the kill rate per claim.  A check that no mutant can
fail proves nothing.

Mutants are not in the claim registry (they are not claims of the paper); they are *discovered* in
the claim modules of :data:`checks.registry.CLAIM_MODULES`, which declare them in either form:

* a list ``MUTANTS`` of ``(name, base, check, description)`` tuples (or :class:`Mutant` objects),
  where ``base`` is a variant name of the module's claim (``"stated"``) or a full variant id
  (``"lemma-5.2/stated"``, needed when the module registers several claims);
* functions named ``mutant_check_<slug>(case) -> Verdict`` not listed in ``MUTANTS``: the mutant is
  ``<slug>`` (underscores become dashes), its description the docstring's first line, and its base
  the function attribute ``base`` if set, else ``"stated"``.

Ids: ``"<claim-id>/mutant-<name>"`` (``lemma-5.4/mutant-tighter-constant``).  Mutant variants run
without the base variant's explicit examples, so a kill is the search's own doing.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

from . import registry
from .registry import Claim, Expected, Variant
from .verdict import Verdict

__all__ = ["MUTANT_PREFIX", "Mutant", "KillRate", "mutate", "make_mutant", "register_mutant",
           "module_mutants", "discover", "get_mutant_variant", "is_mutant_id", "kill_rates"]

MUTANT_PREFIX = "mutant-"
_FUNC_PREFIX = "mutant_check_"
#: Mutants registered by hand (outside claim modules), by id.
_EXTRA: Dict[str, "Mutant"] = {}


@dataclass(frozen=True)
class Mutant:
    """A falsified variant of a claim: ``make_variant()`` builds the runnable :class:`Variant`."""

    claim_id: str
    name: str
    description: str
    make_variant: Callable[[], Variant]
    base_id: str = ""

    def __post_init__(self):
        if not self.name or "/" in self.name or " " in self.name:
            raise ValueError(f"Mutant.name must be a slug without '/' or spaces, got {self.name!r}")
        if not callable(self.make_variant):
            raise TypeError(f"Mutant.make_variant must be callable, got {type(self.make_variant).__name__}")

    @property
    def id(self) -> str:
        return f"{self.claim_id}/{MUTANT_PREFIX}{self.name}"


@dataclass(frozen=True)
class KillRate:
    """How many mutants of one claim the search caught; ``survivors`` names the others."""

    claim_id: str
    killed: int
    total: int
    survivors: Tuple[str, ...] = ()

    @property
    def rate(self) -> float:
        return self.killed / self.total

    def to_dict(self) -> Dict[str, Any]:
        return {"killed": self.killed, "total": self.total, "rate": self.rate,
                "survivors": list(self.survivors)}


def is_mutant_id(variant_id: str) -> bool:
    """Whether ``variant_id`` (``claim/name``) names a mutant."""
    return variant_id.partition("/")[2].startswith(MUTANT_PREFIX)


def _relabelled(check: Callable[[Mapping[str, Any]], Verdict], mutant_id: str):
    """Wrap ``check`` so its verdicts carry the mutant's id (explain() then names the mutant)."""

    def mutant_check(case):
        v = check(case)
        return dataclasses.replace(v, claim=mutant_id) if isinstance(v, Verdict) else v

    mutant_check.__name__ = getattr(check, "__name__", "mutant_check")
    mutant_check.__wrapped__ = check
    return mutant_check


def mutate(base: Variant, name: str, check: Callable[[Mapping[str, Any]], Verdict],
           description: str) -> Variant:
    """The variant ``base`` with ``check`` falsified, expected to be caught (a COUNTEREXAMPLE)."""
    if not isinstance(base, Variant):
        raise TypeError(f"base must be a Variant, got {type(base).__name__}")
    if not callable(check):
        raise TypeError(f"check must be callable, got {type(check).__name__}")
    vid = f"{base.claim.id}/{MUTANT_PREFIX}{name}"
    return dataclasses.replace(base, name=MUTANT_PREFIX + name, expected=Expected.COUNTEREXAMPLE,
                               check=_relabelled(check, vid), description=description, examples=(),
                               finding=None)


def make_mutant(base: Variant, name: str, check, description: str) -> Mutant:
    """A :class:`Mutant` of ``base`` (the variant is rebuilt on each ``make_variant()`` call)."""
    mutate(base, name, check, description)  # validate now, not at run time
    return Mutant(base.claim.id, name, description, lambda: mutate(base, name, check, description),
                  base_id=base.id)


def register_mutant(mutant: Mutant) -> Mutant:
    """Add a mutant defined outside a claim module (replaces one with the same id)."""
    if not isinstance(mutant, Mutant):
        raise TypeError(f"register_mutant() takes a Mutant, got {type(mutant).__name__}")
    _EXTRA[mutant.id] = mutant
    return mutant


def _resolve_base(module: ModuleType, base: str) -> Variant:
    """The variant ``base`` names: a full id, or a variant name of the module's (single) claim."""
    reg = registry.registry()
    if "/" in base:
        if base not in reg:
            raise ValueError(f"{module.__name__}: mutant base {base!r} is not a registered variant")
        return reg[base]
    claim_ids = {obj.id for obj in vars(module).values() if isinstance(obj, Claim)}
    found = [v for v in reg.values() if v.claim.id in claim_ids and v.name == base]
    if len(found) != 1:
        raise ValueError(f"{module.__name__}: mutant base {base!r} matches {len(found)} variants of "
                         f"claims {sorted(claim_ids)}; give a full variant id such as 'lemma-5.2/stated'")
    return found[0]


def _from_entry(module: ModuleType, entry: Union[Mutant, Sequence]) -> Mutant:
    if isinstance(entry, Mutant):
        return entry
    if not isinstance(entry, (tuple, list)) or len(entry) != 4:
        raise ValueError(f"{module.__name__}.MUTANTS entries must be Mutant objects or "
                         f"(name, base, check, description) tuples, got {entry!r}")
    name, base, check, description = entry
    return make_mutant(_resolve_base(module, str(base)), str(name), check, str(description))


def module_mutants(module: ModuleType) -> List[Mutant]:
    """The mutants a claim module declares (``MUTANTS`` and ``mutant_check_*`` functions)."""
    entries = getattr(module, "MUTANTS", ())
    out = [_from_entry(module, e) for e in entries]
    listed = {id(e[2]) for e in entries if isinstance(e, (tuple, list)) and len(e) == 4}
    for attr, fn in sorted(vars(module).items()):
        if not (attr.startswith(_FUNC_PREFIX) and callable(fn)) or id(fn) in listed:
            continue
        base = _resolve_base(module, str(getattr(fn, "base", "stated")))
        doc = (fn.__doc__ or "").strip().splitlines()
        name = attr[len(_FUNC_PREFIX):].replace("_", "-")
        if any(m.claim_id == base.claim.id and m.name == name for m in out):
            continue  # the same mutant, already declared as a Mutant object in MUTANTS
        out.append(make_mutant(base, name, fn, doc[0] if doc else name))
    return out


def discover(modules: Optional[Iterable[str]] = None) -> List[Mutant]:
    """Every mutant: those of the claim modules (default :data:`checks.registry.CLAIM_MODULES`,
    read at call time) that exist, then those registered by hand; duplicate ids are an error."""
    registry.load_all()
    names = registry.CLAIM_MODULES if modules is None else tuple(modules)
    found: List[Mutant] = []
    for name in names:
        if importlib.util.find_spec(name) is not None:
            found.extend(module_mutants(importlib.import_module(name)))
    found.extend(_EXTRA.values())
    seen: Dict[str, Mutant] = {}
    for m in found:
        if m.id in seen and seen[m.id] is not m:
            raise ValueError(f"two mutants share the id {m.id!r}")
        seen[m.id] = m
    return list(seen.values())


def get_mutant_variant(variant_id: str) -> Variant:
    """The runnable variant of the mutant ``variant_id`` (for replays)."""
    for m in discover():
        if m.id == variant_id:
            return m.make_variant()
    raise KeyError(f"unknown mutant id {variant_id!r}")


def kill_rates(results: Iterable[Any]) -> Dict[str, KillRate]:
    """Claim id -> :class:`KillRate` over the mutant results among ``results``.

    ``results`` holds :class:`~checks.runner.VariantResult` objects or their dicts; a mutant is
    killed when its run passed (the search found its counterexample); an error is a survivor.
    """
    tally: Dict[str, List[Tuple[str, bool]]] = {}
    for r in results:
        d = r if isinstance(r, Mapping) else {"variant_id": r.variant_id, "claim_id": r.claim_id,
                                                "name": r.name, "outcome": r.outcome}
        if is_mutant_id(d["variant_id"]):
            tally.setdefault(d["claim_id"], []).append((d["name"], d["outcome"] == "pass"))
    return {cid: KillRate(cid, sum(k for _, k in rows), len(rows), tuple(n for n, k in rows if not k))
            for cid, rows in sorted(tally.items())}
