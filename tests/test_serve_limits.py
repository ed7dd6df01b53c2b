"""tryon.serve: the cost of a request is bounded before it takes a slot (issue items 1, 2, 4, 5 in-process).

Each test names the defect of the service it guards against; all run through the ASGI app (httpx ASGI
transport / Starlette TestClient, no port). Real-socket behaviour (timeouts, connection cap, shutdown,
abandoned clients) is in test_serve_server.py.
"""

from __future__ import annotations

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("prometheus_client")

import asyncio
import io
import logging
import time

import httpx
import numpy as np
from fastapi.testclient import TestClient
from PIL import Image

from tryon.serve import create_app
from tryon.serve.limits import ConcurrencyGate, ServeLimits
from tryon.errors import TryonError


import serve_support as S  # noqa: E402 - tests/ is on sys.path (tests/conftest.py)
INFER = S.INFER
MODEL_PIXELS = 64 * 48


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory):
    return S.tiny_export(tmp_path_factory)


@pytest.fixture(scope="module")
def app(export_dir):
    return create_app({"tiny": export_dir}, warmup=False)  # default limits: sized to the 64×48 model


@pytest.fixture(scope="module")
def client(app):
    with TestClient(app) as c:
        yield c


def count_calls(app, method: str, name: str = "tiny") -> dict:
    """Wrap ``ServedModel.<method>`` to count calls and record the array shapes it was given/returned."""
    model = app.state.tryon.models[name]
    real, seen = getattr(model, method), {"calls": 0, "shapes": []}

    def wrapper(*args, **kwargs):
        seen["calls"] += 1
        out = real(*args, **kwargs)
        if isinstance(out, dict):
            seen["shapes"].append({k: v.shape for k, v in out.items()})
        return out

    setattr(model, method, wrapper)
    return seen


def bilevel_png(h: int, w: int) -> bytes:
    buf = io.BytesIO()
    Image.new("1", (w, h), 1).save(buf, format="PNG", optimize=True)
    return buf.getvalue()


# ------------------------------------------------------------------------------------------------
# 1. a tiny upload must not take the server
# ------------------------------------------------------------------------------------------------
def test_pixel_limit_is_sized_to_the_model_and_checked_before_decoding(app, client):
    model = app.state.tryon.models["tiny"]
    assert (model.max_pixels, model.max_output_pixels) == (64 * MODEL_PIXELS, 16 * MODEL_PIXELS)
    bomb = bilevel_png(6300, 6300)  # the 4.9 KB, 40-megapixel 1-bit PNG
    assert len(bomb) < 20_000
    decoded = count_calls(app, "decode")
    t0 = time.perf_counter()
    r = client.post(INFER, files=S.files(bomb, S.G_JPG))
    assert r.status_code == 400, r.text
    assert time.perf_counter() - t0 < 5  # refused from the header (a full decode + run took 8.8 s and 2.1 GB)
    detail = r.json()["detail"]
    assert detail.startswith("person: expected an image whose decoder produces at most 196608 pixels")
    assert "PNG 6300×6300" in detail and "JPEGs are decoded at up to 1/8 scale" in detail
    assert decoded["calls"] == 0  # never decoded, never took a slot
    assert app.state.tryon.metrics.value("tryon_serve_queue_wait_seconds_count", model="tiny") == 0


