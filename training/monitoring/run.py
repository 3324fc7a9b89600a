"""One monitor run, the only module of the family with side effects: read the scored leads,
find the reference runs, read the outcomes, judge (``findings``), then write the report, log
it to MLflow against each reference run and save the summary in the score store (the API's
gauges read it there).

Bad input stops before any output with one ``InputError`` line: no scored leads in the period,
no champion or an unknown ``--reference`` run, no cohort matured yet. A report is never
written for a period that could not be judged.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from core.errors import InputError
from core.jsonable import json_ready
from core.paths import output_folder, writing
from features.decision_points import data_end_of
from features.history import LeadHistory
from training import tracking
from training.monitoring.alarms import Alarm
from training.monitoring.cohorts import WEEK, Population, population, with_outcomes
from training.monitoring.figures import figures as figures_of
from training.monitoring.findings import TransitionFindings, find
from training.monitoring.report import render_html
from training.monitoring.store import ScoreWriter, count_scores, read_scores

Progress = Callable[[str], None]


@dataclass
class MonitorResult:
    """Attributes:
    findings: per transition judged; alarms: all of them; summary: the JSON-ready summary
    (saved in the store); files: report.html and summary.json when written.
    """

    findings: list[TransitionFindings]
    alarms: list[Alarm]
    summary: dict
    files: dict[str, Path]


def scored_since(store: Path, since: pd.Timestamp, until: pd.Timestamp) -> pd.DataFrame:
    """The store's scores of the period; ``InputError`` saying what the store holds if none."""
    scores = read_scores(store, since=since, until=until)
    if len(scores) and (scores["as_of"] >= since).any():
        return scores
    count, first, last = count_scores(store)
    held = (
        f"the store holds {count:,} scores, as_of {first} to {last}"
        if count
        else "the store holds none (the API records scores when LEADSCORE_RECORD_SCORES is on)"
    )
    raise InputError(f"no scored leads in {store} since {since} (until {until}): {held}")


def populations(
    scores: pd.DataFrame, transitions: Sequence[str], since: pd.Timestamp, until: pd.Timestamp
) -> dict[str, Population]:
    """Each transition's population; ``InputError`` when no transition has any lead."""
    found = {t: population(scores, t, since=since, until=until) for t in transitions}
    kept = {t: p for t, p in found.items() if len(p.frame)}
    if not kept:
        statuses = "; ".join(
            f"{t}: " + ", ".join(f"{r} {n}" for r, n in p.set_aside.items())
            for t, p in found.items()
        )
        raise InputError(
            f"no scored lead since {since} was open for {' or '.join(transitions)} ({statuses})"
        )
    return kept


def references_for(transitions: Sequence[str], reference_run: str | None) -> dict[str, tuple]:
    """Per transition (run id, reference profile): ``reference_run`` for its transition, the
    champion's run for the others."""
    out: dict[str, tuple] = {}
    if reference_run is not None:
        transition, reference = tracking.run_reference(reference_run)
        if transition not in transitions:
            raise InputError(
                f"--reference: run {reference_run} trained {transition}, which is not monitored "
                f"here ({', '.join(transitions)})"
            )
        out[transition] = (reference_run, reference)
    for transition in transitions:
        if transition in out:
            continue
        found = tracking.champion_run(transition)
        if found is None:
            raise InputError(
                f"no champion of {tracking.registered_name(transition)} to compare with: train "
                "first, or pass --reference RUN"
            )
        out[transition] = (found[0], tracking.run_reference(found[0])[1])
    return out


def _nothing_matured(
    kept: dict[str, Population], outcome_days: dict[str, int], known_at: pd.Timestamp
) -> InputError:
    first = {t: p.frame["week"].min() for t, p in kept.items()}
    when = "; ".join(
        f"{t}: the first cohort (from {w.date()}) matures on "
        f"{(w + WEEK + pd.Timedelta(days=outcome_days[t])).date()}"
        for t, w in first.items()
    )
    return InputError(
        f"no matured cohort yet: outcomes are judged only once a cohort's outcome window has "
        f"closed, and the outcome data end at {known_at}; {when}"
    )


