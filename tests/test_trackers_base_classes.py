"""Tests of drytorch.trackers.base_classes: dumpers and metric histories."""

from __future__ import annotations

import datetime
import math
import pathlib

import pytest

from drytorch.core import events, exceptions
from drytorch.core.track import EventDispatcher
from drytorch.trackers import base_classes
from drytorch.trackers.base_classes import (
    Dumper,
    MemoryMetrics,
    MetricLoader,
    SourcedMetrics,
)
from drytorch.trackers.csv import CSVDumper
from drytorch.utils import files

RUN_TS = datetime.datetime(2026, 11, 27, 12, 8, 16)


def start_event(
    par_dir: pathlib.Path,
    exp_name: str = 'Exp',
    run_id: str = '2026-11-27@12h08m16s',
    resumed: bool = False,
) -> events.StartRunEvent:
    return events.StartRunEvent(
        config=None,
        exp_name=exp_name,
        run_ts=RUN_TS,
        run_id=run_id,
        resumed=resumed,
        par_dir=par_dir,
    )


def stop_event(exp_name: str = 'Exp') -> events.StopRunEvent:
    return events.StopRunEvent(exp_name=exp_name, run_id='r')


def metric_event(
    epoch: int,
    metrics: dict[str, float],
    source: str = 'Trainer',
    model: str = 'M',
) -> events.MetricEvent:
    return events.MetricEvent(
        model_name=model, source_name=source, epoch=epoch, metrics=metrics
    )


class FolderDumper(Dumper):
    folder_name = 'outputs'


# ---------------------------------------------------------------- Dumper


class TestDumper:
    def test_properties_outside_a_run(self) -> None:
        dumper = FolderDumper()
        for prop in ('par_dir', 'exp_name', 'run_id', 'run_dir', 'resumed'):
            with pytest.raises(exceptions.AccessOutsideScopeError):
                getattr(dumper, prop)

    def test_records_the_run(self, tmp_path: pathlib.Path) -> None:
        dumper = FolderDumper()
        par_dir = tmp_path / 'experiments'
        dumper.notify(start_event(par_dir, resumed=True))
        assert dumper.par_dir == par_dir
        assert par_dir.is_dir()  # created at start
        assert dumper.exp_name == 'Exp'
        assert dumper.run_id == '2026-11-27@12h08m16s'
        assert dumper.resumed is True

    def test_own_par_dir_wins(self, tmp_path: pathlib.Path) -> None:
        dumper = FolderDumper(par_dir=tmp_path / 'mine')
        dumper.notify(start_event(tmp_path / 'experiment'))
        assert dumper.par_dir == tmp_path / 'mine'
        assert (tmp_path / 'mine').is_dir()

    def test_run_dir_timestamp_id(self, tmp_path: pathlib.Path) -> None:
        dumper = FolderDumper()
        dumper.notify(start_event(tmp_path))
        assert dumper.run_dir == (
            tmp_path / 'outputs' / 'Exp' / '2026-11-27' / '12h08m16s'
        )

    def test_run_dir_other_id(self, tmp_path: pathlib.Path) -> None:
        dumper = FolderDumper()
        dumper.notify(start_event(tmp_path, run_id='baseline-1'))
        assert dumper.run_dir == tmp_path / 'outputs' / 'Exp' / 'baseline-1'
        dumper.notify(start_event(tmp_path, run_id='a@b@c'))
        assert dumper.run_dir == tmp_path / 'outputs' / 'Exp' / 'a' / 'b@c'

    def test_no_folder_name(self, tmp_path: pathlib.Path) -> None:
        dumper = Dumper()
        dumper.notify(start_event(tmp_path, run_id='r'))
        assert dumper.run_dir == tmp_path / 'Exp' / 'r'

    @pytest.mark.parametrize(
        ('exp_name', 'run_id'),
        [
            ('..', 'run'),
            ('.', 'run'),
            ('a/../..', 'run'),
            ('Exp', '..'),
            ('Exp', '../../escape'),
            ('Exp', '2026@../..'),
            ('Exp', '@time'),
            ('Exp', 'day@'),
            ('Exp', 'a\\b'),
        ],
    )
    def test_names_leading_outside_par_dir_are_rejected(
        self, tmp_path: pathlib.Path, exp_name: str, run_id: str
    ) -> None:
        # joined as they are, such names would put files outside par_dir
        dumper = FolderDumper()
        dumper.notify(start_event(tmp_path, exp_name=exp_name, run_id=run_id))
        with pytest.raises(exceptions.InvalidNameError):
            _ = dumper.run_dir

    def test_clean_up_forgets_the_run(self, tmp_path: pathlib.Path) -> None:
        dumper = FolderDumper()
        dumper.notify(start_event(tmp_path))
        assert dumper.run_dir.is_relative_to(tmp_path)
        dumper.notify(stop_event())
        with pytest.raises(exceptions.AccessOutsideScopeError):
            _ = dumper.run_dir
        with pytest.raises(exceptions.AccessOutsideScopeError):
            _ = dumper.par_dir

    def test_new_run_new_dir(self, tmp_path: pathlib.Path) -> None:
        dumper = FolderDumper()
        dumper.notify(start_event(tmp_path, run_id='first'))
        first = dumper.run_dir
        dumper.notify(stop_event())
        dumper.notify(start_event(tmp_path, run_id='second'))
        assert dumper.run_dir != first
        assert dumper.run_dir.name == 'second'

    def test_through_dispatcher(self, tmp_path: pathlib.Path) -> None:
        dispatcher = EventDispatcher('Exp')
        dumper = FolderDumper()
        dispatcher.subscribe(dumper)
        dispatcher.publish(start_event(tmp_path, run_id='r'))
        assert dumper.run_dir == tmp_path / 'outputs' / 'Exp' / 'r'
        dispatcher.publish(stop_event())
        with pytest.raises(exceptions.AccessOutsideScopeError):
            _ = dumper.run_id


