"""Events: plain frozen values that describe what happened in a run.

Creating an event does nothing by itself. The library hands events to the
active run (:func:`drytorch.core.scope.publish`), whose dispatcher passes
them to the subscribed trackers.
"""

from __future__ import annotations

import dataclasses
import datetime
import pathlib
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from drytorch.utils.model_summary import ModelSummary

__all__ = [
    'ActorRegistrationEvent',
    'EndEpochEvent',
    'EndTestEvent',
    'EndTrainingEvent',
    'Event',
    'InterruptedTrainingEvent',
    'IterateBatchEvent',
    'LearningRateEvent',
    'LoadModelEvent',
    'MetricEvent',
    'ModelRegistrationEvent',
    'ModelShapesEvent',
    'SaveModelEvent',
    'StartEpochEvent',
    'StartExperimentEvent',
    'StartTestEvent',
    'StartTrainingEvent',
    'StopExperimentEvent',
    'TerminatedTrainingEvent',
]


@dataclasses.dataclass(frozen=True, slots=True)
class Event:
    """Base class of every event."""


@dataclasses.dataclass(frozen=True, slots=True)
class StartExperimentEvent(Event):
    """A run starts (or resumes).

    Attributes:
        config: the experiment's configuration.
        exp_name: the experiment's name.
        run_ts: when the run object was created.
        run_id: the run's id.
        resumed: whether the run resumes a recorded one.
        par_dir: the experiment's output root.
        tags: the experiment's tags.
    """

    config: Any
    exp_name: str
    run_ts: datetime.datetime
    run_id: str
    resumed: bool = False
    par_dir: pathlib.Path = pathlib.Path()
    tags: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(frozen=True, slots=True)
class StopExperimentEvent(Event):
    """A run stops.

    Attributes:
        exp_name: the experiment's name.
        run_id: the run's id.
        status: the status recorded for the run ('completed', 'failed', ...).
    """

    exp_name: str
    run_id: str
    status: str = 'completed'


@dataclasses.dataclass(frozen=True, slots=True)
class ModelRegistrationEvent(Event):
    """A model is registered in the run.

    Attributes:
        model_name: the model's name.
        model_ts: when the model was created.
        architecture_repr: a readable representation of the module.
        summary: its layers, parameter counts and sizes (no output shapes
            yet: they come with a :class:`ModelShapesEvent`).
    """

    model_name: str
    model_ts: datetime.datetime
    architecture_repr: str
    summary: ModelSummary | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class ModelShapesEvent(Event):
    """A model ran its first forward pass: the output shapes are known.

    Published once per model, from inside that first (real) forward pass.

    Attributes:
        model_name: the model's name.
        shapes: output shape by qualified sub-module name ('' for the
            model's own output).
        input_shape: the shape of the model's input.
        summary: the model's summary, taken again after the pass (lazy
            modules have their sizes then), with the shapes filled in.
    """

    model_name: str
    shapes: Mapping[str, str]
    input_shape: str = ''
    summary: ModelSummary | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class ActorRegistrationEvent(Event):
    """An actor (trainer, evaluation, runner) acts on a model first.

    Attributes:
        actor_name: the actor's name.
        actor_ts: when the actor was created.
        model_name: the model's name.
        model_ts: when the model was created.
        metadata: a readable description of the actor.
        settings: what people look for first (optimizer, learning rates,
            batch size, loss, metrics, hooks...), as (label, text) pairs.
    """

    actor_name: str
    actor_ts: datetime.datetime
    model_name: str
    model_ts: datetime.datetime
    metadata: dict[str, Any]
    settings: tuple[tuple[str, str], ...] = ()


@dataclasses.dataclass(frozen=True, slots=True)
class StartTrainingEvent(Event):
    """Training starts.

    Attributes:
        source_name: the trainer's name.
        model_name: the model's name.
        start_epoch: the epoch before the first trained one.
        end_epoch: the last epoch to train.
    """

    source_name: str
    model_name: str
    start_epoch: int
    end_epoch: int


