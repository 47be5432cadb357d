"""Argument validators shared by every public entry point (docs/architecture.md, "Bad input").

Each validator returns the cleaned value (a float64 array or a Python scalar) or raises an error
from :mod:`theory.errors` whose message names the argument and shows its offending value.
"""

from __future__ import annotations

import functools
import inspect
import math
import numbers
import warnings
from typing import Optional, Sequence

import numpy as np

from .errors import ActivationError, DomainError, NonFiniteError, ShapeError

__all__ = [
    "guard_numerics",
    "as_float_array",
    "check_matrix",
    "check_vector",
    "check_positive",
    "check_nonnegative",
    "check_int",
    "check_probability",
    "check_rng",
    "check_seed",
    "check_real",
    "check_activation_output",
    "check_same_length",
    "check_weights",
    "check_scale",
    "MAX_ABS",
    "SCALE_LIMIT",
]


def _short(value) -> str:
    """A short printable form of ``value`` for error messages."""
    try:
        text = np.array2string(np.asarray(value), threshold=6, precision=4) if hasattr(value, "__len__") else repr(value)
    except (TypeError, ValueError):  # ragged nested lists: numpy cannot print them as an array
        text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


#: Largest magnitude accepted in an array argument.  Squares of entries up to 1e150 (1e300) and
#: sums of millions of them stay below the float64 limit 1.8e308, so the quadratic forms of the
#: kernels and divergences (x . x, m^T S^-1 m, theta . x) cannot overflow; beyond it they would,
#: silently.  Every array of this project lives many orders below it (Assumption 4.1: |x| <= 1).
MAX_ABS = 1e150


def _real_array(name: str, value) -> np.ndarray:
    """``value`` as an array of a real kind (float or integer), else TypeError naming ``name``."""
    if isinstance(value, np.ndarray) and value.dtype.kind in "fiu":
        return value  # the common case, without further checks
    if isinstance(value, (str, bytes)) or value is None or isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be an array of numbers, got {type(value).__name__}: {value!r}")
    try:
        arr = np.asarray(value)  # numpy >= 1.24 raises ValueError on ragged nested lists
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be an array of numbers, got {type(value).__name__}: {_short(value)}") from exc
    if arr.dtype.kind == "O":
        # Objects are accepted only when every element is a real number (Fraction, Decimal, int).
        flat = arr.ravel()
        if not all(isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_)) for v in flat):
            raise TypeError(f"{name} must be an array of real numbers, got an object array: {_short(value)}")
        return arr.astype(np.float64)
    if arr.dtype.kind not in "fiu":
        kind = {"b": "bool", "c": "complex", "U": "string", "S": "bytes"}.get(arr.dtype.kind, str(arr.dtype))
        raise TypeError(f"{name} must be an array of real numbers (float or integer), got dtype {kind}: {_short(value)}")
    return arr


def as_float_array(name: str, value, *, ndim: Optional[int] = None, finite: bool = True,
                   max_abs: Optional[float] = MAX_ABS) -> np.ndarray:
    """Convert ``value`` to a float64 array, checking its kind, dimension, finiteness and scale.

    Raises
    ------
    TypeError
        Not an array of real numbers (strings, bool, complex, objects, ragged lists).
    ShapeError, NonFiniteError, DomainError
        Wrong number of dimensions; NaN or inf; an entry beyond ``max_abs`` (:data:`MAX_ABS`).
    """
    arr = _real_array(name, value)
    with np.errstate(over="ignore"):  # float128 or huge ints beyond float64: become inf, reported below
        arr = arr.astype(np.float64, copy=False)
    if ndim is not None and arr.ndim != ndim:
        raise ShapeError(f"{name} must have {ndim} dimension(s), got shape {arr.shape}")
    if finite and arr.size:
        # One pass each for max and min (NaN propagates through both) instead of an isfinite mask.
        big = max(float(arr.max()), -float(arr.min()))
        if not math.isfinite(big):
            bad = np.argwhere(~np.isfinite(arr))[0]
            raise NonFiniteError(f"{name} must be finite, got {arr[tuple(bad)]} at index {tuple(int(i) for i in bad)}")
        if max_abs is not None and big > max_abs:
            raise DomainError(f"{name} has an entry of size {big:.3g}, beyond {max_abs:.0e}: its squares and "
                              f"products would overflow float64")
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
    if isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "fiu":
        value = value[()]  # a 0-d array of a real kind is a scalar
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.floating, np.integer)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}: {value!r}")
    try:
        out = float(value)
    except OverflowError:  # an int beyond float64
        raise NonFiniteError(f"{name} must be finite, got an integer of {len(str(value))} digits") from None
    if not np.isfinite(out):
        raise NonFiniteError(f"{name} must be finite, got {value!r}")
    return out


