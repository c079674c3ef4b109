"""Take the README's pictures from a real run in a real browser.

Usage (from the repository root, in the project's environment)::

    .venv/bin/python docs/readme_images.py

JupyterLab is started on a notebook that trains the digits classifier of
the showcase with the panel; headless Chromium (``/usr/bin/chromium``) runs
it, and two pictures are written:

* ``docs/images/live-panel.png``: the live panel, after the training, while
  the run is still active;
* ``docs/images/snapshot.png``: the static report that replaces it when the
  run stops (what a saved notebook keeps).

Nothing is faked: the pictures show what a user sees.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import tempfile

import nbformat

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'tests'))  # the JupyterLab helper lives there

from jupyterlab_server_helper import (  # noqa: E402
    Lab,
    app_command,
    code_notebook,
    open_notebook,
)

CHROMIUM = '/usr/bin/chromium'
STOP_FILE = 'stop-now'
WIDTH = 1100

CELLS = [
    '%load_ext drytorch_nb',
    """
    import dataclasses, os, time
    import torch
    from sklearn.datasets import load_digits
    from torch import nn
    from torch.utils.data import TensorDataset
    from drytorch import (
        DataLoader, Experiment, LearningSchema, Loss, Metric, Model, Trainer
    )

    @dataclasses.dataclass(frozen=True)
    class DigitsConfig:
        hidden: int = 64
        dropout: float = 0.1
        learning_rate: float = 3e-3

    experiment = Experiment(
        DigitsConfig(), name='Digits', par_dir='experiments', tags=['readme']
    )
    digits = load_digits()
    images = torch.tensor(digits.data, dtype=torch.float32) / 16.0
    labels = torch.tensor(digits.target, dtype=torch.long)
    dataset = TensorDataset(images, labels)

    def cross_entropy(logits, target):
        return nn.functional.cross_entropy(logits, target, reduction='none')

    def accuracy(logits, target):
        return (logits.argmax(dim=1) == target).float()
    """,
    '%drytorch_start --run-id readme',
    """
    torch.manual_seed(0)
    network = nn.Sequential(
        nn.Linear(64, 64), nn.ReLU(), nn.Dropout(0.1), nn.Linear(64, 10)
    )
    model = Model(network, name='mlp')
    train, val = DataLoader(dataset, batch_size=64).split(0.2)
    trainer = Trainer(
        model,
        loader=train,
        loss=Loss(cross_entropy, 'Cross Entropy')
        | Metric(accuracy, 'Accuracy', higher_is_better=True),
        learning_schema=LearningSchema.adam(base_lr=3e-3),
    )
    trainer.add_validation(val)
    trainer.train(25)
    """,
    f"""
    while not os.path.exists({STOP_FILE!r}):
        time.sleep(0.1)
    """,
    '%drytorch_stop',
]


def take(out_dir: pathlib.Path) -> list[pathlib.Path]:
    """Run the notebook in JupyterLab and take both pictures.

    Returns:
        The paths of the pictures.
    """
    from playwright.sync_api import sync_playwright

    out_dir.mkdir(parents=True, exist_ok=True)
    live = out_dir / 'live-panel.png'
    snapshot = out_dir / 'snapshot.png'
    with tempfile.TemporaryDirectory() as folder:
        root = pathlib.Path(folder)
        (root / 'notebooks').mkdir()
        (root / 'workspaces').mkdir()
        nbformat.write(
            code_notebook(*CELLS), root / 'notebooks' / 'readme.ipynb'
        )
        with Lab(sys.executable, root) as lab, sync_playwright() as play:
            browser = play.chromium.launch(
                executable_path=CHROMIUM, args=['--no-sandbox']
            )
            page = browser.new_page(
                viewport={'width': WIDTH, 'height': 2000},
                device_scale_factor=1,
            )
            open_notebook(page, lab, 'readme.ipynb')
            # the notebook alone, at full width, as after closing the sidebar
            page.evaluate('() => window.jupyterapp.shell.collapseLeft()')
            app_command(page, 'notebook:run-all-cells')
            numbers = page.locator('.drytorch-numbers', has_text='25/25')
            numbers.first.wait_for(timeout=300_000)
            page.wait_for_timeout(1500)  # the last chart update
            panel = page.locator('.jp-OutputArea-output:has(.widget-tab)')
            panel.first.screenshot(path=str(live))
            (root / 'notebooks' / STOP_FILE).write_text('')
            report = page.locator('.drytorch-snapshot')
            report.first.wait_for(timeout=120_000)
            report.first.screenshot(path=str(snapshot))
            browser.close()
    return [live, snapshot]


def main(argv: list[str] | None = None) -> None:
    """Parse the arguments and take the pictures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        '--out',
        type=pathlib.Path,
        default=ROOT / 'docs' / 'images',
        help='folder of the pictures (default: docs/images)',
    )
    args = parser.parse_args(argv)
    for path in take(args.out):
        print(path)


if __name__ == '__main__':
    main()
