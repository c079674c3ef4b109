"""Helpers below the core: metadata representation, tensor ops, files.

Nothing here imports :mod:`drytorch.core`, so each module can be read and
tested alone (``tests/test_layers.py`` holds it to that). The errors they
raise are defined in :mod:`drytorch.utils.errors` and users catch them from
:mod:`drytorch.core.exceptions`: they are the same classes.
``drytorch.utils.local_ops`` is the 0.1.0rc11 path of
:mod:`drytorch.core.experiment_data`, loaded on first use.
"""
