"""Log events as text lines through the standard ``'drytorch'`` logger.

:class:`BuiltinLogger` turns each event into one log record of the
``'drytorch'`` logger, at one of the levels of :data:`INFO_LEVELS`, so the
verbosity chooses how much is shown (epochs, metrics, checkpoints, ...).

Importing this module configures nothing. The default handler is installed
by :func:`enable_default_handler` (``drytorch.init_trackers`` calls it),
which also registers the level names with :mod:`logging`; the handler's
setup lives in :mod:`drytorch.trackers._log_setup`, re-exported here.

Text that comes from the user (experiment, model and metric names) is only
ever passed to the logger as an argument of a constant format string, so a
name such as ``'a)b'`` or ``'100%'`` is written verbatim.

Carriage returns are written only to terminals, where they let a line
replace a progress bar; notebook cells, files, pipes and CI logs get plain
lines, each ending with a newline. Metric values are written with
:func:`~drytorch.utils.formatting.format_number` (``loss=0.7519``).

Inside a Jupyter kernel, the default handler writes nothing into cells while
another display has muted them (see
:func:`drytorch.utils.environment.mute_cell_output`); the records of
:class:`BuiltinLogger` carry a mark (:func:`is_event_record`) so that such a
display can tell them from other records of the ``'drytorch'`` logger.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from drytorch.core import events
from drytorch.core.track import Tracker, on
from drytorch.trackers import _log_setup
from drytorch.trackers._log_setup import (
    EVENT_MARK,
    INFO_LEVELS,
    DryTorchFilter,
    DryTorchFormatter,
    InfoLevels,
    ProgressFormatter,
    disable_default_handler,
    disable_propagation,
    enable_default_handler,
    enable_propagation,
    get_verbosity,
    is_event_record,
    logger,
    register_level_names,
    set_formatter,
    set_verbosity,
    supports_carriage_return,
)
from drytorch.utils.formatting import format_metrics, format_number

__all__ = [
    'INFO_LEVELS',
    'BuiltinLogger',
    'DryTorchFilter',
    'DryTorchFormatter',
    'InfoLevels',
    'ProgressFormatter',
    'disable_default_handler',
    'disable_propagation',
    'enable_default_handler',
    'enable_propagation',
    'get_verbosity',
    'is_event_record',
    'logger',
    'set_formatter',
    'set_verbosity',
    'supports_carriage_return',
]


# What the default handler installed, for the tests' isolation fixture.
_state = _log_setup._state

_TAB = '\t'
_EVENT_EXTRA: Mapping[str, object] = {EVENT_MARK: True}


def _metrics_text(source_name: str, metrics: Mapping[str, Any]) -> str:
    head = f'{source_name:>15}: '
    if not metrics:
        return head
    return head + _TAB + format_metrics(metrics, separator=_TAB)


def _lr_text(base_lr: Mapping[str, float] | float) -> str:
    if isinstance(base_lr, Mapping):
        return format_metrics(base_lr, separator=', ')
    return format_number(base_lr)


def _log(level: int, msg: str, *args: Any) -> None:
    """Log an event's line, marked as such (see :func:`is_event_record`)."""
    logger.log(level, msg, *args, extra=_EVENT_EXTRA, stacklevel=2)


