"""The repository's pytest configuration: the claim suite runs under ``ci`` unless told otherwise.

The gntk-checks pytest plugin (checks/plugin.py, installed with the package) registers the
Hypothesis profiles everywhere:

* ``ci``: deterministic (derandomised, hence no example database); every budget a count, so the
  same verdicts on every machine under any load; the whole default ``pytest`` run fits in about ten
  minutes on two cores.
* ``dev``: random, local directory database, moderate budgets; ``hunt``: thousands of examples and
  the shared database (``GNTK_DB``, a directory or a redis:// URL); ``soak``: ci's counts with
  fresh random seeds.  These three cap each search in seconds too and say when that cut it.

Here, unlike in a user's project (where the plugin leaves the loaded profile alone unless
``GNTK_PROFILE`` is set), ``ci`` is loaded by default, so that a plain ``pytest`` of this repository
gives the same verdicts everywhere.  Select another with ``--hypothesis-profile NAME`` (loaded by
Hypothesis's plugin after this hook) or ``GNTK_PROFILE``; a bad value is a usage error.
"""

import os

import pytest

#: Under pytest-xdist every worker keeps BLAS to one thread: two workers on two cores, each with its own
#: OpenBLAS pool, oversubscribe the machine, and the suite's products are small (checks.runner.one_blas_thread).
_BLAS_LIMIT = None


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    from hypothesis import settings

    from checks.profiles import ProfileError, active_profile, ensure_registered

    global _BLAS_LIMIT
    if os.environ.get("PYTEST_XDIST_WORKER") and _BLAS_LIMIT is None:
        from checks.runner import one_blas_thread

        _BLAS_LIMIT = one_blas_thread()
        _BLAS_LIMIT.__enter__()

    ensure_registered()
    try:
        name = active_profile()
    except ProfileError as exc:
        raise pytest.UsageError(str(exc)) from None
    settings.load_profile(name)
