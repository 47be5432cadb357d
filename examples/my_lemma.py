"""My own lemma about the NTK Gram matrix, checked with gntk-checks (public API only).

Lemma.  lambda_min(H(p0)) <= min_i H_ii(p0) for H = H1 + H2 of the paper's (3.6) at p0 = N(0, I).
(The Rayleigh quotient of H at a unit vector e_i is H_ii.)  A probe checks a false strengthening,
lambda_min(H) <= min_i H_ii / 2, which nearly orthogonal inputs break.  Register this module with
``--claims-module my_lemma.py`` or ``GNTK_CLAIM_MODULES=my_lemma.py``.
"""

import numpy as np
from hypothesis import strategies as st

from checks import Claim, Expected, Tier, Variant, Verdict, register
from checks.strategies import activation_specs, build_activation, build_dataset, dataset_cases
from theory.kernels import gram_p0

CLAIM = Claim("my-rayleigh", "My Lemma 1", "lambda_min(H(p0)) <= min_i H_ii(p0)",
              premises=("Assumption 4.1: |x_i| <= 1", "Assumption 4.3: no two inputs parallel"))


def cases():
    return st.fixed_dictionaries({"data": dataset_cases(n=(2, 4), d=(1, 3)), "act": activation_specs()})


def checker(name: str, factor: float):
    def check(case):
        X, _ = build_dataset(case["data"])
        g = gram_p0(X, build_activation(case["act"]))
        H, n = g.H1 + g.H2, len(X)
        # Entry errors e move lambda_min by at most n*e (Weyl) and min_i H_ii by e; eigvalsh rounds.
        err = (n + 1) * g.quad_error + 8 * n * np.finfo(float).eps * np.abs(H).max()
        ok = bool(np.isfinite(err))   # inf: the quadrature did not converge (steep activation)
        return Verdict(claim=f"my-rayleigh/{name}", observed=float(np.linalg.eigvalsh(H)[0]),
                       bound=factor * float(np.diag(H).min()), tier=Tier.EXACT, tolerance=err if ok else 0.0,
                       tolerance_reason="Weyl: (n+1) x the entry error of H, plus eigvalsh rounding",
                       inconclusive=None if ok else "gram_p0 reports no converged error", case=case)
    return check


register(Variant(CLAIM, "stated", Expected.HOLDS, Tier.EXACT, "the lemma as stated", cases,
                 checker("stated", 1.0), max_examples=12, min_decided=6,
                 min_decided_reason="half the cases: steep activations may leave the quadrature unconverged",
                 expected_reason="Rayleigh quotient at e_i"))
register(Variant(CLAIM, "probe", Expected.COUNTEREXAMPLE, Tier.EXACT, "false: half the diagonal", cases,
                 checker("probe", 0.5), max_examples=12,
                 expected_reason="orthogonal inputs and an odd activation make H diagonal"))
