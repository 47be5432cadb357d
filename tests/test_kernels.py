"""Gram matrices H1, H2 of (3.6): particles, exact at p0 (Hermite series, 2-D rules), erf closed form.

Every route is cross-checked against another one: the series and the 2-D rules against the closed
form and against each other, all against Monte Carlo particles, GH against the Price identity
H1 = c dH2/dc, and against the reference values of docs/kernels.md#exact-gram-at-p0 and 3.4.  Every reported error is
checked to cover the true error of the value returned (issue 12).
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
from theory.quadrature import refinement_error

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
    # docs/kernels.md#erf-closed-form: GH error 1e-16 at K=80 for erf; 1e-12 leaves room for rounding of K^2-term sums
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
    # docs/kernels.md#exact-gram-at-p0 quotes 6 decimals (rounding <= 5e-7); the erf values are exact
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
    # docs/kernels.md#exact-gram-at-p0 quotes 8 decimals
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
    # the series sees the pairs in another order (and the 2-D rule, where used, swaps the roles of
    # x_i, x_j): both results are within their estimated errors of the limit
    tol = g.quad_error + gp.quad_error + 1e-15
    assert np.max(np.abs(gp.H - g.H[np.ix_(perm, perm)])) <= tol


def test_rotation_of_inputs_leaves_H_unchanged():
    X = _datasets()["ball-d3"]
    q, _ = np.linalg.qr(np.random.default_rng(7).standard_normal((3, 3)))
    g, gr = gram_p0(X, TANH), gram_p0(X @ q.T, TANH)
    # the pair reduction sees only inner products, which a rotation preserves up to rounding
    assert np.max(np.abs(gr.H - g.H)) <= 1e-13


def test_chunked_gh_equals_single_chunk(monkeypatch):
    X = _datasets()["ball-d3"]
    monkeypatch.setattr(kernels, "_PAIR_CHUNK_ELEMENTS", 10 ** 9)  # one block for all (pair, node) rows
    ref = gram_p0(X, TANH, K=20, method="gh")
    monkeypatch.setattr(kernels, "_PAIR_CHUNK_ELEMENTS", 7 * 40)  # 7 rows per block at 2K = 40
    got = gram_p0(X, TANH, K=20, method="gh")
    # the same products summed with a different association across blocks: a few ulps of O(1) sums
    np.testing.assert_allclose(got.H1, ref.H1, rtol=0, atol=4e-16)
    np.testing.assert_allclose(got.H2, ref.H2, rtol=0, atol=4e-16)
    assert got.quad_error == pytest.approx(ref.quad_error, rel=1e-6, abs=1e-15)


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


# ---------------------------------------------------------------------------------------------
# Hermite (Mehler) series route and the error of the returned value
# ---------------------------------------------------------------------------------------------

def _hard_pairs():
    """Unit-ball inputs with near-parallel (rho = 0.999, 0.99999), exactly parallel, antiparallel,
    scaled-parallel and zero rows, plus |x| = 1.5 (outside Assumption 4.1)."""
    rng = np.random.default_rng(11)
    base = sphere_inputs(6, 3, rng, r_min=0.3, r_max=1.0)
    v = base[0] / np.linalg.norm(base[0])
    w = np.cross(v, [0.0, 0.0, 1.0])
    w /= np.linalg.norm(w)
    near = [0.8 * (np.cos(t) * v + np.sin(t) * w) for t in (math.acos(0.999), math.acos(0.99999))]
    extra = [-base[1], 0.5 * base[2], np.zeros(3), 1.5 * v, base[3]]
    return np.vstack([base, near, extra])


@pytest.mark.parametrize("c,s", [(1.0, 1.0), (2.0, 1.5), (0.7, 0.5), (1.0, 3.0)])
def test_series_matches_erf_closed_form_and_bounds_its_error(c, s):
    X = _hard_pairs()
    act = scaled(ERF, c, s)
    sr = gram_p0(X, act, method="series")
    cf = gram_p0_erf(X, c=c, s=s)
    true = np.abs(sr.H1 - cf.H1) + np.abs(sr.H2 - cf.H2)
    # the reported estimate must not understate the true error of any entry (the closed form is
    # exact to rounding, ~1e-16; 1e-15 absorbs that)
    assert sr.method == "series"
    assert np.all(true <= sr.entry_error + 1e-15), float(np.max(true - sr.entry_error))
    assert sr.quad_error == sr.entry_error.max()
    # issue 12 target: true error <= 1e-12 inside the validity domain max|x| / s <= 2 (theory/_mehler.py);
    # |x| = 1.5 at s = 0.5 is outside it (measured 7e-9, covered by the estimate above)
    inside = np.linalg.norm(X, axis=1).max() / s <= 2.0
    assert true.max() <= 1e-12 or not inside
    unit = X[np.linalg.norm(X, axis=1) <= 1.0]
    assert np.max(np.abs(gram_p0(unit, act, method="series").H - gram_p0_erf(unit, c=c, s=s).H)) <= 1e-12


@pytest.mark.parametrize("act", [TANH, SIGMOID, scaled(TANH, 1.0, 0.5), scaled(SIGMOID, 2.0, 0.5)],
                         ids=lambda a: a.name)
def test_series_matches_two_dimensional_rule(act):
    X = _hard_pairs()
    sr, auto = gram_p0(X, act, method="series"), gram_p0(X, act)
    ref = gram_p0(X, act, K=160, method="gh")  # 320 nodes per dimension
    for g in (sr, auto):
        diff = np.abs(g.H - ref.H)
        # both estimates must cover the difference of the two routes
        assert np.all(diff <= g.entry_error + ref.entry_error + 1e-15)
        assert np.array_equal(g.H1, g.H1.T) and np.array_equal(g.H2, g.H2.T)
    # auto keeps, pair by pair, the smaller estimate: never worse than the series alone
    assert auto.quad_error <= sr.quad_error
    unit = X[np.linalg.norm(X, axis=1) <= 1.0]
    u_auto, u_ref = gram_p0(unit, act), gram_p0(unit, act, K=160, method="gh")
    if act.s >= 1.0:  # |x| / s <= 1: the 1e-12 target of issue 12
        assert np.max(np.abs(u_auto.H - u_ref.H)) <= 1e-12 and u_auto.quad_error <= 1e-12


def test_series_exact_for_parallel_and_antiparallel_pairs():
    X = np.array([[0.6, 0.8], [-0.6, -0.8], [1.2, 1.6], [0.0, 0.0]])
    g = gram_p0(X, TANH)
    assert g.method == "series" and g.fallback_pairs == 0
    # tanh is odd: x_j = -x_i gives exact negatives of the diagonal (1-D integrals with reversed nodes)
    assert g.H2[0, 1] == -g.H2[0, 0] and g.H1[0, 1] == -g.H1[0, 0]
    assert g.H2[0, 3] == 0.0 and g.H1[0, 3] == 0.0


@pytest.mark.parametrize("K", [10, 20, 40, 80])
def test_gh_reports_error_of_returned_value(K):
    """The 2-D rule returns its 2K values; the estimate from K/2, K, 2K must cover their true error
    (closed form), pre-asymptotic levels (K = 10) included."""
    X = _datasets()["outside-4.1"]
    act = scaled(ERF, 1.0, 0.7)
    gh = gram_p0(X, act, K=K, method="gh")
    true = np.abs(gh.H - gram_p0_erf(X, c=1.0, s=0.7).H)
    assert np.all(true <= gh.entry_error + 1e-15)


@pytest.mark.parametrize("K,factor", [(20, 1e-2), (40, 1e-3)])
def test_gh_estimate_is_far_below_the_old_refinement_difference(K, factor):
    X = _datasets()["ball-d3"]
    gh = gram_p0(X, TANH, K=K, method="gh")
    I, J = np.triu_indices(X.shape[0])
    coarse, fine = (sum(kernels._pair_moments(TANH, X, I, J, k)) for k in (K, 2 * K))
    old = np.max(np.abs(fine - coarse))
    true = np.max(np.abs(gh.H - gram_p0(X, TANH).H))
    # measured: K = 20: estimate 9.9e-10, old 2.6e-7, true 3.8e-11; K = 40: 6e-15, 3.8e-11, 1.1e-16
    assert true <= gh.quad_error <= factor * old


@pytest.mark.parametrize("p", [1.0, 2.0, 4.0])
def test_refinement_error_covers_algebraic_and_geometric_convergence(p):
    K = np.array([10.0, 20.0, 40.0])
    for errors in (K ** -p, np.exp(-0.5 * K), np.exp(-2.0 * np.sqrt(K))):
        v = 1.0 + errors  # values converging to 1 from above
        est = refinement_error([np.array([x]) for x in v], np.zeros(1))
        assert est[0] >= errors[-1]


def test_refinement_error_is_inf_when_not_converging():
    est = refinement_error([np.array([1.0]), np.array([1.1]), np.array([1.3])], np.zeros(1))
    assert est[0] == np.inf


@pytest.mark.parametrize("s", [0.25, 0.35])
def test_steep_activation_keeps_the_route_that_converges(s):
    """Steep erf(z/s) (|x|/s up to 6) leaves the series' validity domain on some pairs: the fallback
    keeps, pair by pair, the smallest estimate, and every entry's true error (closed form) is covered."""
    X = _hard_pairs()
    act = scaled(ERF, 1.0, s)
    H1, H2, E, L, used = kernels._gram_p0_series(X, act, 160, kernels._symmetrise(X @ X.T), fallback=True)
    true = np.abs(H1 + H2 - gram_p0_erf(X, c=1.0, s=s).H)
    assert used > 0
    assert np.all(true <= E + 1e-15)
    # measured: s = 0.35 true 2.7e-15 (estimate 4e-14); s = 0.25 true 5e-3 (estimate 5.6e-3, |x| = 1.5)
    assert true.max() <= (1e-12 if s >= 0.35 else 1e-2)


@pytest.mark.parametrize("base", [TANH, SIGMOID], ids=lambda a: a.name)
def test_auto_meets_issue_target_at_s_half_on_unit_ball(base):
    """Issue 12: error <= 1e-12 for built-ins at s >= 0.5 (|x| <= 1, near-parallel pairs included);
    the series misses on rho = 0.99999 pairs, which the hybrid 2-D rule takes over."""
    X = _hard_pairs()
    X = X[np.linalg.norm(X, axis=1) <= 1.0]
    g = gram_p0(X, scaled(base, 1.0, 0.5))
    ref = gram_p0(X, scaled(base, 1.0, 0.5), K=160, method="gh")
    assert g.quad_error <= 1e-12  # measured 2e-14 (tanh), 5e-14 (sigmoid)
    assert np.all(np.abs(g.H - ref.H) <= g.entry_error + ref.entry_error + 1e-15)


def test_auto_route_is_series_for_builtins():
    X = sphere_inputs(30, 10, np.random.default_rng(5), r_min=0.5)
    for act in (TANH, SIGMOID):
        g = gram_p0(X, act)
        assert g.method == "series" and g.L > 0 and g.quad_error <= 1e-13
