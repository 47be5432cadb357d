"""Hypothesis profiles and per-claim search budgets (DESIGN 5).

``ci`` is deterministic and has no database; ``dev`` and ``hunt`` use the example database chosen
by :func:`checks.database.make_database` (local directory, or Redis when ``GNTK_DB`` holds a
redis:// URL).  Each claim variant declares its ``ci`` example count; other profiles multiply it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from hypothesis import HealthCheck, Phase, settings

__all__ = ["PROFILES", "Budget", "register_profiles", "ensure_registered", "active_profile", "budget"]


@dataclass(frozen=True)
class Budget:
    """How much search a profile allows: a factor on each variant's ``ci`` example count."""

    name: str
    example_factor: float
    time_factor: float


PROFILES = {
    "ci": Budget("ci", 1.0, 1.0),
    "dev": Budget("dev", 3.0, 3.0),
    "hunt": Budget("hunt", 50.0, 60.0),
}

_SUPPRESS = [HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large,
             HealthCheck.differing_executors]


def register_profiles(load: bool = True) -> None:
    """Register ``ci``, ``dev`` and ``hunt`` with Hypothesis and (by default) load the selected one."""
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
    if load:
        settings.load_profile(active_profile())


def active_profile() -> str:
    """The profile named by ``GNTK_PROFILE``, else ``ci`` (deterministic: the same verdicts everywhere)."""
    name = os.environ.get("GNTK_PROFILE") or "ci"
    if name not in PROFILES:
        raise ValueError(f"GNTK_PROFILE must be one of {sorted(PROFILES)}, got {name!r}")
    return name


def budget(profile: str | None = None) -> Budget:
    """The :class:`Budget` of ``profile`` (default: the loaded Hypothesis profile)."""
    name = profile or settings._current_profile or active_profile()  # noqa: SLF001
    return PROFILES.get(name, PROFILES["ci"])


def ensure_registered() -> None:
    """Register the profiles if nobody has (a run outside pytest), without changing the loaded one."""
    try:
        settings.get_profile("hunt")
    except Exception:  # hypothesis raises InvalidArgument for an unknown profile
        register_profiles(load=False)
