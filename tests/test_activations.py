"""Activations and the constants G1..G5 of Assumption 4.2 (docs/kernels.md#activation-constants), checked independently.

The reference sups come from mpmath at 30 digits: the activation is written with mpmath's own
functions, its derivatives come from ``mpmath.diff`` (not from the formula tables of
theory.activations), candidate maxima are located on a grid and refined by ``mpmath.findroot`` on
the next derivative, and the limits at +-infinity are included (G1 is a sup that is not attained).
"""

from __future__ import annotations


import mpmath as mp
import numpy as np
import pytest

from theory.activations import (ERF, RELU, SIGMOID, TANH, combination, from_callables, get_activation,
                                scaled)
from theory.errors import DomainError, MissingDerivativeError



@pytest.fixture(autouse=True)
def _thirty_digits():
    """30-digit mpmath for this module only (a global mp.dps would leak into other test files)."""
    with mp.workdps(30):
        yield

#: closed forms vs 30-digit mpmath: agreement to double precision rounding of the formulas
#: (e.g. 4/(3 sqrt 3) evaluated in float64), far below 1e-12 relative.
REL_EXACT = 1e-12


def _mp_activation(base: str, c=1.0, s=1.0):
    c, s = mp.mpf(c), mp.mpf(s)
    f = {"tanh": mp.tanh, "erf": mp.erf, "sigmoid": lambda z: 1 / (1 + mp.exp(-z))}[base]
    return lambda z: c * f(z / s)


def _orders(h):
    """[(g, g')] for the five quantities G1..G5 of docs/kernels.md#activation-constants, as mpmath callables."""
    d = lambda k: (lambda z: mp.diff(h, z, k))  # noqa: E731
    g4 = lambda z: mp.diff(h, z, 1) + z * mp.diff(h, z, 2)  # noqa: E731
    dg4 = lambda z: 2 * mp.diff(h, z, 2) + z * mp.diff(h, z, 3)  # noqa: E731
    return [(d(0), d(1)), (d(1), d(2)), (d(2), d(3)), (g4, dg4), (d(3), d(4))]


def mp_sup(g, dg, half_width=8.0, n_grid=161, tail=60):
    """sup_z |g(z)|: grid local maxima refined by findroot on g' = 0, plus the values at +-tail."""
    zs = [mp.mpf(-half_width) + 2 * mp.mpf(half_width) * i / (n_grid - 1) for i in range(n_grid)]
    vals = [abs(g(z)) for z in zs]
    best = max(abs(g(mp.mpf(tail))), abs(g(mp.mpf(-tail))))
    spacing = zs[1] - zs[0]
    for i in range(1, n_grid - 1):
        if vals[i] >= vals[i - 1] and vals[i] >= vals[i + 1]:
            try:
                root = mp.findroot(dg, zs[i])
            except (ValueError, ZeroDivisionError):
                root = zs[i]
            # a root that wandered away belongs to another local maximum, found from its own node
            z = root if abs(root - zs[i]) <= 2 * spacing else zs[i]
            best = max(best, abs(g(z)), vals[i])
    return float(best)


def mp_constants(h, half_width=8.0):
    return [mp_sup(g, dg, half_width) for g, dg in _orders(h)]


CASES = [
    ("tanh", TANH, _mp_activation("tanh")),
    ("sigmoid", SIGMOID, _mp_activation("sigmoid")),
    ("erf", ERF, _mp_activation("erf")),
    ("2*tanh(z/0.5)", scaled(TANH, 2.0, 0.5), _mp_activation("tanh", 2.0, 0.5)),
    ("0.7*erf(z/3)", scaled(ERF, 0.7, 3.0), _mp_activation("erf", 0.7, 3.0)),
]


@pytest.mark.parametrize("name,act,h", CASES, ids=[c[0] for c in CASES])
def test_closed_form_constants_match_mpmath(name, act, h):
    half = 8.0 * max(1.0, act.s)
    ref = mp_constants(h, half)
    got = act.constants.as_tuple()
    assert act.constants.method == "closed-form"
    for k, (r, g) in enumerate(zip(ref, got), start=1):
        assert abs(g - r) <= REL_EXACT * r, f"{name}: G{k} = {g!r}, mpmath sup = {r!r}"
    assert act.G == pytest.approx(max(ref), rel=REL_EXACT)


