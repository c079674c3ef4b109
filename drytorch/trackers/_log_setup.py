"""Where drytorch's log lines go: levels, formatters, the default handler.

The ``'drytorch'`` logger, its levels (:data:`INFO_LEVELS`), the formatters
and filters of its default handler, and the functions that install it and
set its verbosity. :mod:`drytorch.trackers.logging` re-exports the names
users need, next to the tracker that writes the lines; import them from
there.

Carriage returns are written only to terminals, where they let a line
replace a progress bar; notebook cells, files, pipes and CI logs get plain
lines, each ending with a newline. Inside a Jupyter kernel, the default
handler writes nothing into cells while another display has muted them
(see :func:`drytorch.utils.environment.mute_cell_output`).
"""

from __future__ import annotations

import dataclasses
import logging
import sys
from typing import IO

from drytorch.utils import environment

__all__ = [
    'EVENT_MARK',
    'INFO_LEVELS',
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
    'register_level_names',
    'set_formatter',
    'set_verbosity',
    'supports_carriage_return',
]


@dataclasses.dataclass(frozen=True)
class InfoLevels:
    """Logging levels of the drytorch events, from least to most important.

    Attributes:
        internal: registrations and completions, for debugging.
        metrics: the metrics at the end of each pass.
        epoch: the start of each epoch.
        model_state: checkpoints saved and loaded, learning rate changes.
        experiment: runs starting and stopping.
        training: training starting, ending or terminated.
        test: tests starting.
    """

    internal: int = 19
    metrics: int = 21
    epoch: int = 23
    model_state: int = 25
    experiment: int = 27
    training: int = 28
    test: int = 29


INFO_LEVELS = InfoLevels(
    internal=19,
    metrics=21,
    epoch=23,
    model_state=25,
    experiment=27,
    training=28,
    test=29,
)
"""The levels used by :class:`BuiltinLogger`."""

logger = logging.getLogger('drytorch')
"""The logger every drytorch log line goes through."""

_FORMATTER_NAMES: tuple[str, ...] = ('drytorch', 'progress')
_LEVEL_NAME_WIDTH = 10
EVENT_MARK = 'drytorch_event'
"""The record attribute that marks the lines of events."""


@dataclasses.dataclass
class _HandlerState:
    """What this module installed, so that it can undo it exactly."""

    handler: logging.Handler | None = None
    formatter_name: str = 'drytorch'
    deduplicate: bool = False
    filtered: list[logging.Handler] = dataclasses.field(default_factory=list)
    level_names_registered: bool = False


_state = _HandlerState()


def supports_carriage_return(stream: object) -> bool:
    """Tell whether a carriage return rewinds the line on the stream.

    True for terminals; false for notebook cells (a saved notebook would
    keep every overwritten line), files, pipes, CI logs and anything that
    cannot tell.

    Args:
        stream: a writable text stream.
    """
    if environment.writes_to_cell(stream):
        return False
    isatty = getattr(stream, 'isatty', None)
    if isatty is None:
        return False
    try:
        return bool(isatty())
    except (ValueError, OSError):  # closed or detached streams
        return False


def register_level_names() -> None:
    """Give the drytorch levels readable names (once, on first use)."""
    if _state.level_names_registered:
        return
    for name, level in dataclasses.asdict(INFO_LEVELS).items():
        if logging.getLevelName(level) == f'Level {level}':
            logging.addLevelName(level, name.center(_LEVEL_NAME_WIDTH))
    _state.level_names_registered = True


class DryTorchFormatter(logging.Formatter):
    """Format drytorch records as whole lines, line ending included.

    Records at the ``experiment`` level and above are prefixed with their
    time. Because the line ending is part of the formatted text, use it with
    a handler whose ``terminator`` is empty, as the default handler is.

    Attributes:
        carriage_return: whether lines start with a carriage return, to
            overwrite a progress bar drawn on the same terminal line.
    """

    def __init__(self, carriage_return: bool = False) -> None:
        super().__init__('%(message)s')
        self._timed = logging.Formatter('[%(asctime)s] - %(message)s')
        self.carriage_return = carriage_return

    def format(self, record: logging.LogRecord) -> str:
        """Format the record and add its line ending."""
        if record.levelno >= INFO_LEVELS.experiment:
            text = self._timed.format(record)
        else:
            text = super().format(record)
        return self._frame(record.levelno, text)

    def _frame(self, levelno: int, text: str) -> str:
        del levelno
        if self.carriage_return:
            return f'\r{text}\n'
        return f'{text}\n'


class ProgressFormatter(DryTorchFormatter):
    """Like :class:`DryTorchFormatter`, but epoch lines are transient.

    On a terminal, ``epoch`` and ``model_state`` lines end with a carriage
    return so that the next line replaces them; elsewhere every line is
    kept.
    """

    def _frame(self, levelno: int, text: str) -> str:
        if not self.carriage_return:
            return f'{text}\n'
        if levelno == INFO_LEVELS.epoch:
            return f'\r{text} ...\r'
        if levelno == INFO_LEVELS.model_state:
            return f'\r{text}\r'
        return f'\r{text}\n'


