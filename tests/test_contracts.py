"""The plugin contracts as a third-party author meets them: the template plugin installed and run,
CLI verb groups shared by several plugins, a failing verb costing only itself, samplers, tracing."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import tryon
from tryon.errors import PluginError
from tryon.sampling import SampleResult, SampleStats, SamplerSpec, get_sampler

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures"


def _pip_target(tmp_path_factory, sources: dict[str, Path]) -> Path:
    target = tmp_path_factory.mktemp("site")
    src = tmp_path_factory.mktemp("src")
    for name, path in sources.items():
        shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("*.egg-info", "build", "__pycache__"))
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
             "--disable-pip-version-check", "--no-index", "--target", str(target), str(src / name)],
            check=True, capture_output=True,
        )
    return target


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The template plugin, the example fixture plugin and the clumsy one, installed as distributions."""
    return _pip_target(tmp_path_factory, {
        "template": ROOT / "examples" / "plugin-template",
        "example": FIXTURES / "example_plugin",
        "clumsy": FIXTURES / "clumsy_plugin",
    })


def cli(args, site: Path, cwd: Path | None = None, **env):
    full = {**os.environ, "PYTHONPATH": str(site), **env}
    return subprocess.run([sys.executable, "-m", "tryon.cli", *args], capture_output=True, text=True, env=full,
                          timeout=300, cwd=cwd)


def test_demo_and_train_groups_shared_by_several_plugins(site):
    res = cli(["demo"], site)
    assert res.returncode == 0, res.stderr
    for verb in ("demo wuton", "demo template", "demo blur"):
        assert f"tryon {verb}" in res.stdout
    res = cli(["train"], site)
    assert "tryon train template-tone" in res.stdout and "tryon train wuton-teacher" in res.stdout
    assert "tryon train my-blur" in res.stdout
    res = cli(["demo", "blur"], site)
    assert res.returncode == 0 and "blur demo ran" in res.stdout


def test_failing_verb_registration_costs_only_that_verb(site):
    res = cli(["plugins", "--json"], site)
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    failed = [f for f in data["failed"] if f["name"] == "clumsy"]
    errors = " / ".join(f["error"] for f in failed)
    assert len(failed) == 3, errors
    assert "'tasks' not added: already registered by 'core'" in errors
    assert "'frobnicate now' not added: multi-word verbs must be 'GROUP LEAF'" in errors
    assert "'train clumsy-broken' not added: configure raised RuntimeError" in errors
    clumsy = next(p for p in data["loaded"] if p["name"] == "clumsy")
    assert clumsy["verbs"] == ["train clumsy"]  # its good verb survived
    res = cli(["train", "clumsy"], site)
    assert res.returncode == 0 and "clumsy trained" in res.stdout
    res = cli(["tasks", "--json"], site)  # the core verb it tried to take still works
    assert res.returncode == 0 and any(t["name"] == "template-tone" for t in json.loads(res.stdout))


def test_template_plugin_trains_runs_and_lists_its_sampler(site, tmp_path):
    run_dir = tmp_path / "run"
    res = cli(["train", "template-tone", "--out", str(run_dir), "--steps", "40", "--no-progress", "--grad-clip", "1.0"], site)
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)
    assert summary["steps"] == 40
    info = json.loads((run_dir / "train_info.json").read_text())
    assert info["loop"]["grad_clip"] == 1.0
    config = json.loads((run_dir / "config.json").read_text())
    assert config["task"] == "template-tone" and config["config"] == {"strength": 1.0}
    assert config["training"]["steps_done"] == 40
    rgb = (np.random.default_rng(0).random((20, 24, 3)) * 255).astype(np.uint8)
    Image.fromarray(rgb).save(tmp_path / "in.png")
    res = cli(["run", "template-tone", "--weights", str(run_dir), "--image", str(tmp_path / "in.png"),
               "--out", str(tmp_path / "out.png")], site)
    assert res.returncode == 0, res.stderr
    out = np.asarray(Image.open(tmp_path / "out.png"))
    assert out.shape == rgb.shape
    # trained towards sepia: the output's channels are ordered R >= G >= B like the sepia matrix rows
    means = out.reshape(-1, 3).mean(0)
    assert means[0] > means[1] > means[2]
    res = cli(["samplers", "--json", "--family", "template"], site)
    rows = json.loads(res.stdout)
    assert [(r["name"], r["plugin"]) for r in rows] == [("template-jitter", "template")]
    res = cli(["demo", "template", "--out", str(tmp_path / "demo"), "--steps", "5", "--no-progress"], site)
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "demo" / "report" / "report.html").is_file()


