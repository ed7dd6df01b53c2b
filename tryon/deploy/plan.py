"""Planning a ``tryon batch`` job: the items, the pairs and the name of every output — no torch.

Items come from a folder of images (sorted) or a list file; ids are file stems. Pairs are every combination,
or the lines of a pairs file, sorted by person (a worker then reuses the person's features across its
garments). Outputs are ``OUT/images/<person>__<garment>__<model>.png`` (model = the first 12 hex digits of the
export's sha256, :func:`tryon.deploy.manifest.model_tag`).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError, TryonError
from .manifest import check_conditions, model_tag, read_manifest

IMAGES_DIR = "images"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")


@dataclass(frozen=True)
class Item:
    id: str
    path: str


@dataclass
class Job:
    """The pairs of one ``tryon batch`` command and where their outputs go."""

    model: str
    model_tag: str
    persons: list[Item]
    garments: list[Item]
    pairs: list[tuple[int, int]]
    out: Path
    names: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.names = [output_name(self.persons[p].id, self.garments[g].id, self.model_tag) for p, g in self.pairs]

    @property
    def images_dir(self) -> Path:
        return self.out / IMAGES_DIR

    def output(self, k: int) -> Path:
        return self.images_dir / self.names[k]

    def row(self, k: int) -> dict[str, Any]:
        """What a worker needs for pair ``k`` (plain strings and ints: picklable, Ray-friendly)."""
        p, g = self.pairs[k]
        return {"pair": k, "person_id": self.persons[p].id, "person": self.persons[p].path,
                "garment_id": self.garments[g].id, "garment": self.garments[g].path, "output": str(self.output(k))}


def output_name(person_id: str, garment_id: str, model_tag: str) -> str:
    """``<person>__<garment>__<model>.png``; ids are shortened (plus a hash) when the name would be too long."""
    name = f"{person_id}__{garment_id}__{model_tag}.png"
    if len(name.encode()) <= 200:
        return name
    digest = hashlib.sha256(f"{person_id}\0{garment_id}".encode()).hexdigest()[:10]
    return f"{person_id[:60]}__{garment_id[:60]}__{digest}__{model_tag}.png"


def read_items(source: str | os.PathLike, what: str) -> list[Item]:
    """A folder of images (sorted) or a text file listing one image path per line (relative paths are relative
    to the list's folder; ``#`` comments). Ids are file stems and must be unique. Listed files are not
    opened here: a missing or bad one fails its pairs, not the job."""
    src = Path(source)
    if src.is_dir():
        paths = sorted(p for p in src.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("."))
        if not paths:
            raise InputError(f"--{what} {src}", "a folder with images (.png/.jpg/.jpeg/.webp/.bmp)", "no image files")
    elif src.is_file():
        paths = []
        for line in src.read_text().splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                p = Path(line)
                paths.append(p if p.is_absolute() else src.parent / p)
        if not paths:
            raise InputError(f"--{what} {src}", "a list file with one image path per line", "no paths")
    else:
        raise InputError(f"--{what} {src}", "a folder of images or a list file", "no such file or folder")
    items, seen = [], {}
    for p in paths:
        if p.stem in seen:
            raise InputError(f"--{what} {src}", "images with distinct file stems (they name the outputs)",
                             f"{seen[p.stem].name} and {p.name}")
        seen[p.stem] = p
        items.append(Item(p.stem, str(p.resolve())))
    return items


def read_pairs(path: str | os.PathLike, persons: list[Item], garments: list[Item]) -> list[tuple[int, int]]:
    """Lines ``person garment`` naming items by file name or stem (``#`` comments)."""
    pf = Path(path)
    if not pf.is_file():
        raise InputError(f"--pairs {pf}", "a text file of 'person garment' lines", "no such file")

    def index(items: list[Item]) -> dict[str, int]:
        out = {}
        for i, it in enumerate(items):
            out[it.id] = i
            out[Path(it.path).name] = i
        return out

    pi, gi = index(persons), index(garments)
    pairs, seen = [], set()
    for lineno, line in enumerate(pf.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        toks = line.split()
        if len(toks) != 2:
            raise InputError(f"--pairs {pf}:{lineno}", "two names: person garment", repr(line))
        if toks[0] not in pi:
            raise InputError(f"--pairs {pf}:{lineno}", "a person of --persons", f"unknown {toks[0]!r}")
        if toks[1] not in gi:
            raise InputError(f"--pairs {pf}:{lineno}", "a garment of --garments", f"unknown {toks[1]!r}")
        pair = (pi[toks[0]], gi[toks[1]])
        if pair not in seen:
            seen.add(pair)
            pairs.append(pair)
    if not pairs:
        raise InputError(f"--pairs {pf}", "at least one pair", "none")
    return pairs



def plan_job(model: str | os.PathLike, persons: str | os.PathLike, garments: str | os.PathLike, out: str | os.PathLike,
             pairs: str | os.PathLike | None = None, category: str | None = None) -> Job:
    """The job: items, pairs (every combination without ``pairs``) sorted by person, output names. ``category``: the
    garments' category, refused here — before anything is written — when the export was not trained on it."""
    export_dir, manifest = read_manifest(model)
    names = [i["name"] for i in manifest["inputs"]]
    if not {"person", "garment"} <= set(names) or len(names) != 2:
        raise TryonError(f"export {export_dir}: tryon batch runs try-on models (inputs person and garment), this one takes {names}")
    check_conditions(manifest, export_dir, category=category)
    ps, gs = read_items(persons, "persons"), read_items(garments, "garments")
    plist = read_pairs(pairs, ps, gs) if pairs else [(p, g) for p in range(len(ps)) for g in range(len(gs))]
    plist.sort()  # grouped by person: a worker reuses the person's features across its garments
    return Job(str(export_dir.resolve()), model_tag(export_dir), ps, gs, plist, Path(out))


__all__ = ["IMAGES_DIR", "IMAGE_SUFFIXES", "Item", "Job", "output_name", "read_items", "read_pairs", "plan_job"]
