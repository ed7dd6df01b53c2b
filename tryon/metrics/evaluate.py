"""Evaluate a folder of generated images against a folder of real ones (``tryon eval``).

The result is a JSON-ready dict that records the protocol next to every number: resolution and resize
filter, value range, backbone + weights file + SHA-256, KID subset sizes, LPIPS backbone, SSIM variant,
paired vs unpaired, image counts and the tryon version (PROTOCOL.md explains each field).

* Distribution metrics (FID, KID, precision/recall/density/coverage, IS) compare *all* images in
  ``--real`` (the reference set) with all images in ``--fake``.
* Paired metrics (SSIM, PSNR, LPIPS, proxy-LPIPS, masked L1) compare each generated image with the real
  image of the same name (file stem; extensions may differ) or the pairs listed in ``--pairs``.
* Metrics on proxy features are named ``proxy-fid``, ``proxy-kid``, ``proxy-precision`` …
"""

from __future__ import annotations

import datetime as _dt
import math
import os
import warnings
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from .._version import __version__
from ..errors import InputError, WeightsError
from .extractors import load_extractor
from .features import FeatureExtractor, metric_name
from .protocol import ALL_METRICS, DISTRIBUTION_METRICS, PAIRED_METRICS, Protocol, preset

_PIL_FILTERS = {"nearest": 0, "lanczos": 1, "bilinear": 2, "bicubic": 3, "box": 4, "hamming": 5}


# -- folders and pairs ---------------------------------------------------------------------------
def list_images(folder: str | os.PathLike, what: str) -> list[Path]:
    from ..io import image_files

    p = Path(folder)
    if not p.is_dir():
        raise InputError(what, "a folder of images", f"no folder at {p}")
    files = image_files(p)
    if not files:
        raise InputError(what, "a folder with images (.png, .jpg, .jpeg, .webp, .bmp)", f"no images in {p}")
    return files


def _index(files: Sequence[Path]) -> tuple[dict[str, Path], dict[str, Path]]:
    by_name = {f.name: f for f in files}
    by_stem: dict[str, Path] = {}
    for f in files:
        by_stem.setdefault(f.stem, f)
    return by_name, by_stem


def _lookup(name: str, index: tuple[dict[str, Path], dict[str, Path]]) -> Path | None:
    by_name, by_stem = index
    return by_name.get(name) or by_stem.get(name) or by_stem.get(Path(name).stem)


def _missing_error(what: str, missing: list[str], total: int, other: str, hint: str) -> InputError:
    shown = ", ".join(missing[:5]) + (", …" if len(missing) > 5 else "")
    return InputError(what, f"every name to have an image in {other}", f"{len(missing)} of {total} without one (first: {shown})", hint)


def pair_files(real_files: Sequence[Path], fake_files: Sequence[Path],
               pairs_file: str | os.PathLike | None = None) -> list[tuple[Path, Path]]:
    """(real, fake) pairs: from ``pairs_file`` (lines ``REAL FAKE`` or ``NAME``; extension optional) or
    by identical file stems. Any generated image without its real counterpart → :class:`InputError`
    listing the first missing names."""
    ri, fi = _index(real_files), _index(fake_files)
    if pairs_file is None:
        missing = [f.name for f in fake_files if _lookup(f.stem, ri) is None]
        if missing:
            raise _missing_error(
                "--fake", missing, len(fake_files), "--real (same file name; paired metrics)",
                "pass --pairs FILE listing 'REAL FAKE' names, or --unpaired for distribution metrics only",
            )
        return [(_lookup(f.stem, ri), f) for f in fake_files]  # type: ignore[misc]
    path = Path(pairs_file)
    if not path.is_file():
        raise InputError("--pairs", "a text file of 'REAL FAKE' lines", f"no file at {path}")
    out: list[tuple[Path, Path]] = []
    miss_r: list[str] = []
    miss_f: list[str] = []
    for line in path.read_text().splitlines():
        toks = line.split("#", 1)[0].split()
        if not toks:
            continue
        r_name, f_name = toks[0], toks[1] if len(toks) > 1 else toks[0]
        r, f = _lookup(r_name, ri), _lookup(f_name, fi)
        if r is None:
            miss_r.append(r_name)
        if f is None:
            miss_f.append(f_name)
        if r is not None and f is not None:
            out.append((r, f))
    if miss_r:
        raise _missing_error(f"--pairs {path}", miss_r, len(out) + len(miss_r), "--real", "check the first column")
    if miss_f:
        raise _missing_error(f"--pairs {path}", miss_f, len(out) + len(miss_f), "--fake", "check the second column")
    if not out:
        raise InputError("--pairs", "at least one 'REAL FAKE' line", f"no pairs in {path}")
    return out


