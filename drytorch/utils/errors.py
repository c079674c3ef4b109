"""The root of drytorch's errors and warnings, and those raised by utils.

``drytorch.utils`` sits below the core and imports nothing from it, so the
errors its helpers raise are defined here, with the two roots that every
drytorch error and warning derives from. Users import all of them from
:mod:`drytorch.core.exceptions`, which re-exports these very classes: there
is one ``DryTorchError`` and one ``InvalidNameError``, whichever path names
them. Their ``__module__`` is that public path, so tracebacks and pickles
name the classes as before.
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    'DryTorchError',
    'DryTorchWarning',
    'EmptyHistoryError',
    'FuncNotApplicableError',
    'InvalidNameError',
    'NamedTupleOnlyError',
    'RecursionWarning',
]

PUBLIC_MODULE = 'drytorch.core.exceptions'


class _Formatted:
    """Mixin: keep the constructor arguments and format the message."""

    msg_fmt: ClassVar[str] = ''
    fields: ClassVar[tuple[str, ...]] = ()

    def _format(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
        values = dict(zip(self.fields, args, strict=False))
        values.update(kwargs)
        defaults = getattr(self, '_defaults', {})
        for field in self.fields:
            if field not in values:
                if field not in defaults:
                    cls = type(self).__name__
                    msg = f'{cls} expects argument {field!r}.'
                    raise TypeError(msg)
                values[field] = defaults[field]
        for field, value in values.items():
            object.__setattr__(self, field, value)
        return self.msg_fmt.format(**values)

    def __reduce__(self) -> tuple[Any, ...]:
        # rebuilt from the constructor arguments: errors cross process
        # boundaries (DataLoader workers, distributed ranks) intact
        args = tuple(getattr(self, field) for field in self.fields)
        return (type(self), args)


class DryTorchError(_Formatted, Exception):
    """Root of every error raised by drytorch."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(self._format(args, kwargs))


class DryTorchWarning(_Formatted, UserWarning):
    """Root of every warning issued by drytorch."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(self._format(args, kwargs))


class EmptyHistoryError(DryTorchError, ValueError, ZeroDivisionError):
    """A filter of monitored values got no value to filter.

    Also a ZeroDivisionError, as the mean of no values was in 0.1.0rc5.
    """

    fields = ('filter_name',)
    msg_fmt = (
        'Expected a non-empty sequence of values for {filter_name}, got none.'
    )


class FuncNotApplicableError(DryTorchError, TypeError):
    """A function cannot be applied to a leaf of a nested structure."""

    fields = ('func_name', 'type_name')
    msg_fmt = (
        'Cannot apply {func_name} to an object of type {type_name}: '
        'expected a tensor or a container of tensors.'
    )


class InvalidNameError(DryTorchError, ValueError):
    """A name that becomes part of a path is not allowed."""

    fields = ('kind', 'name', 'reason')
    msg_fmt = (
        'Invalid {kind} {name!r}: {reason}. Expected a non-empty name of at '
        'most 255 characters, without path separators, control characters, '
        'any of \\ / : * ? " < > |, and other than "." or "..".'
    )


class NamedTupleOnlyError(DryTorchError, TypeError):
    """A tuple subclass that cannot be rebuilt from its items."""

    fields = ('tuple_type',)
    msg_fmt = (
        'Expected a tuple or a NamedTuple, got {tuple_type}, which cannot '
        'be rebuilt from positional arguments.'
    )


class RecursionWarning(DryTorchWarning):
    """Metadata extraction met a self-referencing object."""

    msg_fmt = 'Metadata extraction hit a recursive structure; skipped.'


# the public path (see the module docstring)
for _name in __all__:
    globals()[_name].__module__ = PUBLIC_MODULE
del _name
