"""tryon.runtime (onnxruntime sessions without torch) and the `tryon export` / `tryon infer` CLI."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
from PIL import Image

import tryon
import tryon.plugins
import tryon.runtime as rt
from tryon.cli import main
from tryon.errors import InputError, ProviderError, TryonError


import tiny_tasks as tiny  # noqa: E402 - tests/ is on sys.path (conftest.py)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """`tryon export tiny-tryon --int8` through the CLI (random calibration), at 64×48."""
    tiny.register_tiny_tasks()
    out = tmp_path_factory.mktemp("exports") / "tiny"
    assert main(["export", "tiny-tryon", "--out", str(out), "--size", "64x48", "--int8"]) == 0
    yield out
    tryon.plugins.reset_manager()


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    root = tmp_path_factory.mktemp("imgs")
    (root / "p").mkdir()
    (root / "g").mkdir()
    for i in range(3):
        Image.fromarray(tiny.smooth_image(80, 60, i)).save(root / "p" / f"p{i}.png")
        Image.fromarray(tiny.smooth_image(70, 52, 10 + i)).save(root / "g" / f"g{i}.jpg", quality=95)
    return root


def test_cli_export_wrote_everything(exported):
    m = json.loads((exported / "manifest.json").read_text())
    assert m["task"] == "tiny-tryon" and m["resolution"] == [64, 48]
    assert set(m["models"]) == {"fp32", "int8"}
    assert m["models"]["int8"]["calibration"]["data"].startswith("random")
    p = m["parity"]  # the export's ISA-independent criterion (tryon.export.parity) was met and recorded
    assert p["criterion"] == "float64" and all(p["error_vs_float64"][n] <= p["bound"][n] for n in p["bound"])


def test_runtime_imports_no_torch(exported, images):
    code = textwrap.dedent(f"""
        import sys
        import numpy as np
        import tryon.runtime as rt
        assert 'torch' not in sys.modules, 'import tryon.runtime imported torch'
        sess = rt.TryOnSession({str(exported)!r})
        out = sess({str(images / 'p' / 'p0.png')!r}, {str(images / 'g' / 'g0.jpg')!r})
        arr = sess(np.zeros((40, 30, 3), np.uint8), np.full((64, 48, 3), 200, np.uint8))
        sess.node_providers()
        assert 'torch' not in sys.modules, 'running a session imported torch'
        print('ok', out.size, arr.shape, arr.dtype)
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.split() == ["ok", "(60,", "80)", "(40,", "30,", "3)", "uint8"]


def test_runtime_matches_pipeline(exported):
    import torch

    from tryon.io import as_batch

    pipe = tryon.load("tiny-tryon", device="cpu")  # same seed → same weights as the exported model
    sess = rt.TryOnSession(exported)
    for (ph, pw), (gh, gw) in (((64, 48), (64, 48)), ((100, 70), (50, 40)), ((30, 20), (128, 96))):
        p, g = tiny.smooth_image(ph, pw, 1), tiny.smooth_image(gh, gw, 2)
        # float level: the numpy pre-processing equals tryon.io's, and the model outputs agree within 1e-3
        pb, gb = as_batch(p, name="person", size=(64, 48)), as_batch(g, name="garment", size=(64, 48))
        xp, *_ = rt.prepare_input([p], sess.input_specs[0], sess.manifest)
        xg, *_ = rt.prepare_input([g], sess.input_specs[1], sess.manifest)
        # same resize and normalisation in numpy and torch: float32 rounding of x/127.5 - 1 only (~1e-7)
        assert np.abs(xp - pb.tensor.numpy()).max() < 1e-5 and np.abs(xg - gb.tensor.numpy()).max() < 1e-5
        with torch.inference_mode():
            ref, _ = pipe.net(pb.tensor, gb.tensor)
        got = sess.run_arrays(person=xp, garment=xg)["image"]
        # two fp32 engines on the same input: each within the export's bound of the float64 run, so within twice
        # that of each other (triangle inequality; the inputs differ by the 1e-5 above at most, a tanh output)
        assert np.abs(got - ref.numpy()).max() <= 2 * max(sess.manifest["parity"]["bound"].values()) + 1e-5
        # image level (uint8 rounding): at most one level apart, almost always equal
        a, b = pipe(person=p, garment=g), sess(p, g)
        assert a.shape == b.shape == (ph, pw, 3) and b.dtype == np.uint8
        diff = np.abs(a.astype(int) - b.astype(int))
        # uint8 rounding: fp32 differences of ~1e-5 flip a level only where the value sits on a .5 boundary
        assert diff.max() <= 1 and (diff > 0).mean() < 0.01


