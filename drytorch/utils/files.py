"""File helpers: atomic writes and safe path joins.

A file written with :func:`atomic_write_bytes` or :func:`atomic_write_text`
is either the old version or the complete new one, never a torn mix: the
data goes to a temporary file in the same folder, is flushed to disk and
then renamed over the target. An ``OSError`` raised by a write names the
file it was writing.

A write that must succeed later on a full disk reserves its space first:
:func:`reserve_space` allocates a file, and :func:`replace_from_reserve`
writes into those blocks and renames the file over the target, which needs
no new space.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import uuid

from drytorch.utils import errors

__all__ = [
    'atomic_write_bytes',
    'atomic_write_text',
    'fsync_dir',
    'naming_path',
    'replace_from_reserve',
    'reserve_space',
    'safe_join',
]

_PathLike = str | os.PathLike[str]
_SEPARATORS = ('/', '\\')
_TEMP_SUFFIX = '.tmp'


def fsync_dir(folder: pathlib.Path) -> None:
    """Persist a rename on POSIX (directories cannot be opened on Windows)."""
    if os.name != 'posix':
        return
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write_bytes(path: _PathLike, data: bytes) -> None:
    """Replace the content of a file atomically.

    Missing parent folders are created. If anything fails, the target is
    left as it was and the temporary file is removed.

    Args:
        path: the file to write.
        data: the new content.
    """
    target = pathlib.Path(path)
    folder = target.parent
    folder.mkdir(parents=True, exist_ok=True)
    temp = folder / f'.{target.name}.{uuid.uuid4().hex}{_TEMP_SUFFIX}'
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, 'O_BINARY', 0)
    try:
        # 0o666: the usual permissions of a new file once the umask applies.
        fd = os.open(temp, flags, 0o666)
        try:
            with os.fdopen(fd, 'wb') as stream:
                stream.write(data)
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(temp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise
    except OSError as error:
        raise naming_path(error, target) from error
    fsync_dir(folder)


def naming_path(error: OSError, path: _PathLike) -> OSError:
    """The error itself if it names a file, else a copy naming ``path``.

    Raise it ``from error``: a full disk reports ``ENOSPC`` without a file
    name, which leaves the user guessing which write failed.
    """
    if error.filename is not None or error.errno is None:
        return error
    # OSError(errno, ...) picks the subclass of the errno (ENOSPC: OSError)
    return OSError(error.errno, error.strerror, str(path))


def reserve_space(path: _PathLike, size: int) -> None:
    """Allocate a file of ``size`` bytes, to be used by replace_from_reserve.

    Raises:
        OSError: naming the file, if it cannot be written (e.g. disk full).
    """
    reserve = pathlib.Path(path)
    try:
        with reserve.open('wb') as stream:
            stream.write(b' ' * size)
            stream.flush()
            os.fsync(stream.fileno())
    except OSError as error:
        with contextlib.suppress(OSError):
            reserve.unlink()
        raise naming_path(error, reserve) from error


def replace_from_reserve(
    reserve: _PathLike, path: _PathLike, data: bytes
) -> bool:
    """Write ``data`` in a reserved file and rename it over ``path``.

    The data is padded with spaces to the reserved size, so the write uses
    the blocks already allocated: it works on a full disk (on file systems
    that overwrite in place). The rename is atomic, as in atomic_write_bytes.

    Returns:
        False, with nothing changed, if there is no reserve or it is too
        small.

    Raises:
        OSError: naming the target, if the write or the rename fails.
    """
    reserve_path = pathlib.Path(reserve)
    target = pathlib.Path(path)
    try:
        size = os.stat(reserve_path).st_size
    except FileNotFoundError:
        return False
    if size < len(data):
        return False
    try:
        with reserve_path.open('r+b') as stream:
            stream.write(data + b' ' * (size - len(data)))
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(reserve_path, target)
    except OSError as error:
        raise naming_path(error, target) from error
    fsync_dir(target.parent)
    return True


def atomic_write_text(
    path: _PathLike, text: str, encoding: str = 'utf-8'
) -> None:
    """Replace the content of a text file atomically.

    Args:
        path: the file to write.
        text: the new content.
        encoding: the text encoding.
    """
    atomic_write_bytes(path, text.encode(encoding))


def _check_part(part: str) -> None:
    kind = 'path component'
    if not isinstance(part, str):
        msg = f'Expected a str path component, got {type(part).__name__}.'
        raise TypeError(msg)
    if not part:
        raise errors.InvalidNameError(kind, part, 'it is empty')
    if part in ('.', '..'):
        raise errors.InvalidNameError(
            kind, part, 'it refers to a folder relatively'
        )
    if any(separator in part for separator in _SEPARATORS):
        raise errors.InvalidNameError(
            kind, part, 'it contains a path separator'
        )
    if '\x00' in part:
        raise errors.InvalidNameError(
            kind, part, 'it contains a NUL character'
        )


def safe_join(root: _PathLike, *parts: str) -> pathlib.Path:
    """Join names below a root folder, refusing anything that escapes it.

    Args:
        root: the folder the result must stay in.
        parts: single path components (e.g. experiment, model names).

    Returns:
        ``root / part_1 / ... / part_n``.

    Raises:
        InvalidNameError: if a part is empty, ``.`` or ``..``, contains a
            separator or a NUL character, or the result (with symbolic
            links resolved) lies outside ``root``.
    """
    for part in parts:
        _check_part(part)
    root_path = pathlib.Path(root)
    joined = root_path.joinpath(*parts)
    resolved_root = root_path.resolve()
    resolved = joined.resolve()
    if resolved != resolved_root and not resolved.is_relative_to(
        resolved_root
    ):
        raise errors.InvalidNameError(
            'path', str(joined), f'it resolves outside {resolved_root}'
        )
    return joined
