"""Particle discretisation of the PDE (3.4): Algorithm 1 as an Euler-Maruyama / OU splitting scheme (docs/model.md#particle-sde-and-algorithm-1).

One step of size ``dt`` (physical time) for every particle ``w_j = (theta_j, u_j)`` of every replica::

    r_i  = f_m(x_i) - y_i,                         f_m = (alpha/m) sum_j u_j ht(theta_j . x_i)
    G(w) = -(2 alpha/n) sum_i r_i [u ht'(z_i) x_i ; ht(z_i)]       (loss part of g, docs/model.md#first-variation-and-the-pde)
    w   <- A w + D G(w) + S xi,                    xi ~ N(0, I_k) iid

* ``scaling="pde"`` (default): ``D = dt``; the OU part ``dw = -lam w dt + sqrt(2 lam) dB`` is
  integrated exactly, ``A = e^{-lam dt}``, ``S = sqrt(1 - e^{-2 lam dt})`` (``ou="euler"``:
  ``A = 1 - lam dt``, ``S = sqrt(2 lam dt)``, the literal Euler-Maruyama step).
* ``scaling="printed"``: Algorithm 1 exactly as printed, ``w <- w - eta grad Qhat - sqrt(lam) zeta``,
  i.e. the whole drift divided by m (erratum E1): ``D = dt/m``, decay rate ``lam/m`` and noise
  ``sqrt(2 lam dt)``.  Its m -> infinity limit is the heat flow, ``E|w|^2 ~ k + 2 lam k t``.
* ``time="tau"``: ``dt`` is given in the rescaled time ``tau = alpha^2 lambda0^2 t``.

A reference OU particle ``v`` starts at ``v_0 = w_0`` and is driven by the same ``xi`` with the exact
OU step at rate lam, so ``v_t ~ p0`` exactly and ``W2(p_t, p0)^2 <= E|w_t - v_t|^2`` (docs/evidence.md#certified-and-estimated-quantities).

The noise of step ``l`` is a counter-based stream keyed by (seed, l, replica, particle), identical
in the numba and numpy backends and independent of block size and thread count; ``step(state,
noise)`` also accepts explicit noise so that the two backends can be compared step by step.

:meth:`Dynamics.advance` runs the steps up to the next record in one compiled call and
:meth:`Dynamics.record` observes a state in one chunked sweep (f, H, b, moments and the stability
limit together, no ``(R, m, n)`` array; :mod:`theory._observe`); on the numba backend that sweep is the
kernel's own first pass of the next step.  :meth:`Dynamics.records` (behind :meth:`Dynamics.run` and
:func:`theory.trajectory.run_coupled`) runs several stretches and their records in one compiled call
(:mod:`theory._recording`).  The threaded kernel (bitwise the
serial one) is taken when ``parallel=True``, or with ``parallel=None`` when this process owns the
machine (:func:`machine_owner`); :attr:`Dynamics.kernel` and :attr:`Trajectory.kernel` record which ran.
"""

from __future__ import annotations

import dataclasses
import math
import multiprocessing
import os
import warnings
from typing import Optional, Sequence, Tuple

import numba
import numpy as np

from . import _kernels_numba as _K
from . import _recording
from ._dynamics_config import DynamicsConfig, State, StepLimits, _limits, _time_factor, stable_dt, step_limits
from ._observe import COMPILED_MAX_N, Observation, default_block, observe_primed, observe_state
from ._records import Snapshot, Trajectory
from ._validation import check_int, check_matrix, check_vector, as_float_array
from .activations import get_activation
from .errors import DomainError, PremiseWarning, ShapeError, UnstableStepError
from . import _observe_numba
from .network import Particles, output, sample_p0, second_moment

__all__ = ["DynamicsConfig", "State", "StepLimits", "Snapshot", "Trajectory", "Dynamics", "step_limits",
           "stable_dt", "simulate", "counter_normals", "set_machine_owner", "machine_owner"]

