"""The run registry: unique ids, true statuses, atomic and corruption-safe."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import textwrap
import time

import pytest

from drytorch.core import exceptions
from drytorch.core.run_registry import RunRegistry

REPO = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture
def registry(tmp_path: pathlib.Path) -> RunRegistry:
    return RunRegistry(tmp_path / 'reg')


def test_default_ids_unique_within_one_second(registry: RunRegistry) -> None:
    ids = [registry.register_new_run(None).id for _ in range(5)]
    assert len(set(ids)) == 5
    assert ids[1] == f'{ids[0]}_2' or ids[1][:20] != ids[0][:20]


def test_explicit_id_recorded_twice_raises(registry: RunRegistry) -> None:
    registry.register_new_run('r1')
    with pytest.raises(exceptions.RunAlreadyRecordedError, match='r1'):
        registry.register_new_run('r1')
    assert [r.id for r in registry.load_all()] == ['r1']


@pytest.mark.parametrize('bad', ['..', '.', 'a/b', 'a\\b', '', 'x\0y'])
def test_invalid_ids_rejected_before_writing(
    registry: RunRegistry, bad: str
) -> None:
    with pytest.raises(exceptions.InvalidNameError) as info:
        registry.register_new_run(bad)
    assert isinstance(info.value, ValueError)
    assert not (registry.path / 'runs').exists() or not any(
        (registry.path / 'runs').iterdir()
    )


def test_lifecycle_statuses(registry: RunRegistry) -> None:
    record = registry.register_new_run('r')
    assert record.status == 'created'
    running = registry.mark_running('r')
    assert running.status == 'running'
    assert running.pid == os.getpid()
    registry.update_run_status('r', 'completed')
    final = registry.get('r')
    assert final is not None
    assert final.status == 'completed'
    assert final.ended_at is not None
    assert not (registry.path / 'running' / 'r').exists()


def test_update_unknown_run(registry: RunRegistry) -> None:
    with pytest.raises(exceptions.RunNotRecordedError):
        registry.update_run_status('nope', 'completed')


def test_unknown_status_rejected(registry: RunRegistry) -> None:
    registry.register_new_run('r')
    with pytest.raises(ValueError, match='bogus'):
        registry.update_run_status('r', 'bogus')  # type: ignore[arg-type]


def test_last_is_most_recent(registry: RunRegistry) -> None:
    assert registry.last() is None
    registry.register_new_run('a')
    registry.register_new_run('b')
    last = registry.last()
    assert last is not None
    assert last.id == 'b'


def test_corrupt_record_raises_and_is_kept(registry: RunRegistry) -> None:
    registry.register_new_run('r0')
    path = registry.path / 'runs' / 'r0.json'
    path.write_text('{"id": "r0", "sta')
    with pytest.raises(exceptions.RegistryCorruptedError) as info:
        registry.load_all()
    assert str(path) in str(info.value)
    # never treated as empty: the id stays taken and the file untouched
    with pytest.raises(exceptions.RegistryCorruptedError):
        registry.get('r0')
    assert path.read_text() == '{"id": "r0", "sta'


def test_no_temp_files_left(registry: RunRegistry) -> None:
    registry.register_new_run('r')
    registry.mark_running('r')
    registry.update_run_status('r', 'completed')
    leftovers = [
        p.name
        for p in registry.path.rglob('*')
        if p.is_file() and 'tmp' in p.name
    ]
    assert leftovers == []


def test_records_are_plain_json(registry: RunRegistry) -> None:
    registry.register_new_run('r', commit='abc')
    data = json.loads((registry.path / 'runs' / 'r.json').read_text())
    assert data['id'] == 'r'
    assert data['status'] == 'created'
    assert data['commit'] == 'abc'


def test_dead_process_marked_interrupted(registry: RunRegistry) -> None:
    registry.register_new_run('r')
    registry.mark_running('r')
    # pretend another process ran it and died: a pid that cannot exist
    path = registry.path / 'runs' / 'r.json'
    data = json.loads(path.read_text())
    data['pid'] = 2**22 + 12345
    path.write_text(json.dumps(data))
    record = registry.get('r')
    assert record is not None
    assert record.status == 'interrupted'


def _script(body: str) -> str:
    return textwrap.dedent(body)


@pytest.mark.slow
def test_concurrent_processes_get_distinct_ids(
    tmp_path: pathlib.Path,
) -> None:
    script = _script(
        """
        import dataclasses, sys
        from drytorch.core.experiment import Experiment
        from drytorch.core import track
        track.remove_all_default_trackers()

        @dataclasses.dataclass(frozen=True)
        class C:
            x: int = 1

        exp = Experiment(C(), name='Sweep', par_dir=sys.argv[1])
        for _ in range(10):
            with exp.create_run() as run:
                pass
        """
    )
    env = {**os.environ, 'PYTHONPATH': str(REPO)}
    procs = [
        subprocess.Popen(
            [sys.executable, '-c', script, str(tmp_path)], env=env
        )
        for _ in range(5)
    ]
    for proc in procs:
        assert proc.wait(timeout=120) == 0
    registry = RunRegistry(tmp_path / '.drytorch' / 'Sweep')
    records = registry.load_all()
    assert len(records) == 50
    assert len({r.id for r in records}) == 50
    assert {r.status for r in records} == {'completed'}


@pytest.mark.slow
def test_killed_process_leaves_interrupted_run(
    tmp_path: pathlib.Path,
) -> None:
    script = _script(
        """
        import dataclasses, sys, time
        from drytorch.core.experiment import Experiment
        from drytorch.core import track
        track.remove_all_default_trackers()

        @dataclasses.dataclass(frozen=True)
        class C:
            x: int = 1

        exp = Experiment(C(), name='Killed', par_dir=sys.argv[1])
        run = exp.create_run(run_id='victim')
        run.start()
        print('started', flush=True)
        time.sleep(60)
        """
    )
    env = {**os.environ, 'PYTHONPATH': str(REPO)}
    with subprocess.Popen(
        [sys.executable, '-c', script, str(tmp_path)],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    ) as proc:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == 'started'
        registry = RunRegistry(tmp_path / '.drytorch' / 'Killed')
        record = registry.get('victim')
        assert record is not None
        assert record.status == 'running'
        proc.kill()
        proc.wait(timeout=30)
    record = registry.get('victim')
    assert record is not None
    assert record.status == 'interrupted'


@pytest.mark.slow
@pytest.mark.parametrize(
    ('ending', 'expected'),
    [
        ('pass', 'completed'),
        ('raise RuntimeError("boom")', 'failed'),
        ('raise KeyboardInterrupt', 'interrupted'),
    ],
)
def test_unstopped_run_recorded_at_exit(
    tmp_path: pathlib.Path, ending: str, expected: str
) -> None:
    script = _script(
        f"""
        import dataclasses, sys
        from drytorch.core.experiment import Experiment
        from drytorch.core import track
        track.remove_all_default_trackers()

        @dataclasses.dataclass(frozen=True)
        class C:
            x: int = 1

        exp = Experiment(C(), name='Exit', par_dir=sys.argv[1])
        run = exp.create_run(run_id='r')
        run.start()
        {ending}
        """
    )
    env = {**os.environ, 'PYTHONPATH': str(REPO)}
    start = time.monotonic()
    subprocess.run(
        [sys.executable, '-c', script, str(tmp_path)],
        env=env,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert time.monotonic() - start < 60
    record = RunRegistry(tmp_path / '.drytorch' / 'Exit').get('r')
    assert record is not None
    assert record.status == expected


def test_legacy_runs_json_is_imported(registry: RunRegistry) -> None:
    registry.path.mkdir(parents=True)
    legacy = [
        {'id': 'a', 'status': 'completed', 'timestamp': 't', 'commit': None},
        {'id': 'b', 'status': 'running', 'timestamp': 't', 'commit': 'c'},
    ]
    text = json.dumps(legacy, indent=2)
    (registry.path / 'runs.json').write_text(text)
    statuses = {r.id: r.status for r in registry.load_all()}
    assert statuses == {'a': 'completed', 'b': 'interrupted'}
    last = registry.last()
    assert last is not None
    assert last.id == 'b'
    assert (registry.path / 'runs.json').read_text() == text
    with pytest.raises(exceptions.RunAlreadyRecordedError):
        registry.register_new_run('a')


def test_corrupt_legacy_file_raises(registry: RunRegistry) -> None:
    registry.path.mkdir(parents=True)
    (registry.path / 'runs.json').write_text('[{"id": ')
    with pytest.raises(exceptions.RegistryCorruptedError, match=r'runs\.json'):
        registry.load_all()


def test_last_is_the_run_last_started_or_resumed(
    registry: RunRegistry,
) -> None:
    registry.register_new_run('a')
    registry.register_new_run('b')
    registry.mark_running('a')  # 'a' resumed after 'b' was created
    registry.update_run_status('a', 'completed')
    last = registry.last()
    assert last is not None
    assert last.id == 'a'
