"""The exit hook: a run left active is stopped when the interpreter exits.

Its final status is on disk before any tracker hears of the stop, so a slow
tracker (or a SIGTERM while it works) never costs the run its status.
"""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys
import textwrap

import pytest
from conftest import Config, RecordingTracker

from drytorch.core import events, exit_hooks, track
from drytorch.core.experiment import Experiment
from drytorch.core.track import Tracker


def stored_status(exp: Experiment, run_id: str) -> str:
    """The status in the run's record file, read without the registry."""
    path = exp.registry.path / 'runs' / f'{run_id}.json'
    return json.loads(path.read_text(encoding='utf-8'))['status']


class DiskProbe(Tracker):
    """At the stop, reads what the run's record file says."""

    def __init__(self, exp: Experiment) -> None:
        self.exp = exp
        self.seen: list[str] = []

    @track.on(events.StopRunEvent)
    def _stop(self, event: events.StopRunEvent) -> None:
        self.seen.append(stored_status(self.exp, event.run_id))


def test_status_is_on_disk_before_trackers_hear_of_the_stop(
    recorder: RecordingTracker,
) -> None:
    exp = Experiment(Config(), name='E')
    probe = DiskProbe(exp)
    exp.trackers.subscribe(probe, recorder)
    exp.create_run(run_id='r').start()
    exit_hooks.stop_active_run()
    assert probe.seen == ['completed']
    assert exp.registry.get('r').status == 'completed'
    exit_hooks.stop_active_run()  # nothing active any more: nothing done
    assert len(recorder.of_type(events.StopRunEvent)) == 1


def test_status_is_recorded_even_if_a_tracker_fails_at_exit() -> None:
    class Broken(Tracker):
        @track.on(events.StopRunEvent)
        def _stop(self, event: events.StopRunEvent) -> None:
            raise RuntimeError('tracker failed at exit')

    exp = Experiment(Config(), name='E')
    exp.trackers.subscribe(Broken())
    exp.create_run(run_id='r').start()
    with pytest.warns(Warning, match='tracker failed at exit'):
        exit_hooks.stop_active_run()
    assert stored_status(exp, 'r') == 'completed'


_SCRIPT = """
import dataclasses, json, pathlib, sys
from drytorch.core import events, track
from drytorch.core.experiment import Experiment
from drytorch.core.track import Tracker

@dataclasses.dataclass(frozen=True)
class Config:
    lr: float = 0.1

class Probe(Tracker):
    @track.on(events.StopRunEvent)
    def _stop(self, event):
        path = exp.registry.path / 'runs' / (event.run_id + '.json')
        status = json.loads(path.read_text())['status']
        pathlib.Path('seen_at_stop').write_text(status)

exp = Experiment(Config(), name='E')
exp.trackers.subscribe(Probe())
exp.create_run(run_id='r').start()
{ending}
"""


@pytest.mark.slow  # a fresh interpreter per case (imports torch)
@pytest.mark.parametrize(
    ('ending', 'expected'),
    [
        ('pass', 'completed'),
        ('raise ValueError("boom")', 'failed'),
        ('raise KeyboardInterrupt', 'interrupted'),
    ],
)
def test_interpreter_exit_records_how_the_process_ended(
    tmp_path: pathlib.Path, ending: str, expected: str
) -> None:
    script = textwrap.dedent(_SCRIPT).format(ending=ending)
    subprocess.run(
        [sys.executable, '-c', script],
        cwd=tmp_path,
        env={'DRYTORCH_INIT_MODE': 'none', 'PATH': ''},
        capture_output=True,
        timeout=120,
        check=False,
    )
    record = tmp_path / '.drytorch' / 'E' / 'runs' / 'r.json'
    assert json.loads(record.read_text())['status'] == expected
    # the tracker read the final status when it was told of the stop
    assert (tmp_path / 'seen_at_stop').read_text() == expected
