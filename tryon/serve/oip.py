"""The Open Inference Protocol v2 (KServe / Triton "v2") on the wire: requests in, responses out — no web framework.

Shared by ``tryon serve``'s v2 routes (:mod:`.oip_routes`) and the KServe model (:mod:`.kserve`, which gets its
tensors from KServe's own parser and only uses :class:`Tensor` and the model binding of :mod:`.oip_models`).

A request is JSON (``kserve/open-inference-protocol: specification/protocol/inference_rest.md``)::

    {"id": "...", "parameters": {...},
     "inputs": [{"name": "person", "shape": [2], "datatype": "BYTES", "parameters": {"binary_data_size": 81234}}, ...],
     "outputs": [{"name": "image", "parameters": {"binary_data": true}}]}

optionally followed by raw tensor bytes: Triton's binary tensor data extension
(``triton-inference-server/server: docs/protocol/extension_binary_data.md``). The HTTP header
``Inference-Header-Content-Length`` gives the JSON's length; each input sent that way carries
``parameters.binary_data_size`` and no ``data``; the tensors follow the JSON back to back, in input order,
little-endian, C order; a ``BYTES`` tensor is its elements each preceded by a 4-byte little-endian length.
In JSON, numeric ``data`` is the flat (or nested, row-major) list of values and a ``BYTES`` element is a
base64 string (an encoded image; a third larger than binary).

Every malformed request raises :class:`OIPError` (status 400, or 413 for an inference header over its bound)
with one line naming the problem; sizes are checked before anything is allocated from them.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

#: OIP datatypes → numpy (little-endian); BYTES elements are ``bytes``
DATATYPES: dict[str, Any] = {
    "BOOL": np.dtype(np.bool_), "UINT8": np.dtype("<u1"), "UINT16": np.dtype("<u2"), "UINT32": np.dtype("<u4"),
    "UINT64": np.dtype("<u8"), "INT8": np.dtype("<i1"), "INT16": np.dtype("<i2"), "INT32": np.dtype("<i4"),
    "INT64": np.dtype("<i8"), "FP16": np.dtype("<f2"), "FP32": np.dtype("<f4"), "FP64": np.dtype("<f8"),
    "BYTES": None,
}
HEADER_LENGTH = "Inference-Header-Content-Length"
BINARY_EXTENSION = "binary_tensor_data"
MAX_DIM = 2**31 - 1
_REQUEST_KEYS = {"id", "parameters", "inputs", "outputs"}
_TENSOR_KEYS = {"name", "shape", "datatype", "parameters", "data"}
_INT_RE = re.compile(r"^\s*[0-9]{1,15}\s*$")


class OIPError(Exception):
    """A request the protocol layer refuses: ``status`` (4xx) and a one-line ``message``."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.message, self.status = " ".join(str(message).split()), int(status)


@dataclass
class Tensor:
    """One input (or output) tensor: ``data`` is an ``ndarray`` of ``shape`` for numeric datatypes and a list of
    ``bytes`` (``prod(shape)`` elements, C order) for ``BYTES``."""

    name: str
    datatype: str
    shape: tuple[int, ...]
    data: Any
    parameters: dict[str, Any] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return math.prod(self.shape)


@dataclass
class RequestedOutput:
    name: str
    parameters: dict[str, Any] = field(default_factory=dict)


@dataclass
class InferRequest:
    inputs: list[Tensor]
    id: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    outputs: list[RequestedOutput] | None = None  # None: every output of the model


# ------------------------------------------------------------------------------------------------ request
def header_length(value: str | None, body_len: int) -> int | None:
    """The ``Inference-Header-Content-Length`` header → the JSON's length in bytes (``None`` when absent)."""
    if value is None:
        return None
    if not _INT_RE.match(str(value)):
        raise OIPError(f"{HEADER_LENGTH}: expected the inference header's length in bytes (an integer), got "
                       f"{str(value)[:40]!r}")
    n = int(value)
    if not 0 < n <= body_len:
        raise OIPError(f"{HEADER_LENGTH}: expected an integer from 1 to the body's {body_len} bytes, got {n}")
    return n


