"""Data loading, under the module name of drytorch 0.1.0rc11.

0.1.0rc11 renamed ``drytorch.lib.load`` to this; both import paths give
the same objects (see :mod:`drytorch.lib.load`).
"""

from __future__ import annotations

from drytorch.lib.load import (
    DataLoader,
    Permutation,
    Sliced,
    get_n_batches,
    take_from_dataset,
    validate_dataset_length,
)

__all__ = [
    'DataLoader',
    'Permutation',
    'Sliced',
    'get_n_batches',
    'take_from_dataset',
    'validate_dataset_length',
]