def check_positive(name: str, value, *, minimum: Optional[float] = None, maximum: Optional[float] = None,
                   why: str = "") -> float:
    """A finite real number > 0 and, when given, in ``[minimum, maximum]``.

    ``minimum``/``maximum`` encode a scale check: the range in which the computation that follows
    stays inside float64 (``why`` names that computation in the message).
    """
    out = _check_real(name, value)
    if out <= 0.0:
        raise DomainError(f"{name} must be > 0, got {value!r}")
    if minimum is not None and out < minimum:
        raise DomainError(f"{name} must be >= {minimum:g}{_why(why)}, got {value!r}")
    if maximum is not None and out > maximum:
        raise DomainError(f"{name} must be <= {maximum:g}{_why(why)}, got {value!r}")
    return out


def _why(why: str) -> str:
    return f" ({why})" if why else ""


def check_nonnegative(name: str, value, *, maximum: Optional[float] = None, why: str = "") -> float:
    """A finite real number >= 0 and, when given, <= ``maximum``."""
    out = _check_real(name, value)
    if out < 0.0:
        raise DomainError(f"{name} must be >= 0, got {value!r}")
    if maximum is not None and out > maximum:
        raise DomainError(f"{name} must be <= {maximum:g}{_why(why)}, got {value!r}")
    return out


def check_real(name: str, value) -> float:
    """A finite real number (0-d arrays and numpy scalars accepted; bool is not a number here)."""
    return _check_real(name, value)


