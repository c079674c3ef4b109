"""When the live panel's widgets are sent to the browser.

Every widget update is one comm message, so the schedule bounds the
messages per second, whatever the events:

* a *tick*, at most ``progress_hz`` times per second, sends the progress
  widget (both bars, their counts, rate and time left, and the running
  metrics) when it changed;
* a *slow tick*, at most ``chart_hz`` times per second, sends the header
  and the charts if they changed, the folds of newly registered models and
  actors, and, at most every five seconds, the event log.

With the defaults (4 Hz, 1 Hz) that is at most 4 + 2 messages per second,
plus one per accordion while models or actors register, plus the log every
5 s. A forced sync (end of a cell, of a training without a cell hook)
sends whatever changed, at once.
"""

from __future__ import annotations

from drytorch_nb import _render, _summary
from drytorch_nb._state import PanelState
from drytorch_nb._widgets import LiveView

__all__ = ['LOG_INTERVAL_S', 'Scheduler']

LOG_INTERVAL_S = 5.0
"""Least time between two updates of the event log (it matters least)."""


class Scheduler:
    """Sends a :class:`LiveView` the state of a run, throttled.

    Attributes:
        view: the widgets it updates.
        next_due: the earliest clock reading at which a sync sends anything.
        charts_dirty: whether metrics arrived since the charts were sent.
        log_dirty: whether log lines arrived since the log was sent.
    """

    def __init__(
        self, view: LiveView, progress_hz: float, chart_hz: float, now: float
    ) -> None:
        """Args:
        view: the widgets to update (just created: nothing is due).
        progress_hz: the most ticks (progress bar updates) per second.
        chart_hz: the most slow ticks (status, charts) per second.
        now: the clock reading.
        """  # noqa: D205
        self.view = view
        self._tick_s = 1.0 / progress_hz
        self._slow_s = 1.0 / chart_hz
        self._next_tick = now + self._tick_s
        self._next_slow = now + self._slow_s
        self._next_log = now + LOG_INTERVAL_S
        self.next_due = min(self._next_tick, self._next_slow)
        self._folds: list[tuple[bool, str, str]] = []
        self.charts_dirty = False
        self.log_dirty = False

    def add_fold(self, is_model: bool, title: str, html_text: str) -> None:
        """Queue a model's (or an actor's) fold for the next slow tick."""
        self._folds.append((is_model, title, html_text))

    def sync(self, state: PanelState, now: float, force: bool = False) -> None:
        """Send what is due (everything that changed, if forced)."""
        if force or now >= self._next_tick:
            self._tick(state, now, force)
        if force or now >= self._next_slow:
            self._slow_tick(state, now, force)
        self.next_due = min(self._next_tick, self._next_slow)

    def _tick(self, state: PanelState, now: float, force: bool) -> None:
        self._next_tick = now + self._tick_s
        self.view.set_status(_render.status_html(state, now))

    def _slow_tick(self, state: PanelState, now: float, force: bool) -> None:
        self._next_slow = now + self._slow_s
        view = self.view
        view.set_header(_render.header_html(state))
        if self.charts_dirty:
            self.charts_dirty = False
            view.set_charts(
                _summary.summary_html(state) + _render.charts_html(state)
            )
        if self._folds:
            folds, self._folds = self._folds, []
            new = _update_shown_folds(view, folds)
            if new:
                view.add_folds(new)
        if self.log_dirty and (force or now >= self._next_log):
            self.log_dirty = False
            self._next_log = now + max(LOG_INTERVAL_S, self._slow_s)
            view.set_log('\n'.join(state.log) + '\n')


def _update_shown_folds(
    view: LiveView, folds: list[tuple[bool, str, str]]
) -> list[tuple[bool, str, str]]:
    """Refresh the folds already shown; return those still to add.

    A model or an actor registered again under its name (a notebook cell run
    again) replaces its fold instead of adding a second one.
    """
    latest: dict[tuple[bool, str], str] = {}
    for is_model, title, html_text in folds:
        latest.pop((is_model, title), None)  # keep the order of the last
        latest[(is_model, title)] = html_text
    new: list[tuple[bool, str, str]] = []
    shown = {True: view.titles(view.models), False: view.titles(view.actors)}
    for (is_model, title), html_text in latest.items():
        labels = shown[is_model]
        label = _render.text_label(title)
        if label in labels:
            accordion = view.models if is_model else view.actors
            accordion.children[labels.index(label)].value = html_text
        else:
            new.append((is_model, title, html_text))
    return new
