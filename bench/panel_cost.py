"""Cost of the notebook panel, measured in a real Jupyter kernel.

Three numbers (issue 4, "Cost"):

1. slowdown: 2,000 tiny steps (MLP 32-64-10, batch 32: 20 epochs of 100
   batches) with the panel versus without, runs interleaved in one kernel
   (target: ratio <= 1.03);
2. messages: the iopub ``comm_msg`` messages (widget updates) the client
   receives during the run with the panel, per second of run time (target:
   <= 10/s), for the 2,000-step runs and for one 10,000-step run (the
   steady rate); widget creations (``comm_open``) and closings are
   reported too;
3. size: the saved ``.ipynb`` of a 50-epoch training with validation and
   the panel, executed with nbclient (target: < 200 KB), with and without
   nbclient's widget-state metadata.

Usage: ``python bench/panel_cost.py [--python KERNEL_PYTHON] [--pairs N]``.
The kernel runs ``KERNEL_PYTHON`` (default: this interpreter), so the same
script measures an ipywidgets 7.7 environment. Results are printed as JSON.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import statistics
import sys
import tempfile
import textwrap
from collections import Counter
from typing import Any

import nbformat
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

KERNEL_NAME = 'panel-bench'
LONG_EPOCHS = 100

SETUP = """
import json, time
import torch
from torch import nn
from torch.nn import functional
from torch.utils import data
torch.set_num_threads(1)
import drytorch
from drytorch import DataLoader, Experiment, LearningSchema, Loss, Model
from drytorch import Trainer
from drytorch_nb.panel import NotebookPanel
drytorch.remove_all_default_trackers()
torch.manual_seed(0)
DATA = data.TensorDataset(torch.randn(3200, 32), torch.randn(3200, 10))

def run(with_panel, epochs=20, par_dir='.'):
    experiment = Experiment(None, name='Bench', par_dir=par_dir)
    panel = None
    if with_panel:
        panel = NotebookPanel()
        experiment.trackers.subscribe(panel)
    torch.manual_seed(0)
    start = time.perf_counter()
    with experiment.create_run(record=False):
        module = nn.Sequential(
            nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 10)
        )
        trainer = Trainer(
            Model(module, name='mlp'),
            loader=DataLoader(DATA, 32),
            loss=Loss(functional.mse_loss, name='MSE'),
            learning_schema=LearningSchema(torch.optim.Adam, 1e-3),
        )
        train_start = time.perf_counter()
        cpu_start = time.process_time()
        trainer.train(epochs)
        train_s = time.perf_counter() - train_start
        cpu_s = time.process_time() - cpu_start
    run_s = time.perf_counter() - start
    text_mode = None if panel is None else panel.text_mode
    print(json.dumps(
        {'train_s': train_s, 'cpu_s': cpu_s, 'run_s': run_s,
         'text_mode': text_mode}
    ))