def test_tracing_prints_every_hook_call(site):
    res = cli(["tasks", "--json"], site, TRYON_PLUGIN_TRACE="1")
    assert res.returncode == 0
    for plugin in ("template", "example", "wuton"):
        assert f"tryon_register_tasks -> plugin {plugin!r}" in res.stderr
    assert "tryon_register_tasks [hook]" in res.stderr  # pluggy's own trace of the call
    assert "finish tryon_register_tasks" in res.stderr
    quiet = cli(["tasks", "--json"], site)
    assert "[hook]" not in quiet.stderr


class _Keep:
    family = "toy"

    def __init__(self, scale: float = 1.0):
        self.scale = scale

    def sample(self, model, request, *, seed=None):
        rng = np.random.default_rng(seed)
        z = rng.normal(size=(int(request) * 2, 2))
        keep = z[np.linalg.norm(z, axis=1).argsort()[: int(request)]]
        return SampleResult(model(keep) * self.scale, keep, SampleStats(int(request), int(request), len(z), model_calls=1))


def test_sampler_protocol(fresh_manager):
    class P:
        @tryon.hookimpl
        def tryon_register_samplers(self, registry):
            registry.register(SamplerSpec("keep-closest", family="toy", summary="keep the half closest to 0", factory=_Keep))

    fresh_manager.register(P(), name="toyplugin")
    sampler = get_sampler("keep-closest", family="toy", scale=2.0)
    samples, latents, stats = sampler.sample(lambda z: z + 1, 5, seed=3)
    assert samples.shape == (5, 2) and np.allclose(samples, 2 * (latents + 1))
    assert stats.acceptance_rate == 0.5 and stats.as_dict()["acceptance_rate"] == 0.5
    again = sampler.sample(lambda z: z + 1, 5, seed=3)
    assert np.array_equal(again.samples, samples)  # deterministic for a seed
    with pytest.raises(tryon.InputError, match="a sampler for 'gan' models"):
        get_sampler("keep-closest", family="gan")
    from tryon.plugins import samplers

    assert samplers().entry("keep-closest").plugin == "toyplugin"


def test_sampler_registration_is_checked(fresh_manager):
    class Bad:
        @tryon.hookimpl
        def tryon_register_samplers(self, registry):
            registry.register(SamplerSpec("no-family", family="", summary="x", factory=_Keep))

    class NotASpec:
        @tryon.hookimpl
        def tryon_register_samplers(self, registry):
            registry.register("name")

    fresh_manager.register(Bad(), name="bad")
    fresh_manager.register(NotASpec(), name="worse")
    from tryon.plugins import samplers

    assert len(samplers()) == 0
    errors = {f.name: f.error for f in fresh_manager.failures}
    assert "family must be a non-empty string" in errors["bad"]
    assert "expected a tryon.SamplerSpec" in errors["worse"]

    class Liar:
        family = "other"

        def sample(self, model, request, *, seed=None):
            raise AssertionError

    class P:
        @tryon.hookimpl
        def tryon_register_samplers(self, registry):
            registry.register(SamplerSpec("liar", family="toy", summary="x", factory=Liar))

    fresh_manager.register(P(), name="liarplugin")
    with pytest.raises(PluginError, match="registered for family 'toy' but its object says 'other'"):
        get_sampler("liar")


def test_pipeline_records_constructor_arguments_once(tmp_path):
    import torch

    class Net(tryon.Pipeline):
        def __init__(self, width: int = 4, size=(8, 6), **extra):
            super().__init__()
            self.layer = torch.nn.Linear(int(width), 2)

    class Wider(Net):
        def __init__(self, width: int = 8, gain: float = 0.5):
            super().__init__(width=width, size=[16, 12])

    assert Net().config == {"width": 4, "size": (8, 6)}
    assert Net(width=3, note="x").config == {"width": 3, "size": (8, 6), "note": "x"}
    assert Wider(gain=2.0).config == {"width": 8, "gain": 2.0}  # the outermost constructor's arguments
    pipe = Wider()
    pipe.provenance = {"data": Path("/data"), "steps": 3}
    pipe.save_pretrained(tmp_path / "w")
    saved = json.loads((tmp_path / "w" / "config.json").read_text())
    assert saved["config"] == {"width": 8, "gain": 0.5} and saved["training"] == {"data": "/data", "steps": 3}
    loaded = Wider.from_pretrained(tmp_path / "w")
    assert loaded.config == {"width": 8, "gain": 0.5} and loaded.provenance["steps"] == 3


