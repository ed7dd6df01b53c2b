"""Human parser ``h`` of the teacher pipeline (000 §4.3.2, §4.3.3.2).

000 uses a pre-trained joint body-parsing / pose network (Liang et al., 2019) to build the agnostic person
``p*``; we train our own: a ``segmentation_models_pytorch.Unet`` (encoder configurable, default the light
``resnet18``) over the canonical label set of :mod:`tryon_wuton.data` (VITON-HD ``image-parse-v3``
labels), trained with pixel-wise cross-entropy on the dataset's parse maps and evaluated with pixel accuracy
and mIoU on the test split. ``encoder_weights=None`` always (nothing is downloaded); ImageNet weights for the
encoder come only from a local file the user names (``--encoder-weights PATH``).

CLI: ``tryon train parser --data DIR --out RUN [--steps N] [--size 256x192]`` (see :mod:`tryon_wuton.commands`).
``RUN`` ends up holding the ``wuton-parser`` pipeline weights (``config.json`` + ``parser.safetensors``)
next to the trainer's checkpoints and logs.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from tryon._fs import atomic_write_json

log = logging.getLogger("tryon_wuton.parser")

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
DEFAULT_ENCODER = "resnet18"


class HumanParser(nn.Module):
    """``smp.Unet`` over RGB persons in [-1, 1] → per-pixel class logits ``B×K×H×W``.

    The input is mapped to ImageNet statistics inside (what the smp encoders expect), so the parser takes
    the SDK's image convention directly. :meth:`features` returns 5 encoder feature maps (strides 2…32),
    used as a documented fallback perceptual feature extractor when no VGG weights are available.
    """

    def __init__(self, num_classes: int, encoder: str = DEFAULT_ENCODER, decoder_channels: Sequence[int] = (256, 128, 64, 32, 16)):
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
        log.warning("encoder weights %s: %d encoder tensors not in the file (kept random): %s", path, len(missing), missing[:5])
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


# ------------------------------------------------------------------------------------------------
# training
# ------------------------------------------------------------------------------------------------
def parser_step(trainer: Any, batch: dict[str, Any]) -> dict[str, float]:
    """One cross-entropy step on parse maps (``step_fn`` of :class:`tryon.train.Trainer`)."""
    parser = trainer.modules["parser"]
    opt = trainer.optimizers["parser"]
    person = batch["person"].to(trainer.device)
    target = batch["parse"].to(trainer.device).long()
    if target.dim() == 4:
        target = target[:, 0]
    parser.train()
    logits = parser(person)
    loss = F.cross_entropy(logits, target)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    with torch.no_grad():
        acc = (logits.argmax(1) == target).float().mean()
    return {"ce": float(loss.detach()), "pixel_acc": float(acc)}


def train_parser(
    data: str | os.PathLike,
    out: str | os.PathLike,
    *,
    steps: int = 2000,
    size: Sequence[int] = (256, 192),
    batch_size: int = 8,
    lr: float = 1e-3,
    encoder: str = DEFAULT_ENCODER,
    encoder_weights: str | os.PathLike | None = None,
    seed: int = 0,
    device: Any = None,
    resume: bool = True,
    log_every: int = 10,
    ckpt_every: int = 200,
    num_workers: int = 0,
) -> dict[str, Any]:
    """Train the human parser on ``data`` (train split) and evaluate it on the test split.

    Writes into ``out``: the trainer's logs/checkpoints, the ``wuton-parser`` pipeline weights
    (``config.json`` + ``parser.safetensors``, loadable with ``tryon.load("wuton-parser", weights=out)``)
    and ``parser_eval.json`` (pixel accuracy, mIoU). Returns a summary dict.
    """
    from .data.labels import NUM_CANONICAL
    from .pipelines import WutonParserPipeline, save_pipeline_into
    from .teacher import _core, fit_run, open_split, require_parse

    out = Path(out)
    size = (int(size[0]), int(size[1]))
    train_ds = open_split(data, "train", size)
    require_parse(train_ds, "the parser is trained on them")
    num_classes = NUM_CANONICAL
    torch.manual_seed(seed)
    pipe = WutonParserPipeline(size=list(size), num_classes=num_classes, encoder=encoder)
    weights_info = None
    if encoder_weights:
        weights_info = load_encoder_weights(pipe.parser, encoder_weights)
        log.info("parser encoder initialised from %s (%s)", encoder_weights, weights_info)
    opt = torch.optim.Adam(pipe.parser.parameters(), lr=float(lr))
    trainer, result = fit_run(
        out, None, {"parser": pipe.parser}, {"parser": opt}, train_ds, parser_step, steps=steps, batch_size=batch_size,
        seed=seed, lr=float(lr), log_every=log_every, ckpt_every=ckpt_every, device=device, num_workers=num_workers,
        resume=resume,
    )
    parser = _core(trainer.modules["parser"])
    test_ds = _test_split(data, size, train_ds)
    scores = evaluate_parser(parser, test_ds, batch_size=batch_size, device=trainer.device) if test_ds is not None else None
    pipe.parser = parser.cpu().eval()
    pipe.config["training"] = {
        "data": str(data), "steps": int(result.steps), "batch_size": int(batch_size), "lr": float(lr),
        "encoder_weights": str(encoder_weights) if encoder_weights else None, "seed": int(seed),
        "test_pixel_accuracy": scores["pixel_accuracy"] if scores else None,
        "test_miou": scores["miou"] if scores else None,
    }
    if trainer.is_main:  # under torchrun only rank 0 writes the pipeline
        save_pipeline_into(pipe, out)
    summary = {"steps": int(result.steps), "out_dir": str(out), "test": scores}
    atomic_write_json(out / "parser_eval.json", summary)
    return summary


def _test_split(data: Any, size: Sequence[int], train_ds: Any) -> Any:
    from tryon.errors import DatasetError

    from .teacher import open_split

    try:
        ds = open_split(data, "test", size)
    except (DatasetError, FileNotFoundError, ValueError):
        log.warning("no test split in %s: parser evaluated on the training split", data)
        return train_ds
    return ds if len(ds) > 0 else train_ds


__all__ = [
    "HumanParser",
    "load_encoder_weights",
    "confusion_matrix",
    "segmentation_scores",
    "evaluate_parser",
    "parser_step",
    "train_parser",
]
