"""Human-parsing label sets and their mapping to the canonical one.

The **canonical** label set is the one of VITON-HD's ``image-parse-v3`` maps (CIHP 20 classes, produced
by CIHP_PGN, where class 10 — "torso-skin" in CIHP, "jumpsuits" in LIP — is the *neck* / exposed upper
chest; HR-VITON's ``get_parse_agnostic.py`` treats 10 as the neck). Every adapter maps its own label set
to it with a 256-entry look-up table (``-1`` = not a label of that set), so models, the agnostic person
(000 §4.3.3.2) and metrics see one convention.

Label sets and sources (documented mappings, see ``LABEL_SETS``):

* ``cihp`` — canonical, VITON-HD v3 and our synthetic data: identity.
* ``lip`` — VITON / CP-VTON ``image-parse`` (LIP_JPPNet, 20 classes): identity except
  10 *jumpsuits* → 6 *dress* (a one-piece garment that covers the torso; canonical 10 is the neck).
  CP-VTON+ ``image-parse-new`` adds 20 *skin/neck/chest* (minar09/cp-vton-plus
  ``dataset_neck_skin_correction.py``, written as 8-bit grey PNGs) → 10 *neck*; its visualisation colour is
  (189, 183, 107) in that script and (170, 170, 50) in the comment of ``cp_dataset.py``, both accepted.
* ``atr`` — DressCode ``label_maps`` (SCHP trained on ATR, 18 classes: 0 background, 1 hat, 2 hair,
  3 sunglasses, 4 upper-clothes, 5 skirt, 6 pants, 7 dress, 8 belt, 9 left-shoe, 10 right-shoe,
  11 face/head, 12 left-leg, 13 right-leg, 14 left-arm, 15 right-arm, 16 bag, 17 scarf; list as in
  geyuying/PF-AFN#26) → canonical: 3→4 sunglasses, 4→5, 5→12, 6→9, 7→6, 8 belt→9 (pants: a waist item
  of the lower body), 9→18, 10→19, 11→13, 12→16, 13→17, 14→14, 15→15, 16 bag→0 (background: the CIHP
  set has no bag class; the bag itself is exposed as ``accessory_mask``), 17→11 scarf.
* ``acgpn`` — PF-AFN / ACGPN ``*_label`` maps (14 channels, only 12 used; mapping given by the ACGPN
  maintainers in switchablenorms/DeepFashion_Try_On#29: 0 background, 1 hair, 4 upper-clothes,
  5 left-shoe, 6 right-shoe, 7 "noise", 8 pants, 9 left-leg, 10 right-leg, 11 left-arm, 12 face,
  13 right-arm) → canonical 1→2, 4→5, 5→18, 6→19, 7→5 (PF-AFN merges "noise" into the upper cloth,
  ``train_PBAFN_e2e.py``), 8→9, 9→16, 10→17, 11→14, 12→13, 13→15; 2 and 3 are not labels.

"Left"/"right" are the person's own sides (person's right arm = image left for a person facing the
camera), as in LIP/CIHP and OpenPose.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# -- canonical (VITON-HD image-parse-v3 / CIHP) -------------------------------------------------
BACKGROUND, HAT, HAIR, GLOVE, SUNGLASSES, UPPER_CLOTHES, DRESS, COAT, SOCKS, PANTS = range(10)
NECK, SCARF, SKIRT, FACE, LEFT_ARM, RIGHT_ARM, LEFT_LEG, RIGHT_LEG, LEFT_SHOE, RIGHT_SHOE = range(10, 20)

CANONICAL_NAMES: tuple[str, ...] = (
    "background", "hat", "hair", "glove", "sunglasses", "upper-clothes", "dress", "coat", "socks", "pants",
    "neck", "scarf", "skirt", "face", "left-arm", "right-arm", "left-leg", "right-leg", "left-shoe",
    "right-shoe",
)  # fmt: skip
NUM_CANONICAL = len(CANONICAL_NAMES)

#: Garment labels masked by the agnostic person (000 §4.3.3.2): the upper-body cloth (and a dress or coat).
UPPER_GARMENT_LABELS: tuple[int, ...] = (UPPER_CLOTHES, DRESS, COAT)
ARM_LABELS: tuple[int, ...] = (LEFT_ARM, RIGHT_ARM)
#: Lower-body garments (masked for a lower-body try-on) and the legs (after DressCode's rule).
LOWER_GARMENT_LABELS: tuple[int, ...] = (PANTS, SKIRT)
LEG_LABELS: tuple[int, ...] = (LEFT_LEG, RIGHT_LEG)
#: The garment label of each category (what the synthetic data writes for the worn garment).
#: The garment categories, the labels of the garment each one is about (the worn garment ``c_a,p``;
#: upper keeps the 000 rule: upper-clothes, dress, coat) and DressCode's folder name of each.
CATEGORIES: tuple[str, ...] = ("upper", "lower", "dress")
CATEGORY_GARMENT_LABELS: dict[str, tuple[int, ...]] = {"upper": UPPER_GARMENT_LABELS, "lower": (PANTS, SKIRT), "dress": (DRESS,)}
DRESSCODE_FOLDERS: dict[str, str] = {"upper_body": "upper", "lower_body": "lower", "dresses": "dress"}

#: The CIHP_PGN colour map (RGB) that VITON-HD's ``image-parse-v3`` PNGs carry as their palette
#: (Engineering-Course/CIHP_PGN#19).
CIHP_PALETTE: tuple[tuple[int, int, int], ...] = (
    (0, 0, 0), (128, 0, 0), (255, 0, 0), (0, 85, 0), (170, 0, 51), (255, 85, 0), (0, 0, 85), (0, 119, 221),
    (85, 85, 0), (0, 85, 85), (85, 51, 0), (52, 86, 128), (0, 128, 0), (0, 0, 255), (51, 170, 221),
    (0, 255, 255), (85, 255, 170), (170, 255, 85), (255, 255, 0), (255, 170, 0),
)  # fmt: skip


def voc_palette(n: int = 256) -> tuple[tuple[int, int, int], ...]:
    """The Pascal-VOC bit-interleaved colour map that SCHP (``simple_extractor.py``) writes.

    Hand-written (a few lines) because no installed library exposes it as a function.
    """
    out = []
    for j in range(n):
        lab, r, g, b, i = j, 0, 0, 0, 0
        while lab:
            r |= ((lab >> 0) & 1) << (7 - i)
            g |= ((lab >> 1) & 1) << (7 - i)
            b |= ((lab >> 2) & 1) << (7 - i)
            i += 1
            lab >>= 3
        out.append((r, g, b))
    return tuple(out)


VOC_PALETTE = voc_palette(256)


@dataclass(frozen=True)
class LabelSet:
    """A parsing label set: names, the palettes its PNGs may carry, and the map to canonical labels."""

    name: str
    names: tuple[str, ...]
    mapping: dict[int, int]  # own label -> canonical label
    palettes: tuple[tuple[tuple[int, int, int], ...], ...] = (CIHP_PALETTE, VOC_PALETTE)
    source: str = ""
    lut: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        lut = np.full(256, -1, dtype=np.int16)
        for k, v in self.mapping.items():
            lut[k] = v
        object.__setattr__(self, "lut", lut)

    @property
    def valid(self) -> tuple[int, ...]:
        return tuple(sorted(self.mapping))

    def to_canonical(self, labels: np.ndarray) -> np.ndarray:
        """Map an ``H×W`` uint8 map of this set to canonical labels (int64). Raises ``ValueError``
        listing the values that are not labels of this set."""
        bad = invalid_values(labels, self)
        if bad:
            raise ValueError(f"values {bad} are not labels of the {self.name} set (valid: {list(self.valid)})")
        return self.lut[labels].astype(np.int64)


def invalid_values(labels: np.ndarray, label_set: LabelSet) -> list[int]:
    present = np.flatnonzero(np.bincount(labels.ravel(), minlength=256))
    return [int(v) for v in present if label_set.lut[v] < 0]


CIHP = LabelSet(
    "cihp",
    CANONICAL_NAMES,
    {i: i for i in range(NUM_CANONICAL)},
    source="VITON-HD image-parse-v3 (CIHP_PGN), synthetic data",
)
#: CP-VTON+ neck/skin label of ``image-parse-new`` (added to the 20 LIP classes).
LIP_NECK = 20
LIP = LabelSet(
    "lip",
    CANONICAL_NAMES[:10] + ("jumpsuits",) + CANONICAL_NAMES[11:] + ("skin-neck-chest",),
    {**{i: i for i in range(NUM_CANONICAL)}, 10: DRESS, LIP_NECK: NECK},
    palettes=(CIHP_PALETTE + ((189, 183, 107),), CIHP_PALETTE + ((170, 170, 50),), VOC_PALETTE),
    source="VITON / CP-VTON image-parse (LIP_JPPNet), CP-VTON+ image-parse-new",
)
ATR = LabelSet(
    "atr",
    ("background", "hat", "hair", "sunglasses", "upper-clothes", "skirt", "pants", "dress", "belt", "left-shoe",
     "right-shoe", "face", "left-leg", "right-leg", "left-arm", "right-arm", "bag", "scarf"),
    {0: BACKGROUND, 1: HAT, 2: HAIR, 3: SUNGLASSES, 4: UPPER_CLOTHES, 5: SKIRT, 6: PANTS, 7: DRESS, 8: PANTS,
     9: LEFT_SHOE, 10: RIGHT_SHOE, 11: FACE, 12: LEFT_LEG, 13: RIGHT_LEG, 14: LEFT_ARM, 15: RIGHT_ARM,
     16: BACKGROUND, 17: SCARF},
    source="DressCode label_maps (SCHP-ATR)",
)  # fmt: skip
ATR_BAG = 16
ACGPN = LabelSet(
    "acgpn",
    ("background", "hair", "-", "-", "upper-clothes", "left-shoe", "right-shoe", "noise", "pants", "left-leg",
     "right-leg", "left-arm", "face", "right-arm"),
    {0: BACKGROUND, 1: HAIR, 4: UPPER_CLOTHES, 5: LEFT_SHOE, 6: RIGHT_SHOE, 7: UPPER_CLOTHES, 8: PANTS,
     9: LEFT_LEG, 10: RIGHT_LEG, 11: LEFT_ARM, 12: FACE, 13: RIGHT_ARM},
    source="PF-AFN / ACGPN *_label (switchablenorms/DeepFashion_Try_On#29)",
)  # fmt: skip

LABEL_SETS: dict[str, LabelSet] = {s.name: s for s in (CIHP, LIP, ATR, ACGPN)}


def palette_bytes(palette: tuple[tuple[int, int, int], ...] = CIHP_PALETTE) -> list[int]:
    """A 768-entry flat palette for ``PIL.Image.putpalette`` (unused entries black)."""
    flat = [c for rgb in palette for c in rgb]
    return flat + [0] * (768 - len(flat))


def encode_parse_png(labels: np.ndarray) -> bytes:
    """Canonical ``H×W`` labels → palette PNG bytes (mode ``P``, CIHP palette) like VITON-HD's maps."""
    import io

    from PIL import Image

    img = Image.fromarray(np.ascontiguousarray(labels.astype(np.uint8)), mode="P")
    img.putpalette(palette_bytes())
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=False, compress_level=1)
    return buf.getvalue()


