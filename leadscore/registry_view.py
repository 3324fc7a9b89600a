"""What ``leadscore models`` and ``leadscore rollback`` print: the registered versions of each
transition as a plain table (or one JSON object), and what a rollback changed with the one
line that makes the running API serve it.

Pure text over ``training.tracking.registry``'s records; the commands read the store and print.
"""

from __future__ import annotations

import math
import textwrap
from dataclasses import asdict

from training.tracking.registry import RegisteredModel, Rollback, VersionRecord

__all__ = ["reload_line", "rollback_text", "versions_json", "versions_table"]

_WIDTH = 96
_HEADER = f"  {'version':>7}  {'registered (UTC)':<16}  {'aliases':<20}  {'test AUC':>8}  "
_HEADER += f"{'rules AUC':>9}  serves"


def _auc(value: float | None) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.3f}"


def _wrapped(label: str, text: str) -> list[str]:
    return textwrap.wrap(
        f"{label}: {text}", _WIDTH, initial_indent=" " * 11, subsequent_indent=" " * 13
    )


def versions_table(models: list[RegisteredModel]) -> str:
    """One block per transition: its registered model, which version is champion and which
    one ``leadscore rollback`` goes back to, then each version newest first with the gate's
    decision, the champion it replaced and any rollback to it under its row."""
    lines: list[str] = []
    for model in models:
        if lines:
            lines.append("")
        head = f"{model.transition}: {model.model_name}"
        if not model.versions:
            lines.append(f"{head}, nothing registered yet")
            continue
        count = len(model.versions)
        head += f", {count} version{'s' if count > 1 else ''}; "
        head += f"champion: version {model.champion}" if model.champion else "no champion"
        lines.append(head)
        if model.rollback_to:
            lines.append(
                f"  `leadscore rollback {model.transition}` goes back to version "
                f"{model.rollback_to}"
            )
        lines.append(_HEADER)
        for v in model.versions:
            lines.append(
                f"  {v.version:>7}  {v.created_at:%Y-%m-%d %H:%M}  "
                f"{', '.join(v.aliases) or '-':<20}  {_auc(v.roc_auc):>8}  "
                f"{_auc(v.rules_auc):>9}  {v.serves_text}"
            )
            if v.promotion_reason:
                lines += _wrapped(f"gate ({v.promotion or '-'})", v.promotion_reason)
            if v.previous_champion:
                lines += _wrapped("replaced", f"version {v.previous_champion} as champion")
            if v.rollback:
                lines += _wrapped("rolled back", _rollback_record(v.rollback))
    return "\n".join(lines)


def _rollback_record(record: dict[str, str]) -> str:
    text = f"from version {record.get('from_version', '?')} by {record.get('by', '?')} "
    text += f"at {record.get('at', '?')}"
    return text + (f" ({record['reason']})" if record.get("reason") else "")


def versions_json(models: list[RegisteredModel]) -> dict:
    """The same as ``versions_table``, as one JSON-ready object keyed by transition."""
    return {
        model.transition: {
            "registered_model": model.model_name,
            "champion": model.champion,
            "rollback_to": model.rollback_to,
            "versions": [_version_json(v) for v in model.versions],
        }
        for model in models
    }


def _version_json(version: VersionRecord) -> dict:
    return {
        **asdict(version),
        "created_at": version.created_at.isoformat(timespec="seconds"),
        "aliases": list(version.aliases),
        "serves_text": version.serves_text,
    }


def reload_line(port: int, *, has_api_key: bool) -> str:
    """The curl line that makes the API on this machine load the champions again
    (``POST /v1/models/reload``); with an API key set, it sends the key from the environment
    rather than printing it."""
    line = f"curl -s -X POST localhost:{port}/v1/models/reload"
    return line + (' -H "X-API-Key: $LEADSCORE_API_KEY"' if has_api_key else "")


def rollback_text(
    rollback: Rollback,
    *,
    port: int,
    has_api_key: bool,
    model_alias: str = "champion",
    model_dir: str | None = None,
) -> str:
    """What changed and the next step: the running API serves the new champion after its
    reload endpoint is called, or at its next start. Says so when the API's settings make it
    serve something else (another alias, a folder of bundles)."""
    before = f"version {rollback.from_version}" if rollback.from_version else "no champion"
    lines = [
        f"{rollback.model_name}: champion moved from {before} to version {rollback.to_version}",
        f"  recorded on version {rollback.to_version}: by {rollback.by} at "
        f"{rollback.at.isoformat(timespec='seconds')}"
        + (f", reason: {rollback.reason}" if rollback.reason else ""),
        "next: a running API serves it after a reload (or at its next start):",
        f"  {reload_line(port, has_api_key=has_api_key)}",
    ]
    if model_alias != "champion":
        lines.append(
            f"  note: the API serves the alias {model_alias!r} ($LEADSCORE_MODEL_ALIAS), "
            "not champion: unset it to serve this version"
        )
    if model_dir:
        lines.append(
            f"  note: the API serves the bundles in {model_dir} ($LEADSCORE_MODEL_DIR), not the "
            "registry: unset it to serve this version"
        )
    return "\n".join(lines)
