"""Tests of the metric history: drytorch.core.history and its writer."""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import signal
import subprocess
import sys
import textwrap
import warnings

import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from drytorch.core import exceptions, history
from drytorch.core.experiment import Experiment
from drytorch.lib import evaluations
from drytorch.lib.learn import LearningSchema
from drytorch.lib.load import DataLoader
from drytorch.lib.models import Model
from drytorch.lib.objectives import Loss
from drytorch.lib.train import Trainer
from drytorch.trackers.history import HistoryWriter

EXP = 'HistExp'


@dataclasses.dataclass(frozen=True)
class Config:
    lr: float = 0.05
    width: int = 4


def _experiment(
    par_dir: pathlib.Path, config: Config = Config()
) -> Experiment[Config]:
    experiment = Experiment(config, name=EXP, par_dir=par_dir)
    experiment.trackers.subscribe(HistoryWriter())
    return experiment


def _trainer(config: Config, validation: bool = True) -> Trainer:
    torch.manual_seed(0)
    inputs = torch.randn(32, 3)
    targets = inputs.sum(dim=1, keepdim=True)
    loader = DataLoader(TensorDataset(inputs, targets), batch_size=8)
    model = Model(nn.Linear(3, 1), name='Lin')
    trainer = Trainer(
        model,
        loader=loader,
        loss=Loss(nn.functional.mse_loss, 'MSE'),
        learning_schema=LearningSchema.adam(config.lr),
    )
    if validation:
        trainer.add_validation(loader)
    return trainer


def _lines(path: pathlib.Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_history_records_every_epoch_of_train_and_validation(
    tmp_path: pathlib.Path,
) -> None:
    experiment = _experiment(tmp_path)
    with experiment.create_run(run_id='r1'):
        trainer = _trainer(experiment.config)
        trainer.train(3)
        evaluations.Test(
            trainer.model, loader=trainer.loader, metric=trainer.objective
        )()

    found = history.load_history(experiment, 'r1')
    assert found is not None
    assert found.path == (
        tmp_path / '.drytorch' / EXP / 'run_files' / 'r1' / 'history.jsonl'
    )
    assert found.experiment == EXP
    assert found.run_id == 'r1'
    roles = {key: s.role for key, s in found.series.items()}
    assert roles == {
        ('Lin', 'Trainer'): 'train',
        ('Lin', 'Validation'): 'validation',
        ('Lin', 'Test'): 'test',
    }
    train = found.series['Lin', 'Trainer']
    assert train.epochs == [1, 2, 3]
    assert len(train.metrics['MSE']) == 3
    assert train.metrics['MSE'][-1] < train.metrics['MSE'][0]
    assert found.series['Lin', 'Test'].epochs == [3]
    assert found.epochs == 3
    assert found.config == {'lr': 0.05, 'width': 4}
    assert found.last_status == 'completed'
    assert found.duration > 0
    # the same file read through the registry folder
    by_path = history.load_history(experiment.registry.path, 'r1')
    assert by_path is not None
    assert by_path.series['Lin', 'Trainer'].metrics == train.metrics


def test_metric_lines_reach_the_file_once_per_epoch(
    tmp_path: pathlib.Path,
) -> None:
    experiment = _experiment(tmp_path)
    seen: list[int] = []
    with experiment.create_run(run_id='r1'):
        trainer = _trainer(experiment.config)
        path = history.history_path(experiment.registry.path, 'r1')

        def count(_: Trainer) -> None:
            # during the epoch (after validation) its lines are not written
            lines = _lines(path)
            seen.append(sum(line.get('kind') == 'metrics' for line in lines))

        trainer.post_epoch_hooks.register(count)
        trainer.train(2)
    assert seen == [0, 2]  # train + validation of epoch 1, when epoch 2 runs


def test_unrecorded_runs_have_no_history(tmp_path: pathlib.Path) -> None:
    experiment = _experiment(tmp_path)
    with experiment.create_run(record=False) as run:
        _trainer(experiment.config).train(1)
    assert history.load_history(experiment, run.id) is None
    assert not (tmp_path / '.drytorch' / EXP / 'run_files').exists()


def test_resume_continues_without_duplicates(tmp_path: pathlib.Path) -> None:
    experiment = _experiment(tmp_path)
    with experiment.create_run(run_id='r1'):
        trainer = _trainer(experiment.config)
        trainer.train(3)
        first = history.load_history(experiment, 'r1')
    assert first is not None
    before = first.series['Lin', 'Trainer'].metrics['MSE']

    with experiment.create_run(run_id='r1', resume=True):
        trainer = _trainer(experiment.config)
        trainer.model.epoch = 3  # as if the last checkpoint were loaded
        trainer.train(2)
    resumed = history.load_history(experiment, 'r1')
    assert resumed is not None
    train = resumed.series['Lin', 'Trainer']
    assert train.epochs == [1, 2, 3, 4, 5]
    assert train.metrics['MSE'][:3] == before
    assert len(resumed.starts) == 2
    assert [status for _, status in resumed.stops] == ['completed'] * 2

    # resumed again from epoch 1: epochs 2.. are replaced, not duplicated
    with experiment.create_run(run_id='r1', resume=True):
        trainer = _trainer(experiment.config)
        trainer.model.epoch = 1
        trainer.train(1)
    again = history.load_history(experiment, 'r1')
    assert again is not None
    assert again.series['Lin', 'Trainer'].epochs == [1, 2]
    assert again.series['Lin', 'Trainer'].metrics['MSE'][0] == before[0]


def test_torn_last_line_is_ignored_and_cut_before_appending(
    tmp_path: pathlib.Path,
) -> None:
    experiment = _experiment(tmp_path)
    with experiment.create_run(run_id='r1'):
        _trainer(experiment.config).train(2)
    path = history.history_path(experiment.registry.path, 'r1')
    with open(path, 'ab') as stream:
        stream.write(b'{"kind": "metrics", "time": 1, "model": "Li')
    torn = history.load_history(experiment, 'r1')
    assert torn is not None
    assert torn.series['Lin', 'Trainer'].epochs == [1, 2]

    with experiment.create_run(run_id='r1', resume=True):
        trainer = _trainer(experiment.config)
        trainer.model.epoch = 2
        trainer.train(1)
    for line in path.read_bytes().splitlines():
        json.loads(line)  # every line whole again
    resumed = history.load_history(experiment, 'r1')
    assert resumed is not None
    assert resumed.series['Lin', 'Trainer'].epochs == [1, 2, 3]


def _write(path: pathlib.Path, data: bytes) -> pathlib.Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_corrupt_complete_line_raises_naming_the_file(
    tmp_path: pathlib.Path,
) -> None:
    path = history.history_path(tmp_path, 'bad')
    header = history.header_line(EXP, 'bad')
    _write(path, header + b'{"kind": "metrics", oops\n{"kind": "stop"}\n')
    with pytest.raises(exceptions.HistoryCorruptedError) as info:
        history.load_history(tmp_path, 'bad')
    assert str(path) in str(info.value)
    assert 'line 2' in str(info.value)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    'content',
    [
        b'',
        b'epoch,loss\n1,0.5\n',
        b'{"format": "something-else"}\n',
        b'{"format": "drytorch-history", "version": 99}\n',
    ],
)
def test_foreign_files_raise_naming_the_file(
    tmp_path: pathlib.Path, content: bytes
) -> None:
    path = _write(history.history_path(tmp_path, 'other'), content)
    with pytest.raises(exceptions.HistoryCorruptedError, match='other'):
        history.load_history(tmp_path, 'other')
    assert path.read_bytes() == content


