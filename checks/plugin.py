"""pytest plugin of gntk-checks (entry point ``gntk_checks``; docs/user-claims.md).

* ``--claims-report PATH``: write the JSON report of the session's claim runs to PATH, and PNG
  plots beside it (``<stem>-<claim>-<plot>.png``) when matplotlib is installed.
* A terminal summary at the end of every session that ran claim variants: the table of
  :func:`checks.report.format_table`.
* The ``claim(id)`` marker (also declared in pyproject.toml, so ``--strict-markers`` accepts it
  wherever the plugin is installed).
* The Hypothesis profiles ``ci``, ``dev``, ``hunt`` and ``soak`` are registered here (before the
  Hypothesis plugin reads ``--hypothesis-profile``), so they work wherever gntk-checks is installed;
  ``GNTK_PROFILE``, when set, is validated and loaded.
* ``--claims-module NAME`` (repeatable; a module name or a ``.py`` path) adds a user's claim module
  to the registry, like ``$GNTK_CLAIM_MODULES`` and the ``gntk_checks.claims`` entry-point group.
* ``--allow-inconclusive``: a claim test whose outcome is ``inconclusive`` is reported as xfail
  with its reason instead of failing.
* Collection: a module attribute made by :func:`checks.api.claim_tests` becomes one real Hypothesis
  test per variant (``test_claim[lemma_5_5-probe]``); a variant collected twice in one session
  (two test files, or a claim test and a ``parametrize_with_claims`` test) runs once, the other
  items are deselected.

Results are the :class:`~checks.runner.VariantResult` objects appended to
:data:`checks.runner.RESULTS` during the session.  Under pytest-xdist each worker serialises its
own in ``pytest_sessionfinish`` into ``config.workeroutput["gntk_results"]`` (a JSON string, which
execnet can ship); the controller collects them in ``pytest_testnodedown`` (called once per worker,
before the controller's own ``pytest_sessionfinish``), so the table and the report cover every worker.
"""

from __future__ import annotations

from pathlib import Path
from typing import List

import pytest

from . import runner
from .report import build_report, format_table, results_from_json, results_to_json, write_json, write_plots

WORKER_KEY = "gntk_results"


def pytest_addoption(parser):
    group = parser.getgroup("gntk-checks", "gntk-checks claim reports")
    group.addoption("--claims-report", metavar="PATH", default=None,
                    help="write the JSON report of every claim variant run in the session to PATH "
                         "(plots beside it when matplotlib is installed)")
    group.addoption("--claims-module", metavar="MODULE", action="append", default=[],
                    help="import a claim module (module name or .py path) so that its variants are "
                         "registered; repeatable (also: $GNTK_CLAIM_MODULES, entry points gntk_checks.claims)")
    group.addoption("--allow-inconclusive", action="store_true", default=False,
                    help="report a claim variant whose outcome is inconclusive as xfail instead of failing")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    config.addinivalue_line("markers", "claim(id): the test checks the named claim variant (e.g. lemma-5.4/stated)")
    _register_profiles()
    _check_hypothesis_profile(config.getoption("hypothesis_profile", default=None))
    modules = config.getoption("claims_module", default=[]) or []
    if modules:
        from .registry import ClaimModuleError, add_claim_modules

        try:
            add_claim_modules(modules, source="--claims-module")
        except ClaimModuleError as exc:
            raise pytest.UsageError(str(exc)) from None
    config.pluginmanager.register(ClaimsSession(config), "gntk-checks-session")


def _register_profiles() -> None:
    """Register our profiles (before the Hypothesis plugin loads ``--hypothesis-profile``); load
    ``$GNTK_PROFILE`` only when it is set, so installing gntk-checks never changes the settings of
    a user's other Hypothesis tests."""
    import os

    from .profiles import ENV_PROFILE, ProfileError, active_profile, ensure_registered

    ensure_registered()
    if os.environ.get(ENV_PROFILE):
        try:
            name = active_profile()
        except ProfileError as exc:
            raise pytest.UsageError(str(exc)) from None
        from hypothesis import settings

        settings.load_profile(name)


