"""Plots of a claim-suite run (PNG, matplotlib optional): slack panels per claim and registered plots.

* :func:`slack_histogram`: per claim, the normalised slack of every kept case with each verdict
  status in its own style (an INCONCLUSIVE case is never drawn as a violation), beside a
  log10(slack ratio) panel that shows how loose a bound is when the normalised slack saturates.
* :func:`loss_vs_bounds`: sqrt(L(p_t)) along simulated runs against the bounds, one labelled panel
  per case, the legend beside the panels and a caption saying what each curve is.
* :func:`slack_vs_size` (``slack-vs-size.png``): slack orders of every dynamics verdict against n and
  against alpha lambda0, across claims (a :data:`CROSS_PLOTS` entry, :func:`register_cross_plot`).
* :func:`register_plot` / :data:`PLOTS`: claims add their own figures; :func:`write_plots` draws
  them all with the Agg canvas (no pyplot, no global backend state).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

__all__ = ["PlotFunc", "PLOTS", "PlotOutcome", "register_plot", "slack_histogram", "loss_vs_bounds",
           "write_plots", "PLOTS_EXTRA_HINT", "STATUS_STYLE", "LOSS_CAPTION", "CROSS_PLOTS", "register_cross_plot",
           "slack_vs_size", "SIZE_CAPTION"]

#: What to install when matplotlib is missing (named in the message of a skipped plot run).
PLOTS_EXTRA_HINT = 'pip install "gntk-checks[plots]"'
#: A plot function draws the results of one claim on a matplotlib Figure; True if it drew anything.
PlotFunc = Callable[[Sequence[Any], Any], bool]
#: Claim id -> [(plot name, function)]; claim modules add curves with :func:`register_plot`.
PLOTS: Dict[str, List[Tuple[str, PlotFunc]]] = {}
#: Status -> (colour, hatch, legend word).  PREMISE_FAILED cases are never kept, so never drawn.
STATUS_STYLE = {"HOLDS": ("tab:green", "", "holds"), "INCONCLUSIVE": ("tab:gray", "//", "inconclusive"),
                "VIOLATED": ("tab:red", "xx", "violated")}
#: Line styles of a claim's variants (stated, corrected, probe, audit, ...).
_VARIANT_LINES = ("-", "--", ":", "-.")
LOSS_CAPTION = ("sqrt L: square root of the training loss of the simulated network (mean over replicas).  "
                "Lemma 5.2: e^-tau + bias term.  sqrt Thm 4.4: square root of the Theorem 4.4 bound.  "
                "Gronwall / sqrt n: the Gronwall envelope B(t) of the mean-field residual ODE "
                "r' = -(alpha^2/n) H(p_t) r + lam alpha b(p_t), integrated with the lambda_min(H(p_t)) and |b(p_t)| "
                "measured along the run; B bounds |r(t)|, and divided by sqrt n it is on the scale of sqrt L.  "
                "Finite-width floor: below it the m-particle loss is sampling noise, not L(p_t), so neither curve "
                "is tested there.  tau = alpha^2 lambda0^2 t.")


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


def _log10_ratio(x: Any) -> float:
    r = _real(x)
    if math.isnan(r):
        return math.nan
    return math.inf if r == math.inf else (-math.inf if r <= 0 else math.log10(r))


def _by_status(r) -> Dict[str, List[dict]]:
    out: Dict[str, List[dict]] = {}
    for k in r.kept:
        out.setdefault(k["status"], []).append(k)
    return out


def slack_histogram(results: Sequence[Any], fig) -> bool:
    """Normalised slack and log10(slack ratio) of every kept case; colour = status, line = variant."""
    from matplotlib.colors import to_rgba

    left, right = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    drew, off_scale = False, []
    for i, r in enumerate(results):
        line = _VARIANT_LINES[i % len(_VARIANT_LINES)]
        for status, kept in sorted(_by_status(r).items()):
            colour, hatch, word = STATUS_STYLE.get(status, ("k", "", status.lower()))
            # HOLDS as an outline; the other statuses filled and hatched, so they stand out of it.
            style = dict(histtype="step", edgecolor=colour, linestyle=line, lw=1.4) if status == "HOLDS" else dict(
                histtype="stepfilled", edgecolor=colour, facecolor=(*to_rgba(colour)[:3], 0.25), hatch=hatch,
                linestyle=line, lw=1.4)
            vals = [_real(k["normalised_slack"]) for k in kept]
            left.hist(vals, bins=40, range=(-2.0, 2.0), label=f"{r.name}: {word} ({len(vals)})", **style)
            logs = [_log10_ratio(k["slack_ratio"]) for k in kept]
            finite = [x for x in logs if math.isfinite(x)]
            if finite:
                right.hist(finite, bins=30, **style)
            if len(finite) < len(logs):
                off_scale.append(f"{r.name} {word}: {len(logs) - len(finite)} off scale (ratio 0 or inf)")
            drew = True
    for ax in (left, right):
        ax.axvline(0.0, color="k", lw=0.8)
        ax.set_ylabel("cases")
    left.set_xlabel("normalised slack (> 0: room under the bound)")
    right.set_xlabel("log10 slack ratio (bound/observed for <=)")
    right.set_title("how loose: orders of magnitude", fontsize="small")
    if off_scale:
        right.text(0.02, 0.98, "\n".join(off_scale), transform=right.transAxes, va="top", fontsize="x-small")
    fig.suptitle(f"{results[0].claim_id}: slack of every case (colour: verdict status; line: variant)")
    if drew:
        fig.legend(*left.get_legend_handles_labels(), loc="center left", bbox_to_anchor=(0.79, 0.5),
                   fontsize="small", frameon=False)
        fig.subplots_adjust(left=0.06, right=0.78, bottom=0.14, top=0.86, wspace=0.3)
    return drew


def _case_label(extra: Dict[str, Any]) -> str:
    """'n=3 d=2 alpha=4 lambda=0.005 m=2000' from what a kept case recorded."""
    parts = []
    for key, shown in (("n", "n"), ("d", "d"), ("alpha", "alpha"), ("lam", "lambda"), ("m", "m")):
        if extra.get(key) is not None:
            x = extra[key]
            parts.append(f"{shown}={x:.3g}" if isinstance(x, float) else f"{shown}={x}")
    return " ".join(parts) or "case parameters not recorded"


_CURVES = (("lemma_5_2", "C0--", "Lemma 5.2"), ("theorem_4_4_sqrt", "C1:", "sqrt Thm 4.4"),
           ("gronwall_rms", "C2-.", "Gronwall / sqrt n"))


def loss_vs_bounds(results: Sequence[Any], fig, max_panels: int = 4) -> bool:
    """Up to ``max_panels`` runs: sqrt(L(p_t)) against the bounds over tau, labelled per panel."""
    runs = [(r.name, k["extra"]) for r in results for k in r.kept
            if isinstance(k.get("extra", {}).get("series"), dict)][:max_panels]
    if not runs:
        return False
    cols = 1 if len(runs) == 1 else 2
    rows = (len(runs) + cols - 1) // cols
    for i, (name, extra) in enumerate(runs):
        s = extra["series"]
        ax = fig.add_subplot(rows, cols, i + 1)
        tau = [_real(t) for t in s["tau"]]
        ax.semilogy(tau, [max(_real(y), 1e-300) for y in s["sqrt_loss"]], "k-", lw=1.5, label="sqrt L (simulated)")
        for key, style, label in _CURVES:
            if s.get(key) is not None:
                ax.semilogy(tau, [max(_real(y), 1e-300) for y in s[key]], style, label=label)
        if isinstance(extra.get("floor"), (int, float)) and extra["floor"] > 0:
            ax.axhline(float(extra["floor"]), color="0.5", lw=0.8, ls=(0, (1, 3)), label="finite-width floor")
        ax.set_title(f"{name}: {_case_label(extra)}", fontsize="small")
        ax.set_xlabel("tau = alpha^2 lambda0^2 t")
        ax.set_ylabel("sqrt(L)")
    handles: Dict[str, Any] = {}
    for ax in fig.axes:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(lab, h)
    fig.legend(list(handles.values()), list(handles), loc="upper right", fontsize="small", frameon=False)
    fig.suptitle(f"{results[0].claim_id}: loss along simulated runs against the bounds")
    fig.text(0.01, 0.01, _wrap(LOSS_CAPTION, 150), fontsize="x-small", va="bottom")
    fig.subplots_adjust(left=0.07, right=0.8, top=0.88, bottom=0.19, hspace=0.55, wspace=0.25)
    return True


def _wrap(text: str, width: int) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width))


def _figure_size(name: str) -> Tuple[float, float]:
    return {"slack": (11, 4.2), "loss-vs-bounds": (11, 7.5), "exponents": (16, 4),
            "slack-vs-size": (13, 5.5)}.get(name, (9, 4))


@register_plot("lemma-5.1", "pmin")
def lemma_5_1_pmin(results: Sequence[Any], fig) -> bool:
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


#: headline variant -> (x key, y key, x label, y label, reference slope: a number, an extra key, or None)
_FITS = {
    "krr": ("alphas", "gap_H2", "alpha", "relative gap of f(p*) to H2 kernel ridge", -2.0),
    "kl-rate": ("alphas", "series", "alpha", "KL(p* || p0)", "paper_exponent"),
    "loss-rate": ("alphas", "series", "alpha", "L(p*)", "paper_exponent"),
    "displacement": ("alpha", "w2sq_upper", "alpha", "W2(p_T, p0)^2, upper bracket", -2.0),
    "lambda-n": ("n", "Lambda", "n", "Lambda = lambda_min(H(p0))", -2.0),
    "transient-alpha-rate": ("alphas", "rate_t", "alpha", "fitted decay rate of L(p_t) in t", "paper_exponent"),
}


def _fit_data(r, xkey: str, ykey: str):
    """The first kept verdict of ``r`` whose extra holds a series to plot (positive values only)."""
    for k in [*(r.kept or []), {"extra": (r.tightest or {}).get("extra", {})}]:
        e = k.get("extra") or {}
        xs, ys = e.get(xkey), e.get(ykey)
        if isinstance(xs, list) and isinstance(ys, list) and len(xs) == len(ys) and len(xs) >= 2:
            pts = [(_real(a), _real(b)) for a, b in zip(xs, ys) if _real(a) > 0 and _real(b) > 0]
            if len(pts) >= 2:
                return pts, e
    return None, None


@register_plot("headline", "exponents")
def headline_exponents(results: Sequence[Any], fig) -> bool:
    """Log-log panels of the headline series with the paper's slope through the last point (dashed)."""
    panels = [(r, _FITS[r.name]) for r in results if r.name in _FITS]
    data = [(r, spec, *_fit_data(r, spec[0], spec[1])) for r, spec in panels]
    data = [d for d in data if d[2] is not None]
    if not data:
        return False
    from matplotlib.ticker import LogLocator, NullFormatter

    for i, (r, (xk, yk, xl, yl, ref), pts, e) in enumerate(data):
        ax = fig.add_subplot(1, len(data), i + 1)
        xs, ys = zip(*pts)
        ax.loglog(xs, ys, "o-", label="measured")
        slope = _real(e.get(ref)) if isinstance(ref, str) else ref
        if slope is not None and math.isfinite(slope):
            x0, y0 = xs[-1], ys[-1]
            ax.loglog(xs, [y0 * (x / x0) ** slope for x in xs], "--", label=f"slope {slope:g} (paper)")
        # after the last loglog (which resets the axis): a series within one decade got overlapping labels at
        # 2, 3, 4, 6 x 10^k; label whole decades only
        ax.xaxis.set_major_locator(LogLocator(base=10.0))
        ax.xaxis.set_minor_formatter(NullFormatter())
        fitted = e.get("exponent")
        ax.set_title(f"{r.variant_id}" + (f"\nfitted exponent {_real(fitted):.3g}" if fitted is not None else ""),
                     fontsize="small")
        ax.set_xlabel(xl)
        ax.set_ylabel(yl, fontsize="small")
        ax.legend(fontsize="x-small")
    fig.suptitle("the paper's headline: measured series against the paper's rates")
    fig.subplots_adjust(top=0.78, wspace=0.45)
    return True