@dataclasses.dataclass(frozen=True, slots=True)
class StartEpochEvent(Event):
    """A training epoch starts.

    Attributes:
        source_name: the trainer's name.
        model_name: the model's name.
        epoch: the epoch that starts.
        end_epoch: the last epoch of the training, if known.
    """

    source_name: str
    model_name: str
    epoch: int
    end_epoch: int | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class IterateBatchEvent(Event):
    """A pass over a loader starts.

    Trackers that show progress append a callback to ``push_updates``. The
    runner calls :meth:`update` at a throttled rate (a few times per second)
    and once at the end of the pass, never once per batch.

    Attributes:
        source_name: the actor's name.
        batch_size: the loader's batch size.
        n_iter: the number of batches of the pass.
        dataset_size: the number of samples.
        push_updates: progress callbacks, called as
            ``callback(metrics, n_processes, n_batches)``: the metrics so far
            (possibly empty), the number of processes, and the number of
            batches done since the previous call.
    """

    source_name: str
    batch_size: int | None
    n_iter: int
    dataset_size: int
    push_updates: list[Callable[[Mapping[str, Any], int, int], None]] = (
        dataclasses.field(default_factory=list)
    )

    def update(
        self,
        metrics: Mapping[str, Any],
        n_processes: int = 1,
        n_batches: int = 1,
    ) -> None:
        """Report progress (and the metrics so far) to every callback."""
        for callback in self.push_updates:
            callback(metrics, n_processes, n_batches)


@dataclasses.dataclass(frozen=True, slots=True)
class MetricEvent(Event):
    """Metrics computed at the end of a pass.

    Attributes:
        model_name: the model's name.
        source_name: the actor's name.
        epoch: the model's epoch.
        metrics: metric names and values.
    """

    model_name: str
    source_name: str
    epoch: int
    metrics: Mapping[str, float]


@dataclasses.dataclass(frozen=True, slots=True)
class EndEpochEvent(Event):
    """A training epoch ends.

    Attributes:
        source_name: the trainer's name.
        model_name: the model's name.
        epoch: the epoch that ended.
    """

    source_name: str
    model_name: str
    epoch: int


@dataclasses.dataclass(frozen=True, slots=True)
class TerminatedTrainingEvent(Event):
    """Training was terminated early.

    Attributes:
        source_name: the trainer's name.
        model_name: the model's name.
        epoch: the epoch of the termination.
        reason: why training was terminated.
    """

    source_name: str
    model_name: str
    epoch: int
    reason: str


@dataclasses.dataclass(frozen=True, slots=True)
class InterruptedTrainingEvent(Event):
    """Training was interrupted (KeyboardInterrupt); it can be continued.

    Attributes:
        source_name: the trainer's name.
        model_name: the model's name.
        epoch: the last completed epoch, where the model now is.
        discarded: whether an epoch in progress was discarded.
        saved: whether the last completed epoch was saved as a checkpoint.
    """

    source_name: str
    model_name: str
    epoch: int
    discarded: bool = False
    saved: bool = False


@dataclasses.dataclass(frozen=True, slots=True)
class EndTrainingEvent(Event):
    """Training ends.

    Attributes:
        source_name: the trainer's name.
    """

    source_name: str


@dataclasses.dataclass(frozen=True, slots=True)
class LearningRateEvent(Event):
    """The learning rate or the scheduler changed.

    Attributes:
        model_name: the model's name.
        source_name: the trainer's name.
        epoch: the model's epoch.
        base_lr: the new base learning rate(s), if changed.
        scheduler_name: the new scheduler's name, if changed.
    """

    model_name: str
    source_name: str
    epoch: int
    base_lr: Mapping[str, float] | float | None = None
    scheduler_name: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class SaveModelEvent(Event):
    """A model state (or checkpoint) was saved.

    Attributes:
        model_name: the model's name.
        definition: 'state' (module only) or 'checkpoint' (with optimizer).
        location: where it was saved.
        epoch: the model's epoch.
    """

    model_name: str
    definition: str
    location: str
    epoch: int


@dataclasses.dataclass(frozen=True, slots=True)
class LoadModelEvent(Event):
    """A model state (or checkpoint) was loaded.

    Attributes:
        model_name: the model's name.
        definition: 'state' (module only) or 'checkpoint' (with optimizer).
        location: where it was loaded from.
        epoch: the epoch loaded.
    """

    model_name: str
    definition: str
    location: str
    epoch: int


@dataclasses.dataclass(frozen=True, slots=True)
class StartTestEvent(Event):
    """A test starts.

    Attributes:
        source_name: the test's name.
        model_name: the model's name.
    """

    source_name: str
    model_name: str


@dataclasses.dataclass(frozen=True, slots=True)
class EndTestEvent(Event):
    """A test ends.

    Attributes:
        source_name: the test's name.
        model_name: the model's name.
    """

    source_name: str
    model_name: str