# ---------------------------------------------------------- MetricLoader


class StaticLoader(MetricLoader):
    def __init__(self, history: SourcedMetrics) -> None:
        self.history = history
        self.requests: list[tuple[str, int]] = []

    def _load_metrics(self, model_name: str, max_epoch: int) -> SourcedMetrics:
        self.requests.append((model_name, max_epoch))
        return self.history


class TestMetricLoader:
    def test_is_abstract(self) -> None:
        with pytest.raises(TypeError):
            MetricLoader()  # type: ignore[abstract]

    def test_zero_epochs_is_empty(self) -> None:
        loader = StaticLoader({'Trainer': ([1], {'loss': [0.5]})})
        assert loader.load_metrics('M', 0) == {}
        assert loader.requests == []

    def test_all_and_some_epochs(self) -> None:
        history: SourcedMetrics = {'Trainer': ([1], {'loss': [0.5]})}
        loader = StaticLoader(history)
        assert loader.load_metrics('M') == history
        assert loader.load_metrics('M', 3) == history
        assert loader.requests == [('M', -1), ('M', 3)]

    def test_below_minus_one_rejected(self) -> None:
        with pytest.raises(ValueError, match='Expected max_epoch >= -1'):
            StaticLoader({}).load_metrics('M', -2)


# --------------------------------------------------------- MemoryMetrics


class TestMemoryMetrics:
    def test_accumulates_by_model_and_source(
        self, tmp_path: pathlib.Path
    ) -> None:
        memory = MemoryMetrics()
        memory.notify(start_event(tmp_path))
        memory.notify(metric_event(1, {'loss': 0.9, 'acc': 0.1}))
        memory.notify(metric_event(2, {'loss': 0.5, 'acc': 0.4}))
        memory.notify(metric_event(1, {'loss': 1.0}, source='Validation'))
        memory.notify(metric_event(1, {'loss': 2.0}, model='Other'))
        assert memory.model_dict['M'] == {
            'Trainer': ([1, 2], {'loss': [0.9, 0.5], 'acc': [0.1, 0.4]}),
            'Validation': ([1], {'loss': [1.0]}),
        }
        assert memory.model_dict['Other'] == {
            'Trainer': ([1], {'loss': [2.0]})
        }

    def test_values_stay_aligned_with_epochs(self) -> None:
        memory = MemoryMetrics()
        memory.notify(metric_event(1, {'loss': 0.9}))
        memory.notify(metric_event(2, {'acc': 0.5}))
        epochs, logs = memory.model_dict['M']['Trainer']
        assert epochs == [1, 2]
        assert logs['loss'][0] == 0.9
        assert math.isnan(logs['loss'][1])
        assert math.isnan(logs['acc'][0])
        assert logs['acc'][1] == 0.5

    def test_repeated_epoch_replaces_history(self) -> None:
        memory = MemoryMetrics()
        for epoch in (1, 2, 3):
            memory.notify(metric_event(epoch, {'loss': float(epoch)}))
        memory.notify(metric_event(2, {'loss': 20.0}))
        assert memory.model_dict['M']['Trainer'] == (
            [1, 2],
            {'loss': [1.0, 20.0]},
        )

    def test_load_with_loader_replaces_history(self) -> None:
        loaded: SourcedMetrics = {'Trainer': ([1, 2], {'loss': [3.0, 2.0]})}
        loader = StaticLoader(loaded)
        memory = MemoryMetrics(metric_loader=loader)
        memory.notify(metric_event(5, {'loss': 9.0}))
        memory.notify(
            events.LoadModelEvent(
                model_name='M', definition='state', location='x', epoch=2
            )
        )
        assert memory.model_dict['M'] == loaded
        assert loader.requests == [('M', 2)]

    def test_load_without_loader_keeps_history(self) -> None:
        memory = MemoryMetrics()
        memory.notify(metric_event(1, {'loss': 9.0}))
        memory.notify(
            events.LoadModelEvent(
                model_name='M', definition='state', location='x', epoch=1
            )
        )
        assert memory.model_dict['M']['Trainer'] == ([1], {'loss': [9.0]})

    def test_new_run_starts_empty(self, tmp_path: pathlib.Path) -> None:
        memory = MemoryMetrics()
        memory.notify(start_event(tmp_path))
        memory.notify(metric_event(1, {'loss': 9.0}))
        memory.notify(stop_event())
        assert memory.model_dict  # still readable after the run
        memory.notify(start_event(tmp_path))
        assert memory.model_dict == {}


# ---------------------------------------------------------- public path


def test_public_path_keeps_the_names_tracker_authors_import() -> None:
    # the classes are defined in modules of their own; this path stays
    assert sorted(base_classes.__all__) == [
        'BasePlotter',
        'Dumper',
        'HistoryMetrics',
        'MemoryMetrics',
        'MetricLoader',
        'SourcedMetrics',
        'safe_join',
    ]
    for name in base_classes.__all__:
        assert getattr(base_classes, name) is not None
    assert base_classes.safe_join is files.safe_join
    # the library's trackers derive from the very classes exported here
    assert issubclass(CSVDumper, base_classes.Dumper)
    assert issubclass(CSVDumper, base_classes.MetricLoader)
    assert issubclass(base_classes.BasePlotter, base_classes.MemoryMetrics)
