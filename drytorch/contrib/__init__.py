"""Optional integrations with third-party libraries.

Each submodule wraps one library (torchmetrics, torcheval, optuna, torch's
SWA utilities) and is imported explicitly by the user; importing this
package imports none of them.
"""

__all__: list[str] = []
