"""A link from a run's folder to the output folder of its Hydra job.

Needs the ``hydra`` extra (``pip install 'drytorch[hydra]'``).

:class:`HydraLink` makes ``<par_dir>/hydra/<exp>/<run part>`` a symbolic
link to the output folder of the running Hydra job (its ``.hydra/`` folder
holds the composed configuration and the overrides), so that the run's
outputs and its Hydra configuration are found together. When the run
stops, the link is replaced by a copy of the folder (``copy_hydra=True``),
so that it survives the removal or the move of Hydra's outputs.

The link always points to an absolute path: a relative ``hydra_dir`` is
taken relative to the working directory when the tracker is created.

On Windows, creating a symbolic link needs Developer Mode or administrator
rights; without them the tracker fails at the start of the run (it is
then detached from that run with a warning).
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import shutil
import uuid
from collections.abc import Callable

try:
    from hydra.core.hydra_config import HydraConfig
except ImportError as _error:
    _msg = (
        "Hydra tracker needs the 'hydra' extra: pip install 'drytorch[hydra]'"
    )
    raise ImportError(_msg, name='hydra') from _error

from drytorch.core import events, exceptions, naming
from drytorch.core.track import on
from drytorch.trackers._dumper import Dumper
from drytorch.utils.files import safe_join

__all__ = ['HydraLink']


class HydraLink(Dumper):
    """Link (and at the end copy) the Hydra output folder into the run's.

    If ``<par_dir>/hydra/<exp>/<run part>`` already exists when a run
    starts, as happens when a run is resumed: a link is replaced, and a
    folder (the copy made by an earlier session of the run) is kept under
    the first free name among ``<run part>.1``, ``<run part>.2``, ...

    Attributes:
        copy_hydra: whether the link is replaced by a copy at the end.
    """

    folder_name = 'hydra'

    def __init__(
        self,
        par_dir: str | pathlib.Path | None = None,
        copy_hydra: bool = True,
        hydra_dir: str | pathlib.Path | None = None,
    ) -> None:
        """Create the tracker.

        Args:
            par_dir: the root folder; default: the experiment's par_dir.
            copy_hydra: replace the link by a copy when the run stops.
            hydra_dir: the folder to link; default: the output folder of
                the running Hydra job, read now (so a tracker made inside
                ``@hydra.main`` keeps working after the job returns, as in
                0.1.0rc5), or when the run starts if no job runs yet. A
                relative path is resolved now, against the current working
                directory.
        """
        super().__init__(par_dir)
        self.copy_hydra = copy_hydra
        if hydra_dir is None and HydraConfig.initialized():
            hydra_dir = HydraConfig.get().runtime.output_dir
        self._hydra_dir = (
            None
            if hydra_dir is None
            else pathlib.Path(os.path.abspath(hydra_dir))
        )
        self._link: pathlib.Path | None = None
        self._target: pathlib.Path | None = None

    @property
    def hydra_dir(self) -> pathlib.Path:
        """The absolute path of the folder to link.

        Raises:
            TrackerError: if no folder was given and no Hydra job runs.
        """
        if self._hydra_dir is not None:
            return self._hydra_dir
        try:
            output_dir = HydraConfig.get().runtime.output_dir
        except ValueError as error:
            msg = (
                f'no Hydra job is running ({error}); run the experiment '
                'in a @hydra.main function or pass hydra_dir.'
            )
            raise exceptions.TrackerError(self, msg) from error
        return pathlib.Path(os.path.abspath(output_dir))

    @property
    def link(self) -> pathlib.Path:
        """The link (or, once copied, the copy) of the current run.

        Raises:
            AccessOutsideScopeError: outside a run.
        """
        if self._link is None:
            raise exceptions.AccessOutsideScopeError()
        return self._link

    @on(events.StartRunEvent)
    def _hydra_on_start(self, event: events.StartRunEvent) -> None:
        target = self.hydra_dir
        if not target.is_dir():
            msg = f'the Hydra output folder {target} does not exist.'
            raise exceptions.TrackerError(self, msg)
        link = self._link_path()
        link.parent.mkdir(parents=True, exist_ok=True)
        if link.is_symlink():
            link.unlink()
        elif link.is_dir():
            link.rename(_free_sibling(link))
        elif link.exists():
            msg = f'{link} exists and is not a folder or a link.'
            raise exceptions.TrackerError(self, msg)
        link.symlink_to(target, target_is_directory=True)
        self._link = link
        self._target = target

    @on(events.StopRunEvent)
    def _hydra_on_stop(self, event: events.StopRunEvent) -> None:
        link, target = self._link, self._target
        if not self.copy_hydra or link is None or target is None:
            return
        if not link.is_symlink():
            msg = f'the link {link} was removed or replaced during the run.'
            raise exceptions.TrackerError(self, msg)
        _replace_link_by_copy(link, target)

    def _link_path(self) -> pathlib.Path:
        """The run folder's path, without following it if it is a link.

        ``run_dir`` resolves links to check that the path stays inside
        par_dir; the link of a previous session points outside on purpose.
        """
        run_id = self.run_id
        parts = run_id.split('@', 1) if '@' in run_id else [run_id]
        parent = safe_join(
            self.par_dir, self.folder_name, self.exp_name, *parts[:-1]
        )
        # a single, safe component: parent / name stays inside parent
        name = naming.validate_name(parts[-1], 'run id')
        return parent / name

    def clean_up(self) -> None:
        """Forget the run."""
        self._link = None
        self._target = None
        super().clean_up()


def _free_sibling(path: pathlib.Path) -> pathlib.Path:
    index = 1
    while True:
        sibling = path.with_name(f'{path.name}.{index}')
        if not os.path.lexists(sibling):
            return sibling
        index += 1


def _replace_link_by_copy(link: pathlib.Path, target: pathlib.Path) -> None:
    """Copy target next to the link, then swap the copy in.

    Until the copy is complete the link stays as it is; afterwards the
    link is removed and the copy renamed to its name (two quick steps).
    """
    folder = link.parent
    temp = folder / f'.{link.name}.{uuid.uuid4().hex}.tmp'
    try:
        shutil.copytree(
            target, temp, symlinks=True, ignore=_skip_paths(link, temp)
        )
        link.unlink()
        os.replace(temp, link)
    except BaseException:
        with contextlib.suppress(OSError):
            shutil.rmtree(temp)
        raise


def _skip_paths(
    *paths: pathlib.Path,
) -> Callable[[str, list[str]], set[str]]:
    """An ignore function for copytree that leaves the given paths out.

    When par_dir lies inside the Hydra output folder, the link and the
    copy in progress are inside the folder being copied: copying them too
    would never end.
    """
    skipped = {_real_parent_path(path) for path in paths}

    def _ignore(directory: str, names: list[str]) -> set[str]:
        real_dir = os.path.realpath(directory)
        return {
            name for name in names if os.path.join(real_dir, name) in skipped
        }

    return _ignore


def _real_parent_path(path: pathlib.Path) -> str:
    """The path with its parent's links resolved, itself left as it is."""
    return os.path.join(os.path.realpath(path.parent), path.name)
