"""Parallel hunts: many Hypothesis searches sharing one example database (issue 7).

``gntk-check hunt ID --workers N [--minutes T] [--db URL]``
    N worker processes (``multiprocessing``, spawn) search the chosen variants, each with its own
    seed stream, all saving to and replaying from the database of :func:`checks.database.make_database`.
    Each worker runs *rounds*: one :func:`checks.runner.run_variant` call (Hypothesis replays the
    database first, so a counterexample saved by any worker is the first case of every later round),
    sized to ``--round-seconds`` until ``--minutes`` have passed.  Without ``--minutes`` each worker runs
    one round per variant with the profile's budget.  A variant is settled (no further rounds) once
    any worker finds a counterexample.  Progress on stderr (cases per second, best slack so far,
    counterexamples found); at the end the rounds are merged into one result per variant and shown
    as the claims table (and ``--report DIR`` writes the usual JSON report and plots).  Ctrl-C or the
    time limit stop it cleanly: a counterexample is sent to the parent the moment it is seen (and is
    already in the database), and an interrupted round reports what it checked.  Exit 130 after Ctrl-C.

``gntk-check soak ...`` lives in :mod:`checks.soak`; :func:`add_commands` adds both sub-commands.

Seeds: every run is seeded from ``--seed`` (random when absent; printed) through
``numpy.random.SeedSequence`` (:func:`derive_seed`), and Hypothesis takes that seed exactly as pytest's
``--hypothesis-seed`` does (:func:`hypothesis_seed`; the soak runs use both).  Hunt rounds also depend on
what the database held when they started.  Every case replays from its printed case dict anyway.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import math
import multiprocessing as mp
import os
import queue as queue_mod
import secrets
import signal
import sys
import threading
import time
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, TextIO

import numpy as np

from .database import DatabaseUnavailableError, database_setting, make_database, redact
from .registry import Expected, Variant
from .runner import MAX_KEPT, VariantResult, _judge, run_variant
from .verdict import Status, Verdict

__all__ = ["HuntStopped", "HuntTask", "HuntOutcome", "hypothesis_seed", "derive_seed", "hunt_worker", "merge_results",
           "hunt", "hunt_variants", "add_commands", "run_hunt", "main"]

#: Seconds between progress messages of a worker (and redraws of the live line: 5 per second).
TICK_S, REDRAW_S = 0.5, 0.2
#: A round shorter than this is not worth Hypothesis's start-up (database replay, explicit examples).
MIN_ROUND_S = 1.0
#: Shrinking time of a time-limited round: at least this, at most half the round.
MIN_SHRINK_S = 5.0
#: After the time limit, workers get this long to finish their round (shrinks end within
#: MIN_SHRINK_S) before the stop flag interrupts them.
GRACE_S = 10.0


class HuntStopped(KeyboardInterrupt):
    """Raised inside a check when the hunt stops.  A KeyboardInterrupt because that is the one
    exception Hypothesis neither shrinks nor saves to the database (any other, even a plain
    BaseException, is saved as a failing case): the search just unwinds."""


# -- seeds ------------------------------------------------------------------------------------
@contextlib.contextmanager
def hypothesis_seed(seed: int) -> Iterator[None]:
    """Searches started inside use ``seed`` (what pytest's ``--hypothesis-seed`` sets); the
    database is still used, unlike ``derandomize``."""
    import hypothesis.core as core

    old, core.global_force_seed = core.global_force_seed, int(seed)
    try:
        yield
    finally:
        core.global_force_seed = old


def derive_seed(base: int, *keys: int) -> int:
    """A 64-bit seed from the run's base seed and integer keys (worker, round, variant hash)."""
    hi, lo = np.random.SeedSequence([int(base), *map(int, keys)]).generate_state(2, dtype=np.uint32)
    return (int(hi) << 32) | int(lo)


def _variant_key(variant_id: str) -> int:
    return zlib.crc32(variant_id.encode())


def _resolve(variant_id: str) -> Variant:
    from . import registry
    from .mutants import get_mutant_variant, is_mutant_id

    return get_mutant_variant(variant_id) if is_mutant_id(variant_id) else registry.get_variant(variant_id)


# -- one worker -------------------------------------------------------------------------------
class _Tracker:
    """Wraps a variant's check: counts calls, keeps the tightest and violating verdicts, sends
    progress every TICK_S and a counterexample the moment it is seen, and stops the round when the
    hunt stops or another worker has settled the variant (``settled()`` true)."""

    def __init__(self, variant: Variant, worker: int, send: Callable, stop, settled: Callable[[], bool]):
        self.variant, self.worker, self.send, self.stop, self.settled = variant, worker, send, stop, settled
        self.counts: Counter = Counter()
        self.cases = self.shrink_calls = self.pending = 0
        self.best: Optional[Verdict] = None
        self.found: Optional[Verdict] = None
        self.last_violation: Optional[Verdict] = None
        self.t0 = self.last_tick = time.perf_counter()

    def wrap(self, variant: Variant) -> Variant:
        check = variant.check

        def tracked(case):
            if self.stop.is_set() or (self.found is None and self.settled()):
                raise HuntStopped()
            v = check(case)
            if isinstance(v, Verdict):
                self._record(v)
            return v

        return dataclasses.replace(variant, check=tracked)  # same id, so the same database key

    def _record(self, v: Verdict) -> None:
        self.counts[v.status.value] += 1
        self.pending += 1
        if self.found is None:
            self.cases += 1
        else:
            self.shrink_calls += 1
        if v.status not in (Status.INCONCLUSIVE, Status.PREMISE_FAILED) and (
                self.best is None or v.normalised_slack < self.best.normalised_slack):
            self.best = v
        if v.status is Status.VIOLATED and self.variant.expected is not Expected.REPORT:
            self.last_violation = v  # the shrinker only tries smaller cases: the latest is the smallest
            if self.found is None:
                self.found = v
                self.send(("found", self.worker, {"variant_id": self.variant.id, "verdict": v.to_dict()}))
        if time.perf_counter() - self.last_tick > TICK_S:
            self.flush()

    def flush(self) -> None:
        best = self.best
        self.send(("tick", self.worker, {"variant_id": self.variant.id, "checks": self.pending,
                                         "best": None if best is None else best.to_dict()}))
        self.pending, self.last_tick = 0, time.perf_counter()

    def partial_result(self, profile: str) -> VariantResult:
        """What an interrupted round saw (its outcome is re-judged when rounds are merged)."""
        v = self.variant
        r = VariantResult(v.id, v.claim.id, v.claim.paper_ref, v.name, v.expected.value, v.tier.value,
                          profile=profile, message=f"interrupted after {self.cases} cases")
        r.cases, r.shrink_calls = self.cases, self.shrink_calls
        r.rejected = self.counts[Status.PREMISE_FAILED.value]
        r.counts.update(self.counts)
        r.tightest = None if self.best is None else self.best.to_dict()
        r.counterexample = None if self.last_violation is None else self.last_violation.to_dict()
        r.elapsed_s = time.perf_counter() - self.t0
        return r


@dataclass(frozen=True)
class HuntTask:
    """What one hunt worker does (picklable: it crosses to a spawned process).

    deadline : ``time.time()`` at which the hunt ends; ``None``: one round per variant.
    max_examples : examples of each round; ``None``: estimated from the worker's measured rate so a
        round lasts ``round_s`` (the profile's budget in the first round).
    """

    worker: int
    variant_ids: tuple
    seed: int
    profile: str = "hunt"
    db: Optional[str] = None
    deadline: Optional[float] = None
    round_s: float = 60.0
    max_examples: Optional[int] = None


def _schedule(task: HuntTask, n: int) -> Iterator[int]:
    """Variant indices in this worker's order: rotated by the worker index so workers start apart."""
    order = [(task.worker + k) % n for k in range(n)]
    while True:
        yield from order
        if task.deadline is None:
            return


def _round(variant, task, j, rnd, rates, send, stop, settled, db):
    """One run_variant call of one worker; returns its result (partial if interrupted)."""
    budget = None if task.deadline is None else min(task.round_s, task.deadline - time.time())
    n = task.max_examples
    if n is None and budget is not None:
        # Examples past the time budget are skipped but still generated (a few ms each, and they
        # never reach the check, so nothing can stop them), so a round asks for what fits its time at
        # the last measured rate, no more: a round that ends early is simply followed by another.
        # The first round of a variant measures the rate on the variant's ci budget.
        n = max(10, int(math.ceil(rates[j] * budget))) if j in rates else variant.max_examples
    shrink = None if budget is None else max(MIN_SHRINK_S, min(0.5 * budget, task.round_s))
    seed = derive_seed(task.seed, task.worker, rnd)
    tracker = _Tracker(variant, task.worker, send, stop, lambda: bool(settled[j]))
    try:
        with hypothesis_seed(seed):
            r = run_variant(tracker.wrap(variant), profile=task.profile, max_examples=n, database=db,
                            time_budget_s=budget, shrink_budget_s=shrink, record=False)
    except KeyboardInterrupt as exc:
        if not isinstance(exc, HuntStopped):  # a real Ctrl-C, in an in-process hunt
            stop.set()
        r = tracker.partial_result(task.profile)
    tracker.flush()
    if r.cases and r.elapsed_s > 0:
        rates[j] = r.cases / r.elapsed_s
    send(("round", task.worker, {"result": r.to_dict(), "seed": seed}))
    return r


def hunt_worker(task: HuntTask, send: Callable, stop, settled, variants: Optional[Sequence[Variant]] = None) -> int:
    """Run rounds until the deadline, ``stop``, or every variant is settled; return the rounds run.

    ``send(message)`` receives ``(kind, worker, payload)`` tuples: ``ready``, ``tick``, ``found``,
    ``round``.  ``settled[j]`` is set when a round of variant j found a counterexample (shared memory
    across workers).  ``variants`` (in-process use) overrides resolving ``task.variant_ids``.
    """
    from .profiles import ensure_registered

    ensure_registered()
    variants = list(variants) if variants is not None else [_resolve(v) for v in task.variant_ids]
    db = make_database(task.db)
    send(("ready", task.worker, {"pid": os.getpid(), "seed": task.seed}))
    rates: Dict[int, float] = {}
    rounds = 0
    for j in _schedule(task, len(variants)):
        if stop.is_set() or all(settled[k] for k in range(len(variants))):
            break
        if task.deadline is not None and task.deadline - time.time() < MIN_ROUND_S:
            break
        if settled[j]:
            continue
        r = _round(variants[j], task, j, rounds, rates, send, stop, settled, db)
        rounds += 1
        if r.counterexample is not None:
            settled[j] = 1
    return rounds


def _worker_process(task: HuntTask, queue, stop, settled) -> None:
    """Entry point of a spawned worker: Ctrl-C is the parent's to handle (it sets ``stop``)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        hunt_worker(task, queue.put, stop, settled)
    except BaseException as exc:  # reported, not lost: the parent shows it and merges the rest
        queue.put(("crash", task.worker, {"error": f"{type(exc).__name__}: {exc}"}))
    finally:
        queue.put(("done", task.worker, {}))


# -- merging ----------------------------------------------------------------------------------
def merge_results(variant: Variant, results: Sequence[VariantResult], note: str = "") -> VariantResult:
    """One result from several searches of one variant (rounds, workers).

    Counts add; ``elapsed_s`` is worker time (the sum); the tightest case is the one of least
    normalised slack; the counterexample is the first found; the outcome is judged again on the
    merged evidence (an error in any search makes it an error).
    """
    m = VariantResult(variant.id, variant.claim.id, variant.claim.paper_ref, variant.name,
                      variant.expected.value, variant.tier.value,
                      profile=results[0].profile if results else "")
    for r in results:
        for k in ("cases", "explicit", "rejected", "skipped", "shrink_calls", "max_examples"):
            setattr(m, k, getattr(m, k) + getattr(r, k))
        m.elapsed_s += r.elapsed_s
        for s, c in r.counts.items():
            m.counts[s] = m.counts.get(s, 0) + c
        if r.tightest is not None and (m.tightest is None or float(r.tightest["normalised_slack"])
                                       < float(m.tightest["normalised_slack"])):
            m.tightest = r.tightest
        if m.counterexample is None and r.counterexample is not None:
            m.counterexample = r.counterexample
        m.kept.extend(r.kept[: MAX_KEPT - len(m.kept)])
    errors = [r for r in results if r.outcome == "error"]
    if errors:
        m.outcome, m.message = "error", errors[0].message
    else:
        _judge(variant, m, None if m.counterexample is None else Verdict.from_dict(m.counterexample))
    if note:
        m.message = f"{m.message} ({note})"
    return m


# -- the hunt ---------------------------------------------------------------------------------
@dataclass
class HuntOutcome:
    """A finished hunt: merged results (one per variant, in the order asked) and its totals."""

    results: List[VariantResult]
    seed: int
    workers: int
    wall_s: float
    checks: int
    rounds: int
    found: List[Dict[str, Any]] = field(default_factory=list)
    interrupted: bool = False
    crashes: List[str] = field(default_factory=list)
    ready_s: float = 0.0

    @property
    def rate(self) -> float:
        """Check calls (generated, replayed, explicit and shrinking cases) per wall-clock second."""
        return self.checks / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def running_rate(self) -> float:
        """The same after every worker was ready (process start-up and imports excluded)."""
        span = self.wall_s - self.ready_s
        return self.checks / span if span > 0 else 0.0


class _HuntProgress:
    """Collects worker messages; a live status line on a terminal, one line per event otherwise."""

    def __init__(self, stream: TextIO, workers: int, limit_s: Optional[float]):
        self.stream, self.workers, self.limit_s = stream, workers, limit_s
        self.live = bool(getattr(stream, "isatty", lambda: False)())
        self.t0 = self.last = time.perf_counter()
        self.checks, self.ready, self.ready_s = 0, 0, 0.0
        self.best: Optional[Dict[str, Any]] = None
        self.found: List[Dict[str, Any]] = []
        self.rounds: Dict[str, List[VariantResult]] = {}
        self.crashes: List[str] = []

    def line(self, text: str) -> None:
        self.stream.write(("\r\x1b[K" if self.live else "") + text + "\n")
        self.stream.flush()

    def handle(self, msg) -> None:
        kind, worker, payload = msg
        if kind == "ready":
            self.ready += 1
            self.ready_s = time.perf_counter() - self.t0
            self.line(f"hunt: worker {worker} ready (pid {payload['pid']})")
        elif kind == "tick":
            self.checks += payload["checks"]
            b = payload["best"]
            if b is not None and (self.best is None or b["normalised_slack"] < self.best["normalised_slack"]):
                self.best = b
        elif kind == "found":
            self.found.append(payload)
            explained = Verdict.from_dict(payload["verdict"]).explain()
            self.line(f"hunt: worker {worker} found a counterexample: {explained}")
        elif kind == "round":
            r = VariantResult.from_dict(payload["result"])
            self.rounds.setdefault(r.variant_id, []).append(r)
            if not self.live:
                from .report import summary_line

                self.line(f"hunt: worker {worker} round: {summary_line(r)}")
        elif kind == "crash":
            self.crashes.append(f"worker {worker}: {payload['error']}")
            self.line(f"hunt: worker {worker} stopped with an error: {payload['error']}")
        self.draw()

    def draw(self, force: bool = False) -> None:
        now = time.perf_counter()
        if not self.live or (not force and now - self.last < REDRAW_S):
            return
        self.last, el = now, now - self.t0
        limit = f"/{self.limit_s:.0f}s" if self.limit_s else "s"
        best = "-" if self.best is None else (f"{self.best['claim']} slack {self.best['slack']:.4g} "
                                              f"ratio {_fmt(self.best['slack_ratio'])}")
        self.stream.write(f"\r\x1b[Khunt {el:.0f}{limit} | {self.ready}/{self.workers} workers | "
                          f"{self.checks} cases ({self.checks / max(el, 1e-9):.1f}/s) | best: {best} | "
                          f"{len(self.found)} counterexample(s)")
        self.stream.flush()


def _fmt(x) -> str:
    return x if isinstance(x, str) else f"{x:.4g}"


def _pump(queue, procs, progress: _HuntProgress, deadline, stop, done: set) -> None:
    """Handle worker messages until every worker is done; raise the stop flag after the deadline."""
    while len(done) < len(procs):
        if deadline is not None and time.time() > deadline + GRACE_S:
            stop.set()
        try:
            msg = queue.get(timeout=REDRAW_S)
        except queue_mod.Empty:
            for i, p in enumerate(procs):  # a worker killed from outside never says "done"
                if i not in done and not p.is_alive():
                    done.add(i)
                    progress.crashes.append(f"worker {i}: exited with status {p.exitcode}")
            progress.draw()
            continue
        progress.handle(msg)
        if msg[0] == "done":
            done.add(msg[1])


def _hunt_processes(tasks: List[HuntTask], n_variants: int, progress: _HuntProgress, deadline) -> bool:
    """Run the tasks in spawned processes; return True if interrupted by Ctrl-C."""
    ctx = mp.get_context("spawn")  # fresh interpreters: no inherited locks, threads or RNG state
    queue, stop = ctx.Queue(), ctx.Event()
    settled = ctx.Array("b", n_variants, lock=False)
    procs = [ctx.Process(target=_worker_process, args=(t, queue, stop, settled), daemon=True) for t in tasks]
    done: set = set()
    interrupted = False
    try:
        for p in procs:
            p.start()
        try:
            _pump(queue, procs, progress, deadline, stop, done)
        except KeyboardInterrupt:
            interrupted = True
            stop.set()
            progress.line("hunt: stopping (Ctrl-C again to abandon the running rounds)")
            _pump(queue, procs, progress, None, stop, done)
    except KeyboardInterrupt:  # the second Ctrl-C: what was already sent is kept
        interrupted = True
    finally:
        for p in procs:
            p.join(timeout=5.0)
            if p.is_alive():
                p.terminate()
                p.join()
    return interrupted


def hunt(variants: Sequence[Variant], *, workers: int = 1, minutes: Optional[float] = None,
         db: Optional[str] = None, profile: str = "hunt", seed: Optional[int] = None, round_s: float = 60.0,
         max_examples: Optional[int] = None, stream: TextIO = sys.stderr) -> HuntOutcome:
    """Hunt ``variants`` with ``workers`` processes sharing the database ``db`` (module docstring).

    ``workers == 1`` runs in this process (so it also takes variants outside the registry); more
    workers resolve the variants by id in spawned processes.
    """
    seed = secrets.randbits(63) if seed is None else int(seed)
    deadline = None if minutes is None else time.time() + 60.0 * minutes
    tasks = [HuntTask(w, tuple(v.id for v in variants), seed, profile, db, deadline, round_s, max_examples)
             for w in range(workers)]
    progress = _HuntProgress(stream, workers, None if minutes is None else 60.0 * minutes)
    where = database_setting(db)
    progress.line(f"hunt: {len(variants)} variant(s), {workers} worker(s), seed {seed}, database "
                  f"{redact(where) if where else 'local directory'}, "
                  + ("one round per variant" if minutes is None else f"{minutes:g} min"))
    t0 = time.perf_counter()
    if workers == 1:
        stop = threading.Event()
        try:
            hunt_worker(tasks[0], progress.handle, stop, [0] * len(variants), variants=variants)
        except KeyboardInterrupt:  # between rounds; a round itself keeps its partial result
            stop.set()
        interrupted = stop.is_set()
    else:
        interrupted = _hunt_processes(tasks, len(variants), progress, deadline)
    wall = time.perf_counter() - t0
    progress.draw(force=True)
    merged = []
    for v in variants:
        rs = progress.rounds.get(v.id, [])
        m = merge_results(v, rs, note=f"{len(rs)} round(s), {workers} worker(s)")
        lost = [f["verdict"] for f in progress.found if f["variant_id"] == v.id]
        if m.counterexample is None and lost and v.expected is not Expected.REPORT:
            _judge(v, m, Verdict.from_dict(lost[0]))  # its round never reported back: keep the find
        merged.append(m)
    if progress.live:
        progress.stream.write("\r\x1b[K")
    return HuntOutcome(merged, seed, workers, wall, progress.checks, sum(map(len, progress.rounds.values())),
                       progress.found, interrupted, progress.crashes, progress.ready_s)


# -- command line -----------------------------------------------------------------------------
HUNT_REPORT_NAME = "claims-report.json"


def hunt_variants(key: str) -> List[Variant]:
    """A variant id, a mutant id, a claim id (its variants but audits) or ``all`` (every stated and
    probe variant).  Raises KeyError for an unknown id."""
    from . import registry
    from .mutants import is_mutant_id

    if key == "all":
        return [v for v in registry.variants() if v.name in ("stated", "probe")]
    if "/" in key or is_mutant_id(key):
        return [_resolve(key)]
    return [v for v in registry.variants([key]) if v.expected is not Expected.REPORT]


def _positive_int(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return n


def _positive_float(text: str) -> float:
    try:
        x = float(text)
    except ValueError:
        x = math.nan
    if not (x > 0 and math.isfinite(x)):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return x


def _add(parser: argparse.ArgumentParser, option: str, **kwargs) -> None:
    """Add ``option`` unless the parser has it (the hunt sub-parser may come with some already)."""
    existing = parser._option_string_actions.get(option)  # noqa: SLF001 (argparse has no public lookup)
    if existing is None:
        parser.add_argument(option, **kwargs)
    elif option == "--examples":
        existing.required = False  # a time-limited hunt needs no example count


def add_commands(subparsers) -> None:
    """Add (or extend) the ``hunt`` sub-command and add ``soak`` to an argparse sub-parsers object.

    Their ``func`` defaults take ``(args, out, err)`` and return the exit status.
    """
    from .profiles import PROFILES
    from .soak import add_command as add_soak_command  # here, not at the top: checks.soak imports this module

    id_help = ("variant id (lemma-5.5/probe), claim id (its variants but audits), a mutant id, or 'all' "
               "(every stated and probe variant)")
    h = subparsers.choices.get("hunt")
    if h is None:
        h = subparsers.add_parser("hunt", help="a long search of one claim variant, in parallel workers")
        h.add_argument("id", help=id_help)
    else:
        for action in h._actions:  # noqa: SLF001
            if action.dest == "id":
                action.help = id_help
    _add(h, "--examples", type=_positive_int, metavar="N", help="examples per round (default: the profile's)")
    _add(h, "--profile", choices=sorted(PROFILES), default="hunt", help="search profile (default: hunt)")
    _add(h, "--report", metavar="DIR", help=f"write DIR/{HUNT_REPORT_NAME} and plots")
    _add(h, "--workers", type=_positive_int, default=1, metavar="N", help="worker processes (default 1)")
    _add(h, "--minutes", type=_positive_float, metavar="T",
         help="wall-clock limit; workers repeat rounds until then (default: one round per variant)")
    _add(h, "--db", metavar="URL", help="example database: redis://host:port/n or a directory "
                                        "(default: $GNTK_DB, else the local .hypothesis directory)")
    _add(h, "--seed", type=int, metavar="S", help="base seed of the workers' seed streams (default: random)")
    _add(h, "--round-seconds", type=_positive_float, default=60.0, metavar="S",
         help="length of one round with --minutes (default 60): longer rounds let targeting climb further, "
              "shorter ones replay the other workers' finds sooner")
    h.set_defaults(func=_cmd_hunt)
    add_soak_command(subparsers)


def _cmd_hunt(args, out: TextIO, err: TextIO) -> int:
    return run_hunt(args, out=out, err=err)


def _usage(err: TextIO, command: str, exc: BaseException) -> int:
    msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
    err.write(f"gntk-check {command}: error: {msg}\n")
    return 2


def run_hunt(args, out: Optional[TextIO] = None, err: Optional[TextIO] = None) -> int:
    """``gntk-check hunt``: 0 if every variant met its declared outcome, 1 if not, 2 for a usage
    error (unknown id, unreachable database, derandomised profile), 130 after Ctrl-C."""
    from hypothesis import settings

    from .profiles import ensure_registered

    out, err = out or sys.stdout, err or sys.stderr
    ensure_registered()
    try:
        variants = hunt_variants(args.id)
        if not variants:
            raise KeyError(f"{args.id!r} names no variant to hunt")
        setting = database_setting(getattr(args, "db", None))
        make_database(setting)  # reach a Redis server now rather than in every worker
        if settings.get_profile(args.profile).derandomize:
            raise ValueError(f"profile {args.profile!r} is derandomised: every worker would search the same "
                             "cases; use dev or hunt")
    except (KeyError, ValueError, TypeError, DatabaseUnavailableError) as exc:
        return _usage(err, "hunt", exc)
    outcome = hunt(variants, workers=args.workers, minutes=args.minutes, db=setting, profile=args.profile,
                   seed=args.seed, round_s=args.round_seconds, max_examples=args.examples, stream=err)
    return _finish_hunt(outcome, args.report, out)


def _finish_hunt(outcome: HuntOutcome, report_dir: Optional[str], out: TextIO) -> int:
    from .report import build_report, format_table, write_json, write_plots

    out.write(format_table(outcome.results) + "\n")
    for r in outcome.results:
        for kind in ("counterexample", "tightest"):
            if getattr(r, kind):
                out.write(f"{r.variant_id} {kind}: {Verdict.from_dict(getattr(r, kind)).explain()}\n")
    found = sum(r.counterexample is not None for r in outcome.results)
    out.write(f"hunt: {outcome.workers} worker(s), {outcome.wall_s:.1f}s, {outcome.rounds} round(s), "
              f"{outcome.checks} cases checked ({outcome.rate:.1f}/s; {outcome.running_rate:.1f}/s after "
              f"{outcome.ready_s:.1f}s of start-up), {found} variant(s) with a counterexample, "
              f"seed {outcome.seed}" + (", interrupted" if outcome.interrupted else "") + "\n")
    for c in outcome.crashes:
        out.write(f"hunt: {c}\n")
    if report_dir:
        path = write_json(build_report(outcome.results), Path(report_dir) / HUNT_REPORT_NAME)
        plots = write_plots(outcome.results, report_dir)
        out.write(f"report: {path}\n" + (f"{plots.skipped}\n" if plots.skipped else ""))
    if outcome.interrupted:
        return 130
    return 0 if not outcome.crashes and all(r.outcome == "pass" for r in outcome.results) else 1


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``python -m checks.parallel hunt|soak ...`` (the same commands as ``gntk-check``)."""
    parser = argparse.ArgumentParser(prog="python -m checks.parallel")
    add_commands(parser.add_subparsers(dest="command", required=True))
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    return args.func(args, sys.stdout, sys.stderr)


if __name__ == "__main__":
    from checks.parallel import main as _main  # the importable module, so spawned workers find its functions

    sys.exit(_main())
