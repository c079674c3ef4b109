"""drytorch.utils.files: atomic writes and path joins that stay inside.

A write is the old file or the complete new one, never a torn mix (a crash
mid-write must not cost the run registry its history), and a name joined
below a folder never leads out of it.
"""

from __future__ import annotations

import errno
import json
import os
import pathlib
import stat
import sys

import pytest

from drytorch.core import exceptions
from drytorch.utils import files
from drytorch.utils.files import (
    atomic_write_bytes,
    atomic_write_text,
    safe_join,
)


def _listing(folder: pathlib.Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


class TestAtomicWrite:
    def test_writes_and_creates_parents(self, tmp_path: pathlib.Path) -> None:
        target = tmp_path / 'a' / 'b' / 'file.txt'
        atomic_write_text(target, 'héllo\n')
        assert target.read_text(encoding='utf-8') == 'héllo\n'
        assert _listing(target.parent) == ['file.txt']

    def test_bytes_and_overwrite(self, tmp_path: pathlib.Path) -> None:
        target = tmp_path / 'data.bin'
        atomic_write_bytes(target, b'old')
        atomic_write_bytes(str(target), b'new content')
        assert target.read_bytes() == b'new content'
        assert _listing(tmp_path) == ['data.bin']

    def test_failed_write_keeps_old_file(self, tmp_path: pathlib.Path) -> None:
        target = tmp_path / 'runs.json'
        atomic_write_text(target, 'old')
        with pytest.raises(TypeError):
            atomic_write_bytes(target, 'not bytes')  # type: ignore[arg-type]
        assert target.read_text() == 'old'
        assert _listing(tmp_path) == ['runs.json']  # no temp file left

    def test_failed_rename_keeps_old_file(
        self, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        target = tmp_path / 'runs.json'
        atomic_write_text(target, 'old')

        def failing_replace(src: object, dst: object) -> None:
            raise OSError('disk full')

        monkeypatch.setattr(files.os, 'replace', failing_replace)
        with pytest.raises(OSError, match='disk full'):
            atomic_write_text(target, 'new')
        monkeypatch.undo()
        assert target.read_text() == 'old'
        assert _listing(tmp_path) == ['runs.json']

    @pytest.mark.skipif(sys.platform == 'win32', reason='POSIX permissions')
    def test_permissions_follow_umask(self, tmp_path: pathlib.Path) -> None:
        umask = os.umask(0)
        os.umask(umask)
        target = tmp_path / 'file.txt'
        atomic_write_text(target, 'x')
        mode = stat.S_IMODE(target.stat().st_mode)
        assert mode == 0o666 & ~umask


class TestSafeJoin:
    def test_joins(self, tmp_path: pathlib.Path) -> None:
        joined = safe_join(tmp_path, 'metadata', 'exp', '2026-01-01')
        assert joined == tmp_path / 'metadata' / 'exp' / '2026-01-01'
        assert safe_join(tmp_path) == tmp_path
        assert safe_join(tmp_path, '..hidden', 'a..b', 'x@y') == (
            tmp_path / '..hidden' / 'a..b' / 'x@y'
        )

    @pytest.mark.parametrize(
        'part', ['', '.', '..', 'a/b', '../x', '/etc', 'a\\b', 'a\x00b']
    )
    def test_rejects_escaping_parts(
        self, tmp_path: pathlib.Path, part: str
    ) -> None:
        # a model or experiment name like '..' or 'a/b' must not write
        # outside the output folder
        with pytest.raises(exceptions.InvalidNameError) as info:
            safe_join(tmp_path, 'ok', part)
        assert isinstance(info.value, ValueError)
        assert info.value.kind == 'path component'  # type: ignore[attr-defined]

    def test_rejects_non_string_part(self, tmp_path: pathlib.Path) -> None:
        with pytest.raises(TypeError, match='Expected a str'):
            safe_join(tmp_path, 3)  # type: ignore[arg-type]

    @pytest.mark.skipif(sys.platform == 'win32', reason='symlinks')
    def test_rejects_symlink_escape(self, tmp_path: pathlib.Path) -> None:
        root = tmp_path / 'root'
        root.mkdir()
        outside = tmp_path / 'outside'
        outside.mkdir()
        (root / 'link').symlink_to(outside)
        with pytest.raises(exceptions.InvalidNameError, match='outside'):
            safe_join(root, 'link', 'file.txt')


# reserved space and errors that name the file


def test_replace_from_reserve_writes_into_the_reserved_file(
    tmp_path: pathlib.Path,
) -> None:
    reserve = tmp_path / '.target.reserved'
    target = tmp_path / 'target.json'
    target.write_text('{"old": 1}')
    files.reserve_space(reserve, 64)
    assert reserve.stat().st_size == 64
    assert files.replace_from_reserve(reserve, target, b'{"new": 2}')
    assert not reserve.exists()
    content = target.read_bytes()
    assert len(content) == 64  # padded: the reserved blocks were reused
    assert json.loads(content) == {'new': 2}


def test_replace_from_reserve_without_room_changes_nothing(
    tmp_path: pathlib.Path,
) -> None:
    target = tmp_path / 'target.json'
    target.write_text('old')
    assert not files.replace_from_reserve(tmp_path / 'none', target, b'x')
    reserve = tmp_path / '.small'
    files.reserve_space(reserve, 2)
    assert not files.replace_from_reserve(reserve, target, b'too long')
    assert target.read_text() == 'old'
    assert reserve.stat().st_size == 2


def test_errors_without_a_file_name_get_one() -> None:
    unnamed = OSError(errno.ENOSPC, 'No space left on device')
    named = files.naming_path(unnamed, pathlib.Path('/x/runs/r.json'))
    assert named.errno == errno.ENOSPC
    assert named.filename == '/x/runs/r.json'
    assert '/x/runs/r.json' in str(named)
    already = PermissionError(errno.EACCES, 'Permission denied', '/y')
    assert files.naming_path(already, '/z') is already
    denied = files.naming_path(PermissionError(errno.EACCES, 'no'), '/z')
    assert isinstance(denied, PermissionError)  # the errno's own class


def test_atomic_write_error_names_the_target(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, 'No space left on device')

    monkeypatch.setattr(os, 'fsync', full)
    target = tmp_path / 'record.json'
    with pytest.raises(OSError, match=r'record\.json') as info:
        files.atomic_write_text(target, 'data')
    assert info.value.errno == errno.ENOSPC
    assert os.listdir(tmp_path) == []  # the temporary file was removed
