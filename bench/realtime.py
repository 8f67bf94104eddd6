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
import gc
import itertools
import json
import os
import platform
import re
import secrets
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

import uvloop

TOKEN = ""  # the service token, issued by main()
HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "realtime.json"
TAZAMA = {"throughput_per_s": 3000, "latency_ms": 35,
          "note": "Tazama's published design goal, on a cluster of larger machines (core count not stated)"}


# --- the app uvicorn serves (one per worker) ---------------------------------------------------


def create_app() -> Any:
    """The web application itself (its authentication, audit and middleware), as `moneytrail serve` runs it.

    The API's read pages are left out (``ui=False``); the engine comes from the warehouse
    and, for the Redis configurations, from ``MONEYTRAIL_REALTIME_REDIS``, both set by the bench.
    """
    from moneytrail.web.app import create_app as web_app

    env = os.environ
    return web_app(Path(env["MT_RT_WAREHOUSE"]), env["MT_RT_OPS"], secret_key=env["MT_RT_SECRET"], ui=False)


def service_token(ops_url: str) -> str:
    """A user with the analyst role (who may score) and a bearer token for the load generator."""
    from moneytrail.opstore import OpsStore
    from moneytrail.opstore.users import create_user, issue_token

    ops = OpsStore(ops_url)
    try:
        with ops.session() as s:
            token = issue_token(s, create_user(s, "payment-gateway", secrets.token_urlsafe(16), "analyst"), "bench")
            s.commit()
    finally:
        ops.dispose()
    return token


# --- the world and the payments ---------------------------------------------------------------


def build_world(work: Path, scale: float, seed: int, later_share: float) -> tuple[Path, list[dict[str, Any]]]:
    import pickle

    from moneytrail.pipeline.run import run_batch
    from moneytrail.realtime.feed import read_bundle, split_bundle
    from moneytrail.synth.world import generate

    cached = work / f"world-{scale}-{seed}-{later_share}.pickle"
    if cached.is_file():  # --work DIR: reuse the world of an earlier run while developing
        warehouse, bodies = pickle.loads(cached.read_bytes())
        return Path(warehouse), bodies
    generate(work / "world", scale=scale, seed=seed)
    items = [i for i in read_bundle(work / "world" / "bundle")[0] if i.ts is not None]
    cut = items[int(len(items) * (1 - later_share))].ts
    assert cut is not None
    warm, later = split_bundle(work / "world" / "bundle", work / "warm", cut)
    run_batch(warm, work / "run")
    warehouse = work / "run" / "warehouse.duckdb"
    bodies = readable(warehouse, [i.body for i in later])
    cached.write_bytes(pickle.dumps((str(warehouse), bodies)))
    return warehouse, bodies


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


def _shift_xml(xml: str, k: int) -> str:
    def year(m: re.Match[str]) -> str:
        return m.group(1) + str(int(m.group(2)) + 4 * k)

    def ident(m: re.Match[str]) -> str:
        return f"{m.group(1)}{m.group(2)}-r{k}{m.group(3)}"

    return _XML_IDS.sub(ident, _XML_TIMES.sub(year, xml))


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
                b["pacs008"] = _shift_xml(b["pacs008"], k)
            yield b
        k += 1


# --- the server ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(warehouse: Path, ops_url: str, workers: int, redis_url: str | None, namespace: str, port: int,
                 log: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ, MT_RT_WAREHOUSE=str(warehouse), MT_RT_OPS=ops_url, MT_RT_SECRET=secrets.token_urlsafe(32),
               MONEYTRAIL_REALTIME_NAMESPACE=namespace)
    env.pop("MONEYTRAIL_REALTIME_REDIS", None)
    if redis_url:
        env["MONEYTRAIL_REALTIME_REDIS"] = redis_url
    cmd = [sys.executable, "-m", "uvicorn", "realtime:create_app", "--factory", "--app-dir", str(HERE),
           "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers), "--loop", "uvloop",
           "--http", "httptools", "--no-access-log", "--log-level", "warning", "--backlog", "4096"]
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
    """Send the payloads at `rate` per second (open loop); latency from each payment's due time.

    One dispatcher sleeps until each payment is due and starts its request then, on
    whichever connection is free (a payment waits for one when all are busy: that wait
    counts). A dispatcher woken late (timers have millisecond granularity) adds its
    lateness to the latency, never hides it.
    """
    pool: asyncio.Queue[Conn] = asyncio.Queue()
    for _ in range(connections):
        r, w = await asyncio.open_connection("127.0.0.1", port)
        pool.put_nowait(Conn(r, w))
    lat: list[float] = []
    server: list[float] = []  # the engine's own time per payment (parse, state, score)
    errors: dict[str, int] = {}
    loop = asyncio.get_running_loop()
    clock = time.perf_counter  # not loop.time(): uvloop's is in whole milliseconds, cached per loop turn
    start = clock() + 0.05

    async def one(due: float, body: bytes) -> None:
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
        lat.append((clock() - due) * 1000)

    tasks = []
    for i, body in enumerate(payloads):
        due = start + i / rate
        delay = due - clock()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(loop.create_task(one(due, body)))
    await asyncio.gather(*tasks)
    elapsed = clock() - start
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


