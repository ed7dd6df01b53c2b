"""The training configuration stated once: every ``tryon train <task>`` verb (found through the CLI app, the
installed plugins plus the template) takes every loop option of :class:`tryon.train.TrainConfig`, and each one
either reaches the Trainer's config or is refused in one line naming the flag and the task — never dropped. A
renamed verb's former name is an alias (one deprecation line), never a verb of its own. Also: the dataclass <->
argparse generator, the ``--minutes`` budget, and ``tryon train gan-generate --precision bf16``."""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import pytest
import torch

import tryon.cli
from tryon import train as T
from tryon.errors import UnsupportedOptionError
from tryon.trainconfig import (
    TrainConfig,
    add_config_arguments,
    config_from_args,
    dest_of,
    flag_of,
    option,
    option_fields,
    refuse_unsupported,
)

ROOT = Path(__file__).resolve().parents[1]

#: the task arguments each train verb needs besides --out (``{name}`` = a fixture path of :func:`inputs`); a
#: verb missing here fails the walk, so a new one is covered on purpose
VERB_ARGS: dict[str, list[str]] = {
    "train wuton-parser": ["--data", "{wuton}", "--size", "64x48"],
    "train wuton-teacher": ["--data", "{wuton}", "--size", "64x48", "--pairs-per-person", "1"],
    "train wuton-student": ["--teacher", "{teacher}", "--data", "{wuton}", "--pairs-per-person", "1"],
    "train gan-generate": ["--data", "gaussians9", "--hidden", "8,8"],
    "train gan-latent-weights": ["--generator", "{points_gan}", "--data", "gaussians9"],
    "train gan-invert": ["--generator", "{image_gan}", "--width", "8"],
    "train edibert-vqgan": ["--data", "{scenes}", "--size", "32x32", "--codes", "16", "--ch", "8", "--factor", "4",
                            "--embed-dim", "8", "--perceptual-weight", "0"],
    "train edibert-inpaint": ["--vqgan", "{vqgan}", "--data", "{scenes}", "--size", "32x32", "--width", "16", "--layers",
                              "1", "--heads", "2", "--max-grid", "8x8"],
    "train avae-reconstruct": ["--data", "digits", "--size", "16x16", "--width", "4"],
    "train betavae-edit": ["--data", "sprites:n=32"],
    "train scene-decompose": ["--data", "scenes:n=8", "--width", "4"],
    "train template-tone": [],
}
#: what each verb refuses (every other loop option reaches the Trainer)
REFUSED: dict[str, set[str]] = {
    "train gan-generate": {"--channels-last"},  # --arch mlp (the default): no convolution
    "train gan-latent-weights": {"--channels-last"},  # a generator of points: MLP weight net and critic
    "train edibert-inpaint": {"--channels-last"},  # a transformer
}
#: the former names of renamed train verbs (deprecated aliases for one release) -> the verb they run now
ALIASES: dict[str, str] = {
    "train gan": "train gan-generate",
    "train gan-weights": "train gan-latent-weights",
    "train gan-encoder": "train gan-invert",
    "train vqgan": "train edibert-vqgan",
    "train edibert": "train edibert-inpaint",
}
#: asked together they overlap (--precision sets amp / amp_dtype), so the walk passes them in a second call
SECOND = ("precision", "cache_data")


class _Reached(Exception):
    """Raised by the patched Trainer with the config it got (not a TryonError: ``main`` lets it through)."""

    def __init__(self, config: TrainConfig):
        super().__init__("reached the Trainer")
        self.config = config