_SQRT_PI = math.sqrt(math.pi)
#: n*d from which the kernel's two products go through BLAS (measured crossover on one core).
_BLAS_MIN_ND = 200
#: Particles (R m) from which ``parallel=None`` takes the threaded kernel, so that each of two threads gets
#: enough work per step to amortise the block loop's fork-join (single runs of 32k-800k particles gained
#: 1.45-1.71x at load 2.2); at the default block that is 8 blocks of 2048 (n <= 6, 4 per thread) up to 64 of
#: 256 (n >= 26).
_PARALLEL_MIN_PARTICLES = 16_384
_OWNER: Optional[bool] = None


def set_machine_owner(owner: Optional[bool]) -> None:
    """Declare whether this process owns the machine's cores (None: decide from the environment).

    ``verify`` and ``hunt --workers 1`` may declare True; workers of a multi-process hunt False.  An owner
    still runs serially while other processes load the cores (``_machine_busy``).
    """
    global _OWNER
    if owner is not None and not isinstance(owner, (bool, np.bool_)):
        raise TypeError(f"owner must be a bool or None, got {owner!r}")
    _OWNER = None if owner is None else bool(owner)


def machine_owner() -> bool:
    """Whether this process may spread the kernel over numba's threads: the declared value, else False
    under pytest-xdist (``PYTEST_XDIST_WORKER``) or in a multiprocessing child, True otherwise."""
    if _OWNER is not None:
        return _OWNER
    return not os.environ.get("PYTEST_XDIST_WORKER") and multiprocessing.parent_process() is None


def _machine_busy() -> bool:
    """Whether other processes load the cores (1-minute load average above cores - 1/2, this process counting
    for about one): there the threaded kernel's fork-join per step waits on descheduled threads.  Measured on
    2 cores, threaded against serial wall time: 1.45-1.71x at load 2.2 on single runs of 32k-800k particles,
    but 0.53x for a whole ci variant at load 2.8 and 0.09-0.72x at load 5.7 (docs/architecture.md#speed)."""
    try:
        return os.getloadavg()[0] > (os.cpu_count() or 1) - 0.5
    except OSError:         # no load average on this platform: trust the owner's declaration
        return False


