"""ONNX export core (tryon.export): parity, manifest, failure modes, fp16 and int8 variants.

Uses a tiny in-process test task ("tiny-tryon": two images person/garment → a small conv net with an
InstanceNorm2d and an F.grid_sample whose base grid is built from arange/meshgrid). test_runtime.py and
test_bench.py load the task definitions from this file.
"""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import tryon
import tryon.export
import tryon.plugins
from tryon.errors import TryonError
from tryon.io import as_batch, restore


# ------------------------------------------------------------------------------------------------
# the tiny test task (no try-on knowledge in the core: it reaches the export only through its specs)
# ------------------------------------------------------------------------------------------------
class TinyNet(nn.Module):
    def __init__(self, width: int = 8):
        super().__init__()
        self.enc = nn.Sequential(
            nn.Conv2d(6, width, 3, padding=1), nn.InstanceNorm2d(width, affine=True), nn.ReLU(),
            nn.Conv2d(width, width, 3, padding=1), nn.ReLU(),
        )
        self.flow = nn.Conv2d(width, 2, 3, padding=1)
        self.out = nn.Conv2d(width + 3, 3, 3, padding=1)

    def forward(self, person, garment):
        h = self.enc(torch.cat([person, garment], 1))
        flow = torch.tanh(self.flow(h)) * 0.1
        _, _, H, W = person.shape
        ys = (torch.arange(H, dtype=person.dtype, device=person.device) * 2 + 1) / H - 1
        xs = (torch.arange(W, dtype=person.dtype, device=person.device) * 2 + 1) / W - 1
        gy, gx = torch.meshgrid(ys, xs, indexing="ij")
        grid = torch.stack([gx, gy], -1)[None] + flow.permute(0, 2, 3, 1)
        warped = F.grid_sample(garment, grid, mode="bilinear", padding_mode="border", align_corners=False)
        return torch.tanh(self.out(torch.cat([h, warped], 1))), warped


class BadNet(nn.Module):
    """Not exportable: torch.linalg.solve has no ONNX op in either exporter (deps.md §4)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 1)

    def forward(self, person, garment):
        a = torch.eye(3) + 0.1 * person.mean((2, 3))[..., None]
        x = torch.linalg.solve(a, garment.mean((2, 3))[..., None])
        return self.conv(person) + x[..., None], garment


class TinyPipeline(tryon.Pipeline):
    def __init__(self, size=(64, 48), width: int = 8, seed: int = 0, bad: bool = False):
        super().__init__()
        self.size = (int(size[0]), int(size[1]))
        torch.manual_seed(seed)
        self.net = (BadNet() if bad else TinyNet(width)).eval()

    def __call__(self, person, garment):
        pb = as_batch(person, name="person", size=self.size)
        gb = as_batch(garment, name="garment", size=self.size)
        if len(gb) == 1 and len(pb) > 1:
            gb.tensor = gb.tensor.expand(len(pb), -1, -1, -1)
        with torch.inference_mode():
            img, _ = self.net(pb.tensor.to(self.device), gb.tensor.to(self.device))
        return restore(img.cpu(), pb)


def example_inputs(pipe, batch):
    g = torch.Generator().manual_seed(1)
    h, w = pipe.size
    return {"person": torch.rand(batch, 3, h, w, generator=g) * 2 - 1,
            "garment": torch.rand(batch, 3, h, w, generator=g) * 2 - 1}


def _task(name, **factory_kw):
    spec = tryon.ExportSpec("generator", build=lambda p: p.net, example_inputs=example_inputs,
                            outputs=("image", "warped"), min_opset=16)
    return tryon.TaskSpec(name=name, summary="tiny test task", factory=lambda **kw: TinyPipeline(**{**factory_kw, **kw}),
                          inputs=("person", "garment"), outputs=("image",), exportable=(spec,),
                          bench_inputs=example_inputs)


class TinyPlugin:
    @tryon.hookimpl
    def tryon_register_tasks(self, registry):
        registry.register(_task("tiny-tryon"))
        registry.register(_task("tiny-wide", width=16))
        registry.register(_task("tiny-bad", bad=True))


def register_tiny_tasks():
    tryon.plugins.reset_manager(autoload=False)
    assert tryon.plugins.get_manager().register(TinyPlugin(), name="tiny-test-plugin")


def smooth_image(h, w, seed=0):
    """A photo-like (smooth, structured) uint8 image."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    chans = [np.sin(xx / (5 + 7 * rng.random()) + rng.random() * 6) * np.cos(yy / (4 + 9 * rng.random())) for _ in range(3)]
    return ((np.stack(chans, -1) * 0.5 + 0.5) * 255).round().astype(np.uint8)


# ------------------------------------------------------------------------------------------------
# fixtures
# ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_tasks():
    register_tiny_tasks()
    yield
    tryon.plugins.reset_manager()


