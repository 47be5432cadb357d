"""Tests of theory/divergences.py: every closed form against a second, independent route (docs/claims.md#lemma-54, 4.9, 5)."""

import math

import numpy as np
import pytest
from scipy import integrate, linalg, stats

from theory.divergences import (Measure1D, chi2_gaussian_p0, gaussian_1d, kl_1d, kl_gaussian, kl_gaussian_p0,
                                kl_lower_bound_moments, kl_product, mixture_1d, product_moments, pushforward_1d,
                                w2_1d, w2_empirical, w2_gaussian, w2_gaussian_p0, w2_lower_bound_gelbrich,
                                w2_product, w2_squared_1d, w2_squared_empirical, w2_squared_gaussian,
                                w2_squared_gaussian_p0)
from theory.errors import DomainError, NonFiniteError, QuadratureWarning, ShapeError


def random_gaussian(rng, k, lo=0.2, hi=3.0):
    """A random N(m, S) with eigenvalues in [lo, hi] (well conditioned, so 1e-12 checks are fair)."""
    Q, _ = np.linalg.qr(rng.standard_normal((k, k)))
    S = (Q * rng.uniform(lo, hi, size=k)) @ Q.T
    return rng.standard_normal(k), 0.5 * (S + S.T)


BIMODAL = dict(weights=[0.5, 0.5], means=[-1.5, 1.5], sds=[0.5, 0.5])  # docs/claims.md#lemma-54 [V]


def tanh_push(shift=0.3, scale=1.2, a=0.8, b=2.0):
    return pushforward_1d(gaussian_1d(0.0, 1.0), lambda z: shift + scale * z + a * np.tanh(b * z),
                          lambda z: scale + a * b / np.cosh(b * z) ** 2, name="tanh")


# ------------------------------------------------------------------------------- Gaussians
def test_kl_gaussian_matches_monte_carlo_log_ratio():
    rng = np.random.default_rng(1)
    m1, S1 = random_gaussian(rng, 3)
    m2, S2 = random_gaussian(rng, 3)
    x = rng.multivariate_normal(m1, S1, size=200_000)
    lr = stats.multivariate_normal(m1, S1).logpdf(x) - stats.multivariate_normal(m2, S2).logpdf(x)
    se = lr.std(ddof=1) / math.sqrt(lr.size)
    # |MC mean - exact| <= 5 se: false-alarm rate ~6e-7 (CLT, 2e5 draws).
    assert abs(lr.mean() - kl_gaussian(m1, S1, m2, S2)) <= 5 * se


def test_bures_matches_the_optimal_affine_map():
    """W2^2 = E|T(X) - X|^2 for the Brenier map T(x) = m2 + A (x - m1), A from scipy's Schur sqrtm."""
    rng = np.random.default_rng(2)
    m1, S1 = random_gaussian(rng, 4)
    m2, S2 = random_gaussian(rng, 4)
    r1 = np.real(linalg.sqrtm(S1))
    r1inv = np.linalg.inv(r1)
    A = r1inv @ np.real(linalg.sqrtm(r1 @ S2 @ r1)) @ r1inv
    np.testing.assert_allclose(A @ S1 @ A, S2, atol=1e-10)  # T pushes N(m1,S1) to N(m2,S2)
    B = A - np.eye(4)
    cost = float((m2 - m1) @ (m2 - m1) + np.trace(B @ S1 @ B.T))
    assert w2_squared_gaussian(m1, S1, m2, S2) == pytest.approx(cost, rel=1e-10)
    assert w2_gaussian(m1, S1, m2, S2) == pytest.approx(math.sqrt(cost), rel=1e-10)


