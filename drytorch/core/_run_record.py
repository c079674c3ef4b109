"""Internal: one run's record in the registry, and how files are parsed.

Every way a record file can be unreadable (not UTF-8, not JSON, not an
object, missing keys, an unknown status, a folder) raises
:class:`~drytorch.core.exceptions.RegistryCorruptedError` naming the file.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
from typing import Literal, get_args

from drytorch.core import exceptions

__all__ = [
    'ENDED',
    'STATUSES',
    'RunMetadata',
    'RunStatus',
    'corrupted_by',
    'decoded',
    'parse_legacy',
]

RunStatus = Literal['created', 'running', 'completed', 'failed', 'interrupted']
STATUSES = frozenset(get_args(RunStatus))
ENDED = frozenset({'completed', 'failed', 'interrupted'})


@dataclasses.dataclass
class RunMetadata:
    """One run as recorded in the registry.

    Attributes:
        id: the run id.
        status: created, running, completed, failed or interrupted.
        timestamp: creation time, formatted as ``%Y-%m-%d@%Hh%Mm%Ss``.
        commit: the git commit checked out at creation, if any.
        created_at: creation time, ISO 8601 with microseconds.
        started_at: when the run last started, ISO 8601.
        ended_at: when the run last ended, ISO 8601.
        pid: the process that runs (or last ran) it.
        host: the host of that process.
        pid_start: the start time of that process (guards against reuse).
        n_starts: how many times the run was started (resumes included).
    """

    id: str
    status: RunStatus
    timestamp: str
    commit: str | None = None
    created_at: str = ''
    started_at: str | None = None
    ended_at: str | None = None
    pid: int | None = None
    host: str | None = None
    pid_start: str | None = None
    n_starts: int = 0

    def to_json(self) -> str:
        """The record as JSON text."""
        return json.dumps(dataclasses.asdict(self), indent=2) + '\n'

    @classmethod
    def from_json(cls, text: str, path: pathlib.Path) -> RunMetadata:
        """Parse a record, raising RegistryCorruptedError when invalid."""
        try:
            data = json.loads(text)
        except ValueError as error:
            raise exceptions.RegistryCorruptedError(path, error) from error
        if not isinstance(data, dict):
            reason = f'expected a JSON object, got {type(data).__name__}'
            raise exceptions.RegistryCorruptedError(path, reason)
        known = {field.name for field in dataclasses.fields(cls)}
        missing = {'id', 'status', 'timestamp'} - data.keys()
        if missing:
            reason = f'missing keys {sorted(missing)}'
            raise exceptions.RegistryCorruptedError(path, reason)
        if not isinstance(data['id'], str):
            reason = f'expected a str id, got {data["id"]!r}'
            raise exceptions.RegistryCorruptedError(path, reason)
        status = data['status']
        if not isinstance(status, str) or status not in STATUSES:
            reason = f'unknown status {status!r}'
            raise exceptions.RegistryCorruptedError(path, reason)
        return cls(**{k: v for k, v in data.items() if k in known})


def parse_legacy(legacy: pathlib.Path) -> dict[str, RunMetadata]:
    """The runs of a 0.1.0rc5 ``runs.json`` (first entry of an id wins).

    A run it says is running is interrupted: the old format kept no pid,
    and nothing runs it any more.

    Raises:
        RegistryCorruptedError: if the file cannot be read.
    """
    try:
        text = decoded(legacy.read_bytes(), legacy)
    except FileNotFoundError:
        return {}
    except IsADirectoryError as error:
        raise corrupted_by(legacy, error) from error
    try:
        entries = json.loads(text)
    except ValueError as error:
        raise exceptions.RegistryCorruptedError(legacy, error) from error
    if not isinstance(entries, list):
        reason = f'expected a JSON list, got {type(entries).__name__}'
        raise exceptions.RegistryCorruptedError(legacy, reason)
    records: dict[str, RunMetadata] = {}
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        record = RunMetadata.from_json(json.dumps(entry), legacy)
        if record.status == 'running':
            record.status = 'interrupted'
        records.setdefault(record.id, record)
    return records


def decoded(data: bytes, path: pathlib.Path) -> str:
    try:
        return data.decode('utf-8')
    except UnicodeDecodeError as error:
        reason = f'not UTF-8 text: {error}'
        raise exceptions.RegistryCorruptedError(path, reason) from error


def corrupted_by(
    path: pathlib.Path, error: OSError
) -> exceptions.RegistryCorruptedError:
    reason = (
        'it is a folder, not a file'
        if isinstance(error, IsADirectoryError)
        else str(error)
    )
    return exceptions.RegistryCorruptedError(path, reason)
