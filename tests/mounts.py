"""Real small and read-only file systems for the fault tests.

As root (CI), :func:`tmpfs` mounts a tmpfs of a given size on a folder and
:func:`read_only` remounts it read-only; both unmount at the end. Without
root the tests that need them are skipped, with the reason; as root under
``CI``, a refused mount fails them (CI must run them).
"""

from __future__ import annotations

import contextlib
import errno
import os
import pathlib
import shutil
import subprocess
from collections.abc import Iterator

import pytest

__all__ = ['fill_disk', 'read_only', 'tmpfs', 'unavailable']


def _mount(*args: str) -> None:
    result = subprocess.run(
        ['mount', *args], capture_output=True, text=True, check=False
    )
    if result.returncode:
        msg = f'mount {" ".join(args)} failed: {result.stderr.strip()}'
        raise OSError(msg)


def _can_mount() -> str | None:
    """Why a tmpfs cannot be mounted here, or None if it can."""
    if os.name != 'posix' or os.geteuid() != 0:
        return 'mounting a real small file system needs root (CI runs as root)'
    if shutil.which('mount') is None or shutil.which('umount') is None:
        return 'mount and umount are not installed'
    return None


def unavailable(reason: str) -> None:
    """Skip the test, or fail it as root under CI, where CI can mount."""
    if os.environ.get('CI') and os.name == 'posix' and os.geteuid() == 0:
        pytest.fail(f'CI must run the file-system fault tests: {reason}')
    pytest.skip(reason)


@contextlib.contextmanager
def tmpfs(folder: pathlib.Path, size: str = '1m') -> Iterator[pathlib.Path]:
    """A tmpfs of ``size`` on ``folder`` (skips the test if not root)."""
    reason = _can_mount()
    if reason is not None:
        unavailable(reason)
    folder.mkdir(parents=True, exist_ok=True)
    try:
        _mount(
            '-t', 'tmpfs', '-o', f'size={size},mode=0755', 'tmpfs', str(folder)
        )
    except OSError as error:
        unavailable(f'this machine refuses to mount a tmpfs: {error}')
    try:
        yield folder
    finally:
        subprocess.run(['umount', '-l', str(folder)], check=False)


@contextlib.contextmanager
def read_only(mount_point: pathlib.Path) -> Iterator[None]:
    """Remount a tmpfs made by :func:`tmpfs` read-only, then writable."""
    _mount('-o', 'remount,ro', str(mount_point))
    try:
        yield
    finally:
        _mount('-o', 'remount,rw', str(mount_point))


def fill_disk(folder: pathlib.Path) -> None:
    """Write into ``folder`` until not one more byte fits."""
    index = 0
    chunk = 1 << 16
    while chunk:
        path = folder / f'.filler_{index}'
        index += 1
        try:
            with path.open('wb') as stream:
                while True:
                    stream.write(b'\0' * chunk)
                    stream.flush()
        except OSError as error:
            if error.errno != errno.ENOSPC:
                raise
        chunk //= 2
