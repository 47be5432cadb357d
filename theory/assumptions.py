"""Assumptions 4.1-4.3 of the paper as functions that say whether they hold and by how much.

* 4.1: ``|x_i| <= 1`` and ``|y_i| <= 1`` for all i;
* 4.2: ``ht`` is C^3 with G1..G5 finite (docs/kernels.md#activation-constants);
* 4.3: ``Lambda = lambda_min(H(p0)) > 0`` (docs/kernels.md), decided against the quadrature error with
  three outcomes (docs/errata.md#e14): a Lambda of order 1e-17 is not evidence of positivity.

Each returns an :class:`AssumptionReport`; none of them raises or warns on a failed premise
(a premise-boundary case is a legitimate input).  :func:`warn_if_outside_4_1` is the variant that
emits :class:`~theory.errors.PremiseWarning`.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import List, Optional

import numpy as np

from .activations import Activation, get_activation
from .data import check_dataset
from .errors import PremiseWarning
from .kernels import KernelConstants, kernel_constants

__all__ = [
    "AssumptionReport",
    "assumption_4_1",
    "assumption_4_2",
    "assumption_4_3",
    "warn_if_outside_4_1",
    "lambda_tolerance",
]

_EPS = float(np.finfo(np.float64).eps)


@dataclass(frozen=True)
class AssumptionReport:
    """Whether an assumption holds, by how much, and why.

    Attributes
    ----------
    holds : bool
        True iff ``status == "holds"``.
    margin : float
        Signed distance from failing (> 0 holds); its meaning is given by each function.
    detail : str
        Human-readable explanation with the numbers behind the decision.
    status : {"holds", "fails", "inconclusive"}
    """

    holds: bool
    margin: float
    detail: str
    status: str

    def __post_init__(self):
        if self.status not in ("holds", "fails", "inconclusive"):
            raise ValueError(f"status must be 'holds', 'fails' or 'inconclusive', got {self.status!r}")
        if self.holds != (self.status == "holds"):
            raise ValueError(f"holds={self.holds!r} contradicts status={self.status!r}")
        if math.isnan(self.margin):
            raise ValueError("margin must not be NaN")


def _report(status: str, margin: float, detail: str) -> AssumptionReport:
    return AssumptionReport(holds=status == "holds", margin=float(margin), detail=detail, status=status)


def assumption_4_1(X, y=None) -> AssumptionReport:
    """Assumption 4.1: ``max_i |x_i| <= 1`` and ``max_i |y_i| <= 1``.

    ``margin = 1 - max(max_i |x_i|, max_i |y_i|)``.  A norm that exceeds 1 only by the rounding of
    its own computation, ``(d + 2) eps`` (sum of d squares and a square root), still counts as 1:
    unit vectors built as ``x / |x|`` or ``(cos a, sin a)`` must not fail the premise.
    """
    X, y = check_dataset(X, y)
    xmax = float(np.max(np.linalg.norm(X, axis=1)))
    ymax = float(np.max(np.abs(y))) if y is not None else 0.0
    worst = max(xmax, ymax)
    slack = (X.shape[1] + 2) * _EPS
    status = "holds" if worst <= 1.0 + slack else "fails"
    detail = f"max|x_i| = {xmax:.17g}" + (f", max|y_i| = {ymax:.17g}" if y is not None else "")
    detail += "; both must be <= 1" if status == "holds" else "; Assumption 4.1 needs both <= 1"
    return _report(status, 1.0 - worst, detail)


def warn_if_outside_4_1(X, y=None) -> AssumptionReport:
    """:func:`assumption_4_1`, emitting :class:`PremiseWarning` when it fails; returns the report."""
    rep = assumption_4_1(X, y)
    if not rep.holds:
        warnings.warn(f"inputs outside Assumption 4.1: {rep.detail} (margin {rep.margin:.3g})",
                      PremiseWarning, stacklevel=2)
    return rep


def assumption_4_2(act) -> AssumptionReport:
    """Assumption 4.2: ``ht`` is C^3 with finite G1..G5 (docs/kernels.md#activation-constants).

    The assumption is qualitative, so ``margin`` is ``+inf`` when it holds and ``-inf`` when not.
    """
    act = get_activation(act)
    if not act.admissible:
        return _report("fails", -math.inf, f"activation {act.name!r} is flagged non-admissible "
                                            f"(not C^3 with bounded derivatives)")
    g = act.constants
    values = g.as_tuple()
    if not all(math.isfinite(v) for v in values):
        return _report("fails", -math.inf, f"activation {act.name!r} has an infinite constant: G1..G5 = {values}")
    return _report("holds", math.inf, f"activation {act.name!r}: G1..G5 = "
                                      f"{tuple(round(v, 6) for v in values)} ({g.method}), G = {g.G:.6g}")


def lambda_tolerance(consts: KernelConstants) -> float:
    """The threshold below which |Lambda| cannot be told apart from 0 (Assumption 4.3).

    Eigenvalue perturbation (Weyl): ``|lambda_min(H + E) - lambda_min(H)| <= ||E||_2 <= n max|E_ij|``.
    Two sources of E:

    * quadrature: ``quad_error`` = max |H(2K) - H(K)| over entries, which over-estimates the error
      of the reported 2K values (spectral convergence), so ``n * quad_error`` is conservative;
    * rounding: each entry is a weighted sum of K^2 products bounded by ||H||, accurate to a few
      tens of eps relative, and eigvalsh adds O(n eps ||H||); ``64 n eps ||H||_2`` covers both.
    """
    if not isinstance(consts, KernelConstants):
        raise TypeError(f"consts must be a KernelConstants (from kernel_constants), got {type(consts).__name__}: {consts!r}")
    return consts.n * consts.quad_error + 64.0 * consts.n * _EPS * consts.H_norm


def _structural_reasons(X: np.ndarray, act: Activation) -> List[str]:
    """Exact reasons for Lambda = 0 that can be read off the data (docs/kernels.md#degenerate-data)."""
    reasons = []
    n = X.shape[0]
    norms = np.linalg.norm(X, axis=1)
    for i in range(n):
        if act.odd and norms[i] == 0.0:
            reasons.append(f"x_{i} = 0 with an odd activation (row {i} of H is zero)")
        for j in range(i + 1, n):
            if np.array_equal(X[i], X[j]):
                reasons.append(f"x_{i} = x_{j} (duplicate rows of H)")
            elif act.odd and norms[i] > 0 and np.array_equal(X[i], -X[j]):
                reasons.append(f"x_{j} = -x_{i} with an odd activation (rows of H are negatives)")
    return reasons


def assumption_4_3(X, act, K: int = 80, *, constants: Optional[KernelConstants] = None) -> AssumptionReport:
    """Assumption 4.3: ``Lambda = lambda_min(H(p0)) > 0``, decided against the quadrature error.

    With ``tol`` from :func:`lambda_tolerance` (``n quad_error + 64 n eps ||H||_2``):

    * ``Lambda > tol``: "holds";
    * ``|Lambda| <= tol``: "fails": Lambda is indistinguishable from 0 (docs/errata.md#e14: values of order
      1e-17 on the degenerate sets of docs/kernels.md#degenerate-data are rounding, not positivity);
    * ``Lambda < -tol``: "inconclusive": H(p0) is PSD, so a clearly negative eigenvalue means the
      quadrature did not resolve H (raise K).

    ``margin = Lambda - tol``.  ``constants`` may pass a precomputed :func:`kernel_constants` result
    for the same (X, act, K) to avoid recomputing the Gram matrix.
    """
    X, _ = check_dataset(X)
    act = get_activation(act)
    consts = kernel_constants(X, act, K) if constants is None else constants
    tol = lambda_tolerance(consts)
    lam = consts.Lambda
    numbers = f"Lambda = {lam:.6g}, tolerance = {tol:.3g} (quad_error = {consts.quad_error:.3g}, n = {consts.n})"
    if lam > tol:
        return _report("holds", lam - tol, numbers)
    if lam >= -tol:
        why = "; ".join(_structural_reasons(X, act)) or "no structural reason detected"
        return _report("fails", lam - tol, f"{numbers}: Lambda is indistinguishable from 0 ({why})")
    return _report("inconclusive", lam - tol,
                   f"{numbers}: Lambda < -tolerance although H(p0) is PSD; the quadrature did not "
                   f"resolve H (increase K)")
