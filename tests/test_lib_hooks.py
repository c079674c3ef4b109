"""Tests for drytorch.lib.hooks, run on the real Trainer and Validation.

The metric values of each epoch are scripted: a loss whose value is set by
the test for the model's current epoch (plus zero times the outputs, so that
it trains), in float64 so that the values compare exactly. The learning
rate each epoch used, the rate after its hooks, the saved epochs and the
termination reasons are read from the real trainer and its events.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import pytest
import torch
from conftest import Config
from torch import nn
from torch.utils.data import TensorDataset

from drytorch.core import events, exceptions
from drytorch.core.experiment import Experiment
from drytorch.core.track import Tracker, on
from drytorch.lib import evaluations, hooks, objectives, schedulers
from drytorch.lib.learn import LearningSchema
from drytorch.lib.load import DataLoader
from drytorch.lib.models import Model
from drytorch.lib.train import Trainer

Metrics = Mapping[str, float]
_model_numbers = itertools.count()


def _mse(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return ((outputs - targets) ** 2).mean()


def constant(value: float, name: str = 'MSE') -> Callable[[int], Metrics]:
    return lambda epoch: {name: value}


def sequence(
    values: list[float], name: str = 'MSE'
) -> Callable[[int], Metrics]:
    # epochs past the end repeat the last value (a plateau)
    return lambda epoch: {name: values[min(epoch, len(values)) - 1]}


@dataclasses.dataclass
class Record:
    """What a trainer did, epoch by epoch."""

    trainer: Trainer[Any, Any, Any]
    lr_used: list[float] = dataclasses.field(default_factory=list)
    lr_after: list[float] = dataclasses.field(default_factory=list)
    saved_epochs: list[int] = dataclasses.field(default_factory=list)
    reasons: list[str] = dataclasses.field(default_factory=list)


_records: dict[str, Record] = {}  # by model name


def record(trainer: Trainer[Any, Any, Any]) -> Record:
    return _records[trainer.model.name]


def _lr_of(trainer: Trainer[Any, Any, Any]) -> float:
    return float(trainer.optimizer.param_groups[0]['lr'])


class TrainerEvents(Tracker):
    """Reads the rate after the hooks, the saves and the terminations."""

    @on(events.EndEpochEvent)
    def _on_end(self, event: events.EndEpochEvent) -> None:
        rec = _records[event.model_name]
        rec.lr_after.append(_lr_of(rec.trainer))

    @on(events.SaveModelEvent)
    def _on_save(self, event: events.SaveModelEvent) -> None:
        _records[event.model_name].saved_epochs.append(event.epoch)

    @on(events.TerminatedTrainingEvent)
    def _on_stop(self, event: events.TerminatedTrainingEvent) -> None:
        _records[event.model_name].reasons.append(event.reason)


@pytest.fixture(autouse=True)
def _run(config: Config) -> Iterator[None]:
    experiment = Experiment(config, name='Hooks')
    experiment.trackers.subscribe(TrainerEvents())
    with experiment.create_run(record=False):
        yield
    _records.clear()


def _scripted(
    model: Model[Any, Any], metric_fn: Callable[[int], Metrics], name: str
) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """The value metric_fn gives ``name`` at the model's current epoch."""

    def value(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return (outputs * 0).mean() + metric_fn(model.epoch)[name]

    return value


def scripted_metrics(
    model: Model[Any, Any],
    metric_fn: Callable[[int], Metrics],
    higher_is_better: bool | None = None,
) -> Any:
    """Metrics (the first one a loss) with the values of metric_fn."""
    first, *others = metric_fn(1)
    objective: Any = objectives.Loss(
        _scripted(model, metric_fn, first),
        first,
        higher_is_better=bool(higher_is_better),
    )
    for name in others:
        objective = objective | objectives.Metric(
            _scripted(model, metric_fn, name), name, higher_is_better
        )
    return objective


def _loader() -> DataLoader[Any]:
    ones = torch.ones(4, 1, dtype=torch.float64)
    return DataLoader(TensorDataset(ones, ones), 4)


def make_trainer(
    metric_fn: Callable[[int], Metrics] = constant(2.44),
    scheduler: schedulers.AbstractScheduler | None = None,
    base_lr: float = 0.1,
    negate: bool = False,
) -> Trainer[Any, Any, Any]:
    """A real Trainer whose loss takes the values of metric_fn.

    With ``negate``, the loss is the negation of the scripted one (higher
    is better), named ``Negative <name>``.
    """
    module = nn.Linear(1, 1, dtype=torch.float64)
    model = Model(module, name=f'Model{next(_model_numbers)}')
    schema = LearningSchema(
        torch.optim.SGD, base_lr, scheduler or schedulers.ConstantScheduler()
    )
    loss = scripted_metrics(model, metric_fn)
    trainer = Trainer(
        model,
        loader=_loader(),
        loss=-loss if negate else loss,
        learning_schema=schema,
    )
    rec = _records[model.name] = Record(trainer)
    # the first post-epoch hook: the rate the epoch trained with
    trainer.post_epoch_hooks.register(
        lambda trainer: rec.lr_used.append(_lr_of(trainer))
    )
    return trainer


def make_validation(
    trainer: Trainer[Any, Any, Any],
    metric_fn: Callable[[int], Metrics],
    higher_is_better: bool | None = None,
    name: str = '',
) -> evaluations.Validation[Any, Any, Any]:
    model = trainer.model
    metric = scripted_metrics(model, metric_fn, higher_is_better)
    return evaluations.Validation(model, name, loader=_loader(), metric=metric)


def add_validation(
    trainer: Trainer[Any, Any, Any],
    metric_fn: Callable[[int], Metrics],
    higher_is_better: bool | None = None,
) -> evaluations.Validation[Any, Any, Any]:
    """Validate after every epoch, as Trainer.add_validation does."""
    validation = make_validation(trainer, metric_fn, higher_is_better)
    trainer.post_epoch_hooks.register(hooks.StaticHook(validation))
    trainer.validation = validation
    return validation


class EpochRecorder:
    def __init__(self) -> None:
        self.epochs: list[int] = []

    def __call__(self, trainer: Trainer[Any, Any, Any]) -> None:
        self.epochs.append(trainer.model.epoch)


class MeanSquaredError(torch.nn.Module):
    """Shaped like a torchmetrics metric: no `name`, a `_get_name` method."""

    higher_is_better = False

    def forward(self, outputs: torch.Tensor, targets: torch.Tensor) -> Any:
        return _mse(outputs, targets)


# --- registry and basic hooks -------------------------------------------


def test_registry_runs_hooks_in_registration_order() -> None:
    calls: list[tuple[str, object]] = []
    registry: hooks.HookRegistry[int] = hooks.HookRegistry()
    registry.register(lambda x: calls.append(('a', x)))
    registry.register_all(
        [lambda x: calls.append(('b', x)), lambda x: calls.append(('c', x))]
    )
    registry.execute(7)
    assert calls == [('a', 7), ('b', 7), ('c', 7)]
    assert len(registry.hooks) == 3


def test_registry_rejects_non_callables() -> None:
    registry: hooks.HookRegistry[int] = hooks.HookRegistry()
    with pytest.raises(TypeError, match='Expected a callable hook'):
        registry.register(3)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        registry.register_all([print, 3])  # type: ignore[list-item]
    assert registry.hooks == []


def test_hook_passes_the_trainer_and_static_hook_does_not() -> None:
    trainer = make_trainer()
    received: list[object] = []
    hooks.Hook(received.append)(trainer)
    hooks.StaticHook(lambda: received.append('static'))(trainer)
    assert received == [trainer, 'static']


def test_bind_returns_the_function_of_the_hook() -> None:
    hook = hooks.Hook(print)
    assert hook.bind(lambda h: (h, 1)) == (hook, 1)


def test_trainer_hook_and_optional_callable_are_abstract() -> None:
    with pytest.raises(TypeError):
        hooks.TrainerHook()  # type: ignore[abstract]
    with pytest.raises(TypeError):
        hooks.OptionalCallable(print)  # type: ignore[abstract]


def test_optional_callable_calls_only_when_allowed() -> None:
    class OnEven(hooks.OptionalCallable):
        def _should_call(self, trainer: Any) -> bool:
            return trainer.model.epoch % 2 == 0

    recorder = EpochRecorder()
    trainer = make_trainer()
    trainer.post_epoch_hooks.register(OnEven(recorder))
    trainer.train(5)
    assert recorder.epochs == [2, 4]


def test_call_every_with_start_fires_at_start_and_every_interval() -> None:
    recorder = EpochRecorder()
    trainer = make_trainer()
    trainer.post_epoch_hooks.register(
        hooks.Hook(recorder).bind(hooks.call_every(2, start=1))
    )
    trainer.train(6)
    assert recorder.epochs == [1, 3, 5]


def test_call_every_also_fires_when_terminated() -> None:
    recorder = EpochRecorder()
    trainer = make_trainer()

    def stop_at_4(trainer: Trainer[Any, Any, Any]) -> None:
        if trainer.model.epoch == 4:
            trainer.terminate_training('test')

    trainer.post_epoch_hooks.register(stop_at_4)
    trainer.post_epoch_hooks.register(hooks.call_every(2, start=1)(recorder))
    trainer.train(10)
    assert recorder.epochs == [1, 3, 4]
    assert trainer.model.epoch == 4


def test_call_every_as_decorator_and_default_start() -> None:
    epochs: list[int] = []

    @hooks.call_every(3)
    def hook(trainer: Trainer[Any, Any, Any]) -> None:
        epochs.append(trainer.model.epoch)

    assert isinstance(hook, hooks.CallEvery)
    trainer = make_trainer()
    trainer.post_epoch_hooks.register(hook)
    trainer.train(7)
    assert epochs == [3, 6]


@pytest.mark.parametrize(
    ('interval', 'start', 'error'),
    [(0, 0, ValueError), (2, -1, ValueError), (1.5, 0, TypeError)],
)
def test_call_every_rejects_bad_arguments(
    interval: Any, start: Any, error: type[Exception]
) -> None:
    with pytest.raises(error, match='Expected'):
        hooks.call_every(interval, start)
    with pytest.raises(error, match='Expected'):
        hooks.CallEvery(print, interval, start)


def test_saving_hook_saves_a_checkpoint() -> None:
    trainer = make_trainer()
    trainer.post_epoch_hooks.register(
        hooks.saving_hook.bind(hooks.call_every(2))
    )
    trainer.train(5)
    assert isinstance(hooks.saving_hook, hooks.Hook)
    assert record(trainer).saved_epochs == [2, 4]


def test_static_hook_class_makes_static_hooks() -> None:
    @hooks.static_hook_class
    class Counter:
        """Counts calls."""

        count = 0

        def __init__(self, step: int) -> None:
            self.step = step

        def __call__(self) -> None:
            type(self).count += self.step

    hook = Counter(2)
    assert isinstance(hook, hooks.StaticHook)
    assert Counter.__name__ == 'Counter'
    assert Counter.__doc__ == 'Counts calls.'
    trainer = make_trainer()
    trainer.post_epoch_hooks.register(hook)
    trainer.train(3)
    assert hook.wrapped.count == 6  # type: ignore[attr-defined]
    assert Counter.__wrapped__.count == 6  # type: ignore[attr-defined]


def test_get_last_is_the_last_value() -> None:
    assert hooks.get_last([1.0, 2.0, 3.0]) == 3.0


# --- metric extraction --------------------------------------------------


def test_metric_name_from_string_name_attribute_and_class() -> None:
    named = objectives.Metric(_mse, name='My MSE')

    class Plain:
        pass

    assert hooks.MetricExtractor('Accuracy').metric_name == 'Accuracy'
    assert hooks.MetricExtractor(named).metric_name == 'My MSE'
    assert hooks.MetricExtractor(Plain()).metric_name == 'Plain'
    assert hooks.MetricExtractor().metric_name is None


def test_torch_module_metric_is_named_by_calling_get_name() -> None:
    # a torch module's name is what _get_name() returns, not the bound
    # method object (whose repr would never match a logged metric name)
    extractor = hooks.MetricExtractor(MeanSquaredError())
    assert extractor.metric_name == 'MeanSquaredError'
    trainer = make_trainer(constant(1.5, name='MeanSquaredError'))
    trainer.train(1)
    assert extractor.extract_metric_value(trainer) == 1.5


def test_early_stopping_on_torch_module_metric() -> None:
    # end to end: the metric logged under the module's _get_name() is found,
    # and the direction comes from the module's higher_is_better (False)
    trainer = make_trainer(
        sequence([3.0, 2.0, 2.5, 2.6], name='MeanSquaredError')
    )
    hook = hooks.EarlyStoppingCallback(
        metric=MeanSquaredError(), patience=0, start_from_epoch=1
    )
    trainer.post_epoch_hooks.register(hook)
    trainer.train(10)
    assert hook.monitor.best_is == 'lower'
    assert trainer.model.epoch == 3
    assert record(trainer).reasons == [
        'Training stopped with best result=2.0 MeanSquaredError'
    ]


def test_no_metric_monitors_the_first_computed_metric() -> None:
    trainer = make_trainer(lambda epoch: {'Loss': 1.0, 'MAE': 2.0})
    trainer.train(1)
    extractor = hooks.MetricExtractor()
    assert extractor.extract_metric_value(trainer) == 1.0
    assert extractor.metric_name == 'Loss'


def test_monitor_is_the_validation_when_present() -> None:
    trainer = make_trainer(constant(1.0))
    extractor = hooks.MetricExtractor('MSE')
    assert extractor.get_monitor(trainer) is trainer
    validation = add_validation(trainer, constant(5.0))
    validation()
    assert extractor.get_monitor(trainer) is validation
    assert extractor.extract_metric_value(trainer) == 5.0


def test_explicit_monitor_wins_over_validation() -> None:
    trainer = make_trainer(constant(1.0))
    add_validation(trainer, constant(5.0))()
    other = make_validation(trainer, constant(9.0), name='Other')
    other()
    extractor = hooks.MetricExtractor('MSE', monitor=other)
    assert extractor.extract_metric_value(trainer) == 9.0


def test_missing_metric_raises_metric_not_found() -> None:
    trainer = make_trainer(constant(1.0))
    trainer.train(1)
    with pytest.raises(exceptions.MetricNotFoundError) as info:
        hooks.MetricExtractor('Accuracy').extract_metric_value(trainer)
    assert info.value.source_name == 'Trainer'
    assert info.value.metric_name == 'Accuracy'
    add_validation(trainer, constant(1.0))  # not run yet: no metrics
    with pytest.raises(exceptions.MetricNotFoundError) as info:
        hooks.MetricExtractor().extract_metric_value(trainer)
    assert info.value.source_name == 'Validation'


def test_hook_registered_before_validation_sees_no_current_metrics() -> None:
    # the order rule of the module docstring
    trainer = make_trainer()
    trainer.post_epoch_hooks.register(hooks.EarlyStoppingCallback())
    add_validation(trainer, constant(1.0))
    with pytest.raises(exceptions.MetricNotFoundError):
        trainer.train(1)


def test_hook_registered_after_validation_sees_current_metrics() -> None:
    trainer = make_trainer(constant(100.0))
    add_validation(trainer, lambda epoch: {'MSE': float(epoch)})
    monitor = hooks.MetricMonitor()
    trainer.post_epoch_hooks.register(monitor.record_metric_value)
    trainer.train(3)
    assert list(monitor.history) == [1.0, 2.0, 3.0]


# --- metric monitor and direction ---------------------------------------


def test_metric_monitor_records_history_and_best() -> None:
    trainer = make_trainer(sequence([3.0, 1.0, 2.0]))
    monitor = hooks.MetricMonitor(patience=1)
    trainer.post_epoch_hooks.register(monitor.record_metric_value)
    trainer.post_epoch_hooks.register(lambda t: monitor.is_improving())
    trainer.train(3)
    assert monitor.metric_name == 'MSE'
    assert list(monitor.history) == [3.0, 1.0, 2.0]
    assert monitor.filtered_value == 2.0
    assert monitor.best_value == 1.0
    assert monitor.is_patient()


def test_direction_from_the_loss_when_no_metric() -> None:
    # equal values say nothing about the direction: it comes from the loss
    # (lower is better), not from a guess
    trainer = make_trainer(constant(2.44))
    monitor = hooks.MetricMonitor()
    trainer.post_epoch_hooks.register(monitor.record_metric_value)
    trainer.train(2)
    assert monitor.best_is == 'lower'
    assert monitor.is_better(1.0, 2.44)
    assert not monitor.is_better(3.0, 2.44)


def test_direction_from_a_higher_is_better_loss() -> None:
    trainer = make_trainer(constant(-2.44), negate=True)
    trainer.train(1)
    monitor = hooks.MetricMonitor()
    monitor.record_metric_value(trainer)
    assert monitor.best_is == 'higher'


def test_direction_from_the_validation_objective() -> None:
    trainer = make_trainer(constant(2.44))
    add_validation(trainer, constant(0.5, 'Accuracy'), higher_is_better=True)()
    monitor = hooks.MetricMonitor()
    monitor.record_metric_value(trainer)
    assert monitor.metric_name == 'Accuracy'
    assert monitor.best_is == 'higher'


def test_direction_from_metric_and_explicit_best_is_kept() -> None:
    accuracy = objectives.Metric(_mse, 'Accuracy', higher_is_better=True)
    assert hooks.MetricMonitor(accuracy).best_is == 'higher'
    assert hooks.MetricMonitor(MeanSquaredError()).best_is == 'lower'
    explicit = hooks.MetricMonitor(accuracy, best_is='lower')
    trainer = make_trainer(constant(0.5, 'Accuracy'))
    trainer.train(1)
    explicit.record_metric_value(trainer)
    assert explicit.best_is == 'lower'


def test_direction_stays_auto_for_an_unknown_metric() -> None:
    trainer = make_trainer(lambda epoch: {'MSE': 1.0, 'Other': 1.0})
    trainer.train(1)
    monitor = hooks.MetricMonitor('Other')
    monitor.record_metric_value(trainer)
    assert monitor.best_is == 'auto'


# --- early stopping -----------------------------------------------------


def test_early_stopping_constant_metric_patience_2() -> None:
    # MetricTracker's patience counts the non-improving values tolerated:
    # epoch 1 is the reference value, epochs 2 and 3 use up the patience,
    # epoch 4 stops (the reference, whose patience 0 and 1 coincide, stops
    # at epoch 3).
    trainer = make_trainer(constant(2.44))
    trainer.post_epoch_hooks.register(hooks.EarlyStoppingCallback(patience=2))
    trainer.train(20)
    assert trainer.model.epoch == 4
    assert record(trainer).reasons == [
        'Training stopped with best result=2.44 MSE'
    ]


def test_early_stopping_patience_0_stops_at_first_non_improvement() -> None:
    trainer = make_trainer(sequence([3.0, 2.0, 1.0, 1.5]))
    trainer.post_epoch_hooks.register(hooks.EarlyStoppingCallback(patience=0))
    trainer.train(20)
    assert trainer.model.epoch == 4
    assert record(trainer).reasons == [
        'Training stopped with best result=1.0 MSE'
    ]


def test_early_stopping_waits_for_start_from_epoch() -> None:
    trainer = make_trainer(constant(2.44))
    hook = hooks.EarlyStoppingCallback(patience=0, start_from_epoch=5)
    trainer.post_epoch_hooks.register(hook)
    trainer.train(20)
    assert trainer.model.epoch == 5
    assert len(hook.monitor.history) == 5  # recorded at every call


def test_early_stopping_does_not_stop_while_improving() -> None:
    trainer = make_trainer(lambda epoch: {'MSE': 1.0 / epoch})
    trainer.post_epoch_hooks.register(hooks.EarlyStoppingCallback(patience=0))
    trainer.train(10)
    assert not trainer.terminated
    assert trainer.model.epoch == 10


def test_early_stopping_on_higher_is_better_metric() -> None:
    accuracy = objectives.Metric(_mse, 'Accuracy', higher_is_better=True)
    trainer = make_trainer(sequence([0.1, 0.5, 0.4, 0.3], 'Accuracy'))
    trainer.post_epoch_hooks.register(
        hooks.EarlyStoppingCallback(accuracy, patience=1)
    )
    trainer.train(10)
    assert trainer.model.epoch == 4
    assert record(trainer).reasons == [
        'Training stopped with best result=0.5 Accuracy'
    ]


# --- pruning ------------------------------------------------------------


def test_prune_constant_mse_below_zero_threshold_prunes_at_epoch_2() -> None:
    # a constant MSE is judged lower-is-better (from the loss), so 2.44
    # does not beat the threshold 0.0 and the trial is pruned
    trainer = make_trainer(constant(2.44))
    hook = hooks.PruneCallback({2: 0.0})
    trainer.post_epoch_hooks.register(hook)
    trainer.train(5)
    assert trainer.terminated
    assert trainer.model.epoch == 2
    assert hook.trial_values == {2: 2.44}


def test_prune_constant_mse_beating_threshold_is_not_pruned() -> None:
    # 2.44 is lower, so better, than the threshold 3.0 for an MSE
    trainer = make_trainer(constant(2.44))
    trainer.post_epoch_hooks.register(hooks.PruneCallback({2: 3.0}))
    trainer.train(5)
    assert not trainer.terminated
    assert trainer.model.epoch == 5


def test_prune_higher_is_better_loss_uses_its_direction() -> None:
    trainer = make_trainer(constant(-2.44), negate=True)
    trainer.post_epoch_hooks.register(hooks.PruneCallback({2: 3.0}))
    trainer.train(5)
    assert trainer.model.epoch == 2


def test_prune_none_threshold_always_prunes_and_message() -> None:
    trainer = make_trainer(lambda epoch: {'MSE': 1.0 / epoch})
    hook = hooks.PruneCallback({2: 10.0, 4: None})
    trainer.post_epoch_hooks.register(hook)
    trainer.train(10)
    assert trainer.model.epoch == 4
    assert hook.trial_values == {2: 0.5, 4: 0.25}
    assert len(record(trainer).reasons) == 1
    assert 'epoch 4' in record(trainer).reasons[0]


def test_prune_uses_the_filtered_value() -> None:
    def mean(values: Any) -> float:
        return sum(values) / len(values)

    trainer = make_trainer(sequence([4.0, 1.0]))
    hook = hooks.PruneCallback({2: 2.0}, filter_fn=mean)
    trainer.post_epoch_hooks.register(hook)
    trainer.train(3)
    assert hook.trial_values == {2: 2.5}
    assert trainer.model.epoch == 2


def test_prune_rejects_bad_thresholds() -> None:
    with pytest.raises(TypeError, match='Expected thresholds'):
        hooks.PruneCallback([2, 3])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match='Expected every threshold epoch'):
        hooks.PruneCallback({'2': 0.0})  # type: ignore[dict-item]


