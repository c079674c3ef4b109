"""Readable, bounded representations of objects for metadata files.

:func:`recursive_repr` turns an object into plain values (dicts, lists,
strings, numbers) that a YAML dumper can write: generic objects become a
dict of their public, non-empty instance attributes, long containers are
elided with :class:`Omitted` markers and arrays are printed compactly as
:class:`LiteralStr` blocks. New types can be supported with
``recursive_repr.register``.

The module globals ``MAX_DEPTH``, ``MAX_REPR_SIZE`` and
``INCLUDE_PROPERTIES`` are read at call time, so they can be changed at run
time.
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import math
import numbers
import re
import sys
import types
import warnings
from typing import Any, ClassVar, overload

import numpy as np
import torch
from torch import nn

from drytorch.utils import errors

__all__ = [
    'INCLUDE_PROPERTIES',
    'MAX_DEPTH',
    'MAX_REPR_SIZE',
    'CreatedAtMixin',
    'DefaultName',
    'LiteralStr',
    'Omitted',
    'extract_metadata',
    'recursive_repr',
]

MAX_DEPTH = 10
"""Nesting levels of objects represented before summarizing them."""

MAX_REPR_SIZE = 10
"""Elements of a container represented before eliding the rest."""

INCLUDE_PROPERTIES = False
"""Whether public properties are represented next to the attributes."""

# The default repr of object (and of generators, ...) ends with the address.
_DEFAULT_REPR_END = re.compile(r' at 0x[0-9a-fA-F]+>$')


class CreatedAtMixin:
    """Remember when an object was created.

    The time is taken in ``__new__``, so it is set even when a subclass's
    ``__init__`` does not call ``super().__init__()``.

    Attributes:
        ts_fmt: the format of :attr:`created_at_str`.
    """

    ts_fmt: ClassVar[str] = '%Y-%m-%d@%Hh%Mm%Ss'
    _created_at: datetime.datetime

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        """Create the instance and record the creation time."""
        parent_new = super().__new__
        if parent_new is object.__new__:
            # object.__new__ rejects the constructor arguments.
            instance = parent_new(cls)
        else:
            instance = parent_new(cls, *args, **kwargs)
        # AttributeError: __slots__ without room for it (set lazily then).
        with contextlib.suppress(AttributeError):
            # object.__setattr__ skips custom ones (e.g. nn.Module's).
            object.__setattr__(
                instance, '_created_at', datetime.datetime.now()
            )
        return instance

    @property
    def created_at(self) -> datetime.datetime:
        """When the object was created."""
        try:
            return self._created_at
        except AttributeError:
            now = datetime.datetime.now()
            object.__setattr__(self, '_created_at', now)
            return now

    @property
    def created_at_str(self) -> str:
        """When the object was created, formatted with :attr:`ts_fmt`."""
        return self.created_at.strftime(self.ts_fmt)


class DefaultName:
    """Descriptor for a name that defaults to the class name.

    Assigning an empty string or None stores the name of the instance's
    class. Names are stored as given: a repeated name is never altered, so
    an object re-created with the same name finds its files again.
    """

    def __init__(self) -> None:
        self._attr = f'_default_name_{id(self):x}'

    def __set_name__(self, owner: type, name: str) -> None:
        self._attr = name

    @overload
    def __get__(self, instance: None, owner: type | None = None) -> Any: ...

    @overload
    def __get__(self, instance: object, owner: type | None = None) -> str: ...

    def __get__(
        self, instance: object | None, owner: type | None = None
    ) -> Any:
        if instance is None:
            return self
        try:
            return instance.__dict__[self._attr]
        except KeyError:
            return type(instance).__name__

    def __set__(self, instance: object, value: str | None) -> None:
        if value is None or value == '':
            value = type(instance).__name__
        elif not isinstance(value, str):
            msg = f'Expected a str or None, got {type(value).__name__}.'
            raise TypeError(msg)
        instance.__dict__[self._attr] = value


class LiteralStr(str):
    """A string to be written as a literal (multi-line) block.

    Concatenation with ``+`` keeps the type.
    """

    __slots__ = ()

    def __add__(self, other: str) -> LiteralStr:
        if not isinstance(other, str):
            return NotImplemented
        return LiteralStr(str.__add__(self, other))

    def __radd__(self, other: str) -> LiteralStr:
        if not isinstance(other, str):
            return NotImplemented
        return LiteralStr(str.__add__(other, self))


class Omitted:
    """Placeholder for elements left out of a representation.

    Attributes:
        count: how many elements were left out (NaN if unknown).
    """

    __slots__ = ('count',)

    def __init__(self, count: float = math.nan) -> None:
        self.count = count

    def __repr__(self) -> str:
        return f'{type(self).__name__}({self.count!r})'

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Omitted):
            return NotImplemented
        if self.count == other.count:
            return True
        return _is_nan(self.count) and _is_nan(other.count)

    def __hash__(self) -> int:
        return hash((Omitted, 'nan' if _is_nan(self.count) else self.count))


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _start_depth(depth: int | None) -> int:
    return MAX_DEPTH if depth is None else depth


def _summary(obj: object) -> str:
    """Return the custom repr of an object, else its class name."""
    if isinstance(obj, nn.Module):
        # A module's repr is its whole architecture: kept elsewhere.
        return type(obj).__name__
    if type(obj).__repr__ is object.__repr__:
        return type(obj).__name__
    text = repr(obj)
    if _DEFAULT_REPR_END.search(text) is not None:
        return type(obj).__name__
    return text


def _is_empty(value: Any) -> bool:
    if isinstance(value, torch.Tensor):
        return value.numel() == 0
    if isinstance(value, np.ndarray):
        return value.size == 0
    if not hasattr(type(value), '__len__'):
        return False
    try:
        return len(value) == 0
    except RecursionError:
        raise
    except Exception:  # a broken __len__ is not empty
        return False


def _public_attributes(obj: object) -> dict[str, Any]:
    """Public instance attributes (``__dict__`` and ``__slots__``)."""
    found: dict[str, Any] = {}
    instance_dict = getattr(obj, '__dict__', None)
    if isinstance(instance_dict, dict):
        for name, value in instance_dict.items():
            if isinstance(name, str) and not name.startswith('_'):
                found[name] = value
    for klass in type(obj).__mro__:
        slots = klass.__dict__.get('__slots__', ())
        if isinstance(slots, str):
            slots = (slots,)
        for name in slots:
            if name.startswith('_') or name in found:
                continue
            try:
                found[name] = getattr(obj, name)
            except AttributeError:  # slot never assigned
                continue
    if INCLUDE_PROPERTIES:
        for klass in type(obj).__mro__:
            for name, attr in vars(klass).items():
                if name.startswith('_') or name in found:
                    continue
                if not isinstance(attr, property):
                    continue
                try:
                    found[name] = getattr(obj, name)
                except RecursionError:
                    raise
                except Exception as error:  # the message stands in
                    found[name] = str(error)
    return found


def _elide(items: list[Any]) -> list[Any]:
    """Keep the first and last elements around an Omitted marker."""
    max_size = MAX_REPR_SIZE
    if len(items) <= max_size:
        return items
    head = max_size // 2
    tail = max_size - head
    omitted = Omitted(len(items) - max_size)
    return [*items[:head], omitted, *items[len(items) - tail :]]


@functools.singledispatch
def recursive_repr(obj: object, *, depth: int | None = None) -> Any:
    """Represent an object with plain, bounded values.

    A generic object becomes ``{'class': <class name>, <attr>: <repr>}``
    with its public instance attributes sorted by name, leaving out the
    ones that are None, empty, or the object itself. With no attribute
    left (or no depth left) it becomes its custom repr, or its class name
    when the repr is the default one.

    Args:
        obj: the object to represent.
        depth: how many nested objects to expand; default ``MAX_DEPTH``.

    Returns:
        Plain values: dict, list, tuple, set, str, numbers, None,
        :class:`LiteralStr` and :class:`Omitted`.

    Raises:
        RecursionError: if a container contains itself.
    """
    current_depth = _start_depth(depth)
    pandas = sys.modules.get('pandas')
    if pandas is not None and isinstance(
        obj, (pandas.DataFrame, pandas.Series)
    ):
        return _repr_pandas(obj, pandas)
    if current_depth <= 0:
        return _summary(obj)
    attributes = _public_attributes(obj)
    represented: dict[str, Any] = {}
    for name in sorted(attributes):
        value = attributes[name]
        if value is None or value is obj or _is_empty(value):
            continue
        represented[name] = recursive_repr(value, depth=current_depth - 1)
    if not represented:
        return _summary(obj)
    return {'class': type(obj).__name__, **represented}


def _repr_pandas(obj: Any, pandas: Any) -> LiteralStr:
    max_size = MAX_REPR_SIZE
    with pandas.option_context(
        'display.max_rows',
        max_size,
        'display.max_columns',
        max_size,
        'display.precision',
        3,
    ):
        return LiteralStr(str(obj))


@recursive_repr.register(type(None))
@recursive_repr.register(Omitted)
def _repr_itself(obj: Any, *, depth: int | None = None) -> Any:
    return obj


@recursive_repr.register(str)
def _repr_str(obj: str, *, depth: int | None = None) -> str:
    if type(obj) is str or isinstance(obj, LiteralStr):
        return obj
    return str.__str__(obj)  # e.g. numpy.str_: a plain str for dumpers


@recursive_repr.register(numbers.Number)
def _repr_number(obj: Any, *, depth: int | None = None) -> Any:
    if isinstance(obj, (bool, complex)):
        return obj
    item = getattr(obj, 'item', None)
    return item() if callable(item) else obj


@recursive_repr.register(np.generic)
def _repr_numpy_scalar(obj: np.generic, *, depth: int | None = None) -> Any:
    return obj.item()


@recursive_repr.register(list)
@recursive_repr.register(tuple)
@recursive_repr.register(set)
@recursive_repr.register(frozenset)
def _repr_collection(obj: Any, *, depth: int | None = None) -> Any:
    current_depth = _start_depth(depth)
    items = [recursive_repr(item, depth=current_depth) for item in obj]
    elided = len(items) > MAX_REPR_SIZE
    items = _elide(items)
    cls = type(obj)
    if cls is list:
        return items
    if cls is tuple:
        return tuple(items)
    if isinstance(obj, tuple):
        if not elided and hasattr(obj, '_fields'):
            return cls(*items)  # namedtuple
        return tuple(items)
    if isinstance(obj, (set, frozenset)):
        try:
            return frozenset(items) if cls is frozenset else set(items)
        except TypeError:  # unhashable representations
            return items
    return items


@recursive_repr.register(dict)
def _repr_dict(obj: dict[Any, Any], *, depth: int | None = None) -> Any:
    current_depth = _start_depth(depth)
    max_size = MAX_REPR_SIZE
    represented: dict[str, Any] = {}
    for index, (key, value) in enumerate(obj.items()):
        if index == max_size:
            represented['...'] = Omitted(len(obj) - max_size)
            break
        represented[str(key)] = recursive_repr(value, depth=current_depth)
    return represented


def _print_limits(ndim: int) -> tuple[int, int]:
    """Elements before summarizing, and edge items per axis."""
    max_size = MAX_REPR_SIZE
    # With MAX_REPR_SIZE = 10: 10 // 2**(ndim - 1) and 10 // 2**ndim.
    return max(1, (2 * max_size) >> ndim), max(1, max_size >> ndim)


def _edge_indices(length: int, edge_items: int) -> list[int] | None:
    """Indices of the printed edges plus one elided element, if shorter."""
    if length <= 2 * edge_items + 1:
        return None
    tail = range(length - edge_items, length)
    return [*range(edge_items), edge_items, *tail]


def _format_array(
    array: np.ndarray, shape: tuple[int, ...], summarize: bool
) -> LiteralStr:
    threshold, edge_items = _print_limits(len(shape))
    with np.printoptions(
        precision=3,
        suppress=True,
        # The array was already cut to its edges when summarized.
        threshold=0 if summarize else threshold,
        edgeitems=edge_items,
    ):
        text = str(array)
    return LiteralStr(f'Array of size {shape}\n{text}')


@recursive_repr.register(torch.Tensor)
def _repr_tensor(obj: torch.Tensor, *, depth: int | None = None) -> Any:
    tensor = obj.detach()
    shape = tuple(tensor.shape)
    if tensor.layout != torch.strided:
        return LiteralStr(f'Tensor of size {shape}, layout {tensor.layout}')
    threshold, edge_items = _print_limits(tensor.ndim)
    summarize = tensor.numel() > threshold
    if summarize:
        # Only the printed edges leave the device, not the whole tensor.
        for dim, length in enumerate(shape):
            indices = _edge_indices(length, edge_items)
            if indices is not None:
                index = torch.tensor(indices, device=tensor.device)
                tensor = tensor.index_select(dim, index)
    try:
        array = tensor.cpu().numpy()
    except (TypeError, RuntimeError, NotImplementedError):
        try:  # dtypes numpy lacks (bfloat16, ...)
            array = tensor.cpu().float().numpy()
        except (TypeError, RuntimeError, NotImplementedError):
            return LiteralStr(f'Tensor of size {shape}, dtype {obj.dtype}')
    return _format_array(array, shape, summarize)


@recursive_repr.register(np.ndarray)
def _repr_array(obj: np.ndarray, *, depth: int | None = None) -> LiteralStr:
    threshold, edge_items = _print_limits(obj.ndim)
    summarize = obj.size > threshold
    array = obj
    if summarize:
        for axis, length in enumerate(obj.shape):
            indices = _edge_indices(length, edge_items)
            if indices is not None:
                array = np.take(array, indices, axis=axis)
    return _format_array(array, obj.shape, summarize)


@recursive_repr.register(type)
@recursive_repr.register(types.FunctionType)
def _repr_name(obj: Any, *, depth: int | None = None) -> str:
    return obj.__name__


@recursive_repr.register(types.MethodType)
def _repr_method(obj: types.MethodType, *, depth: int | None = None) -> str:
    return getattr(obj.__func__, '__qualname__', obj.__func__.__name__)


def extract_metadata(obj: Any, max_depth: int | None = None) -> dict[str, Any]:
    """Describe an object as a dict for metadata files.

    Args:
        obj: the object to describe.
        max_depth: how many nested objects to expand; default MAX_DEPTH.

    Returns:
        ``recursive_repr(obj)`` when it is a dict; otherwise a dict with
        the class name (and the representation if it says more). An empty
        dict when the object contains itself (with a RecursionWarning).
    """
    try:
        represented = recursive_repr(obj, depth=max_depth)
    except RecursionError:
        warnings.warn(errors.RecursionWarning(), stacklevel=2)
        return {}
    if isinstance(represented, dict):
        return represented
    class_name = type(obj).__name__
    if represented == class_name:
        return {'class': class_name}
    return {'class': class_name, 'repr': represented}
