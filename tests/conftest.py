"""Shared fixtures and the markers that say what a test needs.

Fixtures: isolation of global state, a recording tracker, the Python of
the Colab-like environment.

Markers, added here from what a test uses, so that ``-m`` selects by them
and ``./run.sh test`` sets up only what the selected tests need:

* ``postgres``: a PostgreSQL server (its module imports
  ``pg_server.postgres_url_fixture``, and it asks for ``postgres_url`` or
  has a ``'postgresql'`` parameter);
* ``browser``: Chromium (it asks for a ``browser`` fixture);
* ``w7``: the Colab-like environment ``.venv-w7`` (ipywidgets 7, IPython
  7.34), named by ``DRYTORCH_NB_W7_PYTHON``;
* ``fast``: none of the above, and not ``slow``: what ``-m fast`` runs on
  every supported Python.

``--report-needs=FILE`` writes the needs of the selected tests to FILE, one
a line (``./run.sh`` runs it with ``--collect-only``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import pathlib
from collections.abc import Iterator

import pytest

from drytorch.core import scope, track
from drytorch.trackers import Event, Tracker, on
from drytorch.trackers import logging as dt_logging

W7_VARIABLE = 'DRYTORCH_NB_W7_PYTHON'
NEEDS = ('postgres', 'browser', 'w7')
"""Markers of what a test needs beyond the project's environment."""


def pytest_addoption(parser: pytest.Parser) -> None:
    names = ', '.join(NEEDS)
    parser.addoption(
        '--report-needs',
        metavar='FILE',
        help=f'write what the selected tests need ({names}), one a line',
    )


def _needs(item: pytest.Item) -> set[str]:
    needs = {
        marker.name for marker in item.iter_markers() if marker.name in NEEDS
    }
    fixtures = set(getattr(item, 'fixturenames', ()))
    callspec = getattr(item, 'callspec', None)
    params = callspec.params if callspec else {}
    # the server is asked for directly, or through a fixture parametrized
    # over databases that calls getfixturevalue('postgres_url')
    module = getattr(item, 'module', None)
    if hasattr(module, 'postgres_url_fixture') and (
        'postgres_url' in fixtures or 'postgresql' in params.values()
    ):
        needs.add('postgres')
    if 'browser' in fixtures:
        needs.add('browser')
    if 'w7_python' in fixtures or params.get('kernel_python') == 'ipywidgets7':
        needs.add('w7')
    return needs


def pytest_collection_modifyitems(
    config: pytest.Config, items: list[pytest.Item]
) -> None:
    # runs before -m deselects, so the markers added here select too
    for item in items:
        needs = _needs(item)
        for need in needs:
            item.add_marker(need)
        if not needs and item.get_closest_marker('slow') is None:
            item.add_marker('fast')


def pytest_collection_finish(session: pytest.Session) -> None:
    path = session.config.getoption('report_needs')
    if not path:
        return
    needs = {
        need
        for item in session.items
        for need in NEEDS
        if item.get_closest_marker(need) is not None
    }
    pathlib.Path(path).write_text(''.join(f'{n}\n' for n in sorted(needs)))


class RecordingTracker(Tracker):
    """A tracker that keeps every event it receives."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.cleaned = 0

    @on(Event)
    def _record(self, event: Event) -> None:
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
    chosen = track.default_setup.chosen
    track.DEFAULT_TRACKERS.clear()
    track.mark_defaults_ready()
    with _restored_logging():
        yield
    run = scope.active_run()
    if run is not None:
        run.finish('failed')
    track.DEFAULT_TRACKERS.clear()
    track.DEFAULT_TRACKERS.update(saved)
    track.default_setup.chosen = chosen


@pytest.fixture
def recorder() -> RecordingTracker:
    return RecordingTracker()


@pytest.fixture
def config() -> Config:
    return Config()


@pytest.fixture
def w7_python() -> str:
    """The Python of the Colab-like environment (``.venv-w7``).

    ``./run.sh test`` creates it and names it in ``DRYTORCH_NB_W7_PYTHON``
    when the selected tests need it; without it a test is skipped, and
    fails under CI.
    """
    python = os.environ.get(W7_VARIABLE)
    if not python:
        reason = f'{W7_VARIABLE} is not set (./run.sh test sets it)'
        if os.environ.get('CI'):
            pytest.fail(f'{reason}; required under CI')
        pytest.skip(reason)
    if not pathlib.Path(python).is_file():
        pytest.fail(f'{W7_VARIABLE}={python} is not a file')
    return python
