"""Adapters for the try-on dataset layouts users have, with validation that names what is wrong.

Supported layouts (``layout=`` name, folder structure, label set, keypoints):

* ``viton-hd`` — VITON-HD "zalando-hd-resized" and our synthetic data:
  ``{train,test}/{image, cloth, cloth-mask, image-parse-v3, openpose_json[, agnostic-v3.2, ...]}``,
  ``{train,test}_pairs.txt`` (+ ``test_pairs_unpaired.txt``). The first release's ``image-parse`` /
  ``openpose-json`` names are accepted. Person and garment share a name (``00000_00.jpg``). Labels
  ``cihp`` (canonical), keypoints BODY_25 ``pose_keypoints_2d``. Synthetic extras: ``unpaired_gt/``,
  ``accessory-mask/``.
* ``viton`` — VITON / CP-VTON (+ CP-VTON+): ``[data/]{train,test}/{image, image-parse[-new], cloth,
  cloth-mask, pose}``, ``{train,test}_pairs.txt`` (+ CP-VTON+ ``test_pairs_same.txt``); person
  ``X_0.jpg`` ↔ garment ``X_1.jpg``; labels ``lip`` (+ CP-VTON+ neck 20); keypoints COCO-18
  ``pose_keypoints`` (``X_0_keypoints.json``). ``image-mask``, ``warp-cloth``, ``warp-mask`` are ignored.
* ``dresscode`` — DressCode: ``[DressCode/]{upper_body,lower_body,dresses}/{images (X_0 person,
  X_1 garment), keypoints (X_2.json), label_maps (X_4.png)}`` + ``train_pairs.txt``,
  ``test_pairs_paired.txt``, ``test_pairs_unpaired.txt`` (in the category folder or the root); labels
  ``atr`` (its *bag* class becomes ``accessory_mask``); keypoints 18 × (x, y, c, id) in a 384×512
  frame; label maps may be smaller than the images (the release has 384×512 maps for 768×1024
  images). ``skeletons/`` and ``dense/`` are ignored. Without a ``cloth_mask``/``cloth-mask`` folder the
  garment mask is the non-white part of the garment image (threshold 245 on every channel, holes filled).
* ``pfafn`` — PF-AFN / DM-VTON / FS-VTON ``VITON_traindata`` / ``VITON_test``:
  ``{split}_img``, ``{split}_color`` (or ``{split}_clothes``), ``{split}_edge``, ``{split}_label``,
  ``{split}_pose`` (``X_0_keypoints.json`` or ``X_0.json``), ``{split}_densepose`` (ignored); pairs
  from ``{split}_pairs.txt`` / (test) ``demo.txt`` in the folder or beside it (PF-AFN_test), else
  ``X_0`` ↔ ``X_1``; labels ``acgpn``; keypoints COCO-18. Test folders without ``_label`` give no ``parse``.

**Sizes.** The official loaders resize every input independently to the training size (label maps and
masks with nearest neighbour), so a label map, mask or accessory mask of another size than its image
(the person's; a garment mask: the garment's) is accepted when the aspect ratio is the same within
:data:`ASPECT_TOLERANCE` and resized with nearest neighbour; another aspect ratio is refused with one line
naming both sizes (it would be stretched). Same rule in every layout. Dense maps are not read.

**Detection** (``layout="auto"``): folders only one layout has decide; else the first layout with every
part it needs; else the error names the layouts tried and the first part the closest one lacks.

**Pairs.** ``paired``: every person with its own garment — from the split's pair file when all its
lines are same-garment pairs, else by the layout's naming rule (VITON-HD's official ``test_pairs.txt``
is unpaired). ``unpaired``: the first pair list that pairs people with *other* garments
(``{split}_pairs_unpaired.txt``, ``{split}_pairs.txt``, ``demo.txt``; DressCode
``test_pairs_unpaired.txt``).

All errors are :class:`tryon.errors.DatasetError`. Cheap checks (folders, names, pair lists) run on
every name when a layout is opened; decode checks (:func:`load_raw`: image decoding, parse mode/bit
depth/palette/values, sizes, keypoint json) run per item.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tryon.data.terms import PROCEDURAL, DataTerms, read_terms_file
from tryon.errors import DatasetError, InputError

from . import keypoints as KP
from . import labels as L

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".webp", ".bmp")
SPLITS = ("train", "test")
PAIRS = ("paired", "unpaired")
DRESSCODE_CATEGORIES = ("upper_body", "lower_body", "dresses")


@dataclass
class Record:
    """Files of one dataset item (``None`` = not available in this layout)."""

    name: str
    garment_name: str
    person: Path
    garment: Path
    garment_mask: Path | None
    parse: Path | None
    keypoints: Path | None
    unpaired_gt: Path | None = None
    accessory_mask: Path | None = None
    category: str = "upper"  # upper | lower | dress (labels.CATEGORIES): DressCode's folder, the synthetic record


def _few(items: list[str], k: int = 5) -> str:
    shown = ", ".join(items[:k])
    return shown + (f" … ({len(items)} in all)" if len(items) > k else "")


def _index(folder: Path, exts: tuple[str, ...] = IMAGE_EXTS) -> dict[str, Path]:
    """stem → path for the visible files of ``folder`` with one of ``exts``."""
    out: dict[str, Path] = {}
    with os.scandir(folder) as it:
        for e in it:
            if e.name.startswith(".") or not e.is_file():
                continue
            p = Path(e.path)
            if p.suffix.lower() in exts:
                out[p.stem] = p
    return out


def _read_pairs(path: Path, what: str) -> list[tuple[str, str, list[str]]]:
    out = []
    for k, line in enumerate(path.read_text().splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) < 2:
            raise DatasetError(f"{what} pair list {path}", "lines 'person garment'", f"line {k}: {line.strip()!r}")
        out.append((parts[0], parts[1], parts[2:]))
    return out


class Layout:
    """Base class: one layout, one split. Subclasses set ``name``, ``label_set``, ``structure``."""

    name = ""
    title = ""
    #: The dataset's licence as its authors publish it (anchors-tryon.md); weights trained on it inherit the question.
    data_terms = DataTerms("an unnamed try-on dataset", "the owner's terms (not declared)", None)
    label_set: L.LabelSet = L.CIHP
    structure = ""
    keypoint_frame: tuple[int, int] | None = None  # (H, W) of keypoint coordinates; None = image size

    def __init__(self, root: str | os.PathLike, split: str = "train", **_: Any):
        if split not in SPLITS:
            raise InputError("split", f"one of {SPLITS}", repr(split))
        self.root = Path(root)
        self.split = split

    @property
    def terms(self) -> DataTerms:
        """The data's terms: a ``DATA_TERMS.json`` the folder declares wins; our synthetic data (``synth_meta.json``,
        VITON-HD layout) is ours; else the layout's published licence (:attr:`data_terms`)."""
        declared = read_terms_file(self.root, levels=0)
        if declared is not None:
            return declared
        if (self.root / "synth_meta.json").is_file():
            return DataTerms("synthetic try-on data drawn by tryon_wuton (`tryon data synth`)", PROCEDURAL.licence, True,
                             str(self.root / "synth_meta.json"))
        return self.data_terms

    # -- helpers -------------------------------------------------------------------------------
    def error(self, expected: str, found: str, hint: str | None = None, what: str | None = None) -> DatasetError:
        return DatasetError(what or f"{self.title} dataset {self.root} ({self.split})", expected, found, hint)

    def require_dir(self, path: Path) -> Path:
        if not path.is_dir():
            rel = path.relative_to(self.root) if path.is_relative_to(self.root) else path
            raise self.error(f"a folder {rel}/", "no such folder", f"expected layout: {self.structure}")
        return path

    @staticmethod
    def first_dir(*candidates: Path) -> Path | None:
        return next((c for c in candidates if c.is_dir()), None)

    def check_matched(self, names: list[str], index: dict[str, Path], what: str, key=lambda n: Path(n).stem) -> None:
        missing = [n for n in names if key(n) not in index]
        if missing:
            raise self.error(f"a {what} for every item", f"{len(missing)} without one: {_few(missing)}")

    # -- interface -------------------------------------------------------------------------------
    def records(self, pairs: str = "paired") -> list[Record]:
        raise NotImplementedError

    def read_keypoints(self, path: Path) -> np.ndarray:
        """``25×3`` pixels (in :attr:`keypoint_frame` or the person image's pixels)."""
        return KP.read_openpose_json(path)

    def accessory_from_parse(self, raw: np.ndarray) -> np.ndarray | None:
        return None

    def derive_garment_mask(self, garment: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    # -- pair lists ------------------------------------------------------------------------------
    def choose_pairs(self, pairs: str, candidates: list[Path], same) -> list[tuple[str, str]] | None:
        """Pairs from the first useful list: ``paired`` wants all-same lists, ``unpaired`` one with
        at least one different garment. ``None`` when no list qualifies."""
        if pairs not in PAIRS:
            raise InputError("pairs", f"one of {PAIRS}", repr(pairs))
        for path in candidates:
            if not path.is_file():
                continue
            lines = [(a, b) for a, b, _ in _read_pairs(path, self.title)]
            if not lines:
                continue
            all_same = all(same(a, b) for a, b in lines)
            if pairs == "paired" and all_same:
                return lines
            if pairs == "unpaired" and not all_same:
                return lines
        return None


# ------------------------------------------------------------------------------------------------
class VitonHDLayout(Layout):
    name = "viton-hd"
    title = "VITON-HD"
    data_terms = DataTerms("VITON-HD", "CC BY-NC 4.0; the dataset is for research purposes only", False,
                           "github.com/shadow2496/VITON-HD")
    label_set = L.CIHP
    structure = "{train,test}/{image, cloth, cloth-mask, image-parse-v3, openpose_json} + {train,test}_pairs.txt"
    parse_dirs = ("image-parse-v3", "image-parse")
    pose_dirs = ("openpose_json", "openpose-json")

    def __init__(self, root: str | os.PathLike, split: str = "train", **kw: Any):
        super().__init__(root, split, **kw)
        d = self.root / split
        self.require_dir(self.root)
        self.require_dir(d)
        self.image_dir = self.require_dir(d / "image")
        self.cloth_dir = self.require_dir(d / "cloth")
        self.mask_dir = self.require_dir(d / "cloth-mask")
        self.parse_dir = self.first_dir(*(d / p for p in self.parse_dirs)) or self.require_dir(d / self.parse_dirs[0])
        self.pose_dir = self.first_dir(*(d / p for p in self.pose_dirs))
        self.gt_dir = self.first_dir(d / "unpaired_gt")
        self.acc_dir = self.first_dir(d / "accessory-mask")

    def garment_for(self, person: str) -> str:
        return person

    def records(self, pairs: str = "paired") -> list[Record]:
        images = _index(self.image_dir)
        cloths = _index(self.cloth_dir)
        if not images:
            raise self.error("person images in image/", "an empty folder")
        lst = self.choose_pairs(pairs, [self.root / f"{self.split}_pairs_unpaired.txt", self.root / f"{self.split}_pairs.txt"]
                                if pairs == "unpaired" else [self.root / f"{self.split}_pairs.txt"],
                                lambda a, b: Path(a).stem == Path(b).stem)  # fmt: skip
        if lst is None:
            if pairs == "unpaired":
                raise self.error(
                    f"an unpaired list {self.split}_pairs_unpaired.txt (or an unpaired {self.split}_pairs.txt)",
                    "none",
                    "use pairs='paired', or draw a second garment with other_garment=True",
                )
            lst = [(images[s].name, self.garment_for(images[s].name)) for s in sorted(images)]
        people = [a for a, _ in lst]
        garments = [b for _, b in lst]
        self.check_matched(people, images, "person image in image/")
        self.check_matched(sorted(set(garments)), cloths, "garment image in cloth/")
        masks = _index(self.mask_dir)
        self.check_matched(sorted(set(garments)), masks, "garment mask in cloth-mask/")
        parses = _index(self.parse_dir, (".png",))
        self.check_matched(people, parses, f"parse map (.png) in {self.parse_dir.name}/")
        poses = _index(self.pose_dir, (".json",)) if self.pose_dir else {}
        if self.pose_dir:
            self.check_matched(people, poses, f"keypoint json in {self.pose_dir.name}/", key=lambda n: Path(n).stem + "_keypoints")
        gts = _index(self.gt_dir) if self.gt_dir and pairs == "unpaired" else {}
        accs = _index(self.acc_dir, (".png",)) if self.acc_dir else {}
        if self.acc_dir:
            self.check_matched(people, accs, "accessory mask (.png) in accessory-mask/")
        cats = synth_categories(self.root)
        out = []
        for a, b in lst:
            sa, sb = Path(a).stem, Path(b).stem
            out.append(Record(images[sa].name, cloths[sb].name, images[sa], cloths[sb], masks[sb], parses[sa],
                              poses.get(sa + "_keypoints"), gts.get(sa), accs.get(sa),
                              cats.get(images[sa].name, "upper")))  # fmt: skip
        return out


def synth_categories(root: Path) -> dict[str, str]:
    """Image name → category from a synthetic set's ``synth_samples.jsonl`` (empty for other data: every item of
    VITON-HD is an upper garment)."""
    path = Path(root) / "synth_samples.jsonl"
    if not path.is_file():
        return {}
    out = {}
    with open(path) as f:
        for line in f:
            if line.strip():
                rec = json.loads(line)
                out[rec["name"]] = rec.get("category", "upper")
    return out


class VitonLayout(Layout):
    name = "viton"
    title = "VITON/CP-VTON"
    data_terms = DataTerms("VITON / CP-VTON", "released for non-commercial research only", False,
                           "VITON (Han et al., CVPR 2018) and CP-VTON+ releases")
    label_set = L.LIP
    structure = "[data/]{train,test}/{image, image-parse, cloth, cloth-mask, pose} + {train,test}_pairs.txt"

    def __init__(self, root: str | os.PathLike, split: str = "train", **kw: Any):
        super().__init__(root, split, **kw)
        self.require_dir(self.root)
        if not (self.root / split).is_dir() and (self.root / "data" / split).is_dir():
            self.root = self.root / "data"
        d = self.require_dir(self.root / split)
        self.image_dir = self.require_dir(d / "image")
        self.cloth_dir = self.require_dir(d / "cloth")
        self.mask_dir = self.require_dir(d / "cloth-mask")
        self.parse_dir = self.first_dir(d / "image-parse-new", d / "image-parse") or self.require_dir(d / "image-parse")
        self.pose_dir = self.first_dir(d / "pose")

    @staticmethod
    def same(a: str, b: str) -> bool:
        return _id_of(a) == _id_of(b)

    def records(self, pairs: str = "paired") -> list[Record]:
        images, cloths = _index(self.image_dir), _index(self.cloth_dir)
        if not images:
            raise self.error("person images in image/", "an empty folder")
        pair_files = [self.root / f"{self.split}_pairs.txt", self.root / f"{self.split}_pairs_same.txt"]  # CP-VTON+: *_same
        lst = self.choose_pairs(pairs, [self.root / f"{self.split}_pairs_unpaired.txt", *pair_files]
                                if pairs == "unpaired" else pair_files, self.same)  # fmt: skip
        if lst is None:
            if pairs == "unpaired":
                raise self.error(f"an unpaired {self.split}_pairs.txt", "none", "use pairs='paired' or other_garment=True")
            lst = []
            for s in sorted(images):
                g = _garment_stem(s)
                lst.append((images[s].name, (cloths[g].name if g in cloths else g + ".jpg")))
        return _generic_records(self, lst, images, cloths, _index(self.mask_dir), "cloth-mask/",
                                _index(self.parse_dir, (".png",)), self.parse_dir.name,
                                _index(self.pose_dir, (".json",)) if self.pose_dir else None, "pose/")  # fmt: skip


class PFAFNLayout(Layout):
    name = "pfafn"
    title = "PF-AFN"
    data_terms = DataTerms("PF-AFN's VITON data", "restricted to non-commercial research and educational purposes", False,
                           "github.com/geyuying/PF-AFN")
    label_set = L.ACGPN
    structure = "{split}_img, {split}_color|_clothes, {split}_edge, {split}_label, {split}_pose (+ {split}_pairs.txt / demo.txt)"

    def __init__(self, root: str | os.PathLike, split: str = "train", **kw: Any):
        super().__init__(root, split, **kw)
        self.require_dir(self.root)
        s = split
        self.image_dir = self.require_dir(self.root / f"{s}_img")
        self.cloth_dir = self.first_dir(self.root / f"{s}_color", self.root / f"{s}_clothes") or self.require_dir(self.root / f"{s}_color")
        self.mask_dir = self.require_dir(self.root / f"{s}_edge")
        self.parse_dir = self.first_dir(self.root / f"{s}_label")
        if self.parse_dir is None and split == "train":
            self.require_dir(self.root / f"{s}_label")
        self.pose_dir = self.first_dir(self.root / f"{s}_pose")

    def records(self, pairs: str = "paired") -> list[Record]:
        images, cloths = _index(self.image_dir), _index(self.cloth_dir)
        if not images:
            raise self.error(f"person images in {self.image_dir.name}/", "an empty folder")
        cands = [self.root / f"{self.split}_pairs.txt"]
        if self.split == "test":  # PF-AFN_test's demo.txt lies in the folder or beside it (the loader opens it from the cwd)
            cands += [self.root / "demo.txt", self.root.parent / "demo.txt"]
        if pairs == "unpaired":
            cands = [self.root / f"{self.split}_pairs_unpaired.txt"] + cands
        lst = self.choose_pairs(pairs, cands, VitonLayout.same)
        if lst is None:
            if pairs == "unpaired":
                raise self.error(f"an unpaired {self.split}_pairs.txt or demo.txt", "none", "use pairs='paired' or other_garment=True")
            lst = []
            for s in sorted(images):
                g = _garment_stem(s)
                lst.append((images[s].name, (cloths[g].name if g in cloths else g + ".jpg")))
        poses = None
        if self.pose_dir:
            raw = _index(self.pose_dir, (".json",))
            poses = {k.removesuffix("_keypoints"): v for k, v in raw.items()}
        return _generic_records(self, lst, images, cloths, _index(self.mask_dir), f"{self.mask_dir.name}/",
                                _index(self.parse_dir, (".png", ".jpg")) if self.parse_dir else None,
                                self.parse_dir.name if self.parse_dir else "", poses, f"{self.split}_pose/", pose_suffix="")  # fmt: skip


class DressCodeLayout(Layout):
    name = "dresscode"
    title = "DressCode"
    data_terms = DataTerms("DressCode", "the DressCode licence agreement: non-commercial research only", False,
                           "github.com/aimagelab/dress-code")
    label_set = L.ATR
    structure = "{upper_body,lower_body,dresses}/{images (X_0, X_1), keypoints (X_2.json), label_maps (X_4.png)} + pair lists"
    keypoint_frame = KP.DRESSCODE_FRAME

    def __init__(self, root: str | os.PathLike, split: str = "train", category: str = "upper_body", **kw: Any):
        super().__init__(root, split, **kw)
        self.require_dir(self.root)
        category = {v: k for k, v in L.DRESSCODE_FOLDERS.items()}.get(category, category)  # upper → upper_body …
        if category not in DRESSCODE_CATEGORIES + ("all",):
            raise InputError("category", f"one of {DRESSCODE_CATEGORIES} or 'all'", repr(category))
        self.category = category
        self.parts: list[DressCodeLayout] = []
        if category == "all":  # every category folder present, read together
            if (self.root / "images").is_dir():
                cats = [next((c for c in DRESSCODE_CATEGORIES if self.root.name == c), DRESSCODE_CATEGORIES[0])]
            else:
                cats = [c for c in DRESSCODE_CATEGORIES if (self.root / c).is_dir()]
            if not cats:
                raise self.error(f"a category folder ({', '.join(DRESSCODE_CATEGORIES)})", "none")
            self.parts = [DressCodeLayout(root, split, c, **kw) for c in cats]
            first = self.parts[0]
            self.cat_dir, self.image_dir, self.parse_dir = first.cat_dir, first.image_dir, first.parse_dir
            self.pose_dir, self.mask_dir = first.pose_dir, first.mask_dir
            return
        if (self.root / "images").is_dir() and not (self.root / category).is_dir():
            self.cat_dir = self.root  # the category folder itself
        else:
            self.cat_dir = self.require_dir(self.root / category)
        self.image_dir = self.require_dir(self.cat_dir / "images")
        self.parse_dir = self.require_dir(self.cat_dir / "label_maps")
        self.pose_dir = self.first_dir(self.cat_dir / "keypoints")
        self.mask_dir = self.first_dir(self.cat_dir / "cloth_mask", self.cat_dir / "cloth-mask", self.cat_dir / "masks")

    @property
    def category_name(self) -> str:
        """Our name of this folder's category (``upper`` / ``lower`` / ``dress``); a category folder opened on its
        own is named by its folder name."""
        folder = self.category if (self.root / self.category).is_dir() else self.cat_dir.name
        return L.DRESSCODE_FOLDERS.get(folder, L.DRESSCODE_FOLDERS[self.category])

    def records(self, pairs: str = "paired") -> list[Record]:
        if pairs not in PAIRS:
            raise InputError("pairs", f"one of {PAIRS}", repr(pairs))
        if self.parts:
            return [r for part in self.parts for r in part.records(pairs)]
        if self.split == "train":
            names = ["train_pairs.txt"] if pairs == "paired" else ["train_pairs_unpaired.txt"]
        else:
            names = ["test_pairs_paired.txt"] if pairs == "paired" else ["test_pairs_unpaired.txt"]
        path = next((d / n for n in names for d in (self.cat_dir, self.cat_dir.parent, self.root) if (d / n).is_file()), None)
        if path is None:
            raise self.error(f"a pair list {names[0]} in {self.cat_dir} (DressCode splits come from its pair lists)", "none")
        images = _index(self.image_dir)
        lst = []
        for a, b, _ in _read_pairs(path, self.title):
            if Path(a).stem not in images:
                continue  # a root-level list also names the other categories' items
            lst.append((a, b))
        if not lst:
            raise self.error(f"pairs of {self.category} in {path.name}", "none of its persons in images/")
        lst_p = [a for a, _ in lst]
        lst_g = sorted({b for _, b in lst})
        self.check_matched(lst_g, images, "garment image (X_1) in images/")
        parses = _index(self.parse_dir, (".png",))

        def key4(n: str) -> str:
            return _dc_stem(n, "4")

        self.check_matched(lst_p, parses, "label map (X_4.png) in label_maps/", key=key4)
        poses = _index(self.pose_dir, (".json",)) if self.pose_dir else {}
        if self.pose_dir:
            self.check_matched(lst_p, poses, "keypoints (X_2.json) in keypoints/", key=lambda n: _dc_stem(n, "2"))
        masks = _index(self.mask_dir) if self.mask_dir else {}
        if self.mask_dir:
            self.check_matched(lst_g, masks, f"garment mask in {self.mask_dir.name}/")
        out = []
        for a, b in lst:
            sa, sb = Path(a).stem, Path(b).stem
            out.append(Record(images[sa].name, images[sb].name, images[sa], images[sb], masks.get(sb),
                              parses[key4(a)], poses.get(_dc_stem(a, "2")), category=self.category_name))  # fmt: skip
        return out

    def read_keypoints(self, path: Path) -> np.ndarray:
        return KP.read_dresscode_json(path)

    def accessory_from_parse(self, raw: np.ndarray) -> np.ndarray | None:
        return (raw == L.ATR_BAG).astype(np.float32)

    def derive_garment_mask(self, garment: np.ndarray) -> np.ndarray:
        import cv2

        m = (garment.min(axis=2) < 245).astype(np.uint8)
        m = cv2.morphologyEx(m, cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8))
        # fill holes: flood the background from the border
        h, w = m.shape
        flood = m.copy() * 255
        ff = np.zeros((h + 2, w + 2), np.uint8)
        for seed in ((0, 0), (w - 1, 0), (0, h - 1), (w - 1, h - 1)):
            if flood[seed[1], seed[0]] == 0:
                cv2.floodFill(flood, ff, seed, 128)
        return (flood != 128).astype(np.float32)


