"""Exact empirical Rademacher complexity of the KL ball of Lemma 5.5 (docs/claims.md#lemma-55).

``R_hat_S(F_KL(M)) = E_sigma sup_{KL(p||p0) <= M} (1/n) sum_i sigma_i f(p, x_i)`` with
``f(p, x) = alpha E_p[u ht(theta . x)]``.  For a fixed sign vector sigma put
``g(theta, u) = u S(theta)``, ``S(theta) = (alpha/n) sum_i sigma_i ht(theta . x_i)``.  By
Donsker-Varadhan (Gibbs) duality

    sup_{KL(p||p0) <= M} E_p g = inf_{beta > 0} (M + log_mgf(beta)) / beta,
    log_mgf(beta) = log E_{p0} e^{beta g} = log E_theta exp(beta^2 S(theta)^2 / 2)

(u integrated analytically).  The optimiser is the tilt ``p_beta ∝ p0 e^{beta g}``, for which
``E_{p_beta} g = log_mgf'(beta) = beta E_{pi_beta}[S^2]`` and
``KL(p_beta||p0) = beta log_mgf'(beta) - log_mgf(beta)``, increasing from 0 to infinity; beta* solves
``KL(p_beta*) = M`` (a bracketing root finder) and the sup is ``log_mgf'(beta*)``.

Three routes to the theta-expectation, each with a measured refinement error:

* direct: ``z = X theta ~ N(0, X X^T)`` by tensor Gauss-Hermite in rank(X) <= 3 dimensions
  (K vs 2K nodes per dimension), scrambled Sobol QMC otherwise (an estimate);
* Hubbard-Stratonovich, orthonormal inputs and odd ht (docs/claims.md#lemma-55): the value is the same for
  every sigma and ``log_mgf(beta) = log E_zeta[m(beta alpha zeta / n)^n]``, ``m(t) = E e^{t ht(Z)}``;
* sign limit ``ht = sign``: a finite sum over the number k of negative signs.

All sums run in log space (``exp(beta^2 S^2/2)`` overflows at large M).  The name ``log_mgf``
keeps ``Lambda`` free for lambda_min(H(p0)) (docs/architecture.md#house-style).

The bounds: printed ``2 G alpha sqrt(M/n)`` (valid for M <= M_c = 1.3454, not only M <= 1/2), and
the corrected all-M bound ``alpha G min{psi(M)/sqrt(n), sqrt(2M)}``,
``psi(M) = inf_{0<t<1} (M - log(1 - t^2)/2)/t`` (docs/claims.md#lemma-55, reconstructed Meir-Zhang proof).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Optional, Tuple

import numpy as np
from numpy.polynomial.legendre import leggauss
from scipy.optimize import brentq
from scipy.special import gammaln

from ._validation import guard_numerics, check_int, check_matrix, check_positive, check_rng, check_vector
from .activations import Activation, get_activation
from .bounds import lemma_5_5_rhs
from .errors import ConvergenceError, DomainError
from .quadrature import MAX_TENSOR_RANK, qmc_rule, theta_rule

__all__ = [
    "SupResult", "RademacherResult", "log_mgf", "kl_ball_sup", "rademacher",
    "rademacher_orthonormal_odd", "rademacher_orthonormal_sign_limit", "sign_vectors",
    "psi", "critical_M", "stated_bound", "corrected_bound", "printed_bound_crossing", "PrimalWitness",
    "primal_witness_orthonormal_odd",
    "QUAD_RTOL", "MAX_ENUMERATE_N", "DEFAULT_K",
]

#: A refinement difference (K vs 2K) above this fraction of the value means the rule does not
#: resolve the tilt; such a result is flagged ``converged=False`` and claims turn INCONCLUSIVE.
QUAD_RTOL = 1e-5
#: Absolute floor of the refinement tolerance: values near 0 (S ~ 0) are rounding-limited.
QUAD_ATOL = 1e-12
#: Largest n for which all 2^(n-1) sign vectors (up to sigma -> -sigma) are enumerated.
MAX_ENUMERATE_N = 12
#: Coarse nodes per dimension of the tensor Gauss-Hermite rule by rank (the fine rule doubles it);
#: chosen from the refinement study in the tests (tanh, M <= 30) so that ci cases stay < 1 s.
DEFAULT_K = {0: 1, 1: 64, 2: 32, 3: 16}
#: Root finder: stop when |log KL - log M| or the bracket width in log(beta) is below these; KL is
#: a difference of two terms of its own size, so log KL carries ~1e-15 of rounding; the sup then
#: moves by dKL / beta* (envelope theorem), far below any quadrature error.
_ROOT_FTOL = 1e-13
_ROOT_XTOL = 1e-14
_ROOT_MAXITER = 200
#: Columns with E_{p0} S^2 below this are S = 0 p0-a.s.: the sup is exactly 0 (docs/claims.md#lemma-55).
_ZERO_S2 = 1e-300


@dataclass(frozen=True)
class SupResult:
    """``sup_{KL(p||p0) <= M} E_p[u S_sigma(theta)]`` for one sign vector (docs/claims.md#lemma-55).

    value : the sup; beta : beta* (0 when S = 0); kl : KL(p_beta*||p0) (= M up to the root
    tolerance); quad_error : |value(2K) - value(K)|; converged : quad_error <= quad_tol;
    quad_tol : the tolerance used (QUAD_RTOL * value + QUAD_ATOL unless given).
    """

    value: float
    beta: float
    kl: float
    quad_error: float
    converged: bool = True
    quad_tol: float = 0.0


@dataclass(frozen=True)
class RademacherResult:
    """``R_hat_S(F_KL(M))`` (docs/claims.md#lemma-55).

    value : the complexity; stderr : Monte-Carlo standard error over sigma (0 when enumerated or
    reduced exactly); quad_error : refinement error (mean over sigma of |v(2K) - v(K)|, which bounds
    the difference of the means); n_sigma : sign vectors used; method : ``"enumerate-gh"``,
    ``"enumerate-qmc"``, ``"mc-gh"``, ``"mc-qmc"``, ``"hs-1d"`` or ``"sign-limit"``;
    converged / quad_tol : the validity flag and its tolerance; K : coarse nodes per dimension.
    """

    value: float
    stderr: float
    quad_error: float
    n_sigma: int
    method: str
    converged: bool = True
    quad_tol: float = 0.0
    K: int = 0

    @property
    def exact_tier(self) -> bool:
        """True when no Monte Carlo (over sigma or QMC over theta) entered the value."""
        return self.stderr == 0.0 and "qmc" not in self.method

    def interval(self, z: float = 5.0) -> Tuple[float, float]:
        """``value -/+ (z stderr + quad_error)``: a confidence interval for the Monte-Carlo route
        (z = 5: two-sided false-alarm rate ~6e-7 under the normal approximation), the refinement
        band for the exact ones."""
        half = check_positive("z", z) * self.stderr + self.quad_error
        return self.value - half, self.value + half


# --------------------------------------------------------------------------------------------
# tilt families: beta (J,) -> (log_mgf, log_mgf', log_mgf''), vectorised over J columns
# --------------------------------------------------------------------------------------------

def _lse(a: np.ndarray, axis: int) -> Tuple[np.ndarray, np.ndarray]:
    """``logsumexp(a)`` along ``axis`` and the normalised weights softmax(a) (overflow-free)."""
    amax = a.max(axis=axis, keepdims=True)
    e = np.exp(a - amax)
    tot = e.sum(axis=axis, keepdims=True)
    return np.squeeze(amax + np.log(tot), axis=axis), e / tot


class _DiscreteTilt:
    """theta on nodes with log-weights ``lw`` (N,) and values ``S2`` = S^2 (N, J).

    log_mgf' = beta E_pi S^2 and log_mgf'' = E_pi S^2 + beta^2 Var_pi S^2 under the tilt pi_beta.
    """

    def __init__(self, lw: np.ndarray, S2: np.ndarray):
        self.lw, self.S2 = lw, S2
        self.m2 = np.exp(lw) @ S2
        self.s2max = S2.max(axis=0)

    def __call__(self, beta: np.ndarray):
        lm, p = _lse(self.lw[:, None] + 0.5 * beta ** 2 * self.S2, axis=0)
        t = p * self.S2
        es2 = t.sum(axis=0)
        es4 = (t * self.S2).sum(axis=0)
        return lm, beta * es2, es2 + beta ** 2 * np.maximum(es4 - es2 ** 2, 0.0)

    def restrict(self, cols: np.ndarray) -> "_DiscreteTilt":
        return _DiscreteTilt(self.lw, self.S2[:, cols])


class _HSTilt:
    """Hubbard-Stratonovich tilt for orthonormal inputs and odd ht (docs/claims.md#lemma-55).

    log_mgf(beta) = log E_zeta exp F(zeta), F = n log m(b zeta), b = beta alpha / n, with
    m(t) = E cosh(t h(Z)) (h odd), m'/m = E_q[h tanh(t h)] =: r and (m'/m)' = E_q h^2 - r^2 under
    q ∝ cosh(t h) dZ.  dF/dbeta = alpha zeta r and d2F/dbeta2 = (alpha zeta)^2 r' / n.
    F is even in zeta, so zeta runs over [0, zeta_max] with weight 2 phi.  Since r <= G1, the
    log-integrand -zeta^2/2 + F has slope <= beta alpha G1 - zeta: its mass sits below
    beta alpha G1 + O(1), hence zeta_max = beta alpha G1 + pad (pad = 10 leaves < e^{-50}).
    """

    #: The quadrature rule is not an exact Gaussian MGF: the bracket is checked numerically.
    proven_bracket = False

    def __init__(self, n: int, alpha: float, G1: float, zrule, h_of, order: int, pad: float):
        self.n, self.alpha, self.G1, self.order, self.pad = n, alpha, G1, order, pad
        self.h, self.lwz = h_of(zrule[0]), zrule[1]
        self.m2 = np.array([alpha ** 2 * float(np.exp(self.lwz) @ self.h ** 2) / n])  # alpha^2 E h^2 / n
        self.s2max = np.array([alpha ** 2 * float(np.max(self.h ** 2))])

    def _log_m(self, t: np.ndarray):
        th = t[..., None] * self.h
        ath = np.abs(th)
        logcosh = ath + np.log1p(np.exp(-2.0 * ath)) - math.log(2.0)
        logm, q = _lse(self.lwz + logcosh, axis=-1)
        r = (q * (self.h * np.tanh(th))).sum(axis=-1)
        return logm, r, (q * self.h ** 2).sum(axis=-1) - r ** 2

    def _one(self, beta: float):
        x, lwx = _panel_rule(np.arange(0.0, beta * self.alpha * self.G1 + self.pad + 1.0), self.order)
        t = beta * self.alpha / self.n * x
        parts = [self._log_m(t[i:i + 1024]) for i in range(0, len(t), 1024)]  # bounded temporaries
        logm, r, dr = (np.concatenate(p) for p in zip(*parts))
        lm, w = _lse(lwx + self.n * logm, axis=-1)
        g1 = self.alpha * x * r
        d1 = (w * g1).sum()
        d2 = (w * ((self.alpha * x) ** 2 * dr / self.n + g1 ** 2)).sum() - d1 ** 2
        return lm, d1, d2

    def __call__(self, beta: np.ndarray):
        return tuple(np.array(v) for v in zip(*(self._one(float(b)) for b in beta)))


# --------------------------------------------------------------------------------------------
# the root finder for KL(p_beta) = M
# --------------------------------------------------------------------------------------------

def _f(tilt, u, M):
    """f(u) = log KL(e^u) - log M with KL = beta log_mgf' - log_mgf, and what Newton needs."""
    b = np.exp(u)
    lm, d1, d2 = tilt(b)
    kl = b * d1 - lm
    return np.log(np.maximum(kl, 1e-300)) - math.log(M), b * b * d2 / np.maximum(kl, 1e-300), d1, kl


def _solve_beta(tilt, M: float, beta0: Optional[np.ndarray] = None):
    """sup = log_mgf'(beta*), beta*, KL(beta*) per column: safeguarded Newton in u = log beta.

    Bracket [ua, ub]: KL(b) <= b^2 E_pi S^2 <= b^2 max S^2 gives KL <= M at b = sqrt(M/max S^2);
    log_mgf(b) = int_0^b s E_{pi_s} S^2 ds <= b^2 E_{pi_b} S^2 / 2 (E_{pi_s} S^2 grows with s) gives
    KL(b) >= b^2 E_{p0} S^2 / 2 >= M at b = sqrt(2M / E_{p0} S^2).  log KL is nearly linear in
    log beta (KL ~ beta^2 at both ends), so Newton needs a handful of steps; a step leaving the
    bracket is replaced by bisection.
    """
    m2, s2max = tilt.m2, tilt.s2max
    live = m2 > _ZERO_S2
    value, beta, kl = np.zeros_like(m2), np.zeros_like(m2), np.zeros_like(m2)
    if not live.any():
        return value, beta, kl
    sub = tilt if live.all() else tilt.restrict(live)
    ua = 0.5 * np.log(M / s2max[live]) - 1e-12
    ub = 0.5 * np.log(2.0 * M / m2[live]) + 1e-12
    if not getattr(sub, "proven_bracket", True):
        # start from the large-M estimate beta ~ sqrt(2M / max S^2) and widen upwards: the proven
        # ub can be far larger, and an HS evaluation costs in proportion to beta
        ua, ub = _widen(sub, ua, np.minimum(ub, ua + 0.5 * math.log(2.0) + 1e-12), M)
    u = ub.copy() if beta0 is None else np.clip(np.log(np.maximum(beta0[live], 1e-300)), ua, ub)
    f_prev = np.full_like(u, np.inf)
    for _ in range(_ROOT_MAXITER):
        f, fp, d1, k = _f(sub, u, M)
        done = (np.abs(f) <= _ROOT_FTOL) | (ub - ua <= _ROOT_XTOL)
        if done.all():
            if np.any(np.abs(f) > 1e-8):   # a collapsed bracket without a root: never a silent answer
                raise ConvergenceError(f"KL(beta) = M = {M!r}: bracket collapsed at |log KL - log M| = "
                                       f"{np.abs(f).max():.3g}")
            value[live], beta[live], kl[live] = d1, np.exp(u), k
            return value, beta, kl
        ua = np.where(f < 0, u, ua)
        ub = np.where(f > 0, u, ub)
        un = u - f / np.where(fp > 0, fp, np.nan)
        # Newton may ping-pong across a steep step of log KL (the tilt jumping to a far maximum
        # of S^2): after a Newton step that failed to halve |f|, bisect once (so the bracket at
        # least halves every other step), then try Newton again.
        ok = np.isfinite(un) & (un > ua) & (un < ub) & (np.abs(f) <= 0.5 * f_prev)
        u = np.where(done, u, np.where(ok, un, 0.5 * (ua + ub)))
        f_prev = np.where(ok, np.abs(f), np.inf)
    raise ConvergenceError(f"KL(beta) = M = {M!r} did not converge in {_ROOT_MAXITER} Newton steps")


def _widen(tilt, ua, ub, M):
    """Widen [ua, ub] (log beta) until f(ua) <= 0 <= f(ub), for tilts whose bracket is not proven."""
    fa, fb = _f(tilt, ua, M)[0], _f(tilt, ub, M)[0]
    for _ in range(_ROOT_MAXITER):
        if np.all(fa <= 0.0) and np.all(fb >= 0.0):
            return ua, ub
        if np.any(fa > 0.0):
            ua = np.where(fa > 0.0, ua - 1.0, ua)
            fa = _f(tilt, ua, M)[0]
        if np.any(fb < 0.0):
            ub = np.where(fb < 0.0, ub + 1.0, ub)
            fb = _f(tilt, ub, M)[0]
    raise ConvergenceError(f"could not bracket KL(beta) = M = {M!r}")


# --------------------------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------------------------

def _check_act(act) -> Activation:
    act = get_activation(act)
    if not math.isfinite(act.G1):
        raise DomainError(f"act must be bounded (Lemma 5.5 needs |h| <= G), got {act.name!r} with G1 = {act.G1}")
    return act


def _check_sigma(sigma, n: int) -> np.ndarray:
    sigma = check_vector("sigma", sigma, length=n)
    if not np.all(np.abs(sigma) == 1.0):
        raise DomainError(f"sigma must have entries +1 or -1, got {sigma}")
    return sigma


def _check_common(act, alpha, M):
    return _check_act(act), check_positive("alpha", alpha), check_positive("M", M)


def _tol(value, quad_rtol):
    return quad_rtol * np.abs(value) + QUAD_ATOL


def sign_vectors(n: int, *, half: bool = True) -> np.ndarray:
    """All sign vectors in {-1, +1}^n, shape (2^n, n); with ``half`` only those with sigma_1 = +1.

    The sup for sigma equals that for -sigma (S -> -S leaves S^2 and hence everything unchanged),
    so averaging over the half set gives the full average at half the cost.
    """
    n = check_int("n", n, minimum=1, maximum=20)
    rows = itertools.product((1.0, -1.0), repeat=n - 1 if half else n)
    k = n - 1 if half else n
    body = np.array(list(rows), dtype=np.float64).reshape(2 ** k, k)  # n = 1, half: one empty row
    return np.hstack([np.ones((body.shape[0], 1)), body]) if half else body


# --------------------------------------------------------------------------------------------
# direct route: z = X theta by Gauss-Hermite (rank <= 3) or QMC, refined K -> 2K -> 4K ...
# --------------------------------------------------------------------------------------------

#: Largest coarse K per dimension that escalation may reach: the fine rules then have 256 nodes
#: (numpy's hermegauss overflows beyond ~330 nodes), 128^2 and 64^3 nodes (cost).
_K_CAP = {0: 1, 1: 128, 2: 64, 3: 32}
#: QMC points of the coarse rule when rank(X) > 3 (the fine rule doubles them, fresh scrambling).
_QMC_POINTS = 2 ** 13
#: Largest K per dimension of a Gauss-Hermite rule: numpy's hermegauss overflows beyond ~330
#: nodes, and the fine rule has 2K.
_GH_MAX_K = 150
#: Entries of one (nodes x sign vectors) block: bounds each temporary to ~32 MB.
_BLOCK = 4_000_000


def _rank(X: np.ndarray) -> int:
    try:
        return theta_rule(X, 1).rank
    except DomainError:
        return MAX_TENSOR_RANK + 1


def _fold_odd(g: np.ndarray, z: np.ndarray, w: np.ndarray):
    """Keep one node of each pair (g, -g) with twice the weight: for odd ht, S^2(-z) = S^2(z).

    The tensor Gauss-Hermite grid is symmetric node by node (numpy symmetrises the 1-D rule), so
    the folded rule gives exactly the same sums at half the cost.
    """
    if g.shape[1] == 0:
        return z, w
    nz = g != 0.0
    first = g[np.arange(len(g)), np.argmax(nz, axis=1)]
    centre = ~nz.any(axis=1)
    keep = (first > 0.0) | centre
    return z[keep], np.where(centre, w, 2.0 * w)[keep]


def _rule(X: np.ndarray, nodes: int, odd: bool, qmc: bool, seed: int):
    """(z (N, n), log-weights (N,)) of the tensor GH rule with ``nodes`` per dimension, or QMC."""
    if qmc:
        rule = qmc_rule(X @ X.T, n_points=nodes, seed=seed)
        z, w = rule.z, rule.weights
    else:
        rule = theta_rule(X, nodes)
        z, w = (_fold_odd(rule.g, rule.z, rule.weights) if odd else (rule.z, rule.weights))
    keep = w > 0.0                     # products of tail weights underflow to 0: they carry no mass
    return z[keep], np.log(w[keep])


def _sups_on_rule(X, sigmas, act, alpha, M, nodes, qmc, seed, beta0=None):
    """sup, beta*, KL per sign vector (rows of ``sigmas``, shape (J, n)) on one rule."""
    z, lw = _rule(X, nodes, act.odd, qmc, seed)
    H = act.h(z) * (alpha / X.shape[0])
    out = [np.empty(len(sigmas)) for _ in range(3)]
    step = max(1, _BLOCK // len(lw))
    for j0 in range(0, len(sigmas), step):
        S = H @ sigmas[j0:j0 + step].T
        b0 = None if beta0 is None else beta0[j0:j0 + step]
        for o, v in zip(out, _solve_beta(_DiscreteTilt(lw, S * S), M, b0)):
            o[j0:j0 + step] = v
    return out


@dataclass(frozen=True)
class _Refined:
    value: np.ndarray
    beta: np.ndarray
    kl: np.ndarray
    error: np.ndarray
    K: int
    exact: bool


def _refined_sups(X, sigmas, act, alpha, M, K, quad_rtol, seed) -> _Refined:
    """Values on the 2K rule with |v(2K) - v(K)|; columns failing the tolerance are re-solved with
    the rule doubled again (K -> 2K -> 4K ...) up to the cap: strong tilts (large M, narrow interior
    maxima of S^2) need more nodes than the bulk of sign vectors (docs/generation.md, validity of quadrature).
    """
    r = _rank(X)
    qmc = r > MAX_TENSOR_RANK
    if K is None:
        K = _QMC_POINTS if qmc else DEFAULT_K[r]
    cap = K if qmc else max(K, _K_CAP[r])
    vc, bc, _ = _sups_on_rule(X, sigmas, act, alpha, M, K, qmc, seed)
    v, b, k = _sups_on_rule(X, sigmas, act, alpha, M, 2 * K, qmc, seed + 1, beta0=bc)
    err = np.abs(v - vc)
    while 2 * K <= cap:
        bad = err > _tol(v, quad_rtol)
        if not bad.any():
            break
        K *= 2
        v2, b2, k2 = _sups_on_rule(X, sigmas[bad], act, alpha, M, 2 * K, qmc, seed, beta0=b[bad])
        err[bad] = np.abs(v2 - v[bad])
        v[bad], b[bad], k[bad] = v2, b2, k2
    return _Refined(v, b, k, err, K, not qmc)


def _check_K(K, X):
    if K is None:
        return None
    return check_int("K", K, minimum=1, maximum=_QMC_POINTS * 16 if _rank(X) > MAX_TENSOR_RANK else _GH_MAX_K)


@guard_numerics
def log_mgf(X, sigma, act, alpha, beta, *, K: Optional[int] = None) -> float:
    """``log_mgf(beta) = log E_theta exp(beta^2 S_sigma(theta)^2 / 2)`` (docs/claims.md#lemma-55) on one rule.

    X : (n, d) inputs; sigma : (n,) signs; ``S = (alpha/n) sum_i sigma_i ht(theta . x_i)``.
    K : nodes per dimension (default twice DEFAULT_K for the rank, i.e. the fine rule).
    """
    X = check_matrix("X", X)
    sigma = _check_sigma(sigma, X.shape[0])
    act, alpha, _ = _check_common(act, alpha, 1.0)
    beta = check_positive("beta", beta)
    r = _rank(X)
    qmc = r > MAX_TENSOR_RANK
    K = _check_K(K, X) or (2 * _QMC_POINTS if qmc else 2 * DEFAULT_K[r])
    z, lw = _rule(X, K, False, qmc, 0)
    S = (act.h(z) @ sigma) * (alpha / X.shape[0])
    lm, _, _ = _DiscreteTilt(lw, (S * S)[:, None])(np.array([beta]))
    return float(lm[0])


@guard_numerics
def kl_ball_sup(X, sigma, act, alpha, M, *, K: Optional[int] = None, quad_rtol: float = QUAD_RTOL,
                seed: int = 0) -> SupResult:
    """``sup_{KL(p||p0) <= M} (1/n) sum_i sigma_i f(p, x_i)`` by DV duality (docs/claims.md#lemma-55).

    X : (n, d); sigma : (n,) in {-1, +1}.  The theta-expectation uses the rank(X) <= 3 tensor
    Gauss-Hermite rule with K and 2K nodes per dimension, doubled further while the difference
    exceeds ``quad_rtol * value`` (QMC with K and 2K points, seeds ``seed``, ``seed+1``, beyond
    rank 3).  Returns the finest value and its refinement difference.
    """
    X = check_matrix("X", X)
    sigma = _check_sigma(sigma, X.shape[0])
    act, alpha, M = _check_common(act, alpha, M)
    quad_rtol = check_positive("quad_rtol", quad_rtol)
    ref = _refined_sups(X, sigma[None, :], act, alpha, M, _check_K(K, X), quad_rtol, seed)
    err, tol = float(ref.error[0]), float(_tol(ref.value[0], quad_rtol))
    return SupResult(value=float(ref.value[0]), beta=float(ref.beta[0]), kl=float(ref.kl[0]),
                     quad_error=err, converged=err <= tol, quad_tol=tol)


def rademacher(X, act, alpha, M, *, method: str = "auto", K: Optional[int] = None, n_sigma: int = 1024,
               rng=None, quad_rtol: float = QUAD_RTOL, seed: int = 0) -> RademacherResult:
    """``R_hat_S(F_KL(M)) = E_sigma sup_{KL <= M} (1/n) sum_i sigma_i f(p, x_i)`` (docs/claims.md#lemma-55).

    method : ``"enumerate"`` (all 2^n sign vectors, computed as the 2^(n-1) with sigma_1 = +1
    since sigma and -sigma give the same sup; n <= MAX_ENUMERATE_N), ``"mc"`` (``n_sigma`` uniform
    sign vectors drawn from ``rng``; the value carries a standard error), or ``"auto"`` (enumerate
    when n <= MAX_ENUMERATE_N).  X : (n, d).  Quadrature and refinement as in :func:`kl_ball_sup`;
    ``quad_error`` is the mean over sigma of the per-sigma refinement differences.
    """
    X = check_matrix("X", X)
    act, alpha, M = _check_common(act, alpha, M)
    quad_rtol = check_positive("quad_rtol", quad_rtol)
    n = X.shape[0]
    if method not in ("auto", "enumerate", "mc"):
        raise DomainError(f"method must be 'auto', 'enumerate' or 'mc', got {method!r}")
    if method == "enumerate" and n > MAX_ENUMERATE_N:
        raise DomainError(f"n must be <= {MAX_ENUMERATE_N} to enumerate 2^n sign vectors, got n = {n}")
    mc = method == "mc" or (method == "auto" and n > MAX_ENUMERATE_N)
    if mc:
        gen = check_rng("rng", rng)
        n_sigma = check_int("n_sigma", n_sigma, minimum=2)
        sigmas = gen.choice(np.array([-1.0, 1.0]), size=(n_sigma, n))
    else:
        sigmas = sign_vectors(n, half=True)
    # The sup is linear in alpha (f = alpha E_p[u h]): it is computed at alpha = 1 and scaled, so
    # no Newton step sees alpha (issue 13: alpha = 1e200 overflowed inside the tilt).
    ref = _refined_sups(X, sigmas, act, 1.0, M, _check_K(K, X), quad_rtol, seed)
    value, err = alpha * float(ref.value.mean()), alpha * float(ref.error.mean())
    stderr = alpha * float(ref.value.std(ddof=1) / math.sqrt(len(sigmas))) if mc else 0.0
    if not (math.isfinite(value) and math.isfinite(err)):
        raise DomainError(f"alpha = {alpha!r} times the complexity at alpha = 1 ({ref.value.mean():.3g}) overflows float64")
    tol = float(_tol(value, quad_rtol))
    name = ("mc" if mc else "enumerate") + ("-gh" if ref.exact else "-qmc")
    return RademacherResult(value=value, stderr=stderr, quad_error=err, n_sigma=len(sigmas) * (1 if mc else 2),
                            method=name, converged=err <= tol, quad_tol=tol, K=ref.K)


# --------------------------------------------------------------------------------------------
# orthonormal inputs: Hubbard-Stratonovich 1-D reduction (odd ht) and the sign limit
# --------------------------------------------------------------------------------------------

#: Gauss-Legendre points per panel of the zeta- and Z-rules (coarse; the fine rule doubles them).
_HS_ORDER = 6
#: zeta-range beyond beta alpha G1 (coarse; fine + 4): the zeta-tilt decays at least like a unit
#: Gaussian past that point, so 10 leaves e^{-50}.
_HS_PAD = 10.0


def _panel_rule(pts: np.ndarray, order: int):
    """Composite Gauss-Legendre on the panels between ``pts``, weighted by 2 phi (half line).

    Returns nodes and *log*-weights: at large M the zeta-tilt sits where phi underflows.
    """
    x, w = leggauss(order)
    a, b = pts[:-1, None], pts[1:, None]
    z = 0.5 * (a + b) + 0.5 * (b - a) * x
    lw = np.log(0.5 * (b - a) * w) + math.log(2.0 / math.sqrt(2.0 * math.pi)) - 0.5 * z * z
    return z.ravel(), lw.ravel()


def _half_line_rule(scale: float, order: int, zmax: float):
    """Nodes and weights of E g(|Z|) = int_0^inf 2 phi(z) g(z) dz by composite Gauss-Legendre.

    Panels refine geometrically towards 0 at the activation's scale s (ht(z/s) switches over
    |z| ~ s; Gauss-Hermite converges only like exp(-c s sqrt K) there, poles at i pi s / 2) and are
    0.5 wide beyond, where phi varies on scale 1.
    """
    geo = scale * 2.0 ** np.arange(-6, 40)
    pts = np.unique(np.concatenate([[0.0], geo[geo < 1.0], np.arange(0.5, zmax + 0.25, 0.5)]))
    return _panel_rule(pts, order)


def _hs_value(n, act, alpha, M, order, zmax, pad):
    tilt = _HSTilt(n, alpha, act.G1, _half_line_rule(act.s, order, zmax), act.h, order, pad)
    v, b, k = _solve_beta(tilt, M)
    return float(v[0]), float(b[0]), float(k[0])


#: Largest M of :func:`rademacher_orthonormal_odd` (measured: 1.3 s at 1e6, over two minutes at 1e9).
HS_MAX_M = 1e6


def _check_hs(n, act, alpha, M):
    """The arguments of the Hubbard-Stratonovich routes: n >= 1, an odd activation, M <= :data:`HS_MAX_M`."""
    n = check_int("n", n, minimum=1)
    act, alpha, M = _check_common(act, alpha, M)
    if M > HS_MAX_M:
        raise DomainError(f"M = {M!r} is beyond the Hubbard-Stratonovich route (M <= {HS_MAX_M:g}: its zeta-grid grows "
                          "like sqrt(M), 1.3 s at M = 1e6 and minutes at 1e9); rademacher() computes any M")
    if not act.odd:
        raise DomainError(f"act must be odd for the Hubbard-Stratonovich reduction, got {act.name!r}")
    return n, act, alpha, M


@guard_numerics
def rademacher_orthonormal_odd(n: int, act, alpha, M, *, order: Optional[int] = None,
                               quad_rtol: float = QUAD_RTOL) -> RademacherResult:
    """``R_hat_S`` for orthonormal inputs x_i = e_i (d >= n) and odd ht, by Hubbard-Stratonovich.

    The z_i are iid N(0, 1) and sigma_i ht(z_i) ~ ht(z_i), so every sigma gives the same sup and
    R_hat_S equals it (docs/claims.md#lemma-55): ``log_mgf(beta) = log E_zeta[m(beta alpha zeta / n)^n]``,
    ``m(t) = E e^{t ht(Z)} = E cosh(t ht(Z))``.  zeta and Z by composite Gauss-Legendre (``order``
    points per panel; Z-panels adapted to the scale of ht); the fine rule doubles the order and
    widens both ranges, so the difference also measures truncation; refined once more if needed.
    """
    n, act, alpha, M = _check_hs(n, act, alpha, M)
    quad_rtol = check_positive("quad_rtol", quad_rtol)
    order = _HS_ORDER if order is None else check_int("order", order, minimum=2, maximum=64)
    # Z-range: phi(12) ~ e^{-72}; a wide ht(z/s) saturates only at z ~ s log t / 2, so the range
    # grows with s.  The fine rule widens it by 4, so the refinement difference also sees truncation.
    zmax, pad = max(12.0, 6.0 * act.s), _HS_PAD
    coarse = _hs_value(n, act, alpha, M, order, zmax, pad)
    fine = _hs_value(n, act, alpha, M, 2 * order, zmax + 4.0, pad + 4.0)
    err = abs(fine[0] - coarse[0])
    if err > _tol(fine[0], quad_rtol):
        order, zmax, pad = 2 * order, zmax + 4.0, pad + 4.0
        finer = _hs_value(n, act, alpha, M, 2 * order, zmax + 4.0, pad + 4.0)
        err, fine = abs(finer[0] - fine[0]), finer
    tol = float(_tol(fine[0], quad_rtol))
    return RademacherResult(value=fine[0], stderr=0.0, quad_error=err, n_sigma=2 ** min(n, 60),
                            method="hs-1d", converged=err <= tol, quad_tol=tol, K=order)


@dataclass(frozen=True)
class PrimalWitness:
    """A feasible point of the KL ball for orthonormal inputs and odd ht: the tilt p_beta of p0 (docs/claims.md#lemma-55).

    ``p_beta ∝ p0 e^{beta u S}``, S = (alpha/n) sum_i sigma_i ht(z_i) (every sigma gives the same numbers),
    with ``KL(p_beta || p0) = beta log_mgf'(beta) - log_mgf(beta)`` and value ``E_{p_beta}[u S] =
    log_mgf'(beta)``, each on the coarse and the fine Hubbard-Stratonovich rule.  ``kl_upper`` = fine KL plus
    the refinement difference (<= M: feasible), ``value_lower`` = fine value minus its refinement difference:
    a lower bound of ``sup_{KL <= M} E_p[u S]`` and hence of R_hat_S.  ``dual_upper`` is the DV value at
    beta*, ``(M + log_mgf(beta*))/beta*``, an upper bound (weak duality) for comparison.
    """

    beta: float
    beta_star: float
    kl: float
    kl_upper: float
    value: float
    value_lower: float
    dual_upper: float
    feasible: bool


def primal_witness_orthonormal_odd(n: int, act, alpha, M, *, order: Optional[int] = None) -> PrimalWitness:
    """The tilt just inside the ball ``KL <= M`` as an explicit primal witness (see :class:`PrimalWitness`).

    beta is beta* (solved on the fine rule) times ``1 - eta``, eta = 1e-6, 1e-5, ... until the fine KL plus
    its refinement difference is <= M; rules as in :func:`rademacher_orthonormal_odd`.
    """
    n, act, alpha, M = _check_hs(n, act, alpha, M)
    order = _HS_ORDER if order is None else check_int("order", order, minimum=2, maximum=64)
    zmax, pad = max(12.0, 6.0 * act.s), _HS_PAD
    coarse = _HSTilt(n, alpha, act.G1, _half_line_rule(act.s, order, zmax), act.h, order, pad)
    fine = _HSTilt(n, alpha, act.G1, _half_line_rule(act.s, 2 * order, zmax + 4.0), act.h, 2 * order, pad + 4.0)
    _, b_star, _ = _solve_beta(fine, M)
    b_star = float(b_star[0])
    lm_star = float(fine(np.array([b_star]))[0][0])
    for eta in 10.0 ** np.arange(-6.0, -1.0):
        b = b_star * (1.0 - eta)
        (lm_f,), (d_f,), _ = fine(np.array([b]))
        (lm_c,), (d_c,), _ = coarse(np.array([b]))
        kl_f, kl_c = b * d_f - lm_f, b * d_c - lm_c
        kl_up = kl_f + abs(kl_f - kl_c)
        if kl_up <= M:
            break
    return PrimalWitness(beta=float(b), beta_star=b_star, kl=float(kl_f), kl_upper=float(kl_up), value=float(d_f),
                         value_lower=float(d_f - abs(d_f - d_c)), dual_upper=(M + lm_star) / b_star,
                         feasible=bool(kl_up <= M))


@guard_numerics
def rademacher_orthonormal_sign_limit(n: int, alpha, M) -> RademacherResult:
    """``R_hat_S`` for orthonormal inputs in the sign limit ht = sign (tanh(z/s), s -> 0).

    S = (alpha/n)(n - 2k) where k ~ Binomial(n, 1/2) counts negative sign(z_i) sigma_i, so
    ``log_mgf(beta) = log 2^{-n} sum_k C(n,k) exp(beta^2 alpha^2 (n-2k)^2 / (2 n^2))`` (docs/claims.md#lemma-55):
    a finite sum, no quadrature (quad_error 0); beta* by the same root finder.
    """
    n = check_int("n", n, minimum=1, maximum=10 ** 6)
    alpha, M = check_positive("alpha", alpha), check_positive("M", M)
    k = np.arange(n + 1, dtype=np.float64)
    lw = gammaln(n + 1.0) - gammaln(k + 1.0) - gammaln(n - k + 1.0) - n * math.log(2.0)
    S2 = (alpha * (n - 2.0 * k) / n) ** 2
    v, _, _ = _solve_beta(_DiscreteTilt(lw, S2[:, None]), M)
    return RademacherResult(value=float(v[0]), stderr=0.0, quad_error=0.0, n_sigma=2 ** min(n, 60),
                            method="sign-limit", converged=True, quad_tol=0.0, K=0)


# --------------------------------------------------------------------------------------------
# psi(M) and the bounds
# --------------------------------------------------------------------------------------------

@guard_numerics
def psi(M) -> float:
    """``psi(M) = inf_{0<t<1} (M - log(1 - t^2)/2) / t`` (docs/claims.md#lemma-55, reconstructed proof).

    Stationarity gives ``t^2/(1-t^2) = M - log(1-t^2)/2``; with v = 1 - t^2 this is
    ``g(v) = (1-v)/v + log(v)/2 - M = 0``, g decreasing on (0, 1) with g(1) = -M < 0 and
    g(1/(2M+2)) = M + 1 - log(2M+2)/2 > 0, so brentq on that bracket (in log v) is safe.
    """
    M = check_positive("M", M)
    g = lambda lv: math.expm1(-lv) + 0.5 * lv - M  # noqa: E731  (1-v)/v = e^{-log v} - 1
    lv = brentq(g, math.log(1.0 / (2.0 * M + 2.0)), 0.0, xtol=1e-15, rtol=1e-15, maxiter=200)
    return (M - 0.5 * lv) / math.sqrt(-math.expm1(lv))


@lru_cache(maxsize=1)
def critical_M() -> float:
    """M_c with psi(M_c) = 2 sqrt(M_c) (= 1.3454118): the printed Lemma 5.5 holds for M <= M_c.

    psi(M) < 2 sqrt(M) on (0, M_c) (psi ~ sqrt(2M) at small M) and > beyond, so the root on
    [0.5, 3] is unique.
    """
    return brentq(lambda m: psi(m) - 2.0 * math.sqrt(m), 0.5, 3.0, xtol=1e-14, rtol=1e-15)


def _bound_args(n, G, alpha, M):
    return (check_int("n", n, minimum=1), check_positive("G", G), check_positive("alpha", alpha),
            check_positive("M", M))


def stated_bound(n: int, G, alpha, M) -> float:
    """Lemma 5.5 as printed: ``2 G alpha sqrt(M / n)`` (premise M <= 1/2; valid for M <= M_c)."""
    n, G, alpha, M = _bound_args(n, G, alpha, M)
    return lemma_5_5_rhs(G, alpha, M, n)


@guard_numerics
def corrected_bound(n: int, G, alpha, M) -> float:
    """The all-M bound ``alpha G min{psi(M)/sqrt(n), sqrt(2M)}`` (docs/claims.md#lemma-55).

    The psi branch is the Meir-Zhang chain without the paper's ``-log(1-t^2)/2 <= t^2`` step; the
    sqrt(2M) branch is DV with ``log_mgf(beta) <= beta^2 max S^2 / 2 <= beta^2 alpha^2 G^2 / 2``:
    ``inf_beta (M + beta^2 alpha^2 G^2 / 2) / beta = sqrt(2M) alpha G`` for every sigma.
    """
    n, G, alpha, M = _bound_args(n, G, alpha, M)
    return alpha * G * min(psi(M) / math.sqrt(n), math.sqrt(2.0 * M))


def printed_bound_crossing(n: int, act=None, *, M_max: float = 1e3, n_grid: int = 25) -> float:
    """M* where ``rho(M) = R_hat_S / (2 G1 alpha sqrt(M/n))`` first reaches 1, orthonormal inputs.

    ``act=None`` is the sign limit (G1 = 1); otherwise an odd activation (HS route).  rho does not
    depend on alpha (the value scales with alpha).  rho <= 1 on (0, M_c] (the corrected bound), so
    the search scans a log grid of ``n_grid`` points in [M_c, M_max] and refines the first sign
    change with brentq (a crossing between two grid points that is undone before the next one
    would be missed; rho has been monotone there in every family tried);
    returns ``inf`` when rho stays below 1 up to ``M_max`` (always for n <= 2, docs/claims.md#lemma-55).
    """
    n = check_int("n", n, minimum=1)
    M_max = check_positive("M_max", M_max)
    if act is None:
        value, G1 = (lambda M: rademacher_orthonormal_sign_limit(n, 1.0, M).value), 1.0
    else:
        act = _check_act(act)
        value, G1 = (lambda M: rademacher_orthonormal_odd(n, act, 1.0, M).value), act.G1
    rho1 = lambda logM: value(math.exp(logM)) / stated_bound(n, G1, 1.0, math.exp(logM)) - 1.0  # noqa: E731
    n_grid = check_int("n_grid", n_grid, minimum=2)
    grid = np.linspace(math.log(critical_M()), math.log(max(M_max, 2.0 * critical_M())), n_grid)
    prev = rho1(grid[0])
    for a, b in zip(grid[:-1], grid[1:]):
        cur = rho1(b)
        if prev <= 0.0 < cur:
            return math.exp(brentq(rho1, a, b, xtol=1e-10))
        prev = cur
    return math.inf
