"""Checks of the arguments of the gradient operations and criteria.

Each check raises TypeError for a value of the wrong type and ValueError for
a value out of range, with a message naming the argument.
"""

from __future__ import annotations

import numbers

__all__ = [
    'check_callable',
    'check_positive',
    'check_positive_int',
    'check_real',
    'check_unit_interval',
]


def check_real(name: str, value: object) -> float:
    """Return value as a float; TypeError if it is not a real number."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        msg = f'Expected {name} to be a number, got {value!r}.'
        raise TypeError(msg)
    return float(value)


def check_positive(name: str, value: object) -> None:
    """Raise unless value is a real number greater than 0."""
    if not check_real(name, value) > 0:
        msg = f'Expected {name} > 0, got {value!r}.'
        raise ValueError(msg)


def check_unit_interval(name: str, value: object) -> None:
    """Raise unless value is a real number in [0, 1]."""
    if not 0 <= check_real(name, value) <= 1:
        msg = f'Expected {name} in [0, 1], got {value!r}.'
        raise ValueError(msg)


def check_positive_int(name: str, value: object) -> None:
    """Raise unless value is an integer (not a bool) greater than 0."""
    is_int = isinstance(value, numbers.Integral)
    if isinstance(value, bool) or not is_int:
        msg = f'Expected {name} to be an integer, got {value!r}.'
        raise TypeError(msg)
    if not value > 0:  # type: ignore[operator]
        msg = f'Expected {name} to be a positive integer, got {value!r}.'
        raise ValueError(msg)


def check_callable(name: str, value: object, expected: str) -> None:
    """Raise TypeError, describing value as expected, unless callable."""
    if not callable(value):
        msg = f'Expected {name} to be {expected}, got {value!r}.'
        raise TypeError(msg)