# -- loading at the protocol resolution -----------------------------------------------------------
class _Loader:
    def __init__(self, size: tuple[int, int], resize_filter: str) -> None:
        self.size, self.filter = size, resize_filter
        self.resized: dict[str, int] = {}

    def uint8(self, path: Path, group: str) -> np.ndarray:
        from PIL import Image

        from ..io import load_image

        arr = load_image(path, name=group)
        if arr.shape[:2] != self.size:
            h, w = self.size
            arr = np.asarray(Image.fromarray(arr).resize((w, h), resample=_PIL_FILTERS[self.filter]))
            self.resized[group] = self.resized.get(group, 0) + 1
        return arr

    def batch(self, paths: Sequence[Path], group: str) -> torch.Tensor:
        arrs = np.stack([self.uint8(p, group) for p in paths])
        return torch.from_numpy(arrs).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)

    def mask(self, path: Path) -> torch.Tensor:
        from PIL import Image

        from ..io import load_mask

        m = load_mask(path, name="mask")
        if m.shape != self.size:
            h, w = self.size
            m = np.asarray(Image.fromarray((m * 255).astype(np.uint8)).resize((w, h), resample=0), dtype=np.float32) / 255.0
            self.resized["masks"] = self.resized.get("masks", 0) + 1
        return torch.from_numpy(m)[None, None]


def _first_size(path: Path) -> tuple[int, int]:
    from ..io import load_image

    return tuple(load_image(path, name="--fake").shape[:2])  # type: ignore[return-value]


def _chunks(items: Sequence[Any], n: int):
    for i in range(0, len(items), n):
        yield items[i : i + n]


