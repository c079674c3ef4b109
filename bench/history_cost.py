"""Per-step cost of the metric history writer, a default tracker.

Usage: python bench/history_cost.py [--repeats 7] [--epochs 20]

A block is a recorded run that trains the tiny MLP benchmark model (32-64-10,
batch 32, 256 batches per epoch) for ``--epochs`` epochs with a Validation
after each epoch, under the 'standard' default trackers. Blocks alternate
between two set-ups: 'standard' (the history writer included) and
'standard - history' (the HistoryWriter removed from the experiment). The
training time is wall-clock time (the writer's cost is I/O: a write per
epoch, a sync to disk every few seconds), the start and stop of the run
left out. The ratio of the medians is the cost per step of the writer.

On a shared machine that ratio carries a few percent of noise, so the
script also times the writer itself: the wall time spent inside its
``notify`` during the training, as a share of the training time (the
'direct' column), which is what the writer adds to each step.
"""

from __future__ import annotations

import argparse
import pathlib
import statistics
import tempfile
import time

import _common
import _drytorch_variants

import drytorch
from drytorch.core import history


def block(with_history: bool, epochs: int) -> tuple[float, float]:
    """Train one run; return the training and the in-writer seconds.

    Raises:
        RuntimeError: if the history was not written when it should be.
    """
    case = _common.CASES['tiny']
    dataset = _common.make_dataset(case)
    with tempfile.TemporaryDirectory() as tmp, _common.quiet(stdout=True):
        par_dir = pathlib.Path(tmp)
        drytorch.init_trackers('standard')
        experiment = drytorch.Experiment(
            None, name='HistoryCost', par_dir=par_dir
        )
        spent = [0.0]
        if with_history:
            writer = experiment.trackers.named_trackers['HistoryWriter']
            notify = writer.notify

            def timed(event: object) -> None:
                begin = time.perf_counter()
                try:
                    notify(event)  # type: ignore[arg-type]
                finally:
                    spent[0] += time.perf_counter() - begin

            writer.notify = timed  # type: ignore[method-assign]
        else:
            experiment.trackers.remove('HistoryWriter')
        run = experiment.create_run()
        run.start()
        trainer = _drytorch_variants.case_trainer(case, dataset)
        trainer.add_validation(trainer.loader)
        spent[0] = 0.0
        start = time.perf_counter()
        trainer.train(epochs)
        training = time.perf_counter() - start
        in_writer = spent[0]
        run.stop()
        found = history.load_history(experiment, run.id)
        if with_history and (found is None or found.epochs != epochs):
            msg = 'The history writer did not record every epoch.'
            raise RuntimeError(msg)
    return training, in_writer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--repeats', type=int, default=7)
    parser.add_argument('--epochs', type=int, default=20)
    args = parser.parse_args()
    _common.one_thread()
    times: dict[bool, list[float]] = {True: [], False: []}
    shares: list[float] = []
    per_epoch: list[float] = []
    block(True, 1)  # warm-up
    for index in range(args.repeats):
        order = (True, False) if index % 2 == 0 else (False, True)
        for with_history in order:
            training, in_writer = block(with_history, args.epochs)
            times[with_history].append(training)
            if with_history:
                shares.append(in_writer / training)
                per_epoch.append(in_writer / args.epochs)
    case = _common.CASES['tiny']
    steps = args.epochs * case.n_batches
    base = statistics.median(times[False])
    print(f'{args.epochs} epochs of the tiny MLP, {args.repeats} runs each')
    print(f'{"set-up":>20} {"µs/step":>9} {"ratio":>6} {"direct":>7}')
    for with_history in (False, True):
        median = statistics.median(times[with_history])
        name = 'standard' if with_history else 'standard - history'
        direct = f'{statistics.median(shares):.3%}' if with_history else ''
        print(
            f'{name:>20} {median / steps * 1e6:>9.1f} {median / base:>6.3f}'
            f' {direct:>7}'
        )
    writer_ms = statistics.median(per_epoch) * 1e3
    print(f'time in the history writer: {writer_ms:.3f} ms per epoch')


if __name__ == '__main__':
    main()
