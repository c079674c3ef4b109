"""Metrics as TensorBoard event files.

Needs the ``tensorboard`` extra (``pip install 'drytorch[tensorboard]'``).

:class:`TensorBoard` writes, with ``torch.utils.tensorboard.SummaryWriter``,
the event files of each run in ``<par_dir>/tensorboard/<exp>/<run part>/``:

* each metric as a scalar tagged ``<model>/<source>-<metric>`` at step =
  the model's epoch (a ``/`` inside a name is written U+2215, see
  :mod:`drytorch.trackers._external`, so names cannot add levels to the
  tag hierarchy);
* the configuration as hyperparameters (HParams dashboard): the
  ``recursive_repr`` of the configuration, flattened to ``parent.child``
  keys, with values that are not a bool, a number or a string written as
  text;
* the experiment's tags as text (``tag 0``, ``tag 1``, ...).

Events are buffered by the writer and flushed at the end of every epoch and
test; the writer is closed when the run stops.

The tracker starts no TensorBoard server unless asked to
(``start_server=True``): the page it serves lives on ``localhost`` of the
machine that runs the experiment, which an editor such as VS Code or a
hosted notebook (Colab) cannot show in an inline frame. Run
``tensorboard --logdir <par_dir>/tensorboard`` where the page can be
reached, or use your editor's TensorBoard integration.
"""

from __future__ import annotations

import logging
import pathlib
import socket
import subprocess
import sys
import time
import weakref
from typing import ClassVar

try:
    from tensorboard.compat.proto.summary_pb2 import Summary, SummaryMetadata
    from tensorboard.plugins.hparams import api_pb2 as _hparams_api
    from tensorboard.plugins.hparams import metadata as _hparams_metadata
    from tensorboard.plugins.hparams import plugin_data_pb2 as _hparams_data
    from torch.utils.tensorboard import SummaryWriter
except ImportError as _error:
    _msg = (
        "TensorBoard tracker needs the 'tensorboard' extra: "
        "pip install 'drytorch[tensorboard]'"
    )
    raise ImportError(_msg, name='tensorboard') from _error

from drytorch.core import events, exceptions
from drytorch.core.track import on
from drytorch.trackers._dumper import Dumper
from drytorch.trackers._external import (
    config_repr,
    escape_name,
    flatten_scalars,
)
from drytorch.trackers.logging import INFO_LEVELS
from drytorch.utils.files import safe_join

__all__ = ['TensorBoard']

_logger = logging.getLogger(__name__)

_HOST = '127.0.0.1'
_PORT_ATTEMPTS = 100
_TERMINATE_TIMEOUT = 5.0


