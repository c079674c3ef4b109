"""Liveness of the process that recorded a run: pid, start time, zombies."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from drytorch.core import processes
from drytorch.core.run_registry import RunRegistry

needs_proc = pytest.mark.skipif(
    not os.path.isdir('/proc/self'), reason='needs the Linux /proc'
)


@pytest.fixture
def zombie() -> Iterator[int]:
    """A child that exited and was not reaped yet."""
    proc = subprocess.Popen([sys.executable, '-c', 'pass'])
    try:
        deadline = time.monotonic() + 30
        while _state(proc.pid) != 'Z':
            assert time.monotonic() < deadline, 'the child did not exit'
            time.sleep(0.01)
        yield proc.pid
    finally:
        proc.wait()


def _state(pid: int) -> str:
    text = pathlib.Path(f'/proc/{pid}/stat').read_text()
    return text[text.rfind(')') + 2]


def test_this_process_is_alive() -> None:
    pid = os.getpid()
    assert processes.is_alive(pid)
    assert processes.is_alive(pid, processes.start_time(pid))


@pytest.mark.parametrize('pid', [0, -1, 2**22 + 12345])
def test_impossible_pids_are_dead(pid: int) -> None:
    assert not processes.is_alive(pid)


@needs_proc
def test_reused_pid_is_not_the_recorded_process() -> None:
    """Same pid, another start time: the recorded process is gone."""
    pid = os.getpid()
    start = processes.start_time(pid)
    assert start is not None
    assert start.isdigit()
    assert not processes.is_alive(pid, str(int(start) + 1))


@needs_proc
def test_zombie_is_dead(zombie: int) -> None:
    assert processes.is_alive(zombie) is False
    start = processes.start_time(zombie)
    assert start is not None  # still listed, with its start time
    assert processes.is_alive(zombie, start) is False


def test_start_time_of_a_missing_process() -> None:
    assert processes.start_time(2**22 + 12345) is None


def _running_record(
    registry: RunRegistry, pid: int, start: str | None
) -> None:
    registry.register_new_run('r')
    registry.mark_running('r')
    path = registry.path / 'runs' / 'r.json'
    data = json.loads(path.read_text())
    data.update(pid=pid, pid_start=start)
    path.write_text(json.dumps(data))


@needs_proc
def test_registry_interrupts_a_run_whose_pid_was_reused(
    tmp_path: pathlib.Path,
) -> None:
    registry = RunRegistry(tmp_path / 'reg')
    pid = os.getpid()  # alive, but started at another time than recorded
    start = processes.start_time(pid)
    assert start is not None
    _running_record(registry, pid, str(int(start) + 1))
    assert registry.get('r').status == 'interrupted'  # type: ignore[union-attr]


@needs_proc
def test_registry_interrupts_a_run_of_a_zombie(
    tmp_path: pathlib.Path, zombie: int
) -> None:
    registry = RunRegistry(tmp_path / 'reg')
    _running_record(registry, zombie, processes.start_time(zombie))
    assert registry.get('r').status == 'interrupted'  # type: ignore[union-attr]


def test_registry_keeps_a_live_run_running(tmp_path: pathlib.Path) -> None:
    registry = RunRegistry(tmp_path / 'reg')
    pid = os.getppid()  # alive, not this process
    _running_record(registry, pid, processes.start_time(pid))
    assert registry.get('r').status == 'running'  # type: ignore[union-attr]
