"""A KServe model over a ``tryon export`` folder: :class:`TryonModel`, a ``kserve.Model`` subclass (the ``kserve``
extra, ``pip install "tryon[kserve]"``; kserve is imported only when the class is first used).

A KServe / Kubernetes user deploys a try-on export with their own tooling: KServe's ``ModelServer`` owns the HTTP
server, the Open Inference Protocol v2 endpoints (JSON and the binary tensor data extension), readiness, its
Prometheus metrics (``request_predict_seconds`` … labelled ``model_name``) and gRPC; this class binds each
``InferRequest`` with the same code as ``tryon serve``'s v2 routes (:class:`~.oip_models.ExportModel`: input names
from the export manifest, ``BYTES`` encoded images / ``UINT8`` / ``FP32`` pixels, outputs as PNG ``BYTES`` or pixel
tensors) and runs it on :class:`tryon.runtime.ImageModelSession` — no torch. The command line (the container's
entry point in an ``InferenceService``, see exports/README.md)::

    python -m tryon.serve.kserve --model_name wuton-student --export_dir /mnt/models --http_port 8080

**What carries over from** :class:`~.limits.ServeLimits`: the decoder bound (every image's header read and its
pixels checked against ``max_pixels`` before decoding), ``max_batch``, the output-size policy, and the slot gate
(``max_concurrency`` inferences, ``max_waiting`` waiting at most ``queue_timeout_s``; beyond: 503 with KServe's
``{"error"}`` body). Bad input is KServe's 400 ``{"error": "one line"}`` with our messages. **What does not**:
body size and body/head deadlines, connection caps, API keys and rate limits (KServe's uvicorn has none of these:
set them at the ingress — Istio / Knative ``containerConcurrency``, request size and timeout), and our
``tryon_serve_*`` metrics (KServe exports its own).

**Encoded images under KServe 0.21**: its REST parser turns every binary ``BYTES`` input into UTF-8 text before the
model sees it (``InferRequest.from_bytes``), so raw PNG/JPEG bytes are refused there with a 500; send each ``BYTES``
element as the base64 text of the image (binary-framed or in JSON — decoded here) or ``UINT8`` pixels. Outputs go
back as raw PNG bytes.
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

import numpy as np

from ..errors import InputError, TryonError
from .limits import ConcurrencyGate, ServeLimits
from .oip import InferRequest, OIPError, RequestedOutput, Tensor

_HINT = 'pip install "tryon[kserve]"'


def require_kserve() -> Any:
    try:
        import kserve
    except ModuleNotFoundError as exc:
        raise TryonError(f"the KServe model needs kserve ({exc.name} is not installed): {_HINT}") from None
    return kserve


def _data(inp: Any) -> Any:
    """A KServe ``InferInput`` → our tensor data: ``BYTES`` elements as ``bytes`` (a JSON element, a string, is the
    base64 of the bytes, as on ``tryon serve``), other datatypes as an array."""
    import base64
    import binascii

    arr = inp.as_numpy()
    if inp.datatype != "BYTES":
        return arr
    out = []
    for j, v in enumerate(arr.ravel()):
        if isinstance(v, str):
            try:
                v = base64.b64decode(v, validate=True)
            except (binascii.Error, ValueError):
                raise OIPError(f"input {inp.name!r}[{j}]: expected base64 (BYTES in JSON), got {v[:20]!r}…") from None
        out.append(bytes(v))
    return out


def _params(value: Any) -> dict[str, Any]:
    """REST parameters (a dict) or gRPC ones (``InferParameter`` messages) → a plain dict."""
    if not value:
        return {}
    from kserve.protocol.infer_type import to_http_parameters

    return dict(to_http_parameters(value))


def to_request(payload: Any) -> InferRequest:
    """KServe's ``InferRequest`` → ours (the tensors KServe parsed: JSON, binary or gRPC)."""
    inputs = [Tensor(i.name, i.datatype, tuple(int(d) for d in i.shape), _data(i), _params(i.parameters))
              for i in payload.inputs]
    outputs = None
    if payload.request_outputs:
        outputs = [RequestedOutput(o.name, _params(o.parameters)) for o in payload.request_outputs]
    return InferRequest(inputs, payload.id, _params(payload.parameters), outputs)


