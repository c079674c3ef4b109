"""Tests of drytorch.trackers.tensorboard: scalars in TensorBoard event files.

Besides the scalars: a '/' in a name never adds a level to the tag, other
characters are kept as they are, and a failing tracker is detached from
that run only.

Event files are read back with TensorBoard's own EventAccumulator.
"""

from __future__ import annotations

import dataclasses
import datetime
import importlib
import pathlib
import socket
import sys
import time
import urllib.error
import urllib.request
from typing import Any

import pytest

pytest.importorskip('tensorboard', reason='needs the tensorboard extra')

import torch
from conftest import Config
from tensorboard.backend.event_processing.event_accumulator import (
    EventAccumulator,
)
from tensorboard.plugins.hparams import api_pb2, plugin_data_pb2
from tensorboard.plugins.hparams import metadata as hparams_metadata
from torch import nn
from torch.utils.data import TensorDataset

from drytorch.core import events, exceptions
from drytorch.core.experiment import Experiment
from drytorch.lib.learn import LearningSchema
from drytorch.lib.load import DataLoader
from drytorch.lib.models import Model
from drytorch.lib.objectives import Loss
from drytorch.lib.train import Trainer
from drytorch.trackers._external import SLASH_SUBSTITUTE
from drytorch.trackers.tensorboard import TensorBoard

RUN_TS = datetime.datetime(2026, 11, 27, 12, 8, 16)
RUN_ID = '2026-11-27@12h08m16s'


@dataclasses.dataclass(frozen=True)
class Optim:
    name: str = 'adam'
    betas: tuple[float, float] = (0.9, 0.999)


@dataclasses.dataclass(frozen=True)
class NestedCfg:
    batch_size: int = 4
    lr: float = 0.01
    shuffle: bool = True
    layers: list[int] = dataclasses.field(default_factory=lambda: [8, 4])
    optim: Optim = dataclasses.field(default_factory=Optim)


def start(
    par_dir: pathlib.Path,
    config: Any = None,
    tags: list[str] | None = None,
    resumed: bool = False,
    exp_name: str = 'TinyExp',
) -> events.StartRunEvent:
    return events.StartRunEvent(
        config=NestedCfg() if config is None else config,
        exp_name=exp_name,
        run_ts=RUN_TS,
        run_id=RUN_ID,
        resumed=resumed,
        par_dir=par_dir,
        tags=tags or [],
    )


def stop(status: str = 'completed') -> events.StopRunEvent:
    return events.StopRunEvent(
        exp_name='TinyExp', run_id=RUN_ID, status=status
    )


def metric(
    epoch: int,
    value: float,
    name: str = 'MSE',
    source: str = 'Trainer',
    model: str = 'Lin',
) -> events.MetricEvent:
    return events.MetricEvent(
        model_name=model,
        source_name=source,
        epoch=epoch,
        metrics={name: value},
    )


def end_epoch(epoch: int) -> events.EndEpochEvent:
    return events.EndEpochEvent(
        source_name='Trainer', model_name='Lin', epoch=epoch
    )


def log_dir(par_dir: pathlib.Path, exp: str = 'TinyExp') -> pathlib.Path:
    return par_dir / 'tensorboard' / exp / '2026-11-27' / '12h08m16s'


def read(path: pathlib.Path) -> EventAccumulator:
    accumulator = EventAccumulator(str(path))
    accumulator.Reload()
    return accumulator


def scalars(acc: EventAccumulator, tag: str) -> list[tuple[int, float]]:
    return [(event.step, event.value) for event in acc.Scalars(tag)]


def hparams_of(acc: EventAccumulator, tag: str) -> Any:
    content = acc.PluginTagToContent(hparams_metadata.PLUGIN_NAME)[tag]
    return plugin_data_pb2.HParamsPluginData.FromString(content)


# ---------------------------------------------------------------- layout


def test_scalars_at_epoch_steps_in_the_run_folder(
    tmp_path: pathlib.Path,
) -> None:
    tracker = TensorBoard()
    tracker.notify(start(tmp_path))
    for epoch, value in ((1, 2.0), (2, 1.5)):
        tracker.notify(metric(epoch, value))
        tracker.notify(metric(epoch, value + 1, source='Validation'))
        tracker.notify(end_epoch(epoch))
    tracker.notify(stop())
    files = list(log_dir(tmp_path).glob('events.out.tfevents.*'))
    assert len(files) == 1
    acc = read(log_dir(tmp_path))
    assert sorted(acc.Tags()['scalars']) == [
        'Lin/Trainer-MSE',
        'Lin/Validation-MSE',
    ]
    assert scalars(acc, 'Lin/Trainer-MSE') == [(1, 2.0), (2, 1.5)]
    assert scalars(acc, 'Lin/Validation-MSE') == [(1, 3.0), (2, 2.5)]