def test_runtime_kinds_batches_and_errors(exported, images):
    sess = rt.ImageModelSession(exported)
    assert sess.input_names == ["person", "garment"] and sess.resolution == (64, 48)
    p_path, g_path = images / "p" / "p1.png", images / "g" / "g1.jpg"
    out = sess(person=str(p_path), garment=g_path.read_bytes())
    assert isinstance(out, Image.Image) and out.size == (60, 80)
    outs = sess(person=[Image.open(p_path), Image.open(images / "p" / "p2.png")], garment=Image.open(g_path))
    assert isinstance(outs, list) and len(outs) == 2 and all(o.size == (60, 80) for o in outs)
    both = sess(np.asarray(Image.open(p_path)), np.asarray(Image.open(g_path)), return_all=True)
    assert set(both) == {"image", "warped"} and both["warped"].shape == (80, 60, 3)
    import torch

    with pytest.raises(InputError, match="torch"):
        sess(person=torch.zeros(1, 3, 64, 48), garment=str(g_path))
    with pytest.raises(InputError, match="garment"):
        sess(person=str(p_path))
    with pytest.raises(InputError, match="equal length"):
        sess(person=[str(p_path)] * 2, garment=[str(g_path)] * 3)
    with pytest.raises(InputError, match="shoe"):
        sess(person=str(p_path), garment=str(g_path), shoe=str(g_path))
    with pytest.raises(InputError, match="run_arrays"):
        sess(np.zeros((64, 48, 3), np.float32), str(g_path))
    with pytest.raises(TryonError, match="fp16"):
        rt.ImageModelSession(exported, model="fp16")
    s8 = rt.ImageModelSession(exported, model="int8")
    o8 = s8(str(p_path), str(g_path))
    assert isinstance(o8, Image.Image) and o8.size == (60, 80)


@pytest.mark.filterwarnings("ignore:Specified provider:UserWarning")
def test_provider_refusal(exported, monkeypatch):
    import onnxruntime as ort

    if "CUDAExecutionProvider" not in ort.get_available_providers():
        # the request itself is refused (nothing to fall back from silently)
        with pytest.raises(ProviderError, match="CUDAExecutionProvider") as info:
            rt.ImageModelSession(exported, providers=["CUDAExecutionProvider"])
        assert "onnxruntime-gpu" in str(info.value)
        # a build that lists CUDA but cannot start it: onnxruntime falls back to CPU silently → refused
        import tryon.deploy.providers as providers

        monkeypatch.setattr(providers, "available_providers", lambda: list(ort.get_available_providers()) + ["CUDAExecutionProvider"])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with pytest.raises(ProviderError, match="fell back") as info:
                rt.ImageModelSession(exported, providers="cuda")
        assert "CPUExecutionProvider" in str(info.value)
        with pytest.warns(RuntimeWarning, match="fell back"):
            s = rt.ImageModelSession(exported, providers="cuda", allow_fallback=True)
        assert s.providers_used == ["CPUExecutionProvider"]
    else:  # onnxruntime-gpu: either CUDA really runs, or the session is refused
        try:
            s = rt.ImageModelSession(exported, providers=["CUDAExecutionProvider"])
        except ProviderError as exc:
            assert "CUDAExecutionProvider" in str(exc)
        else:
            assert "CUDAExecutionProvider" in s.providers_used
    cpu = rt.ImageModelSession(exported)
    assert cpu.providers_used == ["CPUExecutionProvider"] and cpu.providers_requested == ["CPUExecutionProvider"]


def test_node_providers(exported):
    sess = rt.ImageModelSession(exported, intra_op_threads=1, graph_optimization="basic")
    info = sess.node_providers()
    assert info["source"] == "profiling"
    assert set(info["by_provider"]) == {"CPUExecutionProvider"}
    assert info["by_op"]["GridSample"] == {"CPUExecutionProvider": 1}
    assert sum(info["by_provider"].values()) == len(info["nodes"]) > 5