@pytest.mark.parametrize(
    'foreign', [b'not a history\n', b'no line break', b'a\nb\ntorn']
)
def test_writer_never_overwrites_a_foreign_file(
    tmp_path: pathlib.Path, foreign: bytes
) -> None:
    experiment = _experiment(tmp_path)
    with experiment.create_run(run_id='r1'):
        pass
    path = history.history_path(experiment.registry.path, 'r1')
    path.write_bytes(foreign)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        with experiment.create_run(run_id='r1', resume=True):
            _trainer(experiment.config).train(1)
    assert any(
        isinstance(w.message, exceptions.TrackerExceptionWarning)
        and 'HistoryCorruptedError' in str(w.message)
        for w in caught
    ), [str(w.message) for w in caught]
    assert path.read_bytes() == foreign


def test_resolve_epochs_keeps_the_later_values() -> None:
    rows = [(1, {'a': 1.0}), (2, {'a': 2.0}), (3, {'a': 3.0}), (2, {'a': 9.0})]
    assert history.resolve_epochs(rows) == ([1, 2], {'a': [1.0, 9.0]})


_KILLED_SCRIPT = textwrap.dedent(
    """
    import os, signal, sys
    import torch
    from torch import nn
    from torch.utils.data import TensorDataset
    import drytorch
    from drytorch import Experiment, Model, Trainer, DataLoader, Loss
    from drytorch import LearningSchema

    drytorch.init_trackers('standard')  # the history writer is a default
    experiment = Experiment(None, name='Killed', par_dir=sys.argv[1])
    run = experiment.create_run(run_id='victim')
    run.start()
    torch.manual_seed(0)
    inputs = torch.randn(64, 3)
    data = TensorDataset(inputs, inputs.sum(dim=1, keepdim=True))
    model = Model(nn.Linear(3, 1), name='Lin')
    trainer = Trainer(
        model,
        loader=DataLoader(data, batch_size=8),
        loss=Loss(nn.functional.mse_loss, 'MSE'),
        learning_schema=LearningSchema.adam(0.05),
    )
    trainer.add_validation(DataLoader(data, batch_size=8))
    original = trainer._run_batch
    count = [0]

    def run_batch(inputs, targets):
        count[0] += 1
        if model.epoch == 4 and count[0] % 8 == 5:
            os.kill(os.getpid(), signal.SIGKILL)  # mid-epoch, no clean-up
        return original(inputs, targets)

    trainer._run_batch = run_batch
    trainer.train(10)
    """
)


def test_history_survives_sigkill_mid_epoch(tmp_path: pathlib.Path) -> None:
    script = tmp_path / 'victim.py'
    script.write_text(_KILLED_SCRIPT)
    result = subprocess.run(
        [sys.executable, str(script), str(tmp_path)],
        capture_output=True,
        timeout=120,
        check=False,
        env={**os.environ, 'PYTHONWARNINGS': 'ignore'},
    )
    assert result.returncode == -signal.SIGKILL, result.stderr.decode()

    experiment = Experiment(None, name='Killed', par_dir=tmp_path)
    record = experiment.registry.get('victim')
    assert record is not None
    assert record.status == 'interrupted'
    found = history.load_history(experiment, 'victim')
    assert found is not None
    assert found.series['Lin', 'Trainer'].epochs == [1, 2, 3]
    assert found.series['Lin', 'Validation'].epochs == [1, 2, 3]
    assert found.stops == []
    assert found.duration > 0
