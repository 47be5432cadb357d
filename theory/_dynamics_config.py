"""Configuration, working state and step limits of the particle scheme (re-exported by :mod:`theory.dynamics`).

:class:`DynamicsConfig` (validated parameters), :class:`State` (the mutable component-major particles of a
run), :class:`StepLimits` and :func:`step_limits` / :func:`stable_dt` (the linearised Euler stability
analysis of docs/model.md#particle-sde-and-algorithm-1).  Split from :mod:`theory.dynamics` to keep each
module readable; import them from there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np

from ._observe import Observation, observe_state
from ._validation import check_int, check_matrix, check_nonnegative, check_positive, check_vector
from .activations import get_activation
from .errors import DomainError
from .kernels import lambda0 as _lambda0
from .network import Particles

__all__ = ["DynamicsConfig", "State", "StepLimits", "step_limits", "stable_dt"]

_SCALINGS = ("pde", "printed")
_TIMES = ("t", "tau")
_BACKENDS = ("numba", "numpy")
_OUS = ("exact", "euler")


def _check_choice(name, value, choices):
    if value not in choices:
        raise DomainError(f"{name} must be one of {choices}, got {value!r}")


@dataclass(frozen=True)
class DynamicsConfig:
    """Parameters of the particle scheme (validated on construction).

    Attributes
    ----------
    alpha : float > 0        output scaling.
    lam : float >= 0         regularisation lambda (weight decay and noise temperature).
    dt : float > 0           step, in the unit of ``time``.
    m : int >= 1             particles per replica (even when ``symmetric``).
    scaling : "pde" | "printed"
    time : "t" | "tau"       physical time or tau = alpha^2 lambda0^2 t.
    replicas : int or None   independent replicas on a leading axis (None: one, axis kept).
    dtype : float64 | float32
    backend : "numba" | "numpy"   numba falls back to numpy for activations outside tanh/sigmoid/erf.
    symmetric : bool         doubling initialisation (docs/model.md#symmetric-initialisation).
    ou : "exact" | "euler"   integration of the OU part.
    couple_ou : bool         advance the reference OU (W2 upper bound).
    lambda0 : float or None  sqrt(Lambda/n) for ``time="tau"``; None: computed from (X, act).
    block : int or None      particles per block of the compiled kernel (None: ``default_block(n)``, 256-2048
                             by the number of inputs n; the Dynamics' own config holds the value used).
    parallel : bool or None  spread the kernel's blocks over numba's threads (same numbers, bitwise);
                             None: when :func:`machine_owner`, numba has > 1 thread and R m >= 16384.
    blas : bool or None      products by BLAS in the kernel (None: when n d >= 200).
    """

    alpha: float
    lam: float
    dt: float
    m: int
    scaling: str = "pde"
    time: str = "t"
    replicas: Optional[int] = None
    dtype: object = np.float64
    backend: str = "numba"
    symmetric: bool = True
    ou: str = "exact"
    couple_ou: bool = True
    lambda0: Optional[float] = None
    block: Optional[int] = None
    parallel: Optional[bool] = None
    blas: Optional[bool] = None

    def __post_init__(self):
        set_ = lambda k, v: object.__setattr__(self, k, v)  # noqa: E731
        set_("alpha", check_positive("alpha", self.alpha))
        set_("lam", check_nonnegative("lam", self.lam))
        set_("dt", check_positive("dt", self.dt))
        set_("m", check_int("m", self.m, minimum=1))
        for name, choices in (("scaling", _SCALINGS), ("time", _TIMES), ("backend", _BACKENDS), ("ou", _OUS)):
            _check_choice(name, getattr(self, name), choices)
        if self.replicas is not None:
            set_("replicas", check_int("replicas", self.replicas, minimum=1))
        for name in ("blas", "parallel"):
            if getattr(self, name) is not None and not isinstance(getattr(self, name), (bool, np.bool_)):
                raise TypeError(f"{name} must be a bool or None, got {getattr(self, name)!r}")
        for name in ("symmetric", "couple_ou"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise TypeError(f"{name} must be a bool, got {getattr(self, name)!r}")
        if self.symmetric and self.m % 2:
            raise DomainError(f"m must be even for the symmetric (doubling) initialisation, got {self.m!r}")
        try:
            dtype = np.dtype(self.dtype)
        except TypeError as exc:
            raise TypeError(f"dtype must be a numpy float dtype, got {self.dtype!r}") from exc
        _check_choice("dtype", dtype, (np.dtype(np.float64), np.dtype(np.float32)))
        set_("dtype", dtype)
        if self.lambda0 is not None:
            set_("lambda0", check_positive("lambda0", self.lambda0))
        if self.block is not None:
            set_("block", check_int("block", self.block, minimum=1))

    @property
    def R(self) -> int:
        """Number of replicas (1 when ``replicas`` is None)."""
        return 1 if self.replicas is None else self.replicas


@dataclass
class State:
    """Mutable working state of a run: particles in component-major layout, reference OU, step count.

    ``thetaT (R, d, m)``, ``u (R, m)``; ``v_thetaT``, ``v_u`` likewise (None when not coupled).
    """

    thetaT: np.ndarray
    u: np.ndarray
    v_thetaT: Optional[np.ndarray]
    v_u: Optional[np.ndarray]
    step: int = 0

    def particles(self) -> Particles:
        """The current measure p_m, ``theta (R, m, d)``."""
        return Particles(np.swapaxes(self.thetaT, -1, -2), self.u)

    def reference(self) -> Particles:
        """The reference OU particles v (distributed exactly as p0)."""
        if self.v_thetaT is None:
            raise DomainError("this run does not couple a reference OU (couple_ou=False)")
        return Particles(np.swapaxes(self.v_thetaT, -1, -2), self.v_u)

    def copy(self) -> "State":
        cp = lambda a: None if a is None else a.copy()  # noqa: E731
        return State(self.thetaT.copy(), self.u.copy(), cp(self.v_thetaT), cp(self.v_u), self.step)


@dataclass(frozen=True)
class StepLimits:
    """Stability limits of the step in physical time (docs/model.md#particle-sde-and-algorithm-1), linearised Euler analysis.

    ``kernel = n / (alpha^2 lambda_max(H))`` (residual contraction), ``particle = 2 / L`` with the
    per-particle Hessian bound ``L = (2 alpha/n) |r|_1 (max|u| G3 xmax^2 + G2 xmax)``, ``ou = 2/lam``
    (``ou="euler"`` only, else inf), each multiplied by m under ``scaling="printed"``.  By Weyl's
    inequality the whole Hessian is stable for ``dt < limit = 1 / sum_i (1/limit_i)``.
    ``to_time`` converts physical time to the unit of the config (1, or alpha^2 lambda0^2 for tau).
    """

    kernel: float
    particle: float
    ou: float
    to_time: float

    @property
    def limit(self) -> float:
        total = sum(1.0 / x for x in (self.kernel, self.particle, self.ou))
        return math.inf if total == 0.0 else 1.0 / total


def _limits(config: DynamicsConfig, obs: Observation, X, y, act, to_time: float, ev=None, xmax=None) -> StepLimits:
    """:class:`StepLimits` from an :class:`~theory._observe.Observation` (worst replica).

    sup|h'|, sup|h''|: the closed-form / certified G2, G3, or the max over the pre-activations when
    the activation is not admissible (``obs.g2``, ``obs.g3``).  ``ev``: the eigenvalues of ``obs.H`` if
    already computed, ``xmax`` the largest norm of a row of X.
    """
    n = X.shape[0]
    per_m = config.m if config.scaling == "printed" else 1.0
    lam_max = float((np.linalg.eigvalsh(obs.H) if ev is None else ev)[..., -1].max())
    r1 = float(np.abs(obs.f - y).sum(axis=-1).max())
    g2, g3 = (act.constants.G2, act.constants.G3) if act.admissible else (obs.g2, obs.g3)
    xmax = float(np.linalg.norm(X, axis=1).max()) if xmax is None else xmax
    L = (2.0 * config.alpha / n) * r1 * (obs.max_abs_u * g3 * xmax ** 2 + g2 * xmax)
    inf = math.inf
    lam_eff = config.lam / per_m
    return StepLimits(
        kernel=per_m * n / (config.alpha ** 2 * lam_max) if lam_max > 0 else inf,
        particle=per_m * 2.0 / L if L > 0 else inf,
        ou=2.0 / lam_eff if (config.ou == "euler" and lam_eff > 0) else inf,
        to_time=to_time)


def step_limits(config: DynamicsConfig, particles: Particles, X, y, act, lambda0=None) -> StepLimits:
    """The stability limits of :class:`StepLimits` at the measure ``particles`` (worst replica)."""
    if not isinstance(config, DynamicsConfig):
        raise TypeError(f"config must be a DynamicsConfig, got {type(config).__name__}")
    if not isinstance(particles, Particles):
        raise TypeError(f"particles must be a Particles instance, got {type(particles).__name__}")
    X = check_matrix("X", X, cols=particles.d)
    y = check_vector("y", y, length=X.shape[0])
    act = get_activation(act)
    theta, u = particles.theta, particles.u
    if theta.ndim == 2:
        theta, u = theta[None], u[None]
    thetaT = np.swapaxes(theta.reshape((-1,) + theta.shape[-2:]), -1, -2)
    obs = observe_state(thetaT, u.reshape((-1, u.shape[-1])), None, None, X, act, config.alpha, need_b=False,
                        need_stiffness=not act.admissible)
    return _limits(config, obs, X, y, act, _time_factor(config, X, act, lambda0))


def _time_factor(config, X, act, lambda0=None) -> float:
    """Physical time -> config time: 1 for ``time="t"``, alpha^2 lambda0^2 for ``time="tau"``."""
    if config.time == "t":
        return 1.0
    lam0 = config.lambda0 if config.lambda0 is not None else lambda0
    if lam0 is None:
        lam0 = _lambda0(X, act)
    if not lam0 > 0:
        raise DomainError(f"time='tau' needs lambda0 > 0 (Assumption 4.3), got lambda0 = {lam0!r}")
    return config.alpha ** 2 * lam0 ** 2


def stable_dt(config: DynamicsConfig, particles: Particles, X, y, act, c: float = 0.2) -> float:
    """A recommended step ``c * limit`` in the unit of ``config.time`` (docs/model.md#particle-sde-and-algorithm-1 suggests c ~ 0.2)."""
    lim = step_limits(config, particles, X, y, act)
    return check_positive("c", c) * lim.limit * lim.to_time