def _id_of(name: str) -> str:
    stem = Path(name).stem
    return stem.rsplit("_", 1)[0] if "_" in stem else stem


def _garment_stem(person_stem: str) -> str:
    base, _, tail = person_stem.rpartition("_")
    return f"{base}_1" if base and tail == "0" else person_stem


def _dc_stem(name: str, k: str) -> str:
    stem = Path(name).stem
    return stem.rsplit("_", 1)[0] + "_" + k if "_" in stem else stem


def _generic_records(layout: Layout, lst, images, cloths, masks, mask_what, parses, parse_what, poses, pose_what,
                     pose_suffix="_keypoints") -> list[Record]:  # fmt: skip
    people = [a for a, _ in lst]
    garments = sorted({b for _, b in lst})
    layout.check_matched(people, images, f"person image in {layout.image_dir.name}/")
    layout.check_matched(garments, cloths, f"garment image in {layout.cloth_dir.name}/")
    layout.check_matched(garments, masks, f"garment mask in {mask_what}")
    if parses is not None:
        layout.check_matched(people, parses, f"parse map in {parse_what}/")
    if poses is not None:
        layout.check_matched(people, poses, f"keypoint json in {pose_what}", key=lambda n: Path(n).stem + pose_suffix)
    out = []
    for a, b in lst:
        sa, sb = Path(a).stem, Path(b).stem
        out.append(Record(images[sa].name, cloths[sb].name, images[sa], cloths[sb], masks[sb],
                          parses[sa] if parses is not None else None,
                          poses.get(sa + pose_suffix) if poses is not None else None))  # fmt: skip
    return out


