"""Metadata of a run as YAML files.

:class:`YamlDumper` writes, below ``<par_dir>/metadata/<exp>/<run part>/``,
the configuration of the run, the architecture of each model and the
description of each actor. Files are written with a private subclass of
PyYAML's safe dumper (nothing is registered on PyYAML's own classes) and can
be read back with :func:`load_yaml`, or with ``yaml.safe_load`` when they
contain no :class:`Omitted` marker. Values the safe dumper cannot represent
(complex numbers, arbitrary objects) are written as their text.
"""

from __future__ import annotations

import math
import numbers
import os
import pathlib
import warnings
from collections.abc import Iterable
from typing import Any

import numpy as np
import yaml

from drytorch.core import events, exceptions
from drytorch.core.track import on
from drytorch.trackers._dumper import Dumper
from drytorch.utils.files import atomic_write_text, safe_join
from drytorch.utils.repr_utils import LiteralStr, Omitted, recursive_repr

__all__ = [
    'MAX_LENGTH_PLAIN_REPR',
    'MAX_LENGTH_SHORT_REPR',
    'TS_FMT',
    'YamlDumper',
    'dump_yaml',
    'has_short_repr',
    'load_yaml',
    'represent_literal_str',
    'represent_omitted',
    'represent_sequence',
]

MAX_LENGTH_PLAIN_REPR = 30
"""Most elements of a sequence written on one line (flow style)."""

MAX_LENGTH_SHORT_REPR = 10
"""Most characters of a string that counts as short."""

TS_FMT = '%Y-%m-%d@%Hh%Mm%Ss'
"""Format of the timestamps in the file names."""

CONFIG_DEPTH = 1000
"""Nesting levels of the configuration written (it is all relevant)."""

_OMITTED_TAG = '!Omitted'
_STR_TAG = 'tag:yaml.org,2002:str'
_SEQ_TAG = 'tag:yaml.org,2002:seq'


def has_short_repr(
    obj: object, max_length: int = MAX_LENGTH_SHORT_REPR
) -> bool:
    """Whether a value is short enough to share a line with others.

    Args:
        obj: the value.
        max_length: the most characters of a short string.

    Returns:
        True for strings (not literal blocks) of at most ``max_length``
        characters and for values without a length (numbers, None, ...).
    """
    if isinstance(obj, LiteralStr):
        return False
    if isinstance(obj, str):
        return len(obj) <= max_length
    return not hasattr(obj, '__len__')


def represent_literal_str(
    dumper: yaml.representer.BaseRepresenter, literal_str: str
) -> yaml.ScalarNode:
    """Represent a string as a literal block (``|``)."""
    return dumper.represent_scalar(_STR_TAG, str(literal_str), style='|')


def represent_sequence(
    dumper: yaml.representer.BaseRepresenter,
    sequence: Iterable[Any],
    max_length_for_plain: int = MAX_LENGTH_PLAIN_REPR,
) -> yaml.SequenceNode:
    """Represent a list, tuple or set; on one line when it is short.

    A sequence is written in flow style (``[a, b]``) when it has at most
    ``max_length_for_plain`` elements, all with a short representation
    (see :func:`has_short_repr`); in block style otherwise.
    """
    if isinstance(sequence, (set, frozenset)):
        try:
            items = sorted(sequence)
        except TypeError:  # mixed types: keep the iteration order
            items = list(sequence)
    else:
        items = list(sequence)
    flow = len(items) <= max_length_for_plain and all(
        has_short_repr(item) for item in items
    )
    return dumper.represent_sequence(_SEQ_TAG, items, flow_style=flow)


def represent_omitted(
    dumper: yaml.representer.BaseRepresenter, omitted: Omitted
) -> yaml.MappingNode:
    """Represent an Omitted marker as ``!Omitted {omitted_elements: n}``."""
    return dumper.represent_mapping(
        _OMITTED_TAG, {'omitted_elements': omitted.count}, flow_style=True
    )


def _represent_plain_str(
    dumper: yaml.representer.SafeRepresenter, data: str
) -> yaml.ScalarNode:
    return dumper.represent_str(str.__str__(data))


def _represent_dict_subclass(
    dumper: yaml.representer.SafeRepresenter, data: dict[Any, Any]
) -> yaml.MappingNode:
    return dumper.represent_dict(dict(data))


