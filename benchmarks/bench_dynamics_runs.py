"""The particle runs of the dynamics claim variants, recorded once and replayed on any version of theory/.

The claim modules change independently of the dynamics, so their decided-cases-per-second mixes two
things.  This script isolates the dynamics: ``--record`` runs the variants under ``ci``
(``checks.runner.run_variant``) with :func:`theory.trajectory.run_coupled`,
:func:`theory.trajectory.long_run_average` and outputs-only :meth:`theory.dynamics.Dynamics.records`
wrapped, and pickles every call (config, data, activation spec, seed, steps, record interval or steps);
``--replay`` runs exactly those calls again, one thread, and prints the wall and CPU time per variant, its split into steps and observation (the run's CPU time less that of
the same steps in one ``Dynamics.advance`` call without records) and a digest of every final state
(equal digests across two versions mean bitwise-identical trajectories)::

    python benchmarks/bench_dynamics_runs.py --record runs.pkl [VARIANT ...]
    python benchmarks/bench_dynamics_runs.py --replay runs.pkl [--json out.json] [--repeat 3]

Run ``--replay`` from a checkout of each version (or with PYTHONPATH pointing at it) to compare them.  A
logged config holds the block that ran (every field of the Dynamics' config), so a replay runs that block in
every tree: it compares the dynamics at equal blocks; ``bench_dynamics_cases.py`` compares trees as they are.
"""

from __future__ import annotations

import os

