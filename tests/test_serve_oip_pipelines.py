"""The iterative torch tasks behind ``tryon serve``'s Open Inference Protocol (issue 28 §2): EdiBERT inpainting and
denoising and GAN-inversion inpainting as v2 models, driven by ``tritonclient.http``, with a per-request step
budget and deadline.

The pipelines are small random-weight ones (the plugins' test sizes: 32×32 images, 8×8 tokens; a 16×16 GAN) written
with ``save_pretrained`` and served from those folders (``--pipeline NAME=TASK:WEIGHTS_DIR``); each output is
compared with the same pipeline, loaded from the same folder, called locally on the same pixels — exactly (PNG is
lossless, the seeds are the request's). Skipped when the plugins are not installed.
"""

from __future__ import annotations

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
pytest.importorskip("prometheus_client")
pytest.importorskip("tritonclient.http")
pytest.importorskip("torch")

import dataclasses
import io
import sys
import time

import numpy as np
import torch
import tritonclient.http as httpclient
from PIL import Image
from tritonclient.utils import InferenceServerException

import tryon
from tryon.errors import TryonError
from tryon.plugins import tasks
from tryon.serve import create_app
from tryon.serve.pipelines import ADAPTERS, parse_pipeline_specs

import serve_support as S  # noqa: E402 - tests/ is on sys.path (tests/conftest.py)

EDIBERT = {"n_codes": 64, "embed_dim": 16, "ch": 16, "ch_mult": [1, 2, 2], "width": 64, "layers": 2, "heads": 4,
           "max_grid": [16, 16]}
GAN = {"data_shape": [3, 16, 16], "latent_dim": 8, "base": 4, "encoder_width": 8}
IMAGE = S.tiny.smooth_image(32, 32, 7)
MASK = np.zeros((32, 32), np.uint8)
MASK[8:20, 10:24] = 255


def _plugin_tasks(*names: str) -> None:
    have = set(tasks().names())
    missing = [n for n in names if n not in have]
    if missing:
        pytest.skip(f"plugin tasks {missing} are not installed")


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    _plugin_tasks("edibert-inpaint", "edibert-denoise", "gan-inpaint")
    root = tmp_path_factory.mktemp("pipelines")
    torch.manual_seed(0)
    tryon.load("edibert-inpaint", device="cpu", **EDIBERT).save_pretrained(root / "edibert")
    tryon.load("gan-inpaint", device="cpu", **GAN).save_pretrained(root / "gan")
    return {"edibert": str(root / "edibert"), "gan": str(root / "gan")}


@pytest.fixture(scope="module")
def served(weights):
    specs = {"inpaint": f"edibert-inpaint:{weights['edibert']}", "denoise": f"edibert-denoise:{weights['edibert']}",
             "gan": f"gan-inpaint:{weights['gan']}"}
    app = create_app({}, pipelines=parse_pipeline_specs([f"{k}={v}" for k, v in specs.items()]), max_steps=12,
                     max_batch=2)
    with S.running_server(app) as (_, port):
        c = httpclient.InferenceServerClient(f"127.0.0.1:{port}", network_timeout=60.0)
        yield app, c
        c.close()


def bytes_input(name: str, blobs: list[bytes]):
    t = httpclient.InferInput(name, [len(blobs)], "BYTES")
    t.set_data_from_numpy(np.array(blobs, dtype=np.object_), binary_data=True)
    return t


def images(result) -> list[np.ndarray]:
    return [np.asarray(Image.open(io.BytesIO(b))) for b in result.as_numpy("image").ravel()]


def local(task: str, folder: str, **call):
    torch.manual_seed(0)
    return tryon.load(task, weights=folder, device="cpu")(**call)


def test_pipelines_are_listed_and_described(served):
    _, c = served
    assert [m["name"] for m in c.get_model_repository_index()] == ["inpaint", "denoise", "gan"]
    for name, inputs in (("inpaint", ["image", "mask"]), ("denoise", ["image"]), ("gan", ["image", "mask"])):
        md = c.get_model_metadata(name)
        assert [i["name"] for i in md["inputs"]] == inputs  # the tasks' TaskSpec.inputs
        assert md["outputs"] == [{"name": "image", "datatype": "BYTES", "shape": [-1]}] and md["platform"] == "pytorch"
        assert "at most 12" in md["parameters"]["steps"] and c.is_model_ready(name)


def test_edibert_inpaint_and_denoise_equal_the_local_pipeline(served, weights):
    _, c = served
    png, mask_png = S.encode(IMAGE), S.encode(MASK)
    r = c.infer("inpaint", [bytes_input("image", [png, png]), bytes_input("mask", [mask_png, mask_png])],
                parameters={"steps": 3, "seed": 5})
    mask01 = (MASK > 0).astype(np.float32)
    ref = local("edibert-inpaint", weights["edibert"], image=[IMAGE, IMAGE], mask=[mask01, mask01], sampler="maskgit",
                sampler_options={"steps": 3}, optim_steps=0, seed=5)
    out = images(r)
    assert len(out) == 2 and all(np.array_equal(a, b) for a, b in zip(out, ref))
    # outside the mask and its 3-pixel seam band the input's pixels are pasted back bit for bit: 664 of the 856
    # pixels outside this 12×14 mask lie beyond the band (0.78), so more than half of them equal the input
    assert (out[0][MASK == 0] == IMAGE[MASK == 0]).mean() > 0.5
    r = c.infer("denoise", [bytes_input("image", [png])], parameters={"steps": 4})
    ref = local("edibert-denoise", weights["edibert"], image=[IMAGE], steps=4, seed=0).image
    assert np.array_equal(images(r)[0], ref[0])


