"""tryon.serve: the HTTP service over ONNX exports (FastAPI TestClient / httpx ASGI transport, no real port).

The export is the tiny test task of test_export.py ("tiny-tryon", 64×48), fp32 + int8 (tests/serve_support.py).
The limits, auth, server and catalogue tests are in tests/test_serve_*.py.
"""

from __future__ import annotations

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("prometheus_client")

import asyncio
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import textwrap

import httpx
import numpy as np
from fastapi.testclient import TestClient
from PIL import Image

from tryon.cli import build_app, main
from tryon.errors import TryonError
from tryon.runtime import TryOnSession
from tryon.serve import create_app, parse_model_specs
from tryon.serve.metrics import histogram_quantile, parse_buckets


import serve_support as S  # noqa: E402 - tests/ is on sys.path (tests/conftest.py)
UPLOAD_LIMIT = 64 * 1024
PIXEL_LIMIT = 100_000
INFER = S.INFER
PERSON, GARMENT, P_PNG, G_JPG = S.PERSON, S.GARMENT, S.P_PNG, S.G_JPG
encode, files = S.encode, S.files


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory):
    return S.tiny_export(tmp_path_factory)


@pytest.fixture(scope="module")
def app(export_dir):
    return create_app({"tiny": export_dir}, max_upload_bytes=UPLOAD_LIMIT, max_pixels=PIXEL_LIMIT, max_concurrency=2)


@pytest.fixture(scope="module")
def client(app):
    with TestClient(app) as c:
        yield c


def scrape(client) -> dict[str, float]:
    r = client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    values = {}
    for line in r.text.splitlines():
        if line and not line.startswith("#"):
            key, value = line.rsplit(" ", 1)
            values[key] = float(value)
    return values


# ------------------------------------------------------------------------------------------------
def test_health_and_models(client, export_dir):
    assert client.get("/healthz").json() == {"status": "ok", "models": ["tiny"]}
    for path in ("/livez", "/v2/health/live"):  # liveness, incl. the Open Inference Protocol v2 path
        assert client.get(path).json() == {"live": True}
    for path in ("/readyz", "/v2/health/ready"):
        assert client.get(path).json() == {"ready": True, "models": ["tiny"]}
    listing = client.get("/v1/models").json()["models"]
    assert len(listing) == 1
    m = listing[0]
    manifest = json.loads((export_dir / "manifest.json").read_text())
    assert (m["name"], m["task"], m["component"]) == ("tiny", "tiny-tryon", "generator")
    assert [i["name"] for i in m["inputs"]] == ["person", "garment"] and m["inputs"][0]["kind"] == "image"
    assert m["inputs"][0]["shape"] == ["batch", 3, 64, 48] and m["returns"] == "image"
    assert m["resolution"] == [64, 48] and m["opset"] == manifest["opset"] >= 16
    assert m["sha256"] == hashlib.sha256((export_dir / "model.onnx").read_bytes()).hexdigest()
    assert m["variants"] == {"fp32": True, "fp16": False, "int8": True}
    assert m["serving"]["variant"] == "fp32" and m["serving"]["providers"] == ["CPUExecutionProvider"]
    assert m["random_weights"] is True
    assert m["limits"] == {"max_pixels": PIXEL_LIMIT, "max_output_pixels": 16 * 64 * 48}  # output: 16× the model's
    assert client.get("/v1/models/tiny").json() == m
    assert client.get("/v1/models/nope").status_code == 404


def test_infer_returns_person_sized_image(client, export_dir):
    r = client.post(INFER, files=files(P_PNG, G_JPG))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/png"
    out = Image.open(io.BytesIO(r.content))
    assert out.format == "PNG" and out.size == (60, 80) and out.mode == "RGB"
    # the same pixels as the runtime session on the decoded uploads
    sess = TryOnSession(export_dir)
    ref = sess(PERSON, np.asarray(Image.open(io.BytesIO(G_JPG)).convert("RGB")))
    assert np.array_equal(np.asarray(out), ref)
    # latency headers
    total, model = float(r.headers["x-latency-ms"]), float(r.headers["x-inference-ms"])
    assert 0 < model <= total and float(r.headers["x-queue-ms"]) >= 0
    assert r.headers["x-tryon-model"] == "tiny" and r.headers["x-image-size"] == "60x80"
    assert re.search(r"infer;dur=[0-9.]+", r.headers["server-timing"])
    # JPEG output on request
    j = client.post(INFER, files=files(P_PNG, G_JPG), data={"format": "jpeg"})
    assert j.status_code == 200 and j.headers["content-type"] == "image/jpeg"
    jimg = Image.open(io.BytesIO(j.content))
    assert jimg.format == "JPEG" and jimg.size == (60, 80)
    assert np.abs(np.asarray(jimg).astype(int) - ref.astype(int)).mean() < 6


