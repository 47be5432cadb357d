"""Replaying recorded cases: ``gntk-check replay REPORT`` and ``gntk-check replay-case ID JSON``.

A report may be old, truncated or tampered with.  Each recorded case (counterexample and tightest
case of each variant) is re-checked on its own: a case the check cannot take (a string, negative,
huge or NaN value, an unknown activation, a missing key) gives one line naming the variant, the
field and the value, and the replay goes on; a case outside the claim's premises is reported as
such; a summary line ends the output.  Exit status: 0 when every recorded violation still occurs and
every case could be checked, 1 otherwise, 2 (:class:`~checks.__main__.UsageError`) when the file
cannot be read at all.
"""

from __future__ import annotations

import json
import math
import re
import warnings
from pathlib import Path
from typing import Any, Dict, List, Optional, TextIO

from .__main__ import UsageError, _one_line, canonical_id

__all__ = ["replay_report", "replay_one_case"]


def _resolve(variant_id: str):
    from . import registry
    from .mutants import get_mutant_variant, is_mutant_id

    return get_mutant_variant(variant_id) if is_mutant_id(variant_id) else registry.get_variant(variant_id)


def _leaves(x: Any):
    """The scalars inside a (nested) case value."""
    if isinstance(x, dict):
        for y in x.values():
            yield from _leaves(y)
    elif isinstance(x, (list, tuple)):
        for y in x:
            yield from _leaves(y)
    else:
        yield x


def _extreme(x: Any) -> bool:
    """NaN, infinite or beyond 1e100: no claim's premises admit such a number."""
    return (isinstance(x, (int, float)) and not isinstance(x, bool)
            and (not math.isfinite(x) or abs(x) > 1e100))


def _bad_field(case: Any, exc: BaseException) -> str:
    """Which field of a case an error is about, as ``'field' = value``.

    In order: the missing key of a KeyError; a field whose value the message quotes (``got -1.0``,
    ``'three'``); a field the message names (``alpha must ...``, ``act: ...``); a field holding a
    NaN, infinite or huge number; ``"?"`` when none stands out.
    """
    if not isinstance(case, dict):
        return f"case = {_one_line(repr(case), 80)}"
    if isinstance(exc, KeyError) and exc.args and exc.args[0] not in case:
        return f"{exc.args[0]!r} missing"
    text = str(exc)

    def quoted(v: Any) -> bool:
        if isinstance(v, str):
            return f"'{v}'" in text
        return not isinstance(v, bool) and isinstance(v, (int, float)) and f"got {v!r}" in text

    def named(k: str) -> bool:
        return re.search(rf"(^|[\s'(]){re.escape(str(k))}( must|=|:|')", text) is not None

    def negative_shown(v: Any) -> bool:  # "smallest eigenvalue -1" for a case holding -1.0
        return (not isinstance(v, bool) and isinstance(v, (int, float)) and v < 0
                and re.search(rf"(?<![\w.]){re.escape(f'{v:g}')}(?![\w.])", text) is not None)

    for test in (lambda k: any(quoted(v) for v in _leaves(case[k])), named,
                 lambda k: any(_extreme(v) for v in _leaves(case[k])),
                 lambda k: any(negative_shown(v) for v in _leaves(case[k]))):
        keys = [k for k in case if test(k)]
        if keys:
            return ", ".join(f"{k!r} = {_one_line(repr(case[k]), 80)}" for k in keys)
    return "?"


def _replay_case(variant, case: Dict[str, Any]):
    """(verdict, premise warnings) of one case; raises whatever the check raises."""
    from theory.errors import PremiseWarning

    from .runner import check_case

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", PremiseWarning)
        v = check_case(variant, dict(case))
    return v, [str(w.message) for w in caught if issubclass(w.category, PremiseWarning)]


