"""Pipeline weights: save/load round trip (bit-identical), clear errors for broken weight dirs."""

from __future__ import annotations

import json

import pytest
import torch

import tryon
from tryon.errors import WeightsError


class TinyPipe(tryon.Pipeline):
    def __init__(self, width: int = 4, size=(8, 6)):
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Conv2d(3, width, 3, padding=1), torch.nn.InstanceNorm2d(width, affine=True),
                                       torch.nn.Conv2d(width, 3, 1))
        self.head = torch.nn.Linear(2, 2)

    @torch.no_grad()
    def __call__(self, image):
        return self.net(image)


@pytest.fixture
def tiny_task(fresh_manager):
    class P:
        @tryon.hookimpl
        def tryon_register_tasks(self, registry):
            registry.register(tryon.TaskSpec(name="tiny", summary="test", factory=TinyPipe))

    fresh_manager.register(P(), name="tiny-plugin")
    return "tiny"


def test_round_trip_is_bit_identical(tiny_task, tmp_path):
    torch.manual_seed(0)
    pipe = tryon.load(tiny_task, width=5, device="cpu")
    x = torch.rand(2, 3, 8, 6) * 2 - 1
    ref = pipe(x)
    out = pipe.save_pretrained(tmp_path / "w")
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["task"] == "tiny" and cfg["config"] == {"width": 5, "size": [8, 6]}
    assert cfg["components"] == ["head", "net"] and cfg["class"].endswith(":TinyPipe")
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "head.safetensors", "net.safetensors"]
    torch.manual_seed(123)  # different init: weights must come from the files
    again = tryon.load(tiny_task, weights=out, device="cpu")
    assert again.config["width"] == 5
    assert torch.equal(again(x), ref)
    assert torch.equal(TinyPipe.from_pretrained(out)(x), ref)
    # overwriting keeps a complete directory
    pipe.save_pretrained(out)
    assert torch.equal(tryon.load(tiny_task, weights=out, device="cpu")(x), ref)


def test_load_and_from_pretrained_are_one_path_that_keeps_provenance(tiny_task, fresh_manager, tmp_path):
    """``tryon.load(task, weights=dir)`` and ``Pipeline.from_pretrained(dir)`` build the same pipeline, provenance
    included (callers read ``pipe.provenance``, never ``config.json`` a second time)."""
    import sys

    # the module defining TinyPipe counts as an installed plugin, so the base class may import it from the manifest
    fresh_manager.register(sys.modules[TinyPipe.__module__], name="tiny-module")
    pipe = tryon.load(tiny_task, width=5, device="cpu")
    pipe.provenance = {"data": "/data/scenes", "steps_done": 7}
    d = pipe.save_pretrained(tmp_path / "w")
    loaded = tryon.load(tiny_task, weights=d, device="cpu")
    pretrained = tryon.Pipeline.from_pretrained(d)
    assert loaded.provenance == pretrained.provenance == {"data": "/data/scenes", "steps_done": 7}
    assert type(loaded) is type(pretrained) is TinyPipe
    assert loaded.task == pretrained.task == "tiny" and loaded.config == pretrained.config
    assert all(torch.equal(a, b) for a, b in zip(loaded.net.state_dict().values(), pretrained.net.state_dict().values()))
    assert TinyPipe.from_pretrained(d).provenance == loaded.provenance
    assert tryon.load(tiny_task, device="cpu").provenance == {}  # no weights, no provenance
    # a class that moved since the weights were saved: the recorded task's factory builds the pipeline
    cfg = json.loads((d / "config.json").read_text())
    cfg["class"] = "tryon.no_such_module:TinyPipe"
    (d / "config.json").write_text(json.dumps(cfg))
    moved = tryon.Pipeline.from_pretrained(d)
    assert type(moved) is TinyPipe and moved.provenance == loaded.provenance


def test_weight_errors(tiny_task, tmp_path):
    pipe = tryon.load(tiny_task, device="cpu")
    d = pipe.save_pretrained(tmp_path / "w")
    with pytest.raises(WeightsError, match="no such directory"):
        tryon.load(tiny_task, weights=tmp_path / "missing")
    (d / "head.safetensors").unlink()
    with pytest.raises(WeightsError, match="expected head.safetensors"):
        tryon.load(tiny_task, weights=d)
    d2 = pipe.save_pretrained(tmp_path / "w2")
    with pytest.raises(WeightsError, match=r"were trained with width=4 \(asked: 7\); these settings must match"):
        tryon.load(tiny_task, weights=d2, width=7)
    (d2 / "net.safetensors").write_bytes(b"garbage")
    with pytest.raises(WeightsError, match="not a readable safetensors"):
        tryon.load(tiny_task, weights=d2)
    cfg = json.loads((d / "config.json").read_text())
    cfg["task"] = "other"
    (d / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(WeightsError, match="for task 'other'"):
        tryon.load(tiny_task, weights=d)


def test_from_pretrained_refuses_foreign_classes(tmp_path):
    d = tmp_path / "w"
    d.mkdir()
    (d / "config.json").write_text(json.dumps({"format": "tryon-pipeline", "class": "os:system", "config": {}}))
    with pytest.raises(WeightsError, match="not from tryon or an installed tryon plugin"):
        tryon.Pipeline.from_pretrained(d)


def test_cli_errors_are_one_line(capsys):
    from tryon.cli import main

    assert main(["tasks", "--json"]) == 0
    capsys.readouterr()
    code = main(["version"])
    assert code == 0 and "torch" in capsys.readouterr().out
