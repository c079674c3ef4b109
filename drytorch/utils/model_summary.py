"""A summary of a module: its layers, parameter counts and sizes.

:func:`summarize` describes a module without running it: one row per
sub-module (qualified name, type, nesting depth, parameters and trainable
parameters of its sub-tree), the totals (total, trainable and frozen
parameters) and the memory of the parameters and buffers per dtype. The
output shapes come later, from the first real forward pass (see
:meth:`ModelSummary.with_shapes` and :class:`drytorch.lib.models.Model`):
describing a module never calls it.

Shared parameters and shared sub-modules are counted once. Parameters of
lazy modules that have not run yet have no size: they count as zero and
:attr:`ModelSummary.uninitialized` says how many there are.

The summary is a plain frozen value (strings, ints and tuples), so that it
can travel on an event and be drawn by any tracker.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

__all__ = [
    'MAX_ROWS',
    'DtypeSize',
    'LayerSummary',
    'ModelSummary',
    'describe_shape',
    'summarize',
]

MAX_ROWS = 300
"""Sub-modules listed before the rest is left out (the totals stay exact)."""

_MAX_ITEMS = 4  # elements of a container output described
_MAX_NESTING = 3  # container levels of an output described


@dataclasses.dataclass(frozen=True, slots=True)
class LayerSummary:
    """One sub-module.

    Attributes:
        name: the qualified name (``encoder.0.conv``).
        type_name: the class name.
        depth: 1 for a child of the root, 2 for a grandchild, ...
        params: the parameters of its sub-tree.
        trainable: the parameters of its sub-tree that require gradients.
        n_children: its direct sub-modules (0 for a leaf).
        output_shape: the shape of its output in the first forward pass;
            empty if unknown (not run yet, or not called by the forward).
    """

    name: str
    type_name: str
    depth: int
    params: int
    trainable: int
    n_children: int = 0
    output_shape: str = ''


@dataclasses.dataclass(frozen=True, slots=True)
class DtypeSize:
    """Memory of the tensors of one dtype.

    Attributes:
        dtype: the dtype's name (``float32``).
        params: parameter elements of this dtype.
        buffers: buffer elements of this dtype.
        n_bytes: bytes of those parameters and buffers.
    """

    dtype: str
    params: int
    buffers: int
    n_bytes: int


@dataclasses.dataclass(frozen=True, slots=True)
class ModelSummary:
    """What a module holds, layer by layer.

    Attributes:
        class_name: the module's class name.
        layers: the listed sub-modules, depth first (at most ``max_rows``).
        n_modules: all sub-modules, listed or not.
        n_eval: the sub-modules in eval mode (e.g. frozen batch norms).
        total_params: the parameters, each counted once.
        trainable_params: the parameters that require gradients.
        sizes: memory per dtype, largest first.
        uninitialized: lazy parameters not materialized yet (counted 0).
        input_shape: the shape of the input of the first forward pass.
        output_shape: the shape of the output of the first forward pass.
        details: further (label, text) facts, e.g. device and precision.
    """

    class_name: str
    layers: tuple[LayerSummary, ...] = ()
    n_modules: int = 0
    n_eval: int = 0
    total_params: int = 0
    trainable_params: int = 0
    sizes: tuple[DtypeSize, ...] = ()
    uninitialized: int = 0
    input_shape: str = ''
    output_shape: str = ''
    details: tuple[tuple[str, str], ...] = ()

    @property
    def frozen_params(self) -> int:
        """The parameters that do not require gradients."""
        return self.total_params - self.trainable_params

    @property
    def total_bytes(self) -> int:
        """Bytes of all parameters and buffers."""
        return sum(size.n_bytes for size in self.sizes)

    @property
    def n_hidden(self) -> int:
        """Sub-modules left out of :attr:`layers`."""
        return self.n_modules - len(self.layers)

    @property
    def has_shapes(self) -> bool:
        """Whether a forward pass has filled in the output shapes."""
        return bool(self.output_shape)

    def with_shapes(
        self,
        shapes: Mapping[str, str],
        input_shape: str = '',
        output_shape: str = '',
    ) -> ModelSummary:
        """The same summary with the shapes of a forward pass filled in.

        Args:
            shapes: output shape by qualified sub-module name.
            input_shape: the shape of the model's input.
            output_shape: the shape of the model's output.
        """
        layers = tuple(
            dataclasses.replace(layer, output_shape=shapes[layer.name])
            if layer.name in shapes
            else layer
            for layer in self.layers
        )
        return dataclasses.replace(
            self,
            layers=layers,
            input_shape=input_shape,
            output_shape=output_shape,
        )

    def with_details(self, *details: tuple[str, str]) -> ModelSummary:
        """The same summary with more (label, text) facts."""
        return dataclasses.replace(self, details=(*self.details, *details))


def _is_lazy(tensor: torch.Tensor) -> bool:
    return bool(nn.parameter.is_lazy(tensor))


def _numel(tensor: torch.Tensor) -> int:
    return 0 if _is_lazy(tensor) else tensor.numel()


def _dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix('torch.')


def _subtree_counts(module: nn.Module) -> list[int]:
    total = trainable = 0
    for param in module.parameters():  # each parameter once
        count = _numel(param)
        total += count
        if param.requires_grad:
            trainable += count
    return [total, trainable]


def _all_counts(entries: list[tuple[str, nn.Module]]) -> list[list[int]]:
    """[parameters, trainable] of each module's sub-tree (pre-order list).

    One pass over the parameters, summed up the tree: linear in the size
    of the model. Parameters shared between modules (tied weights) count
    in every sub-tree that holds them, as each module's own
    ``parameters()`` would count them.
    """
    seen: set[int] = set()
    shared = False
    sums: list[list[int]] = []
    for _, sub in entries:
        total = trainable = 0
        for param in sub.parameters(recurse=False):
            shared = shared or id(param) in seen
            seen.add(id(param))
            count = _numel(param)
            total += count
            if param.requires_grad:
                trainable += count
        sums.append([total, trainable])
    if shared:  # rare: count each sub-tree on its own
        return [_subtree_counts(sub) for _, sub in entries]
    # pre-order: every module comes after its parent, so adding each
    # module to its parent, last first, sums up whole sub-trees
    index = {name: position for position, (name, _) in enumerate(entries)}
    for position in range(len(entries) - 1, 0, -1):
        parent = sums[index[entries[position][0].rpartition('.')[0]]]
        parent[0] += sums[position][0]
        parent[1] += sums[position][1]
    return sums


def _sizes(module: nn.Module) -> tuple[tuple[DtypeSize, ...], int]:
    per_dtype: dict[str, list[int]] = {}
    uninitialized = 0
    tensors: list[tuple[torch.Tensor, int]] = [
        (param, 0) for param in module.parameters()
    ]
    tensors += [(buffer, 1) for buffer in module.buffers()]
    for tensor, kind in tensors:
        if _is_lazy(tensor):
            uninitialized += 1
            continue
        entry = per_dtype.setdefault(_dtype_name(tensor.dtype), [0, 0, 0])
        count = tensor.numel()
        entry[kind] += count
        entry[2] += count * tensor.element_size()
    sizes = [
        DtypeSize(dtype, params, buffers, n_bytes)
        for dtype, (params, buffers, n_bytes) in per_dtype.items()
    ]
    sizes.sort(key=lambda size: (-size.n_bytes, size.dtype))
    return tuple(sizes), uninitialized


def summarize(module: nn.Module, max_rows: int = MAX_ROWS) -> ModelSummary:
    """Describe a module without running it.

    Args:
        module: the module.
        max_rows: the most sub-modules listed (the totals count them all).

    Returns:
        The summary, without output shapes.

    Raises:
        TypeError: if ``module`` is not an nn.Module or ``max_rows`` not an
            int.
        ValueError: if ``max_rows`` is negative.
    """
    if not isinstance(module, nn.Module):
        msg = f'Expected an nn.Module, got {type(module).__name__}.'
        raise TypeError(msg)
    if isinstance(max_rows, bool) or not isinstance(max_rows, int):
        msg = f'Expected an int max_rows, got {max_rows!r}.'
        raise TypeError(msg)
    if max_rows < 0:
        msg = f'Expected max_rows >= 0, got {max_rows}.'
        raise ValueError(msg)
    entries = list(module.named_modules())  # the root first, pre-order
    counts = _all_counts(entries)
    layers = [
        LayerSummary(
            name=name,
            type_name=type(sub).__name__,
            depth=name.count('.') + 1,
            params=params,
            trainable=trainable,
            n_children=sum(1 for _ in sub.children()),
        )
        for (name, sub), (params, trainable) in zip(
            entries[1 : max_rows + 1], counts[1 : max_rows + 1], strict=True
        )
    ]
    n_eval = sum(not sub.training for _, sub in entries[1:])
    total, trainable = counts[0]
    sizes, uninitialized = _sizes(module)
    return ModelSummary(
        class_name=type(module).__name__,
        layers=tuple(layers),
        n_modules=len(entries) - 1,
        n_eval=n_eval,
        total_params=total,
        trainable_params=trainable,
        sizes=sizes,
        uninitialized=uninitialized,
    )


def describe_shape(value: Any, nesting: int = 0) -> str:
    """The shape of a forward's input or output, as short text.

    A tensor is written ``[64, 10]``; tuples ``(a, b)``, lists ``[a, b]``
    and mappings ``{key: a}`` of them are described element by element (a
    few elements, a few levels); anything else by its class name.
    """
    if isinstance(value, torch.Tensor):
        return '[' + ', '.join(str(int(size)) for size in value.shape) + ']'
    if value is None:
        return 'None'
    if nesting >= _MAX_NESTING:
        return '…'
    if isinstance(value, Mapping):
        items = list(value.items())
        parts = [
            f'{key}: {describe_shape(item, nesting + 1)}'
            for key, item in items[:_MAX_ITEMS]
        ]
        if len(items) > _MAX_ITEMS:
            parts.append('…')
        return '{' + ', '.join(parts) + '}'
    if isinstance(value, tuple | list):
        parts = [
            describe_shape(item, nesting + 1) for item in value[:_MAX_ITEMS]
        ]
        if len(value) > _MAX_ITEMS:
            parts.append('…')
        if isinstance(value, list):
            return '[' + ', '.join(parts) + ']'
        return '(' + ', '.join(parts) + (',)' if len(parts) == 1 else ')')
    return type(value).__name__