def test_load_names_an_override_that_does_not_fit_the_weights(fresh_manager, tmp_path):
    import torch

    class Sized(tryon.Pipeline):
        def __init__(self, width: int = 4):
            super().__init__()
            self.layer = torch.nn.Linear(int(width), 2)

    class P:
        @tryon.hookimpl
        def tryon_register_tasks(self, registry):
            registry.register(tryon.TaskSpec(name="sized", summary="s", factory=Sized))

    fresh_manager.register(P(), name="p")
    Sized(width=4).save_pretrained(tmp_path / "w")
    assert tryon.load("sized", weights=tmp_path / "w", device="cpu").config["width"] == 4
    with pytest.raises(tryon.errors.WeightsError, match=r"were trained with width=4 \(asked: 6\); these settings must match"):
        tryon.load("sized", weights=tmp_path / "w", device="cpu", width=6)


def test_tasks_of_one_weights_family_share_a_weights_folder(fresh_manager, tmp_path):
    import torch

    class Model(tryon.Pipeline):
        def __init__(self, width: int = 4):
            super().__init__()
            self.layer = torch.nn.Linear(int(width), 2)

    class Fill(Model):
        pass

    class P:
        @tryon.hookimpl
        def tryon_register_tasks(self, registry):
            registry.register(tryon.TaskSpec(name="tok-train", summary="s", factory=Model, weights_family="tok"))
            registry.register(tryon.TaskSpec(name="tok-fill", summary="s", factory=Fill, weights_family="tok"))
            registry.register(tryon.TaskSpec(name="other", summary="s", factory=Model))

    fresh_manager.register(P(), name="p")
    trained = tryon.load("tok-train", device="cpu")
    trained.save_pretrained(tmp_path / "w")
    saved = json.loads((tmp_path / "w" / "config.json").read_text())
    assert saved["task"] == "tok-train" and saved["weights_family"] == "tok"
    fill = tryon.load("tok-fill", weights=tmp_path / "w", device="cpu")
    assert isinstance(fill, Fill) and torch.equal(fill.layer.weight, trained.layer.weight)
    with pytest.raises(tryon.errors.WeightsError, match="are for task 'tok-train', not 'other'"):
        tryon.load("other", weights=tmp_path / "w")


def test_building_the_cli_imports_no_torch():
    """`tryon --help` builds every verb's parser (every installed plugin's `configure`): it must stay fast."""
    code = ("import sys\nfrom tryon.cli import build_app\nbuild_app().build_parser()\n"
            "print(sorted(m for m in ('torch', 'onnxruntime', 'cv2') if m in sys.modules))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "[]"


def test_format_1_weights_keep_loading(tmp_path):
    import torch

    class Old(tryon.Pipeline):
        def __init__(self, width: int = 4):
            super().__init__()
            self.layer = torch.nn.Linear(int(width), 2)

    Old(width=3).save_pretrained(tmp_path / "w")
    path = tmp_path / "w" / "config.json"
    manifest = json.loads(path.read_text())
    manifest.pop("training", None)
    manifest.update(format_version=1, config={"width": 3, "training": {"steps": 7}})
    path.write_text(json.dumps(manifest))
    pipe = Old.from_pretrained(tmp_path / "w")
    assert pipe.config == {"width": 3} and pipe.provenance == {"steps": 7}


def test_run_help_lists_the_task_inputs_and_options(capsys):
    """`tryon run TASK --help` explains that task: inputs from TaskSpec.inputs, call options with defaults."""
    from tryon.cli import main

    with pytest.raises(SystemExit) as info:
        main(["run", "edibert-denoise", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "--out OUT" in out  # the generic help is still there
    assert "task edibert-denoise (edibert)" in out and "inputs (each a file or a folder): --image PATH" in out
    assert "  steps=50" in out and "  sampler='denoise'" in out  # the call's keyword options, with defaults
    assert "pipeline configuration (--config KEY=VALUE" in out and "  n_codes=" in out
    with pytest.raises(SystemExit):
        main(["run", "--help"])  # no task: the generic help alone
    assert "task " not in capsys.readouterr().out.split("m.png.")[-1]
