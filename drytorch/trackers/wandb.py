r"""Runs and metrics on Weights & Biases.

Needs the ``wandb`` extra (``pip install 'drytorch[wandb]'``).

:class:`Wandb` opens one W&B run per drytorch run, with:

* ``dir``: ``par_dir`` (W&B writes its files in ``<par_dir>/wandb/``);
* ``project``: the experiment's name (the settings' project if set);
* ``group``: the experiment's name (the settings' run group if set);
* ``id`` and ``name``: derived from the experiment's name and the run id
  (the settings' run id / run name if set), so that a resumed drytorch run
  continues the same W&B run (``resume='allow'``);
* ``config``: the ``recursive_repr`` of the configuration;
* ``tags``: the experiment's tags (and the settings' run tags).

Each :class:`~drytorch.core.events.MetricEvent` is logged as
``<model>/<source>-<metric>`` (a ``/`` inside a name is written U+2215,
see :mod:`drytorch.trackers._external`) together with the step metric
``Progress/<model>`` = the model's epoch, declared with ``define_metric``,
so that charts use epochs on the x axis. The W&B run is finished when the
drytorch run stops (exit code 0 when it completed, 1 otherwise).

W&B ids may not contain ``:;,#?/'`` and project names may not contain
``/\#?%:``: such characters become ``-``; an id changed that way (or
longer than 64 characters) ends with a short hash of the original, so
different runs keep different ids.
"""

from __future__ import annotations

import hashlib
import pathlib
import warnings
from typing import Any

try:
    import wandb
except ImportError as _error:
    _msg = "W&B tracker needs the 'wandb' extra: pip install 'drytorch[wandb]'"
    raise ImportError(_msg, name='wandb') from _error

from drytorch.core import events, exceptions
from drytorch.core.track import on
from drytorch.trackers._dumper import Dumper
from drytorch.trackers._external import config_repr, escape_name, metric_tag
from drytorch.utils.files import safe_join

__all__ = ['Wandb', 'WandbWarning', 'wandb_project_name', 'wandb_run_id']

_RUN_ID_RESERVED = frozenset(":;,#?/'")
_PROJECT_RESERVED = frozenset('/\\#?%:')
_MAX_RUN_ID = 64
_MAX_PROJECT = 128
_HASH_LENGTH = 8


class WandbWarning(exceptions.DryTorchWarning):
    """W&B did something other than what the drytorch run asked for."""

    fields = ('problem',)
    msg_fmt = 'W&B: {problem}'


def _replace_reserved(text: str, reserved: frozenset[str]) -> str:
    chars = [
        '-' if char in reserved or char.isspace() else char for char in text
    ]
    return ''.join(chars)


def _fit(original: str, cleaned: str, max_length: int) -> str:
    """Return cleaned, with a hash of original if it was changed or cut."""
    if cleaned == original and len(cleaned) <= max_length:
        return cleaned
    digest = hashlib.sha1(original.encode()).hexdigest()[:_HASH_LENGTH]
    head = cleaned[: max_length - _HASH_LENGTH - 1]
    return f'{head}-{digest}'


def wandb_run_id(exp_name: str, run_id: str) -> str:
    """The W&B run id of a drytorch run: ``<exp_name>_<run_id>``.

    Characters W&B does not accept in an id (``:;,#?/'`` and white space)
    become ``-``; if any was replaced, or the id would be longer than 64
    characters, a short hash of the full name is appended, so the id stays
    the same for the same run and different for different runs.

    Args:
        exp_name: the experiment's name.
        run_id: the drytorch run id.

    Returns:
        The W&B run id.
    """
    original = f'{exp_name}_{run_id}'
    cleaned = _replace_reserved(original, _RUN_ID_RESERVED)
    return _fit(original, cleaned, _MAX_RUN_ID)


def wandb_project_name(exp_name: str) -> str:
    r"""The W&B project of an experiment: its name, made acceptable to W&B.

    Characters W&B refuses in a project name (``/\#?%:``) become ``-``,
    with a short hash appended as in :func:`wandb_run_id` (128 characters
    at most).
    """
    cleaned = _replace_reserved(exp_name, _PROJECT_RESERVED)
    return _fit(exp_name, cleaned, _MAX_PROJECT)


