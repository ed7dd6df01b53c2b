"""Training of the human parser ``h`` (000 §4.3.2, §4.3.3.2): pixel-wise cross-entropy on parse maps.

The model (:class:`tryon_wuton.parsing.HumanParser`, an smp U-Net) is trained on the dataset's canonical
parse maps and scored (pixel accuracy, mIoU) on the test split. Each step goes through the
:class:`tryon.train.Trainer` (``autocast``, ``backward``, ``optimizer_step``: AMP and gradient clipping), the
run through :func:`tryon.train.run`.

CLI: ``tryon train wuton-parser --data DIR --out RUN [--steps N] [--size 256x192] [--precision bf16] [--grad-clip X]``
(see :mod:`tryon_wuton.cli`). ``RUN`` ends up holding the ``wuton-parser`` pipeline weights
(``config.json`` + ``parser.safetensors``) next to ``train_info.json``, ``parser_eval.json`` and the trainer's
checkpoints and logs.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from ..parsing import evaluate_parser, load_encoder_weights
from .batches import open_split, require_parse
from .config import PARSER_LOOP, PARSER_LR, ParserTaskConfig  # noqa: F401 - re-exported

log = logging.getLogger("tryon_wuton.training.parser")


def parser_step(trainer: Any, batch: dict[str, Any]) -> dict[str, float]:
    """One cross-entropy step on parse maps (``step_fn`` of :class:`tryon.train.Trainer`)."""
    parser = trainer.modules["parser"]
    person = batch["person"].to(trainer.device)
    target = batch["parse"].to(trainer.device).long()
    if target.dim() == 4:
        target = target[:, 0]
    parser.train()
    with trainer.autocast():
        logits = parser(person)
        loss = F.cross_entropy(logits, target)
    trainer.optimizers["parser"].zero_grad(set_to_none=True)
    trainer.backward(loss)
    trainer.optimizer_step("parser")
    with torch.no_grad():
        acc = (logits.argmax(1) == target).float().mean()
    return {"ce": float(loss.detach()), "pixel_acc": float(acc)}


def train_parser(loop: Any, task: ParserTaskConfig) -> dict[str, Any]:
    """Train the human parser on ``task.data`` (train split) and evaluate it on the test split.

    ``loop``: the :class:`tryon.train.TrainConfig` (``lr`` ``None``: :data:`PARSER_LR`; the CLI's defaults are
    :data:`PARSER_LOOP`); ``task``: a :class:`ParserTaskConfig`. Writes into ``loop.out_dir``:
    ``train_info.json``, the trainer's logs/checkpoints, the ``wuton-parser`` pipeline weights (``config.json`` +
    ``parser.safetensors``, loadable with ``tryon.load("wuton-parser", weights=out)``; the test scores are in
    its ``training.evaluation``) and ``parser_eval.json`` (pixel accuracy, mIoU). Returns a summary dict
    (``steps``, ``out_dir``, ``test`` …).
    """
    from tryon.errors import InputError
    from tryon.fs import atomic_write_json
    from tryon.train import refuse_unsupported, run

    from ..data.labels import NUM_CANONICAL
    from ..pipelines import WutonParserPipeline

    refuse_unsupported(loop, task)
    if task.data is None:
        raise InputError("ParserTaskConfig.data", "a dataset folder", "None")
    out, data = Path(loop.out_dir), task.data
    size = (int(task.size[0]), int(task.size[1]))
    lr = float(loop.lr) if loop.lr is not None else PARSER_LR
    train_ds = open_split(data, "train", size)
    require_parse(train_ds, "the parser is trained on them")
    torch.manual_seed(loop.seed)
    pipe = WutonParserPipeline(size=list(size), num_classes=NUM_CANONICAL, encoder=task.encoder)
    if task.encoder_weights:
        weights_info = load_encoder_weights(pipe.parser, task.encoder_weights)
        log.info("parser encoder initialised from %s (%s)", task.encoder_weights, weights_info)
    opt = torch.optim.Adam(pipe.parser.parameters(), lr=lr)
    # filled when training ends: the dict itself (not a copy) reaches the provenance tryon.train.run gives
    # the pipeline, so the test scores are saved in config.json ("training.evaluation")
    evaluation: dict[str, Any] = {}
    scores: dict[str, Any] = {}
    info = {
        "objective": "human parser, pixel-wise cross-entropy (000 §4.3.2)",
        "data": str(data), "steps": int(loop.max_steps), "batch_size": int(loop.batch_size), "lr": lr,
        "encoder": task.encoder, "encoder_weights": str(task.encoder_weights) if task.encoder_weights else None,
        "seed": int(loop.seed), "evaluation": evaluation,
    }

    def build_pipeline(trainer: Any, result: Any) -> WutonParserPipeline:
        parser = trainer.unwrap("parser")
        test_ds = _test_split(data, size, train_ds)
        scores.update(evaluate_parser(parser, test_ds, batch_size=loop.batch_size, device=trainer.device))
        evaluation.update({"test_pixel_accuracy": scores["pixel_accuracy"], "test_miou": scores["miou"],
                           "test_images": scores["images"]})
        pipe.parser = parser.cpu().eval()
        return pipe

    outcome = run(loop, modules={"parser": pipe.parser}, optimizers={"parser": opt}, dataset=train_ds,
                  step_fn=parser_step, info=info, build_pipeline=build_pipeline)
    summary = {"steps": int(outcome.result.steps), "out_dir": str(out), "test": scores}
    if outcome.trainer.is_main:
        atomic_write_json(out / "parser_eval.json", summary)
    return {**outcome.summary, **summary}


def _test_split(data: Any, size: Sequence[int], train_ds: Any) -> Any:
    from tryon.errors import DatasetError

    try:
        ds = open_split(data, "test", size)
    except (DatasetError, FileNotFoundError, ValueError):
        log.warning("no test split in %s: parser evaluated on the training split", data)
        return train_ds
    return ds if len(ds) > 0 else train_ds


__all__ = ["PARSER_LOOP", "PARSER_LR", "ParserTaskConfig", "parser_step", "train_parser"]
