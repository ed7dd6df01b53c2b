"""The person-cache endpoints of ``tryon serve``: a shopper uploads one photo, then browses the catalogue
at the cost of the pair head (000 §4.3.3.1, App. E.1: the person
and garment branches of S-WUTON see one input each, so they can be computed once).

Served for every model whose export is split (``tryon export TASK --split``), over
:class:`tryon.catalogue.CatalogueSession`:

* ``POST /v1/persons`` — multipart ``person`` (a photo; optional ``model`` when several models are split) →
  201 ``{"person_id", "model", "expires_in_s", "width", "height"}``. The person branch runs once; its features
  are kept in a cache bounded in bytes (``person_cache_mb``) whose entries expire ``person_ttl_s`` after their
  last use. Ids are random (not derived from the photo). ``DELETE /v1/persons/{id}`` drops one at once.
* ``POST /v1/garments`` — multipart ``garment`` (optional ``model``) → ``{"garment_id"}``: the garment branch
  runs once, the features are kept in a bounded cache; the id is ``tryon.catalogue.content_key`` of the
  uploaded bytes, so a pre-encoded ``FeatureStore`` (``garment_store``, written by a catalogue job over the
  same files) answers the same ids.
* ``POST /v1/models/{name}/tryon`` — multipart ``person_id`` and a ``garment`` file or ``garment_id``, optional
  ``format`` / ``size`` as ``/infer`` → the image. Unknown or expired ids → 404 with one line.

The uploads go through the same limits (body, pixels, slot, client gone) as ``/infer``; the output equals the
full model's on the same uploads within the export's split parity.
"""

# No ``from __future__ import annotations``: FastAPI resolves endpoint annotations (``request: Request``) at
# route creation, and ``Request`` is imported inside register(), not at module level.
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

from ..deploy.cache import ByteLRUCache
from ..errors import TryonError
from .handling import HTTPError, ServeState, check_form_conditions, read_form, run_in_slot
from .models import OUTPUT_FORMATS, OUTPUT_SIZES, ServedModel, encode_image

MiB = 2**20


@dataclass(frozen=True)
class CatalogueOptions:
    """Bounds of the person/garment caches and the optional pre-encoded garment store."""

    person_ttl_s: float = 900.0  # a person's features expire this long after their last use
    person_cache_mb: float = 256.0  # all persons' features together
    garment_cache_mb: float = 256.0  # garments encoded through POST /v1/garments (least recently used dropped)
    garment_store: str | None = None  # a FeatureStore folder of pre-encoded garments (read only)
    store_dtype: str = "float32"

    def __post_init__(self) -> None:
        for name in ("person_ttl_s", "person_cache_mb", "garment_cache_mb"):
            if not getattr(self, name) > 0:
                raise TryonError(f"{name}: expected a positive number, got {getattr(self, name)!r}")


@dataclass
class _Entry:
    model: str
    features: Any  # tryon.deploy.features.Features
    hw: tuple[int, int]  # the upload's original (H, W): the output size policy applies to it
    nbytes: int


class FeatureCache:
    """id → entry, bounded in bytes (least recently used dropped first), entries expire ``ttl_s`` after their
    last use (``None``: never): the deploy wing's :class:`tryon.deploy.cache.ByteLRUCache` holding
    ``(model, features, hw)`` entries. Used from the event loop only (no lock)."""

    def __init__(self, max_bytes: int, ttl_s: float | None, clock: Any = time.monotonic):
        self.cache = ByteLRUCache(max_bytes, sizeof=lambda e: e.nbytes, ttl_s=ttl_s, clock=clock)
        self.max_bytes, self.ttl_s = self.cache.max_bytes, ttl_s

    @property
    def bytes(self) -> int:
        return self.cache.bytes

    def put(self, key: str, model: str, features: Any, hw: tuple[int, int]) -> bool:
        """Keep ``features`` of ``model`` under ``key``; ``False`` when they alone exceed the bound."""
        return self.cache.put(key, _Entry(model, features, hw, int(features.nbytes)))

    def get(self, key: str) -> _Entry | None:
        return self.cache.get(key)  # a use renews the expiry: a browsing shopper keeps the id

    def delete(self, key: str) -> bool:
        return self.cache.delete(key)

    def __len__(self) -> int:
        return len(self.cache)