def test_bures_against_exact_ot_of_coupled_samples():
    """Brenier pairs (x_i, T x_i) are cyclically monotone, so the exact assignment of the shuffled
    clouds recovers them, and their mean cost estimates W2^2 without the OT sampling bias."""
    rng = np.random.default_rng(3)
    m1, S1 = random_gaussian(rng, 2)
    m2, S2 = random_gaussian(rng, 2)
    r1 = np.real(linalg.sqrtm(S1))
    r1inv = np.linalg.inv(r1)
    A = r1inv @ np.real(linalg.sqrtm(r1 @ S2 @ r1)) @ r1inv
    x = rng.multivariate_normal(m1, S1, size=400)
    y = m2 + (x - m1) @ A.T
    cost = np.sum((x - y) ** 2, axis=1)
    assert w2_squared_empirical(x, rng.permutation(y)) == pytest.approx(cost.mean(), rel=1e-10)
    se = cost.std(ddof=1) / math.sqrt(cost.size)
    # |sample mean cost - W2^2| <= 5 se: false-alarm rate ~6e-7.
    assert abs(cost.mean() - w2_squared_gaussian(m1, S1, m2, S2)) <= 5 * se


def test_w2_empirical_in_1d_is_the_sorted_matching():
    rng = np.random.default_rng(4)
    a, b = rng.standard_normal(300), 2.0 + 0.5 * rng.standard_normal(300)
    exact = float(np.mean((np.sort(a) - np.sort(b)) ** 2))
    assert w2_squared_empirical(a, b) == pytest.approx(exact, rel=1e-12)
    assert w2_empirical(a[:, None], b[:, None]) == pytest.approx(math.sqrt(exact), rel=1e-12)


def test_bures_in_1d_matches_the_quantile_formula():
    m, s = 0.7, 2.3
    closed = w2_squared_gaussian([m], [[s * s]], [0.0], [[1.0]])
    assert closed == pytest.approx(m * m + (s - 1.0) ** 2, rel=1e-14)
    for route in ("x", "z"):
        assert w2_squared_1d(gaussian_1d(m, s), route).value == pytest.approx(closed, rel=1e-11)
        assert kl_1d(gaussian_1d(m, s), route).value == pytest.approx(kl_gaussian_p0([m], [[s * s]]), rel=1e-11)


@pytest.mark.parametrize("k", [1, 2, 4])
def test_p0_forms_match_the_general_forms(k):
    rng = np.random.default_rng(10 + k)
    m, S = random_gaussian(rng, k, lo=0.05, hi=8.0)
    zero, eye = np.zeros(k), np.eye(k)
    assert kl_gaussian_p0(m, S) == pytest.approx(kl_gaussian(m, S, zero, eye), rel=1e-12)
    assert w2_squared_gaussian_p0(m, S) == pytest.approx(w2_squared_gaussian(m, S, zero, eye), rel=1e-12)
    assert w2_gaussian_p0(m, S) == pytest.approx(w2_gaussian(m, S, zero, eye), rel=1e-12)


def test_identical_gaussians_give_zero_not_nan():
    rng = np.random.default_rng(5)
    m, S = random_gaussian(rng, 3)
    assert kl_gaussian(m, S, m, S) == pytest.approx(0.0, abs=1e-13)
    assert w2_squared_gaussian(m, S, m, S) == pytest.approx(0.0, abs=1e-12)
    assert kl_gaussian_p0(np.zeros(3), np.eye(3)) == 0.0 and w2_gaussian_p0(np.zeros(3), np.eye(3)) == 0.0


def test_translations_are_the_equality_case_of_t2():
    m = np.array([0.3, -1.2, 0.5])
    assert w2_squared_gaussian_p0(m, np.eye(3)) == pytest.approx(2.0 * kl_gaussian_p0(m, np.eye(3)), rel=1e-15)


def _chi2_1d_quad(m, s):
    f = lambda x: math.exp(2 * stats.norm.logpdf(x, m, s) - stats.norm.logpdf(x))  # noqa: E731
    val, err = integrate.quad(f, -np.inf, np.inf, epsabs=0, epsrel=1e-13, limit=400)
    return val - 1.0


def test_chi2_gaussian_matches_quadrature():
    assert chi2_gaussian_p0([0.4], [[1.5]]) == pytest.approx(_chi2_1d_quad(0.4, math.sqrt(1.5)), rel=1e-8)
    # k-D: rotate a diagonal case; chi^2 + 1 is rotation invariant and multiplies over coordinates.
    rng = np.random.default_rng(6)
    d, mu = np.array([0.3, 1.2, 1.8]), np.array([0.5, -0.2, 0.1])
    Q, _ = np.linalg.qr(rng.standard_normal((3, 3)))
    prod = np.prod([1.0 + _chi2_1d_quad(a, math.sqrt(b)) for a, b in zip(mu, d)]) - 1.0
    assert chi2_gaussian_p0(Q @ mu, (Q * d) @ Q.T) == pytest.approx(prod, rel=1e-8)


