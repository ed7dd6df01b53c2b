"""The run protocol every plugin's training command uses: config → Trainer → run info → saved pipeline."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import torch
from torch import nn

from ..trainconfig import TrainConfig
from .trainer import Trainer, TrainResult


@dataclass
class RunOutcome:
    """What :func:`run` returns: the fitted ``trainer``, its ``result``, the saved ``pipeline`` (or None)
    and a JSON-friendly ``summary`` for the command line."""

    trainer: Trainer
    result: TrainResult
    pipeline: Any
    summary: dict[str, Any]


def run(
    config: TrainConfig,
    *,
    modules: Mapping[str, nn.Module],
    optimizers: Mapping[str, torch.optim.Optimizer],
    dataset: Any,
    step_fn: Callable[[Trainer, Any], Mapping[str, Any]],
    info: Mapping[str, Any] | None = None,
    build_pipeline: Callable[[Trainer, TrainResult], Any] | None = None,
    resume: bool | None = None,
    collate_fn: Callable[[list], Any] | None = None,
    callbacks: Sequence[tuple[int, Callable[[Trainer], Any]]] = (),
) -> RunOutcome:
    """The run protocol of every plugin's training command, in one place.

    1. ``config.out_dir`` is created and ``train_info.json`` written there (atomically, rank 0): ``info``
       (what is trained on what: objective, data, the model's settings; ``data_terms``: the training set's name and
       licence, :func:`tryon.data.terms.terms_of` unless ``info`` gives them) plus the loop's settings;
    2. a :class:`Trainer` fits ``step_fn`` (checkpoints, resume, logs, AMP and gradient clipping through
       ``trainer.backward`` / ``trainer.optimizer_step``, DDP under torchrun);
    3. ``build_pipeline(trainer, result)`` (use ``trainer.unwrap(name)`` for the trained modules) returns
       the :class:`tryon.Pipeline` to keep; its ``provenance`` gets ``info`` and what the run did
       (``steps_done``, ``stopped_by``: ``max_steps`` or ``minutes``, ``precision`` trained in, the
       ``minutes`` budget), and rank 0 saves it into the run folder (``save_pretrained(out_dir,
       keep_other_files=True)``), so the run folder is a weights folder for ``tryon.load(task, weights=out_dir)``;
       ``train_info.json`` gets the same under ``"result"``.

    ``resume``: ``None`` takes ``config.resume``.
    """
    from ..fs import atomic_write_json
    from .._version import __version__

    out = Path(config.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    info = dict(info or {})
    if "data_terms" not in info:  # what the weights were trained on, for the model card (tryon.data.terms)
        from ..data.terms import terms_of

        info["data_terms"] = terms_of(dataset).as_dict()
    trainer = Trainer(config, modules=modules, optimizers=optimizers, dataset=dataset, step_fn=step_fn,
                      collate_fn=collate_fn)
    record = {**info, "loop": config.to_dict(), "tryon_version": __version__, "torch_version": torch.__version__}
    if trainer.is_main:
        atomic_write_json(out / "train_info.json", record, default=str)
    for every, fn in callbacks:
        trainer.add_callback(every, fn)
    result = trainer.fit(resume=config.resume if resume is None else resume)
    done = {"steps_done": int(result.steps), "stopped_by": result.stopped_by, "precision": trainer.precision}
    if trainer.bf16_conv_fault:
        done["bf16_conv_fault"] = trainer.bf16_conv_fault  # and those convolutions ran in fp32
    if config.minutes is not None:
        done["minutes"] = float(config.minutes)
    if trainer.is_main:
        atomic_write_json(out / "train_info.json", {**record, "result": {**done, "elapsed_s": round(result.elapsed, 3)}},
                          default=str)
    pipeline = build_pipeline(trainer, result) if build_pipeline is not None else None
    if pipeline is not None:  # what build_pipeline recorded (e.g. a test score) is kept beside the run info
        pipeline.provenance = {**info, **getattr(pipeline, "provenance", {}), **done}
        if trainer.is_main:  # under torchrun only rank 0 writes the pipeline
            pipeline.save_pretrained(out, keep_other_files=True)
    last = dict(result.last) or (result.history[-1] if result.history else {})
    summary = {"steps": int(result.steps), "out_dir": str(out), "resumed_from": result.resumed_from, "last": last,
               "stopped_by": result.stopped_by, "precision": trainer.precision}
    return RunOutcome(trainer, result, pipeline, summary)

__all__ = ["RunOutcome", "run"]
