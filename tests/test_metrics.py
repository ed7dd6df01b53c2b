"""tryon.metrics: agreement with peer implementations (pytorch-fid, prdc, scikit-image, torchmetrics,
lpips) on random features / images, and behavioural properties. No pretrained weights are needed: the
Inception and LPIPS loading paths are exercised with randomly initialised weights saved to tmp_path."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch

from tryon.errors import InputError, MaskError, WeightsError
from tryon.metrics import (
    InceptionFeatures,
    ProxyFeatures,
    extract_features,
    fid,
    frechet_distance,
    inception_score,
    kid,
    masked_l1,
    metric_name,
    prdc,
    proxy_lpips,
    psnr,
    ssim,
    train_proxy,
)
from tryon.metrics.fid import feature_statistics
from tryon.metrics.iscore import inception_score_from_logits


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


# ---------------------------------------------------------------------------------------------
# FID / KID
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("n1,n2,d", [(200, 150, 32), (40, 60, 64), (20, 30, 48)])  # last two: N < D, singular Σ
def test_frechet_distance_matches_pytorch_fid(n1, n2, d):
    from pytorch_fid.fid_score import calculate_frechet_distance

    rng = _rng(n1)
    a = rng.normal(size=(n1, d))
    b = rng.normal(0.3, 1.2, size=(n2, d)) + rng.normal(size=d) * 0.1
    mu1, s1 = feature_statistics(a)
    mu2, s2 = feature_statistics(b)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = calculate_frechet_distance(mu1, s1, mu2, s2)
        ours = frechet_distance(mu1, s1, mu2, s2)
        ours_sqrtm = frechet_distance(mu1, s1, mu2, s2, method="sqrtm")
    assert ref > 1.0
    # float64 throughout: our eigenvalue route vs pytorch-fid's scipy sqrtm differ by at most 3.7e-9 relative (the
    # singular N < D cases; AVX2 and SSE4.1 alike), 270x inside 1e-6; method='sqrtm' is the same scipy call (measured 0)
    assert abs(ours - ref) / abs(ref) < 1e-6
    assert abs(ours_sqrtm - ref) / abs(ref) < 1e-12
    assert abs(fid(a, b) - ref) / abs(ref) < 1e-6
    # accepts torch tensors too: fp32 features move FID by 3.4e-9 relative (measured), 1e-4 is a loose 'same number'
    assert abs(fid(torch.from_numpy(a).float(), torch.from_numpy(b).float()) - ref) / ref < 1e-4


def test_fid_properties():
    rng = _rng(1)
    a = rng.normal(size=(300, 16))
    # identical statistics: measured 2e-14 (float64 rounding of the trace term)
    assert abs(fid(a, a)) < 1e-6
    near = fid(a, rng.normal(size=(300, 16)))
    far = fid(a, rng.normal(2.0, 1.0, size=(300, 16)))
    assert far > 10 * near
    # mean shift only: FID ≈ ||Δμ||² = 16 * 4 = 64, up to the sampling error of 300-sample statistics (measured
    # 63.86 and far/near = 113, float64 and seeded: the same on every CPU)
    assert abs(far - 64.0) < 8.0
    with pytest.raises(InputError):
        fid(a, rng.normal(size=(300, 8)))
    with pytest.raises(InputError):
        fid(a[:1], a)


def test_kid_matches_torchmetrics_and_clamps():
    from torchmetrics.image.kid import poly_mmd

    rng = _rng(2)
    r, f = rng.normal(size=(60, 32)), rng.normal(0.5, 1.0, size=(60, 32))
    ref = float(poly_mmd(torch.from_numpy(r), torch.from_numpy(f)))
    with pytest.warns(UserWarning, match="larger than the smaller set"):
        out = kid(r, f, subset_size=1000, num_subsets=3)
    # the subset covers the whole set (a permutation): MMD² is permutation invariant (float64: measured 0 difference
    # and 0 spread; the bounds only allow for another summation order)
    assert out["subset_size"] == 60 and out["subset_size_requested"] == 1000
    assert abs(out["kid"] - ref) < 1e-9 and out["kid_std"] < 1e-9
    scaled = kid(r, f, subset_size=60, num_subsets=3, scale=1000.0)  # measured exactly 1000x
    assert abs(scaled["kid"] - 1000 * ref) < 1e-6
    # subsets smaller than the set: seeded, reproducible, close to the full estimate
    a1 = kid(r, f, subset_size=30, num_subsets=20, seed=5)
    a2 = kid(r, f, subset_size=30, num_subsets=20, seed=5)
    assert a1 == a2 and a1["kid_std"] > 0
    assert abs(a1["kid"] - ref) < 3 * a1["kid_std"]
    # another sample of the same distribution: KID ≈ 0 (unbiased), far below the shifted one
    same = kid(r, rng.normal(size=(60, 32)), subset_size=60, num_subsets=1)
    assert abs(same["kid"]) < abs(ref) / 5


# ---------------------------------------------------------------------------------------------
# precision / recall / density / coverage
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("k", [3, 5])
def test_prdc_matches_prdc_package(k, capsys):
    from prdc import compute_prdc

    rng = _rng(k)
    real = rng.normal(size=(300, 24))
    fake = rng.normal(0.25, 1.1, size=(250, 24))
    ours = prdc(real, fake, k=k)
    ref = compute_prdc(real_features=real, fake_features=fake, nearest_k=k)
    for key in ("precision", "recall", "density", "coverage"):
        # the same float64 arithmetic as the prdc package: measured <= 1.1e-16
        assert abs(ours[key] - float(ref[key])) < 1e-12, key
    assert 0 < ours["precision"] < 1 and 0 < ours["coverage"] < 1


def test_prdc_properties():
    rng = _rng(7)
    real = rng.normal(size=(400, 8))
    # identical sets: precision = recall = coverage = 1 (density is about 1 too)
    same = prdc(real, real.copy(), k=5)
    assert same["precision"] == 1.0 and same["recall"] == 1.0 and same["coverage"] == 1.0
    assert 0.8 < same["density"] < 1.5  # measured 1.0
    fake = rng.normal(size=(400, 8))
    base = prdc(real, fake, k=5)
    # far outliers added to the fakes: precision and density drop, recall does not. The 100 outliers at +50 fall in no
    # real k-NN ball, so both drop to exactly 400/500 of the base values (measured 0.734 = 0.8 x 0.9175)
    outliers = rng.normal(size=(100, 8)) + 50.0
    out = prdc(real, np.concatenate([fake, outliers]), k=5)
    assert out["precision"] == pytest.approx(base["precision"] * 400 / 500)
    assert out["density"] == pytest.approx(base["density"] * 400 / 500)
    assert out["recall"] >= base["recall"]
    # a collapsed fake set (all near one mode): recall and coverage drop -- measured 0.0025 and 0.05 against 0.94 and
    # 0.975 for the base set (float64 k-NN counts, seeded: identical on AVX2 and SSE4.1)
    collapsed = rng.normal(size=(400, 8)) * 0.05 + real[0]
    col = prdc(real, collapsed, k=5)
    assert col["recall"] < 0.1 and col["coverage"] < 0.1
    assert base["recall"] > 0.5 and base["coverage"] > 0.5  # measured 0.94 / 0.975: the drops above are real
    with pytest.raises(InputError):
        prdc(real[:4], fake, k=5)


# ---------------------------------------------------------------------------------------------
# SSIM / PSNR / masked L1
# ---------------------------------------------------------------------------------------------
def _pair_images(seed: int = 0, b: int = 3, h: int = 64, w: int = 48):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(b, 3, h, w, generator=g)
    x = torch.nn.functional.avg_pool2d(x, 3, 1, 1)  # some structure
    y = (x + 0.08 * torch.randn(b, 3, h, w, generator=g)).clamp(0, 1)
    return x, y


def test_ssim_matches_skimage_rgb_and_grey():
    from skimage.metrics import structural_similarity as sk

    x, y = _pair_images()
    ours = ssim(x, y, value_range=(0, 1), reduction="none")
    ref = [
        sk(x[i].permute(1, 2, 0).numpy(), y[i].permute(1, 2, 0).numpy(), gaussian_weights=True, sigma=1.5,
           use_sample_covariance=False, data_range=1, channel_axis=-1)
        for i in range(x.shape[0])
    ]
    diff = (ours - torch.tensor(ref)).abs().max().item()
    # our fp32 vs skimage's float64: measured 6e-7 (AVX2) / 6.6e-7 (SSE4.1); 1e-3 is the 3 decimals SSIM is reported to
    assert diff < 1e-3, diff
    assert 0.3 < ours.min() and ours.max() < 0.99  # noise σ 0.08: measured 0.674-0.683
    # default value range is [-1, 1]: same number on x*2-1
    assert abs(ssim(x * 2 - 1, y * 2 - 1).item() - float(np.mean(ref))) < 1e-3  # measured 6e-7
    # grey: BT.601 luma
    w = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    gx, gy = (x * w).sum(1), (y * w).sum(1)
    ref_g = [sk(gx[i].numpy(), gy[i].numpy(), gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1)
             for i in range(x.shape[0])]
    ours_g = ssim(x, y, value_range=(0, 1), channels="grey", reduction="none")
    assert (ours_g - torch.tensor(ref_g)).abs().max().item() < 1e-3  # measured 1.2e-6


def test_ssim_matches_torchmetrics_and_variants():
    from torchmetrics.functional.image import structural_similarity_index_measure as tm_ssim

    x, y = _pair_images(1)
    # CatVTON's eval.py call (gaussian 11, σ 1.5); torchmetrics 1.9 averages the reflect-padded full map
    ref = float(tm_ssim(y, x, data_range=1.0))
    # measured 2.4e-7 (400x); the other border conventions differ by 0.016 (valid) and 0.037 (zero padding), and the
    # hand-written σ path by 1.2e-7 (AVX2) / 0 (SSE4.1) -- all far from their bounds, on both kernel sets
    assert abs(ssim(y, x, value_range=(0, 1), padding="same-reflect").item() - ref) < 1e-4
    assert abs(ssim(y, x, value_range=(0, 1)).item() - ref) > 1e-3  # the border convention matters
    assert abs(ssim(x, x, value_range=(0, 1)).item() - 1.0) < 1e-6  # measured 0
    zero = ssim(x, y, value_range=(0, 1), padding="same-zero").item()  # pytorch-ssim variant
    assert zero != pytest.approx(ref, abs=1e-4) and 0.3 < zero < 1.0
    # custom σ goes through the hand-written path; σ = 1.5 there equals kornia
    a = ssim(x, y, value_range=(0, 1), sigma=1.5 + 1e-9).item()
    assert abs(a - ssim(x, y, value_range=(0, 1)).item()) < 1e-5
    with pytest.raises(InputError):
        ssim(x, y, channels="lab")


def test_psnr_matches_formula():
    x, y = _pair_images(2)
    ours = psnr(x * 2 - 1, y * 2 - 1, reduction="none")
    mse = ((x - y) ** 2).flatten(1).mean(1)
    ref = 10 * torch.log10(1.0 / mse)
    assert (ours - ref).abs().max().item() < 1e-3  # the same formula in fp32: measured 0


def test_masked_l1_chai_definition():
    x, y = _pair_images(3, b=2)
    a, b = x * 2 - 1, y * 2 - 1
    mask = torch.zeros(2, 1, 64, 48)
    mask[:, :, 10:40, 8:30] = 1.0  # edited region
    ours = masked_l1(a, b, mask, reduction="none")
    keep = (1 - mask).expand_as(a)
    # the same sums: measured 0 in the checks below (<= 1.5e-8 in the plain-L1 ones)
    ref = ((a - b).abs() * keep).flatten(1).sum(1) / keep.flatten(1).sum(1)
    assert torch.allclose(ours, ref, atol=1e-6)
    # changes inside the edited region do not matter; outside they do
    b2 = b.clone()
    b2[:, :, 10:40, 8:30] = 5.0
    assert torch.allclose(masked_l1(a, b2, mask, reduction="none"), ours, atol=1e-6)
    b3 = b.clone()
    b3[:, :, 0:5] += 0.5
    assert (masked_l1(a, b3, mask, reduction="none") > ours).all()
    # no mask → plain L1; [0, 1] inputs are rescaled to the [-1, 1] range (measured 1.5e-8 and 0)
    assert abs(masked_l1(a, b, torch.zeros(64, 48)).item() - (a - b).abs().mean().item()) < 1e-6
    assert abs(masked_l1(x, y, mask, value_range=(0, 1)).item() - ours.mean().item()) < 1e-6
    with pytest.raises(MaskError):
        masked_l1(a, b, torch.ones(2, 1, 64, 48))
    with pytest.raises(MaskError):
        masked_l1(a, b, torch.zeros(2, 1, 32, 48))


# ---------------------------------------------------------------------------------------------
# Inception features (random weights: the loading path and the architecture, not the numbers)
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def inception_state(tmp_path_factory):
    from tryon.metrics.inception import fid_inception_v3

    torch.manual_seed(0)
    net = fid_inception_v3()
    # calibrate BatchNorm statistics on noise so that random features depend on the input
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None
    net.train()
    ex = InceptionFeatures.__new__(InceptionFeatures)
    torch.nn.Module.__init__(ex)
    ex.net = net
    with torch.no_grad():
        ex._trunk(torch.rand(2, 3, 299, 299) * 2 - 1)
    sd = {k: v.clone() for k, v in net.state_dict().items()}
    path = tmp_path_factory.mktemp("inception") / "pt_inception-2015-12-05-random.pth"
    torch.save(sd, path)
    return path, sd


def test_inception_features_match_pytorch_fid(inception_state, monkeypatch):
    import pytorch_fid.inception as pfi

    path, sd = inception_state
    ex = InceptionFeatures(path)
    x = torch.rand(3, 3, 64, 48) * 2 - 1
    with torch.no_grad():
        f = ex(x)
    assert f.shape == (3, 2048)
    assert f.std(0).mean() > 1e-3  # input-dependent: measured 2.5
    # pytorch-fid's own InceptionV3 with the same weights (its download replaced by our file)
    monkeypatch.setattr(pfi, "load_state_dict_from_url", lambda *a, **k: torch.load(path, weights_only=True))
    ref_net = pfi.InceptionV3([3]).eval()
    with torch.no_grad():
        ref = ref_net((x + 1) / 2)[0].flatten(1)  # pytorch-fid takes [0, 1]
    # the same fp32 network, another implementation: measured 4e-4 on features up to 518 (AVX2 and SSE4.1), 130x inside
    assert (f - ref).abs().max().item() < 1e-4 * max(1.0, ref.abs().max().item())
    assert ex.logits(x).shape == (3, 1008)
    d = ex.describe()
    import hashlib

    assert d["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert d["label"] == "" and metric_name("fid", ex) == "fid"


def test_inception_safetensors_and_errors(inception_state, tmp_path):
    from safetensors.torch import save_file

    path, sd = inception_state
    st = tmp_path / "inc.safetensors"
    save_file({k: v.contiguous() for k, v in sd.items()}, str(st))
    x = torch.rand(2, 3, 40, 30) * 2 - 1
    with torch.no_grad():
        a = InceptionFeatures(path)(x)
        b = InceptionFeatures(st)(x)
        c = InceptionFeatures(st, resize="pil-bicubic-float")(x)
    assert torch.allclose(a, b)
    assert not torch.allclose(a, c, atol=1e-4)  # the resize filter changes the features (by up to 60: measured)
    with pytest.raises(WeightsError, match="never downloaded|nothing is downloaded"):
        InceptionFeatures(tmp_path / "missing.pth")
    bad = tmp_path / "bad.pth"
    torch.save({"conv.weight": torch.zeros(3)}, bad)
    with pytest.raises(WeightsError, match="does not fit"):
        InceptionFeatures(bad)


def test_inception_torchscript_clean_fid_format(tmp_path):
    class Layers(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 2048, 1)

        def forward(self, x):
            return torch.nn.functional.adaptive_avg_pool2d(self.conv(torch.nn.functional.avg_pool2d(x, 13)), 1)

    class Base(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = Layers()

        def forward(self, x):
            return self.layers(x)

    torch.manual_seed(0)
    scripted = torch.jit.script(Base())
    p = tmp_path / "inception-2015-12-05.pt"
    scripted.save(str(p))
    ex = InceptionFeatures(p, resize="pil-bicubic-float")
    x = torch.rand(2, 3, 299, 299) * 2 - 1
    with torch.no_grad():
        ref = scripted.layers(((x + 1) * 127.5 - 128) / 128).flatten(1)
        assert torch.allclose(ex(x), ref, atol=1e-4)  # the same scripted ops: measured 0
    assert "torchscript" in ex.describe()["format"]
    with pytest.raises(WeightsError):
        ex.logits(x)


def test_inception_score():
    from torchmetrics.image.inception import InceptionScore

    g = torch.Generator().manual_seed(0)
    logits = torch.randn(40, 1008, generator=g) * 3

    class Identity(torch.nn.Module):
        def forward(self, x):
            return x

    tm = InceptionScore(feature=Identity(), splits=1)
    tm.update(logits)
    ref = float(tm.compute()[0])
    ours = inception_score_from_logits(logits, splits=1)
    assert abs(ours["is"] - ref) < 1e-4 * ref  # measured 2.2e-6 on 16.2: 700x inside
    # uniform posteriors → 1; N distinct one-hot classes → N (float64: measured 0 and 1.8e-15)
    assert abs(inception_score_from_logits(torch.zeros(10, 1008), 1)["is"] - 1.0) < 1e-9
    peaked = torch.full((10, 1008), -50.0)
    peaked[torch.arange(10), torch.arange(10)] = 50.0
    assert abs(inception_score_from_logits(peaked, 1)["is"] - 10.0) < 1e-6  # measured 1.8e-15
    assert inception_score_from_logits(logits, splits=4)["splits"] == 4


# ---------------------------------------------------------------------------------------------
# proxy extractor and perceptual distances
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def proxy(tmp_path_factory):
    # 16 distinguishable images (own base colour + a smooth pattern): the contrastive task is learnable
    g = torch.Generator().manual_seed(0)
    base = torch.rand(16, 3, 1, 1, generator=g) * 1.6 - 0.8
    pattern = torch.nn.functional.interpolate(torch.rand(16, 3, 4, 3, generator=g), size=(32, 24), mode="bilinear", align_corners=False)
    imgs = (base + 0.6 * (pattern - 0.5)).clamp(-1, 1)
    out = tmp_path_factory.mktemp("proxy") / "proxy_dir"
    ex = train_proxy(imgs, out, steps=40, batch_size=16, input_size=(32, 24), widths=(8, 16, 32, 32), seed=0)
    return ex, out, imgs


def test_train_proxy_saves_reloads_and_is_labelled(proxy):
    ex, out, imgs = proxy
    cfg = json.loads((out / "proxy.json").read_text())
    assert (out / "proxy.safetensors").is_file()
    assert cfg["arch"] == "tryon-proxy-cnn-v1" and cfg["steps"] == 40 and cfg["num_images"] == 16
    # the contrastive objective is optimised: clearly below chance (a collapsed embedding sits at log(2B - 1))
    # measured final/chance 0.731 (AVX2), 0.722 (SSE4.1 kernels) after 40 steps: a behaviour bound, not a rounding one
    assert cfg["chance_loss"] == pytest.approx(np.log(31)) and cfg["final_loss"] < 0.9 * cfg["chance_loss"]
    assert cfg["trained"] is True and cfg["warmup_steps"] == 10
    again = ProxyFeatures.from_file(out)
    feats_a = extract_features(imgs, ex, batch_size=5)
    feats_b = extract_features(imgs, again, batch_size=16)
    assert feats_a.array.shape == (16, 32)
    # batches of 5 vs 16 (other GEMM blocking): measured 3.6e-7 (AVX2) / 6.3e-7 (SSE4.1); 16x inside
    assert np.allclose(feats_a.array, feats_b.array, atol=1e-5)
    assert feats_a.label == "proxy" and ex.is_proxy
    assert metric_name("fid", ex) == "proxy-fid" and metric_name("precision", feats_a) == "proxy-precision"
    assert "NOT comparable" in feats_a.extractor["note"] and len(feats_a.extractor["sha256"]) == 64
    with pytest.raises(InputError, match="class logits"):
        inception_score(imgs, ex)


def test_proxy_lpips(proxy):
    ex, _, imgs = proxy
    a = imgs[:4]
    small = (a + 0.05 * torch.randn_like(a)).clamp(-1, 1)
    big = (a + 0.5 * torch.randn_like(a)).clamp(-1, 1)
    assert proxy_lpips(a, a, ex).item() < 1e-8  # measured 0
    d_small, d_big = proxy_lpips(a, small, ex).item(), proxy_lpips(a, big, ex).item()
    assert 0 < d_small < d_big
    assert proxy_lpips(a, small, ex, reduction="none").shape == (4,)
    with pytest.raises(InputError):
        proxy_lpips(a, a, object())


def test_lpips_backbone_from_local_file(tmp_path, monkeypatch):
    import lpips as lp

    from tryon.metrics import lpips as tl_lpips

    monkeypatch.delenv("TRYON_LPIPS_BACKBONE", raising=False)
    a = torch.rand(2, 3, 64, 48) * 2 - 1
    b = (a + 0.3 * torch.randn_like(a)).clamp(-1, 1)
    with pytest.raises(WeightsError, match="alexnet-owt-7be5be79.pth"):
        tl_lpips(a, b, net="alex")
    # a torchvision-style features.* state dict with random values
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.manual_seed(3)
        ref_model = lp.LPIPS(net="alex", pnet_rand=True, verbose=False).eval()
    sd = {}
    for name, t in ref_model.net.state_dict().items():
        sd["features." + name.split(".", 1)[1]] = t.clone()
    path = tmp_path / "alexnet-random.pth"
    torch.save(sd, path)
    ours = tl_lpips(a, b, net="alex", backbone=path, reduction="none")
    with torch.no_grad():
        ref = ref_model(a, b).flatten()
    # the lpips package on the same weights: measured 5.6e-9 (AVX2) / 3.7e-9 (SSE4.1), 180x inside; a == a gives 0
    assert torch.allclose(ours, ref, atol=1e-6)
    assert tl_lpips(a, a, net="alex", backbone=path).item() < 1e-6
    monkeypatch.setenv("TRYON_LPIPS_BACKBONE", str(path))
    assert torch.allclose(tl_lpips(a, b, net="alex"), ref.mean(), atol=1e-6)  # measured <= 1.9e-9
    bad = tmp_path / "bad.pth"
    torch.save({"features.0.weight": torch.zeros(1)}, bad)
    with pytest.raises(WeightsError):
        tl_lpips(a, b, net="alex", backbone=bad)


# ---------------------------------------------------------------------------------------------
# import hygiene
# ---------------------------------------------------------------------------------------------
def test_package_import_is_lazy_and_names_are_functions():
    code = (
        "import sys, tryon.metrics as m, tryon.metrics.cli\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
        "import tryon.metrics.prdc\n"
        "assert callable(m.prdc) and m.prdc.__name__ == 'prdc'\n"
        "assert m.fid.__name__ == 'fid' and m.ssim.__name__ == 'ssim' and m.lpips.__name__ == 'lpips'\n"
        "assert 'lpips' not in sys.modules and 'pytorch_fid' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