for _var in ("NUMBA_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import pickle  # noqa: E402
import time  # noqa: E402

VARIANTS = ("lemma-5.2/stated", "lemma-5.3/stated", "theorem-4.4/stated", "algorithm-1/corrected",
            "kernel-regime/audit")


def record(path: str, variants) -> None:
    """Run the variants under ci, logging every particle run they make."""
    from checks import _dynamics_common as common
    from checks import algorithm_1
    from checks.registry import get_variant
    from checks.runner import run_variant
    from theory.dynamics import Dynamics

    calls, current = [], {"variant": None}

    def log(kind, fn):
        def wrapper(dyn, state, n_steps, every, *rest):
            cfg = {f.name: getattr(dyn.config, f.name) for f in dataclasses.fields(dyn.config)}
            cfg["dtype"] = str(cfg["dtype"])
            calls.append({"variant": current["variant"], "kind": kind, "config": cfg, "X": dyn.X, "y": dyn.y,
                          "act": {"base": dyn.act.base, "c": dyn.act.c, "s": dyn.act.s}, "seed": dyn.seed,
                          "n_steps": n_steps, "every": every})
            return fn(dyn, state, n_steps, every, *rest)
        return wrapper

    common.run_coupled = log("coupled", common.run_coupled)
    algorithm_1.long_run_average = log("long_run", algorithm_1.long_run_average)
    records = Dynamics.records

    def outputs_records(dyn, state, stops, *args, observables="all", **kw):
        # runs that read only the outputs (the kernel-regime audit) call Dynamics.records directly
        if observables == "outputs":
            log("outputs", lambda *a: None)(dyn, state, stops[-1], list(stops))
        return records(dyn, state, stops, *args, observables=observables, **kw)
    Dynamics.records = outputs_records
    for vid in variants:
        current["variant"] = vid
        res = run_variant(get_variant(vid), profile="ci", record=False)
        print(f"{vid}: {res.outcome}, counts {dict(res.counts)}, {sum(c['variant'] == vid for c in calls)} runs")
    with open(path, "wb") as fh:
        pickle.dump(calls, fh)


def _digest(state) -> str:
    h = hashlib.sha256()
    for a in (state.thetaT, state.u, state.v_thetaT, state.v_u):
        if a is not None:
            h.update(a.tobytes())
    return h.hexdigest()[:16]


def _steps_only(c, cfg, Dynamics, DynamicsConfig) -> float:
    """CPU time of the same steps as one :meth:`Dynamics.advance` call, no record (the run's step time)."""
    dyn = Dynamics(DynamicsConfig(**cfg), c["X"], c["y"], c["act"], c["seed"], check_stability=False)
    state = dyn.initial_state()
    c0 = time.process_time()
    dyn.advance(state, c["n_steps"])
    return time.process_time() - c0


def replay(path: str, out=None, repeat: int = 1) -> None:
    """Replay the logged runs (serial kernel): CPU time per variant, its split into steps and observation
    (the run's time less that of the same steps in one ``advance`` call, no record) and state digests.
    ``repeat``: each run is timed that many times, the fastest kept (the machine is shared)."""
    import numpy as np

    from theory.dynamics import Dynamics, DynamicsConfig
    from theory.errors import NonFiniteError, UnstableStepError
    from theory.trajectory import long_run_average, run_coupled

    from checks.strategies import build_activation

    with open(path, "rb") as fh:
        calls = pickle.load(fh)
    for c in calls:
        c["act"] = build_activation(c["act"])
    rows, per = [], {}
    for c in calls:
        cfg = dict(c["config"], parallel=False, dtype=np.dtype(c["config"]["dtype"]))
        best = None
        for _ in range(repeat):
            dyn = Dynamics(DynamicsConfig(**cfg), c["X"], c["y"], c["act"], c["seed"])
            state = dyn.initial_state()
            t0, c0 = time.perf_counter(), time.process_time()
            try:
                if c["kind"] == "coupled":
                    run_coupled(dyn, state, c["n_steps"], c["every"])
                elif c["kind"] == "outputs":                      # "every" holds the record steps
                    dyn.records(state, c["every"], check=True, observables="outputs")
                else:
                    long_run_average(dyn, state, c["n_steps"], c["every"], c["X"], c["act"])
                status = "ok"
            except (UnstableStepError, NonFiniteError) as exc:
                status = type(exc).__name__
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            steps = _steps_only(c, cfg, Dynamics, DynamicsConfig)
            # the fastest of each, taken separately: both are minima over the same interleaved repeats
            best = (wall, cpu, steps) if best is None else (min(best[0], wall), min(best[1], cpu), min(best[2], steps))
        wall, cpu, steps = best
        particle_steps = c["n_steps"] * cfg["m"] * (cfg["replicas"] or 1)
        rows.append({"variant": c["variant"], "kind": c["kind"], "m": cfg["m"], "R": cfg["replicas"],
                     "n": len(c["y"]), "n_steps": c["n_steps"], "every": c["every"], "wall_s": wall, "cpu_s": cpu,
                     "steps_cpu_s": steps, "status": status, "digest": _digest(state),
                     "particle_steps": particle_steps})
        p = per.setdefault(c["variant"], [0, 0.0, 0.0, 0, 0.0])
        p[0], p[1], p[2], p[3], p[4] = p[0] + 1, p[1] + wall, p[2] + cpu, p[3] + particle_steps, p[4] + steps
    for vid, (k, wall, cpu, ps, steps) in per.items():
        obs = max(cpu - steps, 0.0)
        print(f"{vid:24s} {k:4d} runs  wall {wall:7.2f} s  cpu {cpu:7.2f} s  {ps / cpu / 1e6:6.2f} M particle-steps "
              f"per cpu-s (records included)  steps {steps:6.2f} s  observation {obs:6.2f} s = {obs / cpu:5.1%}")
    print(f"load average: {os.getloadavg()}")
    if out:
        with open(out, "w") as fh:
            json.dump(rows, fh, indent=1)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--record", metavar="PKL")
    g.add_argument("--replay", metavar="PKL")
    ap.add_argument("--json", default=None)
    ap.add_argument("--repeat", type=int, default=1, help="time each run this many times, keep the fastest")
    ap.add_argument("variants", nargs="*")
    a = ap.parse_args(argv)
    if a.record:
        record(a.record, a.variants or VARIANTS)
    else:
        replay(a.replay, a.json, a.repeat)


if __name__ == "__main__":
    main()