def _represent_other(
    dumper: yaml.representer.SafeRepresenter, data: Any
) -> yaml.Node:
    """Represent what the safe dumper does not know, as text if need be."""
    if isinstance(data, np.bool_):
        return dumper.represent_bool(bool(data))
    if isinstance(data, numbers.Integral):
        return dumper.represent_int(int(data))
    if isinstance(data, numbers.Real):
        return dumper.represent_float(float(data))
    if isinstance(data, numbers.Number):  # complex, ...
        return dumper.represent_str(str(data))
    return dumper.represent_str(repr(data))


class _MetadataDumper(yaml.SafeDumper):
    """Safe dumper with the representers of drytorch's metadata."""

    def ignore_aliases(self, data: Any) -> bool:
        # Metadata is a tree; repeated objects are written out again.
        return True


_MetadataDumper.add_representer(LiteralStr, represent_literal_str)
_MetadataDumper.add_representer(Omitted, represent_omitted)
for _sequence_type in (list, tuple, set, frozenset):
    _MetadataDumper.add_representer(_sequence_type, represent_sequence)
    _MetadataDumper.add_multi_representer(_sequence_type, represent_sequence)
_MetadataDumper.add_multi_representer(str, _represent_plain_str)
_MetadataDumper.add_multi_representer(dict, _represent_dict_subclass)
_MetadataDumper.add_representer(None, _represent_other)  # type: ignore[arg-type]


class _MetadataLoader(yaml.SafeLoader):
    """Safe loader that also reads Omitted markers."""


def _construct_omitted(loader: yaml.SafeLoader, node: yaml.Node) -> Omitted:
    if not isinstance(node, yaml.MappingNode):
        return Omitted()
    mapping = loader.construct_mapping(node)
    return Omitted(mapping.get('omitted_elements', math.nan))


_MetadataLoader.add_constructor(_OMITTED_TAG, _construct_omitted)


def dump_yaml(data: Any) -> str:
    """Write metadata as YAML text (keys sorted, safe tags only).

    Args:
        data: plain values, as returned by ``recursive_repr``.

    Returns:
        The YAML document.
    """
    return yaml.dump(
        data,
        Dumper=_MetadataDumper,
        sort_keys=True,
        default_flow_style=False,
        allow_unicode=True,
    )


def load_yaml(path: str | os.PathLike[str]) -> Any:
    """Read a file written by :class:`YamlDumper`.

    Only safe tags are accepted, plus ``!Omitted`` (read as
    :class:`Omitted`).

    Args:
        path: the YAML file.

    Returns:
        The values in the file.
    """
    with open(path, encoding='utf-8') as stream:
        return yaml.load(stream, Loader=_MetadataLoader)


class YamlDumper(Dumper):
    """Write the metadata of each run as YAML files.

    Files, below ``<par_dir>/metadata/<exp>/<run part>/``:

    * ``config_<run_ts>.yaml``: the configuration;
    * ``<model>_<model_ts>/architecture.yaml``: the module's repr;
    * ``<model>_<model_ts>/<actor>_<actor_ts>.yaml``: an actor's metadata.

    Every file is written atomically.
    """

    folder_name = 'metadata'

    @on(events.StartRunEvent)
    def _yaml_on_start(self, event: events.StartRunEvent) -> None:
        try:
            config = recursive_repr(event.config, depth=CONFIG_DEPTH)
        except RecursionError:
            warnings.warn(exceptions.RecursionWarning(), stacklevel=2)
            config = {}
        file_name = f'config_{event.run_ts.strftime(TS_FMT)}.yaml'
        self._write(safe_join(self.run_dir, file_name), config)

    @on(events.ModelRegistrationEvent)
    def _yaml_on_model(self, event: events.ModelRegistrationEvent) -> None:
        folder = self._model_folder(event.model_name, event.model_ts)
        architecture = LiteralStr(event.architecture_repr)
        self._write(safe_join(folder, 'architecture.yaml'), architecture)

    @on(events.ActorRegistrationEvent)
    def _yaml_on_actor(self, event: events.ActorRegistrationEvent) -> None:
        folder = self._model_folder(event.model_name, event.model_ts)
        file_name = f'{event.actor_name}_{event.actor_ts.strftime(TS_FMT)}'
        self._write(safe_join(folder, f'{file_name}.yaml'), event.metadata)

    def _model_folder(self, model_name: str, model_ts: Any) -> pathlib.Path:
        folder_name = f'{model_name}_{model_ts.strftime(TS_FMT)}'
        return safe_join(self.run_dir, folder_name)

    @staticmethod
    def _write(path: pathlib.Path, data: Any) -> None:
        atomic_write_text(path, dump_yaml(data))
