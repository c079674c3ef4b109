"""Functional tests: real trainings with the Trainer and its companions."""

from __future__ import annotations

import math

import pytest
import torch
from conftest import Config, RecordingTracker
from torch import nn
from torch.utils.data import TensorDataset

from drytorch.core import events, exceptions
from drytorch.core.experiment import Experiment
from drytorch.lib import gradient_ops, hooks, runners, schedulers
from drytorch.lib.evaluations import Diagnostic, Validation
from drytorch.lib.evaluations import Test as EvalTest
from drytorch.lib.learn import LearningSchema
from drytorch.lib.load import DataLoader
from drytorch.lib.models import Model
from drytorch.lib.objectives import Loss, Metric
from drytorch.lib.train import Trainer


def mse_fn(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return ((outputs - targets) ** 2).mean(dim=1)


def mae_fn(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return (outputs - targets).abs().mean(dim=1)


def regression_data(n: int = 256, seed: int = 0) -> TensorDataset:
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=generator)
    weight = torch.tensor([[1.0], [-2.0], [0.5], [3.0]])
    return TensorDataset(x, x @ weight + 0.25)


@pytest.fixture
def experiment(config: Config, recorder: RecordingTracker) -> Experiment:
    exp = Experiment(config, name='Train')
    exp.trackers.subscribe(recorder)
    return exp


def make_trainer(model: Model, lr: float = 0.05, **schema: object) -> Trainer:
    loader = DataLoader(regression_data(), batch_size=32)
    return Trainer(
        model,
        loader=loader,
        loss=Loss(mse_fn, 'MSE'),
        learning_schema=LearningSchema.adam(lr, **schema),  # type: ignore[arg-type]
    )


def test_trains_to_threshold_with_validation_and_early_stopping(
    experiment: Experiment, recorder: RecordingTracker
) -> None:
    torch.manual_seed(0)
    with experiment.create_run():
        model = Model(nn.Linear(4, 1))
        train_loader, val_loader = DataLoader(
            regression_data(), batch_size=32
        ).split(0.25)
        trainer = Trainer(
            model,
            loader=train_loader,
            loss=Loss(mse_fn, 'MSE'),
            learning_schema=LearningSchema.adam(0.1),
        )
        trainer.add_validation(val_loader)
        trainer.post_epoch_hooks.register(
            hooks.EarlyStoppingCallback(patience=2, min_delta=1e-3)
        )
        trainer.train(200)
        assert trainer.terminated
        assert model.epoch < 200
        assert trainer.validation is not None
        assert trainer.validation.computed_metrics['MSE'] < 0.01
    terminated = recorder.of_type(events.TerminatedTrainingEvent)
    assert len(terminated) == 1
    assert 'best result' in terminated[0].reason


def test_event_order(
    experiment: Experiment, recorder: RecordingTracker
) -> None:
    with experiment.create_run():
        model = Model(nn.Linear(4, 1))
        trainer = make_trainer(model)
        trainer.add_validation(
            DataLoader(regression_data(16, seed=1), batch_size=8)
        )
        trainer.train(1)
        trainer.save_checkpoint()
        trainer.load_checkpoint()
        trainer.update_learning_rate(0.5)
        EvalTest(
            model,
            loader=DataLoader(regression_data(8), batch_size=4),
            metric=Loss(mse_fn, 'MSE'),
        )()
    names = recorder.names()
    assert names == [
        events.StartRunEvent.__name__,  # StartRunEvent
        'ModelRegistrationEvent',
        'StartTrainingEvent',
        'StartEpochEvent',
        'ActorRegistrationEvent',
        'IterateBatchEvent',
        'ModelShapesEvent',
        'MetricEvent',
        'ActorRegistrationEvent',
        'IterateBatchEvent',
        'MetricEvent',
        'EndEpochEvent',
        'EndTrainingEvent',
        'SaveModelEvent',
        'LoadModelEvent',
        'LearningRateEvent',
        'StartTestEvent',
        'ActorRegistrationEvent',
        'IterateBatchEvent',
        'MetricEvent',
        'EndTestEvent',
        events.StopRunEvent.__name__,  # StopRunEvent
    ]
    test_metric = recorder.of_type(events.MetricEvent)[-1]
    assert (test_metric.source_name, test_metric.epoch) == ('Test', 1)


def test_per_module_learning_rates_train_every_group(
    experiment: Experiment,
) -> None:
    """With a learning rate per submodule, each submodule's parameters are
    in their own optimizer group, at its rate, and all of them train."""

    class TwoPart(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = nn.Linear(4, 3)
            self.head = nn.Linear(3, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.head(self.encoder(x))

    with experiment.create_run():
        module = TwoPart()
        before = {k: v.clone() for k, v in module.state_dict().items()}
        model = Model(module)
        trainer = make_trainer(model, lr={'encoder': 0.01, 'head': 0.1})
        sizes = [len(g['params']) for g in trainer.optimizer.param_groups]
        assert sizes == [2, 2]
        assert [g['lr'] for g in trainer.optimizer.param_groups] == [
            0.01,
            0.1,
        ]
        trainer.train(2)
        after = module.state_dict()
        assert all(not torch.equal(before[k], after[k]) for k in before)


def test_per_module_learning_rates_must_cover_all(
    experiment: Experiment,
) -> None:
    module = nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 1))
    with experiment.create_run():
        model = Model(module)
        with pytest.raises(exceptions.MissingParamError) as info:
            make_trainer(model, lr={'0': 0.1})
        assert info.value.module_names == ['1']  # type: ignore[attr-defined]


def test_scheduler_drives_learning_rate(experiment: Experiment) -> None:
    with experiment.create_run():
        model = Model(nn.Linear(4, 1))
        scheduler = schedulers.StepScheduler((2,), gamma=0.5)
        trainer = make_trainer(model, lr=0.2, scheduler=scheduler)
        seen = []
        trainer.post_epoch_hooks.register(
            hooks.Hook(
                lambda t: seen.append(t.optimizer.param_groups[0]['lr'])
            )
        )
        trainer.train(3)
    assert seen == [0.2, 0.1, 0.1]


def test_store_outputs_stores(experiment: Experiment) -> None:
    """trainer(store_outputs=True) keeps every batch's outputs, detached,
    on the CPU (the Trainer forwards the flag to the pass)."""
    with experiment.create_run():
        trainer = make_trainer(Model(nn.Linear(4, 1)))
        trainer(store_outputs=True)
        assert len(trainer.outputs_list) == len(trainer.loader)
        assert trainer.outputs_list[0].device.type == 'cpu'
        assert not trainer.outputs_list[0].requires_grad


def test_diagnostic_logs_no_metrics(
    experiment: Experiment, recorder: RecordingTracker
) -> None:
    """A Diagnostic computes its metrics but publishes no MetricEvent."""
    with experiment.create_run():
        model = Model(nn.Linear(4, 1))
        diagnostic = Diagnostic(
            model,
            loader=DataLoader(regression_data(8), batch_size=4),
            objective=Metric(mae_fn, 'MAE'),
        )
        diagnostic()
        assert 'MAE' in diagnostic.computed_metrics
    assert recorder.of_type(events.MetricEvent) == []


def test_runner_classes_keep_their_reference_relations() -> None:
    # code written for drytorch 0.1.0rc5 tests these isinstance relations
    for cls in (Trainer, Validation, EvalTest, Diagnostic):
        assert issubclass(cls, runners.ModelRunnerWithLogs), cls
        assert issubclass(cls, runners.ModelRunnerWithObjective), cls
        assert issubclass(cls, runners.ModelRunner), cls
        assert issubclass(cls, runners.ModelCaller), cls
    assert runners.ModelRunnerWithLogs.publishes_metrics
    assert not runners.ModelRunnerWithObjective.publishes_metrics
    assert not Diagnostic.publishes_metrics
    with pytest.raises(TypeError, match='abstract'):
        runners.ModelCaller(None)  # type: ignore[abstract,arg-type]


def test_evaluation_restores_train_mode(experiment: Experiment) -> None:
    with experiment.create_run():
        model = Model(nn.Sequential(nn.Linear(4, 1), nn.Dropout(0.5)))
        validation = Validation(
            model,
            loader=DataLoader(regression_data(8), batch_size=4),
            metric=Metric(mae_fn, 'MAE'),
        )
        model.module.train()
        validation()
        assert model.module.training


def test_validation_sees_every_sample(experiment: Experiment) -> None:
    with experiment.create_run():
        model = Model(nn.Linear(4, 1))
        data = regression_data(10)
        validation = Validation(
            model,
            loader=DataLoader(data, batch_size=4),
            metric=Metric(mae_fn, 'MAE'),
        )
        validation()
        with torch.inference_mode():
            x, y = data.tensors
            expected = mae_fn(model.module(x), y).mean().item()
        assert validation.computed_metrics['MAE'] == pytest.approx(expected)


def test_checkpoint_resume_continues_at_right_epoch(
    config: Config,
) -> None:
    exp = Experiment(config, name='Resume')
    with exp.create_run(run_id='r'):
        model = Model(nn.Linear(4, 1), name='net')
        trainer = make_trainer(model)
        trainer.train(3)
        trainer.save_checkpoint()
        weights = model.module.weight.detach().clone()
    with exp.create_run(run_id='r', resume=True):
        model = Model(nn.Linear(4, 1), name='net')
        trainer = make_trainer(model)
        trainer.load_checkpoint()
        assert model.epoch == 3
        assert torch.equal(model.module.weight, weights)
        assert trainer.optimizer.state  # optimizer state restored
        trainer.train(2)
        assert model.epoch == 5


def test_non_finite_loss_raises_and_terminates(experiment: Experiment) -> None:
    def nan_loss(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return (outputs - targets).mean(dim=1) * math.nan

    with experiment.create_run():
        model = Model(nn.Linear(4, 1))
        trainer = Trainer(
            model,
            loader=DataLoader(regression_data(64), batch_size=32),
            loss=Loss(nan_loss, 'Bad'),
            learning_schema=LearningSchema.sgd(),
        )
        with pytest.raises(exceptions.ConvergenceError):
            trainer.train(3)
        assert trainer.terminated
        with pytest.warns(exceptions.TerminatedTrainingWarning):
            trainer.train(1)


def test_terminate_from_hook_stops_after_epoch(experiment: Experiment) -> None:
    with experiment.create_run():
        model = Model(nn.Linear(4, 1))
        trainer = make_trainer(model)
        trainer.post_epoch_hooks.register(
            hooks.Hook(lambda t: t.terminate_training('enough'))
        )
        trainer.train(5)
        assert model.epoch == 1


def test_train_until_and_past_epoch(experiment: Experiment) -> None:
    with experiment.create_run():
        model = Model(nn.Linear(4, 1))
        trainer = make_trainer(model)
        trainer.train_until(2)
        assert model.epoch == 2
        with pytest.warns(exceptions.PastEpochWarning):
            trainer.train_until(1)


def test_add_validation_interval(experiment: Experiment) -> None:
    with experiment.create_run():
        model = Model(nn.Linear(4, 1))
        trainer = make_trainer(model)
        with pytest.raises(ValueError, match='at least 1'):
            trainer.add_validation(
                DataLoader(regression_data(8), batch_size=4), interval=0
            )


def test_bf16_mixed_precision_trains_on_cpu(experiment: Experiment) -> None:
    torch.manual_seed(0)
    with experiment.create_run():
        model = Model(nn.Linear(4, 1), mixed_precision=True)
        trainer = make_trainer(model, lr=0.1)
        trainer.train(1)
        first = trainer.computed_metrics['MSE']
        trainer.train(15)
        assert trainer.computed_metrics['MSE'] < first / 4


class NormRecorder(gradient_ops.GradNormClipper):
    """A real clipper that also records the norm it sees."""

    def __init__(self, threshold: float) -> None:
        super().__init__(threshold)
        self.norms: list[float] = []

    def __call__(self, params):  # type: ignore[no-untyped-def]
        params = list(params)
        norm = torch.linalg.vector_norm(
            torch.stack([p.grad.norm() for p in params if p.grad is not None])
        )
        self.norms.append(float(norm))
        super().__call__(params)


def test_clipping_sees_unscaled_gradients_with_loss_scaling(
    experiment: Experiment,
) -> None:
    """Under float16 loss scaling the gradient operation sees the unscaled
    gradients: the norms it clips match those of a full-precision run."""
    norms = {}
    for mixed in (False, True):
        torch.manual_seed(0)
        with experiment.create_run():
            model = Model(nn.Linear(4, 1), mixed_precision=mixed)
            model.autocast_dtype = torch.float16  # enables the GradScaler
            clipper = NormRecorder(threshold=1.0)
            trainer = make_trainer(model, lr=0.01, gradient_op=clipper)
            trainer(store_outputs=False)
            norms[mixed] = [n for n in clipper.norms if math.isfinite(n)]
    # steps that overflow in float16 are skipped by the scaler (inf norm);
    # the others must show true gradients, not gradients times the scale
    assert norms[True]
    assert max(norms[True]) < 10 * max(norms[False])


def test_warmup_cosine_schedule_and_clipping_reach_threshold(
    experiment: Experiment,
) -> None:
    torch.manual_seed(0)
    scheduler = schedulers.CosineScheduler(30, 0.05).bind(schedulers.warmup(3))
    with experiment.create_run():
        model = Model(nn.Linear(4, 1))
        trainer = make_trainer(
            model,
            lr=0.2,
            scheduler=scheduler,
            gradient_op=gradient_ops.GradNormClipper(1.0),
        )
        rates = []
        trainer.post_epoch_hooks.register(
            hooks.Hook(
                lambda t: rates.append(t.optimizer.param_groups[0]['lr'])
            )
        )
        trainer.train(30)
        assert trainer.computed_metrics['MSE'] < 0.01
    assert rates[0] == pytest.approx(0.2 / 3)  # warming up
    assert max(rates) == pytest.approx(0.2, rel=0.02)
    assert rates[-1] < rates[5]  # decaying