def colorize(labels: np.ndarray, palette: tuple[tuple[int, int, int], ...] = CIHP_PALETTE) -> np.ndarray:
    """Canonical labels → ``H×W×3`` uint8 colour visualisation."""
    pal = np.zeros((256, 3), np.uint8)
    pal[: len(palette)] = palette
    return pal[np.asarray(labels, dtype=np.int64).clip(0, 255)]


def rgb_to_labels(rgb: np.ndarray, palette: tuple[tuple[int, int, int], ...] = CIHP_PALETTE) -> np.ndarray:
    """Convert a 24-bit colour visualisation back to label indices (exact colours only).

    Raises ``ValueError`` naming the first colours that are not in ``palette``.
    """
    rgb = np.asarray(rgb)[..., :3].astype(np.int32)
    key = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
    table = {(r << 16) | (g << 8) | b: i for i, (r, g, b) in enumerate(palette)}
    uniq = np.unique(key)
    missing = [int(k) for k in uniq if int(k) not in table]
    if missing:
        cols = [((k >> 16) & 255, (k >> 8) & 255, k & 255) for k in missing[:5]]
        raise ValueError(f"colours {cols} are not in the palette")
    out = np.zeros(key.shape, np.uint8)
    for k in uniq:
        out[key == k] = table[int(k)]
    return out


def palette_matches(pil_palette: list[int] | None, used: list[int], label_set: LabelSet) -> bool:
    """True when the palette entries of the ``used`` indices match one of the set's known palettes,
    or the palette is absent / a grey ramp (maps written from numpy without a palette)."""
    if not pil_palette:
        return True
    pal = [tuple(pil_palette[3 * i : 3 * i + 3]) for i in range(len(pil_palette) // 3)]
    if all(pal[i] == (i, i, i) for i in used if i < len(pal)):
        return True
    for ref in label_set.palettes:
        if all(i < len(pal) and i < len(ref) and pal[i] == ref[i] for i in used):
            return True
    return False
