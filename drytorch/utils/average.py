"""Running averages of named values, and filters for value histories.

An averager keeps, for every key, the sum of the values it was given
(``aggregate``) and how many samples they stand for (``counts``);
:meth:`AbstractAverager.reduce` divides one by the other.

:class:`TorchAverager` is built for the training loop: adding a batch of
tensors never synchronises the host with the device. Sums stay tensors on
the device of the values and counts are Python integers (a tensor's number
of elements is known on the host), so the values reach the host only when
somebody converts the reduced tensors, once per epoch.

:func:`get_moving_average` and :func:`get_trailing_mean` return filters
that turn a history of floats into one value (e.g. to smooth a monitored
metric); they are defined in :mod:`drytorch.utils.averages` and importable
from here too, their path in 0.1.0rc5.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Generic, NoReturn, TypeVar

import torch
import torch.distributed as dist

# the filters' path of 0.1.0rc5; _MovingAverage and _TrailingMean too, so
# that filters pickled under this module's name still load
from drytorch.utils.averages import (
    _MovingAverage,  # noqa: F401
    _TrailingMean,  # noqa: F401
    get_moving_average,
    get_trailing_mean,
)

if TYPE_CHECKING:
    from collections.abc import KeysView

    from typing_extensions import Self

__all__ = [
    'AbstractAverager',
    'Averager',
    'TorchAverager',
    'get_moving_average',
    'get_trailing_mean',
]

_T = TypeVar('_T', float, torch.Tensor)

# Summing thousands of half-precision values in their own dtype overflows or
# loses the small contributions; sums of these dtypes are kept in float32.
_UPCAST_DTYPES = frozenset({torch.float16, torch.bfloat16})


class AbstractAverager(Generic[_T], metaclass=abc.ABCMeta):
    """Sums and sample counts of named values.

    Add a mapping of values or another averager with ``+`` or ``+=``. The
    first update fixes the keys: a later update may omit some of them, but a
    new key raises ``KeyError``.

    Attributes:
        aggregate: the sum of the values added so far, by key.
        counts: how many samples the sums stand for, by key.
    """

    __hash__ = None  # type: ignore[assignment]

    def __init__(self, **kwargs: _T) -> None:
        """Create the averager.

        Args:
            kwargs: optional first values, added as one update.
        """
        self.aggregate: dict[str, _T] = {}
        self.counts: dict[str, int] = {}
        self._reduced: dict[str, _T] | None = None
        if kwargs:
            self += kwargs

    @abc.abstractmethod
    def _digest(self, value: Any) -> tuple[_T, int]:
        """Return the sum of a value and the number of samples it holds."""

    @staticmethod
    @abc.abstractmethod
    def _equal(first: _T, second: _T) -> bool:
        """Whether two sums are equal."""

    def __iadd__(self, other: AbstractAverager[_T] | Mapping[str, _T]) -> Self:
        """Add a mapping of values or the state of another averager."""
        if isinstance(other, AbstractAverager):
            self._merge(other)
            return self
        aggregate = self.aggregate
        counts = self.counts
        if counts:
            if not other.keys() <= counts.keys():
                _raise_new_keys(counts, other)
            for key, value in other.items():
                total, count = self._digest(value)
                aggregate[key] = aggregate[key] + total
                counts[key] += count
        else:
            for key, value in other.items():
                aggregate[key], counts[key] = self._digest(value)
        self._reduced = None
        return self

    def __add__(self, other: AbstractAverager[_T] | Mapping[str, _T]) -> Self:
        """Return a new averager with the state of both operands."""
        if not isinstance(other, AbstractAverager | Mapping):
            return NotImplemented
        new = type(self)()
        new.aggregate = dict(self.aggregate)
        new.counts = dict(self.counts)
        new += other
        return new

    def __bool__(self) -> bool:
        """Whether any sample was added (on any process, after all_reduce).

        A process that got no sample holds the averages of the others once
        :meth:`all_reduce` has run, and counts as holding samples until the
        next update or clear.
        """
        return any(self.counts.values()) or bool(self._reduced)

    def __eq__(self, other: object) -> bool:
        """Equal when both have the same keys, sums and counts."""
        if not isinstance(other, AbstractAverager):
            return NotImplemented
        if self.counts != other.counts:
            return False
        return all(
            self._equal(value, other.aggregate[key])
            for key, value in self.aggregate.items()
        )

    def __repr__(self) -> str:
        return f'{type(self).__name__}(keys={list(self.counts)})'

    def keys(self) -> KeysView[str]:
        """Return the keys seen so far."""
        return self.counts.keys()

    def clear(self) -> None:
        """Forget every value and key."""
        self.aggregate = {}
        self.counts = {}
        self._reduced = None

    def reduce(self) -> dict[str, _T]:
        """Return the average of every key (sum / count).

        The result is cached until the next update.
        """
        if self._reduced is None:
            counts = self.counts
            self._reduced = {
                key: total / counts[key]
                for key, total in self.aggregate.items()
            }
        return dict(self._reduced)

    def all_reduce(self) -> dict[str, _T]:
        """Return the averages over every process.

        The base implementation only sees this process and equals
        :meth:`reduce`.
        """
        return self.reduce()

    def _merge(self, other: AbstractAverager[_T]) -> None:
        aggregate = self.aggregate
        counts = self.counts
        if counts:
            if not other.counts.keys() <= counts.keys():
                _raise_new_keys(counts, other.counts)
            for key, total in other.aggregate.items():
                aggregate[key] = aggregate[key] + total
                counts[key] += other.counts[key]
        else:
            self.aggregate = dict(other.aggregate)
            self.counts = dict(other.counts)
        self._reduced = None


class Averager(AbstractAverager[float]):
    """Averager of Python numbers: each value counts as one sample."""

    def _digest(self, value: Any) -> tuple[float, int]:
        return value, 1

    @staticmethod
    def _equal(first: float, second: float) -> bool:
        return first == second


class TorchAverager(AbstractAverager[torch.Tensor]):
    """Averager of tensors: a tensor counts as ``numel()`` samples.

    A scalar counts as one sample and a per-sample vector as one sample per
    element, so averaging vectors gives the exact per-sample mean across
    batches of different sizes. Updates never synchronise the host with the
    device: sums are detached tensors on the values' device (half-precision
    values are summed in float32) and counts are Python integers.

    Adding a mapping is on the training loop's path, where every tensor
    operation costs microseconds of dispatch. A scalar that a differentiable
    operation has just produced (the loss of the batch) is therefore only
    kept, detached, and the kept scalars are summed with one operation when
    :attr:`aggregate` is read (by :meth:`reduce`, a merge or a comparison),
    or every ``fold_every`` updates so that the memory kept stays bounded.
    Other values are summed when added: a vector or a view would keep a
    larger tensor alive, and a tensor computed without autograd may be a
    buffer that its owner updates in place.
    """

    fold_every: int = 256

    @property
    def aggregate(self) -> dict[str, torch.Tensor]:
        """The sum of the values added so far, by key."""
        if self._pending:
            self._fold()
        return self._sums

    @aggregate.setter
    def aggregate(self, sums: dict[str, torch.Tensor]) -> None:
        self._sums = sums
        self._pending: dict[str, list[torch.Tensor]] = {}
        self._n_pending = 0  # updates since the last fold

    def __iadd__(
        self,
        other: AbstractAverager[torch.Tensor] | Mapping[str, torch.Tensor],
    ) -> Self:
        """Add a mapping of values or the state of another averager."""
        # a dict first: it is the update of every batch, and checking an
        # abstract base class costs a call into Python
        if type(other) is not dict and isinstance(other, AbstractAverager):
            return super().__iadd__(other)
        counts = self.counts
        if counts and not other.keys() <= counts.keys():
            _raise_new_keys(counts, other)
        pending = self._pending
        for key, value in other.items():
            tensor = (
                value
                if isinstance(value, torch.Tensor)
                else torch.as_tensor(value)
            )
            # not a leaf: the fresh result of a differentiable operation
            if (
                tensor.ndim == 0
                and not tensor.is_leaf
                and not tensor._is_view()
            ):
                kept = tensor.detach()
                count = 1
            else:
                kept, count = self._digest(tensor)
            counts[key] = counts.get(key, 0) + count
            if key in pending:
                pending[key].append(kept)
            else:
                pending[key] = [kept]
        self._reduced = None
        self._n_pending += 1
        if self._n_pending >= self.fold_every:
            self._fold()
        return self

    def _fold(self) -> None:
        """Add the kept scalars to the sums, one operation per key."""
        sums = self._sums
        for key, kept in self._pending.items():
            stacked = torch.stack(kept)
            if stacked.dtype in _UPCAST_DTYPES:
                total = stacked.sum(dtype=torch.float32)
            else:
                total = stacked.sum()
            previous = sums.get(key)
            sums[key] = total if previous is None else previous + total
        self._pending = {}
        self._n_pending = 0

    def _digest(self, value: Any) -> tuple[torch.Tensor, int]:
        if not isinstance(value, torch.Tensor):
            value = torch.as_tensor(value)
        value = value.detach()
        if value.dtype in _UPCAST_DTYPES:
            return value.sum(dtype=torch.float32), value.numel()
        return value.sum(), value.numel()

    @staticmethod
    def _equal(first: torch.Tensor, second: torch.Tensor) -> bool:
        return torch.equal(first, second.to(first.device))

    def all_reduce(self) -> dict[str, torch.Tensor]:
        """Return the averages of sums and counts over every process.

        With ``torch.distributed`` initialized, the sums and the counts of
        every key are all-reduced across processes; every process must call
        this method, including those that got no sample (in a distributed
        evaluation, a process may get fewer samples than another, or none).
        Otherwise this equals :meth:`reduce`. The local state is left as it
        is, so the call can be repeated; its result is what :meth:`reduce`
        returns until the next update.

        Raises:
            ValueError: if two processes hold different keys.
        """
        if not (dist.is_available() and dist.is_initialized()):
            return self.reduce()
        keys = sorted(self.counts)
        totals = [self.aggregate[key] for key in keys]
        dtype = torch.float32
        for total in totals:
            dtype = torch.promote_types(dtype, total.dtype)
        device = totals[0].device if totals else _collective_device()
        if not _same_number_of_keys(len(keys), device):
            keys, dtype, device = _agreed_keys(keys, dtype, device)
            if not keys:
                return {}
            if not totals:  # this process got no sample
                zero = torch.zeros((), dtype=dtype, device=device)
                totals = [zero] * len(keys)
        if not keys:
            return {}
        sums = torch.stack([t.to(device=device, dtype=dtype) for t in totals])
        counts = torch.tensor(
            [self.counts.get(key, 0) for key in keys], device=device
        )
        dist.all_reduce(sums)
        dist.all_reduce(counts)
        averages = sums / counts
        self._reduced = dict(zip(keys, averages.unbind(), strict=True))
        return dict(self._reduced)


def _collective_device() -> torch.device:
    """Where a tensor must be for a collective of the default group."""
    if dist.get_backend() == 'gloo':
        return torch.device('cpu')
    accelerator = getattr(torch, 'accelerator', None)
    if accelerator is not None and accelerator.is_available():
        current = accelerator.current_accelerator()
        if current is not None:
            index = accelerator.current_device_index()
            return torch.device(current.type, index)
    return torch.device('cpu')


def _same_number_of_keys(n_keys: int, device: torch.device) -> bool:
    """Whether every process holds ``n_keys`` keys (one collective)."""
    # the maximum of n and of -n gives the largest and the smallest n
    bounds = torch.tensor([n_keys, -n_keys], device=device)
    dist.all_reduce(bounds, op=dist.ReduceOp.MAX)
    largest, smallest = bounds.tolist()
    return largest == -smallest


def _agreed_keys(
    keys: list[str], dtype: torch.dtype, device: torch.device
) -> tuple[list[str], torch.dtype, torch.device]:
    """The keys and sum dtype of the processes that got samples.

    Rare path (a process without samples): the key lists are exchanged.
    """
    gathered: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, (keys, str(dtype).removeprefix('torch.')))
    key_sets = {tuple(k) for k, _ in gathered if k}
    if len(key_sets) > 1:
        msg = (
            'Expected every process to hold the same keys, got '
            f'{sorted(key_sets)}.'
        )
        raise ValueError(msg)
    if not key_sets:
        return [], dtype, device
    for _, name in gathered:
        dtype = torch.promote_types(dtype, getattr(torch, name))
    return list(next(iter(key_sets))), dtype, device


def _raise_new_keys(
    expected: Mapping[str, Any], got: Mapping[str, Any]
) -> NoReturn:
    new_keys = sorted(set(got) - set(expected))
    msg = (
        f'Expected keys among {sorted(expected)}, got {sorted(got)}: '
        f'keys {new_keys} appeared after the first update.'
    )
    raise KeyError(msg)
