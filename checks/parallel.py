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

Faults: before any search the hunt proves it can write its database directory and its report
directory (one-line error naming the path, exit 2); a database write that fails later (Hypothesis
drops such errors) is reported by :class:`checks.database.CheckedDirectoryDatabase`, and what the
hunt found stays in its printed output and its report (exit 1); a report that cannot be written at
the end is reported after the table, which already holds every result.

``gntk-check soak ...`` lives in :mod:`checks.soak`; the command line of both is :mod:`checks.hunt_command`.

Seeds: every run is seeded from ``--seed`` (random when absent; printed) through
``numpy.random.SeedSequence`` (:func:`derive_seed`), and Hypothesis takes that seed exactly as pytest's
``--hypothesis-seed`` does (:func:`hypothesis_seed`; the soak runs use both).  Hunt rounds also depend on
what the database held when they started.  Every case replays from its printed case dict anyway.
"""

from __future__ import annotations

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
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, TextIO

import numpy as np

from .database import database_setting, make_database, redact, write_errors
from .registry import Expected, Variant
from .runner import MAX_KEPT, VariantResult, _judge, run_variant
from .verdict import Status, Verdict

__all__ = ["HuntStopped", "HuntTask", "HuntOutcome", "hypothesis_seed", "derive_seed", "hunt_worker", "merge_results",
           "hunt"]

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
        _send_write_errors(db, send, task.worker)
        if r.counterexample is not None:
            settled[j] = 1
    return rounds


def _send_write_errors(db, send: Callable, worker: int) -> None:
    """Tell the parent about database writes that failed since the last round (Hypothesis drops them)."""
    errors = write_errors(db)
    if errors:
        send(("db-error", worker, {"errors": sorted(set(errors))}))
        for inner in [db, *getattr(db, "_wrapped", ())]:
            if hasattr(inner, "write_errors"):
                inner.write_errors.clear()


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
    db_errors: List[str] = field(default_factory=list)

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
        self.db_errors: List[str] = []

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
        elif kind == "db-error":
            for e in payload["errors"]:
                if e not in self.db_errors:
                    self.db_errors.append(e)
                    self.line(f"hunt: worker {worker}: {e} (what it found stays in this run's results and report)")
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
                       progress.found, interrupted, progress.crashes, progress.ready_s, progress.db_errors)


# -- command line (checks/hunt_command.py) ----------------------------------------------------
#: Names of the command-line layer, kept importable from here for existing callers.
_COMMAND_NAMES = ("HUNT_REPORT_NAME", "hunt_variants", "add_commands", "run_hunt", "main", "_cmd_hunt", "_usage",
                  "_positive_int", "_nonnegative_int", "_positive_float", "_add", "_finish_hunt")


def __getattr__(name: str):
    """Lazy re-export of :mod:`checks.hunt_command` (which imports this module, so not at the top)."""
    if name in _COMMAND_NAMES:
        from . import hunt_command

        return getattr(hunt_command, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


if __name__ == "__main__":
    from checks.hunt_command import main as _main  # the importable module, so spawned workers find its functions

    sys.exit(_main())
