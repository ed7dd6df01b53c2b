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
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from ..cli import parse_size
from ..errors import InputError, TryonError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")
_OWN_OPTIONS = {"model", "out", "pairs", "input", "providers", "precision", "threads", "batch_size", "all_outputs", "debug", "help"}


def _named_path(text: str) -> tuple[str, str]:
    name, eq, path = str(text).partition("=")
    if not eq or not name or not path:
        raise argparse.ArgumentTypeError(f"expected NAME=PATH, got {text!r}")
    return name.strip(), path


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
    p.add_argument("--tolerance", type=float, default=1e-4, help="fp32 parity tolerance (max abs error, default 1e-4)")
    p.add_argument("--check", type=_named_path, action="append", default=[], metavar="NAME=PATH",
                   help="real images (file or folder) for the parity check of input NAME; repeat per input")
    p.add_argument("--fp16", action="store_true", help="also write model_fp16.onnx (for the CUDA provider)")
    p.add_argument("--int8", action="store_true", help="also write model_int8.onnx (static QDQ quantisation)")
    p.add_argument("--calibration", type=_named_path, action="append", default=[], metavar="NAME=PATH",
                   help="int8 calibration images (file or folder) for input NAME (default: the --check images, else random)")
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


def _run_export(args: argparse.Namespace) -> int:
    import tryon

    from . import default_export_dir
    from .onnx import export_onnx, quantize_int8, resolve_export_spec

    config: dict[str, Any] = {"size": list(args.size)} if args.size else {}
    pipe = tryon.load(args.task, weights=args.weights, device="cpu", **config)
    spec, task = resolve_export_spec(pipe, args.component, args.task)
    n = len(tryon.get_task(args.task).exportable)
    out = args.out or default_export_dir(task, spec.name, n)
    check = {name: [str(f) for f in _images_of(path)] for name, path in args.check} or None
    manifest = export_onnx(
        pipe, spec, out, opset=args.opset, fp16=args.fp16, dynamic_batch=not args.static_batch,
        check_inputs=check, tolerance=args.tolerance, exporter=args.exporter, task=task,
        extra={"weights": str(Path(args.weights).resolve()) if args.weights else None},
    )
    if args.int8:
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
        manifest = quantize_int8(out, items, data_note=note)
    if args.json:
        print(json.dumps(manifest, indent=2))
        return 0
    p = manifest["parity"]
    print(f"exported {task}/{spec.name} -> {out}")
    print(f"  exporter {manifest['exporter']}, opset {manifest['opset']} (requested {manifest['opset_requested']}), "
          f"resolution {manifest['resolution'][0]}x{manifest['resolution'][1]}, dynamic batch {manifest['dynamic_batch']}")
    print(f"  parity fp32 (onnxruntime CPU vs torch): max abs error {p['max_abs_error']:.2e} (tolerance {p['tolerance']:g})")
    for variant in ("fp16", "int8"):
        e = manifest["models"].get(variant)
        if e:
            print(f"  {variant}: {e['file']}, max abs error {e['parity']['max_abs_error']:.2e} vs {e['parity']['reference']}")
    print(f"  ops: {', '.join(f'{k} {v}' for k, v in list(manifest['ops'].items())[:8])}")
    return 0


# ------------------------------------------------------------------------------------------------
# infer
# ------------------------------------------------------------------------------------------------
def _configure_infer(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="export folder (written by `tryon export`)")
    p.add_argument("--out", required=True, help="output image file (single inputs) or folder")
    p.add_argument("--pairs", default=None, help="with folders: a file of lines 'a b' naming one file per folder input")
    p.add_argument("--input", type=_named_path, action="append", default=[], metavar="NAME=PATH",
                   help="an input by name (same as --NAME PATH)")
    p.add_argument("--providers", default="cpu", help="execution providers, comma-separated (cpu, cuda, trt; default cpu)")
    p.add_argument("--precision", choices=("fp32", "fp16", "int8"), default="fp32", help="model variant (default fp32)")
    p.add_argument("--threads", type=int, default=None, help="onnxruntime intra-op threads (default: physical cores)")
    p.add_argument("--batch-size", type=int, default=4, help="images per run (default 4)")
    p.add_argument("--all-outputs", action="store_true", help="write every image output as <name>_<output>.png")
    p.epilog = "Model inputs are options named after the manifest's inputs, e.g. --person P --garment G."
    # The model's inputs are only known once --model is read: keep unknown options for run() instead of
    # letting argparse reject them (argparse's sub-parser action calls parser.parse_known_args).
    p.allow_abbrev = False
    original = p.parse_known_args

    def parse_known_args(args: Any = None, namespace: Any = None) -> tuple[argparse.Namespace, list[str]]:
        ns, extras = original(args, namespace)
        ns._model_inputs = list(getattr(ns, "_model_inputs", None) or []) + list(extras)
        return ns, []

    p.parse_known_args = parse_known_args  # type: ignore[method-assign]


