"""Index sequences and the sampler of evaluations under torch.distributed.

:class:`Sliced` and :class:`Permutation` are lazy sequences of indices
(a :class:`~drytorch.lib.load.DataLoader`'s split and shuffled subsets);
:class:`StridedSampler` shares the samples of an evaluation out among
processes without repeating any. Import them from
:mod:`drytorch.lib.load`.
"""

from __future__ import annotations

import array
from collections.abc import Iterator, Sequence
from typing import TypeVar, overload

import numpy as np
from torch.utils import data

__all__ = ['Permutation', 'Sliced', 'StridedSampler', 'positive_int']

_T = TypeVar('_T')


def positive_int(value: object, name: str) -> int:
    """Return ``value`` if it is a positive int (bools are not)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        msg = f'Expected {name} to be a positive int, got {value!r}.'
        raise ValueError(msg)
    return value


class Sliced(Sequence[_T]):
    """A lazy slice of a sequence that keeps the sequence it slices.

    Attributes:
        seq: the sliced sequence.
        slice: the slice.
    """

    def __init__(self, seq: Sequence[_T], slice_: slice) -> None:
        """Args:
        seq: the sequence to slice.
        slice_: the slice to take.
        """  # noqa: D205
        self.seq = seq
        self.slice = slice_
        self._positions = range(len(seq))[slice_]

    def __repr__(self) -> str:
        return f'{self.seq!r}[{self.slice!r}]'

    def __len__(self) -> int:
        return len(self._positions)

    @overload
    def __getitem__(self, index: int) -> _T: ...

    @overload
    def __getitem__(self, index: slice) -> Sliced[_T]: ...

    def __getitem__(self, index: int | slice) -> _T | Sliced[_T]:
        if isinstance(index, slice):
            return Sliced(self, index)
        return self.seq[self._positions[index]]

    def __iter__(self) -> Iterator[_T]:
        seq = self.seq
        for position in self._positions:
            yield seq[position]


class Permutation(Sequence[int]):
    """A seeded random permutation of ``range(size)``.

    The permutation is drawn (with ``numpy.random.default_rng``) the first
    time it is read.

    Attributes:
        size: the number of elements.
        seed: the seed of the draw; when none is given, a fresh one is drawn
            and kept, so that the metadata records the permutation used.
    """

    def __init__(self, size: int, seed: int | None = None) -> None:
        """Args:
            size: the number of elements.
            seed: the seed; default: a random one.

        Raises:
            ValueError: if size is negative or not an int.
        """  # noqa: D205
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            msg = f'Expected a non-negative int size, got {size!r}.'
            raise ValueError(msg)
        if seed is None:
            seed = int(np.random.SeedSequence().generate_state(1)[0])
        self.size = size
        self.seed = seed
        self._values: array.array[int] | None = None

    def __repr__(self) -> str:
        return f'{type(self).__name__}(size={self.size}, seed={self.seed})'

    def _permutation(self) -> array.array[int]:
        if self._values is None:
            drawn = np.random.default_rng(self.seed).permutation(self.size)
            # array.array indexes to Python ints, compactly
            self._values = array.array('q', drawn.astype(np.int64).tobytes())
        return self._values

    def __len__(self) -> int:
        return self.size

    @overload
    def __getitem__(self, index: int) -> int: ...

    @overload
    def __getitem__(self, index: slice) -> Sliced[int]: ...

    def __getitem__(self, index: int | slice) -> int | Sliced[int]:
        if isinstance(index, slice):
            return Sliced(self, index)
        return self._permutation()[index]

    def __iter__(self) -> Iterator[int]:
        return iter(self._permutation())


class StridedSampler(data.Sampler[int]):
    """The share of one process of the samples, without padding.

    Process ``rank`` of ``world_size`` gets the indices ``rank``,
    ``rank + world_size``, ``rank + 2 * world_size``, ... in order: every
    sample goes to exactly one process. Unlike ``DistributedSampler``, it
    repeats no sample to give every process as many, so processes may get
    different numbers of batches; a pass over it must not run collective
    operations per batch (evaluations reduce their metrics once, at the
    end).

    Attributes:
        dataset_len: the number of samples.
        rank: the process whose share it is.
        world_size: the number of processes.
    """

    def __init__(self, dataset_len: int, rank: int, world_size: int) -> None:
        """Args:
            dataset_len: the number of samples.
            rank: the process whose share it is, in ``[0, world_size)``.
            world_size: the number of processes.

        Raises:
            ValueError: if an argument is out of range.
        """  # noqa: D205
        positive_int(world_size, 'world_size')
        if isinstance(rank, bool) or not isinstance(rank, int):
            msg = f'Expected an int rank, got {rank!r}.'
            raise ValueError(msg)
        if not 0 <= rank < world_size:
            msg = f'Expected a rank in [0, {world_size}), got {rank}.'
            raise ValueError(msg)
        if dataset_len < 0:
            msg = f'Expected a non-negative dataset length, got {dataset_len}.'
            raise ValueError(msg)
        self.dataset_len = dataset_len
        self.rank = rank
        self.world_size = world_size
        self._indices = range(rank, dataset_len, world_size)

    def __repr__(self) -> str:
        return (
            f'{type(self).__name__}(dataset_len={self.dataset_len}, '
            f'rank={self.rank}, world_size={self.world_size})'
        )

    def __iter__(self) -> Iterator[int]:
        return iter(self._indices)

    def __len__(self) -> int:
        return len(self._indices)
