"""Distributed data parallel training on torch.distributed (gloo, CPU).

The slow tests start two processes the way users do, with
``torch.multiprocessing.spawn`` and with ``torchrun``; each process runs
:func:`_train_and_report` and writes what it saw to a JSON file. The fast
tests check the pieces that need no second process.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import gc
import hashlib
import json
import math
import os
import pathlib
import pickle
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
import torch
from ports import free_port
from torch import nn
from torch.utils import data

from drytorch.core import distributed, exceptions
from drytorch.core.experiment import Experiment
from drytorch.core.run_registry import RunRegistry
from drytorch.lib import evaluations
from drytorch.lib.learn import LearningSchema
from drytorch.lib.load import DataLoader, StridedSampler, get_n_batches
from drytorch.lib.models import Model
from drytorch.lib.objectives import Loss
from drytorch.lib.train import Trainer

TESTS_DIR = pathlib.Path(__file__).resolve().parent
EXP_NAME = 'DDP'
N_EPOCHS = 3
N_VAL = 7  # not divisible by the 2 processes
_WRITE_EVENTS = frozenset(
    {
        'open',
        'os.chmod',
        'os.link',
        'os.mkdir',
        'os.remove',
        'os.rename',
        'os.rmdir',
        'os.symlink',
        'os.truncate',
        'os.utime',
        'shutil.rmtree',
    }
)
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


@dataclasses.dataclass(frozen=True)
class _Config:
    lr: float = 0.05


# ---------------------------------------------------------------- the job


def _data() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """16 training and 7 validation samples, the same in every process."""
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(16, 3, generator=generator)
    weight = torch.tensor([[1.0], [-2.0], [0.5]])
    y = x @ weight + 0.1 * torch.randn(16, 1, generator=generator)
    x_val = torch.randn(N_VAL, 3, generator=generator)
    y_val = x_val @ weight
    y_val[0] += 5.0  # a padded copy of sample 0 would move the mean a lot
    return x, y, x_val, y_val


def _module() -> nn.Module:
    # batch norm: evaluations must use the buffers of rank 0 (which the
    # checkpoint holds), not those each process updated while training
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 1))


def _squared_error(outputs: torch.Tensor, targets: torch.Tensor) -> Any:
    return ((outputs - targets) ** 2).squeeze(-1)  # one value per sample


def _checksum(module: nn.Module) -> str:
    digest = hashlib.sha256()
    for param in module.parameters():
        digest.update(param.detach().cpu().numpy().tobytes())
    return digest.hexdigest()


@contextlib.contextmanager
def _watch_writes(root: pathlib.Path) -> Iterator[list[str]]:
    """Record every file-system write below root (an audit hook)."""
    root_text = os.path.realpath(root)
    written: list[str] = []
    watching = [True]

    def _record(event: str, args: tuple[Any, ...]) -> None:
        if event == 'open':
            path, mode, flags = args
            writes = (
                isinstance(mode, str) and any(c in mode for c in 'wax+')
            ) or (isinstance(flags, int) and flags & _WRITE_FLAGS)
            paths = [path] if writes else []
        else:
            paths = list(args[:2])
        for path in paths:
            if isinstance(path, str | bytes | os.PathLike):
                text = os.path.realpath(os.fsdecode(path))
                if text == root_text or text.startswith(root_text + os.sep):
                    written.append(f'{event} {text}')

    def _hook(event: str, args: tuple[Any, ...]) -> None:
        if watching[0] and event in _WRITE_EVENTS:
            # an audit hook must never raise: it runs inside any code,
            # C++ destructors included
            with contextlib.suppress(Exception):
                _record(event, args)

    sys.addaudithook(_hook)  # hooks cannot be removed: switch it off
    try:
        yield written
    finally:
        watching[0] = False


def _duplicate_id_error(par_dir: pathlib.Path) -> str:
    """What every rank gets when rank 0 refuses a run (a taken id)."""
    other = Experiment(_Config(), name='Other', par_dir=par_dir)
    other.create_run(run_id='taken')
    try:
        other.create_run(run_id='taken')
    except exceptions.RunAlreadyRecordedError as error:
        return f'{type(error).__name__}: {error}'
    return 'no error'


def _train_and_report(rank: int, par_dir: pathlib.Path) -> dict[str, Any]:
    torch.manual_seed(rank)  # different weights: DDP must align them
    x, y, x_val, y_val = _data()
    result: dict[str, Any] = {'pid': os.getpid()}
    result['duplicate_error'] = _duplicate_id_error(par_dir)
    experiment = Experiment(_Config(), name=EXP_NAME, par_dir=par_dir)
    if rank == 1:
        time.sleep(1.1)  # D32: the default id is a timestamp in seconds
    with experiment.create_run() as run:
        result['run_id'] = run.id
        model: Model[Any, Any] = Model(_module(), name='M', device='cpu')
        loss = Loss(_squared_error, name='MSE')
        trainer = Trainer(
            model,
            loader=DataLoader(data.TensorDataset(x, y), 4),
            loss=loss,
            learning_schema=LearningSchema(torch.optim.SGD, base_lr=0.05),
        )
        val_set = data.TensorDataset(x_val, y_val)
        trainer.add_validation(DataLoader(val_set, 3))
        trainer.train(N_EPOCHS)
        sampler = trainer.loader.sampler
        result['sampler'] = type(sampler).__name__
        result['sampler_epoch'] = getattr(sampler, 'epoch', None)
        result['train'] = dict(trainer.computed_metrics)
        assert trainer.validation is not None
        result['validation'] = dict(trainer.validation.computed_metrics)
        result['weights'] = _checksum(model.unwrapped_module)
        trainer.save_checkpoint()
        with torch.no_grad():
            for param in model.module.parameters():
                param.zero_()
        model.epoch = 0
        trainer.load_checkpoint()
        result['epoch_after_load'] = model.epoch
        result['weights_after_load'] = _checksum(model.unwrapped_module)
        test = evaluations.Test(
            model, loader=DataLoader(val_set, 3), metric=loss
        )
        test(store_outputs=True)
        result['test'] = dict(test.computed_metrics)
        result['stored_rows'] = sum(len(out) for out in test.outputs_list)
        # one more epoch, then an evaluation of one sample: rank 1 gets no
        # batch at all, yet no process waits for another in the loop (the
        # first forward after training would sync buffers inside DDP)
        trainer()
        one = data.TensorDataset(x_val[:1], y_val[:1])
        tiny = evaluations.Test(
            model, name='Tiny', loader=DataLoader(one, 3), metric=loss
        )
        tiny()
        result['tiny'] = dict(tiny.computed_metrics)
        trainer.save_checkpoint()
    return result


def _worker(rank: int, world_size: int, par_dir: str, out_dir: str) -> None:
    """One process of the job: train, evaluate, write rank<N>.json."""
    torch.set_num_threads(1)
    dist = torch.distributed
    dist.init_process_group(
        'gloo',
        rank=rank,
        world_size=world_size,
        timeout=datetime.timedelta(seconds=40),  # fail, never hang
    )
    try:
        root = pathlib.Path(par_dir)
        watch: contextlib.AbstractContextManager[list[str]] = (
            _watch_writes(root) if rank != 0 else contextlib.nullcontext([])
        )
        with watch as written, warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            result = _train_and_report(rank, root)
        result['written'] = list(written)
        # a DDP module alive when the process group is destroyed aborts the
        # process at exit (torch/gloo): nothing of drytorch may keep it
        gc.collect()
        result['live_ddp'] = sum(
            isinstance(obj, nn.parallel.DistributedDataParallel)
            for obj in gc.get_objects()
        )
        result['warnings'] = [
            f'{w.category.__name__}: {w.message}'
            for w in caught
            if issubclass(w.category, exceptions.DryTorchWarning)
        ]
        out = pathlib.Path(out_dir) / f'rank{rank}.json'
        out.write_text(json.dumps(result), encoding='utf-8')
        dist.barrier()  # leave together: no rank tears down a peer's link
    finally:
        dist.destroy_process_group()


def torchrun_main() -> None:
    """Entry point of the script that torchrun starts in each process."""
    _worker(
        int(os.environ['RANK']),
        int(os.environ['WORLD_SIZE']),
        sys.argv[1],
        sys.argv[2],
    )


# ---------------------------------------------------------------- checks


def _reference(par_dir: pathlib.Path, run_id: str, epoch: int) -> Any:
    """Per-sample validation errors of the saved weights, one process."""
    day, _, time_of_day = run_id.partition('@')
    epoch_dir = (
        par_dir / 'checkpoints' / EXP_NAME / day / time_of_day / 'M'
    ) / f'epoch_{epoch}'
    state = torch.load(epoch_dir / 'model_state.pt', weights_only=True)
    module = _module()
    module.load_state_dict(state)
    module.eval()
    _, _, x_val, y_val = _data()
    with torch.no_grad():
        return _squared_error(module(x_val), y_val)


def _check_job(par_dir: pathlib.Path, out_dir: pathlib.Path) -> None:
    results = [
        json.loads((out_dir / f'rank{rank}.json').read_text('utf-8'))
        for rank in (0, 1)
    ]
    first, second = results
    # D32: one run id for the job, recorded once, completed
    assert first['run_id'] == second['run_id']
    run_id = first['run_id']
    records = RunRegistry(par_dir / '.drytorch' / EXP_NAME).load_all()
    assert [(r.id, r.status) for r in records] == [(run_id, 'completed')]
    assert records[0].pid == first['pid']
    # a failure of rank 0 in create_run is raised on every rank
    assert first['duplicate_error'].startswith('RunAlreadyRecordedError')
    assert second['duplicate_error'] == first['duplicate_error']
    # one checkpoint folder, written by rank 0, loaded by both
    run_dirs = list((par_dir / 'checkpoints' / EXP_NAME).glob('*/*'))
    assert [d.name for d in run_dirs] == [run_id.partition('@')[2]]
    for result in results:
        assert result['epoch_after_load'] == N_EPOCHS
        assert result['weights_after_load'] == result['weights']
        # a new shuffle every epoch
        assert result['sampler'] == 'DistributedSampler'
        assert result['sampler_epoch'] == N_EPOCHS
        assert result['warnings'] == []
        assert result['live_ddp'] == 0
    # DDP: the processes trained the same weights
    assert first['weights'] == second['weights']
    assert first['train'] == second['train']
    # D33: exact metrics over the 7 samples, none counted twice
    errors = _reference(par_dir, run_id, N_EPOCHS)
    exact = errors.mean().item()
    padded = torch.cat([errors, errors[:1]]).mean().item()
    assert not math.isclose(padded, exact, rel_tol=1e-3)
    for result in results:
        assert result['validation']['MSE'] == pytest.approx(exact, rel=1e-5)
        assert result['test']['MSE'] == pytest.approx(exact, rel=1e-5)
        assert result['tiny']['MSE'] == pytest.approx(
            _reference(par_dir, run_id, N_EPOCHS + 1)[0].item(), rel=1e-5
        )
    # stored outputs are gathered on rank 0
    assert first['stored_rows'] == N_VAL
    assert second['stored_rows'] == 0
    # rank 1 wrote nothing: no registry entry, metadata or checkpoint
    assert first['written'] == []  # not watched on rank 0
    assert second['written'] == []


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_spawn_two_processes(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    par_dir = tmp_path / 'par'
    out_dir = tmp_path / 'out'
    out_dir.mkdir()
    monkeypatch.setenv('MASTER_ADDR', '127.0.0.1')
    monkeypatch.setenv('MASTER_PORT', str(free_port()))
    monkeypatch.setenv('OMP_NUM_THREADS', '1')
    context = torch.multiprocessing.spawn(
        _worker,
        args=(2, str(par_dir), str(out_dir)),
        nprocs=2,
        join=False,
    )
    deadline = time.monotonic() + 90
    try:
        while not context.join(timeout=1):
            if time.monotonic() > deadline:
                pytest.fail('the distributed job did not end in 90 s')
    finally:
        for process in context.processes:
            if process.is_alive():
                process.kill()
    _check_job(par_dir, out_dir)


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_torchrun_two_processes(tmp_path: pathlib.Path) -> None:
    par_dir = tmp_path / 'par'
    out_dir = tmp_path / 'out'
    out_dir.mkdir()
    script = tmp_path / 'train_ddp.py'
    script.write_text(
        'import sys\n'
        f'sys.path.insert(0, {str(TESTS_DIR)!r})\n'
        'import test_distributed\n'
        'test_distributed.torchrun_main()\n',
        encoding='utf-8',
    )
    command = [
        sys.executable,
        '-m',
        'torch.distributed.run',
        '--nproc_per_node=2',
        '--master_addr=127.0.0.1',
        f'--master_port={free_port()}',
        str(script),
        str(par_dir),
        str(out_dir),
    ]
    env = dict(os.environ, OMP_NUM_THREADS='1')
    completed = subprocess.run(
        command,
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    _check_job(par_dir, out_dir)


# ---------------------------------------------------------- single process


@pytest.mark.parametrize('world_size', [1, 2, 3, 4])
@pytest.mark.parametrize('dataset_len', [0, 1, 5, 7, 12])
def test_strided_sampler_shares_every_sample_once(
    dataset_len: int, world_size: int
) -> None:
    shares = [
        list(StridedSampler(dataset_len, rank, world_size))
        for rank in range(world_size)
    ]
    assert sorted(i for share in shares for i in share) == list(
        range(dataset_len)
    )
    for rank, share in enumerate(shares):
        assert len(StridedSampler(dataset_len, rank, world_size)) == len(share)
    # the loader's count: the batches of rank 0 (the most) per process
    for batch_size in (1, 2, 3):
        rank_0_batches = -(-len(shares[0]) // batch_size)
        assert (
            get_n_batches(dataset_len, batch_size, world_size, False)
            == rank_0_batches * world_size
        )


@pytest.mark.parametrize(('rank', 'world_size'), [(2, 2), (-1, 2), (0, 0)])
def test_strided_sampler_rejects_bad_rank(rank: int, world_size: int) -> None:
    with pytest.raises(ValueError, match='Expected'):
        StridedSampler(5, rank, world_size)


def _pickled_error(error: Exception) -> Exception:
    payload = pickle.loads(pickle.dumps(distributed._error_payload(error)))
    return distributed._rebuild_error(*payload)


def test_errors_of_rank_0_travel_to_other_ranks() -> None:
    error = exceptions.RunAlreadyRecordedError('r', 'exp')
    rebuilt = _pickled_error(error)
    assert type(rebuilt) is exceptions.RunAlreadyRecordedError
    assert str(rebuilt) == str(error)
    plain = _pickled_error(ValueError('bad'))
    assert type(plain) is ValueError
    assert str(plain) == 'bad'

    class _Local(Exception):  # cannot be pickled: defined in a function
        pass

    fallback = _pickled_error(_Local('lost'))
    assert type(fallback) is RuntimeError
    assert '_Local: lost' in str(fallback)


def test_share_outcome_without_process_group() -> None:
    assert distributed.rank() == 0
    assert distributed.world_size() == 1
    assert distributed.share_outcome(3) == 3
    with pytest.raises(KeyError):
        distributed.share_outcome(None, KeyError('x'))


def _one_process_run(par_dir: pathlib.Path, recorder: Any) -> str:
    experiment = Experiment(_Config(), name='One', par_dir=par_dir)
    experiment.trackers.subscribe(recorder)
    with experiment.create_run() as run:
        assert run.record
        model: Model[Any, Any] = Model(nn.Linear(2, 1), device='cpu')
        assert isinstance(model.module, nn.parallel.DistributedDataParallel)
    return run.id


def test_one_process_group_records_and_publishes(
    tmp_path: pathlib.Path, recorder: Any
) -> None:
    dist = torch.distributed
    dist.init_process_group(
        'gloo',
        init_method=f'file://{tmp_path / "store"}',
        rank=0,
        world_size=1,
    )
    try:
        run_id = _one_process_run(tmp_path, recorder)
    finally:
        gc.collect()  # no DDP module may outlive its process group
        dist.destroy_process_group()
    records = RunRegistry(tmp_path / '.drytorch' / 'One').load_all()
    assert [(r.id, r.status) for r in records] == [(run_id, 'completed')]
    assert recorder.names()[0] == 'StartRunEvent'
    assert 'ModelRegistrationEvent' in recorder.names()
