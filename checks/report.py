"""Reports of a claim-suite run: terminal table, Markdown, JSON report (plots: :mod:`checks.plots`).

* :func:`format_table`: a count line, one row per claim variant (expected outcome, run outcome with
  ``inconclusive`` apart, cases, decided cases, counts per status, min slack as a difference and a
  ratio, the best-known ratio rho* and the smallest bound tightening eps the search killed, the
  tightest case, time), the mutants in their own section, the searches a time budget truncated, the
  command that replays each row's tightest case, and the message of every variant that did not pass.
* :func:`format_markdown`: the same as a Markdown document (for a paper's appendix or a pull request).
* :func:`build_report` / :func:`write_json` / :func:`load_report`: the JSON report, with per variant
  its statement, description and erratum id, and the environment a replay needs beyond the seed.  Its
  schema is ``checks/report_schema.json``, checked by :func:`validate` (a small validator for the
  subset of JSON Schema the file uses; no jsonschema dependency).
* :func:`results_to_json` / :func:`results_from_json`: how pytest-xdist workers ship their results.

Every result attribute added after the first schema (``decided``, ``min_decided``, ``truncated``,
``statement``, ``description``, ``erratum``, ``mutant``, ``sensitivity``) is read with a default, so
results of older runs and reports still render.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import platform
import re
import shlex
from importlib import metadata
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence

from theory.errors import GntkValueError

from .mutants import is_mutant_id, kill_rates
from .plots import (CROSS_PLOTS, PLOTS, PlotOutcome, register_cross_plot, register_plot,  # noqa: F401 (re-exported)
                    slack_histogram, write_plots)
from .runner import VariantResult
from .verdict import Status, _jsonable

__all__ = ["SCHEMA_PATH", "ReportSchemaError", "format_table", "format_markdown", "environment", "build_report",
           "validate", "check_report", "write_json", "load_report", "results_from_report",
           "results_to_json", "results_from_json", "PlotOutcome", "register_plot", "PLOTS", "register_cross_plot",
           "CROSS_PLOTS",
           "write_plots", "short_case", "summary_line", "erratum_id", "replay_command", "OUTCOMES"]

SCHEMA_PATH = Path(__file__).with_name("report_schema.json")
#: Run outcomes, in the order the count line gives them.
OUTCOMES = ("pass", "inconclusive", "fail", "error")
#: Order of variant rows within a claim: the stated/corrected/probe/audit columns, then anything else.
_NAME_RANK = {"stated": 0, "corrected": 1, "probe": 2, "audit": 3}
_STATUS_ABBR = (("H", Status.HOLDS), ("V", Status.VIOLATED), ("I", Status.INCONCLUSIVE),
                ("P", Status.PREMISE_FAILED))
#: ANSI colours of the outcome cell on a terminal; inconclusive has its own (neither pass nor fail).
_COLOURS = {"pass": "32", "inconclusive": "33", "fail": "31", "error": "1;35"}


class ReportSchemaError(GntkValueError):
    """A report does not match ``checks/report_schema.json``; the message lists where."""


# -- terminal table ---------------------------------------------------------------------------
def short_case(case: Optional[Mapping[str, Any]], width: int = 48) -> str:
    """Compact JSON of a case, cut to ``width`` characters (the full case is in the JSON report)."""
    if case is None:
        return "-"
    text = json.dumps(_jsonable(dict(case)), sort_keys=True, separators=(",", ":"))
    return text if len(text) <= width else text[: width - 3] + "..."


def _num(x: Any) -> str:
    if x is None or x == "nan" or (isinstance(x, float) and math.isnan(x)):
        return "-"
    if isinstance(x, str):
        return x
    return f"{x:.3g}"


def _ordered(results: Iterable[VariantResult]) -> List[VariantResult]:
    """Stable order whatever the xdist workers' finishing order: claim, then variant kind."""
    return sorted(results, key=lambda r: (r.claim_id, _NAME_RANK.get(r.name, 4), r.name))


def _is_mutant(r: VariantResult) -> bool:
    return bool(getattr(r, "mutant", False)) or is_mutant_id(r.variant_id)


def erratum_id(text: Optional[str]) -> Optional[str]:
    """The erratum id (``E11``) a finding's text starts with or names, else None."""
    m = re.search(r"\bE\d{1,3}\b", text or "")
    return m.group(0) if m else None


def replay_command(variant_id: str, case: Any) -> str:
    """The one-line shell command that re-checks ``case`` of ``variant_id`` (``gntk-check replay-case``)."""
    text = json.dumps(_jsonable(case), sort_keys=True, separators=(",", ":"), default=str)
    return f"gntk-check replay-case {variant_id} {shlex.quote(text)}"


