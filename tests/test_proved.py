"""Tests of the proved tier (checks/proved.py, checks/proved_lemma55.py, checks/proved_lemmas.py,
theory/enclosures.py): each proof's enclosures must stay disjoint, a tightened bound must lose its HOLDS,
and the enclosure building blocks must contain known values.  Skipped without python-flint."""

import json
import math
import subprocess
import sys

import pytest

pytest.importorskip("flint", reason="python-flint (the `proved` extra) is not installed")

from checks import proved, proved_lemma55  # noqa: E402
from checks._proved_core import proved_verdict  # noqa: E402
from checks.verdict import Status, Tier  # noqa: E402
from theory import enclosures as E  # noqa: E402
from theory.errors import DomainError  # noqa: E402

#: Proofs that iterate over 30 drawn cases each (several seconds): run with -m slow.
CASE_PROOFS = ("lemma-5.5/stated-cases", "lemma-5.5/corrected-cases")


def _assert_decided_by_disjoint_enclosures(p):
    """Every verdict has its expected status, and a decided one has disjoint brackets (not a tolerance)."""
    assert p.ok, [(v.explain(), want) for v, want in p.verdicts] + [k for k, ok in p.checks.items() if not ok]
    for v, _ in p.verdicts:
        assert v.tier is Tier.PROVED and v.tolerance == 0.0 and v.stderr == 0.0
        if v.status is Status.VIOLATED:
            lo, hi = (v.observed_lower, v.bound_upper) if v.relation == "<=" else (v.bound_lower, v.observed_upper)
            assert lo > hi, v.explain()
        elif v.status is Status.HOLDS:
            lo, hi = (v.bound_lower, v.observed_upper) if v.relation == "<=" else (v.observed_lower, v.bound_upper)
            assert hi <= lo, v.explain()
    for name, (lo, hi) in p.enclosures.items():
        assert lo <= hi and math.isfinite(hi - lo), name


@pytest.mark.parametrize("pid", [p for p in proved.PROOFS if p not in CASE_PROOFS])
def test_proof_enclosures_disjoint(pid):
    _assert_decided_by_disjoint_enclosures(proved.run_proof(pid))


@pytest.mark.slow
@pytest.mark.parametrize("pid", CASE_PROOFS)
def test_case_proofs(pid):
    p = proved.run_proof(pid)
    _assert_decided_by_disjoint_enclosures(p)
    assert sum(v.status is Status.HOLDS for v, _ in p.verdicts) >= 10   # ci draws: 16 and 17 proved of 30


def test_probe_lower_bound_beats_printed_bound_with_room():
    p = proved.run_proof("lemma-5.5/probe")
    lo, _ = p.enclosures["R_hat_lower_tilt"]
    assert lo > 23.74   # the exact value is 23.74797...; the printed bound is 20
    assert p.enclosures["tilt_kl"][1] <= 300.0


def test_mutant_tightened_bound_loses_holds():
    """A proved HOLDS (sharp T2 at a non-translation) becomes INCONCLUSIVE once the bound is tightened into
    the left side's enclosure, and VIOLATED once it is tightened past it."""
    p = proved.run_proof("lemma-5.4/sharp")
    v = next(v for v, want in p.verdicts if want is Status.HOLDS)
    lhs = (v.observed_lower, v.observed_upper)
    assert proved_verdict(v.claim, lhs, (v.bound_lower, v.bound_upper)).status is Status.HOLDS
    inside = 0.5 * (lhs[0] + lhs[1])
    assert proved_verdict(v.claim, lhs, (inside, inside)).status is Status.INCONCLUSIVE
    below = 0.99 * lhs[0]
    assert proved_verdict(v.claim, lhs, (below, below)).status is Status.VIOLATED


def test_mutant_crossing_holds_side():
    """The proved rho < 1 at M_lo stops being HOLDS when its bound is moved below R_hat's DV upper bound."""
    p = proved.run_proof("lemma-5.5/probe-crossing")
    v = next(v for v, want in p.verdicts if want is Status.HOLDS)
    tight = 0.5 * (v.observed_lower + v.observed_upper)
    assert proved_verdict(v.claim, (v.observed_lower, v.observed_upper), (tight, tight)).status is not Status.HOLDS


def test_tilt_bracket_contains_the_suite_value():
    from checks.lemma_5_5 import complexity
    br = proved_lemma55.tilt_bracket(proved_lemma55.PROBE_CASE)
    c = complexity(proved_lemma55.PROBE_CASE)
    assert E.bounds(br["value_lower"])[0] - c.quad_error <= c.value <= E.bounds(br["upper"])[1] + c.quad_error