LAYOUTS: dict[str, type[Layout]] = {c.name: c for c in (VitonHDLayout, VitonLayout, DressCodeLayout, PFAFNLayout)}


def _parts(layout: str, root: Path, split: str) -> list[tuple[str, bool]]:
    """The folders and files ``layout`` needs for ``split``, in the order its adapter looks for them:
    ``(what, present)`` pairs (optional parts such as keypoints are not listed)."""

    def have(*rels: str) -> bool:
        return any((root / r).exists() for r in rels)

    def part(*rels: str) -> tuple[str, bool]:
        return (rels[0] + "".join(f" (or {r})" for r in rels[1:]), have(*rels))

    if layout == "viton-hd":
        s = split
        return [part(f"{s}/"), part(f"{s}/image/"), part(f"{s}/cloth/"), part(f"{s}/cloth-mask/"),
                part(f"{s}/image-parse-v3/", f"{s}/image-parse/")]  # fmt: skip
    if layout == "viton":
        s = f"data/{split}" if not (root / split).is_dir() and (root / "data" / split).is_dir() else split
        return [part(f"{s}/"), part(f"{s}/image/"), part(f"{s}/cloth/"), part(f"{s}/cloth-mask/"),
                part(f"{s}/image-parse/", f"{s}/image-parse-new/")]  # fmt: skip
    if layout == "dresscode":
        lists = ("train_pairs.txt",) if split == "train" else ("test_pairs_paired.txt", "test_pairs_unpaired.txt")
        if (root / "images").is_dir():  # the category folder itself
            return [part("images/"), part("label_maps/"), part(*lists)]
        cat = next((c for c in DRESSCODE_CATEGORIES if (root / c).is_dir()), DRESSCODE_CATEGORIES[0])
        return [part(*(f"{c}/" for c in DRESSCODE_CATEGORIES)), part(f"{cat}/images/"), part(f"{cat}/label_maps/"),
                part(*(f"{cat}/{n}" for n in lists), *lists)]  # fmt: skip
    s = split
    out = [part(f"{s}_img/"), part(f"{s}_color/", f"{s}_clothes/"), part(f"{s}_edge/")]
    return out + [part(f"{s}_label/")] if split == "train" else out


