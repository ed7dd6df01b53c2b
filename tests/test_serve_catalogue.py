"""tryon.serve person-cache endpoints over a split export (tests/catalogue_toy.py: a two-branch toy model).

POST /v1/persons → id; POST /v1/models/{name}/tryon with person_id and a garment file or garment_id → the
image at pair-head cost, equal to POST /v1/models/{name}/infer on the same uploads.
"""

from __future__ import annotations

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("prometheus_client")
pytest.importorskip("onnx")

import io
import time

import numpy as np
from fastapi.testclient import TestClient
from PIL import Image

from tryon.serve import create_app


import catalogue_toy as toy  # noqa: E402 - tests/ is on sys.path (tests/conftest.py)
import serve_support as S  # noqa: E402


@pytest.fixture(scope="module")
def split_export(tmp_path_factory):
    out = tmp_path_factory.mktemp("split") / "toy"
    toy.export_toy(out, exporter="torchscript")
    return out


@pytest.fixture(scope="module")
def uploads():
    rng = np.random.default_rng(3)
    persons = [S.encode(S.tiny.smooth_image(40 + 4 * i, 30, i)) for i in range(2)]
    garments = [S.encode(rng.integers(0, 256, (36, 28, 3), dtype=np.uint8)) for _ in range(4)]
    return persons, garments


@pytest.fixture(scope="module")
def client(split_export):
    app = create_app({"toy": split_export}, warmup=False)
    with TestClient(app) as c:
        c.app_state = app.state.tryon
        yield c


def pair(person: bytes, garment: bytes) -> dict:
    return {"person": ("p.png", person), "garment": ("g.png", garment)}


def image(r) -> np.ndarray:
    assert r.status_code == 200, r.text
    return np.asarray(Image.open(io.BytesIO(r.content)).convert("RGB")).astype(int)


def stats(client) -> dict:
    return client.app_state.extras["catalogue"]["sessions"]["toy"].stats()


def test_person_cache_equals_the_full_model(client, uploads):
    persons, garments = uploads
    before = stats(client)
    r = client.post("/v1/persons", files={"person": ("p.png", persons[0], "image/png")})
    assert r.status_code == 201, r.text
    body = r.json()
    pid = body["person_id"]
    assert body["model"] == "toy" and (body["width"], body["height"]) == (30, 40) and len(pid) >= 24
    for g in garments:
        full = image(client.post("/v1/models/toy/infer", files=pair(persons[0], g)))
        cached = image(client.post("/v1/models/toy/tryon", data={"person_id": pid}, files={"garment": ("g.png", g)}))
        assert full.shape == cached.shape == (40, 30, 3)
        assert np.abs(full - cached).max() <= 1  # the split graphs equal the full model (parity ~1e-6)
    after = stats(client)
    # the person branch ran once for the four garments; the head ran four times
    assert after["computed"]["person"] - before["computed"].get("person", 0) == 1
    assert after["head_items"] - before["head_items"] == 4
    # size=model and jpeg work as on /infer
    r = client.post("/v1/models/toy/tryon", data={"person_id": pid, "size": "model", "format": "jpeg"},
                    files={"garment": ("g.png", garments[0])})
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(r.content)).size == (24, 32)


def test_garment_ids_cost_the_head_only(client, uploads):
    from tryon.catalogue import content_key

    persons, garments = uploads
    pid = client.post("/v1/persons", files={"person": ("p.png", persons[1])}).json()["person_id"]
    ids = []
    for g in garments:
        r = client.post("/v1/garments", files={"garment": ("g.png", g)})
        assert r.status_code == 200, r.text
        ids.append(r.json()["garment_id"])
    assert ids == [content_key(g) for g in garments]  # the ids a pre-encoded feature store uses
    before = stats(client)
    for gid, g in zip(ids, garments):
        cached = image(client.post("/v1/models/toy/tryon", data={"person_id": pid, "garment_id": gid}))
        full = image(client.post("/v1/models/toy/infer", files=pair(persons[1], g)))
        assert np.abs(full - cached).max() <= 1
    after = stats(client)
    assert after["computed"] == before["computed"] and after["head_items"] - before["head_items"] == 4  # no branch
    text = client.get("/metrics").text
    assert 'tryon_serve_id_lookups_total{kind="garment",result="hit"} 4.0' in text
    assert "tryon_serve_persons_cached 2.0" in text and "tryon_serve_garments_cached 4.0" in text
    assert 'tryon_serve_catalogue_seconds_count{endpoint="tryon",model="toy"}' in text


