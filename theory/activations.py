"""Activations ``ht: R -> R`` and the constants G1..G5, G of Assumption 4.2 (docs/kernels.md#activation-constants).

An :class:`Activation` carries ``h`` and its derivatives up to order four (the fourth is needed
only to certify G5 for user-supplied functions), vectorised over numpy arrays, together with the
constants

    G1 = sup|h|,  G2 = sup|h'|,  G3 = sup|h''|,  G4 = sup|h' + z h''|,  G5 = sup|h'''|,  G = max_i G_i.

Built-ins (tanh, sigmoid, erf) carry the closed forms of docs/kernels.md#activation-constants; the scaled family
``c * h(z / s)`` maps them by G1 -> c G1, G2 -> c G2/s, G3 -> c G3/s^2, G4 -> c G4/s,
G5 -> c G5/s^3.  Any other activation (a positive combination, or a user function) gets a
*certified upper bound* from :func:`certified_sup`: a grid maximum plus a Lipschitz allowance from
the certified bound of the next derivative, plus the values far out in the tails.  A bare grid
maximum would underestimate a sup and manufacture false violations.

Non-admissible activations (relu, softplus, identity) exist for premise probes and for the
Gaussian-closure oracle (docs/model.md#gaussian-closure-oracle); they are flagged ``admissible=False`` and a derivative they do
not have raises :class:`~theory.errors.MissingDerivativeError` instead of returning 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence, Tuple

import numpy as np
from scipy import special

from ._validation import as_float_array, check_activation_output, check_int, check_positive, check_vector
from .errors import ActivationError, DomainError, MissingDerivativeError, ShapeError

__all__ = [
    "GConstants",
    "Activation",
    "TANH",
    "SIGMOID",
    "ERF",
    "RELU",
    "SOFTPLUS",
    "IDENTITY",
    "BUILTINS",
    "get_activation",
    "scaled",
    "combination",
    "from_callables",
    "certified_sup",
]

_SQRT_PI = math.sqrt(math.pi)
Func = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class GConstants:
    """G1..G5 and G = max of Assumption 4.2, with how they were obtained.

    ``method`` is ``"closed-form"`` (docs/kernels.md#activation-constants and its scaling rules) or ``"certified-bound"``
    (:func:`certified_sup`; an upper bound, never below the true sup).
    """

    G1: float
    G2: float
    G3: float
    G4: float
    G5: float
    method: str

    @property
    def G(self) -> float:
        return max(self.G1, self.G2, self.G3, self.G4, self.G5)

    def as_tuple(self) -> Tuple[float, float, float, float, float]:
        return (self.G1, self.G2, self.G3, self.G4, self.G5)


# --------------------------------------------------------------------------------------------
# derivative tables of the built-ins (orders 0..4), each computing the expensive part once
# --------------------------------------------------------------------------------------------

def _tanh_derivs(z: np.ndarray, upto: int):
    t = np.tanh(z)
    out = [t]
    if upto >= 1:
        q = 1.0 - t * t
        out.append(q)
        if upto >= 2:
            out.append(-2.0 * t * q)
        if upto >= 3:
            out.append(-2.0 * q * (1.0 - 3.0 * t * t))
        if upto >= 4:
            out.append(8.0 * t * q * (2.0 - 3.0 * t * t))
    return out


def _sigmoid_derivs(z: np.ndarray, upto: int):
    s = special.expit(z)
    out = [s]
    if upto >= 1:
        d1 = s * (1.0 - s)
        out.append(d1)
        if upto >= 2:
            d2 = d1 * (1.0 - 2.0 * s)
            out.append(d2)
            if upto >= 3:
                out.append(d1 * (1.0 - 6.0 * d1))
            if upto >= 4:
                out.append(d2 * (1.0 - 12.0 * d1))
    return out


def _erf_derivs(z: np.ndarray, upto: int):
    out = [special.erf(z)]
    if upto >= 1:
        e1 = (2.0 / _SQRT_PI) * np.exp(-z * z)
        out.append(e1)
        if upto >= 2:
            out.append(-2.0 * z * e1)
        if upto >= 3:
            out.append((4.0 * z * z - 2.0) * e1)
        if upto >= 4:
            out.append((12.0 * z - 8.0 * z ** 3) * e1)
    return out


def _identity_derivs(z: np.ndarray, upto: int):
    zero = np.zeros_like(z)
    out = [z.copy(), np.ones_like(z), zero, zero, zero]
    return out[: upto + 1]


def _softplus_derivs(z: np.ndarray, upto: int):
    s = special.expit(z)
    d1 = s * (1.0 - s)
    d2 = d1 * (1.0 - 2.0 * s)
    out = [np.logaddexp(0.0, z), s, d1, d2, d1 * (1.0 - 6.0 * d1)]
    return out[: upto + 1]


def _relu_derivs(z: np.ndarray, upto: int):
    if upto >= 2:
        raise MissingDerivativeError("relu has no second derivative (h'' is a Dirac mass at 0); "
                                     "a computation that needs h'' or higher cannot use relu")
    out = [np.maximum(z, 0.0), (z > 0).astype(np.float64)]
    return out[: upto + 1]


# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class Activation:
    """A scalar activation ``ht`` with derivatives and the constants of Assumption 4.2.

    Parameters
    ----------
    name : str
        Printable name, e.g. ``"tanh"`` or ``"2*tanh(z/0.5)"``.
    derivs : callable
        ``derivs(z, upto)`` returns the list ``[h(z), h'(z), ..., h^(upto)(z)]`` for an array ``z``.
    max_order : int
        Highest derivative available (4 for smooth activations, 1 for relu).
    admissible : bool
        Whether Assumption 4.2 holds (h is C^3 with G1..G5 finite).
    odd : bool
        Whether h(-z) = -h(z) (then x = 0 or antipodal inputs make Lambda = 0, docs/kernels.md#degenerate-data).
    base, c, s : optional
        For the scaled built-in family ``c * base(z / s)``: the base name and the scales, so that
        compiled kernels can specialise.  ``base`` is None for other activations.
    closed_form : GConstants or None
        Closed-form constants when known; otherwise they are certified on demand.
    """

    name: str
    derivs: Callable[[np.ndarray, int], list]
    max_order: int = 4
    admissible: bool = True
    odd: bool = False
    base: Optional[str] = None
    c: float = 1.0
    s: float = 1.0
    closed_form: Optional[GConstants] = None
    _cache: dict = field(default_factory=dict, repr=False, compare=False, hash=False)

    def __repr__(self) -> str:
        # The name identifies the function; a repr with function addresses would differ between
        # processes and break pytest-xdist's collection (ids built from it).
        return f"Activation({self.name!r})"

    # -- evaluation ---------------------------------------------------------------------------
    def derivatives(self, z, upto: int = 1) -> list:
        """``[h(z), ..., h^(upto)(z)]`` as float64 arrays of the shape of ``z``."""
        if upto > self.max_order:
            raise MissingDerivativeError(
                f"activation {self.name!r} has derivatives up to order {self.max_order}, "
                f"derivative of order {upto} requested")
        return self.derivs(np.asarray(z, dtype=np.float64), upto)

    def h(self, z):
        """h(z)."""
        return self.derivatives(z, 0)[0]

    def d1(self, z):
        """h'(z)."""
        return self.derivatives(z, 1)[1]

    def d2(self, z):
        """h''(z)."""
        return self.derivatives(z, 2)[2]

    def d3(self, z):
        """h'''(z)."""
        return self.derivatives(z, 3)[3]

    def __call__(self, z):
        return self.h(z)

    # -- constants ----------------------------------------------------------------------------
    @property
    def constants(self) -> GConstants:
        """G1..G5 (closed form for built-ins and their scaled members, certified bounds else)."""
        if self.closed_form is not None:
            return self.closed_form
        if "G" not in self._cache:
            if not self.admissible:
                inf = math.inf
                self._cache["G"] = GConstants(inf, inf, inf, inf, inf, "not-admissible")
            else:
                self._cache["G"] = certified_constants(self)
        return self._cache["G"]

    @property
    def G(self) -> float:
        """G = max(G1..G5) of Assumption 4.2 (used by Theorems 4.4 and 4.5)."""
        return self.constants.G

    @property
    def G1(self) -> float:
        """sup|h|, the only constant Lemma 5.5 needs (docs/kernels.md#activation-constants, E18)."""
        return self.constants.G1

    def value_at_zero(self) -> float:
        return float(self.h(np.zeros(1))[0])

    def scaled(self, c: float = 1.0, s: float = 1.0) -> "Activation":
        """``c * h(z / s)``; see :func:`scaled`."""
        return scaled(self, c, s)


def _mk_builtin(name, derivs, consts, odd):
    return Activation(name=name, derivs=derivs, odd=odd, base=name,
                      closed_form=GConstants(*consts, method="closed-form"))


TANH = _mk_builtin("tanh", _tanh_derivs, (1.0, 1.0, 4.0 / (3.0 * math.sqrt(3.0)), 1.0, 2.0), True)
SIGMOID = _mk_builtin("sigmoid", _sigmoid_derivs, (1.0, 0.25, 1.0 / (6.0 * math.sqrt(3.0)), 0.25, 0.125), False)
ERF = _mk_builtin("erf", _erf_derivs,
                  (1.0, 2.0 / _SQRT_PI, 2.0 * math.sqrt(2.0 / math.pi) * math.exp(-0.5), 2.0 / _SQRT_PI,
                   4.0 / _SQRT_PI), True)
RELU = Activation(name="relu", derivs=_relu_derivs, max_order=1, admissible=False)
SOFTPLUS = Activation(name="softplus", derivs=_softplus_derivs, admissible=False)
IDENTITY = Activation(name="identity", derivs=_identity_derivs, admissible=False, odd=True)

BUILTINS = {a.name: a for a in (TANH, SIGMOID, ERF, RELU, SOFTPLUS, IDENTITY)}


def get_activation(name_or_activation, *, arg: str = "act") -> Activation:
    """Look up a built-in activation by name (or pass an :class:`Activation` through).

    ``arg`` is the caller's argument name, used in the error message.
    """
    if isinstance(name_or_activation, Activation):
        return name_or_activation
    if not isinstance(name_or_activation, str):
        raise TypeError(f"{arg}: activation must be an Activation or a name, got "
                        f"{type(name_or_activation).__name__}: {name_or_activation!r}")
    try:
        return BUILTINS[name_or_activation]
    except KeyError:
        raise DomainError(f"{arg}: activation must be one of {sorted(BUILTINS)}, got {name_or_activation!r}") from None


def scaled(act: Activation, c: float = 1.0, s: float = 1.0) -> Activation:
    """The scaled member ``c * act(z / s)`` (docs/kernels.md#activation-constants scaling rules for the constants).

    k-th derivative: ``c s^{-k} act^{(k)}(z / s)``.
    """
    act = get_activation(act)
    # The constants scale like c / s^3 and the fourth derivative like c / s^4: with c <= 1e100
    # and s >= 1e-50 they stay below 1e300 (times G <= 2); s <= 1e60 keeps s^3 finite.
    c = check_positive("c", c, maximum=1e100, why="c * G must stay inside float64")
    s = check_positive("s", s, minimum=1e-50, maximum=1e60, why="c / s^4 and s^3 must stay inside float64")
    base = act

    def derivs(z, upto):
        out = base.derivatives(z / s, upto)
        return [c * s ** (-k) * v for k, v in enumerate(out)]

    cf = None
    if base.closed_form is not None:
        g = base.closed_form
        cf = GConstants(c * g.G1, c * g.G2 / s, c * g.G3 / s ** 2, c * g.G4 / s, c * g.G5 / s ** 3,
                        method="closed-form")
    name = base.name if (c == 1.0 and s == 1.0) else f"{c:g}*{base.name}(z/{s:g})"
    return Activation(name=name, derivs=derivs, max_order=base.max_order, admissible=base.admissible,
                      odd=base.odd, base=base.base, c=c * base.c, s=s * base.s, closed_form=cf)


def combination(weights: Sequence[float], activations: Sequence[Activation]) -> Activation:
    """A positive combination ``sum_k w_k act_k`` (constants certified: sups are not additive)."""
    if isinstance(activations, (str, bytes)) or not isinstance(activations, Sequence):
        raise TypeError(f"activations must be a sequence of activations, got {type(activations).__name__}: "
                        f"{activations!r}")
    acts = [get_activation(a, arg=f"activations[{i}]") for i, a in enumerate(activations)]
    ws = [check_positive(f"weights[{i}]", w, maximum=1e100, why="a sum of weighted values must stay finite")
          for i, w in enumerate(check_vector("weights", weights))]
    if len(ws) != len(acts) or not acts:
        raise DomainError(f"weights and activations must be non-empty and of equal length, "
                          f"got {len(ws)} and {len(acts)}")
    order = min(a.max_order for a in acts)

    def derivs(z, upto):
        total = None
        for w, a in zip(ws, acts):
            part = a.derivatives(z, upto)
            total = [w * p for p in part] if total is None else [t + w * p for t, p in zip(total, part)]
        return total

    name = " + ".join(f"{w:g}*{a.name}" for w, a in zip(ws, acts))
    return Activation(name=name, derivs=derivs, max_order=order,
                      admissible=all(a.admissible for a in acts), odd=all(a.odd for a in acts))


def from_callables(name: str, funcs: Sequence[Func], *, odd: bool = False) -> Activation:
    """A user-supplied smooth activation from ``[h, h', h'', h''', h'''']`` (vectorised callables).

    All five are needed: G5 = sup|h'''| is certified with the Lipschitz constant sup|h''''|.
    The functions are wrapped once, here: every evaluation (the quadrature nodes included) checks
    that each returns finite numbers of the shape of ``z``, and an exception of a user function
    becomes an :class:`~theory.errors.ActivationError` naming the activation and ``z``.
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, got {type(name).__name__}: {name!r}")
    if isinstance(funcs, (str, bytes)) or not isinstance(funcs, Sequence):
        raise TypeError(f"funcs must be a sequence of five callables, got {type(funcs).__name__}: {funcs!r}")
    funcs = list(funcs)
    if len(funcs) != 5 or not all(callable(f) for f in funcs):
        raise DomainError(f"funcs must be five callables [h, h', h'', h''', h''''], got {len(funcs)} items")

    def derivs(z, upto):
        out = []
        for k in range(upto + 1):
            try:
                value = funcs[k](z)
            except Exception as exc:  # noqa: BLE001 - any failure of user code is reported as such
                raise ActivationError(f"activation {name!r}: derivative of order {k} raised "
                                      f"{type(exc).__name__}: {exc} (z of shape {np.shape(z)})") from exc
            out.append(check_activation_output(name, k, z, value))
        return out

    return Activation(name=name, derivs=derivs, odd=odd)


# --------------------------------------------------------------------------------------------
# certified sup bounds
# --------------------------------------------------------------------------------------------

#: Half-width of the grid on which sups are bounded.  Beyond it the functions of interest are
#: monotone in their tails (saturating activations); the tail values at |z| = _TAIL are added to
#: the maximum so a sup approached only at infinity (G1 of tanh) is still covered.
_HALF_WIDTH = 40.0
_TAIL = 1.0e6


def certified_sup(g: Func, lipschitz, *, half_width: float = _HALF_WIDTH, n_grid: int = 200_001) -> float:
    """An upper bound on ``sup_z |g(z)|``: grid max on [-L, L] + (spacing/2) * Lipschitz + tails.

    On a grid of spacing ``delta`` every point lies within ``delta/2`` of a node, so
    ``|g(z)| <= max_nodes (|g(node)| + (delta/2) * L(node))`` where ``L(node)`` bounds |g'| on the
    half-cell around the node.  ``lipschitz`` is a number (a global bound) or a callable
    ``(nodes, delta) -> local bounds``.  Outside [-L, L] the function is assumed monotone in |z|
    (true for the saturating activations of this project); the values at ``|z| = 1e6`` bound the tails.
    """
    if not callable(g):
        raise TypeError(f"g must be a callable, got {type(g).__name__}: {g!r}")
    half_width = check_positive("half_width", half_width, maximum=1e6, why="the grid must stay inside the tails")
    n_grid = check_int("n_grid", n_grid, minimum=3)
    grid = np.linspace(-half_width, half_width, n_grid)
    delta = grid[1] - grid[0]
    if callable(lipschitz):
        lip = np.asarray(lipschitz(grid, delta), dtype=np.float64)
    elif isinstance(lipschitz, (bool, np.bool_)) or not isinstance(lipschitz, (int, float, np.number, np.ndarray)):
        raise TypeError(f"lipschitz must be a number or a callable, got {type(lipschitz).__name__}: {lipschitz!r}")
    else:
        lip = as_float_array("lipschitz", lipschitz, finite=False)
    if lip.ndim > 0 and lip.shape != grid.shape:
        raise ShapeError(f"lipschitz must be a number or one bound per grid node {grid.shape}, got shape {lip.shape}")
    if not (np.all(np.isfinite(lip)) and np.all(lip >= 0)):
        raise DomainError(f"lipschitz must be finite and >= 0, got {lipschitz!r}")
    vals = np.abs(np.asarray(g(grid), dtype=np.float64))
    tails = np.abs(np.asarray(g(np.array([-_TAIL, _TAIL])), dtype=np.float64))
    if not (np.all(np.isfinite(vals)) and np.all(np.isfinite(tails))):
        raise DomainError("the function is not finite on the grid; its sup cannot be certified")
    return float(max(np.max(vals + 0.5 * delta * lip), tails.max()))


def certified_constants(act: Activation) -> GConstants:
    """Certified upper bounds on G1..G5 of a smooth activation (orders 0..4 needed).

    Works down from the top: a crude global bound on |h''''| comes from a dense grid with a
    second-difference allowance, then each lower derivative is bounded with the certified bound of
    the one above it as Lipschitz constant.  G4 = sup|h' + z h''| uses
    Lipschitz constant sup|2 h'' + z h'''| <= 2 G3 + L sup|h'''| on the grid and its tail values.
    """
    if act.max_order < 4:
        raise MissingDerivativeError(f"certifying G5 of {act.name!r} needs h''''; it has order {act.max_order}")
    d = lambda k: (lambda z: act.derivatives(z, k)[k])  # noqa: E731
    # h'''' itself: bounded through the max of |h''''| on a fine grid times a safety factor of 2
    # plus tails; this top level is the one non-rigorous step (documented in the README).
    grid = np.linspace(-_HALF_WIDTH, _HALF_WIDTH, 400_001)
    b4 = 2.0 * float(np.abs(d(4)(grid)).max()) + 1e-12
    g5 = certified_sup(d(3), b4)
    g3 = certified_sup(d(2), g5)
    g2 = certified_sup(d(1), g3)
    g1 = certified_sup(d(0), g2)
    zg = lambda z: act.derivatives(z, 2)[1] + z * act.derivatives(z, 2)[2]  # noqa: E731
    # d/dz (h' + z h'') = 2 h'' + z h3: on the half-cell around a node z0, |z| <= |z0| + delta/2.
    lip4 = lambda z, delta: 2.0 * g3 + (np.abs(z) + 0.5 * delta) * g5  # noqa: E731
    g4 = certified_sup(zg, lip4)
    return GConstants(g1, g2, g3, g4, g5, method="certified-bound")
