"""What the EdiBERT plugin declares (torch-free; the hooks in :mod:`.plugin` call these): tasks, samplers, datasets.

* tasks ``edibert-vqgan`` (the tokenizer) and the editing tasks ``edibert-denoise``, ``edibert-inpaint``,
  ``edibert-composite``, ``edibert-crossover``, which share the weights family ``"edibert"``: one run folder of
  ``tryon train edibert-inpaint`` loads into each of them;
* samplers of family ``"edibert"``: the one-token and batched orderings (:mod:`.samplers`) and the parallel decoders
  (:mod:`.parallel`);
* the dataset ``edibert-images`` (any image folder).

Factories are :func:`tryon.lazy` strings, imported on first use.
"""

from __future__ import annotations

from typing import Any

from tryon import DatasetSpec, SamplerSpec, TaskSpec, lazy

_P = "tryon_edibert.pipelines"
_S = "tryon_edibert.samplers"
#: the editing tasks run one trained model: a run folder of `tryon train edibert-inpaint` loads into each of them
_FAMILY = "edibert"

#: the parallel-decoding samplers (:mod:`tryon_edibert.parallel`): name → (summary, class, measured cost)
PARALLEL_SAMPLERS = {
    "maskgit": ("parallel: MaskGIT confidence + cosine schedule, 8 forwards per pass (16 by default) for any region",
                "MaskGITSampler", "16 forwards for any hole; 0.05 s per 32×32 photo crop, batched, optim_steps=0 "
                "(2-core EPYC, docs/results/real-inpaint-fast)"),
    "halton": ("parallel: 2-D Halton order + cosine schedule, 8 forwards per pass (16 by default) for any region",
               "HaltonSampler", "16 forwards for any hole; 0.03 s per 32×32 photo crop, batched, optim_steps=0 "
               "(2-core EPYC, docs/results/real-inpaint-fast)"),
}
#: one token per forward: the cost of the seed's Algorithm 7 with its defaults
ONE_TOKEN_COST = ("1 forward per hole token and epoch; 5.9 s per 32×32 photo crop with the defaults (200 latent-optimisation "
                  "steps dominate; docs/results/real-inpaint-trained)")


def task_specs() -> list[TaskSpec]:
    return [
        TaskSpec("edibert-vqgan", "VQGAN tokenizer: reconstruct an image (optional latent optimisation, 000 §4.2.3.5)",
                 lazy(f"{_P}:VQGANPipeline"), inputs=("image",), outputs=("image",), tags=("editing", "tokenizer")),
        TaskSpec("edibert-denoise", "EdiBERT denoising (000 Alg. 3): resample unlikely tokens; also the likelihood "
                 "heat-map", lazy(f"{_P}:DenoisePipeline"), inputs=("image",), outputs=("image", "heatmap"),
                 tags=("editing", "edibert"), weights_family=_FAMILY),
        TaskSpec("edibert-inpaint", "EdiBERT inpainting (000 App. D Alg. 7), mask 1 = fill", lazy(f"{_P}:InpaintPipeline"),
                 inputs=("image", "mask"), outputs=("image",), tags=("editing", "edibert"), weights_family=_FAMILY),
        TaskSpec("edibert-composite", "EdiBERT compositing / scribble edits (000 §4.2.4.3): harmonise the pasted region "
                 "(mask 1)", lazy(f"{_P}:CompositePipeline"), inputs=("image", "mask"), outputs=("image",),
                 tags=("editing", "edibert"), weights_family=_FAMILY),
        TaskSpec("edibert-crossover", "EdiBERT crossover: image outside the mask, other inside, harmonised (compositing)",
                 lazy(f"{_P}:CrossoverPipeline"), inputs=("image", "other", "mask"), outputs=("image",),
                 tags=("editing", "edibert"), weights_family=_FAMILY),
    ]


def sampler_specs() -> list[SamplerSpec]:
    fam = "edibert"
    specs = [
        SamplerSpec("spiral", fam, "one token per forward, border → inside (000 §4.2.4.2)", lazy(f"{_S}:spiral_sampler"),
                    cost=ONE_TOKEN_COST),
        SamplerSpec("random", fam, "one token per forward, random order each epoch", lazy(f"{_S}:random_sampler")),
        SamplerSpec("raster", fam, "one token per forward, row-major (the official default)", lazy(f"{_S}:raster_sampler")),
        SamplerSpec("spiral-rings", fam, "batched: one spiral ring per transformer forward", lazy(f"{_S}:RingSampler")),
        SamplerSpec("least-likely", fam, "batched: least likely remaining positions, fixed number of forwards",
                    lazy(f"{_S}:LeastLikelySampler")),
        SamplerSpec("denoise", fam, "000 Alg. 3: positions drawn by negative log-likelihood, resampled",
                    lazy(f"{_S}:DenoiseSampler")),
    ]
    specs += [SamplerSpec(name, fam, summary, lazy(f"tryon_edibert.parallel:{cls}"), cost=cost)
              for name, (summary, cls, cost) in PARALLEL_SAMPLERS.items()]
    return specs


def _image_folder(root: Any, size: Any = None, **options: Any) -> Any:
    from tryon.data import ImageFolderDataset

    return ImageFolderDataset(root, size=size, **options)


def dataset_specs() -> list[DatasetSpec]:
    return [DatasetSpec("edibert-images", "any folder of images (recursive): FFHQ, LSUN, `tryon data synth` persons, "
                        "`tryon data edibert-scenes`", _image_folder, meta={"layout": "ROOT/**/*.png|jpg"})]


__all__ = ["PARALLEL_SAMPLERS", "dataset_specs", "sampler_specs", "task_specs"]
