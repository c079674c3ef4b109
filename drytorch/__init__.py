"""drytorch: reproducible PyTorch experiments.

Importing the package does no work: no files, no logging configuration, no
trackers. The names below are loaded on first access, and the default
trackers are installed when the first Experiment is created (see
:func:`init_trackers` and the ``DRYTORCH_INIT_MODE`` environment variable).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from drytorch.core import track as _track

if TYPE_CHECKING:
    from drytorch._init import init_trackers
    from drytorch.core.experiment import Experiment
    from drytorch.core.track import (
        extend_default_trackers,
        remove_all_default_trackers,
    )
    from drytorch.lib.evaluations import Diagnostic, Test, Validation
    from drytorch.lib.learn import LearningSchema
    from drytorch.lib.load import DataLoader
    from drytorch.lib.models import Model
    from drytorch.lib.objectives import Loss, Metric
    from drytorch.lib.train import Trainer

__all__ = [
    'DataLoader',
    'Diagnostic',
    'Experiment',
    'LearningSchema',
    'Loss',
    'Metric',
    'Model',
    'Test',
    'Trainer',
    'Validation',
    'extend_default_trackers',
    'init_trackers',
    'remove_all_default_trackers',
]

_LAZY = {
    'DataLoader': 'drytorch.lib.load',
    'Diagnostic': 'drytorch.lib.evaluations',
    'Experiment': 'drytorch.core.experiment',
    # importable from the top level in 0.1.0rc5, though not in __all__
    'FailedOptionalImportWarning': 'drytorch.core.exceptions',
    'Tracker': 'drytorch.core.track',
    'LearningSchema': 'drytorch.lib.learn',
    'Loss': 'drytorch.lib.objectives',
    'Metric': 'drytorch.lib.objectives',
    'Model': 'drytorch.lib.models',
    'Test': 'drytorch.lib.evaluations',
    'Trainer': 'drytorch.lib.train',
    'Validation': 'drytorch.lib.evaluations',
    'extend_default_trackers': 'drytorch.core.track',
    'init_trackers': 'drytorch._init',
    'remove_all_default_trackers': 'drytorch.core.track',
}


def _install_defaults() -> None:
    importlib.import_module('drytorch._init').init_from_env()


_track.set_defaults_initializer(_install_defaults)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    if name == 'INIT_MODE':
        return importlib.import_module('drytorch._init').get_init_mode()
    if name == '__version__':
        from importlib import metadata

        try:
            return metadata.version('drytorch')
        except metadata.PackageNotFoundError:
            return '0+unknown'
    msg = f'module {__name__!r} has no attribute {name!r}'
    raise AttributeError(msg)


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY, 'INIT_MODE', '__version__'])
