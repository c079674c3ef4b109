"""Real-browser tests of the notebook panel: headless Chromium, Playwright.

Two checks, each against an ipywidgets 8 kernel (this environment) and an
ipywidgets 7.7 kernel (the Python named by ``DRYTORCH_NB_W7_PYTHON``, an
environment like Colab's):

* live: JupyterLab is served from the kernel's environment (JupyterLab 4
  with ipywidgets 8; JupyterLab 3 with ipywidgets 7, whose widget manager
  only renders 7.x widgets), a notebook that trains with the panel is run
  from the browser; the tabs and SVG charts of the live widgets render, with
  no "Error displaying widget" and no injected ``<img onerror>`` executed;
  when the run stops the snapshot replaces the widgets, and it is still
  there after the notebook is saved, the kernel shut down and the page
  reloaded;
* shutdown: the kernel is shut down while the run is still active; the
  exit hook stops the run and the snapshot still reaches the page;
* static: the notebook is executed by nbclient and exported to HTML by
  nbconvert; opened from file:// with the network cut, it shows the
  snapshot's sections and charts, with no widget error and no script run;
  opened in JupyterLab, which sanitizes the HTML of a notebook it did not
  run, the snapshot's charts (SVG images) still render.

Chromium is Debian's (``/usr/bin/chromium``), driven through Playwright's
``executable_path``. Locally a missing browser or 7.x environment skips the
tests; under CI (``CI`` set) it fails them.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import nbformat
import pytest
from jupyterlab_server_helper import (
    Lab,
    app_command,
    code_notebook,
    open_notebook,
)

from drytorch_nb import _svg

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

CHROMIUM = '/usr/bin/chromium'
W7_VARIABLE = 'DRYTORCH_NB_W7_PYTHON'
WIDGET_MIME = 'application/vnd.jupyter.widget-view+json'
PAYLOAD = '<img src=x onerror="window.__xss = 1">'
STOP_FILE = 'stop-now'
ARTIFACTS = pathlib.Path(
    os.environ.get(
        'DRYTORCH_TEST_ARTIFACTS',
        pathlib.Path(__file__).resolve().parents[1] / 'out' / 'test-artifacts',
    )
)
"""Where screenshots of failed browser tests are kept."""

# Elements of the panel that stick out of it to the right, unless one of
# the panel's own scrolling boxes holds them (wide tables scroll by design).
# Scrolling boxes of the widget library do not count: what sticks out of
# them is cut off for the user.
OVERFLOW_JS = """(root) => {
    const limit = root.getBoundingClientRect().right + 1;
    const bad = [];
    for (const el of root.querySelectorAll('*')) {
        const box = el.getBoundingClientRect();
        if (!box.width || box.right <= limit) continue;
        let scrolled = false;
        for (let up = el.parentElement; up && up !== root;
             up = up.parentElement) {
            const style = up.style.overflowX;
            if (style === 'auto' || style === 'scroll') { scrolled = true; }
        }
        if (!scrolled) bad.push(el.tagName + '.' + el.className +
            ' right=' + Math.round(box.right) + ' > ' + Math.round(limit));
    }
    return bad;
}"""

# Elements of the panel painted white (a white card in a dark theme).
WHITE_JS = """(root) => [root, ...root.querySelectorAll('*')]
    .map(el => getComputedStyle(el).backgroundColor)
    .filter(color => color === 'rgb(255, 255, 255)')"""

SETUP = f"""
import dataclasses, os, time
import torch
from torch import nn
from torch.nn import functional
from torch.utils import data

import drytorch
from drytorch import DataLoader, Experiment, LearningSchema, Loss, Model
from drytorch import Trainer
from drytorch_nb.panel import NotebookPanel

torch.set_num_threads(1)
drytorch.remove_all_default_trackers()
XSS = {PAYLOAD!r}

@dataclasses.dataclass(frozen=True)
class Config:
    lr: float = 1e-3
    note: str = XSS

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        layers = [nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2)]
        self.body = nn.Sequential(*layers)

    def forward(self, x):
        return self.body(x)

    def extra_repr(self):
        return XSS

