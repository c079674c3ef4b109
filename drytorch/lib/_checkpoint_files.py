"""The files of checkpoints: crash-safe writes, leftovers, consistent reads.

An epoch's checkpoint is a folder ``<model dir>/epoch_<N>``. Its files are
written into a hidden temporary folder that is renamed to ``epoch_<N>`` once
complete, so a checkpoint folder is never half-written.

Saving an epoch that is already saved moves the previous folder aside
(``.epoch_<N>.<owner>.old``) before the new one takes its name. Readers
treat that folder as epoch ``N`` while ``epoch_<N>`` is missing, so a
process killed at any instant of a re-save leaves either the new or the
previous complete checkpoint of the epoch, never only an older epoch.

What a killed save may leave behind is bounded: hidden folders named
``.epoch_<N>.<owner>.tmp``, ``.old`` or ``.del``, holding together at most
one checkpoint more than the model folder holds otherwise. ``<owner>`` is
the writer's pid and process start time; the next save or load of the model
(by any process) removes the leftovers of writers that are no longer alive,
putting a displaced previous checkpoint back as ``epoch_<N>`` if it is the
only copy. A save that fails with an exception removes its own leftovers.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pathlib
import re
import shutil
import threading
from collections.abc import Mapping
from typing import Any

import torch

from drytorch.core import processes
from drytorch.utils import files

__all__ = [
    'MODEL_FILE',
    'OPTIMIZER_FILE',
    'RESERVED_MODULE_NAMES',
    'epoch_dir_name',
    'module_file',
    'open_checkpoint',
    'saved_epochs',
    'tidy',
    'write_epoch',
]

_EPOCH_PREFIX = 'epoch_'
# only the names this module writes: no sign, no leading zero, ASCII digits
_EPOCH_DIR = re.compile(r'epoch_(0|[1-9][0-9]*)')
MODEL_FILE = 'model_state.pt'
OPTIMIZER_FILE = 'optimizer_state.pt'
RESERVED_MODULE_NAMES = frozenset({'model', 'optimizer'})
"""Names a bound module cannot take: their files hold the model's states."""


def module_file(name: str) -> str:
    """The file of a bound module's state: ``<name>_state.pt``."""
    return f'{name}_state.pt'


# what a save writes beside epoch_<N>: .epoch_<N>.<pid>[-<start>[-<n>]].<kind>
# (a bare pid: written by earlier versions)
_LEFTOVER = re.compile(
    r'\.epoch_(0|[1-9][0-9]*)\.([0-9]+)(?:-([0-9]+|x)(?:-[0-9]+)?)?'
    r'\.(tmp|old|del)'
)


def epoch_dir_name(epoch: int) -> str:
    """The name of the folder of an epoch's checkpoint."""
    return f'{_EPOCH_PREFIX}{epoch}'


def _save_file(obj: Any, path: pathlib.Path) -> None:
    with path.open('xb') as stream:
        torch.save(obj, stream)
        stream.flush()
        os.fsync(stream.fileno())


_counter = itertools.count()
_in_progress: set[str] = set()  # owner tags of this process's live saves
_in_progress_lock = threading.Lock()


def _own_prefix() -> str:
    pid = os.getpid()
    return f'{pid}-{processes.start_time(pid) or "x"}'


def _new_owner_tag() -> str:
    # pid and start time name the process; the counter, the save
    tag = f'{_own_prefix()}-{next(_counter)}'
    with _in_progress_lock:
        _in_progress.add(tag)
    return tag


def _release_owner_tag(tag: str) -> None:
    with _in_progress_lock:
        _in_progress.discard(tag)


def _owner_gone(name: str, pid: int, start: str | None) -> bool:
    """Whether the save that wrote a leftover can no longer finish it."""
    tag = name.split('.')[2]
    if pid == os.getpid() and tag.startswith(_own_prefix() + '-'):
        with _in_progress_lock:
            return tag not in _in_progress
    if start == 'x':
        start = None
    return not processes.is_alive(pid, start)


def _remove_tree(path: pathlib.Path) -> None:
    # renamed first, so that an interrupted removal never leaves a
    # partial folder under a name that readers trust
    if path.name.endswith('.old'):
        trash = path.with_name(path.name[: -len('old')] + 'del')
        try:
            os.rename(path, trash)
        except FileNotFoundError:
            return
        except OSError:
            trash = path
        path = trash
    shutil.rmtree(path, ignore_errors=True)


def tidy(model_dir: pathlib.Path) -> None:
    """Remove what saves of dead processes left; restore lone epochs.

    Best effort: a folder that cannot be changed (read-only) stays as it
    is, and readers still find a displaced checkpoint where it is.
    """
    try:
        entries = list(os.scandir(model_dir))
    except OSError:
        return
    for entry in entries:
        match = _LEFTOVER.fullmatch(entry.name)
        if match is None:
            continue
        epoch, pid, start, kind = match.groups()
        if not _owner_gone(entry.name, int(pid), start):
            continue
        path = pathlib.Path(entry.path)
        if kind == 'old':
            final = model_dir / epoch_dir_name(int(epoch))
            if not os.path.lexists(final):
                with contextlib.suppress(OSError):
                    # the only copy of the epoch: it takes its name back
                    os.rename(path, final)
                    files.fsync_dir(model_dir)
                    continue
        _remove_tree(path)


