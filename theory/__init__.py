"""gntk-checks theory core: the mathematics of Chen, Cao, Gu, Zhang (NeurIPS 2020) in numpy/scipy.

Never imports hypothesis or pytest (docs/architecture.md).  ``theory.__all__`` lists the public
modules; each lists its public functions and classes in its own ``__all__``, and every public
function validates its arguments at this boundary (docs/architecture.md#reliability).  Modules are
imported on first attribute access (``theory.kernels``), so ``import theory`` stays cheap.

Notation table (paper symbol -> code name):

======================  ==========================================
paper                    code
======================  ==========================================
h(theta, x) = ht(z)      ``Activation`` (``act.h``, ``act.d1`` ...)
G1..G5, G                ``act.constants.G1`` ... ``act.G``
p0 = N(0, I_{d+1})       ``network.sample_p0``
f(p, x) (3.1)            ``network.output``
f_m (3.2)                ``network.output`` on particles
H1, H2, H (3.6)          ``kernels.gram_particles``, ``kernels.gram_p0``
Lambda = lambda_min(H(p0))  ``kernels.Lambda``
lambda0 = sqrt(Lambda/n) ``kernels.lambda0``
A1, A2                   ``bounds.A1``, ``bounds.A2``
R(P)                     ``bounds.radius_R``
alpha of (4.1)           ``bounds.alpha_min``
critical radius R*       ``R_crit`` (Lemma 5.1)
p* (minimiser of Q)      ``gibbs.solve_gibbs``
log E exp (Lemma 5.5)    ``log_mgf``
Rademacher R_n           ``rademacher``
KL, chi^2, W2            ``divergences.kl_*``, ``chi2_*``, ``w2_*``
======================  ==========================================
"""

__version__ = "0.1.0"

import importlib as _importlib

__all__ = ["activations", "assumptions", "bounds", "data", "divergences", "dynamics", "errors",
           "generalisation", "gibbs", "kernels", "network", "quadrature", "rademacher", "stability",
           "trajectory"]


def __getattr__(name: str):
    """Import a public module on first access (PEP 562)."""
    if name in __all__:
        return _importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
