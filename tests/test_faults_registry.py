"""The run registry under faults: bad files, a read-only folder, a full disk.

Every unreadable file raises RegistryCorruptedError naming it, a file that
is not the registry's is ignored with a warning, and no bad file stops a new
run. Reads work on a read-only folder and on a full disk (real tmpfs mounts,
as root; skipped otherwise), and a run that ends on a full disk is recorded.
"""

from __future__ import annotations

import errno
import json
import os
import pathlib
import re
import shutil
from collections.abc import Callable, Iterator

import pytest
from conftest import Config
from mounts import fill_disk, read_only, tmpfs, unavailable

from drytorch.core import exceptions
from drytorch.core.experiment import Experiment
from drytorch.core.run_registry import RunRegistry

_DEAD_PID = 2**22 + 12345  # above pid_max: never a live process


@pytest.fixture
def registry(tmp_path: pathlib.Path) -> RunRegistry:
    return RunRegistry(tmp_path / 'reg')


def _record(registry: RunRegistry, run_id: str) -> pathlib.Path:
    return registry.path / 'runs' / f'{run_id}.json'


def _died_running(registry: RunRegistry, run_id: str) -> None:
    """Record ``run_id`` as running in a process that died."""
    registry.register_new_run(run_id)
    registry.mark_running(run_id)
    path = _record(registry, run_id)
    data = json.loads(path.read_text())
    data['pid'] = _DEAD_PID
    path.write_text(json.dumps(data))


def _new_run_still_works(registry: RunRegistry) -> None:
    record = registry.register_new_run(None)
    registry.mark_running(record.id)
    registry.update_run_status(record.id, 'completed')
    assert json.loads(_record(registry, record.id).read_text())['status'] == (
        'completed'
    )


# ------------------------------------------------------------- bad files


def _bad_utf8(path: pathlib.Path) -> None:
    path.write_bytes(b'{"id": "r0", "status": "\xff\xfe"}')


def _folder(path: pathlib.Path) -> None:
    path.unlink()
    path.mkdir()
    (path / 'inside').write_text('x')


def _truncated(path: pathlib.Path) -> None:
    path.write_bytes(path.read_bytes()[:15])


def _empty(path: pathlib.Path) -> None:
    path.write_bytes(b'')


def _other_run(path: pathlib.Path) -> None:
    data = json.loads(path.read_text())
    data['id'] = 'someone_else'
    path.write_text(json.dumps(data))


def _not_a_record(path: pathlib.Path) -> None:
    path.write_text('["a", "list"]')


def _bad_status(path: pathlib.Path) -> None:
    data = json.loads(path.read_text())
    data['status'] = ['not', 'hashable']
    path.write_text(json.dumps(data))


_RECORD_DAMAGES = [
    _bad_utf8,
    _folder,
    _truncated,
    _empty,
    _other_run,
    _not_a_record,
    _bad_status,
]


@pytest.mark.parametrize('damage', _RECORD_DAMAGES, ids=lambda f: f.__name__)
def test_bad_record_names_the_file_and_blocks_nothing(
    registry: RunRegistry, damage: Callable[[pathlib.Path], None]
) -> None:
    registry.register_new_run('r0')
    path = _record(registry, 'r0')
    damage(path)
    for read in (registry.load_all, lambda: registry.get('r0')):
        with pytest.raises(exceptions.RegistryCorruptedError) as info:
            read()
        assert str(path) in str(info.value)
        assert info.value.path == path  # type: ignore[attr-defined]
    with pytest.raises(exceptions.RegistryCorruptedError):
        registry.register_new_run('r0')  # the id stays taken
    _new_run_still_works(registry)
    assert path.exists()  # left for the user to repair


def _last_write(text: bytes) -> Callable[[pathlib.Path], None]:
    def write(path: pathlib.Path) -> None:
        path.write_bytes(text)

    write.__name__ = f'last_run={text!r}'
    return write


_LAST_DAMAGES = [
    _last_write(b'\xff\xfe'),
    _last_write(b''),
    _last_write(b'  \n'),
    _last_write(b'a/b\n'),
    _last_write(b'nobody\n'),
    _folder,
]