# --- plateau schedulers -------------------------------------------------


def _lr(values: list[float]) -> list[float]:
    return [round(v, 10) for v in values]


def test_reduce_lr_on_plateau_compounds() -> None:
    # each plateau rescales the scheduler in use, so reductions compound
    # (not 0.1, 0.05, 0.05, ... as when rescaling the original each time)
    trainer = make_trainer(constant(2.44))
    trainer.post_epoch_hooks.register(
        hooks.ReduceLROnPlateau(factor=0.5, patience=0)
    )
    trainer.train(5)
    assert _lr(record(trainer).lr_after) == [0.1, 0.05, 0.025, 0.0125, 0.00625]
    assert _lr(record(trainer).lr_used) == [0.1, 0.1, 0.05, 0.025, 0.0125]
    assert trainer.current_scheduler == schedulers.RescaleScheduler(
        schedulers.ConstantScheduler(), 0.0625
    )


def test_reduce_lr_on_plateau_compounds_on_an_epoch_schedule() -> None:
    trainer = make_trainer(
        constant(2.44), scheduler=schedulers.StepScheduler([3], gamma=0.1)
    )
    trainer.post_epoch_hooks.register(
        hooks.ReduceLROnPlateau(factor=0.5, patience=0)
    )
    trainer.train(4)
    # halved after epochs 2 and 3; the step at epoch 3 still applies
    assert _lr(record(trainer).lr_used) == [0.1, 0.1, 0.005, 0.0025]


