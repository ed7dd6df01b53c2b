"""Tiny dataset folders in the layouts of the official loaders (written into a test's tmp_path).

Each builder follows the conventions of its dataset's official loader as recorded in
``/work/shared/reference/anchors-tryon.md`` (and the loaders named there): folder and file names, pair
files, label set and PNG encoding of the label maps, keypoint json format and coordinate frame. Images are
tiny (64×48 by default) so that the tests stay fast; the relative sizes of the real data are kept where
they matter (DressCode label maps at half the image size, keypoints in a 384×512 frame).

* :func:`make_viton_hd` — VITON-HD "zalando-hd-resized" (HR-VITON ``cp_dataset.py``).
* :func:`make_viton` — VITON / CP-VTON ``data/`` (sergeywong/cp-vton), ``plus=True`` adds the CP-VTON+
  parts (minar09/cp-vton-plus ``cp_dataset.py``).
* :func:`make_dresscode` — DressCode, all three categories (aimagelab/dress-code ``data/dataset.py``).
* :func:`make_pfafn` — PF-AFN ``VITON_traindata`` and ``PF-AFN_test`` (geyuying/PF-AFN ``aligned_dataset*.py``).

Loaded by the tests with ``importlib`` (the test suite runs with ``--import-mode=importlib``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

SIZE = (64, 48)  # (H, W) of the person images, the teacher's training size in the tests

# Part label values in each dataset's own label set (the regions are drawn by `body_labels`).
CIHP = {"hair": 2, "face": 13, "neck": 10, "upper": 5, "right_arm": 15, "left_arm": 14, "pants": 9, "left_shoe": 18}
LIP = {"hair": 2, "face": 13, "neck": 0, "upper": 5, "right_arm": 15, "left_arm": 14, "pants": 9, "left_shoe": 18}
ATR = {"hair": 2, "face": 11, "neck": 0, "upper": 4, "right_arm": 15, "left_arm": 14, "pants": 6, "left_shoe": 9}
ACGPN = {"hair": 1, "face": 12, "neck": 0, "upper": 4, "right_arm": 13, "left_arm": 11, "pants": 8, "left_shoe": 5}

# Regions as fractions of (H, W): (top, bottom, left, right); later ones paint over earlier ones.
_REGIONS = (
    ("hair", (0.06, 0.19, 0.38, 0.62)),
    ("face", (0.12, 0.28, 0.40, 0.60)),
    ("neck", (0.28, 0.31, 0.44, 0.56)),
    ("upper", (0.31, 0.62, 0.25, 0.75)),
    ("right_arm", (0.31, 0.69, 0.12, 0.25)),
    ("left_arm", (0.31, 0.69, 0.75, 0.88)),
    ("pants", (0.62, 0.94, 0.27, 0.73)),
    ("left_shoe", (0.94, 1.00, 0.52, 0.73)),
)


def body_labels(hw: tuple[int, int], values: dict[str, int]) -> np.ndarray:
    """An ``H×W`` uint8 person-shaped label map with ``values[part]`` for each part (0 = leave out)."""
    h, w = hw
    lab = np.zeros((h, w), np.uint8)
    for part, (t, b, l, r) in _REGIONS:
        if values.get(part, 0):
            lab[round(t * h) : round(b * h), round(l * w) : round(r * w)] = values[part]
    return lab


def person_image(labels: np.ndarray, seed: int) -> np.ndarray:
    """A person-like RGB image: one colour per label region (seeded), light background, mild texture."""
    rng = np.random.default_rng(seed)
    colours = rng.integers(30, 220, (256, 3))
    colours[0] = (235, 235, 230)
    img = colours[labels].astype(np.int32) + rng.integers(-6, 7, (*labels.shape, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def garment_image(hw: tuple[int, int], seed: int) -> tuple[np.ndarray, np.ndarray]:
    """An in-shop garment on white (``H×W×3``) and its mask (``H×W`` uint8 0/255)."""
    h, w = hw
    mask = np.zeros((h, w), np.uint8)
    mask[round(0.15 * h) : round(0.85 * h), round(0.2 * w) : round(0.8 * w)] = 255
    mask[round(0.15 * h) : round(0.45 * h), round(0.05 * w) : round(0.95 * w)] = 255  # sleeves
    img = np.full((h, w, 3), 255, np.uint8)
    img[mask > 0] = np.random.default_rng(seed + 1000).integers(20, 200, 3)
    return img, mask


def coco18(hw: tuple[int, int]) -> np.ndarray:
    """``18×3`` COCO-18 keypoints (x, y, confidence) in pixels of an ``hw`` frame; ears missing (zeros)."""
    h, w = hw
    pts = np.zeros((18, 3))
    for k, (fx, fy) in {0: (0.5, 0.2), 1: (0.5, 0.3), 2: (0.3, 0.32), 3: (0.2, 0.5), 4: (0.18, 0.66),
                        5: (0.7, 0.32), 6: (0.8, 0.5), 7: (0.82, 0.66), 8: (0.4, 0.62), 9: (0.4, 0.8),
                        10: (0.4, 0.95), 11: (0.6, 0.62), 12: (0.6, 0.8), 13: (0.6, 0.95), 14: (0.46, 0.18),
                        15: (0.54, 0.18)}.items():  # fmt: skip
        pts[k] = (fx * w, fy * h, 0.9)
    return pts


def body25(hw: tuple[int, int]) -> np.ndarray:
    """``25×3`` OpenPose BODY_25 keypoints in pixels (COCO-18 points + MidHip; feet missing)."""
    c = coco18(hw)
    out = np.zeros((25, 3))
    out[[0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18]] = c
    out[8] = ((c[8, 0] + c[11, 0]) / 2, (c[8, 1] + c[11, 1]) / 2, 0.9)
    return out


def save(path: Path, arr: np.ndarray, mode: str | None = None, palette: list[int] | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    im = Image.fromarray(arr, mode) if mode else Image.fromarray(arr)
    if palette is not None:
        im.putpalette(palette)
    if path.suffix == ".jpg":
        im.save(path, quality=95)
    else:
        im.save(path)
    return path


def write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def _palette(colours) -> list[int]:
    flat = [c for rgb in colours for c in rgb]
    return flat + [0] * (768 - len(flat))


def _resize_nearest(lab: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    return np.asarray(Image.fromarray(lab).resize((hw[1], hw[0]), Image.NEAREST))


# ------------------------------------------------------------------------------------------------
def make_viton_hd(root: Path, n: int = 4, size: tuple[int, int] = SIZE) -> Path:
    """VITON-HD zalando-hd-resized: ``{train,test}/{image, cloth, cloth-mask, image-parse-v3 (mode P, CIHP
    palette), openpose_json (BODY_25 ``pose_keypoints_2d`` in image pixels), openpose_img, image-densepose,
    agnostic-v3.2, image-parse-agnostic-v3.2}``; ``train_pairs.txt`` pairs each person with its own garment,
    ``test_pairs.txt`` with another one (as in the release). Names ``NNNNN_00.jpg``."""
    from tryon_wuton.data.labels import CIHP_PALETTE

    pal = _palette(CIHP_PALETTE)
    for s, split in enumerate(("train", "test")):
        d = root / split
        ids = [f"{k + 100 * s:05d}_00" for k in range(n)]
        for k, i in enumerate(ids):
            lab = body_labels(size, CIHP)
            save(d / "image" / f"{i}.jpg", person_image(lab, k + 10 * s))
            g, m = garment_image(size, k + 10 * s)
            save(d / "cloth" / f"{i}.jpg", g)
            save(d / "cloth-mask" / f"{i}.jpg", m)
            save(d / "image-parse-v3" / f"{i}.png", lab, "P", pal)
            person = {"person_id": [-1], "pose_keypoints_2d": body25(size).ravel().round(3).tolist(), "face_keypoints_2d": [],
                      "hand_left_keypoints_2d": [], "hand_right_keypoints_2d": []}  # fmt: skip
            kp = {"version": 1.3, "people": [person]}
            write_json(d / "openpose_json" / f"{i}_keypoints.json", kp)
            save(d / "openpose_img" / f"{i}_rendered.png", np.zeros((*size, 3), np.uint8))
            save(d / "image-densepose" / f"{i}.jpg", np.zeros((*size, 3), np.uint8))
            save(d / "agnostic-v3.2" / f"{i}.jpg", np.full((*size, 3), 128, np.uint8))
            save(d / "image-parse-agnostic-v3.2" / f"{i}.png", np.where(lab == 5, 0, lab).astype(np.uint8), "P", pal)
        others = ids[1:] + ids[:1]
        lines = zip(ids, ids if split == "train" else others)
        (root / f"{split}_pairs.txt").write_text("".join(f"{a}.jpg {b}.jpg\n" for a, b in lines))
    return root


def make_viton(root: Path, n: int = 4, size: tuple[int, int] = SIZE, plus: bool = False) -> Path:
    """VITON / CP-VTON ``data/{train,test}/{image (X_0.jpg), image-parse (X_0.png, LIP labels, mode P with
    the LIP colours), cloth (X_1.jpg), cloth-mask (X_1.jpg), pose (X_0_keypoints.json: OpenPose 1.0
    ``pose_keypoints``, COCO-18, image pixels)}`` + ``data/{train,test}_pairs.txt`` (train paired, test
    unpaired). ``plus``: CP-VTON+ ``image-parse-new`` (8-bit grey, label 20 = neck/skin), ``image-mask``
    and ``data/test_pairs_same.txt``."""
    from tryon_wuton.data.labels import CIHP_PALETTE  # LIP_JPPNet's colours are the same 20

    for s, split in enumerate(("train", "test")):
        d = root / "data" / split
        ids = [f"{k + 100 * s:06d}" for k in range(n)]
        for k, i in enumerate(ids):
            lab = body_labels(size, LIP)
            save(d / "image" / f"{i}_0.jpg", person_image(lab, k + 10 * s))
            g, m = garment_image(size, k + 10 * s)
            save(d / "cloth" / f"{i}_1.jpg", g)
            save(d / "cloth-mask" / f"{i}_1.jpg", m)
            save(d / "image-parse" / f"{i}_0.png", lab, "P", _palette(CIHP_PALETTE))
            kp = {"version": 1.0, "people": [{"face_keypoints": [], "pose_keypoints": coco18(size).ravel().round(3).tolist(),
                                               "hand_right_keypoints": [], "hand_left_keypoints": []}]}  # fmt: skip
            write_json(d / "pose" / f"{i}_0_keypoints.json", kp)
            if plus:
                new = body_labels(size, {**LIP, "neck": 20})
                save(d / "image-parse-new" / f"{i}_0.png", new, "L")
                save(d / "image-mask" / f"{i}_0.png", ((new > 0) * 255).astype(np.uint8), "L")
        others = ids[1:] + ids[:1]
        lines = zip(ids, ids if split == "train" else others)
        (root / "data" / f"{split}_pairs.txt").write_text("".join(f"{a}_0.jpg {b}_1.jpg\n" for a, b in lines))
        if plus and split == "test":
            (root / "data" / "test_pairs_same.txt").write_text("".join(f"{a}_0.jpg {a}_1.jpg\n" for a in ids))
    return root


#: First item id of each DressCode category (the release numbers the categories in disjoint ranges).
DRESSCODE_FIRST_ID = {"upper_body": 0, "lower_body": 13563, "dresses": 20714}
#: The ATR label of the garment each category is about (the official loader's ``label_cat``).
DRESSCODE_GARMENT_LABEL = {"upper_body": 4, "lower_body": 6, "dresses": 7}


def make_dresscode(root: Path, n: int = 3, size: tuple[int, int] = (2 * SIZE[0], 2 * SIZE[1]), label_scale: float = 0.5) -> Path:
    """DressCode: ``{upper_body, lower_body, dresses}/{images (X_0.jpg person, X_1.jpg garment), keypoints
    (X_2.json: ``keypoints`` 18 × [x, y, score, id] in a 384×512 frame, missing points at -1), label_maps
    (X_4.png: SCHP-ATR labels, mode P with the VOC palette, at ``label_scale`` × the image size — the
    release's maps are 384×512 for 768×1024 images), skeletons (X_5.jpg), dense (X_5.png, X_5_uv.npz)}``,
    per category ``train_pairs.txt`` (first ``n - 1`` ids, paired), ``test_pairs_paired.txt`` and
    ``test_pairs_unpaired.txt`` (last id), and the same three lists for all categories at the root."""
    from tryon_wuton.data.labels import VOC_PALETTE

    lh, lw = round(size[0] * label_scale), round(size[1] * label_scale)
    roots: dict[str, list[str]] = {"train_pairs.txt": [], "test_pairs_paired.txt": [], "test_pairs_unpaired.txt": []}
    for cat, first in DRESSCODE_FIRST_ID.items():
        d = root / cat
        ids = [f"{first + k:06d}" for k in range(n)]
        values = {**ATR, "upper": ATR["upper"] if cat != "dresses" else 7}
        if cat == "dresses":
            values["pants"] = 7
        for k, i in enumerate(ids):
            lab = body_labels((lh, lw), values)
            lab[round(0.70 * lh) : round(0.85 * lh), round(0.02 * lw) : round(0.12 * lw)] = 16  # a bag beside the body
            save(d / "images" / f"{i}_0.jpg", person_image(_resize_nearest(lab, size), k + first))
            g, _ = garment_image(size, k + first)
            save(d / "images" / f"{i}_1.jpg", g)
            save(d / "label_maps" / f"{i}_4.png", lab, "P", _palette(VOC_PALETTE))
            kp = coco18((512, 384))
            kp[[16, 17]] = (-1, -1, 0)
            write_json(d / "keypoints" / f"{i}_2.json", {"keypoints": np.c_[kp, np.arange(18)].round(3).tolist()})
            save(d / "skeletons" / f"{i}_5.jpg", np.zeros((*size, 3), np.uint8))
            save(d / "dense" / f"{i}_5.png", (lab > 0).astype(np.uint8) * 2, "L")
            np.savez_compressed(d / "dense" / f"{i}_5_uv.npz", uv=np.zeros((2, lh, lw), np.float32))
        lists = {
            "train_pairs.txt": [f"{i}_0.jpg {i}_1.jpg" for i in ids[:-1]],
            "test_pairs_paired.txt": [f"{ids[-1]}_0.jpg {ids[-1]}_1.jpg"],
            "test_pairs_unpaired.txt": [f"{ids[-1]}_0.jpg {ids[0]}_1.jpg"],
        }
        for name, lines in lists.items():
            (d / name).write_text("".join(f"{line}\n" for line in lines))
            roots[name] += lines
    for name, lines in roots.items():
        (root / name).write_text("".join(f"{line}\n" for line in lines))
    return root


def make_pfafn(root: Path, n: int = 4, size: tuple[int, int] = SIZE) -> tuple[Path, Path]:
    """PF-AFN: ``VITON_traindata/{train_img (X_0.jpg), train_color (X_1.jpg), train_edge (X_1.jpg),
    train_label (X_0.png, ACGPN labels, 8-bit grey), train_pose (X_0_keypoints.json, ``pose_keypoints``
    COCO-18, image pixels), train_densepose (X_0.npy)}`` (persons and garments paired by sorted name, no
    pair file) and ``PF-AFN_test/{demo.txt, dataset/{test_img, test_clothes, test_edge}}`` (the test loader
    reads ``demo.txt`` from its working directory, beside ``dataset/``). Returns (train root, test root)."""
    train = root / "VITON_traindata"
    ids = [f"{k:06d}" for k in range(n)]
    for k, i in enumerate(ids):
        lab = body_labels(size, ACGPN)
        lab[round(0.31 * size[0]) : round(0.34 * size[0]), round(0.4 * size[1]) : round(0.6 * size[1])] = 7  # "noise"
        save(train / "train_img" / f"{i}_0.jpg", person_image(lab, k))
        g, m = garment_image(size, k)
        save(train / "train_color" / f"{i}_1.jpg", g)
        save(train / "train_edge" / f"{i}_1.jpg", m)
        save(train / "train_label" / f"{i}_0.png", lab, "L")
        kp = {"version": 1.0, "people": [{"pose_keypoints": coco18(size).ravel().round(3).tolist()}]}
        write_json(train / "train_pose" / f"{i}_0_keypoints.json", kp)
        (train / "train_densepose").mkdir(exist_ok=True)
        np.save(train / "train_densepose" / f"{i}_0.npy", (lab > 0).astype(np.uint8) * 2)
    test = root / "PF-AFN_test"
    tids = [f"{k + 100:06d}" for k in range(n)]
    for k, i in enumerate(tids):
        save(test / "dataset" / "test_img" / f"{i}_0.jpg", person_image(body_labels(size, ACGPN), k + 50))
        g, m = garment_image(size, k + 50)
        save(test / "dataset" / "test_clothes" / f"{i}_1.jpg", g)
        save(test / "dataset" / "test_edge" / f"{i}_1.jpg", m)
    (test / "demo.txt").write_text("".join(f"{a}_0.jpg {b}_1.jpg\n" for a, b in zip(tids, tids[1:] + tids[:1])))
    return train, test / "dataset"
