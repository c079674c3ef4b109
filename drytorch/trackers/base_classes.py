"""Base classes of the trackers: file dumpers and metric histories.

A :class:`Dumper` writes files below ``<par_dir>/<folder_name>/<exp_name>/``
in a folder of the run; a :class:`MetricLoader` reads the metric history of
a model back; :class:`MemoryMetrics` keeps the history in memory.
"""

from __future__ import annotations

import abc
import math
import pathlib
from typing import ClassVar, TypeAlias

from drytorch.core import exceptions, log_events
from drytorch.core.track import Tracker, on
from drytorch.utils.files import safe_join

__all__ = [
    'Dumper',
    'HistoryMetrics',
    'MemoryMetrics',
    'MetricLoader',
    'SourcedMetrics',
    'safe_join',
]

HistoryMetrics: TypeAlias = tuple[list[int], dict[str, list[float]]]
"""Epochs and, for each metric, its value at each of those epochs."""

SourcedMetrics: TypeAlias = dict[str, HistoryMetrics]
"""Metric histories by source (the actor that computed them)."""


class Dumper(Tracker):
    """A tracker that writes files in a folder of the run.

    The run folder is ``<par_dir>/<folder_name>/<exp_name>/<run part>``,
    where the run part is ``<day>/<time>`` for a run id of the form
    ``<day>@<time>`` and the run id otherwise. Every name is checked so
    that the folder stays below ``par_dir``.

    Attributes:
        folder_name: the folder of this kind of output below ``par_dir``
            (none when empty).
    """

    folder_name: ClassVar[str] = ''

    def __init__(self, par_dir: str | pathlib.Path | None = None) -> None:
        """Create the dumper.

        Args:
            par_dir: the root folder; default: the experiment's par_dir.
        """
        super().__init__()
        self._user_par_dir = None if par_dir is None else pathlib.Path(par_dir)
        self._par_dir: pathlib.Path | None = None
        self._exp_name: str | None = None
        self._run_id: str | None = None
        self._resumed = False
        self._run_dir: pathlib.Path | None = None

    @on(log_events.StartExperimentEvent)
    def _dumper_on_start(self, event: log_events.StartExperimentEvent) -> None:
        par_dir = self._user_par_dir
        if par_dir is None:
            par_dir = pathlib.Path(event.par_dir)
        self._par_dir = par_dir
        self._exp_name = event.exp_name
        self._run_id = event.run_id
        self._resumed = event.resumed
        self._run_dir = None
        par_dir.mkdir(parents=True, exist_ok=True)

    @property
    def par_dir(self) -> pathlib.Path:
        """The root folder of the outputs of the current run."""
        if self._par_dir is None:
            raise exceptions.AccessOutsideScopeError()
        return self._par_dir

    @property
    def exp_name(self) -> str:
        """The name of the experiment of the current run."""
        if self._exp_name is None:
            raise exceptions.AccessOutsideScopeError()
        return self._exp_name

    @property
    def run_id(self) -> str:
        """The id of the current run."""
        if self._run_id is None:
            raise exceptions.AccessOutsideScopeError()
        return self._run_id

    @property
    def resumed(self) -> bool:
        """Whether the current run resumes a recorded one."""
        if self._run_id is None:
            raise exceptions.AccessOutsideScopeError()
        return self._resumed

    @property
    def run_dir(self) -> pathlib.Path:
        """The folder of the current run for this kind of output.

        Raises:
            AccessOutsideScopeError: outside a run.
            InvalidNameError: if a name would lead outside ``par_dir``.
        """
        if self._run_dir is None:
            run_id = self.run_id
            run_parts = run_id.split('@', 1) if '@' in run_id else [run_id]
            folder = [self.folder_name] if self.folder_name else []
            self._run_dir = safe_join(
                self.par_dir, *folder, self.exp_name, *run_parts
            )
        return self._run_dir

    def clean_up(self) -> None:
        """Forget the run."""
        self._par_dir = None
        self._exp_name = None
        self._run_id = None
        self._resumed = False
        self._run_dir = None
        super().clean_up()


class MetricLoader(abc.ABC):
    """Something that can read the metric history of a model back."""

    def load_metrics(
        self, model_name: str, max_epoch: int = -1
    ) -> SourcedMetrics:
        """Load the metric history of a model, by source.

        Args:
            model_name: the model's name.
            max_epoch: the last epoch to load; -1 for all of them.

        Returns:
            The history of each source; empty when ``max_epoch`` is 0.

        Raises:
            ValueError: if ``max_epoch`` is below -1.
        """
        if max_epoch < -1:
            msg = f'Expected max_epoch >= -1, got {max_epoch}.'
            raise ValueError(msg)
        if max_epoch == 0:
            return {}
        return self._load_metrics(model_name, max_epoch)

    @abc.abstractmethod
    def _load_metrics(self, model_name: str, max_epoch: int) -> SourcedMetrics:
        """Load the history (``max_epoch`` is -1 or positive)."""


class MemoryMetrics(Tracker):
    """Keep the metric history of the run in memory.

    Values are aligned with the epochs: a metric missing at an epoch gets
    NaN. Metrics logged again for an epoch already seen replace the history
    from that epoch on (as after loading an earlier checkpoint).

    Attributes:
        metric_loader: where to read the history from after a model is
            loaded; without one the history in memory is kept.
        model_dict: ``model_dict[model][source] = (epochs, {metric:
            values})``.
    """

    def __init__(self, metric_loader: MetricLoader | None = None) -> None:
        """Create the tracker.

        Args:
            metric_loader: reloads the history when a model is loaded.
        """
        super().__init__()
        self.metric_loader = metric_loader
        self.model_dict: dict[str, SourcedMetrics] = {}

    @on(log_events.StartExperimentEvent)
    def _memory_on_start(self, event: log_events.StartExperimentEvent) -> None:
        self.model_dict = {}

    @on(log_events.MetricEvent)
    def _memory_on_metric(self, event: log_events.MetricEvent) -> None:
        sources = self.model_dict.setdefault(event.model_name, {})
        epochs, logs = sources.setdefault(event.source_name, ([], {}))
        epoch = event.epoch
        if epochs and epoch <= epochs[-1]:
            keep = next(i for i, seen in enumerate(epochs) if seen >= epoch)
            del epochs[keep:]
            for values in logs.values():
                del values[keep:]
        n_previous = len(epochs)
        epochs.append(epoch)
        metrics = event.metrics
        for name, value in metrics.items():
            if name not in logs:
                logs[name] = [math.nan] * n_previous
            logs[name].append(value)
        for values in logs.values():
            if len(values) == n_previous:  # not logged at this epoch
                values.append(math.nan)

    @on(log_events.LoadModelEvent)
    def _memory_on_load(self, event: log_events.LoadModelEvent) -> None:
        if self.metric_loader is None:
            return
        self.model_dict[event.model_name] = self.metric_loader.load_metrics(
            event.model_name, event.epoch
        )