def _named_inputs(extra: list[str], given: list[tuple[str, str]], names: list[str]) -> dict[str, str]:
    """``--name VALUE`` / ``--name=VALUE`` pairs (and ``--input name=VALUE``) → ``{input name: path}``."""
    expected = ", ".join(f"--{n}" for n in names)
    found: list[tuple[str, str]] = list(given)
    i = 0
    while i < len(extra):
        tok = extra[i]
        if tok == "--debug":  # the global flag, also accepted after the verb (tryon.cli.main reads it)
            i += 1
            continue
        if not tok.startswith("--") or tok == "--":
            raise InputError("tryon infer", f"options {expected} (this model's inputs)", f"an unexpected argument {tok!r}")
        key, eq, val = tok[2:].partition("=")
        if not eq:
            if i + 1 >= len(extra) or extra[i + 1].startswith("--"):
                raise InputError(f"--{key}", "a file or folder after it", "no value")
            val, i = extra[i + 1], i + 2
        else:
            i += 1
        found.append((key, val))
    out: dict[str, str] = {}
    by_norm = {n.replace("-", "_"): n for n in names}
    for key, val in found:
        name = by_norm.get(key.replace("-", "_"))
        if name is None:
            raise InputError(f"--{key}", f"one of {expected} (this model's inputs)", "an unknown option")
        if name in out:
            raise InputError(f"--{name}", "one file or folder", "the option given twice")
        out[name] = val
    missing = [n for n in names if n not in out]
    if missing:
        raise InputError("tryon infer", f"all of {expected}", f"missing {', '.join('--' + m for m in missing)}")
    return out


