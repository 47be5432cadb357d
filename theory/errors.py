"""Exception and warning hierarchy of gntk-checks (docs/architecture.md#reliability).

Every public entry point validates its arguments and raises:

* ``TypeError`` for an object of the wrong kind;
* a :class:`GntkValueError` subclass (itself a ``ValueError``) naming the argument and its value
  for a wrong value.

Warnings of our own (subclasses of :class:`GntkWarning`) flag inputs outside a claim's premises
and quadratures that did not converge; ``filterwarnings = error`` in the test configuration turns
them into failures unless a test expects them.
"""

from __future__ import annotations

__all__ = [
    "GntkError",
    "GntkValueError",
    "ShapeError",
    "NonFiniteError",
    "DomainError",
    "ActivationError",
    "MissingDerivativeError",
    "UnstableStepError",
    "ConvergenceError",
    "GntkWarning",
    "PremiseWarning",
    "QuadratureWarning",
]


class GntkError(Exception):
    """Base class of every error raised on purpose by gntk-checks."""


class GntkValueError(GntkError, ValueError):
    """A value is wrong; the message names the argument and the value."""


class ShapeError(GntkValueError):
    """An array argument has the wrong shape or number of dimensions."""


class NonFiniteError(GntkValueError):
    """An array argument holds NaN or infinity."""


class DomainError(GntkValueError):
    """A scalar argument lies outside its mathematical domain (e.g. alpha <= 0)."""


class ActivationError(GntkValueError):
    """An activation returned a value of the wrong kind or shape, NaN or inf, or raised.

    The message names the activation and the first offending ``z``; the user function's own
    exception, if any, is chained as ``__cause__``.
    """


class MissingDerivativeError(GntkError, NotImplementedError):
    """A computation needs a derivative the activation does not have (h'' of relu).

    Raised instead of silently using 0 (docs/generation.md, 'Activations outside Assumption 4.2').
    """


class UnstableStepError(GntkValueError):
    """The requested time step exceeds the stability limit of the particle scheme (docs/model.md#particle-sde-and-algorithm-1)."""


class ConvergenceError(GntkError, ArithmeticError):
    """An iterative solver (Newton, root finder, quadrature refinement) did not converge."""


class GntkWarning(UserWarning):
    """Base class of the warnings issued by gntk-checks."""


class PremiseWarning(GntkWarning):
    """An input lies outside the premises of a claim (e.g. |x| > 1 against Assumption 4.1)."""


class QuadratureWarning(GntkWarning):
    """A quadrature did not pass its refinement check (K nodes vs 2K)."""
