"""The base class of trackers that write files in a folder of the run.

A :class:`Dumper` learns the run from its start event and answers where its
files go: ``<par_dir>/<folder_name>/<exp_name>/<run part>``. Public path:
:mod:`drytorch.trackers.base_classes`.
"""

from __future__ import annotations

import pathlib
from typing import ClassVar

from drytorch.core import events, exceptions
from drytorch.core.track import Tracker, on
from drytorch.utils.files import safe_join

__all__ = ['Dumper']


class Dumper(Tracker):
    """A tracker that writes files in a folder of the run.

    The run folder is ``<par_dir>/<folder_name>/<exp_name>/<run part>``,
    where the run part is ``<day>/<time>`` for a run id of the form
    ``<day>@<time>`` and the run id otherwise. Every name is checked so
    that the folder stays below ``par_dir``.

    Attributes:
        folder_name: the folder of this kind of output below ``par_dir``
            (none when empty).
    """

    folder_name: ClassVar[str] = ''

    def __init__(self, par_dir: str | pathlib.Path | None = None) -> None:
        """Create the dumper.

        Args:
            par_dir: the root folder; default: the experiment's par_dir.
        """
        super().__init__()
        self._user_par_dir = None if par_dir is None else pathlib.Path(par_dir)
        self._par_dir: pathlib.Path | None = None
        self._exp_name: str | None = None
        self._run_id: str | None = None
        self._resumed = False
        self._run_dir: pathlib.Path | None = None

    @on(events.StartRunEvent)
    def _dumper_on_start(self, event: events.StartRunEvent) -> None:
        par_dir = self._user_par_dir
        if par_dir is None:
            par_dir = pathlib.Path(event.par_dir)
        self._par_dir = par_dir
        self._exp_name = event.exp_name
        self._run_id = event.run_id
        self._resumed = event.resumed
        self._run_dir = None
        par_dir.mkdir(parents=True, exist_ok=True)

    @property
    def par_dir(self) -> pathlib.Path:
        """The root folder of the outputs of the current run."""
        if self._par_dir is None:
            raise exceptions.AccessOutsideScopeError()
        return self._par_dir

    @property
    def exp_name(self) -> str:
        """The name of the experiment of the current run."""
        if self._exp_name is None:
            raise exceptions.AccessOutsideScopeError()
        return self._exp_name

    @property
    def run_id(self) -> str:
        """The id of the current run."""
        if self._run_id is None:
            raise exceptions.AccessOutsideScopeError()
        return self._run_id

    @property
    def resumed(self) -> bool:
        """Whether the current run resumes a recorded one."""
        if self._run_id is None:
            raise exceptions.AccessOutsideScopeError()
        return self._resumed

    @property
    def run_dir(self) -> pathlib.Path:
        """The folder of the current run for this kind of output.

        Raises:
            AccessOutsideScopeError: outside a run.
            InvalidNameError: if a name would lead outside ``par_dir``.
        """
        if self._run_dir is None:
            run_id = self.run_id
            run_parts = run_id.split('@', 1) if '@' in run_id else [run_id]
            folder = [self.folder_name] if self.folder_name else []
            self._run_dir = safe_join(
                self.par_dir, *folder, self.exp_name, *run_parts
            )
        return self._run_dir

    def clean_up(self) -> None:
        """Forget the run."""
        self._par_dir = None
        self._exp_name = None
        self._run_id = None
        self._resumed = False
        self._run_dir = None
        super().clean_up()