def _outcome_cell(r: VariantResult) -> str:
    return "pass" if r.outcome == "pass" else r.outcome.upper()


def _decided(r: VariantResult) -> str:
    """Decided cases (HOLDS + VIOLATED), over the variant's declared minimum when it has one."""
    n = getattr(r, "decided", None)
    if n is None:
        n = r.counts.get("HOLDS", 0) + r.counts.get("VIOLATED", 0)
    need = getattr(r, "min_decided", None)
    return f"{n}/{need}" if need else str(n)


def _sensitivity(r: VariantResult) -> List[str]:
    s = getattr(r, "sensitivity", None) or {}
    measured = s.get("measured") or {}

    def eps(profile: str) -> str:
        # "none": measured, and no tightening of the ladder was caught; "-": not measured
        value = s.get(f"eps_killed_{profile}")
        return "none" if value is None and measured.get(profile) else _num(value)

    return [_num(s.get("rho_star")), eps("ci"), eps("hunt")]


def _cells(r: VariantResult) -> Dict[str, str]:
    tight = r.tightest or {}
    cases = f"{r.cases}+{r.explicit}" if r.explicit else str(r.cases)
    rho, eps_ci, eps_hunt = _sensitivity(r)
    out = {"variant": r.variant_id, "expected": r.expected, "outcome": _outcome_cell(r),
           "cases": cases + ("*" if getattr(r, "truncated", None) else ""), "decided": _decided(r)}
    out.update({abbr: str(r.counts.get(s.value, 0)) for abbr, s in _STATUS_ABBR})
    # the claim's own ratio where the check reports one (probability claims: at the delta-quantile),
    # else the tightest verdict's slack ratio (docs/verdicts.md#power-and-sensitivity)
    found = (getattr(r, "sensitivity", None) or {}).get("ratio_found")
    ratio = found if found is not None else tight.get("slack_ratio")
    out.update({"min slack": _num(tight.get("slack")), "ratio": _num(ratio), "rho*": rho,
                "eps ci": eps_ci, "eps hunt": eps_hunt, "time": f"{r.elapsed_s:.1f}s"})
    return out


#: The terminal table's columns; the tightest case itself is in the replay command under the table.
TABLE_COLUMNS = ("variant", "expected", "outcome", "cases", "decided", "H", "V", "I", "P", "min slack", "ratio",
                 "rho*", "eps ci", "eps hunt", "time")
MUTANT_COLUMNS = ("mutant", "outcome", "cases", "V", "time", "description")


def _grid(header: Sequence[str], rows: Sequence[Sequence[str]], colour_col: Optional[int] = None,
          colours: Sequence[Optional[str]] = ()) -> List[str]:
    """Left-aligned columns; cell ``colour_col`` of row i coloured with ANSI code ``colours[i]`` (after
    padding, so the escape codes do not shift the columns)."""
    widths = [max(len(h), *(len(row[i]) for row in rows)) if rows else len(h) for i, h in enumerate(header)]

    def fmt(cells, colour=None):
        padded = [c.ljust(w) for c, w in zip(cells, widths)]
        if colour and colour_col is not None:
            padded[colour_col] = f"\x1b[{colour}m{padded[colour_col]}\x1b[0m"
        return "  ".join(padded).rstrip()

    return [fmt(header), fmt(["-" * w for w in widths])] + [
        fmt(r, colours[i] if i < len(colours) else None) for i, r in enumerate(rows)]


def _count_line(what: str, results: Sequence[VariantResult]) -> str:
    counts = ", ".join(f"{sum(r.outcome == k for r in results)} {k}" for k in OUTCOMES)
    return f"{len(results)} {what}: {counts}"


def summary_line(r: VariantResult) -> str:
    """One plain line per finished variant (the CLI's progress without a terminal)."""
    return (f"{r.variant_id}: {r.outcome} [{r.expected}] cases={r.cases}+{r.explicit} "
            f"violated={r.counts.get('VIOLATED', 0)} min_slack={_num(r.min_slack)} {r.elapsed_s:.1f}s")


def _mutant_rows(mutants: Sequence[VariantResult]) -> List[List[str]]:
    return [[r.variant_id, "killed" if r.outcome == "pass" else "SURVIVED" if r.outcome == "fail" else r.outcome.upper(),
             str(r.cases), str(r.counts.get("VIOLATED", 0)), f"{r.elapsed_s:.1f}s",
             short_case(None) if not getattr(r, "description", "") else _short(r.description, 60)]
            for r in mutants]


