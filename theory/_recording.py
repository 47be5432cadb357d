"""Runs with records in compiled calls (private helper of :meth:`theory.dynamics.Dynamics.records`).

A record of the particle state needs the activations at every particle and input, which the first pass
of the next step computes anyway.  :func:`theory._observe_numba.run_records` runs the stretches between
several records and the records themselves in one compiled call: each record is that first pass
(:func:`theory._observe_numba.record_sums`, left in the kernel's buffers so that the next stretch skips
it) plus its sums and the moments.  Here the sums of a call become records together: one eigenvalue
call for all Gram matrices, the stability limits vectorised (the exact check of
:meth:`~theory.dynamics.Dynamics.record` runs only where the vectorised one says a record may fail), and
the stacked arrays go straight into a :class:`~theory._records.Trajectory`.

An outputs record (``full=False``, :meth:`~theory.dynamics.Dynamics.records` with
``observables="outputs"``) sums f and the diagonals of H1, H2 only: the stability check then bounds
lambda_max(H) by the trace of H, which never understates it, and a call in which any record might fail
that check (or is not finite) is run again from its saved start with full records, so that the exact
check decides and raises as it would have.  The particles are bitwise the same either way.

The particles are bitwise those of :meth:`~theory.dynamics.Dynamics.advance`; the records are those of
:meth:`~theory.dynamics.Dynamics.record`, which reads the same pass (docs/architecture.md#speed).
"""

from __future__ import annotations

import dataclasses
from typing import List, Tuple

import numba
import numpy as np

from . import _kernels_numba as _K
from . import _observe_numba as _OBS
from ._observe import Observation
from ._records import Trajectory

__all__ = ["records_compiled", "records_loop", "OUTPUT_FIELDS", "OUTPUT_FIELDS_NONE"]

#: Trajectory fields stacked per record, in the order of the arrays built by :func:`_group`.
_FIELDS = ("steps", "t", "t_phys", "f", "residual", "loss", "lam_min_H", "lam_max_H", "second_moment", "b", "mean",
           "cov", "w2_ou_upper_sq")
#: The Trajectory fields an outputs record leaves None (docs/architecture.md#speed).
OUTPUT_FIELDS_NONE = ("lam_min_H", "lam_max_H", "b", "mean", "cov", "w2_ou_upper_sq")
#: The fields an outputs record keeps.
OUTPUT_FIELDS = tuple(k for k in _FIELDS if k not in OUTPUT_FIELDS_NONE)


def _trajectory(dyn, fields: dict) -> Trajectory:
    for arr in fields.values():
        if arr is not None:
            arr.setflags(write=False)
    return Trajectory(config=dyn.config, seed=dyn.seed, backend=dyn.backend, kernel=dyn.kernel, **fields)


def records_loop(dyn, state, stops: List[int], reference: bool, check: bool, check_first: bool, full: bool = True):
    """:meth:`Dynamics.records` by :meth:`Dynamics.advance` and :meth:`Dynamics.record` in turn (the numpy
    backend and n above the compiled sweep's limit); ``full=False`` drops the fields of an outputs record."""
    snaps, means, covs, done = [], [], [], 0
    for i, q in enumerate(stops):
        dyn.advance(state, q - done)
        done = q
        snap, ref = dyn.record(state, check=check and (i > 0 or check_first), reference=reference)
        snaps.append(snap)
        if reference:
            means.append(ref[0])
            covs.append(ref[1])
    traj = Trajectory.from_snapshots(dyn.config, dyn.seed, dyn.backend, snaps, kernel=dyn.kernel)
    if not full:
        traj = dataclasses.replace(traj, **{k: None for k in OUTPUT_FIELDS_NONE})
    return traj, ((np.stack(means), np.stack(covs)) if reference else None)


def records_compiled(dyn, state, stops: List[int], reference: bool, check: bool, check_first: bool,
                     full: bool = True):
    """:meth:`Dynamics.records` in compiled calls of up to ``dyn.STEPS_PER_CALL`` steps (64 records) each;
    ``full=False``: outputs records (module docstring)."""
    groups, start, g = [], state.step, 0
    while g < len(stops):
        e = g + 1
        while e < len(stops) and e - g < 64 and stops[e] - stops[g] <= dyn.STEPS_PER_CALL:
            e += 1
        checks = np.array([check and (g + i > 0 or check_first) for i in range(e - g)])
        groups.append(_group(dyn, state, [q + start - state.step for q in stops[g:e]], reference, checks) if full
                      else _output_group(dyn, state, [q + start - state.step for q in stops[g:e]], checks))
        g = e
    fields = {k: (None if groups[0][0][k] is None else
                  groups[0][0][k] if len(groups) == 1 else np.concatenate([gr[0][k] for gr in groups]))
              for k in _FIELDS}
    ref = None
    if reference:
        ref = tuple(groups[0][1][i] if len(groups) == 1 else np.concatenate([gr[1][i] for gr in groups])
                    for i in (0, 1))
    return _trajectory(dyn, fields), ref


