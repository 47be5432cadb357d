"""Two-layer network on a (weighted) particle measure: f(p, x) (3.1)/(3.2), p0 samples, b(p) (docs/model.md).

A measure is a set of particles ``w_j = (theta_j, u_j)`` with weights ``pi_j`` (1/m for samples,
quadrature weights otherwise); every function here is a weighted sum over particles, vectorised over
leading replica axes::

    f(p, x_i) = alpha * sum_j pi_j u_j ht(theta_j . x_i)                                  (3.1), (3.2)
    b_i(p)    = sum_j pi_j u_j [ht(z_ji) + z_ji ht'(z_ji) - |x_i|^2 ht''(z_ji)]            (docs/model.md#residual-ode)

Shapes: ``theta (..., m, d)``, ``u (..., m)``, ``weights (..., m)``, ``X (n, d)``; outputs carry
the leading axes ``...``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from ._validation import as_float_array, check_int, check_matrix, check_positive, check_rng, check_weights
from .activations import get_activation
from .errors import DomainError, MissingDerivativeError, ShapeError

__all__ = ["Particles", "sample_p0", "output", "residual_drift_b", "second_moment", "mean_cov"]


@dataclass(frozen=True)
class Particles:
    """A weighted particle measure ``p = sum_j pi_j delta_{(theta_j, u_j)}`` on R^{d+1} (docs/evidence.md#tiers, 2.1).

    Attributes
    ----------
    theta : (..., m, d) float array
        First-layer weights; leading axes index independent replicas.
    u : (..., m) float array
        Second-layer weights.
    weights : (..., m) float array or None
        Non-negative weights ``pi_j`` summing to one along the last axis; None means 1/m each.
    """

    theta: np.ndarray
    u: np.ndarray
    weights: Optional[np.ndarray] = None

    def __post_init__(self):
        theta = as_float_array("theta", self.theta)
        if theta.ndim < 2:
            raise ShapeError(f"theta must have shape (..., m, d), got shape {theta.shape}")
        if theta.shape[-2] < 1 or theta.shape[-1] < 1:
            raise ShapeError(f"theta must hold m >= 1 particles of dimension d >= 1, got shape {theta.shape}")
        u = as_float_array("u", self.u)
        if u.shape != theta.shape[:-1]:
            raise ShapeError(f"u must have shape {theta.shape[:-1]} (theta.shape[:-1]), got shape {u.shape}")
        object.__setattr__(self, "theta", theta)
        object.__setattr__(self, "u", u)
        if self.weights is not None:
            object.__setattr__(self, "weights", _check_weights(self.weights, u.shape))

    @property
    def m(self) -> int:
        """Number of particles."""
        return self.theta.shape[-2]

    @property
    def d(self) -> int:
        """Input dimension."""
        return self.theta.shape[-1]

    @property
    def k(self) -> int:
        """Parameter dimension k = d + 1."""
        return self.theta.shape[-1] + 1

    @property
    def batch_shape(self) -> tuple:
        """The leading (replica) axes."""
        return self.theta.shape[:-2]

    def pi(self) -> np.ndarray:
        """The weights ``pi_j`` as an array of shape (..., m) (1/m each when ``weights`` is None)."""
        if self.weights is None:
            return np.full(self.u.shape, 1.0 / self.m)
        return self.weights

    def w(self) -> np.ndarray:
        """The parameters ``w_j = (theta_j, u_j)`` as one (..., m, k) array (u last)."""
        return np.concatenate([self.theta, self.u[..., None]], axis=-1)


def _check_weights(weights, shape) -> np.ndarray:
    return check_weights("weights", weights, shape)


def sample_p0(m, d, rng, replicas=None, symmetric: bool = True) -> Particles:
    """m particles from p0 = N(0, I_{d+1}), optionally with the doubling of docs/model.md#symmetric-initialisation.

    With ``symmetric=True`` (m even) m/2 base pairs ``(theta_j, u_j) ~ p0`` are drawn and each is
    followed by its mirror ``(theta_j, -u_j)``: particles ``2j`` and ``2j + 1`` form a pair, so that
    :func:`output`, which sums each adjacent pair first, returns ``f_m = 0`` exactly (bitwise),
    whatever alpha and x.  With ``symmetric=False`` all m particles are iid.

    Parameters
    ----------
    m, d : int
        Number of particles (even when symmetric) and input dimension.
    rng : numpy.random.Generator or int
        Source of randomness.
    replicas : int or None
        If given, a leading axis of that many independent replicas.

    Returns
    -------
    Particles
        ``theta (R, m, d)`` / ``u (R, m)`` (or without the leading axis), weights None.
    """
    m = check_int("m", m, minimum=1)
    d = check_int("d", d, minimum=1)
    rng = check_rng("rng", rng)
    lead = () if replicas is None else (check_int("replicas", replicas, minimum=1),)
    if not isinstance(symmetric, (bool, np.bool_)):
        raise TypeError(f"symmetric must be a bool, got {type(symmetric).__name__}: {symmetric!r}")
    if not symmetric:
        return Particles(rng.standard_normal(lead + (m, d)), rng.standard_normal(lead + (m,)))
    if m % 2:
        raise DomainError(f"m must be even for the symmetric (doubling) initialisation, got {m!r}")
    theta0 = rng.standard_normal(lead + (m // 2, d))
    u0 = rng.standard_normal(lead + (m // 2,))
    theta = np.repeat(theta0, 2, axis=-2)
    u = np.stack([u0, -u0], axis=-1).reshape(lead + (m,))
    return Particles(theta, u)


def _check_inputs(particles, X, act):
    if not isinstance(particles, Particles):
        raise TypeError(f"particles must be a Particles instance, got {type(particles).__name__}")
    X = check_matrix("X", X)
    if X.shape[1] != particles.d:
        raise ShapeError(f"X must have {particles.d} columns (the d of the particles), got shape {X.shape}")
    return X, get_activation(act)


def _pairwise_sum(c: np.ndarray) -> np.ndarray:
    """Sum of (..., m, n) over the particle axis, adding adjacent pairs (2j, 2j + 1) first.

    Mirrored pairs of the doubling initialisation contribute ``a + (-a) = 0`` exactly, so their
    total is 0.0 bitwise; any other ordering could leave rounding residue of order eps * alpha.
    """
    m = c.shape[-2]
    if m % 2:
        return c.sum(axis=-2)
    return c.reshape(c.shape[:-2] + (m // 2, 2, c.shape[-1])).sum(axis=-2).sum(axis=-2)


def output(particles: Particles, X, act, alpha) -> np.ndarray:
    """f(p, x_i) = alpha * sum_j pi_j u_j ht(theta_j . x_i), equations (3.1)/(3.2).

    Parameters
    ----------
    particles : Particles
        The measure p; shapes (..., m, d) and (..., m).
    X : (n, d) array
        Inputs x_i as rows.
    act : Activation or str
        The activation ``ht``.
    alpha : float
        Output scaling (> 0).

    Returns
    -------
    (..., n) array
        The outputs at the n inputs (docs/kernels.md#gram-from-particles: ``f = alpha Phi^T (pi o u)``).
    """
    X, act = _check_inputs(particles, X, act)
    alpha = check_positive("alpha", alpha)
    h = act.h(particles.theta @ X.T)
    return alpha * _pairwise_sum((particles.pi() * particles.u)[..., None] * h)


def residual_drift_b(particles: Particles, X, act) -> np.ndarray:
    """b_i(p) = E_p[u (ht(z_i) + z_i ht'(z_i) - |x_i|^2 ht''(z_i))] of the residual ODE (docs/model.md#residual-ode).

    It is the weight-decay part of ``d f_i / dt = -(2 alpha^2/n)(H r)_i - lam alpha b_i``; b(p0) = 0.
    Needs ht'', so relu raises :class:`~theory.errors.MissingDerivativeError`.

    Returns
    -------
    (..., n) array
    """
    X, act = _check_inputs(particles, X, act)
    if act.max_order < 2:
        raise MissingDerivativeError(f"b(p) needs h''; activation {act.name!r} has derivatives up to "
                                     f"order {act.max_order} only")
    Z = particles.theta @ X.T
    h, h1, h2 = act.derivatives(Z, 2)
    inner = h + Z * h1 - h2 * np.sum(X * X, axis=1)
    return _pairwise_sum((particles.pi() * particles.u)[..., None] * inner)


def second_moment(particles: Particles) -> np.ndarray:
    """E_p|w|^2 = sum_j pi_j (|theta_j|^2 + u_j^2); shape (...,). Equals k = d + 1 under p0."""
    if not isinstance(particles, Particles):
        raise TypeError(f"particles must be a Particles instance, got {type(particles).__name__}")
    sq = np.sum(particles.theta ** 2, axis=-1) + particles.u ** 2
    return np.sum(particles.pi() * sq, axis=-1)


def mean_cov(particles: Particles):
    """Mean (..., k) and covariance (..., k, k) of w = (theta, u) under p (u last; plug-in, not unbiased).

    These are the moments behind the Gaussian KL lower bound and the Gelbrich W2 lower bound (docs/evidence.md#certified-and-estimated-quantities).
    """
    if not isinstance(particles, Particles):
        raise TypeError(f"particles must be a Particles instance, got {type(particles).__name__}")
    w = particles.w()
    pi = particles.pi()[..., None]
    mean = np.sum(pi * w, axis=-2)
    c = w - mean[..., None, :]
    cov = np.swapaxes(pi * c, -1, -2) @ c
    return mean, 0.5 * (cov + np.swapaxes(cov, -1, -2))