def _check_hypothesis_profile(name) -> None:
    """A clear usage error for an unknown ``--hypothesis-profile`` (instead of Hypothesis's INTERNALERROR)."""
    if not name:
        return
    from hypothesis import settings

    try:
        settings.get_profile(name)
    except Exception:  # hypothesis raises InvalidArgument for an unknown profile
        from .profiles import PROFILES

        raise pytest.UsageError(f"--hypothesis-profile {name!r} is not a registered Hypothesis profile "
                                f"(gntk-checks registers {', '.join(PROFILES)})") from None


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makeitem(collector, name, obj):
    """A :class:`checks.api.ClaimTests` attribute becomes one Hypothesis test item per variant."""
    from .api import ClaimTests, claim_item_test

    if not isinstance(obj, ClaimTests) or not collector.funcnamefilter(name):
        return None
    allow = collector.config.getoption("allow_inconclusive", default=False)

    def xfail(result):
        pytest.xfail(f"inconclusive (--allow-inconclusive): {result.message}")

    items = []
    for v in obj.variants:
        fn = claim_item_test(v, profile=obj.profile, on_inconclusive=xfail if allow else None)
        # No originalname: pytest would then build the node id from it alone, dropping "[id]".
        item = pytest.Function.from_parent(collector, name=f"{name}[{v.pytest_id}]", callobj=fn)
        item.add_marker(pytest.mark.claim(v.id))
        items.append(item)
    return items


def _item_variant_id(item):
    variant = getattr(getattr(item, "obj", None), "gntk_variant", None)
    if variant is None:
        callspec = getattr(item, "callspec", None)
        variant = callspec.params.get("variant") if callspec is not None else None
    return getattr(variant, "id", None) if variant is not None and hasattr(variant, "claim") else None


def pytest_collection_modifyitems(session, config, items):
    """Never run a variant twice in one session: keep the first item of each variant id."""
    seen, keep, dropped = set(), [], []
    for item in items:
        vid = _item_variant_id(item)
        if vid is not None and vid in seen:
            dropped.append(item)
            continue
        if vid is not None:
            seen.add(vid)
        keep.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


class ClaimsSession:
    """Per-session state: where this session's results start in RESULTS, and the workers' results."""

    def __init__(self, config):
        self.config = config
        self.start = len(runner.RESULTS)
        self.from_workers: List[runner.VariantResult] = []
        self.report_path = None
        self.plot_note = ""

    @property
    def is_worker(self) -> bool:
        return hasattr(self.config, "workerinput")

    def results(self) -> List[runner.VariantResult]:
        # RESULTS is per process and may hold earlier in-process sessions (pytester): slice ours.
        return list(runner.RESULTS[self.start:]) + self.from_workers

    def pytest_sessionstart(self, session):
        self.start = len(runner.RESULTS)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node, error):
        text = getattr(node, "workeroutput", {}).get(WORKER_KEY)
        if text:
            self.from_workers.extend(results_from_json(text))

    def pytest_sessionfinish(self, session, exitstatus):
        if self.is_worker:
            self.config.workeroutput[WORKER_KEY] = results_to_json(runner.RESULTS[self.start:])
            return
        option = self.config.getoption("claims_report")
        if option:  # asked for: written even when no claim ran, so a pipeline always finds it
            path = Path(option)
            if not path.is_absolute():
                path = Path(self.config.invocation_params.dir) / path
            from hypothesis import settings

            report = build_report(self.results(), profile=settings._current_profile)  # noqa: SLF001
            self.report_path = write_json(report, path)
            plots = write_plots(self.results(), path.parent, prefix=path.stem + "-")
            self.plot_note = plots.skipped or f"{len(plots.paths)} plot(s) beside it"

    def pytest_terminal_summary(self, terminalreporter, exitstatus, config):
        results = self.results()
        if self.is_worker or not results:
            return
        terminalreporter.write_sep("=", f"gntk-checks: {len(results)} claim variant run(s)")
        terminalreporter.write_line(format_table(results))
        if self.report_path is not None:
            terminalreporter.write_line(f"claims report: {self.report_path} ({self.plot_note})")
