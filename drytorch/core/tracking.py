"""Trackers and event dispatch, under the module name of drytorch 0.1.0rc11.

0.1.0rc11 renamed ``drytorch.core.track`` to this; both import paths give
the same objects, so a tracker subclassing ``tracking.Tracker`` is a
``track.Tracker`` (see :mod:`drytorch.core.track`).
"""

from __future__ import annotations

from typing import Any

from drytorch.core.track import (
    DEFAULT_TRACKERS,
    EventDispatcher,
    Tracker,
    extend_default_trackers,
    on,
    remove_all_default_trackers,
)

__all__ = [
    'DEFAULT_TRACKERS',
    'EventDispatcher',
    'Tracker',
    'extend_default_trackers',
    'on',
    'remove_all_default_trackers',
]


def __getattr__(name: str) -> Any:
    # loaded on first access, as in drytorch.core.track: it needs torch
    if name == 'MetadataManager':
        from drytorch.core.metadata import MetadataManager

        return MetadataManager
    msg = f'module {__name__!r} has no attribute {name!r}'
    raise AttributeError(msg)