def _by_markers(r: Path, split: str) -> str | None:
    """The layout named by folders only one layout has (``None`` when there are none)."""
    d = r / split
    if any((d / n).is_dir() for n in ("image-parse-v3", "openpose_json", "openpose-json", "agnostic-v3.2")):
        return "viton-hd"
    if (d / "pose").is_dir() or (d / "image-parse-new").is_dir() or (r / "data" / split).is_dir():
        return "viton"
    if any((r / c).is_dir() for c in DRESSCODE_CATEGORIES) or ((r / "images").is_dir() and (r / "label_maps").is_dir()):
        return "dresscode"
    if (r / f"{split}_img").is_dir():
        return "pfafn"
    return None


def detect_layout(root: str | os.PathLike, split: str | None = "train") -> str:
    """Guess the layout of ``root`` from its folder names (for ``split``; ``None``: any split).

    Folders only one layout has decide first; else the first layout with every part it needs (VITON
    before VITON-HD, since a plain ``image-parse`` is LIP). When none fits, the :class:`DatasetError`
    names the layouts tried and the first part missing from the closest one (the most parts present).
    """
    r = Path(root)
    if not r.is_dir():
        raise DatasetError(f"dataset {r}", "an existing folder", "no such folder")
    splits = SPLITS if split is None else (split,)
    for s in splits:
        found = _by_markers(r, s)
        if found:
            return found
    for s in splits:
        for name in ("viton", "viton-hd", "dresscode", "pfafn"):
            if all(ok for _, ok in _parts(name, r, s)):
                return name
    best: tuple[int, str, str, str, int] | None = None
    for s in splits:
        for name in LAYOUTS:
            parts = _parts(name, r, s)
            score = sum(ok for _, ok in parts)
            if score and (best is None or score > best[0]):
                best = (score, name, s, next(w for w, ok in parts if not ok), len(parts))
    tried = ", ".join(LAYOUTS)
    if best is None:
        try:
            entries = sorted(p.name + ("/" if p.is_dir() else "") for p in r.iterdir() if not p.name.startswith("."))
        except OSError:
            entries = []
        shown = f"entries {_few(entries, 8)}" if entries else "an empty folder"
        raise DatasetError(f"dataset {r}", f"a folder in a supported layout (tried {tried})", f"none of their parts: {shown}",
                           "see `tryon data check --help` or tryon_wuton.data.layouts for the layouts")  # fmt: skip
    score, name, s, missing, total = best
    raise DatasetError(
        f"dataset {r} ({s})",
        f"a folder in a supported layout (tried {tried})",
        f"closest is {name} ({score} of its {total} parts), which lacks {missing}",
        f"{LAYOUTS[name].title} layout: {LAYOUTS[name].structure}",
    )


