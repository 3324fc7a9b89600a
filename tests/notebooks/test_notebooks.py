"""The notebooks execute top to bottom on small data (a real kernel, nbclient)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
pytestmark = pytest.mark.slow


def _execute(name: str, workdir: Path, monkeypatch: pytest.MonkeyPatch) -> nbformat.NotebookNode:
    monkeypatch.chdir(workdir)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("LEADSCORE_NOTEBOOK_LEADS", "6000")
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(workdir)}}
    ).execute()
    return notebook


def _text(notebook: nbformat.NotebookNode) -> str:
    return "\n".join(
        output.get("text", "") + str(output.get("data", {}).get("text/plain", ""))
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
    )


def test_retrain_notebook_trains_compares_and_registers(tmp_path, monkeypatch):
    notebook = _execute("retrain.ipynb", tmp_path, monkeypatch)
    text = _text(notebook)
    assert "ROC-AUC" in text and "hand-set" in text
    assert "leadscore-mql-to-sql: champion is version 1" in text
    images = [
        o for c in notebook.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})
    ]
    assert len(images) == 6
    assert (tmp_path / "mlflow.db").exists()


def test_weights_notebook_compares_plots_and_exports_rules(tmp_path, monkeypatch):
    notebook = _execute("weights.ipynb", tmp_path, monkeypatch)
    text = _text(notebook)
    assert "newsletter_signup" in text and "learned" in text
    assert "learned rules load as the scorer reads them: threshold 35" in text
    images = [
        o for c in notebook.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})
    ]
    assert len(images) >= 2
    for name in ("report.html", "learned_rules.yaml", "weights.json"):
        assert (tmp_path / "data" / "weights" / name).exists()
    assert (tmp_path / "mlflow.db").exists()
