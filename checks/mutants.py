"""Mutants: deliberately falsified claim variants, to prove each check has power.

See docs/verdicts.md#power-and-sensitivity.

A mutant is a copy (``dataclasses.replace``) of a real registered variant whose check is falsified
(a constant made tighter, a premise dropped) and whose declared outcome is
:attr:`~checks.registry.Expected.COUNTEREXAMPLE`: the search must catch it within the ``ci`` budget
(tests/test_mutants.py), and the report shows the kill rate per claim.  A check that no mutant can
fail proves nothing.

Mutants are not in the claim registry (they are not claims of the paper); they are *discovered* in
the claim modules (:func:`checks.registry.claim_modules`), which declare them in either form:

* a list ``MUTANTS`` of ``(name, base, check, description)`` tuples (or :class:`Mutant` objects),
  where ``base`` is a variant name of the module's claim (``"stated"``) or a full variant id
  (``"lemma-5.2/stated"``, needed when the module registers several claims);
* functions named ``mutant_check_<slug>(case) -> Verdict`` not listed in ``MUTANTS``: the mutant is
  ``<slug>`` (underscores become dashes), its description the docstring's first line, and its base
  the function attribute ``base`` if set, else ``"stated"``.

Ids: ``"<claim-id>/mutant-<name>"`` (``lemma-5.4/mutant-tighter-constant``).  Mutant variants run
without the base variant's explicit examples, so a kill is the search's own doing.

Those mutants (constants changed by 8x or 1e6x) show that a check can fail at all, not how close to
the claim's edge the search gets.  **Sensitivity** measures that, for a variant expected to hold that
declares its best-known tightest ratio ``rho_star`` (``Variant.rho_star``: bound/observed for "<=",
observed/bound for ">=", at the tightest case known, with ``rho_star_source`` and ``rho_star_case``):

* :func:`sensitivity_mutant` ``(variant, eps)`` scales every verdict's right-hand side (point value,
  bracket, and the confirmation's) so that the ratio at the edge becomes ``1 - eps``: the bound times
  ``(1 - eps) / rho*`` for "<=", times ``rho* / (1 - eps)`` for ">=".  It is a claim false by ``eps``
  at its edge, and true wherever the ratio exceeds ``rho* / (1 - eps)``.
* :func:`measure_sensitivity` ``(variant, profile)`` runs the mutants of the ladder
  :data:`SENSITIVITY_LADDER` (50%, 20%, 10%, 5%, 2%) from the largest ``eps`` down and returns the
  smallest ``eps`` killed (a kill: the search finds a VIOLATED verdict), stopping at the first
  survivor (a smaller ``eps`` is a claim that is less false at the same cases).
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import json
import math
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

from . import registry
from .registry import Claim, Expected, Variant
from .verdict import Verdict

__all__ = ["MUTANT_PREFIX", "Mutant", "KillRate", "mutate", "make_mutant", "register_mutant",
           "module_mutants", "discover", "get_mutant_variant", "is_mutant_id", "kill_rates",
           "SENSITIVITY_LADDER", "sensitivity_factor", "scale_bound", "sensitivity_mutant",
           "measure_sensitivity", "ratio_at_rho_star_case", "sensitivity_record", "attach_sensitivity",
           "recorded_sensitivity", "record_sensitivity", "MEASURED_PATH"]

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
    # A mutant is a probe: the base's sensitivity declaration (rho*) and erratum do not carry over.
    return dataclasses.replace(base, name=MUTANT_PREFIX + name, expected=Expected.COUNTEREXAMPLE,
                               check=_relabelled(check, vid), description=description, examples=(),
                               finding=None, erratum=None, rho_star=None, rho_star_source="",
                               rho_star_case=None)


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
    """Every mutant: those of the claim modules (default :func:`checks.registry.claim_modules`: the
    built-ins, then users' modules, read at call time) that exist, then those registered by hand;
    duplicate ids are an error."""
    registry.load_all()
    names = registry.claim_modules() if modules is None else tuple(modules)
    found: List[Mutant] = []
    for name in names:
        if name in registry.CLAIM_MODULES and importlib.util.find_spec(name) is None:
            continue  # a built-in claim module not written yet (tests/test_registry.py requires it)
        found.extend(module_mutants(registry.import_claim_module(name)))
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


# -- sensitivity (module docstring) ----------------------------------------------------------------
#: The tightenings tried, largest first.
SENSITIVITY_LADDER: Tuple[float, ...] = (0.5, 0.2, 0.1, 0.05, 0.02)


def _check_eps(eps: float) -> float:
    if isinstance(eps, bool) or not isinstance(eps, (int, float)):
        raise TypeError(f"eps must be a float, got {type(eps).__name__}")
    if not 0.0 < float(eps) < 1.0:
        raise ValueError(f"eps must lie in (0, 1), got {eps!r}")
    return float(eps)


def _rho_star_of(variant: Variant) -> float:
    if not isinstance(variant, Variant):
        raise TypeError(f"variant must be a Variant, got {type(variant).__name__}")
    if variant.rho_star is None:
        raise ValueError(f"variant {variant.id} declares no rho_star (best-known tightest ratio)")
    if math.isinf(variant.rho_star):
        raise ValueError(f"variant {variant.id}: rho_star = inf, no finite edge to tighten the bound to")
    return variant.rho_star


def sensitivity_factor(relation: str, rho_star: float, eps: float) -> float:
    """The factor on the right-hand side that makes ratio ``rho_star`` become ``1 - eps``."""
    eps = _check_eps(eps)
    if not (isinstance(rho_star, (int, float)) and math.isfinite(rho_star) and rho_star > 0):
        raise ValueError(f"rho_star must be finite and > 0, got {rho_star!r}")
    if relation == "<=":
        return (1.0 - eps) / rho_star
    if relation == ">=":
        return rho_star / (1.0 - eps)
    raise ValueError(f"relation must be '<=' or '>=', got {relation!r}")


def scale_bound(v: Verdict, rho_star: float, eps: float, claim: Optional[str] = None) -> Verdict:
    """``v`` with its right-hand side (point, bracket, confirmation's) scaled by :func:`sensitivity_factor`.

    The ratio bound/observed ("<=") or observed/bound (">=") of every case is multiplied by
    ``(1 - eps) / rho_star``; the tolerance, an absolute error of the left side's evaluation, is
    unchanged.  Meant for positive right-hand sides (where the ratio is defined).
    """
    f = sensitivity_factor(v.relation, rho_star, eps)
    conf = None if v.confirmation is None else scale_bound(v.confirmation, rho_star, eps, claim)
    return dataclasses.replace(v, claim=claim or v.claim, bound=v.bound * f, bound_lower=v.bound_lower * f,
                               bound_upper=v.bound_upper * f, confirmation=conf)


def sensitivity_mutant(variant: Variant, eps: float) -> Variant:
    """The variant false by ``eps`` at its best-known edge (module docstring), expected to be caught."""
    rho = _rho_star_of(variant)
    eps = _check_eps(eps)
    name = f"sensitivity-{round(eps * 100, 6):g}pct"
    vid = f"{variant.claim.id}/{MUTANT_PREFIX}{name}"
    check = variant.check
    # a probability claim (bound = delta) tightens the bound inside each sample: check.tightened(case, factor)
    inner = getattr(check, "tightened", None)

    def tightened(case):
        if inner is not None:
            return dataclasses.replace(inner(case, rho / (1.0 - eps)), claim=vid)
        v = check(case)
        return scale_bound(v, rho, eps, vid) if isinstance(v, Verdict) else v

    tightened.__name__ = f"sensitivity_{name}"
    desc = (f"bound scaled so that the best-known tightest ratio {rho:.6g} becomes {1 - eps:.6g} "
            f"(false by {eps:.0%} at the edge; rho* from {variant.rho_star_source})")
    return mutate(variant, name, tightened, desc)


def measure_sensitivity(variant: Variant, profile: str = "ci", ladder: Sequence[float] = SENSITIVITY_LADDER,
                        **run_kwargs: Any) -> Dict[str, Any]:
    """Walk ``ladder`` (largest eps first) and return the smallest eps whose mutant the search kills.

    Returns ``{"eps_killed": float or None, "profile", "rho_star", "runs": [{"eps", "outcome",
    "killed", "cases", "ratio"}...]}``; ``ratio`` is the base-claim ratio at the counterexample
    (the mutant's ratio divided by the scaling).  ``run_kwargs`` go to
    :func:`checks.runner.run_variant` (``max_examples``, ``database``...); runs are not recorded.
    """
    from .runner import run_variant

    rho = _rho_star_of(variant)
    steps = sorted({_check_eps(e) for e in ladder}, reverse=True)
    out: Dict[str, Any] = {"eps_killed": None, "profile": profile, "rho_star": rho, "runs": []}
    for eps in steps:
        r = run_variant(sensitivity_mutant(variant, eps), profile=profile, record=False, **run_kwargs)
        killed = r.outcome == "pass" and r.counterexample is not None
        ratio = None
        if killed:
            ratio = Verdict.from_dict(r.counterexample).claim_ratio * rho / (1.0 - eps)
        out["runs"].append({"eps": eps, "outcome": r.outcome, "killed": killed, "cases": r.cases,
                            "ratio": ratio, "message": r.message})
        if not killed:
            break
        out["eps_killed"] = eps
    return out


def ratio_at_rho_star_case(variant: Variant) -> float:
    """The base variant's ratio at its declared ``rho_star_case`` (should equal ``rho_star``)."""
    _rho_star_of(variant)
    if variant.rho_star_case is None:
        raise ValueError(f"variant {variant.id} declares no rho_star_case")
    v = variant.check(dict(variant.rho_star_case))
    if not isinstance(v, Verdict):
        raise TypeError(f"{variant.id}: check returned {type(v).__name__}, expected a Verdict")
    return v.claim_ratio


#: Ladder measurements recorded by ``gntk-check sensitivity --record`` (package data).
MEASURED_PATH = Path(__file__).with_name("sensitivity_measured.json")
_MISSING = object()


def recorded_sensitivity(path: Optional[Path] = None) -> Dict[str, Dict[str, Optional[float]]]:
    """``variant id -> {"ci": eps or None, "hunt": eps or None}`` as recorded (a key is absent when that
    profile was not measured; None means no eps of the ladder was killed)."""
    p = MEASURED_PATH if path is None else Path(path)
    if not p.exists():
        return {}
    return dict(json.loads(p.read_text()).get("variants", {}))


def record_sensitivity(variant_id: str, profile: str, eps: Optional[float], path: Optional[Path] = None) -> None:
    """Store one :func:`measure_sensitivity` outcome in the recorded measurements."""
    if profile not in ("ci", "hunt"):
        raise ValueError(f"sensitivity is recorded for the ci and hunt profiles, got profile={profile!r}")
    p = MEASURED_PATH if path is None else Path(path)
    data = json.loads(p.read_text()) if p.exists() else {"about": "", "variants": {}}
    data.setdefault("variants", {}).setdefault(variant_id, {})[profile] = eps
    p.write_text(json.dumps(data, indent=2) + "\n")


def sensitivity_record(variant: Variant, ratio_found: Optional[float] = None,
                       eps_killed_ci: Any = _MISSING, eps_killed_hunt: Any = _MISSING
                       ) -> Optional[Dict[str, Any]]:
    """The ``VariantResult.sensitivity`` dict of ``variant`` (None when it declares no rho*); the eps
    columns default to the recorded measurements (:func:`recorded_sensitivity`)."""
    if variant.rho_star is None:
        return None
    rec = recorded_sensitivity().get(variant.id, {})
    ci = rec.get("ci") if eps_killed_ci is _MISSING else eps_killed_ci
    hunt = rec.get("hunt") if eps_killed_hunt is _MISSING else eps_killed_hunt
    return {"rho_star": variant.rho_star, "rho_star_source": variant.rho_star_source,
            "ratio_found": ratio_found, "eps_killed_ci": ci, "eps_killed_hunt": hunt,
            "measured": {k: k in rec for k in ("ci", "hunt")}}


def attach_sensitivity(result: Any, measurement: Mapping[str, Any]) -> None:
    """Record a :func:`measure_sensitivity` outcome in ``result.sensitivity`` (``eps_killed_<profile>``).

    ``result`` is the :class:`~checks.runner.VariantResult` of the base variant (it must carry a
    sensitivity record, i.e. the variant declares ``rho_star``); only ``ci`` and ``hunt`` have columns.
    """
    if getattr(result, "sensitivity", None) is None:
        raise ValueError(f"{getattr(result, 'variant_id', result)!r} has no sensitivity record (no rho_star)")
    profile = measurement.get("profile")
    if profile not in ("ci", "hunt"):
        raise ValueError(f"sensitivity is recorded for the ci and hunt profiles, got profile={profile!r}")
    result.sensitivity[f"eps_killed_{profile}"] = measurement.get("eps_killed")