experiment = Experiment(Config(), name='Browser', par_dir='out', tags=[XSS])
experiment.trackers.subscribe(NotebookPanel())
torch.manual_seed(0)
train = data.TensorDataset(torch.randn(256, 8), torch.randn(256, 2))
val = data.TensorDataset(torch.randn(64, 8), torch.randn(64, 2))
"""

START = """
run = experiment.create_run()
_ = run.start()
"""

TRAIN = """
trainer = Trainer(
    Model(Net(), name='net'),
    loader=DataLoader(train, 32),
    loss=Loss(functional.mse_loss, name=XSS),
    learning_schema=LearningSchema(torch.optim.Adam, 1e-3),
)
trainer.add_validation(DataLoader(val, 32))
trainer.train(5)
"""

WAIT_AND_STOP = f"""
while not os.path.exists({STOP_FILE!r}):
    time.sleep(0.1)
run.stop()
"""

STOP = 'run.stop()'


def kernel_python_kind(python: str) -> str:
    """A short name of the kernel's environment, for artifact names."""
    return 'w8' if python == sys.executable else 'w7'


def _in_ci() -> bool:
    return bool(os.environ.get('CI'))


def _unavailable(reason: str) -> None:
    if _in_ci():
        pytest.fail(f'{reason} (required under CI)')
    pytest.skip(reason)


def _kernel_python(kind: str) -> str:
    if kind == 'ipywidgets8':
        return sys.executable
    python = os.environ.get(W7_VARIABLE)
    if not python:
        _unavailable(f'{W7_VARIABLE} is not set')
    assert python is not None
    if not pathlib.Path(python).is_file():
        pytest.fail(f'{W7_VARIABLE}={python} is not a file')
    return python


def _require(python: str, module: str) -> None:
    found = subprocess.run(
        [python, '-c', f'import {module}'], capture_output=True, check=False
    )
    if found.returncode:
        _unavailable(f'{module} is not installed for {python}')


def _major(python: str, module: str) -> int:
    code = f'import {module}; print({module}.__version__)'
    out = subprocess.run(
        [python, '-c', code], check=True, capture_output=True, text=True
    ).stdout
    return int(out.strip().split('.')[0])


@pytest.fixture(params=['ipywidgets8', 'ipywidgets7'])
def kernel_python(request: pytest.FixtureRequest) -> str:
    python = _kernel_python(request.param)
    expected = 8 if request.param == 'ipywidgets8' else 7
    assert _major(python, 'ipywidgets') == expected
    # JupyterLab's widget manager renders one protocol generation only:
    # jupyterlab_widgets 3 (ipywidgets 8), 1 (ipywidgets 7, JupyterLab 3)
    manager = _major(python, 'jupyterlab_widgets')
    assert manager == (3 if expected == 8 else 1), (
        f'{python} has jupyterlab_widgets {manager}.x, which cannot render '
        f'ipywidgets {expected} widgets'
    )
    return python


@pytest.fixture(scope='module')
def browser() -> Iterator[Any]:
    if not pathlib.Path(CHROMIUM).is_file():
        _unavailable(f'no Chromium at {CHROMIUM}')
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable('playwright is not installed')
        raise
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, args=['--no-sandbox']
        )
        try:
            yield chromium
        finally:
            chromium.close()


def _lab(python: str, root: pathlib.Path) -> Lab:
    _require(python, 'jupyterlab')
    return Lab(python, root)


@pytest.fixture
def lab_root(tmp_path: pathlib.Path) -> pathlib.Path:
    (tmp_path / 'notebooks').mkdir()
    (tmp_path / 'workspaces').mkdir()
    return tmp_path


def _assert_no_widget_error(page: Any) -> None:
    assert page.get_by_text('Error displaying widget').count() == 0
    assert page.evaluate('window.__xss') is None


