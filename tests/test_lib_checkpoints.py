"""Checkpoints: paths, atomic saves, choice of the latest, safe loads."""

from __future__ import annotations

import gc
import os
import pathlib
import pickle
from collections.abc import Iterator

import numpy as np
import pytest
import torch
from conftest import Config, RecordingTracker
from torch import nn

from drytorch.core import events, exceptions, track
from drytorch.core.experiment import Experiment, Run
from drytorch.lib.checkpoints import CheckpointPathManager, LocalCheckpoint
from drytorch.lib.models import Model


class FileCheckingTracker(RecordingTracker):
    """Records, for each save/load event, whether its files exist."""

    def __init__(self) -> None:
        super().__init__()
        self.files_present: list[bool] = []

    @track.on(events.SaveModelEvent, events.LoadModelEvent)
    def _check_files(
        self, event: events.SaveModelEvent | events.LoadModelEvent
    ) -> None:
        state = pathlib.Path(event.location) / 'model_state.pt'
        self.files_present.append(state.is_file())


@pytest.fixture
def rec() -> FileCheckingTracker:
    return FileCheckingTracker()


@pytest.fixture
def run(
    tmp_path: pathlib.Path, config: Config, rec: FileCheckingTracker
) -> Iterator[Run]:
    exp = Experiment(config, name='Ck', par_dir=tmp_path)
    exp.trackers.subscribe(rec)
    with exp.create_run(run_id='r') as active:
        yield active


@pytest.fixture
def model(run: Run) -> Model:
    torch.manual_seed(0)
    return Model(nn.Linear(2, 1), name='M', device='cpu')


def _params(model: Model) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.module.state_dict().items()}


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _perturb(model: Model) -> None:
    with torch.no_grad():
        for param in model.module.parameters():
            param.add_(1.0)


def _save_at(model: Model, *epochs: int) -> None:
    for epoch in epochs:
        model.epoch = epoch
        model.save_state()


def _model_dir(model: Model) -> pathlib.Path:
    checkpoint = model.checkpoint
    assert isinstance(checkpoint, LocalCheckpoint)
    return checkpoint.paths.model_dir


# paths


def test_default_paths(tmp_path: pathlib.Path, model: Model) -> None:
    paths = CheckpointPathManager(model)
    assert paths.run_dir == tmp_path / 'checkpoints' / 'Ck' / 'r'
    assert paths.model_dir == paths.run_dir / 'M'
    model.epoch = 3
    assert paths.epoch_dir == paths.model_dir / 'epoch_3'
    assert paths.model_state_path == paths.epoch_dir / 'model_state.pt'
    assert paths.optimizer_state_path == (
        paths.epoch_dir / 'optimizer_state.pt'
    )


def test_timestamp_run_id_splits_in_day_and_time(
    tmp_path: pathlib.Path, config: Config
) -> None:
    exp = Experiment(config, name='Ck', par_dir=tmp_path)
    with exp.create_run(run_id='2026-01-02@10h11m12s'):
        model = Model(nn.Linear(2, 1), name='M', device='cpu')
        run_dir = CheckpointPathManager(model).run_dir
    expected = tmp_path / 'checkpoints' / 'Ck' / '2026-01-02' / '10h11m12s'
    assert run_dir == expected


def test_paths_outside_a_run(model: Model, run: Run) -> None:
    run.stop()
    with pytest.raises(exceptions.AccessOutsideScopeError):
        CheckpointPathManager(model)
    with pytest.raises(exceptions.AccessOutsideScopeError):
        model.save_state()


def test_par_dir_is_the_run_dir(tmp_path: pathlib.Path, run: Run) -> None:
    checkpoint = LocalCheckpoint(tmp_path / 'mine')
    model = Model(nn.Linear(2, 1), name='M', checkpoint=checkpoint)
    model.save_state()
    assert (tmp_path / 'mine' / 'M' / 'epoch_0' / 'model_state.pt').is_file()


# binding


def test_unbound_checkpoint(run: Run) -> None:
    checkpoint = LocalCheckpoint()
    with pytest.raises(exceptions.CheckpointNotInitializedError):
        _ = checkpoint.model
    with pytest.raises(exceptions.CheckpointNotInitializedError):
        checkpoint.save()
    with pytest.raises(exceptions.CheckpointNotInitializedError):
        checkpoint.load()


