"""Load test of the real-time API: latency and throughput for one and two workers.

Self-contained: generates a synthetic world, runs the batch stages on its
first part into a warehouse, starts uvicorn (a tiny app with a bearer token
of its own around ``moneytrail.realtime.api.make_router``), sends the
world's later payments at fixed rates from this process over loopback (an
open-loop asyncio client on keep-alive connections: latency is measured from
the moment a payment was due, so a slow server cannot hide its queue), stops
the server, and writes bench/results/realtime.json.

Configurations: one worker with the state in process, one worker with the
state in Redis, two workers sharing the state in Redis (127.0.0.1:6379).
Rates go up step by step until p99 has passed 50 ms on two steps (the crossing
is interpolated between the last step under and the first over), the server
falls behind the offered rate, or errors appear.

    python bench/realtime.py [--scale 0.3] [--seed 11] [--step-seconds 10]
                             [--rates 50,100,200,300,500,700,1000,1400,2000]
                             [--configs memory1,redis1,redis2]

The payments of the later part are sent again with new record ids and their
times moved on by 4 years per round, so no payment is ever a duplicate and
every subject's history keeps growing as it would in production.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request

TOKEN = "bench-token-7f3a9c"
HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "realtime.json"
TAZAMA = {"throughput_per_s": 3000, "latency_ms": 35,
          "note": "Tazama's published design goal, on a cluster of larger machines (core count not stated)"}


# --- the app uvicorn serves (one per worker) ---------------------------------------------------


class BearerToken:
    """The bench's authentication: one fixed bearer token (the web application brings the real one)."""

    def __init__(self, token: str) -> None:
        self.token = token

    async def __call__(self, request: Request) -> str:  # async: FastAPI runs it without a thread hop
        if request.headers.get("authorization") != f"Bearer {self.token}":
            raise HTTPException(401, "a valid bearer token is needed")
        return "bench"


def create_app() -> FastAPI:
    """The router behind a bearer token; the engine comes from the environment the bench sets."""
    from moneytrail.realtime.api import make_router
    from moneytrail.realtime.engine import Engine
    from moneytrail.realtime.state import RedisStore

    env = os.environ
    redis_url = env.get("MT_RT_REDIS")
    store = RedisStore(redis_url, env["MT_RT_NAMESPACE"]) if redis_url else None
    engine = Engine.from_warehouse(env["MT_RT_WAREHOUSE"], store=store)
    app = FastAPI()
    app.include_router(make_router(lambda: engine, BearerToken(env["MT_RT_TOKEN"])), prefix="/api/v1")
    return app


# --- the world and the payments ---------------------------------------------------------------


def build_world(work: Path, scale: float, seed: int, later_share: float) -> tuple[Path, list[dict[str, Any]]]:
    from moneytrail.pipeline.run import run_batch
    from moneytrail.realtime.feed import read_bundle, split_bundle
    from moneytrail.synth.world import generate

    generate(work / "world", scale=scale, seed=seed)
    items = [i for i in read_bundle(work / "world" / "bundle")[0] if i.ts is not None]
    cut = items[int(len(items) * (1 - later_share))].ts
    assert cut is not None
    warm, later = split_bundle(work / "world" / "bundle", work / "warm", cut)
    run_batch(warm, work / "run")
    warehouse = work / "run" / "warehouse.duckdb"
    return warehouse, readable(warehouse, [i.body for i in later])