def _assert_snapshot(page: Any) -> None:
    snapshot = page.locator('.drytorch-snapshot')
    assert snapshot.count() == 1
    # the chart: an SVG image (kept by sanitizers), decoded and drawn
    chart = snapshot.locator('img.drytorch-chart')
    assert chart.count() == 1
    chart.first.scroll_into_view_if_needed()
    page.wait_for_function(
        '(img) => img.complete && img.naturalWidth > 100',
        arg=chart.first.element_handle(),
        timeout=30_000,
    )
    box = chart.first.bounding_box()
    assert box is not None and box['width'] > 100 and box['height'] > 100
    src = chart.first.get_attribute('src') or ''
    svg = _svg.svg_of_data_uri(src)
    assert svg.count('<polyline') == 2  # training and validation
    summaries = snapshot.locator('summary').all_inner_texts()
    for title in ('Configuration', 'Metrics', 'Model', 'Actors', 'Log'):
        assert title in summaries
    # the payload is shown as text (in the header's tags)
    assert PAYLOAD in snapshot.inner_text()
    assert page.locator('.widget-tab').count() == 0
    _assert_no_widget_error(page)


def _run_all_until_trained(page: Any) -> Any:
    """Run every cell; wait for the live panel of the trained model."""
    app_command(page, 'notebook:run-all-cells')
    # the cell's end sent the final state of the training
    tabs = page.locator('.widget-tab')
    tabs.wait_for(timeout=180_000)
    page.locator('.widget-html svg polyline').nth(1).wait_for(timeout=180_000)
    # the epoch bar's numbers: 5 of 5 epochs
    page.locator('.drytorch-numbers', has_text='5/5').first.wait_for(
        timeout=180_000
    )
    return tabs


def _screenshot(page: Any, name: str) -> None:
    """Keep a picture of the page among the test artifacts."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f'{name}.png'), full_page=True)


def _panel_root(page: Any) -> Any:
    """The output area that shows the run's panel (live or snapshot)."""
    return page.locator(
        '.jp-OutputArea-output:has(.widget-tab), '
        '.jp-OutputArea-output:has(.drytorch-snapshot)'
    ).first


def _assert_fits(page: Any, what: str) -> None:
    """Nothing in the panel sticks out to the right."""
    root = _panel_root(page)
    sticking_out = root.evaluate(OVERFLOW_JS)
    assert sticking_out == [], f'{what}: {sticking_out[:5]}'


def _assert_bars_show_counts(page: Any) -> None:
    numbers = page.locator('.drytorch-numbers').all_inner_texts()
    assert any(text.startswith('5/5') for text in numbers), numbers
    assert any('it/s' in text for text in numbers), numbers


def _set_theme(page: Any, theme: str) -> None:
    page.evaluate(
        '(theme) => window.jupyterapp.commands.execute('
        '"apputils:change-theme", {theme})',
        theme,
    )
    page.wait_for_function(
        '(theme) => document.body.dataset.jpThemeName === theme',
        arg=theme,
        timeout=60_000,
    )
    # the splash JupyterLab shows while it switches themes would cover the
    # screenshot taken next
    page.wait_for_function(
        '() => !document.getElementById("jupyterlab-splash")',
        timeout=60_000,
    )


def _save_and_read(page: Any, path: pathlib.Path) -> nbformat.NotebookNode:
    """Save from the browser; read the file once the save is complete.

    The server may still be writing the file when its time stamp changes:
    wait until the file holds the snapshot and parses, not for a while.
    """
    before = path.stat().st_mtime_ns
    app_command(page, 'docmanager:save')
    deadline = time.monotonic() + 120
    while True:
        if path.stat().st_mtime_ns != before:
            try:
                saved = nbformat.read(path, as_version=4)
            except (ValueError, nbformat.reader.NotJSONError):
                saved = None  # a file being written: read it again
            if saved is not None and 'drytorch-snapshot' in json.dumps(
                saved.cells
            ):
                return saved
        if time.monotonic() > deadline:
            pytest.fail(f'{path} was not saved with the snapshot')
        time.sleep(0.2)


def _assert_saved_snapshot(saved: nbformat.NotebookNode) -> None:
    outputs = [out for cell in saved.cells for out in cell.outputs]
    assert not any(WIDGET_MIME in out.get('data', {}) for out in outputs)
    html_outputs = [
        out['data']['text/html'] for out in outputs if 'data' in out
    ]
    assert any('drytorch-snapshot' in text for text in html_outputs)
    assert 'widgets' not in saved.metadata  # no widget state saved