def test_cli_infer_end_to_end(exported, images, tmp_path, capsys):
    model = str(exported)
    one = tmp_path / "one.png"
    assert main(["infer", "--model", model, "--person", str(images / "p" / "p0.png"), "--garment",
                 str(images / "g" / "g0.jpg"), "--out", str(one)]) == 0
    img = Image.open(one)
    assert img.size == (60, 80)
    expected = rt.TryOnSession(exported)(str(images / "p" / "p0.png"), str(images / "g" / "g0.jpg"))
    assert np.array_equal(np.asarray(img), np.asarray(expected))

    # folders, sorted pairing, all outputs, the --name=value spelling
    assert main(["infer", "--model", model, "--person", str(images / "p"), f"--garment={images / 'g'}",
                 "--out", str(tmp_path / "all"), "--all-outputs", "--batch-size", "2"]) == 0
    assert sorted(p.name for p in (tmp_path / "all").iterdir()) == [
        f"p{i}__g{i}_{o}.png" for i in range(3) for o in ("image", "warped")]
    # a pairs file, and a single garment broadcast over a folder via --input NAME=PATH
    pairs = tmp_path / "pairs.txt"
    pairs.write_text("# person garment\np2.png g0.jpg\np1.png g2.jpg\n")
    assert main(["infer", "--model", model, "--person", str(images / "p"), "--garment", str(images / "g"),
                 "--pairs", str(pairs), "--out", str(tmp_path / "paired")]) == 0
    assert sorted(p.name for p in (tmp_path / "paired").iterdir()) == ["p1__g2.png", "p2__g0.png"]
    assert main(["infer", "--model", model, "--input", f"person={images / 'p'}", "--garment",
                 str(images / "g" / "g1.jpg"), "--out", str(tmp_path / "bcast")]) == 0
    assert sorted(p.name for p in (tmp_path / "bcast").iterdir()) == ["p0.png", "p1.png", "p2.png"]
    capsys.readouterr()

    # errors: one line naming the expected inputs; nothing written
    assert main(["infer", "--model", model, "--persn", str(images / "p"), "--garment", str(images / "g"),
                 "--out", str(tmp_path / "e1")]) == 1
    err = capsys.readouterr().err
    assert "--persn" in err and "--person, --garment" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "e1").exists()
    g2 = tmp_path / "g2"
    g2.mkdir()
    Image.fromarray(tiny.smooth_image(30, 30, 5)).save(g2 / "only.png")
    assert main(["infer", "--model", model, "--person", str(images / "p"), "--garment", str(g2),
                 "--out", str(tmp_path / "e2")]) == 1
    assert "--person: 3, --garment: 1" in capsys.readouterr().err
    assert not (tmp_path / "e2").exists()
    broken = tmp_path / "broken"
    broken.mkdir()
    Image.fromarray(tiny.smooth_image(30, 30, 6)).save(broken / "b0.png")
    for i in (1, 2):
        (broken / f"b{i}.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)  # truncated PNGs
    assert main(["infer", "--model", model, "--person", str(images / "p"), "--garment", str(broken),
                 "--out", str(tmp_path / "e3"), "--batch-size", "1"]) == 1
    assert "garment" in capsys.readouterr().err
    assert not (tmp_path / "e3").exists()  # the first pair had succeeded: still nothing half-written
    assert main(["infer", "--model", model, "--person", str(images / "p"), "--out", str(tmp_path / "e4")]) == 1
    assert "missing --garment" in capsys.readouterr().err
    assert main(["infer", "--model", str(tmp_path), "--person", "x", "--garment", "y", "--out", "o.png"]) == 1
    assert "manifest.json" in capsys.readouterr().err


def test_cli_export_reports_failures(exported, tmp_path, capsys):
    assert main(["export", "tiny-bad", "--out", str(tmp_path / "bad")]) == 1
    err = capsys.readouterr().err
    assert "linalg" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "bad").exists()


def test_backend_and_precision_refusals(exported, monkeypatch):
    """bf16 on ORT, bf16 on a CPU without it (faked probe), an unknown backend, openvino missing: one line each."""
    import tryon.deploy.openvino as rov

    with pytest.raises(TryonError, match="offered by backend 'openvino' only") as info:
        rt.ImageModelSession(exported, precision="bf16")
    assert "\n" not in str(info.value)
    with pytest.raises(TryonError, match="backend must be one of ort, openvino"):
        rt.ImageModelSession(exported, backend="tensorrt")
    monkeypatch.setattr(rov, "cpu_has_bf16", lambda: False)
    monkeypatch.delenv("TRYON_MAX_ISA", raising=False)  # this check is about bf16, not about a run held below AVX2
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    with pytest.raises(TryonError, match="precision 'bf16' refused: ") as info:
        rt.ImageModelSession(exported, backend="openvino", precision="bf16")
    assert "\n" not in str(info.value)
    with pytest.raises(ProviderError, match="backend 'openvino' runs on the CPU"):
        rt.ImageModelSession(exported, backend="openvino", providers="cuda")
    monkeypatch.setitem(sys.modules, "openvino", None)  # as if the extra were not installed
    with pytest.raises(TryonError, match=r"pip install 'tryon\[openvino\]'"):
        rt.ImageModelSession(exported, backend="openvino", precision="fp32")


def test_cli_infer_refuses_bf16_on_ort(exported, images, tmp_path, capsys):
    code = main(["infer", "--model", str(exported), "--person", str(images / "p" / "p0.png"), "--garment",
                 str(images / "g" / "g0.jpg"), "--out", str(tmp_path / "o.png"), "--precision", "bf16"])
    assert code != 0 and "offered by backend 'openvino' only" in capsys.readouterr().err
    assert not (tmp_path / "o.png").exists()


def test_openvino_is_imported_lazily():
    code = ("import sys, tryon, tryon.runtime, tryon.bench, tryon.catalogue, tryon.runtime_openvino; "
            "assert 'openvino' not in sys.modules and 'nncf' not in sys.modules, 'imported at import time'")
    subprocess.run([sys.executable, "-c", code], check=True)
