"""Datasets (X, y): validation and small constructors used by the claims (docs/evidence.md#tiers, 2.4, 4.7).

``X`` is an (n, d) array with rows x_i and ``y`` an (n,) array of labels.  Assumption 4.1
(|x_i| <= 1, |y_i| <= 1) is *not* enforced here; :mod:`theory.assumptions` reports on it, so that
premise-boundary cases stay constructible.
"""

from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

from ._validation import as_float_array, check_int, check_matrix, check_rng, check_vector
from .errors import DomainError, ShapeError

__all__ = ["check_dataset", "unit_directions", "orthonormal_inputs", "sphere_inputs"]


def check_dataset(X, y=None) -> Tuple[np.ndarray, Optional[np.ndarray]]:
    """Validate a dataset and return it as float64 arrays ``(X, y)`` (``y`` None when not given).

    Rules: X is a finite 2-D array with n >= 1 rows and d >= 1 columns; y, when given, is a finite
    1-D array of length n.

    Raises
    ------
    TypeError
        X or y is not an array of numbers.
    ShapeError
        Wrong number of dimensions, an empty axis, or len(y) != n.
    NonFiniteError
        NaN or infinity in X or y.
    """
    X = check_matrix("X", X)
    if y is None:
        return X, None
    y = check_vector("y", y, length=X.shape[0])
    return X, y


def unit_directions(angles, *, degrees: bool = True) -> np.ndarray:
    """Unit vectors in the plane, ``x_i = (cos a_i, sin a_i)``; shape (n, 2).

    Parameters
    ----------
    angles : (n,) array
        Angles, in degrees by default (docs/kernels.md#reference-numbers uses 0, 45, 90, 135 degrees).
    degrees : bool
        False to pass radians.
    """
    a = check_vector("angles", angles)
    if degrees:
        a = np.deg2rad(a)
    return np.stack([np.cos(a), np.sin(a)], axis=1)


def orthonormal_inputs(n: int, d: int, rng=None) -> np.ndarray:
    """n orthonormal rows in R^d (n <= d): ``e_1..e_n``, or a random orthonormal frame if ``rng``.

    These satisfy Assumption 4.1 and give i.i.d. z_i = theta . x_i ~ N(0, 1) (docs/claims.md#lemma-55).

    Parameters
    ----------
    n, d : int
        Number of inputs and dimension, 1 <= n <= d.
    rng : numpy.random.Generator or int or None
        If given, the frame is rotated by a Haar-random orthogonal matrix drawn from it.
    """
    n = check_int("n", n)
    d = check_int("d", d)
    if n > d:
        raise DomainError(f"n must be <= d for orthonormal inputs, got n={n}, d={d}")
    X = np.eye(d)[:n]
    if rng is None:
        return X
    rng = check_rng("rng", rng)
    q, r = np.linalg.qr(rng.standard_normal((d, d)))
    # Sign fix of the QR factor makes q Haar-distributed rather than biased by QR's sign convention.
    q = q * np.sign(np.diag(r))
    return X @ q.T


def sphere_inputs(n: int, d: int, rng, *, r_min: float = 1.0, r_max: float = 1.0) -> np.ndarray:
    """n inputs with uniform directions on S^{d-1} and radii uniform in [r_min, r_max] (docs/generation.md).

    Parameters
    ----------
    n, d : int
        Number of inputs and dimension.
    rng : numpy.random.Generator or int
        Source of randomness.
    r_min, r_max : float
        Radius range, 0 <= r_min <= r_max (Assumption 4.1 needs r_max <= 1; not enforced).
    """
    n = check_int("n", n)
    d = check_int("d", d)
    rng = check_rng("rng", rng)
    lo = float(as_float_array("r_min", r_min, ndim=0))
    hi = float(as_float_array("r_max", r_max, ndim=0))
    if not 0.0 <= lo <= hi:
        raise DomainError(f"need 0 <= r_min <= r_max, got r_min={r_min!r}, r_max={r_max!r}")
    g = rng.standard_normal((n, d))
    norms = np.linalg.norm(g, axis=1)
    if np.any(norms == 0.0):  # probability zero; guard so a division never makes NaN
        raise ShapeError("a zero Gaussian direction was drawn; draw again with another seed")
    return g / norms[:, None] * rng.uniform(lo, hi, size=n)[:, None]