class Wandb(Dumper):
    """Log each run to Weights & Biases (online, offline or disabled).

    The mode and everything else that W&B reads from its settings or its
    environment variables (``WANDB_MODE``, ``WANDB_API_KEY``, ...) apply as
    usual; ``dir`` is always ``par_dir``.
    """

    folder_name = 'wandb'

    def __init__(
        self,
        par_dir: str | pathlib.Path | None = None,
        settings: wandb.Settings | None = None,
    ) -> None:
        """Create the tracker.

        Args:
            par_dir: the folder given to W&B as ``dir``; default: the
                experiment's par_dir.
            settings: W&B settings; its ``project``, ``run_group``,
                ``run_id``, ``run_name`` and ``run_tags``, when set, take
                the place of the values derived from the experiment.
        """
        super().__init__(par_dir)
        self.settings = settings
        self._run: Any = None
        self._defined: set[str] = set()

    @property
    def run(self) -> Any:
        """The W&B run of the current drytorch run (a ``wandb.Run``).

        Raises:
            AccessOutsideScopeError: outside a run.
        """
        if self._run is None:
            raise exceptions.AccessOutsideScopeError()
        return self._run

    @on(events.StartRunEvent)
    def _wandb_on_start(self, event: events.StartRunEvent) -> None:
        par_dir = self.par_dir
        wandb_dir = safe_join(par_dir, self.folder_name)
        # W&B falls back to a temporary folder when it cannot write in
        # dir: fail here instead, so nothing lands outside par_dir.
        wandb_dir.mkdir(parents=True, exist_ok=True)
        settings = self.settings
        exp_name = self.exp_name
        project = _setting(settings, 'project')
        group = _setting(settings, 'run_group')
        run_id = _setting(settings, 'run_id')
        run_name = _setting(settings, 'run_name')
        tags = list(event.tags)
        for tag in _setting(settings, 'run_tags') or ():
            if tag not in tags:
                tags.append(tag)
        resumed = self.resumed
        self._defined = set()
        run = wandb.init(
            dir=str(par_dir),
            project=project or wandb_project_name(exp_name),
            group=group or exp_name,
            id=run_id or wandb_run_id(exp_name, self.run_id),
            name=run_name or f'{exp_name}_{self.run_id}',
            config=config_repr(event.config),
            tags=tags,
            resume='allow' if resumed else None,
            # a W&B run the user opened is left alone
            reinit='create_new',
            settings=settings,
        )
        self._run = run
        if resumed and _is_online(run) and not run.resumed:
            problem = (
                f'found no run {run.id} to continue; the resumed run is '
                'logged to a new W&B run with that id.'
            )
            warnings.warn(WandbWarning(problem), stacklevel=2)

    @on(events.MetricEvent)
    def _wandb_on_metric(self, event: events.MetricEvent) -> None:
        run = self.run
        defined = self._defined
        model_name = event.model_name
        step_key = f'Progress/{escape_name(model_name)}'
        if step_key not in defined:
            run.define_metric(step_key)
            defined.add(step_key)
        data: dict[str, Any] = {step_key: event.epoch}
        source_name = event.source_name
        for name, value in event.metrics.items():
            key = metric_tag(model_name, source_name, name)
            if key not in defined:
                run.define_metric(key, step_metric=step_key)
                defined.add(key)
            data[key] = value
        run.log(data)

    @on(events.StopRunEvent)
    def _wandb_on_stop(self, event: events.StopRunEvent) -> None:
        run, self._run = self._run, None
        if run is not None:
            run.finish(exit_code=0 if event.status == 'completed' else 1)

    def clean_up(self) -> None:
        """Finish the W&B run if still open (as failed) and forget the run."""
        run, self._run = self._run, None
        try:
            if run is not None:
                run.finish(exit_code=1)
        finally:
            self._defined = set()
            super().clean_up()


def _setting(settings: wandb.Settings | None, name: str) -> Any:
    if settings is None:
        return None
    return getattr(settings, name, None)


def _is_online(run: Any) -> bool:
    # getattr: older W&B versions lack one or the other property
    offline = getattr(run, 'offline', False)
    return not (offline or getattr(run, 'disabled', False))
