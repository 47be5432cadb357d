"""Decided cases per second of the dynamics claim variants on one fixed list of cases, for several source trees.

``bench_dynamics_variants.py`` times a variant's whole ``ci`` search, whose cases are those its own tree
draws and lists: when a later version adds an explicit example (a case a dev run found) or draws other
cases, its time per decided case mixes that change in.  This script holds the cases fixed:

    python benchmarks/bench_dynamics_cases.py collect CASES.json [VARIANT ...]
    python benchmarks/bench_dynamics_cases.py time CASES.json TREE[,TREE...] [--passes 3] [--json OUT] [--warm]

``collect`` runs each variant's ``ci`` search in this checkout and writes every case it checked (explicit
examples first, then the generated ones, in order).  ``time`` runs, for each variant and tree, a fresh
process with ``PYTHONPATH=TREE`` that calls the variant's ``check(case)`` on every listed case in turn
(one BLAS thread where the tree provides ``checks.runner.one_blas_thread``; set ``NUMBA_NUM_THREADS=1`` for
per-CPU-second figures), and prints wall and CPU seconds, decided cases (HOLDS + VIOLATED) per second and
whether every case got the same status in every tree.  A case that some tree cannot run (an error) is
named and left out of every tree's figures.  ``--warm`` times the second of two passes over the cases in
one process, with every memo of ``checks`` and ``theory`` cleared in between: the steady state of a hunt,
without the loading of the compiled kernels and numba's own start (about 0.2-0.3 s per process, the same
in every tree), which dominates a variant of one or two cases.  Pass 0 compiles each tree's numba caches; the
figures are the means of the later passes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

VARIANTS = ("lemma-5.2/stated", "lemma-5.3/stated", "theorem-4.4/stated", "algorithm-1/corrected",
            "kernel-regime/audit")

_CHILD = r'''
import contextlib, json, sys, time
from checks.registry import get_variant
vid, path = sys.argv[1], sys.argv[2]
cases = json.load(open(path))[vid]
variant = get_variant(vid)
try:
    from checks.runner import one_blas_thread
except ImportError:
    one_blas_thread = contextlib.nullcontext
def clear_caches():
    # every memo of the claim and theory modules (runs, Grams, Gibbs solves), so that a warm pass recomputes
    for name, mod in list(sys.modules.items()):
        if name.split(".")[0] in ("checks", "theory"):
            for obj in list(vars(mod).values()):
                if callable(getattr(obj, "cache_info", None)) and callable(getattr(obj, "cache_clear", None)):
                    obj.cache_clear()
warm = sys.argv[3] == "warm"
if warm:      # a first pass loads the compiled kernels and the modules a check imports lazily; then forget it
    with one_blas_thread():
        for case in cases:
            try:
                variant.check(case)
            except Exception:
                pass
    clear_caches()
statuses, walls, cpus = [], [], []
with one_blas_thread():
    for case in cases:
        t0, c0 = time.perf_counter(), time.process_time()
        try:
            statuses.append(variant.check(case).status.value)
        except Exception as exc:   # a case this tree cannot build (e.g. a dataset it cannot place)
            statuses.append("ERROR " + type(exc).__name__)
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
print(json.dumps({"variant": vid, "walls": walls, "cpus": cpus, "statuses": statuses}))
'''


def collect(path: str, variants) -> None:
    """Run the variants' ci searches here and write the cases each one checked."""
    import dataclasses

    from checks.registry import get_variant
    from checks.runner import run_variant

    out = {}
    for vid in variants:
        seen = []
        v = get_variant(vid)

        def logged(case, _check=v.check, _seen=seen):
            _seen.append(json.loads(json.dumps(case)))
            return _check(case)
        res = run_variant(dataclasses.replace(v, check=logged), profile="ci", record=False)
        out[vid] = seen
        print(f"{vid}: {len(seen)} cases, {dict(res.counts)}", flush=True)
    with open(path, "w") as fh:
        json.dump(out, fh)


