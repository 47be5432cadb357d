"""Soak runs: the suite's false-alarm rate, from many independent searches (issue 7).

``gntk-check soak --runs K [--claims ID,...] [--workers N] [--report DIR]``
    Every variant declared to hold (docs/verdicts.md#expected-outcomes; probes, known findings and audits excluded) is
    searched K times with the ``ci`` budget and fresh random seeds (profile ``soak``: ``ci`` without
    ``derandomize``, no database, so runs are independent).  Reports per variant the confirmed
    violations (runs that found a VIOLATED verdict; expected zero), the INCONCLUSIVE verdicts, and
    the errors: the suite's false-alarm rate.  Exit 0 iff no violation and no error.

Seeds: every run is seeded from ``--seed`` (random when absent; printed) through
:func:`checks.parallel.derive_seed`, and Hypothesis takes that seed as pytest's ``--hypothesis-seed`` does
(:func:`checks.parallel.hypothesis_seed`), so a soak run replays exactly from its seed.  The ``soak``
sub-command is added by :func:`checks.hunt_command.add_commands` (through :func:`add_command`).
"""

from __future__ import annotations

import dataclasses
import json
import multiprocessing as mp
import secrets
import signal
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, TextIO

from .hunt_command import _nonnegative_int, _positive_int, _usage
from .parallel import _resolve, _variant_key, derive_seed, hypothesis_seed
from .database import DatabaseWriteError, check_writable_directory
from .registry import Expected, Variant
from .runner import VariantResult, run_variant
from .verdict import Status, Verdict

__all__ = ["SoakRow", "SoakOutcome", "soak", "soak_variants", "format_soak", "add_command", "run_soak",
           "SOAK_PROFILE", "SOAK_REPORT_NAME"]

SOAK_PROFILE = "soak"
SOAK_REPORT_NAME = "soak-report.json"


def _ensure_soak_profile() -> None:
    """Register ``soak``: the ``ci`` settings without ``derandomize`` and without a database, so
    each run draws fresh cases and no run replays another's (its budget is ``ci``'s, the fallback
    of :func:`checks.profiles.budget` for an unknown profile name)."""
    from hypothesis import settings

    from .profiles import ensure_registered

    ensure_registered()
    try:
        settings.get_profile(SOAK_PROFILE)
    except Exception:  # hypothesis raises InvalidArgument for an unknown profile
        settings.register_profile(SOAK_PROFILE, parent=settings.get_profile("ci"), derandomize=False,
                                  database=None)


def _soak_run(variant, seed: int) -> Dict[str, Any]:
    """One soak run of a variant (or variant id, in a worker process): its result as a dict."""
    _ensure_soak_profile()
    v = _resolve(variant) if isinstance(variant, str) else variant
    with hypothesis_seed(seed):
        return run_variant(v, profile=SOAK_PROFILE, record=False).to_dict()  # errors become outcome "error"


@dataclass
class SoakRow:
    """Soak totals of one variant: runs, cases, confirmed violations, inconclusive verdicts, errors."""

    variant_id: str
    claim_id: str
    tier: str
    runs: int = 0
    cases: int = 0
    violations: int = 0
    inconclusive: int = 0
    inconclusive_runs: int = 0
    inconclusive_outcomes: int = 0
    errors: int = 0
    elapsed_s: float = 0.0
    counterexamples: List[Dict[str, Any]] = field(default_factory=list)
    error_messages: List[str] = field(default_factory=list)

    def add(self, r: VariantResult, seed: int) -> None:
        self.runs += 1
        self.cases += r.cases + r.explicit
        self.elapsed_s += r.elapsed_s
        n_inc = r.counts.get(Status.INCONCLUSIVE.value, 0)
        self.inconclusive += n_inc
        self.inconclusive_runs += n_inc > 0
        if r.counterexample is not None:  # a VIOLATED verdict; estimated tiers are confirmed ones
            self.violations += 1
            self.counterexamples.append({"seed": seed, "verdict": r.counterexample})
        elif r.outcome == "inconclusive":  # fewer decided verdicts than the variant's min_decided
            self.inconclusive_outcomes += 1
        elif r.outcome != "pass":  # an error, or no case inside the premises
            self.errors += 1
            self.error_messages.append(f"seed {seed}: {r.outcome}: {r.message}")

    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class SoakOutcome:
    """A soak: ``runs`` (K) runs of each variant from ``seed``; ``rows`` in the order asked."""

    rows: List[SoakRow]
    runs: int
    seed: int
    workers: int
    wall_s: float
    interrupted: bool = False

    def total(self, name: str) -> int:
        return sum(getattr(r, name) for r in self.rows)

    def to_dict(self) -> Dict[str, Any]:
        from .report import environment

        claims: Dict[str, Dict[str, int]] = {}
        for r in self.rows:
            c = claims.setdefault(r.claim_id, Counter())
            for k in ("runs", "cases", "violations", "inconclusive", "inconclusive_runs", "inconclusive_outcomes",
                      "errors"):
                c[k] += getattr(r, k)
        keys = ("runs", "cases", "violations", "inconclusive", "inconclusive_runs", "inconclusive_outcomes", "errors")
        return {"schema": "gntk-checks-soak/1", "profile": SOAK_PROFILE, "runs_per_variant": self.runs,
                "seed": self.seed, "workers": self.workers, "wall_s": self.wall_s, "interrupted": self.interrupted,
                "totals": {k: self.total(k) for k in keys}, "claims": {k: dict(v) for k, v in claims.items()},
                "variants": [r.to_dict() for r in self.rows], "environment": environment()}


