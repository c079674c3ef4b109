"""The Trainer, under the module name of drytorch 0.1.0rc11.

0.1.0rc11 renamed ``drytorch.lib.train`` to this and moved
``ModelOptimizer`` here; both import paths give the same classes (see
:mod:`drytorch.lib.train` and :mod:`drytorch.lib.optimization`).
"""

from __future__ import annotations

from drytorch.lib.optimization import ModelOptimizer
from drytorch.lib.train import Trainer

__all__ = ['ModelOptimizer', 'Trainer']
