"""Proxy feature extractor: a small CNN trained on the data at hand, for when no Inception weights exist.

Nothing here is comparable with published FID: every number computed from these features is labelled
``proxy`` (``proxy-fid``, ``proxy-kid``, ``proxy-precision`` …, ``proxy-lpips``). This mirrors the
seeds, which compute FID / precision-recall on dataset-specific networks when ImageNet networks do not
fit the data (000 App. C Table C.1, 002 ``eval.py``: a small classifier's penultimate features; seeds-gan
§1.2, §1.4). Here no labels exist, so the network is trained *self-supervised*: SimCLR's NT-Xent
contrastive loss (Chen et al. 2020) between two kornia-augmented views of each image (random resized
crop, horizontal flip, colour jitter, greyscale). Contrastive features separate images by content and
are insensitive to the nuisances of the augmentations, which is what a distribution metric needs.

Architecture (``tryon-proxy-cnn-v1``): input resized to ``input_size`` (bilinear, antialiased), values in
[-1, 1]; 4 stages of [3×3 stride-2 conv, GroupNorm, ReLU, 3×3 conv, GroupNorm, ReLU] with ``widths``
channels; global average pool → ``widths[-1]``-d features (256 by default). A 2-layer projection head
is used only for training. Saved as ``<name>.safetensors`` + ``<name>.json`` (config + training record).
"""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path
from typing import Any, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from .._version import __version__
from ..errors import InputError, WeightsError
from .features import FeatureExtractor, describe_path

log = logging.getLogger("tryon.metrics.proxy")

# train_proxy's Adam learning rate and its linear warm-up. Without warm-up, 1e-3 collapsed the embedding
# on synthetic try-on persons within 25 steps (feature std over the batch 0.06 -> 0.005, NT-Xent stuck at
# chance = log(2B - 1) = 4.14); with a 60-step warm-up it trains (4.13 -> 3.35 in 100 steps, 256 persons at
# 128x96, batch 32). 3e-4 without warm-up also trains there but is too slow on small sets.
PROXY_LR = 1e-3
PROXY_WARMUP_MAX = 50  # warm-up steps: min(PROXY_WARMUP_MAX, steps // 4)

ARCH = "tryon-proxy-cnn-v1"
DEFAULT_WIDTHS = (32, 64, 128, 256)
DEFAULT_INPUT_SIZE = (128, 96)


def _groups(c: int) -> int:
    return 8 if c % 8 == 0 else 1


class ProxyNet(nn.Module):
    """The proxy CNN. ``feature_maps(x)`` → list of stage outputs; ``forward(x)`` → pooled features."""

    def __init__(self, widths: Sequence[int] = DEFAULT_WIDTHS, input_size: Sequence[int] = DEFAULT_INPUT_SIZE, proj_dim: int = 128) -> None:
        super().__init__()
        self.widths = tuple(int(w) for w in widths)
        self.input_size = (int(input_size[0]), int(input_size[1]))
        stages = []
        c_in = 3
        for c in self.widths:
            stages.append(
                nn.Sequential(
                    nn.Conv2d(c_in, c, 3, stride=2, padding=1),
                    nn.GroupNorm(_groups(c), c),
                    nn.ReLU(inplace=True),
                    nn.Conv2d(c, c, 3, padding=1),
                    nn.GroupNorm(_groups(c), c),
                    nn.ReLU(inplace=True),
                )
            )
            c_in = c
        self.stages = nn.ModuleList(stages)
        # The projection head (training only) uses a leaky ReLU: with a plain ReLU its hidden units could all die in
        # the first steps, the embedding became a constant and NT-Xent sat at chance. Measured on the WUTON quality
        # benchmark's 512 synthetic persons, 200 steps, seed 0: ReLU collapsed with 2 torch threads (4.143 = chance)
        # and trained with 1 (2.85); leaky ReLU trained with both (2.98 / 2.82). No parameters: files stay loadable.
        self.head = nn.Sequential(nn.Linear(c_in, c_in), nn.LeakyReLU(0.2, inplace=True), nn.Linear(c_in, proj_dim))
        self.dims = c_in

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[-2:]) != self.input_size:
            x = F.interpolate(x, size=self.input_size, mode="bilinear", align_corners=False, antialias=True)
        return x

    def feature_maps(self, x: torch.Tensor) -> list[torch.Tensor]:
        h = self.prepare(x.float())
        maps = []
        for stage in self.stages:
            h = stage(h)
            maps.append(h)
        return maps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.feature_maps(x)[-1].mean(dim=(2, 3))