@pytest.mark.parametrize('damage', _LAST_DAMAGES, ids=lambda f: f.__name__)
def test_bad_last_run_names_the_file_and_blocks_nothing(
    registry: RunRegistry, damage: Callable[[pathlib.Path], None]
) -> None:
    registry.register_new_run('r0')
    last = registry.path / 'last_run'
    damage(last)
    with pytest.raises(exceptions.RegistryCorruptedError) as info:
        registry.last()
    assert str(last) in str(info.value)
    if last.is_dir():
        with pytest.warns(
            exceptions.RegistryFileIgnoredWarning, match='last_run'
        ):
            _new_run_still_works(registry)
    else:
        _new_run_still_works(registry)
        assert registry.last() is not None  # rewritten by the new run
    assert registry.load_all()[0].id == 'r0'


@pytest.mark.parametrize('name', ['notes?.txt', 'a:b', '.DS_Store', 'r0'])
def test_foreign_file_in_running_is_ignored(
    registry: RunRegistry, name: str
) -> None:
    """Markers are empty files named by run ids: nothing else is ours."""
    registry.register_new_run('r0')
    (registry.path / 'running').mkdir()
    foreign = registry.path / 'running' / name
    foreign.write_text('not ours')
    with pytest.warns(
        exceptions.RegistryFileIgnoredWarning, match=re.escape(name)
    ):
        _new_run_still_works(registry)
    assert len(registry.load_all()) == 2
    assert foreign.read_text() == 'not ours'  # never removed


def test_hidden_run_ids_are_listed(registry: RunRegistry) -> None:
    registry.register_new_run('.hidden')
    registry.mark_running('.hidden')
    registry.update_run_status('.hidden', 'completed')
    records = registry.load_all()  # no warning: temporaries are known
    assert [(r.id, r.status) for r in records] == [('.hidden', 'completed')]


@pytest.mark.parametrize('name', ['README?.json', 'notes.txt', '.DS_Store'])
def test_foreign_file_in_runs_is_ignored(
    registry: RunRegistry, name: str
) -> None:
    registry.register_new_run('r0')
    (registry.path / 'runs' / name).write_text('{}')
    with pytest.warns(
        exceptions.RegistryFileIgnoredWarning, match=re.escape(name)
    ):
        assert [r.id for r in registry.load_all()] == ['r0']
    _new_run_still_works(registry)


def test_runs_folder_replaced_by_a_file_names_it(
    registry: RunRegistry,
) -> None:
    registry.register_new_run('r0')
    runs = registry.path / 'runs'
    shutil.rmtree(runs)
    runs.write_text('oops')
    with pytest.raises(OSError, match='runs') as info:
        registry.get('r0')
    assert str(runs) in str(info.value)


# ------------------------------------------------------- dead-run check


def test_dead_run_is_recorded_interrupted(registry: RunRegistry) -> None:
    _died_running(registry, 'r')
    assert registry.load_all()[0].status == 'interrupted'
    assert json.loads(_record(registry, 'r').read_text())['status'] == (
        'interrupted'
    )
    assert not (registry.path / 'running' / 'r').exists()
    assert not list((registry.path / 'runs').glob('.*'))  # no reserve left


