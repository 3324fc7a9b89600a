"""Benchmark: does the monitor alarm on real shifts, soon, and stay quiet otherwise?

One simulated funnel (150,000 leads over 560 days). Both models are trained on the first 300
days (real LightGBM, MLflow in a temporary store, each run logging its reference profile) and
promoted to champion. Four production stories continue from day 300, each simulated with the
same seed: no drift, and three drifts injected by the simulator at a known start:

- source_mix: 70 % of the new leads come from paid search (a campaign; 12 % before), from
  production week 20;
- form_drop: the web form stops asking the job level, from production week 20;
- conversion: software/SaaS MQLs' log-odds of reaching SQL fall by 2 (about 28 % to 5 %),
  from production week 1; about 16 % of MQLs are software/SaaS, some 110 a week.

A shift smaller than these is seen later or not at all: a lead created under a new source mix
becomes MQL over the following weeks, so the mix of the leads scored moves gradually, and a
weekly cohort of 110 leads in a segment tells a conversion rate only to within some 4 points.

Each lead is scored as the API scores a batch (``serving.scoring.scorer.score_visible``, 1,000
leads a pass) a minute after it entered the transition's entry stage, and recorded by the API's
recorder into that story's score store. The monitor then runs weekly, as a cron job would
(``training.monitoring.run.run_monitor``, both transitions, outcome window 90 days, the
default): 20 runs of the clean story from the first week whose cohort has matured; for each
drift, from two runs before its start until two runs after it became observable. A feature
shift is observable the week it starts; an outcome shift only once the first shifted cohort
has matured (its week plus the 90-day outcome window), since a cohort is never judged early.

Acceptance: every injected shift alarms within 2 weekly runs after it is observable, and at
most 1 of the 20 clean runs alarms. The last clean run also writes the HTML report and logs
its figures to MLflow (timed). Last, what recording costs: CPU time of the recorder's call
on the request path and of the writer thread's work per lead, against scoring itself.

    python benchmarks/monitoring.py [--leads 150000] [--seed 11]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

# This folder holds a script named features.py; keep it from shadowing the features package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent.resolve()]


import pandas as pd  # noqa: E402

START = pd.Timestamp("2024-01-01")
DAYS, CUT_DAY = 560, 300
OUTCOME_DAYS = {"mql_to_sql": 90, "sql_to_won": 90}
# the run at the end of production week w judges week w for stability and inflation, and the
# cohort of week w - 13 for calibration (the newest week that ended 90 or more days before)
WEEKS_TO_MATURE = 13
FIRST_MATURED_RUN = WEEKS_TO_MATURE
CLEAN_RUNS = 20
FEATURE_SHIFT_WEEK, OUTCOME_SHIFT_WEEK = 20, 1


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def scenarios():
    from features.simulation.drift import ConversionShift, FormDropsField, SourceMixShift

    feature_day = CUT_DAY + 7 * FEATURE_SHIFT_WEEK
    outcome_day = CUT_DAY + 7 * OUTCOME_SHIFT_WEEK
    return {
        "clean": ([], None, None),
        "source_mix": (
            [SourceMixShift(feature_day, "paid_search", 0.7)],
            FEATURE_SHIFT_WEEK,
            FEATURE_SHIFT_WEEK,
        ),
        "form_drop": (
            [FormDropsField(feature_day, "job_level")],
            FEATURE_SHIFT_WEEK,
            FEATURE_SHIFT_WEEK,
        ),
        "conversion": (
            [ConversionShift(outcome_day, "mql_to_sql", "industry", "software_saas", -2.0)],
            OUTCOME_SHIFT_WEEK,
            OUTCOME_SHIFT_WEEK + WEEKS_TO_MATURE,
        ),
    }


def day(n: float) -> pd.Timestamp:
    return START + pd.Timedelta(days=n)


def train(history, store: Path, seed: int) -> None:
    from features.build import build_training_sets
    from training import tracking
    from training.rules import default_rules_path, load_rules
    from training.run import train_transition

    os.environ.pop("MLFLOW_TRACKING_URI", None)
    tracking.configure(f"sqlite:///{store}/mlflow.db", store / "mlartifacts", "monitoring")
    sets = build_training_sets(history, horizon_days=90, data_end=day(CUT_DAY))
    rules = load_rules(default_rules_path())
    for training_set in sets.values():
        train_transition(training_set, history, rules, seed=seed, promote=True, progress=say)


def score_and_record(history, models, store: Path) -> int:
    """Score every production decision as the API's batch path does, and record it."""
    from prometheus_client import CollectorRegistry, Counter

    from features.window import visible_history
    from serving.runtime.recorder import ScoreRecorder
    from serving.scoring.scorer import score_visible

    stages = history.stage_changes
    entries = stages[stages["stage"].isin(["mql", "sql"])]
    first = entries.groupby(["lead_id", "stage"], observed=True)["changed_at"].min().reset_index()
    first = first[(first["changed_at"] >= day(CUT_DAY)) & (first["changed_at"] < day(DAYS))]
    points = pd.DataFrame(
        {
            "lead_id": first["lead_id"].to_numpy(),
            "as_of": (first["changed_at"] + pd.Timedelta(minutes=1)).to_numpy(),
        }
    ).sort_values("as_of", ignore_index=True)
    counter = Counter("records", "records", ["outcome"], registry=CollectorRegistry())
    recorder = ScoreRecorder(store, counter, flush_s=0.2)
    recorder.start()
    for begin in range(0, len(points), 1000):
        batch = points.iloc[begin : begin + 1000].reset_index(drop=True)
        as_of = list(pd.to_datetime(batch["as_of"]).dt.tz_localize("UTC").dt.to_pydatetime())
        scored = score_visible(
            models,
            visible_history(batch, history),
            batch["lead_id"].tolist(),
            as_of,
            reasons=[False] * len(batch),
            top=0,
        )
        recorder.record("score_batch", scored)
    recorder.close()
    failed = counter.labels("failed")._value.get() + counter.labels("dropped")._value.get()
    if failed:
        raise SystemExit(f"{failed} scores were not recorded")
    return len(points)


