"""Particle discretisation of the PDE (3.4): Algorithm 1 as an Euler-Maruyama / OU splitting scheme (MATH 1.3).

One step of size ``dt`` (physical time) for every particle ``w_j = (theta_j, u_j)`` of every replica::

    r_i  = f_m(x_i) - y_i,                         f_m = (alpha/m) sum_j u_j ht(theta_j . x_i)
    G(w) = -(2 alpha/n) sum_i r_i [u ht'(z_i) x_i ; ht(z_i)]       (loss part of g, MATH 1.2)
    w   <- A w + D G(w) + S xi,                    xi ~ N(0, I_k) iid

* ``scaling="pde"`` (default): ``D = dt``; the OU part ``dw = -lam w dt + sqrt(2 lam) dB`` is
  integrated exactly, ``A = e^{-lam dt}``, ``S = sqrt(1 - e^{-2 lam dt})`` (``ou="euler"``:
  ``A = 1 - lam dt``, ``S = sqrt(2 lam dt)``, the literal Euler-Maruyama step).
* ``scaling="printed"``: Algorithm 1 exactly as printed, ``w <- w - eta grad Qhat - sqrt(lam) zeta``,
  i.e. the whole drift divided by m (erratum E1): ``D = dt/m``, decay rate ``lam/m`` and noise
  ``sqrt(2 lam dt)``.  Its m -> infinity limit is the heat flow, ``E|w|^2 ~ k + 2 lam k t``.
* ``time="tau"``: ``dt`` is given in the rescaled time ``tau = alpha^2 lambda0^2 t``.

A reference OU particle ``v`` starts at ``v_0 = w_0`` and is driven by the same ``xi`` with the exact
OU step at rate lam, so ``v_t ~ p0`` exactly and ``W2(p_t, p0)^2 <= E|w_t - v_t|^2`` (MATH 5).

The noise of step ``l`` is a counter-based stream keyed by (seed, l, replica, particle), identical
in the numba and numpy backends and independent of block size and thread count; ``step(state,
noise)`` also accepts explicit noise so that the two backends can be compared step by step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from . import _kernels_numba as _K
from ._validation import check_int, check_matrix, check_nonnegative, check_positive, check_vector, as_float_array
from .activations import get_activation
from .errors import DomainError, ShapeError, UnstableStepError
from .kernels import gram_particles, lambda0 as _lambda0
from .network import Particles, mean_cov, output, residual_drift_b, sample_p0, second_moment

__all__ = ["DynamicsConfig", "State", "StepLimits", "Snapshot", "Trajectory", "Dynamics", "step_limits",
           "stable_dt", "simulate", "counter_normals"]

_SCALINGS = ("pde", "printed")
_TIMES = ("t", "tau")
_BACKENDS = ("numba", "numpy")
_OUS = ("exact", "euler")
_SQRT_PI = math.sqrt(math.pi)
#: n*d from which the kernel's two products go through BLAS (measured crossover on one core).
_BLAS_MIN_ND = 200


def counter_normals(seed: int, step: int, R: int, m: int, k: int) -> np.ndarray:
    """The N(0, I_k) noise of step ``step`` under ``seed``, shape (R, m, k), from the counter-based stream.

    SplitMix64 words keyed by (seed, step, replica, particle) and Box-Muller with branch-free
    polynomial log/sin/cos (see :mod:`theory._kernels_numba`); the numba kernel draws the same numbers.
    """
    seed = check_int("seed", seed, minimum=0, maximum=2 ** 64 - 1)
    step = check_int("step", step, minimum=0)
    return _K.counter_normals_np(_K.stream_key(seed, step), check_int("R", R), check_int("m", m),
                                 check_int("k", k))


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
    symmetric : bool         doubling initialisation (MATH 1.4).
    ou : "exact" | "euler"   integration of the OU part.
    couple_ou : bool         advance the reference OU (W2 upper bound).
    lambda0 : float or None  sqrt(Lambda/n) for ``time="tau"``; None: computed from (X, act).
    block : int              particles per block of the compiled kernel.
    parallel : bool          spread the kernel's blocks over numba's threads (same numbers, bitwise).
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
    block: int = 256
    parallel: bool = False
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
        if self.blas is not None and not isinstance(self.blas, (bool, np.bool_)):
            raise TypeError(f"blas must be a bool or None, got {self.blas!r}")
        for name in ("symmetric", "couple_ou", "parallel"):
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
    """Stability limits of the step in physical time (MATH 1.3), linearised Euler analysis.

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