@pytest.fixture(scope="module")
def app():
    """The CLI app of the installed plugins, plus the template plugin's verbs (registered in-process)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(ROOT / "examples" / "plugin-template"))
        from tryon_plugin_template.plugin import hooks as template

        app = tryon.cli.build_app()
        if "train template-tone" not in app.commands:
            app._set_plugin("template")
            try:
                template.tryon_register_cli(app=app)
            finally:
                app._set_plugin("")
        yield app


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, str]:
    """Tiny inputs for the verbs: synthetic try-on data, an untrained teacher run, GAN runs of points and images,
    procedural scenes and an untrained VQGAN run (nothing is trained: the walk stops at the Trainer)."""
    pytest.importorskip("tryon_wuton")
    pytest.importorskip("tryon_gan")
    pytest.importorskip("tryon_edibert")
    from tryon_edibert.data import write_scenes
    from tryon_edibert.pipelines import VQGANPipeline
    from tryon_gan.pipelines import GanInvertPipeline, GanPipeline
    from tryon_wuton.data.synth import generate
    from tryon_wuton.pipelines import WutonTeacherPipeline

    root = tmp_path_factory.mktemp("train-flags")
    torch.manual_seed(0)
    generate(root / "wuton", 4, size=(64, 48), seed=0, progress=False)
    WutonTeacherPipeline(size=[64, 48]).save_pretrained(root / "teacher")
    GanPipeline(data_shape=[2], latent_dim=2, hidden=[8, 8]).save_pretrained(root / "points_gan")
    GanInvertPipeline(data_shape=[3, 16, 16], latent_dim=8, base=4, encoder_width=8).save_pretrained(root / "image_gan")
    write_scenes(root / "scenes", 4, (32, 32), seed=0)
    VQGANPipeline(n_codes=16, embed_dim=8, ch=8, ch_mult=[1, 2, 2]).save_pretrained(root / "vqgan")
    return {name: str(root / name) for name in ("wuton", "teacher", "points_gan", "image_gan", "scenes", "vqgan")}


def _loop_fields() -> list[Any]:
    return [f for f in option_fields(TrainConfig) if f.name != "out_dir"]


def _flags_for(f: Any, default: Any) -> tuple[list[str], Any]:
    """Command-line words setting loop field ``f`` away from the verb's ``default``, and the value expected."""
    flag = flag_of(TrainConfig, f.name)
    special = {"precision": "bf16", "amp_dtype": "bfloat16", "device": "cpu", "lr": 0.0123, "grad_clip": 0.5,
               "minutes": 1.5, "num_workers": 1}
    if f.name in special:
        value = special[f.name]
    elif isinstance(default, bool):
        return ([flag] if not default else ["--no-" + flag[2:]]), not default
    else:
        value = int(default) + 1
    return [flag, str(value)], value


def _expect(config: TrainConfig, name: str, value: Any) -> None:
    if name == "precision":  # --precision bf16: autocast in bfloat16
        assert (config.precision, config.amp, config.amp_dtype) == ("bf16", True, "bfloat16")
    else:
        assert getattr(config, name) == value, f"{name}: {getattr(config, name)!r} != {value!r}"


def _walk(app, verb: str, base: list[str], names: list[str], monkeypatch, capsys) -> tuple[TrainConfig, set[str]]:
    """Run ``tryon VERB BASE + flags of names`` until the Trainer is reached, dropping each flag that is
    refused (one line, naming the flag and the verb). Returns the config reached and the refused flags."""
    defaults = app.build_parser().parse_args([*verb.split(), *base])
    words: dict[str, list[str]] = {}
    expected: dict[str, Any] = {}
    for f in _loop_fields():
        if f.name in names:
            words[f.name], expected[f.name] = _flags_for(f, getattr(defaults, dest_of(TrainConfig, f.name)))
    refused: set[str] = set()
    for _ in range(len(words) + 1):
        argv = [*verb.split(), *base, *(w for ws in words.values() for w in ws)]
        try:
            code = tryon.cli.main(argv)
        except _Reached as reached:
            for name, value in expected.items():
                _expect(reached.config, name, value)
            return reached.config, refused
        err = capsys.readouterr().err.strip()
        assert code == 1 and len(err.splitlines()) == 1, f"{verb}: {err}"
        flag = err.removeprefix("tryon: error: ").split(" ", 1)[0]
        assert f"not supported by tryon {verb}: " in err and flag in {w[0] for w in words.values()}, err
        refused.add(flag)
        name = next(n for n, ws in words.items() if ws[0] == flag)
        words.pop(name)
        expected.pop(name)
    raise AssertionError(f"{verb}: never reached the Trainer")


