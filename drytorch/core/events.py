"""Events: plain frozen values that describe what happened in a run.

Creating an event does nothing by itself. The library hands events to the
active run (:func:`drytorch.core.scope.publish`), whose dispatcher passes
them to the subscribed trackers. Trackers that show progress during a pass
over a loader hand a :class:`ProgressCallback` to its
:class:`IterateBatchEvent`.

This module was called ``drytorch.core.log_events`` in drytorch 0.1.0rc5 and
0.1.0rc11; that path still works and gives the same objects, and the run
events keep their former names as aliases (:class:`StartExperimentEvent`
is :class:`StartRunEvent`). ``docs/names.md`` lists every such pair.
"""

from __future__ import annotations

import dataclasses
import datetime
import pathlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

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
    'ProgressCallback',
    'SaveModelEvent',
    'StartEpochEvent',
    'StartExperimentEvent',
    'StartRunEvent',
    'StartTestEvent',
    'StartTrainingEvent',
    'StopExperimentEvent',
    'StopRunEvent',
    'TerminatedTrainingEvent',
]


@dataclasses.dataclass(frozen=True, slots=True)
class Event:
    """Base class of every event."""


class ProgressCallback(Protocol):
    """How a pass over a loader reports its progress to a tracker.

    A tracker that shows progress (a bar, the notebook panel) appends a
    callback to :attr:`IterateBatchEvent.push_updates` when it handles the
    event that opens the pass. The runner then calls every callback through
    :meth:`IterateBatchEvent.update`, positionally, as
    ``callback(metrics, n_processes, n_batches)``:

    * ``metrics``: the metric values so far by name, as host floats; empty
      when none is available yet;
    * ``n_processes``: how many processes share the pass (1 unless
      distributed);
    * ``n_batches``: how many batches each process completed since the
      previous call.

    The runner calls it at most a few times per second (its ``progress_hz``),
    never once per batch, and once more at the end of the pass with the
    batches left and the final metrics. Callers do not promise that the
    counts add up to exactly ``n_iter``: clamp the total. The call happens
    inside the training loop, so it must be cheap and must not raise.
    """

    def __call__(
        self, metrics: Mapping[str, Any], n_processes: int, n_batches: int, /
    ) -> None:
        """Take the progress made since the previous call."""


@dataclasses.dataclass(frozen=True, slots=True)
class StartRunEvent(Event):
    """A run starts or resumes (a run, not the experiment, which has many).

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


StartExperimentEvent = StartRunEvent
"""The name of :class:`StartRunEvent` in drytorch 0.1.0rc5 and 0.1.0rc11."""


@dataclasses.dataclass(frozen=True, slots=True)
class StopRunEvent(Event):
    """A run stops, whatever its final status.

    Attributes:
        exp_name: the experiment's name.
        run_id: the run's id.
        status: the status recorded for the run ('completed', 'failed', ...).
    """

    exp_name: str
    run_id: str
    status: str = 'completed'


StopExperimentEvent = StopRunEvent
"""The name of :class:`StopRunEvent` in drytorch 0.1.0rc5 and 0.1.0rc11."""


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

    The event is frozen, but ``push_updates`` is a list that the trackers
    handling the event fill: it is how the runner learns where to report
    progress during the pass (see :class:`ProgressCallback`).

    Attributes:
        source_name: the actor's name.
        batch_size: the loader's batch size.
        n_iter: the number of batches of the pass.
        dataset_size: the number of samples.
        push_updates: the progress callbacks of the pass.
    """

    source_name: str
    batch_size: int | None
    n_iter: int
    dataset_size: int
    push_updates: list[ProgressCallback] = dataclasses.field(
        default_factory=list
    )

    def update(
        self,
        metrics: Mapping[str, Any],
        n_processes: int = 1,
        n_batches: int = 1,
    ) -> None:
        """Call every progress callback (see :class:`ProgressCallback`)."""
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
