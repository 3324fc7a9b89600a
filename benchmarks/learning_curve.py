"""Benchmark: does starting from the team's hand-set rules help a learned model with few deals?

On simulated histories, where every lead's true conversion probability is known, a learning
curve: for each number of converted rows to learn from (20, 50, 120, 500, 2,000) and each seed,
a random sample of the older rows with that many conversions is split by time into training
(older 82 %) and validation (newest 18 %) rows, as ``training.split`` splits 70/15, and four
probabilities are judged on the same newest rows of the history (its last 30 %, never sampled):

  (a) rules      the hand-set score calibrated on the sample (``selection.rules_only``)
  (b) plain      plain LightGBM, early-stopped on validation (today's model)
  (c) prior      what ``leadscore train`` serves: below 20 conversions, or too few in a part
                 of the split, the floor (the calibrated rules); else what
                 ``training.selection.choose_model`` picks on validation: LightGBM on the
                 rules prior, plain LightGBM or the rules alone
  oracle         the simulator's true probabilities

It prints the mean log loss and ROC-AUC over seeds (with standard deviations), checks the
targets (c's log loss no worse than the better of (a) and (b) at 20, 50 and 120 conversions;
c's AUC within 0.005 of b's at 2,000), plots the curves and logs all of it to MLflow (the
configured store, experiment ``learning-curve``). About a minute on 2 cores by default.

    python benchmarks/learning_curve.py [--transition sql_to_won] [--seeds 5]
        [--sizes 20,50,120,500,2000] [--leads 150000] [--no-mlflow]
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

# This folder holds a script named features.py; keep it from shadowing the features package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent.resolve()]

OUT = Path(__file__).parent / "out" / "learning_curve"
METHODS = {"rules": "(a) rules", "plain": "(b) plain", "prior": "(c) prior", "oracle": "oracle"}
TEST_SHARE = 0.3
VALIDATION_SHARE = 0.18  # of a sample: 15 / (70 + 15), as training.split's 70/15/15


def _history(leads: int, seed: int, transition: str):
    """(rows in time order with hand_set_points, true probabilities) of one simulated history."""
    from features.build import build_training_sets
    from features.simulate import simulate
    from training.model.prior import HAND_SET_POINTS
    from training.rules import default_rules_path, load_rules, score_leads

    sim = simulate(leads, seed=seed, start=datetime(2024, 1, 1), days=730)
    frame = build_training_sets(sim.history, horizon_days=90)[transition].frame
    frame = frame.sort_values("decision_time", kind="stable").reset_index(drop=True)
    points = pd.DataFrame({"lead_id": frame["lead_id"], "as_of": frame["decision_time"]})
    rules = load_rules(default_rules_path())
    frame[HAND_SET_POINTS] = score_leads(rules, points, sim.history).total.to_numpy()
    truth = sim.truth[sim.truth["transition"] == transition].set_index("lead_id")
    true_p = truth["true_probability"].reindex(frame["lead_id"]).to_numpy()
    return frame, true_p


def _sample(y: np.ndarray, pool: np.ndarray, positives: int, rng) -> np.ndarray:
    """Rows of ``pool`` holding ``positives`` converted rows and unconverted ones at the pool's
    rate, in time order."""
    converted, unconverted = pool[y[pool] == 1], pool[y[pool] == 0]
    negatives = round(positives * unconverted.size / converted.size)
    taken = np.r_[
        rng.choice(converted, positives, replace=False),
        rng.choice(unconverted, negatives, replace=False),
    ]
    return np.sort(taken)


def _scores(frame: pd.DataFrame, true_p: np.ndarray, rows: np.ndarray, test: np.ndarray, seed: int):
    """Each method's test probabilities after learning from ``rows``, and what (c) serves."""
    from features.definitions import FEATURE_NAMES
    from training.model.prior import HAND_SET_POINTS
    from training.selection import choose_model, rules_only
    from training.split import MIN_POSITIVES, floor_reason_of, outcome_counts

    features = list(FEATURE_NAMES)
    cut = round(rows.size * (1 - VALIDATION_SHARE))
    train, validation = frame.iloc[rows[:cut]], frame.iloc[rows[cut:]]
    X_test = frame.iloc[test][[*features, HAND_SET_POINTS]]
    rules = rules_only(frame.iloc[rows], features=features, why="benchmark").model
    choice = choose_model(train, validation, features=features, seed=seed)
    served = choice.model
    # as `leadscore train` would: too few conversions (or too few in a part) -> the floor
    parts = {"train": train, "validation": validation}
    counts = {part: outcome_counts(part_rows["label"]) for part, part_rows in parts.items()}
    why_not = floor_reason_of(counts, MIN_POSITIVES)
    if why_not is not None:
        served = rules
    p = {
        "rules": rules.predict_proba(X_test)[:, 1],
        "plain": choice.plain.predict_proba(X_test)[:, 1],
        "prior": served.predict_proba(X_test)[:, 1],
        "oracle": true_p[test],
    }
    return p, "floor" if why_not else choice.kind