class BuiltinLogger(Tracker):
    """Write one line per event through the ``'drytorch'`` logger.

    The line of each event is logged at its level in :data:`INFO_LEVELS`;
    nothing is written to disk. Text is built only when the level is
    enabled.
    """

    def __init__(self) -> None:
        super().__init__()
        register_level_names()

    @on(events.StartRunEvent)
    def _on_start_experiment(self, event: events.StartRunEvent) -> None:
        if event.resumed:
            fmt = 'Experiment: %s - Resuming run: %s'
        else:
            fmt = 'Experiment: %s - Starting run: %s'
        _log(INFO_LEVELS.experiment, fmt, event.exp_name, event.run_id)

    @on(events.StopRunEvent)
    def _on_stop_experiment(self, event: events.StopRunEvent) -> None:
        _log(
            INFO_LEVELS.experiment,
            'Experiment: %s - Stopping run: %s',
            event.exp_name,
            event.run_id,
        )

    @on(events.ModelRegistrationEvent)
    def _on_model_registration(
        self, event: events.ModelRegistrationEvent
    ) -> None:
        _log(
            INFO_LEVELS.internal,
            'Model %s has been registered',
            event.model_name,
        )

    @on(events.ActorRegistrationEvent)
    def _on_actor_registration(
        self, event: events.ActorRegistrationEvent
    ) -> None:
        _log(
            INFO_LEVELS.internal,
            'Source %s %s has been registered',
            event.actor_name,
            event.model_name,
        )

    @on(events.StartTrainingEvent)
    def _on_start_training(self, event: events.StartTrainingEvent) -> None:
        _log(INFO_LEVELS.training, 'Training %s started', event.model_name)

    @on(events.EndTrainingEvent)
    def _on_end_training(self, event: events.EndTrainingEvent) -> None:
        _log(INFO_LEVELS.training, 'Training ended')

    @on(events.TerminatedTrainingEvent)
    def _on_terminated_training(
        self, event: events.TerminatedTrainingEvent
    ) -> None:
        _log(
            INFO_LEVELS.training,
            'Training %s terminated at epoch %d. Reason: %s',
            event.model_name,
            event.epoch,
            event.reason,
        )

    @on(events.StartEpochEvent)
    def _on_start_epoch(self, event: events.StartEpochEvent) -> None:
        level = INFO_LEVELS.epoch
        if not logger.isEnabledFor(level):
            return
        if event.end_epoch is None:
            _log(level, '====> Epoch %d:', event.epoch)
            return
        width = len(str(event.end_epoch))
        _log(level, '====> Epoch %*d/%d:', width, event.epoch, event.end_epoch)

    @on(events.EndEpochEvent)
    def _on_end_epoch(self, event: events.EndEpochEvent) -> None:
        _log(INFO_LEVELS.internal, 'Epoch completed')

    @on(events.MetricEvent)
    def _on_metrics(self, event: events.MetricEvent) -> None:
        level = INFO_LEVELS.metrics
        if not logger.isEnabledFor(level):
            return
        text = _metrics_text(event.source_name, event.metrics)
        _log(level, '%s', text)

    @on(events.SaveModelEvent)
    def _on_save_model(self, event: events.SaveModelEvent) -> None:
        _log(
            INFO_LEVELS.model_state,
            'Saving %s %s in: %s',
            event.model_name,
            event.definition,
            event.location,
        )

    @on(events.LoadModelEvent)
    def _on_load_model(self, event: events.LoadModelEvent) -> None:
        _log(
            INFO_LEVELS.model_state,
            'Loading %s %s at epoch %d',
            event.model_name,
            event.definition,
            event.epoch,
        )

    @on(events.LearningRateEvent)
    def _on_learning_rate(self, event: events.LearningRateEvent) -> None:
        level = INFO_LEVELS.model_state
        if not logger.isEnabledFor(level):
            return
        fmt = 'Updated %s optimizer at epoch %d'
        args: list[Any] = [event.model_name, event.epoch]
        if event.base_lr is not None:
            fmt += '. New learning rate: %s'
            args.append(_lr_text(event.base_lr))
        if event.scheduler_name is not None:
            fmt += '. New scheduler: %s'
            args.append(event.scheduler_name)
        _log(level, fmt, *args)

    @on(events.StartTestEvent)
    def _on_start_test(self, event: events.StartTestEvent) -> None:
        _log(INFO_LEVELS.test, 'Testing %s started', event.model_name)

    @on(events.EndTestEvent)
    def _on_end_test(self, event: events.EndTestEvent) -> None:
        _log(INFO_LEVELS.internal, 'Test executed without errors')
