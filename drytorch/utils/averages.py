"""Filters of monitored values, under the module name of drytorch 0.1.0rc11.

0.1.0rc11 moved the filters of ``drytorch.utils.average`` here (its
averagers went to :mod:`drytorch.lib.aggregators`); both import paths give
the same functions (see :mod:`drytorch.utils.average`).
"""

from __future__ import annotations

from drytorch.utils.average import get_moving_average, get_trailing_mean

__all__ = ['get_moving_average', 'get_trailing_mean']
