"""Averagers of named values, under the module name of drytorch 0.1.0rc11.

0.1.0rc11 moved the averagers of ``drytorch.utils.average`` here (and
called their base class ``AbstractAggregator``); both import paths give the
same classes (see :mod:`drytorch.utils.average`).
"""

from __future__ import annotations

from drytorch.utils.average import AbstractAverager, Averager, TorchAverager

AbstractAggregator = AbstractAverager
"""The base class of the averagers, by its 0.1.0rc11 name."""

__all__ = [
    'AbstractAggregator',
    'AbstractAverager',
    'Averager',
    'TorchAverager',
]
