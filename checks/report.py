"""Reports of a claim-suite run: terminal table, JSON report, plots (DESIGN 1, 7).

* :func:`format_table`: one row per claim variant (expected outcome, run outcome, cases, counts per
  status, min slack as a difference and a ratio, the tightest case, time), then the mutant kill
  rates per claim and the message of every variant that did not pass.
* :func:`build_report` / :func:`write_json` / :func:`load_report`: the JSON report, with the
  environment a replay needs beyond the seed (versions of numpy, scipy, hypothesis, numba; BLAS; CPU;
  thread settings).  Its schema is ``checks/report_schema.json``, checked by :func:`validate` (a
  small validator for the subset of JSON Schema the file uses; no jsonschema dependency).
* :func:`write_plots`: slack histograms per claim and the plots claims register with
  :func:`register_plot` (e.g. the Lemma 5.1 scatter of P_min); matplotlib is optional.
* :func:`results_to_json` / :func:`results_from_json`: how pytest-xdist workers ship their results.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import platform
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from theory.errors import GntkValueError

from .mutants import is_mutant_id, kill_rates
from .registry import pytest_id
from .runner import VariantResult
from .verdict import Status, _jsonable

__all__ = ["SCHEMA_PATH", "ReportSchemaError", "format_table", "environment", "build_report",
           "validate", "check_report", "write_json", "load_report", "results_from_report",
           "results_to_json", "results_from_json", "PlotOutcome", "register_plot", "PLOTS",
           "write_plots", "short_case", "summary_line"]

SCHEMA_PATH = Path(__file__).with_name("report_schema.json")
#: Order of variant rows within a claim: the DESIGN 4 columns, then anything else.
_NAME_RANK = {"stated": 0, "corrected": 1, "probe": 2, "audit": 3}
_STATUS_ABBR = (("H", Status.HOLDS), ("V", Status.VIOLATED), ("I", Status.INCONCLUSIVE),
                ("P", Status.PREMISE_FAILED))


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


def _row(r: VariantResult) -> List[str]:
    tight = r.tightest or {}
    cases = f"{r.cases}+{r.explicit}" if r.explicit else str(r.cases)
    return ([r.variant_id, r.expected, r.outcome.upper() if r.outcome != "pass" else "pass", cases]
            + [str(r.counts.get(s.value, 0)) for _, s in _STATUS_ABBR]
            + [_num(tight.get("slack")), _num(tight.get("slack_ratio")), short_case(tight.get("case")),
               f"{r.elapsed_s:.1f}s"])


def _grid(header: Sequence[str], rows: Sequence[Sequence[str]]) -> List[str]:
    widths = [max(len(h), *(len(row[i]) for row in rows)) if rows else len(h) for i, h in enumerate(header)]
    fmt = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    return [fmt(header), fmt(["-" * w for w in widths])] + [fmt(r) for r in rows]


def summary_line(r: VariantResult) -> str:
    """One plain line per finished variant (the CLI's progress without a terminal)."""
    return (f"{r.variant_id}: {r.outcome} [{r.expected}] cases={r.cases}+{r.explicit} "
            f"violated={r.counts.get('VIOLATED', 0)} min_slack={_num(r.min_slack)} {r.elapsed_s:.1f}s")


def format_table(results: Iterable[VariantResult]) -> str:
    """The terminal summary: variant rows, mutant kill rates, and why each failed run failed.

    Columns: variant id, expected outcome, run outcome, cases (generated+explicit), counts of
    HOLDS/VIOLATED/INCONCLUSIVE/PREMISE_FAILED, min slack (difference and ratio) and case of the
    tightest decided verdict, wall time.  Mutant runs appear only as kill rates.
    """
    results = list(results)
    real = _ordered(r for r in results if not is_mutant_id(r.variant_id))
    header = ["variant", "expected", "outcome", "cases", "H", "V", "I", "P", "min slack", "ratio",
              "tightest case", "time"]
    lines = _grid(header, [_row(r) for r in real]) if real else ["(no claim variants were run, only mutants)"
                                                                 if results else "(no claim variants were run)"]
    rates = kill_rates(results)
    if rates:
        lines.append("mutant kill rate: " + ", ".join(
            f"{cid} {k.killed}/{k.total}" + (f" (survived: {', '.join(k.survivors)})" if k.survivors else "")
            for cid, k in rates.items()))
    bad = [r for r in _ordered(results) if r.outcome != "pass"]
    for r in bad:
        lines.append(f"{r.outcome.upper()} {r.variant_id} [{r.expected}]: {r.message}")
    return "\n".join(lines)


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


def build_report(results: Iterable[VariantResult], *, profile: Optional[str] = None,
                 env: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """The JSON-able report of ``results`` (schema: ``checks/report_schema.json``)."""
    results = _ordered(results)
    dicts = [r.to_dict() for r in results]
    if profile is None:
        profiles = {r.profile for r in results}
        profile = profiles.pop() if len(profiles) == 1 else ("mixed" if profiles else "")
    outcomes = {k: sum(r.outcome == k for r in results) for k in ("pass", "fail", "error")}
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


# -- plots ------------------------------------------------------------------------------------
#: A plot function draws the results of one claim on a matplotlib Figure; True if it drew anything.
PlotFunc = Callable[[Sequence[VariantResult], Any], bool]
#: Claim id -> [(plot name, function)]; later claims add curves with :func:`register_plot`.
PLOTS: Dict[str, List[Tuple[str, PlotFunc]]] = {}


@dataclass(frozen=True)
class PlotOutcome:
    """The files written by :func:`write_plots`, or why none were."""

    paths: Tuple[Path, ...]
    skipped: Optional[str] = None


def register_plot(claim_id: str, name: str) -> Callable[[PlotFunc], PlotFunc]:
    """Decorator: draw ``fn(results_of_claim, figure)`` into ``<claim>-<name>.png``.

    ``<claim>`` is the claim's pytest id (``lemma-5.1`` -> ``lemma_5_1``).
    """

    def deco(fn: PlotFunc) -> PlotFunc:
        entries = [e for e in PLOTS.setdefault(claim_id, []) if e[0] != name]
        PLOTS[claim_id] = entries + [(name, fn)]
        return fn

    return deco


def _real(x: Any) -> float:
    """A kept number back to float ('inf' strings from JSON, None from NaN)."""
    return math.nan if x is None else float(x)


def slack_histogram(results: Sequence[VariantResult], fig) -> bool:
    """Histogram of the normalised slack of every decided case, one outline per variant."""
    ax = fig.add_subplot(1, 1, 1)
    drew = False
    for r in results:
        vals = [_real(k["normalised_slack"]) for k in r.kept]
        if vals:
            ax.hist(vals, bins=40, range=(-2.0, 2.0), histtype="step", label=f"{r.name} ({len(vals)})")
            drew = True
    ax.axvline(0.0, color="k", lw=0.8)
    ax.set_xlabel("normalised slack (< 0: violated)")
    ax.set_ylabel("cases")
    ax.set_title(f"{results[0].claim_id}: slack of every case")
    if drew:
        ax.legend(fontsize="small")
    return drew


@register_plot("lemma-5.1", "pmin")
def lemma_5_1_pmin(results: Sequence[VariantResult], fig) -> bool:
    """Lemma 5.1 audit: P_min against G and against log(1/lambda0) (growth would be a finding)."""
    pts = [(r.name, k["extra"]) for r in results for k in r.kept
           if all(key in k["extra"] for key in ("P_min", "G", "log_inv_lambda0"))]
    if not pts:
        return False
    for i, xkey in enumerate(("G", "log_inv_lambda0")):
        ax = fig.add_subplot(1, 2, i + 1)
        for name in sorted({n for n, _ in pts}):
            xs = [_real(e[xkey]) for n, e in pts if n == name]
            ys = [_real(e["P_min"]) for n, e in pts if n == name]
            ax.scatter(xs, ys, s=8, label=name)
        if all(_real(e["P_min"]) > 0 for _, e in pts):
            ax.set_yscale("log")
        ax.set_xlabel(xkey)
        ax.set_ylabel("P_min")
        ax.legend(fontsize="small")
    fig.suptitle("lemma-5.1: smallest admissible P")
    return True


def write_plots(results: Iterable[VariantResult], directory, prefix: str = "") -> PlotOutcome:
    """PNG plots of ``results`` in ``directory``: a slack histogram per claim plus registered plots.

    matplotlib is optional: without it nothing is written and ``skipped`` says why.  The Agg canvas
    is used directly (no pyplot), so no global backend state is touched.
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        return PlotOutcome((), f"plots skipped: matplotlib is not installed ({exc})")
    # Claim modules register their curves on import; a pytest-xdist controller never imports them.
    from .registry import load_all

    load_all()
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    by_claim: Dict[str, List[VariantResult]] = {}
    for r in _ordered(results):
        if not is_mutant_id(r.variant_id):
            by_claim.setdefault(r.claim_id, []).append(r)
    paths = []
    for cid, rs in by_claim.items():
        for name, fn in [("slack", slack_histogram)] + PLOTS.get(cid, []):
            fig = Figure(figsize=(9, 4) if name != "slack" else (6, 4))
            FigureCanvasAgg(fig)
            if fn(rs, fig):
                path = directory / f"{prefix}{pytest_id(cid)}-{name}.png"
                fig.savefig(path, dpi=90)
                paths.append(path)
    return PlotOutcome(tuple(paths))
