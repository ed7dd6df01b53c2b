"""Task specs of the WUTON plugin: ``wuton-parser``, ``wuton-teacher`` and ``wuton-student``.

Import-light on purpose (no torch, no model code): factories, export builders and bench inputs are
:func:`tryon.lazy` references into :mod:`tryon_wuton.pipelines` (and :mod:`tryon_wuton.split` for the
student's catalogue-mode split export), resolved when used. Wired by ``tryon_wuton/plugin.py``.
"""

from __future__ import annotations

from typing import Any

from tryon import ExportSpec, TaskSpec, lazy

_P = "tryon_wuton.pipelines"

# Every WUTON network is exported with the same input convention (000 App. E: RGB in [-1, 1], NCHW).
_IMAGE_NORM = {"color": "RGB", "layout": "NCHW", "dtype": "float32", "range": [-1.0, 1.0]}


def _export(name: str, build: str, example_inputs: str, outputs: tuple[str, ...], min_opset: int,
            split: Any = None) -> ExportSpec:
    return ExportSpec(name, build=lazy(f"{_P}:{build}"), example_inputs=lazy(f"{_P}:{example_inputs}"),
                      outputs=outputs, min_opset=min_opset, normalisation=_IMAGE_NORM, split=split)


def _generator_export(name: str, split: Any = None) -> ExportSpec:
    """The whole generator (matcher, TPS grids, every ``grid_sample``, U-Net) in one graph; opset 16 for
    ``GridSample``. ``split``: the graphs of the catalogue-mode split export (``tryon export --split``)."""
    return _export(name, "build_generator_export", "example_inputs", ("image", "warped_garment"), 16, split)


def build_task_specs() -> list[TaskSpec]:
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


def register_tasks(registry: Any) -> None:
    for spec in build_task_specs():
        registry.register(spec)


__all__ = ["build_task_specs", "register_tasks"]
