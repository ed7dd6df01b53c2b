"""The KServe model (issue 28 §3): ``tryon.serve.kserve.TryonModel`` under KServe's own REST server — its
``ModelServer``'s data plane, FastAPI app, v2 endpoints and error handlers, started on a loopback socket (KServe's
``RESTServer`` binds 0.0.0.0 by itself; handing it a bound socket keeps the test on 127.0.0.1) — driven by
``tritonclient.http``, with outputs equal to :class:`tryon.runtime.TryOnSession`.

KServe 0.21's REST parser turns every binary ``BYTES`` input into UTF-8 text before the model sees it
(``InferRequest.from_bytes`` → ``set_data_from_numpy(binary_data=False)``), so raw PNG/JPEG bytes are refused there
(a 500 naming UTF-8); under KServe a ``BYTES`` element is the base64 text of the image — binary-framed or in JSON —
and the model decodes it (``UINT8`` pixel tensors work as they are). Outputs go back as raw PNG bytes.

Skipped without the ``kserve`` extra (it pins protobuf < 7 and pandas < 3, so it lives in its own environment; see
exports/README.md).
"""

from __future__ import annotations

import pytest

pytest.importorskip("kserve")
pytest.importorskip("tritonclient.http")

import base64
import io
import json
import socket
import threading
import time

import httpx
import numpy as np
import tritonclient.http as httpclient
from PIL import Image
from tritonclient.utils import InferenceServerException

from tryon.runtime import TryOnSession
from tryon.serve.limits import ServeLimits

import serve_support as S  # noqa: E402 - tests/ is on sys.path (tests/conftest.py)


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory):
    return S.tiny_export(tmp_path_factory)


@pytest.fixture(scope="module")
def kserve_port(export_dir):
    from kserve import ModelServer
    from kserve.constants.constants import FASTAPI_APP_IMPORT_STRING
    from kserve.protocol.rest.server import RESTServer

    from tryon.serve.kserve import TryonModel

    model = TryonModel("tiny", export_dir, limits=ServeLimits(max_batch=2, max_pixels=40_000), warmup=False)
    assert model.load() and model.ready
    ms = ModelServer(enable_grpc=False)
    ms.register_model(model)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    rest = RESTServer(FASTAPI_APP_IMPORT_STRING, ms.dataplane, ms.model_repository_extension, port)
    thread = threading.Thread(target=rest.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not rest._server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "KServe's server did not start"
        time.sleep(0.05)
    yield port
    rest._server.should_exit = True
    thread.join(timeout=15)
    sock.close()


def bytes_input(name: str, blobs: list[bytes], b64: bool = True):
    """Encoded images as BYTES, binary-framed; each element the base64 text of the image (``b64``, what KServe's
    parser lets through) or the raw bytes."""
    t = httpclient.InferInput(name, [len(blobs)], "BYTES")
    t.set_data_from_numpy(np.array([base64.b64encode(b) if b64 else b for b in blobs], dtype=np.object_),
                          binary_data=True)
    return t


def test_tritonclient_against_kserve(kserve_port, export_dir):
    c = httpclient.InferenceServerClient(f"127.0.0.1:{kserve_port}", network_timeout=30.0)
    assert c.is_server_live() and c.is_server_ready() and c.is_model_ready("tiny")
    md = c.get_model_metadata("tiny")
    assert [i["name"] for i in md["inputs"]] == ["person", "garment"]
    assert all(i["datatype"] == "BYTES" and i["shape"] == [-1] for i in md["inputs"])
    assert md["outputs"] == [{"name": "image", "datatype": "BYTES", "shape": [-1]}]
    sess = TryOnSession(export_dir)
    garment = np.asarray(Image.open(io.BytesIO(S.G_JPG)).convert("RGB"))
    person2 = S.tiny.smooth_image(80, 60, 3)
    r = c.infer("tiny", [bytes_input("person", [S.P_PNG, S.encode(person2)]), bytes_input("garment", [S.G_JPG] * 2)],
                outputs=[httpclient.InferRequestedOutput("image", binary_data=True)])
    out = [np.asarray(Image.open(io.BytesIO(b))) for b in r.as_numpy("image")]
    ref = sess([S.PERSON, person2], [garment, garment])
    assert all(np.array_equal(a, b) for a, b in zip(out, ref))  # PNG is lossless: exact
    u8 = c.infer("tiny", [bytes_input("person", [S.P_PNG]), bytes_input("garment", [S.G_JPG])],
                 parameters={"output_datatype": "UINT8"}).as_numpy("image")
    assert u8.shape == (1, 80, 60, 3) and np.array_equal(u8[0], ref[0])

    def refused(inputs, **kw) -> str:
        with pytest.raises(InferenceServerException) as info:
            c.infer("tiny", inputs, **kw)
        assert info.value.status() == "400", info.value.message()
        return info.value.message()

    g = bytes_input("garment", [S.G_JPG])
    wrong = httpclient.InferInput("person", [1, 8], "INT64")
    wrong.set_data_from_numpy(np.zeros((1, 8), np.int64))
    assert refused([wrong, g]).startswith("input 'person': datatype INT64: expected BYTES")
    two_d = httpclient.InferInput("person", [1, 1], "BYTES")
    two_d.set_data_from_numpy(np.array([[base64.b64encode(S.P_PNG)]], dtype=np.object_))
    assert refused([two_d, g]).startswith("input 'person': shape [1, 1]: expected [batch]")
    big = S.encode(S.tiny.smooth_image(300, 200, 5))
    assert "at most 40000 pixels" in refused([bytes_input("person", [big]), g])
    assert refused([bytes_input("person", [S.P_PNG] * 3), bytes_input("garment", [S.G_JPG] * 3)]).startswith(
        "batch: expected 1 to 2 images per input")
    # raw (non-UTF-8) image bytes: refused by KServe's own parser, before the model (see the module doc)
    try:
        raw = c.infer("tiny", [bytes_input("person", [S.P_PNG], b64=False), bytes_input("garment", [S.G_JPG], b64=False)])
    except InferenceServerException as exc:
        assert "UTF-8" in exc.message(), exc.message()
    else:  # a KServe that passes raw bytes through: then they must give the same image
        assert np.array_equal(np.asarray(Image.open(io.BytesIO(raw.as_numpy("image")[0]))), ref[0])
    c.close()
    # a malformed Inference-Header-Content-Length: KServe's own parser answers, with the protocol's error body
    head = json.dumps({"inputs": [{"name": "person", "shape": [1], "datatype": "BYTES",
                                   "parameters": {"binary_data_size": 4}}]}).encode()
    r = httpx.post(f"http://127.0.0.1:{kserve_port}/v2/models/tiny/infer", content=head + b"\0" * 4,
                   headers={"Inference-Header-Content-Length": "abc"})
    assert 400 <= r.status_code < 600 and "error" in r.json(), r.text
