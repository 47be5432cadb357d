"""Hypothesis profiles and per-claim search budgets (docs/verdicts.md#profiles-and-budgets).

* ``ci``: deterministic (derandomised, no database); every budget is a **count** (generated examples,
  checks spent shrinking), never seconds, so the same command gives the same verdicts on every
  machine whatever its load.
* ``dev``, ``hunt``, ``soak``: random; each variant's ``time_budget_s`` (times the profile's time
  factor) caps the generated search, and a run it cuts short says so (``truncated``).  ``dev`` and
  ``hunt`` use the example database of :func:`checks.database.make_database`.

Each claim variant declares its ``ci`` example count; other profiles multiply it.  The profiles are
registered by the pytest plugin and the CLI (not only by a conftest.py), so ``--hypothesis-profile
dev`` works wherever gntk-checks is installed.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from typing import Iterator, List, Optional

from hypothesis import HealthCheck, Phase, settings

__all__ = ["PROFILES", "Budget", "register_profiles", "ensure_registered", "active_profile", "budget",
           "profile_name", "ProfileError", "ENV_PROFILE", "using_profile"]

#: Environment variable selecting the profile of claim runs.
ENV_PROFILE = "GNTK_PROFILE"


class ProfileError(ValueError):
    """An unknown gntk-checks profile name."""


@dataclass(frozen=True)
class Budget:
    """How much search a profile allows.

    ``example_factor`` multiplies each variant's ``ci`` example count (and its shrink-call count);
    ``time_factor`` multiplies its ``time_budget_s``, and is None for a profile whose budgets are
    counts only (``ci``).
    """

    name: str
    example_factor: float
    time_factor: Optional[float]

    @property
    def timed(self) -> bool:
        """Whether a seconds budget applies (never under ``ci``: its runs must not depend on load)."""
        return self.time_factor is not None


PROFILES = {
    "ci": Budget("ci", 1.0, None),
    "dev": Budget("dev", 3.0, 3.0),
    "hunt": Budget("hunt", 50.0, 60.0),
    # checks/soak.py: the ci example counts with fresh random seeds; time-capped like dev.
    "soak": Budget("soak", 1.0, 1.0),
}

_SUPPRESS = [HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large,
             HealthCheck.differing_executors]


def register_profiles(load: bool = True) -> None:
    """Register ``ci``, ``dev``, ``hunt`` and ``soak`` with Hypothesis and (by default) load the selected one."""
    settings.register_profile("ci", derandomize=True, database=None, deadline=None, max_examples=20,
                              suppress_health_check=_SUPPRESS, print_blob=True)
    from .database import make_database

    # derandomize=False is explicit: under CI=true Hypothesis may already have loaded a derandomised
    # profile, and a profile registered without the key would inherit it (every hunt worker would
    # then search the same cases, with no database).
    settings.register_profile("dev", derandomize=False, database=make_database(ping=False), deadline=None,
                              max_examples=60, suppress_health_check=_SUPPRESS, print_blob=True)
    settings.register_profile("hunt", derandomize=False, database=make_database(ping=False), deadline=None,
                              max_examples=1000, suppress_health_check=_SUPPRESS, print_blob=True,
                              phases=tuple(Phase))
    # As checks/soak.py registers it: ci's settings with fresh random cases and no database.
    settings.register_profile("soak", parent=settings.get_profile("ci"), derandomize=False, database=None)
    if load:
        settings.load_profile(active_profile())


def active_profile() -> str:
    """The profile named by ``GNTK_PROFILE``, else ``ci`` (deterministic: the same verdicts everywhere)."""
    name = os.environ.get(ENV_PROFILE) or "ci"
    if name not in PROFILES:
        raise ProfileError(f"{ENV_PROFILE} must be one of {sorted(PROFILES)}, got {name!r}")
    return name


def profile_name(name: Optional[str] = None) -> str:
    """The gntk-checks profile a claim run uses.

    ``name`` if given (validated); else the loaded Hypothesis profile when it is one of ours, also
    when a pytest option derived it (``--hypothesis-verbosity`` loads ``"dev-with-verbose-verbosity"``);
    else ``$GNTK_PROFILE`` or ``ci``.  So a user's own Hypothesis profile never sets claim budgets.
    Inside :func:`using_profile` the profile it names comes first.
    """
    if name is not None:
        if not isinstance(name, str):
            raise TypeError(f"profile must be a str, got {type(name).__name__}")
        if name not in PROFILES:
            raise ProfileError(f"profile must be one of {sorted(PROFILES)}, got {name!r}")
        return name
    if _OVERRIDE:
        return _OVERRIDE[-1]
    current = settings._current_profile or ""  # noqa: SLF001
    base = current.split("-with-")[0]
    return base if base in PROFILES else active_profile()


#: Profiles made current by :func:`using_profile` (innermost last).
_OVERRIDE: List[str] = []


@contextlib.contextmanager
def using_profile(name: Optional[str]) -> Iterator[str]:
    """Within the block, :func:`profile_name` (and so :func:`budget`) answers ``name`` (validated).

    The runner builds a variant's strategy and reads its explicit examples inside it, so that
    ``gntk-check verify --profile dev`` draws the dev sizes whatever Hypothesis profile is loaded
    (the case sizes of a strategy are fixed when it is built, not when it draws).
    """
    name = profile_name(name)
    _OVERRIDE.append(name)
    try:
        yield name
    finally:
        _OVERRIDE.pop()


def budget(profile: Optional[str] = None) -> Budget:
    """The :class:`Budget` of ``profile`` (default: :func:`profile_name`)."""
    return PROFILES[profile_name(profile)]


def ensure_registered() -> None:
    """Register the profiles if nobody has (a run outside pytest), without changing the loaded one."""
    try:
        settings.get_profile("hunt")
    except Exception:  # hypothesis raises InvalidArgument for an unknown profile
        register_profiles(load=False)
