"""``tryon export`` and ``tryon infer`` (registered by :func:`register_cli`; ``configure`` imports no torch).

``tryon export TASK [--weights DIR] [--out DIR] [--fp16] [--int8] ...`` writes an export folder
(``exports/<task>`` by default; format in ``exports/README.md``).

``tryon infer --model EXPORT_DIR --<input> FILE|FOLDER ... --out OUT`` runs an export with onnxruntime
(no torch). The options after ``--model`` are the manifest's input names (``--person P --garment G`` for a
try-on model); ``--input NAME=PATH`` is the spelling-independent equivalent. Folders are paired by a
``--pairs FILE`` of ``a b`` lines (one name per folder input, in manifest order) or by sorted order; a
single file next to folders is used for every item.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ..sizes import parse_size
from ..errors import InputError, TryonError
from ..jobs.files import StagedOutputs, accept_named_options, named_inputs, named_path, output_targets, plan_items
from ..deploy.manifest import check_conditions

_OWN_OPTIONS = {"model", "out", "pairs", "input", "providers", "precision", "backend", "threads", "batch_size", "all_outputs",
                "category", "debug", "help"}


# ------------------------------------------------------------------------------------------------
# export
# ------------------------------------------------------------------------------------------------
def _configure_export(p: argparse.ArgumentParser) -> None:
    p.add_argument("task", help="task name (see `tryon tasks`)")
    p.add_argument("--weights", default=None, help="weights folder (default: random weights, for speed work only)")
    p.add_argument("--component", default=None, help="exportable component (default: the task's first)")
    p.add_argument("--out", default=None, help="export folder (default exports/<task>)")
    p.add_argument("--size", type=parse_size, default=None, help="model resolution HxW passed to the pipeline as size=")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset (default 17; raised to the component's minimum)")
    p.add_argument("--exporter", choices=("auto", "dynamo", "torchscript"), default="auto",
                   help="auto = dynamo, TorchScript if dynamo fails (default)")
    p.add_argument("--static-batch", action="store_true", help="fixed batch dimension (default: dynamic)")
    p.add_argument("--tolerance", type=float, default=None,
                   help="fixed fp32 parity bound (max abs error x max(1, |output|) vs torch fp32) instead of the default "
                        "criterion, which holds on every CPU: the error vs a float64 run within 8x torch fp32's own")
    p.add_argument("--check", type=named_path, action="append", default=[], metavar="NAME=PATH",
                   help="real images (file or folder) for the parity check of input NAME; repeat per input")
    p.add_argument("--fp16", action="store_true", help="also write model_fp16.onnx (for the CUDA provider)")
    p.add_argument("--int8", action="store_true", help="also write model_int8.onnx (static QDQ quantisation)")
    p.add_argument("--openvino-int8", action="store_true",
                   help="also write model_int8_ov.xml (OpenVINO NNCF quantisation, same calibration; needs tryon[openvino])")
    p.add_argument("--calibration", type=named_path, action="append", default=[], metavar="NAME=PATH",
                   help="int8 calibration images (file or folder) for input NAME (default: the --check images, else random)")
    p.add_argument("--split", action="store_true",
                   help="also write the component's split graphs (e.g. garment/person/pair) for the catalogue runtime")
    p.add_argument("--split-tolerance", type=float, default=None,
                   help="fixed parity bound for the chained split graphs (default: the same criterion as model.onnx)")
    p.add_argument("--min-ssim", type=float, default=None,
                   help="with --int8/--openvino-int8: refuse a quantised model whose image outputs score below this SSIM "
                        "vs fp32 on the calibration images")
    p.add_argument("--no-phase-split", dest="phase_split", action="store_false",
                   help="keep transposed convolutions as traced (default: 4x4 stride-2 ones are written as four phase "
                        "convolutions, exact and faster on onnxruntime's CPU kernels)")
    p.add_argument("--json", action="store_true", help="print the manifest as JSON")


def _images_of(path: str) -> list[Path]:
    from ..io import image_files

    p = Path(path)
    if p.is_dir():
        files = image_files(p)
        if not files:
            raise InputError(str(p), "a folder with images", "no image files")
        return files
    if not p.is_file():
        raise InputError(str(p), "an image file or a folder of images", "no such file or folder")
    return [p]


def training_data(pipe: Any, weights: str | None) -> dict[str, Any]:
    """The terms of the data the exported weights were trained on (recorded by the training run), for the manifest and
    the model card: random weights were trained on nothing; a run that recorded nothing says so."""
    from ..data.terms import UNRECORDED, DataTerms

    if not weights:
        return DataTerms("nothing (random weights)", "no training data", True).as_dict()
    recorded = (getattr(pipe, "provenance", None) or {}).get("data_terms")
    return DataTerms.from_dict(recorded, f"{weights}: training.data_terms").as_dict() if recorded else UNRECORDED.as_dict()


def _run_export(args: argparse.Namespace) -> int:
    import tryon

    from . import default_export_dir
    from .card import parity_sentence
    from .int8 import quantize_int8
    from .onnx import export_onnx
    from .trace import resolve_export_spec

    config: dict[str, Any] = {"size": list(args.size)} if args.size else {}
    pipe = tryon.load(args.task, weights=args.weights, device="cpu", **config)
    spec, task = resolve_export_spec(pipe, args.component, args.task)
    n = len(tryon.get_task(args.task).exportable)
    out = args.out or default_export_dir(task, spec.name, n)
    check = {name: [str(f) for f in _images_of(path)] for name, path in args.check} or None
    manifest = export_onnx(
        pipe, spec, out, opset=args.opset, fp16=args.fp16, dynamic_batch=not args.static_batch,
        check_inputs=check, tolerance=args.tolerance, exporter=args.exporter, task=task,
        split=args.split, split_tolerance=args.split_tolerance, phase_split=args.phase_split,
        extra={"weights": str(Path(args.weights).resolve()) if args.weights else None,
               "training_data": training_data(pipe, args.weights)},
    )
    if args.int8 or args.openvino_int8:
        calib_src = {name: [str(f) for f in _images_of(path)] for name, path in args.calibration} or check
        if calib_src:
            names = [i["name"] for i in manifest["inputs"]]
            missing = [n_ for n_ in names if n_ not in calib_src]
            if missing:
                raise InputError("--calibration", f"images for every input ({', '.join(names)})", f"none for {missing}")
            count = max(len(v) for v in calib_src.values())
            items = [{k: v[i % len(v)] for k, v in calib_src.items()} for i in range(count)]
            note = "images"
        else:
            import numpy as np

            rng = np.random.default_rng(0)
            items = []
            for _ in range(8):
                item = {}
                for spec_in in manifest["inputs"]:
                    shape = [1 if not isinstance(d, int) else d for d in spec_in["shape"]]
                    lo, hi = manifest["normalisation"].get("range", [-1.0, 1.0])
                    item[spec_in["name"]] = rng.uniform(lo, hi, size=shape).astype("float32")
                items.append(item)
            note = "random inputs (no --calibration/--check images given: give real images for a usable int8 model)"
        if args.int8:
            manifest = quantize_int8(out, items, data_note=note, min_ssim=args.min_ssim)
        if args.openvino_int8:
            from .openvino import quantize_openvino_int8

            manifest = quantize_openvino_int8(out, items, data_note=note, min_ssim=args.min_ssim)
    if args.json:
        print(json.dumps(manifest, indent=2))
        return 0
    p = manifest["parity"]
    print(f"exported {task}/{spec.name} -> {out}")
    print(f"  exporter {manifest['exporter']}, opset {manifest['opset']} (requested {manifest['opset_requested']}), "
          f"resolution {manifest['resolution'][0]}x{manifest['resolution'][1]}, dynamic batch {manifest['dynamic_batch']}")
    print(f"  parity fp32 (onnxruntime CPU): {parity_sentence(p).replace('**', '')}")
    from ..data.terms import DataTerms

    print(f"  {DataTerms.from_dict(manifest['training_data']).sentence()}")
    for variant in ("fp16", "int8", "openvino-int8"):
        e = manifest["models"].get(variant)
        if e:
            q = e["parity"]
            ssim = f", SSIM {q['min_ssim']:.4f} on the calibration inputs" if q.get("min_ssim") is not None else ""
            print(f"  {variant}: {e['file']}, max abs error {q['max_abs_error']:.2e} vs {q['reference']}{ssim}")
    if manifest.get("graphs"):
        sp = manifest["split"]
        print(f"  split graphs {', '.join(g['file'] for g in manifest['graphs'])}: {parity_sentence(sp['parity']).replace('**', '')} "
              f"vs model.onnx {sp['vs_model']['max_abs_error']:.2e}; fp16-stored features {sp['fp16_features']['max_abs_error']:.2e}")
    print(f"  ops: {', '.join(f'{k} {v}' for k, v in list(manifest['ops'].items())[:8])}")
    return 0


# ------------------------------------------------------------------------------------------------
# infer
# ------------------------------------------------------------------------------------------------
def _configure_infer(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="export folder (written by `tryon export`)")
    p.add_argument("--out", required=True, help="output image file (single inputs) or folder")
    p.add_argument("--pairs", default=None, help="with folders: a file of lines 'a b' naming one file per folder input")
    p.add_argument("--input", type=named_path, action="append", default=[], metavar="NAME=PATH",
                   help="an input by name (same as --NAME PATH)")
    p.add_argument("--providers", default="cpu", help="execution providers, comma-separated (cpu, cuda, trt; default cpu)")
    p.add_argument("--precision", choices=("fp32", "fp16", "bf16", "int8"), default="fp32",
                   help="model variant (default fp32; bf16: --backend openvino on a bf16 CPU)")
    p.add_argument("--backend", choices=("ort", "openvino"), default="ort",
                   help="inference runtime (default ort = onnxruntime; openvino needs tryon[openvino])")
    p.add_argument("--threads", type=int, default=None, help="onnxruntime/OpenVINO threads (default: physical cores)")
    p.add_argument("--batch-size", type=int, default=4, help="images per run (default 4)")
    p.add_argument("--all-outputs", action="store_true", help="write every image output as <name>_<output>.png")
    p.add_argument("--category", default=None, metavar="NAME",
                   help="a try-on garment's category (upper, lower, dress): refused when the export was not trained on it")
    p.epilog = "Model inputs are options named after the manifest's inputs, e.g. --person P --garment G."
    # The model's inputs are only known once --model is read: keep unknown options for run().
    accept_named_options(p)


def _run_infer(args: argparse.Namespace) -> int:
    from ..io import save_image
    from ..runtime import ImageModelSession

    providers = None if args.backend == "openvino" and args.providers == "cpu" else args.providers
    sess = ImageModelSession(args.model, providers=providers, intra_op_threads=args.threads, backend=args.backend,
                             precision=args.precision)
    check_conditions(sess.manifest, sess.export_dir, category=args.category)
    names = sess.input_names
    clash = [n for n in names if n.replace("-", "_") in _OWN_OPTIONS]
    extra = list(getattr(args, "_model_inputs", []) or [])
    if clash and not args.input:
        raise InputError("tryon infer", f"--input NAME=PATH for the inputs {clash} (their names clash with infer's own options)", "none")
    paths = named_inputs(extra, list(args.input), names, "tryon infer")
    items, stems = plan_items(paths, args.pairs, "tryon infer")
    single = len(items) == 1 and all(Path(paths[n]).is_file() for n in names)
    image_outputs = [o["name"] for o in sess.output_specs if len(o["shape"]) == 4 and o["shape"][1] == 3]
    if not image_outputs:
        raise TryonError(f"tryon infer writes images, but this model has no 3-channel image output ({sess.output_names})")
    wanted = image_outputs if args.all_outputs else [sess.output_names[0]]
    if sess.output_names[0] not in image_outputs and not args.all_outputs:
        raise TryonError(f"the main output {sess.output_names[0]!r} is not an image; use --all-outputs")
    out_dir, targets = output_targets(Path(args.out), single, stems, wanted)
    with StagedOutputs(out_dir) as stage:
        bs = max(1, int(args.batch_size))
        for start in range(0, len(items), bs):
            chunk = items[start : start + bs]
            res = sess(return_all=True, **{n: [str(it[n]) for it in chunk] for n in names})
            for k, tgt in enumerate(targets[start : start + bs]):
                for w, final in tgt.items():
                    stage.write(final, lambda tmp, img=res[w][k]: save_image(img, tmp))
    staged = stage.written
    where = staged[0] if len(staged) == 1 else out_dir
    print(f"wrote {len(staged)} image(s) to {where} ({sess.model}, providers {', '.join(sess.providers_used)})")
    return 0


def register_cli(app: Any) -> None:
    app.add_command("export", help="export a task's model to ONNX (parity-checked against PyTorch)",
                    configure=_configure_export, run=_run_export)
    app.add_command("infer", help="run an ONNX export on images with onnxruntime (no torch)",
                    configure=_configure_infer, run=_run_infer)


__all__ = ["register_cli"]
