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


def _run(act, obs, backend="numba", couple=True, dt=0.01, stops=(0, 1, 2, 5, 5, 9, 30, 200), p=None):
    """(trajectory, final state) of one run recording ``obs`` ("all" or "outputs")."""
    cfg = DynamicsConfig(alpha=2.0, lam=0.2, dt=dt, m=600, replicas=2, backend=backend, couple_ou=couple)
    dyn = Dynamics(cfg, X3, Y3, act, seed=3)
    st = dyn.initial_state(p)
    return dyn.records(st, list(stops), check=True, check_first=True, observables=obs)[0], st


def _pair(act, **kw):
    """(full trajectory, its final state), (outputs trajectory, its final state) of the same run."""
    return _run(act, "all", **kw), _run(act, "outputs", **kw)


def _same_states(a, b) -> bool:
    """Particles and reference OU bitwise equal (the OU is advanced by both runs; a fallback must restore it)."""
    return all((x is None and y is None) or np.array_equal(x, y)
               for x, y in ((a.thetaT, b.thetaT), (a.u, b.u), (a.v_thetaT, b.v_thetaT), (a.v_u, b.v_u))) \
        and a.step == b.step


def _counting_full_calls(monkeypatch) -> list:
    """Patch theory._recording._group to log each full-records compiled call (an outputs run makes one only
    when it falls back)."""
    calls, real = [], _recording._group
    monkeypatch.setattr(_recording, "_group", lambda *a: calls.append(1) or real(*a))
    return calls


@pytest.mark.parametrize("backend", ["numba", "numpy"])
@pytest.mark.parametrize("act", [TANH, scaled(ERF, 1.5, 2.0), scaled(SIGMOID, 2.0, 0.7)], ids=lambda a: a.name)
def test_outputs_records_equal_the_full_records_outputs(act, backend, monkeypatch):
    full, sf = _run(act, "all", backend=backend)
    calls = _counting_full_calls(monkeypatch)
    outs, so = _run(act, "outputs", backend=backend)
    if backend == "numba":        # (the numpy backend records in a Python loop, never through _group)
        assert calls == []        # at 1/100 of the limit the trace bound clears every record: no fallback
    for name in _KEPT:
        assert np.array_equal(getattr(full, name), getattr(outs, name)), name
    for name in _DROPPED:
        assert getattr(full, name) is not None and getattr(outs, name) is None, name
    assert _same_states(sf, so) and so.step == 200


def test_outputs_records_without_the_reference_ou_move_the_same_particles():
    (full, sf), (outs, so) = _pair(TANH, couple=False)
    assert np.array_equal(full.f, outs.f) and _same_states(sf, so) and so.v_thetaT is None


def test_a_record_the_trace_bound_cannot_clear_is_decided_by_the_exact_check(monkeypatch):
    """At 0.99 of the exact stability limit the trace bound (trace H up to n lambda_max) refuses the first
    record, so the call runs again with full records: it must pass, with the particles and outputs of a
    run that never tried the bound."""
    p = sample_p0(600, 2, np.random.default_rng(1))
    lim = step_limits(DynamicsConfig(alpha=2.0, lam=0.2, dt=1e-3, m=600), p, X3, Y3, TANH).limit
    p2 = type(p)(theta=np.stack([p.theta] * 2), u=np.stack([p.u] * 2))
    for couple in (True, False):
        full, sf = _run(TANH, "all", couple=couple, dt=0.99 * lim, stops=(0, 1, 2), p=p2)
        calls = _counting_full_calls(monkeypatch)
        outs, so = _run(TANH, "outputs", couple=couple, dt=0.99 * lim, stops=(0, 1, 2), p=p2)
        assert len(calls) == 1        # the outputs run's one compiled call fell back to full records
        # the fallback restored the particles and the reference OU before the full records re-ran them
        assert np.array_equal(full.f, outs.f) and _same_states(sf, so) and outs.lam_min_H is None


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
    for bad in (1, None, ["all"]):
        with pytest.raises(TypeError, match="observables must be a str"):
            dyn.records(dyn.initial_state(), [0], observables=bad)
    outs = dyn.records(dyn.initial_state(), [0, 3], observables="outputs")[0]
    from theory.trajectory import path_evidence
    with pytest.raises(DomainError, match="path_evidence needs full records"):
        path_evidence(outs, X3, Y3, 1.0)
    with pytest.raises(DomainError, match="observables must be 'all' or 'outputs', got 'moments'"):
        dyn.records(dyn.initial_state(), [0], observables="moments")
    with pytest.raises(DomainError, match="reference moments need observables='all'"):
        dyn.records(dyn.initial_state(), [0], reference=True, observables="outputs")