def test_gaussian_expectations_contain_moments():
    fl = E.require_flint()
    one = E.gauss_expect(lambda z: fl.acb(1), 10.0, E.gauss_tail(10.0)).real
    var = E.gauss_expect(lambda z: z * z, 12.0, fl.arb(1e-20)).real   # tail of z^2 phi beyond 12 < 1e-20
    assert one.contains(1) and var.contains(1) and E.width(one) < 1e-12


def test_psi_bracket_contains_float_psi():
    from theory.rademacher import psi
    for M in (1e-3, 0.5, 300.0):
        lo, hi = E.bounds(E.psi_bracket(M))
        assert lo <= psi(M) <= hi and hi - lo < 1e-8 * psi(M)


def test_activation_constants_match_closed_forms():
    from theory.activations import get_activation
    cf = get_activation("tanh").constants.as_tuple()
    g3 = E.activation_constant("tanh", 3)
    lo, hi = E.bounds(g3)
    assert lo <= cf[2] <= hi and hi - lo < 1e-10


def test_expression_constants_of_a_user_activation():
    """sigmoid written as an expression: its G3 (1/(6 sqrt 3)) is enclosed tightly by Taylor arithmetic."""
    sig = lambda x: 1 / (1 + (-x).exp())   # noqa: E731
    tail = E.bounds(E.tail_bounds("sigmoid", 40.0)[2])[1]
    lo, hi = E.bounds(E.expression_constant(sig, 3, 40.0, tail))
    assert lo <= 1.0 / (6.0 * math.sqrt(3.0)) <= hi and hi - lo < 1e-8


def test_bounds_are_outward_and_exact_when_possible():
    fl = E.require_flint()
    assert E.bounds(fl.arb(0)) == (0.0, 0.0)
    lo, hi = E.bounds(fl.arb(1) / 3)
    assert lo < 1 / 3 < hi or lo <= 1 / 3 <= hi
    assert E.bounds(fl.arb(0, fl.arb("inf"))) == (-math.inf, math.inf)


@pytest.mark.parametrize("call, match", [
    (lambda: E.arb_activation("relu"), "base"),
    (lambda: E.arb_activation("tanh", 1.0, 0.0), "s must be"),
    (lambda: E.gauss_expect(lambda z: z, 0.0, 0.0), "L must be"),
    (lambda: E.psi_bracket(-1.0), "M must be"),
    (lambda: E.activation_constant("tanh", 6), "k must be"),
    (lambda: E.expression_constant(lambda x: x.exp(), 2, -1.0, 0.0), "B must be"),
    (lambda: E.expression_constant(lambda x: x.exp(), 2, 1.0, float("nan")), "tail_upper must be"),
    (lambda: proved.run_proof("lemma-9.9/nope"), "lemma-9.9/nope"),
    (lambda: proved_verdict("x", (2.0, 1.0), (0.0, 0.0)), "lhs must be a bracket"),
])
def test_bad_input_names_the_argument(call, match):
    with pytest.raises(DomainError, match=match):
        call()


def test_main_lists_prints_and_writes_json(tmp_path, capsys):
    assert proved.main(["--list"]) == 0
    assert "lemma-5.5/probe" in capsys.readouterr().out
    out = tmp_path / "p.json"
    assert proved.main(["lemma-5.4", "lemma-5.6", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "lemma-5.4/sharp: ok" in text and "2 of 2 proofs as expected" in text
    data = json.loads(out.read_text())
    assert [p["id"] for p in data["proofs"]] == ["lemma-5.6/stated", "lemma-5.4/sharp"] or \
        {p["id"] for p in data["proofs"]} == {"lemma-5.6/stated", "lemma-5.4/sharp"}
    assert all(p["ok"] and p["enclosures"] for p in data["proofs"])
    assert proved.main(["no-such-claim"]) == 2
    prec = E.require_flint().ctx.prec
    assert proved.main(["lemma-5.6", "--digits", "30"]) == 0 and E.require_flint().ctx.prec == prec
    assert proved.main(["lemma-5.6", "--digits", "3"]) == 2


def test_flint_is_needed_by_checks_proved_only():
    """theory.enclosures imports flint lazily; checks.proved imports it (the CLI's signal for the extra)."""
    code = ("import sys; sys.modules['flint'] = None; import theory.enclosures, checks._proved_core\n"
            "try:\n    import checks.proved\nexcept ImportError as e:\n    print('flint' in str(e))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.strip() == "True"
