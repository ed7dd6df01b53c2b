"""``tryon train edibert-inpaint``: the EdiBERT token model (000 eq. 4.2.6) on the tokens of a trained, frozen VQGAN,
through the core's run protocol. The run is saved as task ``edibert-inpaint``; every EdiBERT editing task
(``edibert-inpaint``, ``-composite``, ``-crossover``, ``-denoise``) shares its weights family and loads the run folder.
The entry point :func:`train_edibert` takes ``(TrainConfig, EdiBERTTaskConfig)`` (:mod:`.config`)."""

from __future__ import annotations

from typing import Any

import torch

from tryon.train import TrainConfig, refuse_unsupported, run

from ..objective import edibert_loss, perturb
from ..pipelines import InpaintPipeline, VQGANPipeline
from .config import EDIBERT_LOOP, EdiBERTTaskConfig
from .vqgan import image_dataset

__all__ = ["edibert_step", "train_edibert"]


def edibert_step(n_codes: int, p_rand: float, frac: tuple[float, float], vqgan: torch.nn.Module):
    def step(trainer: Any, batch: Any) -> dict[str, float]:
        model = trainer.modules["transformer"]
        x = batch.to(trainer.device)
        vqgan.to(trainer.device)
        with torch.no_grad():
            tokens = vqgan.tokenize(x)
        g = torch.Generator().manual_seed(int(trainer.config.seed) * 1_000_003 + trainer.step)
        corrupted, rect, targets = perturb(tokens, n_codes, p_rand, frac, generator=g)
        with trainer.autocast():
            logits = model(corrupted)
            loss = edibert_loss(logits, targets)
        opt = trainer.optimizers["transformer"]
        opt.zero_grad(set_to_none=True)
        trainer.backward(loss)
        trainer.optimizer_step("transformer")
        with torch.no_grad():
            acc = (logits.argmax(-1)[rect] == tokens[rect]).float().mean()
        return {"loss": float(loss.detach()), "rect_acc": float(acc), "rect_share": float(rect.float().mean())}

    return step


def train_edibert(loop: TrainConfig, task: EdiBERTTaskConfig) -> Any:
    """Train the transformer on the tokens of a trained VQGAN (``task.vqgan_run``, frozen). The run folder
    ``loop.out_dir`` becomes an EdiBERT model folder serving every editing task. AdamW, betas (0.9, 0.95), decay
    ``task.weight_decay`` on matrices (reference); ``loop.lr`` ``None``: the default of :data:`EDIBERT_LOOP`
    (whose gradient clipping at 1.0 the CLI applies). Returns the :class:`tryon.train.RunOutcome`."""
    import tryon

    refuse_unsupported(loop, task)
    vqgan_run = task.vqgan_run
    vq_pipe = tryon.load("edibert-vqgan", weights=vqgan_run, device="cpu")
    vcfg = {k: v for k, v in vq_pipe.config.items()}
    size = task.size
    if size is None:  # the VQGAN's training size, recorded in its run folder
        size = VQGANPipeline.read_config(vqgan_run).get("training", {}).get("size", (256, 256))
    size = tuple(size)
    lr = float(loop.lr) if loop.lr is not None else EDIBERT_LOOP["lr"]
    torch.manual_seed(loop.seed)
    # saved as task edibert-inpaint; the editing tasks share its weights family, so every one of them loads it
    model = InpaintPipeline(**vcfg, width=task.width, layers=task.layers, heads=task.heads, max_grid=list(task.max_grid))
    model.vqgan.load_state_dict(vq_pipe.vqgan.state_dict())
    model.vqgan.eval()
    for p in model.vqgan.parameters():
        p.requires_grad_(False)
    opt = torch.optim.AdamW(model.transformer.param_groups(task.weight_decay), lr=lr, betas=(0.9, 0.95))
    frac = tuple(task.frac)
    info = {"objective": f"EdiBERT: random 2-D rectangle (sides U[{frac[0]}, {frac[1]}] of the grid), "
                         f"p_rand={task.p_rand}, cross-entropy on the rectangle (000 eq. 4.2.6)", "data": str(task.data),
            "vqgan": str(vqgan_run), "size": list(size)}
    return run(loop, modules={"transformer": model.transformer}, optimizers={"transformer": opt},
               dataset=image_dataset(task.data, size), info=info,
               step_fn=edibert_step(model.vqgan.n_codes, task.p_rand, frac, model.vqgan),
               build_pipeline=lambda trainer, result: model)