def open_layout(root: str | os.PathLike, split: str = "train", layout: str = "auto", **kw: Any) -> Layout:
    """Open ``root`` for ``split`` as ``layout`` (``"auto"`` = detect)."""
    if layout == "auto":
        layout = detect_layout(root, split)
    if layout not in LAYOUTS:
        raise InputError("layout", f"'auto' or one of {sorted(LAYOUTS)}", repr(layout))
    return LAYOUTS[layout](root, split, **kw)


# ------------------------------------------------------------------------------------------------
# decoding + per-item validation
# ------------------------------------------------------------------------------------------------
def read_parse(path: Path, label_set: L.LabelSet, strict_palette: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Read a label map → (raw labels uint8, canonical labels int64). Checks mode/bit depth, palette
    and label values."""
    from PIL import Image, UnidentifiedImageError

    try:
        img = Image.open(path)
        img.load()
    except (UnidentifiedImageError, OSError) as exc:
        raise DatasetError(f"parse map {path}", "a readable PNG label map", f"an unreadable file ({exc})") from None
    mode = img.mode
    if mode in ("RGB", "RGBA"):
        raise DatasetError(
            f"parse map {path}",
            "an 8-bit label map (PNG mode P or L: one label index per pixel)",
            f"mode {mode} ({'24' if mode == 'RGB' else '32'}-bit colour)",
            "a colour visualisation is not a label map; convert it with tryon_wuton.data.labels.rgb_to_labels",
        )
    if mode not in ("P", "L"):
        bits = {"1": "1-bit", "I;16": "16-bit", "I;16B": "16-bit", "I;16L": "16-bit", "I": "32-bit", "F": "32-bit float"}.get(mode, mode)
        raise DatasetError(f"parse map {path}", "an 8-bit label map (PNG mode P or L)", f"mode {mode} ({bits})")
    raw = np.asarray(img, dtype=np.uint8)
    bad_vals = L.invalid_values(raw, label_set)
    if bad_vals:
        raise DatasetError(f"parse map {path}", f"labels of the {label_set.name} set {list(label_set.valid)}", f"values {bad_vals}")
    used = [int(v) for v in np.flatnonzero(np.bincount(raw.ravel(), minlength=256))]
    if mode == "P" and strict_palette and not L.palette_matches(img.getpalette(), used, label_set):
        pal = img.getpalette() or []
        bad = next(i for i in used if tuple(pal[3 * i : 3 * i + 3]) not in {ref[i] for ref in label_set.palettes if i < len(ref)})
        raise DatasetError(
            f"parse map {path}",
            f"the palette of the {label_set.name} label set ({label_set.source}: CIHP/LIP or SCHP colours)",
            f"index {bad} coloured {tuple(pal[3 * bad : 3 * bad + 3])}",
            "the map may use another label set; pass the right layout, or strict_palette=False to skip this check",
        )
    return raw, label_set.lut[raw].astype(np.int64)


def _read_mask(path: Path, what: str) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        img = Image.open(path)
        img.load()
    except (UnidentifiedImageError, OSError) as exc:
        raise DatasetError(f"{what} {path}", "a readable mask image", f"an unreadable file ({exc})") from None
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img, np.float32)
        return (arr >= arr.max() / 2 if arr.max() > 0 else arr > 0).astype(np.float32)
    return (np.asarray(img.convert("L")) >= 128).astype(np.float32)


def _load_rgb(path: Path, what: str) -> np.ndarray:
    from tryon.io import load_image

    try:
        return load_image(path, name=what)
    except DatasetError:
        raise
    except InputError as exc:
        raise DatasetError(f"{what} {path}", exc.expected, exc.found, exc.hint) from None


#: Relative difference of the W/H ratios still taken as "the same aspect ratio" (plus one pixel of
#: rounding of the smaller image, see :func:`same_aspect`).
ASPECT_TOLERANCE = 0.01


def same_aspect(hw: tuple[int, int], ref_hw: tuple[int, int], tol: float = ASPECT_TOLERANCE) -> bool:
    """Whether ``hw`` and ``ref_hw`` (H, W) have the same aspect ratio within ``tol`` plus the rounding of
    one pixel of the smaller of the two (a 1024×768 image and a 341×256 map agree)."""
    (h, w), (rh, rw) = hw, ref_hw
    if min(h, w, rh, rw) <= 0:
        return False
    rounding = 1.0 / min(h, w, rh, rw)
    return abs((w / h) / (rw / rh) - 1.0) <= tol + rounding


def _fit_size(what: str, path: Path, arr: np.ndarray, ref_hw: tuple[int, int], ref_what: str, kind: str = "nearest",
              log: list[str] | None = None) -> np.ndarray:  # fmt: skip
    """``arr`` at ``ref_hw``: unchanged when the size matches, resized when only the scale differs (as the
    official loaders resize every input independently: nearest neighbour for label maps and masks), and a
    :class:`DatasetError` naming both sizes when the aspect ratio differs."""
    import cv2

    hw = tuple(int(v) for v in arr.shape[:2])
    ref_hw = (int(ref_hw[0]), int(ref_hw[1]))
    if hw == ref_hw:
        return arr
    if not same_aspect(hw, ref_hw):  # type: ignore[arg-type]
        raise DatasetError(
            f"{what} {path}",
            f"the size of the {ref_what} {ref_hw[1]}×{ref_hw[0]} (W×H) or another size of the same aspect ratio "
            f"(W/H {ref_hw[1] / ref_hw[0]:.3f})",
            f"{hw[1]}×{hw[0]} (W/H {hw[1] / hw[0]:.3f})",
        )
    size = (ref_hw[1], ref_hw[0])
    if log is not None:
        log.append(f"{what} {hw[0]}x{hw[1]} → {ref_hw[0]}x{ref_hw[1]} ({'nearest' if kind == 'nearest' else 'area/bilinear'})")
    if kind == "nearest":
        # INTER_NEAREST_EXACT samples pixel centres like PIL's NEAREST (the official loaders' filter)
        return cv2.resize(arr, size, interpolation=cv2.INTER_NEAREST_EXACT)
    shrink = hw[0] > ref_hw[0]
    return cv2.resize(arr, size, interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)


def load_garment(layout: Layout, rec: Record, log: list[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Decode and validate the garment of ``rec`` → (``H×W×3`` uint8, ``H×W`` float {0,1} mask)."""
    garment = _load_rgb(rec.garment, "garment image")
    if rec.garment_mask is not None:
        gmask = _read_mask(rec.garment_mask, "garment mask")
        gmask = _fit_size("garment mask", rec.garment_mask, gmask, garment.shape[:2], "garment image", log=log)
    else:
        gmask = layout.derive_garment_mask(garment)
    return garment, gmask


def load_raw(layout: Layout, rec: Record, strict_palette: bool = True) -> dict[str, Any]:
    """Decode and validate one item → numpy arrays at the person image's size.

    Label maps and masks of another size with the person's (garment mask: the garment's) aspect ratio are
    resized to it with nearest neighbour, as the official loaders do; another aspect ratio is refused.

    Keys: person, garment (``H×W×3`` uint8), garment_mask (``H×W`` float {0,1}), parse (``H×W`` int64
    canonical, absent when the layout has none), keypoints (``25×3`` float32 normalised), and when
    available unpaired_gt, accessory_mask; ``resized`` lists the maps that were resized (``"what HxW → HxW
    (filter)"``) when any was.
    """
    person = _load_rgb(rec.person, "person image")
    hw = person.shape[:2]
    resized: list[str] = []
    garment, gmask = load_garment(layout, rec, resized)
    out: dict[str, Any] = {"person": person, "garment": garment, "garment_mask": gmask}
    if rec.parse is not None:
        raw, parse = read_parse(rec.parse, layout.label_set, strict_palette)
        if raw.shape[:2] != hw:
            raw = _fit_size("parse map", rec.parse, raw, hw, "person image", log=resized)
            parse = layout.label_set.lut[raw].astype(np.int64)
        out["parse"] = parse
        acc = layout.accessory_from_parse(raw)
        if acc is not None:
            out["accessory_mask"] = acc
    if rec.keypoints is not None:
        try:
            pts = layout.read_keypoints(rec.keypoints)
        except (ValueError, KeyError, TypeError) as exc:
            raise DatasetError(f"keypoint json {rec.keypoints}", "an OpenPose/DressCode keypoint file", str(exc)) from None
        out["keypoints"] = KP.normalise(pts, layout.keypoint_frame or hw)
    else:
        out["keypoints"] = np.zeros((KP.K, 3), np.float32)
    if rec.unpaired_gt is not None:
        gt = _load_rgb(rec.unpaired_gt, "unpaired ground truth")
        out["unpaired_gt"] = _fit_size("unpaired ground truth", rec.unpaired_gt, gt, hw, "person image", "image", resized)
    if rec.accessory_mask is not None:
        acc = _read_mask(rec.accessory_mask, "accessory mask")
        out["accessory_mask"] = _fit_size("accessory mask", rec.accessory_mask, acc, hw, "person image", log=resized)
    if resized:
        out["resized"] = resized
    return out


def check_dataset(root: str | os.PathLike, layout: str = "auto", splits: tuple[str, ...] | None = None, deep: int | None = 3,
                  category: str | None = None, strict_palette: bool = True) -> dict[str, Any]:  # fmt: skip
    """Validate a dataset folder: structure and names of every split that exists, then decode checks on
    the first ``deep`` items per split (all when ``None``). Returns a summary dict; raises
    :class:`DatasetError` on the first problem.

    DressCode: every category folder present is checked (``category`` picks one); the summary's splits
    are then keyed ``"<category>/<split>"``.
    """
    root = Path(root)
    summary: dict[str, Any] = {"root": str(root), "splits": {}}
    name = detect_layout(root, None if not splits else splits[0]) if layout == "auto" else layout
    if name == "auto" or name not in LAYOUTS:
        raise InputError("layout", f"'auto' or one of {sorted(LAYOUTS)}", repr(layout))
    summary["layout"] = name
    summary["label_set"] = LAYOUTS[name].label_set.name
    if name == "dresscode":
        if category:
            cats = [category]
        elif (root / "images").is_dir():  # the category folder itself
            cats = [root.name if root.name in DRESSCODE_CATEGORIES else DRESSCODE_CATEGORIES[0]]
        else:
            cats = [c for c in DRESSCODE_CATEGORIES if (root / c).is_dir()] or [DRESSCODE_CATEGORIES[0]]
        summary["categories"] = cats
    else:
        cats = [category or DRESSCODE_CATEGORIES[0]]
    for cat in cats:
        found_any = False
        for split in splits or SPLITS:
            if not splits and not split_exists(root, name, split, cat):
                continue
            lay = open_layout(root, split, name, category=cat)
            found_any = True
            key = f"{cat}/{split}" if name == "dresscode" else split
            summary["splits"][key] = _check_split(lay, deep, strict_palette)
        if not found_any:
            open_layout(root, "train", name, category=cat).records("paired")  # raises the specific error
    return summary


def _check_split(lay: Layout, deep: int | None, strict_palette: bool) -> dict[str, Any]:
    info: dict[str, Any] = {}
    recs = lay.records("paired")
    info["paired"] = len(recs)
    try:
        info["unpaired"] = len(lay.records("unpaired"))
    except DatasetError:
        info["unpaired"] = 0
    info["garments"] = len({r.garment_name for r in recs})
    n = len(recs) if deep is None else min(deep, len(recs))
    hist = np.zeros(L.NUM_CANONICAL, np.int64)
    sizes: set[tuple[int, int]] = set()
    kp_present = 0
    extras: set[str] = set()
    resized: set[str] = set()
    for rec in recs[:n]:
        raw = load_raw(lay, rec, strict_palette)
        sizes.add(tuple(raw["person"].shape[:2]))  # type: ignore[arg-type]
        if "parse" in raw:
            hist += np.bincount(raw["parse"].ravel(), minlength=L.NUM_CANONICAL)[: L.NUM_CANONICAL]
        kp_present += int((raw["keypoints"][:, 2] > 0).any())
        extras.update(k for k in ("unpaired_gt", "accessory_mask") if k in raw)
        resized.update(raw.get("resized", ()))
    info["checked"] = n
    info["sizes"] = sorted(f"{h}x{w}" for h, w in sizes)
    info["labels"] = {L.CANONICAL_NAMES[int(i)]: round(float(hist[i]) / max(1, int(hist.sum())), 4) for i in np.flatnonzero(hist)}
    info["keypoints"] = f"{kp_present}/{n} items"
    info["extras"] = sorted(extras)
    info["resized"] = sorted(resized)
    return info


def split_exists(root: str | os.PathLike, layout: str, split: str, category: str = "upper_body") -> bool:
    """Whether ``root`` has data for ``split`` in ``layout`` (without validating it)."""
    r = Path(root)

    def nonempty(d: Path) -> bool:
        return d.is_dir() and any(not p.name.startswith(".") for p in d.iterdir())

    if layout == "viton-hd":
        return nonempty(r / split / "image") or ((r / split).is_dir() and not (r / split / "image").is_dir())
    if layout == "viton":
        return any(nonempty(b / split / "image") or ((b / split).is_dir() and not (b / split / "image").is_dir()) for b in (r, r / "data"))
    if layout == "pfafn":
        return nonempty(r / f"{split}_img")
    names = ("train_pairs.txt",) if split == "train" else ("test_pairs_paired.txt", "test_pairs_unpaired.txt")
    return any((d / n).is_file() for n in names for d in (r, r / category))
