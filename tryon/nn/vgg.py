"""Frozen VGG-19 feature extractor for the perceptual loss of 000 eq. 4.3.5 (Johnson et al., 2016).

The architecture is torchvision's ``vgg19`` ``features`` stack (configuration "E"). Pretrained weights are
only ever read from a local file (a torchvision state dict ``.pth``/``.pt`` read with
``torch.load(weights_only=True)``, or ``.safetensors``); nothing is downloaded. Without weights the
features are random (He-initialised like torchvision's VGG) and a warning is logged: the loss then still
trains end to end but is not a *perceptual* loss (deps.md §6).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
from torch import Tensor, nn

from tryon.errors import WeightsError

__all__ = ["VGG19Features", "VGG19_LAYER_NAMES", "IMAGENET_MEAN", "IMAGENET_STD"]

logger = logging.getLogger(__name__)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# torchvision vgg19 ("E"): 64 64 M 128 128 M 256x4 M 512x4 M 512x4 M
_CFG_E: list[int | str] = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"]


def _layer_names(cfg: Sequence[int | str]) -> list[str]:
    """Names of the modules of ``vgg19().features`` in order: conv1_1, relu1_1, ..., pool1, conv2_1, ..."""
    names: list[str] = []
    block, idx = 1, 1
    for v in cfg:
        if v == "M":
            names.append(f"pool{block}")
            block, idx = block + 1, 1
        else:
            names += [f"conv{block}_{idx}", f"relu{block}_{idx}"]
            idx += 1
    return names


VGG19_LAYER_NAMES: tuple[str, ...] = tuple(_layer_names(_CFG_E))


def _build_features(last_index: int) -> nn.Sequential:
    """``vgg19(weights=None).features[: last_index + 1]`` with non-inplace ReLUs.

    Builds only the convolutional stack (torchvision's ``make_layers`` with config "E") and applies the
    same initialisation as torchvision's VGG: building the whole ``vgg19`` would also allocate and
    initialise its 120M-parameter classifier only to drop it.
    """
    try:
        from torchvision.models.vgg import cfgs, make_layers

        features = make_layers(cfgs["E"], batch_norm=False)
    except (ImportError, KeyError, AttributeError):  # pragma: no cover - torchvision internals moved
        from torchvision.models import vgg19

        features = vgg19(weights=None).features
    layers: list[nn.Module] = []
    for module in list(features)[: last_index + 1]:
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            nn.init.zeros_(module.bias)
        # not in-place: an intermediate output is returned to the caller while the stack continues
        layers.append(nn.ReLU() if isinstance(module, nn.ReLU) else module)
    return nn.Sequential(*layers)


def _read_state_dict(path: Path) -> Mapping[str, Tensor]:
    name = str(path)
    if not path.is_file():
        raise WeightsError(f"VGG19 weights {name!r}: file not found")
    suffix = path.suffix.lower()
    if suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            return load_file(name, device="cpu")
        except Exception as exc:  # safetensors raises several types for bad files
            raise WeightsError(f"VGG19 weights {name!r}: not a readable safetensors file ({exc})") from exc
    if suffix in (".pth", ".pt"):
        try:
            state = torch.load(name, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise WeightsError(
                f"VGG19 weights {name!r}: not a torchvision state dict loadable with weights_only=True ({exc})"
            ) from exc
        if isinstance(state, Mapping) and isinstance(state.get("state_dict"), Mapping):
            state = state["state_dict"]
        if not isinstance(state, Mapping) or not all(isinstance(v, Tensor) for v in state.values()):
            raise WeightsError(f"VGG19 weights {name!r}: expected a state dict (name -> tensor), got {type(state).__name__}")
        return state
    raise WeightsError(f"VGG19 weights {name!r}: expected a .pth/.pt torchvision state dict or a .safetensors file")


class VGG19Features(nn.Module):
    """Frozen VGG-19 feature maps ``φ_1 ... φ_k`` for the perceptual loss (000 eq. 4.3.5).

    Args:
        weights: ``None`` (random features, with a logged warning) or a path to a local torchvision-style
            state dict (keys ``features.<i>.weight|bias`` or ``<i>.weight|bias``; ``.pth``/``.pt``) or a
            ``.safetensors`` file. Anything else raises :class:`tryon.errors.WeightsError` naming the file.
        layers: names of the layers whose output is returned, in order (see ``VGG19_LAYER_NAMES``); the
            default is the five ``relu{1..5}_1`` layers.

    ``forward(x)`` takes images in [-1, 1] (normalised to ImageNet statistics inside) and returns one map per
    layer. Parameters never require grad and the module stays in eval mode, but gradients flow to ``x``.

    Shape:
        - input: (B, 3, H, W) RGB in [-1, 1].
        - output: one (B, C_l, H / 2^p, W / 2^p) map per layer, where ``p`` is the number of pools up to and
          including the layer (each floors the size) and ``C_l`` its width (64, 128, 256, 512, 512 in blocks
          1-5); non-negative for ``relu*`` and ``pool*`` layers.
    """

    def __init__(
        self,
        weights: str | os.PathLike[str] | None = None,
        layers: Sequence[str] = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"),
    ) -> None:
        super().__init__()
        layers = tuple(layers)
        unknown = [n for n in layers if n not in VGG19_LAYER_NAMES]
        if not layers or unknown:
            raise ValueError(f"layers: expected names from {VGG19_LAYER_NAMES}, got unknown {unknown or 'none'}")
        self.layers = layers
        self._indices = [VGG19_LAYER_NAMES.index(n) for n in layers]
        self.features = _build_features(max(self._indices))
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.pretrained = weights is not None
        if weights is None:
            logger.warning(
                "VGG19Features: no weights given, using randomly initialised features; the perceptual loss "
                "uses random features (pass a local torchvision vgg19 state dict for a real perceptual loss)"
            )
        else:
            self.load_weights(weights)
        for p in self.parameters():
            p.requires_grad_(False)
        self.eval()

    def load_weights(self, path: str | os.PathLike[str]) -> None:
        """Load the convolution weights from a local file (see class docstring)."""
        path = Path(path)
        state = _read_state_dict(path)
        own = self.features.state_dict()
        selected: dict[str, Tensor] = {}
        missing: list[str] = []
        for key, value in own.items():
            for candidate in (f"features.{key}", key):
                if candidate in state:
                    tensor = state[candidate]
                    if tuple(tensor.shape) != tuple(value.shape):
                        raise WeightsError(
                            f"VGG19 weights {str(path)!r}: {candidate} has shape {tuple(tensor.shape)}, "
                            f"expected {tuple(value.shape)} (not a vgg19 state dict?)"
                        )
                    selected[key] = tensor.to(value.dtype)
                    break
            else:
                missing.append(f"features.{key}")
        if missing:
            shown = ", ".join(missing[:4]) + (" ..." if len(missing) > 4 else "")
            raise WeightsError(f"VGG19 weights {str(path)!r}: missing {len(missing)} tensors ({shown})")
        self.features.load_state_dict(selected)
        self.pretrained = True

    def train(self, mode: bool = True) -> VGG19Features:
        """Always stays in eval mode (frozen feature extractor)."""
        return super().train(False)

    def forward(self, x: Tensor) -> list[Tensor]:
        """Feature maps of ``x``, one per requested layer, in order.

        Args:
            x: (B, 3, H, W) RGB in [-1, 1].

        Returns:
            list of (B, C_l, H_l, W_l) maps (see the class docstring).
        """
        x = ((x + 1) * 0.5 - self.mean) / self.std
        wanted = set(self._indices)
        taken: dict[int, Tensor] = {}
        for i, module in enumerate(self.features):
            x = module(x)
            if i in wanted:
                taken[i] = x
        return [taken[i] for i in self._indices]
