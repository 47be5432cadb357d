"""Gram matrices H1, H2 of (3.6): particles, exact at p0 (Gauss-Hermite), erf closed form (MATH 2).

Every route is cross-checked against another one: GH against the closed form, both against Monte
Carlo particles, GH against the Price identity H1 = c dH2/dc, and against the reference values of
MATH 2.2 and 3.4.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from theory import kernels
from theory.activations import ERF, RELU, SIGMOID, TANH, Activation, scaled
from theory.data import sphere_inputs, unit_directions
from theory.errors import DomainError, MissingDerivativeError, NonFiniteError, ShapeError
from theory.kernels import gram_p0, gram_p0_erf, gram_particles, kernel_constants, lambda_min

#: Monte Carlo band: 5 standard errors, two-sided normal tail 5.7e-7 per entry (the seeds are
#: fixed, so a run is deterministic; the rate is what a fresh seed would risk).
Z_BAND = 5.0


def _pair(a, b, c):
    """Two inputs in R^2 with |x_i|^2 = a, |x_j|^2 = b, x_i . x_j = c."""
    return np.array([[math.sqrt(a), 0.0], [c / math.sqrt(a), math.sqrt(b - c * c / a)]])


def _datasets():
    rng = np.random.default_rng(1)
    return {
        "math-3.4": unit_directions([0, 45, 90, 135]),
        "ball-d3": sphere_inputs(5, 3, rng, r_min=0.2, r_max=1.0),
        "zero-row": np.array([[0.6, 0.8], [0.0, 0.0], [-0.3, 0.1]]),
        "outside-4.1": np.array([[1.5, 0.0, 0.2], [0.3, -1.2, 0.4]]),
    }


# ---------------------------------------------------------------------------------------------
# exact at p0
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(_datasets()))
@pytest.mark.parametrize("c,s", [(1.0, 1.0), (2.0, 1.5), (0.7, 3.0)])
def test_erf_gh_matches_closed_form(name, c, s):
    X = _datasets()[name]
    act = scaled(ERF, c, s)
    gh = gram_p0(X, act, K=80, method="gh")
    cf = gram_p0(X, act)
    assert cf.method == "closed-form" and gh.method == "gh"
    # MATH 2.3: GH error 1e-16 at K=80 for erf; 1e-12 leaves room for rounding of K^2-term sums
    assert np.max(np.abs(gh.H1 - cf.H1)) <= 1e-12
    assert np.max(np.abs(gh.H2 - cf.H2)) <= 1e-12
    if name != "outside-4.1":  # |x| = 1.5 needs more nodes at K (2e-7), not at 2K
        assert gh.quad_error <= 1e-12


def test_gram_p0_erf_matches_formula_of_math_2_3():
    X = _pair(0.8, 0.6, 0.3)
    cf = gram_p0_erf(X)
    assert cf.H2[0, 1] == pytest.approx((2 / math.pi) * math.asin(0.6 / math.sqrt(2.6 * 2.2)), rel=1e-15)
    assert cf.H1[0, 1] == pytest.approx(0.3 * (4 / math.pi) / math.sqrt(2.6 * 2.2 - 0.36), rel=1e-15)


@pytest.mark.parametrize("act,e2,e1", [
    (TANH, 0.394294, 0.464403),
    (SIGMOID, 0.293379, 0.044836),
    (ERF, (2 / math.pi) * math.asin(2 / 3), 4 / (math.pi * math.sqrt(5))),
], ids=["tanh", "sigmoid", "erf"])
def test_diagonal_values_of_math_2_2(act, e2, e1):
    X = unit_directions([10, 100])
    g = gram_p0(X, act, method="gh")
    # MATH 2.2 quotes 6 decimals (rounding <= 5e-7); the erf values are exact
    np.testing.assert_allclose(np.diag(g.H2), e2, atol=5e-7)
    np.testing.assert_allclose(np.diag(g.H1), e1, atol=5e-7)


@pytest.mark.parametrize("act,expected", [(TANH, 0.46142879), (SIGMOID, 0.04727616), (ERF, 0.54995572)],
                         ids=["tanh", "sigmoid", "erf"])
def test_price_identity(act, expected):
    a, b, c, step = 0.8, 0.6, 0.3, 1e-4
    plus = gram_p0(_pair(a, b, c + step), act, method="gh").H2[0, 1]
    minus = gram_p0(_pair(a, b, c - step), act, method="gh").H2[0, 1]
    dH2 = (plus - minus) / (2 * step)
    e1 = gram_p0(_pair(a, b, c), act, method="gh").H1[0, 1] / c
    # central difference: truncation step^2/6 * |d^3 H2/dc^3| ~ 1e-9, rounding eps/step ~ 1e-12
    assert abs(dH2 - e1) <= 1e-8
    # MATH 2.2 quotes 8 decimals
    assert abs(e1 - expected) <= 5e-9


def test_zero_row_values():
    g = gram_p0(np.array([[0.0, 0.0], [0.6, 0.8]]), SIGMOID)
    # h(theta . 0) = sigmoid(0) = 1/2 and E sigmoid(z) = 1/2 by sigmoid(z) + sigmoid(-z) = 1
    assert g.H2[0, 0] == pytest.approx(0.25, abs=1e-15)
    assert g.H2[0, 1] == pytest.approx(0.25, abs=1e-14)
    assert g.H1[0, 0] == 0.0 and g.H1[0, 1] == 0.0


def test_math_3_4_lambda():
    X = unit_directions([0, 45, 90, 135])
    kc = kernel_constants(X, TANH)
    assert kc.Lambda == pytest.approx(0.07377, abs=5e-6)
    assert kc.lambda0 ** 2 == pytest.approx(0.01844, abs=5e-6)
    assert kc.Lambda == pytest.approx(kernels.Lambda(X, TANH), rel=1e-15)
    assert kc.lambda0 == pytest.approx(kernels.lambda0(X, TANH), rel=1e-15)
    assert kc.Lambda == pytest.approx(np.linalg.eigvalsh(gram_p0(X, TANH).H)[0], rel=1e-15)
    assert kc.lambda_min_H2 == pytest.approx(np.linalg.eigvalsh(gram_p0(X, TANH).H2)[0], rel=1e-15)


def test_lambda0_is_zero_when_assumption_4_3_fails():
    assert kernels.lambda0(np.array([[1.0, 0.0], [-1.0, 0.0]]), TANH) == 0.0


@pytest.mark.parametrize("act", [TANH, SIGMOID], ids=lambda a: a.name)
def test_gram_p0_is_symmetric_and_psd(act):
    g = gram_p0(_datasets()["ball-d3"], act)
    assert np.array_equal(g.H1, g.H1.T) and np.array_equal(g.H2, g.H2.T)
    assert np.linalg.eigvalsh(g.H)[0] > 0


@pytest.mark.parametrize("act", [TANH, SIGMOID], ids=lambda a: a.name)
def test_permutation_of_data_permutes_H(act):
    X = _datasets()["ball-d3"]
    perm = np.array([3, 0, 4, 2, 1])
    g, gp = gram_p0(X, act), gram_p0(X[perm], act)
    # swapping the roles of x_i, x_j changes the 2-D rule; both are within the 2K error, which the
    # K-vs-2K difference over-estimates
    tol = g.quad_error + 1e-15
    assert np.max(np.abs(gp.H - g.H[np.ix_(perm, perm)])) <= tol


def test_rotation_of_inputs_leaves_H_unchanged():
    X = _datasets()["ball-d3"]
    q, _ = np.linalg.qr(np.random.default_rng(7).standard_normal((3, 3)))
    g, gr = gram_p0(X, TANH), gram_p0(X @ q.T, TANH)
    # the pair reduction sees only inner products, which a rotation preserves up to rounding
    assert np.max(np.abs(gr.H - g.H)) <= 1e-13


def test_chunked_gh_equals_single_chunk(monkeypatch):
    X = _datasets()["ball-d3"]
    monkeypatch.setattr(kernels, "_PAIR_CHUNK_ELEMENTS", 10 ** 9)  # one chunk for all pairs
    ref = gram_p0(X, TANH, K=20)
    monkeypatch.setattr(kernels, "_PAIR_CHUNK_ELEMENTS", 3 * 40 * 40)  # 3 pairs per chunk at 2K = 40
    got = gram_p0(X, TANH, K=20)
    np.testing.assert_array_equal(got.H1, ref.H1)
    np.testing.assert_array_equal(got.H2, ref.H2)


@pytest.mark.parametrize("act", [TANH, SIGMOID, scaled(TANH, 2.0, 0.5), scaled(scaled(SIGMOID, 3.0, 0.7), 0.5, 2.0),
                                 ERF, RELU], ids=lambda a: a.name)
def test_fast_activation_path_matches_derivative_table(act):
    z = np.linspace(-30.0, 30.0, 2001)
    h, h1 = kernels._value_and_slope(act, z)
    ref = act.derivatives(z, 1)
    # z/(s s0) vs (z/s)/s0 differ by an ulp of the argument: a few eps relative
    np.testing.assert_allclose(h, ref[0], rtol=1e-14, atol=1e-300)
    np.testing.assert_allclose(h1, ref[1], rtol=1e-13, atol=1e-300)


def test_missing_derivative_raises():
    h_only = Activation(name="h-only", derivs=lambda z, upto: [np.tanh(z)], max_order=0)
    with pytest.raises(MissingDerivativeError, match="derivative of order 1"):
        gram_p0(np.eye(2), h_only)
    with pytest.raises(MissingDerivativeError, match="derivative of order 1"):
        gram_particles(np.ones((3, 2)), np.ones(3), np.eye(2), h_only)


def test_relu_needs_only_first_derivative():
    X = unit_directions([0, 60])
    g = gram_p0(X, RELU, K=180)
    # arc-cosine kernel (Cho & Saul 2009): E relu(z_i) relu(z_j) = (sin t + (pi - t) cos t)/(2 pi),
    # E 1{z_i>0} 1{z_j>0} = (pi - t)/(2 pi); GH converges only algebraically across the kink
    t = math.pi / 3
    assert g.H2[0, 1] == pytest.approx((math.sin(t) + (math.pi - t) * math.cos(t)) / (2 * math.pi), abs=1e-3)
    assert g.H1[0, 1] == pytest.approx(0.5 * (math.pi - t) / (2 * math.pi), abs=1e-2)


# ---------------------------------------------------------------------------------------------
# particles
# ---------------------------------------------------------------------------------------------

def _mc_reference(theta, u, X, act):
    """Per-particle products, their means and standard errors (sample variance / m)."""
    Z = theta @ X.T
    h, h1 = act.derivatives(Z, 1)
    p2 = h[:, :, None] * h[:, None, :]
    p1 = (u ** 2)[:, None, None] * h1[:, :, None] * h1[:, None, :] * (X @ X.T)[None]
    m = theta.shape[0]
    return (p1.mean(0), p1.std(0, ddof=1) / math.sqrt(m)), (p2.mean(0), p2.std(0, ddof=1) / math.sqrt(m))


@pytest.mark.parametrize("act", [TANH, ERF], ids=lambda a: a.name)
def test_particles_agree_with_exact_within_5_se(act):
    X = _datasets()["ball-d3"]
    rng = np.random.default_rng(2024)
    m = 200_000
    theta, u = rng.standard_normal((m, 3)), rng.standard_normal(m)
    gp = gram_particles(theta, u, X, act)
    (m1, se1), (m2, se2) = _mc_reference(theta, u, X, act)
    # the particle code computes the same sample means as the per-particle products
    assert np.max(np.abs(gp.H1 - m1)) <= 1e-12 and np.max(np.abs(gp.H2 - m2)) <= 1e-12
    for exact in (gram_p0(X, act, method="gh"), gram_p0(X, act)):
        # 15 distinct entries x 2 matrices: family-wise false alarm <= 30 * 5.7e-7 = 1.7e-5
        assert np.all(np.abs(gp.H1 - exact.H1) <= Z_BAND * se1)
        assert np.all(np.abs(gp.H2 - exact.H2) <= Z_BAND * se2)


def test_particles_with_weights_equal_repeated_particles():
    rng = np.random.default_rng(3)
    X = _datasets()["ball-d3"]
    theta, u = rng.standard_normal((6, 3)), rng.standard_normal(6)
    counts = np.array([1, 3, 2, 1, 4, 1])
    w = counts / counts.sum()
    gw = gram_particles(theta, u, X, SIGMOID, weights=w)
    gr = gram_particles(np.repeat(theta, counts, axis=0), np.repeat(u, counts), X, SIGMOID)
    # identical sums in a different order: rounding only
    np.testing.assert_allclose(gw.H, gr.H, rtol=0, atol=1e-14)


def test_particles_replica_axes_and_chunks(monkeypatch):
    rng = np.random.default_rng(4)
    X = _datasets()["math-3.4"]
    theta, u = rng.standard_normal((2, 3, 50, 2)), rng.standard_normal((2, 3, 50))
    g = gram_particles(theta, u, X, TANH)
    assert g.H1.shape == (2, 3, 4, 4) and g.H.shape == (2, 3, 4, 4)
    monkeypatch.setattr(kernels, "_CHUNK_ELEMENTS", 6 * 7 * 4)  # 7 particles per chunk
    for i in range(2):
        for j in range(3):
            single = gram_particles(theta[i, j], u[i, j], X, TANH)
            np.testing.assert_allclose(g.H[i, j], single.H, rtol=0, atol=1e-14)
            assert np.array_equal(single.H1, single.H1.T)


def test_particles_relu_first_derivative_only():
    g = gram_particles(np.array([[1.0, 0.0], [-1.0, 1.0]]), np.array([1.0, 2.0]), np.eye(2), RELU)
    # particle 1: z = (1, 0) -> relu (1, 0), relu' (1, 0); particle 2: z = (-1, 1) -> (0, 1), (0, 1)
    np.testing.assert_allclose(g.H2, [[0.5, 0.0], [0.0, 0.5]])
    np.testing.assert_allclose(g.H1, [[0.5, 0.0], [0.0, 2.0]])


# ---------------------------------------------------------------------------------------------
# bad inputs
# ---------------------------------------------------------------------------------------------

def test_particle_shape_errors():
    X = np.eye(2)
    with pytest.raises(ShapeError, match=r"theta must have shape \(\.\.\., m, d\)"):
        gram_particles(np.ones(3), np.ones(3), X, TANH)
    with pytest.raises(ShapeError, match="X must have 2 columns"):
        gram_particles(np.ones((3, 2)), np.ones(3), np.ones((2, 3)), TANH)
    with pytest.raises(ShapeError, match=r"u must have shape \(3,\)"):
        gram_particles(np.ones((3, 2)), np.ones(4), X, TANH)
    with pytest.raises(ShapeError, match="weights must have shape"):
        gram_particles(np.ones((3, 2)), np.ones(3), X, TANH, weights=np.ones(2))
    with pytest.raises(ShapeError, match="at least one particle"):
        gram_particles(np.ones((0, 2)), np.ones(0), X, TANH)


def test_particle_value_and_type_errors():
    X = np.eye(2)
    bad = np.ones((3, 2))
    bad[1, 0] = np.nan
    with pytest.raises(NonFiniteError, match="theta must be finite"):
        gram_particles(bad, np.ones(3), X, TANH)
    with pytest.raises(DomainError, match="weights must be >= 0"):
        gram_particles(np.ones((3, 2)), np.ones(3), X, TANH, weights=np.array([0.5, 0.6, -0.1]))
    with pytest.raises(TypeError, match="theta must be an array of numbers"):
        gram_particles("theta", np.ones(3), X, TANH)
    with pytest.raises(TypeError, match="activation must be an Activation or a name"):
        gram_particles(np.ones((3, 2)), np.ones(3), X, 3.0)


def test_gram_p0_errors():
    X = np.eye(2)
    with pytest.raises(NonFiniteError, match="X must be finite"):
        gram_p0(np.array([[np.inf, 0.0]]), TANH)
    with pytest.raises(ShapeError, match="X must have 2 dimension"):
        gram_p0(np.ones(3), TANH)
    with pytest.raises(DomainError, match="K must be >= 2"):
        gram_p0(X, TANH, K=1)
    with pytest.raises(DomainError, match="K must be >= 2 and <= 180"):
        gram_p0(X, TANH, K=181)
    with pytest.raises(TypeError, match="K must be an integer"):
        gram_p0(X, TANH, K=2.5)
    with pytest.raises(DomainError, match="method must be"):
        gram_p0(X, TANH, method="exact")
    with pytest.raises(DomainError, match="needs a scaled erf"):
        gram_p0(X, TANH, method="closed-form")
    with pytest.raises(DomainError, match="s must be > 0"):
        gram_p0_erf(X, c=1.0, s=0.0)
    with pytest.raises(ShapeError, match="H must be square"):
        lambda_min(np.ones((2, 3)))