def test_chi2_dominates_kl_and_overflows_to_inf():
    rng = np.random.default_rng(7)
    m, S = random_gaussian(rng, 3, lo=0.3, hi=1.9)
    assert kl_gaussian_p0(m, S) <= math.log1p(chi2_gaussian_p0(m, S))  # KL <= log(1 + chi^2) (Jensen)
    assert chi2_gaussian_p0([40.0], [[1.0]]) == math.inf


# --------------------------------------------------------------------------- 1-D measures
def test_bimodal_mixture_reference_numbers():
    """docs/claims.md#lemma-54 [V]: KL = 0.75385, W2 = 0.7252452, two independent quadratures agree to 1e-11."""
    p = mixture_1d(**BIMODAL)
    kx, kz = kl_1d(p, "x"), kl_1d(p, "z")
    wx, wz = w2_1d(p, "x"), w2_1d(p, "z")
    assert abs(kx.value - 0.75385) < 5e-6 and abs(wx.value - 0.7252452) < 5e-8  # quoted digits
    assert abs(kx.value - kz.value) < 1e-11 and abs(wx.value - wz.value) < 1e-11
    assert max(kx.error, kz.error, wx.error, wz.error) < 1e-11 and kx.converged and wz.converged
    assert math.sqrt(2 * kx.value) == pytest.approx(1.22788, abs=5e-6)
    assert 2 * math.sqrt(kx.value) == pytest.approx(1.73649, abs=5e-6)


@pytest.mark.parametrize("params", [BIMODAL, dict(weights=[0.2, 0.5, 0.3], means=[-2.0, 0.5, 1.0],
                                                  sds=[0.4, 1.3, 0.7])])
def test_kl_moment_decomposition(params):
    """KL(p||p0) = KL(p||N_p) + KL(N_p||p0) (docs/evidence.md#certified-and-estimated-quantities); KL(p||N_p) by affine invariance = KL of the
    standardised mixture against N(0,1), an independent quadrature."""
    p = mixture_1d(**params)
    sd = math.sqrt(p.var)
    q = mixture_1d(params["weights"], (np.array(params["means"]) - p.mean) / sd, np.array(params["sds"]) / sd)
    gauss_part = kl_gaussian_p0([p.mean], [[p.var]])
    assert kl_1d(p).value == pytest.approx(kl_1d(q).value + gauss_part, abs=1e-10)
    if params is BIMODAL:
        assert (kl_1d(q).value, gauss_part) == pytest.approx((0.46199, 0.29185), abs=5e-6)


def test_moment_bounds_are_below_exact_values():
    for p in (mixture_1d(**BIMODAL), tanh_push(), mixture_1d([0.7, 0.3], [0.0, 3.0], [1.0, 0.3])):
        assert kl_lower_bound_moments([p.mean], [[p.var]]) <= kl_1d(p).value
        assert w2_lower_bound_gelbrich([p.mean], [[p.var]]) <= w2_1d(p).value
    g = gaussian_1d(0.5, 1.7)  # equality for a Gaussian
    assert kl_lower_bound_moments([g.mean], [[g.var]]) == pytest.approx(kl_1d(g).value, rel=1e-11)
    assert w2_lower_bound_gelbrich([g.mean], [[g.var]]) == pytest.approx(w2_1d(g).value, rel=1e-11)


def test_product_measures_add_and_match_diagonal_gaussians():
    means, sds = [0.3, -1.0, 2.0], [0.5, 1.0, 1.7]
    ms = [gaussian_1d(m, s) for m, s in zip(means, sds)]
    cov = np.diag(np.square(sds))
    assert kl_product(ms).value == pytest.approx(kl_gaussian_p0(means, cov), rel=1e-11)
    assert w2_product(ms).value == pytest.approx(w2_gaussian_p0(means, cov), rel=1e-11)
    mean, c = product_moments(ms)
    np.testing.assert_allclose(mean, means, rtol=1e-15)
    np.testing.assert_allclose(c, cov, rtol=1e-15)


