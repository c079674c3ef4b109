"""Cost of a run's lifecycle (create + start + stop) against history size.

Usage: python bench/registry_lifecycle.py [--history 0 5000] [--repeat 200]

For each history size, records that many runs first, then times
``create_run()`` + ``start()`` + ``stop()`` ``--repeat`` times and prints
the median and the 90th percentile in milliseconds. No trackers are
subscribed, so the figure is the registry's own cost.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import tempfile
import time

from drytorch.core import track
from drytorch.core.experiment import Experiment


@dataclasses.dataclass(frozen=True)
class Config:
    value: int = 0


def measure(history: int, repeat: int) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as par_dir:
        experiment = Experiment(Config(), name='Bench', par_dir=par_dir)
        registry = experiment.registry
        for index in range(history):
            registry.register_new_run(f'old-{index:05d}')
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            run = experiment.create_run()
            run.start()
            run.stop()
            times.append(time.perf_counter() - start)
        assert len(registry.load_all()) == history + repeat
    times.sort()
    return statistics.median(times) * 1e3, times[int(0.9 * repeat)] * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--history', type=int, nargs='+', default=[0, 5000])
    parser.add_argument('--repeat', type=int, default=200)
    args = parser.parse_args()
    track.remove_all_default_trackers()
    print(f'{"recorded runs":>14} {"median ms":>10} {"p90 ms":>8}')
    for history in args.history:
        median, p90 = measure(history, args.repeat)
        print(f'{history:>14} {median:>10.2f} {p90:>8.2f}')


if __name__ == '__main__':
    main()
