"""Delete, rename or clone everything an experiment wrote under par_dir.

Every kind of output keeps an experiment's files in a folder named after
the experiment, one level below ``par_dir``: ``.drytorch/<exp>`` (its run
registry), ``checkpoints/<exp>``, ``metadata/<exp>``, ``csv/<exp>``... The
functions here apply one operation to every such folder, and only to them
(0.1.0rc11 had them in ``drytorch.utils.local_ops``, a path that still
works; they belong to the core, as they read the run registry):

* names are checked first (no ``..``, no separators), and every folder is
  reached without following a symbolic link out of ``par_dir``: a link in
  place of an experiment folder is removed or renamed itself, never what it
  points to;
* nothing is done while a run of the experiment is running in a live
  process (:class:`~drytorch.core.exceptions.RunInUseError`), nor when a
  target folder exists already (``FileExistsError``), checked for every
  folder before the first change;
* each folder changes in one atomic step: a folder to delete is first
  renamed to a hidden name, then removed (a crash leaves only hidden
  leftovers, removed by the next operation on the experiment); a clone is
  copied under a hidden name, then renamed; a rename that a crash
  interrupted is completed by calling it again.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import shutil
import uuid
from collections.abc import Iterator

from drytorch.core import exceptions, naming
from drytorch.core.run_registry import RunRegistry

__all__ = [
    'clone_experiment_data',
    'delete_experiment_data',
    'rename_experiment_data',
]

_REGISTRY_FOLDER = '.drytorch'
_TRASH = '.deleting'
_PARTIAL = '.cloning'


def _kind_folders(par_dir: pathlib.Path) -> Iterator[pathlib.Path]:
    """The folders of par_dir that may hold a folder per experiment."""
    try:
        entries = sorted(os.scandir(par_dir), key=lambda entry: entry.name)
    except FileNotFoundError:
        return
    for entry in entries:
        if entry.is_dir(follow_symlinks=False):
            yield pathlib.Path(entry.path)


def _exists(path: pathlib.Path) -> bool:
    return os.path.lexists(path)


def _check_not_running(par_dir: pathlib.Path, exp_name: str) -> None:
    registry_dir = par_dir / _REGISTRY_FOLDER / exp_name
    if registry_dir.is_symlink() or not registry_dir.is_dir():
        return
    # reading the records marks the runs of dead processes interrupted
    for record in RunRegistry(registry_dir).load_all():
        if record.status == 'running':
            raise exceptions.RunInUseError(record.id, exp_name, record.pid)


def _remove(path: pathlib.Path) -> None:
    if path.is_symlink() or not path.is_dir():
        path.unlink()
    else:
        shutil.rmtree(path)


def _hidden(folder: pathlib.Path, name: str, kind: str) -> pathlib.Path:
    return folder / f'.{name}{kind}-{uuid.uuid4().hex}'


def _remove_leftovers(par_dir: pathlib.Path, name: str) -> None:
    """Remove what an interrupted operation on ``name`` left behind."""
    prefixes = (f'.{name}{_TRASH}-', f'.{name}{_PARTIAL}-')
    for folder in _kind_folders(par_dir):
        for entry in os.scandir(folder):
            if entry.name.startswith(prefixes):
                with contextlib.suppress(FileNotFoundError):
                    _remove(pathlib.Path(entry.path))


def _prepare(
    par_dir: pathlib.Path | str, exp_name: str, new_exp_name: str | None
) -> pathlib.Path:
    path = pathlib.Path(par_dir)
    naming.validate_name(exp_name, 'experiment name')
    if new_exp_name is not None:
        naming.validate_name(new_exp_name, 'experiment name')
        if new_exp_name == exp_name:
            msg = f'Expected a new experiment name, got {exp_name!r} again.'
            raise ValueError(msg)
    _check_not_running(path, exp_name)
    _remove_leftovers(path, exp_name)
    if new_exp_name is not None:
        _remove_leftovers(path, new_exp_name)
    return path


def delete_experiment_data(par_dir: pathlib.Path | str, exp_name: str) -> None:
    """Remove every folder of an experiment under par_dir.

    Args:
        par_dir: the experiment's output folder.
        exp_name: the experiment's name.

    Raises:
        InvalidNameError: if exp_name cannot be a folder name.
        RunInUseError: if a run of the experiment is running.
    """
    path = _prepare(par_dir, exp_name, None)
    for folder in _kind_folders(path):
        source = folder / exp_name
        if _exists(source):
            trash = _hidden(folder, exp_name, _TRASH)
            os.rename(source, trash)  # gone at once, removed after
            _remove(trash)


def rename_experiment_data(
    par_dir: pathlib.Path | str, exp_name: str, new_exp_name: str
) -> None:
    """Rename every folder of an experiment under par_dir.

    Args:
        par_dir: the experiment's output folder.
        exp_name: the experiment's name.
        new_exp_name: its new name.

    Raises:
        InvalidNameError: if a name cannot be a folder name.
        ValueError: if the names are the same.
        RunInUseError: if a run of the experiment is running.
        FileExistsError: if a folder of the new name exists beside one of
            the old name (nothing is renamed).
    """
    path = _prepare(par_dir, exp_name, new_exp_name)
    moves: list[tuple[pathlib.Path, pathlib.Path]] = []
    for folder in _kind_folders(path):
        source, target = folder / exp_name, folder / new_exp_name
        if not _exists(source):
            continue  # nothing here, or renamed by an interrupted call
        if _exists(target):
            msg = f'Expected no folder {target}: it exists already.'
            raise FileExistsError(msg)
        moves.append((source, target))
    for source, target in moves:
        os.rename(source, target)


def clone_experiment_data(
    par_dir: pathlib.Path | str, exp_name: str, new_exp_name: str
) -> None:
    """Copy every folder of an experiment under par_dir to a new name.

    Symbolic links inside the folders are copied as links.

    Args:
        par_dir: the experiment's output folder.
        exp_name: the experiment's name.
        new_exp_name: the name of the copy.

    Raises:
        InvalidNameError: if a name cannot be a folder name.
        ValueError: if the names are the same.
        RunInUseError: if a run of the experiment is running.
        FileExistsError: if a folder of the new name exists beside one of
            the old name (nothing is copied).
    """
    path = _prepare(par_dir, exp_name, new_exp_name)
    copies: list[tuple[pathlib.Path, pathlib.Path]] = []
    for folder in _kind_folders(path):
        source, target = folder / exp_name, folder / new_exp_name
        if not _exists(source):
            continue
        if _exists(target):
            msg = f'Expected no folder {target}: it exists already.'
            raise FileExistsError(msg)
        copies.append((source, target))
    for source, target in copies:
        partial = _hidden(target.parent, new_exp_name, _PARTIAL)
        try:
            if source.is_symlink() or not source.is_dir():
                shutil.copy2(source, partial, follow_symlinks=False)
            else:
                shutil.copytree(source, partial, symlinks=True)
            os.rename(partial, target)
        except BaseException:
            with contextlib.suppress(OSError):
                _remove(partial)
            raise
