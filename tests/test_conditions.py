"""Export conditions (the values of a request option the weights were trained for, e.g. a try-on garment's
``category``): recorded in the manifest, refused in one line by every runtime surface — the session, the catalogue
and batch plans, ``tryon infer``, ``/v1`` and ``/v2`` — and not checked where nothing is recorded."""

from __future__ import annotations

import base64
import shutil

import numpy as np
import pytest

import serve_support as S
from tryon.deploy.manifest import check_conditions, read_manifest, write_manifest
from tryon.errors import InputError

pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    """The tiny try-on export as written (no conditions) and a copy that records ``category: [dress, upper]``."""
    plain = S.tiny_export(tmp_path_factory)
    upper = tmp_path_factory.mktemp("cond") / "tiny-upper"
    shutil.copytree(plain, upper)
    export_dir, manifest = read_manifest(upper)
    write_manifest(export_dir, {**manifest, "conditions": {"category": ["dress", "upper"]}})
    return plain, upper


def test_check_conditions_refuses_only_what_is_recorded() -> None:
    m = {"conditions": {"category": ["upper"]}}
    assert check_conditions(m, "E", category="upper") == {"category": "upper"}
    assert check_conditions(m, "E", category=None) == {}
    with pytest.raises(InputError, match=r"category: expected one of upper \(what the export E was trained on\), got 'lower'"):
        check_conditions(m, "E", category="lower")
    assert check_conditions({}, "E", category="anything") == {"category": "anything"}  # written before conditions
    assert check_conditions({"conditions": {}}, "E", category="lower") == {"category": "lower"}  # random weights


def test_session_refuses_a_category_before_running_and_ignores_it_otherwise(exports) -> None:
    from tryon.deploy.sessions import TryOnSession

    plain, upper = exports
    sess = TryOnSession(upper)
    ref = sess(S.PERSON, S.GARMENT)
    assert np.array_equal(sess(S.PERSON, S.GARMENT, category="upper"), ref)  # a check, not an input of the graph
    with pytest.raises(InputError, match="one of dress, upper"):
        sess(S.PERSON, S.GARMENT, category="lower")
    assert np.array_equal(TryOnSession(plain)(S.PERSON, S.GARMENT, category="lower"), ref)  # nothing recorded


def test_batch_plan_and_infer_refuse_before_writing(exports, tmp_path) -> None:
    from PIL import Image

    from tryon.cli import main
    from tryon.deploy.plan import plan_job

    _, upper = exports
    for d, arr in (("persons", S.PERSON), ("garments", S.GARMENT)):
        (tmp_path / d).mkdir()
        Image.fromarray(arr).save(tmp_path / d / "a.png")
    with pytest.raises(InputError, match="category"):
        plan_job(upper, tmp_path / "persons", tmp_path / "garments", tmp_path / "out", category="lower")
    assert plan_job(upper, tmp_path / "persons", tmp_path / "garments", tmp_path / "out", category="dress").pairs == [(0, 0)]
    assert not (tmp_path / "out").exists()
    code = main(["infer", "--model", str(upper), "--person", str(tmp_path / "persons" / "a.png"), "--garment",
                 str(tmp_path / "garments" / "a.png"), "--out", str(tmp_path / "o.png"), "--category", "lower"])
    assert code != 0 and not (tmp_path / "o.png").exists()


def test_serve_v1_and_v2_answer_422_naming_the_categories(exports) -> None:
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from tryon.serve import create_app

    _, upper = exports
    with TestClient(create_app({"tiny": upper})) as c:
        assert c.get("/v1/models/tiny").json()["conditions"] == {"category": ["dress", "upper"]}
        r = c.post(S.INFER, files=S.files(S.P_PNG, S.G_JPG), data={"category": "lower"})
        assert r.status_code == 422 and "one of dress, upper" in r.json()["detail"], r.text
        assert c.post(S.INFER, files=S.files(S.P_PNG, S.G_JPG), data={"category": "upper"}).status_code == 200
        body = {"inputs": [{"name": n, "shape": [1], "datatype": "BYTES", "data": [base64.b64encode(b).decode()]}
                           for n, b in (("person", S.P_PNG), ("garment", S.G_JPG))]}
        r = c.post("/v2/models/tiny/infer", json={**body, "parameters": {"category": "lower"}})
        assert r.status_code == 422 and "parameters.category" in r.json()["error"], r.text
        assert c.post("/v2/models/tiny/infer", json={**body, "parameters": {"category": "dress"}}).status_code == 200


def test_export_records_the_specs_conditions_and_refuses_malformed_ones(tmp_path) -> None:
    import dataclasses

    import tiny_tasks as tiny
    import tryon
    import tryon.plugins
    from tryon.errors import TryonError
    from tryon.export import export_onnx

    tiny.register_tiny_tasks()
    try:
        pipe = tryon.load("tiny-tryon", device="cpu")
        spec = tryon.get_task("tiny-tryon").exportable[0]
        manifest = export_onnx(pipe, dataclasses.replace(spec, conditions=lambda p: {"category": ["upper", "dress"]}),
                               tmp_path / "ok", parity_batches=(1,))
        assert manifest["conditions"] == {"category": ["dress", "upper"]}
        assert read_manifest(tmp_path / "ok")[1]["conditions"] == {"category": ["dress", "upper"]}
        with pytest.raises(TryonError, match="ExportSpec.conditions must return"):
            export_onnx(pipe, dataclasses.replace(spec, conditions=lambda p: {"category": "upper"}), tmp_path / "bad",
                        parity_batches=(1,))
        assert not (tmp_path / "bad").exists()
        assert export_onnx(pipe, spec, tmp_path / "none", parity_batches=(1,))["conditions"] == {}
    finally:
        tryon.plugins.reset_manager()
