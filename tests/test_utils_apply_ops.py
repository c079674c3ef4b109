"""drytorch.utils.apply_ops: functions applied to the tensors of a structure.

The strict primitive rejects leaves it cannot handle; the functions used on
every batch pass non-tensor leaves (file names, ids, None) through, so a
dataset may return them next to its tensors.
"""

from __future__ import annotations

import collections
import dataclasses
from typing import Any, ClassVar, NamedTuple

import pytest
import torch

from drytorch.core import exceptions
from drytorch.utils.apply_ops import (
    apply,
    apply_cpu_detach,
    apply_to,
    recursive_apply,
)


class Batch(NamedTuple):
    inputs: torch.Tensor
    targets: torch.Tensor


@dataclasses.dataclass
class Output:
    prediction: torch.Tensor
    extra: list[torch.Tensor]


@dataclasses.dataclass(frozen=True)
class FrozenOutput:
    prediction: torch.Tensor
    computed: int = dataclasses.field(init=False, default=0)


class Plain:
    def __init__(self, tensor: torch.Tensor) -> None:
        self.tensor = tensor
        self._private = tensor


class Slotted:
    __slots__ = ('tensor',)

    def __init__(self, tensor: torch.Tensor) -> None:
        self.tensor = tensor


class PairTuple(tuple):
    """A tuple subclass that cannot be rebuilt from positional args."""

    def __new__(cls, items: Any) -> PairTuple:
        return super().__new__(cls, items)


