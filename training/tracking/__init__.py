"""The only place that talks to MLflow: runs, registry and aliases (``runs``), and the pyfunc model.

``from training import tracking`` gives the run and registry functions of ``runs``.
"""

from training.tracking.runs import (
    CHALLENGER,
    CHAMPION,
    configure,
    has_alias,
    load_bundle,
    load_bundle_version,
    log_flat_run,
    log_training_run,
    log_weights_run,
    promote,
    registered_name,
    registered_versions,
)

__all__ = [
    "CHALLENGER",
    "CHAMPION",
    "configure",
    "has_alias",
    "load_bundle",
    "load_bundle_version",
    "log_flat_run",
    "log_training_run",
    "log_weights_run",
    "promote",
    "registered_name",
    "registered_versions",
]