def test_remove_model_and_bind_optimizer(model: Model) -> None:
    checkpoint = model.checkpoint
    assert isinstance(checkpoint, LocalCheckpoint)
    with pytest.raises(TypeError, match='Optimizer'):
        checkpoint.bind_optimizer('adam')  # type: ignore[arg-type]
    checkpoint.bind_optimizer(torch.optim.SGD(model.module.parameters()))
    checkpoint.remove_model()
    assert checkpoint.optimizer is None
    with pytest.raises(exceptions.CheckpointNotInitializedError):
        _ = checkpoint.model


# save and load


def test_round_trip_with_optimizer(
    model: Model, rec: FileCheckingTracker
) -> None:
    optimizer = torch.optim.Adam(model.module.parameters(), lr=0.1)
    model.module(torch.ones(1, 2)).sum().backward()
    optimizer.step()
    model.checkpoint.bind_optimizer(optimizer)
    model.epoch = 1
    model.save_state()
    saved_params = _params(model)
    saved_step = optimizer.state_dict()['state'][0]['step'].clone()
    _perturb(model)
    optimizer.step()
    model.epoch = 5
    model.load_state()
    assert model.epoch == 1
    assert _same(_params(model), saved_params)
    assert torch.equal(optimizer.state_dict()['state'][0]['step'], saved_step)
    saves = rec.of_type(events.SaveModelEvent)
    loads = rec.of_type(events.LoadModelEvent)
    assert [(e.definition, e.epoch) for e in saves] == [('checkpoint', 1)]
    assert [(e.definition, e.epoch) for e in loads] == [('checkpoint', 1)]
    assert saves[0].location == str(_model_dir(model) / 'epoch_1')
    assert saves[0].model_name == 'M'
    # each event comes after its files were written / read
    assert rec.files_present == [True, True]


def test_state_only_definition(model: Model, rec: FileCheckingTracker) -> None:
    model.save_state()
    model.load_state(0)
    defs = [
        e.definition
        for e in rec.events
        if isinstance(e, events.SaveModelEvent | events.LoadModelEvent)
    ]
    assert defs == ['state', 'state']
    assert not (_model_dir(model) / 'epoch_0' / 'optimizer_state.pt').exists()


def test_latest_is_highest_epoch_not_newest_file(model: Model) -> None:
    # the last checkpoint is the highest epoch, even when an older epoch
    # was saved more recently
    _save_at(model, 1, 2)
    _save_at(model, 1)
    model.epoch = 0
    model.load_state()
    assert model.epoch == 2


def test_latest_compares_epochs_as_numbers(model: Model) -> None:
    # as text, 'epoch_9' > 'epoch_10' and '9' > '10'
    _save_at(model, 9, 10, 2)
    checkpoint = model.checkpoint
    assert isinstance(checkpoint, LocalCheckpoint)
    assert checkpoint.saved_epochs() == [2, 9, 10]
    model.epoch = 0
    model.load_state()
    assert model.epoch == 10


def test_stray_entries_ignored(model: Model) -> None:
    # folders that are not epoch_<N> (a user's 'backup') are ignored, not
    # an error
    _save_at(model, 1, 2)
    model_dir = _model_dir(model)
    (model_dir / 'backup').mkdir()
    (model_dir / 'epoch_x').mkdir()
    (model_dir / 'epoch_007').mkdir()
    (model_dir / 'epoch_9').write_text('a file, not a folder')
    (model_dir / 'epoch_8').mkdir()  # a folder without a state file
    (model_dir / '.epoch_5.123.tmp').mkdir()
    (model_dir / 'notes.txt').write_text('hello')
    checkpoint = model.checkpoint
    assert isinstance(checkpoint, LocalCheckpoint)
    assert checkpoint.saved_epochs() == [1, 2]
    model.epoch = 0
    model.load_state()
    assert model.epoch == 2


