"""The proved tier: verdicts decided by rigorous ball-arithmetic enclosures (python-flint / Arb).

``gntk-check prove [ID ...]`` re-derives every proof below, prints each enclosure (lower, upper, width)
and the time each proof took, and exits 0 when every verdict came out as expected.  A proved verdict has
tolerance 0 and stderr 0: for "<=", HOLDS iff upper(LHS) <= lower(RHS), VIOLATED iff lower(LHS) >
upper(RHS) (docs/verdicts.md); the enclosures are computed in theory.enclosures.

Proofs (an exact id runs one proof, any other string is a prefix: ``prove lemma-5.5`` runs all five)
    lemma-5.5/probe            E10 at n = 3 orthonormal inputs, tanh, alpha = 1, M = 300: a feasible DV tilt
                               (KL enclosed <= M) has value > the printed bound 20; DV upper bound at beta*.
    lemma-5.5/probe-shift      the same violation from the Gaussian shift family (1-D integrals only).
    lemma-5.5/probe-crossing   rho(M_lo) < 1 < rho(M_hi): a crossing M* of the printed bound in [M_lo, M_hi].
    lemma-5.5/stated-cases     proved HOLDS per ci-drawn case with a 1-D theta-integral (orthonormal inputs
    lemma-5.5/corrected-cases  with odd h, or d = 1); the fraction proved is in the note.
    lemma-5.6/stated           E11: risk 1 > the right side's upper end on every sample (P(failure) = 1).
    lemma-5.1/probe            E8: delta_0, shrink-u and a Gaussian adversary below Lambda/2 inside the ball.
    lemma-5.4/sharp            sharp T2 proved at non-translations; equality at a translation proved exactly.
    activations/constants      G1..G5 of tanh, sigmoid, erf enclosed; the closed forms lie inside.

python-flint is optional (the ``proved`` extra): this module imports it, so ``import checks.proved`` raising
ImportError is how the CLI tells that the extra is missing; theory.enclosures imports it lazily.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Callable, Dict, List, Optional, Sequence, TextIO

import flint  # noqa: F401  (the `proved` extra: this ImportError is what `gntk-check prove` reports)

from theory import enclosures as E
from theory.errors import DomainError

from ._proved_core import Proof, proved_verdict, wants
from .proved_lemma55 import prove_crossing, prove_lemma55_cases, prove_probe, prove_probe_shift
from .proved_lemmas import prove_constants, prove_lemma51, prove_lemma54, prove_lemma56

__all__ = ["Proof", "PROOFS", "proved_verdict", "run_proof", "main"]


# ------------------------------------------------------------------------------ driver
PROOFS: Dict[str, Callable[[], Proof]] = {
    "lemma-5.5/probe": prove_probe,
    "lemma-5.5/probe-shift": prove_probe_shift,
    "lemma-5.5/probe-crossing": prove_crossing,
    "lemma-5.6/stated": prove_lemma56,
    "lemma-5.1/probe": prove_lemma51,
    "lemma-5.4/sharp": prove_lemma54,
    "lemma-5.5/stated-cases": lambda: prove_lemma55_cases("stated"),
    "lemma-5.5/corrected-cases": lambda: prove_lemma55_cases("corrected"),
    "activations/constants": prove_constants,
}


def run_proof(pid: str) -> Proof:
    """Run one proof by id, timing it (wall clock; reported, never a budget)."""
    if pid not in PROOFS:
        raise DomainError(f"proof id must be one of {sorted(PROOFS)}, got {pid!r}")
    t0 = time.perf_counter()
    p = PROOFS[pid]()
    p.seconds = time.perf_counter() - t0
    return p


def _select(ids: Sequence[str]) -> List[str]:
    if not ids:
        return list(PROOFS)
    out = []
    for q in ids:
        # an exact id runs that proof alone; anything else is a prefix ("lemma-5.5" runs all of Lemma 5.5)
        hit = [q] if q in PROOFS else [p for p in PROOFS if p.startswith(q)]
        if not hit:
            raise DomainError(f"no proof matches {q!r}; ids: {', '.join(PROOFS)}")
        out += [p for p in hit if p not in out]
    return out


def _print(p: Proof, out: TextIO) -> None:
    out.write(f"{p.id}: {'ok' if p.ok else 'NOT AS EXPECTED'} ({p.seconds:.2f} s)\n")
    for k, (lo, hi) in p.enclosures.items():
        out.write(f"    {k:<28} [{lo:.12g}, {hi:.12g}]  width {hi - lo:.3g}\n")
    for v, want in p.verdicts:
        out.write(f"    verdict {v.status.value} (expected {wants(want)}): {v.explain()}\n")
    for k, good in p.checks.items():
        out.write(f"    check {'ok' if good else 'FAILED'}: {k}\n")
    if p.note:
        out.write(f"    note: {p.note}\n")


def main(argv: Optional[Sequence[str]] = None, out: Optional[TextIO] = None) -> int:
    """``gntk-check prove [ID ...] [--json PATH] [--list]``: run the proofs, print enclosures and timings.

    Returns 0 when every verdict has its expected status, 1 otherwise, 2 on a bad id.
    """
    ap = argparse.ArgumentParser(prog="gntk-check prove", description="rigorous ball-arithmetic proofs")
    ap.add_argument("ids", nargs="*", help="proof ids or prefixes (default: all)")
    ap.add_argument("--json", help="write every proof (enclosures, verdicts, seconds) to this JSON file")
    ap.add_argument("--list", action="store_true", help="list the proof ids and exit")
    ap.add_argument("--digits", type=int, default=None,
                    help="working precision in decimal digits (default ~19; only rounding changes, not tolerances)")
    out = sys.stdout if out is None else out
    args = ap.parse_args(list(argv or []))
    if args.list:
        out.write("\n".join(PROOFS) + "\n")
        return 0
    try:
        ids = _select(args.ids)
    except DomainError as exc:
        out.write(f"error: {exc}\n")
        return 2
    fl = E.require_flint()
    if args.digits is not None and args.digits < 15:
        out.write(f"error: --digits must be >= 15, got {args.digits}\n")
        return 2
    saved = fl.ctx.prec
    try:   # the precision is process-wide in python-flint: restore it for whoever runs next
        if args.digits is not None:
            fl.ctx.dps = args.digits
        proofs, total = _run_all(ids, out)
    finally:
        fl.ctx.prec = saved
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"proofs": [p.to_dict() for p in proofs], "seconds": total}, fh, indent=1)
    return 0 if all(p.ok for p in proofs) else 1


def _run_all(ids: Sequence[str], out: TextIO):
    """Run and print the proofs ``ids`` and a summary line; returns (proofs, total seconds)."""
    t0, proofs = time.perf_counter(), []
    for pid in ids:
        p = run_proof(pid)
        _print(p, out)
        proofs.append(p)
    total = time.perf_counter() - t0
    bad = [p.id for p in proofs if not p.ok]
    out.write(f"{len(proofs) - len(bad)} of {len(proofs)} proofs as expected in {total:.1f} s"
              + (f"; not as expected: {', '.join(bad)}" if bad else "") + "\n")
    return proofs, total