def _stiffness_consts(act, Z):
    """(sup|h'|, sup|h''|): the closed-form / certified G2, G3, or the max over Z when not admissible."""
    if act.admissible:
        return act.constants.G2, act.constants.G3
    derivs = act.derivatives(Z, min(2, act.max_order))
    g3 = float(np.abs(derivs[2]).max()) if len(derivs) > 2 else 0.0
    return float(np.abs(derivs[1]).max()), g3


def step_limits(config: DynamicsConfig, particles: Particles, X, y, act, lambda0=None) -> StepLimits:
    """The stability limits of :class:`StepLimits` at the measure ``particles`` (worst replica)."""
    X = check_matrix("X", X)
    y = check_vector("y", y, length=X.shape[0])
    act = get_activation(act)
    n = X.shape[0]
    per_m = config.m if config.scaling == "printed" else 1.0
    lam_max = float(np.linalg.eigvalsh(gram_particles(particles.theta, particles.u, X, act).H)[..., -1].max())
    r1 = float(np.abs(output(particles, X, act, config.alpha) - y).sum(axis=-1).max())
    g2, g3 = _stiffness_consts(act, particles.theta @ X.T)
    xmax = float(np.linalg.norm(X, axis=1).max())
    L = (2.0 * config.alpha / n) * r1 * (float(np.abs(particles.u).max()) * g3 * xmax ** 2 + g2 * xmax)
    inf = math.inf
    lam_eff = config.lam / per_m
    return StepLimits(
        kernel=per_m * n / (config.alpha ** 2 * lam_max) if lam_max > 0 else inf,
        particle=per_m * 2.0 / L if L > 0 else inf,
        ou=2.0 / lam_eff if (config.ou == "euler" and lam_eff > 0) else inf,
        to_time=_time_factor(config, X, act, lambda0))


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
    """A recommended step ``c * limit`` in the unit of ``config.time`` (MATH 1.3 suggests c ~ 0.2)."""
    lim = step_limits(config, particles, X, y, act)
    return check_positive("c", c) * lim.limit * lim.to_time


@dataclass(frozen=True)
class Snapshot:
    """Observables of the measure p_t at one time (R = replicas; MATH 1.5, 5).

    ``f, residual, b (R, n)``; ``loss, lam_min_H, lam_max_H, second_moment, w2_ou_upper_sq (R,)``;
    ``mean (R, k)``, ``cov (R, k, k)`` of w = (theta, u); ``b`` is None when h'' does not exist and
    ``w2_ou_upper_sq`` (= mean_j |w_j - v_j|^2) None when no reference OU is coupled.
    """

    step: int
    t: float
    t_phys: float
    f: np.ndarray
    residual: np.ndarray
    loss: np.ndarray
    lam_min_H: np.ndarray
    lam_max_H: np.ndarray
    second_moment: np.ndarray
    b: Optional[np.ndarray]
    mean: np.ndarray
    cov: np.ndarray
    w2_ou_upper_sq: Optional[np.ndarray]


@dataclass(frozen=True)
class Trajectory:
    """Snapshots stacked along a leading time axis (N records); fields as in :class:`Snapshot`.

    ``steps``, ``t`` (unit of ``config.time``) and ``t_phys`` have shape (N,); every other field
    gains the leading axis N, e.g. ``loss (N, R)`` and ``residual (N, R, n)``.
    """

    config: DynamicsConfig
    seed: int
    backend: str
    steps: np.ndarray
    t: np.ndarray
    t_phys: np.ndarray
    f: np.ndarray
    residual: np.ndarray
    loss: np.ndarray
    lam_min_H: np.ndarray
    lam_max_H: np.ndarray
    second_moment: np.ndarray
    b: Optional[np.ndarray]
    mean: np.ndarray
    cov: np.ndarray
    w2_ou_upper_sq: Optional[np.ndarray]

    @property
    def w2_ou_upper(self) -> Optional[np.ndarray]:
        """sqrt(E|w_t - v_t|^2), the synchronous-coupling upper value of W2(p_t, p0) (tier S)."""
        return None if self.w2_ou_upper_sq is None else np.sqrt(self.w2_ou_upper_sq)

    @classmethod
    def from_snapshots(cls, config, seed, backend, snaps) -> "Trajectory":
        fields = {}
        for name in Snapshot.__dataclass_fields__:
            vals = [getattr(s, name) for s in snaps]
            key = "steps" if name == "step" else name
            fields[key] = None if vals[0] is None else np.asarray(np.stack(vals) if name != "step" else vals)
        for arr in fields.values():
            if arr is not None:
                arr.setflags(write=False)
        return cls(config=config, seed=seed, backend=backend, **fields)


