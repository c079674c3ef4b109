"""Learning schemas, under the module name of drytorch 0.1.0rc11.

0.1.0rc11 renamed ``drytorch.lib.learn`` to this; both import paths give
the same class (see :mod:`drytorch.lib.learn`).
"""

from __future__ import annotations

from drytorch.lib.learn import LearningSchema

__all__ = ['LearningSchema']
