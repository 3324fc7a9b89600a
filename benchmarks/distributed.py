"""Benchmark: training sets and batch scoring of 10,000,000 leads on a Dask LocalCluster with a
memory limit per worker, next to the local engine on 1,000,000 of the same leads.

1. Generates the leads once (cached in benchmarks/out/distributed/) as a Parquet dataset
   partitioned by lead: the simulator runs on chunks of 500,000 leads (a seed and an id offset
   per chunk, so the lead ids are disjoint), each chunk written as files of 100,000 leads per
   table; never more than one chunk in memory.
2. On a fresh LocalCluster per step (``--workers`` single-threaded processes, ``--memory-limit``
   each): both training sets, written as partitioned Parquet (what ``leadscore features
   --engine dask`` runs), then scoring every lead with two models (what ``leadscore score
   --engine dask`` runs; the models are trained here on 30,000 other simulated leads, as the
   registry's champions would be). The same on the first 1,000,000 leads.
3. The local engine on the first 1,000,000 leads, in a fresh process per step.

Each step's time includes reading and validating the tables and writing the results as the
commands write them (the local engine one file per set, the Dask engine one per partition).
Peak memory per worker is each
worker process's RSS sampled every 20 ms during the step (the local process's likewise); a
worker replaced during the step (killed for exceeding its limit) is reported, and so is the
machine's load average (it is shared). Prints one table.

    python benchmarks/distributed.py [--leads 10000000] [--local-leads 1000000]
        [--workers 2] [--memory-limit 4GiB]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import shutil
import sys
import time
from datetime import datetime
from pathlib import Path

# This folder holds a script named features.py; keep it from shadowing the features package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent.resolve()]

OUT = Path(__file__).parent / "out" / "distributed"
CHUNK = 500_000
LEADS_PER_FILE = 100_000
START = datetime(2024, 1, 1)
DAYS = 730
TABLES = ("leads", "touches", "stage_changes")
GIB = 2**30


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def generate(leads: int, seed: int) -> Path:
    """The dataset of ``leads`` leads, partitioned by lead (cached: the marker file is written
    last, so a run stopped half-way starts again)."""
    from features.distributed.dataset import PARTITIONING_FILE
    from features.simulate import simulate

    folder = OUT / f"leads_{leads}"
    if (folder / PARTITIONING_FILE).is_file():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    for table in TABLES:
        (folder / table).mkdir(parents=True)
    started = time.perf_counter()
    for chunk, first in enumerate(range(0, leads, CHUNK)):
        n = min(CHUNK, leads - first)
        history = simulate(n, seed=seed + chunk, start=START, days=DAYS).history
        frames = {t: getattr(history, t) for t in TABLES}
        for frame in frames.values():
            frame["lead_id"] += first  # ids 1..n of the chunk -> first+1 .. first+n
        for lo in range(first, first + n, LEADS_PER_FILE):
            name = f"part-{lo // LEADS_PER_FILE:05d}.parquet"
            for table, frame in frames.items():
                ids = frame["lead_id"].to_numpy()
                part = frame[(ids > lo) & (ids <= lo + LEADS_PER_FILE)]
                part.to_parquet(folder / table / name, index=False)
        del history, frames
        done = first + n
        rate = done / (time.perf_counter() - started)
        say(f"generated {done:,}/{leads:,} leads ({rate:,.0f} leads/s)")
    (folder / PARTITIONING_FILE).write_text(json.dumps({"by": "lead_id"}))
    return folder


def first_files(source: Path, leads: int) -> Path:
    """A dataset of the first ``leads`` leads of ``source`` (links to its first files)."""
    from features.distributed.dataset import PARTITIONING_FILE

    folder = OUT / f"first_{leads}_of_{source.name}"
    files = leads // LEADS_PER_FILE
    if not (folder / PARTITIONING_FILE).is_file():
        shutil.rmtree(folder, ignore_errors=True)
        for table in TABLES:
            (folder / table).mkdir(parents=True)
            for path in sorted((source / table).glob("*.parquet"))[:files]:
                (folder / table / path.name).symlink_to(path.resolve())
        (folder / PARTITIONING_FILE).write_text(json.dumps({"by": "lead_id"}))
    return folder


def champion_bundles(seed: int) -> dict:
    """Both transitions' models (LightGBM on the hand-set rules, calibrated) trained on 30,000
    other simulated leads, bundled as the registry keeps them."""
    from features.build import build_training_sets
    from features.definitions import FEATURE_NAMES
    from features.simulate import simulate
    from training.bundle import ScoringBundle
    from training.model import LeadConversionModel
    from training.model.prior import HAND_SET_POINTS
    from training.rules import default_rules_path, load_rules, score_leads
    from training.split import time_split

    rules = load_rules(default_rules_path())
    history = simulate(30_000, seed=seed + 10_000, start=START, days=DAYS).history
    bundles = {}
    for transition, training_set in build_training_sets(history, horizon_days=90).items():
        frame = training_set.frame
        points = frame[["lead_id"]].assign(as_of=frame["decision_time"])
        frame = frame.assign(**{HAND_SET_POINTS: score_leads(rules, points, history).total})
        split = time_split(frame)
        inputs = [*FEATURE_NAMES, HAND_SET_POINTS]
        model = LeadConversionModel(prior_column=HAND_SET_POINTS, random_state=seed).fit(
            split.train[inputs],
            split.train["label"].to_numpy(),
            eval_set=(split.validation[inputs], split.validation["label"].to_numpy()),
        )
        bundles[transition] = ScoringBundle(transition, model, rules, list(FEATURE_NAMES))
    return bundles


class PeakMemory:
    """The highest RSS of this process, sampled every 20 ms by a thread until ``stop``.

    Sampled rather than read from ``ru_maxrss``: a worker process starts with the high-water
    mark of the process it was forked from, which would hide its own."""

    def __init__(self) -> None:
        import threading

        import psutil

        self._process = psutil.Process()
        self.peak = self._process.memory_info().rss
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._done.wait(0.02):
            self.peak = max(self.peak, self._process.memory_info().rss)

    def stop(self) -> int:
        self._done.set()
        self._thread.join()
        return max(self.peak, self._process.memory_info().rss)


def _start_sampling(dask_worker) -> None:
    dask_worker.leadscore_peak_memory = PeakMemory()


def _stop_sampling(dask_worker) -> int:
    return dask_worker.leadscore_peak_memory.stop()


def on_cluster(step: str, data: Path, leads: int, args, bundles: dict) -> dict:
    """One step on a fresh LocalCluster; its time, peak RSS per worker and worker changes."""
    import pandas as pd

    from features.distributed.build import build_on_cluster, data_end_on_cluster
    from features.distributed.cluster import dask_client
    from features.distributed.dataset import lead_partitions
    from training.distributed.score import score_on_cluster

    out = OUT / f"{step}_{leads}"
    now = pd.Timestamp.now(tz="UTC").tz_localize(None)
    with dask_client(None, workers=args.workers, memory_limit=args.memory_limit) as client:
        pids = client.run(os.getpid)
        client.run(_start_sampling)
        limit = next(iter(client.scheduler_info()["workers"].values()))["memory_limit"]
        started = time.perf_counter()
        partitions = lead_partitions(data, workers=args.workers)
        if step == "features":
            build_on_cluster(client, partitions, horizon_days=90, now=now, out=out, progress=say)
        else:
            as_of = data_end_on_cluster(client, partitions, now)
            score_on_cluster(
                client, partitions, bundles, as_of=as_of, out=out, now=now, progress=say
            )
        seconds = time.perf_counter() - started
        peaks = client.run(_stop_sampling)
        replaced = sorted(set(pids) ^ set(client.run(os.getpid)))
    shutil.rmtree(out, ignore_errors=True)  # the written sets and scores are not kept
    return {
        "step": step,
        "engine": f"dask, {args.workers} workers",
        "leads": leads,
        "seconds": seconds,
        "peaks": sorted(peaks.values()),
        "limit": limit,
        "replaced": replaced,
        "load": os.getloadavg()[0],
    }


def _local_step(step: str, data: Path, bundles: dict | None, queue: mp.Queue) -> None:
    import pandas as pd

    from features.build import build_training_sets
    from features.decision_points import data_end_of
    from features.io import write_training_set
    from features.validate import validate_history
    from training.distributed.score import clear_parts, score_history, write_scores

    memory = PeakMemory()
    started = time.perf_counter()
    frames = {t: pd.read_parquet(sorted((data / t).glob("*.parquet"))) for t in TABLES}
    history, _ = validate_history(frames["leads"], frames["touches"], frames["stage_changes"])
    del frames
    out = OUT / f"local_{step}"
    if step == "features":  # written as `leadscore features` writes them, as the Dask step does
        for name, training_set in build_training_sets(history, horizon_days=90).items():
            write_training_set(training_set, out, name)
    else:
        write_scores(score_history(history, bundles, data_end_of(history)), clear_parts(out))
    seconds = time.perf_counter() - started
    shutil.rmtree(out, ignore_errors=True)
    queue.put({"seconds": seconds, "peak": memory.stop()})


def locally(step: str, data: Path, leads: int, bundles: dict) -> dict:
    """One step on the local engine, in a fresh process (its own peak memory)."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    process = ctx.Process(target=_local_step, args=(step, data, bundles, queue))
    process.start()
    result = queue.get()
    process.join()
    return {
        "step": step,
        "engine": "local",
        "leads": leads,
        "seconds": result["seconds"],
        "peaks": [result["peak"]],
        "limit": None,
        "replaced": [],
        "load": os.getloadavg()[0],
    }