@pytest.fixture(scope="module")
def export64(tiny_tasks, tmp_path_factory):
    """An fp32 + fp16 export at 64×48 with real-looking check images."""
    from skimage import data

    torch.manual_seed(0)
    pipe = tryon.load("tiny-tryon", device="cpu")
    out = tmp_path_factory.mktemp("exports") / "tiny"
    check = {"person": [data.astronaut(), smooth_image(90, 70, 1)], "garment": [data.coffee(), smooth_image(50, 40, 2)]}
    manifest = tryon.export.export_onnx(pipe, None, out, fp16=True, parity_batches=(1, 3), check_inputs=check)
    return out, manifest, pipe


# ------------------------------------------------------------------------------------------------
# tests
# ------------------------------------------------------------------------------------------------
def test_export_parity_at_64x48(export64):
    out, m, pipe = export64
    p = m["parity"]
    assert p["tolerance"] == 1e-4
    assert set(p["by_batch"]) == {"1", "3"}
    for kinds in p["by_batch"].values():
        assert set(kinds) == {"random", "example", "check"}
        assert all(0 <= e <= 1e-4 for e in kinds.values())
    assert set(p["by_output"]) == {"image", "warped"}
    assert 0 < p["max_abs_error"] <= 1e-4  # > 0: the comparison really ran on two different engines

    # the dynamic batch works beyond the parity batches
    import onnxruntime as ort

    sess = ort.InferenceSession(str(out / "model.onnx"), providers=["CPUExecutionProvider"])
    x = example_inputs(pipe, 5)
    got = sess.run(None, {k: v.numpy() for k, v in x.items()})
    with torch.inference_mode():
        ref = pipe.net(*x.values())
    assert got[0].shape == (5, 3, 64, 48)
    assert np.abs(got[0] - ref[0].numpy()).max() < 1e-4


def test_export_second_size_and_min_opset(tiny_tasks, tmp_path):
    pipe = tryon.load("tiny-tryon", device="cpu", size=(48, 32))
    m = tryon.export.export_onnx(pipe, "generator", tmp_path / "e48", opset=15, parity_batches=(1, 3))
    assert m["resolution"] == [48, 32]
    assert m["inputs"][0]["shape"] == ["batch", 3, 48, 32]
    assert m["opset_requested"] == 16  # raised to ExportSpec.min_opset (GridSample)
    import onnx

    model = onnx.load(str(tmp_path / "e48" / "model.onnx"))
    assert m["opset"] == next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) >= 16
    assert max(m["parity"]["by_batch"]["3"].values()) <= 1e-4
    dim0 = model.graph.input[0].type.tensor_type.shape.dim[0]
    assert dim0.dim_param == "batch"


def test_manifest_fields(export64):
    out, m, _ = export64
    on_disk = json.loads((out / "manifest.json").read_text())
    assert on_disk == m
    for key in ("task", "component", "inputs", "outputs", "normalisation", "resolution", "opset", "exporter", "parity",
                "fp16", "versions", "sha256", "date", "ops", "models", "dynamic_batch"):
        assert key in m, key
    assert (m["task"], m["component"]) == ("tiny-tryon", "generator")
    assert [i["name"] for i in m["inputs"]] == ["person", "garment"]
    assert [o["name"] for o in m["outputs"]] == ["image", "warped"]
    assert m["inputs"][1]["shape"] == ["batch", 3, 64, 48]
    assert m["resolution"] == [64, 48]
    assert m["normalisation"]["range"] == [-1.0, 1.0]
    assert m["exporter"] in ("dynamo", "torchscript")
    assert m["opset"] >= 16
    assert {"torch", "onnx", "onnxruntime", "tryon"} <= set(m["versions"])
    assert m["ops"]["GridSample"] == 1 and m["ops"]["InstanceNormalization"] == 1
    import hashlib

    assert m["sha256"] == hashlib.sha256((out / "model.onnx").read_bytes()).hexdigest()
    assert m["models"]["fp32"]["default"] is True and m["models"]["fp32"]["file"] == "model.onnx"
    card = (out / "MODEL_CARD.md").read_text()
    assert "Parity" in card and "tiny-tryon" in card
    assert sorted(p.name for p in out.iterdir()) == ["MODEL_CARD.md", "manifest.json", "model.onnx", "model_fp16.onnx"]


