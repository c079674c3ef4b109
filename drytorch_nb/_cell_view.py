"""The progress of a run, shown again in the cell that trains.

The panel is displayed where the run started; a later cell that trains or
evaluates would otherwise show nothing while it runs. That cell gets a
compact view: the panel's own progress widget, displayed a second time, so
it costs no extra messages. When the cell ends, the view is replaced
through its display handle by static HTML of the bars as they ended, so a
saved notebook shows it without widget state.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from drytorch_nb import _bars, _env
from drytorch_nb._schedule import Scheduler
from drytorch_nb._state import PanelState

__all__ = ['CellView', 'display_html', 'display_raw', 'html_object']


class CellView:
    """At most one compact progress view, in the cell that runs now.

    Attributes:
        trained: whether the cell started a training (its static form then
            keeps the epoch bar).
    """

    def __init__(self, clock: Callable[[], float]) -> None:
        """Args:
        clock: the panel's clock, for the elapsed times of the bars.
        """  # noqa: D205
        self._clock = clock
        self._cell: int | None = None
        self._shown: tuple[Any, Any] | None = None  # (widget box, handle)
        self.trained = False

    def show(self, scheduler: Scheduler, panel_cell: int | None) -> None:
        """Show the progress in the running cell, unless it shows already.

        Nothing is shown in the cell that displays the panel itself.

        Args:
            scheduler: the live panel's scheduler (its view is reused).
            panel_cell: the execution count of the panel's cell.
        """
        cell = getattr(_env.ipython_shell(), 'execution_count', None)
        if cell is None or cell in (panel_cell, self._cell):
            return
        self.end(None, scheduler)
        view = scheduler.view
        box = view.compact()
        handle = display_raw(
            view.mime_bundle('drytorch progress (see the run panel)', box)
        )
        self._shown = (box, handle)
        self._cell = cell
        self.trained = False

    def end(
        self, state: PanelState | None, scheduler: Scheduler | None
    ) -> None:
        """Replace the compact view, if any, by the bars as they ended.

        Args:
            state: the panel's state, to draw the bars; None to only close.
            scheduler: the live panel's scheduler, whose view holds the box.
        """
        shown, self._shown = self._shown, None
        self._cell = None
        if shown is None:
            return
        box, handle = shown
        try:
            if handle is not None and state is not None:
                html_text = _bars.bars_html(
                    state, self._clock(), metrics=True, epochs=self.trained
                )
                handle.update(html_object(html_text))
        finally:
            if scheduler is not None:
                scheduler.view.close_compact(box)


def display_raw(bundle: dict[str, Any]) -> Any:
    """Publish a mime bundle with a display id; its handle (or None)."""
    try:
        display_module = importlib.import_module('IPython.display')
    except ImportError:
        return None
    return display_module.display(bundle, raw=True, display_id=True)


def html_object(text: str) -> Any:
    """An ``IPython.display.HTML`` of ``text``."""
    display_module = importlib.import_module('IPython.display')
    return display_module.HTML(text)


def display_html(text: str) -> None:
    """Display ``text`` as HTML once, if IPython is there."""
    try:
        display_module = importlib.import_module('IPython.display')
    except ImportError:
        return
    display_module.display(display_module.HTML(text))
