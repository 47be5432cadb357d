"""Public Hypothesis strategies of gntk-checks (docs/verdicts.md#profiles-and-budgets, docs/generation.md).

Strategies draw *structure* (sizes, activation, hyperparameters) and one integer seed, as a small
JSON-able dict; the builders (:func:`build_dataset`, :func:`build_activation`) turn a case into
arrays with ``numpy.random.default_rng(seed)``.  So a printed case replays exactly, shrinking acts on
a handful of integers and floats, and big arrays are never drawn element by element.

Premises are built in, not assumed away: datasets satisfy Assumption 4.1 by construction (unit
directions times radii in [r_min, 1]) and are well separated for Assumption 4.3 (no two directions
within angle ``min_angle`` of being parallel or antipodal, no x = 0; in d = 1, where every input is
parallel, radii at least :data:`MIN_RADIUS_GAP` apart), so rejection rates stay low.  A size that
cannot be separated is never drawn (:func:`separation_problem`), and :func:`build_dataset` refuses
such a case, or a case with a missing or out-of-range field, with an error naming the field.
Degenerate datasets (docs/kernels.md#degenerate-data) have their own strategy, for premise probes.

Reuse for your own lemma::

    from checks.strategies import dataset_cases, build_dataset, activation_specs, build_activation
    @given(dataset_cases(n=(2, 5), d=(1, 3)), activation_specs())
    def test_my_lemma(dcase, aspec):
        X, y = build_dataset(dcase); act = build_activation(aspec)
"""

from __future__ import annotations

import math
from typing import Any, Dict, Mapping, Sequence, Tuple

import numpy as np
from hypothesis import strategies as st

from theory.activations import Activation, get_activation, scaled
from theory.errors import DomainError

__all__ = [
    "seeds",
    "log_uniform",
    "activation_specs",
    "build_activation",
    "dataset_cases",
    "build_dataset",
    "separation_problem",
    "direction_capacity",
    "MIN_RADIUS_GAP",
    "degenerate_dataset_cases",
    "build_degenerate_dataset",
    "hyperparameters",
]

SMOOTH_BASES = ("tanh", "sigmoid", "erf")
#: Label kinds: continuous in [-1, 1] (Lemmas 5.2, 5.3, Theorem 4.4), binary +-1 (Lemma 5.6,
#: Theorem 4.5), and |y| < 1 strictly (the E11 probe).
LABEL_KINDS = ("continuous", "pm1", "inside")


def seeds() -> st.SearchStrategy[int]:
    """One 32-bit seed from which a case's arrays are drawn."""
    return st.integers(min_value=0, max_value=2 ** 32 - 1)


def log_uniform(lo: float, hi: float) -> st.SearchStrategy[float]:
    """A float log-uniform on [lo, hi] (shrinks toward lo)."""
    if not (0 < lo <= hi):
        raise ValueError(f"log_uniform needs 0 < lo <= hi, got lo={lo!r}, hi={hi!r}")
    a, b = math.log(lo), math.log(hi)
    return st.floats(0.0, 1.0).map(lambda t: float(min(hi, max(lo, math.exp(a + t * (b - a))))))


def activation_specs(bases: Sequence[str] = SMOOTH_BASES, c: Tuple[float, float] = (0.25, 4.0),
                     s: Tuple[float, float] = (0.1, 4.0), scaled_prob: bool = True
                     ) -> st.SearchStrategy[Dict[str, Any]]:
    """Activation specs ``{"base", "c", "s"}`` for ``c * base(z / s)`` (docs/generation.md: c in [0.25, 4], s in [0.1, 4]).

    The unscaled built-ins (c = s = 1) are drawn often since they are where shrinking should land.
    """
    plain = st.builds(lambda b: {"base": b, "c": 1.0, "s": 1.0}, st.sampled_from(list(bases)))
    if not scaled_prob:
        return plain
    scaled_ = st.builds(lambda b, cc, ss: {"base": b, "c": cc, "s": ss}, st.sampled_from(list(bases)),
                        log_uniform(*c), log_uniform(*s))
    return st.one_of(plain, scaled_)


def build_activation(spec: Mapping[str, Any]) -> Activation:
    """The :class:`~theory.activations.Activation` of a spec ``{"base", "c", "s"}``."""
    base = get_activation(spec["base"])
    c, s = float(spec.get("c", 1.0)), float(spec.get("s", 1.0))
    return base if (c == 1.0 and s == 1.0) else scaled(base, c, s)


#: Smallest gap between two radii of a 1-D dataset.  In d = 1 every input is parallel, so distinct
#: radii are the only separation there is; a gap of 0.05 keeps h(theta r_i) clearly linearly
#: independent for the smooth activations (Lambda well above the quadrature tolerance of
#: Assumption 4.3), as 15 degrees of angle do in d >= 2.
MIN_RADIUS_GAP = 0.05


