"""Benchmark: build both training sets from 1,000,000 simulated leads; compare with DuckDB.

Generates the history once (cached under benchmarks/out/), then, each in a fresh process so
peak memory is its own: (1) leadscore builds both training sets from the Parquet tables,
(2) leadscore computes only the windowed touch counts, (3) one plain DuckDB SQL query computes
the same windowed touch counts for the same decision points. Prints wall times, rows/s, peak
RSS and the ratio DuckDB / leadscore (> 1 means leadscore is faster). Targets on a 2-core
machine: both sets under 60 s and under 8 GiB, and no slower than DuckDB.

    python benchmarks/features.py [--leads 1000000] [--fresh]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import sys
import time
from pathlib import Path

# This folder holds a script named features.py; keep it from shadowing the features package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent.resolve()]

OUT = Path(__file__).parent / "out" / "features"


def _peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def _load(raw: Path):
    import pandas as pd

    from core.contract import TABLES, dtype_of
    from features.history import LeadHistory

    frames = {}
    for table, columns in TABLES.items():
        frame = pd.read_parquet(raw / f"{table}.parquet")
        for column in columns:
            dtype = dtype_of(column)
            if dtype is not None and str(frame[column.name].dtype) != str(dtype):
                frame[column.name] = frame[column.name].astype(dtype)
        frames[table] = frame
    return LeadHistory(**frames)


def _points(history, horizon_days: int = 90):
    from features.decision_points import data_end_of, decision_points

    end = data_end_of(history)
    return {
        t: decision_points(history, t, horizon_days=horizon_days, data_end=end).rows
        for t in ("mql_to_sql", "sql_to_won")
    }


def _run_leadscore_full(raw: Path, queue: mp.Queue) -> None:
    from features.build import build_training_sets

    history = _load(raw)
    start = time.perf_counter()
    sets = build_training_sets(history, horizon_days=90)
    seconds = time.perf_counter() - start
    rows = sum(len(s.frame) for s in sets.values())
    columns = len(sets["mql_to_sql"].frame.columns)
    queue.put({"seconds": seconds, "rows": rows, "columns": columns, "peak_gib": _peak_rss_gib()})


def _run_leadscore_counts(raw: Path, queue: mp.Queue) -> None:
    from features.definitions import touch_counts
    from features.window import visible_history, window_bucket

    history = _load(raw)
    points = _points(history)
    start = time.perf_counter()
    sample = {}
    for transition, rows in points.items():
        touches = visible_history(rows, history).touches
        counts = touch_counts(touches, window_bucket(touches.age_ns), len(rows))
        sample[transition] = {k: int(v[:50].sum()) for k, v in counts.items()}
    seconds = time.perf_counter() - start
    queue.put({"seconds": seconds, "checksum": sample, "peak_gib": _peak_rss_gib()})


def _duckdb_sql(columns: list[tuple[str, str | None, str | None, int | None]]) -> str:
    aggregates = []
    for name, column, value, days in columns:
        conditions = []
        if column is not None:
            conditions.append(f"t.{column} = '{value}'")
        if days is not None:
            conditions.append(f"age_us <= {days * 86_400_000_000}")
        where = " AND ".join(conditions) or "TRUE"
        aggregates.append(f"count(*) FILTER (WHERE {where}) AS {name}")
    return f"""
        SELECT p.row_number, {", ".join(aggregates)}
        FROM (
            SELECT p.row_number, t.channel, t.action, t.page_type,
                   epoch_us(p.as_of) - epoch_us(t.occurred_at) AS age_us
            FROM points p JOIN touches t ON t.lead_id = p.lead_id
            WHERE t.occurred_at < p.as_of
        ) t RIGHT JOIN points p ON p.row_number = t.row_number
        GROUP BY p.row_number ORDER BY p.row_number
    """


def _run_duckdb(raw: Path, queue: mp.Queue) -> None:
    import duckdb

    from features.definitions import TOUCH_DIMENSIONS
    from features.window import WINDOWS

    history = _load(raw)
    points = _points(history)
    columns = [(f"touches_{w}", None, None, days) for w, days in WINDOWS.items()]
    for dim in TOUCH_DIMENSIONS:
        for value in dim.vocabulary:
            for w, days in WINDOWS.items():
                columns.append(
                    (dim.count_name.format(value=value, window=w), dim.column, value, days)
                )
    con = duckdb.connect()
    # Both sides start from tables already in memory: only the query is timed. Registered from
    # pandas, the categorical columns become DuckDB ENUMs (integer comparisons, its best case).
    con.register("touches_frame", history.touches)
    con.execute("CREATE TABLE touches AS SELECT * FROM touches_frame")
    con.unregister("touches_frame")
    del history
    start = time.perf_counter()
    sample = {}
    for transition, rows in points.items():
        frame = rows[["lead_id", "as_of"]].assign(row_number=range(len(rows)))
        con.register("points", frame)
        result = con.execute(_duckdb_sql(columns)).df()
        con.unregister("points")
        sample[transition] = {name: int(result[name].to_numpy()[:50].sum()) for name, *_ in columns}
    seconds = time.perf_counter() - start
    queue.put({"seconds": seconds, "checksum": sample, "peak_gib": _peak_rss_gib()})


def _in_fresh_process(target, raw: Path) -> dict:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    process = ctx.Process(target=target, args=(raw, queue))
    process.start()
    result = queue.get()
    process.join()
    return result


def _generate(raw: Path, leads: int) -> dict:
    from features.io import write_simulation
    from features.simulate import simulate

    start = time.perf_counter()
    sim = simulate(leads, seed=7, start=__import__("datetime").datetime(2024, 1, 1), days=730)
    seconds = time.perf_counter() - start
    write_simulation(sim, raw)
    info = {
        "leads": len(sim.history.leads),
        "touches": len(sim.history.touches),
        "stage_changes": len(sim.history.stage_changes),
        "simulate_seconds": round(seconds, 1),
    }
    (raw / "benchmark_info.json").write_text(json.dumps(info))
    return info


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--fresh", action="store_true", help="regenerate the cached history")
    args = parser.parse_args()
    raw = OUT / f"raw_{args.leads}"
    info_file = raw / "benchmark_info.json"
    if args.fresh or not info_file.exists():
        print(f"generating {args.leads:,} leads (cached in {raw}) ...", file=sys.stderr)
        info = _generate(raw, args.leads)
    else:
        info = json.loads(info_file.read_text())
    print(
        f"history: {info['leads']:,} leads, {info['touches']:,} touches, "
        f"{info['stage_changes']:,} stage changes (simulated in {info['simulate_seconds']} s)"
    )

    full = _in_fresh_process(_run_leadscore_full, raw)
    print(
        f"leadscore, both training sets: {full['seconds']:.1f} s, {full['rows']:,} rows x "
        f"{full['columns']} columns, {full['rows'] / full['seconds']:,.0f} rows/s, "
        f"peak RSS {full['peak_gib']:.2f} GiB (incl. loading the tables)"
    )
    ours = _in_fresh_process(_run_leadscore_counts, raw)
    duck = _in_fresh_process(_run_duckdb, raw)
    same = ours["checksum"] == duck["checksum"]
    print(f"windowed touch counts only, leadscore: {ours['seconds']:.1f} s")
    print(f"windowed touch counts only, DuckDB SQL: {duck['seconds']:.1f} s")
    print(f"ratio DuckDB / leadscore: {duck['seconds'] / ours['seconds']:.2f}x (> 1: ours faster)")
    print(f"counts identical on checked rows: {same}")
    print(
        f"targets: build < 60 s: {full['seconds'] < 60}; peak < 8 GiB: {full['peak_gib'] < 8}; "
        f"no slower than DuckDB: {ours['seconds'] <= duck['seconds']}"
    )
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main()