def test_pushforward_routes_agree_and_affine_maps_are_gaussian():
    p = tanh_push()
    for f in (kl_1d, w2_squared_1d):
        assert f(p, "x").value == pytest.approx(f(p, "z").value, abs=1e-10)
    assert p.mean == pytest.approx(0.3, abs=1e-12)  # shift + odd map of a symmetric law
    aff = pushforward_1d(gaussian_1d(0.0, 1.0), lambda z: 0.5 + 2.0 * z, lambda z: np.full(np.shape(z), 2.0))
    assert kl_1d(aff).value == pytest.approx(kl_gaussian_p0([0.5], [[4.0]]), rel=1e-11)
    assert w2_1d(aff, "x").value == pytest.approx(w2_gaussian_p0([0.5], [[4.0]]), rel=1e-11)
    assert aff.var == pytest.approx(4.0, rel=1e-12)


def test_mixture_functions_are_consistent_in_the_tails():
    p = mixture_1d(**BIMODAL)
    z = np.array([-30.0, -8.0, -0.3, 0.0, 1.0, 8.0, 30.0])
    np.testing.assert_allclose(p.to_z(p.transport(z)), z, rtol=1e-12, atol=1e-12)
    zc, h = np.array([-2.0, -0.1, 0.0, 0.7, 3.0]), 1e-6
    # Central difference: truncation ~h^2 T'''/6 and rounding ~1e-16 |T|/h, both < 1e-7 relative here.
    slope = (p.transport(zc + h) - p.transport(zc - h)) / (2 * h)
    np.testing.assert_allclose(np.exp(p.log_dtransport(zc)), slope, rtol=1e-6)
    q = np.array([1e-9, 0.1, 0.5, 0.9])
    np.testing.assert_allclose(p.cdf(p.ppf(q)), q, rtol=1e-12)
    mass = integrate.quad(p.pdf, -np.inf, np.inf, points=None, epsabs=1e-13)[0]
    assert mass == pytest.approx(1.0, abs=1e-10)
    x = p.sample(20_000, np.random.default_rng(8))
    # |sample mean - 0| <= 5 se with se = sqrt(var/n) = 0.011: false-alarm rate ~6e-7.
    assert abs(x.mean() - p.mean) <= 5 * math.sqrt(p.var / x.size)


# ----------------------------------------------------------------------------- bad inputs
@pytest.mark.parametrize("fn", [kl_gaussian_p0, w2_gaussian_p0, chi2_gaussian_p0])
def test_rejects_asymmetric_covariance(fn):
    with pytest.raises(DomainError, match="S must be symmetric"):
        fn([0.0, 0.0], [[1.0, 0.5], [0.0, 1.0]])


def test_rejects_bad_covariances_by_name():
    with pytest.raises(DomainError, match="S2 must be positive definite"):
        kl_gaussian([0.0], [[1.0]], [0.0], [[0.0]])
    with pytest.raises(DomainError, match="cov must be positive definite"):
        kl_lower_bound_moments([0.0, 0.0], np.diag([1.0, 0.0]))
    with pytest.raises(DomainError, match="S1 must be positive semi-definite"):
        w2_squared_gaussian([0.0], [[-1.0]], [0.0], [[1.0]])
    assert w2_lower_bound_gelbrich([0.0, 0.0], np.diag([1.0, 0.0])) == pytest.approx(1.0)  # PSD allowed
    with pytest.raises(ShapeError, match="S must have 2 rows"):
        kl_gaussian_p0([0.0, 0.0], np.eye(3))
    with pytest.raises(ShapeError, match="m2 must have length 2"):
        w2_gaussian([0.0, 0.0], np.eye(2), [0.0], [[1.0]])
    with pytest.raises(NonFiniteError, match="m must be finite"):
        kl_gaussian_p0([np.nan], [[1.0]])
    with pytest.raises(TypeError, match="cov must be an array"):
        w2_lower_bound_gelbrich([0.0], "identity")


