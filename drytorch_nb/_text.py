"""One plain line per notable event: the panel's fallback and its log.

Used where widgets cannot be drawn (no ipywidgets, no kernel) and for the
panel's event log. Lines never contain a carriage return or a line break,
so logs and captured outputs stay one line per event.
"""

from __future__ import annotations

from drytorch.core import events
from drytorch.utils.formatting import format_metrics, format_number

__all__ = ['event_line', 'one_line']

_MAX_LINE = 500


def one_line(text: str, limit: int = _MAX_LINE) -> str:
    """The text on one line: control characters shown escaped, cut."""
    if not text.isprintable():
        text = ''.join(
            char if char.isprintable() else repr(char)[1:-1] for char in text
        )
    return text if len(text) <= limit else text[: limit - 3] + '...'


def _first_line(text: str) -> str:
    lines = text.strip().splitlines()
    if not lines:
        return ''
    first = lines[0]
    return first + ' ...' if len(lines) > 1 else first


def _describe(event: events.Event) -> str | None:
    if isinstance(event, events.StartRunEvent):
        verb = 'resumed' if event.resumed else 'started'
        tags = f' tags={",".join(event.tags)}' if event.tags else ''
        return f'Run {event.run_id} of {event.exp_name} {verb}{tags}'
    if isinstance(event, events.StopRunEvent):
        return f'Run {event.run_id} of {event.exp_name}: {event.status}'
    if isinstance(event, events.ModelRegistrationEvent):
        summary = event.summary
        if summary is None:
            return (
                f'Model {event.model_name}: '
                f'{_first_line(event.architecture_repr)}'
            )
        return (
            f'Model {event.model_name}: {summary.class_name}, '
            f'{format_number(summary.total_params)} parameters '
            f'({format_number(summary.trainable_params)} trainable)'
        )
    if isinstance(event, events.ActorRegistrationEvent):
        return f'Actor {event.actor_name} acts on {event.model_name}'
    if isinstance(event, events.StartTrainingEvent):
        return (
            f'{event.source_name}: training {event.model_name} from epoch '
            f'{event.start_epoch + 1} to {event.end_epoch}'
        )
    if isinstance(event, events.MetricEvent):
        return (
            f'{event.source_name} epoch {event.epoch}: '
            f'{format_metrics(event.metrics)}'
        )
    if isinstance(event, events.TerminatedTrainingEvent):
        return (
            f'{event.source_name}: training of {event.model_name} '
            f'terminated at epoch {event.epoch}: {event.reason}'
        )
    if isinstance(event, events.InterruptedTrainingEvent):
        text = (
            f'{event.source_name}: training of {event.model_name} '
            f'interrupted at epoch {event.epoch}'
        )
        if event.discarded:
            text += ' (the epoch in progress was discarded)'
        if event.saved:
            text += '; checkpoint saved'
        return text
    if isinstance(event, events.EndTrainingEvent):
        return f'{event.source_name}: training ended'
    if isinstance(event, events.StartTestEvent):
        return f'{event.source_name}: testing {event.model_name}'
    if isinstance(event, events.SaveModelEvent | events.LoadModelEvent):
        verb = (
            'saved to'
            if isinstance(event, events.SaveModelEvent)
            else ('loaded from')
        )
        return (
            f'{event.model_name} {event.definition} at epoch {event.epoch} '
            f'{verb} {event.location}'
        )
    if isinstance(event, events.LearningRateEvent):
        changes = []
        if event.base_lr is not None:
            changes.append(f'base_lr={event.base_lr}')
        if event.scheduler_name is not None:
            changes.append(f'scheduler={event.scheduler_name}')
        return (
            f'{event.source_name}: learning rate of {event.model_name} at '
            f'epoch {event.epoch}: {", ".join(changes) or "unchanged"}'
        )
    return None


def event_line(event: events.Event) -> str | None:
    """The line that describes the event, or None for routine events.

    Routine events (a pass starting, an epoch starting or ending) have no
    line: the metric line of the pass says what matters.
    """
    text = _describe(event)
    return None if text is None else one_line(text)
