"""A throwaway PostgreSQL server for the tests (a session fixture).

Import the fixture in a test module (not in conftest, so that only the
modules that need it start a server)::

    from pg_server import postgres_url_fixture  # noqa: F401

and ask for ``postgres_url``. The server uses the Debian binaries
(``/usr/lib/postgresql/<version>/bin``), a data folder in a temporary
folder, trust authentication and listens on 127.0.0.1 only, on a free port.
Without the binaries (or the psycopg driver) the tests fail when the
environment variable ``CI`` is set, and are skipped otherwise.
"""

from __future__ import annotations

import contextlib
import glob
import importlib.util
import os
import pathlib
import shutil
import subprocess
import tempfile
from collections.abc import Iterator

import pytest
from ports import free_port

__all__ = [
    'find_pg_bin',
    'free_port',
    'postgres_url_fixture',
    'require_or_skip',
]

_START_TIMEOUT_S = 60
_SERVICE_USER = 'postgres'


def require_or_skip(available: bool, what: str) -> None:
    """Fail under CI, skip otherwise, when something needed is missing."""
    if available:
        return
    msg = (
        f'{what} is not available '
        '(./run.sh test installs the Debian package postgresql).'
    )
    if os.environ.get('CI'):
        pytest.fail(f'CI must run the PostgreSQL tests: {msg}')
    pytest.skip(msg)


def find_pg_bin() -> pathlib.Path | None:
    """The newest ``/usr/lib/postgresql/*/bin`` with initdb and pg_ctl."""
    candidates = []
    for initdb in glob.glob('/usr/lib/postgresql/*/bin/initdb'):
        folder = pathlib.Path(initdb).parent
        if (folder / 'pg_ctl').is_file():
            version = folder.parent.name
            key = int(version) if version.isdigit() else -1
            candidates.append((key, folder))
    if not candidates:
        return None
    return max(candidates)[1]


def has_psycopg() -> bool:
    """Whether the psycopg (3) driver is installed."""
    return importlib.util.find_spec('psycopg') is not None


def _as_service_user(command: list[str]) -> list[str]:
    # initdb and postgres refuse to run as root.
    if hasattr(os, 'geteuid') and os.geteuid() == 0:
        return ['runuser', '-u', _SERVICE_USER, '--', *command]
    return command


def _run(command: list[str], cwd: pathlib.Path) -> None:
    result = subprocess.run(
        _as_service_user(command),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=_START_TIMEOUT_S,
        check=False,
    )
    if result.returncode != 0:
        msg = (
            f'{command[0]} failed ({result.returncode}):\n'
            f'{result.stdout}\n{result.stderr}'
        )
        raise RuntimeError(msg)


@pytest.fixture(scope='session', name='postgres_url')
def postgres_url_fixture() -> Iterator[str]:
    """Start a PostgreSQL cluster for the session; yield its URL."""
    bin_dir = find_pg_bin()
    require_or_skip(bin_dir is not None, 'PostgreSQL (initdb, pg_ctl)')
    require_or_skip(has_psycopg(), 'The psycopg driver')
    assert bin_dir is not None
    root = pathlib.Path(tempfile.mkdtemp(prefix='drytorch-pg-'))
    if os.geteuid() == 0:
        shutil.chown(root, user=_SERVICE_USER, group=None)
    data_dir = root / 'data'
    log_file = root / 'server.log'
    port = free_port()
    started = False
    try:
        _run(
            [
                str(bin_dir / 'initdb'),
                '--pgdata',
                str(data_dir),
                '--username',
                'postgres',
                '--auth',
                'trust',
                '--encoding',
                'UTF8',
                '--no-sync',
            ],
            root,
        )
        options = (
            f'-c listen_addresses=127.0.0.1 -p {port} '
            f"-c unix_socket_directories='' -c fsync=off "
            f'-c full_page_writes=off -c synchronous_commit=off'
        )
        try:
            _run(
                [
                    str(bin_dir / 'pg_ctl'),
                    'start',
                    '--pgdata',
                    str(data_dir),
                    '--log',
                    str(log_file),
                    '--wait',
                    '--timeout',
                    str(_START_TIMEOUT_S),
                    '-o',
                    options,
                ],
                root,
            )
        except RuntimeError as error:
            log = log_file.read_text() if log_file.exists() else ''
            msg = f'{error}\nserver log:\n{log}'
            raise RuntimeError(msg) from error
        started = True
        yield f'postgresql+psycopg://postgres@127.0.0.1:{port}/postgres'
    finally:
        if started:
            with contextlib.suppress(
                RuntimeError, OSError, subprocess.TimeoutExpired
            ):
                _run(
                    [
                        str(bin_dir / 'pg_ctl'),
                        'stop',
                        '--pgdata',
                        str(data_dir),
                        '-m',
                        'fast',
                        '--wait',
                    ],
                    root,
                )
        shutil.rmtree(root, ignore_errors=True)
