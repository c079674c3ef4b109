"""The notebook panel: a tracker that shows each run inline.

Per run, the panel shows a header (experiment, run id, status, elapsed time,
tags, configuration), progress bars for epochs and batches, live charts of
every metric, the architecture of each model and the metadata of each actor.
In a Jupyter kernel with ipywidgets (7.6 to 8.x) it is a tree of core
widgets; when the run stops, the widgets are closed and the displayed panel
is replaced, through its display handle, by a static HTML snapshot, so a
saved notebook shows it anywhere without widget state. Elsewhere (no
ipywidgets, no kernel) it writes one plain line per notable event.

Cost: nothing is done per batch. Progress arrives through the runner's
throttled callback, and :mod:`drytorch_nb._schedule` decides what reaches
the browser: one progress bar at most ``progress_hz`` times per second, the
status line and the charts at most ``chart_hz`` times per second, each
widget in one ``hold_sync`` message and only when it changed (with the
defaults, about 6 messages per second at most). When a cell ends during a
run, what changed is sent at once (IPython's ``post_run_cell`` hook).

The module is a little over 500 lines because it is one class, the
handler of every event the panel shows: drawing lives in ``_render``,
``_bars``, ``_cards`` and ``_snapshot``, the training cell's view in
``_cell_view``, and what is left reads best as one table of handlers.
"""

from __future__ import annotations

import contextlib
import functools
import sys
import time
from collections.abc import Callable, Mapping
from typing import IO, Any, Literal

from drytorch.core import events
from drytorch.core.track import Tracker, on
from drytorch_nb import _cards, _env, _render, _snapshot, _text
from drytorch_nb._cell_view import (
    CellView,
    display_html,
    display_raw,
    html_object,
)
from drytorch_nb._schedule import Scheduler
from drytorch_nb._state import ActorInfo, PanelState, PassProgress
from drytorch_nb._widgets import LiveView

__all__ = ['NotebookPanel']

Mode = Literal['auto', 'widgets', 'text']

_CELL_EVENT = 'post_run_cell'
_CARD_REFRESH_S = 5.0  # least time between two redraws of the actor cards
_MODES = ('auto', 'widgets', 'text')