def table(rows: list[dict]) -> str:
    lines = [
        "| step | engine | leads | seconds | leads/s | peak RSS per worker | memory limit "
        "| load (1 min) |",
        "|---|---|---:|---:|---:|---|---|---:|",
    ]
    for r in rows:
        peaks = ", ".join(f"{p / GIB:.2f}" for p in r["peaks"]) + " GiB"
        limit = f"{r['limit'] / GIB:.1f} GiB" if r["limit"] else "none"
        if r["replaced"]:
            limit += f" ({len(r['replaced'])} worker(s) replaced)"
        lines.append(
            f"| {r['step']} | {r['engine']} | {r['leads']:,} | {r['seconds']:.0f} | "
            f"{r['leads'] / r['seconds']:,.0f} | {peaks} | {limit} | {r['load']:.1f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=10_000_000)
    parser.add_argument("--local-leads", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--memory-limit", default="4GiB")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--skip-local", action="store_true", help="only the Dask runs")
    args = parser.parse_args()
    if args.leads % LEADS_PER_FILE or args.local_leads % LEADS_PER_FILE:
        parser.error(f"--leads and --local-leads: multiples of {LEADS_PER_FILE:,}")

    data = generate(args.leads, args.seed)
    small = first_files(data, min(args.local_leads, args.leads))
    say("training the two models to score with ...")
    bundles = champion_bundles(args.seed)
    rows = []
    for step in ("features", "scoring"):
        if not args.skip_local:
            say(f"{step}: local engine, {args.local_leads:,} leads ...")
            rows.append(locally(step, small, args.local_leads, bundles))
        say(f"{step}: Dask, {args.local_leads:,} leads ...")
        rows.append(on_cluster(step, small, args.local_leads, args, bundles))
        if args.leads != args.local_leads:
            say(f"{step}: Dask, {args.leads:,} leads ...")
            rows.append(on_cluster(step, data, args.leads, args, bundles))
        say(table(rows))
    print(table(rows))


if __name__ == "__main__":
    main()
