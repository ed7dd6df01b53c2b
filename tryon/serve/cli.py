"""``tryon serve``: the command line over :func:`.app.create_app` and :func:`.server.make_server`.

No FastAPI import here at module level, so ``tryon --help`` works without the ``serve`` extra.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..errors import TryonError
from .limits import MiB, ServeLimits

_D = ServeLimits()


def _positive(kind: type) -> Any:
    what = "integer" if kind is int else "number"

    def parse(text: str):
        try:
            v = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a positive {what}, got {text!r}") from None
        if not v > 0:
            raise argparse.ArgumentTypeError(f"expected a positive {what}, got {text!r}")
        return v

    return parse


def _rate(text: str) -> float:
    from .auth import parse_rate

    try:
        return parse_rate(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def configure(p: argparse.ArgumentParser) -> None:  # no torch, no fastapi here
    pi, pf = _positive(int), _positive(float)
    p.add_argument("--model", action="append", default=[], metavar="[NAME=]EXPORT_DIR",
                   help="export folder to serve (repeat for several); named after its folder unless NAME= is given")
    p.add_argument("--pipeline", action="append", default=[], metavar="NAME=TASK:WEIGHTS_DIR",
                   help="an iterative torch pipeline (edibert-inpaint/-composite/-crossover/-denoise, gan-inpaint/"
                        "-composite/-crossover) served on /v2 with a step budget and a deadline; imports torch")
    p.add_argument("--host", default="127.0.0.1",
                   help="interface to bind (default 127.0.0.1); a non-loopback address needs API keys or --insecure")
    p.add_argument("--port", type=int, default=8000, help="TCP port (default 8000)")
    g = p.add_argument_group("security")
    g.add_argument("--api-key-file", default=None, metavar="FILE",
                   help="API keys, one per line (also: TRYON_API_KEYS=k1,k2); then every route but the health "
                        "paths needs 'Authorization: Bearer KEY' or 'X-API-Key: KEY'")
    g.add_argument("--insecure", action="store_true",
                   help="allow a non-loopback --host without API keys (prints a warning)")
    g.add_argument("--rate-limit", type=_rate, default=None, metavar="RATE",
                   help="POST requests per API key (per client address without keys), e.g. 5/s or 120/min; 429 beyond")
    g.add_argument("--rate-burst", type=pi, default=None,
                   help="requests allowed at once above the rate (default: the rate per second, at least 1)")
    g = p.add_argument_group("limits (each bounds memory or time a client can take)")
    g.add_argument("--max-upload-mb", type=pf, default=_D.max_upload_bytes / MiB,
                   help="largest request body in MiB, all files together (default 20; 413 beyond)")
    g.add_argument("--max-pixels", type=pi, default=None,
                   help="pixels an upload's decoder may produce (default 64× the model's: 3.1 M for 256×192; JPEGs "
                        "decode at up to 1/8 scale; 400 beyond)")
    g.add_argument("--max-output-pixels", type=pi, default=None,
                   help="largest output for size=input (default 16× the model's pixels: 1024×768 for 256×192)")
    g.add_argument("--max-concurrency", type=pi, default=_D.max_concurrency,
                   help="inferences at a time over all models (default 2); more requests wait")
    g.add_argument("--queue-timeout", type=pf, default=_D.queue_timeout_s,
                   help="seconds a request may wait for a slot before a 503 (default 30)")
    g.add_argument("--max-waiting", type=pi, default=_D.max_waiting,
                   help="requests that may wait for a slot (default 64; 503 beyond)")
    g.add_argument("--max-buffered-mb", type=pf, default=None,
                   help="upload MiB held by all requests together (default 8× --max-upload-mb; 503 beyond)")
    g.add_argument("--body-timeout", type=pf, default=_D.body_timeout_s,
                   help="seconds to receive a whole request body (default 30; 408 beyond)")
    g.add_argument("--max-batch", type=pi, default=_D.max_batch,
                   help="images per input in one /v2 (Open Inference Protocol) request (default 8; 400 beyond)")
    g.add_argument("--max-steps", type=pi, default=_D.max_steps,
                   help="a pipeline request's steps parameter (default 300; 400 beyond)")
    g.add_argument("--max-deadline", type=pf, default=_D.max_deadline_s,
                   help="seconds a pipeline request may run from its arrival (default 60; its timeout parameter may "
                        "only shorten it; 504 beyond)")
    g.add_argument("--header-timeout", type=pf, default=_D.header_timeout_s,
                   help="seconds to receive a request head (default 10; 408 / connection closed beyond)")
    g.add_argument("--max-connections", type=pi, default=_D.max_connections,
                   help="open connections served (default 128; a request on one more gets 503)")
    g.add_argument("--keep-alive", type=pf, default=_D.keep_alive_s,
                   help="seconds an idle keep-alive connection stays open (default 5)")
    g.add_argument("--shutdown-timeout", type=pf, default=_D.shutdown_timeout_s,
                   help="graceful shutdown: seconds in-flight requests get to finish (default 10), then cancelled")
    g = p.add_argument_group("person cache (models exported with --split: POST /v1/persons, /v1/models/NAME/tryon)")
    g.add_argument("--person-ttl", type=pf, default=900.0,
                   help="seconds a person's features stay after their last use (default 900)")
    g.add_argument("--person-cache-mb", type=pf, default=256.0, help="MiB of person features kept (default 256)")
    g.add_argument("--garment-cache-mb", type=pf, default=256.0, help="MiB of garment features kept (default 256)")
    g.add_argument("--garment-store", default=None, metavar="DIR",
                   help="a feature store of pre-encoded garments (tryon.catalogue.FeatureStore; read only)")
    g.add_argument("--no-catalogue", action="store_true", help="do not serve the person-cache endpoints")
    g = p.add_argument_group("models")
    g.add_argument("--threads", type=pi, default=None,
                   help="onnxruntime intra-op threads per session (default: physical cores / --max-concurrency)")
    g.add_argument("--providers", default="cpu",
                   help="execution providers, comma-separated (cpu, cuda, trt; default cpu)")
    g.add_argument("--precision", choices=("fp32", "fp16", "bf16", "int8"), default="fp32",
                   help="model variant (default fp32; bf16: --backend openvino on a bf16 CPU)")
    g.add_argument("--backend", choices=("ort", "openvino"), default="ort",
                   help="inference runtime (default ort = onnxruntime; openvino needs tryon[openvino])")
    g.add_argument("--device", default="cpu", help="torch device of the --pipeline models (default cpu)")
    p.add_argument("--log-level", default="info", choices=("critical", "error", "warning", "info", "debug"),
                   help="uvicorn log level (default info)")


def limits_from_args(args: argparse.Namespace) -> ServeLimits:
    return ServeLimits(
        max_upload_bytes=int(args.max_upload_mb * MiB), max_pixels=args.max_pixels,
        max_output_pixels=args.max_output_pixels,
        max_concurrency=args.max_concurrency, queue_timeout_s=args.queue_timeout, max_waiting=args.max_waiting,
        max_buffered_bytes=int(args.max_buffered_mb * MiB) if args.max_buffered_mb else None,
        body_timeout_s=args.body_timeout, header_timeout_s=args.header_timeout, max_connections=args.max_connections,
        keep_alive_s=args.keep_alive, shutdown_timeout_s=args.shutdown_timeout, max_batch=args.max_batch,
        max_steps=args.max_steps, max_deadline_s=args.max_deadline)


def run(args: argparse.Namespace) -> int:
    from .app import create_app, require_fastapi
    from .auth import ApiKeys, check_bind
    from .models import parse_model_specs
    from .pipelines import parse_pipeline_specs
    from .server import make_server

    require_fastapi()
    try:
        import uvicorn  # noqa: F401
    except ModuleNotFoundError:
        raise TryonError("tryon serve needs uvicorn to listen on a port: pip install 'tryon[serve]'") from None
    if not args.model and not args.pipeline:
        raise TryonError("tryon serve: expected at least one --model EXPORT_DIR or --pipeline NAME=TASK:WEIGHTS_DIR")
    models = parse_model_specs(args.model) if args.model else {}
    pipelines = parse_pipeline_specs(args.pipeline)
    limits = limits_from_args(args)
    keys = ApiKeys.load(args.api_key_file)
    warning = check_bind(args.host, keys, args.insecure)  # before loading models: refuse fast
    if warning:
        print("\n" + "!" * 100 + f"\n{warning}\n" + "!" * 100 + "\n", file=sys.stderr, flush=True)
    catalogue = False if args.no_catalogue else {
        "person_ttl_s": args.person_ttl, "person_cache_mb": args.person_cache_mb,
        "garment_cache_mb": args.garment_cache_mb, "garment_store": args.garment_store}
    app = create_app(models, limits=limits, api_keys=keys, rate_limit=args.rate_limit, rate_burst=args.rate_burst,
                     providers=args.providers, threads=args.threads, precision=args.precision, catalogue=catalogue,
                     backend=args.backend, pipelines=pipelines, device=args.device)
    split = (app.state.tryon.extras.get("catalogue") or {}).get("models")
    if split:
        print(f"tryon serve: person cache for {', '.join(split)}: POST /v1/persons, POST /v1/models/<name>/tryon")
    for name, m in app.state.tryon.models.items():
        s = m.session
        print(f"tryon serve: {name} <- {s.export_dir} ({s.model}, {', '.join(s.providers_used)}, "
              f"{s.intra_op_threads} threads, inputs {', '.join(s.input_names)}; max {m.max_pixels} decoded pixels, "
              f"output up to {m.max_output_pixels} pixels)")
    for name, m in app.state.tryon.extras["oip_models"].items():
        if name not in app.state.tryon.models:
            print(f"tryon serve: {name} <- pipeline {m.task} ({args.device}; inputs {', '.join(m.input_names)}; steps "
                  f"at most {limits.max_steps}, deadline {limits.max_deadline_s:g} s)")
    auth = f"{len(keys)} API key(s)" if len(keys) else "no API key"
    print(f"tryon serve: POST http://{args.host}:{args.port}/v1/models/<name>/infer  ({auth}; max "
          f"{limits.max_concurrency} concurrent inferences, {limits.max_waiting} waiting, {limits.max_connections} "
          f"connections); Open Inference Protocol v2: POST /v2/models/<name>/infer (batch <= {limits.max_batch})",
          flush=True)
    make_server(app, host=args.host, port=args.port, log_level=args.log_level).run()
    return 0


def register_cli(app: Any) -> None:
    app.add_command("serve", help="serve ONNX exports over HTTP (FastAPI + uvicorn; no torch)", configure=configure,
                    run=run)


__all__ = ["configure", "run", "register_cli", "limits_from_args"]
