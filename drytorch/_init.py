"""Presets of default trackers and logger settings.

Nothing happens at import: :func:`init_trackers` applies a preset when
called, and :func:`init_from_env` applies the one named by the environment
variable ``DRYTORCH_INIT_MODE`` (the library calls it when the first
experiment is created, unless :func:`init_trackers` was called before).

| mode       | default trackers                                    |
|------------|-----------------------------------------------------|
| 'standard' | BuiltinLogger, TqdmLogger(leave=True), YamlDumper,  |
|            | HistoryWriter, CodeRecorder                         |
| 'hydra'    | BuiltinLogger, TqdmLogger(leave=False), YamlDumper, |
|            | HistoryWriter, CodeRecorder                         |
| 'minimal'  | BuiltinLogger, TqdmLogger(enable_training_bar=True) |
| 'none'     | none                                                |

CodeRecorder is left out when ``DRYTORCH_RECORD_CODE`` is ``0``.

A tracker whose package (tqdm, PyYAML) cannot be imported is skipped with a
:class:`~drytorch.core.exceptions.FailedOptionalImportWarning`.
"""

from __future__ import annotations

import os
import sys
import warnings

from drytorch.core import exceptions, track
from drytorch.core.track import Tracker
from drytorch.trackers import logging as builtin_logging
from drytorch.trackers.logging import INFO_LEVELS

__all__ = [
    'ENV_VARIABLE',
    'INIT_MODES',
    'get_init_mode',
    'init_from_env',
    'init_trackers',
]

INIT_MODES: tuple[str, ...] = ('standard', 'hydra', 'minimal', 'none')
"""The accepted modes, default first."""

ENV_VARIABLE = 'DRYTORCH_INIT_MODE'

RECORD_CODE_VARIABLE = 'DRYTORCH_RECORD_CODE'
"""Set to 0 to keep the code of runs unrecorded (no CodeRecorder)."""

_OFF = frozenset({'0', 'false', 'no', 'off'})


def _valid_modes_text() -> str:
    return ', '.join(repr(mode) for mode in INIT_MODES)


def _optional_import_failed(error: ImportError, package: str) -> bool:
    """Whether the error means that the optional package is missing."""
    name = error.name or ''
    return name == package or name.startswith(package + '.')


def _tqdm_logger(
    leave: bool, enable_training_bar: bool = False
) -> Tracker | None:
    try:
        from drytorch.trackers.tqdm import TqdmLogger
    except ImportError as error:
        if not _optional_import_failed(error, 'tqdm'):
            raise
        warnings.warn(
            exceptions.FailedOptionalImportWarning('tqdm'), stacklevel=3
        )
        return None
    return TqdmLogger(leave=leave, enable_training_bar=enable_training_bar)


def _yaml_dumper() -> Tracker | None:
    try:
        from drytorch.trackers.yaml import YamlDumper
    except ImportError as error:
        if not _optional_import_failed(error, 'yaml'):
            raise
        warnings.warn(
            exceptions.FailedOptionalImportWarning('yaml'), stacklevel=3
        )
        return None
    return YamlDumper()


def _history_writer() -> Tracker:
    # the metric history of recorded runs (read by drytorch.core.history)
    from drytorch.trackers.history import HistoryWriter

    return HistoryWriter()


def _code_recorder() -> Tracker | None:
    # the notebook cells (or script) of recorded runs; off with
    # DRYTORCH_RECORD_CODE=0
    if os.environ.get(RECORD_CODE_VARIABLE, '1').strip() in _OFF:
        return None
    from drytorch.trackers.code import CodeRecorder

    return CodeRecorder()


def init_trackers(mode: str = 'standard') -> None:
    """Replace the default trackers and logger settings with a preset.

    Args:
        mode: 'standard' (log lines, progress bars, YAML metadata),
            'hydra' (the same, with logs on stdout propagated to the root
            logger and transient bars), 'minimal' (a training bar and
            little text, no files) or 'none' (no default trackers).

    Raises:
        ValueError: if the mode is not one of these; nothing is changed.
    """
    if mode not in INIT_MODES:
        msg = (
            f'Expected an init mode among {_valid_modes_text()}, got {mode!r}.'
        )
        raise ValueError(msg)

    trackers: list[Tracker | None] = []
    stream = sys.stderr
    formatter = 'drytorch'
    propagate = False
    if mode == 'none':
        verbosity = 0
    else:
        trackers.append(builtin_logging.BuiltinLogger())
        if mode == 'standard':
            bar = _tqdm_logger(leave=True)
            trackers += [bar, _yaml_dumper(), _history_writer()]
            trackers.append(_code_recorder())
            verbosity = (
                INFO_LEVELS.metrics if bar is None else INFO_LEVELS.epoch
            )
        elif mode == 'hydra':
            trackers += [
                _tqdm_logger(leave=False),
                _yaml_dumper(),
                _history_writer(),
                _code_recorder(),
            ]
            verbosity = INFO_LEVELS.metrics
            stream = sys.stdout
            propagate = True
        else:  # minimal
            bar = _tqdm_logger(leave=True, enable_training_bar=True)
            trackers.append(bar)
            if bar is None:
                verbosity = INFO_LEVELS.epoch
                formatter = 'progress'
            else:
                verbosity = INFO_LEVELS.training

    track.DEFAULT_TRACKERS.clear()
    for tracker in trackers:
        if tracker is not None:
            track.DEFAULT_TRACKERS[type(tracker).__name__] = tracker
    track.mark_defaults_ready()

    builtin_logging.set_formatter(formatter)
    builtin_logging.enable_default_handler(stream)
    if propagate:
        builtin_logging.enable_propagation()
    else:
        builtin_logging.disable_propagation()
    builtin_logging.set_verbosity(verbosity)
    track.default_setup.mode = mode


def _mode_from_env() -> str:
    # an empty variable counts as unset, as with most tools
    value = os.environ.get(ENV_VARIABLE) or INIT_MODES[0]
    if value not in INIT_MODES:
        msg = (
            f'{ENV_VARIABLE}: expected one of {_valid_modes_text()}, '
            f'got {value!r}.'
        )
        raise ValueError(msg)
    return value


def init_from_env() -> None:
    """Apply the preset named by ``DRYTORCH_INIT_MODE`` ('standard' if unset).

    Raises:
        ValueError: if the variable holds an unknown mode.
    """
    init_trackers(_mode_from_env())


def get_init_mode() -> str:
    """Return the mode last applied, or else the one the environment selects.

    Raises:
        ValueError: if no mode was applied and ``DRYTORCH_INIT_MODE`` holds
            an unknown mode.
    """
    applied = track.default_setup.mode
    if applied is not None:
        return applied
    return _mode_from_env()