def test_dead_run_resumable_when_not_recorded(
    registry: RunRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where interrupted cannot be written, the run is still not in use."""
    _died_running(registry, 'r')
    monkeypatch.setattr(RunRegistry, '_reap_dead', lambda self: None)
    assert registry.get('r').status == 'interrupted'  # type: ignore[union-attr]
    record = registry.mark_running('r')
    assert record.pid == os.getpid()


# ------------------------------------------------- read-only and full disk


@pytest.fixture
def small_disk(tmp_path: pathlib.Path) -> Iterator[pathlib.Path]:
    with tmpfs(tmp_path / 'mnt', '1m') as mount_point:
        yield mount_point


def test_read_only_registry_can_be_read(small_disk: pathlib.Path) -> None:
    registry = RunRegistry(small_disk / 'reg')
    registry.register_new_run('done')
    registry.mark_running('done')
    registry.update_run_status('done', 'completed')
    _died_running(registry, 'dead')
    before = sorted(str(p) for p in small_disk.rglob('*'))
    with read_only(small_disk):
        fresh = RunRegistry(small_disk / 'reg')
        statuses = {r.id: r.status for r in fresh.load_all()}
        assert statuses == {'done': 'completed', 'dead': 'interrupted'}
        assert fresh.get('dead').status == 'interrupted'  # type: ignore[union-attr]
        assert fresh.last().id == 'dead'  # type: ignore[union-attr]
        with pytest.raises(OSError, match='Read-only') as info:
            fresh.register_new_run(None)
        assert info.value.filename is not None
    assert sorted(str(p) for p in small_disk.rglob('*')) == before
    # once writable again, the dead run is recorded
    assert RunRegistry(small_disk / 'reg').get('dead').status == (  # type: ignore[union-attr]
        'interrupted'
    )
    data = json.loads(_record(registry, 'dead').read_text())
    assert data['status'] == 'interrupted'


def test_legacy_list_readable_on_read_only_folder(
    small_disk: pathlib.Path,
) -> None:
    folder = small_disk / 'reg'
    folder.mkdir()
    legacy = [{'id': 'a', 'status': 'completed', 'timestamp': 't'}]
    (folder / 'runs.json').write_text(json.dumps(legacy))
    with read_only(small_disk):
        registry = RunRegistry(folder)
        assert [r.id for r in registry.load_all()] == ['a']
        assert registry.last().id == 'a'  # type: ignore[union-attr]
        assert registry.get('a').status == 'completed'  # type: ignore[union-attr]


def test_full_disk_reads_and_dead_run_in_memory(
    small_disk: pathlib.Path,
) -> None:
    registry = RunRegistry(small_disk / 'reg')
    registry.register_new_run('done')
    _died_running(registry, 'dead')
    fill_disk(small_disk)
    fresh = RunRegistry(small_disk / 'reg')
    statuses = {r.id: r.status for r in fresh.load_all()}
    assert statuses == {'done': 'created', 'dead': 'interrupted'}
    with pytest.raises(OSError) as info:
        fresh.register_new_run('new')
    assert info.value.errno == errno.ENOSPC
    assert 'new.json' in str(info.value)  # the error names the file


def test_run_ending_on_full_disk_is_recorded_completed(
    small_disk: pathlib.Path,
) -> None:
    exp = Experiment(Config(), name='Full', par_dir=small_disk)
    run = exp.create_run(run_id='r')
    run.start()
    fill_disk(small_disk)  # the run did its work; nothing more fits
    run.stop()
    record = exp.registry.get('r')
    assert record is not None
    assert record.status == 'completed'
    assert record.ended_at is not None
    with pytest.raises(OSError) as info:
        exp.create_run(run_id='next')
    assert info.value.filename is not None  # names the path


def test_run_failing_on_full_disk_is_recorded_failed(
    small_disk: pathlib.Path,
) -> None:
    exp = Experiment(Config(), name='Full', par_dir=small_disk)
    with pytest.raises(RuntimeError, match='boom'):
        with exp.create_run(run_id='r'):
            fill_disk(small_disk)
            raise RuntimeError('boom')
    assert exp.registry.get('r').status == 'failed'  # type: ignore[union-attr]


def test_unmountable_fails_as_root_under_ci_and_skips_elsewhere(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(os, 'geteuid', lambda: 0)
    monkeypatch.setenv('CI', 'true')
    with pytest.raises(pytest.fail.Exception, match='CI must run'):
        unavailable('no mount here')
    monkeypatch.delenv('CI')
    with pytest.raises(pytest.skip.Exception, match='no mount here'):
        unavailable('no mount here')
    monkeypatch.setenv('CI', 'true')
    monkeypatch.setattr(os, 'geteuid', lambda: 1000)  # not root: skipped
    with pytest.raises(pytest.skip.Exception):
        unavailable('needs root')
