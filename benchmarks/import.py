"""Benchmark: `leadscore import` of a HubSpot CSV export of 1,000,000 simulated leads (about 20
million activity rows), in bounded memory.

Writes the export once (cached under benchmarks/out/import/), then, each in a fresh process so
peak memory is its own: (1) the import with the hubspot preset, (2) a baseline that only reads
the same CSV files whole with pandas, as an import that holds everything would start. Prints
rows, wall time, rows/s and peak RSS of each, and the ratio of the two peaks (< 1: the import
needs less memory than holding the export; its activity tables stream in chunks of
``features.importing.sources.CHUNK_ROWS`` rows, while the leads are held).

    python benchmarks/import.py [--leads 1000000] [--fresh]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import shutil
import sys
import time
from pathlib import Path

# This folder holds a script named features.py; keep it from shadowing the features package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent.resolve()]

OUT = Path(__file__).parent / "out" / "import"


def _peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def _export(leads: int, folder: Path, queue: mp.Queue) -> None:
    from datetime import datetime

    from features.exporting.hubspot import write_hubspot
    from features.simulate import simulate

    started = time.perf_counter()
    history = simulate(leads, seed=7, start=datetime(2024, 1, 1), days=730).history
    write_hubspot(history, folder)
    queue.put({"seconds": time.perf_counter() - started, "touches": len(history.touches)})


def _import(folder: Path, out: Path, queue: mp.Queue) -> None:
    from features.importing.parse import load_mapping
    from features.importing.run import import_export

    started = time.perf_counter()
    report = import_export(folder, load_mapping("hubspot"), out)
    queue.put(
        {
            "seconds": time.perf_counter() - started,
            "peak_rss_gib": _peak_rss_gib(),
            "rows_in": sum(b.rows_in for b in report.blocks),
            "activity_rows": sum(b.rows_in for b in report.blocks if b.table == "touches"),
            "tables": report.tables,
        }
    )


def _read_whole(folder: Path, queue: mp.Queue) -> None:
    import pandas as pd

    started = time.perf_counter()
    frames = [pd.read_csv(path, low_memory=False) for path in sorted(folder.glob("*.csv"))]
    queue.put(
        {
            "seconds": time.perf_counter() - started,
            "peak_rss_gib": _peak_rss_gib(),
            "rows": sum(len(f) for f in frames),
        }
    )


def _in_process(target, *args) -> dict:
    context = mp.get_context("spawn")  # a fresh interpreter: its peak RSS is the job's own
    queue = context.Queue()
    process = context.Process(target=target, args=(*args, queue))
    process.start()
    result = queue.get()
    process.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--fresh", action="store_true", help="rebuild the cached export")
    args = parser.parse_args()
    folder = OUT / f"hubspot-{args.leads}"
    if args.fresh or not (folder / "done.json").is_file():
        shutil.rmtree(folder, ignore_errors=True)
        print(f"writing a HubSpot export of {args.leads:,} simulated leads ...", flush=True)
        made = _in_process(_export, args.leads, folder)
        (folder / "done.json").write_text(json.dumps(made))
    size = sum(p.stat().st_size for p in folder.glob("*.csv")) / 1024**3
    print(f"export: {folder} ({size:.2f} GiB of CSV)", flush=True)

    out = OUT / f"imported-{args.leads}"
    shutil.rmtree(out, ignore_errors=True)
    imported = _in_process(_import, folder, out)
    whole = _in_process(_read_whole, folder)
    rows, seconds = imported["rows_in"], imported["seconds"]
    activities = imported["activity_rows"]
    print(f"{'':30}{'rows':>14}{'seconds':>10}{'rows/s':>12}{'peak RSS GiB':>14}")
    print(
        f"{'leadscore import':30}{rows:>14,}{seconds:>10.1f}{rows / seconds:>12,.0f}"
        f"{imported['peak_rss_gib']:>14.2f}"
    )
    print(
        f"{'pandas reads the CSVs whole':30}{whole['rows']:>14,}{whole['seconds']:>10.1f}"
        f"{whole['rows'] / whole['seconds']:>12,.0f}{whole['peak_rss_gib']:>14.2f}"
    )
    print(f"activity rows: {activities:,}; tables written: {json.dumps(imported['tables'])}")
    ratio = imported["peak_rss_gib"] / whole["peak_rss_gib"]
    print(f"peak RSS import / whole read: {ratio:.2f}")


if __name__ == "__main__":
    main()
