"""tryon.serve speaks the Open Inference Protocol v2 (issue 28): tested with a client nobody here wrote,
``tritonclient.http`` (NVIDIA's), against ``tryon serve`` on loopback (uvicorn in a thread, tests/serve_support.py).

The model is the tiny try-on export of the serve tests (inputs ``person`` / ``garment``, 64×48, built once per
session); its outputs are compared with :class:`tryon.runtime.TryOnSession` on the same inputs — exactly, since PNG
is lossless and the server runs the same session code. Then the bad-request matrix (malformed
``Inference-Header-Content-Length``, an oversized BYTES element, a wrong datatype, a wrong shape, …): each a 4xx
whose body is the protocol's ``{"error": "..."}`` (tritonclient reads that key; without it its message would say it
could not decode the response). The wire format itself (:mod:`tryon.serve.oip`) is tested without a server at
the end.
"""

from __future__ import annotations

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
pytest.importorskip("prometheus_client")
pytest.importorskip("tritonclient.http")

import base64
import io
import json
import os
import subprocess
import sys
import textwrap
import threading
import time

import httpx
import numpy as np
import tritonclient.http as httpclient
from PIL import Image
from tritonclient.utils import InferenceServerException

from tryon.runtime import TryOnSession
from tryon.serve import create_app
from tryon.serve.oip import OIPError, encode_response, join_bytes, parse_request, split_bytes, Tensor

import serve_support as S  # noqa: E402 - tests/ is on sys.path (tests/conftest.py)

KEY = "k" * 24
PERSON2 = S.tiny.smooth_image(80, 60, 3)  # the same size as S.PERSON: a batch can be one UINT8 tensor
GARMENT2 = S.tiny.smooth_image(66, 50, 4)


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory):
    return S.tiny_export(tmp_path_factory)


@pytest.fixture(scope="module")
def served(export_dir):
    """One server for the module: small limits so the bad-request matrix reaches them."""
    app = create_app({"tiny": export_dir}, warmup=False, max_batch=3, max_pixels=40_000,
                     max_upload_bytes=256 * 1024, api_keys=[KEY])
    with S.running_server(app) as (_, port):
        yield app, port


@pytest.fixture(scope="module")
def client(served):
    c = httpclient.InferenceServerClient(f"127.0.0.1:{served[1]}", network_timeout=30.0)
    yield c
    c.close()


def auth() -> dict[str, str]:
    """A fresh dict each call: tritonclient writes Inference-Header-Content-Length into the dict it is given."""
    return {"Authorization": f"Bearer {KEY}"}


@pytest.fixture(scope="module")
def session(export_dir):
    return TryOnSession(export_dir)


def jpg_pixels(blob: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(blob)).convert("RGB"))


def bytes_input(name: str, blobs: list[bytes], binary: bool = True):
    t = httpclient.InferInput(name, [len(blobs)], "BYTES")
    t.set_data_from_numpy(np.array(blobs, dtype=np.object_), binary_data=binary)
    return t


def array_input(name: str, arr: np.ndarray, datatype: str, binary: bool = True):
    t = httpclient.InferInput(name, list(arr.shape), datatype)
    t.set_data_from_numpy(arr, binary_data=binary)
    return t


def png_outputs(result, name: str = "image") -> list[np.ndarray]:
    out = result.as_numpy(name)
    return [np.asarray(Image.open(io.BytesIO(b))) for b in out.ravel()]


def refused(call, status: str) -> str:
    """Run ``call``; it must raise tritonclient's exception with ``status``, whose message came from the
    protocol's ``{"error": ...}`` body. Returns the message."""
    with pytest.raises(InferenceServerException) as info:
        call()
    exc = info.value
    assert exc.status() == status, (exc.status(), exc.message())
    assert not exc.message().startswith("an exception occurred in the client"), exc.message()  # no "error" key
    return exc.message()