def test_live_panel_in_jupyterlab(
    kernel_python: str, browser: Any, lab_root: pathlib.Path
) -> None:
    notebook = code_notebook(SETUP, START, TRAIN, WAIT_AND_STOP)
    path = lab_root / 'notebooks' / 'panel.ipynb'
    nbformat.write(notebook, path)
    lab = _lab(kernel_python, lab_root)
    page = browser.new_page(viewport={'width': 1400, 'height': 2400})
    try:
        open_notebook(page, lab, 'panel.ipynb')
        tabs = _run_all_until_trained(page)
        titles = tabs.locator('[role=tab]').all_inner_texts()
        assert [title.strip() for title in titles][:4] == [
            'Metrics',
            'Model',
            'Actors',
            'Log',
        ]
        polyline = page.locator('.widget-html svg polyline').first
        box = polyline.bounding_box()
        assert box is not None and box['width'] > 50
        _assert_bars_show_counts(page)
        _assert_fits(page, 'live panel at 1400 px')
        tabs.locator('[role=tab]', has_text='Model').click()
        model_tab = page.locator('.widget-tab .widget-html').filter(
            has_text='Linear'
        )
        model_tab.first.wait_for(state='visible', timeout=30_000)
        card = model_tab.first.inner_text()
        assert 'Parameters' in card and '178' in card  # 8*16+16 + 16*2+2
        _assert_no_widget_error(page)
        tabs.locator('[role=tab]', has_text='Metrics').click()

        # narrow and dark: still nothing sticks out, no white card
        page.set_viewport_size({'width': 700, 'height': 2400})
        page.wait_for_timeout(300)  # let the layout settle
        _assert_fits(page, 'live panel at 700 px')
        _screenshot(page, f'live-700-{kernel_python_kind(kernel_python)}')
        _set_theme(page, 'JupyterLab Dark')
        assert _panel_root(page).evaluate(WHITE_JS) == []
        _screenshot(page, f'live-dark-{kernel_python_kind(kernel_python)}')
        _set_theme(page, 'JupyterLab Light')
        page.set_viewport_size({'width': 1400, 'height': 2400})

        # stop: the snapshot replaces the widgets, through the display id
        (path.parent / STOP_FILE).write_text('')
        page.locator('.drytorch-snapshot').wait_for(timeout=120_000)
        _assert_snapshot(page)
        page.set_viewport_size({'width': 700, 'height': 2400})
        page.wait_for_timeout(300)
        _assert_fits(page, 'snapshot at 700 px')
        _set_theme(page, 'JupyterLab Dark')
        assert _panel_root(page).evaluate(WHITE_JS) == []
        _set_theme(page, 'JupyterLab Light')
        page.set_viewport_size({'width': 1400, 'height': 2400})

        # saved, kernel gone, page reloaded: the snapshot is still there
        saved = _save_and_read(page, path)
        lab.shutdown_kernels()
        page.reload()
        page.wait_for_function(
            'document.querySelector(".jp-Notebook .jp-OutputArea")',
            timeout=120_000,
        )
        page.locator('.drytorch-snapshot').wait_for(timeout=60_000)
        _assert_snapshot(page)
    except Exception:
        _screenshot(page, f'failure-live-{kernel_python_kind(kernel_python)}')
        print(lab.log_text())
        raise
    finally:
        page.close()
        lab.close()

    _assert_saved_snapshot(saved)


def test_kernel_shutdown_during_a_run_leaves_the_snapshot(
    kernel_python: str, browser: Any, lab_root: pathlib.Path
) -> None:
    # the run is still active when the kernel is shut down: the exit hook
    # stops it, and the panel's snapshot reaches the page before the end
    notebook = code_notebook(SETUP, START, TRAIN)
    path = lab_root / 'notebooks' / 'panel.ipynb'
    nbformat.write(notebook, path)
    page = browser.new_page(viewport={'width': 1400, 'height': 2400})
    with _lab(kernel_python, lab_root) as lab:
        try:
            open_notebook(page, lab, 'panel.ipynb')
            _run_all_until_trained(page)
            page.wait_for_function(
                """() => {
                    const nb = window.jupyterapp.shell.currentWidget;
                    return nb.sessionContext.session.kernel.status === 'idle';
                }""",
                timeout=120_000,
            )
            lab.shutdown_kernels()
            page.locator('.drytorch-snapshot').wait_for(timeout=60_000)
            _assert_snapshot(page)
            assert (
                'completed' in page.locator('.drytorch-snapshot').inner_text()
            )
            saved = _save_and_read(page, path)
        except Exception:
            _screenshot(page, 'failure-' + lab_root.name)
            print(lab.log_text())
            raise
        finally:
            page.close()
    _assert_saved_snapshot(saved)


