"""Internal: validation of names that become parts of paths.

Experiment names, run ids, model and actor names end up as folder and file
names under an experiment's ``par_dir``. A name that could climb out of it
(``..``), split into folders (``/``) or break a file system is rejected
before anything is written.
"""

from __future__ import annotations

from drytorch.core import exceptions

__all__ = ['MAX_NAME_LENGTH', 'validate_name']

MAX_NAME_LENGTH = 255
_FORBIDDEN = frozenset('\\/:*?"<>|\0')


def validate_name(name: object, kind: str = 'name') -> str:
    """Return the name if it is safe to use as a path component.

    Args:
        name: the candidate name.
        kind: what the name is for, used in the error message.

    Raises:
        InvalidNameError: if the name is not a safe path component.
    """
    if not isinstance(name, str):
        reason = f'expected a str, got {type(name).__name__}'
        raise exceptions.InvalidNameError(kind, name, reason)
    reason = _problem(name)
    if reason:
        raise exceptions.InvalidNameError(kind, name, reason)
    return name


def _problem(name: str) -> str:
    if not name:
        return 'it is empty'
    if len(name) > MAX_NAME_LENGTH:
        return f'it has {len(name)} characters'
    if name in {'.', '..'}:
        return 'it is a relative path marker'
    if name != name.strip():
        return 'it starts or ends with white space'
    bad = sorted({char for char in name if char in _FORBIDDEN})
    if bad:
        return f'it contains {"".join(bad)!r}'
    if any(ord(char) < 32 or ord(char) == 127 for char in name):
        return 'it contains control characters'
    if name.endswith('.'):
        return 'it ends with a dot'
    return ''
