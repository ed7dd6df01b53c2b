"""Weights saved before the plugin layout moved its pipelines still load: their ``config.json`` names the class by its
old module (``tryon_gan.pipeline``, ``tryon_gan.inversion.pipeline``, ``tryon_gan.editing_pipelines``), which no
longer imports; the loader builds the recorded task's factory instead."""

from __future__ import annotations

import json

import pytest
import torch

import tryon
from tryon_gan.pipelines import GanInpaintPipeline, GanInvertPipeline, GanPipeline

CASES = [
    ("gan-generate", "tryon_gan.pipeline:GanPipeline", lambda: GanPipeline(data_shape=[2], latent_dim=2, hidden=[4, 4])),
    ("gan-invert", "tryon_gan.inversion.pipeline:GanInvertPipeline",
     lambda: GanInvertPipeline(data_shape=[3, 16, 16], latent_dim=8, base=4, encoder_width=8)),
    ("gan-inpaint", "tryon_gan.editing_pipelines:GanInpaintPipeline",
     lambda: GanInpaintPipeline(data_shape=[3, 16, 16], latent_dim=8, base=4, encoder_width=8)),
]


@pytest.mark.parametrize(("task", "old", "build"), CASES, ids=[c[0] for c in CASES])
def test_weights_recording_an_old_class_path_load(task, old, build, tmp_path) -> None:
    torch.manual_seed(0)
    pipe = build()
    pipe.task = task
    pipe.save_pretrained(tmp_path)
    manifest = json.loads((tmp_path / "config.json").read_text())
    assert manifest["class"].startswith("tryon_gan.pipelines:") and manifest["task"] == task
    manifest["class"] = old  # what weights saved before the move record
    (tmp_path / "config.json").write_text(json.dumps(manifest))
    for loaded in (tryon.Pipeline.from_pretrained(tmp_path), tryon.load(task, weights=tmp_path, device="cpu")):
        assert type(loaded) is type(pipe) and loaded.task == task
        for name, module in pipe.components().items():
            got = loaded.components()[name].state_dict()
            assert all(torch.equal(v, got[k]) for k, v in module.state_dict().items()), name