def test_reduce_lr_on_plateau_cooldown_and_patience() -> None:
    trainer = make_trainer(constant(2.44))
    trainer.post_epoch_hooks.register(
        hooks.ReduceLROnPlateau(factor=0.5, cooldown=1)
    )
    trainer.train(6)
    assert _lr(record(trainer).lr_after) == [
        0.1,
        0.05,
        0.05,
        0.025,
        0.025,
        0.0125,
    ]
    patient = make_trainer(constant(2.44))
    patient.post_epoch_hooks.register(
        hooks.ReduceLROnPlateau(factor=0.5, patience=1)
    )
    patient.train(5)
    assert _lr(record(patient).lr_after) == [0.1, 0.1, 0.05, 0.05, 0.025]


def test_reduce_lr_on_plateau_leaves_an_improving_run_alone() -> None:
    trainer = make_trainer(lambda epoch: {'MSE': 1.0 / epoch})
    trainer.post_epoch_hooks.register(hooks.ReduceLROnPlateau())
    trainer.train(5)
    assert _lr(record(trainer).lr_after) == [0.1] * 5


@pytest.mark.parametrize('factor', [0.0, 1.0, 2.0, -0.5])
def test_reduce_lr_on_plateau_rejects_bad_factor(factor: float) -> None:
    with pytest.raises(ValueError, match='Expected factor in'):
        hooks.ReduceLROnPlateau(factor=factor)


