"""The default tracker that keeps the code that made each recorded run.

A config dataclass and a git commit do not capture what was typed into
notebook cells, yet that is where notebook experiments change most.

In an IPython shell (a Jupyter kernel, whether the run was started with the
``drytorch_nb`` magics or with the plain API), :class:`CodeRecorder` saves
the cells executed while the run is active, from the shell's input history,
in execution order with their execution counts, as typed (magics
included), as a notebook::

    <par_dir>/.drytorch/<experiment>/run_files/<run id>/code.ipynb

written with nbformat (``pip install drytorch[notebook]``; without it the
notebook is skipped with a warning). The cell that starts the run is the
first one. The file is replaced atomically after each cell and at the stop;
a resumed run appends its cells to those already saved.

Outside IPython, the path of the script that runs (``sys.argv[0]``) and the
SHA-256 of its content are appended to ``code.json`` in the same folder,
once per start.

Turn it off for every experiment with the environment variable
``DRYTORCH_RECORD_CODE=0`` (read when the default trackers are installed),
or for one experiment with ``experiment.trackers.remove('CodeRecorder')``.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import json
import pathlib
import sys
import warnings
from typing import Any

from drytorch.core import events, exceptions, history
from drytorch.core.run_registry import RunRegistry
from drytorch.core.track import Tracker, on
from drytorch.utils import environment, files

__all__ = ['NOTEBOOK_NAME', 'SCRIPT_NAME', 'CodeRecorder', 'read_cells']

NOTEBOOK_NAME = 'code.ipynb'
SCRIPT_NAME = 'code.json'


def read_cells(path: pathlib.Path) -> list[tuple[int | None, str]]:
    """The (execution count, source) of each code cell of a saved notebook.

    Raises:
        FileNotFoundError: if there is no such file.
        HistoryCorruptedError: if the file is not a readable notebook.
    """
    try:
        data = json.loads(path.read_text(encoding='utf-8'))
        cells = data['cells']
        return [
            (cell.get('execution_count'), _source(cell['source']))
            for cell in cells
            if cell.get('cell_type') == 'code'
        ]
    except FileNotFoundError:
        raise
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise exceptions.HistoryCorruptedError(path, repr(error)) from error


def _inputs(shell: Any) -> list[str] | None:
    """The shell's raw input history (index: execution count), if any."""
    manager = getattr(shell, 'history_manager', None)
    inputs = getattr(manager, 'input_hist_raw', None)
    return inputs if isinstance(inputs, list) else None


def _source(source: Any) -> str:
    return ''.join(source) if isinstance(source, list) else str(source)


class CodeRecorder(Tracker):
    """Save the notebook cells (or the script) of every recorded run."""

    def __init__(self) -> None:
        """Create the recorder."""
        super().__init__()
        self._shell: Any = None
        self._path: pathlib.Path | None = None
        self._first_count = 0
        self._earlier: list[tuple[int | None, str]] = []
        self._meta: dict[str, str] = {}

    @on(events.StartRunEvent)
    def _code_on_start(self, event: events.StartRunEvent) -> None:
        self._release()
        exp_dir = history.registry_dir(event.par_dir, event.exp_name)
        if RunRegistry(exp_dir).get(event.run_id) is None:
            return  # an unrecorded run
        folder = history.history_path(exp_dir, event.run_id).parent
        shell = environment.ipython_shell()
        if _inputs(shell) is None:
            self._record_script(folder / SCRIPT_NAME)
            return
        try:
            import nbformat  # noqa: F401
        except ImportError:
            warnings.warn(
                exceptions.FailedOptionalImportWarning('nbformat'),
                stacklevel=2,
            )
            return
        path = folder / NOTEBOOK_NAME
        self._earlier = []
        if path.exists():
            self._earlier = read_cells(path)
        self._path = path
        self._meta = {'experiment': event.exp_name, 'run_id': event.run_id}
        self._shell = shell
        # the current cell (the one that starts the run) is already in In
        self._first_count = max(len(_inputs(shell) or ()) - 1, 1)
        shell.events.register('post_run_cell', self._after_cell)
        self._save()

    @on(events.StopRunEvent)
    def _code_on_stop(self, event: events.StopRunEvent) -> None:
        if self._path is not None:
            self._save()

    def clean_up(self) -> None:
        """Stop following the shell and forget the run."""
        self._release()
        super().clean_up()

    def _after_cell(self, result: object = None) -> None:
        del result
        try:
            self._save()
        except Exception as error:  # never break the user's cell
            warnings.warn(
                exceptions.TrackerExceptionWarning('CodeRecorder', error),
                stacklevel=1,
            )
            self._release()

    def _cells(self) -> list[tuple[int | None, str]]:
        inputs = _inputs(self._shell) or []
        fresh = [
            (count, str(inputs[count]))
            for count in range(self._first_count, len(inputs))
        ]
        return self._earlier + fresh

    def _save(self) -> None:
        import nbformat

        path = self._path
        if path is None:
            return
        cells = [
            nbformat.v4.new_code_cell(source=source, execution_count=count)
            for count, source in self._cells()
        ]
        notebook = nbformat.v4.new_notebook(
            cells=cells, metadata={'drytorch': dict(self._meta)}
        )
        files.atomic_write_text(path, nbformat.writes(notebook))

    def _record_script(self, path: pathlib.Path) -> None:
        script = (
            pathlib.Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
        )
        entry: dict[str, Any] = {
            'time': datetime.datetime.now().isoformat(),
            'script': None,
            'sha256': None,
        }
        if script is not None and script.is_file():
            entry['script'] = str(script.resolve())
            entry['sha256'] = hashlib.sha256(script.read_bytes()).hexdigest()
        entries: list[Any] = []
        if path.exists():
            try:
                entries = json.loads(path.read_text(encoding='utf-8'))
            except ValueError as error:
                raise exceptions.HistoryCorruptedError(
                    path, repr(error)
                ) from error
            if not isinstance(entries, list):
                raise exceptions.HistoryCorruptedError(
                    path, 'expected a JSON list'
                )
        entries.append(entry)
        files.atomic_write_text(path, json.dumps(entries, indent=2) + '\n')

    def _release(self) -> None:
        shell, self._shell = self._shell, None
        self._path = None
        self._earlier = []
        if shell is not None:
            with contextlib.suppress(ValueError):  # already gone
                shell.events.unregister('post_run_cell', self._after_cell)

    def __repr__(self) -> str:
        return f'{type(self).__name__}()'