def _short(text: str, width: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 3] + "..."


def _notes(real: Sequence[VariantResult], results: Sequence[VariantResult]) -> List[str]:
    """Truncated searches, replay commands and the message of every run that did not pass."""
    lines = [f"* {r.variant_id}: {r.truncated}" for r in real if getattr(r, "truncated", None)]
    if lines:
        lines.insert(0, "searches cut by a time budget (cases marked *):")
    replay = [f"  {replay_command(r.variant_id, r.tightest['case'])}" for r in real
              if r.tightest is not None and isinstance(r.tightest.get("case"), dict)]
    if replay:
        lines += ["replay the tightest case of a row:"] + replay
    lines += [f"{r.outcome.upper()} {r.variant_id} [{r.expected}]: {r.message}"
              for r in _ordered(results) if r.outcome != "pass" and not (_is_mutant(r) and r.outcome == "pass")]
    return lines


def format_table(results: Iterable[VariantResult], color: bool = False) -> str:
    """The terminal summary (module docstring); ``color``: ANSI colours in the outcome column."""
    results = list(results)
    real = _ordered(r for r in results if not _is_mutant(r))
    muts = _ordered(r for r in results if _is_mutant(r))
    if not results:
        return "(no claim variants were run)"
    lines = [_count_line("claim variant(s)", real)]
    if real:
        rows = [[_cells(r)[c] for c in TABLE_COLUMNS] for r in real]
        colours = [_COLOURS.get(r.outcome) if color else None for r in real]
        lines += _grid(TABLE_COLUMNS, rows, TABLE_COLUMNS.index("outcome"), colours)
    if muts:
        killed = sum(r.outcome == "pass" for r in muts)
        lines += ["", f"{len(muts)} mutant(s): {killed} killed, {len(muts) - killed} not killed"]
        lines += _grid(MUTANT_COLUMNS, _mutant_rows(muts))
        rates = kill_rates(results)
        lines.append("mutant kill rate: " + ", ".join(
            f"{cid} {k.killed}/{k.total}" + (f" (survived: {', '.join(k.survivors)})" if k.survivors else "")
            for cid, k in rates.items()))
    return "\n".join(lines + _notes(real, results))