class DryTorchFilter(logging.Filter):
    """Drop the records of the drytorch loggers.

    Added to the root handlers that write to the stream of the default
    handler, so propagated records are not printed twice.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Keep a record unless it comes from a drytorch logger."""
        return 'drytorch' not in record.name


_DEDUPLICATE_FILTER = DryTorchFilter()


class _CellGate(logging.Filter):
    """Drop every record while notebook cells are muted, if it writes there.

    Whether the handler's stream is a cell is decided once, when the
    handler is made; whether cells are muted, at each record.
    """

    def __init__(self, stream: object) -> None:
        super().__init__()
        self.to_cell = environment.writes_to_cell(stream)

    def filter(self, record: logging.LogRecord) -> bool:
        """Keep the record unless it would land in a muted cell."""
        return not (self.to_cell and environment.cell_output_muted())


def is_event_record(record: logging.LogRecord) -> bool:
    """Whether :class:`BuiltinLogger` logged the record for an event.

    Args:
        record: a record of the ``'drytorch'`` logger.
    """
    return bool(getattr(record, EVENT_MARK, False))


def _make_formatter(name: str, stream: object) -> DryTorchFormatter:
    carriage_return = supports_carriage_return(stream)
    if name == 'progress':
        return ProgressFormatter(carriage_return)
    return DryTorchFormatter(carriage_return)


def _remove_default_handler() -> None:
    handler, _state.handler = _state.handler, None
    if handler is not None:
        logger.removeHandler(handler)


def _handler_stream() -> object | None:
    handler = _state.handler
    if isinstance(handler, logging.StreamHandler):
        return handler.stream
    return None


def _add_deduplicate_filters() -> None:
    _remove_deduplicate_filters()
    stream = _handler_stream()
    if stream is None:
        return
    for handler in logging.getLogger().handlers:
        if (
            isinstance(handler, logging.StreamHandler)
            and handler.stream is stream
        ):
            handler.addFilter(_DEDUPLICATE_FILTER)
            _state.filtered.append(handler)


def _remove_deduplicate_filters() -> None:
    for handler in _state.filtered:
        handler.removeFilter(_DEDUPLICATE_FILTER)
    _state.filtered.clear()


def enable_default_handler(stream: IO[str] | None = None) -> None:
    """Write drytorch logs to a stream (replacing the previous default).

    Handlers added by the user are left alone.

    Args:
        stream: where to write; None means ``sys.stderr`` at call time.
    """
    register_level_names()
    if stream is None:
        stream = sys.stderr
    _remove_default_handler()
    handler = logging.StreamHandler(stream)
    handler.terminator = ''  # the formatters end their lines themselves
    handler.setFormatter(_make_formatter(_state.formatter_name, stream))
    handler.addFilter(_CellGate(stream))
    logger.addHandler(handler)
    _state.handler = handler
    if _state.deduplicate:
        _add_deduplicate_filters()


def disable_default_handler() -> None:
    """Stop writing drytorch logs through the default handler."""
    _remove_default_handler()
    _remove_deduplicate_filters()
    handler = logging.NullHandler()
    logger.addHandler(handler)
    _state.handler = handler


def enable_propagation(deduplicate_stream: bool = True) -> None:
    """Pass drytorch records on to the root logger's handlers too.

    Args:
        deduplicate_stream: if True, root handlers that write to the same
            stream as the default handler skip drytorch records, so that
            each line is written once.
    """
    logger.propagate = True
    _state.deduplicate = deduplicate_stream
    if deduplicate_stream:
        _add_deduplicate_filters()
    else:
        _remove_deduplicate_filters()


def disable_propagation() -> None:
    """Keep drytorch records away from the root logger's handlers."""
    logger.propagate = False
    _state.deduplicate = False
    _remove_deduplicate_filters()


def set_formatter(style: str) -> None:
    """Choose how the default handler formats lines.

    Args:
        style: 'drytorch' (every line kept) or 'progress' (on a terminal,
            epoch and checkpoint lines are overwritten by the next line).

    Raises:
        ValueError: if the style is not one of the two.
    """
    if style not in _FORMATTER_NAMES:
        msg = f"Expected formatter 'drytorch' or 'progress', got {style!r}."
        raise ValueError(msg)
    _state.formatter_name = style
    handler = _state.handler
    if isinstance(handler, logging.StreamHandler):
        handler.setFormatter(_make_formatter(style, handler.stream))


def get_verbosity() -> int:
    """Return the level of the drytorch logger (lower records are dropped)."""
    return logger.level


def set_verbosity(level_no: int) -> None:
    """Set the level of the drytorch logger.

    Args:
        level_no: the lowest level to log, e.g. ``INFO_LEVELS.metrics``.

    Raises:
        TypeError: if the level is not an int.
    """
    if isinstance(level_no, bool) or not isinstance(level_no, int):
        msg = f'Expected an int level, got {type(level_no).__name__}.'
        raise TypeError(msg)
    logger.setLevel(level_no)
