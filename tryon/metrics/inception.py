"""Inception-v3 features for FID / KID / IS, from a local weights file only (never downloaded).

The FID network is TensorFlow's 2015-12-05 Inception-v3 (Heusel et al. 2017), which differs from
torchvision's in four blocks (pytorch-fid's port; weights ``pt_inception-2015-12-05-6726825d.pth``):

* Mixed_5b/5c/5d (InceptionA), Mixed_6b–6e (InceptionC), Mixed_7b (InceptionE): the 3×3 average pool
  of the pooling branch does not count the zero padding (``count_include_pad=False``, TF semantics);
* Mixed_7c (InceptionE): the pooling branch uses a 3×3 *max* pool;
* the classifier has 1008 classes.

:class:`FIDInceptionV3` builds it from torchvision's ``inception_v3(weights=None, aux_logits=False,
init_weights=False, num_classes=1008)`` and swaps those blocks. :class:`InceptionFeatures` loads a
state dict (``torch.load(weights_only=True)`` or ``.safetensors``) and returns the 2048-d pool
features; inputs are ``B×3×H×W`` in [-1, 1], resized to 299×299 as the protocol says
(``torch-bilinear`` = pytorch-fid, ``pil-bicubic-float`` = clean-fid ``mode='clean'``).

clean-fid's own Inception (``inception-2015-12-05.pt``, the StyleGAN2-ADA TorchScript export) is also
accepted: it is recognised as a TorchScript archive and run as clean-fid does (input in [0, 255],
``(x − 128) / 128``, then ``.layers``). That format is code + tensors, loaded with ``torch.jit.load``.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import InputError, WeightsError
from .features import FeatureExtractor, describe_path
from .protocol import FID_RESIZE_MODES

INCEPTION_SIZE = 299
NUM_CLASSES = 1008


def _inception_blocks():
    from torchvision.models import inception as tvi

    class FIDInceptionA(tvi.InceptionA):
        """InceptionA with TF average pooling (padding not counted)."""

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            b1 = self.branch1x1(x)
            b5 = self.branch5x5_2(self.branch5x5_1(x))
            b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
            bp = self.branch_pool(F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False))
            return torch.cat([b1, b5, b3, bp], 1)

    class FIDInceptionC(tvi.InceptionC):
        """InceptionC with TF average pooling (padding not counted)."""

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            b1 = self.branch1x1(x)
            b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
            bd = self.branch7x7dbl_1(x)
            for layer in (self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4, self.branch7x7dbl_5):
                bd = layer(bd)
            bp = self.branch_pool(F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False))
            return torch.cat([b1, b7, bd, bp], 1)

    class FIDInceptionE(tvi.InceptionE):
        """InceptionE; ``pool='avg'`` (TF average pool, Mixed_7b) or ``'max'`` (Mixed_7c)."""

        def __init__(self, in_channels: int, pool: str) -> None:
            super().__init__(in_channels)
            self.pool = pool

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            b1 = self.branch1x1(x)
            b3 = self.branch3x3_1(x)
            b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
            bd = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
            bd = torch.cat([self.branch3x3dbl_3a(bd), self.branch3x3dbl_3b(bd)], 1)
            if self.pool == "max":
                p = F.max_pool2d(x, kernel_size=3, stride=1, padding=1)
            else:
                p = F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)
            return torch.cat([b1, b3, bd, self.branch_pool(p)], 1)

    return FIDInceptionA, FIDInceptionC, FIDInceptionE


def fid_inception_v3() -> torch.nn.Module:
    """The FID Inception-v3 architecture with *untrained* weights (load a state dict into it)."""
    from torchvision.models import inception_v3

    A, C, E = _inception_blocks()
    net = inception_v3(weights=None, aux_logits=False, init_weights=False, num_classes=NUM_CLASSES)
    net.Mixed_5b = A(192, pool_features=32)
    net.Mixed_5c = A(256, pool_features=64)
    net.Mixed_5d = A(288, pool_features=64)
    net.Mixed_6b = C(768, channels_7x7=128)
    net.Mixed_6c = C(768, channels_7x7=160)
    net.Mixed_6d = C(768, channels_7x7=160)
    net.Mixed_6e = C(768, channels_7x7=192)
    net.Mixed_7b = E(1280, pool="avg")
    net.Mixed_7c = E(2048, pool="max")
    return net


def _is_torchscript(path: Path) -> bool:
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as z:
        return any("/code/" in n for n in z.namelist())


def load_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """A state dict from ``.safetensors`` or a ``torch.save`` file (``weights_only=True``: no pickle code)."""
    p = Path(path)
    if not p.is_file():
        raise WeightsError(f"weights file not found: {p} (weights are never downloaded; pass a local file)")
    if p.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(p))
    try:
        sd = torch.load(str(p), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - report any unpickling failure as a weights problem
        raise WeightsError(f"{p}: not a weights-only torch state dict ({type(exc).__name__}: {str(exc)[:200]})") from exc
    if isinstance(sd, dict) and "state_dict" in sd and isinstance(sd["state_dict"], dict):
        sd = sd["state_dict"]
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise WeightsError(f"{p}: expected a state dict (name → tensor), got {type(sd).__name__}")
    return sd


def resize_to_inception(x: torch.Tensor, mode: str, size: int = INCEPTION_SIZE) -> torch.Tensor:
    """``B×3×H×W`` in [-1, 1] → ``B×3×size×size`` in [-1, 1] (values may overshoot slightly for bicubic
    before clipping, as in clean-fid).

    * ``torch-bilinear``: ``F.interpolate(bilinear, align_corners=False)`` — pytorch-fid (it resizes
      [0, 1] values, which is the same map since it is linear).
    * ``pil-bicubic-float``: clean-fid ``mode='clean'`` — each channel as a float32 PIL image in [0, 255],
      ``resize(BICUBIC)``, clipped to [0, 255].
    """
    if x.shape[-2:] == (size, size):
        return x
    if mode == "torch-bilinear":
        return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    if mode == "pil-bicubic-float":
        from PIL import Image

        arr = ((x.detach().float().cpu() + 1.0) * 127.5).numpy()
        out = np.empty((arr.shape[0], 3, size, size), dtype=np.float32)
        for i in range(arr.shape[0]):
            for c in range(3):
                img = Image.fromarray(arr[i, c].astype(np.float32), mode="F").resize((size, size), resample=Image.BICUBIC)
                out[i, c] = np.asarray(img).clip(0, 255)
        return torch.from_numpy(out).to(x.device).div(127.5).sub(1.0)
    raise InputError("fid_resize", f"one of {', '.join(FID_RESIZE_MODES)}", repr(mode))


class InceptionFeatures(FeatureExtractor):
    """Inception-v3 pool features (2048-d) from a local FID weights file.

    ``path``: pytorch-fid ``pt_inception-2015-12-05-*.pth`` (or the same state dict as
    ``.safetensors``), or clean-fid's TorchScript ``inception-2015-12-05.pt``. ``resize`` picks how
    images reach 299×299 (see :func:`resize_to_inception`). :meth:`logits` gives the 1008 class logits
    *without* the classifier bias, the convention of the original Inception Score code.
    """

    kind = "inception"
    label = ""
    dims = 2048

    def __init__(self, path: str | Path, resize: str = "torch-bilinear") -> None:
        super().__init__()
        if resize not in FID_RESIZE_MODES:
            raise InputError("resize", f"one of {', '.join(FID_RESIZE_MODES)}", repr(resize))
        self.path = Path(path)
        if not self.path.is_file():
            raise WeightsError(
                f"Inception weights not found: {self.path}. FID needs the pytorch-fid file "
                "pt_inception-2015-12-05-6726825d.pth (or clean-fid's inception-2015-12-05.pt) on disk; "
                "nothing is downloaded. Without it use proxy features (proxy:PATH), labelled 'proxy'."
            )
        self.resize = resize
        self.torchscript = _is_torchscript(self.path)
        self._info: dict[str, Any] | None = None  # path + sha256, computed on first describe()
        if self.torchscript:
            self.net = None
            self.ts = torch.jit.load(str(self.path), map_location="cpu").eval()
            self.format = "torchscript (clean-fid / StyleGAN2-ADA inception-2015-12-05.pt)"
        else:
            self.ts = None
            self.net = fid_inception_v3()
            sd = load_state_dict(self.path)
            missing, unexpected = self._check_keys(sd)
            if missing or unexpected:
                raise WeightsError(
                    f"{self.path} does not fit the FID Inception-v3: missing {missing[:5]}{'…' if len(missing) > 5 else ''}, "
                    f"unexpected {unexpected[:5]}{'…' if len(unexpected) > 5 else ''}"
                )
            try:
                self.net.load_state_dict(sd, strict=True)
            except RuntimeError as exc:
                raise WeightsError(f"{self.path} does not fit the FID Inception-v3: {str(exc)[:300]}") from exc
            self.net.eval()
            self.format = ("safetensors state dict" if self.path.suffix == ".safetensors"
                           else "pytorch-fid state dict (torch.load weights_only)")
        for p in self.parameters():
            p.requires_grad_(False)

    def _check_keys(self, sd: dict[str, torch.Tensor]) -> tuple[list[str], list[str]]:
        want = set(self.net.state_dict())
        have = set(sd)
        return sorted(want - have), sorted(have - want)

    def _trunk(self, x: torch.Tensor) -> torch.Tensor:
        n = self.net
        x = n.Conv2d_1a_3x3(x)
        x = n.Conv2d_2a_3x3(x)
        x = n.Conv2d_2b_3x3(x)
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        x = n.Conv2d_3b_1x1(x)
        x = n.Conv2d_4a_3x3(x)
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        for name in ("Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e",
                     "Mixed_7a", "Mixed_7b", "Mixed_7c"):
            x = getattr(n, name)(x)
        return F.adaptive_avg_pool2d(x, 1).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``B×3×H×W`` in [-1, 1] → ``B×2048`` pool features."""
        x = resize_to_inception(x.float(), self.resize)
        if self.ts is not None:
            x255 = (x + 1.0) * 127.5
            return self.ts.layers.forward((x255 - 128.0) / 128.0).reshape(x.shape[0], -1)
        return self._trunk(x)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """``B×1008`` class logits without the bias (Inception Score convention)."""
        return self.features_and_logits(x)[1]

    def features_and_logits(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Pool features and bias-free logits from one forward pass."""
        if self.net is None:
            raise WeightsError(
                "Inception Score needs the classifier layer of the pytorch-fid state dict; the TorchScript "
                "clean-fid file is used for features only"
            )
        f = self.forward(x)
        return f, f @ self.net.fc.weight.t()

    def describe(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "label": self.label,
            "backbone": "inception-v3 (TF 2015-12-05, FID variant)",
            "format": self.format,
            "dims": self.dims,
            "input": "RGB in [-1, 1]" + (", fed as (x255 − 128)/128" if self.torchscript else ""),
            "resize_to_299": self.resize,
            **self._file_info(),
        }

    def _file_info(self) -> dict[str, Any]:
        if self._info is None:
            self._info = describe_path(self.path)
        return self._info