def test_change_scheduler_receives_the_scheduler_in_use() -> None:
    received: list[tuple[int, object]] = []

    class Halve(hooks.ChangeSchedulerOnPlateauCallback):
        def get_scheduler(self, epoch: int, scheduler: Any) -> Any:
            received.append((epoch, scheduler))
            return schedulers.RescaleScheduler(scheduler, 0.5)

    trainer = make_trainer(constant(2.44))
    trainer.post_epoch_hooks.register(Halve())
    trainer.train(3)
    first = received[0][1]
    assert received[0] == (2, schedulers.ConstantScheduler())
    assert received[1] == (3, schedulers.RescaleScheduler(first, 0.5))
    with pytest.raises(TypeError):
        hooks.ChangeSchedulerOnPlateauCallback()  # type: ignore[abstract]


def test_restart_schedule_on_plateau() -> None:
    # improving for 3 epochs, then flat; cooldown 2 spaces the restarts
    trainer = make_trainer(
        sequence([3.0, 2.0, 1.0]),
        scheduler=schedulers.ExponentialScheduler(0.5),
    )
    trainer.post_epoch_hooks.register(
        hooks.RestartScheduleOnPlateau(cooldown=2)
    )
    trainer.train(8)
    # restarts after epochs 4 and 7: the next epoch is the schedule's first
    assert _lr(record(trainer).lr_used) == _lr(
        [0.05, 0.025, 0.0125, 0.00625, 0.05, 0.025, 0.0125, 0.05]
    )


