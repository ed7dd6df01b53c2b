"""Task specs, samplers, datasets and CLI verbs of the EdiBERT plugin (wired by ``plugin.py``).

Import-light: no torch at import time; everything heavy is resolved lazily when used.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from tryon import DatasetSpec, SamplerSpec, TaskSpec, lazy
from tryon.cli import parse_size

_P = "tryon_edibert.pipelines"
_S = "tryon_edibert.samplers"
#: the editing tasks run one trained model: a run folder of `tryon train edibert` loads into each of them
_FAMILY = "edibert"


def register_tasks(registry: Any) -> None:
    registry.register(TaskSpec("edibert-vqgan", "VQGAN tokenizer: reconstruct an image (optional latent optimisation, "
                               "000 §4.2.3.5)", lazy(f"{_P}:VQGANPipeline"), inputs=("image",), outputs=("image",),
                               tags=("editing", "tokenizer")))
    registry.register(TaskSpec("edibert-denoise", "EdiBERT denoising (000 Alg. 3): resample unlikely tokens; "
                               "also the likelihood heat-map", lazy(f"{_P}:DenoisePipeline"), inputs=("image",),
                               outputs=("image", "heatmap"), tags=("editing", "edibert"), weights_family=_FAMILY))
    registry.register(TaskSpec("edibert-inpaint", "EdiBERT inpainting (000 App. D Alg. 7), mask 1 = fill",
                               lazy(f"{_P}:InpaintPipeline"), inputs=("image", "mask"), outputs=("image",),
                               tags=("editing", "edibert"), weights_family=_FAMILY))
    registry.register(TaskSpec("edibert-composite", "EdiBERT compositing / scribble edits (000 §4.2.4.3): harmonise "
                               "the pasted region (mask 1)", lazy(f"{_P}:CompositePipeline"), inputs=("image", "mask"),
                               outputs=("image",), tags=("editing", "edibert"), weights_family=_FAMILY))
    registry.register(TaskSpec("edibert-crossover", "EdiBERT crossover: image outside the mask, other inside, "
                               "harmonised (compositing)", lazy(f"{_P}:CrossoverPipeline"),
                               inputs=("image", "other", "mask"), outputs=("image",), tags=("editing", "edibert"), weights_family=_FAMILY))


def register_samplers(registry: Any) -> None:
    fam = "edibert"
    for spec in (
        SamplerSpec("spiral", fam, "one token per forward, border → inside (000 §4.2.4.2)", lazy(f"{_S}:spiral_sampler")),
        SamplerSpec("random", fam, "one token per forward, random order each epoch", lazy(f"{_S}:random_sampler")),
        SamplerSpec("raster", fam, "one token per forward, row-major (the official default)", lazy(f"{_S}:raster_sampler")),
        SamplerSpec("spiral-rings", fam, "batched: one spiral ring per transformer forward", lazy(f"{_S}:RingSampler")),
        SamplerSpec("least-likely", fam, "batched: least likely remaining positions, fixed number of forwards",
                    lazy(f"{_S}:LeastLikelySampler")),
        SamplerSpec("denoise", fam, "000 Alg. 3: positions drawn by negative log-likelihood, resampled",
                    lazy(f"{_S}:DenoiseSampler")),
    ):
        registry.register(spec)


def _image_folder(root: Any, size: Any = None, **options: Any) -> Any:
    from tryon.data import ImageFolderDataset

    return ImageFolderDataset(root, size=size, **options)


def register_datasets(registry: Any) -> None:
    registry.register(DatasetSpec("edibert-images", "any folder of images (recursive): FFHQ, LSUN, `tryon data synth` "
                                  "persons, `tryon data edibert-scenes`", _image_folder, meta={"layout": "ROOT/**/*.png|jpg"}))


# ------------------------------------------------------------------------------------------------ CLI
def _print(summary: Any) -> None:
    json.dump(summary, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")


def _size(text: str) -> tuple[int, int]:
    return parse_size(text, minimum=4)


def _configure_vqgan(p: argparse.ArgumentParser) -> None:
    from tryon.trainconfig import add_train_arguments

    add_train_arguments(p, steps=20000, batch_size=8, lr=3.6e-5, ckpt_every=500)
    p.add_argument("--data", required=True, help="image folder (recursive)")
    p.add_argument("--size", type=_size, default=(256, 256), help="training resolution HxW (default 256x256)")
    p.add_argument("--codes", type=int, default=1024, help="codebook size N (default 1024, 000 App. D.1.1)")
    p.add_argument("--factor", type=int, default=16, choices=(4, 8, 16, 32), help="downsampling factor (default 16)")
    p.add_argument("--ch", type=int, default=64, help="base channels (default 64)")
    p.add_argument("--embed-dim", type=int, default=64, help="code vector size (default 64)")
    p.add_argument("--perceptual-weights", default=None, help="local torchvision VGG19 weights (else random-feature fallback)")
    p.add_argument("--perceptual-weight", type=float, default=1.0)
    p.add_argument("--disc-start", type=int, default=10000, help="steps before the adversarial loss starts")
    p.add_argument("--disc-weight", type=float, default=0.8)
    p.add_argument("--adv-loss", default="hinge", choices=("hinge", "nonsaturating", "relativistic", "wgan"))


def _ch_mult(factor: int) -> list[int]:
    levels = {4: 2, 8: 3, 16: 4, 32: 5}[factor]
    return [1] + [min(4, 2 ** ((i + 1) // 2)) for i in range(levels)]


def _run_vqgan(args: argparse.Namespace) -> int:
    from .train import train_vqgan

    outcome = train_vqgan(args.data, args.out, size=args.size, steps=args.steps, batch_size=args.batch_size,
                          lr=args.lr if args.lr is not None else 3.6e-5, n_codes=args.codes, embed_dim=args.embed_dim,
                          ch=args.ch, ch_mult=_ch_mult(args.factor), perceptual_weights=args.perceptual_weights,
                          perceptual_weight=args.perceptual_weight, disc_start=args.disc_start,
                          disc_weight=args.disc_weight, adv_loss=args.adv_loss, seed=args.seed, device=args.device,
                          resume=args.resume, log_every=args.log_every, ckpt_every=args.ckpt_every,
                          progress=args.progress, grad_clip=args.grad_clip, amp=args.amp)
    _print(outcome.summary)
    return 0


def _configure_edibert(p: argparse.ArgumentParser) -> None:
    from tryon.trainconfig import add_train_arguments

    add_train_arguments(p, steps=20000, batch_size=16, lr=7.2e-5, ckpt_every=500)
    p.add_argument("--vqgan", required=True, help="run folder of `tryon train vqgan`")
    p.add_argument("--data", required=True, help="image folder (recursive)")
    p.add_argument("--size", type=_size, default=None, help="HxW (default: the VQGAN's training size)")
    p.add_argument("--width", type=int, default=512)
    p.add_argument("--layers", type=int, default=8, help="transformer layers (seeds: 32 of width 1024)")
    p.add_argument("--heads", type=int, default=8)
    p.add_argument("--max-grid", type=_size, default=(32, 32), help="largest token grid HxW the model accepts")
    p.add_argument("--p-rand", type=float, default=0.9)


def _run_edibert(args: argparse.Namespace) -> int:
    from .train import train_edibert

    outcome = train_edibert(args.vqgan, args.data, args.out, size=args.size, steps=args.steps,
                            batch_size=args.batch_size, lr=args.lr if args.lr is not None else 7.2e-5,
                            width=args.width, layers=args.layers, heads=args.heads, max_grid=list(args.max_grid),
                            p_rand=args.p_rand, seed=args.seed, device=args.device, resume=args.resume,
                            log_every=args.log_every, ckpt_every=args.ckpt_every, progress=args.progress,
                            grad_clip=args.grad_clip if args.grad_clip is not None else 1.0, amp=args.amp)
    _print(outcome.summary)
    return 0


def _configure_scenes(p: argparse.ArgumentParser) -> None:
    p.add_argument("--n", type=int, default=256)
    p.add_argument("--size", type=_size, default=(32, 32))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True)


def _run_scenes(args: argparse.Namespace) -> int:
    from .data import write_scenes

    out = write_scenes(args.out, args.n, args.size, args.seed)
    print(f"wrote {args.n} scenes {args.size[0]}x{args.size[1]} to {out}")
    return 0


def register_cli(app: Any) -> None:
    app.add_command("train vqgan", help="train the VQGAN tokenizer (000 §4.2.2.1) on an image folder",
                    configure=_configure_vqgan, run=_run_vqgan)
    app.add_command("train edibert", help="train EdiBERT (000 eq. 4.2.6) on the tokens of a trained VQGAN",
                    configure=_configure_edibert, run=_run_edibert)
    app.add_command("data edibert-scenes", help="write procedural scenes (EdiBERT tests and demo data)",
                    configure=_configure_scenes, run=_run_scenes)
    try:
        from .eval_cli import register_cli as reg_eval
    except ImportError:
        pass
    else:
        reg_eval(app)
    try:
        from .demo import register_cli as reg_demo
    except ImportError:
        pass
    else:
        reg_demo(app)


__all__ = ["register_cli", "register_tasks", "register_samplers", "register_datasets"]