def test_bad_images_give_400_with_the_input_error(client):
    r = client.post(INFER, files=files(P_PNG[: len(P_PNG) // 2], G_JPG))  # truncated PNG
    assert r.status_code == 400
    detail = r.json()["detail"]
    assert detail.startswith("person: expected a complete") and "truncated" in detail and "\n" not in detail
    r = client.post(INFER, files=files(P_PNG, b"this is not an image"))
    assert r.status_code == 400 and r.json()["detail"].startswith("garment: expected a PNG/JPEG")
    r = client.post(INFER, files=files(P_PNG, b""))  # an empty file field
    assert r.status_code == 400 and "0 bytes" in r.json()["detail"]
    big = encode(np.full((300, 400, 3), 128, np.uint8))  # 120000 px > max_pixels, a small upload
    assert len(big) < UPLOAD_LIMIT
    r = client.post(INFER, files=files(big, G_JPG))
    assert r.status_code == 400 and f"at most {PIXEL_LIMIT} pixels" in r.json()["detail"]
    buf = io.BytesIO()  # 32-bit float grey with values over 255: a mode tryon.io refuses to convert
    Image.fromarray(np.full((20, 20), 1000.0, np.float32), mode="F").save(buf, format="TIFF")
    r = client.post(INFER, files=files(buf.getvalue(), G_JPG))
    assert r.status_code == 400 and r.json()["detail"].startswith("person: expected grey values in 0..255")


def test_missing_or_wrong_fields_give_422(client):
    r = client.post(INFER, files=files(person=P_PNG))
    assert r.status_code == 422
    body = r.json()
    assert body["missing"] == ["garment"] and body["expected_fields"] == ["person", "garment"]
    assert "garment" in body["detail"] and "person, garment" in body["detail"]
    r = client.post(INFER, files=files(person=P_PNG), data={"garment": "shirt.jpg"})
    assert r.status_code == 422 and r.json()["detail"] == "field garment: expected a file upload, got a text value"
    r = client.post(INFER, files=files(P_PNG, G_JPG), data={"format": "gif"})
    assert r.status_code == 422 and r.json()["detail"] == "format: expected png or jpeg, got 'gif'"
    r = client.post(INFER, files=files(P_PNG, G_JPG), data={"size": "huge"})
    assert r.status_code == 422 and r.json()["detail"] == "size: expected input or model, got 'huge'"
    r = client.post(INFER, json={"person": "p.png"})
    assert r.status_code == 415 and "multipart/form-data" in r.json()["detail"]


def test_unknown_fields_give_422_naming_them(client):
    r = client.post(INFER, files={**files(P_PNG, G_JPG), "mask": ("m.png", P_PNG, "image/png")},
                    data={"quality": "95"})
    assert r.status_code == 422
    body = r.json()
    assert body["unknown"] == ["mask", "quality"] and body["detail"].startswith("unknown field(s) mask, quality:")


def test_protocol_level_errors_are_json(client):
    for r in (client.get("/no/such/path"), client.delete("/healthz"), client.get("/v1/models/nope")):
        assert r.status_code in (404, 405) and r.headers["content-type"] == "application/json", r.text
        assert isinstance(r.json()["detail"], str) and "\n" not in r.json()["detail"]
        assert re.fullmatch(r"[0-9a-f]{32}", r.headers["x-request-id"])
    r = client.get("/healthz", headers={"X-Request-Id": "shop-42"})
    assert r.headers["x-request-id"] == "shop-42"  # a sane client id is kept for log correlation


def test_oversized_upload_gives_413(client):
    noise = encode(np.random.default_rng(0).integers(0, 256, (160, 160, 3), dtype=np.uint8))
    assert len(noise) > UPLOAD_LIMIT
    r = client.post(INFER, files=files(noise, G_JPG))  # Content-Length says it
    assert r.status_code == 413 and f"at most {UPLOAD_LIMIT} bytes" in r.json()["detail"]
    assert "Content-Length" in r.json()["detail"]

    def chunks():  # chunked transfer, no Content-Length: caught while reading
        for _ in range(8):
            yield b"x" * 16384

    r = client.post(INFER, content=chunks(), headers={"content-type": "multipart/form-data; boundary=zzz"})
    assert r.status_code == 413 and "read so far" in r.json()["detail"]


def test_unknown_model_404(client):
    r = client.post("/v1/models/nope/infer", files=files(P_PNG, G_JPG))
    assert r.status_code == 404 and r.json()["detail"] == "unknown model 'nope': this server has tiny"


def test_metrics_counters_increase(client):
    before = scrape(client)
    assert client.post(INFER, files=files(P_PNG, G_JPG)).status_code == 200
    assert client.post(INFER, files=files(b"junk", G_JPG)).status_code == 400
    assert client.post("/v1/models/nope/infer", files=files(P_PNG, G_JPG)).status_code == 404
    after = scrape(client)

    def delta(key):
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert delta('tryon_serve_infer_requests_total{model="tiny",status="200"}') == 1
    assert delta('tryon_serve_infer_requests_total{model="tiny",status="400"}') == 1
    assert delta('tryon_serve_infer_requests_total{model="_unknown",status="404"}') == 1
    assert delta('tryon_serve_requests_total{route="/v1/models/{name}/infer",status="200"}') == 1
    assert delta('tryon_serve_requests_total{route="/metrics",status="200"}') == 1  # the first scrape
    assert delta('tryon_serve_inference_seconds_count{model="tiny"}') == 1
    assert 0 < delta('tryon_serve_inference_seconds_sum{model="tiny"}') < 10
    assert delta('tryon_serve_request_seconds_count{model="tiny"}') == 1
    assert after["tryon_serve_requests_in_flight"] == 1  # this scrape
    assert after["tryon_serve_inferences_running"] == 0 and after["tryon_serve_inferences_waiting"] == 0
    assert after["tryon_serve_max_concurrency"] == 2 and after["tryon_serve_buffered_bytes"] == 0
    # histograms with buckets that fit image latencies: the +Inf bucket equals the count, p95 is readable
    text = client.get("/metrics").text
    buckets = parse_buckets(text, "tryon_serve_request_seconds", model="tiny")
    assert [le for le, _ in buckets][:3] == [0.005, 0.01, 0.025] and buckets[-1][0] == float("inf")
    assert buckets[-1][1] == after['tryon_serve_request_seconds_count{model="tiny"}']
    # a finite p95 inside the bucket range: 60 s is the largest finite bucket (LATENCY_BUCKETS); measured 0.046 s
    assert 0 < histogram_quantile(0.95, buckets) <= 60


def test_histogram_quantile_matches_prometheus():
    # the example of Prometheus' histogram_quantile docs: linear interpolation inside the bucket
    b = [(0.1, 10.0), (0.5, 30.0), (1.0, 40.0), (float("inf"), 40.0)]
    assert histogram_quantile(0.5, b) == pytest.approx(0.1 + 0.4 * (20 - 10) / 20)
    assert histogram_quantile(0.25, b) == pytest.approx(0.1)
    assert histogram_quantile(0.95, [(1.0, 0.0), (float("inf"), 5.0)]) == 1.0  # all above the top bound
    assert np.isnan(histogram_quantile(0.5, [(1.0, 0.0), (float("inf"), 0.0)]))


async def _burst(app, n):
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        return await asyncio.gather(*(c.post(INFER, files=files(P_PNG, G_JPG)) for _ in range(n)))


def test_concurrency_limit_and_bounded_wait(export_dir):
    app = create_app({"tiny": export_dir}, max_concurrency=2, queue_timeout_s=20, warmup=False)
    state = S.slow_model(app, 0.25)
    rs = asyncio.run(_burst(app, 5))
    assert [r.status_code for r in rs] == [200] * 5 and state["max"] == 2  # 5 requests, never more than 2 runs

    app = create_app({"tiny": export_dir}, max_concurrency=1, queue_timeout_s=0.2, warmup=False)
    S.slow_model(app, 1.0)
    rs = asyncio.run(_burst(app, 2))
    assert sorted(r.status_code for r in rs) == [200, 503]
    busy = next(r for r in rs if r.status_code == 503)
    assert busy.headers["retry-after"] == "1" and busy.json()["detail"].startswith("server busy")
    m = app.state.tryon.metrics
    assert m.value("tryon_serve_inferences_running") == 0 and m.value("tryon_serve_inferences_waiting") == 0
    assert m.value("tryon_serve_infer_requests_total", model="tiny", status="503") == 1
    assert m.value("tryon_serve_rejected_total", reason="busy") == 1


def test_model_names_and_cli(export_dir, tmp_path, capsys):
    assert parse_model_specs([str(export_dir), f"v2={export_dir}"]) == {"tiny": str(export_dir), "v2": str(export_dir)}
    with pytest.raises(TryonError, match="used twice"):
        parse_model_specs([str(export_dir), f"tiny={export_dir}"])
    with pytest.raises(TryonError, match="model name 'a b'"):
        create_app({"a b": export_dir}, warmup=False)
    app = build_app()
    assert "serve" in app.commands
    args = app.build_parser().parse_args(["serve", "--model", str(export_dir), "--model", f"b={export_dir}", "--port",
                                          "9001", "--threads", "1", "--max-upload-mb", "5", "--max-concurrency", "3"])
    assert (args.model, args.port, args.threads, args.max_upload_mb, args.max_concurrency, args.host) == (
        [str(export_dir), f"b={export_dir}"], 9001, 1, 5.0, 3, "127.0.0.1")
    from tryon.serve.cli import limits_from_args

    args = app.build_parser().parse_args(["serve", "--model", "m", "--body-timeout", "2", "--header-timeout", "1.5",
                                          "--max-connections", "7", "--max-waiting", "3", "--max-buffered-mb", "40",
                                          "--shutdown-timeout", "4", "--max-pixels", "5000", "--rate-limit", "120/min"])
    lim = limits_from_args(args)
    assert (lim.body_timeout_s, lim.header_timeout_s, lim.max_connections, lim.max_waiting, lim.shutdown_timeout_s,
            lim.max_pixels, lim.buffered_bytes) == (2.0, 1.5, 7, 3, 4.0, 5000, 40 * 2**20)
    assert args.rate_limit == 2.0 and args.insecure is False and args.api_key_file is None
    assert main(["serve", "--model", str(tmp_path / "missing")]) == 1  # fails before listening
    assert "no such folder" in capsys.readouterr().err


def test_cli_without_fastapi_and_serving_without_torch(export_dir, tmp_path):
    env = {**os.environ, "TRYON_DISABLE_PLUGIN_AUTOLOAD": "1"}
    no_fastapi = textwrap.dedent("""
        import sys
        sys.modules["fastapi"] = None  # as if the serve extra were not installed
        from tryon.cli import build_app, main
        app = build_app()
        app.build_parser()
        assert "serve" in app.commands
        assert "torch" not in sys.modules
        sys.exit(main(["serve", "--model", "exports/x"]))
    """)
    r = subprocess.run([sys.executable, "-c", no_fastapi], capture_output=True, text=True, timeout=60, env=env)
    assert r.returncode == 1 and "pip install 'tryon[serve]'" in r.stderr, r.stderr[-2000:]
    no_torch = textwrap.dedent(f"""
        import sys
        from fastapi.testclient import TestClient
        from tryon.serve import create_app
        client = TestClient(create_app({{"tiny": {str(export_dir)!r}}}))
        image = open({str(tmp_path / 'p.png')!r}, "rb").read()
        r = client.post("/v1/models/tiny/infer", files={{"person": image, "garment": image}})
        assert r.status_code == 200, r.text
        assert "torch" not in sys.modules, "serving imported torch"
        print("ok")
    """)
    (tmp_path / "p.png").write_bytes(P_PNG)
    r = subprocess.run([sys.executable, "-c", no_torch], capture_output=True, text=True, timeout=60, env=env)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr[-2000:]