def run_monitor(
    *,
    store: Path,
    load_history: Callable[[], LeadHistory],
    since: pd.Timestamp,
    until: pd.Timestamp,
    transitions: Sequence[str],
    reference_run: str | None,
    outcome_days: dict[str, int],
    capacity_per_week: float | None,
    out: Path | None,
    log_to_mlflow: bool = True,
    connect_tracking: Callable[[], None] | None = None,
    progress: Progress | None = None,
) -> MonitorResult:
    """Judge the leads scored in [since, until) and publish what was found.

    ``load_history`` and ``connect_tracking`` (pointing MLflow at its store) are called only
    once the store holds leads to judge, so a period with none touches neither."""
    say = progress or (lambda _message: None)
    if until <= since:
        raise InputError(f"--until {until} is not after --since {since}")
    scores = scored_since(store, since, until)
    kept = populations(scores, transitions, since, until)
    if connect_tracking is not None:
        connect_tracking()
    references = references_for(list(kept), reference_run)
    history = load_history()
    known_at = min(until, data_end_of(history))
    known_leads = history.leads["lead_id"].astype(str)
    frames = {
        t: with_outcomes(
            p.frame,
            history.stage_changes,
            known_leads,
            t,
            outcome_days=outcome_days[t],
            known_at=known_at,
        )
        for t, p in kept.items()
    }
    if not any(frame["matured"].any() for frame in frames.values()):
        raise _nothing_matured(kept, outcome_days, known_at)
    findings = [
        find(
            t,
            frames[t],
            references[t][1],
            reference_run=references[t][0],
            until=until,
            outcome_days=outcome_days[t],
            capacity_per_week=capacity_per_week,
            set_aside=kept[t].set_aside,
        )
        for t in kept
    ]
    for t in transitions:
        if t not in kept:
            say(f"{t}: no open score in the period; not judged")
    alarms = [a for f in findings for a in f.alarms]
    summary = {
        "ran_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "since": since.isoformat(),
        "until": until.isoformat(),
        "known_at": pd.Timestamp(known_at).isoformat(),
        "outcome_days": dict(outcome_days),
        "transitions": {f.transition: f.summary() for f in findings},
        "alarms": [a.to_dict() for a in alarms],
    }
    files = _publish(findings, summary, out, log_to_mlflow, say) if out or log_to_mlflow else {}
    try:  # the gauges' source; a store that cannot take it loses them, not the report
        writer = ScoreWriter(store)
        try:
            writer.compact(until)  # a day's blocks into one: later runs read fewer
            writer.save_result(
                ran_at=summary["ran_at"],
                since=summary["since"],
                until=summary["until"],
                summary=json_ready(summary),
            )
        finally:
            writer.close()
    except (sqlite3.Error, OSError) as error:
        say(f"the summary could not be saved in {store} ({error}): the API's gauges keep the last")
    return MonitorResult(findings=findings, alarms=alarms, summary=summary, files=files)


def _publish(
    findings: list[TransitionFindings],
    summary: dict,
    out: Path | None,
    log_to_mlflow: bool,
    say: Progress,
) -> dict[str, Path]:
    """report.html and summary.json in ``out``; figures and both files onto each reference
    run under ``monitoring/<until date>/``."""
    figures = {f.transition: figures_of(f) for f in findings}
    html = render_html(
        findings,
        figures,
        since=pd.Timestamp(summary["since"]),
        until=pd.Timestamp(summary["until"]),
        known_at=pd.Timestamp(summary["known_at"]),
        outcome_days=summary["outcome_days"],
    )
    files: dict[str, Path] = {}
    folder = output_folder(out) if out is not None else None
    if folder is not None:
        files = {"report.html": folder / "report.html", "summary.json": folder / "summary.json"}
        with writing(files["report.html"]):
            files["report.html"].write_text(html, encoding="utf-8")
        with writing(files["summary.json"]):
            text = json.dumps(json_ready(summary), indent=2, allow_nan=False)
            files["summary.json"].write_text(text + "\n", encoding="utf-8")
    if log_to_mlflow:
        day = pd.Timestamp(summary["until"]).date().isoformat()
        for found in findings:
            tracking.log_monitoring(
                found.reference_run,
                folder=f"monitoring/{day}",
                figures={
                    f"{found.transition}_{n}": fig for n, fig in figures[found.transition].items()
                },
                files=list(files.values()),
            )
            say(f"{found.transition}: figures logged to run {found.reference_run}")
    return files
