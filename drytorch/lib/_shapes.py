"""Output shapes of every sub-module, read during one real forward pass.

A :class:`Model` calls its forward through :class:`FirstForward` until one
forward succeeds: for that call only, forward hooks on the module and all
its sub-modules note the shape of each output; they are removed as soon as
the call returns (or raises), so nothing of them stays on the module (no
cost afterwards, nothing for ``copy.deepcopy`` or ``torch.save`` to carry).
Then the model swaps its plain forward back in.

No extra forward is ever run: the shapes are those of the first batch the
model really sees, in training or in evaluation. Under
DistributedDataParallel the hooks sit on the wrapped module's tree (the
wrapper itself is untouched). A model built with ``should_compile`` records
nothing: hooks inside a compiled graph would cost a recompilation. A
ModelAverage records during its first training forward (in evaluation it
runs its averaged copy, which has no hooks).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any, Protocol

from torch import nn

from drytorch.utils.model_summary import describe_shape

__all__ = ['FirstForward', 'ShapeRecorder', 'ShapesReceiver']


class ShapesReceiver(Protocol):
    """What a :class:`FirstForward` reports to (a Model)."""

    def _receive_shapes(self, recorder: ShapeRecorder) -> None: ...


class ShapeRecorder:
    """Forward hooks that note the output shape of each sub-module.

    Attributes:
        shapes: output shape by qualified sub-module name ('' for the root).
        input_shape: the shape of the root's input.
        installed: whether the hooks could be installed.
    """

    def __init__(self, root: nn.Module) -> None:
        """Install the hooks (none if the module does not accept them).

        Args:
            root: the module whose tree is watched.
        """
        self.shapes: dict[str, str] = {}
        self.input_shape = ''
        self._handles: list[Any] = []
        self.installed = True
        try:
            for name, module in root.named_modules():
                hook = self._hook(name, is_root=not name)
                self._handles.append(module.register_forward_hook(hook))
        except Exception:  # e.g. scripted modules: no shapes, no failure
            self.remove()
            self.installed = False

    def _hook(self, name: str, is_root: bool) -> Callable[..., None]:
        shapes = self.shapes

        def note_shape(module: nn.Module, args: Any, output: Any) -> None:
            # a module called twice in one forward keeps its first shape
            if name not in shapes:
                shapes[name] = describe_shape(output)
                if is_root:
                    inputs = args[0] if len(args) == 1 else args
                    self.input_shape = describe_shape(inputs)

        return note_shape

    def remove(self) -> None:
        """Remove every hook."""
        handles, self._handles = self._handles, []
        for handle in handles:
            handle.remove()


class FirstForward:
    """A forward that records the shapes of its call, until one succeeds.

    It holds its model weakly: a model is never kept alive by its own
    forward attribute.
    """

    __slots__ = ('_forward', '_receiver', '_root')

    def __init__(
        self,
        receiver: ShapesReceiver,
        forward: Callable[[Any], Any],
        root: nn.Module,
    ) -> None:
        """Args:
        receiver: the model told of the shapes (after a successful call).
        forward: the plain forward.
        root: the module whose tree the forward runs.
        """  # noqa: D205
        self._receiver = weakref.ref(receiver)
        self._forward = forward
        self._root = root

    def __call__(self, inputs: Any) -> Any:
        """Run the plain forward with the hooks in place."""
        recorder = ShapeRecorder(self._root)
        try:
            outputs = self._forward(inputs)
        finally:
            recorder.remove()
        receiver = self._receiver()
        if receiver is not None:
            receiver._receive_shapes(recorder)
        return outputs
