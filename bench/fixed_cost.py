"""Fixed cost of a short training: what drytorch adds besides the steps.

Usage:
    python bench/fixed_cost.py [--repeat 20]
        [--python /tmp/venv-ref/bin/python]

One iteration, inside a recorded run that was created and started
beforehand: build a ``Model`` (of a module built beforehand) and a
``Trainer``, train one epoch of one batch (tiny MLP 32-64-10, batch 32),
stop the run. One warm-up iteration first (imports, first-call caches),
then the median of ``--repeat`` iterations in milliseconds, in total and
for each part, with no trackers and with the trackers of
``init_trackers('standard')`` (output to the null device). Only the public
API is used and the library's defaults are kept (e.g. ``should_compile``),
so ``--python`` runs the same measurement in another environment, such as
the reference's (drytorch 0.1.0rc5).
"""

from __future__ import annotations

import argparse
import dataclasses
import pathlib
import statistics
import tempfile
import time

import _common
import _drytorch_variants

import drytorch

_PARTS = ('Model', 'Trainer', 'one step', 'stop')


def _iteration(
    experiment: drytorch.Experiment, case: _common.Case, dataset: object
) -> list[float]:
    """Durations of the parts of one iteration, in seconds."""
    module = _common.make_module(case)
    run = experiment.create_run()
    run.start()
    clock = time.perf_counter
    t0 = clock()
    model = drytorch.Model(module)
    t1 = clock()
    trainer = drytorch.Trainer(
        model,
        loader=drytorch.DataLoader(dataset, case.batch_size),
        loss=drytorch.Loss(case.loss_fn(), 'Loss'),
        learning_schema=drytorch.LearningSchema.adam(_common.LR),
    )
    t2 = clock()
    trainer.train(1)
    t3 = clock()
    run.stop()
    t4 = clock()
    return [t1 - t0, t2 - t1, t3 - t2, t4 - t3]


def measure(repeat: int, standard: bool) -> dict[str, float]:
    """Median milliseconds of each part and of the total."""
    case = dataclasses.replace(_common.CASES['tiny'], n_batches=1)
    dataset = _common.make_dataset(case)
    with tempfile.TemporaryDirectory() as par_dir, _common.quiet():
        _drytorch_variants.use_default_trackers(standard)
        experiment = drytorch.Experiment(None, name='Fixed', par_dir=par_dir)
        _iteration(experiment, case, dataset)  # warm-up
        samples = [
            _iteration(experiment, case, dataset) for _ in range(repeat)
        ]
    medians = {
        part: statistics.median(sample[index] for sample in samples) * 1e3
        for index, part in enumerate(_PARTS)
    }
    medians['total'] = statistics.median(sum(s) for s in samples) * 1e3
    return medians


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument('--repeat', type=int, default=20)
    parser.add_argument('--python', action='append', default=[])
    parser.add_argument('--label', default='drytorch (this repo)')
    parser.add_argument('--no-header', action='store_true')
    args = parser.parse_args(argv)
    _common.one_thread()
    if not args.no_header:
        columns = ' | '.join([*_PARTS, 'total'])
        print(f'| library | trackers | {columns} |')
        print('|---|---|' + '---:|' * (len(_PARTS) + 1))
    for standard in (False, True):
        medians = measure(args.repeat, standard)
        cells = ' | '.join(f'{medians[p]:.1f}' for p in [*_PARTS, 'total'])
        trackers = 'standard' if standard else 'none'
        print(f'| {args.label} | {trackers} | {cells} |', flush=True)
    script = str(pathlib.Path(__file__).resolve())
    for python in args.python:
        done = _common.run_elsewhere(
            python,
            script,
            '--no-header',
            '--repeat',
            str(args.repeat),
            '--label',
            python,
        )
        _common.print_run(done)


if __name__ == '__main__':
    main()
