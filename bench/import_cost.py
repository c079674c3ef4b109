"""Cost of ``import drytorch`` over ``import torch``, in fresh processes.

Usage: python bench/import_cost.py [--repeat 7]

Each sample starts a new interpreter that imports torch, then times the
import of drytorch (and, separately, of the names a notebook touches
first). Prints medians in milliseconds.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys

_SNIPPET = """
import time, torch
t0 = time.perf_counter()
import drytorch
t1 = time.perf_counter()
from drytorch import Experiment, Model
t2 = time.perf_counter()
print(t1 - t0, t2 - t1)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--repeat', type=int, default=7)
    args = parser.parse_args()
    bare, names = [], []
    for _ in range(args.repeat):
        out = subprocess.run(
            [sys.executable, '-c', _SNIPPET],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        bare.append(float(out[0]) * 1e3)
        names.append(float(out[1]) * 1e3)
    print(f'import drytorch after torch: {statistics.median(bare):.2f} ms')
    print(
        'from drytorch import Experiment, Model: '
        f'{statistics.median(names):.2f} ms'
    )


if __name__ == '__main__':
    main()
