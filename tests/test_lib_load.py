"""DataLoader: training vs inference passes, split, validation, helpers."""

from __future__ import annotations

import pathlib
from collections.abc import Iterator

import pytest
import torch
from torch.utils import data

from drytorch.core import exceptions
from drytorch.lib.load import (
    DataLoader,
    Permutation,
    Sliced,
    StridedSampler,
    get_n_batches,
    take_from_dataset,
    validate_dataset_length,
)


def _dataset(n: int = 10) -> data.TensorDataset:
    return data.TensorDataset(torch.arange(n))


def _batches(loader: DataLoader) -> list[list[int]]:
    return [batch[0].tolist() for batch in loader]


class _NoLength(data.IterableDataset):
    def __iter__(self) -> Iterator[int]:
        yield 1


@pytest.fixture
def gloo(tmp_path: pathlib.Path) -> Iterator[None]:
    """A one-process torch.distributed group."""
    dist = torch.distributed
    dist.init_process_group(
        'gloo', init_method=f'file://{tmp_path / "store"}', rank=0,
        world_size=1,
    )  # fmt: skip
    try:
        yield
    finally:
        dist.destroy_process_group()


def test_training_pass_drops_last_and_shuffles() -> None:
    torch.manual_seed(0)
    loader = DataLoader(_dataset(), 4)
    assert len(loader) == 2
    batches = _batches(loader)
    assert [len(batch) for batch in batches] == [4, 4]
    flat = [i for batch in batches for i in batch]
    assert len(set(flat)) == 8
    assert flat != sorted(flat)  # seeded: this draw is not in order


def test_inference_pass_keeps_order_and_last_batch() -> None:
    loader = DataLoader(_dataset(), 4)
    with torch.inference_mode():
        assert len(loader) == 3
        assert _batches(loader) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


def test_no_grad_is_not_inference() -> None:
    loader = DataLoader(_dataset(), 4)
    with torch.no_grad():
        assert len(loader) == 2
        assert len(_batches(loader)) == 2


def test_user_sampler_used_in_both_modes() -> None:
    sampler = [9, 8, 7, 6, 5]
    loader = DataLoader(_dataset(), 4, sampler=sampler)
    assert loader.sampler is sampler
    assert len(loader) == 1
    assert _batches(loader) == [[9, 8, 7, 6]]
    with torch.inference_mode():
        assert len(loader) == 2
        assert _batches(loader) == [[9, 8, 7, 6], [5]]


def test_attributes() -> None:
    dataset = _dataset()
    loader = DataLoader(dataset, 4)
    assert loader.batch_size == 4
    assert loader.dataset is dataset
    assert loader.dataset_len == 10
    assert isinstance(loader.sampler, data.RandomSampler)
    assert loader.n_workers == 0
    accelerator = torch.accelerator.is_available()
    assert loader.pin_memory is accelerator
    assert DataLoader(dataset, 4, pin_memory=True).pin_memory is True


@pytest.mark.parametrize('bad', [0, -1, None, True, 2.5, '4'])
def test_batch_size_validated_at_construction(bad: object) -> None:
    # a bad batch size is refused when the loader is built, and the
    # message shows the value given
    with pytest.raises(ValueError, match='batch_size') as info:
        DataLoader(_dataset(), bad)  # type: ignore[arg-type]
    assert repr(bad) in str(info.value)
    assert '{}' not in str(info.value)


@pytest.mark.parametrize('bad', [-1, 1.5, True])
def test_n_workers_validated(bad: object) -> None:
    with pytest.raises(ValueError, match='n_workers'):
        DataLoader(_dataset(), 2, n_workers=bad)  # type: ignore[arg-type]


def test_dataset_without_length() -> None:
    with pytest.raises(exceptions.DatasetHasNoLengthError):
        DataLoader(_NoLength(), 2)
    with pytest.raises(exceptions.DatasetHasNoLengthError):
        validate_dataset_length(_NoLength())
    assert validate_dataset_length(_dataset(7)) == 7


def test_split_keeps_settings() -> None:
    # both parts of a split keep every setting of the loader, not only
    # its batch size
    loader = DataLoader(
        _dataset(), 3, pin_memory=True, n_workers=2, persistent_workers=False
    )
    first, second = loader.split(0.3)
    for part in (first, second):
        assert part.batch_size == 3
        assert part.pin_memory is True
        assert part.n_workers == 2
        assert part.persistent_workers is False
    assert (first.dataset_len, second.dataset_len) == (7, 3)


def test_split_is_a_deterministic_partition() -> None:
    loader = DataLoader(_dataset(), 2)
    first, second = loader.split(0.3, seed=1)
    indices_1 = list(first.dataset.indices)  # type: ignore[attr-defined]
    indices_2 = list(second.dataset.indices)  # type: ignore[attr-defined]
    assert sorted(indices_1 + indices_2) == list(range(10))
    again = [list(p.dataset.indices) for p in loader.split(0.3, seed=1)]
    assert again == [indices_1, indices_2]
    other = [list(p.dataset.indices) for p in loader.split(0.3, seed=2)]
    assert other != [indices_1, indices_2]
    ordered = [list(p.dataset.indices) for p in loader.split(0.3, False)]
    assert ordered == [list(range(7)), [7, 8, 9]]


