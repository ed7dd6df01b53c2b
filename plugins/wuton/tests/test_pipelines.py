"""WUTON pipelines and task specs: input kinds/sizes, batches, details, weights round trip, registry, CLI."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

import tryon
from tryon.errors import InputError
from tryon.registry import TaskRegistry
from tryon.wiring import PluginHooks
from tryon_wuton.cli import parse_size, register_cli
from tryon_wuton.pipelines import TryOnResult, WutonStudentPipeline, WutonTeacherPipeline
from tryon_wuton.plugin import hooks
from tryon_wuton.specs import task_specs

SIZE = (64, 48)


def _arr(h: int, w: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 255, (h, w, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def student() -> WutonStudentPipeline:
    torch.manual_seed(0)
    pipe = WutonStudentPipeline(size=SIZE)
    with torch.no_grad():  # a non-identity θ, so warped garments are not the input
        pipe.generator.matcher.regressor.fc.bias.copy_(torch.randn(50) * 0.2)
    return pipe.eval()


@pytest.fixture(scope="module")
def teacher() -> WutonTeacherPipeline:
    torch.manual_seed(1)
    return WutonTeacherPipeline(size=SIZE).eval()


def test_any_kind_and_size_in_same_kind_and_size_out(student: WutonStudentPipeline) -> None:
    person, garment = _arr(120, 80, 0), _arr(50, 50, 1)  # neither at the model size nor its aspect ratio
    out = student(person=person, garment=garment)
    assert isinstance(out, np.ndarray) and out.shape == (120, 80, 3) and out.dtype == np.uint8
    pil = student(person=Image.fromarray(person), garment=Image.fromarray(garment))
    assert isinstance(pil, Image.Image) and pil.size == (80, 120)
    assert np.array_equal(np.asarray(pil), out)
    t = student(person=torch.rand(2, 3, *SIZE) * 2 - 1, garment=torch.rand(2, 3, *SIZE) * 2 - 1)
    assert t.shape == (2, 3, *SIZE) and float(t.abs().max()) <= 1.0


def test_batches_and_garment_broadcast(student: WutonStudentPipeline) -> None:
    persons = [_arr(64, 48, 2), _arr(100, 60, 3), _arr(64, 48, 4)]
    g = _arr(64, 48, 5)
    outs = student(person=persons, garment=g)  # one garment on every person
    assert isinstance(outs, list) and [o.shape for o in outs] == [(64, 48, 3), (100, 60, 3), (64, 48, 3)]
    singles = [student(person=p, garment=g) for p in persons]
    for a, b in zip(outs, singles):
        assert np.abs(a.astype(int) - b.astype(int)).max() <= 1  # batched == one by one
    with pytest.raises(InputError):
        student(person=persons, garment=[g, g])
    with pytest.raises(InputError):
        student(person=None, garment=g)


def test_return_details(student: WutonStudentPipeline, teacher: WutonTeacherPipeline) -> None:
    p, g = torch.rand(2, 3, *SIZE) * 2 - 1, torch.rand(2, 3, *SIZE) * 2 - 1
    r = student(person=p, garment=g, return_details=True)
    assert isinstance(r, TryOnResult)
    assert r.image.shape == r.warped_garment.shape == (2, 3, *SIZE) and r.theta.shape == (2, 50)
    assert r.agnostic is None and r.parse is None
    assert torch.allclose(r.image, student(person=p, garment=g))
    # θ ≠ 0 moves the garment: measured max change 2 (the full [-1, 1] range) against 1e-3, far above the ~2e-6
    # of a zero-θ warp (test_models)
    assert not torch.allclose(r.warped_garment, g, atol=1e-3)
    rt = teacher(person=p, garment=g, return_details=True)
    assert rt.agnostic.shape == (2, 3, *SIZE) and rt.parse.shape == (2, *SIZE)


def test_teacher_uses_parser_and_agnostic_override(teacher: WutonTeacherPipeline) -> None:
    p, g = torch.rand(1, 3, *SIZE) * 2 - 1, torch.rand(1, 3, *SIZE) * 2 - 1
    r = teacher(person=p, garment=g, return_details=True)
    from tryon_wuton.agnostic import make_agnostic

    with torch.no_grad():
        parse = teacher.parser(p).argmax(1)
        ref, _ = teacher.generator(make_agnostic(p, parse), g)
    assert torch.equal(r.parse, parse) and torch.allclose(r.image, ref.clamp(-1, 1))
    p_star = torch.zeros_like(p)
    out = teacher(person=p, garment=g, agnostic=p_star)
    with torch.no_grad():
        ref2, _ = teacher.generator(p_star, g)
    assert torch.allclose(out, ref2.clamp(-1, 1))


@pytest.mark.parametrize("cls", [WutonStudentPipeline, WutonTeacherPipeline])
def test_save_load_round_trip_is_bit_identical(cls, tmp_path) -> None:
    torch.manual_seed(3)
    pipe = cls(size=SIZE)
    with torch.no_grad():
        pipe.generator.matcher.regressor.fc.bias.copy_(torch.randn(50) * 0.2)
    pipe.eval()
    p, g = torch.rand(2, 3, *SIZE) * 2 - 1, torch.rand(2, 3, *SIZE) * 2 - 1
    ref = pipe(person=p, garment=g, return_details=True)
    pipe.save_pretrained(tmp_path / "w")
    loaded = tryon.Pipeline.from_pretrained(tmp_path / "w")
    assert type(loaded) is cls and loaded.size == SIZE
    got = loaded(person=p, garment=g, return_details=True)
    assert torch.equal(ref.image, got.image) and torch.equal(ref.theta, got.theta)


def test_config_round_trips_through_json_and_provenance_stays_out_of_it(tmp_path) -> None:
    """Constructor arguments are recorded by tryon.Pipeline (lists, as JSON gives them back); provenance is
    saved beside them and never passed back to the constructor."""
    pipe = WutonStudentPipeline(size=(64, 48), depths=(16, 32, 64, 128, 256))
    assert pipe.config == {"size": (64, 48), "depths": (16, 32, 64, 128, 256), "grid_size": 5, "plain_ends": True}
    pipe.provenance = {"data": "somewhere", "steps_done": 7}
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "metrics.csv").write_text("step,loss\n")
    pipe.save_pretrained(run, keep_other_files=True)  # a training run folder keeps its other files
    assert (run / "metrics.csv").is_file() and (run / "checkpoints").is_dir()
    manifest = json.loads((run / "config.json").read_text())
    assert manifest["config"] == {"size": [64, 48], "depths": [16, 32, 64, 128, 256], "grid_size": 5, "plain_ends": True}
    assert manifest["training"] == {"data": "somewhere", "steps_done": 7} and manifest["task"] == "wuton-student"
    loaded = WutonStudentPipeline.from_pretrained(run)
    assert loaded.size == SIZE and loaded.provenance["steps_done"] == 7
    assert "task" not in vars(WutonStudentPipeline)  # the registry names the task, tryon.load sets it


def test_task_specs_registry_and_export_hooks(student: WutonStudentPipeline) -> None:
    reg = TaskRegistry()
    hooks.tryon_register_tasks(registry=reg)
    assert reg.names() == ["wuton-parser", "wuton-student", "wuton-teacher"]
    spec = reg.get("wuton-student")
    assert spec.inputs == ("person", "garment") and [e.name for e in spec.exportable] == ["student"]
    pipe = spec.factory(size=SIZE)
    assert isinstance(pipe, WutonStudentPipeline) and pipe.size == SIZE
    ex = spec.exportable[0]
    assert ex.outputs[0] == "image" and ex.min_opset >= 16
    module = ex.build(student)
    inputs = ex.example_inputs(student, 3)
    assert list(inputs) == ["person", "garment"] and inputs["person"].shape == (3, 3, *SIZE)
    with torch.no_grad():
        image, warped = module(*inputs.values())
        ref = student.generator(*inputs.values())[0]
    assert torch.equal(image, ref) and warped.shape == image.shape
    bench = spec.bench_inputs(student, 2)
    assert student(**bench).shape == (2, 3, *SIZE)
    default = reg.get("wuton-teacher").factory()
    assert default.size == (256, 192)


def test_tryon_load_through_the_plugin_registry(student: WutonStudentPipeline, tmp_path) -> None:
    from tryon.plugins import get_manager

    if "wuton-student" not in {s.name for s in tryon.list_tasks()}:  # the plugin not installed: register it in-process
        assert get_manager().register(PluginHooks("tryon_wuton"), name="wuton-model-test")
    student.save_pretrained(tmp_path / "s")
    pipe = tryon.load("wuton-student", weights=tmp_path / "s", device="cpu")
    p, g = torch.rand(1, 3, *SIZE) * 2 - 1, torch.rand(1, 3, *SIZE) * 2 - 1
    assert torch.equal(pipe(person=p, garment=g), student(person=p, garment=g))
    rand = tryon.load("wuton-teacher", device="cpu", size=[64, 48])  # weights=None: random init
    assert isinstance(rand, WutonTeacherPipeline) and rand.size == SIZE


def test_cli_verbs_and_cheap_import() -> None:
    class App:
        def __init__(self):
            self.commands = {}

        def add_command(self, name, *, help, run, configure=None):
            self.commands[name] = (configure, run)

    app = App()
    register_cli(app)
    assert set(app.commands) == {"train wuton-parser", "train wuton-teacher", "train wuton-student", "data synth",
                                 "data check", "data wuton-clip", "demo wuton"}
    p = argparse.ArgumentParser()
    app.commands["train wuton-teacher"][0](p)
    a = p.parse_args(["--data", "d", "--out", "o", "--adv", "paired", "--no-end-to-end", "--size", "128x96"])
    assert a.adv == "paired" and a.end_to_end is False and a.size == (128, 96) and a.resume is True
    assert a.amp is False and a.grad_clip is None and a.lr == 1e-3 and a.steps == 20000 and a.batch_size == 8
    p = argparse.ArgumentParser()
    app.commands["train wuton-student"][0](p)
    a = p.parse_args(["--teacher", "t", "--data", "d", "--out", "o", "--lambda-adv", "0"])
    assert a.lambda_adv == 0.0 and a.init_from_teacher is True and a.size is None
    p = argparse.ArgumentParser()
    app.commands["train wuton-parser"][0](p)
    a = p.parse_args(["--data", "d", "--out", "o"])
    assert a.lr == 1e-3 and a.steps == 2000 and a.encoder == "resnet18"
    assert parse_size("256x192") == (256, 192)
    with pytest.raises(argparse.ArgumentTypeError):
        parse_size("256")
    # registering tasks and verbs imports no torch (keeps `tryon tasks` fast)
    code = ("import sys; from tryon_wuton.plugin import hooks; from tryon.registry import TaskRegistry; "
            "hooks.tryon_register_tasks(registry=TaskRegistry()); "
            "hooks.tryon_register_cli(app=type('A', (), {'add_command': lambda *a, **k: None})()); "
            "assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True)
    assert len(task_specs()) == 3


@pytest.mark.parametrize("verb", ["train wuton-parser", "train wuton-teacher", "train wuton-student"])
def test_training_verbs_pass_amp_and_grad_clip_to_the_trainer(verb, monkeypatch) -> None:
    """--amp, --amp-dtype and --grad-clip (the core's training options) reach the training function."""
    import importlib

    from tryon.cli import App

    module, fn = {"train wuton-parser": ("parser", "train_parser"), "train wuton-teacher": ("teacher", "train_teacher"),
                  "train wuton-student": ("student", "distill_student")}[verb]
    seen = {}
    monkeypatch.setattr(importlib.import_module(f"tryon_wuton.training.{module}"), fn,
                        lambda loop, task: seen.update(vars(loop)) or {"steps": 0})
    app = App()
    register_cli(app)
    teacher = ["--teacher", "t"] if verb.endswith("student") else []
    args = app.build_parser().parse_args([*verb.split(), "--data", "d", "--out", "o", *teacher, "--amp",
                                          "--amp-dtype", "bfloat16", "--grad-clip", "0.5", "--no-resume"])
    assert args._run(args) == 0
    assert seen["amp"] is True and seen["amp_dtype"] == "bfloat16" and seen["grad_clip"] == 0.5
    assert seen["resume"] is False and seen["progress"] is True


def test_export_at_another_size_names_the_trained_size(student: WutonStudentPipeline, tmp_path, capsys) -> None:
    """`tryon export wuton-student --weights RUN --size HxW` on weights trained at another size says so
    (the trained size, and that --size must match or be omitted), not a cut-off state-dict message."""
    from tryon.cli import main

    student.save_pretrained(tmp_path / "run")  # weights at 64x48, like a run trained there
    code = main(["export", "wuton-student", "--weights", str(tmp_path / "run"), "--size", "128x96",
                 "--out", str(tmp_path / "export")])
    err = capsys.readouterr().err
    assert code == 1
    assert "size=64x48 (asked: 128x96)" in err and "must match" in err and "omitted" in err, err
    assert "state_dict" not in err and "size mismatch" not in err
    assert not (tmp_path / "export").exists()
