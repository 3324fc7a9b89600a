"""Speed of the scoring API against ``mlflow models serve`` of the same registered model, and of
each hand-written part of the API against the library that does the same job.

It reads the store of a ``leadscore demo`` run (``mlflow.db``, ``mlartifacts``, ``data/raw``);
without ``--store`` it runs the demo (20,000 leads, about 20 s) in a temporary folder first::

    python benchmarks/serving.py [--store DIR] [--compare PART ...]

Both servers listen on 127.0.0.1 only and get the same requests: real leads of the demo history
scored at the end of the data, one lead per request at 8 connections, then batches of 1,000
leads at 8 connections (as JSON, with reasons, sent as Arrow IPC streams, and sent and answered
as Arrow) and at 1 (a CRM syncing batch after batch: one connection is served by one worker).
Load comes from ``wrk`` (Debian package ``wrk``) with a Lua script that cycles through the
request bodies; each phase has a warm-up and a fixed duration, so the run stops by itself.
Prints requests/s, p50 and p99 latency, error counts, and the floors (single lead >= 15x
mlflow, JSON batches >= 30,000 leads/s).

Then each hand-written part is measured end to end against its library route
(``library_routes``: a second API with that part switched, the API as shipped still running):
the phases the part serves, alternating between the two servers, so that the shared machine's
load falls on both alike. A part stays where it is at least 1.5x faster on the phase it serves,
or where its library route breaks a floor in one of the rounds (the slowest round is named).
Last, where the CPU time of one batch goes, measured in this process: reading the request
(column-wise, ``serving.decode.columns``), scoring, and writing the JSON or the Arrow answer.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import library_routes  # noqa: E402  (beside this script)

from features.io import read_lead_history  # noqa: E402
from serving.decode.arrow_reader import ARROW_STREAM  # noqa: E402
from training.tracking.pyfunc import flat_rows  # noqa: E402

LUA = """
-- BENCH_BODIES: one body per line, or (BENCH_FILES=1) one file path per line, each file a body
local bodies = {}
for line in io.lines(os.getenv("BENCH_BODIES")) do
  if os.getenv("BENCH_FILES") == "1" then
    local f = io.open(line, "rb"); bodies[#bodies + 1] = f:read("*a"); f:close()
  else
    bodies[#bodies + 1] = line
  end
end
local path = os.getenv("BENCH_PATH")
local headers = {["Content-Type"] = os.getenv("BENCH_TYPE") or "application/json"}
if os.getenv("BENCH_ACCEPT") then headers["Accept"] = os.getenv("BENCH_ACCEPT") end
local i = 0
request = function()
  i = i % #bodies + 1
  return wrk.format("POST", path, headers, bodies[i])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('BENCH {"requests": %d, "duration_us": %d, "connect": %d, ' ..
    '"read": %d, "write": %d, "status": %d, "timeout": %d, "p50_us": %d, "p99_us": %d, ' ..
    '"max_us": %d}\\n', summary.requests, summary.duration, e.connect, e.read, e.write,
    e.status, e.timeout, latency:percentile(50), latency:percentile(99), latency.max))
end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _clean(value):
    if value is None or (not isinstance(value, str | list | dict) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value.item() if hasattr(value, "item") else value


def payloads(store: Path, n: int, seed: int) -> list[dict]:
    """``n`` real leads of the demo history, each scored just after the data ends."""
    history, _ = read_lead_history(store / "data" / "raw")
    as_of = max(history.touches["occurred_at"].max(), history.stage_changes["changed_at"].max())
    as_of = (as_of + pd.Timedelta(seconds=1)).isoformat() + "Z"
    ids = np.random.default_rng(seed).choice(history.leads["lead_id"].to_numpy(), n, False)
    touches = history.touches.groupby("lead_id")
    stages = history.stage_changes.groupby("lead_id")
    leads = history.leads.set_index("lead_id", drop=False)
    out = []
    for lead_id in ids:
        lead = {k: _clean(v) for k, v in leads.loc[lead_id].items()}

        def records(groups, lead_id=lead_id):
            if lead_id not in groups.groups:
                return []
            frame = groups.get_group(lead_id).drop(columns="lead_id")
            return [{k: _clean(v) for k, v in r.items()} for r in frame.to_dict("records")]

        out.append(
            {
                "lead": lead,
                "touches": records(touches),
                "stage_changes": records(stages),
                "as_of": as_of,
            }
        )
    return out


def mlflow_body(rows: list[dict]) -> str:
    frame = flat_rows(rows)
    return json.dumps({"dataframe_split": json.loads(frame.to_json(orient="split", index=False))})


def arrow_file(folder: Path, name: str, leads: list[dict]) -> Path:
    """The leads as an Arrow IPC stream, as a client holding them as JSON would make it."""
    import pyarrow as pa

    table = pa.Table.from_pylist(leads)
    path = folder / name
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return path


def write_lines(folder: Path, name: str, bodies: list[str]) -> Path:
    path = folder / name
    path.write_text("\n".join(bodies) + "\n")
    return path


def wait_ready(url: str, process: subprocess.Popen, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited with {process.returncode} before it was ready")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"{url} not ready after {seconds:.0f} s")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)  # the server's own group: uvicorn and workers
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def wrk(
    url: str,
    bodies: Path,
    lua: Path,
    connections: int,
    seconds: int,
    media: str | None = None,
    accept: str | None = None,
) -> dict:
    env = {**os.environ, "BENCH_BODIES": str(bodies), "BENCH_PATH": "/" + url.split("/", 3)[3]}
    if media is not None:  # binary bodies: BENCH_BODIES lists their files
        env.update(BENCH_FILES="1", BENCH_TYPE=media)
    if accept is not None:
        env.update(BENCH_ACCEPT=accept)
    base = url.split("/", 3)[:3]
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{seconds}s",
            "--timeout",
            "30s",
            "-s",
            str(lua),
            "/".join(base),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=True,
    ).stdout
    line = next(x for x in out.splitlines() if x.startswith("BENCH "))
    result = json.loads(line.removeprefix("BENCH "))
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    result["errors"] = sum(result[k] for k in ("connect", "read", "write", "status", "timeout"))
    return result


def demo_store() -> Path:
    """A fresh ``leadscore demo`` store in a temporary folder."""
    folder = Path(tempfile.mkdtemp(prefix="leadscore-bench-store-"))
    print(f"no --store: running leadscore demo in {folder} ...", flush=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LEADSCORE_", "MLFLOW_"))}
    subprocess.run(
        [str(Path(sys.executable).parent / "leadscore"), "demo", "--leads", "20000"],
        cwd=folder,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        timeout=600,
    )
    return folder


def cpu_ms(work, repeats: int = 5) -> float:
    """Least CPU time of ``work()`` over a few runs, in ms (others' load barely moves it)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        work()
        best = min(best, time.process_time() - start)
    return best * 1000


def batch_breakdown(store: Path, body: str) -> None:
    """CPU time of one batch's stages, in this process, with the served models."""
    from datetime import UTC, datetime

    import orjson

    from core.settings import Settings, trees_cache_of
    from serving.decode.arrow_reader import read_arrow_batch
    from serving.decode.body import read_batch
    from serving.decode.columns import read_valid_batch
    from serving.decode.json_reader import json_batch_reader
    from serving.encode.arrow_writer import arrow_answer
    from serving.encode.rows import rows_of
    from serving.scoring.loading import load_for
    from serving.scoring.scorer import score_visible

    os.chdir(store)  # the settings' default store paths are relative to it
    os.environ.pop("MLFLOW_TRACKING_URI", None)  # as for the API's process above
    settings = Settings()
    models = load_for(settings)
    cache = trees_cache_of(settings)  # the compiled code, as the API reads and answers batches
    reader = json_batch_reader(cache)
    raw = body.encode()
    now = datetime.now(UTC)

    def read(compiled: bool = True):
        return read_valid_batch(
            raw,
            max_leads=10**6,
            max_touches=10**6,
            now=now,
            reader=reader if compiled else None,
        )

    batch = read()
    n = len(batch.lead_ids)

    def score():
        return score_visible(
            models, batch.visible, batch.lead_ids, batch.as_of, reasons=[False] * n, top=3
        )

    scored = score()
    rule_names = scored.rule_names

    def by_rows() -> bytes:  # the answer as routes write it
        items = [{"index": i, "result": r, "error": None} for i, r in enumerate(rows_of(scored))]
        return orjson.dumps({"scored": n, "invalid": 0, "results": items})

    stages = {
        f"reading ({'pyarrow' if reader is None else 'compiled'}, checks on columns)": cpu_ms(read),
        "scoring (features, rules, models)": cpu_ms(score),
        "JSON answer (rows_of, orjson)": cpu_ms(by_rows),
    }
    total = sum(stages.values())
    print(f"\none batch of {n:,} leads ({len(raw) / 1e6:.1f} MB), CPU time in-process:")
    for name, ms in stages.items():
        print(f"  {name:<38} {ms:7.1f} ms  {ms / total:5.0%}")
    per_core = n / total * 1000
    print(f"  {'together':<38} {total:7.1f} ms  -> at most {per_core:,.0f} leads/s per core")
    print(f"  (read by pyarrow's JSON reader instead: {cpu_ms(lambda: read(False)):.1f} ms)")
    arrow = arrow_file(Path(tempfile.mkdtemp()), "batch.arrows", json.loads(body)["leads"])
    arrow_bytes = arrow.read_bytes()
    arrow_ms = cpu_ms(
        lambda: read_arrow_batch(arrow_bytes, max_leads=10**6, max_touches=10**6, now=now)
    )
    answer_ms = cpu_ms(lambda: arrow_answer(scored, range(n), None, rule_names))
    print(
        f"  (the same batch as an Arrow IPC stream, {len(arrow_bytes) / 1e6:.1f} MB, reads in "
        f"{arrow_ms:.1f} ms; an Arrow answer takes {answer_ms:.1f} ms)"
    )
    schema = cpu_ms(lambda: read_batch(raw, "application/json", max_leads=n, max_touches=10**6))
    print(
        f"  (a batch with an invalid lead is checked lead by lead by the schema instead: "
        f"{schema:.1f} ms, then scored from records)"
    )


@dataclass(frozen=True)
class Phase:
    """One kind of load: the requests (``bodies``, a file listing them) posted to ``path``."""

    label: str
    path: str
    bodies: Path
    connections: int
    per_request: int = 1
    media: str | None = None
    accept: str | None = None


def measure(phase_: Phase, base: str, lua: Path, seconds: int, label: str, warm: bool = True):
    """wrk's figures for ``phase_`` against the server at ``base`` (after a warm-up)."""
    args = (f"{base}{phase_.path}", phase_.bodies, lua, phase_.connections)
    if warm:
        wrk(*args, max(2, seconds // 4), phase_.media, phase_.accept)
    result = wrk(*args, seconds, phase_.media, phase_.accept)
    result["name"], result["leads_per_s"] = label, result["rps"] * phase_.per_request
    print(
        f"{label:<42} {result['rps']:>8.1f} req/s {result['leads_per_s']:>9,.0f} leads/s  "
        f"p50 {result['p50_us'] / 1000:>7.1f} ms  p99 {result['p99_us'] / 1000:>7.1f} ms  "
        f"requests {result['requests']:>6,}  errors {result['errors']} "
        f"(non-2xx {result['status']}, timeout {result['timeout']}, socket "
        f"{result['connect'] + result['read'] + result['write']})",
        flush=True,
    )
    return result


def start_api(store: Path, env: dict, workers: int, routes: list[str]):
    """The API (``library_routes.serve``: ``routes`` on their library route) on a free port,
    ready: (its process, its base URL)."""
    port = free_port()
    code = f"import library_routes; library_routes.serve(port={port}, workers={workers})"
    process = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=store,
        env={**env, library_routes.ENV: ",".join(routes)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(f"{base}/readyz", process)
    except BaseException:
        stop(process)
        raise
    return process, base


def pooled(results: list[dict], per_request: int) -> dict:
    """Several measurements of one phase as one: req/s over their time together, mean p99."""
    seconds = sum(r["duration_us"] for r in results) / 1e6
    rps = sum(r["requests"] for r in results) / seconds
    return {
        "rps": rps,
        "leads_per_s": rps * per_request,
        "p99_ms": float(np.mean([r["p99_us"] for r in results])) / 1000,
        "errors": sum(r["errors"] for r in results),
    }


# each comparison: the parts switched to their library route, and the phases it is judged on
# (the first decides: the phase the part is there for: the supervisor balances the batch
# connections, SHAP in C computes the reasons)
HAND_WRITTEN = [name for name in library_routes.ROUTES if name != "compiled_trees"]
COMPARISONS: dict[str, tuple[list[str], list[str]]] = {
    "workers": (["workers"], ["batch", "single"]),
    "tree_shap": (["tree_shap"], ["reasons_two", "single"]),
    "json_reader": (["json_reader"], ["batch"]),
    "compiled_trees": (["compiled_trees"], ["single", "batch"]),
    "all": (HAND_WRITTEN, ["single", "batch", "arrow"]),
}
KEEP_AT = 1.5  # a hand-written part stays only this much faster end to end
FLOOR_SINGLE_VS_MLFLOW = 15  # ... or where its library route breaks a floor in any round
FLOOR_BATCH_LEADS_PER_S = 30_000


def comparison(name: str) -> tuple[list[str], list[str]]:
    """The parts a ``--compare`` name switches and the phases it is judged on: a name of
    ``COMPARISONS``, or parts joined by ``+`` (switched together, judged on the floors' phases)."""
    if name in COMPARISONS:
        return COMPARISONS[name]
    return library_routes.routes_of(name.replace("+", ",")), ["single", "batch", "arrow"]


def compare(
    name: str,
    shipped: str,
    phases: dict[str, Phase],
    store: Path,
    env: dict,
    lua: Path,
    args: argparse.Namespace,
) -> list[dict]:
    """The API as shipped against the API with ``name``'s parts on their library route, phase
    by phase, alternating between them ``args.rounds`` times."""
    routes, judged_on = comparison(name)
    described = "; ".join(library_routes.ROUTES[r][0] for r in routes)
    print(f"\n{name}: {described}", flush=True)
    process, library = start_api(store, env, args.workers, routes)
    rows = []
    try:
        for key in judged_on:
            spec = phases[key]
            ours, theirs = [], []
            for round_ in range(args.rounds):
                first = round_ == 0
                label = f"  {spec.label} [{round_ + 1}]"
                ours.append(measure(spec, shipped, lua, args.compare_seconds, label, first))
                label = f"  {spec.label} [{round_ + 1}], library route"
                theirs.append(measure(spec, library, lua, args.compare_seconds, label, first))
            hand, lib = pooled(ours, spec.per_request), pooled(theirs, spec.per_request)
            rows.append(
                {
                    "part": name,
                    "phase": spec.label.strip(),
                    "decides": key == judged_on[0],
                    "hand": hand,
                    "library": lib,
                    "ratio": hand["rps"] / lib["rps"],
                    "key": key,
                    "library_worst": min(theirs, key=lambda r: r["rps"]),
                }
            )
    finally:
        stop(process)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--store", type=Path, help="folder of a leadscore demo run [a new one]")
    parser.add_argument("--seconds", type=int, default=8, help="measured seconds per phase")
    parser.add_argument(
        "--compare-seconds", type=int, default=5, help="measured seconds per comparison round"
    )
    parser.add_argument("--rounds", type=int, default=3, help="alternations per comparison")
    parser.add_argument(
        "--compare",
        nargs="*",
        default=list(COMPARISONS),
        help=f"parts measured against their library route, of {', '.join(COMPARISONS)} or "
        "parts joined by + to switch together [each of them, then all]",
    )
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers of the API")
    parser.add_argument("--mlflow-workers", type=int, default=1)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--leads", type=int, default=400, help="distinct leads sent")
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--skip-mlflow", action="store_true")
    args = parser.parse_args()
    for name in args.compare:  # an unknown part stops here, not after the first phases
        comparison(name)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install -y wrk")
    store = (args.store or demo_store()).resolve()
    if not (store / "mlflow.db").exists() or not (store / "data" / "raw").exists():
        raise SystemExit(f"no demo store in {store}: run `leadscore demo` there first")
    started = time.monotonic()

    rows = payloads(store, max(args.leads, args.batch), seed=0)
    work = Path(tempfile.mkdtemp(prefix="leadscore-bench-"))
    lua = work / "post.lua"
    lua.write_text(LUA)
    single = write_lines(work, "single.jsonl", [json.dumps(r) for r in rows[: args.leads]])
    batches = [rows[i:] + rows[:i] for i in (0, 250, 500, 750)]
    batch = write_lines(
        work, "batch.jsonl", [json.dumps({"leads": b[: args.batch]}) for b in batches]
    )
    arrow_batch = write_lines(
        work,
        "arrow_batch.txt",
        [str(arrow_file(work, f"batch{i}.arrows", b[: args.batch])) for i, b in enumerate(batches)],
    )
    mlflow_single = write_lines(
        work, "mlflow_single.jsonl", [mlflow_body([r]) for r in rows[: args.leads]]
    )
    mlflow_batch = write_lines(
        work, "mlflow_batch.jsonl", [mlflow_body(b[: args.batch]) for b in batches[:2]]
    )
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env["PYTHONPATH"] = os.pathsep.join((str(ROOT), str(ROOT / "benchmarks")))
    # mlflow models serve runs `uvicorn` by name: the venv's bin must be on PATH
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    print(
        f"{len(rows):,} leads, {np.mean([len(r['touches']) for r in rows]):.1f} touches each "
        f"on average; {args.seconds} s per phase; {os.cpu_count()} cores",
        flush=True,
    )

    c, n = args.connections, args.batch
    phases = {
        "single": Phase(f"1 lead, {c} connections", "/v1/score", single, c),
        "single_plain": Phase("  same, reasons=false", "/v1/score?reasons=false", single, c),
        "batch": Phase(f"  batches of {n:,} leads as JSON", "/v1/score/batch", batch, c, n),
        "batch_reasons": Phase("  same, reasons=true", "/v1/score/batch?reasons=true", batch, c, n),
        "arrow": Phase("  same, sent as Arrow", "/v1/score/batch", arrow_batch, c, n, ARROW_STREAM),
        "arrow_both": Phase(
            "  same, sent and answered as Arrow",
            "/v1/score/batch",
            arrow_batch,
            c,
            n,
            ARROW_STREAM,
            ARROW_STREAM,
        ),
        # a batch with reasons takes seconds under LightGBM's SHAP: 2 connections, so that a
        # comparison's few seconds hold several of them
        "reasons_two": Phase(
            "  batches with reasons=true, 2 connections",
            "/v1/score/batch?reasons=true",
            batch,
            2,
            n,
        ),
        "batch_one": Phase("  JSON batches, 1 connection", "/v1/score/batch", batch, 1, n),
    }
    results: dict[str, dict] = {}
    print(f"\nleadscore API ({args.workers} workers), as shipped")
    api, base = start_api(store, env, args.workers, [])
    try:
        for key, spec in phases.items():
            if key != "reasons_two":  # for the comparisons only
                results[key] = measure(spec, base, lua, args.seconds, spec.label)
        if not args.skip_mlflow:
            results.update(mlflow_phases(store, env, lua, args, mlflow_single, mlflow_batch))
        compared = [
            row
            for name in args.compare
            for row in compare(name, base, phases, store, env, lua, args)
        ]
    finally:
        stop(api)

    report(results, compared, args)
    print(f"  errors over all phases: {sum(r['errors'] for r in results.values())}")
    batch_breakdown(store, batch.read_text().splitlines()[0])
    print(f"\nwhole run: {(time.monotonic() - started) / 60:.1f} min")
    shutil.rmtree(work, ignore_errors=True)


def mlflow_phases(
    store: Path, env: dict, lua: Path, args: argparse.Namespace, single: Path, batch: Path
) -> dict[str, dict]:
    port = free_port()
    mlflow = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "mlflow"),
            "models",
            "serve",
            "-m",
            "models:/leadscore-mql-to-sql@champion",
            "--env-manager",
            "local",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-w",
            str(args.mlflow_workers),
        ],
        cwd=store,
        env={**env, "MLFLOW_TRACKING_URI": "sqlite:///mlflow.db"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    print(f"\nmlflow models serve ({args.mlflow_workers} worker)")
    try:
        wait_ready(f"http://127.0.0.1:{port}/ping", mlflow)
        base = f"http://127.0.0.1:{port}"
        c, n = args.connections, args.batch
        return {
            "mlflow": measure(
                Phase(f"1 lead, {c} connections", "/invocations", single, c),
                base,
                lua,
                args.seconds,
                f"1 lead, {c} connections",
            ),
            "mlflow_batch": measure(
                Phase(f"  batches of {n:,} leads, 1 connection", "/invocations", batch, 1, n),
                base,
                lua,
                args.seconds,
                f"  batches of {n:,} leads, 1 connection",
            ),
        }
    finally:
        stop(mlflow)


def report(results: dict[str, dict], compared: list[dict], args: argparse.Namespace) -> None:
    """The floors, and each hand-written part against its library route."""
    single, batch, arrow = results["single"], results["batch"], results["arrow"]
    print("\nfloors (the API as shipped)")
    if "mlflow" in results:
        mlflow = results["mlflow"]
        print(
            f"  single lead: {single['rps']:,.0f} req/s, p99 {single['p99_us'] / 1000:.1f} ms; "
            f"mlflow models serve {mlflow['rps']:,.1f} req/s, p99 "
            f"{mlflow['p99_us'] / 1000:.1f} ms: {single['rps'] / mlflow['rps']:.1f}x "
            f"(floor 15x); reasons=false "
            f"{results['single_plain']['rps'] / mlflow['rps']:.1f}x"
        )
    print(
        f"  batches: {batch['leads_per_s']:,.0f} leads/s as JSON (floor 30,000), "
        f"{arrow['leads_per_s']:,.0f} sent as Arrow, "
        f"{results['arrow_both']['leads_per_s']:,.0f} sent and answered as Arrow"
    )
    if not compared:
        return
    print(
        f"\nhand-written parts against their library route ({args.rounds} alternations of "
        f"{args.compare_seconds} s; * the phase that decides: stays at >= {KEEP_AT}x)"
    )
    floors_kept_by = {row["part"] for row in compared if floor_broken(row, results)}
    for row in compared:
        hand, lib = row["hand"], row["library"]
        per = "leads/s" if "batch" in row["phase"] or "Arrow" in row["phase"] else "req/s"
        figure = "leads_per_s" if per == "leads/s" else "rps"
        verdict = ""
        if row["decides"]:
            verdict = (
                "stays"
                if row["ratio"] >= KEEP_AT
                else "stays for a floor"
                if row["part"] in floors_kept_by
                else "library route"
            )
        broken = floor_broken(row, results)
        if broken:
            verdict = (verdict + "; " if verdict else "") + broken
        print(
            f"{'*' if row['decides'] else ' '} {row['part']:<15} {row['phase']:<34} "
            f"{hand[figure]:>9,.0f} vs {lib[figure]:>9,.0f} {per}  "
            f"p99 {hand['p99_ms']:>6.1f} vs {lib['p99_ms']:>6.1f} ms  "
            f"{row['ratio']:>5.2f}x  {verdict}"
        )


def floor_broken(row: dict, results: dict[str, dict]) -> str:
    """Which floor the library route broke in its slowest round of this phase, or ""."""
    worst = row["library_worst"]
    if row["key"] == "batch" and worst["leads_per_s"] < FLOOR_BATCH_LEADS_PER_S:
        return f"its library route broke the floor once: {worst['leads_per_s']:,.0f} leads/s"
    if row["key"] == "single" and "mlflow" in results:
        ratio = worst["rps"] / results["mlflow"]["rps"]
        if ratio < FLOOR_SINGLE_VS_MLFLOW:
            return f"its library route broke the floor once: {ratio:.1f}x mlflow"
    return ""


if __name__ == "__main__":
    main()