def _child(tree: str, vid: str, path: str, warm: bool = False) -> dict:
    env = {**os.environ, "PYTHONPATH": tree, "GNTK_PROFILE": "ci"}
    env.pop("CI", None)
    proc = subprocess.run([sys.executable, "-c", _CHILD, vid, os.path.abspath(path), "warm" if warm else "cold"],
                          cwd=tree, env=env,
                          capture_output=True, text=True)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        raise RuntimeError(f"{tree} {vid}: {proc.stderr[-800:]}")
    return json.loads(lines[-1])


def time_trees(path: str, trees, passes: int = 3, out=None, warm: bool = False) -> None:
    """Time every variant's listed cases in a fresh process per tree and pass (``warm``: the second of two
    passes over the cases in that process, every memo cleared in between)."""
    with open(path) as fh:
        variants = list(json.load(fh))
    rows = []
    print(f"load average before: {os.getloadavg()}; NUMBA_NUM_THREADS={os.environ.get('NUMBA_NUM_THREADS')}")
    for p in range(passes):
        for vid in variants:
            for tree in trees:
                rows.append({**_child(tree, vid, path, warm), "tree": tree, "pass": p, "load": os.getloadavg()[0]})
    for vid in variants:
        runs = {t: [r for r in rows if r["variant"] == vid and r["tree"] == t and (r["pass"] > 0 or passes == 1)]
                for t in trees}
        # only the cases every tree could run count (a case with an error in any tree is named and left out)
        keep = [i for i in range(len(runs[trees[0]][0]["statuses"]))
                if not any(rs[0]["statuses"][i].startswith("ERROR") for rs in runs.values())]
        dropped = sorted({rs[0]["statuses"][i] + f" (case {i}, {os.path.basename(t.rstrip('/'))})"
                          for t, rs in runs.items() for i in range(len(rs[0]["statuses"])) if i not in keep})
        per = {}
        for tree, rs in runs.items():
            sts = [rs[0]["statuses"][i] for i in keep]
            decided = sum(s in ("HOLDS", "VIOLATED") for s in sts)
            wall = sum(sum(r["walls"][i] for i in keep) for r in rs) / len(rs)
            cpu = sum(sum(r["cpus"][i] for i in keep) for r in rs) / len(rs)
            per[tree] = (decided, wall, cpu, sts)
        same = len({tuple(v[3]) for v in per.values()}) == 1
        first = per[trees[0]]
        cells = []
        for tree in trees:
            dec, wall, cpu, _ = per[tree]
            cells.append(f"{os.path.basename(tree.rstrip('/'))}: {wall:6.2f} s wall {cpu:6.2f} s cpu, "
                         f"{dec / wall:6.2f}/s ({(dec / wall) / (first[0] / first[1]):.2f}x) "
                         f"{dec / cpu:6.2f}/cpu-s ({(dec / cpu) / (first[0] / first[2]):.2f}x)")
        print(f"{vid:24s} {len(first[3])} cases, {first[0]} decided, same statuses in every tree: {same}"
              + (f"; left out: {', '.join(dropped)}" if dropped else "") + "\n    " + "\n    ".join(cells))
    print(f"load average after: {os.getloadavg()}")
    if out:
        with open(out, "w") as fh:
            json.dump(rows, fh, indent=1)


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) < 2 or argv[0] not in ("collect", "time"):
        raise SystemExit(__doc__)
    if argv[0] == "collect":
        collect(argv[1], argv[2:] or VARIANTS)
        return
    warm = "--warm" in argv
    if warm:
        argv.remove("--warm")
    passes, out = 3, None
    for flag in ("--passes", "--json"):
        if flag in argv:
            i = argv.index(flag)
            passes, out = (int(argv[i + 1]), out) if flag == "--passes" else (passes, argv[i + 1])
            del argv[i:i + 2]
    time_trees(argv[1], [t for t in argv[2].split(",") if t], passes, out, warm)


if __name__ == "__main__":
    main()