def test_restart_keeps_a_reduction_made_after_it() -> None:
    original = schedulers.ExponentialScheduler(0.5)
    restart = hooks.RestartScheduleOnPlateau()
    reduce = hooks.ReduceLROnPlateau(factor=0.5)
    first = restart.get_scheduler(4, original)
    reduced = reduce.get_scheduler(5, first)
    second = restart.get_scheduler(7, reduced)
    for epoch in range(8, 12):
        expected = 0.5 * original(0.1, epoch - 7)
        assert second(0.1, epoch) == pytest.approx(expected)


class ProtocolOnlyTrainer:
    """Only the attributes of TrainerProtocol: no current_scheduler."""

    def __init__(self) -> None:
        real = make_trainer(constant(2.44))
        self.model = real.model
        self.name = real.name
        self.objective = real.objective
        self.validation = None
        self.learning_schema = real.learning_schema
        self.computed_metrics = {'MSE': 2.44}
        self.terminated = False

    def update_learning_rate(self, **kwargs: Any) -> None:
        pass


def test_plateau_hooks_fall_back_to_the_schema_scheduler() -> None:
    # a trainer without current_scheduler (only TrainerProtocol) still works
    received: list[object] = []

    class Keep(hooks.ChangeSchedulerOnPlateauCallback):
        def get_scheduler(self, epoch: int, scheduler: Any) -> Any:
            received.append(scheduler)
            return scheduler

    trainer = ProtocolOnlyTrainer()
    hook = Keep()
    for epoch in (1, 2):
        trainer.model.epoch = epoch
        hook(trainer)  # type: ignore[arg-type]
    assert received == [trainer.learning_schema.scheduler]


