"""What the GAN plugin declares (torch-free; the hooks in :mod:`.plugin` call these): its tasks, datasets and samplers.

* tasks ``gan-generate`` and ``gan-latent-weights`` (:mod:`.pipelines`); the inversion tasks ``gan-invert``,
  ``gan-inpaint``, ``gan-composite`` and ``gan-crossover`` (one weights family, ``gan-inversion``; exportable
  components ``encoder`` and ``projector`` = encoder + generator, for ``tryon export`` and ``tryon.runtime``);
* datasets ``gan-grid``, ``gan-gaussians25``, … (:mod:`.data`);
* samplers of family ``"gan"`` (:data:`SAMPLERS`, classes in :mod:`.samplers`).

Factories are :func:`tryon.lazy` strings, imported on first use.
"""

from __future__ import annotations

from typing import Any

from tryon import DatasetSpec, ExportSpec, SamplerSpec, TaskSpec, lazy

_P = "tryon_gan.pipelines"

#: the "gan" samplers: name → (summary, class in :mod:`tryon_gan.samplers`)
SAMPLERS = {
    "gan-plain": ("z ~ N(0, I), x = G(z) (no rejection)", "PlainSampler"),
    "jbt": ("Jacobian-based truncation: keep the lowest-JFN fraction (000 §3.2.3.4)", "JBTSampler"),
    "simplicial": ("simplicial-cluster truncation, tau calibrated to a target acceptance (001)", "SimplicialSampler"),
    "deligan": ("DeliGAN prior: z = eps + mu_k over the K means a deligan generator learnt (000 Table 3.1)", "DeliGANSampler"),
    "dmlgan": ("DMLGAN prior: generator c ~ the prior a dmlgan generator learnt, z ~ N(0, I) (000 Table 3.1)", "DMLGANSampler"),
    "latent-rs": ("latentRS: rejection in latent space with trained w(z), acceptance ~ 1/m (002 Alg. 2)", "LatentRSSampler"),
    "latent-ga": ("latentGA: gradient ascent on w(z) in latent space (002 Alg. 5)", "LatentGASampler"),
    "latent-rs-ga": ("latentRS then latentGA (002 Alg. 6)", "LatentRSGASampler"),
    "drs": ("discriminator rejection sampling on a BCE discriminator (Azadi et al. 2019)", "DRSSampler"),
    "sir": ("sampling-importance-resampling, N candidates per sample (Grover et al. 2019)", "SIRSampler"),
}


def _inversion_export(name: str) -> ExportSpec:
    attr = {"encoder": "ENCODER_EXPORT", "projector": "PROJECTOR_EXPORT"}[name]

    def spec() -> Any:
        import importlib

        return getattr(importlib.import_module(_P), attr)

    return ExportSpec(name=name, build=lambda pipe: spec().build(pipe),
                      example_inputs=lambda pipe, b: spec().example_inputs(pipe, b),
                      outputs=("latent",) if name == "encoder" else ("reconstruction", "latent"), min_opset=16,
                      normalisation={"color": "RGB", "layout": "NCHW", "dtype": "float32", "range": [-1.0, 1.0],
                                     "per_tensor": {"mask": {"kind": "mask"}, "image": {"kind": "image"}}})


def task_specs() -> list[TaskSpec]:
    specs = [
        TaskSpec(name="gan-generate", summary="unconditional GAN generator (+ its discriminator): pipe(n, seed, "
                 "sampler=...) -> samples (000 ch. 3)", factory=lazy(f"{_P}:GanPipeline"),
                 outputs=("samples", "latents", "stats"), tags=("gan", "generation")),
        TaskSpec(name="gan-latent-weights", summary="latent importance weights w(z) >= 0 of a trained generator, for "
                 "latentRS/GA (002)", factory=lazy(f"{_P}:LatentWeightsPipeline"), outputs=("weights",),
                 tags=("gan", "sampling")),
    ]
    exports = (_inversion_export("projector"), _inversion_export("encoder"))
    for name, cls, summary, inputs in (
        ("gan-invert", "GanInvertPipeline", "GAN inversion (optimisation | encoder | hybrid | plumerault), batched; "
         "mask 1 = ignore (000 §2.2, 003 ch. 4)", ("image", "mask")),
        ("gan-inpaint", "GanInpaintPipeline", "inpainting through GAN inversion: invert the known pixels, decode, "
         "paste (mask 1 = fill)", ("image", "mask")),
        ("gan-composite", "GanCompositePipeline", "compositing through GAN inversion: harmonise a collage (mask 1 = "
         "pasted region)", ("image", "mask")),
        ("gan-crossover", "GanCrossoverPipeline", "crossover through GAN inversion: image outside the mask, other "
         "inside, harmonised", ("image", "other", "mask")),
    ):
        specs.append(TaskSpec(name=name, summary=summary, factory=lazy(f"{_P}:{cls}"), inputs=inputs,
                              outputs=("image",), exportable=exports, tags=("gan", "inversion", "editing"),
                              weights_family="gan-inversion"))
    return specs


def _ignore_root(factory: Any) -> Any:
    def build(root: Any = None, **options: Any) -> Any:
        return factory(**options)

    build.__qualname__ = build.__name__ = f"synthetic({getattr(factory, 'target', factory)})"
    return build


def dataset_specs() -> list[DatasetSpec]:
    specs = []
    for name, summary, target in (
        ("gan-grid", "Gaussians on a grid, M modes at spacing D (000 Fig. 3.2d, App. A.2.3), with oracle", "gaussian_grid"),
        ("gan-gaussians25", "DOT's 25 Gaussians (000 Table 3.4), with oracle", "gaussians25"),
        ("gan-swissroll", "DOT's Swiss roll (000 Table 3.4), with oracle (distance to the roll)", "swiss_roll"),
        ("gan-onehot", "M equidistant one-hot modes in R^d (001, 000 Fig. 3.8), with oracle", "onehot_modes"),
        ("gan-digits", "scikit-learn's 8x8 handwritten digits, 1x8x8 in [-1, 1] (offline)", "DigitsData"),
        ("gan-points", "a .npy/.csv/.txt file of N x D points", "load_points_file"),
        ("gan-images", "an image folder (MNIST/CIFAR/FFHQ files) at a square size, 1 or 3 channels", "ImageFolderData"),
    ):
        factory = lazy(f"tryon_gan.data:{target}")
        if target in ("load_points_file", "ImageFolderData"):
            specs.append(DatasetSpec(name, summary, factory))
        else:  # synthetic sets take no root
            specs.append(DatasetSpec(name, summary, _ignore_root(factory), meta={"synthetic": True}))
    return specs


def sampler_specs() -> list[SamplerSpec]:
    return [SamplerSpec(name, family="gan", summary=summary, factory=lazy(f"tryon_gan.samplers:{cls}"))
            for name, (summary, cls) in SAMPLERS.items()]


__all__ = ["SAMPLERS", "dataset_specs", "sampler_specs", "task_specs"]