def counter_normals(seed: int, step: int, R: int, m: int, k: int) -> np.ndarray:
    """The N(0, I_k) noise of step ``step`` under ``seed``, shape (R, m, k), from the counter-based stream.

    SplitMix64 words keyed by (seed, step, replica, particle) and Box-Muller with branch-free
    polynomial log/sin/cos (see :mod:`theory._kernels_numba`); the numba kernel draws the same numbers.
    """
    seed = check_int("seed", seed, minimum=0, maximum=2 ** 64 - 1)
    step = check_int("step", step, minimum=0)
    return _K.counter_normals_np(_K.stream_key(seed, step), check_int("R", R), check_int("m", m),
                                 check_int("k", k))


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
    """The particle scheme of docs/model.md#particle-sde-and-algorithm-1 on data (X, y) with activation ``act`` (see the module doc).

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
        self.X = check_matrix("X", X)
        self.y = check_vector("y", y, length=self.X.shape[0])
        # the block the kernel runs with, in the config that the run's records carry
        self.config = config if config.block is not None else dataclasses.replace(
            config, block=default_block(self.X.shape[0]))
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
        #: (state, step, thetaT, u) whose pass 1 :meth:`record` left in the buffers (``prime=True``), else None.
        self._primed = None
        self._XXt = self.X @ self.X.T
        self._X64 = np.ascontiguousarray(self.X, dtype=np.float64)
        self._xmax = float(np.linalg.norm(self.X, axis=1).max())
        self._use_blas = self.n * self.d >= _BLAS_MIN_ND if config.blas is None else config.blas
        #: The step that ran last: "numpy", "numba-serial" or "numba-parallel/T" ("" before any step).
        self.kernel = ""

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
        # Copies always: the run advances its state in place, and ascontiguousarray would hand back the caller's
        # own u (and theta when d = 1), which the run would then overwrite.
        thetaT = np.array(np.swapaxes(theta, -1, -2), dtype=cfg.dtype, order="C", copy=True)
        u = np.array(u, dtype=cfg.dtype, order="C", copy=True)
        state = State(thetaT, u, thetaT.copy() if cfg.couple_ou else None, u.copy() if cfg.couple_ou else None)
        if self.check_stability:
            self._check_limits(state.particles())
        return state

    def _warn_if_unstable(self, particles: Particles) -> None:
        """With the check switched off, an unstable step is the caller's choice, but never a silent one:
        warn (PremiseWarning) that the run is no discretisation of (3.4) at this step."""
        try:
            self._check_limits(particles)
        except UnstableStepError as exc:
            warnings.warn(f"check_stability=False: {exc}; the run does not approximate the PDE (3.4)",
                          PremiseWarning, stacklevel=3)

    def limits(self, state: State) -> StepLimits:
        """:class:`StepLimits` at the current measure of ``state``."""
        self._check_state(state)
        return _limits(self.config, self._observation(state, need_b=False), self.X, self.y, self.act,
                       self.to_time)

    def _check_limits(self, particles: Particles, step: int = 0) -> None:
        lim = step_limits(self.config, particles, self.X, self.y, self.act,
                          lambda0=math.sqrt(self.to_time) / self.config.alpha)
        self._raise_if_unstable(lim, step)

    def _limits_of(self, obs: Observation, ev=None) -> StepLimits:
        return _limits(self.config, obs, self.X, self.y, self.act, self.to_time, ev, self._xmax)

    def _raise_if_unstable(self, lim: StepLimits, step: int) -> None:
        if self.dt_phys > lim.limit:
            raise UnstableStepError(
                f"dt={self.config.dt!r} (time={self.config.time!r}) exceeds the stability limit "
                f"{lim.limit * lim.to_time:.6g} at step {step} (kernel {lim.kernel * lim.to_time:.4g}, "
                f"particle {lim.particle * lim.to_time:.4g}, ou {lim.ou * lim.to_time:.4g}); use stable_dt()")

    def noise(self, step: int) -> np.ndarray:
        """The counter-based noise of step ``step``, shape (R, m, k) (components theta then u).

        On the numba backend it is drawn by the kernel's own compiled generator (39x faster than the numpy
        twin at R m = 16000, k = 3; equal to it within 1.4e-15, the rounding of fused multiply-adds); the
        numpy backend, the plain reference, keeps :func:`counter_normals`."""
        if self._numba is None:
            return counter_normals(self.seed, step, self.config.R, self.config.m, self.k)
        step = check_int("step", step, minimum=0)
        return _K.counter_normals_nb(_K.stream_key(self.seed, step), self.config.R, self.config.m, self.k)

    # -- stepping ------------------------------------------------------------------------------
    def _check_state(self, state: State) -> None:
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

    def step(self, state: State, noise=None) -> State:
        """Advance every replica by one step, in place; ``noise`` (R, m, k) replaces the stream if given."""
        self._check_state(state)
        cfg = self.config
        if noise is not None:
            noise = as_float_array("noise", noise, ndim=3)
            if noise.shape != (cfg.R, cfg.m, self.k):
                raise ShapeError(f"noise must have shape {(cfg.R, cfg.m, self.k)}, got {noise.shape}")
        if self.backend == "numba":
            self._step_numba(state, None if noise is None else noise[None], 1)
        else:
            self._step_numpy(state, self.noise(state.step) if noise is None else noise)
            self.kernel = "numpy"
        state.step += 1
        return state

    def advance(self, state: State, n_steps: int, noise=None) -> State:
        """Advance ``state`` by ``n_steps`` steps of the stream, in place: one compiled call on the numba
        backend (bitwise the same as ``n_steps`` calls of :meth:`step`).  ``noise (n_steps, R, m, k)``
        replaces the stream if given (as ``noise[l]`` in the l-th call of :meth:`step`)."""
        self._check_state(state)
        n_steps = check_int("n_steps", n_steps, minimum=0)
        cfg = self.config
        if noise is not None:
            noise = as_float_array("noise", noise, ndim=4)
            if noise.shape != (n_steps, cfg.R, cfg.m, self.k):
                raise ShapeError(f"noise must have shape {(n_steps, cfg.R, cfg.m, self.k)}, got {noise.shape}")
        if n_steps == 0:
            return state
        if self.backend == "numba":
            self._step_numba(state, noise, n_steps)
            state.step += n_steps
        else:
            for i in range(n_steps):
                self.step(state, None if noise is None else noise[i])
        return state

    def _parallel(self) -> bool:
        """Whether the next call takes the threaded kernel (config, else :func:`machine_owner`, size and load)."""
        if self.config.parallel is not None:
            return bool(self.config.parallel)
        return (machine_owner() and numba.get_num_threads() > 1
                and self.config.R * self.config.m >= _PARALLEL_MIN_PARTICLES and not _machine_busy())

    def _buffers_numba(self) -> dict:
        """Work buffers of the compiled kernel (allocated once per Dynamics)."""
        if self._buffers is None:
            cfg, dt = self.config, self.config.dtype
            buf2 = (cfg.R, self.n, cfg.m) if self._numba[0] == _K.KIND_ERF else (1, 1, 1)
            nb = (cfg.m + cfg.block - 1) // cfg.block
            self._buffers = dict(buf=np.empty((cfg.R, self.n, cfg.m), dt), buf2=np.empty(buf2, dt),
                                 parts=np.empty((cfg.R, nb, self.n + 1)), d3=np.empty((1, 1, 1), dt),
                                 d4=np.empty((1, 1, 1, 1), dt),
                                 d2=np.empty((1, 1), dt), X=self.X.astype(dt), y=self.y.astype(dt),
                                 hc=np.asarray(self._numba[1], dtype=np.float64))
        return self._buffers

    def _is_primed(self, state: State) -> bool:
        p = self._primed
        return (p is not None and p[0] is state and p[1] == state.step and p[2] is state.thetaT
                and p[3] is state.u)

    def _step_numba(self, state: State, noise, n_steps: int) -> None:
        cfg = self.config
        kind, hc, s = self._numba
        bf = self._buffers_numba()
        couple = state.v_thetaT is not None
        parallel = self._parallel()
        primed = self._is_primed(state)
        self._primed = None
        keys = _K.stream_keys(self.seed, state.step, n_steps)
        kernel = _K.particle_steps_primed_parallel if parallel else _K.particle_steps_primed
        kernel(state.thetaT, state.u, state.v_thetaT if couple else bf["d3"], state.v_u if couple else bf["d2"],
               bf["X"], bf["y"], bf["buf"], bf["buf2"], kind, bf["hc"], 1.0 / s, cfg.alpha, self._coef[4],
               self._coef[:4], bf["d4"] if noise is None else np.ascontiguousarray(noise, dtype=cfg.dtype),
               noise is not None, keys, couple, cfg.block, self._use_blas, bf["parts"], primed)
        self.kernel = f"numba-parallel/{numba.get_num_threads()}" if parallel else "numba-serial"

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
    def output_moment(self, state: State) -> Tuple[np.ndarray, np.ndarray]:
        """``(f (R, n), E|w|^2 (R,))`` of the current measure: :func:`theory.network.output` and
        :func:`theory.network.second_moment` in one compiled sweep on the numba backend (equal to them to
        rounding, pairs first as there), else those functions."""
        self._check_state(state)
        if self._numba is None:
            p = state.particles()
            return output(p, self.X, self.act, self.config.alpha), second_moment(p)
        kind, hc, s = self._numba
        f, sq = _observe_numba.output_sums(state.thetaT, state.u, self._X64, kind, np.asarray(hc, np.float64),
                                           float(s), int(self.config.block))
        m = state.thetaT.shape[-1]
        return self.config.alpha * f / m, sq / m

    def observe(self, state: State) -> Snapshot:
        """The :class:`Snapshot` of ``state`` (raises UnstableStepError if the run has diverged)."""
        return self.record(state, check=False)[0]

    def record(self, state: State, check: Optional[bool] = None, reference: bool = False, prime: bool = False
               ) -> Tuple[Snapshot, Optional[Tuple[np.ndarray, np.ndarray]]]:
        """The :class:`Snapshot` of ``state`` and, with ``reference``, the mean (R, k) and covariance
        (R, k, k) of the reference particles v, from one chunked sweep over the particles.

        ``check`` (default: ``check_stability``) also raises :class:`~theory.errors.UnstableStepError`
        when ``dt`` exceeds the stability limit at this state; a diverged run always raises.

        On the numba backend the sweep is the kernel's own first pass of the next step
        (:func:`~theory._observe.observe_primed`); with ``prime`` it stays in the buffers and the next
        :meth:`advance` or :meth:`step` of this same state skips it, so that a record costs its sums only.
        The caller must then not modify the state's arrays in between (the runners of this package don't).
        """
        self._check_state(state)
        if reference and state.v_thetaT is None:
            raise DomainError("this run does not couple a reference OU (couple_ou=False)")
        obs = self._observation(state, need_b=self.act.max_order >= 2, need_ref=reference, fused=True)
        if prime and self._numba is not None and self.n <= COMPILED_MAX_N:
            self._primed = (state, state.step, state.thetaT, state.u)
        ev = np.linalg.eigvalsh(obs.H)
        if self.check_stability if check is None else check:
            self._raise_if_unstable(self._limits_of(obs, ev), state.step)
        r = obs.f - self.y
        snap = Snapshot(step=state.step, t=state.step * self.config.dt, t_phys=state.step * self.dt_phys,
                        f=obs.f, residual=r, loss=np.add.reduce(r ** 2, axis=-1) / r.shape[-1], lam_min_H=ev[..., 0],
                        lam_max_H=ev[..., -1], second_moment=obs.second_moment, b=obs.b, mean=obs.mean,
                        cov=obs.cov, w2_ou_upper_sq=obs.w2_sq)
        return snap, ((obs.ref_mean, obs.ref_cov) if reference else None)

    def _observation(self, state: State, need_b: bool, need_ref: bool = False, fused: bool = False) -> Observation:
        """:func:`~theory._observe.observe_state` of ``state``, raising UnstableStepError on divergence;
        ``fused``: from the compiled kernel's pass 1 (:func:`~theory._observe.observe_primed`) where it applies.

        A non-finite particle makes ``second_moment`` (a sum of all squares) non-finite, so the compiled
        sweep needs no separate scan; the numpy path scans first, keeping the activations off inf/NaN.
        """
        if self._numba is None and not (np.all(np.isfinite(state.thetaT)) and np.all(np.isfinite(state.u))):
            self._diverged(state)
        # A diverging run can hold finite values whose squares overflow; report that as divergence
        # below instead of as a floating-point warning.
        try:
            with np.errstate(over="ignore", invalid="ignore"):
                if fused and self._numba is not None and self.n <= COMPILED_MAX_N:
                    obs = observe_primed(state.thetaT, state.u, state.v_thetaT, state.v_u, self.X, self._XXt,
                                         self.config.alpha, self._numba, self._buffers_numba(), need_b=need_b,
                                         need_ref=need_ref, need_stiffness=not self.act.admissible,
                                         block=self.config.block, use_blas=self._use_blas)
                else:
                    obs = observe_state(state.thetaT, state.u, state.v_thetaT, state.v_u, self.X, self.act,
                                        self.config.alpha, need_b=need_b, need_ref=need_ref,
                                        need_stiffness=not self.act.admissible, compiled=self._numba)
                # One sum per array: a non-finite entry makes it non-finite (as does an overflowing sum of
                # finite entries near 1e308, a diverged state too).
                ok = all(math.isfinite(float(np.add.reduce(v, axis=None)))
                         for v in (obs.f, obs.cov, obs.H, obs.second_moment))
        except np.linalg.LinAlgError:
            ok = False
        if not ok:
            self._diverged(state)
        return obs

    #: A compiled call of :meth:`records` takes records until its stretches reach this many steps (at most
    #: 64 records): a failure (divergence, unstable step) is seen at most that late, while the Python around
    #: a call (~0.1-0.3 ms) is shared by the records of short stretches (every 2-4 steps in the ci runs).
    STEPS_PER_CALL = 128

    def records(self, state: State, stops: Sequence[int], reference: bool = False, check: Optional[bool] = None,
                check_first: bool = False, observables: str = "all"
                ) -> Tuple[Trajectory, Optional[Tuple[np.ndarray, np.ndarray]]]:
        """Advance ``state`` and record it after ``stops[q]`` steps for each q (non-empty, non-decreasing; 0
        records the current state): the :class:`Trajectory` of the records and, with ``reference``, the
        stacked reference moments ``(Q, R, k)``, ``(Q, R, k, k)``.

        The same steps and records as :meth:`advance` and :meth:`record` in turn (bitwise the same
        particles); on the numba backend the records of up to :data:`STEPS_PER_CALL` steps and their
        stretches run in one compiled call, each record being the next step's first pass
        (:mod:`theory._recording`).  ``check`` (default ``check_stability``) checks the stability limit at
        every record after the first (at the first too with ``check_first``), as :meth:`record` does; a
        failing or diverged record raises with its step, leaving the state at the end of its compiled call.

        ``observables="outputs"`` records f, the residual, the loss and E|w|^2 only (the Trajectory's
        ``lam_min_H``, ``lam_max_H``, ``b``, ``mean``, ``cov``, ``w2_ou_upper_sq`` are None); on the compiled
        path (numba, n <= COMPILED_MAX_N) at about a fourth of a full record's cost, elsewhere as full records
        with those fields dropped.  The stability check is the same (a trace bound, and the exact check
        wherever that bound cannot clear a record), as are the particles and the recorded values, bitwise.
        A coupled reference OU (``couple_ou=True``) is still advanced but not reported: runs that read only
        outputs should switch it off.
        """
        if not isinstance(observables, str):
            raise TypeError(f"observables must be a str ('all' or 'outputs'), got {type(observables).__name__} "
                            f"{observables!r}")
        if observables not in ("all", "outputs"):
            raise DomainError(f"observables must be 'all' or 'outputs', got {observables!r}")
        full = observables == "all"
        if reference and not full:
            raise DomainError("reference moments need observables='all', got observables='outputs'")
        self._check_state(state)
        if reference and state.v_thetaT is None:
            raise DomainError("this run does not couple a reference OU (couple_ou=False)")
        stops = [check_int("stops", q, minimum=0) for q in stops]
        if not stops or any(b < a for a, b in zip(stops, stops[1:])):
            raise DomainError(f"stops must be a non-empty non-decreasing list, got {stops!r}")
        check = self.check_stability if check is None else bool(check)
        if self._numba is None or self.n > COMPILED_MAX_N:
            return _recording.records_loop(self, state, stops, reference, check, check_first, full)
        return _recording.records_compiled(self, state, stops, reference, check, check_first, full)

    def _diverged(self, state):
        step = state.step if isinstance(state, State) else state
        raise UnstableStepError(f"the particles diverged (non-finite or overflowing) by step {step} "
                                f"with dt={self.config.dt!r}; use stable_dt()")

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
        if not self.check_stability and n_steps:
            self._warn_if_unstable(state.particles())
        # the stretches and records in compiled calls of several records each
        return self.records(state, [0] + sorted(marks - {0}))[0]


def simulate(config: DynamicsConfig, X, y, act, n_steps: int, seed: int, record_every: Optional[int] = None,
             record_times=None, init: Optional[Particles] = None, check_stability: bool = True) -> Trajectory:
    """Run the particle scheme from ``init`` (default: a p0 sample) for ``n_steps``; see :meth:`Dynamics.run`."""
    dyn = Dynamics(config, X, y, act, seed, check_stability=check_stability)
    return dyn.run(dyn.initial_state(init), n_steps, record_every, record_times)
