"""Tests of drytorch.trackers.wandb: runs, metrics and config sent to W&B.

Besides what is recorded: a '/' in a name is escaped (W&B reads it as a
section), and a failing tracker is detached from that run only.

W&B runs offline; what it recorded is read back from the run's transaction
log (``run-<id>.wandb``: W&B's records in the LevelDB log format).
"""

from __future__ import annotations

import datetime
import importlib
import json
import pathlib
import struct
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip('wandb', reason='needs the wandb extra')

import wandb
from conftest import Config
from wandb.proto import wandb_internal_pb2

from drytorch.core import events, exceptions
from drytorch.core.experiment import Experiment
from drytorch.trackers import wandb as wandb_tracker
from drytorch.trackers._external import SLASH_SUBSTITUTE
from drytorch.trackers.wandb import (
    Wandb,
    WandbWarning,
    wandb_project_name,
    wandb_run_id,
)

# ------------------------------------------------------ reading the log

_HEADER = 7  # ':W&B', magic (2 bytes), version (1 byte)
_BLOCK = 32768
_FULL, _FIRST, _MIDDLE, _LAST = 1, 2, 3, 4


def read_records(path: pathlib.Path) -> Iterator[Any]:
    """The records of a W&B transaction log, in order."""
    data = path.read_bytes()
    assert data[:4] == b':W&B'
    position = _HEADER
    pending = b''
    while position + 7 <= len(data):
        left_in_block = _BLOCK - position % _BLOCK
        if left_in_block < 7:  # block trailer: zero padding
            position += left_in_block
            continue
        _checksum, length, kind = struct.unpack_from('<IHB', data, position)
        position += 7
        chunk = data[position : position + length]
        position += length
        if kind == 0:
            continue
        pending += chunk
        if kind in (_FULL, _LAST):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            pending = b''
            yield record


class OfflineRun:
    """What W&B recorded for one offline run."""

    def __init__(self, folder: pathlib.Path) -> None:
        self.folder = folder
        # W&B's service process writes the log asynchronously, even after
        # wandb.finish() returns: read until the run's exit record is there
        deadline = time.monotonic() + 30
        while True:
            logs = list(folder.glob('run-*.wandb'))
            self.records = list(read_records(logs[0])) if logs else []
            if self.of_kind('exit') or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert len(logs) == 1, logs

    def of_kind(self, kind: str) -> list[Any]:
        return [
            getattr(r, kind)
            for r in self.records
            if r.WhichOneof('record_type') == kind
        ]

    @property
    def run(self) -> Any:
        return self.of_kind('run')[0]

    @property
    def config(self) -> dict[str, Any]:
        return {
            item.key: json.loads(item.value_json)
            for item in self.run.config.update
            if not item.key.startswith('_')
        }

    @property
    def history(self) -> list[dict[str, Any]]:
        rows = []
        for history in self.of_kind('history'):
            row = {
                '/'.join(item.nested_key) or item.key: json.loads(
                    item.value_json
                )
                for item in history.item
            }
            rows.append(
                {k: v for k, v in row.items() if not k.startswith('_')}
            )
        return rows

    @property
    def step_metrics(self) -> dict[str, str]:
        return {m.name: m.step_metric for m in self.of_kind('metric')}

    @property
    def exit_code(self) -> int:
        return self.of_kind('exit')[-1].exit_code


def offline_runs(par_dir: pathlib.Path, run_id: str) -> list[OfflineRun]:
    folders = sorted(
        (par_dir / 'wandb').glob(f'offline-run-*-{run_id}*'),
        key=lambda p: p.stat().st_mtime_ns,
    )
    return [OfflineRun(folder) for folder in folders if folder.is_dir()]


# ------------------------------------------------------------- fixtures


