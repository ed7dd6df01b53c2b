"""File plumbing shared by the verbs that run a model on image files: ``tryon infer`` (an ONNX export)
and ``tryon run`` (any task's pipeline).

* :func:`accept_named_options` lets a sub-parser keep ``--NAME VALUE`` options it cannot know in
  advance (the model's input names are read from the manifest / the TaskSpec at run time);
* :func:`named_inputs` turns them into ``{input name: path}``;
* :func:`plan_items` pairs files and folders into items (``{name: file}``) and output stems: folders by
  a ``--pairs FILE`` of lines naming one file per folder input, or by sorted order; a single file next to
  folders is used for every item;
* :func:`output_targets` names the output files; :class:`StagedOutputs` writes them into a hidden stage
  folder and moves them into place only when every item succeeded, so a failure leaves nothing
  half-written (and removes an output folder it created).
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable, Sequence

from ..errors import InputError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")


def named_path(text: str) -> tuple[str, str]:
    """``NAME=PATH`` (the ``--input`` option) → ``(NAME, PATH)``."""
    name, eq, path = str(text).partition("=")
    if not eq or not name or not path:
        raise argparse.ArgumentTypeError(f"expected NAME=PATH, got {text!r}")
    return name.strip(), path


def accept_named_options(p: argparse.ArgumentParser) -> None:
    """Keep unknown ``--NAME VALUE`` options in ``args._model_inputs`` instead of rejecting them."""
    p.allow_abbrev = False
    original = p.parse_known_args

    def parse_known_args(args: Any = None, namespace: Any = None) -> tuple[argparse.Namespace, list[str]]:
        ns, extras = original(args, namespace)
        ns._model_inputs = list(getattr(ns, "_model_inputs", None) or []) + list(extras)
        return ns, []

    p.parse_known_args = parse_known_args  # type: ignore[method-assign]


def named_inputs(extra: Sequence[str], given: Sequence[tuple[str, str]], names: Sequence[str], verb: str,
                 optional: Sequence[str] = ()) -> dict[str, str]:
    """``--name VALUE`` / ``--name=VALUE`` pairs (and ``--input name=VALUE``) → ``{input name: path}``.

    Every name in ``names`` is required except those in ``optional``.
    """
    known = [*names, *optional]
    expected = ", ".join(f"--{n}" for n in known)
    found: list[tuple[str, str]] = list(given)
    i = 0
    while i < len(extra):
        tok = extra[i]
        if tok == "--debug":  # the global flag, also accepted after the verb (tryon.cli.main reads it)
            i += 1
            continue
        if not tok.startswith("--") or tok == "--":
            raise InputError(verb, f"options {expected} (the model's inputs)", f"an unexpected argument {tok!r}")
        key, eq, val = tok[2:].partition("=")
        if not eq:
            if i + 1 >= len(extra) or extra[i + 1].startswith("--"):
                raise InputError(f"--{key}", "a file or folder after it", "no value")
            val, i = extra[i + 1], i + 2
        else:
            i += 1
        found.append((key, val))
    out: dict[str, str] = {}
    by_norm = {n.replace("-", "_"): n for n in known}
    for key, val in found:
        name = by_norm.get(key.replace("-", "_"))
        if name is None:
            raise InputError(f"--{key}", f"one of {expected} (the model's inputs)", "an unknown option")
        if name in out:
            raise InputError(f"--{name}", "one file or folder", "the option given twice")
        out[name] = val
    missing = [n for n in names if n not in out]
    if missing:
        raise InputError(verb, f"all of {', '.join('--' + n for n in names)}",
                         f"missing {', '.join('--' + m for m in missing)}")
    return out


def _pair_rows(paths: dict[str, str], folders: list[str], pairs_file: str) -> list[dict[str, Path]]:
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
            raise InputError(f"--pairs {pf}:{lineno}", f"{len(folders)} names ({' '.join(folders)})",
                             f"{len(toks)}: {line!r}")
        row = {}
        for n, t in zip(folders, toks):
            f = Path(paths[n]) / t
            if not f.is_file():
                raise InputError(f"--pairs {pf}:{lineno}", f"a file of --{n} {paths[n]}", f"no file {t!r}")
            row[n] = f
        rows.append(row)
    if not rows:
        raise InputError(f"--pairs {pf}", "at least one line", "an empty file")
    return rows


def plan_items(paths: dict[str, str], pairs_file: str | None, verb: str) -> tuple[list[dict[str, Path]], list[str]]:
    """Items to run (``{name: file}``, one per output) and their output stems."""
    from ..imagefile import image_files

    names = list(paths)
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
        rows = _pair_rows(paths, folders, pairs_file)
    else:
        lists = {n: image_files(paths[n]) for n in folders}
        counts = {n: len(v) for n, v in lists.items()}
        if len(set(counts.values())) > 1 or 0 in counts.values():
            raise InputError(verb, "the same (non-zero) number of images in every folder, or --pairs FILE",
                             ", ".join(f"--{n}: {k}" for n, k in counts.items()))
        rows = [{n: lists[n][i] for n in folders} for i in range(next(iter(counts.values())))]
    items, stems = [], []
    for row in rows:
        items.append({n: row[n] if n in row else Path(paths[n]) for n in names})
        stems.append("__".join(row[n].stem for n in folders))
    if len(set(stems)) != len(stems):
        dup = next(s for s in stems if stems.count(s) > 1)
        raise InputError(verb, "distinct output names", f"{dup!r} twice (same file names in a pair list?)")
    return items, stems


def output_targets(out: Path, single: bool, stems: Sequence[str], outputs: Sequence[str]) -> tuple[Path, list[dict[str, Path]]]:
    """``(output folder, [{output name: file}] per item)``: ``out`` itself for one item and one output
    (``out_<output>.ext`` for several), ``out/<stem>[_<output>].png`` for folder inputs."""
    if single and out.suffix.lower() in IMAGE_SUFFIXES:
        many = len(outputs) > 1
        return out.parent, [{w: out.with_name(f"{out.stem}_{w}{out.suffix}") if many else out for w in outputs}]
    if out.suffix.lower() in IMAGE_SUFFIXES:
        raise InputError(f"--out {out}", "a folder (the inputs are folders)", "an image file name")
    many = len(outputs) > 1
    return out, [{w: out / (f"{s}_{w}.png" if many else f"{s}.png") for w in outputs} for s in stems]


class StagedOutputs:
    """Stage output files in a hidden folder inside ``out_dir``; move them into place on success.

    ``with StagedOutputs(out_dir) as stage: stage.write(final_path, writer)`` where ``writer(tmp_path)``
    writes the file. On any exception nothing is moved and an ``out_dir`` the job created is removed.
    """

    def __init__(self, out_dir: Path):
        self.out_dir = Path(out_dir)
        self.written: list[Path] = []
        self._staged: list[tuple[Path, Path]] = []

    def __enter__(self) -> "StagedOutputs":
        self._created = not self.out_dir.exists()
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self._stage = Path(tempfile.mkdtemp(prefix=".tryon-stage-", dir=self.out_dir))
        return self

    def write(self, final: Path, writer: Callable[[Path], Any]) -> None:
        tmp = self._stage / f"{len(self._staged)}{final.suffix or '.png'}"
        writer(tmp)
        self._staged.append((tmp, Path(final)))

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        try:
            if exc_type is None:
                for tmp, final in self._staged:
                    final.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(tmp, final)
                    self.written.append(final)
            elif self._created:
                shutil.rmtree(self.out_dir, ignore_errors=True)
        finally:
            shutil.rmtree(self._stage, ignore_errors=True)


__all__ = ["IMAGE_SUFFIXES", "StagedOutputs", "accept_named_options", "named_inputs", "named_path", "output_targets",
           "plan_items"]