def separation_problem(n: int, d: int, r_min: float, min_angle_deg: float):
    """Why ``n`` inputs in ``R^d`` cannot honour the promised separation, or None when they can.

    The promise (Assumption 4.3 by construction): every |x_i| in [r_min, 1] with r_min > 0 (no x = 0);
    in d = 1 consecutive radii at least :data:`MIN_RADIUS_GAP` apart (radii evenly spaced in
    [r_min, 1]); in d >= 2 no two directions within ``min_angle_deg`` of parallel or antipodal.  The
    d >= 2 test ``n <= direction_capacity(d, min_angle_deg)`` is exact in d = 2 and sufficient in d >= 3
    (planar configurations in orthogonal 2-planes), so every accepted combination has a construction that
    cannot fail (n = 50 directions at 30 degrees need d >= 20).
    """
    if d == 1:
        if n > 1 and (1.0 - r_min) / (n - 1) < MIN_RADIUS_GAP * (1.0 - 1e-12):
            return (f"d=1 inputs are parallel and need distinct radii >= {MIN_RADIUS_GAP} apart in "
                    f"[r_min, 1]; n={n} with r_min={r_min!r} leaves a gap of {(1.0 - r_min) / (n - 1):.3g}")
        return None
    cap = direction_capacity(d, min_angle_deg)
    if n > cap:
        return (f"n={n} directions in R^{d} cannot be pairwise {min_angle_deg!r} degrees from parallel and "
                f"antipodal by construction (at most {cap}: {_per_plane(min_angle_deg)} per 2-plane, "
                f"needing k * min_angle_deg < 180, times {d // 2} orthogonal planes"
                f"{' plus one axis' if d % 2 and cap > _per_plane(min_angle_deg) else ''})")
    return None