def test_chi2_needs_cov_below_2i():
    with pytest.raises(DomainError, match="S < 2 I"):
        chi2_gaussian_p0([0.0, 0.0], np.diag([1.0, 2.0]))


def test_rejects_bad_1d_measures():
    with pytest.raises(DomainError, match="weights must be > 0 and sum to 1"):
        mixture_1d([0.5, 0.6], [0.0, 1.0], [1.0, 1.0])
    with pytest.raises(DomainError, match="sds must be > 0"):
        mixture_1d([0.5, 0.5], [0.0, 1.0], [1.0, 0.0])
    with pytest.raises(ShapeError, match="means must have length 2"):
        mixture_1d([0.5, 0.5], [0.0], [1.0, 1.0])
    with pytest.raises(DomainError, match="sd must be > 0"):
        gaussian_1d(0.0, -1.0)
    with pytest.raises(DomainError, match="dT must be finite and > 0"):
        pushforward_1d(gaussian_1d(0.0, 1.0), lambda z: z - 2 * np.tanh(z), lambda z: 1 - 2 / np.cosh(z) ** 2)
    with pytest.raises(TypeError, match="T and dT must be callables"):
        pushforward_1d(gaussian_1d(0.0, 1.0), 2.0, lambda z: z)
    with pytest.raises(TypeError, match="base must be a Measure1D"):
        pushforward_1d("N(0,1)", lambda z: z, lambda z: np.ones_like(z))
    with pytest.raises(DomainError, match=r"q must lie in \(0, 1\)"):
        gaussian_1d(0.0, 1.0).ppf([0.5, 1.0])


def test_rejects_bad_divergence_arguments():
    with pytest.raises(TypeError, match="p must be a Measure1D"):
        kl_1d([0.0, 1.0])
    with pytest.raises(DomainError, match="route must be 'x' or 'z'"):
        w2_1d(gaussian_1d(0.0, 1.0), route="q")
    with pytest.raises(TypeError, match="measures must be a non-empty list"):
        kl_product([])
    with pytest.raises(TypeError, match=r"measures\[1\] must be a Measure1D"):
        w2_product([gaussian_1d(0.0, 1.0), 3.0])
    with pytest.raises(ShapeError, match="equal shape"):
        w2_empirical(np.zeros((3, 2)), np.zeros((4, 2)))
    assert isinstance(gaussian_1d(0.0, 1.0), Measure1D)


def test_unconverged_quadrature_warns_and_says_so(monkeypatch):
    import theory.divergences as dv

    monkeypatch.setattr(dv, "_QUAD_RTOL", 1e-30)  # unreachable in float64: forces a stop at max_subdivisions
    monkeypatch.setattr(dv, "_QUAD_ATOL", 0.0)
    monkeypatch.setattr(dv, "_QUAD_MAX_SUBDIVISIONS", 3)
    with pytest.warns(QuadratureWarning, match="above its tolerance"):
        r = kl_1d(gaussian_1d(0.5, 1.0))
    assert not r.converged and math.isfinite(r.value) and r.error > 0


# ---------------------------------------------------------------------------------------------
# accuracy near equality, against mpmath at 60 digits (issue 13: the Bures trace formula and the
# log-det form of KL cancel when the two Gaussians almost agree)
# ---------------------------------------------------------------------------------------------

import mpmath  # noqa: E402
from hypothesis import example, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

#: Relative accuracy demanded near equality.  Both forms are sums of non-negative terms computed
#: from the covariance difference, so the error is a modest multiple of eps times the condition
#: number of S2 (eigenvalues in [0.01, 3] here, <= 300): 300 * 1e-16 * a safety factor 30 ~ 1e-12.
#: The old trace formulas were off by 44% (W2) and by a factor 40 (KL) on these inputs.
NEAR_RTOL = 1e-12


def _mp_w2_squared(m1, S1, m2, S2):
    with mpmath.workdps(60):
        A = mpmath.sqrtm(mpmath.matrix(S2.tolist()))
        R = mpmath.sqrtm(A * mpmath.matrix(S1.tolist()) * A)
        k = len(m1)
        tr = sum(mpmath.mpf(S1[i, i]) + mpmath.mpf(S2[i, i]) - 2 * R[i, i] for i in range(k))
        return float(sum((mpmath.mpf(a) - mpmath.mpf(b)) ** 2 for a, b in zip(m1, m2)) + mpmath.re(tr))