def _numba_activation(act):
    """(kind, hc, s) for the compiled kernel, or None when the activation is not of a compiled family.

    tanh family: ``h = c0 + c1 tanh(z/s)``, ``h' = (c2/s)(1 - T^2)``; sigmoid(z) = 1/2 + tanh(z/2)/2.
    erf: ``h = c erf(z/s)``, ``h' = (c 2/sqrt(pi) / s) exp(-(z/s)^2)``.
    """
    c, s = act.c, act.s
    if act.base == "tanh":
        return _K.KIND_TANH, (0.0, c, c), s
    if act.base == "sigmoid":
        return _K.KIND_TANH, (0.5 * c, 0.5 * c, 0.5 * c), 2.0 * s
    if act.base == "erf":
        return _K.KIND_ERF, (0.0, c, 2.0 * c / _SQRT_PI), s
    return None


class Dynamics:
    """The particle scheme of MATH 1.3 on data (X, y) with activation ``act`` (see the module doc).

    Parameters
    ----------
    config : DynamicsConfig
    X : (n, d) array; y : (n,) array
    act : Activation or str
    seed : int >= 0
        Seeds the initial particles (``numpy.random.default_rng(seed)``) and the noise stream.
    check_stability : bool
        Raise :class:`~theory.errors.UnstableStepError` when ``dt`` exceeds :attr:`StepLimits.limit`
        at the initial measure and at each recorded time.
    """

    def __init__(self, config: DynamicsConfig, X, y, act, seed: int, *, check_stability: bool = True):
        if not isinstance(config, DynamicsConfig):
            raise TypeError(f"config must be a DynamicsConfig, got {type(config).__name__}")
        self.config = config
        self.X = check_matrix("X", X)
        self.y = check_vector("y", y, length=self.X.shape[0])
        self.act = get_activation(act)
        self.seed = check_int("seed", seed, minimum=0, maximum=2 ** 64 - 1)
        self.check_stability = bool(check_stability)
        self.n, self.d = self.X.shape
        self.k = self.d + 1
        self.to_time = _time_factor(config, self.X, self.act)
        self.dt_phys = config.dt / self.to_time
        self._numba = _numba_activation(self.act) if config.backend == "numba" else None
        self.backend = "numba" if self._numba is not None else "numpy"
        self._coef = self._ou_coefficients()
        self._buffers = None
        self._use_blas = self.n * self.d >= _BLAS_MIN_ND if config.blas is None else config.blas

    # -- coefficients ---------------------------------------------------------------------------
    def _ou_coefficients(self) -> np.ndarray:
        """(A, S, A0, S0, D): decay and noise of w, of the reference v, and the loss-drift factor."""
        cfg, dt, lam = self.config, self.dt_phys, self.config.lam
        per_m = cfg.m if cfg.scaling == "printed" else 1.0
        lam_eff = lam / per_m
        if cfg.ou == "euler":
            A, S = 1.0 - lam_eff * dt, math.sqrt(2.0 * lam * dt)
        elif lam > 0:
            # Exact OU with rate lam_eff and diffusion sqrt(2 lam): variance (lam/lam_eff)(1 - e^{-2 lam_eff dt}).
            A, S = math.exp(-lam_eff * dt), math.sqrt(per_m * -math.expm1(-2.0 * lam_eff * dt))
        else:
            A, S = 1.0, 0.0
        A0, S0 = math.exp(-lam * dt), math.sqrt(-math.expm1(-2.0 * lam * dt))
        return np.array([A, S, A0, S0, dt / per_m])

    # -- state ----------------------------------------------------------------------------------
    def initial_state(self, particles: Optional[Particles] = None) -> State:
        """State at step 0: ``particles`` (shape (R, m, d) or (m, d) when R = 1) or a p0 sample."""
        cfg = self.config
        if particles is None:
            particles = sample_p0(cfg.m, self.d, np.random.default_rng(self.seed), replicas=cfg.R,
                                  symmetric=cfg.symmetric)
        elif not isinstance(particles, Particles):
            raise TypeError(f"particles must be a Particles instance, got {type(particles).__name__}")
        theta, u = particles.theta, particles.u
        if theta.ndim == 2 and cfg.R == 1:
            theta, u = theta[None], u[None]
        if theta.shape != (cfg.R, cfg.m, self.d):
            raise ShapeError(f"particles must have theta of shape {(cfg.R, cfg.m, self.d)}, got {theta.shape}")
        if particles.weights is not None:
            raise DomainError("the particle scheme needs equally weighted particles (weights=None)")
        thetaT = np.ascontiguousarray(np.swapaxes(theta, -1, -2), dtype=cfg.dtype)
        u = np.ascontiguousarray(u, dtype=cfg.dtype)
        state = State(thetaT, u, thetaT.copy() if cfg.couple_ou else None, u.copy() if cfg.couple_ou else None)
        if self.check_stability:
            self._check_limits(state.particles())
        return state

    def limits(self, state: State) -> StepLimits:
        """:class:`StepLimits` at the current measure of ``state``."""
        return step_limits(self.config, state.particles(), self.X, self.y, self.act,
                           lambda0=math.sqrt(self.to_time) / self.config.alpha)

    def _check_limits(self, particles: Particles, step: int = 0) -> None:
        lim = step_limits(self.config, particles, self.X, self.y, self.act,
                          lambda0=math.sqrt(self.to_time) / self.config.alpha)
        if self.dt_phys > lim.limit:
            raise UnstableStepError(
                f"dt={self.config.dt!r} (time={self.config.time!r}) exceeds the stability limit "
                f"{lim.limit * lim.to_time:.6g} at step {step} (kernel {lim.kernel * lim.to_time:.4g}, "
                f"particle {lim.particle * lim.to_time:.4g}, ou {lim.ou * lim.to_time:.4g}); use stable_dt()")

    def noise(self, step: int) -> np.ndarray:
        """The counter-based noise of step ``step``, shape (R, m, k) (components theta then u)."""
        return counter_normals(self.seed, step, self.config.R, self.config.m, self.k)

    # -- stepping ------------------------------------------------------------------------------
    def step(self, state: State, noise=None) -> State:
        """Advance every replica by one step, in place; ``noise`` (R, m, k) replaces the stream if given."""
        if not isinstance(state, State):
            raise TypeError(f"state must be a State, got {type(state).__name__}")
        cfg = self.config
        shape = (cfg.R, self.d, cfg.m)
        # The compiled kernel does not bounds-check: a state of another run must be refused here.
        for name, arr, want in (("thetaT", state.thetaT, shape), ("u", state.u, shape[::2]),
                                ("v_thetaT", state.v_thetaT, shape), ("v_u", state.v_u, shape[::2])):
            if arr is not None and (arr.shape != want or arr.dtype != cfg.dtype or not arr.flags.c_contiguous):
                raise ShapeError(f"state.{name} must be a C-contiguous {cfg.dtype} array of shape {want}, "
                                 f"got {arr.dtype} {arr.shape}")
        if noise is not None:
            noise = as_float_array("noise", noise, ndim=3)
            if noise.shape != (cfg.R, cfg.m, self.k):
                raise ShapeError(f"noise must have shape {(cfg.R, cfg.m, self.k)}, got {noise.shape}")
        if self.backend == "numba":
            self._step_numba(state, noise)
        else:
            self._step_numpy(state, self.noise(state.step) if noise is None else noise)
        state.step += 1
        return state

    def _step_numba(self, state: State, noise) -> None:
        cfg = self.config
        kind, hc, s = self._numba
        if self._buffers is None:
            dt = cfg.dtype
            buf2 = (cfg.R, self.n, cfg.m) if kind == _K.KIND_ERF else (1, 1, 1)
            self._buffers = dict(buf=np.empty((cfg.R, self.n, cfg.m), dt), buf2=np.empty(buf2, dt),
                                 d3=np.empty((1, 1, 1), dt), d2=np.empty((1, 1), dt), X=self.X.astype(dt),
                                 y=self.y.astype(dt), hc=np.asarray(hc, dtype=np.float64))
        bf = self._buffers
        couple = state.v_thetaT is not None
        kernel = _K.particle_step_parallel if cfg.parallel else _K.particle_step
        kernel(state.thetaT, state.u, state.v_thetaT if couple else bf["d3"], state.v_u if couple else bf["d2"],
               bf["X"], bf["y"], bf["buf"], bf["buf2"], kind, bf["hc"], 1.0 / s, cfg.alpha, self._coef[4],
               self._coef[:4], bf["d3"] if noise is None else noise.astype(cfg.dtype), noise is not None,
               _K.stream_key(self.seed, state.step), couple, cfg.block, self._use_blas)

    def _step_numpy(self, state: State, xi: np.ndarray) -> None:
        A, S, A0, S0, D = self._coef
        cfg, X = self.config, self.X
        Z = X @ state.thetaT                                   # (R, n, m)
        h, h1 = self.act.derivatives(Z, 1)
        f = (cfg.alpha / cfg.m) * (h @ state.u[..., None])[..., 0]
        a = (-D * 2.0 * cfg.alpha / self.n) * (f - self.y)     # (R, n)
        gu = (a[:, None, :] @ h)[:, 0, :]                      # (R, m)
        gth = X.T @ (a[..., None] * h1)                        # (R, d, m)
        xiT = np.swapaxes(xi, -1, -2)                          # (R, k, m)
        state.thetaT[...] = A * state.thetaT + state.u[:, None, :] * gth + S * xiT[:, : self.d]
        state.u[...] = A * state.u + gu + S * xiT[:, self.d]
        if state.v_thetaT is not None:
            state.v_thetaT[...] = A0 * state.v_thetaT + S0 * xiT[:, : self.d]
            state.v_u[...] = A0 * state.v_u + S0 * xiT[:, self.d]

    # -- observing -----------------------------------------------------------------------------
    def observe(self, state: State) -> Snapshot:
        """The :class:`Snapshot` of ``state`` (raises UnstableStepError if the run has diverged)."""
        if not (np.all(np.isfinite(state.thetaT)) and np.all(np.isfinite(state.u))):
            self._diverged(state)
        # A diverging run can hold finite values whose squares overflow; report that as divergence
        # below instead of as a floating-point warning.
        try:
            with np.errstate(over="ignore", invalid="ignore"):
                snap = self._observe(state)
        except np.linalg.LinAlgError:
            self._diverged(state)
        if not all(np.all(np.isfinite(v)) for v in (snap.f, snap.cov, snap.lam_max_H, snap.second_moment)):
            self._diverged(state)
        return snap

    def _diverged(self, state: State):
        raise UnstableStepError(f"the particles diverged (non-finite or overflowing) by step {state.step} "
                                f"with dt={self.config.dt!r}; use stable_dt()")

    def _observe(self, state: State) -> Snapshot:
        p = state.particles()
        f = output(p, self.X, self.act, self.config.alpha)
        r = f - self.y
        ev = np.linalg.eigvalsh(gram_particles(p.theta, p.u, self.X, self.act).H)
        mean, cov = mean_cov(p)
        b = residual_drift_b(p, self.X, self.act) if self.act.max_order >= 2 else None
        w2 = None
        if state.v_thetaT is not None:
            diff = (state.thetaT - state.v_thetaT).astype(np.float64)
            w2 = (np.sum(diff ** 2, axis=1) + (state.u - state.v_u).astype(np.float64) ** 2).mean(axis=-1)
        return Snapshot(step=state.step, t=state.step * self.config.dt, t_phys=state.step * self.dt_phys,
                        f=f, residual=r, loss=np.mean(r ** 2, axis=-1), lam_min_H=ev[..., 0],
                        lam_max_H=ev[..., -1], second_moment=second_moment(p), b=b, mean=mean, cov=cov,
                        w2_ou_upper_sq=w2)

    def run(self, state: State, n_steps: int, record_every: Optional[int] = None,
            record_times: Optional[Sequence[float]] = None) -> Trajectory:
        """Advance ``state`` by ``n_steps`` (in place) and record snapshots.

        Records are taken at the start, at the end, every ``record_every`` steps and at the steps
        nearest to ``record_times`` (elapsed times in the unit of ``config.time``).
        """
        n_steps = check_int("n_steps", n_steps, minimum=0)
        marks = {n_steps}
        if record_every is not None:
            every = check_int("record_every", record_every, minimum=1)
            marks.update(range(every, n_steps + 1, every))
        for t in () if record_times is None else np.atleast_1d(as_float_array("record_times", record_times)):
            step = int(round(t / self.config.dt))
            if not 0 <= step <= n_steps:
                raise DomainError(f"record_times must lie in [0, n_steps * dt] = [0, {n_steps * self.config.dt:g}], "
                                  f"got {t!r}")
            marks.add(step)
        snaps = [self.observe(state)]
        for i in range(1, n_steps + 1):
            self.step(state)
            if i in marks:
                snaps.append(self.observe(state))
                if self.check_stability:
                    self._check_limits(state.particles(), state.step)
        return Trajectory.from_snapshots(self.config, self.seed, self.backend, snaps)


def simulate(config: DynamicsConfig, X, y, act, n_steps: int, seed: int, record_every: Optional[int] = None,
             record_times=None, init: Optional[Particles] = None, check_stability: bool = True) -> Trajectory:
    """Run the particle scheme from ``init`` (default: a p0 sample) for ``n_steps``; see :meth:`Dynamics.run`."""
    dyn = Dynamics(config, X, y, act, seed, check_stability=check_stability)
    return dyn.run(dyn.initial_state(init), n_steps, record_every, record_times)
