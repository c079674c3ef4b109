"""Checkpoints under faults: a crash at every step of a re-save loses nothing.

Each file-system step of a save (folder creation, each half of each state
file, fsync, rename, each removal) is a kill point. The tests stop a save at
every one of them, by an exception in this process and by ``os._exit`` in a
forked child (a kill: no ``finally`` runs), then check that the epoch loads
as the previous or the new save, never as an older epoch, and that the next
load removes what the dead save left. A last test kills real processes with
SIGKILL at random instants of repeated re-saves.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import pathlib
import random
import select
import shutil
import signal
import time
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import torch
from conftest import Config
from mounts import fill_disk, read_only, tmpfs
from torch import nn

from drytorch.core import exceptions, processes
from drytorch.core.experiment import Experiment, Run
from drytorch.lib.checkpoints import LocalCheckpoint
from drytorch.lib.models import Model

pytestmark = pytest.mark.skipif(
    not hasattr(os, 'fork'), reason='the kill tests fork processes'
)

_EPOCH = 3


class _Crash(BaseException):
    """Stands for a crash inside this process (not an Exception)."""


class _Steps:
    """Counts the file-system steps of a save; acts at step ``stop_at``."""

    def __init__(self, stop_at: int | None, action: Callable[[], None]):
        self.stop_at = stop_at
        self.action = action
        self.count = 0
        self.names: list[str] = []

    def step(self, name: str) -> None:
        self.count += 1
        self.names.append(name)
        if self.count == self.stop_at:
            self.action()

    @contextlib.contextmanager
    def patched(self) -> Iterator[None]:
        real = {
            name: getattr(os, name)
            for name in ('mkdir', 'rename', 'fsync', 'unlink', 'rmdir')
        }
        real_save = torch.save

        def wrap(name: str) -> Callable[..., Any]:
            def call(*args: Any, **kwargs: Any) -> Any:
                self.step(name)
                return real[name](*args, **kwargs)

            return call

        def save_in_two_halves(obj: Any, stream: Any, **kwargs: Any) -> None:
            buffer = io.BytesIO()
            real_save(obj, buffer, **kwargs)
            data = buffer.getvalue()
            self.step('save (nothing written)')
            stream.write(data[: len(data) // 2])
            stream.flush()
            self.step('save (half written)')
            stream.write(data[len(data) // 2 :])

        try:
            for name in real:
                setattr(os, name, wrap(name))
            torch.save = save_in_two_halves  # type: ignore[assignment]
            yield
        finally:
            for name, function in real.items():
                setattr(os, name, function)
            torch.save = real_save


@pytest.fixture
def run(tmp_path: pathlib.Path) -> Iterator[Run]:
    exp = Experiment(Config(), name='Faults', par_dir=tmp_path)
    with exp.create_run(run_id='r') as active:
        yield active


@pytest.fixture
def model(run: Run) -> Model:
    torch.manual_seed(0)
    model = Model(nn.Linear(4, 3), name='M', device='cpu')
    model.checkpoint.bind_optimizer(
        torch.optim.SGD(model.module.parameters(), lr=0.1)
    )
    return model


def _fill(model: Model, value: float) -> None:
    with torch.no_grad():
        for param in model.module.parameters():
            param.fill_(value)


def _value(model: Model) -> float:
    return float(next(model.module.parameters()).detach()[0, 0])


def _model_dir(model: Model) -> pathlib.Path:
    checkpoint = model.checkpoint
    assert isinstance(checkpoint, LocalCheckpoint)
    return checkpoint.paths.model_dir


def _prepare(model: Model) -> None:
    """Epoch 2 saved with 2.0, epoch 3 with 3.0; the module then holds 30.0.

    ``_EPOCH`` is re-saved by the tests; 2 is the older epoch that must
    never be loaded in its place.
    """
    shutil.rmtree(_model_dir(model), ignore_errors=True)
    for epoch in (2, _EPOCH):
        _fill(model, float(epoch))
        model.epoch = epoch
        model.save_state()
    _fill(model, 30.0)


def _loaded_value(model: Model, epoch: int) -> float:
    _fill(model, -1.0)
    model.epoch = 0
    model.load_state(epoch)
    assert model.epoch == _EPOCH
    return _value(model)


def _check_after_fault(model: Model) -> str:
    """Loads find the old or the new save; leftovers go at the next load."""
    found = {_loaded_value(model, -1), _loaded_value(model, _EPOCH)}
    assert len(found) == 1
    (value,) = found
    assert value in (float(_EPOCH), 30.0), 'an older epoch was loaded'
    # the load removed what the dead save left (or put the epoch back)
    assert sorted(os.listdir(_model_dir(model))) == ['epoch_2', 'epoch_3']
    return 'new' if value == 30.0 else 'old'


def _count_steps(model: Model) -> list[str]:
    _prepare(model)
    steps = _Steps(None, lambda: None)
    model.epoch = _EPOCH
    with steps.patched():
        model.save_state()
    return steps.names


def _resave_in_killed_child(model: Model, stop_at: int) -> int:
    """Re-save the epoch in a forked child that dies at step ``stop_at``."""
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', DeprecationWarning)  # fork + threads
        pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        code = 0
        try:
            steps = _Steps(stop_at, lambda: os._exit(137))
            model.epoch = _EPOCH
            with steps.patched():
                model.save_state()
        except BaseException:
            code = 1
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def test_save_has_the_expected_kill_points(model: Model) -> None:
    names = _count_steps(model)
    # both renames of a re-save are kill points, between writes and removal
    assert names.count('rename') >= 3
    assert names.index('mkdir') < names.index('rename')
    assert 'save (half written)' in names


def test_kill_at_every_step_of_a_resave(model: Model) -> None:
    n_steps = len(_count_steps(model))
    outcomes = []
    for stop_at in range(1, n_steps + 2):  # the last: no kill
        _prepare(model)
        code = _resave_in_killed_child(model, stop_at)
        assert code == (0 if stop_at > n_steps else 137)
        outcomes.append(_check_after_fault(model))
    # the new save wins from its rename on, for good
    first_new = outcomes.index('new')
    assert outcomes[first_new:] == ['new'] * (len(outcomes) - first_new)
    assert outcomes[0] == 'old'


def test_exception_at_every_step_of_a_resave(model: Model) -> None:
    n_steps = len(_count_steps(model))

    def crash() -> None:
        raise _Crash

    for stop_at in range(1, n_steps + 1):
        _prepare(model)
        steps = _Steps(stop_at, crash)
        model.epoch = _EPOCH
        with steps.patched(), contextlib.suppress(_Crash):
            model.save_state()
        _check_after_fault(model)


def test_leftover_of_a_dead_writer_is_the_only_copy(model: Model) -> None:
    """Killed between the two renames: the previous save is put back."""
    names = _count_steps(model)
    second_rename = [i for i, n in enumerate(names, 1) if n == 'rename'][1]
    _prepare(model)
    assert _resave_in_killed_child(model, second_rename) == 137
    model_dir = _model_dir(model)
    assert not (model_dir / 'epoch_3').exists()
    checkpoint = model.checkpoint
    assert isinstance(checkpoint, LocalCheckpoint)
    assert checkpoint.saved_epochs() == [2, 3]  # read where it was moved
    _fill(model, 30.0)
    model.epoch = _EPOCH
    model.save_state()  # the next save tidies first, then re-saves
    assert sorted(os.listdir(model_dir)) == ['epoch_2', 'epoch_3']
    assert _loaded_value(model, _EPOCH) == 30.0


def test_leftovers_of_live_writers_are_kept(
    model: Model, monkeypatch: pytest.MonkeyPatch
) -> None:
    _prepare(model)
    model_dir = _model_dir(model)
    pid = os.getppid()  # alive, and not this process
    start = processes.start_time(pid)
    live = model_dir / f'.epoch_3.{pid}-{start}-0.tmp'
    reused = model_dir / f'.epoch_3.{pid}-1-0.tmp'  # the pid was reused
    for folder in (live, reused):
        folder.mkdir()
    _loaded_value(model, -1)
    assert live.is_dir()
    assert not reused.exists()


def test_unreadable_optimizer_state_warns_and_loads_the_module(
    model: Model,
) -> None:
    """The documented behaviour of load(): warning, module loaded."""
    _prepare(model)
    optimizer = model.checkpoint.optimizer
    assert optimizer is not None
    state_before = repr(optimizer.state_dict())
    path = _model_dir(model) / 'epoch_3' / 'optimizer_state.pt'
    path.write_bytes(path.read_bytes()[:20])
    _fill(model, -1.0)
    with pytest.warns(
        exceptions.OptimizerNotLoadedWarning, match='optimizer_state.pt'
    ):
        model.load_state()
    assert _value(model) == float(_EPOCH)
    assert model.epoch == _EPOCH
    assert repr(optimizer.state_dict()) == state_before


def _tree_bytes(folder: pathlib.Path) -> int:
    return sum(
        path.stat().st_size for path in folder.rglob('*') if path.is_file()
    )


def _mark(model: Model, version: int) -> None:
    # one element: no parallel kernel, which could hang in a forked child
    with torch.no_grad():
        model.module.weight[0, 0] = float(version)


def _read_reports(read_end: int, pid: int, until: int) -> bytes:
    """What the child reported, once it reported ``until`` saves."""
    reported = b''
    deadline = time.monotonic() + 60
    while reported.count(b'\n') < until:
        remaining = deadline - time.monotonic()
        ready, _, _ = select.select([read_end], [], [], max(remaining, 0))
        assert ready, 'the saving process stopped reporting'
        chunk = os.read(read_end, 64)
        assert chunk, 'the saving process ended by itself'
        reported += chunk
    return reported


@pytest.mark.slow
def test_sigkill_at_random_instants_of_resaves(run: Run) -> None:
    """20 SIGKILLs of a process re-saving a 4 MiB checkpoint in a loop."""
    torch.manual_seed(0)
    model = Model(nn.Linear(1024, 1024), name='Big', device='cpu')
    model.checkpoint.bind_optimizer(
        torch.optim.SGD(model.module.parameters(), lr=0.1)
    )
    model_dir = _model_dir(model)
    _mark(model, -2)
    model.epoch = 2
    model.save_state()
    one_save = _tree_bytes(model_dir / 'epoch_2')
    _mark(model, 0)
    model.epoch = _EPOCH
    model.save_state()
    rng = random.Random(0)
    last_done = 0
    for _ in range(20):
        read_end, write_end = os.pipe()
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', DeprecationWarning)
            pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            try:
                os.close(read_end)
                version = last_done
                while True:
                    version += 1
                    _mark(model, version)
                    model.save_state()
                    os.write(write_end, f'{version}\n'.encode())
            finally:
                os._exit(1)
        os.close(write_end)
        try:
            reported = _read_reports(read_end, pid, 2)
            time.sleep(rng.uniform(0, 0.05))
        finally:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            with os.fdopen(read_end, 'rb') as stream:
                reported += stream.read()
        last_done = max(int(line) for line in reported.split())
        # what a killed save may leave: at most one checkpoint more
        assert _tree_bytes(model_dir) <= 3 * one_save + 4096
        _mark(model, -1)
        model.epoch = 0
        model.load_state()
        assert model.epoch == _EPOCH
        value = _value(model)
        assert value in (float(last_done), float(last_done + 1))
        last_done = int(value)
        assert sorted(os.listdir(model_dir)) == ['epoch_2', 'epoch_3']


def test_save_on_a_full_disk_names_the_file_and_keeps_the_epoch(
    run: Run, tmp_path: pathlib.Path
) -> None:
    with tmpfs(tmp_path / 'small', '1m') as small:
        torch.manual_seed(0)
        checkpoint = LocalCheckpoint(par_dir=small)
        model = Model(
            nn.Linear(64, 64), name='M', device='cpu', checkpoint=checkpoint
        )
        _mark(model, 1)
        model.epoch = 1
        model.save_state()
        fill_disk(small)
        _mark(model, 2)
        with pytest.raises(OSError) as info:
            model.save_state()  # the re-save fails: no space
        assert info.value.errno == errno.ENOSPC
        assert 'epoch_1' in str(info.value)  # the error names the checkpoint
        # a failed save leaves nothing behind, and the epoch as it was
        assert os.listdir(small / 'M') == ['epoch_1']
        _mark(model, -1)
        model.load_state()
        assert _value(model) == 1.0


def test_interrupted_resave_loads_from_a_read_only_folder(
    run: Run, tmp_path: pathlib.Path
) -> None:
    """Mid-recovery and read-only: the displaced save is read in place."""
    with tmpfs(tmp_path / 'small', '4m') as small:
        checkpoint = LocalCheckpoint(par_dir=small)
        model = Model(
            nn.Linear(4, 3), name='M', device='cpu', checkpoint=checkpoint
        )
        names = _count_steps(model)
        second_rename = [i for i, n in enumerate(names, 1) if n == 'rename']
        _prepare(model)
        assert _resave_in_killed_child(model, second_rename[1]) == 137
        with read_only(small):
            assert _loaded_value(model, -1) == float(_EPOCH)
            assert not (small / 'M' / 'epoch_3').exists()  # nothing written
        _loaded_value(model, -1)  # writable again: the next load repairs
        assert sorted(os.listdir(small / 'M')) == ['epoch_2', 'epoch_3']
