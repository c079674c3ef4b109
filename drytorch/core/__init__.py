"""The core: experiments, runs, the run registry, registration, events.

Modules for users (and for those who write trackers):

* :mod:`~drytorch.core.experiment`: ``Experiment`` and ``Run``;
* :mod:`~drytorch.core.run_registry`: the record of an experiment's runs;
* :mod:`~drytorch.core.registering`: models and actors of the active run;
* :mod:`~drytorch.core.experiment_data`: delete, rename or clone what an
  experiment wrote;
* :mod:`~drytorch.core.history`: the metric history of a run;
* :mod:`~drytorch.core.events` and :mod:`~drytorch.core.track`: the events
  of a run, trackers and their dispatch;
* :mod:`~drytorch.core.exceptions`: every error and warning;
* :mod:`~drytorch.core.protocols`: the structural types the parts share.

The others are internal (their docstring says so): they may change without
notice. The core imports :mod:`drytorch.utils` and nothing of the library
above it (``lib``, ``trackers``, ``drytorch_nb``); ``tests/test_layers.py``
holds it to that and to having no import cycle.
"""