#: Plots drawn over every (non-mutant) result at once, whatever its claim: name -> function, written as
#: ``<prefix><name>.png``; :func:`register_cross_plot` adds one.
CROSS_PLOTS: Dict[str, PlotFunc] = {}


def register_cross_plot(name: str) -> Callable[[PlotFunc], PlotFunc]:
    """Decorator: draw ``fn(all_results, figure)`` into ``<name>.png`` (one figure across claims)."""

    def deco(fn: PlotFunc) -> PlotFunc:
        CROSS_PLOTS[name] = fn
        return fn

    return deco


SIZE_CAPTION = ("slack orders = log10(bound / observed) of a verdict 'observed <= bound': how many orders of "
                "magnitude the paper's bound sits above what was measured (0: tight, < 0: above the bound).  Taken "
                "from the verdict's extra['slack_orders'] (along a run: the smallest over the judged window; Lemma "
                "5.3 on a run: of the energy upper bracket), else log10 of its slack ratio.  Colour: verdict status; "
                "marker: variant.  n: training points; alpha lambda0: the output scale times lambda0 = "
                "sqrt(Lambda/n), so tau = (alpha lambda0)^2 t.  Off-scale values (observed 0: infinite slack) are "
                "counted in the corner.")
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


def _size_points(results: Sequence[Any]) -> List[Tuple[str, str, float, float, float]]:
    """``(variant, status, n, alpha lambda0, slack orders)`` of every kept verdict that records its sizes."""
    pts = []
    for r in results:
        for k in r.kept or []:
            e = k.get("extra") or {}
            if e.get("n") is None or e.get("alpha_lambda0") is None:
                continue
            so = e.get("slack_orders")
            if so is None and r.name != "audit":   # an audit's ratio is not bound/observed of a '<='
                so = _log10_ratio(k.get("slack_ratio"))
            if so is not None and not math.isnan(_real(so)):
                pts.append((r.variant_id, k["status"], _real(e["n"]), _real(e["alpha_lambda0"]), _real(so)))
    return pts


