"""How numbers and durations are written, the same way everywhere.

The panel, the snapshot, log lines, progress bars and ``%drytorch_status``
all show numbers through :func:`format_number`, so one value never appears
as ``7.519e-01`` in one place and ``0.7519`` in another.

Rules for real numbers: four significant digits; plain decimals between
1e-3 and 1e4 (``0.7519``, ``12.5``, ``1235``); scientific notation only
outside that range (``5e-05``, ``1.235e+05``); trailing zeros dropped;
``nan``, ``inf`` and ``-inf`` as such. Integers (counts, epochs, sizes)
are written in full. Tensors and NumPy scalars with one element are
written as the number they hold; anything else falls back to ``str``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import Any

__all__ = [
    'format_bytes',
    'format_count',
    'format_duration',
    'format_metrics',
    'format_number',
    'format_rate',
]

_LOW = 1e-3
_HIGH = 1e4


def _as_scalar(value: Any) -> Any:
    """A one-element tensor or array as a Python scalar; else the value."""
    if isinstance(value, bool | int | float):
        return value
    numel = getattr(value, 'numel', None)
    if callable(numel):  # a torch tensor, without importing torch
        try:
            if numel() == 1:
                return value.item()
        except (RuntimeError, TypeError):
            return value
        return value
    size = getattr(value, 'size', None)
    item = getattr(value, 'item', None)
    if size == 1 and callable(item):  # a NumPy scalar or 1-element array
        try:
            return item()
        except (TypeError, ValueError):
            return value
    return value


def _format_real(number: float) -> str:
    if math.isnan(number):
        return 'nan'
    if math.isinf(number):
        return 'inf' if number > 0 else '-inf'
    if number == 0:
        return '0'
    magnitude = abs(number)
    if _LOW <= magnitude < _HIGH:
        text = f'{number:.4g}'
        if 'e' not in text:  # rounding can carry 9999.6 up to 1e+04
            return text
    mantissa, exponent = f'{number:.3e}'.split('e')
    if '.' in mantissa:
        mantissa = mantissa.rstrip('0').rstrip('.')
    return f'{mantissa}e{exponent}'


def format_number(value: Any) -> str:
    """Write a number for people: four significant digits, see the module.

    Args:
        value: an int, a float, a one-element tensor or array, or anything
            else (written with ``str``).

    Returns:
        The text, on one line.
    """
    value = _as_scalar(value)
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        return _format_real(float(value))
    return str(value)


def format_metrics(metrics: Mapping[str, Any], separator: str = '  ') -> str:
    """Metric values as ``name=value`` pairs: ``loss=0.7519  acc=0.9``."""
    return separator.join(
        f'{name}={format_number(value)}' for name, value in metrics.items()
    )


def format_count(done: int, total: int | None) -> str:
    """Progress as a count: ``24/37``, or ``24`` when the total is unknown."""
    return f'{done}' if not total else f'{done}/{total}'


def format_duration(seconds: float) -> str:
    """A duration as a clock reading: ``00:07``, ``12:05``, ``1:02:03``.

    Negative or non-finite durations are written ``--:--``.
    """
    if not math.isfinite(seconds) or seconds < 0:
        return '--:--'
    total = int(seconds + 0.5)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f'{hours}:{minutes:02d}:{secs:02d}'
    return f'{minutes:02d}:{secs:02d}'


def format_rate(per_second: float, unit: str = 'it') -> str:
    """A rate for progress bars: ``4.44it/s``, or ``2.3s/it`` when slow."""
    if not math.isfinite(per_second) or per_second <= 0:
        return f'?{unit}/s'
    if per_second < 1:
        return f'{format_number(1 / per_second)}s/{unit}'
    return f'{format_number(per_second)}{unit}/s'


def format_bytes(size: int) -> str:
    """A size with a binary unit: ``512 B``, ``1.5 KiB``, ``3 MiB``."""
    amount = float(size)
    for unit in ('B', 'KiB', 'MiB', 'GiB'):
        if abs(amount) < 1024 or unit == 'GiB':
            if unit == 'B':
                return f'{int(amount)} B'
            return f'{format_number(amount)} {unit}'
        amount /= 1024
    return f'{format_number(amount)} TiB'  # pragma: no cover
