"""Outputs records (``Dynamics.records(..., observables="outputs")``): f, the residual, the loss and E|w|^2 at a
fraction of a full record's cost, with the same particles, the same values and the same stability check.

The stability check of an outputs record bounds lambda_max(H) by trace(H) and hands any call it cannot
clear to the full records, whose exact check decides (theory/_recording.py); these tests pin each half.
"""

from __future__ import annotations

import numpy as np
import pytest

from theory import _recording
from theory.activations import ERF, SIGMOID, TANH, scaled
from theory.dynamics import Dynamics, DynamicsConfig, step_limits
from theory.errors import DomainError, UnstableStepError
from theory.network import sample_p0

X3 = np.array([[1.0, 0.0], [0.6, 0.8], [-0.28, 0.96]])   # unit inputs at 0, 53 and 106 degrees
Y3 = np.array([0.8, 0.2, -0.5])
_KEPT = ("steps", "t", "t_phys", "f", "residual", "loss", "second_moment")
_DROPPED = ("lam_min_H", "lam_max_H", "b", "mean", "cov", "w2_ou_upper_sq")


def _pair(act, backend="numba", couple=True, dt=0.01, stops=(0, 1, 2, 5, 5, 9, 30, 200), p=None):
    """(full trajectory, its final state), (outputs trajectory, its final state) of the same run."""
    cfg = DynamicsConfig(alpha=2.0, lam=0.2, dt=dt, m=600, replicas=2, backend=backend, couple_ou=couple)
    out = []
    for obs in ("all", "outputs"):
        dyn = Dynamics(cfg, X3, Y3, act, seed=3)
        st = dyn.initial_state(p)
        out.append((dyn.records(st, list(stops), check=True, check_first=True, observables=obs)[0], st))
    return out


@pytest.mark.parametrize("backend", ["numba", "numpy"])
@pytest.mark.parametrize("act", [TANH, scaled(ERF, 1.5, 2.0), scaled(SIGMOID, 2.0, 0.7)], ids=lambda a: a.name)
def test_outputs_records_equal_the_full_records_outputs(act, backend):
    (full, sf), (outs, so) = _pair(act, backend)
    for name in _KEPT:
        assert np.array_equal(getattr(full, name), getattr(outs, name)), name
    for name in _DROPPED:
        assert getattr(full, name) is not None and getattr(outs, name) is None, name
    assert np.array_equal(sf.thetaT, so.thetaT) and np.array_equal(sf.u, so.u) and sf.step == so.step == 200


def test_outputs_records_without_the_reference_ou_move_the_same_particles():
    (full, sf), (outs, so) = _pair(TANH, couple=False)
    assert np.array_equal(full.f, outs.f) and np.array_equal(sf.thetaT, so.thetaT) and so.v_thetaT is None


def test_a_record_the_trace_bound_cannot_clear_is_decided_by_the_exact_check(monkeypatch):
    """At 0.99 of the exact stability limit the trace bound (trace H up to n lambda_max) refuses the first
    record, so the call runs again with full records: it must pass, with the particles and outputs of a
    run that never tried the bound."""
    p = sample_p0(600, 2, np.random.default_rng(1))
    lim = step_limits(DynamicsConfig(alpha=2.0, lam=0.2, dt=1e-3, m=600), p, X3, Y3, TANH).limit
    calls = []
    real = _recording._group
    monkeypatch.setattr(_recording, "_group", lambda *a: calls.append(1) or real(*a))
    p2 = type(p)(theta=np.stack([p.theta] * 2), u=np.stack([p.u] * 2))
    (full, sf), (outs, so) = _pair(TANH, dt=0.99 * lim, stops=(0, 1, 2), p=p2)
    assert len(calls) == 2            # once for the full run, once for the outputs run's fallback
    assert np.array_equal(full.f, outs.f) and np.array_equal(sf.thetaT, so.thetaT) and outs.lam_min_H is None


def test_an_unstable_step_raises_as_with_full_records():
    p = sample_p0(400, 2, np.random.default_rng(1))
    lim = step_limits(DynamicsConfig(alpha=10.0, lam=0.1, dt=1e-3, m=400), p, X3, Y3, TANH).limit
    dyn = Dynamics(DynamicsConfig(alpha=10.0, lam=0.1, dt=1.01 * lim, m=400), X3, Y3, TANH, 1, check_stability=False)
    with pytest.raises(UnstableStepError, match="exceeds the stability limit .* at step 0"):
        dyn.records(dyn.initial_state(p), [0, 1], check=True, check_first=True, observables="outputs")
    dyn = Dynamics(DynamicsConfig(alpha=10.0, lam=0.1, dt=0.1, m=100), X3, Y3, TANH, 1, check_stability=False)
    with pytest.raises(UnstableStepError, match="diverged"):
        dyn.records(dyn.initial_state(), [0] + list(range(100, 2001, 100)), check=False, observables="outputs")


def test_bad_observables_are_refused():
    dyn = Dynamics(DynamicsConfig(alpha=2.0, lam=0.2, dt=0.01, m=100), X3, Y3, TANH, 1)
    with pytest.raises(DomainError, match="observables must be 'all' or 'outputs', got 'moments'"):
        dyn.records(dyn.initial_state(), [0], observables="moments")
    with pytest.raises(DomainError, match="reference moments need observables='all'"):
        dyn.records(dyn.initial_state(), [0], reference=True, observables="outputs")