# --- names: metric source vs metric monitor -------------------------------


def test_monitoring_names_and_their_former_aliases() -> None:
    # the ``monitor`` argument is the metric source; the hook's
    # metric_monitor reads it; former attribute names stay readable
    source = make_trainer(constant(1.0))
    hook = hooks.EarlyStoppingCallback(monitor=source, patience=3)
    assert isinstance(hook.metric_monitor, hooks.MetricMonitor)
    assert hook.monitor is hook.metric_monitor
    extractor = hook.metric_monitor.extractor
    assert extractor.source is source
    assert extractor.monitor is source
    assert (
        hooks.MetricExtractor.get_monitor is hooks.MetricExtractor.get_source
    )
    metric_monitor = hook.metric_monitor
    assert isinstance(metric_monitor.metric_tracker, objectives.MetricTracker)
    assert metric_monitor.tracker is metric_monitor.metric_tracker
    assert metric_monitor.metric_tracker.patience == 3
    for hook_class in (
        hooks.EarlyStoppingCallback,
        hooks.PruneCallback,
        hooks.ReduceLROnPlateau,
        hooks.RestartScheduleOnPlateau,
    ):
        assert issubclass(hook_class, hooks.MonitoringHook)


def test_monitoring_hooks_take_the_reference_keywords() -> None:
    def mean(values: Any) -> float:
        return sum(values) / len(values)

    shared = {'min_delta': 0.5, 'best_is': 'higher', 'filter_fn': mean}
    made = [
        hooks.MetricMonitor('MSE', None, patience=2, **shared),
        hooks.EarlyStoppingCallback(
            metric='MSE',
            monitor=None,
            patience=2,
            start_from_epoch=3,
            **shared,
        ).metric_monitor,
        hooks.PruneCallback({1: None}, metric='MSE', **shared).metric_monitor,
        hooks.ReduceLROnPlateau(
            metric='MSE', patience=2, cooldown=1, factor=0.5, **shared
        ).metric_monitor,
        hooks.RestartScheduleOnPlateau(
            metric='MSE', patience=2, cooldown=1, **shared
        ).metric_monitor,
    ]
    for monitor in made:
        tracker = monitor.metric_tracker
        assert (tracker.min_delta, monitor.best_is) == (0.5, 'higher')
        assert tracker.filter_fn is mean
        assert monitor.metric_name == 'MSE'
    assert hooks.EarlyStoppingCallback().metric_monitor.tracker.patience == 10