def _replay_one(entry: Dict[str, Any], out: TextIO, tally: Dict[str, int]) -> None:
    """Re-check the counterexample and tightest case of one result, adding to ``tally``."""
    from .verdict import Verdict

    vid = entry.get("variant_id")
    variant = _resolve(vid)
    seen: List[Any] = []
    for kind in ("counterexample", "tightest", "case"):  # "case": a bare case given to replay-case
        rec = entry.get(kind)
        if not isinstance(rec, dict) or rec.get("case") in seen:
            continue
        case = rec.get("case")
        seen.append(case)
        try:
            now, premise_warnings = _replay_case(variant, case)
        except Exception as exc:  # a tampered or foreign case: one line, then the next case
            tally["bad"] += 1
            out.write(f"{vid} {kind}: BAD CASE, field {_bad_field(case, exc)}: {type(exc).__name__}: "
                      f"{_one_line(exc, 200)}\n")
            continue
        if "status" not in rec:  # a bare case (replay-case): nothing was recorded to compare with
            out.write(f"{vid} {kind}\n  replayed: {now.explain()}\n")
        else:
            try:
                recorded = Verdict.from_dict(rec).explain()
            except Exception as exc:  # the recorded verdict was tampered with; the replay itself stands
                recorded = f"(unreadable: {type(exc).__name__}: {_one_line(exc, 120)})"
            out.write(f"{vid} {kind}\n  recorded: {recorded}\n  replayed: {now.explain()}\n")
        if now.status.value == "PREMISE_FAILED" or premise_warnings:
            tally["outside"] += 1
            why = now.premise_failed or "; ".join(premise_warnings)
            out.write(f"  OUTSIDE THE PREMISES of {variant.claim.id}: {why}\n")
        if "status" not in rec:
            continue
        if rec.get("status") == "VIOLATED" and now.status.value != "VIOLATED":
            tally["lost"] += 1
            out.write("  NOT REPRODUCED: the recorded violation no longer occurs\n")
        elif rec.get("status") != now.status.value:
            out.write(f"  status changed: {rec.get('status')} -> {now.status.value}\n")


def _load_for_replay(path: str) -> Dict[str, Any]:
    """The report, schema-checked; a report whose results are readable but not schema-valid is
    still replayed case by case (each bad case gets its line), the schema errors shown first."""
    from .report import ReportSchemaError, load_report

    try:
        return load_report(path)
    except ReportSchemaError as exc:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
        if isinstance(data, dict) and isinstance(data.get("results"), list) and all(
                isinstance(e, dict) and isinstance(e.get("variant_id"), str) for e in data["results"]):
            data["_schema_error"] = str(exc)
            return data
        raise


def replay_report(file: str, variant: Optional[str], out: TextIO) -> int:
    """``gntk-check replay FILE``: every recorded case, one line per case that cannot be replayed."""
    from .report import ReportSchemaError

    try:
        report = _load_for_replay(file)
    except (OSError, ValueError, ReportSchemaError) as exc:  # JSONDecodeError is a ValueError
        raise UsageError(f"cannot read report {file}: {exc}") from None
    if "_schema_error" in report:
        out.write(f"warning: {report['_schema_error']}\n")
    entries = [e for e in report["results"] if variant in (None, e["variant_id"])]
    if variant and not entries:
        raise UsageError(f"variant {variant!r} is not in {file}")
    tally = {"lost": 0, "unknown": 0, "bad": 0, "outside": 0}
    for entry in entries:
        try:
            _replay_one(entry, out, tally)
        except KeyError as exc:
            tally["unknown"] += 1
            out.write(f"{entry['variant_id']}: cannot replay, {exc.args[0]}\n")
    out.write(f"replayed {len(entries)} variant(s): {tally['lost']} recorded violation(s) not reproduced, "
              f"{tally['unknown']} unknown variant(s), {tally['bad']} bad case(s), "
              f"{tally['outside']} case(s) outside the premises\n")
    return 0 if tally["lost"] == tally["unknown"] == tally["bad"] == 0 else 1


def replay_one_case(key: str, case_json: Optional[str], file: Optional[str], out: TextIO) -> int:
    """``gntk-check replay-case ID JSON``: re-check one case; 1 if it cannot be checked."""
    canon = canonical_id(key)
    if "/" not in canon:
        raise UsageError(f"{key!r} is a claim; replay-case needs a variant id such as {canon}/stated")
    try:
        text = Path(file).read_text(encoding="utf-8") if file else case_json
        case = json.loads(text) if text is not None else None
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read the case: {exc}") from None
    if not isinstance(case, dict):
        raise UsageError(f"the case must be a JSON object, got {type(case).__name__}: {_one_line(case, 80)}")
    tally = {"lost": 0, "unknown": 0, "bad": 0, "outside": 0}
    _replay_one({"variant_id": canon, "case": {"case": case}}, out, tally)
    return 1 if tally["bad"] else 0
