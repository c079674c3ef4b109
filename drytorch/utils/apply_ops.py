"""Apply a function to the tensors inside nested structures.

:func:`recursive_apply` is the strict primitive: every leaf must be of the
expected type or a supported container. :func:`apply_to` and
:func:`apply_cpu_detach`, used on every batch, are lenient: leaves that are
not tensors (file names, ids, None) are passed through unchanged.
"""

from __future__ import annotations

import copy
import dataclasses
import enum
import pathlib
import types
from collections.abc import Callable, MutableMapping, MutableSequence
from typing import Any, TypeVar

import torch

from drytorch.utils import errors

__all__ = ['apply', 'apply_cpu_detach', 'apply_to', 'recursive_apply']

_T = TypeVar('_T')
_Obj = TypeVar('_Obj')

# Leaves never walked into: they cannot hold tensors (or must not be copied).
_ATOMIC: frozenset[type] = frozenset(
    {
        str,
        bytes,
        bytearray,
        int,
        float,
        complex,
        bool,
        type(None),
        range,
        slice,
        type,
        types.FunctionType,
        types.BuiltinFunctionType,
        types.MethodType,
        types.ModuleType,
        torch.device,
        torch.dtype,
    }
)
_ATOMIC_BASES = (
    str,
    bytes,
    enum.Enum,
    pathlib.PurePath,
    type,
    torch.nn.Module,
)


def _func_name(func: Callable[..., Any]) -> str:
    return getattr(func, '__name__', repr(func))


def _not_applicable(obj: Any, func: Callable[..., Any]) -> Exception:
    return errors.FuncNotApplicableError(_func_name(func), type(obj).__name__)


def _rebuild_tuple(obj: tuple[Any, ...], items: list[Any]) -> Any:
    cls = type(obj)
    try:
        return cls(*items)
    except TypeError:
        if all(new is old for new, old in zip(items, obj, strict=True)):
            return obj  # nothing changed: no need to rebuild
        raise errors.NamedTupleOnlyError(cls.__name__) from None


class _Applier:
    """One traversal: the leaf type, the function and the mode."""

    __slots__ = ('expected_type', 'func', 'objects', 'stack', 'strict')

    def __init__(
        self,
        expected_type: type[Any],
        func: Callable[[Any], Any],
        *,
        strict: bool,
        objects: bool,
    ) -> None:
        self.expected_type = expected_type
        self.func = func
        self.strict = strict
        self.objects = objects
        self.stack: list[int] = []  # objects being walked (cycle guard)

    def __call__(self, obj: Any) -> Any:
        if isinstance(obj, self.expected_type):
            return self.func(obj)
        cls = type(obj)
        if cls is list:
            return [self(item) for item in obj]
        if cls is tuple:
            return tuple([self(item) for item in obj])
        if cls is dict:
            return {key: self(value) for key, value in obj.items()}
        if cls in _ATOMIC:
            return self._leaf(obj)
        if isinstance(obj, tuple):
            return _rebuild_tuple(obj, [self(item) for item in obj])
        if isinstance(obj, MutableMapping):
            new_mapping = copy.copy(obj)
            for key, value in obj.items():
                new_mapping[key] = self(value)
            return new_mapping
        if isinstance(obj, MutableSequence) and not isinstance(obj, bytearray):
            new_sequence = copy.copy(obj)
            for index, item in enumerate(obj):
                new_sequence[index] = self(item)
            return new_sequence
        if self.objects and not isinstance(obj, _ATOMIC_BASES):
            if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
                return self._walk(obj, self._dataclass)
            if hasattr(obj, '__dict__') or hasattr(type(obj), '__slots__'):
                return self._walk(obj, self._object)
        return self._leaf(obj)

    def _leaf(self, obj: Any) -> Any:
        if self.strict:
            raise _not_applicable(obj, self.func)
        return obj

    def _walk(self, obj: Any, convert: Callable[[Any], Any]) -> Any:
        key = id(obj)
        if key in self.stack:  # a reference cycle: leave it as it is
            return obj
        self.stack.append(key)
        try:
            return convert(obj)
        finally:
            self.stack.pop()

    def _dataclass(self, obj: Any) -> Any:
        # init fields go through replace() (so __post_init__ recomputes
        # the init=False ones); attributes that are no fields at all (set
        # by a hand-written __init__, or later) are converted as in plain
        # objects, as in 0.1.0rc5
        fields = dataclasses.fields(obj)
        changes: dict[str, Any] = {}
        for field in fields:
            if not field.init:
                continue
            value = getattr(obj, field.name)
            new_value = self(value)
            if new_value is not value:
                changes[field.name] = new_value
        names = {field.name for field in fields}
        extra = self._changes(
            {k: v for k, v in _attributes(obj).items() if k not in names}
        )
        if not changes and not extra:
            return obj
        if not changes:
            return _with_attributes(obj, extra)
        try:
            new_obj = dataclasses.replace(obj, **changes)
        except TypeError:  # an __init__ that does not take the fields
            return self._object(obj)
        return _with_attributes(new_obj, extra, copied=True)

    def _changes(self, attributes: dict[str, Any]) -> dict[str, Any]:
        changes: dict[str, Any] = {}
        for name, value in attributes.items():
            new_value = self(value)
            if new_value is not value:
                changes[name] = new_value
        return changes

    def _object(self, obj: Any) -> Any:
        changes = self._changes(_attributes(obj))
        if not changes:
            return obj
        return _with_attributes(obj, changes)


