"""tryon.export.quantize_int8 variants: QDQ vs QOperator, u8/s8 activations, symmetric, reduce_range,
calibration methods, last layers kept float — recorded in the manifest, each with its parity figure."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

import tryon
import tryon.plugins
from tryon.errors import TryonError
from tryon.runtime import ImageModelSession


import tiny_tasks as tiny  # noqa: E402 - tests/ is on sys.path (conftest.py)


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    from tryon.export import export_onnx

    tiny.register_tiny_tasks()
    pipe = tryon.load("tiny-tryon", size=[32, 24])
    spec = tryon.get_task("tiny-tryon").exportable[0]
    out = tmp_path_factory.mktemp("int8") / "base"
    export_onnx(pipe, spec, out, parity_batches=(1,), task="tiny-tryon")
    yield out
    tryon.plugins.reset_manager()


def _calib(n=4):
    """Photo-like inputs (smooth, structured), normalised to [-1, 1]: int8 is judged on what users feed it."""
    def arr(seed):
        return (tiny.smooth_image(32, 24, seed).astype(np.float32) / 127.5 - 1).transpose(2, 0, 1)[None].copy()

    return [{"person": arr(i), "garment": arr(100 + i)} for i in range(n)]


def _variant(base, tmp_path, name, **kw):
    from tryon.export import quantize_int8

    d = tmp_path / name
    shutil.copytree(base, d)
    m = quantize_int8(d, _calib(), parity_batches=(1,), **kw)
    return d, m["models"]["int8"]


@pytest.mark.parametrize("kw, ops_present, ops_absent", [
    ({}, {"QuantizeLinear", "DequantizeLinear"}, {"QLinearConv"}),
    ({"activation_type": "int8", "calibration": "entropy"}, {"QuantizeLinear"}, {"QLinearConv"}),
    ({"quant_format": "qoperator", "activation_type": "uint8"}, {"QLinearConv"}, set()),
    ({"activation_type": "uint8", "symmetric_activations": True, "reduce_range": True, "calibration": "percentile"},
     {"QuantizeLinear"}, {"QLinearConv"}),
])
def test_variants_recorded_and_close(base, tmp_path, kw, ops_present, ops_absent):
    d, entry = _variant(base, tmp_path, "v", **kw)
    cal = entry["calibration"]
    assert cal["format"] == {"qdq": "QDQ", "qoperator": "QOperator"}[kw.get("quant_format", "qdq")]
    assert cal["activations"] == kw.get("activation_type", "uint8")
    assert cal["symmetric_activations"] == kw.get("symmetric_activations", False)
    assert cal["reduce_range"] == kw.get("reduce_range", False) and cal["method"].lower() == kw.get("calibration", "minmax")
    assert ops_present <= set(entry["ops"]) and not (ops_absent & set(entry["ops"]))
    par = entry["parity"]
    # judged by SSIM vs fp32 on photo-like images, not max abs error on noise: measured 0.990-0.998 (image) on
    # an AVX2 CPU without VNNI, the least accurate int8 path; 0.95 leaves a 5x margin in 1 - SSIM
    assert 0 < par["max_abs_error"] and par["min_ssim"] > 0.95
    feeds = _calib(1)[0]
    got = ImageModelSession(d, intra_op_threads=1, precision="int8").run_arrays(feeds)
    ref = ImageModelSession(d, intra_op_threads=1).run_arrays(feeds)
    assert 0 < float(np.abs(got["image"] - ref["image"]).max())


def test_keep_last_fp32_excludes_the_head(base, tmp_path):
    _, plain = _variant(base, tmp_path, "plain")
    _, kept = _variant(base, tmp_path, "kept", keep_last_fp32=1)
    assert kept["calibration"]["keep_last_fp32"] == 1
    assert kept["calibration"]["excluded_nodes"] == plain["calibration"]["excluded_nodes"] + 1
    # one Conv fewer wrapped in Q/DQ pairs
    assert kept["ops"].get("DequantizeLinear", 0) < plain["ops"].get("DequantizeLinear", 0)


def test_bad_options_give_one_error(base, tmp_path):
    from tryon.export import quantize_int8

    for kw, word in (({"quant_format": "qlinear"}, "quant_format"), ({"activation_type": "int4"}, "activation_type"),
                     ({"calibration": "kl"}, "calibration")):
        with pytest.raises(TryonError, match=word):
            quantize_int8(base, _calib(1), **kw)
    assert "int8" not in json.loads((base / "manifest.json").read_text())["models"]  # nothing half-written