def test_fp16_variant(export64):
    import onnx
    from onnx import TensorProto

    out, m, _ = export64
    e = m["models"]["fp16"]
    assert m["fp16"] is True and e["file"] == "model_fp16.onnx" and e["default"] is False
    model = onnx.load(str(out / "model_fp16.onnx"))
    # keep_io_types: inputs and outputs stay float32, weights are float16
    assert all(v.type.tensor_type.elem_type == TensorProto.FLOAT for v in list(model.graph.input) + list(model.graph.output))
    assert any(i.data_type == TensorProto.FLOAT16 for i in model.graph.initializer)
    # GridSample runs in fp32: both its inputs are produced in float32
    types = {v.name: v.type.tensor_type.elem_type for v in onnx.shape_inference.infer_shapes(model).graph.value_info}
    types.update({v.name: v.type.tensor_type.elem_type for v in model.graph.input})
    gs = next(n for n in model.graph.node if n.op_type == "GridSample")
    assert [types[i] for i in gs.input] == [TensorProto.FLOAT, TensorProto.FLOAT]
    par = e["parity"]
    assert par["provider"] == "CPUExecutionProvider" and "CPU" in e["note"]
    assert 1e-5 < par["max_abs_error"] < 1e-2  # fp16 is measurably worse than fp32, but close
    assert set(par["by_batch"]) == {"1", "3"}
    assert "GridSample" in e["policy"]["op_block_list_present"]
    assert e["policy"]["fp32_grid_nodes"] >= 1
    # the fp32 file is untouched
    assert m["sha256"] == m["models"]["fp32"]["sha256"]


def test_int8_variant(export64, tmp_path):
    from skimage import data

    src, _, _ = export64
    out = tmp_path / "int8"
    shutil.copytree(src, out)
    calib = [{"person": smooth_image(64, 48, i), "garment": smooth_image(64, 48, 10 + i)} for i in range(4)]
    calib.append({"person": data.astronaut(), "garment": data.coffee()})
    m = tryon.export.quantize_int8(out, calib)
    e = m["models"]["int8"]
    assert (out / "model_int8.onnx").is_file() and e["file"] == "model_int8.onnx"
    assert e["ops"].get("QuantizeLinear", 0) > 0 and e["ops"].get("DequantizeLinear", 0) > 0
    assert e["calibration"]["samples"] == 5 and e["calibration"]["format"] == "QDQ" and e["calibration"]["per_channel"]
    par = e["parity"]
    assert set(par["by_batch"]["1"]) == {"random", "calibration"}
    assert 0 < par["mean_abs_error"] < 0.05
    assert 0 < par["max_abs_error"] < 1.0
    assert m["models"]["fp32"]["default"] is True and e["default"] is False
    assert json.loads((out / "manifest.json").read_text())["models"]["int8"]["sha256"] == e["sha256"]
    assert "int8" in (out / "MODEL_CARD.md").read_text()


def test_non_exportable_model_gives_one_error_and_no_folder(tiny_tasks, tmp_path):
    pipe = tryon.load("tiny-bad", device="cpu")
    out = tmp_path / "bad"
    with pytest.raises(TryonError) as info:
        tryon.export.export_onnx(pipe, None, out)
    msg = str(info.value)
    assert "linalg" in msg and "dynamo" in msg and "torchscript" in msg
    assert not out.exists()
    assert os.listdir(tmp_path) == []  # no temporary leftovers either


def test_parity_failure_leaves_previous_export_untouched(tiny_tasks, tmp_path):
    pipe = tryon.load("tiny-tryon", device="cpu", size=(32, 24))
    out = tmp_path / "exp"
    out.mkdir()
    (out / "marker.txt").write_text("previous export")
    with pytest.raises(TryonError) as info:
        tryon.export.export_onnx(pipe, None, out, parity_batches=(1,), tolerance=1e-12)
    msg = str(info.value)
    assert "parity" in msg and ("'image'" in msg or "'warped'" in msg) and "batch 1" in msg
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exp"]
    assert sorted(p.name for p in out.iterdir()) == ["marker.txt"]


def test_torchscript_fallback_is_recorded(tiny_tasks, tmp_path, monkeypatch):
    real_export = torch.onnx.export

    def dynamo_broken(*args, **kwargs):
        if kwargs.get("dynamo", True):
            raise RuntimeError("simulated dynamo failure")
        return real_export(*args, **kwargs)

    monkeypatch.setattr(torch.onnx, "export", dynamo_broken)
    pipe = tryon.load("tiny-tryon", device="cpu", size=(32, 24))
    m = tryon.export.export_onnx(pipe, None, tmp_path / "ts", parity_batches=(1, 3))
    assert m["exporter"] == "torchscript"
    assert "simulated dynamo failure" in m["exporter_fallback_reason"]
    assert m["opset"] == 17 and max(m["parity"]["by_batch"]["3"].values()) <= 1e-4
    assert m["inputs"][0]["shape"][0] == "batch"


def test_export_import_is_light():
    import subprocess
    import sys

    code = "import tryon.export, tryon.export.cli, sys; assert 'torch' not in sys.modules, 'torch imported'; print('ok')"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "ok" in r.stdout, r.stderr