def readable(warehouse: Path, bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The payments the API accepts: the world's malformed records (422 by design) are left out."""
    import duckdb

    from moneytrail.errors import UserError
    from moneytrail.realtime.payload import Reference, parse_payment

    with duckdb.connect(str(warehouse), read_only=True) as con:
        ref = Reference.from_warehouse(con)
    out = []
    for b in bodies:
        try:
            parse_payment(b, ref)
        except UserError:
            continue
        out.append(b)
    return out


_CSV_TIMES = ("created_at", "paid_out_at", "timestamp")
_CSV_IDS = ("transfer_id", "txn_id")
_XML_TIMES = re.compile(r"(<(?:CreDtTm|AccptncDtTm|IntrBkSttlmDt)>)(\d{4})")
_XML_IDS = re.compile(r"(<(?:UETR|EndToEndId|TxId)>)([^<]+)(</)")


def rounds(bodies: list[dict[str, Any]]) -> Any:
    """The payments, then again and again with fresh ids, 4 years later each round (leap days stay valid)."""
    k = 0
    while True:
        for body in bodies:
            if k == 0:
                yield body
                continue
            b = dict(body)
            if "record" in b:
                rec = dict(b["record"])
                for f, v in rec.items():  # column names in any case, as the formats allow
                    name = f.strip().lower()
                    if name in _CSV_IDS and v:
                        rec[f] = f"{v}-r{k}"
                    elif name in _CSV_TIMES and v and v[:4].isdigit():
                        rec[f] = str(int(v[:4]) + 4 * k) + v[4:]
                b["record"] = rec
            else:
                xml = _XML_TIMES.sub(lambda m, k=k: m.group(1) + str(int(m.group(2)) + 4 * k), b["pacs008"])
                b["pacs008"] = _XML_IDS.sub(lambda m, k=k: f"{m.group(1)}{m.group(2)}-r{k}{m.group(3)}", xml)
            yield b
        k += 1


# --- the server ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(warehouse: Path, workers: int, redis_url: str | None, namespace: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ, MT_RT_WAREHOUSE=str(warehouse), MT_RT_TOKEN=TOKEN, MT_RT_NAMESPACE=namespace)
    if redis_url:
        env["MT_RT_REDIS"] = redis_url
    cmd = [sys.executable, "-m", "uvicorn", "realtime:create_app", "--factory", "--app-dir", str(HERE),
           "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
           "--no-access-log", "--log-level", "warning", "--backlog", "4096"]
    return subprocess.Popen(cmd, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)


def wait_ready(port: int, proc: subprocess.Popen[bytes], timeout: float = 600) -> None:
    import httpx

    deadline = time.time() + timeout
    ok = 0
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server stopped (exit {proc.returncode}); see its log")
        try:
            r = httpx.get(f"http://127.0.0.1:{port}/api/v1/score/status",
                          headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5)
            ok = ok + 1 if r.status_code == 200 else 0
            if ok >= 20:  # every worker answers (connections spread over them)
                return
            continue
        except httpx.HTTPError:
            ok = 0
        time.sleep(0.5)
    raise RuntimeError("the server did not become ready")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


# --- the load -------------------------------------------------------------------------------------


_ELAPSED = re.compile(rb'"elapsed_ms":([0-9.]+)')


class Conn:
    """One keep-alive HTTP/1.1 connection: write a request, read the response by Content-Length."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def post(self, path: str, body: bytes) -> tuple[int, float | None]:
        head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode()
        self.writer.write(head + body)
        await self.writer.drain()
        status_line = await self.reader.readline()
        length = 0
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            if line[:15].lower() == b"content-length:":
                length = int(line[15:].strip())
        data = await self.reader.readexactly(length) if length else b""
        m = _ELAPSED.search(data)
        return (int(status_line.split()[1]) if status_line else 0), (float(m.group(1)) if m else None)


async def run_step(port: int, payloads: list[bytes], rate: float, connections: int) -> dict[str, Any]:
    """Send the payloads at `rate` per second (open loop); latency from each payment's due time."""
    pool: asyncio.Queue[Conn] = asyncio.Queue()
    for _ in range(connections):
        r, w = await asyncio.open_connection("127.0.0.1", port)
        pool.put_nowait(Conn(r, w))
    lat: list[float] = []
    server: list[float] = []  # the engine's own time per payment (parse, state, score)
    errors: dict[str, int] = {}
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.05

    async def one(i: int, body: bytes) -> None:
        due = start + i / rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        conn = await pool.get()
        try:
            status, engine_ms = await conn.post("/api/v1/score", body)
            if engine_ms is not None:
                server.append(engine_ms)
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError) as exc:
            errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
            r, w = await asyncio.open_connection("127.0.0.1", port)
            conn = Conn(r, w)
            status = -1
        pool.put_nowait(conn)
        if status != 200:
            errors[str(status)] = errors.get(str(status), 0) + 1
        lat.append((loop.time() - due) * 1000)

    await asyncio.gather(*(one(i, b) for i, b in enumerate(payloads)))
    elapsed = loop.time() - start
    while not pool.empty():
        pool.get_nowait().writer.close()
    lat.sort()
    server.sort()

    def pct(xs: list[float], p: float) -> float | None:
        return round(xs[min(len(xs) - 1, int(p / 100 * len(xs)))], 2) if xs else None

    return {"offered_per_s": rate, "sent": len(payloads), "seconds": round(elapsed, 2),
            "throughput_per_s": round(len(lat) / elapsed, 1), "p50_ms": pct(lat, 50), "p90_ms": pct(lat, 90),
            "p99_ms": pct(lat, 99), "max_ms": round(lat[-1], 2), "errors": errors,
            "engine_p50_ms": pct(server, 50), "engine_p99_ms": pct(server, 99)}