@register_cross_plot("slack-vs-size")
def slack_vs_size(results: Sequence[Any], fig) -> bool:
    """Slack orders of every dynamics verdict against n (left) and alpha lambda0 (right, log x)."""
    pts = _size_points(results)
    if not pts:
        return False
    variants = sorted({p[0] for p in pts})
    axes = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    off = sum(1 for p in pts if not math.isfinite(p[4]))
    for vi, var in enumerate(variants):
        for status in sorted({p[1] for p in pts if p[0] == var}):
            sel = [p for p in pts if p[0] == var and p[1] == status and math.isfinite(p[4])]
            colour, _, word = STATUS_STYLE.get(status, ("k", "", status.lower()))
            style = dict(marker=_MARKERS[vi % len(_MARKERS)], color=colour, s=22, alpha=0.75,
                         label=f"{var}: {word} ({len(sel)})")
            axes[0].scatter([p[2] for p in sel], [p[4] for p in sel], **style)
            axes[1].scatter([p[3] for p in sel], [p[4] for p in sel], **style)
    axes[1].set_xscale("log")
    for ax, xl in zip(axes, ("n (training points)", "alpha lambda0 (log)")):
        ax.axhline(0.0, color="k", lw=0.8)
        ax.set_xlabel(xl)
        ax.set_ylabel("slack orders log10(bound/observed)")
    if off:
        axes[0].text(0.02, 0.98, f"{off} off scale (infinite slack)", transform=axes[0].transAxes, va="top",
                     fontsize="x-small")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="center left", bbox_to_anchor=(0.79, 0.55),
               fontsize="x-small", frameon=False)
    fig.suptitle("dynamics claims: slack in orders of magnitude against the size of the case")
    fig.text(0.01, 0.01, _wrap(SIZE_CAPTION, 160), fontsize="x-small", va="bottom")
    fig.subplots_adjust(left=0.06, right=0.78, bottom=0.25, top=0.9, wspace=0.3)
    return True


