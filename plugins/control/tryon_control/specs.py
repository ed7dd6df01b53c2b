"""What the control plugin declares (torch-free; the hooks in :mod:`.plugin` call these): its tasks and datasets.

* tasks ``avae-reconstruct`` and ``avae-generate`` (003 ch. 3; weights family ``avae``, classes in
  :mod:`.pipelines`), with the exportable component ``encoder`` (RGB image → μ_e(x));
* tasks ``betavae-edit`` and ``betavae-generate`` (003 ch. 4: the Table 4.2 β-VAE and its factor directions;
  family ``betavae``, classes in :mod:`.betavae_pipelines`);
* tasks ``scene-decompose``, ``scene-generate`` and ``scene-edit`` (003 ch. 5; family ``scenes``, classes in
  :mod:`.scenes.pipelines`);
* datasets ``avae-toy`` (the 2-D toy of 003 §3.4.1), ``avae-digits`` (scikit-learn digits, upsampled),
  ``betavae-sprites`` (dSprites-like sprites) and ``control-scenes`` (multi-sprite scenes with boxes), all synthetic
  (no root); image folders are read through the core's ``tryon.data.ImageFolderDataset``.

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
#: what an AVAE run trains: all four networks (003 Fig. 3.4), the VAE alone (encoder + decoder), the GAN alone
#: (generator + critic, the generator on L_M only), VAE/GAN (encoder, decoder = its generator, critic; Larsen 2016) or
#: BiGAN (encoder, generator, joint critic D(x, z); Donahue 2017): the baselines of 003 Table 3.1 on the same networks
OBJECTIVES = ("avae", "vae", "gan", "vaegan", "bigan")


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
        *betavae_task_specs(),
        *scene_task_specs(),
    ]


#: the multi-object scenes of 003 ch. 5 (classes in :mod:`.scenes.pipelines`): the train verb ``tryon train
#: scene-decompose`` records this task; its run serves the three tasks of the family
SCENE_TASK = "scene-decompose"
SCENE_FAMILY = "scenes"


def scene_task_specs() -> list[TaskSpec]:
    _S = "tryon_control.scenes.pipelines"
    tags = ("control", "scenes", "multi-object")
    return [
        TaskSpec(name=SCENE_TASK, summary="multi-object decomposition: image -> boxes (tight, rotated), object layers "
                 "(RGBA), presence per proposal, reconstruction (003 ch. 5: 4x4 cells x K boxes, learned prior)",
                 factory=lazy(f"{_S}:SceneDecomposePipeline"), inputs=("image",),
                 outputs=("boxes", "scores", "rotated", "layers", "presence", "reconstruction"), tags=(*tags, "detection"),
                 weights_family=SCENE_FAMILY),
        TaskSpec(name="scene-generate", summary="scenes sampled from the learned geometric prior: pipe(n, seed) -> samples "
                 "(003 §5.4, Fig. 5.5)", factory=lazy(f"{_S}:SceneGeneratePipeline"), outputs=("samples", "latents", "stats"),
                 tags=(*tags, "generation"), weights_family=SCENE_FAMILY),
        TaskSpec(name="scene-edit", summary="decompose, then move / scale / rotate / remove one object and re-render: "
                 "explicit geometric control (003 ch. 5)", factory=lazy(f"{_S}:SceneEditPipeline"), inputs=("image",),
                 outputs=("image", "original", "layer"), tags=(*tags, "editing"), weights_family=SCENE_FAMILY),
    ]


#: the β-VAE of 003 Table 4.2 on dSprites-like sprites (003 ch. 4; classes in :mod:`.betavae_pipelines`): the train verb
#: ``tryon train betavae-edit`` records this task; its run serves both tasks of the family
BETAVAE_TASK = "betavae-edit"
BETAVAE_FAMILY = "betavae"
#: the factors whose directions a β-VAE run learns, and the image transformation each one follows (tryon.latent)
BETAVAE_FACTORS = {"x": "shift_x", "y": "shift_y", "scale": "zoom"}


def betavae_task_specs() -> list[TaskSpec]:
    _B = "tryon_control.betavae_pipelines"
    return [
        TaskSpec(name=BETAVAE_TASK, summary="beta-VAE editing along a learned factor direction: image -> encoder mu -> "
                 "moved along u so that the factor (x, y, scale) changes by amount -> decoder (003 ch. 4, Alg. 1)",
                 factory=lazy(f"{_B}:BetaVaeEditPipeline"), inputs=("image",), outputs=("image", "reconstruction"),
                 tags=("control", "betavae", "editing", "directions"), weights_family=BETAVAE_FAMILY),
        TaskSpec(name="betavae-generate", summary="beta-VAE samples D(z), z ~ N(0, I); with direction and coordinate: "
                 "z - <z,u>u + coordinate u (003 §4.4.1)", factory=lazy(f"{_B}:BetaVaeGeneratePipeline"),
                 outputs=("samples", "latents", "stats"), tags=("control", "betavae", "generation"),
                 weights_family=BETAVAE_FAMILY),
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
        DatasetSpec("betavae-sprites", "dSprites-like procedural sprites (square, ellipse, heart; x, y, scale, angle), "
                    "1 x size x size in [-1, 1], binary (003 §4.4)", _sprites, meta={"synthetic": True}),
        DatasetSpec("control-scenes", "procedural multi-sprite scenes (2-6 rotated squares, ellipses, triangles, hearts on "
                    "a uniform background), 3 x size x size in [-1, 1], boxes via .boxes(i) (003 ch. 5)", _scenes,
                    meta={"synthetic": True}),
    ]


def _scenes(root: Any = None, **options: Any) -> Any:
    return lazy("tryon_control.scenes.data:ControlScenes")(**options)


def _sprites(root: Any = None, **options: Any) -> Any:
    return lazy("tryon_control.sprites:SpriteDataset")(**options)


__all__ = ["BETAVAE_FACTORS", "BETAVAE_FAMILY", "BETAVAE_TASK", "LATENT_LOSSES", "OBJECTIVES", "SCENE_FAMILY", "SCENE_TASK",
           "TRAIN_TASK", "WEIGHTS_FAMILY", "betavae_task_specs", "dataset_specs", "scene_task_specs", "task_specs"]