def test_large_jpeg_is_decoded_at_reduced_size_and_output_is_capped(app, client, export_dir):
    h, w = 2000, 1500  # 3 MP: over the 196608-pixel limit in full, but a JPEG decodes at 1/8 scale
    yy, xx = np.mgrid[0:h, 0:w]
    big = np.stack([(xx * 255 // w), (yy * 255 // h), ((xx + yy) % 256)], -1).astype(np.uint8)
    jpg = S.encode(big, "JPEG", quality=85)
    decoded = count_calls(app, "decode")
    r = client.post(INFER, files=S.files(jpg, S.G_JPG))
    assert r.status_code == 200, r.text
    # the person decoded at 1/8 (250×188) and the garment untouched (70×52: smaller than 2× the model)
    assert decoded["shapes"][-1] == {"person": (250, 188, 3), "garment": (70, 52, 3)}
    out = Image.open(io.BytesIO(r.content))
    assert out.size == (192, 256) and out.size[0] * out.size[1] <= 16 * MODEL_PIXELS  # size=input, capped
    r = client.post(INFER, files=S.files(jpg, S.G_JPG), data={"size": "model"})
    assert r.status_code == 200 and Image.open(io.BytesIO(r.content)).size == (48, 64)  # the model's own pixels
    assert r.headers["x-image-size"] == "48x64"


def test_reduced_decoding_stays_close_to_the_full_decode(export_dir):
    """Decoding a big PNG at reduced size (box reduce, then the model's antialiased letterbox) changes the
    model input by at most a few grey levels — the output of the reduced path is close to the full one."""
    from tryon.io import load_image
    from tryon.runtime import TryOnSession

    sess = TryOnSession(export_dir)
    big = np.asarray(Image.fromarray(S.PERSON).resize((600, 800), Image.BICUBIC))
    png = S.encode(big)
    full, reduced = load_image(png), load_image(png, min_size=(128, 96))
    assert full.shape == (800, 600, 3) and reduced.shape == (134, 100, 3)  # k = min(600 // 96, 800 // 128) = 6
    a = sess(full, S.GARMENT).astype(int)
    b = sess(reduced, S.GARMENT)
    b = np.asarray(Image.fromarray(b).resize((600, 800), Image.BILINEAR)).astype(int)
    assert np.abs(a - b).mean() < 4


# ------------------------------------------------------------------------------------------------
# 4. client input must not cause 500s; 500s must not leak
# ------------------------------------------------------------------------------------------------
def test_corrupt_ppm_header_is_a_400(client):
    for data in (b"P6\n3 3\n99999\n" + b"\0" * 60, b"P6\n3 3 \n", b"P5\nab cd\n255\n"):
        r = client.post(INFER, files=S.files(data, S.G_JPG))
        assert r.status_code == 400, r.text
        assert r.json()["detail"].startswith("person: expected a complete image, got corrupt or truncated data")


def test_unencodable_output_is_refused_before_inference(export_dir):
    wide = bilevel_png(2, 66_000)  # 132000 px: under the pixel limit, but wider than JPEG's 65500
    app = create_app({"tiny": export_dir}, warmup=False, max_output_pixels=200_000)
    runs = count_calls(app, "infer")
    with TestClient(app) as c:
        r = c.post(INFER, files=S.files(wide, S.G_JPG), data={"format": "jpeg"})
        assert r.status_code == 400, r.text
        assert r.json()["detail"] == ("person: expected an output of at most 65500 pixels per side for format=jpeg, "
                                      "got 66000×2 (ask for format=png or size=model)")
        assert runs["calls"] == 0
        r = c.post(INFER, files=S.files(wide, S.G_JPG), data={"format": "png"})
        assert r.status_code == 200 and Image.open(io.BytesIO(r.content)).size == (66000, 2)
    with TestClient(create_app({"tiny": export_dir}, warmup=False)) as c:  # default cap: 49152 px → encodable
        r = c.post(INFER, files=S.files(wide, S.G_JPG), data={"format": "jpeg"})
        assert r.status_code == 200 and max(Image.open(io.BytesIO(r.content)).size) <= 65500


def test_500_body_carries_only_the_request_id(export_dir, caplog):
    app = create_app({"tiny": export_dir}, warmup=False)
    model = app.state.tryon.models["tiny"]

    def broken(arrays, plan):
        raise RuntimeError("secret detail /srv/models/key.txt")

    model.infer = broken
    with TestClient(app) as c, caplog.at_level(logging.ERROR, logger="tryon.serve"):
        r = c.post(INFER, files=S.files(S.P_PNG, S.G_JPG))
    assert r.status_code == 500
    rid = r.headers["x-request-id"]
    assert r.json() == {"detail": f"internal error; the server log has the details under request id {rid}",
                        "request_id": rid}
    assert "RuntimeError" not in r.text and "secret" not in r.text
    assert any(rid in rec.getMessage() and rec.exc_info for rec in caplog.records)  # the traceback, by id
    assert app.state.tryon.gate.running == 0  # the slot was given back


# ------------------------------------------------------------------------------------------------
# 2. waiting requests and buffered bytes are capped
# ------------------------------------------------------------------------------------------------
async def _burst(app, n, gap=0.05, **kw):
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test", timeout=30) as c:
        async def one(i):
            await asyncio.sleep(i * gap)  # in order: the first takes the slot
            return await c.post(INFER, **kw)
        return await asyncio.gather(*(one(i) for i in range(n)))


def test_waiting_requests_are_capped(export_dir):
    app = create_app({"tiny": export_dir}, warmup=False, max_concurrency=1, max_waiting=1, queue_timeout_s=20)
    state = S.slow_model(app, 0.6)
    t0 = time.perf_counter()
    rs = asyncio.run(_burst(app, 4, files=S.files(S.P_PNG, S.G_JPG)))
    codes = [r.status_code for r in rs]
    assert codes == [200, 200, 503, 503] and state["runs"] == 2  # one ran, one waited, two refused at once
    assert rs[2].json()["detail"].startswith("server busy: 1 requests already wait")
    assert rs[2].headers["retry-after"] == "1"
    assert time.perf_counter() - t0 < 10
    m = app.state.tryon.metrics
    assert m.value("tryon_serve_rejected_total", reason="queue_full") == 2


def test_buffered_upload_bytes_are_capped_and_released(export_dir):
    noise = S.encode(np.random.default_rng(0).integers(0, 256, (130, 130, 3), dtype=np.uint8))  # ~51 KB
    limit = 64 * 1024
    app = create_app({"tiny": export_dir}, warmup=False, max_concurrency=1, max_upload_bytes=limit,
                     max_buffered_bytes=2 * limit, queue_timeout_s=20)
    S.slow_model(app, 0.6)
    rs = asyncio.run(_burst(app, 4, files=S.files(noise, S.G_JPG)))
    codes = [r.status_code for r in rs]
    assert codes.count(200) == 2 and codes.count(503) == 2, codes  # 2 × ~54 KB fit in 128 KiB, 3 do not
    refused = next(r for r in rs if r.status_code == 503)
    assert "uploads in progress hold" in refused.json()["detail"]
    m = app.state.tryon.metrics
    assert m.value("tryon_serve_rejected_total", reason="body_budget") == 2
    assert m.value("tryon_serve_buffered_bytes") == 0 and app.state.tryon.budget.used == 0


def test_limits_are_validated():
    with pytest.raises(TryonError, match="max_waiting: expected a positive number"):
        ServeLimits(max_waiting=0)
    with pytest.raises(TryonError, match="below max_upload_bytes"):
        ServeLimits(max_upload_bytes=100, max_buffered_bytes=50)
    with pytest.raises(TryonError, match="unknown option"):
        create_app({"tiny": "x"}, max_uploads=3)


# ------------------------------------------------------------------------------------------------
# 5. a client that left is not run; 3. draining
# ------------------------------------------------------------------------------------------------
def test_gate_skips_a_client_that_left():
    async def scenario():
        gate = ConcurrencyGate(1, timeout_s=5)
        assert await gate.acquire() == "ok"  # the slot is taken
        left = asyncio.Event()

        async def gone():
            await left.wait()

        waiter = asyncio.ensure_future(gate.acquire(gone))
        await asyncio.sleep(0.05)
        assert gate.waiting == 1
        left.set()
        assert await waiter == "gone" and gate.waiting == 0
        gate.release()
        assert await gate.acquire(gone) == "gone"  # already gone: not run even though a slot is free
        assert await gate.acquire() == "ok" and gate.running == 1

    asyncio.run(scenario())


def test_draining_app_is_not_ready_and_refuses_new_work(export_dir):
    app = create_app({"tiny": export_dir}, warmup=False)
    with TestClient(app) as c:
        app.state.tryon.draining = True
        for path in ("/readyz", "/v2/health/ready"):
            r = c.get(path)
            assert r.status_code == 503 and r.json() == {"detail": "shutting down", "ready": False}
        assert c.get("/livez").status_code == 200  # alive while draining: do not restart it
        r = c.post(INFER, files=S.files(S.P_PNG, S.G_JPG))
        assert r.status_code == 503 and r.json()["detail"].startswith("shutting down")