# ------------------------------------------------------------------------------------------------
# list, describe, ready
# ------------------------------------------------------------------------------------------------
def test_tritonclient_lists_describes_and_checks_readiness(client, served, export_dir):
    assert client.is_server_live() and client.is_server_ready()  # health paths: no key needed
    meta = client.get_server_metadata(headers=auth())
    assert meta["name"] == "tryon" and "binary_tensor_data" in meta["extensions"]
    assert [m["name"] for m in client.get_model_repository_index(headers=auth())] == ["tiny"]
    assert client.is_model_ready("tiny", headers=auth())
    assert not client.is_model_ready("nope", headers=auth())
    md = client.get_model_metadata("tiny", headers=auth())
    manifest = json.loads((export_dir / "manifest.json").read_text())
    assert [i["name"] for i in md["inputs"]] == [i["name"] for i in manifest["inputs"]] == ["person", "garment"]
    assert all(i["datatype"] == "BYTES" and i["shape"] == [-1] for i in md["inputs"])  # -1: any batch
    assert md["outputs"] == [{"name": manifest["outputs"][0]["name"], "datatype": "BYTES", "shape": [-1]}]
    assert md["versions"] == ["1"] and md["platform"] == "onnxruntime_onnx"
    assert md["parameters"]["max_batch"] == 3 and md["parameters"]["max_pixels"] == 40_000
    assert client.get_model_metadata("tiny", model_version="1", headers=auth())["name"] == "tiny"
    r = httpx.get(f"http://127.0.0.1:{served[1]}/v2/models", headers=auth())
    assert r.json() == {"models": ["tiny"]}
    # keys apply to the v2 routes too, with the protocol's error body
    assert refused(lambda: client.get_model_metadata("tiny"), "401").startswith("missing API key")


# ------------------------------------------------------------------------------------------------
# inference: binary images in, PNG out, equal to the runtime session
# ------------------------------------------------------------------------------------------------
def test_infer_binary_bytes_equals_tryonsession(client, session):
    out = httpclient.InferRequestedOutput("image", binary_data=True)
    result = client.infer("tiny", [bytes_input("person", [S.P_PNG]), bytes_input("garment", [S.G_JPG])],
                          outputs=[out], headers=auth(), request_id="r-1")
    assert result.get_response()["id"] == "r-1" and result.get_response()["model_name"] == "tiny"
    assert result.get_output("image")["datatype"] == "BYTES" and result.get_output("image")["shape"] == [1]
    (img,) = png_outputs(result)
    ref = session(S.PERSON, jpg_pixels(S.G_JPG))  # the same bytes decoded; the output has the person's size
    assert img.shape == (80, 60, 3) and np.array_equal(img, ref)  # PNG is lossless: exact


def test_batch_of_two_and_tensor_outputs(client, session):
    persons, garments = [S.P_PNG, S.encode(PERSON2)], [S.G_JPG, S.encode(GARMENT2)]
    ref = session([S.PERSON, PERSON2], [jpg_pixels(S.G_JPG), GARMENT2])  # one batch-2 run, as the server does
    result = client.infer("tiny", [bytes_input("person", persons), bytes_input("garment", garments)], headers=auth())
    imgs = png_outputs(result)
    assert len(imgs) == 2 and all(np.array_equal(a, b) for a, b in zip(imgs, ref))
    # pixels out: UINT8 [2, H, W, 3] (binary) and FP32 = the same pixels / 255 (JSON)
    u8 = client.infer("tiny", [bytes_input("person", persons), bytes_input("garment", garments)], headers=auth(),
                      parameters={"output_datatype": "UINT8"}).as_numpy("image")
    assert u8.dtype == np.uint8 and u8.shape == (2, 80, 60, 3) and np.array_equal(u8, np.stack(ref))
    f32 = client.infer("tiny", [bytes_input("person", persons), bytes_input("garment", garments)], headers=auth(),
                       parameters={"output_datatype": "FP32"},
                       outputs=[httpclient.InferRequestedOutput("image", binary_data=False)]).as_numpy("image")
    assert f32.dtype == np.float32 and np.array_equal(f32, np.stack(ref).astype(np.float32) / np.float32(255))