def _finite(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    if isinstance(v, dict):
        return {k: _finite(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_finite(x) for x in v]
    return v


# -- the evaluation ------------------------------------------------------------------------------
_ALIASES = {"masked-l1": "masked_l1", "maskedl1": "masked_l1", "proxy_lpips": "proxy-lpips", "inception_score": "is", "pr": "prdc"}


def resolve_metrics(
    requested: Sequence[str] | None,
    *,
    unpaired: bool,
    have_features: bool,
    is_proxy: bool,
    lpips_available: bool,
    have_masks: bool,
) -> tuple[list[str], dict[str, str]]:
    """The metrics to compute, and the ones skipped with the reason (``requested=None`` = automatic)."""
    skipped: dict[str, str] = {}
    if requested is None:
        chosen: list[str] = []
        if have_features:
            chosen += ["fid", "kid", "prdc"]
        else:
            skipped["fid/kid/prdc"] = "no feature extractor (--features inception:PATH | proxy:PATH | proxy:train)"
        if not unpaired:
            chosen += ["ssim", "psnr"]
            if lpips_available:
                chosen.append("lpips")
            else:
                skipped["lpips"] = "no LPIPS backbone weights (--lpips-backbone PATH or TRYON_LPIPS_BACKBONE)"
            if have_masks:
                chosen.append("masked_l1")
        return chosen, skipped
    chosen = []
    for raw in requested:
        m = _ALIASES.get(raw.strip().lower(), raw.strip().lower())
        if m.startswith("proxy-") and m[6:] in ("fid", "kid", "prdc"):
            if not is_proxy:
                raise InputError("--metrics", f"{m!r} only with proxy features", "Inception or no features", hint=f"ask for {m[6:]!r}")
            m = m[6:]
        if m not in ALL_METRICS:
            raise InputError("--metrics", f"names from {', '.join(ALL_METRICS)}", repr(raw))
        if m in PAIRED_METRICS and unpaired:
            raise InputError("--metrics", "distribution metrics only with --unpaired", f"{m!r} (a paired metric: it needs ground truth)")
        if m in DISTRIBUTION_METRICS and not have_features:
            raise WeightsError(
                f"{m} needs a feature extractor: --features inception:PATH (pytorch-fid pt_inception-2015-12-05 weights, "
                "never downloaded) or proxy:PATH / proxy:train (results labelled 'proxy')"
            )
        if m == "is" and is_proxy:
            raise InputError("--metrics", "'is' only with Inception features", "proxy features (a proxy has no class posterior)")
        if m == "proxy-lpips" and not is_proxy:
            raise WeightsError("proxy-lpips needs proxy features: --features proxy:PATH or proxy:train")
        if m == "masked_l1" and not have_masks:
            raise InputError("--metrics", "--masks DIR for masked_l1 (1 = edited region)", "no --masks")
        if m not in chosen:
            chosen.append(m)
    return chosen, skipped


def evaluate_folders(
    real: str | os.PathLike,
    fake: str | os.PathLike,
    *,
    metrics: Sequence[str] | None = None,
    features: str | FeatureExtractor | None = None,
    pairs: str | os.PathLike | None = None,
    masks: str | os.PathLike | None = None,
    unpaired: bool = False,
    protocol: Protocol | str | None = None,
    lpips_backbone: str | os.PathLike | None = None,
    device: str | torch.device | None = None,
    proxy_out: str | os.PathLike | None = None,
    proxy_steps: int = 300,
    seed: int = 0,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Compute ``metrics`` for the images in ``fake`` against ``real`` under ``protocol``.

    ``features``: ``"inception:PATH"``, ``"proxy:PATH"``, ``"proxy:train"`` (train a proxy on ``real``
    now, saved to ``proxy_out``) or a :class:`FeatureExtractor`. ``metrics=None`` picks what the inputs
    allow and lists the rest under ``"skipped"``. Returns the JSON-ready result (see module doc).
    """
    say = log or (lambda s: None)
    proto = protocol if isinstance(protocol, Protocol) else preset(protocol or "tryon")
    dev = torch.device(device) if device else torch.device("cuda" if torch.cuda.is_available() else "cpu")
    real_files = list_images(real, "--real")
    fake_files = list_images(fake, "--fake")
    pair_list: list[tuple[Path, Path]] = [] if unpaired else pair_files(real_files, fake_files, pairs)
    if unpaired and pairs is not None:
        raise InputError("--pairs", "no pair list with --unpaired", str(pairs))
    mask_index = None
    if masks is not None:
        mask_index = _index(list_images(masks, "--masks"))
        missing = [f.name for _, f in pair_list if _lookup(f.stem, mask_index) is None]
        if missing:
            raise _missing_error("--masks", missing, len(pair_list), "--masks (same name as the generated image)",
                                 "one mask per generated image; 1 = edited")

    lpips_available = bool(lpips_backbone or os.environ.get("TRYON_LPIPS_BACKBONE"))
    feature_spec = features
    train_proxy_now = isinstance(features, str) and features.strip() in ("proxy:train", "proxy:auto")
    have_features = features is not None
    extractor: FeatureExtractor | None = None
    if isinstance(features, FeatureExtractor):
        extractor = features
    elif have_features and not train_proxy_now:
        kwargs = {"resize": proto.fid_resize} if str(features).startswith("inception:") else {}
        extractor = load_extractor(str(features), **kwargs)
    chosen, skipped = resolve_metrics(
        metrics,
        unpaired=unpaired,
        have_features=have_features,
        is_proxy=train_proxy_now or (extractor is not None and extractor.is_proxy),
        lpips_available=lpips_available,
        have_masks=mask_index is not None,
    )
    size = proto.size or _first_size(fake_files[0])
    loader = _Loader(size, proto.resize_filter)

    if train_proxy_now and any(m in DISTRIBUTION_METRICS or m == "proxy-lpips" for m in chosen):
        import torch.nn.functional as F

        from .proxy import DEFAULT_INPUT_SIZE, train_proxy

        out_dir = Path(proxy_out) if proxy_out else Path(fake).resolve().parent / f"{Path(fake).name}.proxy"
        say(f"training a proxy feature extractor on {len(real_files)} real images ({proxy_steps} steps) → {out_dir}")
        # kept in memory at the proxy's input size only (the evaluation size may be large)
        imgs = torch.cat([
            F.interpolate(loader.batch(c, "real"), size=DEFAULT_INPUT_SIZE, mode="bilinear", align_corners=False, antialias=True)
            for c in _chunks(real_files, proto.batch_size)
        ])
        loader.resized.pop("real", None)
        extractor = train_proxy(imgs, out_dir, steps=proxy_steps, seed=seed, device=dev)
        del imgs
    if extractor is not None:
        extractor = extractor.to(dev).eval()

    need_feats = any(m in DISTRIBUTION_METRICS for m in chosen)
    need_logits = "is" in chosen
    values: dict[str, Any] = {}
    details: dict[str, Any] = {}
    lpips_model = None
    if "lpips" in chosen:
        from .lpips import load_lpips

        lpips_model = load_lpips(proto.lpips_net, lpips_backbone, proto.lpips_version, device=dev)

    # paired metrics + fake features in one pass over the generated images
    per_image: dict[str, list[float]] = {m: [] for m in chosen if m in PAIRED_METRICS}
    fake_feats: list[np.ndarray] = []
    fake_logits: list[torch.Tensor] = []
    fake_order = [f for _, f in pair_list] if pair_list else list(fake_files)
    extra_fakes = [f for f in fake_files if f not in set(fake_order)] if pair_list else []
    bs = proto.batch_size

    def _fake_features(fk: torch.Tensor) -> None:
        if need_logits:
            f, z = extractor.features_and_logits(fk)  # type: ignore[union-attr]
            fake_logits.append(z.cpu())
            fake_feats.append(f.double().cpu().numpy())
        elif need_feats:
            fake_feats.append(extractor(fk).double().cpu().numpy())  # type: ignore[misc]

    say(f"evaluating {len(fake_files)} generated vs {len(real_files)} real images at {size[0]}×{size[1]} on {dev}")
    with torch.no_grad():
        for chunk_pairs in _chunks(pair_list if pair_list else [(None, f) for f in fake_files], bs):
            fk = loader.batch([f for _, f in chunk_pairs], "fake").to(dev)
            _fake_features(fk)
            if per_image:
                rl = loader.batch([r for r, _ in chunk_pairs], "real_paired").to(dev)
                _paired(per_image, rl, fk, chunk_pairs, proto, lpips_model, extractor, loader, mask_index, dev)
        for chunk in _chunks(extra_fakes, bs):  # fakes outside the pair list still count for distributions
            _fake_features(loader.batch(chunk, "fake").to(dev))
        real_feats: list[np.ndarray] = []
        if need_feats and any(m in chosen for m in ("fid", "kid", "prdc")):
            for chunk in _chunks(real_files, bs):
                real_feats.append(extractor(loader.batch(chunk, "real").to(dev)).double().cpu().numpy())  # type: ignore[misc]

    for m, vals in per_image.items():
        values[m] = float(np.mean(vals))
        details[m] = {"num_pairs": len(vals), "std": float(np.std(vals))}
    if "ssim" in details:
        details["ssim"].update(channels=proto.ssim_channels, padding=proto.ssim_padding, window=proto.ssim_window,
                               sigma=proto.ssim_sigma, data_range=1.0)
    if "lpips" in details and lpips_model is not None:
        details["lpips"].update(lpips_model.tryon_info)
    if "proxy-lpips" in details:
        details["proxy-lpips"]["label"] = "proxy"
    if "masked_l1" in details:
        details["masked_l1"].update(value_range="[-1, 1]", region="outside the mask (mask 1 = edited)")
    if need_feats or need_logits:
        from .fid import fid as _fid
        from .fid import kid as _kid
        from .iscore import inception_score_from_logits
        from .prdc import prdc as _prdc

        if real_feats:
            R, Fk = np.concatenate(real_feats), np.concatenate(fake_feats)
        if "fid" in chosen:
            values[metric_name("fid", extractor)] = _fid(R, Fk, method=proto.fid_method)
            details[metric_name("fid", extractor)] = {"method": proto.fid_method, "num_real": len(R), "num_fake": len(Fk),
                                                      "dims": int(R.shape[1])}
        if "kid" in chosen:
            if proto.kid_subset_size > min(len(R), len(Fk)):
                say(f"KID subset size {proto.kid_subset_size} > {min(len(R), len(Fk))} images: using {min(len(R), len(Fk))} (recorded)")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the clamp is reported above and recorded in details
                k = _kid(R, Fk, subset_size=proto.kid_subset_size, num_subsets=proto.kid_subsets, seed=proto.kid_seed,
                         scale=proto.kid_scale)
            values[metric_name("kid", extractor)] = k["kid"]
            values[metric_name("kid_std", extractor)] = k["kid_std"]
            details[metric_name("kid", extractor)] = k
        if "prdc" in chosen:
            k = min(proto.prdc_k, len(R) - 1, len(Fk) - 1)
            if k < 1:
                raise InputError("prdc", "at least 2 real and 2 generated images", f"{len(R)} and {len(Fk)}")
            p = _prdc(R, Fk, k=k)
            for key in ("precision", "recall", "density", "coverage"):
                values[metric_name(key, extractor)] = p[key]
            details[metric_name("prdc", extractor)] = {**p, "k_requested": proto.prdc_k}
        if "is" in chosen:
            splits = min(proto.is_splits, sum(len(x) for x in fake_logits))
            s = inception_score_from_logits(torch.cat(fake_logits), splits=splits)
            values["is"], values["is_std"] = s["is"], s["is_std"]
            details["is"] = {**s, "splits_requested": proto.is_splits, "logits": "1008-way, no classifier bias"}

    proto_d = proto.as_dict()
    proto_d.update(
        resolution=[int(size[0]), int(size[1])],
        resolution_source="protocol" if proto.size else "first generated image",
        resized=dict(loader.resized),
    )
    return _finite(
        {
            "tryon_version": __version__,
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "real": str(Path(real).resolve()),
            "fake": str(Path(fake).resolve()),
            "pairs": str(Path(pairs).resolve()) if pairs else ("by file name" if pair_list else None),
            "masks": str(Path(masks).resolve()) if masks else None,
            "setting": "unpaired" if unpaired else "paired",
            "num_real": len(real_files),
            "num_fake": len(fake_files),
            "num_pairs": len(pair_list),
            "reference_set": f"all {len(real_files)} images in --real" if need_feats else None,
            "device": str(dev),
            "protocol": proto_d,
            "features": extractor.describe() if extractor is not None and (need_feats or need_logits or "proxy-lpips" in chosen) else None,
            "features_spec": str(feature_spec) if isinstance(feature_spec, str) else None,
            "metrics": values,
            "details": details,
            "skipped": skipped,
        }
    )


def _paired(per_image, rl, fk, chunk_pairs, proto, lpips_model, extractor, loader, mask_index, dev) -> None:
    from .lpips import lpips as _lpips
    from .lpips import proxy_lpips
    from .masked import masked_l1
    from .ssim import psnr, ssim

    if "ssim" in per_image:
        per_image["ssim"] += ssim(fk, rl, channels=proto.ssim_channels, padding=proto.ssim_padding,
                                  window_size=proto.ssim_window, sigma=proto.ssim_sigma, reduction="none").tolist()
    if "psnr" in per_image:
        per_image["psnr"] += psnr(fk, rl, channels=proto.ssim_channels, reduction="none").tolist()
    if "lpips" in per_image:
        per_image["lpips"] += _lpips(fk, rl, model=lpips_model, reduction="none").tolist()
    if "proxy-lpips" in per_image:
        per_image["proxy-lpips"] += proxy_lpips(fk, rl, extractor, reduction="none").tolist()
    if "masked_l1" in per_image:
        masks = torch.cat([loader.mask(_lookup(f.stem, mask_index)) for _, f in chunk_pairs]).to(dev)
        per_image["masked_l1"] += masked_l1(fk, rl, masks, reduction="none").tolist()