def test_user_par_dir_and_plain_run_id(tmp_path: pathlib.Path) -> None:
    tracker = TensorBoard(par_dir=tmp_path / 'tb_root')
    event = dataclasses.replace(start(tmp_path / 'exp'), run_id='my_run')
    tracker.notify(event)
    tracker.notify(metric(1, 0.5))
    tracker.notify(stop())
    folder = tmp_path / 'tb_root' / 'tensorboard' / 'TinyExp' / 'my_run'
    assert scalars(read(folder), 'Lin/Trainer-MSE') == [(1, 0.5)]
    assert not (tmp_path / 'exp' / 'tensorboard').exists()


def test_events_are_flushed_at_epoch_end_without_closing(
    tmp_path: pathlib.Path,
) -> None:
    tracker = TensorBoard(max_queue_size=1000, flush_secs=3600)
    tracker.notify(start(tmp_path))
    tracker.notify(metric(1, 0.25))
    tracker.notify(end_epoch(1))
    # The writer is still open: only the flush made the value readable.
    assert scalars(read(log_dir(tmp_path)), 'Lin/Trainer-MSE') == [(1, 0.25)]
    tracker.notify(
        events.MetricEvent(
            model_name='Lin', source_name='Test', epoch=1, metrics={'MSE': 4}
        )
    )
    tracker.notify(events.EndTestEvent(source_name='Test', model_name='Lin'))
    assert scalars(read(log_dir(tmp_path)), 'Lin/Test-MSE') == [(1, 4.0)]
    tracker.notify(stop())


def test_tensor_values_are_accepted(tmp_path: pathlib.Path) -> None:
    tracker = TensorBoard()
    tracker.notify(start(tmp_path))
    tracker.notify(
        events.MetricEvent(
            model_name='Lin',
            source_name='Trainer',
            epoch=1,
            metrics={'MSE': torch.tensor(0.5)},  # type: ignore[dict-item]
        )
    )
    tracker.notify(stop())
    assert scalars(read(log_dir(tmp_path)), 'Lin/Trainer-MSE') == [(1, 0.5)]


def test_resumed_run_adds_events_in_the_same_folder(
    tmp_path: pathlib.Path,
) -> None:
    tracker = TensorBoard()
    tracker.notify(start(tmp_path))
    tracker.notify(metric(1, 1.0))
    tracker.notify(stop())
    tracker.notify(start(tmp_path, resumed=True))
    tracker.notify(metric(2, 0.5))
    tracker.notify(stop())
    folder = log_dir(tmp_path)
    assert len(list(folder.glob('events.out.tfevents.*'))) >= 1
    assert scalars(read(folder), 'Lin/Trainer-MSE') == [(1, 1.0), (2, 0.5)]


# --------------------------------------------------------------- tags


def test_slash_in_names_does_not_change_the_tag_hierarchy(
    tmp_path: pathlib.Path,
) -> None:
    # used as it is, 'Top/1' would add a level to the tag hierarchy
    tracker = TensorBoard()
    tracker.notify(start(tmp_path))
    tracker.notify(metric(1, 0.9, name='Top/1', source='Val/A', model='Net'))
    tracker.notify(stop())
    acc = read(log_dir(tmp_path))
    slash = SLASH_SUBSTITUTE
    expected = f'Net/Val{slash}A-Top{slash}1'
    assert acc.Tags()['scalars'] == [expected]
    assert expected.count('/') == 1
    assert scalars(acc, expected) == [(1, pytest.approx(0.9))]


def test_format_characters_in_names_are_kept_verbatim(
    tmp_path: pathlib.Path,
) -> None:
    # names are data: ')' or '%' must not be read as %-formatting
    tracker = TensorBoard()
    tracker.notify(start(tmp_path))
    names = ['Top-1 (%)', 'a)b', '%(x)s', 'naïve {0}']
    tracker.notify(
        events.MetricEvent(
            model_name='Lin',
            source_name='Val',
            epoch=3,
            metrics={name: float(i) for i, name in enumerate(names)},
        )
    )
    tracker.notify(stop())
    acc = read(log_dir(tmp_path))
    assert sorted(acc.Tags()['scalars']) == sorted(
        f'Lin/Val-{name}' for name in names
    )
    for i, name in enumerate(names):
        assert scalars(acc, f'Lin/Val-{name}') == [(3, float(i))]


