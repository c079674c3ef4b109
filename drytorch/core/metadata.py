"""Documentation of the models and actors of a run.

The :class:`MetadataManager` of a run reserves the names of its models and
actors (two objects may not share a name, since names become file names)
and publishes the registration events that carry their descriptions.
"""

from __future__ import annotations

import datetime
import weakref
from typing import Any

from drytorch.core import exceptions, log_events, naming, scope
from drytorch.utils import repr_utils

__all__ = ['MetadataManager']


def _created_at(obj: Any) -> datetime.datetime:
    value = getattr(obj, 'created_at', None)
    if isinstance(value, datetime.datetime):
        return value
    return datetime.datetime.now()


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

    def _claim(self, key: str, obj: Any, name: str) -> None:
        ref = self.metadata_dict.get(key)
        holder = ref() if ref is not None else None
        if holder is not None and holder is not obj:
            raise exceptions.NameAlreadyRegisteredError(name)
        self.metadata_dict[key] = weakref.ref(obj)

    def register_model(self, model: Any) -> None:
        """Reserve the model's name and publish its registration."""
        name = naming.validate_name(model.name, 'model name')
        self._claim(name, model, name)
        scope.publish(
            log_events.ModelRegistrationEvent(
                model_name=name,
                model_ts=_created_at(model),
                architecture_repr=repr_utils.LiteralStr(repr(model.module)),
            )
        )

    def register_actor(self, actor: Any, model: Any) -> None:
        """Reserve the actor's name for the model and publish its metadata."""
        name = getattr(actor, 'name', '') or type(actor).__name__
        name = naming.validate_name(name, 'actor name')
        self._claim(f'{model.name}/{name}', actor, name)
        scope.publish(
            log_events.ActorRegistrationEvent(
                actor_name=name,
                actor_ts=_created_at(actor),
                model_name=model.name,
                model_ts=_created_at(model),
                metadata=self.extract_metadata(actor),
            )
        )

    def unregister_model(self, model: Any) -> None:
        """Free the model's name."""
        self.metadata_dict.pop(model.name, None)

    def unregister_actor(self, actor: Any) -> None:
        """Free every name the actor holds."""
        for key, ref in list(self.metadata_dict.items()):
            if ref() is actor:
                del self.metadata_dict[key]

    @staticmethod
    def extract_metadata(obj: Any) -> dict[str, Any]:
        """A readable description of an object's public state."""
        return repr_utils.extract_metadata(obj)