def test_pixel_tensors_in_uint8_and_fp32(client, session):
    persons = np.stack([S.PERSON, PERSON2])
    garments = np.stack([S.PERSON[::-1].copy(), PERSON2[:, ::-1].copy()])
    ref = session(list(persons), list(garments))
    for binary in (True, False):  # the binary extension and JSON tensors
        r = client.infer("tiny", [array_input("person", persons, "UINT8", binary),
                                  array_input("garment", garments, "UINT8", binary)], headers=auth(),
                         parameters={"output_datatype": "UINT8"})
        assert np.array_equal(r.as_numpy("image"), np.stack(ref))
    # FP32 pixels in [0, 1] are rounded to 8 bits first, as a decoded image would be
    f = client.infer("tiny", [array_input("person", persons.astype(np.float32) / 255, "FP32"),
                              array_input("garment", garments.astype(np.float32) / 255, "FP32")], headers=auth(),
                     parameters={"output_datatype": "UINT8"})
    assert np.array_equal(f.as_numpy("image"), np.stack(ref))


def test_json_bytes_are_base64_and_jpeg_on_request(served, session):
    port = served[1]
    body = {"inputs": [{"name": n, "shape": [1], "datatype": "BYTES", "data": [base64.b64encode(b).decode()]}
                       for n, b in (("person", S.P_PNG), ("garment", S.G_JPG))],
            "parameters": {"format": "jpeg", "size": "model"}}
    r = httpx.post(f"http://127.0.0.1:{port}/v2/models/tiny/infer", json=body, headers=auth())
    assert r.status_code == 200 and r.headers["content-type"] == "application/json", r.text
    out = r.json()["outputs"][0]
    img = Image.open(io.BytesIO(base64.b64decode(out["data"][0])))
    assert img.format == "JPEG" and img.size == (48, 64)  # size=model: the letterbox box at 64×48
    assert float(r.headers["x-inference-ms"]) > 0 and "queue;dur=" in r.headers["server-timing"]


# ------------------------------------------------------------------------------------------------
# the bad-request matrix: clean 4xx, the protocol's error body
# ------------------------------------------------------------------------------------------------
def raw_post(port: int, body: bytes, headers: dict[str, str], model: str = "tiny") -> httpx.Response:
    return httpx.post(f"http://127.0.0.1:{port}/v2/models/{model}/infer", content=body, headers={**auth(), **headers})


def binary_request(blobs: dict[str, bytes]) -> tuple[bytes, int]:
    head = json.dumps({"inputs": [{"name": n, "shape": [1], "datatype": "BYTES",
                                   "parameters": {"binary_data_size": len(b) + 4}} for n, b in blobs.items()]}).encode()
    return head + b"".join(join_bytes([b]) for b in blobs.values()), len(head)


def test_malformed_inference_header_length(served):
    port = served[1]
    body, n = binary_request({"person": S.P_PNG, "garment": S.G_JPG})
    assert raw_post(port, body, {"Inference-Header-Content-Length": str(n)}).status_code == 200
    for value, text in (("abc", "expected the inference header's length in bytes (an integer), got 'abc'"),
                        ("-5", "expected the inference header's length in bytes (an integer), got '-5'"),
                        (str(len(body) + 1), f"expected an integer from 1 to the body's {len(body)} bytes"),
                        (str(n - 7), "inference request: expected JSON, got a malformed body"),
                        (str(n + 3), "inference request: expected JSON, got a malformed body")):
        r = raw_post(port, body, {"Inference-Header-Content-Length": value})
        assert r.status_code == 400 and r.headers["content-type"] == "application/json", (value, r.text)
        assert set(r.json()) == {"error"} and text in r.json()["error"], (value, r.json())
    r = raw_post(port, body, {})  # binary data without the header: not JSON
    assert r.status_code == 400 and "needs the Inference-Header-Content-Length header" in r.json()["error"]


def test_oversized_bytes_elements(client, served):
    port = served[1]
    big = S.encode(S.tiny.smooth_image(300, 200, 5))  # 60 000 pixels > the 40 000 limit
    msg = refused(lambda: client.infer("tiny", [bytes_input("person", [big]), bytes_input("garment", [S.G_JPG])],
                                       headers=auth()), "400")
    assert msg.startswith("person: expected an image whose decoder produces at most 40000 pixels"), msg
    # an element that declares more bytes than the tensor holds
    head = json.dumps({"inputs": [{"name": "person", "shape": [1], "datatype": "BYTES", "parameters": {
        "binary_data_size": 20}}, {"name": "garment", "shape": [1], "datatype": "BYTES", "parameters": {
            "binary_data_size": len(S.G_JPG) + 4}}]}).encode()
    body = head + (10_000).to_bytes(4, "little") + b"x" * 16 + join_bytes([S.G_JPG])
    r = raw_post(port, body, {"Inference-Header-Content-Length": str(len(head))})
    assert r.status_code == 400 and r.json() == {"error": "input 'person': BYTES element 0 declares 10000 bytes, 16 left"}
    # a body over --max-upload-mb: 413 before it is read
    huge = b"\0" * (256 * 1024 + 1)
    r = raw_post(port, huge, {"Inference-Header-Content-Length": "10"})
    assert r.status_code == 413 and r.json()["error"].startswith("request body: expected at most 262144 bytes")


