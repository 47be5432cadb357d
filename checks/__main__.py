"""The command line: ``gntk-check`` / ``python -m checks`` (DESIGN 1, 5).

Commands::

    gntk-check verify [--profile P] [--claims ID,...] [--report DIR] [--mutants]
        run every registered claim variant (or the named claims/variants) and print the table;
        the ``ci`` budget by default, so a first run finishes in minutes.
    gntk-check hunt ID --examples N [--profile hunt] [--report DIR]
        one long search of one variant.
    gntk-check replay FILE [--variant ID]
        re-check the tightest case and the counterexample of each variant in a JSON report.

Exit status: 0 when every variant met its declared outcome (replay: every recorded VIOLATED case
still violates), 1 otherwise, 2 for usage errors (unknown option, claim or file).

Each command is a ``cmd_*`` function of the parsed arguments; the search itself goes through
:func:`run_variants` with a :class:`RunOptions`, so options such as workers, a wall-clock budget or a
shared database slot in by extending the options and one sub-parser.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, TextIO

from .profiles import PROFILES

__all__ = ["main", "build_parser", "RunOptions", "Progress", "run_variants", "UsageError"]

REPORT_NAME = "claims-report.json"


class UsageError(Exception):
    """A command-line mistake the parser cannot see (unknown claim id, unreadable report): exit 2."""


@dataclass(frozen=True)
class RunOptions:
    """How to search each variant (``None``: the profile's budget for that variant)."""

    profile: str = "ci"
    max_examples: Optional[int] = None
    time_budget_s: Optional[float] = None


class Progress:
    """Progress on stderr: a live status line on a terminal, one plain line per variant otherwise."""

    def __init__(self, stream: TextIO, total: int):
        self.stream, self.total = stream, total
        self.live = bool(getattr(stream, "isatty", lambda: False)())
        self.index, self.cases, self.t0, self.last = 0, 0, 0.0, 0.0
        self.current = ""

    def start(self, index: int, variant_id: str) -> None:
        self.index, self.current, self.cases = index, variant_id, 0
        self.t0 = self.last = time.perf_counter()
        self._draw()

    def tick(self) -> None:
        self.cases += 1
        now = time.perf_counter()
        if self.live and now - self.last > 0.2:  # redraw at most 5 times a second
            self.last = now
            self._draw()

    def _draw(self) -> None:
        if self.live:
            self.stream.write(f"\r\x1b[K[{self.index}/{self.total}] {self.current}: {self.cases} cases, "
                              f"{time.perf_counter() - self.t0:.1f}s")
            self.stream.flush()

    def done(self, result) -> None:
        from .report import summary_line

        prefix = "\r\x1b[K" if self.live else ""
        self.stream.write(f"{prefix}[{self.index}/{self.total}] {summary_line(result)}\n")
        self.stream.flush()


def _counting(variant, progress: Progress):
    """The variant with a check that ticks the progress line (ids and database keys unchanged)."""
    check = variant.check

    def counted(case):
        progress.tick()
        return check(case)

    return dataclasses.replace(variant, check=counted)


def run_variants(variants: Sequence[Any], options: RunOptions, stream: TextIO = sys.stderr) -> List[Any]:
    """Search each variant with :func:`checks.runner.run_variant`, showing progress on ``stream``."""
    from .runner import run_variant

    progress = Progress(stream, len(variants))
    results = []
    for i, v in enumerate(variants, 1):
        progress.start(i, v.id)
        r = run_variant(_counting(v, progress) if progress.live else v, profile=options.profile,
                        max_examples=options.max_examples, time_budget_s=options.time_budget_s, record=False)
        progress.done(r)
        results.append(r)
    return results


def _load_profiles(profile: str) -> None:
    """Make the profiles known to Hypothesis; ``profile`` is passed to each run explicitly, so the
    globally loaded profile (and with it the caller's state, when main() is called in-process) is left alone."""
    from .profiles import ensure_registered

    ensure_registered()


def _finish(results: List[Any], report_dir: Optional[str], out: TextIO) -> int:
    """Print the table, write the report and plots if asked; 0 iff every variant passed."""
    from .report import build_report, format_table, write_json, write_plots

    out.write(format_table(results) + "\n")
    if report_dir:
        directory = Path(report_dir)
        path = write_json(build_report(results), directory / REPORT_NAME)
        plots = write_plots(results, directory)
        out.write(f"report: {path}\n" + (f"{plots.skipped}\n" if plots.skipped
                                          else f"plots: {len(plots.paths)} in {directory}\n"))
    return 0 if all(r.outcome == "pass" for r in results) else 1


def _select(ids: Optional[str], with_mutants: bool) -> List[Any]:
    from . import registry

    keys = [k.strip() for k in ids.split(",") if k.strip()] if ids else None
    try:
        chosen = registry.variants(keys)
    except KeyError as exc:
        raise UsageError(exc.args[0]) from None
    if with_mutants:
        from .mutants import discover

        claim_ids = {v.claim.id for v in chosen}
        chosen += [m.make_variant() for m in discover() if m.claim_id in claim_ids]
    return chosen


def cmd_verify(args, out: TextIO, err: TextIO) -> int:
    _load_profiles(args.profile)
    chosen = _select(args.claims, args.mutants)
    if not chosen:
        raise UsageError("no claim variants are registered" + (f" for {args.claims!r}" if args.claims else ""))
    results = run_variants(chosen, RunOptions(profile=args.profile), err)
    return _finish(results, args.report, out)


def _resolve(variant_id: str):
    from . import registry
    from .mutants import get_mutant_variant, is_mutant_id

    return get_mutant_variant(variant_id) if is_mutant_id(variant_id) else registry.get_variant(variant_id)


def _replay_one(entry: Dict[str, Any], out: TextIO) -> int:
    """Re-check the counterexample and tightest case of one result; the number that regressed."""
    from .runner import check_case
    from .verdict import Verdict

    variant = _resolve(entry["variant_id"])
    lost, seen = 0, []
    for kind in ("counterexample", "tightest"):
        rec = entry.get(kind)
        if rec is None or rec["case"] in seen:
            continue
        seen.append(rec["case"])
        now = check_case(variant, dict(rec["case"]))
        out.write(f"{entry['variant_id']} {kind}\n  recorded: {Verdict.from_dict(rec).explain()}\n"
                  f"  replayed: {now.explain()}\n")
        if rec["status"] == "VIOLATED" and now.status.value != "VIOLATED":
            lost += 1
            out.write("  NOT REPRODUCED: the recorded violation no longer occurs\n")
        elif rec["status"] != now.status.value:
            out.write(f"  status changed: {rec['status']} -> {now.status.value}\n")
    return lost


def cmd_replay(args, out: TextIO, err: TextIO) -> int:
    from .report import ReportSchemaError, load_report

    try:
        report = load_report(args.file)
    except (OSError, ValueError, ReportSchemaError) as exc:  # JSONDecodeError is a ValueError
        raise UsageError(f"cannot read report {args.file}: {exc}") from None
    entries = [e for e in report["results"] if args.variant in (None, e["variant_id"])]
    if args.variant and not entries:
        raise UsageError(f"variant {args.variant!r} is not in {args.file}")
    lost, unknown = 0, 0
    for entry in entries:
        try:
            lost += _replay_one(entry, out)
        except KeyError as exc:
            unknown += 1
            out.write(f"{entry['variant_id']}: cannot replay, {exc.args[0]}\n")
    out.write(f"replayed {len(entries)} variant(s): {lost} recorded violation(s) not reproduced, "
              f"{unknown} unknown variant(s)\n")
    return 0 if lost == 0 and unknown == 0 else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gntk-check", description="Check the claims of the GNTK paper.")
    sub = parser.add_subparsers(dest="command", required=True)
    profiles = sorted(PROFILES)
    v = sub.add_parser("verify", help="run every registered claim variant and print the table")
    v.add_argument("--profile", choices=profiles, default="ci", help="search budget (default: ci)")
    v.add_argument("--claims", metavar="ID,...", help="claim or variant ids, comma-separated (default: all)")
    v.add_argument("--report", metavar="DIR", help=f"write DIR/{REPORT_NAME} and plots")
    v.add_argument("--mutants", action="store_true", help="also run the mutants of the chosen claims")
    v.set_defaults(func=cmd_verify)
    r = sub.add_parser("replay", help="re-check the recorded cases of a JSON report")
    r.add_argument("file", help=f"a {REPORT_NAME} written by verify, hunt or pytest --claims-report")
    r.add_argument("--variant", metavar="ID", help="replay only this variant")
    r.set_defaults(func=cmd_replay)
    # hunt (one long search, optionally over parallel workers sharing a database) and soak.
    from .parallel import add_commands

    add_commands(sub)
    return parser


def main(argv: Optional[Sequence[str]] = None, *, out: TextIO = None, err: TextIO = None) -> int:
    """Run the CLI; return the exit status (0 pass, 1 fail, 2 usage error)."""
    out, err = out or sys.stdout, err or sys.stderr
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # argparse reports usage errors (2) and --help (0) by exiting
        return int(exc.code or 0)
    try:
        return args.func(args, out, err)
    except UsageError as exc:
        err.write(f"gntk-check {args.command}: error: {exc}\n")
        return 2


if __name__ == "__main__":
    sys.exit(main())
