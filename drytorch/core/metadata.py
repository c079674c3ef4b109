"""Internal: documentation of the models and actors of a run.

The :class:`MetadataManager` of a run reserves the names of its models and
actors (two live objects never share a name, since names become file names)
and publishes the registration events that carry their descriptions.

A name is taken over by the newest object that claims it: re-executing a
notebook cell that builds ``Model(net, name='linear')`` or a ``Trainer``
must not fail, nor rename the new object ``linear_2`` (its files would no
longer be found). The registration event is published again, so trackers
show the new object; :mod:`drytorch.core.registering` releases the old one.

Each run has its own, as ``run.metadata_manager``; the class keeps its
0.1.0rc5 path ``drytorch.core.track.MetadataManager``.
"""

from __future__ import annotations

import datetime
import weakref
from typing import Any

from torch import nn

from drytorch.core import events, naming, scope
from drytorch.utils import actor_settings, model_summary, repr_utils

__all__ = ['MetadataManager']


def _created_at(obj: Any) -> datetime.datetime:
    value = getattr(obj, 'created_at', None)
    if isinstance(value, datetime.datetime):
        return value
    return datetime.datetime.now()


def _summary(model: Any) -> model_summary.ModelSummary | None:
    """The model's own summary, else one of its module, else None."""
    summary = getattr(model, 'summary', None)
    if callable(summary):
        result = summary()
        if isinstance(result, model_summary.ModelSummary):
            return result
    module = getattr(model, 'module', None)
    if isinstance(module, nn.Module):
        return model_summary.summarize(module)
    return None


class MetadataManager:
    """Names and descriptions of the models and actors of one run.

    Attributes:
        metadata_dict: the reserved names and the objects that hold them.
    """

    def __init__(self) -> None:
        self.metadata_dict: dict[str, weakref.ref[Any]] = {}

    def free_name(self, base: str, scope_name: str = '') -> str:
        """``base`` if free, else ``base_2``, ``base_3``, ...."""
        key = f'{scope_name}/{base}' if scope_name else base
        if not self._taken(key):
            return base
        suffix = 2
        while self._taken(f'{key}_{suffix}'):
            suffix += 1
        return f'{base}_{suffix}'

    def _taken(self, key: str) -> bool:
        ref = self.metadata_dict.get(key)
        return ref is not None and ref() is not None

    def holder(self, key: str) -> Any:
        """The live object that holds a name (``model/actor`` for actors)."""
        ref = self.metadata_dict.get(key)
        return ref() if ref is not None else None

    def _claim(self, key: str, obj: Any) -> Any:
        """Give the name to ``obj``; return the object it took it from."""
        holder = self.holder(key)
        self.metadata_dict[key] = weakref.ref(obj)
        return holder if holder is not obj else None

    def register_model(self, model: Any) -> Any:
        """Reserve the model's name and publish its registration.

        Returns:
            The live model that held the name before, if any.
        """
        name = naming.validate_name(model.name, 'model name')
        previous = self._claim(name, model)
        scope.publish(
            events.ModelRegistrationEvent(
                model_name=name,
                model_ts=_created_at(model),
                architecture_repr=repr_utils.LiteralStr(repr(model.module)),
                summary=_summary(model),
            )
        )
        return previous

    @staticmethod
    def actor_key(actor: Any, model: Any) -> str:
        """The key of an actor's name: ``<model name>/<actor name>``.

        Raises:
            InvalidNameError: if the actor's name cannot be a file name.
        """
        name = getattr(actor, 'name', '') or type(actor).__name__
        name = naming.validate_name(name, 'actor name')
        return f'{model.name}/{name}'

    def register_actor(self, actor: Any, model: Any) -> Any:
        """Reserve the actor's name for the model and publish its metadata.

        Returns:
            The live actor that held the name before, if any.
        """
        key = self.actor_key(actor, model)
        name = key.rpartition('/')[2]
        previous = self._claim(key, actor)
        scope.publish(
            events.ActorRegistrationEvent(
                actor_name=name,
                actor_ts=_created_at(actor),
                model_name=model.name,
                model_ts=_created_at(model),
                metadata=self.extract_metadata(actor),
                settings=actor_settings.actor_settings(actor),
            )
        )
        return previous

    def unregister_model(self, model: Any) -> None:
        """Free the model's name and its actors' names, if it holds them."""
        if self.holder(model.name) is model:
            del self.metadata_dict[model.name]
        prefix = f'{model.name}/'
        for key in [k for k in self.metadata_dict if k.startswith(prefix)]:
            actor = self.holder(key)
            if actor is None or getattr(actor, 'model', None) is model:
                del self.metadata_dict[key]

    def unregister_actor(self, actor: Any) -> None:
        """Free every name the actor holds."""
        for key, ref in list(self.metadata_dict.items()):
            if ref() is actor:
                del self.metadata_dict[key]

    @staticmethod
    def extract_metadata(obj: Any) -> dict[str, Any]:
        """A readable description of an object's public state."""
        return repr_utils.extract_metadata(obj)