def _run_threaded(thetaT, u, vT, vu, X, X64, y, buf, buf2, parts, kind, hc, s, alpha, drift, coef, keys, couple,
                  block, use_blas, primed, stops, need_b, need_st, need_ref, full):
    """:func:`theory._observe_numba.run_records` with the threaded step kernel, looping in Python (a compiled
    caller of the threaded kernel crashes under numba's cache)."""
    outs, done = [], 0
    for q in stops:
        if q > done:
            _K.particle_steps_primed_parallel(thetaT, u, vT, vu, X, y, buf, buf2, kind, hc, 1.0 / s, alpha, drift, coef,
                                              np.empty((1, 1, 1, 1), thetaT.dtype), False, keys[done:q], couple, block,
                                              use_blas, parts, primed)
            done = q
        outs.append(_OBS.record_sums(thetaT, u, vT, vu, X, X64, buf, buf2, parts, kind, hc, s, need_b, need_st, couple,
                                     need_ref, block, use_blas, full))
        primed = True
    return tuple(np.stack(a) for a in zip(*outs))


def _sums(dyn, state, stops: List[int], reference: bool, full: bool = True):
    """The stacked sums of one compiled call (state advanced by ``stops[-1]`` steps, pass 1 left primed)."""
    cfg, bf = dyn.config, dyn._buffers_numba()
    kind, _, s = dyn._numba
    couple = state.v_thetaT is not None
    parallel = dyn._parallel()
    primed = dyn._is_primed(state)
    dyn._primed = None
    args = (state.thetaT, state.u, state.v_thetaT if couple else bf["d3"], state.v_u if couple else bf["d2"],
            bf["X"], dyn._X64, bf["y"], bf["buf"], bf["buf2"], bf["parts"], kind, bf["hc"], float(s), cfg.alpha,
            dyn._coef[4], dyn._coef[:4], _K.stream_keys(dyn.seed, state.step, stops[-1]), couple, cfg.block,
            dyn._use_blas, primed, np.asarray(stops, dtype=np.int64), full and dyn.act.max_order >= 2,
            not dyn.act.admissible, bool(reference), bool(full))
    out = (_run_threaded if parallel else _OBS.run_records)(*args)
    if stops[-1] > 0:
        dyn.kernel = f"numba-parallel/{numba.get_num_threads()}" if parallel else "numba-serial"
    state.step += stops[-1]
    dyn._primed = (state, state.step, state.thetaT, state.u)
    return out


def _group(dyn, state, stops: List[int], reference: bool, checks: np.ndarray):
    """One compiled call: the records' stacked Trajectory fields and reference moments; raises at the first
    diverged or unstable record (in record order, as :meth:`Dynamics.record` would)."""
    cfg, m, step0 = dyn.config, dyn.config.m, state.step
    f, b, H1, H2, stats, mean, cov, w2, ref_mean, ref_cov = _sums(dyn, state, stops, reference)
    steps = step0 + np.asarray(stops, dtype=np.int64)
    with np.errstate(over="ignore", invalid="ignore"):
        H = (H1 * dyn._XXt + H2) / m
        f = (cfg.alpha / m) * f
        sm = stats[..., 0] / m
        ok = (np.isfinite(f).all(axis=(1, 2)) & np.isfinite(cov).all(axis=(1, 2, 3))
              & np.isfinite(H).all(axis=(1, 2, 3)) & np.isfinite(sm).all(axis=1))
    ev = np.zeros(H.shape[:-1])
    try:
        ev[ok] = np.linalg.eigvalsh(H[ok])
    except np.linalg.LinAlgError:   # find the record(s) whose eigenvalues fail, one by one
        for q in np.flatnonzero(ok):
            try:
                ev[q] = np.linalg.eigvalsh(H[q])
            except np.linalg.LinAlgError:
                ok[q] = False
    r = f - dyn.y
    max_u, g23 = stats[..., 1].max(axis=1), _stiffness(dyn, stats)
    with np.errstate(invalid="ignore"):
        suspect = _maybe_unstable(dyn, ev, r, max_u, g23) & checks
    for q in np.flatnonzero(~ok | suspect):
        if not ok[q]:
            dyn._diverged(int(steps[q]))
        obs = Observation(f=f[q], H=H[q], b=None, mean=mean[q], cov=cov[q], second_moment=sm[q], w2_sq=None,
                          ref_mean=None, ref_cov=None, max_abs_u=float(max_u[q]),
                          g2=None if g23 is None else float(g23[0][q]), g3=None if g23 is None else float(g23[1][q]))
        dyn._raise_if_unstable(dyn._limits_of(obs, ev[q]), int(steps[q]))   # the exact check decides
    fields = dict(_output_fields(dyn, steps, f, r, sm), lam_min_H=ev[..., 0], lam_max_H=ev[..., -1],
                  b=b / m if dyn.act.max_order >= 2 else None, mean=mean, cov=cov,
                  w2_ou_upper_sq=w2 / m if state.v_thetaT is not None else None)
    return fields, ((ref_mean, ref_cov) if reference else None)