def _md_escape(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> List[str]:
    return (["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
            + ["| " + " | ".join(_md_escape(c) for c in row) + " |" for row in rows])


def _md_claims(real: Sequence[VariantResult]) -> List[str]:
    """Per claim: its statement, then each variant's description and erratum."""
    lines: List[str] = []
    for cid in dict.fromkeys(r.claim_id for r in real):
        rs = [r for r in real if r.claim_id == cid]
        statement = next((getattr(r, "statement", "") for r in rs if getattr(r, "statement", "")), "")
        lines += [f"### {cid} ({rs[0].paper_ref})", ""] + ([f"Statement: {statement}", ""] if statement else [])
        for r in rs:
            erratum = getattr(r, "erratum", None)
            lines.append(f"- `{r.name}` ({r.expected}): {getattr(r, 'description', '') or '-'}"
                         + (f" Erratum {erratum} (docs/errata.md)." if erratum else ""))
        lines.append("")
    return (["## Claims", ""] + lines) if lines else []


def format_markdown(results: Iterable[VariantResult], title: str = "gntk-checks: claims report") -> str:
    """The report as Markdown: count line, variant table (replay command per row), mutants, notes."""
    results = list(results)
    real = _ordered(r for r in results if not _is_mutant(r))
    muts = _ordered(r for r in results if _is_mutant(r))
    profiles = sorted({r.profile for r in results if r.profile})
    lines = [f"# {title}", "", _count_line("claim variant(s)", real)
             + (f"; profile {', '.join(profiles)}" if profiles else ""), ""]
    cols = list(TABLE_COLUMNS)
    rows = []
    for r in real:
        cells = _cells(r)
        cmd = (f"`{replay_command(r.variant_id, r.tightest['case'])}`"
               if r.tightest is not None and isinstance(r.tightest.get("case"), dict) else "-")
        rows.append([f"`{r.variant_id}`"] + [cells[c] for c in cols[1:]] + [cmd])
    lines += _md_table(cols + ["replay the tightest case"], rows)
    lines += ["", "Columns: decided = HOLDS + VIOLATED cases (over the declared minimum); H/V/I/P = cases per "
              "verdict status; ratio = the tightest slack ratio found; rho* = best-known tightest ratio; eps = "
              "smallest relative tightening of the bound the ci/hunt search detects; * = cut by a time budget.", ""]
    lines += _md_claims(real)
    if muts:
        lines += ["## Mutants", ""] + _md_table(MUTANT_COLUMNS, _mutant_rows(muts)) + [""]
    bad = [r for r in real if r.outcome != "pass"] + [r for r in muts if r.outcome != "pass"]
    if bad:
        lines += ["## Runs that did not pass", ""] + [f"- **{r.outcome}** `{r.variant_id}`: {_md_escape(r.message)}"
                                                     for r in bad]
    return "\n".join(lines).rstrip()


# -- JSON report ------------------------------------------------------------------------------
def _version(dist: str) -> Optional[str]:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _cpu_name() -> str:
    """The CPU model (Linux /proc/cpuinfo), else what platform knows."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.lower().startswith(("model name", "hardware", "cpu model")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def _blas_info() -> List[Dict[str, Any]]:
    """threadpoolctl's view of the loaded BLAS when installed, else numpy's/scipy's build config."""
    try:
        from threadpoolctl import threadpool_info
        return [_jsonable(dict(d)) for d in threadpool_info()]
    except ImportError:
        pass
    out = []
    for name in ("numpy", "scipy"):
        try:
            mod = __import__(name)
            deps = mod.show_config(mode="dicts")["Build Dependencies"]
        except Exception:  # older builds have no mode="dicts"; the versions still identify them
            continue
        for kind in ("blas", "lapack"):
            d = deps.get(kind, {})
            out.append({"source": f"{name} build config", "kind": kind, "name": d.get("name"),
                        "version": d.get("version"), "config": d.get("openblas configuration")})
    return out


def environment() -> Dict[str, Any]:
    """What a replay needs beyond the case's seed: versions, BLAS, CPU, thread settings."""
    versions = {d: _version(d) for d in ("numpy", "scipy", "hypothesis", "numba", "matplotlib", "pytest",
                                         "pytest-xdist", "threadpoolctl")}
    threads = {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                                              "NUMBA_NUM_THREADS", "GNTK_PROFILE", "CI")}
    return {"python": platform.python_version(), "implementation": platform.python_implementation(),
            "platform": platform.platform(), "machine": platform.machine(), "cpu": _cpu_name(),
            "cpu_count": os.cpu_count(), "versions": versions, "blas": _blas_info(), "threads": threads}


def _described(r: VariantResult) -> Dict[str, Any]:
    """``r.to_dict()`` with the statement, description and erratum id of its variant: taken from the
    result when it carries them, else from the registered variant (None when it is not registered)."""
    from . import registry

    d = r.to_dict()
    v = registry._REGISTRY.get(r.variant_id)  # noqa: SLF001 (no import of claim modules: a lookup only)
    if v is not None and not d.get("statement"):
        d["statement"] = v.claim.statement
    if v is not None and not d.get("description"):
        d["description"] = v.description
    if v is not None and d.get("erratum") is None:
        d["erratum"] = getattr(v, "erratum", None) or erratum_id(getattr(v, "finding", None))
    for key in ("statement", "description", "erratum"):  # results of older runs lack the keys
        d.setdefault(key, None)
    d.setdefault("mutant", _is_mutant(r))
    return d


def build_report(results: Iterable[VariantResult], *, profile: Optional[str] = None,
                 env: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """The JSON-able report of ``results`` (schema: ``checks/report_schema.json``)."""
    results = _ordered(results)
    dicts = [_described(r) for r in results]
    if profile is None:
        profiles = {r.profile for r in results}
        profile = profiles.pop() if len(profiles) == 1 else ("mixed" if profiles else "")
    outcomes = {k: sum(r.outcome == k for r in results) for k in OUTCOMES}
    statuses = {s.value: sum(r.counts.get(s.value, 0) for r in results) for s in Status}
    report = {
        "schema_version": 1, "tool": "gntk-checks", "tool_version": _version("gntk-checks") or "unknown",
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "profile": profile, "environment": environment() if env is None else env,
        "summary": {"variants": len(results), "outcomes": outcomes, "statuses": statuses,
                    "elapsed_s": float(sum(r.elapsed_s for r in results))},
        "kill_rates": {cid: k.to_dict() for cid, k in kill_rates(results).items()},
        "results": dicts,
    }
    return _jsonable(report)


def _schema() -> Dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


_TYPES = {"object": lambda x: isinstance(x, dict), "array": lambda x: isinstance(x, list),
          "string": lambda x: isinstance(x, str), "null": lambda x: x is None,
          "boolean": lambda x: isinstance(x, bool),
          "integer": lambda x: isinstance(x, int) and not isinstance(x, bool),
          "number": lambda x: isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)}


def _validate(x: Any, s: Mapping[str, Any], root: Mapping[str, Any], path: str, errors: List[str]) -> None:
    if "$ref" in s:
        ref = s["$ref"]
        if not ref.startswith("#/$defs/"):
            raise ValueError(f"only local '#/$defs/...' references are supported, got {ref!r}")
        _validate(x, root["$defs"][ref[len("#/$defs/"):]], root, path, errors)
    if "anyOf" in s:
        if all(_sub_errors(x, sub, root, path) for sub in s["anyOf"]):
            errors.append(f"{path}: {_brief(x)} matches none of the allowed forms")
        return
    types = s.get("type")
    if types is not None and not any(_TYPES[t](x) for t in ([types] if isinstance(types, str) else types)):
        errors.append(f"{path}: expected {types}, got {type(x).__name__} {_brief(x)}")
        return
    if "const" in s and x != s["const"]:
        errors.append(f"{path}: expected {s['const']!r}, got {_brief(x)}")
    if "enum" in s and x not in s["enum"]:
        errors.append(f"{path}: {_brief(x)} is not one of {s['enum']}")
    if isinstance(x, (int, float)) and not isinstance(x, bool):
        if "minimum" in s and x < s["minimum"]:
            errors.append(f"{path}: {x!r} < minimum {s['minimum']}")
        if "maximum" in s and x > s["maximum"]:
            errors.append(f"{path}: {x!r} > maximum {s['maximum']}")
    if isinstance(x, dict):
        _validate_object(x, s, root, path, errors)
    if isinstance(x, list) and "items" in s:
        for i, item in enumerate(x):
            _validate(item, s["items"], root, f"{path}[{i}]", errors)


def _validate_object(x: Dict[str, Any], s, root, path: str, errors: List[str]) -> None:
    props = s.get("properties", {})
    for key in s.get("required", ()):
        if key not in x:
            errors.append(f"{path}: missing required key {key!r}")
    extra = s.get("additionalProperties", True)
    for key, val in x.items():
        if key in props:
            _validate(val, props[key], root, f"{path}.{key}", errors)
        elif extra is False:
            errors.append(f"{path}: unexpected key {key!r}")
        elif isinstance(extra, dict):
            _validate(val, extra, root, f"{path}.{key}", errors)


def _sub_errors(x, s, root, path) -> List[str]:
    errs: List[str] = []
    _validate(x, s, root, path, errs)
    return errs


def _brief(x: Any) -> str:
    text = repr(x)
    return text if len(text) <= 60 else text[:57] + "..."


def validate(instance: Any, schema: Optional[Mapping[str, Any]] = None) -> List[str]:
    """Where ``instance`` departs from ``schema`` (default: the report schema); [] if nowhere."""
    schema = _schema() if schema is None else schema
    errors: List[str] = []
    _validate(instance, schema, schema, "$", errors)
    return errors


def check_report(report: Any) -> Dict[str, Any]:
    """Return ``report`` if it matches the schema, else raise :class:`ReportSchemaError`."""
    errors = validate(report)
    if errors:
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        raise ReportSchemaError(f"report does not match {SCHEMA_PATH.name}: " + "; ".join(errors[:5]) + more)
    return report


def write_json(report: Mapping[str, Any], path) -> Path:
    """Validate ``report`` and write it to ``path`` (atomically: a reader never sees half a file)."""
    check_report(report)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    # default=str: a report-only extra a claim left as an object must not lose the whole report.
    tmp.write_text(json.dumps(report, indent=1, allow_nan=False, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def load_report(path) -> Dict[str, Any]:
    """Read and validate a JSON report (``ReportSchemaError`` when it does not match)."""
    with open(path, encoding="utf-8") as fh:
        return check_report(json.load(fh))


def results_from_report(report: Mapping[str, Any]) -> List[VariantResult]:
    return [VariantResult.from_dict(d) for d in report["results"]]


def results_to_json(results: Iterable[VariantResult]) -> str:
    """Serialise results (what an xdist worker puts in ``workeroutput``)."""
    return json.dumps([r.to_dict() for r in results], allow_nan=False, default=str)


def results_from_json(text: str) -> List[VariantResult]:
    """Inverse of :func:`results_to_json`."""
    data = json.loads(text)
    if not isinstance(data, list):
        raise TypeError(f"expected a JSON list of results, got {type(data).__name__}")
    return [VariantResult.from_dict(d) for d in data]