def _soak_tasks(variants: Sequence[Variant], runs: int, seed: int):
    return [(v, i, derive_seed(seed, _variant_key(v.id), i)) for v in variants for i in range(runs)]


def _soak_pool(tasks, workers: int, collect: Callable) -> bool:
    """Run soak tasks in spawned processes; True if interrupted (finished runs are kept)."""
    ex = ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"), initializer=signal.signal,
                             initargs=(signal.SIGINT, signal.SIG_IGN))
    futures = {ex.submit(_soak_run, v.id, s): (v, s) for v, _, s in tasks}
    pending = set(futures)
    interrupted = False
    try:
        try:
            for f in as_completed(futures):
                pending.discard(f)
                collect(*futures[f], f.result())
        except KeyboardInterrupt:  # finish the runs in progress, drop the queued ones
            interrupted = True
            for f in pending:
                f.cancel()
            for f in as_completed([f for f in pending if not f.cancelled()]):
                if f.exception() is None:
                    collect(*futures[f], f.result())
    except KeyboardInterrupt:  # the second Ctrl-C: abandon the running runs
        for p in list(getattr(ex, "_processes", {}).values()):
            p.terminate()
    finally:
        ex.shutdown(wait=True, cancel_futures=True)
    return interrupted


def soak(variants: Sequence[Variant], runs: int, *, seed: Optional[int] = None, workers: int = 1,
         stream: TextIO = sys.stderr) -> SoakOutcome:
    """Search each variant ``runs`` times with fresh seeds under the ``soak`` profile (module doc)."""
    seed = secrets.randbits(63) if seed is None else int(seed)
    rows = {v.id: SoakRow(v.id, v.claim.id, v.tier.value) for v in variants}
    stream.write(f"soak: {len(variants)} variant(s) x {runs} run(s), {workers} worker(s), seed {seed}\n")

    def collect(v: Variant, s: int, d: Dict[str, Any]) -> None:
        row = rows[v.id]
        row.add(VariantResult.from_dict(d), s)
        if row.violations and row.counterexamples[-1]["seed"] == s:
            stream.write(f"soak: VIOLATION (seed {s}): {Verdict.from_dict(d['counterexample']).explain()}\n")
        if row.runs == runs:
            stream.write(f"soak: {_row_line(row)}\n")
        stream.flush()

    tasks = _soak_tasks(variants, runs, seed)
    t0 = time.perf_counter()
    interrupted = False
    if workers == 1:
        try:
            for v, _, s in tasks:
                collect(v, s, _soak_run(v, s))
        except KeyboardInterrupt:
            interrupted = True
    else:
        interrupted = _soak_pool(tasks, workers, collect)
    return SoakOutcome(list(rows.values()), runs, seed, workers, time.perf_counter() - t0, interrupted)


def _row_line(r: SoakRow) -> str:
    return (f"{r.variant_id}: {r.runs} run(s), {r.cases} cases, {r.violations} violation(s), "
            f"{r.inconclusive} inconclusive verdict(s) in {r.inconclusive_runs} run(s), "
            f"{r.inconclusive_outcomes} inconclusive outcome(s), {r.errors} error(s), "
            f"{r.elapsed_s:.1f}s")


