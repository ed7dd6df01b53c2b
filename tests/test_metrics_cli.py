"""``tryon eval`` on two folders: numbers, labels, the recorded protocol and the error messages."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tryon.cli import main
from tryon.metrics import ProxyFeatures, evaluate_folders, ssim

N = 12


def _blobs(rng: np.random.Generator, h: int = 64, w: int = 48) -> np.ndarray:
    """A smooth random image (a few coloured Gaussian blobs on a plain background)."""
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.ones((h, w, 3)) * rng.uniform(0.2, 0.9, size=3)
    for _ in range(4):
        cy, cx, s = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(4, 12)
        g = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * s * s))[..., None]
        img = img * (1 - g) + g * rng.uniform(0, 1, size=3)
    return (img * 255).round().astype(np.uint8)


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("eval")
    rng = np.random.default_rng(0)
    for sub in ("real", "fake", "same", "masks", "renamed"):
        (root / sub).mkdir()
    for i in range(N):
        real = _blobs(rng)
        Image.fromarray(real).save(root / "real" / f"img{i:02d}.png")
        Image.fromarray(real).save(root / "same" / f"img{i:02d}.png")
        noisy = np.clip(real.astype(int) + rng.integers(-25, 26, real.shape), 0, 255).astype(np.uint8)
        Image.fromarray(noisy).save(root / "fake" / f"img{i:02d}.png")
        Image.fromarray(noisy).save(root / "renamed" / f"out_{i:02d}.png")
        m = np.zeros((64, 48), np.uint8)
        m[16:48, 12:36] = 255
        Image.fromarray(m).save(root / "masks" / f"img{i:02d}.png")
    (root / "pairs.txt").write_text("".join(f"img{i:02d}.png out_{i:02d}.png\n" for i in range(N)))
    return root


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def _load(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def test_eval_two_folders_with_trained_proxy(folders, tmp_path, capsys):
    out = tmp_path / "eval.json"
    rc, stdout, err = _run(
        capsys, "eval", "--real", str(folders / "real"), "--fake", str(folders / "fake"), "--masks", str(folders / "masks"),
        "--features", "proxy:train", "--proxy-steps", "3", "--out", str(out),
    )
    assert rc == 0, err
    res = json.loads(out.read_text())
    m = res["metrics"]
    # every feature-based number is labelled proxy; nothing claims to be Inception FID
    for key in ("proxy-fid", "proxy-kid", "proxy-precision", "proxy-recall", "proxy-density", "proxy-coverage"):
        assert key in m, key
    assert not {"fid", "kid", "precision", "recall"} & set(m)
    assert res["features"]["label"] == "proxy" and "NOT comparable" in res["features"]["note"]
    proxy_file = tmp_path / "eval.proxy" / "proxy.safetensors"
    assert res["features"]["sha256"] == hashlib.sha256(proxy_file.read_bytes()).hexdigest()
    # paired metrics: the numbers equal the library functions on the same images
    real = torch.from_numpy(np.stack([_load(p) for p in sorted((folders / "real").glob("*.png"))])).permute(0, 3, 1, 2)
    fake = torch.from_numpy(np.stack([_load(p) for p in sorted((folders / "fake").glob("*.png"))])).permute(0, 3, 1, 2)
    ref = ssim(fake.float() / 127.5 - 1, real.float() / 127.5 - 1).item()
    # the library's SSIM on the same decoded images: measured 1.2e-8 (AVX2) / 2.5e-8 (SSE4.1); 40x inside. The noise
    # (uniform ±25 levels) gives SSIM 0.36, PSNR ≈ 10 log10(255² / (25.5²/3)) = 25 dB and masked L1 ≈ E|n| = 0.10 (measured
    # 0.0998); the ranges only say the numbers are of that kind
    assert abs(m["ssim"] - ref) < 1e-6 and 0.2 < m["ssim"] < 0.95
    assert 15 < m["psnr"] < 40 and 0 < m["masked_l1"] < 0.5
    # protocol record
    p = res["protocol"]
    assert p["resolution"] == [64, 48] and p["resize_filter"] == "bicubic" and p["resized"] == {}
    assert p["tryon_version"] == res["tryon_version"] and p["ssim_window"] == 11 and p["ssim_sigma"] == 1.5
    assert res["details"]["proxy-kid"]["subset_size"] == N and res["details"]["proxy-kid"]["subset_size_requested"] == 1000
    assert res["setting"] == "paired" and res["num_real"] == N and res["num_fake"] == N and res["num_pairs"] == N
    assert "lpips" in res["skipped"]
    assert "proxy-fid" in stdout and "not comparable" in stdout


def test_identical_folders_give_perfect_scores(folders, tmp_path, capsys):
    torch.manual_seed(0)
    user_net = torch.nn.Sequential(torch.nn.Conv2d(3, 16, 3, 2), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())
    ex = ProxyFeatures(user_net, name="user-cnn")  # a user-supplied proxy network
    res = evaluate_folders(folders / "real", folders / "same", features=ex, masks=folders / "masks", device="cpu")
    m = res["metrics"]
    # identical folders: SSIM measured exactly 1 and proxy-FID 1.2e-9 (float64 statistics of identical features)
    assert m["ssim"] == pytest.approx(1.0, abs=1e-6) and m["masked_l1"] == 0.0 and m["psnr"] == "inf"
    assert abs(m["proxy-fid"]) < 1e-6
    assert m["proxy-precision"] == 1.0 and m["proxy-recall"] == 1.0 and m["proxy-coverage"] == 1.0
    assert res["features"]["backbone"] == "user-cnn"
    # and the noisy folder scores worse on every paired metric
    noisy = evaluate_folders(folders / "real", folders / "fake", features=ex, masks=folders / "masks", device="cpu")["metrics"]
    assert noisy["ssim"] < m["ssim"] and noisy["masked_l1"] > 0 and noisy["proxy-fid"] > m["proxy-fid"]


def test_mismatched_names_list_the_missing_files(folders, tmp_path, capsys):
    fake = tmp_path / "fake"
    shutil.copytree(folders / "fake", fake)
    shutil.copy(fake / "img00.png", fake / "zz_extra.png")
    rc, _, err = _run(capsys, "eval", "--real", str(folders / "real"), "--fake", str(fake), "--out", str(tmp_path / "e.json"))
    assert rc == 1
    assert "zz_extra.png" in err and "--pairs" in err and "--unpaired" in err
    # a pair list fixes it; unpaired evaluation ignores names
    rc, _, err = _run(capsys, "eval", "--real", str(folders / "real"), "--fake", str(folders / "renamed"),
                      "--pairs", str(folders / "pairs.txt"), "--out", str(tmp_path / "p.json"))
    assert rc == 0, err
    res = json.loads((tmp_path / "p.json").read_text())
    assert res["num_pairs"] == N and res["metrics"]["ssim"] < 0.95  # measured 0.36, as in the first test
    bad_pairs = tmp_path / "bad_pairs.txt"
    bad_pairs.write_text("img00.png out_00.png\nimg01.png missing_01.png\n")
    rc, _, err = _run(capsys, "eval", "--real", str(folders / "real"), "--fake", str(folders / "renamed"),
                      "--pairs", str(bad_pairs), "--out", str(tmp_path / "q.json"))
    assert rc == 1 and "missing_01.png" in err


def test_argument_errors(folders, tmp_path, capsys):
    base = ["eval", "--real", str(folders / "real"), "--fake", str(folders / "fake"), "--out", str(tmp_path / "e.json")]
    rc, _, err = _run(capsys, *base, "--unpaired", "--metrics", "ssim")
    assert rc == 1 and "paired metric" in err
    rc, _, err = _run(capsys, *base, "--metrics", "fid")
    assert rc == 1 and "inception" in err.lower()
    rc, _, err = _run(capsys, *base, "--metrics", "lpips")
    assert rc == 1 and "backbone" in err.lower()
    rc, _, err = _run(capsys, *base, "--metrics", "masked_l1")
    assert rc == 1 and "--masks" in err
    rc, _, err = _run(capsys, *base, "--features", "inception:" + str(tmp_path / "none.pth"))
    assert rc == 1 and "not found" in err
    rc, _, err = _run(capsys, "eval", "--real", str(tmp_path / "nope"), "--fake", str(folders / "fake"))
    assert rc == 1 and "--real" in err
    # without features: paired metrics only, the rest listed as skipped
    rc, out, err = _run(capsys, *base, "--json")
    assert rc == 0, err
    res = json.loads(out)
    assert set(res["metrics"]) == {"ssim", "psnr"} and "fid/kid/prdc" in res["skipped"]


def test_inception_and_lpips_via_cli_with_local_weights(folders, tmp_path, capsys):
    import lpips as lp

    from tryon.metrics.inception import fid_inception_v3

    torch.manual_seed(0)
    net = fid_inception_v3()
    for mod in net.modules():  # calibrate BatchNorm on noise: O(1) activations, no denormal slow-down
        if isinstance(mod, torch.nn.BatchNorm2d):
            mod.reset_running_stats()
            mod.momentum = None
    with torch.no_grad():
        net.train()(torch.rand(1, 3, 299, 299) * 2 - 1)
    inc = tmp_path / "pt_inception-random.pth"
    torch.save(net.state_dict(), inc)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = lp.LPIPS(net="alex", pnet_rand=True, verbose=False)
    bb = tmp_path / "alexnet-random.pth"
    torch.save({"features." + k.split(".", 1)[1]: v for k, v in model.net.state_dict().items()}, bb)
    real, fake = tmp_path / "r", tmp_path / "f"
    real.mkdir(), fake.mkdir()
    for i in range(3):
        shutil.copy(folders / "real" / f"img{i:02d}.png", real)
        shutil.copy(folders / "fake" / f"img{i:02d}.png", fake)
    out = tmp_path / "inc.json"
    rc, stdout, err = _run(
        capsys, "eval", "--real", str(real), "--fake", str(fake), "--features", f"inception:{inc}",
        "--metrics", "fid,kid,is,ssim,lpips", "--protocol", "pfafn", "--size", "96x72", "--kid-subset-size", "2",
        "--kid-subsets", "5", "--is-splits", "2", "--lpips-net", "alex", "--lpips-backbone", str(bb), "--out", str(out),
    )
    assert rc == 0, err
    res = json.loads(out.read_text())
    m = res["metrics"]
    assert {"fid", "kid", "kid_std", "is", "is_std", "ssim", "lpips"} <= set(m)
    assert not any(k.startswith("proxy") for k in m)
    assert res["features"]["sha256"] == hashlib.sha256(inc.read_bytes()).hexdigest()
    assert res["features"]["resize_to_299"] == "torch-bilinear" and res["features"]["dims"] == 2048
    p = res["protocol"]
    assert p["name"] == "pfafn" and p["resolution"] == [96, 72] and p["resized"] == {"fake": 3, "real": 3, "real_paired": 3}
    assert p["ssim_padding"] == "same-zero" and p["lpips_net"] == "alex"
    assert res["details"]["kid"]["subset_size"] == 2 and res["details"]["kid"]["num_subsets"] == 5
    assert res["details"]["is"]["splits"] == 2
    assert res["details"]["lpips"]["net"] == "alex" and res["details"]["lpips"]["sha256"] == hashlib.sha256(bb.read_bytes()).hexdigest()
    assert m["lpips"] > 0


def test_configure_does_not_import_torch():
    code = (
        "import sys\n"
        "from tryon.cli import App\n"
        "import tryon.metrics.cli as c\n"
        "app = App(); c.register_cli(app)\n"
        "args = app.build_parser().parse_args(['eval', '--real', 'a', '--fake', 'b', '--protocol', 'catvton'])\n"
        "assert args.protocol == 'catvton'\n"
        "assert 'torch' not in sys.modules, 'torch imported by configure'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_catvton_preset_is_recorded(folders, tmp_path, capsys):
    out = tmp_path / "c.json"
    rc, _, err = _run(capsys, "eval", "--real", str(folders / "real"), "--fake", str(folders / "fake"),
                      "--protocol", "catvton", "--size", "32x24", "--metrics", "ssim,psnr", "--out", str(out))
    assert rc == 0, err
    res = json.loads(out.read_text())
    p = res["protocol"]
    assert p["name"] == "catvton" and p["resize_filter"] == "lanczos" and p["fid_resize"] == "pil-bicubic-float"
    assert p["kid_scale"] == 1000.0 and p["lpips_net"] == "squeeze" and p["ssim_padding"] == "same-reflect"
    assert p["resolution"] == [32, 24] and p["resized"] == {"fake": N, "real_paired": N}
    assert res["details"]["ssim"]["padding"] == "same-reflect"
