"""Data loaders that pick their sampling from torch's inference mode.

A :class:`DataLoader` is a thin factory of ``torch.utils.data.DataLoader``
objects. Outside inference mode (training) it draws batches with its stored
sampler and drops the last incomplete batch; inside
``torch.inference_mode()`` (evaluations) it goes through the samples in
order, once each, keeping the last incomplete batch. A sampler given by the
user is always used as it is.

Under ``torch.distributed``, training draws from a ``DistributedSampler``
(every process gets as many batches) and inference from a
:class:`StridedSampler`, which shares the samples out without repeating
any, so that evaluation metrics count every sample exactly once.

The index sequences and that sampler live in :mod:`drytorch.lib._sampling`;
import them from here.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Generic, TypeVar

import torch
from torch.utils import data

from drytorch.core import exceptions
from drytorch.lib._sampling import (
    Permutation,
    Sliced,
    StridedSampler,
    positive_int,
)

__all__ = [
    'DataLoader',
    'Permutation',
    'Sliced',
    'StridedSampler',
    'get_n_batches',
    'take_from_dataset',
    'validate_dataset_length',
]

_T = TypeVar('_T')
_Data_co = TypeVar('_Data_co', covariant=True)


def _distributed() -> bool:
    dist = torch.distributed
    return dist.is_available() and dist.is_initialized()


def _world_size() -> int:
    return torch.distributed.get_world_size() if _distributed() else 1


def _rank() -> int:
    return torch.distributed.get_rank() if _distributed() else 0


def _accelerator_available() -> bool:
    accelerator = getattr(torch, 'accelerator', None)
    if accelerator is not None:
        return bool(accelerator.is_available())
    return torch.cuda.is_available()


def validate_dataset_length(dataset: data.Dataset[Any]) -> int:
    """Return the number of samples of a dataset.

    Raises:
        DatasetHasNoLengthError: if the dataset does not implement
            ``__len__``.
    """
    if not hasattr(dataset, '__len__'):
        raise exceptions.DatasetHasNoLengthError()
    try:
        return len(dataset)  # type: ignore[arg-type]
    except (TypeError, NotImplementedError) as error:
        raise exceptions.DatasetHasNoLengthError() from error


def get_n_batches(
    dataset_len: int, batch_size: int, n_processes: int, drop_last: bool
) -> int:
    """Count the batches of a pass, over all processes.

    The count is a multiple of the number of processes: rounded down when
    the last incomplete batches are dropped, up otherwise (a distributed
    sampler pads the data so that every process gets as many batches).

    Args:
        dataset_len: the number of samples.
        batch_size: the samples per batch and process.
        n_processes: the number of processes sharing the data.
        drop_last: whether incomplete batches are dropped.

    Raises:
        ValueError: if ``batch_size`` or ``n_processes`` is not a positive
            int, or ``dataset_len`` is negative.
    """
    positive_int(batch_size, 'batch_size')
    positive_int(n_processes, 'n_processes')
    if dataset_len < 0:
        msg = f'Expected a non-negative dataset length, got {dataset_len}.'
        raise ValueError(msg)
    if drop_last:
        n_batches = dataset_len // batch_size
        return n_batches - n_batches % n_processes
    n_batches = -(-dataset_len // batch_size)
    return -(-n_batches // n_processes) * n_processes


class DataLoader(Generic[_Data_co]):
    """Batches of a dataset, sampled for training or for inference.

    Iterating outside ``torch.inference_mode()`` uses :attr:`sampler` and
    drops the last incomplete batch; inside it, the samples are taken in
    order (under torch.distributed, each process takes its share with a
    :class:`StridedSampler`, no sample twice) and the last batch is kept. A
    sampler given by the user is used in both cases.

    Attributes:
        batch_size: samples per batch (and per process).
        dataset: the dataset.
        dataset_len: the number of samples of the dataset.
        sampler: the training sampler: the user's, else a
            ``DistributedSampler`` when torch.distributed is initialized,
            else a ``RandomSampler``.
        pin_memory: whether batches go to pinned memory.
        n_workers: the number of worker processes (0: load in the main
            process).
        persistent_workers: whether worker processes stay alive between
            passes (only with workers).
    """

    def __init__(
        self,
        dataset: data.Dataset[_Data_co],
        batch_size: int,
        pin_memory: bool | None = None,
        sampler: data.Sampler[Any] | None = None,
        n_workers: int = 0,
        *,
        persistent_workers: bool = True,
    ) -> None:
        """Args:
            dataset: the dataset; it must implement ``__len__``.
            batch_size: samples per batch (and per process).
            pin_memory: put batches in pinned memory; default: whether an
                accelerator is available.
            sampler: a sampler used for training and inference alike.
            n_workers: the number of worker processes.
            persistent_workers: with workers, keep them alive between
                passes; turn it off if the dataset changes between passes
                (workers keep the copy they started with).

        Raises:
            ValueError: if batch_size is not a positive int, or n_workers
                is not a non-negative int.
            DatasetHasNoLengthError: if the dataset has no length.
        """  # noqa: D205
        self.batch_size = positive_int(batch_size, 'batch_size')
        if (
            isinstance(n_workers, bool)
            or not isinstance(n_workers, int)
            or n_workers < 0
        ):
            msg = f'Expected n_workers to be an int >= 0, got {n_workers!r}.'
            raise ValueError(msg)
        self.dataset = dataset
        self.dataset_len = validate_dataset_length(dataset)
        self._user_sampler = sampler is not None
        self.sampler: data.Sampler[Any] = (
            sampler if sampler is not None else self._training_sampler()
        )
        self.pin_memory = (
            _accelerator_available() if pin_memory is None else pin_memory
        )
        self.n_workers = n_workers
        self.persistent_workers = persistent_workers
        self._inference_sampler: data.Sampler[Any] | None = None
        self._loaders: dict[bool, tuple[tuple[Any, ...], Any]] = {}
        self._busy: set[bool] = set()

    def __repr__(self) -> str:
        return (
            f'{type(self).__name__}(dataset={type(self.dataset).__name__}, '
            f'batch_size={self.batch_size})'
        )

    def _training_sampler(self) -> data.Sampler[Any]:
        if _distributed():
            return data.DistributedSampler(self.dataset, drop_last=True)
        if not self.dataset_len:  # RandomSampler refuses empty data
            return data.SequentialSampler(range(0))
        return data.RandomSampler(range(self.dataset_len))

    def _sampler_for(self, inference: bool) -> data.Sampler[Any]:
        if not inference or self._user_sampler:
            return self.sampler
        sampler = self._inference_sampler
        if _distributed():
            rank, world_size = _rank(), _world_size()
            if not (
                isinstance(sampler, StridedSampler)
                and sampler.rank == rank
                and sampler.world_size == world_size
            ):
                # no padding: a repeated sample would count twice in the
                # metrics (the count of batches may differ across ranks)
                sampler = StridedSampler(self.dataset_len, rank, world_size)
                self._inference_sampler = sampler
        elif not isinstance(sampler, data.SequentialSampler):
            sampler = data.SequentialSampler(range(self.dataset_len))
            self._inference_sampler = sampler
        return sampler

    def get_loader(self, inference: bool) -> data.DataLoader[_Data_co]:
        """Build (or reuse) the torch loader of a training or inference pass.

        The loader is reused while the settings do not change, so that
        persistent workers survive from one pass to the next.

        Args:
            inference: whether the pass is an inference pass.
        """
        sampler = self._sampler_for(inference)
        persistent = self.persistent_workers and self.n_workers > 0
        # ids are safe: the cached loader keeps dataset and sampler alive
        key = (
            id(self.dataset),
            id(sampler),
            self.batch_size,
            self.pin_memory,
            self.n_workers,
            persistent,
        )
        cached = self._loaders.get(inference)
        if cached is not None and cached[0] == key:
            loader: data.DataLoader[_Data_co] = cached[1]
            return loader
        loader = data.DataLoader(
            self.dataset,
            batch_size=self.batch_size,
            sampler=sampler,
            num_workers=self.n_workers,
            pin_memory=self.pin_memory,
            drop_last=not inference,
            persistent_workers=persistent,
        )
        self._loaders[inference] = (key, loader)
        return loader

    def __iter__(self) -> Iterator[_Data_co]:
        inference = torch.is_inference_mode_enabled()
        loader = self.get_loader(inference)
        if not loader.persistent_workers:
            return iter(loader)
        return self._persistent_pass(loader, inference)

    def _fresh_loader(
        self, loader: data.DataLoader[_Data_co]
    ) -> data.DataLoader[_Data_co]:
        return data.DataLoader(
            self.dataset,
            batch_size=self.batch_size,
            sampler=loader.sampler,
            num_workers=self.n_workers,
            pin_memory=self.pin_memory,
            drop_last=loader.drop_last,
        )

    def _persistent_pass(
        self, loader: data.DataLoader[_Data_co], inference: bool
    ) -> Iterator[_Data_co]:
        if inference in self._busy:
            # a persistent loader has one iterator: a nested pass gets its
            # own, short-lived workers instead of resetting the outer ones
            yield from self._fresh_loader(loader)
            return
        self._busy.add(inference)
        try:
            yield from loader
        finally:
            self._busy.discard(inference)

    def __len__(self) -> int:
        """Count the batches of a pass, over all processes.

        Under torch.distributed this is the number of batches of the first
        process (which has the most) times the number of processes, in
        training and in inference alike.
        """
        inference = torch.is_inference_mode_enabled()
        n_processes = _world_size()
        if self._user_sampler and hasattr(self.sampler, '__len__'):
            # the user's sampler decides how many samples a process gets
            n_samples = len(self.sampler)  # type: ignore[arg-type]
            return n_processes * get_n_batches(
                n_samples, self.batch_size, 1, not inference
            )
        return get_n_batches(
            self.dataset_len, self.batch_size, n_processes, not inference
        )

    def split(
        self, split: float = 0.2, shuffle: bool = True, seed: int | None = 42
    ) -> tuple[DataLoader[_Data_co], DataLoader[_Data_co]]:
        """Split the samples between two loaders with the same settings.

        Args:
            split: the fraction of samples of the second loader, which gets
                ``int(dataset_len * split)`` samples.
            shuffle: split a seeded permutation of the samples; else the
                second loader gets the last samples.
            seed: the seed of the permutation.

        Returns:
            The loader of the first part and the loader of the second part.

        Raises:
            ValueError: if split is not in [0, 1], or the loader has a
                sampler of the user (it indexes the whole dataset and cannot
                be divided between the two parts).
        """
        if self._user_sampler:
            msg = (
                'Expected a DataLoader without a user sampler: a sampler '
                'indexes the whole dataset and cannot be split; got '
                f'{type(self.sampler).__name__}. Split the dataset and build '
                'a sampler for each part instead.'
            )
            raise ValueError(msg)
        if isinstance(split, bool) or not 0 <= split <= 1:
            msg = f'Expected split in [0, 1], got {split!r}.'
            raise ValueError(msg)
        n_total = self.dataset_len
        n_first = n_total - int(n_total * split)
        indices: Sequence[int]
        indices = Permutation(n_total, seed) if shuffle else range(n_total)
        first = Sliced(indices, slice(None, n_first))
        second = Sliced(indices, slice(n_first, None))
        return self._with_dataset(first), self._with_dataset(second)

    def _with_dataset(self, indices: Sequence[int]) -> DataLoader[_Data_co]:
        subset = data.Subset(self.dataset, indices)
        return DataLoader(
            subset,
            self.batch_size,
            pin_memory=self.pin_memory,
            n_workers=self.n_workers,
            persistent_workers=self.persistent_workers,
        )


def take_from_dataset(
    dataset: data.Dataset[_T],
    n_samples: int = 1,
    preserve_order: bool = True,
    device: torch.device | str = 'cpu',
) -> Any:
    """Collate samples of a dataset into one batch on a device.

    Args:
        dataset: the dataset.
        n_samples: the number of samples (fewer if the dataset is shorter).
        preserve_order: take the first samples; else random ones.
        device: where to move the batch.

    Raises:
        ValueError: if n_samples is not a positive int.
    """
    from drytorch.utils import apply_ops

    positive_int(n_samples, 'n_samples')
    loader = data.DataLoader(
        dataset, batch_size=n_samples, shuffle=not preserve_order
    )
    batch = next(iter(loader))
    return apply_ops.apply_to(batch, torch.device(device))