class RecordingTensor(torch.Tensor):
    """A tensor that records the keyword arguments of its ``to`` calls."""

    calls: ClassVar[list[dict[str, Any]]] = []

    def to(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        RecordingTensor.calls.append(kwargs)
        return super().to(*args, **kwargs)


def double(tensor: torch.Tensor) -> torch.Tensor:
    return tensor * 2


# ----------------------------------------------------- recursive_apply


class TestRecursiveApply:
    def test_leaf(self) -> None:
        result = recursive_apply(torch.ones(2), torch.Tensor, double)
        assert torch.equal(result, torch.full((2,), 2.0))

    def test_containers_rebuilt_and_input_untouched(self) -> None:
        ones = torch.ones(1)
        data = {'a': [ones, (ones, ones)], 'b': {'c': ones}}
        result = recursive_apply(data, torch.Tensor, double)
        assert result is not data
        assert result['a'] is not data['a']
        assert type(result['a'][1]) is tuple
        assert torch.equal(result['a'][1][1], torch.full((1,), 2.0))
        assert torch.equal(result['b']['c'], torch.full((1,), 2.0))
        assert data['a'][0] is ones  # the input is not modified

    def test_namedtuple_rebuilt(self) -> None:
        batch = Batch(torch.ones(1), torch.zeros(1))
        result = recursive_apply(batch, torch.Tensor, double)
        assert type(result) is Batch
        assert torch.equal(result.inputs, torch.full((1,), 2.0))

    def test_other_mutable_containers_copied(self) -> None:
        ordered = collections.OrderedDict(x=torch.ones(1))
        result = recursive_apply(ordered, torch.Tensor, double)
        assert type(result) is collections.OrderedDict
        assert result is not ordered
        assert torch.equal(result['x'], torch.full((1,), 2.0))
        user_list = collections.UserList([torch.ones(1)])
        new_list = recursive_apply(user_list, torch.Tensor, double)
        assert type(new_list) is collections.UserList
        assert torch.equal(new_list[0], torch.full((1,), 2.0))

    def test_strict_rejects_other_leaves(self) -> None:
        with pytest.raises(exceptions.FuncNotApplicableError, match='str'):
            recursive_apply([torch.ones(1), 'x'], torch.Tensor, double)
        with pytest.raises(TypeError):  # also a builtin TypeError
            recursive_apply(3, torch.Tensor, double)

    def test_lenient_mode_keeps_other_leaves(self) -> None:
        result = recursive_apply(
            [torch.ones(1), 'x', 3, None], torch.Tensor, double, strict=False
        )
        assert result[1:] == ['x', 3, None]
        assert torch.equal(result[0], torch.full((1,), 2.0))

    def test_tuple_subclass_not_rebuildable(self) -> None:
        with pytest.raises(exceptions.NamedTupleOnlyError):
            recursive_apply(
                PairTuple([torch.ones(1), torch.ones(1)]), torch.Tensor, double
            )

    def test_unchanged_tuple_subclass_kept(self) -> None:
        size = torch.Size([2, 3])
        result = recursive_apply([size], torch.Tensor, double, strict=False)
        assert result[0] is size

    def test_no_objects(self) -> None:
        with pytest.raises(exceptions.FuncNotApplicableError):
            recursive_apply(Plain(torch.ones(1)), torch.Tensor, double)


# ---------------------------------------------------------------- apply


class TestApply:
    def test_dataclass_replaced(self) -> None:
        output = Output(torch.ones(1), [torch.ones(1)])
        result = apply(output, torch.Tensor, double)
        assert type(result) is Output
        assert result is not output
        assert torch.equal(result.prediction, torch.full((1,), 2.0))
        assert torch.equal(result.extra[0], torch.full((1,), 2.0))
        assert torch.equal(output.prediction, torch.ones(1))

    def test_frozen_dataclass_init_fields(self) -> None:
        frozen = FrozenOutput(torch.ones(1))
        result = apply(frozen, torch.Tensor, double)
        assert torch.equal(result.prediction, torch.full((1,), 2.0))
        assert result.computed == 0

    def test_plain_objects_copied(self) -> None:
        plain = Plain(torch.ones(1))
        result = apply(plain, torch.Tensor, double)
        assert result is not plain
        assert torch.equal(result.tensor, torch.full((1,), 2.0))
        assert torch.equal(result._private, torch.full((1,), 2.0))
        assert torch.equal(plain.tensor, torch.ones(1))
        slotted = apply(Slotted(torch.ones(1)), torch.Tensor, double)
        assert torch.equal(slotted.tensor, torch.full((1,), 2.0))

    def test_strict_rejects_string_attribute(self) -> None:
        @dataclasses.dataclass
        class Named:
            tensor: torch.Tensor
            name: str

        with pytest.raises(exceptions.FuncNotApplicableError):
            apply(Named(torch.ones(1), 'a'), torch.Tensor, double)
        lenient = apply(
            Named(torch.ones(1), 'a'), torch.Tensor, double, strict=False
        )
        assert lenient.name == 'a'

    def test_cycles_do_not_recurse_forever(self) -> None:
        node = Plain(torch.ones(1))
        node.parent = node  # type: ignore[attr-defined]
        result = apply(node, torch.Tensor, double, strict=False)
        assert torch.equal(result.tensor, torch.full((1,), 2.0))


# ------------------------------------------------------------- apply_to


class TestApplyTo:
    def test_bare_tensor(self) -> None:
        tensor = torch.ones(2)
        assert apply_to(tensor, 'cpu') is tensor  # .to is a no-op
        moved = apply_to(tensor, torch.device('meta'))
        assert moved.device.type == 'meta'

    def test_tuple_and_list_of_tensors(self) -> None:
        batch = (torch.ones(1), torch.zeros(1))
        moved = apply_to(batch, 'meta')
        assert type(moved) is tuple
        assert all(t.device.type == 'meta' for t in moved)
        as_list = apply_to([torch.ones(1)], 'meta')
        assert type(as_list) is list
        assert as_list[0].device.type == 'meta'

    def test_namedtuple_and_dataclass(self) -> None:
        batch = Batch(torch.ones(1), torch.ones(1))
        moved = apply_to(batch, 'meta')
        assert type(moved) is Batch
        assert moved.targets.device.type == 'meta'
        output = apply_to(Output(torch.ones(1), []), 'meta')
        assert output.prediction.device.type == 'meta'

    def test_non_tensor_leaves_pass_through(self) -> None:
        # a batch with file names and ids moves to the device: the strings,
        # ints and None are kept as they are, not refused
        batch = (
            torch.ones(1),
            {'path': 'img_001.png', 'index': 7, 'mask': None},
            ['a.png', 'b.png'],
        )
        moved = apply_to(batch, 'meta')
        assert moved[0].device.type == 'meta'
        assert moved[1] == {'path': 'img_001.png', 'index': 7, 'mask': None}
        assert moved[2] == ['a.png', 'b.png']

    def test_non_blocking_only_off_cpu(self) -> None:
        RecordingTensor.calls.clear()
        tensor = torch.ones(1).as_subclass(RecordingTensor)
        apply_to([tensor], 'cpu')
        apply_to([tensor], 'meta')
        flags = [call.get('non_blocking') for call in RecordingTensor.calls]
        assert flags == [False, True]


# ----------------------------------------------------- apply_cpu_detach


class TestApplyCpuDetach:
    def test_detaches(self) -> None:
        tensor = torch.ones(2, requires_grad=True) * 3
        result = apply_cpu_detach(tensor)
        assert not result.requires_grad
        assert result.device.type == 'cpu'

    def test_structures_and_non_tensor_leaves(self) -> None:
        # stored outputs keep their non-tensor leaves too
        tensor = torch.ones(1, requires_grad=True) * 2
        output = Output(tensor, [tensor])
        stored = apply_cpu_detach({'out': output, 'names': ('a', 'b')})
        assert not stored['out'].prediction.requires_grad
        assert not stored['out'].extra[0].requires_grad
        assert stored['names'] == ('a', 'b')
