"""pytest plugin of gntk-checks (entry point ``gntk_checks``; DESIGN 2, 7).

* ``--claims-report PATH``: write the JSON report of the session's claim runs to PATH, and PNG
  plots beside it (``<stem>-<claim>-<plot>.png``) when matplotlib is installed.
* A terminal summary at the end of every session that ran claim variants: the table of
  :func:`checks.report.format_table`.
* The ``claim(id)`` marker (also declared in pyproject.toml, so ``--strict-markers`` accepts it
  wherever the plugin is installed).

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


def pytest_configure(config):
    config.addinivalue_line("markers", "claim(id): the test checks the named claim variant (e.g. lemma-5.4/stated)")
    config.pluginmanager.register(ClaimsSession(config), "gntk-checks-session")


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