def test_a_misspelt_monitoring_keyword_is_an_error() -> None:
    with pytest.raises(TypeError, match='min_detla'):
        hooks.EarlyStoppingCallback(min_detla=0.1)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match='patience'):
        hooks.PruneCallback({2: 0.0}, patience=1)  # type: ignore[call-arg]


def test_monitoring_options_still_accept_the_reference_positional_order() -> (
    None
):
    # notebooks written for the reference releases pass options by position
    def mean(history: Sequence[float]) -> float:
        return sum(history) / len(history)

    early = hooks.EarlyStoppingCallback('MSE', None, 0.5, 3, 'higher', mean, 4)
    assert early.start_from_epoch == 4
    prune = hooks.PruneCallback({1: None}, 'MSE', None, 0.5, 'higher', mean)
    reduce = hooks.ReduceLROnPlateau(
        'MSE', None, 0.5, 3, 'higher', mean, 0.5, 2
    )
    assert (reduce.factor, reduce.cooldown) == (0.5, 2)
    restart = hooks.RestartScheduleOnPlateau(
        'MSE', None, 0.5, 3, 'higher', mean, 2
    )
    assert restart.cooldown == 2
    monitor = hooks.MetricMonitor('MSE', None, 0.5, 3, 'higher', mean)
    for made in (early.metric_monitor, prune.metric_monitor, monitor):
        tracker = made.metric_tracker
        assert (tracker.min_delta, made.best_is) == (0.5, 'higher')
        assert tracker.filter_fn is mean
    for made in (early.metric_monitor, reduce.metric_monitor, monitor):
        assert made.metric_tracker.patience == 3


def test_an_option_given_by_position_and_by_keyword_is_an_error() -> None:
    with pytest.raises(
        TypeError, match="multiple values for argument 'min_delta'"
    ):
        hooks.EarlyStoppingCallback('MSE', None, 0.5, min_delta=0.1)
    with pytest.raises(TypeError, match='at most 6 positional'):
        hooks.PruneCallback({1: None}, 'MSE', None, 0.5, 'higher', max, 1)