class TensorBoard(Dumper):
    """Write the metrics of each run as TensorBoard event files.

    Attributes:
        base_port: the first port tried for a server started by the
            tracker; the first free one from there on is used.
    """

    folder_name = 'tensorboard'
    base_port: ClassVar[int] = 6006

    def __init__(
        self,
        par_dir: str | pathlib.Path | None = None,
        start_server: bool = False,
        max_queue_size: int = 10,
        flush_secs: int = 120,
    ) -> None:
        """Create the tracker.

        Args:
            par_dir: the root folder; default: the experiment's par_dir.
            start_server: whether to start a TensorBoard server on
                ``127.0.0.1`` for each run (stopped when the run stops).
                Off by default: see the module's documentation.
            max_queue_size: events buffered before they are written.
            flush_secs: seconds after which buffered events are written
                anyway.

        Raises:
            ValueError: if max_queue_size or flush_secs is not positive.
        """
        super().__init__(par_dir)
        if max_queue_size < 1:
            msg = f'Expected max_queue_size >= 1, got {max_queue_size}.'
            raise ValueError(msg)
        if flush_secs <= 0:
            msg = f'Expected flush_secs > 0, got {flush_secs}.'
            raise ValueError(msg)
        self.start_server = start_server
        self.max_queue_size = max_queue_size
        self.flush_secs = flush_secs
        self._writer: SummaryWriter | None = None
        self._server: subprocess.Popen[bytes] | None = None
        self._server_stopper: weakref.finalize | None = None
        self._server_url: str | None = None

    @property
    def writer(self) -> SummaryWriter:
        """The writer of the current run.

        Raises:
            AccessOutsideScopeError: outside a run.
        """
        if self._writer is None:
            raise exceptions.AccessOutsideScopeError()
        return self._writer

    @property
    def server_url(self) -> str | None:
        """The address of the server started by the tracker, if any."""
        return self._server_url

    @on(events.StartRunEvent)
    def _tb_on_start(self, event: events.StartRunEvent) -> None:
        log_dir = self.run_dir
        # Fails here, clearly, when a file is in the way.
        log_dir.mkdir(parents=True, exist_ok=True)
        writer = SummaryWriter(
            log_dir=str(log_dir),
            max_queue=self.max_queue_size,
            flush_secs=self.flush_secs,
        )
        self._writer = writer
        hparams = flatten_scalars(config_repr(event.config))
        writer._get_file_writer().add_summary(_session_start(hparams))
        for index, tag in enumerate(event.tags):
            writer.add_text(f'tag {index}', tag)
        writer.flush()
        if self.start_server:
            self._launch_server()

    @on(events.MetricEvent)
    def _tb_on_metric(self, event: events.MetricEvent) -> None:
        writer = self.writer
        add_scalar = writer.add_scalar
        prefix = (
            f'{escape_name(event.model_name)}/'
            f'{escape_name(event.source_name)}-'
        )
        epoch = event.epoch
        for name, value in event.metrics.items():
            add_scalar(prefix + escape_name(name), value, global_step=epoch)

    @on(events.EndEpochEvent, events.EndTestEvent)
    def _tb_flush(self, event: events.Event) -> None:
        self.writer.flush()

    @on(events.StopRunEvent)
    def _tb_on_stop(self, event: events.StopRunEvent) -> None:
        writer = self.writer
        success = event.status == 'completed'
        writer._get_file_writer().add_summary(_session_end(success))
        writer.close()
        self._writer = None

    def clean_up(self) -> None:
        """Close the writer, stop the server and forget the run."""
        writer, self._writer = self._writer, None
        try:
            if writer is not None:
                writer.close()
        finally:
            self._stop_server()
            super().clean_up()

    def _launch_server(self) -> None:
        log_root = safe_join(self.par_dir, self.folder_name)
        port = _free_port(self.base_port)
        command = [
            sys.executable,
            '-m',
            'tensorboard.main',
            '--logdir',
            str(log_root),
            '--port',
            str(port),
            '--host',
            _HOST,
        ]
        # The server's own output would interleave with the run's logs.
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._server = process
        # Also stops the server if the interpreter exits before clean_up.
        self._server_stopper = weakref.finalize(self, _terminate, process)
        self._server_url = f'http://{_HOST}:{port}/'
        _logger.log(
            INFO_LEVELS.experiment,
            'TensorBoard serving %s at %s',
            log_root,
            self._server_url,
        )

    def _stop_server(self) -> None:
        stopper, self._server_stopper = self._server_stopper, None
        self._server = None
        self._server_url = None
        if stopper is not None:
            stopper()


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((_HOST, port))
        except OSError:
            return False
    return True


def _free_port(base_port: int) -> int:
    """The first free port from base_port on, else one the OS picks."""
    for port in range(base_port, min(base_port + _PORT_ATTEMPTS, 65536)):
        if _port_is_free(port):
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((_HOST, 0))
        return int(sock.getsockname()[1])


def _terminate(process: subprocess.Popen[bytes]) -> None:
    """Stop a process, killing it if it does not stop in time."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=_TERMINATE_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=_TERMINATE_TIMEOUT)


def _hparams_summary(
    tag: str, data: _hparams_data.HParamsPluginData
) -> Summary:
    data.version = _hparams_metadata.PLUGIN_DATA_VERSION
    plugin_data = SummaryMetadata.PluginData(
        plugin_name=_hparams_metadata.PLUGIN_NAME,
        content=data.SerializeToString(),
    )
    summary_metadata = SummaryMetadata(plugin_data=plugin_data)
    return Summary(value=[Summary.Value(tag=tag, metadata=summary_metadata)])


def _session_start(hparams: dict[str, bool | int | float | str]) -> Summary:
    """The HParams record of a run's configuration.

    Only the session is written (no experiment record): TensorBoard then
    lists every hyperparameter and every scalar of the runs by itself.
    """
    info = _hparams_data.SessionStartInfo(start_time_secs=time.time())
    for name, value in hparams.items():
        # bool before int: True is an int too.
        if isinstance(value, bool):
            info.hparams[name].bool_value = value
        elif isinstance(value, (int, float)):
            info.hparams[name].number_value = value
        else:
            info.hparams[name].string_value = value
    data = _hparams_data.HParamsPluginData(session_start_info=info)
    return _hparams_summary(_hparams_metadata.SESSION_START_INFO_TAG, data)


def _session_end(success: bool) -> Summary:
    status = (
        _hparams_api.Status.STATUS_SUCCESS
        if success
        else _hparams_api.Status.STATUS_FAILURE
    )
    info = _hparams_data.SessionEndInfo(
        status=status, end_time_secs=time.time()
    )
    data = _hparams_data.HParamsPluginData(session_end_info=info)
    return _hparams_summary(_hparams_metadata.SESSION_END_INFO_TAG, data)
