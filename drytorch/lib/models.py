"""Models: a module with a name, an epoch counter, a device and checkpoints.

A :class:`Model` registers its module with the active run when it is built;
see :mod:`drytorch.core.registering`. A :class:`ModelAverage` also keeps a
running average of its module's weights.

The implementation is in two private modules, one concept each:
``_model`` (the Model) and ``_averaged`` (model averages, with the
averages of drytorch 0.1.0rc11); this module is their public path.
"""

from __future__ import annotations

from typing import Any

from drytorch.lib._averaged import ModelAverage
from drytorch.lib._model import Model, count_params, default_device

__all__ = ['Model', 'ModelAverage', 'count_params', 'default_device']


def __getattr__(name: str) -> Any:
    # ModelOptimizer was importable from here in 0.1.0rc5; loaded lazily,
    # since drytorch.lib.optimization is not needed to build a model
    if name == 'ModelOptimizer':
        from drytorch.lib.optimization import ModelOptimizer

        return ModelOptimizer
    if name in ('AveragedModel', 'EMAModel', 'SWAModel'):
        # 0.1.0rc11's averaged models, built on ModelAverage; kept out of
        # __all__ as in 0.1.0rc5
        from drytorch.lib import _averaged

        return getattr(_averaged, name)
    msg = f'module {__name__!r} has no attribute {name!r}'
    raise AttributeError(msg)