def write_plots(results: Iterable[Any], directory, prefix: str = "") -> PlotOutcome:
    """PNG plots of ``results`` in ``directory``: a slack panel per claim plus registered plots.

    matplotlib is optional: without it nothing is written and ``skipped`` says what to install.
    """
    try:
        import matplotlib  # noqa: F401 - only whether it is installed; _draw imports what it uses
    except ImportError as exc:
        return PlotOutcome((), f"plots skipped: matplotlib is not installed ({exc}); {PLOTS_EXTRA_HINT}")
    from .mutants import is_mutant_id
    from .registry import load_all, pytest_id

    load_all()  # claim modules register their curves on import; an xdist controller never imports them
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    by_claim: Dict[str, List[Any]] = {}
    kept = [r for r in sorted(results, key=lambda r: (r.claim_id, r.variant_id))
            if not (getattr(r, "mutant", False) or is_mutant_id(r.variant_id))]
    for r in kept:
        by_claim.setdefault(r.claim_id, []).append(r)
    paths = []
    for cid, rs in by_claim.items():
        rs = sorted(rs, key=lambda r: ({"stated": 0, "corrected": 1, "probe": 2, "audit": 3}.get(r.name, 4), r.name))
        for name, fn in [("slack", slack_histogram)] + PLOTS.get(cid, []):
            paths += _draw(name, fn, rs, directory / f"{prefix}{pytest_id(cid)}-{name}.png")
    for name, fn in CROSS_PLOTS.items():
        paths += _draw(name, fn, kept, directory / f"{prefix}{name}.png")
    return PlotOutcome(tuple(paths))


def _draw(name: str, fn: PlotFunc, results, path: Path) -> List[Path]:
    """``[path]`` when ``fn`` drew something into a fresh figure (saved there), else ``[]``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=_figure_size(name))
    FigureCanvasAgg(fig)
    if not fn(results, fig):
        return []
    fig.savefig(path, dpi=90)
    return [path]