def _mp_kl(m1, S1, m2, S2):
    with mpmath.workdps(60):
        A, B = mpmath.matrix(S1.tolist()), mpmath.matrix(S2.tolist())
        Bi = B ** -1
        dm = mpmath.matrix([mpmath.mpf(b) - mpmath.mpf(a) for a, b in zip(m1, m2)])
        k = len(m1)
        tr = sum((Bi * A)[i, i] for i in range(k))
        return float((tr + (dm.T * Bi * dm)[0] - k + mpmath.log(mpmath.det(B)) - mpmath.log(mpmath.det(A))) / 2)


def _near_pair(seed, k, log_eps, mean_shift):
    rng = np.random.default_rng(seed)
    _, S2 = random_gaussian(rng, k, lo=0.01, hi=3.0)
    E = rng.standard_normal((k, k))
    S1 = S2 + 10.0 ** log_eps * 0.5 * (E + E.T)
    S1 = 0.5 * (S1 + S1.T)
    if np.linalg.eigvalsh(S1)[0] <= 0:  # a perturbation this large can leave the PD cone
        S1 = S2 + 10.0 ** log_eps * np.eye(k)
    m2 = rng.standard_normal(k)
    return m2 + mean_shift * rng.standard_normal(k), S1, m2, S2


_near = dict(seed=st.integers(0, 2 ** 32 - 1), k=st.integers(1, 4), log_eps=st.floats(-12.0, -2.0),
             mean_shift=st.sampled_from([0.0, 1e-9, 1e-6]))


@settings(max_examples=25)
@given(**_near)
@example(seed=1, k=3, log_eps=-8.0, mean_shift=0.0)
@example(seed=2, k=2, log_eps=-12.0, mean_shift=0.0)
def test_w2_gaussian_near_equality_matches_mpmath(seed, k, log_eps, mean_shift):
    m1, S1, m2, S2 = _near_pair(seed, k, log_eps, mean_shift)
    ref = _mp_w2_squared(m1, S1, m2, S2)
    assert w2_squared_gaussian(m1, S1, m2, S2) == pytest.approx(ref, rel=NEAR_RTOL, abs=1e-300)
    assert w2_squared_gaussian(m2, S2, m1, S1) == pytest.approx(ref, rel=NEAR_RTOL, abs=1e-300)


@settings(max_examples=25)
@given(**_near)
@example(seed=1, k=3, log_eps=-9.0, mean_shift=1e-9)
def test_kl_gaussian_near_equality_matches_mpmath(seed, k, log_eps, mean_shift):
    m1, S1, m2, S2 = _near_pair(seed, k, log_eps, mean_shift)
    assert kl_gaussian(m1, S1, m2, S2) == pytest.approx(_mp_kl(m1, S1, m2, S2), rel=NEAR_RTOL, abs=1e-300)


def test_issue_13_reproductions_near_equality():
    # The two one-line reproductions of the issue: covariances 1e-8 I apart, and KL(mu, S || 0, I)
    # at a 1e-9 perturbation, where kl_gaussian_p0 was already accurate.
    S2 = np.diag([0.0036, 1.0, 2.0])
    S1 = S2 + 1e-8 * np.eye(3)
    z = np.zeros(3)
    assert w2_gaussian(z, S1, z, S2) == pytest.approx(math.sqrt(_mp_w2_squared(z, S1, z, S2)), rel=NEAR_RTOL)
    m, S = np.full(3, 1e-9), np.eye(3) + 1e-9 * np.diag([1.0, -2.0, 0.5])
    ref = _mp_kl(m, S, z, np.eye(3))
    assert kl_gaussian(m, S, z, np.eye(3)) == pytest.approx(ref, rel=NEAR_RTOL)
    assert kl_gaussian_p0(m, S) == pytest.approx(ref, rel=NEAR_RTOL)