def parse_request(body: bytes | bytearray | memoryview, header_len: str | None = None, *,
                  max_json_bytes: int = 8 * 2**20) -> InferRequest:
    """A request body (and its ``Inference-Header-Content-Length`` value, if any) → :class:`InferRequest`.

    ``max_json_bytes`` bounds the JSON part (its parsed form takes several times its size in memory); larger →
    413 naming the binary extension."""
    view = memoryview(body)
    n = header_length(header_len, len(view))
    json_part = view if n is None else view[:n]
    binary = view[n:] if n is not None else view[:0]
    if len(json_part) > max_json_bytes:
        raise OIPError(f"inference header: expected at most {max_json_bytes} bytes of JSON, got {len(json_part)} (send "
                       f"tensors as binary data: {HEADER_LENGTH} and parameters.binary_data_size)", 413)
    try:
        doc = json.loads(bytes(json_part))
    except (UnicodeDecodeError, ValueError) as exc:
        hint = "" if n is not None else f" (binary tensor data needs the {HEADER_LENGTH} header)"
        raise OIPError(f"inference request: expected JSON, got a malformed body ({str(exc)[:120]}){hint}") from None
    if not isinstance(doc, dict):
        raise OIPError(f"inference request: expected a JSON object, got {type(doc).__name__}")
    unknown = sorted(set(doc) - _REQUEST_KEYS)
    if unknown:
        raise OIPError(f"inference request: unknown key(s) {', '.join(map(repr, unknown))}; expected "
                       "inputs, and optionally id, parameters, outputs")
    rid = doc.get("id")
    if rid is not None and not isinstance(rid, str):
        raise OIPError(f"id: expected a string, got {type(rid).__name__}")
    params = _parameters(doc.get("parameters"), "parameters")
    inputs_doc = doc.get("inputs")
    if not isinstance(inputs_doc, list) or not inputs_doc:
        raise OIPError("inputs: expected a non-empty list of tensors")
    inputs: list[Tensor] = []
    offset = 0
    for i, t in enumerate(inputs_doc):
        tensor, used = _input(t, i, binary[offset:])
        offset += used
        if any(x.name == tensor.name for x in inputs):
            raise OIPError(f"input {tensor.name!r}: given twice")
        inputs.append(tensor)
    if offset != len(binary):
        raise OIPError(f"binary data: the inputs' binary_data_size add up to {offset} bytes, the body has "
                       f"{len(binary)} after the inference header")
    outputs = None
    if doc.get("outputs") is not None:
        if not isinstance(doc["outputs"], list):
            raise OIPError("outputs: expected a list of {name, parameters}")
        outputs = []
        for j, o in enumerate(doc["outputs"]):
            if not isinstance(o, dict) or not isinstance(o.get("name"), str) or set(o) - {"name", "parameters"}:
                raise OIPError(f"outputs[{j}]: expected {{\"name\": str, \"parameters\": {{...}}}}, got {str(o)[:80]}")
            outputs.append(RequestedOutput(o["name"], _parameters(o.get("parameters"), f"outputs[{j}].parameters")))
    return InferRequest(inputs, rid, params, outputs)