def test_split_records_how_it_was_made() -> None:
    first, _ = DataLoader(_dataset(22), 4).split(0.25)
    assert repr(first.dataset.indices) == (  # type: ignore[attr-defined]
        'Permutation(size=22, seed=42)[slice(None, 17, None)]'
    )


@pytest.mark.parametrize('bad', [-0.1, 1.5])
def test_split_fraction_validated(bad: float) -> None:
    with pytest.raises(ValueError, match=repr(bad)):
        DataLoader(_dataset(), 2).split(bad)


def test_split_refuses_user_sampler() -> None:
    loader = DataLoader(
        _dataset(), 2, sampler=data.SequentialSampler(range(10))
    )
    with pytest.raises(ValueError, match='SequentialSampler'):
        loader.split()


def test_split_edges() -> None:
    loader = DataLoader(_dataset(), 2)
    first, second = loader.split(0)
    assert (first.dataset_len, second.dataset_len) == (10, 0)
    first, second = loader.split(1)
    assert (first.dataset_len, second.dataset_len) == (0, 10)


def test_loader_reused_and_inference_sampler_cached() -> None:
    loader = DataLoader(_dataset(), 4)
    inference = loader.get_loader(True)
    assert loader.get_loader(True) is inference
    assert isinstance(inference.sampler, data.SequentialSampler)
    assert inference.drop_last is False
    training = loader.get_loader(False)
    assert training.sampler is loader.sampler
    assert training.drop_last is True
    loader.batch_size = 5  # a changed setting rebuilds the loader
    rebuilt = loader.get_loader(True)
    assert rebuilt is not inference
    assert rebuilt.batch_size == 5
    assert rebuilt.sampler is inference.sampler


def test_workers_persist_and_nested_passes_are_complete() -> None:
    loader = DataLoader(_dataset(), 3, n_workers=2, pin_memory=False)
    assert loader.get_loader(False).persistent_workers
    with torch.inference_mode():
        expected = [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
        assert _batches(loader) == expected
        assert _batches(loader) == expected
        for batch in loader:
            assert _batches(loader) == expected
            assert len(batch[0]) in (1, 3)
        # leaving a pass early does not spoil the next one
        for _ in loader:
            break
        assert _batches(loader) == expected


def test_distributed_samplers(gloo: None) -> None:
    loader = DataLoader(_dataset(), 4)
    assert isinstance(loader.sampler, data.DistributedSampler)
    assert loader.sampler.drop_last
    assert len(loader) == 2
    with torch.inference_mode():
        sampler = loader.get_loader(True).sampler
        # in order, no padding (multi-process: tests/test_distributed.py)
        assert isinstance(sampler, StridedSampler)
        assert len(loader) == 3
        assert _batches(loader) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


@pytest.mark.parametrize(
    ('args', 'expected'),
    [
        ((10, 4, 1, True), 2),
        ((10, 4, 1, False), 3),
        ((10, 2, 2, True), 4),  # 2 ranks: 2 batches each
        ((5, 2, 2, False), 4),  # padded to 6 samples: 2 batches each
        ((7, 2, 2, True), 2),
        ((0, 3, 1, False), 0),
        ((3, 4, 1, True), 0),
    ],
)
def test_get_n_batches(
    args: tuple[int, int, int, bool], expected: int
) -> None:
    assert get_n_batches(*args) == expected


def test_get_n_batches_validates() -> None:
    with pytest.raises(ValueError, match='got 0'):
        get_n_batches(10, 0, 1, True)
    with pytest.raises(ValueError, match='n_processes'):
        get_n_batches(10, 2, 0, True)


def test_sliced() -> None:
    sliced = Sliced(range(10), slice(2, 8, 2))
    assert list(sliced) == [2, 4, 6]
    assert len(sliced) == 3
    assert sliced[-1] == 6
    assert list(sliced[1:]) == [4, 6]
    assert repr(sliced) == 'range(0, 10)[slice(2, 8, 2)]'
    with pytest.raises(IndexError):
        sliced[3]


def test_permutation() -> None:
    perm = Permutation(10, seed=3)
    values = list(perm)
    assert sorted(values) == list(range(10))
    assert values == list(Permutation(10, seed=3))
    assert [perm[i] for i in range(10)] == values
    assert all(type(value) is int for value in values)
    assert repr(perm) == 'Permutation(size=10, seed=3)'
    unseeded = Permutation(5)
    assert isinstance(unseeded.seed, int)  # the seed used is recorded
    assert list(unseeded) == list(Permutation(5, unseeded.seed))
    with pytest.raises(ValueError, match='-1'):
        Permutation(-1)


def test_take_from_dataset() -> None:
    batch = take_from_dataset(_dataset(), n_samples=3)
    assert batch[0].tolist() == [0, 1, 2]
    assert batch[0].device == torch.device('cpu')
    torch.manual_seed(0)
    shuffled = take_from_dataset(_dataset(), 4, preserve_order=False)
    assert len(shuffled[0]) == 4
    with pytest.raises(ValueError, match='n_samples'):
        take_from_dataset(_dataset(), 0)
