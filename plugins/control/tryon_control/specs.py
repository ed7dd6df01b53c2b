"""What the control plugin declares (torch-free; the hooks in :mod:`.plugin` call these): its tasks and datasets.

* tasks ``avae-reconstruct`` and ``avae-generate`` (003 ch. 3; one weights family ``avae``, classes in
  :mod:`.pipelines`), with the exportable component ``encoder`` (RGB image → μ_e(x));
* datasets ``avae-toy`` (the 2-D toy of 003 §3.4.1) and ``avae-digits`` (scikit-learn digits, upsampled), both
  synthetic (no root); image folders are read through the core's ``tryon.data.ImageFolderDataset``.

Factories are :func:`tryon.lazy` strings, imported on first use.
"""

from __future__ import annotations

from typing import Any

from tryon import DatasetSpec, ExportSpec, TaskSpec, lazy

_P = "tryon_control.pipelines"
#: the task the train verb records (``tryon train avae-reconstruct``); its run serves every task of the family
TRAIN_TASK = "avae-reconstruct"
WEIGHTS_FAMILY = "avae"
#: the generator's latent reconstruction losses: "a" = 003 Eq. 3.8, "b" = 003 Eq. 3.12 (read by losses and training)
LATENT_LOSSES = ("a", "b")
#: what an AVAE run trains: all four networks (003 Fig. 3.4), the VAE alone (encoder + decoder) or the GAN alone
#: (generator + critic, the generator on L_M only): the baselines of 003 Table 3.1 on the same networks
OBJECTIVES = ("avae", "vae", "gan")


def _encoder_export() -> ExportSpec:
    def spec() -> Any:
        import importlib

        return importlib.import_module(_P).ENCODER_EXPORT

    return ExportSpec(name="encoder", build=lambda pipe: spec().build(pipe),
                      example_inputs=lambda pipe, b: spec().example_inputs(pipe, b), outputs=("latent",), min_opset=16,
                      normalisation={"color": "RGB", "layout": "NCHW", "dtype": "float32", "range": [-1.0, 1.0],
                                     "per_tensor": {"image": {"kind": "image"}}})


def task_specs() -> list[TaskSpec]:
    exports = (_encoder_export(),)
    return [
        TaskSpec(name=TRAIN_TASK, summary="AVAE reconstruction: image -> encoder latent (editable: latent_shift) -> "
                 "realistic image through the generator G(z, xi); also the VAE decoder's (003 ch. 3)",
                 factory=lazy(f"{_P}:AvaeReconstructPipeline"), inputs=("image",), outputs=("image", "decoded"),
                 exportable=exports, tags=("control", "avae", "editing", "reconstruction"), weights_family=WEIGHTS_FAMILY),
        TaskSpec(name="avae-generate", summary="AVAE generator samples G(z, xi), z, xi ~ N(0, I): pipe(n, seed) -> "
                 "samples (003 ch. 3)", factory=lazy(f"{_P}:AvaeGeneratePipeline"), outputs=("samples", "latents", "stats"),
                 exportable=exports, tags=("control", "avae", "generation"), weights_family=WEIGHTS_FAMILY),
    ]


def _ignore_root(target: str) -> Any:
    factory = lazy(f"tryon_control.data:{target}")

    def build(root: Any = None, **options: Any) -> Any:
        return factory(**options)

    build.__qualname__ = build.__name__ = f"synthetic({target})"
    return build


def dataset_specs() -> list[DatasetSpec]:
    return [
        DatasetSpec("avae-toy", "the 2-D toy of 003 §3.4.1: x = (3 z1, cos(3 z1 + tanh(3 z2))) + 0.1 noise, two branches",
                    _ignore_root("ToyData"), meta={"synthetic": True}),
        DatasetSpec("avae-digits", "scikit-learn's 8x8 digits upsampled to size (default 16x16), C x H x W in [-1, 1]",
                    _ignore_root("DigitsImages"), meta={"synthetic": True}),
    ]


__all__ = ["LATENT_LOSSES", "OBJECTIVES", "TRAIN_TASK", "WEIGHTS_FAMILY", "dataset_specs", "task_specs"]