def crossing(steps: list[dict[str, Any]], limit_ms: float = 50.0) -> float | None:
    """Throughput where p99 passes `limit_ms`, interpolated between the two steps around it."""
    for a, b in itertools.pairwise(steps):
        if a["p99_ms"] <= limit_ms < b["p99_ms"]:
            f = (limit_ms - a["p99_ms"]) / (b["p99_ms"] - a["p99_ms"])
            return round(a["throughput_per_s"] + f * (b["throughput_per_s"] - a["throughput_per_s"]), 1)
    return None  # already over at the lowest rate, or never crossed within the rates tried


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=float, default=0.3)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--later-share", type=float, default=0.3, help="share of the world's payments streamed")
    ap.add_argument("--step-seconds", type=float, default=10.0)
    ap.add_argument("--rates", default="50,100,200,300,500,700,1000,1400,2000")
    ap.add_argument("--configs", default="memory1,redis1,redis2")
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    args = ap.parse_args()
    rates = [float(r) for r in args.rates.split(",")]

    work = Path(tempfile.mkdtemp(prefix="mt-rt-bench-"))
    result: dict[str, Any] = {
        "command": "python bench/realtime.py " + " ".join(sys.argv[1:]),
        "started": datetime.now().isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "load_average_at_start": load_average()},
        "world": {"scale": args.scale, "seed": args.seed, "later_share": args.later_share},
        "configs": {}, "tazama": TAZAMA,
    }
    try:
        t0 = time.perf_counter()
        print(f"world scale {args.scale} seed {args.seed}: generating, running the batch stages ...", flush=True)
        warehouse, bodies = build_world(work, args.scale, args.seed, args.later_share)
        result["world"].update({"streamed_payments_per_round": len(bodies), "build_seconds": round(time.perf_counter() - t0, 1)})
        source = rounds(bodies)
        for config in args.configs.split(","):
            kind, workers = config[:-1], int(config[-1])
            redis_url = args.redis if kind == "redis" else None
            ns = f"mt-rt-bench:{os.getpid()}:{config}"
            if redis_url:  # warm the shared state once, before the workers attach to it
                from moneytrail.realtime.engine import Engine
                from moneytrail.realtime.state import RedisStore

                t1 = time.perf_counter()
                store = RedisStore(redis_url, ns)
                Engine.from_warehouse(warehouse, store=store, rewarm=True)
                store.close()
                warm_s = time.perf_counter() - t1
            port = free_port()
            log = work / f"server-{config}.log"
            print(f"{config}: starting {workers} worker(s) ...", flush=True)
            t1 = time.perf_counter()
            proc = start_server(warehouse, workers, redis_url, ns, port, log)
            entry: dict[str, Any] = {"workers": workers, "state": "redis" if redis_url else "in-process", "steps": []}
            try:
                wait_ready(port, proc)
                entry["startup_seconds"] = round(time.perf_counter() - t1, 1)
                if redis_url:
                    entry["redis_warm_seconds"] = round(warm_s, 1)
                # a short warm-up of the server (imports, caches), not measured
                asyncio.run(run_step(port, [json.dumps(next(source)).encode() for _ in range(200)], 100, 8))
                for rate in rates:
                    n = int(rate * args.step_seconds)
                    payloads = [json.dumps(next(source)).encode() for _ in range(n)]
                    load_before = load_average()
                    step = asyncio.run(run_step(port, payloads, rate, args.connections))
                    step["load_average"] = load_before
                    entry["steps"].append(step)
                    print(f"  {rate:>6.0f}/s: {step['throughput_per_s']:>7.1f}/s done, p50 {step['p50_ms']:>7.2f} ms, "
                          f"p99 {step['p99_ms']:>8.2f} ms (engine p50 {step['engine_p50_ms']} p99 {step['engine_p99_ms']}), "
                          f"errors {step['errors'] or 0}  (load {load_before[0]})", flush=True)
                    over = [s for s in entry["steps"] if s["p99_ms"] > 50]
                    # one step past the 50 ms crossing brackets it; errors or a server that cannot keep up end the run
                    if len(over) >= 2 or step["errors"] or step["throughput_per_s"] < 0.9 * rate:
                        break
            finally:
                stop_server(proc)
                if redis_url:
                    from moneytrail.realtime.state import RedisStore

                    RedisStore(redis_url, ns).clear()
            at500 = next((s for s in entry["steps"] if s["offered_per_s"] == 500), None)
            cross = crossing(entry["steps"])
            cores = min(workers, os.cpu_count() or 1)
            entry["summary"] = {
                "p99_ms_at_500_per_s": at500["p99_ms"] if at500 else None,
                "errors_at_500_per_s": at500["errors"] if at500 else None,
                "target_p99_under_20ms_at_500_met": bool(at500 and at500["p99_ms"] < 20 and not at500["errors"]),
                "throughput_where_p99_passes_50ms": cross,
                "throughput_per_core_at_50ms": round(cross / cores, 1) if cross else None,
                "p99_over_50ms_at_lowest_rate": bool(entry["steps"] and entry["steps"][0]["p99_ms"] > 50),
                "highest_rate_sustained_per_s": max((s["throughput_per_s"] for s in entry["steps"]
                                                     if s["throughput_per_s"] >= 0.98 * s["offered_per_s"]), default=None),
                "cores_used": cores,
            }
            result["configs"][config] = entry
    finally:
        result["machine"]["load_average_at_end"] = load_average()
        result["finished"] = datetime.now().isoformat(timespec="seconds")
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1) + "\n")
        print(f"wrote {args.out}")
        if args.keep:
            print(f"work directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