def _per_plane(min_angle_deg: float) -> int:
    """Most directions in one 2-plane pairwise ``min_angle`` from parallel and antipodal: the largest k
    with ``k * min_angle < 180 degrees`` (the same float test as the planar construction)."""
    gap = math.radians(min_angle_deg)
    k = max(0, int(math.pi // gap) - 1)
    while (k + 1) * gap < math.pi:
        k += 1
    return k


def direction_capacity(d: int, min_angle_deg: float) -> int:
    """How many directions of R^d (d >= 2) the construction of :func:`build_dataset` can always separate.

    In d = 2 the planar count k (``k * min_angle < 180``) is exact.  In d >= 3 directions in orthogonal
    2-planes are orthogonal, so d // 2 planes hold k each, and an odd d adds one axis: ``k (d // 2) +
    d % 2`` (for min_angle = 90 degrees, k = 1, only the planar count is kept: exact orthogonality sits on
    the boundary of the promise).  Rejection sampling often does better; this is what cannot fail.
    """
    if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 2:
        raise DomainError(f"d must be an integer >= 2 (directions in the plane or beyond), got {d!r}")
    _check_separation_params(1.0, min_angle_deg)
    k = _per_plane(min_angle_deg)
    if d <= 2 or k < 2:
        return k
    return k * (d // 2) + d % 2


def _check_range(name: str, value) -> Tuple[int, int]:
    ok = (isinstance(value, tuple) and len(value) == 2
          and all(isinstance(v, int) and not isinstance(v, bool) for v in value) and 1 <= value[0] <= value[1])
    if not ok:
        raise DomainError(f"{name} must be a tuple (lo, hi) of integers with 1 <= lo <= hi, got {value!r}")
    return value


def _check_separation_params(r_min, min_angle_deg) -> Tuple[float, float]:
    if isinstance(r_min, bool) or not isinstance(r_min, (int, float)) or not 0.0 < r_min <= 1.0:
        raise DomainError(f"r_min must be a number in (0, 1] (x = 0 would break Assumption 4.3), got {r_min!r}")
    if (isinstance(min_angle_deg, bool) or not isinstance(min_angle_deg, (int, float))
            or not 0.0 < min_angle_deg <= 90.0):
        raise DomainError(f"min_angle_deg must be a number in (0, 90], got {min_angle_deg!r}")
    return float(r_min), float(min_angle_deg)


def dataset_cases(n: Tuple[int, int] = (2, 4), d: Tuple[int, int] = (1, 2), labels: str = "continuous",
                  r_min: float = 0.5, min_angle_deg: float = 15.0) -> st.SearchStrategy[Dict[str, Any]]:
    """Dataset cases ``{"n", "d", "seed", "labels", "r_min", "min_angle_deg"}`` (Assumptions 4.1 and 4.3 by construction).

    Every case drawn honours the separation of :func:`separation_problem`: sizes ``(n, d)`` in the
    given ranges that cannot (for example d = 1 with r_min = 1, where all inputs would coincide) are
    never drawn, and a range holding no such size raises :class:`~theory.errors.DomainError` (a
    ``ValueError``) here, not at build time.
    """
    if labels not in LABEL_KINDS:
        raise DomainError(f"labels must be one of {LABEL_KINDS}, got {labels!r}")
    n, d = _check_range("n", n), _check_range("d", d)
    r_min, min_angle_deg = _check_separation_params(r_min, min_angle_deg)

    def n_max(dd: int) -> int:
        # Feasibility is monotone in n for a fixed d, so the admissible n form an interval.
        hi = n[0] - 1
        while hi < n[1] and separation_problem(hi + 1, dd, r_min, min_angle_deg) is None:
            hi += 1
        return hi

    # Feasibility grows with d >= 2 (direction_capacity), so the admissible d >= 2 form an interval
    # [d_first, d[1]]; with d = 1 admissible too they are one interval unless d_first > 2.
    one_ok = d[0] == 1 and n_max(1) >= n[0]
    d_first = next((dd for dd in range(max(d[0], 2), d[1] + 1)
                    if separation_problem(n[0], dd, r_min, min_angle_deg) is None), None)
    if not (one_ok or d_first):
        raise DomainError(f"no dataset size in n={n}, d={d} can honour the separation: "
                         f"{separation_problem(n[0], d[0], r_min, min_angle_deg)}")
    d_lo, d_hi = (1 if one_ok else d_first), (d[1] if d_first else 1)

    def with_d(dd: int):
        return st.builds(
            lambda nn, sd: {"n": nn, "d": dd, "seed": sd, "labels": labels, "r_min": r_min,
                            "min_angle_deg": min_angle_deg},
            st.integers(n[0], n_max(dd)), seeds())

    if one_ok and d_first is not None and d_first > 2:
        return st.sampled_from([1, *range(d_first, d[1] + 1)]).flatmap(with_d)
    return st.integers(d_lo, d_hi).flatmap(with_d)


def _planar_directions(rng: np.random.Generator, n: int, min_angle_deg: float) -> np.ndarray:
    """n unit vectors in R^2, no pair within ``min_angle`` of parallel or antipodal (needs n * gap < pi)."""
    # Angles on the half circle [0, pi) with gaps >= min_angle (mod pi) are exactly the
    # configurations with no near-parallel or near-antipodal pair.
    gap = math.radians(min_angle_deg)
    free = math.pi - n * gap
    cuts = np.sort(rng.uniform(0.0, free, size=n))
    angles = cuts + gap * np.arange(n) + rng.uniform(0.0, math.pi)
    signs = rng.choice([-1.0, 1.0], size=n)
    return signs[:, None] * np.stack([np.cos(angles), np.sin(angles)], axis=1)


def _separated_directions(rng: np.random.Generator, n: int, d: int, min_angle_deg: float) -> np.ndarray:
    """n unit vectors in R^d, no pair within ``min_angle`` of parallel or antipodal (d >= 2)."""
    if d == 2:
        return _planar_directions(rng, n, min_angle_deg)
    cos_max = math.cos(math.radians(min_angle_deg))
    out = []
    for _ in range(10_000):
        v = rng.standard_normal(d)
        v /= np.linalg.norm(v)
        if all(abs(float(v @ w)) < cos_max for w in out):
            out.append(v)
            if len(out) == n:
                return np.array(out)
    # Rejection sampling ran out (a crowded sphere): a planar configuration in a random 2-plane
    # keeps the promise when n * min_angle < 180 degrees, else planar ones in orthogonal 2-planes
    # (separation_problem accepted n <= direction_capacity(d, min_angle_deg)).
    if n * math.radians(min_angle_deg) < math.pi:
        q, _ = np.linalg.qr(rng.standard_normal((d, 2)))
        return _planar_directions(rng, n, min_angle_deg) @ q.T
    return _block_directions(rng, n, d, min_angle_deg)


def _block_directions(rng: np.random.Generator, n: int, d: int, min_angle_deg: float) -> np.ndarray:
    """n <= direction_capacity(d, min_angle) unit vectors: planar sets in d // 2 orthogonal random
    2-planes (as even as possible), plus the remaining axis of an odd d when the planes are full."""
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    planes = d // 2
    axis = 1 if (d % 2 and n > _per_plane(min_angle_deg) * planes) else 0
    counts = [(n - axis) // planes + (1 if i < (n - axis) % planes else 0) for i in range(planes)]
    parts = [_planar_directions(rng, c, min_angle_deg) @ q[:, 2 * i: 2 * i + 2].T
             for i, c in enumerate(counts) if c > 0]
    if axis:
        parts.append(q[:, d - 1][None, :])
    return np.concatenate(parts, axis=0)


def _case_int(case: Mapping[str, Any], key: str, lo: int, hi: int) -> int:
    value = case[key]
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not lo <= value <= hi:
        raise DomainError(f"case[{key!r}] must be an integer in [{lo}, {hi}], got {value!r}")
    return int(value)


def build_dataset(case: Mapping[str, Any]) -> Tuple[np.ndarray, np.ndarray]:
    """``(X (n, d), y (n,))`` of a dataset case; deterministic in the case.

    Raises :class:`~theory.errors.DomainError` (a ``ValueError``) naming the case field when a field
    is missing or out of range, or when the case cannot honour the separation promised by :func:`dataset_cases` (:func:`separation_problem`).
    """
    missing = [k for k in ("n", "d", "seed") if k not in case]
    if missing:
        raise DomainError(f"dataset case is missing the field(s) {missing}: {dict(case)!r}")
    # 10_000 inputs is far above any claim's n; the bound keeps a typo (n = 1e9) from exhausting memory.
    n, d = _case_int(case, "n", 1, 10_000), _case_int(case, "d", 1, 10_000)
    seed = _case_int(case, "seed", 0, 2 ** 32 - 1)
    r_min, min_angle = _check_separation_params(case.get("r_min", 0.5), case.get("min_angle_deg", 15.0))
    problem = separation_problem(n, d, r_min, min_angle)
    if problem is not None:
        raise DomainError(f"dataset case {dict(case)!r} cannot be separated: {problem}")
    rng = np.random.default_rng(seed)
    if d == 1:
        # Parallel inputs are unavoidable in 1-D; distinct radii keep h(theta r_i) linearly
        # independent for the smooth non-polynomial activations, so Lambda > 0 still.
        X = (np.linspace(1.0, r_min, n) if n > 1 else np.ones(1))[:, None]
    else:
        X = _separated_directions(rng, n, d, min_angle)
        X = X * rng.uniform(r_min, 1.0, size=n)[:, None]
    kind = case.get("labels", "continuous")
    if kind == "pm1":
        y = rng.choice([-1.0, 1.0], size=n)
    elif kind == "inside":
        y = rng.uniform(-0.9, 0.9, size=n)
    elif kind == "continuous":
        y = rng.uniform(-1.0, 1.0, size=n)
    else:
        raise DomainError(f"case['labels'] must be one of {LABEL_KINDS}, got {kind!r}")
    return X, y


DEGENERATE_KINDS = ("antipodal", "zero-input", "sigmoid-triple", "duplicate")


def degenerate_dataset_cases() -> st.SearchStrategy[Dict[str, Any]]:
    """Datasets of docs/kernels.md#degenerate-data on which Assumption 4.3 fails (Lambda = 0), for premise probes."""
    return st.builds(lambda k, dd, sd: {"kind": k, "d": dd, "seed": sd},
                     st.sampled_from(DEGENERATE_KINDS), st.integers(1, 3), seeds())


def build_degenerate_dataset(case: Mapping[str, Any]) -> Tuple[np.ndarray, str]:
    """``(X, activation name)`` making H(p0) singular: antipodal pair or x = 0 with an odd h,
    ``{x, -x, 0}`` with sigmoid, or a duplicated input with any h."""
    rng = np.random.default_rng(int(case["seed"]))
    d = int(case["d"])
    x = rng.standard_normal(d)
    x *= rng.uniform(0.3, 1.0) / np.linalg.norm(x)
    kind = case["kind"]
    if kind == "antipodal":
        return np.stack([x, -x]), "tanh"
    if kind == "zero-input":
        return np.stack([x, np.zeros(d)]), "erf"
    if kind == "sigmoid-triple":
        return np.stack([x, -x, np.zeros(d)]), "sigmoid"
    if kind == "duplicate":
        return np.stack([x, x]), "sigmoid"
    raise ValueError(f"kind must be one of {DEGENERATE_KINDS}, got {kind!r}")


def hyperparameters(alpha=(1.0, 1e6), lam=(1e-4, 10.0), M=(1e-3, 1e3), P=(1e-3, 1e3), delta=(1e-3, 0.5)
                    ) -> st.SearchStrategy[Dict[str, float]]:
    """Log-uniform hyperparameters of docs/generation.md (pass ``None`` to omit one)."""
    parts = {k: log_uniform(*v) for k, v in dict(alpha=alpha, lam=lam, M=M, P=P, delta=delta).items()
             if v is not None}
    return st.fixed_dictionaries(parts)
