"""The MLflow model: raw lead history in, probability and hand-set score out.

Each input row is one lead: its attributes as columns, plus ``touches`` and ``stage_changes``
as JSON arrays of records and ``as_of`` (ISO time; empty = now). That flat shape is what
``mlflow models serve`` accepts as a DataFrame, so the registered model is servable as is,
with the feature code, category levels, calibrator and rules loaded once per process.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import mlflow.pyfunc
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.types import ColSpec, Schema

from core.contract import LEADS_COLUMNS
from features.history import LeadHistory

log = logging.getLogger(__name__)
LEAD_COLUMNS = [c.name for c in LEADS_COLUMNS]
INPUT_COLUMNS = [*LEAD_COLUMNS, "touches", "stage_changes", "as_of"]


def _clean(value: Any) -> Any:
    if value is None or (not isinstance(value, str | list | dict) and pd.isna(value)):
        return None
    return value.isoformat() if isinstance(value, pd.Timestamp) else value


_SPEC_TYPE = {"integer": "double", "number": "double", "boolean": "boolean"}


def signature(horizons_days: tuple[int, ...] = ()) -> ModelSignature:
    """The model's input and output schema, declared from the data contract rather than
    inferred from an example, so a lead with a missing attribute (a CRM gap) is accepted;
    ``horizons_days``: one output ``within_<N>d`` per horizon of the bundle's timing model."""
    lead_specs = [
        ColSpec(_SPEC_TYPE.get(c.kind, "string"), c.name, required=not c.nullable)
        for c in LEADS_COLUMNS
    ]
    inputs = Schema(
        [
            *lead_specs,
            ColSpec("string", "touches"),
            ColSpec("string", "stage_changes"),
            ColSpec("string", "as_of", required=False),
        ]
    )
    outputs = Schema(
        [
            ColSpec("string", "lead_id"),
            ColSpec("double", "probability"),
            ColSpec("double", "hand_set_points"),
            ColSpec("boolean", "passes_threshold"),
            *(ColSpec("double", f"within_{days}d") for days in horizons_days),
        ]
    )
    return ModelSignature(inputs=inputs, outputs=outputs)


def example_payloads(history: LeadHistory, rows: pd.DataFrame) -> list[dict]:
    """Real leads of ``rows`` (``lead_id``, ``decision_time``) as payloads at their decision
    time, for ``flat_rows``: the model's input example, and what tests send it."""
    payloads = []
    for lead_id, as_of in zip(rows["lead_id"], rows["decision_time"], strict=True):
        lead = history.leads[history.leads["lead_id"] == lead_id].iloc[0].to_dict()
        touches = history.touches[history.touches["lead_id"] == lead_id]
        stages = history.stage_changes[history.stage_changes["lead_id"] == lead_id]
        payloads.append(
            {
                "lead": lead,
                "touches": touches.drop(columns="lead_id").to_dict("records"),
                "stage_changes": stages.drop(columns="lead_id").to_dict("records"),
                "as_of": pd.Timestamp(as_of).isoformat(),
            }
        )
    return payloads


def flat_rows(payloads: list[dict]) -> pd.DataFrame:
    """Lead payloads (``lead``, ``touches``, ``stage_changes``, ``as_of``) -> model input rows."""
    rows = []
    for payload in payloads:
        row = {name: _clean(payload["lead"].get(name)) for name in LEAD_COLUMNS}
        row["touches"] = json.dumps(payload.get("touches") or [], default=str)
        row["stage_changes"] = json.dumps(payload.get("stage_changes") or [], default=str)
        row["as_of"] = str(payload.get("as_of") or "")
        rows.append(row)
    numeric = [c.name for c in LEADS_COLUMNS if c.kind in ("integer", "number")]
    frame = pd.DataFrame(rows, columns=INPUT_COLUMNS)
    return frame.astype({"lead_id": "str", **dict.fromkeys(numeric, "float64")})


def payloads_of(frame: pd.DataFrame) -> list[dict]:
    """Model input rows -> lead payloads (inverse of ``flat_rows``)."""
    now = pd.Timestamp.now(tz="UTC").tz_localize(None)
    payloads = []
    for row in frame.to_dict("records"):
        payloads.append(
            {
                "lead": {name: _clean(row.get(name)) for name in LEAD_COLUMNS},
                "touches": json.loads(row.get("touches") or "[]"),
                "stage_changes": json.loads(row.get("stage_changes") or "[]"),
                "as_of": row.get("as_of") or now,
            }
        )
    return payloads


class LeadHistoryModel(mlflow.pyfunc.PythonModel):
    """pyfunc wrapper around a ``training.bundle.ScoringBundle`` saved with joblib."""

    def load_context(self, context: mlflow.pyfunc.PythonModelContext) -> None:
        import joblib

        self.bundle = joblib.load(context.artifacts["bundle"])

    def predict(
        self,
        context: mlflow.pyfunc.PythonModelContext,
        model_input: pd.DataFrame,
        params: dict[str, Any] | None = None,
    ) -> pd.DataFrame:
        from features.online import lead_histories_of

        history, points = lead_histories_of(payloads_of(model_input))
        # a large batch (``mlflow models predict``) says how far it is in the log
        return self.bundle.score(points, history, progress=log.info if len(points) > 1 else None)