def test_wrong_datatype_shape_batch_and_names(client):
    def infer(inputs, **kw):
        return lambda: client.infer("tiny", inputs, headers=auth(), **kw)

    g = bytes_input("garment", [S.G_JPG])
    msg = refused(infer([array_input("person", np.zeros((1, 8), np.int64), "INT64"), g]), "400")
    assert msg == "input 'person': datatype INT64: expected BYTES (encoded PNG/JPEG images), UINT8 or FP32 (pixels)"
    two_d = httpclient.InferInput("person", [1, 1], "BYTES")
    two_d.set_data_from_numpy(np.array([[S.P_PNG]], dtype=np.object_))
    msg = refused(infer([two_d, g]), "400")
    assert msg == "input 'person': shape [1, 1]: expected [batch] (one encoded image per element) for BYTES"
    msg = refused(infer([array_input("person", np.zeros((1, 8, 8, 4), np.uint8), "UINT8"), g]), "400")
    assert msg == "input 'person': shape [1, 8, 8, 4]: expected [batch, height, width, 3] (RGB pixels) for UINT8"
    msg = refused(infer([bytes_input("person", [S.P_PNG] * 4), bytes_input("garment", [S.G_JPG] * 4)]), "400")
    assert msg == "batch: expected 1 to 3 images per input (the server's --max-batch), got 4"
    msg = refused(infer([bytes_input("person", [S.P_PNG] * 2), g]), "400")
    assert msg == "batch: every input needs the same number of images, got person: 2, garment: 1"
    msg = refused(infer([bytes_input("person", [S.P_PNG])]), "400")
    assert msg == "inputs: expected person, garment (model 'tiny'), got missing garment"
    msg = refused(infer([bytes_input("person", [b"not an image"]), g]), "400")
    assert msg.startswith("person: expected "), msg
    msg = refused(infer([bytes_input("person", [S.P_PNG]), g], parameters={"output_datatype": "INT8"}), "400")
    assert msg == "output datatype 'INT8': expected BYTES, UINT8, FP32 (BYTES = encoded images)"
    msg = refused(infer([bytes_input("person", [S.P_PNG]), g], parameters={"stepz": 3}), "400")
    assert msg.startswith("parameters: unknown 'stepz'")
    msg = refused(infer([bytes_input("person", [S.P_PNG]), g],
                        outputs=[httpclient.InferRequestedOutput("warped")]), "400")
    assert msg == "output 'warped': model 'tiny' returns 'image'"
    # pixel tensors of different sizes cannot be one UINT8 output
    msg = refused(infer([bytes_input("person", [S.P_PNG, S.encode(S.GARMENT)]), bytes_input("garment", [S.G_JPG] * 2)],
                        parameters={"output_datatype": "UINT8"}), "400")
    assert msg.startswith("output datatype UINT8: the images of this batch give outputs of different sizes")
    assert refused(infer([g], model_version="2"), "404") == "model 'tiny' has version 1 only, got '2'"
    assert refused(lambda: client.infer("nope", [g], headers=auth()), "404").startswith("unknown model 'nope'")
    msg = refused(infer([bytes_input("person", [S.P_PNG]), g], request_compression_algorithm="gzip"), "415")
    assert msg.startswith("Content-Encoding 'gzip': compressed requests are not accepted")