def test_gan_inpaint_equals_the_local_pipeline(served, weights):
    _, c = served
    img = S.tiny.smooth_image(20, 24, 8)
    mask = np.zeros((20, 24), np.uint8)
    mask[4:12, 6:16] = 255
    r = c.infer("gan", [bytes_input("image", [S.encode(img)]), bytes_input("mask", [S.encode(mask)])],
                parameters={"steps": 6})
    ref = local("gan-inpaint", weights["gan"], image=[img], mask=[(mask > 0).astype(np.float32)], steps=6, seed=0)
    out = images(r)[0]
    assert out.shape == (20, 24, 3) and np.array_equal(out, ref[0])


def test_step_budget_and_deadline(served):
    app, c = served
    png, mask_png = S.encode(IMAGE), S.encode(MASK)
    inputs = [bytes_input("image", [png]), bytes_input("mask", [mask_png])]
    with pytest.raises(InferenceServerException) as info:
        c.infer("inpaint", inputs, parameters={"steps": 13})
    assert info.value.status() == "400"
    assert info.value.message() == "parameters.steps: expected an integer from 1 to 12 (the server's --max-steps), got 13"
    # a 1 µs timeout: the deadline has passed before the first model forward → 504, counted
    with pytest.raises(InferenceServerException) as info:
        c.infer("gan", inputs, timeout=1)
    assert info.value.status() == "504" and info.value.message().startswith("deadline exceeded: the request's 1e-06 s")
    assert app.state.tryon.metrics.value("tryon_serve_rejected_total", reason="deadline") == 1
    # the forwards are counted at the model: a run past its planned forwards is stopped
    model = app.state.tryon.extras["oip_models"]["denoise"]
    real = model.adapter
    model.adapter = dataclasses.replace(real, forwards=lambda s: 2)
    try:
        with pytest.raises(InferenceServerException) as info:
            c.infer("denoise", [bytes_input("image", [png])], parameters={"steps": 4})
        assert info.value.status() == "500" and "step budget exceeded" in info.value.message()
    finally:
        model.adapter = real
    c.infer("denoise", [bytes_input("image", [png])], parameters={"steps": 4})  # and the pipeline is fine after


def test_planned_forwards_match_the_tasks(served):
    """The budgets of ADAPTERS are the forwards the tasks really run (counted by the same hook)."""
    app, c = served
    counts = {}
    for name, call in (("inpaint", {"steps": 3}), ("denoise", {"steps": 4}), ("gan", {"steps": 6})):
        model = app.state.tryon.extras["oip_models"][name]
        real = model.adapter
        seen = {}

        def forwards(s, real=real, seen=seen):
            seen["budget"] = real.forwards(s)
            return 10**6

        model.adapter = dataclasses.replace(real, forwards=forwards)
        guard_cls = sys.modules["tryon.serve.pipelines"].StepGuard
        ticks = []
        orig = guard_cls.tick

        def tick(self, orig=orig, ticks=ticks):
            ticks.append(1)
            return orig(self)

        guard_cls.tick = tick
        try:
            inputs = [bytes_input("image", [S.encode(IMAGE)])] + ([bytes_input("mask", [S.encode(MASK)])]
                                                                 if name != "denoise" else [])
            c.infer(name, inputs, parameters=call)
        finally:
            guard_cls.tick = orig
            model.adapter = real
        counts[name] = (len(ticks) - 1, seen["budget"])  # the first tick is the deadline check before the run
    assert counts == {"inpaint": (6, 6), "denoise": (5, 5), "gan": (9, 9)}, counts


def test_the_deadline_stops_a_run_between_forwards():
    """The guard the forward hook calls: forwards within the budget pass until the deadline, then 504."""
    from tryon.serve.handling import HTTPError
    from tryon.serve.pipelines import StepGuard

    guard = StepGuard(max_forwards=100, deadline=time.monotonic() + 0.2, deadline_s=0.2, steps=50)
    for _ in range(3):
        guard.tick()
    time.sleep(0.25)  # past the 0.2 s deadline
    with pytest.raises(HTTPError) as info:
        guard.tick()
    assert info.value.status == 504 and info.value.reason == "deadline"
    assert "ran out after 3 model forwards of at most 100 (steps=50)" in info.value.detail


def test_pipeline_specs_and_names():
    assert parse_pipeline_specs(["a=edibert-inpaint:/w"]) == {"a": "edibert-inpaint:/w"}
    for bad in ("edibert-inpaint:/w", "a=edibert-inpaint", "a=:/w"):
        with pytest.raises(TryonError, match="expected NAME=TASK:WEIGHTS_DIR"):
            parse_pipeline_specs([bad])
    with pytest.raises(TryonError, match="no such weights folder"):
        create_app({}, pipelines={"x": "edibert-inpaint:/nonexistent"})
    assert set(ADAPTERS) >= {"edibert-inpaint", "edibert-denoise", "gan-inpaint"}
