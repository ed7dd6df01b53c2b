"""The inversion encoder (and encoder + generator as one graph) exports through the core's ONNX path, matches
torch within 1e-4 and runs in ``tryon.runtime`` in a process where torch cannot be imported."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

from tryon.export.onnx import export_onnx  # noqa: E402
from tryon_gan.pipelines import ENCODER_EXPORT, PROJECTOR_EXPORT, GanInvertPipeline  # noqa: E402


@pytest.fixture(scope="module")
def pipe():
    torch.manual_seed(0)
    return GanInvertPipeline(data_shape=[3, 16, 16], latent_dim=8, arch="conv", base=4, encoder_width=8).eval()


NO_TORCH = r"""
import sys, json
import numpy as np
sys.modules["torch"] = None  # any `import torch` now fails
from tryon.runtime import ImageModelSession
out = {}
data = np.load(sys.argv[2])
for name in sys.argv[1].split(","):
    sess = ImageModelSession(name)
    res = sess.run_arrays(image=data["image"], mask=data["mask"])
    out[name] = {k: v.tolist() for k, v in res.items()}
print(json.dumps(out))
"""


def test_encoder_and_projector_export_match_torch_and_run_without_torch(pipe, tmp_path):
    enc_dir, proj_dir = tmp_path / "enc", tmp_path / "proj"
    m1 = export_onnx(pipe, ENCODER_EXPORT, enc_dir, parity_batches=(1, 3))
    m2 = export_onnx(pipe, PROJECTOR_EXPORT, proj_dir, parity_batches=(1, 3))
    for p in (m1["parity"], m2["parity"]):  # the ISA-independent criterion (tryon.export.parity), float64 reference
        assert p["criterion"] == "float64" and all(p["error_vs_float64"][n] <= p["bound"][n] for n in p["bound"])
    assert [o["name"] for o in m2["outputs"]] == ["reconstruction", "latent"]

    g = torch.Generator().manual_seed(7)
    image = torch.rand(2, 3, 16, 16, generator=g) * 2 - 1
    mask = torch.zeros(2, 1, 16, 16)
    mask[1, :, 4:12, 4:12] = 1
    with torch.no_grad():
        z = pipe.encoder(image, mask)
        recon = pipe.generator(z)
    feeds = tmp_path / "feeds.npz"
    np.savez(feeds, image=image.numpy(), mask=mask.numpy())
    proc = subprocess.run([sys.executable, "-c", NO_TORCH, f"{enc_dir},{proj_dir}", str(feeds)], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    # torch-free runtime vs torch: each within the export's bound of the float64 run, so within twice the
    # largest bound of each other (triangle inequality)
    tol = 2 * max(max(m["parity"]["bound"].values()) for m in (m1, m2))
    assert np.abs(np.array(got[str(enc_dir)]["latent"]) - z.numpy()).max() <= tol
    assert np.abs(np.array(got[str(proj_dir)]["latent"]) - z.numpy()).max() <= tol
    assert np.abs(np.array(got[str(proj_dir)]["reconstruction"]) - recon.numpy()).max() <= tol