def test_every_train_verb_takes_every_loop_option(app, inputs, tmp_path, monkeypatch, capsys) -> None:
    verbs = [c.name for c in app.group_verbs("train")]
    missing = sorted(set(verbs) - set(VERB_ARGS))
    assert not missing, f"add the arguments these train verbs need to VERB_ARGS: {missing}"
    assert {"train wuton-teacher", "train gan-generate", "train edibert-vqgan", "train template-tone"} <= set(verbs)
    assert not set(app.aliases) & set(verbs), "an alias is not a verb: walked once, under its current name"

    def capture(self, config, *args, **kwargs):
        raise _Reached(config)

    monkeypatch.setattr(T.Trainer, "__init__", capture)
    monkeypatch.setattr(tryon.cli, "build_app", lambda: app)
    torch.set_num_threads(1)
    first = [f.name for f in _loop_fields() if f.name not in SECOND]
    for verb in verbs:
        base = [a.format(**inputs) for a in VERB_ARGS[verb]] + ["--out", str(tmp_path / verb.replace(" ", "-"))]
        _, refused_a = _walk(app, verb, base, first, monkeypatch, capsys)
        _, refused_b = _walk(app, verb, base, list(SECOND), monkeypatch, capsys)
        assert refused_a | refused_b == REFUSED.get(verb, set()), verb


def test_refused_options_are_refused_from_python_too(inputs, tmp_path) -> None:
    from tryon_edibert.training.config import EdiBERTTaskConfig
    from tryon_gan.training.config import GANTaskConfig, LatentWeightsTaskConfig

    loop = TrainConfig(out_dir=str(tmp_path), max_steps=1, channels_last=True)
    for task, verb in ((GANTaskConfig(data="gaussians9"), "train gan-generate"),
                       (EdiBERTTaskConfig(), "train edibert-inpaint"),
                       (LatentWeightsTaskConfig(generator_run=inputs["points_gan"]), "train gan-latent-weights")):
        with pytest.raises(UnsupportedOptionError, match=f"--channels-last is not supported by tryon {verb}: "):
            refuse_unsupported(loop, task)
    refuse_unsupported(loop, GANTaskConfig(data="digits", arch="conv"))  # a conv GAN honours it
    refuse_unsupported(TrainConfig(out_dir=str(tmp_path), max_steps=1), GANTaskConfig(data="gaussians9"))  # not set


