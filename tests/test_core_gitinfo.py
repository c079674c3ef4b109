"""The commit recorded with each run, read without the git executable."""

from __future__ import annotations

import pathlib
import shutil
import subprocess

import pytest
from conftest import Config

from drytorch.core import gitinfo
from drytorch.core.experiment import Experiment

GIT = shutil.which('git')
needs_git = pytest.mark.skipif(GIT is None, reason='git is not installed')


def git(cwd: pathlib.Path, *args: str) -> str:
    return subprocess.run(
        ['git', '-c', 'user.name=t', '-c', 'user.email=t@t', *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


@pytest.fixture
def repo(tmp_path: pathlib.Path) -> pathlib.Path:
    path = tmp_path / 'repo'
    path.mkdir()
    git(path, 'init', '-q', '-b', 'main')
    (path / 'file.txt').write_text('x')
    git(path, 'add', 'file.txt')
    git(path, 'commit', '-q', '-m', 'first')
    return path


def test_no_repository(tmp_path: pathlib.Path) -> None:
    assert gitinfo.head_commit(tmp_path) is None


@needs_git
def test_branch_head(repo: pathlib.Path) -> None:
    sub = repo / 'sub'
    sub.mkdir()
    assert gitinfo.head_commit(sub) == git(repo, 'rev-parse', 'HEAD')


@needs_git
def test_packed_refs_and_detached_head(repo: pathlib.Path) -> None:
    git(repo, 'pack-refs', '--all')
    head = git(repo, 'rev-parse', 'HEAD')
    assert gitinfo.head_commit(repo) == head
    git(repo, 'checkout', '-q', '--detach')
    assert gitinfo.head_commit(repo) == head


@needs_git
def test_worktree(repo: pathlib.Path, tmp_path: pathlib.Path) -> None:
    other = tmp_path / 'wt'
    git(repo, 'worktree', 'add', '-q', '-b', 'side', str(other))
    (other / 'new.txt').write_text('y')
    git(other, 'add', 'new.txt')
    git(other, 'commit', '-q', '-m', 'side')
    assert gitinfo.head_commit(other) == git(other, 'rev-parse', 'HEAD')
    assert gitinfo.head_commit(repo) == git(repo, 'rev-parse', 'HEAD')


@needs_git
def test_repository_without_commits(tmp_path: pathlib.Path) -> None:
    git(tmp_path, 'init', '-q')
    assert gitinfo.head_commit(tmp_path) is None


@needs_git
def test_run_records_commit(
    repo: pathlib.Path, monkeypatch: pytest.MonkeyPatch, config: Config
) -> None:
    monkeypatch.chdir(repo)
    exp = Experiment(config, name='E', par_dir=repo.parent / 'out')
    run = exp.create_run()
    record = exp.registry.get(run.id)
    assert record is not None
    assert record.commit == git(repo, 'rev-parse', 'HEAD')


def test_run_without_git_records_none(config: Config) -> None:
    exp = Experiment(config, name='E')
    run = exp.create_run()
    assert exp.registry.get(run.id).commit is None  # type: ignore[union-attr]
