"""Public Hypothesis strategies of gntk-checks (DESIGN 5, MATH 7).

Strategies draw *structure* (sizes, activation, hyperparameters) and one integer seed, as a small
JSON-able dict; the builders (:func:`build_dataset`, :func:`build_activation`) turn a case into
arrays with ``numpy.random.default_rng(seed)``.  So a printed case replays exactly, shrinking acts on
a handful of integers and floats, and big arrays are never drawn element by element.

Premises are built in, not assumed away: datasets satisfy Assumption 4.1 by construction (unit
directions times radii in [r_min, 1]) and are well separated for Assumption 4.3 (no two directions
within angle ``min_angle`` of being parallel or antipodal, no x = 0), so rejection rates stay low.
Degenerate datasets (MATH 2.4) have their own strategy, for premise probes.

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

__all__ = [
    "seeds",
    "log_uniform",
    "activation_specs",
    "build_activation",
    "dataset_cases",
    "build_dataset",
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
    """Activation specs ``{"base", "c", "s"}`` for ``c * base(z / s)`` (MATH 7: c in [0.25, 4], s in [0.1, 4]).

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


def dataset_cases(n: Tuple[int, int] = (2, 4), d: Tuple[int, int] = (1, 2), labels: str = "continuous",
                  r_min: float = 0.5, min_angle_deg: float = 15.0) -> st.SearchStrategy[Dict[str, Any]]:
    """Dataset cases ``{"n", "d", "seed", "labels", "r_min", "min_angle_deg"}`` (Assumption 4.1 by construction).

    For d = 1 all inputs are parallel; the builder then spaces radii evenly in [r_min, 1] instead.
    """
    if labels not in LABEL_KINDS:
        raise ValueError(f"labels must be one of {LABEL_KINDS}, got {labels!r}")
    return st.builds(
        lambda nn, dd, sd: {"n": nn, "d": dd, "seed": sd, "labels": labels, "r_min": r_min,
                            "min_angle_deg": min_angle_deg},
        st.integers(*n), st.integers(*d), seeds())


def _separated_directions(rng: np.random.Generator, n: int, d: int, min_angle_deg: float) -> np.ndarray:
    """n unit vectors in R^d, no pair within ``min_angle`` of parallel or antipodal (d >= 2)."""
    cos_max = math.cos(math.radians(min_angle_deg))
    if d == 2:
        # Angles on the half circle [0, pi) with gaps >= min_angle (mod pi) are exactly the
        # configurations with no near-parallel or near-antipodal pair.
        gap = math.radians(min_angle_deg)
        if n * gap >= math.pi:
            raise ValueError(f"cannot place n={n} directions in d=2 with min_angle_deg={min_angle_deg}")
        free = math.pi - n * gap
        cuts = np.sort(rng.uniform(0.0, free, size=n))
        angles = cuts + gap * np.arange(n) + rng.uniform(0.0, math.pi)
        signs = rng.choice([-1.0, 1.0], size=n)
        return signs[:, None] * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    out = []
    for _ in range(10_000):
        v = rng.standard_normal(d)
        v /= np.linalg.norm(v)
        if all(abs(float(v @ w)) < cos_max for w in out):
            out.append(v)
            if len(out) == n:
                return np.array(out)
    raise ValueError(f"could not draw n={n} directions in d={d} separated by {min_angle_deg} degrees")


def build_dataset(case: Mapping[str, Any]) -> Tuple[np.ndarray, np.ndarray]:
    """``(X (n, d), y (n,))`` of a dataset case; deterministic in the case."""
    n, d = int(case["n"]), int(case["d"])
    rng = np.random.default_rng(int(case["seed"]))
    r_min = float(case.get("r_min", 0.5))
    if d == 1:
        # Parallel inputs are unavoidable in 1-D; distinct radii keep h(theta r_i) linearly
        # independent for the smooth non-polynomial activations, so Lambda > 0 still.
        X = (np.linspace(1.0, r_min, n) if n > 1 else np.ones(1))[:, None]
    else:
        X = _separated_directions(rng, n, d, float(case.get("min_angle_deg", 15.0)))
        X = X * rng.uniform(r_min, 1.0, size=n)[:, None]
    kind = case.get("labels", "continuous")
    if kind == "pm1":
        y = rng.choice([-1.0, 1.0], size=n)
    elif kind == "inside":
        y = rng.uniform(-0.9, 0.9, size=n)
    else:
        y = rng.uniform(-1.0, 1.0, size=n)
    return X, y


DEGENERATE_KINDS = ("antipodal", "zero-input", "sigmoid-triple", "duplicate")


def degenerate_dataset_cases() -> st.SearchStrategy[Dict[str, Any]]:
    """Datasets of MATH 2.4 on which Assumption 4.3 fails (Lambda = 0), for premise probes."""
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
    """Log-uniform hyperparameters of MATH 7 (pass ``None`` to omit one)."""
    parts = {k: log_uniform(*v) for k, v in dict(alpha=alpha, lam=lam, M=M, P=P, delta=delta).items()
             if v is not None}
    return st.fixed_dictionaries(parts)
