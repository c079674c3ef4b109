"""The panel as the display of a run: no tracker text in the cells.

While the extension is loaded in a Jupyter kernel (with its panel), the
default trackers write nothing into cell outputs: the ``'drytorch'``
logger's default handler and the default progress bars are muted through
:func:`drytorch.utils.environment.mute_cell_output`. What the logger says
about events is already in the panel's Log (one line per notable event);
every other record of the ``'drytorch'`` logger (warnings, messages of user
code) is forwarded there by a :class:`PanelLogHandler`.

:func:`terminal_output` brings the text back (and takes it away again).
Unloading the extension withdraws the mute and the handler, which puts the
output back exactly as it was before loading.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable

from drytorch.trackers.logging import is_event_record, logger
from drytorch.utils import environment

__all__ = [
    'CellOutput',
    'PanelLogHandler',
    'attach',
    'detach',
    'terminal_output',
]


def _record_text(record: logging.LogRecord) -> str:
    text = f'{record.levelname.strip()}: {record.getMessage()}'
    if record.exc_info and record.exc_info[1] is not None:
        error = record.exc_info[1]
        text += f' ({type(error).__name__}: {error})'
    return text


class PanelLogHandler(logging.Handler):
    """Send records of the ``'drytorch'`` logger to a panel's Log.

    Records that :class:`~drytorch.trackers.logging.BuiltinLogger` made for
    an event are skipped: the panel shows its own line for each event.

    Attributes:
        add_line: what receives the lines (``NotebookPanel.add_log_line``).
    """

    def __init__(self, add_line: Callable[[str], None]) -> None:
        """Args:
        add_line: what receives the lines (``NotebookPanel.add_log_line``).
        """  # noqa: D205
        super().__init__()
        self.add_line = add_line

    def emit(self, record: logging.LogRecord) -> None:
        """Add the record's level and message as one line of the Log."""
        if is_event_record(record):
            return
        try:
            self.add_line(_record_text(record))
        except Exception:  # a broken record must not break the caller
            self.handleError(record)


class CellOutput:
    """What the extension changes about the text in cells, undoably.

    While taken, the cells are muted and a :class:`PanelLogHandler` of the
    panel is attached to the ``'drytorch'`` logger; released, neither.

    Attributes:
        handler: the handler that forwards records to the panel.
    """

    def __init__(self, add_line: Callable[[str], None]) -> None:
        """Args:
        add_line: the Log of the panel that shows the runs instead of the
            text (``NotebookPanel.add_log_line``).
        """  # noqa: D205
        self.handler = PanelLogHandler(add_line)

    @property
    def taken(self) -> bool:
        """Whether the cells are muted by this object."""
        return self.handler in logger.handlers

    def take(self) -> None:
        """Mute the cells and forward the other records to the panel."""
        environment.mute_cell_output(self)
        if self.handler not in logger.handlers:
            logger.addHandler(self.handler)

    def release(self) -> None:
        """Withdraw the mute and the handler (a no-op if not taken)."""
        logger.removeHandler(self.handler)
        environment.unmute_cell_output(self)


@dataclasses.dataclass
class _Settings:
    """The switch, and the outputs of the loaded extensions it drives."""

    terminal: bool = False
    attached: list[CellOutput] = dataclasses.field(default_factory=list)


_settings = _Settings()


def attach(output: CellOutput) -> None:
    """Apply the current setting to a newly loaded extension's output.

    Only in a Jupyter kernel: in terminal IPython, the text is the display.
    """
    if not environment.in_kernel():
        return
    if output not in _settings.attached:
        _settings.attached.append(output)
    if not _settings.terminal:
        output.take()


def detach(output: CellOutput) -> None:
    """Undo :func:`attach` (when the extension unloads)."""
    output.release()
    if output in _settings.attached:
        _settings.attached.remove(output)


def terminal_output(enabled: bool | None = None) -> bool:
    """Show (or hide) the default trackers' text in cells, next to the panel.

    With the extension loaded, log lines and progress bars are hidden by
    default: the panel shows the run. ``terminal_output(True)`` writes them
    into the cells again, as without the extension (log lines on stderr,
    one display per progress bar); ``terminal_output(False)`` hides them
    again. The setting outlives ``%reload_ext``.

    Args:
        enabled: the new setting; None to only read it.

    Returns:
        Whether the text is shown (after the change, if any).

    Raises:
        TypeError: if enabled is neither a bool nor None.
    """
    if enabled is not None:
        if not isinstance(enabled, bool):
            msg = f'Expected enabled to be a bool or None, got {enabled!r}.'
            raise TypeError(msg)
        _settings.terminal = enabled
        for output in _settings.attached:
            if enabled:
                output.release()
            else:
                output.take()
    return _settings.terminal