def test_pre_encoded_garment_store(split_export, uploads, tmp_path):
    from tryon.catalogue import CatalogueSession, content_key

    persons, garments = uploads
    paths = []
    for i, g in enumerate(garments[:2]):
        p = tmp_path / f"g{i}.png"
        p.write_bytes(g)
        paths.append(p)
    CatalogueSession(split_export, store=tmp_path / "store").encode_garments(paths)  # a catalogue job did this
    app = create_app({"toy": split_export}, warmup=False, catalogue={"garment_store": str(tmp_path / "store")})
    with TestClient(app) as c:
        pid = c.post("/v1/persons", files={"person": ("p.png", persons[0])}).json()["person_id"]
        for p, g in zip(paths, garments):
            cached = image(c.post("/v1/models/toy/tryon", data={"person_id": pid, "garment_id": content_key(p)}))
            full = image(c.post("/v1/models/toy/infer", files=pair(persons[0], g)))
            assert np.abs(full - cached).max() <= 1
        r = c.post("/v1/models/toy/tryon", data={"person_id": pid, "garment_id": "0" * 64})
        assert r.status_code == 404 and r.json()["detail"].startswith("unknown garment_id '000")


def test_unknown_expired_and_deleted_ids_are_404(split_export, uploads):
    persons, garments = uploads
    app = create_app({"toy": split_export}, warmup=False, catalogue={"person_ttl_s": 0.4})
    with TestClient(app) as c:
        g = {"garment": ("g.png", garments[0])}
        r = c.post("/v1/models/toy/tryon", data={"person_id": "nope"}, files=g)
        assert r.status_code == 404
        assert r.json()["detail"] == ("unknown or expired person_id 'nope' for model 'toy': POST /v1/persons the "
                                      "photo again")
        pid = c.post("/v1/persons", files={"person": ("p.png", persons[0])}).json()["person_id"]
        assert c.post("/v1/models/toy/tryon", data={"person_id": pid}, files=g).status_code == 200
        time.sleep(0.6)  # past the 0.4 s expiry
        assert c.post("/v1/models/toy/tryon", data={"person_id": pid}, files=g).status_code == 404
        pid = c.post("/v1/persons", files={"person": ("p.png", persons[0])}).json()["person_id"]
        assert c.delete(f"/v1/persons/{pid}").json() == {"deleted": pid}
        assert c.post("/v1/models/toy/tryon", data={"person_id": pid}, files=g).status_code == 404
        assert c.delete(f"/v1/persons/{pid}").status_code == 404
        # bad combinations are 422 naming the problem
        r = c.post("/v1/models/toy/tryon", data={"person_id": pid, "garment_id": "x"}, files=g)
        assert r.status_code == 422 and r.json()["detail"] == "expected exactly one of a garment file or a garment_id"
        r = c.post("/v1/models/toy/tryon", files=g)
        assert r.status_code == 422 and r.json()["missing"] == ["person_id"]
        r = c.post("/v1/models/nope/tryon", data={"person_id": pid}, files=g)
        assert r.status_code == 404 and "split models here are toy" in r.json()["detail"]


def test_person_cache_is_bounded_in_bytes():
    from tryon.serve.catalogue_routes import FeatureCache

    class F:
        nbytes = 400

    now = [0.0]
    cache = FeatureCache(1000, ttl_s=10, clock=lambda: now[0])
    for k in "abc":
        assert cache.put(k, "m", F(), (1, 1))
    assert len(cache) == 2 and cache.get("a") is None and cache.bytes == 800  # least recently used dropped
    now[0] = 5
    assert cache.get("b") is not None  # a use renews the expiry
    now[0] = 12
    assert cache.get("c") is None and cache.get("b") is not None and len(cache) == 1
    big = F()
    big.nbytes = 2000
    assert not cache.put("d", "m", big, (1, 1))
