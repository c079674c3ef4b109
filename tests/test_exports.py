"""The public surface is pinned: names may only change on purpose."""

from __future__ import annotations

import importlib
import subprocess
import sys

import drytorch
from drytorch.core import events, exceptions, log_events

EXPECTED_TOP_LEVEL = [
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

EXPECTED_EVENTS = [
    'ActorRegistrationEvent',
    'EndEpochEvent',
    'EndTestEvent',
    'EndTrainingEvent',
    'Event',
    'InterruptedTrainingEvent',
    'IterateBatchEvent',
    'LearningRateEvent',
    'LoadModelEvent',
    'MetricEvent',
    'ModelRegistrationEvent',
    'ModelShapesEvent',
    'ProgressCallback',
    'SaveModelEvent',
    'StartEpochEvent',
    'StartExperimentEvent',
    'StartRunEvent',
    'StartTestEvent',
    'StartTrainingEvent',
    'StopExperimentEvent',
    'StopRunEvent',
    'TerminatedTrainingEvent',
]

EVENT_ALIASES = {
    # name kept from 0.1.0rc5 and 0.1.0rc11: current name
    'StartExperimentEvent': 'StartRunEvent',
    'StopExperimentEvent': 'StopRunEvent',
}


EXPECTED_TRACKER_AUTHORING = {
    # name in drytorch.trackers: the module that defines it
    'ActorRegistrationEvent': 'drytorch.core.events',
    'BasePlotter': 'drytorch.trackers.base_classes',
    'Dumper': 'drytorch.trackers.base_classes',
    'EndEpochEvent': 'drytorch.core.events',
    'EndTestEvent': 'drytorch.core.events',
    'EndTrainingEvent': 'drytorch.core.events',
    'Event': 'drytorch.core.events',
    'HistoryMetrics': 'drytorch.trackers.base_classes',
    'InterruptedTrainingEvent': 'drytorch.core.events',
    'IterateBatchEvent': 'drytorch.core.events',
    'LearningRateEvent': 'drytorch.core.events',
    'LoadModelEvent': 'drytorch.core.events',
    'MemoryMetrics': 'drytorch.trackers.base_classes',
    'MetricEvent': 'drytorch.core.events',
    'MetricLoader': 'drytorch.trackers.base_classes',
    'ModelRegistrationEvent': 'drytorch.core.events',
    'ModelShapesEvent': 'drytorch.core.events',
    'ProgressCallback': 'drytorch.core.events',
    'SaveModelEvent': 'drytorch.core.events',
    'SourcedMetrics': 'drytorch.trackers.base_classes',
    'StartEpochEvent': 'drytorch.core.events',
    'StartRunEvent': 'drytorch.core.events',
    'StartTestEvent': 'drytorch.core.events',
    'StartTrainingEvent': 'drytorch.core.events',
    'StopRunEvent': 'drytorch.core.events',
    'TerminatedTrainingEvent': 'drytorch.core.events',
    'Tracker': 'drytorch.core.track',
    'on': 'drytorch.core.track',
    'safe_join': 'drytorch.trackers.base_classes',
}

MODULE_ALIASES = {
    # path kept from 0.1.0rc5 and 0.1.0rc11: current path
    'drytorch.core.log_events': 'drytorch.core.events',
}

EXPECTED_NB = [
    'active_run',
    'cell_run',
    'compare_runs',
    'list_runs',
    'load_ipython_extension',
    'start_run',
    'status',
    'stop_run',
    'terminal_output',
    'unload_ipython_extension',
]


def test_notebook_extension_all_is_pinned() -> None:
    import drytorch_nb

    assert sorted(drytorch_nb.__all__) == EXPECTED_NB
    for name in EXPECTED_NB:
        assert callable(getattr(drytorch_nb, name))


def test_top_level_all_is_pinned() -> None:
    assert sorted(drytorch.__all__) == EXPECTED_TOP_LEVEL


def test_top_level_names_resolve() -> None:
    for name in drytorch.__all__:
        assert getattr(drytorch, name) is not None
    assert isinstance(drytorch.__version__, str)
    assert drytorch.INIT_MODE == 'standard'


def test_events_are_pinned() -> None:
    assert sorted(events.__all__) == EXPECTED_EVENTS
    for name in EXPECTED_EVENTS:
        assert hasattr(events, name)


def test_log_events_is_the_events_module_under_its_rc_name() -> None:
    assert sorted(log_events.__all__) == EXPECTED_EVENTS
    for name in EXPECTED_EVENTS:
        assert getattr(log_events, name) is getattr(events, name), name


def test_run_events_keep_their_rc_names() -> None:
    for old, new in EVENT_ALIASES.items():
        assert getattr(events, old) is getattr(events, new), old


def test_exceptions_hierarchy() -> None:
    for name in exceptions.__all__:
        cls = getattr(exceptions, name)
        assert issubclass(
            cls, exceptions.DryTorchError | exceptions.DryTorchWarning
        ), name
        if issubclass(cls, exceptions.DryTorchError) and cls not in (
            exceptions.DryTorchError,
        ):
            builtin_bases = [
                base
                for base in cls.__mro__[1:]
                if base.__module__ == 'builtins'
                and base not in (Exception, BaseException, object)
            ]
            assert builtin_bases, f'{name} subclasses no fitting builtin'


def test_import_has_no_side_effects(tmp_path) -> None:
    code = (
        'import logging, os, sys\n'
        'before = set(os.listdir("."))\n'
        'import drytorch\n'
        'assert set(os.listdir(".")) == before\n'
        'assert logging.getLogger("drytorch").handlers == []\n'
        'assert "torch" not in sys.modules\n'
        'from drytorch.core import track\n'
        'assert track.DEFAULT_TRACKERS == {}\n'
    )
    subprocess.run(
        [sys.executable, '-c', code], cwd=tmp_path, check=True, timeout=60
    )


def test_tracker_authoring_names_are_pinned() -> None:
    import drytorch.trackers

    assert sorted(drytorch.trackers.__all__) == sorted(
        EXPECTED_TRACKER_AUTHORING
    )
    for name, module in EXPECTED_TRACKER_AUTHORING.items():
        defined = getattr(importlib.import_module(module), name)
        assert getattr(drytorch.trackers, name) is defined, name


def test_tracker_authoring_keeps_the_rc_event_names() -> None:
    import drytorch.trackers

    for old, new in EVENT_ALIASES.items():
        assert getattr(drytorch.trackers, old) is getattr(events, new), old
        assert old in dir(drytorch.trackers)


def test_renamed_modules_give_the_same_objects() -> None:
    for old_path, new_path in MODULE_ALIASES.items():
        old = importlib.import_module(old_path)
        new = importlib.import_module(new_path)
        assert old.__all__ == new.__all__
        for name in new.__all__:
            assert getattr(old, name) is getattr(new, name), name


def test_importing_the_trackers_package_loads_nothing_more() -> None:
    code = (
        'import sys\n'
        'import drytorch\n'
        'before = set(sys.modules)\n'
        'import drytorch.trackers\n'
        'loaded = set(sys.modules) - before - {"drytorch.trackers"}\n'
        'assert not loaded, sorted(loaded)\n'
        'from drytorch.trackers import csv\n'
        'assert csv.__name__ == "drytorch.trackers.csv"\n'
    )
    subprocess.run([sys.executable, '-c', code], check=True, timeout=60)