def test_math_3_1_table_values():
    # G of tanh is set by G5 = 2, not G1 (docs/kernels.md#activation-constants "two consequences")
    assert TANH.G == 2.0 and TANH.G1 == 1.0
    assert SIGMOID.constants.G3 == pytest.approx(0.096225, abs=5e-7)
    assert ERF.G == pytest.approx(2.256758, abs=5e-7)
    # c tanh(z/s) with s >= 2^(1/3): G = G1 = c
    act = scaled(TANH, 3.0, 2.0 ** (1 / 3) + 1e-9)
    assert act.G == pytest.approx(3.0, rel=1e-15)


@pytest.mark.parametrize("act", [TANH, SIGMOID, ERF, scaled(SIGMOID, 1.5, 0.7)], ids=lambda a: a.name)
def test_derivatives_match_central_differences(act):
    z = np.linspace(-4.0, 4.0, 41)
    step = 1e-4
    hi = act.derivatives(z + step, 4)
    lo = act.derivatives(z - step, 4)
    exact = act.derivatives(z, 4)
    for k in range(4):
        fd = (hi[k] - lo[k]) / (2 * step)
        # central difference: truncation step^2/6 * sup|h^(k+3)| <= 2e-9 * 50, rounding eps/step ~ 1e-11
        assert np.max(np.abs(fd - exact[k + 1])) <= 1e-7, f"{act.name}: derivative {k + 1}"


def test_derivatives_match_mpmath_at_points():
    h = _mp_activation("erf")
    for z in (-1.3, 0.0, 0.4, 2.2):
        ours = ERF.derivatives(np.array(z), 4)
        for k in range(5):
            ref = float(mp.diff(h, mp.mpf(z), k))
            assert abs(float(ours[k]) - ref) <= 1e-14 * max(1.0, abs(ref))


def _true_combination_sups(ws, bases):
    h = lambda z: sum(mp.mpf(w) * _mp_activation(b)(z) for w, b in zip(ws, bases))  # noqa: E731
    return mp_constants(h)


def _combination_case():
    ws, bases = (0.5, 0.5), ("tanh", "erf")
    return combination(ws, [get_activation(b) for b in bases]).constants, _true_combination_sups(ws, bases)


def _user_tanh():
    funcs = [np.tanh,
             lambda z: 1 - np.tanh(z) ** 2,
             lambda z: -2 * np.tanh(z) * (1 - np.tanh(z) ** 2),
             lambda z: -2 * (1 - np.tanh(z) ** 2) * (1 - 3 * np.tanh(z) ** 2),
             lambda z: 8 * np.tanh(z) * (1 - np.tanh(z) ** 2) * (2 - 3 * np.tanh(z) ** 2)]
    return from_callables("tanh-user", funcs, odd=True).constants, list(TANH.constants.as_tuple())


#: A certified bound much larger than the sup would make every check that uses it vacuous; 1% is
#: the slack the brief allows.
TIGHT = 1.01


@pytest.mark.parametrize("make", [_combination_case, _user_tanh], ids=["0.5tanh+0.5erf", "user-tanh"])
def test_certified_bounds_cover_the_true_sup(make):
    got, ref = make()
    assert got.method == "certified-bound"
    for k, (r, g) in enumerate(zip(ref, got.as_tuple()), start=1):
        assert g >= r, f"G{k}: certified {g!r} below the true sup {r!r}"
        if k != 4:
            assert g <= TIGHT * r, f"G{k}: certified {g!r} more than 1% above the true sup {r!r}"


@pytest.mark.parametrize("make", [_combination_case, _user_tanh], ids=["0.5tanh+0.5erf", "user-tanh"])
def test_certified_G4_within_one_percent(make):
    got, ref = make()
    assert got.G4 <= TIGHT * ref[3], f"G4: certified {got.G4!r}, true sup {ref[3]!r}"