# ------------------------------------------------- hparams, tags as text


def test_config_is_written_as_flat_hparams(tmp_path: pathlib.Path) -> None:
    tracker = TensorBoard()
    tracker.notify(start(tmp_path))
    tracker.notify(stop())
    acc = read(log_dir(tmp_path))
    data = hparams_of(acc, hparams_metadata.SESSION_START_INFO_TAG)
    values = {
        name: getattr(value, value.WhichOneof('kind'))
        for name, value in data.session_start_info.hparams.items()
    }
    assert values == {
        'class': 'NestedCfg',
        'batch_size': 4.0,
        'lr': 0.01,
        'shuffle': True,
        'layers': '[8, 4]',
        'optim.class': 'Optim',
        'optim.name': 'adam',
        'optim.betas': '[0.9, 0.999]',
    }
    kinds = data.session_start_info.hparams
    assert kinds['shuffle'].WhichOneof('kind') == 'bool_value'
    assert kinds['batch_size'].WhichOneof('kind') == 'number_value'
    assert kinds['layers'].WhichOneof('kind') == 'string_value'


def test_scalar_config_gets_a_single_hparam(tmp_path: pathlib.Path) -> None:
    tracker = TensorBoard()
    tracker.notify(start(tmp_path, config=0.5))
    tracker.notify(stop())
    data = hparams_of(
        read(log_dir(tmp_path)), hparams_metadata.SESSION_START_INFO_TAG
    )
    hparams = data.session_start_info.hparams
    assert list(hparams) == ['config']
    assert hparams['config'].number_value == 0.5


@pytest.mark.parametrize(
    ('status', 'expected'),
    [
        ('completed', api_pb2.Status.STATUS_SUCCESS),
        ('failed', api_pb2.Status.STATUS_FAILURE),
    ],
)
def test_session_end_records_the_run_status(
    tmp_path: pathlib.Path, status: str, expected: int
) -> None:
    tracker = TensorBoard()
    tracker.notify(start(tmp_path))
    tracker.notify(stop(status))
    data = hparams_of(
        read(log_dir(tmp_path)), hparams_metadata.SESSION_END_INFO_TAG
    )
    assert data.session_end_info.status == expected


def test_tags_are_written_as_text(tmp_path: pathlib.Path) -> None:
    tracker = TensorBoard()
    tracker.notify(start(tmp_path, tags=['demo', 'a/b <i>']))
    tracker.notify(stop())
    acc = read(log_dir(tmp_path))
    texts = {
        tag: acc.Tensors(tag)[0].tensor_proto.string_val[0].decode()
        for tag in acc.Tags()['tensors']
    }
    assert texts == {
        'tag 0/text_summary': 'demo',
        'tag 1/text_summary': 'a/b <i>',
    }


# ------------------------------------------------------------ lifecycle


def test_writer_exists_only_during_a_run(tmp_path: pathlib.Path) -> None:
    tracker = TensorBoard()
    with pytest.raises(exceptions.AccessOutsideScopeError):
        _ = tracker.writer
    tracker.notify(start(tmp_path))
    assert tracker.writer.get_logdir() == str(log_dir(tmp_path))
    tracker.notify(stop())
    with pytest.raises(exceptions.AccessOutsideScopeError):
        _ = tracker.writer
    tracker.clean_up()  # a second clean-up does nothing


@pytest.mark.parametrize(
    'kwargs', [{'max_queue_size': 0}, {'flush_secs': 0}, {'flush_secs': -1}]
)
def test_invalid_buffer_settings(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError, match='Expected'):
        TensorBoard(**kwargs)  # type: ignore[arg-type]


def test_names_cannot_lead_outside_par_dir(tmp_path: pathlib.Path) -> None:
    par_dir = tmp_path / 'inside'
    tracker = TensorBoard()
    with pytest.raises(exceptions.InvalidNameError):
        tracker.notify(start(par_dir, exp_name='..'))
    tracker.clean_up()
    assert sorted(p.name for p in tmp_path.iterdir()) == ['inside']
    assert list(par_dir.iterdir()) == []