class _Catalogue:
    """One split model: its CatalogueSession, a lock around its (unlocked) feature cache, the garment store."""

    def __init__(self, model: ServedModel, options: CatalogueOptions):
        from ..deploy.catalogue import CatalogueSession
        from ..deploy.features import FeatureStore

        s = model.session
        # the session's own LRU is only a scratch cache here: the server keeps features in its bounded caches
        ov = s.backend == "openvino"
        self.session = CatalogueSession(s.export_dir, providers=None if ov else s.providers_requested,
                                        intra_op_threads=s.intra_op_threads, cache_mb=16, backend=s.backend,
                                        precision=s.precision if ov and s.precision in ("fp32", "bf16") else "fp32")
        self.model = model
        self.lock = threading.Lock()
        self.store = FeatureStore(options.garment_store, options.store_dtype) if options.garment_store else None
        if set(self.session.input_names) != {"person", "garment"}:
            raise TryonError(f"model {model.name!r}: the person-cache endpoints need inputs person and garment, "
                             f"this export takes {self.session.input_names}")

    def encode(self, name: str, array: Any) -> Any:
        with self.lock:
            return self.session.encode(name, [array])[0]

    def render(self, person: Any, garment: Any, out_hw: tuple[int, int] | None) -> Any:
        """The head on cached features → the first output, ``H×W×3`` uint8 at ``out_hw`` (None: the box)."""
        from ..deploy.arrays import restore_output

        cat = self.session
        first = cat.output_names[0]  # only the image: the head pruned to it runs when the export has one
        outs = cat.run_features({"person": [person], "garment": [garment]}, outputs=[first])
        size = out_hw if out_hw is not None else tuple(person.box[2:])
        return restore_output(outs[first][:1], [size], [person.box], "numpy", cat.manifest, first)[0]


def is_split(model: ServedModel) -> bool:
    return bool(model.session.manifest.get("graphs"))