def cpu_us(work, repeats: int = 5, calls: int = 1) -> float:
    """Least CPU time of ``work()`` over a few runs, in µs per call."""
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        for _ in range(calls):
            work()
        best = min(best, time.process_time() - start)
    return best / calls * 1e6


def recording_cost(history, models, folder: Path) -> list[str]:
    """CPU per scoring pass on the request path and per lead in the writer thread, against
    the cost of scoring, for one lead (the single-lead path) and a 1,000-lead batch. The
    writer's work is measured as it runs: one flush of a thousand leads' passes."""
    from prometheus_client import CollectorRegistry, Counter

    from features.window import visible_history
    from serving.runtime.recorder import ScoreRecorder
    from serving.scoring.scorer import score_visible
    from training.monitoring.store import ScoreWriter

    mql = history.stage_changes[history.stage_changes["stage"] == "mql"].head(1000)
    points = pd.DataFrame(
        {"lead_id": mql["lead_id"].to_numpy(), "as_of": mql["changed_at"] + pd.Timedelta(1, "min")}
    ).reset_index(drop=True)
    counter = Counter("records", "records", ["outcome"], registry=CollectorRegistry())
    recorder = ScoreRecorder(folder / "cost.db", counter, max_pending=10**9)  # never started
    writer = ScoreWriter(folder / "cost.db")
    lines = []
    for n in (1, len(points)):
        batch = points.head(n)
        as_of = list(batch["as_of"].dt.tz_localize("UTC").dt.to_pydatetime())

        visible = visible_history(batch, history)  # the API cuts the request's history

        def score(batch=batch, as_of=as_of, visible=visible):
            return score_visible(
                models,
                visible,
                batch["lead_id"].tolist(),
                as_of,
                reasons=[False] * len(batch),
                top=0,
            )

        scored = score()
        scoring = cpu_us(score)
        record = cpu_us(lambda scored=scored: recorder.record("score", scored), calls=200)
        flushes = []
        for _ in range(5):  # a second's worth: a thousand leads pending, written in one flush
            recorder._pending.clear()
            for _ in range(len(points) // n):
                recorder.record("score", scored)
            began = time.process_time()
            recorder._flush(writer)
            flushes.append(time.process_time() - began)
        write = min(flushes) / len(points) * 1e6
        lines.append(
            f"  {n:>5,} lead{'s' * (n > 1)} a pass: scoring {scoring / 1000:7.2f} ms; on the "
            f"request path recording adds {record:5.1f} µs ({record / scoring:.2%}); the writer "
            f"thread spends {write:5.1f} µs a lead ({write * n / scoring:.1%} of scoring)"
        )
    writer.close()
    return lines


def weekly_runs(store: Path, history, weeks: list[int], *, publish_last: Path | None = None):
    """Run the monitor at the end of each production week in ``weeks``; the alarms of each."""
    from core.errors import InputError
    from training.monitoring.run import run_monitor

    out = []
    for k, week in enumerate(weeks):
        until = day(CUT_DAY + 7 * (week + 1))
        last = publish_last is not None and k == len(weeks) - 1
        began = time.perf_counter()
        try:
            result = run_monitor(
                store=store,
                load_history=lambda: history,
                since=until - pd.Timedelta(weeks=16),
                until=until,
                transitions=["mql_to_sql", "sql_to_won"],
                reference_run=None,
                outcome_days=OUTCOME_DAYS,
                capacity_per_week=None,
                out=publish_last if last else None,
                log_to_mlflow=last,
            )
        except InputError as error:
            raise SystemExit(f"week {week}: {error}") from error
        seconds = time.perf_counter() - began
        out.append((week, result.alarms, seconds))
        alarm_text = "; ".join(a.message for a in result.alarms) or "no alarm"
        say(f"  week {week:2d} ({seconds:.1f} s): {alarm_text}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=150_000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--report", type=Path, help="keep the last clean run's report here")
    args = parser.parse_args()

    from features.simulate import simulate
    from serving.scoring.loading import load_models

    began = time.perf_counter()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        stories = scenarios()
        histories = {}
        for name, (drifts, _, _) in stories.items():
            histories[name] = simulate(
                args.leads, seed=args.seed, start=START, days=DAYS, drifts=drifts
            ).history
        say(f"simulated {len(stories)} stories of {args.leads:,} leads")
        train(histories["clean"], root, args.seed)
        models = load_models(
            tracking_uri=f"sqlite:///{root}/mlflow.db",
            artifacts_dir=root / "mlartifacts",
            experiment="monitoring",
            alias="champion",
            model_dir=None,
            trees_cache=root / "trees",  # compiled, as the API serves them
        )
        for name, (_, start, observable) in stories.items():
            store = root / f"{name}.db"
            scored = score_and_record(histories[name], models, store)
            say(f"{name}: {scored:,} leads scored and recorded")
            if start is None:
                weeks = list(range(FIRST_MATURED_RUN, FIRST_MATURED_RUN + CLEAN_RUNS))
                folder = args.report or root / "report"
                runs = weekly_runs(store, histories[name], weeks, publish_last=folder)
                report = folder / "report.html"
                say(f"report: {report.stat().st_size / 1e6:.1f} MB; last run logged to MLflow")
            else:
                first = max(FIRST_MATURED_RUN, start - 2)
                weeks = list(range(first, observable + 3))
                runs = weekly_runs(store, histories[name], weeks)
            rows.append((name, start, observable, runs))
        cost = recording_cost(histories["clean"], models, root)

    print(
        f"\n{args.leads:,} simulated leads per story (seed {args.seed}); "
        f"{time.perf_counter() - began:.0f} s in all"
    )
    print(
        f"{'story':<11} {'starts':>6} {'seen':>4} {'runs':>4} {'false':>5} {'runs to alarm':>13}"
        f"  {'s/run':>5}  alarmed runs (week: checks)"
    )
    for name, start, observable, runs in rows:
        alarmed = [
            (w, sorted({f"{a.transition[:3]}.{a.check}:{a.subject}" for a in alarms}))
            for w, alarms, _ in runs
            if alarms
        ]
        text = "; ".join(f"{w}: {' '.join(c)}" for w, c in alarmed) or "none"
        if observable is None:
            false, after = len(alarmed), "-"
        else:
            false = sum(1 for w, _ in alarmed if w < start)
            hits = [w for w, _ in alarmed if w >= observable]
            after = f"{hits[0] - observable + 1}" if hits else "never"
        seconds = sum(s for _, _, s in runs) / len(runs)
        print(
            f"{name:<11} {'-' if start is None else start:>6} "
            f"{'-' if observable is None else observable:>4} {len(runs):>4} {false:>5} "
            f"{after:>13}  {seconds:5.1f}  {text}"
        )
    print("\nrecording (CPU time, least of a few runs):")
    print("\n".join(cost))


if __name__ == "__main__":
    main()
