"""Speed of the scoring API against ``mlflow models serve`` of the same registered model.

It reads the store of a ``leadscore demo`` run (``mlflow.db``, ``mlartifacts``, ``data/raw``);
without ``--store`` it runs the demo (20,000 leads, about 20 s) in a temporary folder first::

    python benchmarks/serving.py [--store DIR]

Both servers listen on 127.0.0.1 only and get the same requests: real leads of the demo history
scored at the end of the data, one lead per request at 8 connections, then batches of 1,000
leads at 8 connections (as JSON, with reasons, sent as Arrow IPC streams, and sent and answered
as Arrow) and at 1 (a CRM syncing batch after batch: one connection is served by one worker).
Load comes from ``wrk`` (Debian package ``wrk``) with a Lua script that cycles through the
request bodies; each phase has a warm-up and a fixed duration, so the run stops by itself.
Prints requests/s, p50 and p99 latency, error counts, and the ratios against the targets
(single lead >= 15x mlflow, p99 <= 20 ms at 8 connections, batches >= 50,000 leads/s), then
where the CPU time of one batch goes, measured in this process: reading the request
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
from pathlib import Path

import httpx
import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

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


def phase(
    name: str,
    url: str,
    bodies: Path,
    lua: Path,
    connections: int,
    seconds: int,
    per_request: int = 1,
    media: str | None = None,
    accept: str | None = None,
) -> dict:
    wrk(url, bodies, lua, connections, max(2, seconds // 4), media, accept)  # warm-up
    result = wrk(url, bodies, lua, connections, seconds, media, accept)
    result["name"], result["leads_per_s"] = name, result["rps"] * per_request
    print(
        f"{name:<34} {result['rps']:>9.1f} req/s {result['leads_per_s']:>10,.0f} leads/s  "
        f"p50 {result['p50_us'] / 1000:>8.1f} ms  p99 {result['p99_us'] / 1000:>8.1f} ms  "
        f"requests {result['requests']:>7,}  errors {result['errors']} "
        f"(non-2xx {result['status']}, timeout {result['timeout']}, socket "
        f"{result['connect'] + result['read'] + result['write']})",
        flush=True,
    )
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
    from serving.decode.text_columns import text_columns
    from serving.encode.arrow_writer import arrow_answer
    from serving.encode.json_writer import json_answer_writer
    from serving.encode.rows import rows_of
    from serving.scoring.loading import load_for
    from serving.scoring.scorer import score_visible

    os.chdir(store)  # the settings' default store paths are relative to it
    os.environ.pop("MLFLOW_TRACKING_URI", None)  # as for the API's process above
    settings = Settings()
    models = load_for(settings)
    cache = trees_cache_of(settings)  # the compiled code, as the API reads and answers batches
    reader, text, writer = json_batch_reader(cache), text_columns(cache), json_answer_writer(cache)
    raw = body.encode()
    now = datetime.now(UTC)

    def read(compiled: bool = True):
        return read_valid_batch(
            raw,
            max_leads=10**6,
            max_touches=10**6,
            now=now,
            reader=reader if compiled else None,
            text=text if compiled else None,
        )

    batch = read()
    n = len(batch.lead_ids)

    def score():
        return score_visible(
            models, batch.visible, batch.lead_ids, batch.as_of, reasons=[False] * n, top=3
        )

    scored = score()
    rule_names = scored.rule_names

    def by_rows() -> bytes:  # the answer as routes write it without the compiled writer
        items = [{"index": i, "result": r, "error": None} for i, r in enumerate(rows_of(scored))]
        return orjson.dumps({"scored": n, "invalid": 0, "results": items})

    stages = {
        f"reading ({'pyarrow' if reader is None else 'compiled'}, checks on columns)": cpu_ms(read),
        "scoring (features, rules, models)": cpu_ms(score),
        f"JSON answer ({'rows_of' if writer is None else 'compiled, by column'})": cpu_ms(
            by_rows if writer is None else lambda: writer.batch_answer(scored)
        ),
    }
    total = sum(stages.values())
    print(f"\none batch of {n:,} leads ({len(raw) / 1e6:.1f} MB), CPU time in-process:")
    for name, ms in stages.items():
        print(f"  {name:<38} {ms:7.1f} ms  {ms / total:5.0%}")
    per_core = n / total * 1000
    print(f"  {'together':<38} {total:7.1f} ms  -> at most {per_core:,.0f} leads/s per core")
    print(f"  (read by pyarrow and numpy instead: {cpu_ms(lambda: read(False)):.1f} ms)")
    print(f"  (answered from rows_of's dicts instead: {cpu_ms(by_rows):.1f} ms)")
    arrow = arrow_file(Path(tempfile.mkdtemp()), "batch.arrows", json.loads(body)["leads"])
    arrow_bytes = arrow.read_bytes()
    arrow_ms = cpu_ms(
        lambda: read_arrow_batch(
            arrow_bytes, max_leads=10**6, max_touches=10**6, now=now, text=text
        )
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--store", type=Path, help="folder of a leadscore demo run [a new one]")
    parser.add_argument("--seconds", type=int, default=12, help="measured seconds per phase")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers of the API")
    parser.add_argument("--mlflow-workers", type=int, default=1)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--leads", type=int, default=400, help="distinct leads sent")
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--skip-mlflow", action="store_true")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install -y wrk")
    store = (args.store or demo_store()).resolve()
    if not (store / "mlflow.db").exists() or not (store / "data" / "raw").exists():
        raise SystemExit(f"no demo store in {store}: run `leadscore demo` there first")

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
    env["PYTHONPATH"] = str(ROOT)
    # mlflow models serve runs `uvicorn` by name: the venv's bin must be on PATH
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    print(
        f"{len(rows):,} leads, {np.mean([len(r['touches']) for r in rows]):.1f} touches each "
        f"on average; {args.seconds} s per phase; {os.cpu_count()} cores",
        flush=True,
    )

    results = {}
    port = free_port()
    code = (
        f"from serving.api.app import run_server; run_server(host='127.0.0.1', port={port}, "
        f"workers={args.workers}, access_log=False)"
    )
    api = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=store,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_ready(f"http://127.0.0.1:{port}/readyz", api)
        base = f"http://127.0.0.1:{port}"
        results["api"] = phase(
            f"leadscore API ({args.workers} workers), 1 lead",
            f"{base}/v1/score",
            single,
            lua,
            args.connections,
            args.seconds,
        )
        results["api_plain"] = phase(
            "  same, reasons=false",
            f"{base}/v1/score?reasons=false",
            single,
            lua,
            args.connections,
            args.seconds,
        )
        results["api_batch"] = phase(
            f"  batches of {args.batch:,} leads",
            f"{base}/v1/score/batch",
            batch,
            lua,
            args.connections,
            args.seconds,
            args.batch,
        )
        results["api_batch_reasons"] = phase(
            "  same, reasons=true",
            f"{base}/v1/score/batch?reasons=true",
            batch,
            lua,
            args.connections,
            args.seconds,
            args.batch,
        )
        results["api_arrow"] = phase(
            "  same, sent as Arrow IPC streams",
            f"{base}/v1/score/batch",
            arrow_batch,
            lua,
            args.connections,
            args.seconds,
            args.batch,
            media=ARROW_STREAM,
        )
        results["api_arrow_both"] = phase(
            "  same, sent and answered as Arrow",
            f"{base}/v1/score/batch",
            arrow_batch,
            lua,
            args.connections,
            args.seconds,
            args.batch,
            media=ARROW_STREAM,
            accept=ARROW_STREAM,
        )
        results["api_batch_one"] = phase(
            "  same, 1 connection",
            f"{base}/v1/score/batch",
            batch,
            lua,
            1,
            args.seconds,
            args.batch,
        )
    finally:
        stop(api)

    if not args.skip_mlflow:
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
        try:
            wait_ready(f"http://127.0.0.1:{port}/ping", mlflow)
            base = f"http://127.0.0.1:{port}/invocations"
            results["mlflow"] = phase(
                f"mlflow models serve ({args.mlflow_workers} worker), 1 lead",
                base,
                mlflow_single,
                lua,
                args.connections,
                args.seconds,
            )
            results["mlflow_batch"] = phase(
                f"  batches of {args.batch:,} leads",
                base,
                mlflow_batch,
                lua,
                1,
                args.seconds,
                args.batch,
            )
        finally:
            stop(mlflow)

    api = results["api"]
    print("\ntargets")
    if "mlflow" in results:
        ratio = api["rps"] / results["mlflow"]["rps"]
        print(
            f"  single lead vs mlflow: {ratio:.1f}x (target >= 15x); reasons=false "
            f"{results['api_plain']['rps'] / results['mlflow']['rps']:.1f}x; batches "
            f"{results['api_batch']['leads_per_s'] / results['mlflow_batch']['leads_per_s']:.1f}x"
        )
    print(f"  p99 at {args.connections} connections: {api['p99_us'] / 1000:.1f} ms (target <= 20)")
    print(
        f"  batch throughput (target >= 50,000 leads/s): "
        f"{results['api_batch']['leads_per_s']:,.0f} as JSON, "
        f"{results['api_arrow']['leads_per_s']:,.0f} sent as Arrow, "
        f"{results['api_arrow_both']['leads_per_s']:,.0f} sent and answered as Arrow"
    )
    errors = sum(r["errors"] for r in results.values())
    print(f"  errors over all phases: {errors}")
    batch_breakdown(store, batch.read_text().splitlines()[0])
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
