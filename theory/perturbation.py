"""A certified lower bound on lambda_min(H(p)) over a whole W2 ball around a reference measure.

Lemma 5.1 claims ``lambda_min(H(p)) >= Lambda/2`` whenever ``W2(p, p0) <= R``.  An adversary (a
particular p) can only show the *opposite*; a HOLDS needs a bound valid for every p in the ball.
This module derives one from Assumption 4.2 by a coupling argument and evaluates it with outward
rounding (docs/claims.md#lemma-51).

Derivation (q is the reference measure, p0 by default; ``w = (theta, u)``)
--------------------------------------------------------------------------
Notation: ``z_i = theta . x_i``; for a unit vector v,
``a(theta) = sum_i v_i ht(z_i)``, ``beta(theta) = sum_i v_i ht'(z_i) x_i = X^T diag(ht'(X theta)) v``,
``B = |beta|^2`` and ``k_v(w) = u^2 B(theta) + a(theta)^2``, so that ``v^T H(p) v = E_p k_v``
(H1 gives the first term, H2 the second).  ``Xn = ||X||_2`` (spectral norm), ``s2 = E_q u^2``,
``s4 = E_q u^4`` (1 and 3 for p0), ``mu2 = lambda_max(H2(q))``, ``Lambda_q = lambda_min(H(q))``.

1. Let gamma be any coupling of p and q, ``(w, w') ~ gamma``, ``w ~ p``, ``w' ~ q``, with
   ``E|theta - theta'|^2 = dt^2``, ``E|u - u'|^2 = du^2`` and ``dt^2 + du^2 = delta^2``.  Then
   ``lambda_min(H(p)) = min_v E_p k_v >= min_v E_q k_v - sup_v E_gamma|k_v(w) - k_v(w')|``
   ``= Lambda_q - sup_v E_gamma|k_v(w) - k_v(w')|``.
2. The a^2 term.  By the mean value theorem per input, ``|ht(z_i) - ht(z_i')| <= G2 |x_i . (theta - theta')|``,
   so ``|a - a'| <= |v| |ht(X theta) - ht(X theta')| <= G2 Xn |theta - theta'|``.  With
   ``|a^2 - a'^2| <= 2|a'||a - a'| + |a - a'|^2`` and Cauchy-Schwarz,
   ``E|a^2 - a'^2| <= 2 sqrt(E_q a'^2) G2 Xn dt + G2^2 Xn^2 dt^2``, and ``E_q a'^2 = v^T H2(q) v <= mu2``.
3. Bounds on B.  ``|diag(ht') v| <= G2`` gives ``0 <= B <= Bmax := G2^2 Xn^2``.  ``grad B = 2 J beta``
   with ``J = X^T diag(ht''(X theta) o v) X``, ``||J|| <= G3 max_i|v_i| Xn^2 <= G3 Xn^2``, so B is
   Lipschitz with ``L_B = 2 G2 G3 Xn^3``.
4. The u^2 B term.  ``u^2 B(theta) - u'^2 B(theta') = (u^2 - u'^2) B(theta) + u'^2 (B(theta) - B(theta'))``.
   First part: ``|u^2 - u'^2| <= |u - u'| (2|u'| + |u - u'|)``, so its mean is at most
   ``Bmax (2 sqrt(s2) du + du^2)``.  Second part: ``E[u'^2 L_B |theta - theta'|] <= L_B sqrt(s4) dt``
   (Cauchy-Schwarz; the order of the split puts the unbounded u^2 on the reference side, whose
   fourth moment is known, never on p's).
5. Summing, with ``Bmax = G2^2 Xn^2`` and ``dt^2 + du^2 = delta^2``, and Cauchy-Schwarz on the
   linear terms ``c_t dt + c_u du <= sqrt(c_t^2 + c_u^2) delta``:
   ``lambda_min(H(p)) >= Lambda_q - c1 delta - c2 delta^2`` with
   ``c1 = sqrt((2 G2 Xn sqrt(mu2) + L_B sqrt(s4))^2 + (2 Bmax sqrt(s2))^2)``, ``c2 = G2^2 Xn^2``.
6. The right side decreases in delta and holds for every coupling, so it holds at the infimum
   ``delta = W2(p, q)``, hence for every p with ``W2(p, q) <= R`` at ``delta = R``.  lambda_min of a
   PSD matrix is also >= 0.  The certified radius ``R_cert`` for a level ``ell`` is the positive root
   of ``c2 R^2 + c1 R = Lambda_q - ell``.

Only G2 = sup|ht'| and G3 = sup|ht''| enter (both <= G), with n and max|x_i| through Xn <= sqrt(n) max|x_i|.
A necessary condition of any such bound is ``c1 >= ||grad k_v||_{L2(q)}`` for the bottom eigenvector
v of H(q) (the first-order rate of the steepest transport); tests/test_stability.py checks it.

Sharpness (review of 2026-12-06): c1 is the exact first-order rate in the limit of one tiny input
(n = d = 1, x = eps -> 0).  For sigmoid, a = sigma(z) ~ 1/2 is nearly constant, so the Cauchy-Schwarz
of step 2 is tight, and the mean shift ``N((-t, 0), I)`` (W2 = t) lowers lambda_min by
``(c1 t + c2 t^2)(1 - O(eps^2 + eps t))`` (ratio 0.99995 at eps = 0.005, t = 0.01).  For tanh and erf,
ht(z) ~ G2 z makes steps 2 and 4 tight together under ``w -> (1 - t) w`` (ratio 1 - O(eps^2 + t)).
So no smaller c1 is valid, and any slip that makes c1 too small is caught by
test_perturbation_bound_is_first_order_sharp_for_a_tiny_input.  For n >= 2 the bound is loose
(the bottom eigenvector of H cannot align with the top one of H2, which mu2 uses).

Evaluation: Lambda_q and mu2 come with their quadrature error (K vs 2K nodes, Weyl: n max-entry
error) and a rounding allowance ``64 n eps ||H||``; Xn from eigvalsh is inflated by a relative 1e-12
(backward error of a d x d symmetric eigensolver, d <= a few hundred, is ~d eps); every product is
rounded outward by a relative 1e-12 (far above the ~10 float operations' ~1e-15 error).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ._validation import check_int, check_matrix, check_nonnegative, check_positive
from .activations import get_activation
from .errors import DomainError
from .kernels import gram_p0

__all__ = ["PerturbationBound", "perturbation_bound", "perturbation_bound_from_reference"]

#: Relative outward-rounding allowance of every evaluated constant (module docstring, Evaluation).
_OUT = 1e-12
#: Rounding allowance of an eigenvalue of an n x n symmetric matrix, in units of n eps ||H||.
_ROUND = 64.0


def _up(x: float) -> float:
    return x * (1.0 + _OUT) if x >= 0 else x * (1.0 - _OUT)


def _down(x: float) -> float:
    return x * (1.0 - _OUT) if x >= 0 else x * (1.0 + _OUT)


@dataclass(frozen=True)
class PerturbationBound:
    """``lambda_min(H(p)) >= Lambda_lower - c1 W2(p, q) - c2 W2(p, q)^2`` for every p (module docstring).

    Attributes
    ----------
    Lambda_lower : float
        A lower bound of lambda_min(H(q)) (value minus its quadrature and rounding error).
    c1, c2 : float
        The constants of step 5, rounded up.
    X_norm, mu2, G2, G3, s2, s4 : float
        Their ingredients (all upper bounds), for the report.
    """

    Lambda_lower: float
    c1: float
    c2: float
    X_norm: float
    mu2: float
    G2: float
    G3: float
    s2: float
    s4: float

    def lower(self, R: float) -> float:
        """The certified lower bound of ``min lambda_min(H(p))`` over ``W2(p, q) <= R`` (>= 0)."""
        if isinstance(R, (int, float)) and R == math.inf:  # the unbounded ball: nothing is certified
            return 0.0
        R = check_nonnegative("R", R)
        loss = _up(_up(self.c1 * R) + _up(self.c2 * R * R))
        return max(0.0, _down(self.Lambda_lower - loss))

    def radius(self, level: float) -> float:
        """The largest R with ``Lambda_lower - c1 R - c2 R^2 >= level`` (0 if none), rounded down."""
        level = float(level)
        if math.isnan(level):
            raise DomainError(f"level must be a number, got {level!r}")
        room = _down(self.Lambda_lower - level)
        if room <= 0.0:
            return 0.0
        if self.c2 == 0.0:
            return math.inf if self.c1 == 0.0 else _down(room / self.c1)
        # Positive root of c2 R^2 + c1 R - room, in the cancellation-free form 2 room/(c1 + sqrt(...)).
        return _down(2.0 * room / _up(self.c1 + math.sqrt(_up(self.c1 ** 2 + 4.0 * self.c2 * room))))


def _spectral_norm_upper(X: np.ndarray) -> float:
    gram = X.T @ X if X.shape[0] >= X.shape[1] else X @ X.T
    top = float(np.linalg.eigvalsh(0.5 * (gram + gram.T))[-1])
    return _up(math.sqrt(max(top, 0.0)) * (1.0 + _OUT))


def perturbation_bound_from_reference(X, act, H1, H2, *, s2: float = 1.0, s4: float = 3.0,
                                      error: float = 0.0) -> PerturbationBound:
    """The bound of the module docstring around a reference measure q with Gram matrices H1, H2.

    Parameters
    ----------
    X : (n, d) array
        Inputs.
    act : Activation or str
        The activation (its certified G2, G3 are used).
    H1, H2 : (n, n) arrays
        H1(q), H2(q) of the reference measure.
    s2, s4 : float
        ``E_q u^2`` and ``E_q u^4`` (1 and 3 for p0).
    error : float
        Bound on the max-entry error of H1 + H2 and of H2 (quadrature), >= 0.  gram_p0 estimates the
        error of the sum H only; it is used for H2 too, which assumes the H1 and H2 errors do not
        cancel (immaterial at the ~1e-12 errors of smooth activations, since mu2 >> n error).
        ``inf`` (unresolved) gives the vacuous but true bound with Lambda_lower = 0 and mu2 = n G1^2.
    """
    X = check_matrix("X", X)
    act = get_activation(act)
    n = X.shape[0]
    H1, H2 = check_matrix("H1", H1, rows=n, cols=n), check_matrix("H2", H2, rows=n, cols=n)
    s2, s4 = check_positive("s2", s2), check_positive("s4", s4)
    if isinstance(error, (int, float)) and error == math.inf:
        error = math.inf    # an unresolved quadrature: the bound falls back to what needs no H (below)
    else:
        error = check_nonnegative("error", error)
    H = 0.5 * (H1 + H2 + (H1 + H2).T)
    eig_H = np.linalg.eigvalsh(H)
    eig_H2 = np.linalg.eigvalsh(0.5 * (H2 + H2.T))
    eps = np.finfo(float).eps
    g = act.constants
    G1, G2, G3 = float(g.G1), float(g.G2), float(g.G3)
    slack_H = n * error + _ROUND * n * eps * max(abs(eig_H[-1]), abs(eig_H[0]))
    # lambda_min of a PSD matrix is >= 0 and E_q a'^2 <= (sum_i |v_i| G1)^2 <= n G1^2 whatever q is:
    # the fallbacks keep the bound true (if vacuous) when the Gram error is unknown.
    Lambda_lower = max(0.0, _down(float(eig_H[0]) - _up(slack_H)))
    mu2 = min(_up(max(float(eig_H2[-1]), 0.0) + n * error + _ROUND * n * eps * abs(float(eig_H2[-1]))),
              _up(n * G1 * G1))
    Xn = _spectral_norm_upper(X)
    L_B = _up(2.0 * G2 * G3 * Xn ** 3)
    B_max = _up(G2 * G2 * Xn * Xn)
    c_theta = _up(2.0 * G2 * Xn * math.sqrt(mu2) + L_B * math.sqrt(s4))
    c_u = _up(2.0 * B_max * math.sqrt(s2))
    c1 = _up(math.sqrt(_up(c_theta ** 2 + c_u ** 2)))
    return PerturbationBound(Lambda_lower=float(Lambda_lower), c1=float(c1), c2=float(B_max), X_norm=float(Xn),
                             mu2=float(mu2), G2=G2, G3=G3, s2=s2, s4=s4)


def perturbation_bound(X, act, K: int = 80) -> PerturbationBound:
    """The bound around p0 (s2 = 1, s4 = 3), with H(p0) from Gauss-Hermite at K and 2K nodes per axis.

    Parameters
    ----------
    X : (n, d) array
    act : Activation or str
    K : int
        Coarse nodes per axis of :func:`theory.kernels.gram_p0`; its refinement error widens
        Lambda and mu2 outward.
    """
    X = check_matrix("X", X)
    act = get_activation(act)
    K = check_int("K", K, minimum=8, maximum=180)
    g0 = gram_p0(X, act, K)
    return perturbation_bound_from_reference(X, act, g0.H1, g0.H2, s2=1.0, s4=3.0, error=float(g0.quad_error))
