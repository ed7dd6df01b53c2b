"""Human parser ``h`` of the teacher pipeline (000 §4.3.2, §4.3.3.2): the model and its scores.

000 uses a pre-trained joint body-parsing / pose network (Liang et al., 2019) to build the agnostic person
``p*``; we train our own: a ``segmentation_models_pytorch.Unet`` (encoder configurable, default the light
``resnet18``) over the canonical label set of :mod:`tryon_wuton.data` (VITON-HD ``image-parse-v3``
labels), scored with pixel accuracy and mIoU. ``encoder_weights=None`` always (nothing is downloaded);
ImageNet weights for the encoder come only from a local file the user names (:func:`load_encoder_weights`).

Training lives in :mod:`tryon_wuton.training.parser` (``tryon train wuton-parser``).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Sequence

import torch
import torch.nn as nn

log = logging.getLogger("tryon_wuton.parsing")

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
DEFAULT_ENCODER = "resnet18"


class HumanParser(nn.Module):
    """``smp.Unet`` over RGB persons in [-1, 1] → per-pixel class logits ``B×K×H×W``.

    The input is mapped to ImageNet statistics inside (what the smp encoders expect), so the parser takes
    the SDK's image convention directly. :meth:`features` returns 5 encoder feature maps (strides 2…32),
    used as a documented fallback perceptual feature extractor when no VGG weights are available.
    """

    def __init__(self, num_classes: int, encoder: str = DEFAULT_ENCODER,
                 decoder_channels: Sequence[int] = (256, 128, 64, 32, 16)):
        super().__init__()
        import segmentation_models_pytorch as smp

        self.num_classes = int(num_classes)
        self.encoder_name = str(encoder)
        self.net = smp.Unet(
            encoder_name=self.encoder_name,
            encoder_weights=None,  # never download; see load_encoder_weights for local ImageNet weights
            classes=self.num_classes,
            decoder_channels=tuple(int(c) for c in decoder_channels),
        )
        mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
        std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
        self.register_buffer("mean", mean, persistent=False)
        self.register_buffer("std", std, persistent=False)

    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        return ((x + 1) * 0.5 - self.mean) / self.std

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(self.normalise(x))

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Label map ``B×H×W`` (int64)."""
        return self.forward(x).argmax(1)

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Encoder features at strides 2, 4, 8, 16, 32 (the identity stage 0 of smp is dropped)."""
        return list(self.net.encoder(self.normalise(x)))[1:6]


def load_encoder_weights(parser: HumanParser, path: str | os.PathLike) -> dict[str, int]:
    """Load ImageNet (or any) encoder weights from a *local* file into ``parser``'s encoder.

    Accepts a torchvision-style classification state dict (the ``fc.*`` head is dropped) or an smp encoder
    state dict, as ``.safetensors`` or a ``torch.load(weights_only=True)`` file; keys may carry an
    ``encoder.`` prefix. Returns counts of loaded/ignored keys. Raises :class:`tryon.errors.WeightsError`
    when nothing fits.
    """
    from tryon.errors import WeightsError

    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"encoder weights {path}: no such file")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001
        raise WeightsError(f"encoder weights {path}: not readable ({exc})") from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    enc = parser.net.encoder
    own = enc.state_dict()
    fitted = {}
    for k, v in state.items():
        key = k[len("encoder.") :] if k.startswith("encoder.") else k
        if key in own and tuple(own[key].shape) == tuple(v.shape):
            fitted[key] = v
    if not fitted:
        raise WeightsError(f"encoder weights {path}: no tensor fits encoder {parser.encoder_name!r}")
    enc.load_state_dict(fitted, strict=False)
    missing = [k for k in own if k not in fitted and not k.endswith("num_batches_tracked")]
    if missing:
        log.warning("encoder weights %s: %d encoder tensors not in the file (kept random): %s", path, len(missing),
                    missing[:5])
    return {"loaded": len(fitted), "ignored": len(state) - len(fitted), "missing": len(missing)}


# ------------------------------------------------------------------------------------------------
# metrics
# ------------------------------------------------------------------------------------------------
def confusion_matrix(pred: torch.Tensor, target: torch.Tensor, num_classes: int) -> torch.Tensor:
    """``K×K`` int64 confusion matrix (rows = target). Hand-written with ``bincount``: we accumulate it
    over the whole test split and need our own absent-class rule for mIoU (see :func:`segmentation_scores`)."""
    valid = (target >= 0) & (target < num_classes)
    idx = target[valid].long() * num_classes + pred[valid].long()
    return torch.bincount(idx, minlength=num_classes * num_classes).reshape(num_classes, num_classes).cpu()


def segmentation_scores(conf: torch.Tensor) -> dict[str, Any]:
    """Pixel accuracy and mIoU from a confusion matrix. mIoU averages the classes that occur in the
    target or the prediction (union > 0); classes absent from both are not counted."""
    conf = conf.double()
    tp = conf.diag()
    union = conf.sum(0) + conf.sum(1) - tp
    present = union > 0
    iou = torch.where(present, tp / union.clamp(min=1), torch.full_like(tp, float("nan")))
    return {
        "pixel_accuracy": float(tp.sum() / conf.sum().clamp(min=1)),
        "miou": float(iou[present].mean()) if bool(present.any()) else float("nan"),
        "iou_per_class": [None if torch.isnan(v) else float(v) for v in iou],
        "classes_present": int(present.sum()),
    }


@torch.no_grad()
def evaluate_parser(parser: HumanParser, dataset: Any, batch_size: int = 8, device: Any = "cpu") -> dict[str, Any]:
    """Pixel accuracy and mIoU of ``parser`` on ``dataset`` (items with ``person`` and ``parse``)."""
    from torch.utils.data import DataLoader

    was_training = parser.training
    parser.eval()
    conf = torch.zeros(parser.num_classes, parser.num_classes, dtype=torch.int64)
    n = 0
    for batch in DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=0):
        person = batch["person"].to(device)
        target = batch["parse"].to(device).long()
        if target.dim() == 4:
            target = target[:, 0]
        conf += confusion_matrix(parser(person).argmax(1), target, parser.num_classes)
        n += person.shape[0]
    parser.train(was_training)
    scores = segmentation_scores(conf)
    scores["images"] = n
    return scores


__all__ = [
    "HumanParser",
    "DEFAULT_ENCODER",
    "load_encoder_weights",
    "confusion_matrix",
    "segmentation_scores",
    "evaluate_parser",
]