def _kernel_specs(python: str, root: pathlib.Path) -> Any:
    from jupyter_client.kernelspec import KernelSpecManager

    folder = root / 'kernels' / 'python3'
    folder.mkdir(parents=True)
    spec = {
        'argv': [
            python,
            '-m',
            'ipykernel_launcher',
            '-f',
            '{connection_file}',
        ],
        'display_name': 'Python 3',
        'language': 'python',
    }
    (folder / 'kernel.json').write_text(json.dumps(spec))
    return KernelSpecManager(kernel_dirs=[str(root / 'kernels')])


def _execute(
    notebook: nbformat.NotebookNode, python: str, root: pathlib.Path
) -> None:
    from jupyter_client.manager import AsyncKernelManager
    from nbclient import NotebookClient

    work = root / 'work'
    work.mkdir()
    manager = AsyncKernelManager(
        kernel_name='python3',
        kernel_spec_manager=_kernel_specs(python, root),
    )
    NotebookClient(
        notebook,
        km=manager,
        timeout=600,
        # the default: nbclient keeps the state of every widget it saw
        store_widget_state=True,
        resources={'metadata': {'path': str(work)}},
    ).execute(cleanup_kc=True)


def test_static_snapshot_in_exported_html(
    kernel_python: str, browser: Any, tmp_path: pathlib.Path
) -> None:
    _require(sys.executable, 'nbconvert')
    from nbconvert import HTMLExporter

    notebook = code_notebook(SETUP, START, TRAIN, STOP)
    _execute(notebook, kernel_python, tmp_path)
    saved = tmp_path / 'executed.ipynb'
    nbformat.write(notebook, saved)
    assert saved.stat().st_size < 200_000
    start_outputs = notebook.cells[1].outputs
    assert [out['output_type'] for out in start_outputs] == ['display_data']
    assert WIDGET_MIME not in start_outputs[0]['data']  # replaced
    body, _ = HTMLExporter().from_notebook_node(notebook)
    page_path = tmp_path / 'executed.html'
    page_path.write_text(body)

    page = browser.new_page(viewport={'width': 1400, 'height': 2000})
    try:
        # no network: the exporter's CDN scripts must not matter
        page.route(
            '**/*',
            lambda route: (
                route.continue_()
                if route.request.url.startswith('file:')
                else route.abort()
            ),
        )
        page.goto(page_path.as_uri(), wait_until='load')
        page.wait_for_timeout(500)
        _assert_snapshot(page)
        snapshot = page.locator('.drytorch-snapshot')
        assert 'completed' in snapshot.inner_text()
    except Exception:
        _screenshot(page, 'failure-' + tmp_path.name)
        raise
    finally:
        page.close()


def test_snapshot_renders_in_an_untrusted_notebook(
    kernel_python: str, browser: Any, lab_root: pathlib.Path
) -> None:
    # a notebook JupyterLab did not run (executed elsewhere, downloaded) is
    # untrusted: its HTML is sanitized, inline SVG removed; the snapshot's
    # charts are images, which survive
    notebook = code_notebook(SETUP, START, TRAIN, STOP)
    _execute(notebook, kernel_python, lab_root)
    nbformat.write(notebook, lab_root / 'notebooks' / 'executed.ipynb')
    page = browser.new_page(viewport={'width': 1400, 'height': 2000})
    with _lab(kernel_python, lab_root) as lab:
        try:
            page.goto(lab.url('executed.ipynb'))
            page.locator('.drytorch-snapshot').wait_for(timeout=120_000)
            _assert_snapshot(page)
        except Exception:
            _screenshot(page, 'failure-' + lab_root.name)
            print(lab.log_text())
            raise
        finally:
            page.close()