def test_relu_has_no_second_derivative():
    assert RELU.d1(np.array([1.0]))[0] == 1.0
    with pytest.raises(MissingDerivativeError, match="'relu' has derivatives up to order 1, derivative of order 2"):
        RELU.d2(np.array([1.0]))
    with pytest.raises(MissingDerivativeError, match="derivative of order 3 requested"):
        RELU.derivatives(np.array([1.0]), 3)


@pytest.mark.parametrize("c,s,arg", [(0.0, 1.0, "c"), (-1.0, 1.0, "c"), (1.0, 0.0, "s"), (1.0, -2.0, "s")])
def test_scaled_rejects_nonpositive_scales(c, s, arg):
    with pytest.raises(DomainError, match=rf"{arg} must be > 0"):
        scaled(TANH, c, s)


def test_scaled_rejects_wrong_types():
    with pytest.raises(TypeError, match="c must be a real number"):
        scaled(TANH, "2", 1.0)
    with pytest.raises(DomainError, match="activation must be one of"):
        get_activation("tanhh")
    with pytest.raises(TypeError, match="activation must be an Activation or a name"):
        get_activation(3)


# ---------------------------------------------------------------------------------------------
# user activations are wrapped once: outputs checked for kind, shape and finiteness (issue 13)
# ---------------------------------------------------------------------------------------------

from theory.activations import from_callables  # noqa: E402
from theory.errors import ActivationError  # noqa: E402
from theory.kernels import gram_p0  # noqa: E402

_TANH_DERIVS = [np.tanh, lambda z: 1 - np.tanh(z) ** 2, lambda z: -2 * np.tanh(z) * (1 - np.tanh(z) ** 2),
                lambda z: np.zeros_like(z), lambda z: np.zeros_like(z)]


def _user(name, h):
    return from_callables(name, [h] + _TANH_DERIVS[1:])


def _boom(z):
    raise RuntimeError("boom")


@pytest.mark.parametrize("name,h,match", [
    ("nan-act", lambda z: np.full(np.shape(z), np.nan), r"activation 'nan-act': h\(z\) = nan at z = "),
    ("tail-act", lambda z: np.where(np.abs(z) > 3.0, np.inf, np.tanh(z)), r"activation 'tail-act': h\(z\) = inf at z = "),
    ("shape-act", lambda z: np.zeros(3), r"activation 'shape-act': h\(z\) must have the shape of z"),
    ("raise-act", _boom, r"activation 'raise-act': derivative of order 0 raised RuntimeError: boom"),
    ("str-act", lambda z: "x", r"activation 'str-act': h\(z\) returned str"),
])
def test_bad_user_activation_is_named_on_the_quadrature_nodes(name, h, match):
    X = np.array([[1.0, 0.0], [0.5, 0.8]])
    with pytest.raises(ActivationError, match=match):
        gram_p0(X, _user(name, h), K=20)


def test_user_activation_outputs_are_checked_but_valid_ones_pass():
    act = _user("my-tanh", np.tanh)
    z = np.linspace(-2, 2, 7)
    np.testing.assert_array_equal(act.h(z), np.tanh(z))
    # A scalar output broadcasts (a constant function is a legitimate, if degenerate, activation).
    const = from_callables("const", [lambda z: 0.5] + [lambda z: 0.0] * 4)
    np.testing.assert_array_equal(const.h(z), np.full(7, 0.5))
    # Finite z only: an activation need not be finite at z = inf, which no computation passes.
    assert np.isnan(_user("nan-at-inf", lambda z: np.where(np.isfinite(z), 0.0, np.nan)).h(np.array([np.inf])))[0]


def test_scaled_refuses_scales_that_overflow():
    with pytest.raises(DomainError, match=r"s must be >= 1e-50 .*got 1e-300"):
        scaled(TANH, 1.0, 1e-300)
    with pytest.raises(DomainError, match=r"c must be <= 1e\+100"):
        scaled(TANH, 1e200, 1.0)
