"""Load / soak benchmark of ``tryon serve`` — loopback only, bounded in requests and time, stops by itself.

    .venv/bin/python benchmarks/serve_load.py --export runs/serve-bench/student-128x96 --out runs/serve-load
    .venv/bin/python benchmarks/serve_load.py --size 128x96      # exports a random-weight split student first

Starts ``tryon serve`` in a subprocess on 127.0.0.1 (a free port; ``--body-timeout`` / ``--header-timeout``
shortened so the slow-client scenario ends within the run) and measures, with an asyncio/httpx client:

* ``load``: 4 / 16 / 64 concurrent closed-loop clients on ``POST /v1/models/M/infer`` — req/s, client-side
  p50/p95/p99, status counts, and p50/p95 read from the server's ``tryon_serve_request_seconds`` histogram
  (``histogram_quantile`` over the scrape delta), to show the metrics give the same picture;
* ``load-v2``: the same clients on ``POST /v2/models/M/infer`` (Open Inference Protocol, binary-data extension: the
  JPEGs as BYTES, the PNG back as binary), and the bytes on the wire of one request and response of each API;
* ``slow``: 4 normal clients while 8 stalled uploads and 8 idle connections hold sockets — normal req/s and
  p50 against the unloaded 4-client figures, and when the stalled ones were answered (408) or closed;
* ``bomb``: 4 normal clients while 2 clients send the issue's 40-megapixel 1-bit PNG (a few KB) in a loop —
  normal req/s, and the bomb requests' status and latency (refused from the header, before a slot);
* ``soak``: a fixed number of requests at 8 clients with the server's RSS (VmRSS, /proc) sampled along the way;
* ``catalogue`` (split exports): "same person, many garments" — ``/infer`` with both uploads vs
  ``/tryon`` with a ``person_id`` and a garment upload vs ``/tryon`` with ``person_id`` + ``garment_id``, same
  4 clients and 16 garments, in interleaved rounds of the same run;
* ``shutdown``: SIGTERM with a stalled upload open — seconds until the server process exits.

Writes ``results.json`` (machine, versions of the serving stack, date, every scenario) and ``table.md`` (printed)
under ``--out``. Other jobs on the machine change every figure: the load average at the start and at the end is
in the results. ``--budget tiny`` runs every scenario with a few requests and 1 s server deadlines (the test).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from tryon.study import Study, machine_summary, script

NAME = "serve-load"
HOST = "127.0.0.1"


# ------------------------------------------------------------------------------------------------
# inputs
# ------------------------------------------------------------------------------------------------
def synthetic(h: int, w: int, seed: int) -> np.ndarray:
    """A smooth photo-like RGB image (no torch)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    chans = [np.sin(xx / (5 + 9 * rng.random()) + 6 * rng.random()) * np.cos(yy / (4 + 11 * rng.random()))
             for _ in range(3)]
    return ((np.stack(chans, -1) * 0.5 + 0.5) * 255).round().astype(np.uint8)