def register(app: Any, state: ServeState, options: CatalogueOptions | dict | bool | None) -> list[str]:
    """Add the person-cache routes for the split models of ``state``; returns their names."""
    from fastapi import Request
    from fastapi.responses import JSONResponse, Response
    from starlette.concurrency import run_in_threadpool

    if isinstance(options, CatalogueOptions):
        opts = options
    else:
        opts = CatalogueOptions(**options) if isinstance(options, dict) else CatalogueOptions()
    split = [m for m in state.models.values() if is_split(m)]
    if not split:
        return []
    from ..deploy.features import content_key

    cats = {m.name: _Catalogue(m, opts) for m in split}
    persons = FeatureCache(int(opts.person_cache_mb * MiB), opts.person_ttl_s)
    garments = FeatureCache(int(opts.garment_cache_mb * MiB), None)
    metrics = state.metrics
    metrics.add_catalogue(lambda: len(persons), lambda: len(garments))
    state.extras["catalogue"] = {"models": sorted(cats), "persons": persons, "garments": garments, "options": opts,
                                 "sessions": {n: c.session for n, c in cats.items()}}
    names = ", ".join(sorted(cats))

    def pick(model_field: str | None) -> _Catalogue:
        if model_field:
            if model_field not in cats:
                raise HTTPError(404, f"model {model_field!r} has no person-cache endpoints: split models here are "
                                     f"{names}")
            return cats[model_field]
        if len(cats) > 1:
            raise HTTPError(422, f"model: expected one of {names} (several models are split)")
        return next(iter(cats.values()))

    def lookup(cache: FeatureCache, kind: str, key: str, model: str) -> _Entry:
        e = cache.get(key)
        if e is None or e.model != model:
            metrics.id_lookups.labels(kind=kind, result="miss").inc()
            hint = "POST /v1/persons the photo again" if kind == "person" else "POST /v1/garments the garment"
            raise HTTPError(404, f"unknown or expired {kind}_id {key[:80]!r} for model {model!r}: {hint}")
        metrics.id_lookups.labels(kind=kind, result="hit").inc()
        return e

    async def encode_upload(request: Any, field: str, status: int) -> Any:
        t0 = time.perf_counter()
        guards: list = []
        try:
            if state.draining:
                raise HTTPError(503, "shutting down: not taking new requests", {"Connection": "close"},
                                reason="draining")
            form = await read_form(request, state, [field], {"model": None}, guards)
            cat = pick(form.fields.get("model"))
            blob = form.files[field]
            try:
                hw, need, _ = await run_in_threadpool(cat.model.probe, field, blob)
            except TryonError as exc:
                raise HTTPError(400, str(exc)) from None

            def work() -> Any:
                from ..io import load_image

                return cat.encode(field, load_image(blob, name=field, min_size=need))

            features, _ = await run_in_slot(request, state, cat.model.name, work)
        except HTTPError as err:
            return state.refuse(err)
        finally:
            for g in guards:
                g.release()
        name = cat.model.name
        if field == "person":
            key = secrets.token_urlsafe(18)
            stored = persons.put(key, name, features, hw)
            body = {"person_id": key, "model": name, "expires_in_s": opts.person_ttl_s, "width": hw[1], "height": hw[0]}
        else:
            key = content_key(blob)
            stored = garments.put(key, name, features, hw)
            body = {"garment_id": key, "model": name}
        if not stored:  # larger than the whole cache
            return state.refuse(HTTPError(507, f"the {field} features ({features.nbytes} bytes) do not fit the "
                                               f"{field} cache"))
        metrics.catalogue.labels(model=name, endpoint=f"{field}s").observe(time.perf_counter() - t0)
        return JSONResponse(body, status_code=status)

    @app.post("/v1/persons", status_code=201)
    async def post_person(request: Request):
        return await encode_upload(request, "person", 201)

    @app.delete("/v1/persons/{person_id}")
    async def delete_person(person_id: str):
        if not persons.delete(person_id):
            return state.refuse(HTTPError(404, f"unknown or expired person_id {person_id[:80]!r}"))
        return {"deleted": person_id}

    @app.post("/v1/garments")
    async def post_garment(request: Request):
        return await encode_upload(request, "garment", 200)

    @app.post("/v1/models/{name}/tryon", response_class=Response)
    async def tryon(name: str, request: Request):
        t0 = time.perf_counter()
        guards: list = []
        try:
            cat = cats.get(name)
            if cat is None:
                raise HTTPError(404, f"model {name!r} has no person-cache endpoints: split models here are {names}")
            if state.draining:
                raise HTTPError(503, "shutting down: not taking new requests", {"Connection": "close"},
                                reason="draining")
            fields = {"person_id": None, "garment_id": None, "format": ("png", "jpeg"), "size": OUTPUT_SIZES,
                      "category": None}
            form = await read_form(request, state, [], fields, guards, optional_files=("garment",))
            check_form_conditions(cat.session.manifest, name, form.fields)
            fmt, size = form.fields.get("format", "png"), form.fields.get("size", "input")
            if "person_id" not in form.fields:
                raise HTTPError(422, "missing field person_id: POST /v1/persons a photo first", missing=["person_id"])
            if ("garment" in form.files) == ("garment_id" in form.fields):
                raise HTTPError(422, "expected exactly one of a garment file or a garment_id")
            person = lookup(persons, "person", form.fields["person_id"], name)
            try:
                out_hw = cat.model.output_size(person.hw, fmt, size)
            except TryonError as exc:
                raise HTTPError(400, str(exc)) from None
            blob, need, garment = form.files.get("garment"), None, None
            if blob is not None:
                try:
                    _, need, _ = await run_in_threadpool(cat.model.probe, "garment", blob)
                except TryonError as exc:
                    raise HTTPError(400, str(exc)) from None
            else:
                garment = await find_garment(cat, form.fields["garment_id"])

            def work() -> tuple[bytes, tuple[int, int]]:
                from ..io import load_image

                g = garment
                if g is None:
                    g = cat.encode("garment", load_image(blob, name="garment", min_size=need))
                out = cat.render(person.features, g, out_hw if size == "input" else None)
                return encode_image(out, fmt), out.shape[:2]

            (data, (h, w)), queue_s = await run_in_slot(request, state, name, work)
        except HTTPError as err:
            return state.refuse(err)
        finally:
            for g in guards:
                g.release()
        total = time.perf_counter() - t0
        metrics.catalogue.labels(model=name, endpoint="tryon").observe(total)
        return Response(content=data, media_type=OUTPUT_FORMATS[fmt][1], headers={
            "X-Tryon-Model": name, "X-Image-Size": f"{w}x{h}", "X-Latency-Ms": f"{total * 1000:.2f}",
            "X-Queue-Ms": f"{queue_s * 1000:.2f}"})

    async def find_garment(cat: _Catalogue, gid: str) -> Any:
        e = garments.get(gid)
        if e is not None and e.model == cat.model.name:
            metrics.id_lookups.labels(kind="garment", result="hit").inc()
            return e.features
        if cat.store is not None and len(gid) == 64 and all(c in "0123456789abcdef" for c in gid):
            s = cat.session
            f, _why = await run_in_threadpool(cat.store.get, s.model_keys["garment"], "garment", gid,
                                              s.feature_shapes["garment"])
            if f is not None:
                metrics.id_lookups.labels(kind="garment", result="hit").inc()
                garments.put(gid, cat.model.name, f, tuple(f.size))
                return f
        metrics.id_lookups.labels(kind="garment", result="miss").inc()
        raise HTTPError(404, f"unknown garment_id {gid[:80]!r} for model {cat.model.name!r}: POST /v1/garments the "
                             "garment (or pre-encode it into the --garment-store)")

    return sorted(cats)


__all__ = ["register", "CatalogueOptions", "FeatureCache", "is_split"]