"""

NOTEBOOK_CELLS = [
    SETUP,
    """
    VAL = data.TensorDataset(torch.randn(320, 32), torch.randn(320, 10))
    experiment = Experiment(None, name='Size', par_dir='.')
    experiment.trackers.subscribe(NotebookPanel())
    with experiment.create_run():
        module = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 10))
        trainer = Trainer(
            Model(module, name='mlp'),
            loader=DataLoader(data.Subset(DATA, range(320)), 32),
            loss=Loss(functional.mse_loss, name='MSE'),
            learning_schema=LearningSchema(torch.optim.Adam, 1e-3),
        )
        trainer.add_validation(DataLoader(VAL, 32))
        trainer.train(50)
    """,
]


def _kernel_specs(python: str, root: pathlib.Path) -> KernelSpecManager:
    folder = root / 'kernels' / KERNEL_NAME
    folder.mkdir(parents=True)
    spec = {
        'argv': [
            python,
            '-m',
            'ipykernel_launcher',
            '-f',
            '{connection_file}',
        ],
        'display_name': KERNEL_NAME,
        'language': 'python',
    }
    (folder / 'kernel.json').write_text(json.dumps(spec))
    return KernelSpecManager(kernel_dirs=[str(root / 'kernels')])


def _execute(client: Any, code: str, timeout: float = 600) -> dict[str, Any]:
    """Run code; count the iopub messages it caused; collect its stdout."""
    msg_id = client.execute(code)
    counts: Counter[str] = Counter()
    stdout: list[str] = []
    while True:
        msg = client.get_iopub_msg(timeout=timeout)
        if msg['parent_header'].get('msg_id') != msg_id:
            continue
        kind = msg['msg_type']
        counts[kind] += 1
        content = msg['content']
        if kind == 'stream' and content['name'] == 'stdout':
            stdout.append(content['text'])
        elif kind == 'error':
            raise RuntimeError('\n'.join(content['traceback']))
        elif kind == 'status' and content['execution_state'] == 'idle':
            break
    return {'counts': counts, 'stdout': ''.join(stdout)}


def _last_json(stdout: str) -> dict[str, Any]:
    for line in reversed(stdout.splitlines()):
        if line.startswith('{'):
            return json.loads(line)
    msg = f'Expected a JSON line in the output, got {stdout!r}.'
    raise ValueError(msg)


def measure_runs(python: str, root: pathlib.Path, pairs: int) -> dict:
    """Interleaved runs with and without the panel in one kernel."""
    manager = KernelManager(
        kernel_name=KERNEL_NAME,
        kernel_spec_manager=_kernel_specs(python, root),
    )
    manager.start_kernel(cwd=str(root))
    client = manager.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=120)
        _execute(client, SETUP)
        _execute(client, 'run(False); run(True)')  # warm up both paths
        times: dict[bool, list[float]] = {False: [], True: []}
        cpu: dict[bool, list[float]] = {False: [], True: []}
        ratios: list[float] = []
        cpu_ratios: list[float] = []
        rates: list[float] = []
        per_run: list[dict[str, int]] = []
        for index in range(pairs):
            order = (False, True) if index % 2 == 0 else (True, False)
            pair: dict[bool, float] = {}
            pair_cpu: dict[bool, float] = {}
            for with_panel in order:
                result = _execute(client, f'run({with_panel})')
                row = _last_json(result['stdout'])
                pair[with_panel] = row['train_s']
                pair_cpu[with_panel] = row['cpu_s']
                times[with_panel].append(row['train_s'])
                cpu[with_panel].append(row['cpu_s'])
                if with_panel:
                    if row['text_mode']:
                        msg = 'The panel fell back to text in a kernel.'
                        raise RuntimeError(msg)
                    counts = result['counts']
                    rates.append(counts['comm_msg'] / row['run_s'])
                    per_run.append(
                        {
                            key: counts[key]
                            for key in (
                                'comm_open',
                                'comm_msg',
                                'comm_close',
                                'display_data',
                                'update_display_data',
                            )
                        }
                        | {'run_ms': round(row['run_s'] * 1000)}
                    )
            ratios.append(pair[True] / pair[False])
            cpu_ratios.append(pair_cpu[True] / pair_cpu[False])
        # a longer run shows the steady rate, past the one-off messages
        long = _execute(client, f'run(True, epochs={LONG_EPOCHS})')
        long_row = _last_json(long['stdout'])
        steady = long['counts']['comm_msg'] / long_row['run_s']
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    median_without = statistics.median(times[False])
    median_with = statistics.median(times[True])
    return {
        'pairs': pairs,
        'median_train_s_without': round(median_without, 4),
        'median_train_s_with': round(median_with, 4),
        'ratio_of_medians': round(median_with / median_without, 4),
        'median_pair_ratio': round(statistics.median(ratios), 4),
        'cpu_ratio_of_medians': round(
            statistics.median(cpu[True]) / statistics.median(cpu[False]), 4
        ),
        'cpu_median_pair_ratio': round(statistics.median(cpu_ratios), 4),
        'comm_msg_per_s_median': round(statistics.median(rates), 2),
        'comm_msg_per_s_max': round(max(rates), 2),
        'messages_of_first_runs': per_run[:2],
        f'comm_msg_per_s_{LONG_EPOCHS * 100}_steps': round(steady, 2),
        f'run_s_{LONG_EPOCHS * 100}_steps': round(long_row['run_s'], 2),
    }


def measure_size(python: str, root: pathlib.Path) -> dict:
    """Size of the saved notebook of a 50-epoch training with the panel."""
    sizes = {}
    specs = _kernel_specs(python, root / 'size')
    for store in (True, False):
        notebook = nbformat.v4.new_notebook()
        notebook.cells = [
            nbformat.v4.new_code_cell(textwrap.dedent(code).strip())
            for code in NOTEBOOK_CELLS
        ]
        folder = root / f'size-{store}'
        folder.mkdir()
        NotebookClient(
            notebook,
            kernel_name=KERNEL_NAME,
            kernel_manager_class=KernelManager,
            km=KernelManager(
                kernel_name=KERNEL_NAME, kernel_spec_manager=specs
            ),
            timeout=600,
            store_widget_state=store,
            resources={'metadata': {'path': str(folder)}},
        ).execute()
        path = folder / 'trained.ipynb'
        nbformat.write(notebook, path)
        outputs = notebook.cells[1].outputs
        sizes[f'store_widget_state={store}'] = {
            'bytes': path.stat().st_size,
            'outputs': [output.get('output_type') for output in outputs],
            'html_bytes': sum(
                len(output.get('data', {}).get('text/html', ''))
                for output in outputs
            ),
            'widget_views': sum(
                'application/vnd.jupyter.widget-view+json'
                in output.get('data', {})
                for output in outputs
            ),
        }
    return sizes


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--python', default=sys.executable)
    parser.add_argument('--pairs', type=int, default=10)
    parser.add_argument('--skip-size', action='store_true')
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        root = pathlib.Path(folder)
        report: dict[str, Any] = {'kernel_python': args.python}
        report['runs'] = measure_runs(args.python, root, args.pairs)
        if not args.skip_size:
            report['ipynb'] = measure_size(args.python, root)
    print(json.dumps(report, indent=2))


if __name__ == '__main__':
    main()
