"""Small helpers shared by several test modules (imported as ``from _helpers import ...``: pytest puts
the tests directory on sys.path)."""

import math


def finite_numbers(obj) -> bool:
    """Every number in a JSON-able structure is finite (None allowed for 'not applicable')."""
    if isinstance(obj, dict):
        return all(finite_numbers(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return all(finite_numbers(v) for v in obj)
    if isinstance(obj, float):
        return math.isfinite(obj)
    return True