def _pairs(paths: dict[str, str], names: list[str], pairs_file: str | None) -> tuple[list[dict[str, Path]], list[str]]:
    """Items to run (``{name: file}``) and their output stems."""
    from ..io import image_files

    kinds = {}
    for n in names:
        p = Path(paths[n])
        if p.is_dir():
            kinds[n] = "dir"
        elif p.is_file():
            kinds[n] = "file"
        else:
            raise InputError(f"--{n} {p}", "an image file or a folder of images", "no such file or folder")
    folders = [n for n in names if kinds[n] == "dir"]
    if not folders:
        if pairs_file:
            raise InputError("--pairs", "folder inputs", "only single files")
        item = {n: Path(paths[n]) for n in names}
        return [item], [item[names[0]].stem]
    if pairs_file:
        pf = Path(pairs_file)
        if not pf.is_file():
            raise InputError(f"--pairs {pf}", "a text file of lines naming one file per folder input", "no such file")
        rows = []
        for lineno, line in enumerate(pf.read_text().splitlines(), 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            toks = line.split()
            if len(toks) != len(folders):
                raise InputError(f"--pairs {pf}:{lineno}", f"{len(folders)} names ({' '.join(folders)})", f"{len(toks)}: {line!r}")
            row = {}
            for n, t in zip(folders, toks):
                f = Path(paths[n]) / t
                if not f.is_file():
                    raise InputError(f"--pairs {pf}:{lineno}", f"a file of --{n} {paths[n]}", f"no file {t!r}")
                row[n] = f
            rows.append(row)
        if not rows:
            raise InputError(f"--pairs {pf}", "at least one line", "an empty file")
    else:
        lists = {n: image_files(paths[n]) for n in folders}
        counts = {n: len(v) for n, v in lists.items()}
        if len(set(counts.values())) > 1 or 0 in counts.values():
            raise InputError("tryon infer", "the same (non-zero) number of images in every folder, or --pairs FILE",
                             ", ".join(f"--{n}: {k}" for n, k in counts.items()))
        rows = [{n: lists[n][i] for n in folders} for i in range(next(iter(counts.values())))]
    items, stems = [], []
    for row in rows:
        item = {n: row[n] if n in row else Path(paths[n]) for n in names}
        items.append(item)
        stems.append("__".join(row[n].stem for n in folders))
    if len(set(stems)) != len(stems):
        dup = next(s for s in stems if stems.count(s) > 1)
        raise InputError("tryon infer", "distinct output names", f"{dup!r} twice (same file names in a pair list?)")
    return items, stems


def _run_infer(args: argparse.Namespace) -> int:
    from ..io import save_image
    from ..runtime import ImageModelSession

    sess = ImageModelSession(args.model, providers=args.providers, intra_op_threads=args.threads, model=args.precision)
    names = sess.input_names
    clash = [n for n in names if n.replace("-", "_") in _OWN_OPTIONS]
    extra = list(getattr(args, "_model_inputs", []) or [])
    if clash and not args.input:
        raise InputError("tryon infer", f"--input NAME=PATH for the inputs {clash} (their names clash with infer's own options)", "none")
    paths = _named_inputs(extra, list(args.input), names)
    items, stems = _pairs(paths, names, args.pairs)
    out = Path(args.out)
    single = len(items) == 1 and all(Path(paths[n]).is_file() for n in names)
    image_outputs = [o["name"] for o in sess.output_specs if len(o["shape"]) == 4 and o["shape"][1] == 3]
    if not image_outputs:
        raise TryonError(f"tryon infer writes images, but this model has no 3-channel image output ({sess.output_names})")
    wanted = image_outputs if args.all_outputs else [sess.output_names[0]]
    if sess.output_names[0] not in image_outputs and not args.all_outputs:
        raise TryonError(f"the main output {sess.output_names[0]!r} is not an image; use --all-outputs")
    if single and out.suffix.lower() in IMAGE_SUFFIXES:
        targets = [{w: out if len(wanted) == 1 else out.with_name(f"{out.stem}_{w}{out.suffix}") for w in wanted}]
        out_dir = out.parent
    else:
        if out.suffix.lower() in IMAGE_SUFFIXES:
            raise InputError(f"--out {out}", "a folder (the inputs are folders)", "an image file name")
        out_dir = out
        targets = [{w: out / (f"{s}.png" if len(wanted) == 1 else f"{s}_{w}.png") for w in wanted} for s in stems]
    created = not out_dir.exists()
    out_dir.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=".tryon-infer-", dir=out_dir))
    staged: list[tuple[Path, Path]] = []
    try:
        bs = max(1, int(args.batch_size))
        for start in range(0, len(items), bs):
            chunk = items[start : start + bs]
            res = sess(return_all=True, **{n: [str(it[n]) for it in chunk] for n in names})
            for k, tgt in enumerate(targets[start : start + bs]):
                for w, final in tgt.items():
                    tmp = stage / f"{len(staged)}{final.suffix or '.png'}"
                    save_image(res[w][k], tmp)
                    staged.append((tmp, final))
        for tmp, final in staged:  # everything computed: move into place
            os.replace(tmp, final)
    except BaseException:
        if created:
            shutil.rmtree(out_dir, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    where = staged[0][1] if len(staged) == 1 else out_dir
    print(f"wrote {len(staged)} image(s) to {where} ({sess.model}, providers {', '.join(sess.providers_used)})")
    return 0


def register_cli(app: Any) -> None:
    app.add_command("export", help="export a task's model to ONNX (parity-checked against PyTorch)",
                    configure=_configure_export, run=_run_export)
    app.add_command("infer", help="run an ONNX export on images with onnxruntime (no torch)",
                    configure=_configure_infer, run=_run_infer)


__all__ = ["register_cli"]
