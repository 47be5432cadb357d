"""Datasets and Assumptions 4.1-4.3 (docs/kernels.md#degenerate-data, E14)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from theory.activations import ERF, RELU, SIGMOID, TANH, Activation, combination, scaled
from theory.assumptions import (AssumptionReport, assumption_4_1, assumption_4_2, assumption_4_3,
                                lambda_tolerance, warn_if_outside_4_1)
from theory.data import check_dataset, orthonormal_inputs, sphere_inputs, unit_directions
from theory.errors import DomainError, NonFiniteError, PremiseWarning, ShapeError
from theory.kernels import kernel_constants

# ---------------------------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------------------------


def test_check_dataset_returns_float_arrays():
    X, y = check_dataset([[1, 0], [0, 1]], [1, -1])
    assert X.dtype == np.float64 and y.dtype == np.float64 and y.shape == (2,)
    X2, none = check_dataset(X)
    assert none is None and X2 is not None


@pytest.mark.parametrize("X,y,err,msg", [
    (np.ones(3), None, ShapeError, "X must have 2 dimension"),
    (np.ones((0, 2)), None, ShapeError, "X must be non-empty"),
    (np.ones((2, 0)), None, ShapeError, "X must be non-empty"),
    (np.array([[1.0, np.nan]]), None, NonFiniteError, "X must be finite"),
    (np.ones((2, 2)), np.ones(3), ShapeError, "y must have length 2"),
    (np.ones((2, 2)), np.array([1.0, np.inf]), NonFiniteError, "y must be finite"),
    (np.ones((2, 2)), np.ones((2, 1)), ShapeError, "y must have 1 dimension"),
    ("X", None, TypeError, "X must be an array of numbers"),
])
def test_check_dataset_rejects(X, y, err, msg):
    with pytest.raises(err, match=msg):
        check_dataset(X, y)


def test_unit_directions():
    X = unit_directions([0, 90, 180])
    np.testing.assert_allclose(X, [[1, 0], [0, 1], [-1, 0]], atol=1e-15)
    np.testing.assert_allclose(unit_directions([math.pi / 2], degrees=False), [[0, 1]], atol=1e-15)
    with pytest.raises(ShapeError, match="angles must be non-empty"):
        unit_directions([])


def test_orthonormal_inputs():
    np.testing.assert_array_equal(orthonormal_inputs(2, 3), [[1, 0, 0], [0, 1, 0]])
    X = orthonormal_inputs(3, 5, rng=np.random.default_rng(0))
    np.testing.assert_allclose(X @ X.T, np.eye(3), atol=1e-14)
    assert not np.allclose(X, np.eye(5)[:3])
    with pytest.raises(DomainError, match="n must be <= d"):
        orthonormal_inputs(4, 3)
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator"):
        orthonormal_inputs(2, 3, rng="seed")


def test_sphere_inputs():
    X = sphere_inputs(50, 4, np.random.default_rng(1), r_min=0.3, r_max=0.9)
    r = np.linalg.norm(X, axis=1)
    assert X.shape == (50, 4) and r.min() >= 0.3 - 1e-15 and r.max() <= 0.9 + 1e-15
    with pytest.raises(DomainError, match="need 0 <= r_min <= r_max"):
        sphere_inputs(3, 2, 0, r_min=0.9, r_max=0.5)


# ---------------------------------------------------------------------------------------------
# Assumption 4.1
# ---------------------------------------------------------------------------------------------

def test_4_1_holds_on_unit_vectors_despite_rounding():
    X = np.random.default_rng(2).standard_normal((20, 7))
    X /= np.linalg.norm(X, axis=1)[:, None]  # norms 1 up to a few eps
    rep = assumption_4_1(X, np.ones(20))
    assert rep.holds and rep.status == "holds" and abs(rep.margin) <= 1e-15


def test_4_1_reports_large_input_with_margin():
    X = np.array([[0.5, 0.0], [1.2, 0.5]])
    rep = assumption_4_1(X, [0.1, -0.3])
    assert not rep.holds and rep.status == "fails"
    assert rep.margin == pytest.approx(1 - 1.3, rel=1e-14)
    assert "max|x_i| = 1.3" in rep.detail


def test_4_1_reports_large_label():
    rep = assumption_4_1(np.eye(2) * 0.5, [0.2, -1.5])
    assert rep.status == "fails" and rep.margin == pytest.approx(-0.5)


def test_warn_if_outside_4_1():
    with pytest.warns(PremiseWarning, match="outside Assumption 4.1"):
        rep = warn_if_outside_4_1(np.array([[2.0, 0.0]]))
    assert rep.margin == pytest.approx(-1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert warn_if_outside_4_1(np.eye(2), [1, 1]).holds


def test_4_1_bad_input():
    with pytest.raises(ShapeError, match="y must have length 2"):
        assumption_4_1(np.eye(2), [1.0])


# ---------------------------------------------------------------------------------------------
# Assumption 4.2
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("act", [TANH, SIGMOID, ERF, scaled(TANH, 2, 0.5), "tanh"], ids=str)
def test_4_2_holds_for_smooth_activations(act):
    rep = assumption_4_2(act)
    assert rep.holds and rep.margin == math.inf and "G = " in rep.detail


@pytest.mark.parametrize("act", [RELU, "softplus", "identity"], ids=str)
def test_4_2_fails_for_flagged_activations(act):
    rep = assumption_4_2(act)
    assert rep.status == "fails" and rep.margin == -math.inf and "non-admissible" in rep.detail


def test_4_2_bad_input():
    with pytest.raises(TypeError, match="activation must be an Activation or a name"):
        assumption_4_2(None)


# ---------------------------------------------------------------------------------------------
# Assumption 4.3 (docs/kernels.md#degenerate-data)
# ---------------------------------------------------------------------------------------------

DEGENERATE = [
    ("tanh antipodal", np.array([[0.6, 0.8], [-0.6, -0.8], [1.0, 0.0]]), TANH, "x_1 = -x_0"),
    ("erf antipodal", np.array([[0.6, 0.8], [-0.6, -0.8], [1.0, 0.0]]), ERF, "x_1 = -x_0"),
    ("tanh zero input", np.array([[0.0, 0.0], [0.6, 0.8], [1.0, 0.0]]), TANH, "x_0 = 0"),
    ("erf zero input", np.array([[1.0, 0.0], [0.0, 0.0]]), scaled(ERF, 2, 0.5), "x_1 = 0"),
    ("sigmoid x,-x,0", np.array([[0.6, 0.8], [-0.6, -0.8], [0.0, 0.0]]), SIGMOID, "indistinguishable"),
    ("sigmoid duplicate", np.array([[0.6, 0.8], [0.3, 0.1], [0.6, 0.8]]), SIGMOID, "x_0 = x_2"),
    ("3-D antipodal", np.array([[0.2, -0.4, 0.5], [0.9, 0.1, 0.0], [-0.2, 0.4, -0.5]]), TANH, "x_2 = -x_0"),
]


@pytest.mark.parametrize("name,X,act,why", DEGENERATE, ids=[c[0] for c in DEGENERATE])
def test_4_3_fails_on_degenerate_data(name, X, act, why):
    rep = assumption_4_3(X, act)
    assert rep.status == "fails" and not rep.holds, rep.detail
    assert why in rep.detail and "indistinguishable from 0" in rep.detail


def test_4_3_fails_for_constant_activation():
    const = Activation(name="const", derivs=lambda z, upto: [np.full_like(z, 0.7)] + [np.zeros_like(z)] * upto)
    rep = assumption_4_3(unit_directions([0, 45, 90]), const)
    assert rep.status == "fails"


@pytest.mark.parametrize("act", [TANH, SIGMOID, ERF, combination([1.0, 0.5], [TANH, SIGMOID])], ids=lambda a: a.name)
def test_4_3_holds_on_generic_data(act):
    X = sphere_inputs(5, 3, np.random.default_rng(11), r_min=0.3)
    rep = assumption_4_3(X, act)
    assert rep.status == "holds" and rep.margin > 0
    consts = kernel_constants(X, act)
    assert rep.margin == pytest.approx(consts.Lambda - lambda_tolerance(consts), rel=1e-12)


def test_4_3_math_3_4_example_and_precomputed_constants():
    X = unit_directions([0, 45, 90, 135])
    consts = kernel_constants(X, TANH)
    rep = assumption_4_3(X, TANH, constants=consts)
    assert rep.holds and "Lambda = 0.0737737" in rep.detail


def test_4_3_negative_lambda_is_inconclusive():
    X = unit_directions([0, 45])
    consts = kernel_constants(X, TANH)
    fake = type(consts)(**{**consts.__dict__, "Lambda": -1e-3})
    rep = assumption_4_3(X, TANH, constants=fake)
    assert rep.status == "inconclusive" and "increase K" in rep.detail


def test_4_3_tolerance_formula():
    consts = kernel_constants(unit_directions([0, 45, 90]), TANH)
    eps = np.finfo(float).eps
    assert lambda_tolerance(consts) == 3 * consts.quad_error + 64 * 3 * eps * consts.H_norm


def test_4_3_bad_input():
    with pytest.raises(ShapeError, match="X must have 2 dimension"):
        assumption_4_3(np.ones(2), TANH)


def test_report_is_consistent():
    with pytest.raises(ValueError, match="contradicts"):
        AssumptionReport(holds=True, margin=1.0, detail="", status="fails")
    with pytest.raises(ValueError, match="status must be"):
        AssumptionReport(holds=False, margin=1.0, detail="", status="maybe")
    with pytest.raises(ValueError, match="margin must not be NaN"):
        AssumptionReport(holds=False, margin=float("nan"), detail="", status="fails")


# ---------------------------------------------------------------------------------------------
# dataset strategies honour the separation they promise (issue 11 item 8)
# ---------------------------------------------------------------------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from checks.strategies import (DEGENERATE_KINDS, MIN_RADIUS_GAP, build_dataset,  # noqa: E402
                               build_degenerate_dataset, dataset_cases, degenerate_dataset_cases,
                               separation_problem)

#: Rounding of x / |x| times a radius and of the cosine of two such vectors: a few ulps; 1e-12 is
#: far below the smallest promised margin (cos 89 deg - cos 90 deg ~ 0.017, a radius gap of 0.05).
_GEOM_TOL = 1e-12


def _assert_separated(X: np.ndarray, case) -> None:
    n, d = X.shape
    norms = np.linalg.norm(X, axis=1)
    assert np.all(norms >= case["r_min"] - _GEOM_TOL) and np.all(norms <= 1.0 + _GEOM_TOL), norms
    if d == 1:
        radii = np.sort(X[:, 0])
        assert radii[0] > 0.0
        assert n == 1 or np.min(np.diff(radii)) >= MIN_RADIUS_GAP - _GEOM_TOL, radii
        return
    U = X / norms[:, None]
    cos = np.abs(U @ U.T)[np.triu_indices(n, 1)]
    assert n == 1 or cos.max() <= math.cos(math.radians(case["min_angle_deg"])) + _GEOM_TOL, cos


def test_dataset_cases_regression_d1_unit_radius():
    # The reported bug: d = 1 with r_min = 1 built X = [1, 1, 1]; such sizes are no longer drawn.
    @settings(max_examples=30)
    @given(dataset_cases(n=(2, 4), d=(1, 3), r_min=1.0))
    def run(case):
        assert case["d"] >= 2
        _assert_separated(build_dataset(case)[0], case)
    run()
    with pytest.raises(ValueError, match="no dataset size in n=.*can honour the separation"):
        dataset_cases(n=(2, 4), d=(1, 1), r_min=1.0)
    with pytest.raises(ValueError, match="cannot be separated"):
        build_dataset({"n": 3, "d": 1, "seed": 0, "r_min": 1.0})


@st.composite
def _strategy_parameters(draw):
    n_lo = draw(st.integers(1, 8))
    d_lo = draw(st.integers(1, 4))
    return dict(n=(n_lo, draw(st.integers(n_lo, 14))), d=(d_lo, draw(st.integers(d_lo, 5))),
                labels=draw(st.sampled_from(["continuous", "pm1", "inside"])),
                r_min=draw(st.sampled_from([1e-3, 0.25, 0.5, 0.9, 0.97, 1.0]) | st.floats(1e-3, 1.0)),
                min_angle_deg=draw(st.sampled_from([1.0, 15.0, 30.0, 45.0, 60.0, 89.0]) | st.floats(0.5, 90.0)))


@settings(max_examples=60)
@given(_strategy_parameters(), st.data())
def test_every_dataset_strategy_honours_its_separation(params, data):
    # Either the strategy refuses the parameters at construction, or every case it draws builds a
    # dataset with the promised separation (and a case with an unsatisfiable size is never drawn).
    try:
        strategy = dataset_cases(**params)
    except ValueError as exc:
        assert "can honour the separation" in str(exc)
        assert all(separation_problem(nn, dd, params["r_min"], params["min_angle_deg"]) is not None
                   for nn in range(params["n"][0], params["n"][1] + 1)
                   for dd in range(params["d"][0], params["d"][1] + 1))
        return
    case = data.draw(strategy)
    assert params["n"][0] <= case["n"] <= params["n"][1] and params["d"][0] <= case["d"] <= params["d"][1]
    X, y = build_dataset(case)
    assert X.shape == (case["n"], case["d"]) and y.shape == (case["n"],) and np.all(np.abs(y) <= 1.0)
    _assert_separated(X, case)


@settings(max_examples=30)
@given(degenerate_dataset_cases())
def test_degenerate_strategy_builds_what_it_promises(case):
    # The promise is the opposite one: a structural reason for Lambda = 0 (duplicate, antipodal
    # or zero rows with the right activation).
    X, act = build_degenerate_dataset(case)
    kind = case["kind"]
    assert kind in DEGENERATE_KINDS
    if kind == "duplicate":
        assert np.array_equal(X[0], X[1])
    elif kind in ("antipodal", "sigmoid-triple"):
        assert np.array_equal(X[0], -X[1])
    if kind in ("zero-input", "sigmoid-triple"):
        assert not np.any(X[-1])


@pytest.mark.parametrize("bad,match", [
    ({"d": 2, "seed": 0}, "missing the field"),
    ({"n": 1e200, "d": 2, "seed": 0}, r"case\['n'\] must be an integer"),
    ({"n": 2, "d": 2, "seed": -1}, r"case\['seed'\] must be an integer"),
    ({"n": 2, "d": 2, "seed": 0, "r_min": 0.0}, "r_min must be a number in"),
    ({"n": 2, "d": 2, "seed": 0, "labels": "what"}, r"case\['labels'\] must be one of"),
])
def test_build_dataset_names_the_bad_case_field(bad, match):
    with pytest.raises(ValueError, match=match):
        build_dataset(bad)
