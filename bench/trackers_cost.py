"""Per-epoch cost of every optional tracker at once, against the defaults.

Usage: python bench/trackers_cost.py [--repeats 5] [--epochs 20]

A block is a run that trains the tiny MLP benchmark model (32-64-10, batch
32, 256 batches per epoch) for ``--epochs`` epochs, with a Validation after
each epoch. Blocks alternate between two set-ups:

- 'defaults': the 'standard' default trackers (logging, progress bars,
  YAML metadata);
- 'all': the defaults plus CSVDumper, SQLConnection (SQLite), TensorBoard,
  Wandb (offline), MatPlotter, PlotlyPlotter and HydraLink.

The training time of each block is measured on the wall clock (trackers do
I/O, and W&B writes from a separate process); the start and the stop of the
run are timed apart, since they are paid once per run, not per epoch. The
ratio of the medians is the per-epoch cost of the optional trackers.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import statistics
import tempfile
import time
import warnings

import _common
import _drytorch_variants

import drytorch
from drytorch.core import exceptions
from drytorch.core.track import Tracker
from drytorch.lib.evaluations import Validation


def _optional_trackers(par_dir: pathlib.Path) -> list[Tracker]:
    from drytorch.trackers.csv import CSVDumper
    from drytorch.trackers.hydra import HydraLink
    from drytorch.trackers.matplotlib import MatPlotter
    from drytorch.trackers.plotly import PlotlyPlotter
    from drytorch.trackers.sqlalchemy import SQLConnection
    from drytorch.trackers.tensorboard import TensorBoard
    from drytorch.trackers.wandb import Wandb

    hydra_dir = par_dir / 'fake_hydra_output'
    (hydra_dir / '.hydra').mkdir(parents=True, exist_ok=True)
    return [
        CSVDumper(),
        SQLConnection(),
        TensorBoard(),
        Wandb(),
        MatPlotter(),
        PlotlyPlotter(),
        HydraLink(hydra_dir=hydra_dir),
    ]


_OUTPUTS = ('csv_metrics', 'metrics.db', 'tensorboard', 'wandb', 'hydra')


def block(setup: str, epochs: int) -> tuple[float, float]:
    """Train one run; return (training seconds, start + stop seconds).

    Raises:
        RuntimeError: if a tracker failed or wrote nothing: its cost would
            not be measured.
    """
    case = _common.CASES['tiny']
    dataset = _common.make_dataset(case)
    with (
        tempfile.TemporaryDirectory() as tmp,
        _common.quiet(stdout=True),
        warnings.catch_warnings(record=True) as caught,
    ):
        warnings.simplefilter('always')
        par_dir = pathlib.Path(tmp)
        drytorch.init_trackers('standard')
        experiment = drytorch.Experiment(
            None, name='TrackersCost', par_dir=par_dir
        )
        if setup == 'all':
            experiment.trackers.subscribe(*_optional_trackers(par_dir))
        start = time.perf_counter()
        run = experiment.create_run()
        run.start()
        overhead = time.perf_counter() - start
        trainer = _drytorch_variants.case_trainer(case, dataset)
        validation = Validation(
            trainer.model, loader=trainer.loader, metric=trainer.objective
        )
        trainer.post_epoch_hooks.register(lambda _: validation())
        start = time.perf_counter()
        trainer.train(epochs)
        training = time.perf_counter() - start
        start = time.perf_counter()
        run.stop()
        overhead += time.perf_counter() - start
        failures = [
            str(w.message)
            for w in caught
            if issubclass(w.category, exceptions.TrackerExceptionWarning)
        ]
        missing = [
            name
            for name in _OUTPUTS
            if setup == 'all' and not (par_dir / name).exists()
        ]
    if failures or missing:
        msg = f'Trackers failed {failures} or wrote nothing in {missing}.'
        raise RuntimeError(msg)
    return training, overhead


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--epochs', type=int, default=20)
    args = parser.parse_args()
    _common.one_thread()
    os.environ.setdefault('WANDB_MODE', 'offline')
    os.environ.setdefault('WANDB_SILENT', 'true')
    os.environ.setdefault('MPLBACKEND', 'Agg')
    times: dict[str, list[float]] = {'defaults': [], 'all': []}
    fixed: dict[str, list[float]] = {'defaults': [], 'all': []}
    block('all', 1)  # warm-up: imports, first files
    for _ in range(args.repeats):
        for setup in ('defaults', 'all'):
            training, overhead = block(setup, args.epochs)
            times[setup].append(training)
            fixed[setup].append(overhead)
    base = statistics.median(times['defaults'])
    print(f'{args.epochs} epochs of the tiny MLP, {args.repeats} runs each')
    header = ('trackers', 'training s', 'ratio', 'start+stop s')
    print('{:>10} {:>11} {:>6} {:>13}'.format(*header))
    for setup in ('defaults', 'all'):
        median = statistics.median(times[setup])
        print(
            f'{setup:>10} {median:>11.3f} {median / base:>6.3f} '
            f'{statistics.median(fixed[setup]):>13.3f}'
        )


if __name__ == '__main__':
    main()
