"""Hypothesis profiles of gntk-checks (DESIGN 5).

* ``ci``: deterministic (derandomised, hence no example database), small budgets; the whole default
  ``pytest`` run fits in about ten minutes on two cores.
* ``dev``: random, local directory database, moderate budgets.
* ``hunt``: thousands of examples, the shared database (``GNTK_DB``, a directory or a redis:// URL).

Select with ``--hypothesis-profile NAME`` or the environment variable ``GNTK_PROFILE`` (default
``ci``, so that a plain ``pytest`` gives the same verdicts on every machine).  Per-claim budgets scale with the profile through
:func:`checks.profiles.budget`.
"""

from checks.profiles import register_profiles

register_profiles()
