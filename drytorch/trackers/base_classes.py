"""Base classes of the trackers: file dumpers and metric histories.

A :class:`Dumper` writes files below ``<par_dir>/<folder_name>/<exp_name>/``
in a folder of the run; a :class:`MetricLoader` reads the metric history of
a model back; :class:`MemoryMetrics` keeps the history in memory and
:class:`BasePlotter` draws it.

This is the public path of these classes (:mod:`drytorch.trackers`
re-exports them too); each is defined in a module of its own concept:
``_dumper``, ``_metric_history`` and ``_plotter``.
"""

from __future__ import annotations

from drytorch.trackers._dumper import Dumper
from drytorch.trackers._metric_history import (
    HistoryMetrics,
    MemoryMetrics,
    MetricLoader,
    SourcedMetrics,
)
from drytorch.trackers._plotter import BasePlotter
from drytorch.utils.files import safe_join

__all__ = [
    'BasePlotter',
    'Dumper',
    'HistoryMetrics',
    'MemoryMetrics',
    'MetricLoader',
    'SourcedMetrics',
    'safe_join',
]