def format_soak(outcome: SoakOutcome) -> str:
    """The soak table, the totals, and the false-alarm bound: with no violation in n independent
    runs, the per-run rate is below 1 - 0.05**(1/n) (~3/n, the rule of three) with 95 % confidence."""
    header = ["variant", "tier", "runs", "cases", "violations", "inconclusive", "incl. runs", "incl. outcomes",
              "errors", "time"]
    rows = [[r.variant_id, r.tier, str(r.runs), str(r.cases), str(r.violations), str(r.inconclusive),
             str(r.inconclusive_runs), str(r.inconclusive_outcomes), str(r.errors), f"{r.elapsed_s:.1f}s"]
            for r in outcome.rows]
    widths = [max(len(h), *(len(row[i]) for row in rows)) if rows else len(h) for i, h in enumerate(header)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()
             for cells in [header, ["-" * w for w in widths]] + rows]
    n, v = outcome.total("runs"), outcome.total("violations")
    lines.append(f"soak: {outcome.runs} run(s) per variant, {len(outcome.rows)} variant(s), {n} run(s), "
                 f"{outcome.total('cases')} cases, seed {outcome.seed}, {outcome.wall_s:.1f}s: {v} confirmed "
                 f"violation(s), {outcome.total('inconclusive')} inconclusive verdict(s) in "
                 f"{outcome.total('inconclusive_runs')} run(s), {outcome.total('inconclusive_outcomes')} inconclusive "
                 f"outcome(s), {outcome.total('errors')} error(s)"
                 + (" (interrupted)" if outcome.interrupted else ""))
    if n and not v:
        lines.append(f"false-alarm rate per run < {1.0 - 0.05 ** (1.0 / n):.3g} (95 %, no violation in {n} runs)")
    for r in outcome.rows:
        lines += [f"VIOLATED {r.variant_id} (seed {c['seed']}): {Verdict.from_dict(c['verdict']).explain()}"
                  for c in r.counterexamples]
        lines += [f"ERROR {r.variant_id} ({m})" for m in r.error_messages]
    return "\n".join(lines)


# -- command line -----------------------------------------------------------------------------
def soak_variants(keys: Optional[str]) -> List[Variant]:
    """Every variant declared to hold, optionally among comma-separated claim or variant ids."""
    from .__main__ import UsageError, select_variants

    ids = [k.strip() for k in keys.split(",") if k.strip()] if keys is not None else None
    if ids == []:
        raise KeyError(f"--claims: expected one or more comma-separated claim or variant ids, got {keys!r}")
    try:
        return [v for v in select_variants(ids) if v.expected is Expected.HOLDS]
    except UsageError as exc:  # unknown id: the message carries the closest known ones
        raise KeyError(str(exc)) from None


def add_command(subparsers) -> None:
    """Add the ``soak`` sub-command to an argparse sub-parsers object; its ``func`` default takes
    ``(args, out, err)`` and returns the exit status."""
    s = subparsers.add_parser("soak", help="run every variant expected to hold K times with fresh seeds")
    s.add_argument("--runs", type=_positive_int, required=True, metavar="K", help="runs per variant")
    s.add_argument("--claims", metavar="ID,...", help="claim or variant ids, comma-separated (default: all)")
    s.add_argument("--workers", type=_positive_int, default=1, metavar="N", help="worker processes (default 1)")
    s.add_argument("--seed", type=_nonnegative_int, metavar="S", help="base seed (default: random, printed)")
    s.add_argument("--report", metavar="DIR", help=f"write DIR/{SOAK_REPORT_NAME}")
    s.set_defaults(func=_cmd_soak)


def _cmd_soak(args, out: TextIO, err: TextIO) -> int:
    return run_soak(args, out=out, err=err)


def run_soak(args, out: Optional[TextIO] = None, err: Optional[TextIO] = None) -> int:
    """``gntk-check soak``: 0 if no violation and no error, 1 otherwise, 2 for a usage error, 130
    after Ctrl-C."""
    out, err = out or sys.stdout, err or sys.stderr
    try:
        variants = soak_variants(args.claims)
        if not variants:
            raise KeyError("no variant declared to hold is registered"
                           + (f" for {args.claims!r}" if args.claims else ""))
        if args.report:
            check_writable_directory(args.report, "report directory")
    except (KeyError, DatabaseWriteError) as exc:
        return _usage(err, "soak", exc)
    outcome = soak(variants, args.runs, seed=args.seed, workers=args.workers, stream=err)
    out.write(format_soak(outcome) + "\n")
    if args.report:
        path = Path(args.report) / SOAK_REPORT_NAME
        try:  # the table above holds every result: a failed write loses no computation
            path.write_text(json.dumps(outcome.to_dict(), indent=1, allow_nan=False) + "\n", encoding="utf-8")
            out.write(f"report: {path}\n")
        except OSError as exc:
            out.write(f"soak: report NOT written: cannot write {path}: {exc.strerror or exc}\n")
            return 130 if outcome.interrupted else 1
    if outcome.interrupted:
        return 130
    return 0 if outcome.total("violations") == 0 and outcome.total("errors") == 0 else 1
