"""Names and values handed to external tracking services.

Shared by the TensorBoard and W&B trackers, which need no third-party
package for this part.

Metric tags have the form ``<model>/<source>-<metric>``. Both services
read ``/`` as a level of their tag hierarchy (a TensorBoard section, a W&B
panel group), so a ``/`` inside a user-chosen name would move the metric to
another section. Every ``/`` in a model, source or metric name is therefore
written as U+2215 (DIVISION SLASH), which looks the same on screen and is
not a separator for either service: the metric ``Top/1`` of the source
``Val`` of the model ``Net`` gets the tag
``f'Net/Val-Top{SLASH_SUBSTITUTE}1'``. No other
character is changed, and no two different names get the same tag unless a
name already contains U+2215.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

from drytorch.core import exceptions
from drytorch.utils.repr_utils import Omitted, recursive_repr

__all__ = [
    'CONFIG_DEPTH',
    'SLASH_SUBSTITUTE',
    'config_repr',
    'escape_name',
    'flatten_scalars',
    'metric_tag',
    'to_plain',
]

SLASH_SUBSTITUTE = '\u2215'
"""What a ``/`` inside a name becomes in a tag (DIVISION SLASH)."""

CONFIG_DEPTH = 1000
"""Nesting levels of the configuration represented (it is all relevant)."""

Scalar = bool | int | float | str


def escape_name(name: str) -> str:
    """Make a name a single level of a tag hierarchy.

    Args:
        name: a model, source or metric name.

    Returns:
        The name with every ``/`` replaced by :data:`SLASH_SUBSTITUTE`.
    """
    return name.replace('/', SLASH_SUBSTITUTE)


def metric_tag(model_name: str, source_name: str, metric_name: str) -> str:
    """Return the tag ``<model>/<source>-<metric>`` of a metric.

    Each name is escaped with :func:`escape_name`, so the tag always has
    exactly two levels.
    """
    model = escape_name(model_name)
    source = escape_name(source_name)
    return f'{model}/{source}-{escape_name(metric_name)}'


def config_repr(config: Any) -> dict[str, Any]:
    """Represent a configuration as a dict of plain values.

    The configuration is represented with ``recursive_repr`` (all levels);
    a configuration that is not represented as a dict is put under the key
    ``'config'``. A configuration that contains itself is reported with a
    :class:`~drytorch.core.exceptions.RecursionWarning` and left out.

    Args:
        config: the experiment's configuration.

    Returns:
        JSON-like values (see :func:`to_plain`).
    """
    try:
        represented = recursive_repr(config, depth=CONFIG_DEPTH)
    except RecursionError:
        warnings.warn(exceptions.RecursionWarning(), stacklevel=3)
        return {}
    plain = to_plain(represented)
    if isinstance(plain, dict):
        return plain
    return {'config': plain}


def to_plain(value: Any) -> Any:
    """Turn a ``recursive_repr`` result into JSON-like values.

    Dicts keep their structure (keys become strings), tuples and sets
    become lists, strings lose their subclass, numbers and None stay;
    anything else (e.g. an :class:`Omitted` marker) becomes its text.
    """
    if isinstance(value, Mapping):
        return {str(key): to_plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(item) for item in value]
    if isinstance(value, (set, frozenset)):
        items = [to_plain(item) for item in value]
        try:
            return sorted(items)
        except TypeError:  # mixed types: keep the iteration order
            return items
    if isinstance(value, str):
        return str.__str__(value)
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, Omitted):
        return repr(value)
    return str(value)


def flatten_scalars(
    plain: Mapping[str, Any], prefix: str = ''
) -> dict[str, Scalar]:
    """Flatten nested dicts into ``parent.child`` keys with scalar values.

    Booleans, integers, floats and strings are kept;
    anything else (lists, None, ...) becomes its text.

    Args:
        plain: values as returned by :func:`config_repr`.
        prefix: the key of the enclosing dict.

    Returns:
        One entry per leaf.
    """
    flat: dict[str, Scalar] = {}
    for key, value in plain.items():
        name = f'{prefix}.{key}' if prefix else str(key)
        if isinstance(value, Mapping) and value:
            flat.update(flatten_scalars(value, name))
        elif isinstance(value, (bool, int, float, str)):
            flat[name] = value
        else:
            flat[name] = str(value)
    return flat
