"""The lines the demo ends with: what to do next, each a command that works as printed.

Three steps: look at the runs in the MLflow UI, start the scoring API and score the example lead
with one curl line, and write the learned vs hand-set weights report. The commands name the
programs of the environment the demo ran in (``.venv/bin/...`` after ``make demo``) and the
stores it wrote, so they run from the folder the demo ran in. The README's quick start shows
the same lines (a test holds them together).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

__all__ = ["EXAMPLE_LEAD", "next_steps", "scripts_folder"]

MLFLOW_PORT = 5000
API_PORT = 8000
# the lead the README scores too: a hand-raiser who read the pricing page before becoming an MQL
EXAMPLE_LEAD = {
    "lead": {"lead_id": "L-1042", "created_at": "2025-01-06T09:15:00Z", "lead_type": "hand_raiser"},
    "touches": [
        {
            "occurred_at": "2025-01-08T14:02:00Z",
            "channel": "web",
            "action": "page_view",
            "page_type": "pricing",
            "duration_s": 95,
        }
    ],
    "stage_changes": [{"stage": "mql", "changed_at": "2025-01-09T17:00:00Z"}],
    "as_of": "2025-01-10T08:00:00Z",
}


def scripts_folder() -> str:
    """Where this environment's programs are, as a user would type it: relative to the working
    folder when inside it (``.venv/bin``), else absolute."""
    folder = Path(sys.executable).parent
    try:
        return str(folder.relative_to(Path.cwd()))
    except ValueError:
        return str(folder)


def next_steps(
    *, scripts: str, tracking_uri: str, example_lead: Path, weights_report: Path
) -> list[str]:
    """The demo's closing lines. ``scripts``: the folder of ``leadscore`` and ``mlflow``;
    ``tracking_uri``: the store the runs went to (a SQLite file gets the local UI; a server
    is named to open); ``example_lead``: the JSON file the curl line posts."""
    bin_ = f"{scripts}{os.sep}" if scripts else ""
    if tracking_uri.startswith(("sqlite:", "file:")) or "://" not in tracking_uri:
        ui = [
            f"  1. runs, plots and registered models: the MLflow UI, then open "
            f"http://127.0.0.1:{MLFLOW_PORT}",
            f"     {bin_}mlflow ui --backend-store-uri {tracking_uri} --port {MLFLOW_PORT}",
        ]
    else:
        ui = [f"  1. runs, plots and registered models: open {tracking_uri} in a browser"]
    return [
        "next steps:",
        *ui,
        "  2. the scoring API; then, in a second terminal, score the example lead:",
        f"     {bin_}leadscore serve --port {API_PORT}",
        f"     curl -s localhost:{API_PORT}/v1/score -H 'Content-Type: application/json' "
        f"-d @{example_lead}",
        f"  3. learned vs hand-set points per rule, written to {weights_report}:",
        f"     {bin_}leadscore weights",
    ]
