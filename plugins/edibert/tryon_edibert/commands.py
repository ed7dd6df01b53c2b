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
from tryon.trainconfig import add_config_arguments, add_train_arguments, config_from_args, train_config_from_args

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
    from .config import VQGAN_LOOP, VQGANTaskConfig

    add_train_arguments(p, **VQGAN_LOOP)
    add_config_arguments(p, VQGANTaskConfig, title="vqgan")


def _run_vqgan(args: argparse.Namespace) -> int:
    from .config import VQGANTaskConfig
    from .train import train_vqgan

    _print(train_vqgan(train_config_from_args(args), config_from_args(VQGANTaskConfig, args)).summary)
    return 0


def _configure_edibert(p: argparse.ArgumentParser) -> None:
    from .config import EDIBERT_LOOP, EdiBERTTaskConfig

    add_train_arguments(p, **EDIBERT_LOOP)
    add_config_arguments(p, EdiBERTTaskConfig, title="edibert")


def _run_edibert(args: argparse.Namespace) -> int:
    from .config import EdiBERTTaskConfig
    from .train import train_edibert

    _print(train_edibert(train_config_from_args(args), config_from_args(EdiBERTTaskConfig, args)).summary)
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