def test_former_train_verb_names_are_aliases_that_warn(app, tmp_path, monkeypatch, capsys) -> None:
    """Each renamed train verb keeps its former name for one release: it is listed nowhere, takes the same options as
    the verb it now runs, and running it prints one deprecation line on stderr before the verb's own output."""
    assert {old: a.target for old, a in app.aliases.items() if old.startswith("train ")} == ALIASES
    listed = [c.name for c in app.group_verbs("train")]
    assert not set(ALIASES) & set(listed) and set(ALIASES.values()) <= set(listed)
    parser = app.build_parser()
    for old, new in ALIASES.items():
        base = [a.format(**{k: "X" for k in ("wuton", "teacher", "points_gan", "image_gan", "scenes", "vqgan")})
                for a in VERB_ARGS[new]] + ["--out", "o"]
        a, b = vars(parser.parse_args([*old.split(), *base])), vars(parser.parse_args([*new.split(), *base]))
        assert a.pop("_run") is not b.pop("_run") and a == {**b, "_leaf": old.split()[1]}, old
    monkeypatch.setattr(tryon.cli, "build_app", lambda: app)
    torch.set_num_threads(1)
    capsys.readouterr()
    code = tryon.cli.main(["train", "gan", "--data", "gaussians9", "--hidden", "8,8", "--steps", "1", "--batch-size", "8",
                           "--out", str(tmp_path / "old-name"), "--no-progress"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert captured.err.strip().splitlines() == ["tryon: warning: `tryon train gan` is deprecated: use `tryon train gan-generate`"]
    assert json.loads(captured.out)["steps"] == 1
    assert tryon.cli.main(["train", "gan-generate", "--data", "gaussians9", "--hidden", "8,8", "--steps", "1",
                           "--out", str(tmp_path / "new-name"), "--no-progress"]) == 0
    assert "deprecated" not in capsys.readouterr().err


def test_channels_last_without_a_convolution_is_refused_by_the_trainer(tmp_path) -> None:
    net = torch.nn.Linear(2, 2)
    cfg = TrainConfig(out_dir=str(tmp_path), max_steps=1, channels_last=True, device="cpu", progress=False)
    with pytest.raises(UnsupportedOptionError, match="--channels-last"):
        T.Trainer(cfg, {"net": net}, {"net": torch.optim.SGD(net.parameters(), lr=0.1)}, [torch.zeros(2)] * 4,
                  lambda tr, b: {})


def test_gan_precision_bf16_trains_in_bf16_and_records_it(tmp_path, capsys) -> None:
    pytest.importorskip("tryon_gan")
    torch.set_num_threads(1)
    out = tmp_path / "gan"
    code = tryon.cli.main(["train", "gan-generate", "--data", "gaussians9", "--hidden", "8,8", "--steps", "3", "--batch-size", "16",
                           "--precision", "bf16", "--out", str(out), "--no-progress"])
    assert code == 0, capsys.readouterr().err
    summary = json.loads(capsys.readouterr().out)
    assert summary["precision"] == "bf16" and summary["steps"] == 3
    training = json.loads((out / "config.json").read_text())["training"]
    assert training["precision"] == "bf16" and training["steps_done"] == 3
    info = json.loads((out / "train_info.json").read_text())
    assert info["loop"]["precision"] == "bf16" and info["loop"]["amp_dtype"] == "bfloat16"
    assert info["result"]["precision"] == "bf16"


# ------------------------------------------------------------------------------------------------ --minutes
def _budget_run(tmp_path: Path, clock: list[float], max_steps: int) -> T.RunOutcome:
    torch.manual_seed(0)
    net = torch.nn.Linear(2, 1)

    def step(trainer, batch):
        clock[0] += 25.0  # each step "takes" 25 s of wall clock
        loss = net(batch).pow(2).mean()
        trainer.optimizers["net"].zero_grad(set_to_none=True)
        trainer.backward(loss)
        trainer.optimizer_step("net")
        return {"loss": loss}

    class Pipe:  # a minimal pipeline: what run() needs to record the provenance
        provenance: dict[str, Any] = {}

        def save_pretrained(self, out, keep_other_files=False):
            Path(out, "config.json").write_text(json.dumps({"training": self.provenance}))

    cfg = TrainConfig(out_dir=str(tmp_path), max_steps=max_steps, batch_size=2, minutes=1.0, device="cpu",
                      progress=False, tensorboard=False, log_every=100, ckpt_every=100)
    return T.run(cfg, modules={"net": net}, optimizers={"net": torch.optim.SGD(net.parameters(), lr=0.1)},
                 dataset=[torch.ones(2)] * 8, step_fn=step, build_pipeline=lambda tr, res: Pipe())


def test_minutes_budget_stops_checkpoints_and_records_the_steps(tmp_path, monkeypatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr(time, "perf_counter", lambda: clock[0])  # the clock the Trainer reads
    outcome = _budget_run(tmp_path, clock, max_steps=100)
    # 25 s a step, a 60 s budget: the third step spends it; logged and checkpointed as the last one
    assert outcome.result.stopped_by == "minutes" and outcome.result.steps == 3
    assert outcome.summary["stopped_by"] == "minutes" and outcome.summary["steps"] == 3
    assert [p.name for p in T.checkpoint_files(tmp_path / "checkpoints")] == ["step_00000003.pt"]
    assert [s for s, _ in T.read_metrics(tmp_path / "metrics.csv")["loss"]] == [3]
    info = json.loads((tmp_path / "train_info.json").read_text())
    assert info["loop"]["minutes"] == 1.0
    assert info["result"]["steps_done"] == 3 and info["result"]["stopped_by"] == "minutes"
    training = json.loads((tmp_path / "config.json").read_text())["training"]
    assert training["steps_done"] == 3 and training["stopped_by"] == "minutes" and training["minutes"] == 1.0
    # a resumed run gets a fresh budget: three more steps; max_steps still ends a run within its budget
    assert _budget_run(tmp_path, clock, max_steps=100).result.steps == 6
    again = _budget_run(tmp_path, clock, max_steps=7)
    assert again.result.steps == 7 and again.result.stopped_by == "max_steps"


def test_minutes_must_be_positive(tmp_path) -> None:
    with pytest.raises(ValueError, match="minutes"):
        TrainConfig(out_dir=str(tmp_path), max_steps=1, minutes=0)


# ------------------------------------------------------------------------------------------------ the generator
@dataclass
class _Task:
    VERB = "train demo-task"

    data: Any = option(None, help="input folder", required=True)
    size: tuple[int, int] = option((8, 4), help="HxW", parse=lambda s: tuple(int(v) for v in s.split("x")),
                                   show=lambda v: f"{v[0]}x{v[1]}")
    mode: str = option("a", help="the mode", choices=("a", "b"), flag="--kind")
    weight: float | None = option(None, help="a weight")
    fast: bool = option(True, help="go fast")
    hidden_knob: int = 3  # no help: no option

    def unsupported(self, loop: TrainConfig) -> dict[str, str]:
        return {"channels_last": "demo"}


def test_dataclass_fields_generate_the_options_and_read_back() -> None:
    p = argparse.ArgumentParser()
    add_config_arguments(p, TrainConfig, {"steps": 50, "lr": 0.1, "out_dir": "runs/x"})  # by flag or field name
    add_config_arguments(p, _Task, {"hidden_knob": 7})
    text = p.format_help()
    assert "--out" in text and "(default 50)" in text and "--hidden-knob" not in text and "(default 8x4)" in text
    args = p.parse_args(["--data", "d", "--kind", "b", "--no-fast", "--size", "2x3", "--minutes", "2"])
    assert (args.out, args.steps, args.kind) == ("runs/x", 50, "b")  # dest: the flag's name
    loop, task = config_from_args(TrainConfig, args), config_from_args(_Task, args)
    assert (loop.out_dir, loop.max_steps, loop.lr, loop.minutes) == ("runs/x", 50, 0.1, 2.0)
    assert task == _Task(data="d", size=(2, 3), mode="b", weight=None, fast=False, hidden_knob=7)
    bare = argparse.ArgumentParser()
    add_config_arguments(bare, TrainConfig, {"max_steps": 1})
    add_config_arguments(bare, _Task)
    for argv in (["--out", "o"], ["--data", "d"]):  # --data is required on the command line, --out without a default
        with pytest.raises(SystemExit):
            bare.parse_args(argv)
    with pytest.raises(TypeError):
        add_config_arguments(argparse.ArgumentParser(), _Task, {"nope": 1})
    with pytest.raises(UnsupportedOptionError, match="--channels-last is not supported by tryon train demo-task: demo"):
        refuse_unsupported(TrainConfig(out_dir="o", max_steps=1, channels_last=True), _Task())
    assert {f.name for f in fields(_Task)} - {f.name for f in option_fields(_Task)} == {"hidden_knob"}

