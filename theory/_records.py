"""Records of a particle run: :class:`Snapshot` (one time) and :class:`Trajectory` (snapshots stacked).

Private home of the two classes; import them from :mod:`theory.dynamics`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from .dynamics import DynamicsConfig

__all__ = ["Snapshot", "Trajectory"]


@dataclass(frozen=True)
class Snapshot:
    """Observables of the measure p_t at one time (R = replicas; docs/model.md#residual-ode, 5).

    ``f, residual, b (R, n)``; ``loss, lam_min_H, lam_max_H, second_moment, w2_ou_upper_sq (R,)``;
    ``mean (R, k)``, ``cov (R, k, k)`` of w = (theta, u); ``b`` is None when h'' does not exist and
    ``w2_ou_upper_sq`` (= mean_j |w_j - v_j|^2) None when no reference OU is coupled.  In a Trajectory of
    outputs records (``Dynamics.records(..., observables="outputs")``) ``lam_min_H``, ``lam_max_H``, ``b``,
    ``mean``, ``cov`` and ``w2_ou_upper_sq`` are all None.
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
    gains the leading axis N, e.g. ``loss (N, R)`` and ``residual (N, R, n)``.  ``kernel`` names the
    step that ran: "numpy", "numba-serial" or "numba-parallel/T" (T threads), see :attr:`Dynamics.kernel`.
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
    kernel: str = ""

    @property
    def w2_ou_upper(self) -> Optional[np.ndarray]:
        """sqrt(E|w_t - v_t|^2), the synchronous-coupling upper value of W2(p_t, p0) (tier S)."""
        return None if self.w2_ou_upper_sq is None else np.sqrt(self.w2_ou_upper_sq)

    @classmethod
    def from_snapshots(cls, config, seed, backend, snaps, kernel: str = "") -> "Trajectory":
        fields = {}
        for name in Snapshot.__dataclass_fields__:
            vals = [getattr(s, name) for s in snaps]
            key = "steps" if name == "step" else name
            fields[key] = None if vals[0] is None else np.asarray(np.stack(vals) if name != "step" else vals)
        for arr in fields.values():
            if arr is not None:
                arr.setflags(write=False)
        return cls(config=config, seed=seed, backend=backend, kernel=kernel, **fields)