def measured_step(port: int, payloads: list[bytes], rate: float, connections: int, pids: list[int]) -> dict[str, Any]:
    """`run_step` on a uvloop loop, with the CPU time the server and this client spent per payment.

    CPU per payment does not depend on how busy the machine is the way latency does,
    so it tells what the code costs on a shared machine.
    """
    gc.collect()
    gc.freeze()  # the payloads and the world: the client's collector does not walk them during the step
    load_before = load_average()
    server0, client0 = cpu_seconds(pids), time.process_time()
    step = uvloop.run(run_step(port, payloads, rate, connections))
    n = max(1, len(payloads))
    step["server_cpu_ms_per_payment"] = round((cpu_seconds(pids) - server0) * 1000 / n, 3)
    step["client_cpu_ms_per_payment"] = round((time.process_time() - client0) * 1000 / n, 3)
    step["load_average"] = load_before
    gc.unfreeze()
    return step


def server_pids(proc: subprocess.Popen[bytes]) -> list[int]:
    """The uvicorn process and its workers."""
    out = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
    return [proc.pid, *(int(p) for p in out)]


def cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


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
    ap.add_argument("--work", type=Path, help="work directory to keep and reuse (the world is built once)")
    args = ap.parse_args()
    rates = [float(r) for r in args.rates.split(",")]

    work = args.work or Path(tempfile.mkdtemp(prefix="mt-rt-bench-"))
    work.mkdir(parents=True, exist_ok=True)
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
        global TOKEN
        ops_url = f"sqlite:///{work / f'ops-{os.getpid()}.db'}"  # users, tokens and audit of this run
        TOKEN = service_token(ops_url)
        for config in args.configs.split(","):
            kind, workers = config[:-1], int(config[-1])
            redis_url = args.redis if kind == "redis" else None
            ns = f"mt-rt-bench:{os.getpid()}:{config}"
            if redis_url:  # warm the shared state once, before the workers attach to it
                from moneytrail.realtime.engine import Engine
                from moneytrail.realtime.state import RedisStore

                t1 = time.perf_counter()
                store = RedisStore(redis_url, ns)
                Engine.from_warehouse(warehouse, store=store, rewarm=True, freeze=False)
                store.close()
                warm_s = time.perf_counter() - t1
            port = free_port()
            log = work / f"server-{config}.log"
            print(f"{config}: starting {workers} worker(s) ...", flush=True)
            t1 = time.perf_counter()
            proc = start_server(warehouse, ops_url, workers, redis_url, ns, port, log)
            entry: dict[str, Any] = {"workers": workers, "state": "redis" if redis_url else "in-process", "steps": []}
            try:
                wait_ready(port, proc)
                entry["startup_seconds"] = round(time.perf_counter() - t1, 1)
                if redis_url:
                    entry["redis_warm_seconds"] = round(warm_s, 1)
                # a short warm-up of the server (imports, caches), not measured
                uvloop.run(run_step(port, [json.dumps(next(source)).encode() for _ in range(400)], 100, 8))
                pids = server_pids(proc)
                for rate in rates:
                    n = int(rate * args.step_seconds)
                    payloads = [json.dumps(next(source)).encode() for _ in range(n)]
                    step = measured_step(port, payloads, rate, args.connections, pids)
                    entry["steps"].append(step)
                    print(f"  {rate:>6.0f}/s: {step['throughput_per_s']:>7.1f}/s done, p50 {step['p50_ms']:>7.2f} ms, "
                          f"p99 {step['p99_ms']:>8.2f} ms (engine p50 {step['engine_p50_ms']} p99 {step['engine_p99_ms']}), "
                          f"cpu/payment server {step['server_cpu_ms_per_payment']} client {step['client_cpu_ms_per_payment']} ms, "
                          f"errors {step['errors'] or 0}  (load {step['load_average'][0]})", flush=True)
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
            cross, cross35 = crossing(entry["steps"]), crossing(entry["steps"], 35.0)
            cores = min(workers, os.cpu_count() or 1)
            entry["summary"] = {
                "p99_ms_at_500_per_s": at500["p99_ms"] if at500 else None,
                "engine_p99_ms_at_500_per_s": at500["engine_p99_ms"] if at500 else None,
                "p99_over_engine_p99_at_500_per_s": round(at500["p99_ms"] / at500["engine_p99_ms"], 1)
                if at500 and at500["engine_p99_ms"] else None,
                "load_average_at_500_per_s": at500["load_average"] if at500 else None,
                "errors_at_500_per_s": at500["errors"] if at500 else None,
                "target_p99_under_20ms_at_500_met": bool(at500 and at500["p99_ms"] < 20 and not at500["errors"]),
                "throughput_where_p99_passes_50ms": cross,
                "throughput_per_core_at_50ms": round(cross / cores, 1) if cross else None,
                # Tazama's goal is stated at 35 ms: the same crossing at its latency, for the comparison
                "throughput_where_p99_passes_35ms": cross35,
                "throughput_per_core_at_35ms": round(cross35 / cores, 1) if cross35 else None,
                "server_cpu_ms_per_payment_at_500_per_s": at500["server_cpu_ms_per_payment"] if at500 else None,
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
        if args.keep or args.work:
            print(f"work directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
