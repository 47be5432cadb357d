"""Fitted rates: power-law exponents with confidence intervals, from values with standard errors.

The headline checks (docs/claims.md#headline) and the kernel-regime and Algorithm 1 audits report how
a quantity scales with alpha, n or m as a fitted exponent with an interval, never as a bare slope.
:func:`fit_power_law` fits ``log y = c + p log x`` by weighted least squares with the weights
``(y / se)^2`` of the delta method (``se(log y) = se(y) / y``); points whose value is not resolved
above its own noise (``y <= resolve_z * se``) are left out, since their logarithm is noise.
:func:`fit_decay_rate` fits an exponential rate ``y ~ C exp(-k t)`` from independent replicas, with a
jackknife interval over the replicas (the headline's transient rate, docs/claims.md#headline).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np
from scipy import stats

from ._validation import as_float_array, check_positive
from .errors import DomainError, ShapeError

__all__ = ["PowerFit", "fit_power_law", "DecayFit", "fit_decay_rate", "ratio_se"]


@dataclass(frozen=True)
class PowerFit:
    """``y ~ C x^slope`` fitted on the resolved points.

    ``slope``, ``slope_se``, ``ci`` (two-sided interval at ``level``), ``log_c`` (intercept of
    log y), ``used`` (bool mask of the resolved points), ``decades`` (log10 span of the resolved x),
    ``dof`` (resolved points - 2) and ``chi2_dof`` (reduced chi^2, NaN-free: 0 when dof = 0).
    """

    slope: float
    slope_se: float
    ci: Tuple[float, float]
    log_c: float
    used: np.ndarray
    decades: float
    dof: int
    chi2_dof: float
    level: float

    def contains(self, value: float) -> bool:
        """Whether ``value`` lies in the confidence interval."""
        return self.ci[0] <= value <= self.ci[1]

    def to_dict(self) -> dict:
        return {"slope": self.slope, "slope_se": self.slope_se, "ci": list(self.ci), "level": self.level,
                "decades": self.decades, "dof": self.dof, "chi2_dof": self.chi2_dof,
                "points_used": int(np.sum(self.used))}


def fit_power_law(x, y, se=None, *, level: float = 0.95, resolve_z: float = 3.0,
                  correction=None) -> Optional[PowerFit]:
    """Weighted log-log fit of ``y ~ C x^p`` with a confidence interval on p; None if < 2 points resolve.

    Parameters
    ----------
    x, y : (N,) arrays
        Abscissae (> 0) and values; ``y`` must be >= 0 where resolved.
    se : (N,) array or None
        Standard errors of ``y`` (inf: a point without a trustworthy value, left out); None: exact values (unit weights, the interval then comes from the
        scatter about the line alone, which needs at least 3 points).
    level : float in (0, 1)
        Two-sided confidence level of ``ci``.
    resolve_z : float
        A point is used only where ``y > resolve_z * se``.
    correction : float, tuple of floats, or None
        If given (q > 0, or several), fit ``log y = c + p log x + sum_q b_q (x / x_min)^-q`` instead: the
        corrections of an asymptotic power law (e.g. q = 2, 4 for KL(p*) ~ alpha^-2 (1 + O(alpha^-2))), so
        that the pre-asymptotic points do not bias p; each costs one degree of freedom.

    Returns
    -------
    PowerFit or None
        The slope's standard error is the weighted-least-squares one, inflated by sqrt(chi^2/dof)
        when the scatter exceeds the standard errors (a misfit widens the interval, never narrows
        it); the interval uses Student's t with dof degrees of freedom (the normal law at dof = 0).
    """
    x = as_float_array("x", x, ndim=1)
    y = as_float_array("y", y, ndim=1)
    if x.shape != y.shape:
        raise ShapeError(f"x {x.shape} and y {y.shape} must have the same shape")
    if np.any(x <= 0) or not np.all(np.isfinite(x)):
        raise DomainError(f"x must be finite and > 0, got {x!r}")
    if not 0.0 < level < 1.0:
        raise DomainError(f"level must lie in (0, 1), got {level!r}")
    check_positive("resolve_z", resolve_z)
    exact = se is None
    # an infinite se marks a point with no trustworthy value (it is left out); NaN is refused
    se = np.zeros_like(y) if exact else as_float_array("se", se, ndim=1, finite=False, max_abs=None)
    if se.shape != y.shape or np.any(se < 0) or np.any(np.isnan(se)):
        raise DomainError(f"se must be >= 0 with the shape of y {y.shape}, got {se!r}")
    used = np.isfinite(y) & (y > resolve_z * se) & (y > 0)
    qs = () if correction is None else tuple(np.atleast_1d(np.asarray(correction, dtype=float)).tolist())
    extra_cols = len(qs)
    if used.sum() < (3 if exact else 2) + extra_cols:
        return None
    lx, ly = np.log(x[used]), np.log(y[used])
    sig = np.ones_like(ly) if exact else np.maximum(se[used] / y[used], 1e-300)
    w = 1.0 / sig ** 2
    cols = [np.ones_like(lx), lx]
    for q in qs:
        cols.append((x[used] / x[used].min()) ** -check_positive("correction", q))
    A = np.stack(cols, axis=1)
    cov = np.linalg.inv(A.T @ (w[:, None] * A))
    coef = cov @ (A.T @ (w * ly))
    resid = (ly - A @ coef) / sig
    dof = int(used.sum()) - A.shape[1]
    chi2_dof = float(resid @ resid / dof) if dof > 0 else 0.0
    inflate = chi2_dof if exact else max(1.0, chi2_dof)
    slope_se = math.sqrt(cov[1, 1] * inflate)
    q = float(stats.t.ppf(0.5 + level / 2, dof)) if dof > 0 else float(stats.norm.ppf(0.5 + level / 2))
    decades = float(np.log10(x[used].max() / x[used].min()))
    slope = float(coef[1])
    return PowerFit(slope, slope_se, (slope - q * slope_se, slope + q * slope_se), float(coef[0]), used,
                    decades, dof, chi2_dof, level)


@dataclass(frozen=True)
class DecayFit:
    """``y(t) ~ C exp(-rate t)`` fitted on the replica mean, with a jackknife interval over replicas.

    ``rate``, ``rate_se`` (jackknife), ``ci`` (Student t with R - 1 degrees of freedom at ``level``),
    ``replicas`` (R), ``points`` (records fitted), ``span`` (t range fitted), ``decades`` (log10 of the
    mean's fall over the fit) and ``leave_one_out`` (the R jackknife rates).
    """

    rate: float
    rate_se: float
    ci: Tuple[float, float]
    level: float
    replicas: int
    points: int
    span: float
    decades: float
    leave_one_out: np.ndarray

    def to_dict(self) -> dict:
        return {"rate": self.rate, "rate_se": self.rate_se, "ci": list(self.ci), "level": self.level,
                "replicas": self.replicas, "points": self.points, "span": self.span, "decades": self.decades}


def _log_slope(t: np.ndarray, y: np.ndarray) -> float:
    """Least-squares slope of log y against t (every y > 0)."""
    tc = t - t.mean()
    return float(tc @ np.log(y) / (tc @ tc))


def fit_decay_rate(t, values, *, level: float = 0.95) -> Optional[DecayFit]:
    """Exponential decay rate of the replica mean of ``values`` against ``t``; None if it cannot be fitted.

    Parameters
    ----------
    t : (N,) array
        Strictly increasing, finite times (N >= 3).
    values : (N, R) array
        R >= 2 independent replicas of the decaying quantity at each time (finite; a replica may be
        <= 0 where it is noise, but the mean and every leave-one-out mean must be > 0).
    level : float in (0, 1)
        Two-sided level of ``ci``.

    Returns
    -------
    DecayFit or None
        The rate is ``-d log(mean)/dt`` by least squares.  The times along one replica are correlated
        (one path), so no per-point weights are claimed: the uncertainty is the jackknife over the
        independent replicas (each leave-one-out mean refitted), and the interval uses Student's t with
        R - 1 degrees of freedom.  None when a mean or a leave-one-out mean is not > 0 (its logarithm is
        undefined: the points are not resolved above the noise).
    """
    t = as_float_array("t", t, ndim=1)
    y = as_float_array("values", values, ndim=2)
    if y.shape[0] != t.size:
        raise ShapeError(f"values must have shape (N={t.size}, R), got {y.shape}")
    if t.size < 3 or np.any(np.diff(t) <= 0):
        raise DomainError(f"t must be strictly increasing with at least 3 points, got {t!r}")
    R = y.shape[1]
    if R < 2:
        raise DomainError(f"the jackknife needs at least 2 replicas, got R={R}")
    if not 0.0 < level < 1.0:
        raise DomainError(f"level must lie in (0, 1), got {level!r}")
    mean = y.mean(axis=1)
    loo = (y.sum(axis=1)[:, None] - y) / (R - 1)                      # (N, R) leave-one-out means
    if not (np.all(mean > 0) and np.all(loo > 0)):
        return None
    rate = -_log_slope(t, mean)
    rates = np.array([-_log_slope(t, loo[:, r]) for r in range(R)])
    se = math.sqrt((R - 1) / R * float(np.sum((rates - rates.mean()) ** 2)))
    q = float(stats.t.ppf(0.5 + level / 2, R - 1))
    return DecayFit(rate, se, (rate - q * se, rate + q * se), level, R, int(t.size), float(t[-1] - t[0]),
                    float(np.log10(mean[0] / mean[-1])), rates)


def ratio_se(a: float, se_a: float, b: float, se_b: float) -> float:
    """Delta-method standard error of ``a / b`` for independent a and b (b != 0)."""
    if b == 0:
        raise DomainError("ratio_se needs b != 0")
    return abs(a / b) * math.sqrt((se_a / a) ** 2 + (se_b / b) ** 2) if a != 0 else abs(se_a / b)
