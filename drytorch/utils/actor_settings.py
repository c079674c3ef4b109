"""The settings of an actor that people look for first.

An actor's metadata (:func:`drytorch.utils.repr_utils.extract_metadata`)
describes everything it holds, nested. :func:`actor_settings` picks out
what a reader wants at a glance, as (label, text) pairs: the optimizer and
the learning rate of each parameter group, the scheduler, the gradient
operation, the batch size and number of batches, the loss and the metric
names, and the hooks with their settings.

Actors are read by their attributes (``learning_schema``, ``loader``,
``objective``, ``pre_epoch_hooks``, ...), so any actor that has them is
described, and an attribute that is missing or broken is left out: the
description never raises. Numbers are written with
:func:`drytorch.utils.formatting.format_number`.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Mapping
from typing import Any

from drytorch.utils.formatting import format_number

__all__ = ['actor_settings']

_MAX_TEXT = 300
_ADDRESS = re.compile(r' at 0x[0-9a-fA-F]+')
_FUNCTION = re.compile(r'<function ([^\s<>]*(?:<lambda>)?)>')


def _short(text: str) -> str:
    text = _ADDRESS.sub('', ' '.join(text.split()))
    text = _FUNCTION.sub(r'\1', text)  # '<function f>' reads 'f'
    return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 1] + '…'


def _repr(value: Any) -> str:
    try:
        return _short(repr(value))
    except Exception:  # a broken __repr__ must not break the description
        return type(value).__name__


def _kwargs(options: Mapping[str, Any]) -> str:
    parts = []
    for key, value in options.items():
        if isinstance(value, tuple | list):
            shown = ', '.join(format_number(item) for item in value)
            shown = f'({shown})'
        elif isinstance(value, int | float):
            shown = format_number(value)
        else:
            shown = _repr(value)
        parts.append(f'{key}={shown}')
    return ', '.join(parts)


def _learning_rows(schema: Any) -> list[tuple[str, str]]:
    rows = []
    optimizer_cls = getattr(schema, 'optimizer_cls', None)
    if isinstance(optimizer_cls, type):
        options = getattr(schema, 'optimizer_defaults', None) or {}
        extra = f' ({_kwargs(options)})' if options else ''
        rows.append(('Optimizer', optimizer_cls.__name__ + extra))
    base_lr = getattr(schema, 'base_lr', None)
    if isinstance(base_lr, Mapping):
        for group, rate in base_lr.items():
            rows.append((f'Learning rate ({group})', format_number(rate)))
    elif base_lr is not None:
        rows.append(('Learning rate', format_number(base_lr)))
    scheduler = getattr(schema, 'scheduler', None)
    if scheduler is not None:
        rows.append(('Scheduler', _repr(scheduler)))
    gradient_op = getattr(schema, 'gradient_op', None)
    if gradient_op is not None and type(gradient_op).__name__ != 'NoOp':
        rows.append(('Gradient operation', _repr(gradient_op)))
    return rows


def _loader_rows(loader: Any) -> list[tuple[str, str]]:
    rows = []
    batch_size = getattr(loader, 'batch_size', None)
    if batch_size is not None:
        rows.append(('Batch size', format_number(batch_size)))
    # an iterable loader may have no length, nor a dataset with one
    with contextlib.suppress(Exception):
        rows.append(('Batches per pass', format_number(len(loader))))
    with contextlib.suppress(Exception):
        rows.append(('Samples', format_number(len(loader.dataset))))
    return rows


def _metric_names(objective: Any) -> list[str]:
    named_fn = getattr(objective, 'named_fn', None)
    if isinstance(named_fn, Mapping) and named_fn:
        return [str(name) for name in named_fn]
    name = getattr(objective, 'name', None)
    if isinstance(name, str) and name:
        return [name]
    return [type(objective).__name__]


def _objective_rows(actor: Any, objective: Any) -> list[tuple[str, str]]:
    names = _metric_names(objective)
    if hasattr(actor, 'learning_schema'):  # trained on: it is the loss
        loss = getattr(objective, 'name', None)
        loss_name = loss if isinstance(loss, str) and loss else names[0]
        rows = [('Loss', loss_name)]
        others = [name for name in names if name != loss_name]
        if others:
            rows.append(('Metrics', ', '.join(others)))
        return rows
    return [('Metrics', ', '.join(names))]


def _hook_rows(label: str, registry: Any) -> list[tuple[str, str]]:
    hooks = getattr(registry, 'hooks', None)
    if not isinstance(hooks, Iterable):
        return []
    return [(label, _repr(hook)) for hook in hooks]


def actor_settings(actor: Any) -> tuple[tuple[str, str], ...]:
    """The settings of an actor people look for first.

    Args:
        actor: a trainer, an evaluation or any object with some of the
            attributes named in the module's description.

    Returns:
        (label, text) pairs, in reading order; labels may repeat (one row
        per hook).
    """
    rows: list[tuple[str, str]] = [('Class', type(actor).__name__)]
    readers = (
        ('learning_schema', _learning_rows),
        ('loader', _loader_rows),
    )
    for attribute, reader in readers:
        try:
            value = getattr(actor, attribute, None)
            if value is not None:
                rows.extend(reader(value))
        except Exception:  # a broken attribute leaves its rows out
            continue
    try:
        objective = getattr(actor, 'objective', None)
        if objective is not None:
            rows.extend(_objective_rows(actor, objective))
        rows.extend(
            _hook_rows(
                'Pre-epoch hook', getattr(actor, 'pre_epoch_hooks', None)
            )
        )
        rows.extend(
            _hook_rows(
                'Post-epoch hook', getattr(actor, 'post_epoch_hooks', None)
            )
        )
    except Exception:  # a broken attribute leaves its rows out
        pass
    return tuple(rows)
