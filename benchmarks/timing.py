"""Benchmark: does the censoring-aware timing model earn its place? On simulated leads (true
probabilities and timing known):

1. Brier score of P(converting within 30/60/90 days) for leads decided in the 90 days after a
   cut-off, by models that know only the history before it: the hazard model (open leads count
   for the weeks seen), the oracle (the simulator's truth), and the fixed-horizon classifier
   that drops the open leads (today's training set) or labels them negative. Target: the
   hazard model's 90-day Brier within 0.01 of the oracle's, and below both classifiers'.
2. Backtest of ``leadscore forecast``: at each cut-off, the hazard model fitted on what was
   known then forecasts the SQLs the open MQLs bring in the next 30 days, against what
   happened. Target: within 10% each time.

Prints both tables (and the won deals of open SQLs, for information), plots them, and logs a
run to MLflow (experiment ``timing``, a store in ``benchmarks/out/timing/``).

    python benchmarks/timing.py [--leads 200000] [--seed 7] [--cut-offs 2025-03-01,...]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import datetime
from pathlib import Path

# This folder holds a script named features.py; keep it from shadowing the features package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent.resolve()]

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

HORIZONS = (30, 60, 90)
OUT = Path(__file__).parent / "out" / "timing"


def say(message: str) -> None:
    print(message, file=sys.stderr)


def classifier_rows(follow: pd.DataFrame, cut_off: pd.Timestamp, mode: str) -> pd.DataFrame:
    """The fixed-horizon (90-day) training rows known at ``cut_off``: ``drop`` keeps the rows
    whose 90 days had passed (today's training set), ``negative`` keeps every row and calls an
    open one a negative."""
    from training.timing.fit import censored_at

    known = censored_at(follow, cut_off)
    label = (known["converted_days"] <= 90).fillna(False).to_numpy()
    keep = np.ones(len(known), dtype=bool)
    if mode == "drop":
        keep = (known["observed_days"] >= 90).to_numpy()
    return known.assign(label=label.astype(int))[keep].reset_index()


def brier_at(sim, transition: str, cut_off: pd.Timestamp, rules, seed: int) -> dict:
    """Scorers trained on what was known at ``cut_off``, judged on the next 90 days' leads."""
    from features.decision_points import follow_up
    from training.model import LeadConversionModel
    from training.timing.evaluate import brier_by_horizon
    from training.timing.fit import decision_features, fit_hazard
    from training.timing.judge import oracle_within

    history = sim.history
    everything = follow_up(history, transition, data_end=pd.Timestamp("2100-01-01"))
    data_end = history.stage_changes["changed_at"].max()
    everything["observed_days"] = (data_end - everything["as_of"]).dt.total_seconds() / 86_400
    before = everything[everything["as_of"] < cut_off].reset_index(drop=True)
    features = decision_features(before, history, rules)
    began = time.perf_counter()
    from training.timing.fit import censored_at

    hazard = fit_hazard(features, censored_at(before, cut_off), horizons_days=HORIZONS, seed=seed)
    hazard_s = time.perf_counter() - began
    after = everything[
        (everything["as_of"] >= cut_off) & (everything["as_of"] < cut_off + pd.Timedelta(days=90))
    ].reset_index(drop=True)
    test = decision_features(after, history, rules)
    scorers = {"hazard": hazard.within(test)}
    oracle = oracle_within(sim.truth, transition, after["lead_id"].to_numpy(), HORIZONS)
    scorers["oracle"] = oracle
    for mode in ("drop", "negative"):
        rows = classifier_rows(before, cut_off, mode)
        model = LeadConversionModel(random_state=seed).fit(
            features.iloc[rows["index"].to_numpy()], rows["label"].to_numpy()
        )
        p = np.full((len(after), len(HORIZONS)), np.nan)
        p[:, HORIZONS.index(90)] = model.predict_proba(test)[:, 1]
        scorers[f"classifier_{mode}"] = p
    brier = brier_by_horizon(
        scorers, after["converted_days"].to_numpy(), after["observed_days"].to_numpy(), HORIZONS
    )
    return {"brier": brier, "hazard_s": hazard_s, "rows_known": len(before), "model": hazard}


def backtest_at(sim, transition: str, cut_off: pd.Timestamp, rules, seed: int) -> dict:
    """The forecast of the next 30 days from the leads open at ``cut_off`` against the truth."""
    from training.timing.fit import decision_features, fit_at
    from training.timing.forecast import actual_counts, coming_periods, expected_counts, open_at

    model = fit_at(
        sim.history, transition, rules, cut_off=cut_off, horizons_days=HORIZONS, seed=seed
    )
    leads = open_at(sim.history, transition, cut_off)
    leads = leads[leads["age_days"] < 7 * model.weeks_].reset_index(drop=True)
    hazards = model.hazards(model.encode(decision_features(leads, sim.history, rules)))
    periods = coming_periods(cut_off, weeks=4, months=0)
    table = expected_counts(hazards, leads["age_days"].to_numpy(), periods)
    table["actual"] = actual_counts(sim.history, transition, leads, cut_off, periods)
    row = table.iloc[0]
    return {
        "cut_off": f"{cut_off:%Y-%m-%d}",
        "open": len(leads),
        "expected": float(row["expected"]),
        "low": float(row["low"]),
        "high": float(row["high"]),
        "actual": int(row["actual"]),
        "error": float(row["expected"] / row["actual"] - 1) if row["actual"] else float("nan"),
        "weeks": table,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--cut-offs", default="2025-03-01,2025-06-01,2025-09-01")
    parser.add_argument("--brier-cut-off", default="2025-06-01")
    args = parser.parse_args()

    from features.simulate import simulate
    from training import tracking
    from training.rules import default_rules_path, load_rules
    from training.timing.figures import brier_figure

    rules = load_rules(default_rules_path())
    began = time.perf_counter()
    say(f"simulating {args.leads:,} leads ...")
    sim = simulate(args.leads, seed=args.seed, start=datetime(2024, 1, 1), days=730)
    cut = pd.Timestamp(args.brier_cut_off)
    briers, metrics = {}, {}
    lines = [
        f"{args.leads:,} simulated leads (seed {args.seed}); models know the history before "
        f"{cut:%Y-%m-%d}, judged on the leads decided in the 90 days after it",
        "",
        "| transition | horizon | rows | hazard | oracle | gap | classifier, open dropped "
        "| classifier, open as negatives |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for transition in ("mql_to_sql", "sql_to_won"):
        say(f"[{transition}] Brier at {cut:%Y-%m-%d} ...")
        result = brier_at(sim, transition, cut, rules, args.seed)
        briers[transition] = result["brier"]
        for days, entry in result["brier"].items():
            gap = entry["hazard"] - entry["oracle"]
            drop = entry.get("classifier_drop")
            negative = entry.get("classifier_negative")
            lines.append(
                f"| {transition} | {days} | {entry['rows']:,} | {entry['hazard']:.4f} | "
                f"{entry['oracle']:.4f} | {gap:+.4f} | "
                + (f"{drop:.4f} | {negative:.4f} |" if drop is not None else "- | - |")
            )
            for name in ("hazard", "oracle", "classifier_drop", "classifier_negative"):
                if name in entry:
                    metrics[f"brier.{transition}.{days}.{name}"] = entry[name]
        metrics[f"hazard_fit_s.{transition}"] = result["hazard_s"]
    backtests = {}
    for transition, target in (("mql_to_sql", "SQLs"), ("sql_to_won", "won deals")):
        lines += [
            "",
            f"backtest, {transition}: {target} in the next 30 days from the leads open at each "
            "cut-off (model fitted on what was known then)",
            "",
            "| cut-off | open leads | forecast | 90% interval | actual | error |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        backtests[transition] = []
        for cut_off in args.cut_offs.split(","):
            say(f"[{transition}] backtest at {cut_off} ...")
            row = backtest_at(sim, transition, pd.Timestamp(cut_off), rules, args.seed)
            backtests[transition].append(row)
            lines.append(
                f"| {row['cut_off']} | {row['open']:,} | {row['expected']:.1f} | "
                f"{row['low']:.1f}-{row['high']:.1f} | {row['actual']} | {row['error']:+.1%} |"
            )
            metrics[f"backtest.{transition}.{row['cut_off']}.error"] = row["error"]
    seconds = time.perf_counter() - began
    lines += ["", f"took {seconds:.0f} s"]
    text = "\n".join(lines)
    print(text)

    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "timing.md").write_text(text + "\n")
    figures = {f"brier_{t}": brier_figure(b) for t, b in briers.items()}
    for name, figure in figures.items():
        figure.savefig(OUT / f"{name}.png", dpi=110)
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    tracking.configure(f"sqlite:///{OUT / 'mlflow.db'}", OUT / "mlartifacts", "timing")
    tracking.log_benchmark_run(
        run_name=f"timing-{args.leads}",
        params={"leads": args.leads, "seed": args.seed, "cut_offs": args.cut_offs},
        metrics={k: v for k, v in metrics.items() if np.isfinite(v)},
        figures=figures,
        files=[OUT / "timing.md"],
    )


if __name__ == "__main__":
    main()