def jpeg(arr: np.ndarray, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def bomb_png() -> bytes:
    buf = io.BytesIO()
    Image.new("1", (6300, 6300), 1).save(buf, format="PNG", optimize=True)
    return buf.getvalue()


# ------------------------------------------------------------------------------------------------
# the server
# ------------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class Server:
    """``tryon serve`` in a subprocess on loopback; RSS from /proc."""

    def __init__(self, export: Path, name: str, args: list[str], log: Path):
        self.port = free_port()
        self.name = name
        self.url = f"http://{HOST}:{self.port}"
        cmd = [sys.executable, "-c", "import sys; from tryon.cli import main; sys.exit(main(sys.argv[1:]))",
               "serve", "--model", f"{name}={export}", "--host", HOST, "--port", str(self.port),
               "--log-level", "warning", *args]
        env = {**os.environ, "TRYON_DISABLE_PLUGIN_AUTOLOAD": "1"}
        self.log = open(log, "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, env=env)
        self.command = " ".join(cmd[3:])

    def wait_ready(self, timeout: float = 120) -> None:
        import httpx

        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"tryon serve exited with {self.proc.returncode}; see {self.log.name}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError("tryon serve did not become ready")

    def rss_mb(self) -> dict[str, float]:
        out = {}
        try:
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                key = line.split(":")[0]
                if key in ("VmRSS", "VmHWM"):
                    out[key] = round(int(line.split()[1]) / 1024, 1)
        except OSError:
            pass
        return out

    def stop(self, timeout: float = 20) -> float:
        """SIGTERM; seconds until the process exited (killed after ``timeout``)."""
        t0 = time.monotonic()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()
        return time.monotonic() - t0


# ------------------------------------------------------------------------------------------------
# clients
# ------------------------------------------------------------------------------------------------
def summary(lat_s: list[float], codes: dict[int, int], wall: float) -> dict[str, Any]:
    ok = [v * 1000 for v in lat_s]
    p = np.percentile(ok, [50, 95, 99]) if ok else [float("nan")] * 3
    n = sum(codes.values())
    return {"requests": n, "ok": codes.get(200, 0), "req_per_s": round(codes.get(200, 0) / wall, 2) if wall else 0,
            "p50_ms": round(float(p[0]), 1), "p95_ms": round(float(p[1]), 1), "p99_ms": round(float(p[2]), 1),
            "status": {str(k): v for k, v in sorted(codes.items())}, "wall_s": round(wall, 2)}


async def closed_loop(url: str, clients: int, total: int, make_request, cap_s: float, sink: list | None = None
                      ) -> dict[str, Any]:
    """``clients`` workers send requests back to back until ``total`` were sent or ``cap_s`` passed; the
    latencies of successful requests are also appended to ``sink``."""
    import httpx

    lat, codes, sent = [] if sink is None else sink, {}, 0
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as c:
        end = time.monotonic() + cap_s

        async def worker(i: int) -> None:
            nonlocal sent
            while sent < total and time.monotonic() < end:
                sent += 1
                method, path, kw = make_request(sent)
                t0 = time.perf_counter()
                try:
                    r = await c.request(method, path, **kw)
                    code = r.status_code
                except httpx.HTTPError:
                    code = 0  # transport error
                dt = time.perf_counter() - t0
                codes[code] = codes.get(code, 0) + 1
                if code == 200:
                    lat.append(dt)

        t0 = time.perf_counter()
        await asyncio.gather(*(worker(i) for i in range(clients)))
        wall = time.perf_counter() - t0
    return summary(lat, codes, wall)


def wire_bytes(url: str, v1: tuple, v2: tuple) -> dict[str, dict[str, int]]:
    """Bytes of one request body and its response body for each API (the same person and garment JPEGs)."""
    import httpx

    out = {}
    with httpx.Client(base_url=url, timeout=60) as c:
        for api, (method, path, kw) in (("v1 multipart", v1), ("v2 binary", v2)):
            req = c.build_request(method, path, **kw)
            r = c.send(req)
            out[api] = {"request": len(req.read()), "response": len(r.content), "status": r.status_code}
    return out


def scrape_quantiles(text_before: str, text_after: str, model: str) -> dict[str, float]:
    from tryon.serve.metrics import histogram_quantile, parse_buckets

    a = dict(parse_buckets(text_before, "tryon_serve_request_seconds", model=model))
    b = parse_buckets(text_after, "tryon_serve_request_seconds", model=model)
    delta = [(le, n - a.get(le, 0.0)) for le, n in b]
    return {f"server_p{int(q * 100)}_ms": round(histogram_quantile(q, delta) * 1000, 1) for q in (0.5, 0.95)}


async def hold_stalled(port: int, path: str, n_uploads: int, n_idle: int, seconds: float) -> dict[str, Any]:
    """Open ``n_uploads`` stalled uploads (head + part of the body) and ``n_idle`` silent connections; record
    after how long each was answered or closed by the server (bounded by ``seconds``)."""
    results = {"stalled": [], "idle": []}

    async def one(kind: str) -> None:
        t0 = time.monotonic()
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(HOST, port), 5)
        except (OSError, asyncio.TimeoutError):
            results[kind].append({"status": "refused", "after_s": 0.0})
            return
        if kind == "stalled":
            writer.write(f"POST {path} HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: multipart/form-data; "
                         f"boundary=b\r\nContent-Length: 1000000\r\n\r\n--b\r\n".encode())
            await writer.drain()
        try:
            data = await asyncio.wait_for(reader.read(4096), seconds)
            status = data.split(b" ", 2)[1].decode() if data.startswith(b"HTTP/") else "closed"
        except asyncio.TimeoutError:
            status = "still open"
        except OSError:
            status = "reset"
        results[kind].append({"status": status, "after_s": round(time.monotonic() - t0, 2)})
        writer.close()

    await asyncio.gather(*(one("stalled") for _ in range(n_uploads)), *(one("idle") for _ in range(n_idle)))
    out = {}
    for kind, rows in results.items():
        statuses: dict[str, int] = {}
        for r in rows:
            statuses[r["status"]] = statuses.get(r["status"], 0) + 1
        out[kind] = {"status": statuses, "max_after_s": max((r["after_s"] for r in rows), default=0)}
    return out


# ------------------------------------------------------------------------------------------------
def ensure_export(args: argparse.Namespace, out: Path) -> Path:
    if args.export:
        return Path(args.export)
    h, w = (int(v) for v in args.size.lower().split("x"))
    export = out / f"student-{h}x{w}"
    if not (export / "manifest.json").is_file():
        print(f"exporting a random-weight split wuton-student at {h}x{w} to {export} ...", file=sys.stderr, flush=True)
        subprocess.run([sys.executable, "-c", "import sys; from tryon.cli import main; sys.exit(main(sys.argv[1:]))",
                        "export", "wuton-student", "--size", f"{h}x{w}", "--split", "--out", str(export)],
                       check=True, timeout=1800)
    return export


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--export", default=None, help="export folder (split for the catalogue scenario)")
    ap.add_argument("--size", default="128x96",
                    help="HxW of the random-weight student exported when --export is not given")
    ap.add_argument("--clients", default=None, help="load scenario: concurrent clients per level (budget: 4,16,64)")
    ap.add_argument("--requests-per-client", type=int, default=None,
                    help="load scenario: requests per client (budget: 6, at least --min-requests per level)")
    ap.add_argument("--soak-requests", type=int, default=None, help="budget: 1500")
    ap.add_argument("--catalogue-requests", type=int, default=None, help="per variant and round (budget: 100)")
    ap.add_argument("--catalogue-rounds", type=int, default=None, help="budget: 3")
    ap.add_argument("--max-concurrency", type=int, default=2)
    ap.add_argument("--cap-s", type=float, default=None, help="time cap of each scenario (budget: 240)")
    ap.add_argument("--skip", default="",
                    help="comma-separated scenarios to skip (load,slow,bomb,soak,catalogue,shutdown)")


#: ``timeout_s``: the server's --body-timeout / --header-timeout (the stalled clients' deadline); ``normal_requests``:
#: requests of the 4 normal clients in the slow and bomb scenarios; ``hold_s``: how long a stalled client waits at most
BUDGETS = {
    "tiny": {"clients": "2", "requests_per_client": 2, "min_requests": 4, "normal_requests": 4, "soak_requests": 8,
             "catalogue_requests": 4, "catalogue_rounds": 1, "garments": 2, "cap_s": 60.0, "hold_s": 5.0, "timeout_s": 1,
             "shutdown_timeout_s": 1, "warmup_requests": 2},
    "default": {"clients": "4,16,64", "requests_per_client": 6, "min_requests": 60, "normal_requests": 60, "soak_requests": 1500,
                "catalogue_requests": 100, "catalogue_rounds": 3, "garments": 16, "cap_s": 240.0, "hold_s": 15.0, "timeout_s": 5,
                "shutdown_timeout_s": 3, "warmup_requests": 10},
}


def compute(study: Study, args: argparse.Namespace) -> None:
    from importlib import metadata

    s = study.settings(args)
    skip = {k.strip() for k in args.skip.split(",") if k.strip()}
    out = study.out
    export = ensure_export(args, out)
    manifest = json.loads((export / "manifest.json").read_text())
    H, W = manifest["resolution"]
    split = bool(manifest.get("graphs"))
    name = "student"
    tmo = str(s["timeout_s"])
    server_args = ["--max-concurrency", str(args.max_concurrency), "--body-timeout", tmo, "--header-timeout", tmo,
                   "--shutdown-timeout", str(s["shutdown_timeout_s"])]
    server = Server(export, name, server_args, out / "server.log")
    result = study.results
    serve_versions = {}
    for dist in SERVE_STACK:
        try:
            serve_versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            serve_versions[dist] = None
    result.update({"settings": {**s, "max_concurrency": args.max_concurrency, "skip": sorted(skip)},
                   "serve_versions": serve_versions, "export": str(export), "resolution": [H, W],
                   "server": server.command, "scenarios": {}})
    infer = f"/v1/models/{name}/infer"
    person = jpeg(synthetic(2 * H, 2 * W, 1))
    garments = [jpeg(synthetic(2 * H, 2 * W, 100 + i)) for i in range(s["garments"])]
    cap_s = float(s["cap_s"])

    def infer_request(i: int):
        return "POST", infer, {"files": {"person": ("p.jpg", person, "image/jpeg"),
                                         "garment": ("g.jpg", garments[i % len(garments)], "image/jpeg")}}

    rows = []
    t_start = time.monotonic()
    try:
        server.wait_ready()
        import httpx

        result["rss_start_mb"] = server.rss_mb()
        summary_info = httpx.get(f"{server.url}/v1/models/{name}").json()
        result["serving"] = {**summary_info["serving"], "limits": summary_info["limits"],
                             "max_concurrency": args.max_concurrency}
        asyncio.run(closed_loop(server.url, 2, s["warmup_requests"], infer_request, 60))  # warm-up

        def metrics() -> str:
            return httpx.get(f"{server.url}/metrics").text

        if "load" not in skip:
            with study.section("load"):
                load = {}
                for n in [int(c) for c in str(s["clients"]).split(",")]:
                    before = metrics()
                    count = max(s["min_requests"], n * s["requests_per_client"])
                    r = asyncio.run(closed_loop(server.url, n, count, infer_request, cap_s))
                    r.update(scrape_quantiles(before, metrics(), name))
                    r["rss_mb"] = server.rss_mb()
                    load[str(n)] = r
                    rows.append((f"load {n} clients", r))
            result["scenarios"]["load"] = load

        if "load-v2" not in skip:  # the same load through OIP v2 with the binary-data extension (JPEG BYTES in, PNG out)
            from tryon.serve.oip import Tensor, encode_request

            def v2_body(g: bytes) -> tuple[bytes, dict[str, str]]:
                return encode_request([Tensor("person", "BYTES", (1,), [person]), Tensor("garment", "BYTES", (1,), [g])],
                                      parameters={"binary_data_output": True})

            v2_bodies = [v2_body(g) for g in garments]
            infer_v2 = f"/v2/models/{name}/infer"

            def infer_v2_request(i: int):
                body, headers = v2_bodies[i % len(v2_bodies)]
                return "POST", infer_v2, {"content": body, "headers": headers}

            with study.section("load-v2"):
                load_v2 = {}
                for n in [int(c) for c in str(s["clients"]).split(",")]:
                    before = metrics()
                    count = max(s["min_requests"], n * s["requests_per_client"])
                    r = asyncio.run(closed_loop(server.url, n, count, infer_v2_request, cap_s))
                    r.update(scrape_quantiles(before, metrics(), name))
                    load_v2[str(n)] = r
                    rows.append((f"load {n} clients, OIP v2 binary", r))
            result["scenarios"]["load_v2"] = load_v2
            result["wire_bytes"] = wire_bytes(server.url, infer_request(1), infer_v2_request(1))

        if "slow" not in skip:
            async def slow():
                held = asyncio.ensure_future(hold_stalled(server.port, infer, 8, 8, s["hold_s"]))
                await asyncio.sleep(0.5)
                normal = await closed_loop(server.url, 4, s["normal_requests"], infer_request, cap_s)
                return normal, await held

            with study.section("slow"):
                normal, held = asyncio.run(slow())
            result["scenarios"]["slow"] = {"normal_4_clients": normal, "held": held,
                                           "server_limits": f"--body-timeout {tmo} --header-timeout {tmo}"}
            rows.append(("4 clients + 8 stalled + 8 idle", normal))

        if "bomb" not in skip:
            bomb = bomb_png()

            async def bombs():
                stop = time.monotonic() + cap_s
                bomb_res = {"codes": {}, "lat": []}
                done = asyncio.Event()

                async def bomber():
                    async with httpx.AsyncClient(base_url=server.url, timeout=60) as c:
                        while not done.is_set() and time.monotonic() < stop:
                            t0 = time.perf_counter()
                            r = await c.post(infer, files={"person": ("b.png", bomb, "image/png"),
                                                           "garment": ("g.jpg", garments[0], "image/jpeg")})
                            bomb_res["codes"][r.status_code] = bomb_res["codes"].get(r.status_code, 0) + 1
                            bomb_res["lat"].append(time.perf_counter() - t0)

                tasks = [asyncio.ensure_future(bomber()) for _ in range(2)]
                normal = await closed_loop(server.url, 4, s["normal_requests"], infer_request, cap_s)
                done.set()
                await asyncio.gather(*tasks)
                lat = np.asarray(bomb_res["lat"]) * 1000
                return normal, {"bytes": len(bomb), "requests": int(lat.size),
                                "status": {str(k): v for k, v in bomb_res["codes"].items()},
                                "p50_ms": round(float(np.percentile(lat, 50)), 1) if lat.size else None,
                                "max_ms": round(float(lat.max()), 1) if lat.size else None}

            with study.section("bomb"):
                normal, bombed = asyncio.run(bombs())
            result["scenarios"]["bomb"] = {"normal_4_clients": normal, "bomb_clients_2": bombed,
                                           "rss_mb": server.rss_mb()}
            rows.append(("4 clients + 2 sending 6300² PNG", normal))

        if "catalogue" not in skip and split:
            pid = httpx.post(f"{server.url}/v1/persons",
                             files={"person": ("p.jpg", person, "image/jpeg")}).json()["person_id"]
            gids = [httpx.post(f"{server.url}/v1/garments",
                               files={"garment": ("g.jpg", g, "image/jpeg")}).json()["garment_id"] for g in garments]
            tryon = f"/v1/models/{name}/tryon"

            def tryon_upload(i: int):
                return "POST", tryon, {"data": {"person_id": pid},
                                       "files": {"garment": ("g.jpg", garments[i % len(garments)], "image/jpeg")}}

            def tryon_ids(i: int):
                return "POST", tryon, {"data": {"person_id": pid, "garment_id": gids[i % len(gids)]}}

            variants = (("infer (person + garment uploads)", infer_request),
                        ("tryon (person_id + garment upload)", tryon_upload),
                        ("tryon (person_id + garment_id)", tryon_ids))
            # interleaved rounds, so that a change of the machine's load hits every variant alike
            lat: dict[str, list[float]] = {label: [] for label, _ in variants}
            codes: dict[str, dict[int, int]] = {label: {} for label, _ in variants}
            wall = dict.fromkeys(lat, 0.0)
            per_round = []
            with study.section("catalogue"):
                for _ in range(s["catalogue_rounds"]):
                    rates = {}
                    for label, make in variants:
                        r = asyncio.run(closed_loop(server.url, 4, s["catalogue_requests"], make, cap_s, lat[label]))
                        wall[label] += r["wall_s"]
                        rates[label] = r["req_per_s"]
                        for code, n in r["status"].items():
                            codes[label][int(code)] = codes[label].get(int(code), 0) + n
                    per_round.append(rates)
            cat = {label: summary(lat[label], codes[label], wall[label]) for label, _ in variants}
            base = cat[variants[0][0]]["req_per_s"]
            for label, r in cat.items():
                r["speed_vs_infer"] = round(r["req_per_s"] / base, 2) if base else None
                r["speed_vs_infer_per_round"] = [round(x[label] / x[variants[0][0]], 2) if x[variants[0][0]] else None
                                                 for x in per_round]
                rows.append((f"catalogue: {label}", r))
            result["scenarios"]["catalogue"] = cat

        if "soak" not in skip:
            samples = [(0, server.rss_mb())]
            total = s["soak_requests"]

            async def soak():
                step = max(50, total // 10)
                lat: list[float] = []
                codes: dict[int, int] = {}
                t0 = time.perf_counter()
                for k in range(0, total, step):
                    n = min(step, total - k)
                    r = await closed_loop(server.url, 8, n, infer_request, cap_s, lat)
                    for code, c in r["status"].items():
                        codes[int(code)] = codes.get(int(code), 0) + c
                    samples.append((min(k + step, total), server.rss_mb()))
                return summary(lat, codes, time.perf_counter() - t0)

            with study.section("soak"):
                r = asyncio.run(soak())
            rss = [x.get("VmRSS", 0) for _, x in samples]
            r.update({"rss_samples_mb": [[n, x.get("VmRSS")] for n, x in samples],
                      "rss_growth_mb_after_first_tenth": round(rss[-1] - rss[1], 1) if len(rss) > 2 else None,
                      "rss_peak_mb": samples[-1][1].get("VmHWM")})
            result["scenarios"]["soak"] = r
            rows.append((f"soak {total} requests, 8 clients", r))
    finally:
        if "shutdown" not in skip and server.proc.poll() is None:
            sock = socket.create_connection((HOST, server.port), timeout=5)
            sock.sendall(f"POST {infer} HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: multipart/form-data; boundary=b\r\n"
                         "Content-Length: 100000\r\n\r\n--b\r\n".encode())
            time.sleep(0.3)
            took = server.stop()
            sock.close()
            result["scenarios"]["shutdown"] = {"exit_after_sigterm_s": round(took, 2), "with": "one stalled upload",
                                               "shutdown_timeout_s": s["shutdown_timeout_s"]}
        else:
            server.stop()
        result["table"] = [{"scenario": label, **{k: r[k] for k in TABLE_KEYS if k in r}} for label, r in rows]
        result["load_average_end"] = [round(v, 2) for v in os.getloadavg()]
        result["total_s"] = round(time.monotonic() - t_start, 1)


SERVE_STACK = ("fastapi", "starlette", "uvicorn", "h11", "httpx", "prometheus_client", "python-multipart", "pillow")
TABLE_KEYS = ("req_per_s", "p50_ms", "p95_ms", "p99_ms", "status", "server_p50_ms", "server_p95_ms")


def render(out: Path, results: dict[str, Any]) -> str:
    from tryon.report import markdown_table

    H, W = results["resolution"]
    v = results["serve_versions"]
    lines = [f"tryon serve load ({H}x{W}, --max-concurrency {results['settings']['max_concurrency']}); {machine_summary(results)}; "
             f"load at the end {results['load_average_end']}; " + ", ".join(f"{k} {v[k]}" for k in v if v[k]), ""]

    def cell(r: dict[str, Any], key: str) -> Any:
        x = r.get(key)
        return "" if x is None else f"{x:.2f}" if key == "req_per_s" else f"{x:.1f}" if isinstance(x, float) else x

    cols = ["scenario", "req/s", "p50 ms", "p95 ms", "p99 ms", "status", "server p50 / p95 ms"]
    table = [[r["scenario"], cell(r, "req_per_s"), cell(r, "p50_ms"), cell(r, "p95_ms"), cell(r, "p99_ms"),
              ", ".join(f"{n} × {code}" for code, n in r["status"].items()),
              f"{r['server_p50_ms']} / {r['server_p95_ms']}" if "server_p50_ms" in r else ""] for r in results["table"]]
    lines += [markdown_table(cols, table), ""]
    sc = results["scenarios"]
    if "slow" in sc:
        lines.append(f"- stalled/idle connections: {json.dumps(sc['slow']['held'])}")
    if "catalogue" in sc:
        lines.append("- catalogue speed vs /infer per round: "
                     + "; ".join(f"{k}: {r['speed_vs_infer_per_round']}" for k, r in sc["catalogue"].items()))
    if "bomb" in sc:
        lines.append(f"- bomb requests: {json.dumps(sc['bomb']['bomb_clients_2'])}")
    if "soak" in sc:
        lines.append(f"- soak RSS samples (requests, MB): {sc['soak']['rss_samples_mb']}")
    if "shutdown" in sc:
        lines.append(f"- shutdown with a stalled upload: exited {sc['shutdown']['exit_after_sigterm_s']} s after SIGTERM")
    if results.get("wire_bytes"):
        lines.append("- bytes on the wire for one pair (request body / response body): "
                     + "; ".join(f"{k}: {v['request']} / {v['response']}" for k, v in results["wire_bytes"].items()))
    lines.append(f"- total {results['total_s']} s")
    return "\n".join(lines) + "\n"


main = script(NAME, compute, render, BUDGETS, doc=__doc__, add_arguments=add_arguments, default_out="runs/serve-load")


if __name__ == "__main__":
    sys.exit(main())
