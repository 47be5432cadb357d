"""The command line: ``gntk-check`` / ``python -m checks``.

Commands::

    gntk-check list [--claims ID,...] [--mutants]
        every registered claim variant: id, pytest id, declared outcome, tier, description.
    gntk-check describe ID
        a claim or variant: statement, premises, declared outcome and its reason, erratum.
    gntk-check verify [--profile P] [--claims ID,...] [--report DIR] [--format text|md] [--mutants]
                      [--allow-inconclusive]
        run every registered claim variant (or the named claims/variants) and print the table;
        the ``ci`` budget by default (or ``$GNTK_PROFILE``), so a first run finishes in minutes.
    gntk-check hunt ID --examples N [--profile hunt] [--report DIR] [--db DIR|URL] [--workers N]
        one long search (checks/parallel.py).
    gntk-check soak --runs K ...          false-alarm rate (checks/soak.py).
    gntk-check replay FILE [--variant ID]
        re-check the tightest case and the counterexample of each variant in a JSON report.
    gntk-check replay-case ID JSON | --file CASE.json
        re-check one case (each table row prints this command for its tightest case).
    gntk-check prove [ID ...]             rigorous ball-arithmetic proofs (checks/proved.py, python-flint).
    gntk-check sensitivity [--profile ci|hunt] [--claims ID,...]
        the smallest relative tightening of each bound the search detects (checks/mutants.py).

Ids: a variant id (``lemma-5.5/probe``), a claim id (``lemma-5.5``), or their pytest forms
(``lemma_5_5-probe``, ``lemma_5_5``); an unknown id is answered with the closest known ones.

Exit status: 0 when every variant met its declared outcome (replay: every recorded VIOLATED case
still violates and every case could be replayed), 1 otherwise (``verify``: also when a variant was
inconclusive, unless ``--allow-inconclusive``), 2 for usage errors (unknown option, claim or file,
invalid ``GNTK_PROFILE``, unwritable report directory).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import difflib
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, TextIO

from .profiles import PROFILES

__all__ = ["main", "build_parser", "RunOptions", "Progress", "run_variants", "UsageError", "select_variants",
           "canonical_id", "claims_list", "replay_command"]

REPORT_NAME = "claims-report.json"
MARKDOWN_NAME = "claims-report.md"
PROFILE_VAR = "GNTK_PROFILE"


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


# -- ids --------------------------------------------------------------------------------------
def _known_ids() -> Dict[str, str]:
    """Every accepted spelling -> canonical id: variant and claim ids and their pytest forms."""
    from . import registry
    from .mutants import discover

    out: Dict[str, str] = {}
    ids = list(registry.load_all())
    try:
        ids += [m.id for m in discover()]
    except Exception:  # a broken claim module shows up when its variants run, not in the id lookup
        pass
    for vid in ids:
        cid = vid.partition("/")[0]
        for key, canon in ((vid, vid), (cid, cid)):
            out[key] = canon
            out[registry.pytest_id(key)] = canon
    return out


def replay_command(variant_id: str, case: Any) -> str:
    """The one-line shell command that re-checks ``case`` of ``variant_id`` (see checks.report)."""
    from .report import replay_command as command

    return command(variant_id, case)


def canonical_id(key: str) -> str:
    """``key`` as a claim or variant id (pytest forms accepted); UsageError with suggestions if unknown."""
    known = _known_ids()
    if key in known:
        return known[key]
    close = difflib.get_close_matches(key, list(known), n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(repr(c) for c in dict.fromkeys(known[c] for c in close))}?" if close else \
        "; `gntk-check list` shows the known ids"
    raise UsageError(f"unknown claim or variant id {key!r}{hint}")


def _id_list(text: str) -> List[str]:
    """argparse type of ``--claims``: a non-empty comma-separated list."""
    keys = [k.strip() for k in text.split(",") if k.strip()]
    if not keys:
        raise argparse.ArgumentTypeError(f"expected one or more comma-separated claim or variant ids, got {text!r}")
    return keys


def select_variants(keys: Optional[Sequence[str]], with_mutants: bool = False) -> List[Any]:
    """Registered variants (all, or of the given claim/variant ids in any accepted spelling)."""
    from . import registry
    from .mutants import discover, get_mutant_variant, is_mutant_id

    canon = [canonical_id(k) for k in keys] if keys else None
    plain = [k for k in canon or () if not is_mutant_id(k)]
    chosen = registry.variants(plain) if (plain or canon is None) else []
    chosen += [get_mutant_variant(k) for k in canon or () if is_mutant_id(k)]
    if with_mutants:
        claim_ids = {v.claim.id for v in chosen}
        have = {v.id for v in chosen}
        chosen += [m.make_variant() for m in discover() if m.claim_id in claim_ids and m.id not in have]
    return chosen


# -- list / describe --------------------------------------------------------------------------
def _erratum(variant) -> Optional[str]:
    from .report import erratum_id

    # A probe's description names the erratum it demonstrates ("M > 1/2 against the printed bound (E10)").
    probe = variant.expected.value in ("counterexample", "known-finding")
    return (getattr(variant, "erratum", None) or erratum_id(getattr(variant, "finding", None))
            or (erratum_id(getattr(variant, "description", "")) if probe else None))


def claims_list(variants: Sequence[Any]) -> str:
    """One line per variant: id, pytest id, declared outcome, tier, description."""
    from .report import _grid

    rows = [[v.id, v.pytest_id, v.expected.value, v.tier.value, _erratum(v) or "-", _one_line(v.description, 70)]
            for v in variants]
    return "\n".join(_grid(["variant", "pytest id", "expected", "tier", "erratum", "description"], rows))


def _one_line(text: str, width: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 3] + "..."


#: What each declared outcome asks of a run (when a variant gives no reason of its own).
_OUTCOME_MEANS = {"holds": "no violation may be found, and enough cases must be decided",
                  "counterexample": "a probe: the search must find a violation",
                  "known-finding": "the paper's statement is wrong here: the search must reproduce the violation",
                  "report": "an audit: computed and reported, never judged against the paper"}


def _describe(key: str) -> str:
    from . import registry

    canon = canonical_id(key)
    variants = [v for v in select_variants([canon]) if v.id == canon or v.claim.id == canon]
    claim = variants[0].claim
    lines = [f"{claim.id} ({claim.paper_ref})", f"  statement: {claim.statement}"]
    lines += ["  premises:"] + [f"    - {p}" for p in claim.premises] if claim.premises else ["  premises: (none listed)"]
    lines.append(f"  documentation: docs/claims.md#{claim.id.replace('.', '')}")
    for v in variants:
        reason = getattr(v, "expected_reason", None) or v.finding or _OUTCOME_MEANS[v.expected.value]
        need = getattr(v, "min_decided", 0) if v.expected.value == "holds" else 0
        lines += [f"  {v.id}  [pytest id {registry.pytest_id(v.id)}]",
                  f"    declared outcome: {v.expected.value} - {reason}",
                  f"    tier: {v.tier.value}; ci examples: {v.max_examples}"
                  + (f"; at least {need} decided case(s): {getattr(v, 'min_decided_reason', '')}" if need else ""),
                  f"    erratum: {_erratum(v) or 'none'}",
                  f"    {v.description}"]
    return "\n".join(lines)


def cmd_list(args, out: TextIO, err: TextIO) -> int:
    out.write(claims_list(select_variants(args.claims, args.mutants)) + "\n")
    return 0


def cmd_describe(args, out: TextIO, err: TextIO) -> int:
    out.write(_describe(args.id) + "\n")
    return 0


# -- verify -----------------------------------------------------------------------------------
def _writable_report_dir(report_dir: Optional[str]) -> None:
    """Fail before any search if the report directory cannot be written (exit 2, path named)."""
    if report_dir:
        from .database import DatabaseWriteError, check_writable_directory

        try:
            check_writable_directory(report_dir, "report directory")
        except DatabaseWriteError as exc:
            raise UsageError(str(exc)) from None


def _finish(results: List[Any], args, out: TextIO) -> int:
    """Print the table, write the report and plots if asked; the exit status of the run."""
    from .report import build_report, format_markdown, format_table, write_json, write_plots

    fmt, report_dir = getattr(args, "format", "text"), getattr(args, "report", None)
    color = fmt == "text" and bool(getattr(out, "isatty", lambda: False)()) and not os.environ.get("NO_COLOR")
    out.write((format_markdown(results) if fmt == "md" else format_table(results, color=color)) + "\n")
    code = _exit_status(results, getattr(args, "allow_inconclusive", False))
    if report_dir:
        directory = Path(report_dir)
        try:  # the table above already holds every result: a failed write loses no computation
            path = write_json(build_report(results), directory / REPORT_NAME)
            if fmt == "md":
                (directory / MARKDOWN_NAME).write_text(format_markdown(results) + "\n", encoding="utf-8")
            plots = write_plots(results, directory)
        except OSError as exc:
            out.write(f"report NOT written: cannot write {exc.filename or directory}: {exc.strerror or exc}; "
                      "the results are the table above\n")
            return max(code, 1)
        out.write(f"report: {path}\n" + (f"{plots.skipped}\n" if plots.skipped
                                          else f"plots: {len(plots.paths)} in {directory}\n"))
    return code


def _exit_status(results: List[Any], allow_inconclusive: bool) -> int:
    ok = ("pass", "inconclusive") if allow_inconclusive else ("pass",)
    return 0 if all(r.outcome in ok for r in results) else 1


def _profile_default() -> str:
    """``$GNTK_PROFILE`` if set (validated: UsageError naming the variable and the choices), else ci."""
    name = os.environ.get(PROFILE_VAR, "").strip()
    if name and name not in PROFILES:
        raise UsageError(f"{PROFILE_VAR} must be one of {', '.join(sorted(PROFILES))}, got {name!r}")
    return name or "ci"


def cmd_verify(args, out: TextIO, err: TextIO) -> int:
    from .profiles import ensure_registered

    profile = args.profile or _profile_default()
    ensure_registered()
    _writable_report_dir(args.report)
    chosen = select_variants(args.claims, args.mutants)
    if not chosen:
        raise UsageError("no claim variants are registered")
    from theory.dynamics import set_machine_owner

    # verify runs one variant at a time in this process: the particle kernel may use numba's threads
    set_machine_owner(not os.environ.get("PYTEST_XDIST_WORKER"))
    try:
        results = run_variants(chosen, RunOptions(profile=profile), err)
    finally:
        set_machine_owner(None)
    return _finish(results, args, out)


# -- replay -----------------------------------------------------------------------------------
def cmd_replay(args, out: TextIO, err: TextIO) -> int:
    from .replay import replay_report

    return replay_report(args.file, args.variant, out)


def cmd_replay_case(args, out: TextIO, err: TextIO) -> int:
    from .replay import replay_one_case

    return replay_one_case(args.id, args.case, args.file, out)


# -- prove / sensitivity ----------------------------------------------------------------------
def cmd_prove(args, out: TextIO, err: TextIO) -> int:
    import importlib

    try:
        proved = importlib.import_module("checks.proved")
    except ImportError as exc:
        if (exc.name or "").split(".")[0] == "flint" or "flint" in str(exc):
            raise UsageError('`prove` needs python-flint: pip install "gntk-checks[proved]"') from None
        raise UsageError(f"`prove` is not available in this version ({exc})") from None
    return int(proved.main(list(args.argv), out=out) or 0)


def cmd_sensitivity(args, out: TextIO, err: TextIO) -> int:
    from .profiles import ensure_registered
    from .registry import Expected

    try:
        from .mutants import measure_sensitivity
    except ImportError:
        raise UsageError("`sensitivity` is not available in this version (checks.mutants.measure_sensitivity)") from None
    ensure_registered()
    chosen = [v for v in select_variants(args.claims) if v.expected is Expected.HOLDS]
    if not chosen:
        raise UsageError("no variant expected to hold among the chosen claims")
    for v in chosen:
        if getattr(v, "rho_star", None) is None:
            out.write(f"{v.id}: skipped, no best-known tightest ratio rho* declared\n")
            continue
        t0 = time.perf_counter()
        found = measure_sensitivity(v, args.profile)
        eps = found.get("eps_killed", found) if isinstance(found, dict) else found
        runs = found.get("runs", []) if isinstance(found, dict) else []
        ladder = ", ".join(f"{run['eps']:g} {'killed' if run.get('killed') else 'survived'} "
                           f"({run.get('cases', '?')} cases)" for run in runs)
        if args.record:
            from .mutants import record_sensitivity

            record_sensitivity(v.id, args.profile, eps)
        out.write(f"{v.id}: rho* = {v.rho_star:.4g}, smallest eps killed ({args.profile}) = "
                  f"{'none of the ladder' if eps is None else eps} ({time.perf_counter() - t0:.1f}s)"
                  + (f"; ladder: {ladder}" if ladder else "") + "\n")
    return 0


# -- parser -----------------------------------------------------------------------------------
def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("gntk-checks")
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gntk-check", description="Check the claims of the GNTK paper.")
    parser.add_argument("--version", action="version", version=f"gntk-check {_version()}")
    parser.add_argument("--claims-module", metavar="MODULE", action="append", default=[],
                        help="also load the claims of MODULE (a module name or a .py path; repeatable; "
                             "$GNTK_CLAIM_MODULES adds more)")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_info_commands(sub)
    _add_run_commands(sub)
    # hunt (one long search, optionally over parallel workers sharing a database) and soak.
    from .hunt_command import add_commands

    add_commands(sub)
    return parser


def _add_info_commands(sub) -> None:
    """list, describe, replay, replay-case: commands that search nothing."""
    ls = sub.add_parser("list", help="list the registered claim variants")
    ls.add_argument("--claims", type=_id_list, metavar="ID,...", help="only these claims or variants")
    ls.add_argument("--mutants", action="store_true", help="also list the mutants of the chosen claims")
    ls.set_defaults(func=cmd_list)
    d = sub.add_parser("describe", help="statement, premises, declared outcome and erratum of a claim")
    d.add_argument("id", help="claim or variant id (lemma-5.5, lemma-5.5/probe, lemma_5_5-probe)")
    d.set_defaults(func=cmd_describe)
    r = sub.add_parser("replay", help="re-check the recorded cases of a JSON report")
    r.add_argument("file", help=f"a {REPORT_NAME} written by verify, hunt or pytest --claims-report")
    r.add_argument("--variant", metavar="ID", help="replay only this variant")
    r.set_defaults(func=cmd_replay)
    rc = sub.add_parser("replay-case", help="re-check one case of one variant")
    rc.add_argument("id", help="variant id (lemma-5.5/stated or lemma_5_5-stated)")
    rc.add_argument("case", nargs="?", help="the case as a JSON object")
    rc.add_argument("--file", metavar="CASE.json", help="read the case from a file instead")
    rc.set_defaults(func=cmd_replay_case)


def _add_run_commands(sub) -> None:
    """verify, prove, sensitivity (hunt and soak come from checks.parallel)."""
    v = sub.add_parser("verify", help="run every registered claim variant and print the table")
    v.add_argument("--profile", choices=sorted(PROFILES), default=None, help=f"search budget (default: ${PROFILE_VAR}, else ci)")
    v.add_argument("--claims", type=_id_list, metavar="ID,...", help="claim or variant ids, comma-separated (default: all)")
    v.add_argument("--report", metavar="DIR", help=f"write DIR/{REPORT_NAME} and plots (checked writable first)")
    v.add_argument("--format", choices=("text", "md"), default="text",
                   help=f"table format; md also writes DIR/{MARKDOWN_NAME} with --report")
    v.add_argument("--mutants", action="store_true", help="also run the mutants of the chosen claims")
    v.add_argument("--allow-inconclusive", action="store_true",
                   help="exit 0 when a variant is inconclusive (too few decided cases); default: exit 1")
    v.set_defaults(func=cmd_verify)
    p = sub.add_parser("prove", help='rigorous proofs in ball arithmetic (needs "gntk-checks[proved]")')
    p.add_argument("argv", nargs=argparse.REMAINDER, help="claim ids and options of checks.proved")
    p.set_defaults(func=cmd_prove)
    s = sub.add_parser("sensitivity", help="the smallest tightening of each bound the search detects")
    s.add_argument("--profile", choices=("ci", "hunt"), default="ci", help="search budget (default: ci)")
    s.add_argument("--claims", type=_id_list, metavar="ID,...", help="claim or variant ids (default: all)")
    s.add_argument("--record", action="store_true",
                   help="store the results in checks/sensitivity_measured.json (the table's eps columns)")
    s.set_defaults(func=cmd_sensitivity)


def main(argv: Optional[Sequence[str]] = None, *, out: TextIO = None, err: TextIO = None) -> int:
    """Run the CLI; return the exit status (0 pass, 1 fail, 2 usage error)."""
    out, err = out or sys.stdout, err or sys.stderr
    parser = build_parser()
    try:
        args, extra = parser.parse_known_args(argv)
        if extra and getattr(args, "command", None) == "prove":
            # `prove --json X` : argparse's REMAINDER does not take a leading option; checks.proved parses it
            args.argv = list(extra) + list(args.argv)
        elif extra:
            parser.parse_args(argv)  # the standard "unrecognized arguments" usage error
    except SystemExit as exc:  # argparse reports usage errors (2), --help and --version (0) by exiting
        return int(exc.code or 0)
    from .registry import ClaimModuleError

    try:
        if args.command in ("verify", "hunt", "soak", "sensitivity"):
            _profile_default()  # a bad $GNTK_PROFILE is an error, never silently ignored
        with _claim_modules(args.claims_module):
            return args.func(args, out, err)
    except (UsageError, ClaimModuleError) as exc:
        err.write(f"gntk-check {args.command}: error: {exc}\n")
        return 2


@contextlib.contextmanager
def _claim_modules(modules: Sequence[str]):
    """Load ``--claims-module`` modules for this command; hunt and soak workers are spawned
    processes, so the modules also travel in ``$GNTK_CLAIM_MODULES`` (restored afterwards)."""
    from .registry import ENV_CLAIM_MODULES, add_claim_modules

    if not modules:
        yield
        return
    add_claim_modules(list(modules), source="--claims-module")
    old = os.environ.get(ENV_CLAIM_MODULES)
    os.environ[ENV_CLAIM_MODULES] = ",".join([*filter(None, [old]), *modules])
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(ENV_CLAIM_MODULES, None)
        else:
            os.environ[ENV_CLAIM_MODULES] = old


if __name__ == "__main__":
    sys.exit(main())
