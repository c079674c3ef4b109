"""Internal: the git commit checked out in a folder, read without git.

Reading the repository files directly costs microseconds, works where the
git executable is missing, and never fails: anything unexpected gives None.
"""

from __future__ import annotations

import pathlib
import re

__all__ = ['head_commit']

_SHA = re.compile(r'^[0-9a-f]{40}([0-9a-f]{24})?$')


def head_commit(start: pathlib.Path | str | None = None) -> str | None:
    """The commit hash of HEAD for the repository holding ``start``.

    Args:
        start: a folder inside the work tree (default: the current one).

    Returns:
        The full hash, or None when there is no repository or HEAD cannot
        be resolved (e.g. a repository without commits).
    """
    try:
        git_dir = _find_git_dir(pathlib.Path(start or '.').resolve())
        if git_dir is None:
            return None
        return _resolve_head(git_dir)
    except (OSError, UnicodeDecodeError, ValueError):
        return None


def _find_git_dir(folder: pathlib.Path) -> pathlib.Path | None:
    for candidate in (folder, *folder.parents):
        dot_git = candidate / '.git'
        if dot_git.is_dir():
            return dot_git
        if dot_git.is_file():  # worktree or submodule: 'gitdir: <path>'
            text = dot_git.read_text(encoding='utf-8').strip()
            if text.startswith('gitdir:'):
                target = pathlib.Path(text[len('gitdir:') :].strip())
                return (candidate / target).resolve()
            return None
    return None


def _resolve_head(git_dir: pathlib.Path) -> str | None:
    head = (git_dir / 'HEAD').read_text(encoding='utf-8').strip()
    if _SHA.match(head):
        return head  # detached HEAD
    if not head.startswith('ref:'):
        return None
    ref = head[len('ref:') :].strip()
    common = git_dir
    commondir = git_dir / 'commondir'
    if commondir.is_file():
        common = (git_dir / commondir.read_text().strip()).resolve()
    for base in (git_dir, common):
        ref_file = base / ref
        if ref_file.is_file():
            sha = ref_file.read_text(encoding='utf-8').strip()
            return sha if _SHA.match(sha) else None
    packed = common / 'packed-refs'
    if packed.is_file():
        for line in packed.read_text(encoding='utf-8').splitlines():
            sha, _, name = line.partition(' ')
            if name == ref and _SHA.match(sha):
                return sha
    return None
