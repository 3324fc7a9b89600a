"""The only place that talks to MLflow: runs and registering (``runs``), the champion alias and
what it replaced (``aliases``), the registered versions and rollbacks (``registry``), the pyfunc
model, the monitor's references and results (``references``), and report runs such as
benchmarks' (``reports``).

``from training import tracking`` gives the run and registry functions of ``runs``.
"""

from training.tracking.aliases import PREVIOUS_CHAMPION
from training.tracking.references import champion_run, log_monitoring, run_reference
from training.tracking.reports import log_benchmark_run
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
    "PREVIOUS_CHAMPION",
    "champion_run",
    "configure",
    "has_alias",
    "load_bundle",
    "load_bundle_version",
    "log_benchmark_run",
    "log_flat_run",
    "log_monitoring",
    "log_training_run",
    "log_weights_run",
    "promote",
    "registered_name",
    "registered_versions",
    "run_reference",
]