@settings(max_examples=25)
@given(seed=st.integers(0, 2 ** 32 - 1), k=st.integers(1, 4))
def test_w2_and_kl_far_from_equality_match_mpmath(seed, k):
    # The cancellation-free forms must not cost accuracy away from equality either.
    rng = np.random.default_rng(seed)
    m1, S1 = random_gaussian(rng, k)
    m2, S2 = random_gaussian(rng, k)
    assert w2_squared_gaussian(m1, S1, m2, S2) == pytest.approx(_mp_w2_squared(m1, S1, m2, S2), rel=1e-12)
    assert kl_gaussian(m1, S1, m2, S2) == pytest.approx(_mp_kl(m1, S1, m2, S2), rel=1e-12)


# ------------------------------------------------------------------------------ stacked forms
def _stacks(seed: int, B: int = 120, k: int = 3):
    """Random stacks with near-equal pairs, singular ones and pairs that need the swap."""
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(B, k, k))
    S1 = 0.2 * np.eye(k) + 0.3 * A @ np.swapaxes(A, 1, 2)
    S2 = np.eye(k) + 1e-9 * (A + np.swapaxes(A, 1, 2))
    S2[:30] = S1[:30] + 1e-10 * np.eye(k)           # near equality: the Bures sum of squares
    S1[90:100] = np.diag([1.0] + [0.0] * (k - 1))    # S1 singular: the swap makes it S1 again
    S2[95:100] = np.diag([0.0] * (k - 1) + [2.0])    # both singular: the trace formula
    m1 = rng.normal(size=(B, k))
    return m1, S1, m1 + 1e-6 * rng.normal(size=(B, k)), S2


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_stacked_divergences_match_the_scalar_functions(seed):
    from theory._gaussian_stacks import kl_gaussian_p0_stack, w2_squared_gaussian_p0_stack, w2_squared_gaussian_stack
    from theory.divergences import kl_gaussian_p0, w2_squared_gaussian, w2_squared_gaussian_p0

    m1, S1, m2, S2 = _stacks(seed)
    B = len(m1)
    w2 = w2_squared_gaussian_stack(m1.reshape(4, -1, 3), S1.reshape(4, -1, 3, 3), m2.reshape(4, -1, 3),
                                   S2.reshape(4, -1, 3, 3))
    assert w2.shape == (4, B // 4)
    ref = np.array([w2_squared_gaussian(m1[i], S1[i], m2[i], S2[i]) for i in range(B)])
    np.testing.assert_allclose(w2.ravel(), ref, rtol=1e-13, atol=1e-300)
    S = S2.copy()
    S[95:100] = np.eye(3)   # KL needs positive definite covariances
    np.testing.assert_allclose(kl_gaussian_p0_stack(m1, S), [kl_gaussian_p0(m1[i], S[i]) for i in range(B)],
                               rtol=1e-13)
    np.testing.assert_allclose(w2_squared_gaussian_p0_stack(m1, S1),
                               [w2_squared_gaussian_p0(m1[i], S1[i]) for i in range(B)], rtol=1e-13)


def test_stacked_divergences_refuse_bad_stacks_by_index():
    from theory._gaussian_stacks import kl_gaussian_p0_stack, w2_squared_gaussian_stack
    from theory.errors import DomainError, NonFiniteError, ShapeError

    m = np.zeros((3, 2))
    S = np.stack([np.eye(2)] * 3)
    bad = S.copy()
    bad[1] = [[1.0, 0.5], [0.0, 1.0]]
    with pytest.raises(DomainError, match=r"S1\[1\] must be symmetric"):
        w2_squared_gaussian_stack(m, bad, m, S)
    neg = S.copy()
    neg[2] = np.diag([1.0, -0.1])
    with pytest.raises(DomainError, match=r"S2\[2\] must be positive semi-definite"):
        w2_squared_gaussian_stack(m, S, m, neg)
    with pytest.raises(DomainError, match=r"cov\[2\] must be positive definite"):
        kl_gaussian_p0_stack(m, np.where(np.arange(3)[:, None, None] == 2, 0.0, S))
    with pytest.raises(ShapeError, match="S1 must have shape"):
        w2_squared_gaussian_stack(m, S[:, :1], m, S)
    with pytest.raises(NonFiniteError, match="must be finite"):
        kl_gaussian_p0_stack(np.full((3, 2), np.nan), S)
