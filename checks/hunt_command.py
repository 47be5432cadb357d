"""The ``hunt`` command line (and the argparse helpers ``soak`` shares): options, checks before the
search, the table and report after it.  The search itself is :func:`checks.parallel.hunt`.

Before any search, ``hunt`` resolves the id (pytest forms and "did you mean" through
:func:`checks.__main__.canonical_id`), reaches a Redis server, proves it can write its database
directory and its report directory (one-line error naming the path, exit 2), and refuses a
derandomised profile.  After it, the table and every counterexample are printed before any file is
written, so a failed write loses no result.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import List, Optional, Sequence, TextIO

from .database import (DatabaseUnavailableError, DatabaseWriteError, check_writable_directory, database_setting,
                       local_directory, make_database)
from .parallel import HuntOutcome, _resolve, hunt
from .registry import Expected, Variant
from .verdict import Verdict

__all__ = ["HUNT_REPORT_NAME", "hunt_variants", "add_commands", "run_hunt", "main"]

HUNT_REPORT_NAME = "claims-report.json"


def hunt_variants(key: str) -> List[Variant]:
    """A variant id, a mutant id, a claim id (its variants but audits) or ``all`` (every stated and
    probe variant).  Raises KeyError for an unknown id."""
    from . import registry
    from .__main__ import UsageError, canonical_id
    from .mutants import is_mutant_id

    if key == "all":
        return [v for v in registry.variants() if v.name in ("stated", "probe")]
    try:
        key = canonical_id(key)  # pytest forms (lemma_5_5-probe) and "did you mean" for typos
    except UsageError as exc:
        raise KeyError(str(exc)) from None
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


def _nonnegative_int(text: str) -> int:
    """argparse type of a seed: numpy's SeedSequence takes non-negative integers only."""
    try:
        n = int(text)
    except ValueError:
        n = -1
    if n < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}")
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
    _add(h, "--seed", type=_nonnegative_int, metavar="S", help="base seed of the workers' seed streams (default: random)")
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
    """``gntk-check hunt``: 0 if every variant met its declared outcome or was inconclusive (a hunt
    looks for counterexamples; ``verify`` is the command that insists on decided cases), 1 if not or
    if a database or report write failed, 2 for a usage error (unknown id, unreachable or unwritable
    database, unwritable report directory, derandomised profile), 130 after Ctrl-C."""
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
        local = local_directory(setting)
        if local is not None:  # a hunt that cannot save what it finds must not start
            check_writable_directory(local, "example database directory")
        if args.report:
            check_writable_directory(args.report, "report directory")
        if settings.get_profile(args.profile).derandomize:
            raise ValueError(f"profile {args.profile!r} is derandomised: every worker would search the same "
                             "cases; use dev or hunt")
    except (KeyError, ValueError, TypeError, DatabaseUnavailableError, DatabaseWriteError) as exc:
        return _usage(err, "hunt", exc)
    from theory.dynamics import set_machine_owner

    # one worker runs in this process and owns the machine; spawned workers of a wider hunt do not
    # (theory.dynamics.machine_owner is False in a multiprocessing child)
    set_machine_owner(args.workers == 1)
    try:
        outcome = hunt(variants, workers=args.workers, minutes=args.minutes, db=setting, profile=args.profile,
                       seed=args.seed, round_s=args.round_seconds, max_examples=args.examples, stream=err)
    finally:
        set_machine_owner(None)
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
    for e in outcome.db_errors:
        out.write(f"hunt: database write failed: {e}; the counterexamples above are kept in this output"
                  + (" and the report\n" if report_dir else "\n"))
    report_failed = False
    if report_dir:
        try:  # everything is printed above: a failed write loses no result
            path = write_json(build_report(outcome.results), Path(report_dir) / HUNT_REPORT_NAME)
            plots = write_plots(outcome.results, report_dir)
            out.write(f"report: {path}\n" + (f"{plots.skipped}\n" if plots.skipped else ""))
        except OSError as exc:
            report_failed = True
            out.write(f"hunt: report NOT written: cannot write {exc.filename or report_dir}: {exc.strerror or exc}; "
                      "the results are printed above\n")
    if outcome.interrupted:
        return 130
    ok = all(r.outcome in ("pass", "inconclusive") for r in outcome.results)
    return 0 if ok and not (outcome.crashes or outcome.db_errors or report_failed) else 1


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``python -m checks.parallel hunt|soak ...`` (the same commands as ``gntk-check``)."""
    parser = argparse.ArgumentParser(prog="python -m checks.parallel")
    add_commands(parser.add_subparsers(dest="command", required=True))
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    return args.func(args, sys.stdout, sys.stderr)