def check_int(name: str, value, *, minimum: int = 1, maximum: Optional[int] = None) -> int:
    """An integer in ``[minimum, maximum]`` (floats with integral values such as 1e4 are accepted)."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be an integer, got bool {value!r}")
    if isinstance(value, (numbers.Integral, np.integer)):
        out = int(value)
    elif isinstance(value, (numbers.Real, np.floating)) and not math.isfinite(float(value)):
        raise NonFiniteError(f"{name} must be a finite integer, got {value!r}")
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
    """A ``numpy.random.Generator``; an int seed >= 0 is accepted and turned into ``default_rng(seed)``."""
    if isinstance(value, np.random.Generator):
        return value
    if isinstance(value, (numbers.Integral, np.integer)) and not isinstance(value, (bool, np.bool_)):
        return np.random.default_rng(check_seed(name, value))
    raise TypeError(f"{name} must be a numpy.random.Generator or an int seed, got {type(value).__name__}: {value!r}")


def check_seed(name: str, value) -> int:
    """An integer seed >= 0 (numpy's seed sequences take no negative entropy)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Integral, np.integer)):
        raise TypeError(f"{name} must be an integer seed, got {type(value).__name__}: {value!r}")
    if int(value) < 0:
        raise DomainError(f"{name} must be a seed >= 0, got {value!r}")
    return int(value)


def check_activation_output(act_name: str, order: int, z: np.ndarray, value) -> np.ndarray:
    """The order-``order`` derivative of a user activation, checked for kind, shape and finiteness.

    A scalar broadcasts to the shape of ``z``; anything else of another shape, or NaN/inf at a
    finite ``z``, raises :class:`~theory.errors.ActivationError` naming the activation and the
    first offending ``z`` (which is how a quadrature node where ``h`` overflows is reported).
    """
    which = "h" if order == 0 else "h" + "'" * order
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ActivationError(f"activation {act_name!r}: {which}(z) returned {type(value).__name__}, "
                              f"not an array of numbers") from exc
    if arr.shape != z.shape:
        if arr.ndim != 0:
            raise ActivationError(f"activation {act_name!r}: {which}(z) must have the shape of z {z.shape}, "
                                  f"got shape {arr.shape}")
        arr = np.broadcast_to(arr, z.shape).copy()
    bad = ~np.isfinite(arr) & np.isfinite(z)
    if np.any(bad):
        i = tuple(int(k) for k in np.argwhere(bad)[0])
        raise ActivationError(f"activation {act_name!r}: {which}(z) = {arr[i]} at z = {z[i]!r}; an "
                              f"activation must be finite on the reals (Assumption 4.2)")
    return arr


def check_same_length(names: Sequence[str], *arrays: np.ndarray) -> None:
    """All arrays share their first dimension."""
    lengths = [a.shape[0] for a in arrays]
    if len(set(lengths)) > 1:
        desc = ", ".join(f"{n} has {l}" for n, l in zip(names, lengths))
        raise ShapeError(f"first dimensions must agree: {desc}")


#: Weights of one measure must sum to one up to this much: quadrature weights are normalised in
#: float64, so their sum is 1 within a few ulps per node; 1e-9 leaves room for 1e6 nodes.
WEIGHT_SUM_TOL = 1e-9


def check_weights(name: str, weights, shape) -> np.ndarray:
    """Probability weights of the given shape: finite, >= 0, summing to 1 along the last axis."""
    weights = as_float_array(name, weights)
    if weights.shape != tuple(shape):
        raise ShapeError(f"{name} must have shape {tuple(shape)}, got shape {weights.shape}")
    if np.any(weights < 0):
        raise DomainError(f"{name} must be >= 0, got minimum {weights.min()!r}")
    sums = weights.sum(axis=-1)
    if np.any(np.abs(sums - 1.0) > WEIGHT_SUM_TOL):
        worst = sums.flat[np.argmax(np.abs(sums - 1.0))]
        raise DomainError(f"{name} must sum to 1 along the last axis (a probability measure), got a sum of {worst!r}")
    return weights


#: Largest value a product of arguments may reach before a formula squares it: 1e150^2 = 1e300
#: leaves room below the float64 limit (1.8e308) for the constants and sums that follow.
SCALE_LIMIT = 1e150


def check_scale(name: str, value: float, size: float, *, limit: float = SCALE_LIMIT, why: str = "") -> None:
    """Refuse, before computing, a combination of arguments whose ``size`` would overflow float64.

    ``size`` is the magnitude the formula is about to square (``|x| c / s`` for the erf kernel);
    ``name`` and ``value`` identify the argument that makes it too large.
    """
    if not size <= limit:
        raise DomainError(f"{name} = {value!r} makes {why or 'an intermediate value'} of size {size:.3g}, "
                          f"beyond {limit:.0e}: its square would overflow float64")


def _scalar_arguments(func, args, kwargs) -> str:
    """``name = value`` for the numeric scalar arguments of a call (what an overflow message must name)."""
    try:
        bound = inspect.signature(func).bind(*args, **kwargs)
    except TypeError:
        return ""
    parts = [f"{k} = {v!r}" for k, v in bound.arguments.items()
             if isinstance(v, numbers.Real) and not isinstance(v, bool) or (isinstance(v, np.ndarray) and v.ndim == 0)]
    return ", ".join(parts)


def _finite_result(out) -> bool:
    if isinstance(out, (float, np.floating)):
        return math.isfinite(out)
    if isinstance(out, np.ndarray) and out.dtype.kind == "f":
        return bool(np.all(np.isfinite(out)))
    return True


def guard_numerics(func):
    """Turn numerical breakdown inside ``func`` into a :class:`DomainError` naming its scalar arguments.

    Python floats raise ``OverflowError`` (``x ** 2``) or ``ZeroDivisionError`` (a denominator underflowed
    to 0); numpy overflow is a RuntimeWarning, turned into an error here; and a float or float-array result
    must be finite.  The message names the function and the values of its numeric scalar arguments, so an
    argument outside the representable range is reported as such, never as an inf, a NaN or a foreign
    traceback (docs/architecture.md#reliability).
    """
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", RuntimeWarning)
                out = func(*args, **kwargs)
        except (OverflowError, ZeroDivisionError, FloatingPointError, RuntimeWarning) as exc:
            raise DomainError(f"{func.__name__}: the arguments {_scalar_arguments(func, args, kwargs)} are outside "
                              f"the representable range ({type(exc).__name__}: {exc})") from None
        if not _finite_result(out):
            raise DomainError(f"{func.__name__} is not finite at {_scalar_arguments(func, args, kwargs)}: the "
                              "arguments are outside the representable range")
        return out
    return wrapper