def _output_fields(dyn, steps, f, r, sm) -> dict:
    """The Trajectory fields of :data:`OUTPUT_FIELDS` from the records' steps, f, residual and E|w|^2."""
    return dict(steps=steps, t=steps * dyn.config.dt, t_phys=steps * dyn.dt_phys, f=f, residual=r,
                loss=np.add.reduce(r ** 2, axis=-1) / dyn.n, second_moment=sm)


def _stiffness(dyn, stats):
    """Per record, the largest |h'| and |h''| seen (None when the activation's constants G2, G3 apply)."""
    return None if dyn.act.admissible else (stats[..., 2].max(axis=1), stats[..., 3].max(axis=1))


def _state_arrays(state) -> list:
    """The arrays a compiled call advances in place: theta, u and, when coupled, the reference OU's."""
    return [a for a in (state.thetaT, state.u, state.v_thetaT, state.v_u) if a is not None]


def _output_group(dyn, state, stops: List[int], checks: np.ndarray) -> Tuple[dict, None]:
    """One compiled call of outputs records: the Trajectory fields of :data:`OUTPUT_FIELDS` (the others
    None) and no reference moments, as :func:`_group` returns them.  If a record is not finite or may fail
    the stability check with lambda_max(H) <= trace(H), the call runs again from its saved start with full
    records (:func:`_group`), whose exact check decides."""
    saved = [a.copy() for a in _state_arrays(state)]
    step0 = state.step
    f, _, H1, H2, stats = _sums(dyn, state, stops, False, full=False)[:5]
    cfg, m = dyn.config, dyn.config.m
    with np.errstate(over="ignore", invalid="ignore"):
        f = (cfg.alpha / m) * f
        sm = stats[..., 0] / m
        trace = (np.einsum("...ii->...", H1 * dyn._XXt) + np.einsum("...ii->...", H2)) / m     # (Q, R), H is PSD
        ok = np.isfinite(f).all(axis=(1, 2)) & np.isfinite(trace).all(axis=1) & np.isfinite(sm).all(axis=1)
    r = f - dyn.y
    with np.errstate(invalid="ignore"):
        suspect = _maybe_unstable(dyn, trace[..., None], r, stats[..., 1].max(axis=1), _stiffness(dyn, stats)) & checks
    if not ok.all() or suspect.any():
        for a, b in zip(_state_arrays(state), saved):
            np.copyto(a, b)
        state.step, dyn._primed = step0, None      # pass 1 is recomputed from the restored state (same values)
        fields = _group(dyn, state, stops, False, checks)[0]
        return {k: (None if k in OUTPUT_FIELDS_NONE else v) for k, v in fields.items()}, None
    fields = _output_fields(dyn, step0 + np.asarray(stops, dtype=np.int64), f, r, sm)
    return {**fields, **{k: None for k in OUTPUT_FIELDS_NONE}}, None


def _maybe_unstable(dyn, ev, r, max_u, g23) -> np.ndarray:
    """Per record: whether ``dt`` may exceed :attr:`~theory.dynamics.StepLimits.limit`, the formulas of the
    limits vectorised with a relative margin of 1e-12, so that no record the exact check would refuse is
    missed (NaN is flagged too)."""
    cfg, n = dyn.config, dyn.n
    per_m = cfg.m if cfg.scaling == "printed" else 1.0
    g2, g3 = (dyn.act.constants.G2, dyn.act.constants.G3) if g23 is None else g23
    lam_max = ev[..., -1].max(axis=1)
    L = (2.0 * cfg.alpha / n) * np.abs(r).sum(axis=-1).max(axis=1) * (max_u * g3 * dyn._xmax ** 2 + g2 * dyn._xmax)
    inv = (np.where(lam_max > 0, cfg.alpha ** 2 * lam_max / (per_m * n), 0.0)
           + np.where(L > 0, L / (per_m * 2.0), 0.0))
    lam_eff = cfg.lam / per_m
    if cfg.ou == "euler" and lam_eff > 0:
        inv = inv + lam_eff / 2.0
    return ~(dyn.dt_phys * inv <= 1.0 - 1e-12)       # dt > 1 / inv  <=>  dt inv > 1