def _with_attributes(
    obj: Any, changes: dict[str, Any], copied: bool = False
) -> Any:
    """A shallow copy of obj (or obj itself if copied) with new attributes."""
    new_obj = obj if copied else copy.copy(obj)
    instance_dict = getattr(new_obj, '__dict__', None)
    for name, value in changes.items():
        if isinstance(instance_dict, dict) and name in instance_dict:
            instance_dict[name] = value  # as copy.copy does: no setattr
        else:
            object.__setattr__(new_obj, name, value)
    return new_obj


def _attributes(obj: Any) -> dict[str, Any]:
    found: dict[str, Any] = dict(getattr(obj, '__dict__', {}))
    for klass in type(obj).__mro__:
        slots = klass.__dict__.get('__slots__', ())
        if isinstance(slots, str):
            slots = (slots,)
        for name in slots:
            if name in ('__dict__', '__weakref__') or name in found:
                continue
            try:
                found[name] = getattr(obj, name)
            except AttributeError:  # slot never assigned
                continue
    return found


def recursive_apply(
    obj: _Obj,
    expected_type: type[_T],
    func: Callable[[_T], Any],
    *,
    strict: bool = True,
) -> _Obj:
    """Apply a function to every leaf of a type inside containers.

    Mutable mappings and sequences are shallow-copied, tuples and
    namedtuples rebuilt; the input is not modified.

    Args:
        obj: a leaf, or a container of leaves.
        expected_type: the type of the leaves to convert.
        func: the conversion.
        strict: raise for leaves of other types; when False they are
            returned unchanged.

    Returns:
        A structure like ``obj`` with the converted leaves.

    Raises:
        FuncNotApplicableError: if ``strict`` and a leaf is neither of
            ``expected_type`` nor a supported container.
        NamedTupleOnlyError: if a tuple subclass with converted elements
            cannot be rebuilt from positional arguments.
    """
    applier = _Applier(expected_type, func, strict=strict, objects=False)
    return applier(obj)


def apply(
    obj: _Obj,
    expected_type: type[_T],
    func: Callable[[_T], Any],
    *,
    strict: bool = True,
) -> _Obj:
    """Like :func:`recursive_apply`, also inside dataclasses and objects.

    Dataclass instances are rebuilt with ``dataclasses.replace`` on their
    init fields; other objects with ``__dict__`` or ``__slots__`` are
    shallow-copied with their attributes converted. Objects in which
    nothing changes are returned as they are.

    Args:
        obj: a leaf, or a structure containing leaves.
        expected_type: the type of the leaves to convert.
        func: the conversion.
        strict: raise for leaves of other types; when False they are
            returned unchanged.

    Returns:
        A structure like ``obj`` with the converted leaves.

    Raises:
        FuncNotApplicableError: if ``strict`` and a leaf cannot be
            converted.
        NamedTupleOnlyError: if a tuple subclass with converted elements
            cannot be rebuilt from positional arguments.
    """
    applier = _Applier(expected_type, func, strict=strict, objects=True)
    return applier(obj)


def apply_to(obj: _Obj, device: torch.device | str | int) -> _Obj:
    """Move every tensor in a structure to a device.

    Leaves that are not tensors (strings, numbers, None, ...) are kept.
    The copy is non-blocking unless the target is the CPU.

    Args:
        obj: a tensor, or a structure containing tensors.
        device: the target device.

    Returns:
        A structure like ``obj`` with the tensors on ``device``.
    """
    if type(device) is not torch.device:
        device = torch.device(device)
    data: Any = obj
    result: Any  # the same structure as obj
    cls = type(data)
    if cls is tuple or cls is list:
        # The usual batch on CPU, or from a loader that moves its batches
        # itself: plain tensors already on the device, which .to() would
        # return as they are after parsing its arguments, once per tensor
        # and per batch. Checked first, with as little work as possible:
        # this runs for every batch. Subclasses may override .to(): they
        # go through it.
        for item in data:
            if type(item) is not torch.Tensor or item.device != device:
                break
        else:
            result = data if cls is tuple else list(data)
            return result
    non_blocking = device.type != 'cpu'
    tensor_type = torch.Tensor
    if isinstance(data, tensor_type):
        result = data.to(device, non_blocking=non_blocking)
        return result
    if cls is tuple or cls is list:
        result = [
            item.to(device, non_blocking=non_blocking)
            if isinstance(item, tensor_type)
            else _move_nested(item, device, non_blocking)
            for item in data
        ]
        if cls is tuple:
            result = tuple(result)
        return result
    return _move_nested(data, device, non_blocking)


def _move_nested(obj: Any, device: torch.device, non_blocking: bool) -> Any:
    def _to_device(tensor: torch.Tensor) -> torch.Tensor:
        return tensor.to(device, non_blocking=non_blocking)

    applier = _Applier(torch.Tensor, _to_device, strict=False, objects=True)
    return applier(obj)


def _cpu_detach(tensor: torch.Tensor) -> torch.Tensor:
    return tensor.detach().cpu()


def apply_cpu_detach(obj: _Obj) -> _Obj:
    """Detach every tensor in a structure and move it to the CPU.

    Leaves that are not tensors (strings, numbers, None, ...) are kept.

    Args:
        obj: a tensor, or a structure containing tensors.

    Returns:
        A structure like ``obj`` with detached CPU tensors.
    """
    data: Any = obj
    if isinstance(data, torch.Tensor):
        result: Any = data.detach().cpu()
        return result
    # A fresh applier per call: its cycle guard must not be shared.
    applier = _Applier(torch.Tensor, _cpu_detach, strict=False, objects=True)
    return applier(obj)