class ProxyFeatures(FeatureExtractor):
    """A proxy extractor (label ``proxy``). Build with :meth:`from_file` (a trained proxy) or wrap any
    module mapping ``B×3×H×W`` in [-1, 1] to ``B×D`` (``ProxyFeatures(module, name="my-net")``)."""

    kind = "proxy"
    label = "proxy"

    def __init__(self, net: nn.Module, name: str = ARCH, config: dict[str, Any] | None = None, info: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.net = net.eval()
        self.name = name
        self.config = dict(config or {})
        self.info = dict(info or {})
        self.dims = int(getattr(net, "dims", 0) or self.config.get("dims", 0))
        for p in self.net.parameters():
            p.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.float())

    def feature_maps(self, x: torch.Tensor) -> list[torch.Tensor]:
        if not hasattr(self.net, "feature_maps"):
            raise InputError("extractor", "a proxy network with feature_maps() (tryon's ProxyNet)", type(self.net).__name__)
        return self.net.feature_maps(x)

    def describe(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "label": self.label,
            "backbone": self.name,
            "dims": self.dims,
            "input": "RGB in [-1, 1]",
            "note": "proxy features trained on the data at hand: NOT comparable with Inception FID/KID",
            **({"config": self.config} if self.config else {}),
            **self.info,
        }

    @classmethod
    def from_file(cls, path: str | Path) -> "ProxyFeatures":
        """Load ``proxy.safetensors`` + ``proxy.json`` (a file path, its stem, or the folder holding them)."""
        weights, cfg_path = _paths(path)
        if not weights.is_file() or not cfg_path.is_file():
            raise WeightsError(f"proxy extractor not found: expected {weights} and {cfg_path} (train one with tryon.metrics.train_proxy)")
        cfg = json.loads(cfg_path.read_text())
        if cfg.get("arch") != ARCH:
            raise WeightsError(f"{cfg_path}: arch {cfg.get('arch')!r} is not {ARCH!r}")
        net = ProxyNet(cfg["widths"], cfg["input_size"], cfg.get("proj_dim", 128))
        from safetensors.torch import load_file

        sd = load_file(str(weights))
        try:
            net.load_state_dict(sd, strict=True)
        except RuntimeError as exc:
            raise WeightsError(f"{weights} does not fit the proxy config {cfg_path}: {str(exc)[:300]}") from exc
        return cls(net, name=ARCH, config=cfg, info=describe_path(weights))


def _paths(path: str | Path) -> tuple[Path, Path]:
    """``x.safetensors`` / ``x.json`` / ``x`` (when ``x.safetensors`` exists) → that pair; anything else is
    a folder holding ``proxy.safetensors`` + ``proxy.json``."""
    p = Path(path)
    if p.suffix in (".safetensors", ".json"):
        p = p.with_suffix("")
        return p.with_suffix(".safetensors"), p.with_suffix(".json")
    if not p.is_dir() and Path(str(p) + ".safetensors").is_file():
        return Path(str(p) + ".safetensors"), Path(str(p) + ".json")
    return p / "proxy.safetensors", p / "proxy.json"


def _load_images(images: Any, size: tuple[int, int]) -> torch.Tensor:
    if isinstance(images, torch.Tensor):
        x = images.float()
        if x.ndim != 4 or x.shape[1] != 3:
            raise InputError("images", "an N×3×H×W tensor in [-1, 1]", f"shape {tuple(images.shape)}")
    else:
        from ..io import load_image, to_tensor

        ts = []
        for i, item in enumerate(images):
            t = item if isinstance(item, torch.Tensor) else to_tensor(load_image(item, name=f"image {i}"))
            t = t if t.ndim == 4 else t[None]
            ts.append(F.interpolate(t.float(), size=size, mode="bilinear", align_corners=False, antialias=True))
        if not ts:
            raise InputError("images", "at least 2 images to train a proxy", "none")
        x = torch.cat(ts)
    if x.shape[-2:] != size:
        x = F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)
    if x.shape[0] < 2:
        raise InputError("images", "at least 2 images to train a proxy", f"{x.shape[0]}")
    return x