def _check_rate(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        msg = f'Expected {name} to be a positive number, got {value!r}.'
        raise TypeError(msg)
    if not value > 0:
        msg = f'Expected {name} to be a positive number, got {value!r}.'
        raise ValueError(msg)
    return float(value)


class NotebookPanel(Tracker):
    """Show every run inline: header, progress, charts, models, actors.

    Attributes:
        progress_hz: the most progress-bar updates per second.
        chart_hz: the most status-line and chart updates per second.
        max_points: the most points drawn per curve (older points are
            thinned out, so long trainings stay small).
        mode: 'auto' (widgets in a kernel with ipywidgets, text
            elsewhere), 'widgets' or 'text'.
        stream: where text lines go; None for ``sys.stdout`` at write time.
    """

    def __init__(
        self,
        progress_hz: float = 4.0,
        chart_hz: float = 1.0,
        max_points: int = 200,
        *,
        mode: Mode = 'auto',
        stream: IO[str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Configure the panel.

        Args:
            progress_hz: the most progress-bar updates per second.
            chart_hz: the most status-line and chart updates per second.
            max_points: the most points drawn per curve (at least 2).
            mode: 'auto', 'widgets' or 'text' (see the class attributes).
            stream: where text lines go; None for ``sys.stdout``.
            clock: a monotonic clock in seconds, for the throttling and the
                elapsed time (replaceable to replay events).

        Raises:
            TypeError: if a rate or max_points is not a number.
            ValueError: if a rate is not positive, max_points is below 2 or
                the mode is unknown.
        """
        super().__init__()
        self.progress_hz = _check_rate('progress_hz', progress_hz)
        self.chart_hz = _check_rate('chart_hz', chart_hz)
        if isinstance(max_points, bool) or not isinstance(max_points, int):
            msg = f'Expected max_points to be an int, got {max_points!r}.'
            raise TypeError(msg)
        if max_points < 2:
            msg = f'Expected max_points of at least 2, got {max_points}.'
            raise ValueError(msg)
        if mode not in _MODES:
            msg = f'Expected mode to be one of {_MODES}, got {mode!r}.'
            raise ValueError(msg)
        self.max_points = max_points
        self.mode: Mode = mode
        self.stream = stream
        self._clock = clock
        self._state: PanelState | None = None
        self._scheduler: Scheduler | None = None
        self._handle: Any = None
        self._cell_hook: Any = None
        self._panel_cell: int | None = None
        self._cell_view = CellView(clock)
        self._text_mode = True
        self._last_snapshot = ''

    # ----------------------------------------------------------- public

    @property
    def widget(self) -> Any:
        """The live panel's root widget, or None (text mode, or stopped)."""
        view = self.view
        return None if view is None else view.root

    @property
    def view(self) -> LiveView | None:
        """The live widgets of the current run, or None."""
        scheduler = self._scheduler
        return None if scheduler is None else scheduler.view

    @property
    def text_mode(self) -> bool:
        """Whether the current (or last) run is shown as text lines."""
        return self._text_mode

    def snapshot_html(self) -> str:
        """The static HTML of the current run's panel (or the last one's).

        Returns:
            The snapshot; empty if the panel never saw a run.
        """
        state = self._state
        if state is None:
            return self._last_snapshot
        return _snapshot.snapshot_html(state, self._clock())

    def add_log_line(self, text: str) -> None:
        """Add a line that no event describes to the Log of the run shown.

        The extension forwards here the records of the ``'drytorch'``
        logger that are not event lines (warnings, messages of user code).
        Control characters are shown escaped and long text is cut, so the
        line stays one line. Where no live panel shows a run (text mode, or
        between runs), the line is written to ``stream`` instead, like the
        event lines in text mode, so that it is not lost.

        Args:
            text: the message.

        Raises:
            TypeError: if the text is not a string.
        """
        if not isinstance(text, str):
            msg = f'Expected the log line to be a str, got {text!r}.'
            raise TypeError(msg)
        line = _text.one_line(text)
        state = self._state
        if state is not None:
            state.log.append(line)
        scheduler = self._scheduler
        if scheduler is not None:
            scheduler.log_dirty = True
            return
        stream = sys.stdout if self.stream is None else self.stream
        stream.write(line + '\n')
        flush = getattr(stream, 'flush', None)
        if flush is not None:
            flush()

    def clean_up(self) -> None:
        """Replace the live panel by its snapshot and close the widgets."""
        self._finish()

    # ----------------------------------------------------------- events

    @on(events.StartRunEvent)
    def _on_start(self, event: events.StartRunEvent) -> None:
        self._finish()  # a run that never stopped gets its snapshot first
        now = self._clock()
        state = PanelState(
            exp_name=event.exp_name,
            run_id=event.run_id,
            resumed=event.resumed,
            tags=list(event.tags),
            config=event.config,
            started=now,
            max_points=self.max_points,
        )
        self._state = state
        self._text_mode = not self._open_view(state, now)
        self._log(event)

    @on(events.StopRunEvent)
    def _on_stop(self, event: events.StopRunEvent) -> None:
        state = self._ensure_state()
        state.status = event.status
        self._log(event)
        # the base class calls clean_up() next, which shows the snapshot

    @on(events.ModelRegistrationEvent)
    def _on_model(self, event: events.ModelRegistrationEvent) -> None:
        state = self._ensure_state()
        name = event.model_name
        known = name in state.models  # registered again: same fold
        state.models[name] = event.architecture_repr
        if event.summary is not None:
            state.cards.summaries[name] = event.summary
        else:
            state.cards.summaries.pop(name, None)
        card = _cards.model_html(state, name)
        if known:
            self._set_card(True, list(state.models).index(name), card)
        elif self._scheduler is not None:
            self._scheduler.add_fold(True, name, card)
        self._log(event)
        self._sync()

    @on(events.ModelShapesEvent)
    def _on_model_shapes(self, event: events.ModelShapesEvent) -> None:
        state = self._ensure_state()
        name = event.model_name
        summaries = state.cards.summaries
        summary = event.summary
        if summary is None and name in summaries:
            summary = summaries[name].with_shapes(
                event.shapes, event.input_shape, event.shapes.get('', '')
            )
        if summary is None or name not in state.models:
            return
        summaries[name] = summary
        index = list(state.models).index(name)
        self._set_card(True, index, _cards.model_html(state, name))

    @on(events.ActorRegistrationEvent)
    def _on_actor(self, event: events.ActorRegistrationEvent) -> None:
        state = self._ensure_state()
        key = (event.actor_name, event.model_name)
        known = key in state.actors  # registered again: same fold
        info = ActorInfo(event.actor_name, event.model_name, event.metadata)
        state.actors[key] = info
        state.cards.settings[key] = event.settings
        card = _cards.actor_html(state, key)
        if known:
            self._set_card(False, list(state.actors).index(key), card)
        elif self._scheduler is not None:
            self._scheduler.add_fold(False, _cards.actor_title(key), card)
        self._log(event)
        self._sync()

    @on(events.EndEpochEvent, events.EndTrainingEvent)
    def _on_actor_cards(self, event: events.Event) -> None:
        """Redraw the live actor cards (epochs done), every few seconds."""
        state = self._state
        if state is None or self._scheduler is None:
            return
        now = self._clock()
        is_end = isinstance(event, events.EndTrainingEvent)
        if not is_end and now < state.cards.next_refresh:
            return
        state.cards.next_refresh = now + _CARD_REFRESH_S
        for index, key in enumerate(state.actors):
            self._set_card(False, index, _cards.actor_html(state, key))

    def _set_card(self, is_model: bool, index: int, card: str) -> None:
        """Replace the HTML of a model's or an actor's live fold."""
        view = self.view
        if view is None:
            return
        accordion = view.models if is_model else view.actors
        if not _cards.set_fold(accordion, index, card):
            self._sync(force=True)  # its fold was queued: send it first
            _cards.set_fold(accordion, index, card)

    @on(events.StartTrainingEvent)
    def _on_start_training(self, event: events.StartTrainingEvent) -> None:
        state = self._ensure_state()
        state.start_epoch = state.epochs_done = event.start_epoch
        state.epoch = event.start_epoch
        state.end_epoch = event.end_epoch
        state.training_started = self._clock()
        state.training_source = event.source_name
        state.training_active = True
        state.terminated = ''
        self._log(event)
        self._show_compact()
        self._cell_view.trained = True
        self._sync()

    @on(events.StartEpochEvent)
    def _on_start_epoch(self, event: events.StartEpochEvent) -> None:
        state = self._ensure_state()
        state.epoch = event.epoch
        if event.end_epoch is not None:
            state.end_epoch = event.end_epoch

    @on(events.EndEpochEvent)
    def _on_end_epoch(self, event: events.EndEpochEvent) -> None:
        state = self._ensure_state()
        state.epoch = state.epochs_done = event.epoch
        self._sync()

    @on(events.IterateBatchEvent)
    def _on_iterate(self, event: events.IterateBatchEvent) -> None:
        state = self._ensure_state()
        now = self._clock()
        progress = PassProgress(
            source=event.source_name,
            n_iter=event.n_iter,
            dataset_size=event.dataset_size,
            started=now,
            updated=now,
            in_training=state.training_active,
        )
        state.progress = progress
        callback: events.ProgressCallback = functools.partial(
            self._on_progress, progress
        )
        event.push_updates.append(callback)
        self._show_compact()

    def _on_progress(
        self,
        progress: PassProgress,
        metrics: Mapping[str, Any],
        n_processes: int,
        n_batches: int,
    ) -> None:
        """The runner's progress callback (a few times per second)."""
        done = progress.done + n_batches
        n_iter = progress.n_iter
        progress.done = done if done < n_iter else n_iter
        progress.metrics = metrics
        now = progress.updated = self._clock()  # for the rate: few calls/s
        scheduler = self._scheduler
        if scheduler is not None and now >= scheduler.next_due:
            self._sync(now)

    @on(events.MetricEvent)
    def _on_metrics(self, event: events.MetricEvent) -> None:
        state = self._ensure_state()
        state.add_metrics(
            event.model_name, event.source_name, event.epoch, event.metrics
        )
        scheduler = self._scheduler
        if scheduler is not None:
            scheduler.charts_dirty = True
        self._log(event)
        self._sync()

    @on(events.InterruptedTrainingEvent)
    def _on_interrupted(self, event: events.InterruptedTrainingEvent) -> None:
        state = self._ensure_state()
        state.terminated = f'interrupted at epoch {event.epoch}'
        state.training_active = False
        state.epoch = state.epochs_done = event.epoch
        self._on_notable(event)

    @on(events.TerminatedTrainingEvent)
    def _on_terminated(self, event: events.TerminatedTrainingEvent) -> None:
        state = self._ensure_state()
        state.terminated = f'stopped early at epoch {event.epoch}'
        self._on_notable(event)

    @on(
        events.EndTrainingEvent,
        events.StartTestEvent,
        events.EndTestEvent,
        events.SaveModelEvent,
        events.LoadModelEvent,
        events.LearningRateEvent,
    )
    def _on_notable(self, event: events.Event) -> None:
        state = self._ensure_state()
        if isinstance(event, events.EndTrainingEvent):
            state.training_active = False
        self._log(event)
        ends = events.EndTrainingEvent | events.EndTestEvent
        # Without a cell hook, the end of a training may be the end of the
        # cell: show the final state now rather than at the next event.
        self._sync(force=isinstance(event, ends) and not self._cell_hook)

    # ---------------------------------------------------------- drawing

    def flush(self) -> None:
        """Send the live panel everything that changed, now."""
        self._sync(force=True)

    def _after_cell(self, result: Any = None) -> None:
        """IPython's post_run_cell hook: show the state the cell left."""
        self._sync(force=True)
        self._end_compact()

    def _show_compact(self) -> None:
        """Show the progress in the running cell too (see ``_cell_view``)."""
        scheduler = self._scheduler
        if scheduler is not None and self._cell_hook is not None:
            self._cell_view.show(scheduler, self._panel_cell)

    def _end_compact(self) -> None:
        """Turn the running cell's progress view into static HTML."""
        self._cell_view.end(self._state, self._scheduler)

    def _ensure_state(self) -> PanelState:
        state = self._state
        if state is None:  # events without a run start (tests, replays)
            state = PanelState(
                started=self._clock(), max_points=self.max_points
            )
            self._state = state
        return state

    def _wants_widgets(self) -> bool:
        if self.mode == 'text':
            return False
        if self.mode == 'widgets':
            return _env.widgets_version() is not None
        return _env.widgets_usable()

    def _open_view(self, state: PanelState, now: float) -> bool:
        """Build and display the live widgets; False if not possible."""
        if not self._wants_widgets():
            return False
        try:
            view = LiveView(
                _render.header_html(state), _render.status_html(state, now)
            )
        except ImportError:
            return False
        if self.mode == 'auto' and not view.connected():
            view.close()  # they would show 'Error displaying widget'
            return False
        self._scheduler = Scheduler(view, self.progress_hz, self.chart_hz, now)
        self._handle = display_raw(
            view.mime_bundle(
                f'drytorch panel of run {state.run_id} ({state.exp_name}); '
                'replaced by a static snapshot when the run stops.'
            )
        )
        shell = _env.ipython_shell()
        self._panel_cell = getattr(shell, 'execution_count', None)
        shell_events = getattr(shell, 'events', None)
        if shell_events is not None:
            shell_events.register(_CELL_EVENT, self._after_cell)
            self._cell_hook = shell_events
        return True

    def _log(self, event: events.Event) -> None:
        line = _text.event_line(event)
        if line is None:
            return
        state = self._ensure_state()
        state.log.append(line)
        scheduler = self._scheduler
        if scheduler is not None:
            scheduler.log_dirty = True
        elif self._text_mode:
            stream = sys.stdout if self.stream is None else self.stream
            stream.write(line + '\n')
            flush = getattr(stream, 'flush', None)
            if flush is not None:
                flush()

    def _sync(self, now: float | None = None, force: bool = False) -> None:
        scheduler = self._scheduler
        state = self._state
        if scheduler is None or state is None:
            return
        if now is None:
            now = self._clock()
        if force or now >= scheduler.next_due:
            scheduler.sync(state, now, force)

    def _finish(self) -> None:
        """End the current run's panel: snapshot it, close its widgets."""
        state = self._state
        if state is None:
            return
        now = self._clock()
        if state.stopped is None:
            state.stopped = now
        html_text = _snapshot.snapshot_html(state, now)
        self._last_snapshot = html_text
        self._end_compact()
        scheduler, self._scheduler = self._scheduler, None
        handle, self._handle = self._handle, None
        shell_events, self._cell_hook = self._cell_hook, None
        self._state = None
        if shell_events is not None:
            with contextlib.suppress(ValueError):  # already unregistered
                shell_events.unregister(_CELL_EVENT, self._after_cell)
        if scheduler is not None:
            try:
                if handle is not None:
                    handle.update(html_object(html_text))
            finally:
                scheduler.view.close()
        elif _env.in_kernel():
            # no widgets, but a notebook: show the final panel once
            display_html(html_text)