def test_torn_newest_file_changes_nothing(
    model: Model, rec: FileCheckingTracker
) -> None:
    # a torn state file fails the load without changing model.epoch or
    # the weights
    _save_at(model, 1, 2)
    state_file = _model_dir(model) / 'epoch_2' / 'model_state.pt'
    content = state_file.read_bytes()
    state_file.write_bytes(content[: len(content) // 2])
    _perturb(model)
    model.epoch = 4
    before = _params(model)
    for epoch in (-1, 2):
        with pytest.raises(RuntimeError):
            model.load_state(epoch)
        assert model.epoch == 4
        assert _same(_params(model), before)
    assert not rec.of_type(events.LoadModelEvent)


def test_failed_write_leaves_previous_checkpoints(
    model: Model, rec: FileCheckingTracker, monkeypatch: pytest.MonkeyPatch
) -> None:
    _save_at(model, 1)
    saved = _params(model)
    real_save = torch.save

    def crash_after_partial_write(obj: object, f: object, **kwargs) -> None:
        real_save(obj, f, **kwargs)
        f.truncate(10)  # type: ignore[attr-defined]
        raise OSError('disk full')

    monkeypatch.setattr(torch, 'save', crash_after_partial_write)
    _perturb(model)
    for epoch in (1, 2):  # overwriting an epoch, and a new one
        model.epoch = epoch
        with pytest.raises(OSError, match='disk full'):
            model.save_state()
    monkeypatch.undo()
    assert sorted(os.listdir(_model_dir(model))) == ['epoch_1']
    assert len(rec.of_type(events.SaveModelEvent)) == 1
    model.load_state()
    assert model.epoch == 1
    assert _same(_params(model), saved)


def test_resave_replaces_epoch(model: Model) -> None:
    _save_at(model, 1)
    _perturb(model)
    newer = _params(model)
    _save_at(model, 1)
    _perturb(model)
    model.load_state(1)
    assert _same(_params(model), newer)
    assert os.listdir(_model_dir(model)) == ['epoch_1']


def test_missing_epoch_names_requested_epoch(model: Model) -> None:
    # the error names the epoch that was asked for
    _save_at(model, 1)
    model.epoch = 3
    with pytest.raises(exceptions.EpochNotFoundError, match='epoch 7') as info:
        model.load_state(7)
    assert info.value.epoch == 7  # type: ignore[attr-defined]
    assert model.epoch == 3


def test_missing_model(model: Model) -> None:
    with pytest.raises(exceptions.ModelNotFoundError):
        model.load_state()
    _model_dir(model).mkdir(parents=True)
    with pytest.raises(exceptions.ModelNotFoundError):
        model.load_state()


@pytest.mark.parametrize('bad', [-2, True, 1.0])
def test_epoch_argument_validated(model: Model, bad: object) -> None:
    with pytest.raises(ValueError, match='epoch'):
        model.load_state(bad)  # type: ignore[arg-type]


def test_missing_optimizer_file_warns_and_loads_module(
    model: Model, rec: FileCheckingTracker
) -> None:
    # a missing optimizer state is a warning; the module's state loads
    _save_at(model, 1)
    saved = _params(model)
    optimizer = torch.optim.SGD(model.module.parameters(), lr=0.1)
    model.checkpoint.bind_optimizer(optimizer)
    _perturb(model)
    with pytest.warns(
        exceptions.OptimizerNotLoadedWarning, match='optimizer_state.pt'
    ):
        model.load_state()
    assert model.epoch == 1
    assert _same(_params(model), saved)
    (load,) = rec.of_type(events.LoadModelEvent)
    assert load.definition == 'state'


def test_mismatched_optimizer_state_warns(model: Model) -> None:
    params = list(model.module.parameters())
    model.checkpoint.bind_optimizer(torch.optim.SGD(params, lr=0.1))
    _save_at(model, 1)
    other = torch.optim.SGD([{'params': [params[0]]}, {'params': [params[1]]}])
    model.checkpoint.bind_optimizer(other)
    lrs = [group['lr'] for group in other.param_groups]
    with pytest.warns(exceptions.OptimizerNotLoadedWarning, match='groups'):
        model.load_state()
    assert [group['lr'] for group in other.param_groups] == lrs
    assert model.epoch == 1


def test_mismatched_module_state_changes_nothing(model: Model) -> None:
    _save_at(model, 1)
    state_file = _model_dir(model) / 'epoch_1' / 'model_state.pt'
    # 'weight' fits: torch would copy it before complaining about 'bias'
    torch.save({'weight': torch.zeros(1, 2)}, state_file)
    model.epoch = 3
    before = _params(model)
    with pytest.raises(RuntimeError, match='missing keys'):
        model.load_state(1)
    assert _same(_params(model), before)
    assert model.epoch == 3


def test_load_needs_a_run(model: Model, run: Run) -> None:
    _save_at(model, 1)
    run.stop()
    with pytest.raises(exceptions.AccessOutsideScopeError):
        model.load_state()


class _Evil:
    def __init__(self, marker: pathlib.Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return os.system, (f'touch {self.marker}',)


def test_weights_only_refuses_code(
    model: Model, tmp_path: pathlib.Path
) -> None:
    _save_at(model, 1)
    marker = tmp_path / 'pwned'
    state_file = _model_dir(model) / 'epoch_1' / 'model_state.pt'
    torch.save({'weight': _Evil(marker)}, state_file)
    model.epoch = 2
    with pytest.raises(pickle.UnpicklingError):
        model.load_state()
    assert not marker.exists()
    assert model.epoch == 2


def test_numpy_values_load_without_global_safe_globals(model: Model) -> None:
    # numpy values in a state load, without adding numpy types to the
    # safe globals of every other torch.load of the process
    before = list(torch.serialization.get_safe_globals())
    assert np.float64 not in before  # importing the module added nothing
    assert np.dtype not in before
    optimizer = torch.optim.SGD(model.module.parameters(), lr=np.float64(0.5))
    model.checkpoint.bind_optimizer(optimizer)
    _save_at(model, 1)
    optimizer.param_groups[0]['lr'] = 0.1
    model.load_state()
    assert optimizer.param_groups[0]['lr'] == 0.5
    assert list(torch.serialization.get_safe_globals()) == before


def test_distributed_saves_unwrapped_module(
    tmp_path: pathlib.Path, config: Config
) -> None:
    dist = torch.distributed
    dist.init_process_group(
        'gloo', init_method=f'file://{tmp_path / "store"}', rank=0,
        world_size=1,
    )  # fmt: skip
    model = None
    try:
        exp = Experiment(config, name='Ck', par_dir=tmp_path)
        with exp.create_run(run_id='r'):
            model = Model(nn.Linear(2, 1), name='M', device='cpu')
            assert isinstance(
                model.module, nn.parallel.DistributedDataParallel
            )
            _save_at(model, 1)
            state_file = _model_dir(model) / 'epoch_1' / 'model_state.pt'
            assert set(torch.load(state_file, weights_only=True)) == {
                'weight',
                'bias',
            }
            model.epoch = 0
            model.load_state()  # passes the barrier
            assert model.epoch == 1
    finally:
        # a DDP module alive when the group goes can crash the process at
        # exit (gloo): release it first
        model = None
        gc.collect()
        dist.destroy_process_group()


# modules bound beside the model (0.1.0rc11's bind_module)


def _module_state(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in module.state_dict().items()}


def test_bound_modules_are_saved_and_loaded_with_the_model(
    model: Model,
) -> None:
    checkpoint = model.checkpoint
    assert isinstance(checkpoint, LocalCheckpoint)
    critic = nn.Linear(3, 2)
    checkpoint.bind_module('critic', critic)
    assert dict(checkpoint.modules) == {'critic': critic}
    model.epoch = 2
    model.save_state()
    saved_model, saved_critic = _params(model), _module_state(critic)
    assert (_model_dir(model) / 'epoch_2' / 'critic_state.pt').is_file()
    _perturb(model)
    with torch.no_grad():
        critic.weight.add_(1.0)
    model.load_state()
    assert _same(_params(model), saved_model)
    assert _same(_module_state(critic), saved_critic)


def test_a_bound_module_that_does_not_fit_changes_nothing(
    model: Model,
) -> None:
    checkpoint = model.checkpoint
    assert isinstance(checkpoint, LocalCheckpoint)
    checkpoint.bind_module('critic', nn.Linear(3, 2))
    _save_at(model, 1)
    _perturb(model)
    before = _params(model)
    wider = nn.Linear(3, 4)
    wider_before = _module_state(wider)
    checkpoint.bind_module('critic', wider)  # the same name: replaced
    with pytest.raises(RuntimeError, match='wrong shapes'):
        model.load_state()
    assert _same(_params(model), before)  # the model was not touched
    assert _same(_module_state(wider), wider_before)
    checkpoint.bind_module('critic', nn.Linear(3, 2))  # fits again
    checkpoint.bind_module('other', nn.Linear(3, 2))  # never saved
    with pytest.raises(RuntimeError, match="bound module 'other'"):
        model.load_state()
    assert _same(_params(model), before)


def test_bind_module_checks_its_arguments(model: Model) -> None:
    checkpoint = model.checkpoint
    assert isinstance(checkpoint, LocalCheckpoint)
    with pytest.raises(TypeError, match=r'torch\.nn\.Module'):
        checkpoint.bind_module('critic', 'module')  # type: ignore[arg-type]
    for name in ('model', 'optimizer', '../up', ''):
        with pytest.raises(exceptions.InvalidNameError):
            checkpoint.bind_module(name, nn.Linear(1, 1))
    assert checkpoint.modules == {}
    checkpoint.bind_module('critic', nn.Linear(1, 1))
    checkpoint.bind_model(Model(nn.Linear(2, 1), name='Other'))
    assert checkpoint.modules == {}  # they belonged to the previous model