def test_missing_package_gives_an_install_hint(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in list(sys.modules):
        if name == 'tensorboard' or name.startswith(
            ('tensorboard.', 'torch.utils.tensorboard')
        ):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, 'tensorboard', None)
    monkeypatch.delitem(sys.modules, 'drytorch.trackers.tensorboard')
    with pytest.raises(ImportError) as info:
        importlib.import_module('drytorch.trackers.tensorboard')
    assert str(info.value) == (
        "TensorBoard tracker needs the 'tensorboard' extra: "
        "pip install 'drytorch[tensorboard]'"
    )
    assert info.value.name == 'tensorboard'


# ------------------------------------------------------------ end to end


def regression_data() -> TensorDataset:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(32, 3, generator=generator)
    return TensorDataset(x, x.sum(dim=1, keepdim=True))


def mse(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return ((outputs - targets) ** 2).mean(dim=1)


def test_training_writes_one_point_per_epoch(
    tmp_path: pathlib.Path, config: Config
) -> None:
    exp = Experiment(config, name='TB', par_dir=tmp_path, tags=['demo'])
    exp.trackers.subscribe(TensorBoard())
    with exp.create_run(run_id='run1'):
        model = Model(nn.Linear(3, 1), name='Lin')
        trainer = Trainer(
            model,
            loader=DataLoader(regression_data(), batch_size=8),
            loss=Loss(mse, 'MSE'),
            learning_schema=LearningSchema.adam(0.01),
        )
        trainer.train(2)
        losses = trainer.computed_metrics
    acc = read(tmp_path / 'tensorboard' / 'TB' / 'run1')
    points = scalars(acc, 'Lin/Trainer-MSE')
    assert [step for step, _ in points] == [1, 2]
    assert points[-1][1] == pytest.approx(float(losses['MSE']))


def test_failing_tracker_is_detached_from_that_run_only(
    tmp_path: pathlib.Path, config: Config
) -> None:
    # the run goes on without it; it is not removed from the experiment
    blocker = tmp_path / 'tensorboard'
    blocker.write_text('a file where the log folder goes')
    tracker = TensorBoard()
    exp = Experiment(config, name='TB', par_dir=tmp_path)
    exp.trackers.subscribe(tracker)
    with pytest.warns(exceptions.TrackerExceptionWarning, match='TensorBoard'):
        run = exp.create_run(run_id='run1').start()
    run.publish(metric(1, 1.0))  # the run goes on without the tracker
    run.stop()
    assert run.status == 'completed'
    assert exp.registry.get('run1').status == 'completed'
    assert blocker.read_text() == 'a file where the log folder goes'

    blocker.unlink()
    with exp.create_run(run_id='run2') as run2:
        run2.publish(metric(1, 2.0))
    acc = read(tmp_path / 'tensorboard' / 'TB' / 'run2')
    assert scalars(acc, 'Lin/Trainer-MSE') == [(1, 2.0)]


# ---------------------------------------------------------------- server


def _runs_listed(url: str) -> str:
    try:
        with urllib.request.urlopen(url + 'data/runs', timeout=1) as response:
            return response.read().decode()
    except (urllib.error.URLError, OSError):
        return ''


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1)
        return sock.connect_ex(('127.0.0.1', port)) == 0


def test_no_server_is_started_by_default(tmp_path: pathlib.Path) -> None:
    tracker = TensorBoard()
    tracker.notify(start(tmp_path))
    assert tracker.server_url is None
    tracker.notify(stop())


@pytest.mark.slow
def test_server_serves_the_logs_and_stops_on_clean_up(
    tmp_path: pathlib.Path,
) -> None:
    tracker = TensorBoard(start_server=True)
    tracker.notify(start(tmp_path))
    url = tracker.server_url
    process = tracker._server
    assert url is not None
    assert process is not None
    assert url.startswith('http://127.0.0.1:')
    port = int(url.rsplit(':', 1)[1].strip('/'))
    try:
        deadline = time.monotonic() + 60
        while 'TinyExp/2026-11-27/12h08m16s' not in _runs_listed(url):
            assert process.poll() is None, 'the server exited'
            assert time.monotonic() < deadline, 'the server never answered'
            time.sleep(0.2)
    finally:
        tracker.notify(stop())
    assert tracker.server_url is None
    assert process.poll() is not None
    deadline = time.monotonic() + 10
    while _port_open(port):
        assert time.monotonic() < deadline, 'the port is still open'
        time.sleep(0.1)