def run(transition: str, sizes: list[int], seeds: int, leads: int, say) -> pd.DataFrame:
    """One row per (seed, size, method): test log loss and ROC-AUC."""
    from sklearn.metrics import log_loss, roc_auc_score

    results = []
    for seed in range(seeds):
        began = time.perf_counter()
        frame, true_p = _history(leads, 1000 + seed, transition)
        y = frame["label"].to_numpy()
        first_test = int(len(frame) * (1 - TEST_SHARE))
        pool, test = np.arange(first_test), np.arange(first_test, len(frame))
        known = ~np.isnan(true_p[test])
        if not known.all():
            raise SystemExit(
                f"seed {seed}: {int((~known).sum())} test rows lack a true probability"
            )
        available = int(y[pool].sum())
        rng = np.random.default_rng(seed)
        for size in sizes:
            if size > available:
                raise SystemExit(
                    f"seed {seed}: {size} conversions asked, {available} in the older rows; "
                    "simulate more --leads"
                )
            rows = _sample(y, pool, size, rng)
            probabilities, kind = _scores(frame, true_p, rows, test, seed)
            for method, p in probabilities.items():
                results.append(
                    {
                        "seed": seed,
                        "positives": size,
                        "rows": rows.size,
                        "method": method,
                        "log_loss": log_loss(y[test], np.clip(p, 1e-15, 1 - 1e-15)),
                        "roc_auc": roc_auc_score(y[test], p),
                        "served": kind if method == "prior" else "",
                    }
                )
        say(
            f"seed {seed}: {len(frame):,} rows, {test.size:,} test rows, "
            f"{time.perf_counter() - began:.0f} s"
        )
    return pd.DataFrame(results)


def summary(results: pd.DataFrame) -> pd.DataFrame:
    """Mean and standard deviation over seeds per size and method."""
    grouped = results.groupby(["positives", "method"])[["log_loss", "roc_auc"]]
    table = grouped.agg(["mean", "std"])
    table.columns = [f"{metric}_{stat}" for metric, stat in table.columns]
    return table.reset_index()


def table_text(table: pd.DataFrame, results: pd.DataFrame) -> str:
    """The table as printed: a row per size, log loss and AUC of each method (mean ± sd)."""
    head = f"{'positives':>9} {'rows':>7}  " + "".join(f"{METHODS[m]:>18}" for m in METHODS)
    lines = ["log loss (mean ± sd over seeds)", head]
    for metric in ("log_loss", "roc_auc"):
        if metric == "roc_auc":
            lines += ["", "ROC-AUC (mean ± sd over seeds)", head]
        for size, rows in table.groupby("positives"):
            by = rows.set_index("method")
            n_rows = int(results.loc[results["positives"] == size, "rows"].mean())
            cells = "".join(
                f"{by.at[m, f'{metric}_mean']:>11.4f} ± {by.at[m, f'{metric}_std']:.4f}"
                for m in METHODS
            )
            lines.append(f"{size:>9,} {n_rows:>7,}  {cells}")
    served = results[results["method"] == "prior"].groupby("positives")["served"]
    lines += ["", "(c) served, per size: " + "; ".join(
        f"{size}: " + ", ".join(f"{k} x{v}" for k, v in kinds.value_counts().items())
        for size, kinds in served
    )]  # fmt: skip
    return "\n".join(lines)


