"""Building blocks for training: models, learning schemas, schedulers, ...

Import the submodules directly (``from drytorch.lib import schedulers``);
this package module imports nothing so that using one submodule does not pay
for the others.
"""
