"""Execute a jupytext notebook end to end in a real Jupyter kernel.

Used by ``./run.sh showcase`` and by ``tests/test_notebooks.py``, so that the
showcase and the tests run notebooks the same way.

Usage: ``python notebooks/_execute.py NOTEBOOK.md OUTPUT_DIR``

The kernel starts in OUTPUT_DIR, so every file the notebook writes lands
there, and the executed notebook is written to ``OUTPUT_DIR/<name>.ipynb``
(also when a cell fails, to show how far it got).
"""

from __future__ import annotations

import argparse
import pathlib

import jupytext
import nbformat
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient

__all__ = [
    'CELL_TIMEOUT',
    'KERNEL_NAME',
    'SKIP_TAG',
    'execute_notebook',
    'main',
    'read_notebook',
]

CELL_TIMEOUT = 600
KERNEL_NAME = 'python3'
SKIP_TAG = 'skip-execution'


def read_notebook(source: pathlib.Path) -> nbformat.NotebookNode:
    """Read a notebook in any jupytext format (here: MyST markdown).

    Args:
        source: path of the notebook file.

    Returns:
        The notebook, without outputs.
    """
    return jupytext.read(source)


def execute_notebook(
    notebook: nbformat.NotebookNode,
    cwd: pathlib.Path,
    timeout: int = CELL_TIMEOUT,
) -> nbformat.NotebookNode:
    """Run every code cell of a notebook, in order, in a fresh kernel.

    Outputs are stored in the notebook in place. Cells tagged
    ``skip-execution`` (such as the tutorials' ``! uv pip install drytorch``,
    which would install the published package over the checkout) are left
    unexecuted, but stay in the notebook so it reads like its source.

    Args:
        notebook: the notebook to execute; it is modified in place.
        cwd: working directory of the kernel.
        timeout: seconds each cell may run.

    Returns:
        The executed notebook.

    Raises:
        nbclient.exceptions.CellExecutionError: a cell raised; the message
            holds the cell's source and traceback.
    """
    # With no kernel directories, 'python3' can only resolve to ipykernel's
    # native spec, which launches sys.executable: the kernel runs in this
    # environment even when the user has another 'python3' kernel installed.
    specs = KernelSpecManager(kernel_dirs=[])
    manager = AsyncKernelManager(
        kernel_name=KERNEL_NAME, kernel_spec_manager=specs
    )
    client = NotebookClient(
        notebook,
        km=manager,
        kernel_name=KERNEL_NAME,
        timeout=timeout,
        skip_cells_with_tag=SKIP_TAG,
        # Plain tracebacks read better in a terminal than ANSI-coloured ones.
        extra_arguments=['--InteractiveShell.colors=nocolor'],
        resources={'metadata': {'path': str(cwd)}},
        # The panel replaces its widgets by a static snapshot when a run
        # stops: the state of closed widgets would only bloat the file.
        store_widget_state=False,
    )
    # nbclient shuts down only kernels it created itself, unless told to.
    return client.execute(cleanup_kc=True)


def main(argv: list[str] | None = None) -> None:
    """Execute a notebook file and save the executed copy as ``.ipynb``.

    Args:
        argv: command line arguments, without the program name.

    Raises:
        nbclient.exceptions.CellExecutionError: a cell raised.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('notebook', type=pathlib.Path)
    parser.add_argument('output_dir', type=pathlib.Path)
    parser.add_argument('--timeout', type=int, default=CELL_TIMEOUT)
    args = parser.parse_args(argv)
    output_dir: pathlib.Path = args.output_dir.resolve()
    output_dir.mkdir(parents=True, exist_ok=True)
    notebook = read_notebook(args.notebook)
    executed = output_dir / f'{args.notebook.stem}.ipynb'
    try:
        execute_notebook(notebook, output_dir, args.timeout)
    finally:
        nbformat.write(notebook, executed)


if __name__ == '__main__':
    main()
