"""Trackers: turn the events of a run into logs, files and plots.

The ready-made trackers live in the submodules (``drytorch.trackers.csv``,
``.tqdm``, ``.yaml``, ...), each importing only its own optional package.

Everything needed to write a tracker is importable from here: the
:class:`Tracker` base class and the :func:`on` decorator, every event, the
:class:`ProgressCallback` protocol, and the base classes of file writers,
metric loaders and plotters::

    from drytorch.trackers import MetricEvent, Tracker, on

    class Printer(Tracker):
        @on(MetricEvent)
        def _print(self, event: MetricEvent) -> None:
            print(event.source_name, event.metrics)

These names are defined in :mod:`drytorch.core.track`,
:mod:`drytorch.core.events` and :mod:`drytorch.trackers.base_classes` (the
same objects), and are loaded on first access: importing a tracker
submodule, or drytorch, loads nothing more because of them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from drytorch.core.events import (
        ActorRegistrationEvent,
        EndEpochEvent,
        EndTestEvent,
        EndTrainingEvent,
        Event,
        InterruptedTrainingEvent,
        IterateBatchEvent,
        LearningRateEvent,
        LoadModelEvent,
        MetricEvent,
        ModelRegistrationEvent,
        ModelShapesEvent,
        ProgressCallback,
        SaveModelEvent,
        StartEpochEvent,
        StartRunEvent,
        StartTestEvent,
        StartTrainingEvent,
        StopRunEvent,
        TerminatedTrainingEvent,
    )

    # the names of 0.1.0rc5 and 0.1.0rc11: resolvable, not in __all__
    from drytorch.core.events import (
        StartExperimentEvent as StartExperimentEvent,
    )
    from drytorch.core.events import (
        StopExperimentEvent as StopExperimentEvent,
    )
    from drytorch.core.track import Tracker, on
    from drytorch.trackers.base_classes import (
        BasePlotter,
        Dumper,
        HistoryMetrics,
        MemoryMetrics,
        MetricLoader,
        SourcedMetrics,
        safe_join,
    )

__all__ = [
    'ActorRegistrationEvent',
    'BasePlotter',
    'Dumper',
    'EndEpochEvent',
    'EndTestEvent',
    'EndTrainingEvent',
    'Event',
    'HistoryMetrics',
    'InterruptedTrainingEvent',
    'IterateBatchEvent',
    'LearningRateEvent',
    'LoadModelEvent',
    'MemoryMetrics',
    'MetricEvent',
    'MetricLoader',
    'ModelRegistrationEvent',
    'ModelShapesEvent',
    'ProgressCallback',
    'SaveModelEvent',
    'SourcedMetrics',
    'StartEpochEvent',
    'StartRunEvent',
    'StartTestEvent',
    'StartTrainingEvent',
    'StopRunEvent',
    'TerminatedTrainingEvent',
    'Tracker',
    'on',
    'safe_join',
]

_EVENTS = 'drytorch.core.events'
_TRACK = 'drytorch.core.track'
_BASES = 'drytorch.trackers.base_classes'

_LAZY = {
    'ActorRegistrationEvent': _EVENTS,
    'BasePlotter': _BASES,
    'Dumper': _BASES,
    'EndEpochEvent': _EVENTS,
    'EndTestEvent': _EVENTS,
    'EndTrainingEvent': _EVENTS,
    'Event': _EVENTS,
    'HistoryMetrics': _BASES,
    'InterruptedTrainingEvent': _EVENTS,
    'IterateBatchEvent': _EVENTS,
    'LearningRateEvent': _EVENTS,
    'LoadModelEvent': _EVENTS,
    'MemoryMetrics': _BASES,
    'MetricEvent': _EVENTS,
    'MetricLoader': _BASES,
    'ModelRegistrationEvent': _EVENTS,
    'ModelShapesEvent': _EVENTS,
    'ProgressCallback': _EVENTS,
    'SaveModelEvent': _EVENTS,
    'SourcedMetrics': _BASES,
    'StartEpochEvent': _EVENTS,
    'StartRunEvent': _EVENTS,
    'StartTestEvent': _EVENTS,
    'StartTrainingEvent': _EVENTS,
    'StopRunEvent': _EVENTS,
    'TerminatedTrainingEvent': _EVENTS,
    'Tracker': _TRACK,
    'on': _TRACK,
    'safe_join': _BASES,
}

# the names of drytorch 0.1.0rc5 and 0.1.0rc11, resolvable but not listed
_ALIASES = {
    'StartExperimentEvent': _EVENTS,
    'StopExperimentEvent': _EVENTS,
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name) or _ALIASES.get(name)
    if module is None:
        # an AttributeError lets ``from drytorch.trackers import csv`` go
        # on to import the submodule
        msg = f'module {__name__!r} has no attribute {name!r}'
        raise AttributeError(msg)
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY, *_ALIASES])
