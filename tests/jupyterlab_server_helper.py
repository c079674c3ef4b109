"""A JupyterLab server for browser checks, and how to drive its page.

Used by the browser tests and by ``docs/readme_images.py`` (which takes
the README's pictures from a real run in a real browser).
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import subprocess
import textwrap
import time
import urllib.request
import uuid
from typing import Any

import nbformat
from ports import free_port

__all__ = ['Lab', 'LabError', 'app_command', 'code_notebook', 'open_notebook']


def code_notebook(*cells: str) -> nbformat.NotebookNode:
    """A notebook of code cells (dedented) for the python3 kernel."""
    notebook = nbformat.v4.new_notebook()
    notebook.metadata['kernelspec'] = {
        'name': 'python3',
        'display_name': 'Python 3',
        'language': 'python',
    }
    notebook.cells = [
        nbformat.v4.new_code_cell(textwrap.dedent(cell).strip())
        for cell in cells
    ]
    return notebook


class LabError(RuntimeError):
    """JupyterLab could not be started or used."""


def _require(python: str, module: str) -> bool:
    found = subprocess.run(
        [python, '-c', f'import {module}'], capture_output=True, check=False
    )
    return found.returncode == 0


def isolated_env(root: pathlib.Path) -> dict[str, str]:
    env = dict(os.environ)
    for name in ('JUPYTER_CONFIG_DIR', 'JUPYTER_RUNTIME_DIR', 'IPYTHONDIR'):
        folder = root / name.lower()
        folder.mkdir(exist_ok=True)
        env[name] = str(folder)
    env.pop('DRYTORCH_INIT_MODE', None)
    env['PYTHONWARNINGS'] = 'ignore'  # the kernel's, not the tests'
    return env


class Lab:
    """A JupyterLab server run from the kernel's environment."""

    def __init__(self, python: str, root: pathlib.Path) -> None:
        if not _require(python, 'jupyterlab'):
            msg = f'jupyterlab is not installed for {python}'
            raise LabError(msg)
        self.root = root
        self.token = uuid.uuid4().hex
        self.port = free_port()
        self.base = f'http://127.0.0.1:{self.port}'
        settings = root / 'lab-settings'
        # no virtual rendering: every output is in the DOM
        tracker = settings / '@jupyterlab' / 'notebook-extension'
        tracker.mkdir(parents=True)
        (tracker / 'tracker.jupyterlab-settings').write_text(
            json.dumps({'windowingMode': 'none'})
        )
        self.log = (root / 'lab.log').open('w')
        self.process = subprocess.Popen(
            [
                python,
                '-m',
                'jupyterlab',
                '--no-browser',
                f'--port={self.port}',
                '--ip=127.0.0.1',
                f'--IdentityProvider.token={self.token}',
                '--allow-root',
                f'--ServerApp.root_dir={root / "notebooks"}',
                '--LabApp.expose_app_in_browser=True',
                f'--LabApp.user_settings_dir={settings}',
                f'--LabApp.workspaces_dir={root / "workspaces"}',
                '--LabApp.news_url=',
            ],
            cwd=root,
            env=isolated_env(root),
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            with contextlib.suppress(OSError):
                self.api('GET', 'status')
                return
            time.sleep(0.5)
        self.close()
        msg = f'JupyterLab did not start:\n{self.log_text()}'
        raise LabError(msg)

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def api(self, method: str, path: str) -> Any:
        request = urllib.request.Request(
            f'{self.base}/api/{path}',
            method=method,
            headers={'Authorization': f'token {self.token}'},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else None

    def url(self, notebook: str) -> str:
        return f'{self.base}/lab/tree/{notebook}?token={self.token}'

    def log_text(self) -> str:
        if not self.log.closed:
            self.log.flush()
        return (self.root / 'lab.log').read_text()[-4000:]

    def shutdown_kernels(self) -> None:
        for session in self.api('GET', 'sessions'):
            self.api('DELETE', f'sessions/{session["id"]}')

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def app_command(page: Any, command: str) -> None:
    # not awaited: 'run all' resolves only when the last cell ends
    page.evaluate(
        '(command) => { window.jupyterapp.commands.execute(command); }',
        command,
    )


def open_notebook(page: Any, lab: Lab, name: str) -> None:
    page.goto(lab.url(name))
    page.wait_for_function(
        'window.jupyterapp && document.querySelector(".jp-Notebook")',
        timeout=120_000,
    )
    # the kernel must be ready before cells are run
    page.wait_for_function(
        """() => {
            const nb = window.jupyterapp.shell.currentWidget;
            const kernel = nb && nb.sessionContext.session?.kernel;
            return kernel && kernel.status === 'idle';
        }""",
        timeout=120_000,
    )
