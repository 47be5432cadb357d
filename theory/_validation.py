"""Argument validators shared by every public entry point (DESIGN 7).

Each validator returns the cleaned value (a float64 array or a Python scalar) or raises an error
from :mod:`theory.errors` whose message names the argument and shows its offending value.
"""

from __future__ import annotations

import numbers
from typing import Optional, Sequence

import numpy as np

from .errors import DomainError, NonFiniteError, ShapeError

__all__ = [
    "as_float_array",
    "check_matrix",
    "check_vector",
    "check_positive",
    "check_nonnegative",
    "check_int",
    "check_probability",
    "check_rng",
]


def _short(value) -> str:
    """A short printable form of ``value`` for error messages."""
    text = np.array2string(np.asarray(value), threshold=6, precision=4) if hasattr(value, "__len__") else repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


def as_float_array(name: str, value, *, ndim: Optional[int] = None, finite: bool = True) -> np.ndarray:
    """Convert ``value`` to a float64 array, checking its dimension and finiteness."""
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"{name} must be an array of numbers, got {type(value).__name__}: {value!r}")
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be an array of numbers, got {type(value).__name__}") from exc
    if ndim is not None and arr.ndim != ndim:
        raise ShapeError(f"{name} must have {ndim} dimension(s), got shape {arr.shape}")
    if finite and not np.all(np.isfinite(arr)):
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise NonFiniteError(f"{name} must be finite, got {arr[tuple(bad)]} at index {tuple(int(i) for i in bad)}")
    return arr


def check_matrix(name: str, value, *, rows: Optional[int] = None, cols: Optional[int] = None) -> np.ndarray:
    """A finite 2-D float64 array, optionally with a given number of rows or columns."""
    arr = as_float_array(name, value, ndim=2)
    if rows is not None and arr.shape[0] != rows:
        raise ShapeError(f"{name} must have {rows} rows, got shape {arr.shape}")
    if cols is not None and arr.shape[1] != cols:
        raise ShapeError(f"{name} must have {cols} columns, got shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ShapeError(f"{name} must be non-empty, got shape {arr.shape}")
    return arr


def check_vector(name: str, value, *, length: Optional[int] = None) -> np.ndarray:
    """A finite 1-D float64 array, optionally of a given length."""
    arr = as_float_array(name, value, ndim=1)
    if length is not None and arr.shape[0] != length:
        raise ShapeError(f"{name} must have length {length}, got shape {arr.shape}")
    if arr.shape[0] == 0:
        raise ShapeError(f"{name} must be non-empty, got shape {arr.shape}")
    return arr


def _check_real(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, np.floating, np.integer)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}: {value!r}")
    out = float(value)
    if not np.isfinite(out):
        raise NonFiniteError(f"{name} must be finite, got {value!r}")
    return out


def check_positive(name: str, value) -> float:
    """A finite real number > 0."""
    out = _check_real(name, value)
    if out <= 0.0:
        raise DomainError(f"{name} must be > 0, got {value!r}")
    return out


def check_nonnegative(name: str, value) -> float:
    """A finite real number >= 0."""
    out = _check_real(name, value)
    if out < 0.0:
        raise DomainError(f"{name} must be >= 0, got {value!r}")
    return out


def check_int(name: str, value, *, minimum: int = 1, maximum: Optional[int] = None) -> int:
    """An integer in ``[minimum, maximum]`` (floats with integral values such as 1e4 are accepted)."""
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an integer, got bool {value!r}")
    if isinstance(value, (numbers.Integral, np.integer)):
        out = int(value)
    elif isinstance(value, (numbers.Real, np.floating)) and float(value).is_integer():
        out = int(value)
    else:
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}: {value!r}")
    if out < minimum or (maximum is not None and out > maximum):
        hi = "" if maximum is None else f" and <= {maximum}"
        raise DomainError(f"{name} must be >= {minimum}{hi}, got {value!r}")
    return out


def check_probability(name: str, value, *, open_interval: bool = True) -> float:
    """A number in (0, 1) (or [0, 1] when ``open_interval`` is False)."""
    out = _check_real(name, value)
    ok = 0.0 < out < 1.0 if open_interval else 0.0 <= out <= 1.0
    if not ok:
        raise DomainError(f"{name} must lie in {'(0, 1)' if open_interval else '[0, 1]'}, got {value!r}")
    return out


def check_rng(name: str, value) -> np.random.Generator:
    """A ``numpy.random.Generator``; an int seed is accepted and turned into ``default_rng(seed)``."""
    if isinstance(value, np.random.Generator):
        return value
    if isinstance(value, (numbers.Integral, np.integer)) and not isinstance(value, bool):
        return np.random.default_rng(int(value))
    raise TypeError(f"{name} must be a numpy.random.Generator or an int seed, got {type(value).__name__}: {value!r}")


def check_same_length(names: Sequence[str], *arrays: np.ndarray) -> None:
    """All arrays share their first dimension."""
    lengths = [a.shape[0] for a in arrays]
    if len(set(lengths)) > 1:
        desc = ", ".join(f"{n} has {l}" for n, l in zip(names, lengths))
        raise ShapeError(f"first dimensions must agree: {desc}")