def _parameters(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise OIPError(f"{where}: expected an object, got {type(value).__name__}")
    for k, v in value.items():
        if not isinstance(v, (str, int, float, bool)):
            raise OIPError(f"{where}.{k}: expected a string, number or boolean, got {type(v).__name__}")
    return dict(value)


def _input(t: Any, i: int, binary: memoryview) -> tuple[Tensor, int]:
    """One input tensor of the JSON (and its slice of the binary data) → ``(Tensor, binary bytes used)``."""
    if not isinstance(t, dict):
        raise OIPError(f"inputs[{i}]: expected an object, got {type(t).__name__}")
    name = t.get("name")
    if not isinstance(name, str) or not name:
        raise OIPError(f"inputs[{i}].name: expected a non-empty string")
    unknown = sorted(set(t) - _TENSOR_KEYS)
    if unknown:
        raise OIPError(f"input {name!r}: unknown key(s) {', '.join(map(repr, unknown))}")
    dt = t.get("datatype")
    if dt not in DATATYPES:
        raise OIPError(f"input {name!r}: datatype {str(dt)[:20]!r} is not an Open Inference Protocol datatype "
                       f"({', '.join(DATATYPES)})")
    shape = t.get("shape")
    if (not isinstance(shape, list) or any(isinstance(d, bool) or not isinstance(d, int) or not 0 <= d <= MAX_DIM
                                           for d in shape)):
        raise OIPError(f"input {name!r}: shape: expected a list of non-negative integers, got {str(shape)[:60]}")
    shape_t = tuple(shape)
    count = math.prod(shape_t)
    params = _parameters(t.get("parameters"), f"input {name!r} parameters")
    size = params.get("binary_data_size")
    if size is not None:
        if "data" in t:
            raise OIPError(f"input {name!r}: expected either data or parameters.binary_data_size, got both")
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise OIPError(f"input {name!r}: binary_data_size: expected a non-negative integer, got {size!r}")
        if size > len(binary):
            raise OIPError(f"input {name!r}: binary_data_size {size} is more than the {len(binary)} bytes left "
                           "after the inference header and the inputs before it")
        raw = binary[:size]
        if dt == "BYTES":
            data: Any = split_bytes(raw, count, name)
        else:
            dtype = DATATYPES[dt]
            if size != count * dtype.itemsize:
                raise OIPError(f"input {name!r}: {dt} of shape {list(shape_t)} takes {count * dtype.itemsize} bytes, "
                               f"binary_data_size is {size}")
            data = np.frombuffer(raw, dtype=dtype).reshape(shape_t)
        return Tensor(name, dt, shape_t, data, params), size
    if "data" not in t:
        raise OIPError(f"input {name!r}: expected data (JSON) or parameters.binary_data_size (binary), got neither")
    flat = _flatten(t["data"], name, count)
    if dt == "BYTES":
        data = []
        for j, v in enumerate(flat):
            if not isinstance(v, str):
                raise OIPError(f"input {name!r}[{j}]: expected a base64 string (BYTES in JSON), got {type(v).__name__}")
            try:
                data.append(base64.b64decode(v, validate=True))
            except (binascii.Error, ValueError):
                raise OIPError(f"input {name!r}[{j}]: expected base64 (BYTES in JSON), got {v[:20]!r}…") from None
    else:
        kind = bool if dt == "BOOL" else (int if dt[0] in "UI" else (int, float))
        if any(isinstance(v, bool) != (dt == "BOOL") or not isinstance(v, kind) for v in flat):
            bad = next(v for v in flat if isinstance(v, bool) != (dt == "BOOL") or not isinstance(v, kind))
            raise OIPError(f"input {name!r}: expected {dt} values, got {str(bad)[:20]!r}")
        try:
            data = np.asarray(flat, dtype=DATATYPES[dt]).reshape(shape_t)
        except (OverflowError, ValueError, TypeError):
            raise OIPError(f"input {name!r}: values out of the range of {dt}") from None
    return Tensor(name, dt, shape_t, data, params), 0


def _flatten(data: Any, name: str, count: int) -> list[Any]:
    """JSON ``data`` (flat or nested lists) → the flat list of its ``count`` elements (refused otherwise)."""
    if not isinstance(data, list):
        data = [data]
    out: list[Any] = []
    stack = [iter(data)]
    while stack:
        for v in stack[-1]:
            if isinstance(v, list):
                stack.append(iter(v))
                break
            out.append(v)
            if len(out) > count:
                raise OIPError(f"input {name!r}: data: expected {count} elements (the shape), got more")
        else:
            stack.pop()
    if len(out) != count:
        raise OIPError(f"input {name!r}: data: expected {count} elements (the shape), got {len(out)}")
    return out


def split_bytes(raw: bytes | memoryview, count: int, name: str = "input") -> list[bytes]:
    """A binary ``BYTES`` tensor (each element: 4-byte little-endian length, then the bytes) → its ``count``
    elements; refused unless it holds exactly that many and nothing else."""
    view = memoryview(raw)
    out, pos = [], 0
    while pos < len(view):
        if pos + 4 > len(view):
            raise OIPError(f"input {name!r}: BYTES element {len(out)}: a 4-byte length expected, {len(view) - pos} "
                           "byte(s) left")
        n = int.from_bytes(view[pos:pos + 4], "little")
        pos += 4
        if n > len(view) - pos:
            raise OIPError(f"input {name!r}: BYTES element {len(out)} declares {n} bytes, {len(view) - pos} left")
        if len(out) == count:
            raise OIPError(f"input {name!r}: expected {count} BYTES elements (the shape), got more")
        out.append(bytes(view[pos:pos + n]))
        pos += n
    if len(out) != count:
        raise OIPError(f"input {name!r}: expected {count} BYTES elements (the shape), got {len(out)}")
    return out


def join_bytes(elements: Sequence[bytes]) -> bytes:
    """``BYTES`` elements → the binary tensor (each preceded by its 4-byte little-endian length)."""
    return b"".join(len(e).to_bytes(4, "little") + bytes(e) for e in elements)


def encode_request(inputs: Sequence[Tensor], *, binary: bool = True, request_id: str | None = None,
                   parameters: dict[str, Any] | None = None,
                   outputs: Sequence[RequestedOutput] | None = None) -> tuple[bytes, dict[str, str]]:
    """Tensors → a request ``(body, headers)``: with ``binary`` the binary extension (the JSON, then each tensor's
    bytes; ``Inference-Header-Content-Length``), else JSON alone (``BYTES`` as base64). For clients without
    tritonclient (load tests, ``curl`` scripts)."""
    doc: dict[str, Any] = {}
    if request_id is not None:
        doc["id"] = request_id
    if parameters:
        doc["parameters"] = dict(parameters)
    blobs: list[bytes] = []
    doc["inputs"] = [_tensor_entry(t, binary, blobs) for t in inputs]
    if outputs is not None:
        doc["outputs"] = [{"name": o.name, **({"parameters": o.parameters} if o.parameters else {})} for o in outputs]
    return _body(doc, blobs)


def _tensor_entry(t: Tensor, binary: bool, blobs: list[bytes]) -> dict[str, Any]:
    """A tensor's JSON entry; ``binary``: its data appended to ``blobs`` (its size in ``binary_data_size``)."""
    entry: dict[str, Any] = {"name": t.name, "datatype": t.datatype, "shape": list(t.shape)}
    if binary:
        blob = join_bytes(t.data) if t.datatype == "BYTES" else np.ascontiguousarray(
            t.data, dtype=DATATYPES[t.datatype]).tobytes()
        entry["parameters"] = {**t.parameters, "binary_data_size": len(blob)}
        blobs.append(blob)
    else:
        if t.parameters:
            entry["parameters"] = dict(t.parameters)
        entry["data"] = ([base64.b64encode(e).decode("ascii") for e in t.data] if t.datatype == "BYTES"
                         else np.asarray(t.data).ravel().tolist())
    return entry


def _body(doc: dict[str, Any], blobs: list[bytes]) -> tuple[bytes, dict[str, str]]:
    """The JSON head alone, or head + binary tensors with ``Inference-Header-Content-Length``."""
    head = json.dumps(doc, separators=(",", ":")).encode()
    if not blobs:
        return head, {"Content-Type": "application/json"}
    return head + b"".join(blobs), {"Content-Type": "application/octet-stream", HEADER_LENGTH: str(len(head))}


def parse_response(body: bytes, header_len: str | None = None) -> tuple[dict[str, Any], dict[str, Tensor]]:
    """A response body (and its ``Inference-Header-Content-Length``) → ``(the JSON, {output name: Tensor})``."""
    n = None if header_len is None else int(header_len)
    doc = json.loads(body if n is None else body[:n])
    out, pos = {}, n or 0
    for o in doc.get("outputs", []):
        size = (o.get("parameters") or {}).get("binary_data_size")
        shape, dt = tuple(o["shape"]), o["datatype"]
        if size is not None:
            raw = body[pos:pos + size]
            pos += size
            data: Any = (split_bytes(raw, math.prod(shape), o["name"]) if dt == "BYTES"
                         else np.frombuffer(raw, dtype=DATATYPES[dt]).reshape(shape))
        elif dt == "BYTES":
            data = [base64.b64decode(e) for e in o["data"]]
        else:
            data = np.asarray(o["data"], dtype=DATATYPES[dt]).reshape(shape)
        out[o["name"]] = Tensor(o["name"], dt, shape, data, dict(o.get("parameters") or {}))
    return doc, out


# ------------------------------------------------------------------------------------------------ response
def flag(params: dict[str, Any], key: str, default: bool) -> bool:
    """A boolean parameter (``true``/``false``; refused otherwise)."""
    v = params.get(key, default)
    if not isinstance(v, bool):
        raise OIPError(f"parameters.{key}: expected true or false, got {v!r}")
    return v


def encode_response(model_name: str, outputs: Sequence[tuple[Tensor, bool]], *, request_id: str | None = None,
                    model_version: str | None = None,
                    parameters: dict[str, Any] | None = None) -> tuple[bytes, dict[str, str]]:
    """``(tensor, binary?)`` pairs → ``(body, headers)``: JSON alone, or JSON + binary tensors with
    ``Inference-Header-Content-Length`` when any output is binary."""
    doc: dict[str, Any] = {"model_name": model_name}
    if model_version is not None:
        doc["model_version"] = model_version
    if request_id is not None:
        doc["id"] = request_id
    if parameters:
        doc["parameters"] = parameters
    blobs: list[bytes] = []
    doc["outputs"] = [_tensor_entry(t, binary, blobs) for t, binary in outputs]
    return _body(doc, blobs)


__all__ = ["DATATYPES", "HEADER_LENGTH", "BINARY_EXTENSION", "OIPError", "Tensor", "RequestedOutput", "InferRequest",
           "parse_request", "header_length", "split_bytes", "join_bytes", "encode_response", "encode_request",
           "parse_response", "flag"]