@pytest.fixture(scope='module', autouse=True)
def wandb_env(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[pathlib.Path]:
    """Offline, silent W&B for this module, with its own folders.

    W&B reads its environment once per process (at its first use) and
    keeps the result: it is reset before and after the module so that the
    variables apply here and nowhere else.
    """
    root = tmp_path_factory.mktemp('wandb_env')
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv('WANDB_MODE', 'offline')
        patch.setenv('WANDB_SILENT', 'true')
        for name in ('DIR', 'CONFIG_DIR', 'CACHE_DIR', 'DATA_DIR'):
            patch.setenv(f'WANDB_{name}', str(root / name.lower()))
        wandb.teardown()
        try:
            yield root
        finally:
            wandb.teardown()


def metric(
    epoch: int,
    metrics: dict[str, float],
    source: str = 'Trainer',
    model: str = 'Lin',
) -> events.MetricEvent:
    return events.MetricEvent(
        model_name=model, source_name=source, epoch=epoch, metrics=metrics
    )


@pytest.fixture(scope='module')
def recorded(
    tmp_path_factory: pytest.TempPathFactory, wandb_env: pathlib.Path
) -> OfflineRun:
    """One offline run of a real experiment, shared by several tests."""
    root = tmp_path_factory.mktemp('wandb_module')
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        exp = Experiment(
            Config(), name='W', par_dir=root / 'out', tags=['demo', 'b']
        )
        exp.trackers.subscribe(Wandb())
        with exp.create_run(run_id='run1') as run:
            for epoch in (1, 2):
                run.publish(metric(epoch, {'MSE': 1.0 / epoch, 'Top/1': 0.5}))
                run.publish(metric(epoch, {'MSE': 2.0 / epoch}, 'Val'))
            run.publish(metric(1, {'MSE': 9.0}, model='Other'))
    (offline,) = offline_runs(root / 'out', 'W_run1')
    return offline


# ---------------------------------------------------------- one W&B run


def test_files_stay_in_par_dir(
    recorded: OfflineRun, wandb_env: pathlib.Path
) -> None:
    root = recorded.folder.parents[2]
    assert recorded.folder.parent == root / 'out' / 'wandb'
    assert sorted(p.name for p in root.iterdir()) == ['out']
    assert not list(wandb_env.glob('*/wandb/*run*'))


def test_run_identity_and_tags(recorded: OfflineRun) -> None:
    run = recorded.run
    assert run.run_id == 'W_run1'
    assert run.display_name == 'W_run1'
    assert run.project == 'W'
    assert run.run_group == 'W'
    assert list(run.tags) == ['demo', 'b']


def test_config_is_the_recursive_repr(recorded: OfflineRun) -> None:
    assert recorded.config == {'class': 'Config', 'batch_size': 4, 'lr': 0.01}


def test_metrics_are_logged_against_the_model_epoch(
    recorded: OfflineRun,
) -> None:
    top = f'Lin/Trainer-Top{SLASH_SUBSTITUTE}1'  # '/' would make a section
    assert recorded.step_metrics == {
        'Progress/Lin': '',
        'Lin/Trainer-MSE': 'Progress/Lin',
        top: 'Progress/Lin',
        'Lin/Val-MSE': 'Progress/Lin',
        'Progress/Other': '',
        'Other/Trainer-MSE': 'Progress/Other',
    }
    assert recorded.history == [
        {'Progress/Lin': 1, 'Lin/Trainer-MSE': 1.0, top: 0.5},
        {'Progress/Lin': 1, 'Lin/Val-MSE': 2.0},
        {'Progress/Lin': 2, 'Lin/Trainer-MSE': 0.5, top: 0.5},
        {'Progress/Lin': 2, 'Lin/Val-MSE': 1.0},
        {'Progress/Other': 1, 'Other/Trainer-MSE': 9.0},
    ]


def test_completed_run_finishes_with_exit_code_0(
    recorded: OfflineRun,
) -> None:
    assert recorded.exit_code == 0


# ---------------------------------------------------------- other runs


def test_resumed_run_continues_the_same_wandb_run(
    tmp_path: pathlib.Path,
) -> None:
    tracker = Wandb()
    exp = Experiment(Config(), name='W', par_dir=tmp_path)
    exp.trackers.subscribe(tracker)
    with exp.create_run(run_id='run1') as run:
        first = (tracker.run.id, tracker.run.settings.resume)
        run.publish(metric(1, {'MSE': 1.0}))
    with exp.create_run(run_id='run1', resume=True) as run:
        second = (tracker.run.id, tracker.run.settings.resume)
        run.publish(metric(2, {'MSE': 0.5}))
    assert first == ('W_run1', None)
    assert second == ('W_run1', 'allow')
    runs = offline_runs(tmp_path, 'W_run1')
    assert [r.run.run_id for r in runs] == ['W_run1', 'W_run1']
    assert [r.history for r in runs] == [
        [{'Progress/Lin': 1, 'Lin/Trainer-MSE': 1.0}],
        [{'Progress/Lin': 2, 'Lin/Trainer-MSE': 0.5}],
    ]


def test_failed_run_finishes_with_exit_code_1(tmp_path: pathlib.Path) -> None:
    exp = Experiment(Config(), name='W', par_dir=tmp_path)
    exp.trackers.subscribe(Wandb())
    with pytest.raises(KeyError):
        with exp.create_run(run_id='bad'):
            raise KeyError('boom')
    (offline,) = offline_runs(tmp_path, 'W_bad')
    assert offline.exit_code == 1


def test_settings_take_precedence(tmp_path: pathlib.Path) -> None:
    settings = wandb.Settings(
        project='proj',
        run_group='grp',
        run_id='custom-id',
        run_name='nice name',
        run_tags=('extra', 'demo'),
    )
    exp = Experiment(Config(), name='W', par_dir=tmp_path, tags=['demo'])
    exp.trackers.subscribe(
        Wandb(par_dir=tmp_path / 'elsewhere', settings=settings)
    )
    with exp.create_run(run_id='run1'):
        pass
    (offline,) = offline_runs(tmp_path / 'elsewhere', 'custom-id')
    run = offline.run
    assert (run.project, run.run_group, run.run_id, run.display_name) == (
        'proj',
        'grp',
        'custom-id',
        'nice name',
    )
    assert list(run.tags) == ['demo', 'extra']
    assert not (tmp_path / 'wandb').exists()


def test_run_exists_only_during_a_run(tmp_path: pathlib.Path) -> None:
    tracker = Wandb()
    with pytest.raises(exceptions.AccessOutsideScopeError):
        _ = tracker.run
    exp = Experiment(Config(), name='W', par_dir=tmp_path)
    exp.trackers.subscribe(tracker)
    with exp.create_run(run_id='run1'):
        assert tracker.run.id == 'W_run1'
    with pytest.raises(exceptions.AccessOutsideScopeError):
        _ = tracker.run


def test_disabled_mode_logs_nothing_and_does_not_fail(
    tmp_path: pathlib.Path,
) -> None:
    exp = Experiment(Config(), name='W', par_dir=tmp_path)
    tracker = Wandb(settings=wandb.Settings(mode='disabled'))
    exp.trackers.subscribe(tracker)
    with exp.create_run(run_id='run1') as run:
        assert tracker.run.disabled
        run.publish(metric(1, {'MSE': 1.0}))
    assert offline_runs(tmp_path, 'W_run1') == []


def test_failing_tracker_is_detached_from_that_run_only(
    tmp_path: pathlib.Path,
) -> None:
    # the run goes on without it; it is not removed from the experiment
    blocker = tmp_path / 'wandb'
    blocker.write_text('a file where W&B writes')
    exp = Experiment(Config(), name='W', par_dir=tmp_path)
    exp.trackers.subscribe(Wandb())
    with pytest.warns(exceptions.TrackerExceptionWarning, match='Wandb'):
        run = exp.create_run(run_id='run1').start()
    run.publish(metric(1, {'MSE': 1.0}))
    run.stop()
    assert run.status == 'completed'
    assert blocker.read_text() == 'a file where W&B writes'

    blocker.unlink()
    with exp.create_run(run_id='run2') as run2:
        run2.publish(metric(1, {'MSE': 2.0}))
    (offline,) = offline_runs(tmp_path, 'W_run2')
    assert offline.history == [{'Progress/Lin': 1, 'Lin/Trainer-MSE': 2.0}]


class _NotResumedOnlineRun:
    """Stands in for a W&B run that the server could not continue."""

    id = 'W_run1'
    offline = False
    disabled = False
    resumed = False

    def finish(self, exit_code: int = 0) -> None:
        self.exit_code = exit_code


def test_warns_when_wandb_does_not_continue_a_resumed_run(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[dict[str, Any]] = []

    def fake_init(**kwargs: Any) -> _NotResumedOnlineRun:
        calls.append(kwargs)
        return _NotResumedOnlineRun()

    monkeypatch.setattr(wandb_tracker.wandb, 'init', fake_init)
    tracker = Wandb()
    start = events.StartRunEvent(
        config=Config(),
        exp_name='W',
        run_ts=datetime.datetime(2026, 1, 1),
        run_id='run1',
        resumed=True,
        par_dir=tmp_path,
    )
    with pytest.warns(WandbWarning, match='found no run W_run1 to continue'):
        tracker.notify(start)
    assert calls[0]['resume'] == 'allow'
    assert calls[0]['id'] == 'W_run1'
    assert calls[0]['dir'] == str(tmp_path)
    tracker.notify(events.StopRunEvent(exp_name='W', run_id='run1'))


# ------------------------------------------------------------- naming


def test_run_id_is_the_experiment_and_run_id() -> None:
    assert wandb_run_id('Exp', '2026-11-27@12h08m16s') == (
        'Exp_2026-11-27@12h08m16s'
    )


@pytest.mark.parametrize(
    ('exp_name', 'run_id'),
    [('a#b', 'r;1'), ("it's", 'x,y'), ('E' * 60, 'run')],
)
def test_run_id_is_made_acceptable_and_stays_unique(
    exp_name: str, run_id: str
) -> None:
    derived = wandb_run_id(exp_name, run_id)
    assert len(derived) <= 64
    assert not set(derived) & set(":;,#?/' ")
    assert derived == wandb_run_id(exp_name, run_id)
    assert derived != wandb_run_id(exp_name, run_id + '2')
    wandb.Settings(run_id=derived)  # W&B accepts it


def test_project_name_is_made_acceptable() -> None:
    assert wandb_project_name('Exp') == 'Exp'
    for name in ('a%b', 'a#b', 'x' * 200):
        project = wandb_project_name(name)
        assert len(project) <= 128
        assert not set(project) & set('/\\#?%:')
        wandb.Settings(project=project)  # W&B accepts it
    assert wandb_project_name('a%b') != wandb_project_name('a#b')


def test_missing_package_gives_an_install_hint(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, 'wandb', None)
    monkeypatch.delitem(sys.modules, 'drytorch.trackers.wandb')
    with pytest.raises(ImportError) as info:
        importlib.import_module('drytorch.trackers.wandb')
    assert str(info.value) == (
        "W&B tracker needs the 'wandb' extra: pip install 'drytorch[wandb]'"
    )
    assert info.value.name == 'wandb'