def test_metrics_count_v2_requests(served, client):
    app = served[0]
    m = app.state.tryon.metrics
    before = {s: m.value("tryon_serve_infer_requests_total", model="tiny", status=s) for s in ("200", "400")}
    client.infer("tiny", [bytes_input("person", [S.P_PNG]), bytes_input("garment", [S.G_JPG])], headers=auth())
    refused(lambda: client.infer("tiny", [bytes_input("person", [S.P_PNG])], headers=auth()), "400")
    assert m.value("tryon_serve_infer_requests_total", model="tiny", status="200") == before["200"] + 1
    assert m.value("tryon_serve_infer_requests_total", model="tiny", status="400") == before["400"] + 1
    assert m.value("tryon_serve_requests_total", route="/v2/models/{name}/infer", status="200") >= 1


def test_the_slot_gate_and_rate_limit_apply(export_dir):
    """The v2 route runs in the same slot gate as /v1 (503 + Retry-After when the wait is full) and under the
    same per-key rate limit (429)."""
    app = create_app({"tiny": export_dir}, warmup=False, max_concurrency=1, max_waiting=1, queue_timeout_s=10)
    model = app.state.tryon.models["tiny"]
    real, release = model.infer_batch, threading.Event()

    def slow(*args, **kwargs):
        release.wait(10)
        return real(*args, **kwargs)

    model.infer_batch = slow
    with S.running_server(app) as (_, port):
        c = httpclient.InferenceServerClient(f"127.0.0.1:{port}", concurrency=3, network_timeout=30.0)
        inputs = [bytes_input("person", [S.P_PNG]), bytes_input("garment", [S.G_JPG])]
        pending = [c.async_infer("tiny", inputs) for _ in range(2)]  # one runs, one waits
        deadline = time.monotonic() + 10
        while app.state.tryon.gate.waiting < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        msg = refused(lambda: c.infer("tiny", inputs), "503")
        assert msg == "server busy: 1 requests already wait for the 1 inference slots; retry later"
        release.set()
        assert all(len(png_outputs(p.get_result())) == 1 for p in pending)
        c.close()
    assert app.state.tryon.metrics.value("tryon_serve_rejected_total", reason="queue_full") == 1
    limited = create_app({"tiny": export_dir}, warmup=False, rate_limit=0.001, rate_burst=1)
    with S.running_server(limited) as (_, port):
        c = httpclient.InferenceServerClient(f"127.0.0.1:{port}")
        c.infer("tiny", [bytes_input("person", [S.P_PNG]), bytes_input("garment", [S.G_JPG])])
        assert refused(lambda: c.infer("tiny", [bytes_input("person", [S.P_PNG])]), "429").startswith("rate limit")
        c.close()