def _augment(size: tuple[int, int]) -> nn.Module:
    import kornia.augmentation as K

    return nn.Sequential(
        K.RandomResizedCrop(size, scale=(0.5, 1.0)),
        K.RandomHorizontalFlip(),
        K.ColorJitter(0.4, 0.4, 0.4, 0.1, p=0.8),
        K.RandomGrayscale(p=0.2),
    )


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> torch.Tensor:
    """SimCLR's normalised-temperature cross entropy over the 2B views (positives = the other view)."""
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    sim = z @ z.t() / temperature
    n = z1.shape[0]
    sim.fill_diagonal_(float("-inf"))
    target = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    return F.cross_entropy(sim, target)


def train_proxy(
    images: Any,
    out_path: str | Path,
    steps: int = 300,
    *,
    batch_size: int = 32,
    lr: float = PROXY_LR,
    temperature: float = 0.2,
    input_size: Sequence[int] = DEFAULT_INPUT_SIZE,
    widths: Sequence[int] = DEFAULT_WIDTHS,
    seed: int = 0,
    device: str | torch.device | None = None,
) -> ProxyFeatures:
    """Train the proxy CNN on ``images`` with NT-Xent for ``steps`` steps; save and return it.

    ``images``: ``N×3×H×W`` tensor in [-1, 1] or an iterable of paths / arrays / tensors (resized to
    ``input_size``). ``out_path``: a folder (→ ``proxy.safetensors`` + ``proxy.json``) or a
    ``*.safetensors`` path (the JSON goes next to it). Deterministic for a given ``seed`` on one device.
    """
    from safetensors.torch import save_file

    size = (int(input_size[0]), int(input_size[1]))
    x = _load_images(images, size)
    dev = torch.device(device) if device is not None else torch.device("cpu")
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    net = ProxyNet(widths, size).to(dev)
    aug = _augment(size).to(dev)
    opt = torch.optim.Adam(net.parameters(), lr=lr, weight_decay=1e-4)
    warmup = max(1, min(PROXY_WARMUP_MAX, int(steps) // 4))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warmup))
    bs = min(int(batch_size), x.shape[0])
    history = []
    t0 = time.time()
    net.train()
    for _ in range(int(steps)):
        idx = torch.randperm(x.shape[0], generator=gen)[:bs]
        batch01 = (x[idx].to(dev) + 1.0) / 2.0
        with torch.no_grad():
            v1, v2 = aug(batch01) * 2 - 1, aug(batch01) * 2 - 1
        loss = nt_xent(net.head(net(v1)), net.head(net(v2)), temperature)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        history.append(float(loss.detach()))
    net.eval().cpu()
    weights, cfg_path = _paths(out_path)
    weights.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(weights))
    tail = history[-10:] if history else [math.nan]
    chance = math.log(2 * bs - 1)  # NT-Xent of an embedding that cannot tell any two images apart
    final = float(sum(tail) / len(tail))
    if not final < 0.98 * chance:
        log.warning("proxy feature net did not train: NT-Xent %.3f vs chance %.3f after %d steps (collapsed or too "
                    "few steps); proxy-* metrics from it measure near-random features", final, chance, int(steps))
    cfg = {
        "arch": ARCH,
        "widths": list(net.widths),
        "input_size": list(size),
        "proj_dim": int(net.head[-1].out_features),
        "dims": net.dims,
        "objective": f"SimCLR NT-Xent, temperature {temperature}, kornia views (resized crop 0.5–1, flip, colour jitter, grey)",
        "steps": int(steps),
        "batch_size": bs,
        "lr": lr,
        "warmup_steps": warmup,
        "seed": seed,
        "num_images": int(x.shape[0]),
        "final_loss": final,
        "initial_loss": history[0] if history else None,
        "chance_loss": chance,
        "trained": bool(final < 0.98 * chance),
        "train_seconds": round(time.time() - t0, 2),
        "tryon_version": __version__,
    }
    cfg_path.write_text(json.dumps(cfg, indent=2))
    return ProxyFeatures(net, name=ARCH, config=cfg, info=describe_path(weights))
