"""Outputs in a Jupyter kernel that later redraws update, throttled.

The plotters show each plot in one output of the notebook and update it as
the run goes on, instead of adding an output per redraw; outside a kernel
nothing is shown.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Hashable
from typing import Any

from drytorch.utils import environment

__all__ = ['NotebookDisplay']


class NotebookDisplay:
    """Display handles of a plotter's outputs inside a Jupyter kernel.

    Each output (a key) gets one display that later redraws update, instead
    of a new output per redraw. Updates are throttled: they are sent at
    most once per ``min_interval`` seconds, and the latest state of each
    output is sent by :meth:`flush`. Outside a kernel nothing happens.
    """

    def __init__(self, min_interval: float = 1.0) -> None:
        self.min_interval = min_interval
        self._handles: dict[Hashable, Any] = {}
        self._pending: dict[Hashable, tuple[Callable[[], Any], bool]] = {}
        self._last_sent = -math.inf

    @staticmethod
    def in_kernel() -> bool:
        """Whether the code runs in a Jupyter kernel (see ``environment``)."""
        return environment.in_kernel()

    def show(
        self,
        key: Hashable,
        render: Callable[[], Any],
        raw: bool = False,
        new: bool = False,
    ) -> None:
        """Display an output, or schedule the update of its display.

        Args:
            key: identifies the output.
            render: returns what to display; called only when it is sent.
            raw: whether ``render`` returns a MIME bundle.
            new: display it now in a new output (in the current cell).
        """
        if not self.in_kernel():
            return
        if new:
            self._pending.pop(key, None)
            self._handles[key] = self._display(render(), raw)
            return
        self._pending[key] = (render, raw)
        if time.monotonic() - self._last_sent >= self.min_interval:
            self.flush()

    def flush(self) -> None:
        """Send the scheduled updates."""
        pending, self._pending = self._pending, {}
        if not pending:
            return
        for key, (render, raw) in pending.items():
            handle = self._handles.get(key)
            if handle is None:
                self._handles[key] = self._display(render(), raw)
            else:
                handle.update(render(), raw=raw)
        self._last_sent = time.monotonic()

    def reset(self) -> None:
        """Forget the displays: later outputs get new ones."""
        self._handles = {}
        self._pending = {}
        self._last_sent = -math.inf

    @staticmethod
    def _display(obj: Any, raw: bool) -> Any:
        from IPython import display

        return display.display(obj, raw=raw, display_id=True)
