"""Operations on an experiment's files, under the path of drytorch 0.1.0rc11.

They read the run registry, so they live in the core:
:mod:`drytorch.core.experiment_data`. This path gives the same functions,
loaded on first use, so that importing it imports nothing of the core
(``drytorch.utils`` sits below the core).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from drytorch.core.experiment_data import (
        clone_experiment_data,
        delete_experiment_data,
        rename_experiment_data,
    )

__all__ = [
    'clone_experiment_data',
    'delete_experiment_data',
    'rename_experiment_data',
]

_IMPLEMENTATION = 'drytorch.core.experiment_data'


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module(_IMPLEMENTATION), name)
    msg = f'module {__name__!r} has no attribute {name!r}'
    raise AttributeError(msg)
