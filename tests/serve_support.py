"""Shared helpers of the tests/test_serve*.py files (not collected: no test_ prefix).

A tiny try-on export (the "tiny-tryon" task of test_export.py, 64×48, fp32 + int8) built once per test
session, image helpers, a uvicorn server on 127.0.0.1 in a thread (free port, short limits) and raw-socket
HTTP helpers for slow and abandoning clients. Loopback only.
"""

from __future__ import annotations

import contextlib
import io
import socket
import threading
import time
from pathlib import Path

from PIL import Image

INFER = "/v1/models/tiny/infer"


import tiny_tasks as tiny  # noqa: E402 - tests/ is on sys.path (conftest.py)
PERSON = tiny.smooth_image(80, 60, 1)  # 80 high, 60 wide: not the model's 64×48
GARMENT = tiny.smooth_image(70, 52, 2)


def encode(arr, fmt="PNG", **kw) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format=fmt, **kw)
    return buf.getvalue()


P_PNG, G_JPG = encode(PERSON), encode(GARMENT, "JPEG", quality=95)


def files(person=None, garment=None):
    out = {}
    if person is not None:
        out["person"] = ("person.png", person, "image/png")
    if garment is not None:
        out["garment"] = ("garment.jpg", garment, "image/jpeg")
    return out


def tiny_export(tmp_path_factory) -> Path:
    """The tiny export folder, built once per session (reused by every serve test module)."""
    import tryon
    import tryon.export
    import tryon.plugins

    out = tmp_path_factory.getbasetemp() / "serve-export" / "tiny"
    if (out / "manifest.json").is_file() and (out / "model_int8.onnx").is_file():
        return out
    tiny.register_tiny_tasks()
    try:
        pipe = tryon.load("tiny-tryon", device="cpu")
        tryon.export.export_onnx(pipe, None, out, parity_batches=(1,))
        tryon.export.quantize_int8(out, [{"person": PERSON, "garment": GARMENT}], parity_batches=(1,))
    finally:
        tryon.plugins.reset_manager()
    return out


def slow_model(app, seconds: float, name: str = "tiny") -> dict:
    """Make the model run ``seconds`` longer; records runs and the most overlapping runs."""
    model = app.state.tryon.models[name]
    real, lock, state = model.infer, threading.Lock(), {"now": 0, "max": 0, "runs": 0}

    def infer(arrays, plan):
        with lock:
            state["now"] += 1
            state["runs"] += 1
            state["max"] = max(state["max"], state["now"])
        time.sleep(seconds)
        with lock:
            state["now"] -= 1
        return real(arrays, plan)

    model.infer = infer
    return state


# ------------------------------------------------------------------------------------------------
# a real server on loopback
# ------------------------------------------------------------------------------------------------
@contextlib.contextmanager
def running_server(app, **server_kwargs):
    """``make_server(app)`` on 127.0.0.1 at a free port in a daemon thread; yields ``(server, port)``."""
    from tryon.serve import make_server

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = make_server(app, host="127.0.0.1", port=port, log_level="warning", **server_kwargs)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    server.test_thread = thread  # tests of the shutdown join it
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    try:
        yield server, port
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()


def multipart(parts: dict[str, bytes | str], boundary: str = "tryonboundary") -> tuple[bytes, str]:
    """A multipart/form-data body: bytes values are files, str values text fields."""
    out = []
    for name, value in parts.items():
        if isinstance(value, bytes):
            head = f'Content-Disposition: form-data; name="{name}"; filename="{name}.png"\r\nContent-Type: image/png'
            data = value
        else:
            head, data = f'Content-Disposition: form-data; name="{name}"', value.encode()
        out.append(f"--{boundary}\r\n{head}\r\n\r\n".encode() + data + b"\r\n")
    out.append(f"--{boundary}--\r\n".encode())
    return b"".join(out), f"multipart/form-data; boundary={boundary}"


def request_bytes(path: str, body: bytes, ctype: str, extra: str = "") -> bytes:
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
            f"{extra}\r\n")
    return head.encode() + body


def connect(port: int, timeout: float = 5.0) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.settimeout(timeout)
    return s


def read_response(s: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """Read one HTTP/1.1 response (Content-Length framed) → (status, headers, body); (0, {}, b"") if closed."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            return 0, {}, data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
    n = int(headers.get("content-length", "0"))
    while len(body) < n:
        chunk = s.recv(65536)
        if not chunk:
            break
        body += chunk
    return status, headers, body


def closed_within(s: socket.socket, seconds: float) -> bool:
    """True when the peer closes ``s`` within ``seconds`` (whatever it sent first)."""
    s.settimeout(seconds)
    end = time.monotonic() + seconds
    try:
        while time.monotonic() < end:
            if not s.recv(65536):
                return True
    except (socket.timeout, TimeoutError):
        return False
    except OSError:  # reset counts as closed
        return True
    return False
