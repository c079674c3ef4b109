"""Sweeps with real optuna: pruning, suggestions, final values, workers."""

from __future__ import annotations

import contextlib
import os
import pathlib
import pickle
import subprocess
import sys
import textwrap
from typing import Any

import pytest
import torch
from conftest import Config
from pg_server import postgres_url_fixture  # noqa: F401
from torch import nn
from torch.utils.data import TensorDataset

optuna = pytest.importorskip('optuna')

from drytorch.contrib.optuna import (  # noqa: E402
    RUN_ID_ATTR,
    OptunaError,
    TrialCallback,
    get_final_value,
    suggest_overrides,
    trial_run,
)
from drytorch.core.experiment import Experiment  # noqa: E402
from drytorch.lib.learn import LearningSchema  # noqa: E402
from drytorch.lib.load import DataLoader  # noqa: E402
from drytorch.lib.models import Model  # noqa: E402
from drytorch.lib.objectives import Loss  # noqa: E402
from drytorch.lib.train import Trainer  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[1]

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _mse(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return ((outputs - targets) ** 2).mean()


def _trainer(lr: float = 0.05) -> Trainer[Any, Any, Any]:
    generator = torch.Generator().manual_seed(0)
    inputs = torch.randn(16, 2, generator=generator)
    loader = DataLoader(TensorDataset(inputs, inputs.sum(1, True)), 8)
    trainer = Trainer(
        Model(nn.Linear(2, 1), device='cpu'),
        loader=loader,
        loss=Loss(_mse, 'MSE'),
        learning_schema=LearningSchema.sgd(lr),
    )
    trainer.add_validation(loader)
    return trainer


def _objective(experiment: Experiment[Config], epochs: int = 3) -> Any:
    def objective(trial: Any) -> float:
        lr = trial.suggest_float('lr', 0.01, 0.1)
        with trial_run(experiment, trial):
            trainer = _trainer(lr)
            callback = TrialCallback(trial)
            trainer.post_epoch_hooks.register(callback)
            trainer.train(epochs)
        assert list(callback.reported) == list(range(1, epochs + 1))
        return get_final_value(trial)

    return objective


def test_values_are_reported_and_the_final_value_is_the_best(
    config: Config, tmp_path: pathlib.Path
) -> None:
    experiment = Experiment(config, name='Sweep', par_dir=tmp_path)
    study = optuna.create_study(pruner=optuna.pruners.NopPruner())
    study.optimize(_objective(experiment), n_trials=2)
    for trial in study.trials:
        assert trial.state == optuna.trial.TrialState.COMPLETE
        reported = list(trial.intermediate_values.values())
        assert trial.value == min(reported)
        run_id = trial.user_attrs[RUN_ID_ATTR]
        record = experiment.registry.get(run_id)
        assert record is not None and record.status == 'completed'
    ids = {trial.user_attrs[RUN_ID_ATTR] for trial in study.trials}
    assert len(ids) == 2  # every trial is its own run


def test_pruned_trial_terminates_training(
    config: Config, tmp_path: pathlib.Path
) -> None:
    experiment = Experiment(config, name='Pruned', par_dir=tmp_path)
    trainers: list[Trainer[Any, Any, Any]] = []

    def objective(trial: Any) -> float:
        with trial_run(experiment, trial):
            trainer = _trainer()
            trainers.append(trainer)
            trainer.post_epoch_hooks.register(TrialCallback(trial))
            trainer.train(5)
        return 0.0

    # every positive loss is above the threshold: pruned at the first epoch
    study = optuna.create_study(
        pruner=optuna.pruners.ThresholdPruner(upper=0.0)
    )
    study.optimize(objective, n_trials=1)
    (trial,) = study.trials
    assert trial.state == optuna.trial.TrialState.PRUNED
    assert list(trial.intermediate_values) == [1]
    assert trainers[0].terminated
    assert trainers[0].model.epoch == 1
    record = experiment.registry.get(trial.user_attrs[RUN_ID_ATTR])
    assert record is not None and record.status == 'completed'


def test_failing_trial_run_is_recorded_failed(
    config: Config, tmp_path: pathlib.Path
) -> None:
    experiment = Experiment(config, name='Fails', par_dir=tmp_path)
    study = optuna.create_study()
    trial = study.ask()
    with pytest.raises(RuntimeError), trial_run(experiment, trial):
        raise RuntimeError('boom')
    record = experiment.registry.get(trial.user_attrs[RUN_ID_ATTR])
    assert record is not None and record.status == 'failed'


SPEC: dict[str, Any] = {
    'overrides': ['train.epochs=3'],
    'tune': {
        'params': {
            'train.learning_rate': {
                'suggest': 'suggest_float',
                'settings': {'low': 0.001, 'high': 0.1, 'log': True},
            },
            'model.widths': {
                'suggest': 'suggest_list',
                'settings': {
                    'min_length': 1,
                    'max_length': 3,
                    'suggest': 'suggest_int',
                    'settings': {'low': 4, 'high': 32},
                },
            },
        }
    },
}


@pytest.mark.parametrize('container', ['dict', 'omegaconf'])
def test_suggest_overrides_from_a_spec(container: str) -> None:
    spec: Any = SPEC
    if container == 'omegaconf':
        omegaconf = pytest.importorskip('omegaconf')
        spec = omegaconf.OmegaConf.create(SPEC)
    trial = optuna.create_study().ask()
    overrides = suggest_overrides(spec, trial)
    assert overrides[0] == 'train.epochs=3'
    lr = trial.params['Learning Rate']
    assert overrides[1] == f'train.learning_rate={lr}'
    length = trial.params['Widths #']
    widths = [trial.params[f'Widths {i}'] for i in range(length)]
    assert overrides[2] == f'model.widths={widths}'
    assert all(4 <= width <= 32 for width in widths)
    full = suggest_overrides(spec, optuna.create_study().ask(), True)
    assert full[1].startswith('train.learning_rate=')


@pytest.mark.parametrize(
    'spec',
    [
        {
            'overrides': [],
            'tune': {'params': {'x': {'suggest': 'nothing', 'settings': {}}}},
        },
        {
            'overrides': [],
            'tune': {'params': {'x': {'suggest': 'report', 'settings': {}}}},
        },
        {'overrides': [], 'tune': {'params': {'x': {'settings': {}}}}},
        {'overrides': [], 'tune': {}},
        {
            'overrides': [],
            'tune': {
                'params': {
                    'x': {'suggest': 'suggest_float', 'settings': {'lo': 1}}
                }
            },
        },
    ],
)
def test_bad_specs_raise_optuna_error(spec: dict[str, Any]) -> None:
    with pytest.raises(OptunaError, match='Optuna: '):
        suggest_overrides(spec, optuna.create_study().ask())


def test_final_value_needs_reported_values() -> None:
    study = optuna.create_study()
    trial = study.ask()
    with pytest.raises(OptunaError, match='reported no value'):
        get_final_value(trial)
    trial.report(3.0, 1)
    trial.report(1.0, 2)
    assert get_final_value(trial) == 1.0
    assert get_final_value(trial, lambda values: values[-1]) == 1.0
    maximizing = optuna.create_study(direction='maximize').ask()
    maximizing.report(3.0, 1)
    maximizing.report(1.0, 2)
    assert get_final_value(maximizing) == 3.0


def test_optuna_error_is_a_picklable_value_error() -> None:
    error = OptunaError('detail here')
    assert isinstance(error, ValueError)
    copy = pickle.loads(pickle.dumps(error))
    assert str(copy) == 'Optuna: detail here'


# --------------------------------------------- two workers, one RDB study

WORKER = """
import dataclasses
import sys

import optuna
import torch
from torch import nn
from torch.utils.data import TensorDataset

from drytorch.contrib.optuna import TrialCallback, get_final_value, trial_run
from drytorch.core.experiment import Experiment
from drytorch.lib.learn import LearningSchema
from drytorch.lib.load import DataLoader
from drytorch.lib.models import Model
from drytorch.lib.objectives import Loss
from drytorch.lib.train import Trainer

optuna.logging.set_verbosity(optuna.logging.WARNING)
storage_url, par_dir, n_trials = sys.argv[1], sys.argv[2], int(sys.argv[3])


@dataclasses.dataclass(frozen=True)
class Config:
    lr: float


def mse(outputs, targets):
    return ((outputs - targets) ** 2).mean()


def objective(trial):
    config = Config(lr=trial.suggest_float('lr', 0.01, 0.1))
    experiment = Experiment(config, name='Shared', par_dir=par_dir)
    with trial_run(experiment, trial):
        inputs = torch.randn(16, 2)
        loader = DataLoader(TensorDataset(inputs, inputs.sum(1, True)), 8)
        trainer = Trainer(
            Model(nn.Linear(2, 1), device='cpu'),
            loader=loader,
            loss=Loss(mse, 'MSE'),
            learning_schema=LearningSchema.sgd(config.lr),
        )
        trainer.post_epoch_hooks.register(TrialCallback(trial))
        trainer.train(2)
    return get_final_value(trial)


storage = optuna.storages.RDBStorage(
    storage_url, engine_kwargs=(
        {'connect_args': {'timeout': 60}}
        if storage_url.startswith('sqlite') else {}
    ),
)
study = optuna.load_study(
    study_name='shared', storage=storage, pruner=optuna.pruners.NopPruner()
)
study.optimize(objective, n_trials=n_trials)
"""


@pytest.fixture(params=['sqlite', 'postgresql'])
def storage_url(request: pytest.FixtureRequest, tmp_path: pathlib.Path):
    if request.param == 'sqlite':
        return f'sqlite:///{tmp_path / "study.db"}'
    return request.getfixturevalue('postgres_url')


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_two_workers_share_one_study(
    storage_url: str, tmp_path: pathlib.Path, config: Config
) -> None:
    study_name = 'shared'
    storage = optuna.storages.RDBStorage(storage_url)
    try:
        # the PostgreSQL server lives for the whole session
        with contextlib.suppress(KeyError):
            optuna.delete_study(study_name=study_name, storage=storage)
        optuna.create_study(
            study_name=study_name,
            storage=storage,
            pruner=optuna.pruners.NopPruner(),
        )
        _run_workers(storage_url, tmp_path)
        study = optuna.load_study(study_name=study_name, storage=storage)
        trials = study.get_trials(deepcopy=False)
        optuna.delete_study(study_name=study_name, storage=storage)
    finally:
        storage.engine.dispose()  # no connection left to the session
    assert len(trials) == 6
    assert {t.state for t in trials} == {optuna.trial.TrialState.COMPLETE}
    run_ids = [t.user_attrs[RUN_ID_ATTR] for t in trials]
    assert len(set(run_ids)) == 6  # no id clash between the workers
    par_dir = tmp_path / 'runs'
    registry = Experiment(config, name='Shared', par_dir=par_dir).registry
    records = {record.id: record for record in registry.load_all()}
    assert set(records) == set(run_ids)
    assert {record.status for record in records.values()} == {'completed'}


def _run_workers(storage_url: str, tmp_path: pathlib.Path) -> None:
    """Two worker processes, three trials each, on the shared study."""
    script = tmp_path / 'worker.py'
    script.write_text(textwrap.dedent(WORKER))
    par_dir = tmp_path / 'runs'
    env = dict(os.environ, DRYTORCH_INIT_MODE='none')
    env['PYTHONPATH'] = os.pathsep.join([str(REPO), env.get('PYTHONPATH', '')])
    workers = [
        subprocess.Popen(
            [sys.executable, str(script), storage_url, str(par_dir), '3'],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for worker in workers:
        _, stderr = worker.communicate(timeout=240)
        assert worker.returncode == 0, stderr