def write_epoch(
    final: pathlib.Path,
    module_state: Mapping[str, Any],
    optimizer_state: Mapping[str, Any] | None,
    extra_states: Mapping[str, Mapping[str, Any]] | None = None,
) -> None:
    """Write the checkpoint folder ``final`` (an ``epoch_<N>`` folder).

    Crash-safe at every instant, also when the epoch is already saved.
    The states of bound modules (``extra_states``, by name) are written in
    the same folder, so they are replaced together with the model's.

    Raises:
        OSError: naming the folder, if it cannot be written (nothing is
            left behind).
    """
    model_dir = final.parent
    model_dir.mkdir(parents=True, exist_ok=True)
    tidy(model_dir)
    tag = _new_owner_tag()
    try:
        _replace(final, tag, module_state, optimizer_state, extra_states)
    finally:
        _release_owner_tag(tag)


def _replace(
    final: pathlib.Path,
    tag: str,
    module_state: Mapping[str, Any],
    optimizer_state: Mapping[str, Any] | None,
    extra_states: Mapping[str, Mapping[str, Any]] | None = None,
) -> None:
    model_dir = final.parent
    temp = model_dir / f'.{final.name}.{tag}.tmp'
    old = model_dir / f'.{final.name}.{tag}.old'
    displaced = False
    try:
        os.mkdir(temp)
        try:
            _save_file(module_state, temp / MODEL_FILE)
            if optimizer_state is not None:
                _save_file(optimizer_state, temp / OPTIMIZER_FILE)
            for name, state in (extra_states or {}).items():
                _save_file(state, temp / module_file(name))
        except OSError as error:  # e.g. a full disk, which names nothing
            raise files.naming_path(error, final) from error
        files.fsync_dir(temp)
        # a folder cannot be renamed over a non-empty one: the previous
        # checkpoint of this epoch goes aside, where readers find it
        # until the new one has the name
        try:
            os.rename(final, old)
        except FileNotFoundError:
            pass
        else:
            displaced = True
        try:
            os.rename(temp, final)
        except BaseException:
            if displaced:
                with contextlib.suppress(OSError):
                    os.rename(old, final)
            raise
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    files.fsync_dir(model_dir)
    if displaced:
        _remove_tree(old)


def open_checkpoint(
    folder: pathlib.Path,
    with_optimizer: bool,
    module_names: tuple[str, ...] = (),
) -> tuple[Any, Any, dict[str, Any]]:
    """Open the state files of one folder, as one consistent set.

    Opened relative to the folder's descriptor where the platform allows
    it: the set stays that of one save, even if the folder is renamed
    while it is read.

    Returns:
        The model's stream, the optimizer's (None if not asked for or not
        saved) and those of the bound modules, by name (a module whose
        state was not saved is left out).

    Raises:
        FileNotFoundError: if the model's state file is missing.
    """
    names = [MODEL_FILE] + ([OPTIMIZER_FILE] if with_optimizer else [])
    names += [module_file(name) for name in module_names]
    opened: dict[str, Any] = {}
    dir_fd: int | None = None
    if os.open in os.supports_dir_fd:
        flags = os.O_RDONLY | getattr(os, 'O_DIRECTORY', 0)
        dir_fd = os.open(folder, flags)
    try:
        for name in names:
            try:
                if dir_fd is None:
                    fd = os.open(folder / name, os.O_RDONLY)
                else:
                    fd = os.open(name, os.O_RDONLY, dir_fd=dir_fd)
            except FileNotFoundError:
                if name == MODEL_FILE:
                    raise
                continue
            opened[name] = os.fdopen(fd, 'rb')
    except BaseException:
        for stream in opened.values():
            stream.close()
        raise
    finally:
        if dir_fd is not None:
            os.close(dir_fd)
    modules = {
        name: opened[module_file(name)]
        for name in module_names
        if module_file(name) in opened
    }
    return opened[MODEL_FILE], opened.get(OPTIMIZER_FILE), modules


def saved_epochs(model_dir: pathlib.Path) -> dict[int, pathlib.Path]:
    """The complete checkpoint folders of a model, by epoch.

    A previous checkpoint moved aside by a save counts for its epoch while
    ``epoch_<N>`` is missing (the save was interrupted in between).
    """
    try:
        entries = list(os.scandir(model_dir))
    except FileNotFoundError:
        return {}
    found: dict[int, pathlib.Path] = {}
    displaced: dict[int, pathlib.Path] = {}
    for entry in entries:
        match = _EPOCH_DIR.fullmatch(entry.name)
        target = found
        if match is None:
            match = _LEFTOVER.fullmatch(entry.name)
            if match is None or match.group(4) != 'old':
                continue
            target = displaced
        if not entry.is_dir():
            continue
        if os.path.isfile(os.path.join(entry.path, MODEL_FILE)):
            target.setdefault(int(match.group(1)), pathlib.Path(entry.path))
    for epoch, path in displaced.items():
        found.setdefault(epoch, path)
    return found
