"""HTTP service over ONNX exports: ``tryon serve`` (FastAPI + uvicorn + prometheus_client; the ``serve``
extra). No torch.

For e-commerce back ends that render catalogues of people × garments: each request uploads one image per
model input (``person``, ``garment`` for a try-on export) and gets the output image back. The models are
``tryon export`` folders (format: ``exports/README.md``) run by :class:`tryon.runtime.ImageModelSession`::

    tryon serve --model exports/wuton-student --port 8000
    curl -F person=@person.jpg -F garment=@shirt.jpg http://127.0.0.1:8000/v1/models/wuton-student/infer -o out.png
    # or any Open Inference Protocol v2 client (tritonclient.http, KServe's): POST /v2/models/wuton-student/infer

    from tryon.serve import create_app, make_server
    app = create_app({"student": "exports/wuton-student"}, max_concurrency=2, api_keys=["..."])   # ASGI app
    make_server(app, port=8000).run()                    # uvicorn with the connection/head/shutdown limits

One file, one idea:

* :mod:`.app` — :func:`create_app`: routes, health/readiness, JSON errors, request ids;
* :mod:`.models` — export folders, the cost plan of a request (pixel limit, output-size policy), decode/encode;
* :mod:`.handling` — bounded multipart reading and the inference slot, shared by all costly routes;
* :mod:`.limits` — :class:`ServeLimits` (every bound and its default), the gate, the byte budget;
* :mod:`.auth` — API keys (constant-time compare), rate limit, the public-bind check;
* :mod:`.metrics` — Prometheus metrics (``prometheus_client``, explicit ``/metrics`` route);
* :mod:`.server` — uvicorn with a request-head deadline, a connection cap and bounded graceful shutdown;
* :mod:`.cli` — ``tryon serve`` flags;
* :mod:`.catalogue_routes` — the person-cache endpoints (``POST /v1/persons``) over :mod:`tryon.catalogue`;
* :mod:`.oip` — the Open Inference Protocol v2 on the wire (JSON tensors, the binary tensor data extension);
* :mod:`.oip_models` — a v2 request bound to a model before a slot (names, datatypes, shapes, batch, pixels);
* :mod:`.oip_routes` — ``/v2/models/...`` (list, metadata, ready, infer) in the same frame as ``/v1``;
* :mod:`.pipelines` — iterative torch pipelines (EdiBERT, GAN inversion) as v2 models with a step budget and a
  deadline (``--pipeline``; torch is imported only then);
* :mod:`.kserve` — a ``kserve.Model`` over an export folder (the ``kserve`` extra).

FastAPI, uvicorn and prometheus_client are imported only when an app or server is built (names below are
resolved lazily), so ``import tryon.serve`` and ``tryon --help`` work without the extra.
"""

from __future__ import annotations

from typing import Any

_LAZY = {
    "create_app": ".app",
    "make_server": ".server",
    "ServeLimits": ".limits",
    "ConcurrencyGate": ".limits",
    "ApiKeys": ".auth",
    "RateLimiter": ".auth",
    "ServeMetrics": ".metrics",
    "ServedModel": ".models",
    "parse_model_specs": ".models",
    "encode_image": ".models",
    "OUTPUT_FORMATS": ".models",
    "OUTPUT_SIZES": ".models",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["create_app", "make_server", *[n for n in _LAZY if n not in ("create_app", "make_server")]]
