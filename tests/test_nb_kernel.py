"""The notebook extension in real Jupyter kernels.

A graceful shutdown records the active run ``completed`` long before the
kernel manager's SIGTERM; a kernel killed outright leaves its run
``running`` with a dead pid, which the next process to read the registry
records ``interrupted``; a failing ``%%drytorch`` cell records ``failed``.
"""

from __future__ import annotations

import json
import os
import pathlib
import signal
import textwrap
import time
from collections.abc import Iterator
from typing import Any

import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

EXPERIMENT = 'KernelExp'
STATUS_FILE = 'status_at_stop.txt'


class Kernel:
    """A python3 kernel of this environment, started in a folder."""

    execute_timeout = 60

    def __init__(self, cwd: pathlib.Path) -> None:
        # no kernel directories: 'python3' is ipykernel's native spec, which
        # runs sys.executable (as notebooks/_execute.py does)
        self.manager = KernelManager(
            kernel_name='python3',
            kernel_spec_manager=KernelSpecManager(kernel_dirs=[]),
        )
        self.manager.start_kernel(
            cwd=str(cwd),
            extra_arguments=['--InteractiveShell.colors=nocolor'],
        )
        self.client = self.manager.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=60)
        self.process: Any = self.manager.provisioner.process  # type: ignore[union-attr]

    def execute(self, code: str) -> tuple[dict[str, Any], list[dict]]:
        """Run code; return the reply's content and the iopub messages."""
        outputs: list[dict] = []
        reply = self.client.execute_interactive(
            textwrap.dedent(code),
            timeout=self.execute_timeout,
            output_hook=outputs.append,
        )
        return reply['content'], outputs

    def run(self, code: str) -> list[dict]:
        """Run code that must succeed; return the iopub messages."""
        content, outputs = self.execute(code)
        assert content['status'] == 'ok', content
        return outputs

    def close(self) -> None:
        self.client.stop_channels()
        if self.manager.has_kernel:
            self.manager.shutdown_kernel(now=True)


@pytest.fixture
def kernels() -> Iterator[list[Kernel]]:
    started: list[Kernel] = []
    yield started
    for kernel in started:
        kernel.close()


def start(kernels: list[Kernel], cwd: pathlib.Path) -> Kernel:
    kernel = Kernel(cwd)
    kernels.append(kernel)
    kernel.run(
        f"""
        %load_ext drytorch_nb
        import dataclasses
        import pathlib

        from drytorch import Experiment
        from drytorch.core import events, track
        from drytorch.core.track import Tracker

        @dataclasses.dataclass(frozen=True)
        class Config:
            lr: float = 0.1

        class StatusAtStop(Tracker):
            '''Writes the run's recorded status when the run stops.'''

            @track.on(events.StopRunEvent)
            def _stop(self, event):
                record = exp.registry.get(event.run_id)
                pathlib.Path({STATUS_FILE!r}).write_text(record.status)

        exp = Experiment(Config(), name={EXPERIMENT!r})
        exp.trackers.subscribe(StatusAtStop())
        """
    )
    return kernel


def record(cwd: pathlib.Path, run_id: str) -> dict[str, Any]:
    """The run's record as stored, read without any registry side effect."""
    path = cwd / '.drytorch' / EXPERIMENT / 'runs' / f'{run_id}.json'
    return json.loads(path.read_text(encoding='utf-8'))


def text_output(outputs: list[dict]) -> str:
    texts = []
    for message in outputs:
        content = message['content']
        if message['msg_type'] == 'stream':
            texts.append(content['text'])
        elif 'data' in content:
            texts.append(content['data'].get('text/plain', ''))
    return ''.join(texts)


def shut_down(kernel: Kernel) -> float:
    """Ask the kernel to shut down; return when the request was sent."""
    kernel.client.stop_channels()
    requested = time.time()
    kernel.manager.shutdown_kernel(now=False)
    return requested


def test_graceful_shutdown_records_completed_quickly(
    tmp_path, kernels
) -> None:
    kernel = start(kernels, tmp_path)
    kernel.run('%drytorch_start --run-id graceful')
    assert record(tmp_path, 'graceful')['status'] == 'running'

    shut_down(kernel)

    stored = record(tmp_path, 'graceful')
    assert stored['status'] == 'completed'
    # the kernel exited by itself, within the manager's grace period: no
    # SIGTERM (-15) nor SIGKILL (-9) was needed (a wall-clock bound would
    # fail on a busy machine; the exit status says the same)
    assert kernel.process.returncode == 0
    # the trackers were told after the status was recorded: the core's
    # exit hook writes the status first (the extension adds no hook)
    assert (tmp_path / STATUS_FILE).read_text() == 'completed'


def test_graceful_shutdown_of_a_run_started_by_hand(tmp_path, kernels) -> None:
    kernel = start(kernels, tmp_path)
    kernel.run('run = exp.create_run(run_id="by-hand")\nrun.start()')

    shut_down(kernel)

    assert record(tmp_path, 'by-hand')['status'] == 'completed'
    assert (tmp_path / STATUS_FILE).read_text() == 'completed'


def test_killed_kernel_run_is_interrupted_at_next_start(
    tmp_path, kernels
) -> None:
    kernel = start(kernels, tmp_path)
    kernel.run('%drytorch_start --run-id doomed')
    pid = kernel.process.pid

    # SIGKILL: the process ends at once, no atexit callback runs
    kernel.manager.signal_kernel(signal.SIGKILL)
    kernel.process.wait(timeout=30)

    stored = record(tmp_path, 'doomed')
    assert stored['status'] == 'running'
    assert stored['pid'] == pid
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)

    successor = start(kernels, tmp_path)
    successor.run('%drytorch_start --run-id next')
    assert record(tmp_path, 'next')['status'] == 'running'
    assert record(tmp_path, 'doomed')['status'] == 'interrupted'
    table = text_output(successor.run('%drytorch_runs'))
    assert 'doomed' in table
    assert 'interrupted' in table
    successor.run('%drytorch_stop')
    assert record(tmp_path, 'next')['status'] == 'completed'


def test_failing_cell_records_failed(tmp_path, kernels) -> None:
    kernel = start(kernels, tmp_path)
    content, _ = kernel.execute(
        '%%drytorch --run-id broken\nraise ValueError("boom")'
    )
    assert content['status'] == 'error'
    assert content['ename'] == 'ValueError'
    assert content['evalue'] == 'boom'
    assert record(tmp_path, 'broken')['status'] == 'failed'
    # the kernel goes on: the next cell runs in a fresh run
    kernel.run('%%drytorch --run-id fine\nx = 1')
    assert record(tmp_path, 'fine')['status'] == 'completed'