def _model_class() -> type:
    kserve = require_kserve()
    from kserve.errors import InvalidInput, ServerNotReady
    from kserve.protocol.infer_type import InferOutput, InferResponse

    class TryonModel(kserve.Model):
        """``TryonModel(name, export_dir, limits=ServeLimits(...), providers=, threads=, precision=, backend=)``;
        :meth:`load` opens the session (``ready`` then), :meth:`predict` serves v2 requests."""

        def __init__(self, name: str, export_dir: str | os.PathLike, *, limits: ServeLimits | None = None,
                     providers: Any = None, threads: int | None = None, precision: str = "fp32", backend: str = "ort",
                     warmup: bool = True):
            super().__init__(name)
            self.export_dir, self.limits = export_dir, limits or ServeLimits()
            self._options = {"providers": providers, "threads": threads, "precision": precision, "backend": backend,
                             "warmup": warmup}
            self.oip: Any = None
            self.gate = ConcurrencyGate(self.limits.max_concurrency, self.limits.queue_timeout_s,
                                        self.limits.max_waiting)
            self.ready = False

        def load(self) -> bool:
            from .models import ServedModel
            from .oip_models import ExportModel

            served = ServedModel(self.name, self.export_dir, **self._options)
            served.set_limits(self.limits.max_pixels, self.limits.max_output_pixels)
            self.oip = ExportModel(served, self.limits.max_batch)
            self.ready = True
            return self.ready

        def get_input_types(self) -> list[dict[str, Any]]:
            return self.oip.metadata()["inputs"]

        def get_output_types(self) -> list[dict[str, Any]]:
            return self.oip.metadata()["outputs"]

        async def predict(self, payload: Any, headers: dict[str, str] | None = None,
                          response_headers: dict[str, str] | None = None) -> Any:
            loop = asyncio.get_running_loop()
            try:
                job = await loop.run_in_executor(None, lambda: self.oip.bind(to_request(payload)))
            except OIPError as exc:
                raise InvalidInput(exc.message) from None
            except TryonError as exc:
                raise InvalidInput(" ".join(str(exc).split())) from None
            # KServe re-encodes the outputs by its own rule (each requested output's binary_data, else the
            # request's binary_data_output): follow it, so that PNG bytes never go out as JSON strings
            req_out = payload.request_outputs
            job.binary = bool(req_out[0].binary_data) if req_out else bool(payload.use_binary_outputs)
            gate = self.gate
            outcome = await gate.acquire()
            if outcome != gate.OK:
                raise ServerNotReady(f"busy: all {gate.limit} inference slots are taken and "
                                     f"{'too many requests wait' if outcome == gate.FULL else 'none freed in time'}; "
                                     "retry later")
            try:
                outputs, _timing = await loop.run_in_executor(None, self.oip.work, job)
            except InputError as exc:
                raise InvalidInput(" ".join(str(exc).split())) from None
            finally:
                gate.release()
            infer_outputs = []
            for t, binary in outputs:
                o = InferOutput(name=t.name, shape=list(t.shape), datatype=t.datatype)
                if t.datatype == "BYTES" and not binary:  # JSON: base64 strings, as tryon serve answers
                    import base64

                    data = np.array([base64.b64encode(b).decode("ascii") for b in t.data], dtype=np.object_)
                else:
                    data = np.array(t.data, dtype=np.object_) if t.datatype == "BYTES" else np.asarray(t.data)
                o.set_data_from_numpy(data, binary_data=binary)
                infer_outputs.append(o)
            return InferResponse(response_id=payload.id or "", model_name=self.name, infer_outputs=infer_outputs,
                                 use_binary_outputs=job.binary, requested_outputs=payload.request_outputs)

    TryonModel.__module__ = __name__
    TryonModel.__qualname__ = "TryonModel"
    return TryonModel


_CLASS: type | None = None


def __getattr__(name: str) -> Any:
    global _CLASS
    if name == "TryonModel":
        if _CLASS is None:
            _CLASS = _model_class()
        return _CLASS
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main(argv: list[str] | None = None) -> int:
    """``python -m tryon.serve.kserve --model_name NAME --export_dir DIR`` plus KServe's ModelServer flags
    (``--http_port`` …) and our limits (``--max_pixels``, ``--max_batch``, ``--max_concurrency``)."""
    import argparse

    require_kserve()
    from kserve import ModelServer, model_server

    p = argparse.ArgumentParser(parents=[model_server.parser], description=__doc__.split("\n")[0])
    p.add_argument("--export_dir", default=os.environ.get("TRYON_EXPORT_DIR", "/mnt/models"),
                   help="the tryon export folder (default /mnt/models, where KServe's storage initializer puts it)")
    p.add_argument("--max_pixels", type=int, default=None, help="pixels an image's decoder may produce (400 beyond)")
    p.add_argument("--max_batch", type=int, default=ServeLimits.max_batch, help="images per input (400 beyond)")
    p.add_argument("--max_concurrency", type=int, default=ServeLimits.max_concurrency,
                   help="inferences at a time (503 once --max_waiting wait)")
    p.add_argument("--precision", default="fp32", choices=("fp32", "fp16", "int8", "bf16"))
    p.add_argument("--backend", default="ort", choices=("ort", "openvino"))
    args, _ = p.parse_known_args(argv if argv is not None else sys.argv[1:])
    limits = ServeLimits(max_pixels=args.max_pixels, max_batch=args.max_batch, max_concurrency=args.max_concurrency)
    model = __getattr__("TryonModel")(args.model_name, args.export_dir, limits=limits, precision=args.precision,
                                      backend=args.backend)
    model.load()
    ModelServer().start([model])
    return 0


if __name__ == "__main__":  # pragma: no cover - the container entry point
    raise SystemExit(main())


__all__ = ["require_kserve", "to_request", "main"]  # and TryonModel, built on first access (kserve imported then)
