"""Shared fixtures: isolation of global state, a recording tracker."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import pathlib
from collections.abc import Iterator

import pytest

from drytorch.core import log_events, scope, track
from drytorch.core.track import Tracker
from drytorch.trackers import logging as dt_logging


class RecordingTracker(Tracker):
    """A tracker that keeps every event it receives."""

    def __init__(self) -> None:
        self.events: list[log_events.Event] = []
        self.cleaned = 0

    @track.on(log_events.Event)
    def _record(self, event: log_events.Event) -> None:
        self.events.append(event)

    def clean_up(self) -> None:
        self.cleaned += 1

    def names(self) -> list[str]:
        return [type(event).__name__ for event in self.events]

    def of_type(self, event_type: type) -> list:
        return [e for e in self.events if isinstance(e, event_type)]


@dataclasses.dataclass(frozen=True)
class Config:
    batch_size: int = 4
    lr: float = 0.01


@contextlib.contextmanager
def _restored_logging() -> Iterator[None]:
    """Leave the 'drytorch' logger and the root handlers as they were."""
    drytorch_logger = logging.getLogger('drytorch')
    handlers = list(drytorch_logger.handlers)
    level = drytorch_logger.level
    propagate = drytorch_logger.propagate
    root_filters = {
        handler: list(handler.filters)
        for handler in logging.getLogger().handlers
    }
    state = dataclasses.replace(
        dt_logging._state, filtered=list(dt_logging._state.filtered)
    )
    try:
        yield
    finally:
        drytorch_logger.handlers[:] = handlers
        drytorch_logger.setLevel(level)
        drytorch_logger.propagate = propagate
        for handler, filters in root_filters.items():
            handler.filters[:] = filters
        for field in dataclasses.fields(state):
            value = getattr(state, field.name)
            setattr(dt_logging._state, field.name, value)


@pytest.fixture(autouse=True)
def _isolate(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """Run each test in its own folder, with no default trackers.

    The 'drytorch' logger's configuration is restored afterwards.
    """
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv('DRYTORCH_INIT_MODE', raising=False)
    saved = dict(track.DEFAULT_TRACKERS)
    ready = track._defaults_ready
    track.DEFAULT_TRACKERS.clear()
    track.mark_defaults_ready()
    with _restored_logging():
        yield
    run = scope.active_run()
    if run is not None:
        run.finish('failed')
    track.DEFAULT_TRACKERS.clear()
    track.DEFAULT_TRACKERS.update(saved)
    track._defaults_ready = ready


@pytest.fixture
def recorder() -> RecordingTracker:
    return RecordingTracker()


@pytest.fixture
def config() -> Config:
    return Config()
