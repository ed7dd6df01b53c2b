"""What the WUTON plugin declares (torch-free; the hooks in :mod:`.plugin` call these): its tasks and dataset readers.

* tasks ``wuton-parser``, ``wuton-teacher`` and ``wuton-student``: factories, export builders and bench inputs are
  :func:`tryon.lazy` references into :mod:`tryon_wuton.pipelines` (and :mod:`tryon_wuton.split` for the student's
  catalogue-mode split export), resolved when used;
* dataset readers ``synthetic``, ``viton-hd``, ``viton``, ``dresscode`` and ``pfafn``: each a factory
  ``(root, split="train", pairs="paired", size=None, **kw) -> TryOnDataset`` (:mod:`tryon_wuton.data`).
"""

from __future__ import annotations

from typing import Any

from tryon import DatasetSpec, ExportSpec, TaskSpec, lazy

_P = "tryon_wuton.pipelines"

# Every WUTON network is exported with the same input convention (000 App. E: RGB in [-1, 1], NCHW).
_IMAGE_NORM = {"color": "RGB", "layout": "NCHW", "dtype": "float32", "range": [-1.0, 1.0]}


def _export(name: str, build: str, example_inputs: str, outputs: tuple[str, ...], min_opset: int,
            split: Any = None, conditions: Any = None) -> ExportSpec:
    return ExportSpec(name, build=lazy(f"{_P}:{build}"), example_inputs=lazy(f"{_P}:{example_inputs}"),
                      outputs=outputs, min_opset=min_opset, normalisation=_IMAGE_NORM, split=split, conditions=conditions)


def _generator_export(name: str, split: Any = None) -> ExportSpec:
    """The whole generator (matcher, TPS grids, every ``grid_sample``, U-Net) in one graph; opset 16 for
    ``GridSample``. ``split``: the graphs of the catalogue-mode split export (``tryon export --split``). The manifest
    records the garment categories the weights were trained on (``conditions``), which runtimes check."""
    return _export(name, "build_generator_export", "example_inputs", ("image", "warped_garment"), 16, split,
                   conditions=lazy(f"{_P}:category_conditions"))


def task_specs() -> list[TaskSpec]:
    return [
        TaskSpec(
            name="wuton-parser",
            summary="human parser (smp U-Net): person -> canonical VITON-HD v3 parse map",
            factory=lazy(f"{_P}:WutonParserPipeline"),
            inputs=("person",),
            outputs=("parse",),
            exportable=(_export("parser", "build_parser_export", "parser_example_inputs", ("logits",), 11),),
            tags=("try-on", "segmentation"),
            bench_inputs=lazy(f"{_P}:parser_bench_inputs"),
        ),
        TaskSpec(
            name="wuton-teacher",
            summary="T-WUTON virtual try-on: parser -> agnostic person -> TPS matcher -> warping U-Net (000 §4.3.3)",
            factory=lazy(f"{_P}:WutonTeacherPipeline"),
            inputs=("person", "garment"),
            outputs=("image",),
            exportable=(_generator_export("teacher-generator"),),
            tags=("try-on", "teacher"),
            bench_inputs=lazy(f"{_P}:bench_inputs"),
        ),
        TaskSpec(
            name="wuton-student",
            summary="S-WUTON parser-free virtual try-on (person, garment) -> image (000 §4.3.3.3)",
            factory=lazy(f"{_P}:WutonStudentPipeline"),
            inputs=("person", "garment"),
            outputs=("image",),
            exportable=(_generator_export("student", split=lazy("tryon_wuton.split:split_graphs")),),
            tags=("try-on", "student", "real-time"),
            bench_inputs=lazy(f"{_P}:bench_inputs"),
        ),
    ]


def _factory(layout: str):
    def make(root: Any, split: str = "train", pairs: str = "paired", size: Any = None, **kw: Any):
        from .data.dataset import TryOnDataset

        return TryOnDataset(root, split=split, pairs=pairs, size=size, layout=layout, **kw)

    make.__name__ = f"open_{layout.replace('-', '_')}"
    make.__doc__ = f"TryOnDataset(root, split, pairs, size, layout={layout!r})"
    return make


def _synthetic(root: Any, split: str = "train", pairs: str = "paired", size: Any = None, **kw: Any):
    """A folder written by ``tryon data synth`` (VITON-HD layout + ``unpaired_gt``/``accessory-mask``)."""
    from pathlib import Path

    from tryon.errors import DatasetError

    from .data.dataset import TryOnDataset

    if not (Path(root) / "synth_meta.json").is_file():
        raise DatasetError(f"synthetic dataset {root}", "a folder written by `tryon data synth` (with synth_meta.json)",
                           "no synth_meta.json")
    return TryOnDataset(root, split=split, pairs=pairs, size=size, layout="viton-hd", **kw)


def dataset_specs() -> list[DatasetSpec]:
    return [
        DatasetSpec("synthetic", summary="synthetic try-on data from `tryon data synth` (unpaired GT, accessory masks)",
                    factory=_synthetic, meta={"layout": "viton-hd"}),
        DatasetSpec("viton-hd", summary="VITON-HD zalando-hd-resized layout (image-parse-v3, openpose_json)",
                    factory=_factory("viton-hd"), meta={"layout": "viton-hd"}),
        DatasetSpec("viton", summary="VITON / CP-VTON layout (image-parse LIP, pose COCO-18)",
                    factory=_factory("viton"), meta={"layout": "viton"}),
        DatasetSpec("dresscode", summary="DressCode layout (images _0/_1, label_maps ATR, keypoints)",
                    factory=_factory("dresscode"), meta={"layout": "dresscode"}),
        DatasetSpec("pfafn", summary="PF-AFN / DM-VTON layout (*_img, *_color, *_edge, *_label, *_pose)",
                    factory=_factory("pfafn"), meta={"layout": "pfafn"}),
    ]


__all__ = ["dataset_specs", "task_specs"]