def test_the_v2_routes_never_import_torch(export_dir):
    export = export_dir
    code = textwrap.dedent(f"""
        import sys
        from fastapi.testclient import TestClient
        from tryon.serve import create_app
        import base64
        c = TestClient(create_app({{"tiny": {str(export)!r}}}, warmup=False))
        png = open({str(export / 'manifest.json')!r}, "rb").read()  # not an image: a 400 is enough here
        r = c.post("/v2/models/tiny/infer", json={{"inputs": [
            {{"name": n, "shape": [1], "datatype": "BYTES", "data": [base64.b64encode(png).decode()]}}
            for n in ("person", "garment")]}})
        assert r.status_code == 400 and "error" in r.json(), r.text
        assert c.get("/v2/models/tiny").status_code == 200
        assert "torch" not in sys.modules, "the v2 routes imported torch"
        print("ok")
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       env={**os.environ, "TRYON_DISABLE_PLUGIN_AUTOLOAD": "1"})
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr[-2000:]


# ------------------------------------------------------------------------------------------------
# the wire format without a server
# ------------------------------------------------------------------------------------------------
def test_parse_request_bounds_and_errors():
    good = {"inputs": [{"name": "x", "shape": [2, 2], "datatype": "FP32", "data": [[1, 2], [3, 4.5]]}]}
    req = parse_request(json.dumps(good).encode())
    assert req.inputs[0].data.dtype == np.float32 and req.inputs[0].data.tolist() == [[1, 2], [3, 4.5]]

    def refuse(doc, text, status=400, **kw):
        body = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
        with pytest.raises(OIPError) as info:
            parse_request(body, **kw)
        assert info.value.status == status and text in info.value.message, info.value.message

    refuse({"inputs": []}, "inputs: expected a non-empty list of tensors")
    refuse({"inputs": good["inputs"], "input": 1}, "unknown key(s) 'input'")
    refuse({"inputs": [{**good["inputs"][0], "data": [1, 2, 3]}]}, "expected 4 elements (the shape), got 3")
    refuse({"inputs": [{**good["inputs"][0], "data": [1, 2, 3, 4, 5]}]}, "expected 4 elements (the shape), got more")
    refuse({"inputs": [{**good["inputs"][0], "datatype": "FLOAT"}]}, "'FLOAT' is not an Open Inference Protocol")
    refuse({"inputs": [{**good["inputs"][0], "shape": [2, -1]}]}, "shape: expected a list of non-negative integers")
    refuse({"inputs": [{"name": "x", "shape": [1], "datatype": "UINT8", "data": [300]}]}, "out of the range of UINT8")
    refuse({"inputs": [{"name": "x", "shape": [1], "datatype": "UINT8", "data": [1.5]}]}, "expected UINT8 values")
    refuse({"inputs": [{"name": "x", "shape": [1], "datatype": "BYTES", "data": ["!!"]}]}, "expected base64")
    refuse({"inputs": good["inputs"] * 2}, "input 'x': given twice")
    refuse(b"x" * 100, "at most 64 bytes of JSON", 413, max_json_bytes=64)
    head = json.dumps({"inputs": [{"name": "x", "shape": [2], "datatype": "INT32",
                                   "parameters": {"binary_data_size": 8}}]}).encode()
    req = parse_request(head + np.array([7, -1], "<i4").tobytes(), str(len(head)))
    assert req.inputs[0].data.tolist() == [7, -1]
    refuse(head + b"\0" * 12, "add up to 8 bytes, the body has 12", header_len=str(len(head)))
    refuse(head + b"\0" * 4, "binary_data_size 8 is more than the 4 bytes left", header_len=str(len(head)))
    assert split_bytes(join_bytes([b"ab", b""]), 2) == [b"ab", b""]
    with pytest.raises(OIPError, match="expected 1 BYTES elements"):
        split_bytes(join_bytes([b"ab", b"c"]), 1)


def test_encode_request_round_trips_through_the_server_side_parser():
    """The client-side helpers (for load tests and scripts without tritonclient) speak what the server parses."""
    from tryon.serve.oip import RequestedOutput, encode_request, parse_response

    img = Tensor("person", "BYTES", (2,), [S.P_PNG, b""])
    px = Tensor("garment", "UINT8", (1, 2, 2, 3), np.arange(12, dtype=np.uint8).reshape(1, 2, 2, 3))
    for binary in (True, False):
        body, headers = encode_request([img, px], binary=binary, parameters={"format": "png"},
                                       outputs=[RequestedOutput("image", {"binary_data": True})])
        req = parse_request(body, headers.get("Inference-Header-Content-Length"))
        assert req.inputs[0].data == [S.P_PNG, b""] and np.array_equal(req.inputs[1].data, px.data)
        assert req.parameters == {"format": "png"} and req.outputs[0].parameters == {"binary_data": True}
    out = Tensor("image", "BYTES", (1,), [b"\x89PNG..."])
    for binary in (True, False):
        body, headers = encode_response("m", [(out, binary)], request_id="9")
        doc, tensors = parse_response(body, headers.get("Inference-Header-Content-Length"))
        assert doc["id"] == "9" and tensors["image"].data == [b"\x89PNG..."]


def test_encode_response_binary_and_json():
    a = np.arange(6, dtype=np.uint8).reshape(1, 2, 3)
    body, headers = encode_response("m", [(Tensor("o", "UINT8", a.shape, a), True)], request_id="7")
    n = int(headers["Inference-Header-Content-Length"])
    head = json.loads(body[:n])
    assert head["outputs"][0]["parameters"]["binary_data_size"] == 6 and body[n:] == a.tobytes() and head["id"] == "7"
    body, headers = encode_response("m", [(Tensor("o", "BYTES", (1,), [b"\x89PNG"]), False)])
    assert headers == {"Content-Type": "application/json"}
    assert json.loads(body)["outputs"][0]["data"] == [base64.b64encode(b"\x89PNG").decode()]