def targets(table: pd.DataFrame) -> dict[str, bool]:
    """The acceptance targets, each True when met (missing sizes are left out)."""
    mean = table.set_index(["positives", "method"])
    out = {}
    for size in (20, 50, 120):
        if (size, "prior") in mean.index:
            better = min(mean.at[(size, "rules"), "log_loss_mean"],
                         mean.at[(size, "plain"), "log_loss_mean"])  # fmt: skip
            out[f"log loss of (c) <= min((a), (b)) at {size}"] = (
                mean.at[(size, "prior"), "log_loss_mean"] <= better
            )
    if (2000, "prior") in mean.index:
        gap = mean.at[(2000, "prior"), "roc_auc_mean"] - mean.at[(2000, "plain"), "roc_auc_mean"]
        out["AUC of (c) within 0.005 of (b) at 2000"] = gap >= -0.005
    return out


def figure(table: pd.DataFrame):
    """Log loss and ROC-AUC against conversions learned from, one line per method."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 4.5), layout="constrained")
    for k, (metric, label) in enumerate((("log_loss", "test log loss"), ("roc_auc", "ROC-AUC"))):
        ax = fig.add_subplot(1, 2, k + 1)
        for method, name in METHODS.items():
            rows = table[table["method"] == method]
            ax.errorbar(rows["positives"], rows[f"{metric}_mean"], yerr=rows[f"{metric}_std"],
                        marker="o", capsize=3, label=name,
                        linestyle="--" if method == "oracle" else "-")  # fmt: skip
        ax.set_xscale("log")
        ax.set_xlabel("converted rows learned from (log scale)")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    fig.suptitle("Learning curve: hand-set rules, plain LightGBM, LightGBM on the rules")
    return fig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transition", default="sql_to_won", choices=["mql_to_sql", "sql_to_won"])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--sizes", default="20,50,120,500,2000")
    parser.add_argument("--leads", type=int, default=150_000)
    parser.add_argument("--no-mlflow", action="store_true", help="print and plot only")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))

    def say(message: str) -> None:
        print(message, file=sys.stderr)

    began = time.perf_counter()
    results = run(args.transition, sizes, args.seeds, args.leads, say)
    table = summary(results)
    text = table_text(table, results)
    met = targets(table)
    print(f"{args.transition}, {args.leads:,} simulated leads per seed, {args.seeds} seeds")
    print(text)
    for name, ok in met.items():
        print(f"target: {name}: {'met' if ok else 'NOT met'}")
    seconds = time.perf_counter() - began
    print(f"{seconds:.0f} s")

    OUT.mkdir(parents=True, exist_ok=True)
    files = {"results.csv": OUT / "results.csv", "table.txt": OUT / "table.txt"}
    results.to_csv(files["results.csv"], index=False)
    files["table.txt"].write_text(text + "\n")
    fig = figure(table)
    fig.savefig(OUT / "learning_curve.png", dpi=110)
    print(f"table, results and plot in {OUT}")
    if not args.no_mlflow:
        _log(args, sizes, table, met, fig, list(files.values()), seconds)


def _log(args, sizes, table, met, fig, files, seconds) -> None:
    """One run in the configured store's experiment ``learning-curve``."""
    from core.settings import get_settings
    from training import tracking

    settings = get_settings()
    tracking.configure(
        settings.mlflow_tracking_uri, settings.mlflow_artifacts_dir, "learning-curve"
    )
    metrics = {
        f"{row.method}.{metric}.{row.positives}": float(getattr(row, f"{metric}_mean"))
        for row in table.itertuples()
        for metric in ("log_loss", "roc_auc")
    }
    metrics.update({f"target_met.{i}": float(ok) for i, ok in enumerate(met.values())})
    metrics["seconds"] = seconds
    run_id = tracking.log_benchmark_run(
        run_name=f"learning-curve-{args.transition}",
        params={
            "transition": args.transition,
            "seeds": args.seeds,
            "leads": args.leads,
            "sizes": ",".join(map(str, sizes)),
            **{f"target.{i}": name for i, name in enumerate(met)},
        },
        metrics=metrics,
        figures={"learning_curve": fig},
        files=files,
    )
    print(f"logged to MLflow: experiment learning-curve, run {run_id}")


if __name__ == "__main__":
    main()
