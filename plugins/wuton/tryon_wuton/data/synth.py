"""Procedural synthetic try-on data: people, garments (upper, lower, dress), parse maps, keypoints, unpaired GT.

Real try-on datasets are licensed and not downloadable, so tests, the demo and the benchmark use this
generator. Everything is drawn with numpy + OpenCV from two parametric descriptions:

* :class:`PersonSpec` — skin tone, hair, body widths, head, arm poses (down, out, hand on hip, forearm
  *crossing the torso*), lower garment, background, accessories (cross-body / shoulder / hand bag,
  bracelet);
* :class:`GarmentSpec` — t-shirt, long-sleeve or tank; solid, stripes, checks, dots or printed logo;
  neckline, length, fit. With ``category`` (DressCode's three categories): ``upper`` (those tops),
  ``lower`` (trousers, shorts, skirt: worn with the person's own top, :func:`person_top`) or ``dress`` (a tank or
  t-shirt bodice with a flared skirt sewn at its hem). Lower garments and a dress's skirt are trapezoid pieces
  whose worn shape maps row by row onto the flat lay, so their patterns follow the body as the tops' do.

Because any person can be rendered with any garment, the generator also writes the ground truth of
*unpaired* pairs (``unpaired_gt/``), which no real dataset has (000 §4.3.3.2 trains the unpaired
branch with an adversarial loss only because that ground truth does not exist).

**Garment model.** A garment's colour is an analytic function of *flat* coordinates (the in-shop
image plane): the in-shop image samples it on the pixel grid; the worn garment samples it through a
known smooth non-rigid map from the person image to the flat plane — rows follow the torso (knots at
shoulder line, armpit and hem), columns are normalised by the body's half-width profile and bent by a
cylinder (foreshortening at the sides), a chest/drape sag (stripes bend with the body) and low-frequency
folds; each sleeve is a tube along the arm polyline (shoulder → elbow → wrist) whose (along, across)
coordinates map bilinearly onto the flat sleeve quad, so sleeves follow the arm angles. Arms, the bag
strap and the bag occlude the garment by draw order.

**Parse labels** are the VITON-HD ``image-parse-v3`` set (:mod:`.labels`). Accessory rule: a LIP/CIHP
parser has no bag or jewellery class, so accessories are *transparent to the parse map* — each accessory
pixel keeps the label of what lies beneath it (a strap over the shirt is ``upper-clothes``, a bracelet
is ``left-arm``/``right-arm``, a bag beside the body is ``background``). Their exact pixels are written to
``accessory-mask/`` so an evaluation can measure whether a try-on keeps them (a parser-based agnostic
person hides the ones on the arms and torso, which is what a parser-free student avoids).

**Determinism.** Sample *i* depends only on ``(seed, i)`` (``numpy.random.default_rng([seed, i, stream])``),
so ``--n 2000`` and ``--n 10`` write identical first 10 samples and workers can render in any order.
Test membership depends only on *i* (evenly spaced, ``floor(n * test_fraction)`` of them). Unpaired
partners swap consecutive test samples (a 3-cycle closes an odd count), so only the last three
unpaired pairs can change when ``n`` grows; with several categories this holds within each category (partners
are always of the same category). A sample's category is drawn from its own stream (:func:`sample_category`);
with the default ``categories=("upper",)`` nothing is drawn and the data is byte-identical to the upper-only
generator's.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

import numpy as np

from . import labels as L
from .keypoints import K as NUM_KEYPOINTS
from .keypoints import openpose_json

SYNTH_VERSION = "1.0"

Color = tuple[int, int, int]

# ------------------------------------------------------------------------------------------------
# parametric descriptions
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ArmPose:
    """One arm. Angles in degrees: ``shoulder`` = upper arm away from straight down (outwards positive),
    ``bend`` = elbow flexion turning the forearm towards the body midline (≈ 90–130 crosses the torso)."""

    shoulder: float
    bend: float
    kind: str = "down"  # down | out | hip | crossed


@dataclass(frozen=True)
class PersonSpec:
    skin: Color
    hair: Color
    hair_style: str  # short | long | bob | bun
    lips: Color
    eyes: Color
    head_scale: float
    body_width: float
    shoulder_width: float
    waist: float
    hip_width: float
    height_scale: float
    x_offset: float  # fraction of W
    y_offset: float  # fraction of H
    right_arm: ArmPose  # the person's right arm = image left
    left_arm: ArmPose
    front_arm: str  # "right" | "left": drawn last when both cross
    bottom: str  # pants | shorts | skirt
    bottom_color: Color
    background: str  # solid | gradient | wall | blobs | vignette
    bg_colors: tuple[Color, Color, Color]
    bag: str | None  # None | crossbody | shoulder | hand
    bag_side: str  # "left" | "right": the person's side of the strap shoulder / carrying hand
    bag_color: Color
    bracelet: str | None  # None | "left" | "right"
    bracelet_color: Color
    detail_seed: int

    @property
    def arms_crossed(self) -> bool:
        return self.right_arm.kind == "crossed" or self.left_arm.kind == "crossed"

    @property
    def accessories(self) -> tuple[str, ...]:
        out = []
        if self.bag:
            out.append(f"bag-{self.bag}")
        if self.bracelet:
            out.append("bracelet")
        return tuple(out)


@dataclass(frozen=True)
class GarmentSpec:
    kind: str  # tshirt | longsleeve | tank
    color: Color
    color2: Color
    pattern: str  # solid | stripes | checks | dots | logo
    stripe_period: float  # fraction of H
    stripe_duty: float
    stripe_angle: float  # degrees: 0 horizontal stripes, 90 vertical
    dot_spacing: float  # fraction of H
    dot_radius: float  # fraction of spacing
    logo_shape: str  # circle | ring | diamond | star | bars | triangle
    logo_color: Color
    logo_size: float  # fraction of H
    logo_base: str  # solid | stripes: what is under the logo
    neckline: str  # crew | v | scoop
    length: float  # 0..1
    fit: float  # width factor of the flat garment
    ease: float  # extra width on the body, fraction of H
    sleeve_angle: float  # degrees below horizontal in the flat lay
    sleeve_length: float  # fraction of the upper arm (t-shirt) / of the arm (long sleeve)
    detail_seed: int
    # -- category: upper (the fields above), lower (kind trousers | shorts | skirt) or dress (a bodice of
    # kind tank | tshirt with a skirt sewn at its hem)
    category: str = "upper"
    drop: float = 0.0  # lower / dress: length of the legs or skirt, 0..1
    flare: float = 0.0  # lower / dress: widening of the skirt or trouser legs towards the hem, 0..1

    @property
    def label(self) -> int:
        """The parse label the worn garment carries."""
        if self.category == "dress":
            return L.DRESS
        if self.category == "lower":
            return L.SKIRT if self.kind == "skirt" else L.PANTS
        return L.UPPER_CLOTHES

    @property
    def garment_type(self) -> str:
        """``tshirt`` … ``tank``, ``trousers`` / ``shorts`` / ``skirt`` or ``dress``."""
        return "dress" if self.category == "dress" else self.kind


#: The garment categories (DressCode's ``upper_body`` / ``lower_body`` / ``dresses``).
CATEGORIES: tuple[str, ...] = ("upper", "lower", "dress")
GARMENT_TYPES: dict[str, tuple[str, ...]] = {
    "upper": ("tshirt", "longsleeve", "tank"),
    "lower": ("trousers", "shorts", "skirt"),
    "dress": ("dress",),
}


SKIN_TONES: tuple[Color, ...] = (
    (247, 214, 190), (238, 196, 168), (224, 172, 138), (198, 145, 108), (170, 118, 84), (141, 94, 64),
    (112, 72, 48), (86, 56, 38),
)  # fmt: skip
HAIR_COLORS: tuple[Color, ...] = (
    (28, 22, 20), (52, 36, 28), (84, 56, 36), (122, 84, 52), (196, 158, 98), (146, 66, 38), (150, 148, 146),
)  # fmt: skip
BOTTOM_COLORS: tuple[Color, ...] = (
    (44, 62, 100), (62, 84, 124), (28, 28, 32), (70, 70, 76), (176, 158, 120), (220, 216, 204),
    (96, 60, 44), (40, 70, 56), (120, 30, 40),
)  # fmt: skip
GARMENT_COLORS: tuple[Color, ...] = (
    (235, 235, 232), (30, 30, 36), (200, 40, 48), (36, 72, 160), (40, 130, 90), (245, 200, 60),
    (240, 150, 170), (120, 170, 220), (110, 60, 140), (240, 120, 40), (150, 150, 150), (20, 40, 80),
    (190, 220, 180), (170, 110, 70), (250, 235, 200), (90, 180, 180),
)  # fmt: skip


def _u8(c: Any) -> Color:
    return tuple(int(v) for v in np.clip(np.round(c), 0, 255))  # type: ignore[return-value]


def _jitter(rng: np.random.Generator, c: Color, amount: float) -> Color:
    return _u8(np.asarray(c, float) + rng.normal(0, amount, 3))


def _contrast_color(rng: np.random.Generator, base: Color) -> Color:
    for _ in range(20):
        c = GARMENT_COLORS[rng.integers(len(GARMENT_COLORS))]
        if np.abs(np.asarray(c, float) - base).sum() > 180:
            return _jitter(rng, c, 8)
    return (255, 255, 255) if sum(base) < 380 else (20, 20, 24)


def _rng(seed: int, index: int, stream: int) -> np.random.Generator:
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, int(index), int(stream)])


def _arm_pose(rng: np.random.Generator, kind: str) -> ArmPose:
    if kind == "crossed":
        return ArmPose(float(rng.uniform(4, 18)), float(rng.uniform(100, 128)), kind)
    if kind == "hip":
        return ArmPose(float(rng.uniform(34, 48)), float(rng.uniform(80, 100)), kind)
    if kind == "out":
        return ArmPose(float(rng.uniform(16, 34)), float(rng.uniform(-8, 18)), kind)
    return ArmPose(float(rng.uniform(3, 14)), float(rng.uniform(0, 22)), "down")


def sample_person(seed: int, index: int, arms_crossed: float = 0.2, accessories: float = 0.3) -> PersonSpec:
    """The person of sample ``index`` (depends only on ``seed``, ``index`` and the two fractions)."""
    rng = _rng(seed, index, 1)
    tone = rng.uniform(0, len(SKIN_TONES) - 1)
    lo = int(tone)
    skin = np.asarray(SKIN_TONES[lo], float) * (1 - (tone - lo)) + np.asarray(SKIN_TONES[min(lo + 1, 7)], float) * (tone - lo)
    skin_c = _jitter(rng, _u8(skin), 4)
    hair_style = ("short", "long", "bob", "bun")[rng.choice(4, p=(0.35, 0.35, 0.18, 0.12))]
    cross = rng.random() < arms_crossed
    kinds = ["down", "out", "hip"]
    p_kind = (0.6, 0.25, 0.15)
    rk, lk = (kinds[rng.choice(3, p=p_kind)] for _ in range(2))
    if cross:
        which = rng.choice(3)  # 0: right arm crosses, 1: left, 2: both (folded arms)
        if which in (0, 2):
            rk = "crossed"
        if which in (1, 2):
            lk = "crossed"
    right, left = _arm_pose(rng, rk), _arm_pose(rng, lk)
    if right.kind == left.kind == "crossed":  # keep the two forearms at different heights
        left = ArmPose(left.shoulder, float(np.clip(right.bend + rng.choice((-1, 1)) * rng.uniform(12, 20), 92, 135)), "crossed")
    bag = bracelet = None
    if rng.random() < accessories:
        what = rng.choice(3, p=(0.5, 0.25, 0.25))  # bag, bracelet, both
        if what in (0, 2):
            bag = ("crossbody", "shoulder", "hand")[rng.choice(3, p=(0.45, 0.3, 0.25))]
        if what in (1, 2):
            bracelet = ("left", "right")[rng.integers(2)]
    bag_side = ("left", "right")[rng.integers(2)]
    if bag == "hand":  # the carrying arm hangs down
        arm = left if bag_side == "left" else right
        if arm.kind != "down":
            bag_side = "right" if bag_side == "left" else "left"
            arm = left if bag_side == "left" else right
            if arm.kind != "down":
                bag = "crossbody"
    bg_kind = ("solid", "gradient", "wall", "blobs", "vignette")[rng.choice(5, p=(0.3, 0.2, 0.2, 0.15, 0.15))]
    light = rng.random() < 0.75
    bgs = []
    for _ in range(3):
        if light:
            base = rng.uniform(200, 250)
            bgs.append(_u8(base + rng.normal(0, 10, 3)))
        else:
            bgs.append(_u8(rng.uniform(60, 230, 3)))
    return PersonSpec(
        skin=skin_c,
        hair=_jitter(rng, HAIR_COLORS[rng.integers(len(HAIR_COLORS))], 6),
        hair_style=str(hair_style),
        lips=_u8(np.asarray(skin_c, float) * np.array([0.85, 0.55, 0.55]) + np.array([30, 0, 0])),
        eyes=_u8(rng.uniform(20, 70, 3)),
        head_scale=float(rng.uniform(0.92, 1.08)),
        body_width=float(rng.uniform(0.86, 1.18)),
        shoulder_width=float(rng.uniform(0.92, 1.1)),
        waist=float(rng.uniform(0.85, 1.05)),
        hip_width=float(rng.uniform(0.9, 1.15)),
        height_scale=float(rng.uniform(0.94, 1.04)),
        x_offset=float(rng.uniform(-0.04, 0.04)),
        y_offset=float(rng.uniform(-0.015, 0.02)),
        right_arm=right,
        left_arm=left,
        front_arm=("left", "right")[rng.integers(2)],
        bottom=("pants", "shorts", "skirt")[rng.choice(3, p=(0.65, 0.15, 0.2))],
        bottom_color=_jitter(rng, BOTTOM_COLORS[rng.integers(len(BOTTOM_COLORS))], 6),
        background=str(bg_kind),
        bg_colors=(bgs[0], bgs[1], bgs[2]),
        bag=bag,
        bag_side=bag_side,
        bag_color=_jitter(rng, ((120, 70, 40), (25, 25, 28), (170, 40, 50), (200, 170, 120), (60, 90, 70))[rng.integers(5)], 8),
        bracelet=bracelet,
        bracelet_color=_jitter(rng, ((212, 175, 55), (192, 192, 200), (30, 120, 200), (200, 40, 90))[rng.integers(4)], 6),
        detail_seed=int(rng.integers(2**31)),
    )


def sample_category(seed: int, index: int, categories: tuple[str, ...] = ("upper",)) -> str:
    """The category of sample ``index``: uniform over ``categories`` from its own stream (depends only on
    ``seed``, ``index`` and ``categories``; one category draws nothing, so upper-only data is unchanged)."""
    cats = tuple(categories)
    if len(cats) == 1:
        return cats[0]
    return cats[int(_rng(seed, index, 4).integers(len(cats)))]


def sample_garment(seed: int, index: int, category: str = "upper", stream: int = 2) -> GarmentSpec:
    """The garment of sample ``index`` in ``category`` (depends only on ``seed``, ``index`` and ``category``).

    An upper garment is drawn exactly as before categories existed; a lower garment or a dress takes the
    colours and pattern of that draw and its shape from a second stream."""
    g = _sample_upper(seed, index, stream)
    if category == "upper":
        return g
    if category not in CATEGORIES:
        from tryon.errors import InputError

        raise InputError("category", f"one of {CATEGORIES}", repr(category))
    rng = _rng(seed, index, 5)
    pattern = "stripes" if g.pattern == "logo" else g.pattern  # logos are printed on tops only
    if category == "lower":
        kind = ("trousers", "shorts", "skirt")[rng.choice(3, p=(0.5, 0.2, 0.3))]
    else:
        kind = "tank" if rng.random() < 0.5 else "tshirt"
    return replace(g, category=category, kind=str(kind), pattern=pattern, neckline=g.neckline if kind != "tank" else "scoop",
                   sleeve_angle=float(rng.uniform(30, 50)) if kind == "tshirt" else g.sleeve_angle,
                   sleeve_length=float(rng.uniform(0.4, 0.65)) if kind == "tshirt" else g.sleeve_length,
                   drop=float(rng.uniform(0, 1)), flare=float(rng.uniform(0, 1)))


def person_top(p: PersonSpec) -> GarmentSpec:
    """The top a person wears under a lower-garment try-on: determined by the person alone, so the unpaired
    ground truth (the same person in another lower garment) keeps it."""
    return _sample_upper(p.detail_seed, 0, 3)


def _sample_upper(seed: int, index: int, stream: int = 2) -> GarmentSpec:
    rng = _rng(seed, index, stream)
    kind = ("tshirt", "longsleeve", "tank")[rng.choice(3, p=(0.45, 0.3, 0.25))]
    pattern = ("solid", "stripes", "checks", "dots", "logo")[rng.choice(5, p=(0.25, 0.27, 0.15, 0.15, 0.18))]
    color = _jitter(rng, GARMENT_COLORS[rng.integers(len(GARMENT_COLORS))], 8)
    color2 = _contrast_color(rng, color)
    return GarmentSpec(
        kind=str(kind),
        color=color,
        color2=color2,
        pattern=str(pattern),
        stripe_period=float(rng.uniform(0.028, 0.07)),
        stripe_duty=float(rng.uniform(0.3, 0.6)),
        stripe_angle=float(rng.choice((0.0, 0.0, 0.0, 90.0, 45.0, -45.0))),
        dot_spacing=float(rng.uniform(0.04, 0.075)),
        dot_radius=float(rng.uniform(0.15, 0.3)),
        logo_shape=("circle", "ring", "diamond", "star", "bars", "triangle")[rng.integers(6)],
        logo_color=_contrast_color(rng, color),
        logo_size=float(rng.uniform(0.045, 0.08)),
        logo_base=("solid", "stripes")[rng.choice(2, p=(0.75, 0.25))],
        neckline=("crew", "v", "scoop")[rng.choice(3, p=(0.55, 0.25, 0.2))] if kind != "tank" else "scoop",
        length=float(rng.uniform(0.0, 1.0)),
        fit=float(rng.uniform(0.92, 1.08)),
        ease=float(rng.uniform(0.004, 0.02)),
        sleeve_angle=float(rng.uniform(30, 50) if kind == "tshirt" else rng.uniform(68, 80)),
        sleeve_length=float(rng.uniform(0.4, 0.65) if kind == "tshirt" else rng.uniform(0.96, 1.0)),
        detail_seed=int(rng.integers(2**31)),
    )


# ------------------------------------------------------------------------------------------------
# small drawing helpers (pixel centres at integer coordinates)
# ------------------------------------------------------------------------------------------------
_SHIFT = 4
_ONE = 1 << _SHIFT


def _pts(p: Any) -> np.ndarray:
    return np.round(np.asarray(p, np.float64).reshape(-1, 2) * _ONE).astype(np.int32)


@lru_cache(maxsize=16)
def _grid_cached(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    xs.setflags(write=False)
    ys.setflags(write=False)
    return xs, ys


def _grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates (x, y) of an ``h×w`` frame (read-only views of a cached grid)."""
    xs, ys = _grid_cached(-(-h // 64) * 64, -(-w // 64) * 64)
    return xs[:h, :w], ys[:h, :w]


def _box(pts: Any, pad: float, H: int, W: int) -> tuple[int, int, int, int]:
    p = np.asarray(pts, np.float64).reshape(-1, 2)
    x0 = int(max(0, math.floor(p[:, 0].min() - pad)))
    y0 = int(max(0, math.floor(p[:, 1].min() - pad)))
    x1 = int(min(W, math.ceil(p[:, 0].max() + pad) + 1))
    y1 = int(min(H, math.ceil(p[:, 1].max() + pad) + 1))
    return x0, y0, max(x0, x1), max(y0, y1)


class _Canvas:
    """Float RGB image + uint8 label map + accessory mask, painted back to front."""

    def __init__(self, bg: np.ndarray):
        self.img = bg
        self.H, self.W = bg.shape[:2]
        self.lab = np.zeros((self.H, self.W), np.uint8)
        self.acc = np.zeros((self.H, self.W), np.float32)
        self.has_acc = False

    def paint(self, alpha: np.ndarray, color: Any, label: int | None, box: tuple[int, int, int, int], accessory: bool = False) -> None:
        x0, y0, x1, y1 = box
        if x1 <= x0 or y1 <= y0:
            return
        a = alpha[..., None]
        sub = self.img[y0:y1, x0:x1]
        sub *= 1 - a
        sub += a * (np.asarray(color, np.float32) if not isinstance(color, np.ndarray) else color)
        if label is not None:
            self.lab[y0:y1, x0:x1][alpha >= 0.5] = label
        if accessory:
            acc = self.acc[y0:y1, x0:x1]
            np.maximum(acc, alpha, out=acc)
            self.has_acc = True
        elif self.has_acc:
            # something drawn over an accessory hides it
            acc = self.acc[y0:y1, x0:x1]
            acc *= 1 - alpha

    def poly(self, polys: list[Any], color: Any, label: int | None, accessory: bool = False, shade: Callable | None = None) -> None:
        allp = np.concatenate([np.asarray(p, np.float64).reshape(-1, 2) for p in polys])
        box = _box(allp, 2, self.H, self.W)
        x0, y0, x1, y1 = box
        if x1 <= x0 or y1 <= y0:
            return
        buf = np.zeros((y1 - y0, x1 - x0), np.uint8)
        off = np.array([x0, y0], np.float64)
        cv2().fillPoly(buf, [_pts(np.asarray(p, np.float64).reshape(-1, 2) - off) for p in polys], 255, cv2().LINE_AA, _SHIFT)
        alpha = buf.astype(np.float32) * (1 / 255)
        col = shade(box, np.asarray(color, np.float32)) if shade else color
        self.paint(alpha, col, label, box, accessory)

    def ellipse(self, c: Any, axes: Any, angle: float, color: Any, label: int | None, accessory: bool = False,
                shade: Callable | None = None) -> None:
        r = max(axes) + 2
        box = _box([c[0] - r, c[1] - r, c[0] + r, c[1] + r], 1, self.H, self.W)
        x0, y0, x1, y1 = box
        if x1 <= x0 or y1 <= y0:
            return
        buf = np.zeros((y1 - y0, x1 - x0), np.uint8)
        center = (int(round((c[0] - x0) * _ONE)), int(round((c[1] - y0) * _ONE)))
        ax = (max(1, int(round(axes[0] * _ONE))), max(1, int(round(axes[1] * _ONE))))
        cv2().ellipse(buf, center, ax, float(angle), 0, 360, 255, -1, cv2().LINE_AA, _SHIFT)
        alpha = buf.astype(np.float32) * (1 / 255)
        col = shade(box, np.asarray(color, np.float32)) if shade else color
        self.paint(alpha, col, label, box, accessory)


_cv2 = None


def cv2():  # imported lazily: `tryon --help` must stay fast
    global _cv2
    if _cv2 is None:
        import cv2 as _m

        _m.setNumThreads(1)
        _cv2 = _m
    return _cv2


# ------------------------------------------------------------------------------------------------
# garment: flat geometry and analytic colour
# ------------------------------------------------------------------------------------------------
@dataclass
class _Flat:
    H: int
    W: int
    cx: float
    y0: float  # top of the shoulders at the neck
    ya: float  # armpit row
    y1: float  # hem row
    sw: float  # shoulder point half-width
    cw: float  # chest half-width
    hw: float  # hem half-width
    drop: float
    nw: float  # neckline half-width
    nd: float  # neckline depth (front)
    nd_back: float
    strap: float  # tank strap width
    torso_poly: np.ndarray
    U: float  # the flat lay's unit length (pattern sizes are fractions of it)
    sleeves: dict[str, np.ndarray] = field(default_factory=dict)  # side -> [R_out, R_in, C_in, C_out]
    skirt: np.ndarray | None = None  # a dress's skirt: trapezoid (y_top, y_bot, xl_top, xr_top, xl_bot, xr_bot)

    def hf(self, y: np.ndarray) -> np.ndarray:
        return np.interp(y, [self.y0, self.ya, self.y1], [self.sw, self.cw, self.hw]).astype(np.float32)


def _flat_geometry(g: GarmentSpec, H: int, W: int) -> _Flat:
    """The flat lay of ``g``: proportions close to the worn garment's (so that the flat → body map is
    roughly isotropic: logos stay round), scaled down when the sleeves would leave the canvas."""
    base = min(float(H), W / 0.75)
    for scale in (1.3, 1.22, 1.14, 1.06, 1.0, 0.94, 0.88, 0.82, 0.76, 0.7):
        fl = _flat_geometry_at(g, H, W, base * scale)
        pts = np.concatenate([fl.torso_poly] + list(fl.sleeves.values()) + ([_trap_poly(fl.skirt)] if fl.skirt is not None else []))
        if np.abs(pts[:, 0] - fl.cx).max() <= 0.48 * W - 1.5 and pts[:, 1].max() <= H - 2 and pts[:, 1].min() >= 1:
            break
    return fl


def _flat_geometry_at(g: GarmentSpec, H: int, W: int, U: float) -> _Flat:
    cx = W / 2 - 0.5
    length = (0.42 + 0.1 * g.length) * U
    y0 = H / 2 - 0.28 * U
    skirt_len = _dress_skirt_length(g) * U
    if g.category == "dress":  # centre bodice + skirt
        y0 = H / 2 - (length + skirt_len) / 2
    y1 = y0 + length
    f = g.fit
    if g.kind == "tank":
        sw, cw, hw = 0.2 * U * f, 0.18 * U * f, 0.183 * U * f
        ya = y0 + 0.2 * U
    else:
        sw, cw, hw = 0.21 * U * f, 0.19 * U * f, 0.186 * U * f
        ya = y0 + 0.18 * U
    drop = 0.04 * U
    if g.neckline == "v":
        nw, nd = 0.068 * U, 0.14 * U
    elif g.neckline == "scoop":
        nw, nd = (0.082 if g.kind == "tank" else 0.085) * U, (0.11 if g.kind == "tank" else 0.085) * U
    else:
        nw, nd = 0.07 * U, 0.052 * U
    strap = 0.04 * U
    # image-left half of the torso outline, top to bottom, then mirrored
    if g.kind == "tank":
        so = cx - nw - strap
        arm_curve = [(so - (cw - nw - strap) * t**2.2, y0 + 0.004 * U + (ya - y0 - 0.004 * U) * t**0.85) for t in np.linspace(0, 1, 8)]
        left = [(cx - nw, y0), (so, y0 + 0.004 * U)] + arm_curve[1:]
    else:
        left = [(cx - nw, y0), (cx - sw, y0 + drop)]
        # armhole: shoulder point → armpit, slightly concave
        for t in np.linspace(0.25, 1, 4):
            left.append((cx - sw + (sw - cw) * t**0.7, y0 + drop + (ya - y0 - drop) * t))
    left += [(cx - cw * 0.985, (ya + y1) / 2), (cx - hw, y1)]
    right = [(2 * cx - x, y) for x, y in reversed(left)]
    torso = np.asarray(left + right, np.float64)
    fl = _Flat(H, W, cx, y0, ya, y1, sw, cw, hw, drop, nw, nd, 0.02 * U, strap, torso, U)
    if g.category == "dress":
        hb = hw + _dress_flare(g) * U
        fl.skirt = np.array([y1 - 0.5, y1 + skirt_len, cx - hw, cx + hw, cx - hb, cx + hb], np.float64)
    if g.kind != "tank":
        ang = math.radians(g.sleeve_angle)
        for side, s in (("right", -1.0), ("left", 1.0)):  # garment's right sleeve on image left
            r_out = np.array([cx + s * sw, y0 + drop])
            r_in = np.array([cx + s * cw, ya])
            root = np.linalg.norm(r_out - r_in)
            d = np.array([s * math.cos(ang), math.sin(ang)])
            n_out = np.array([d[1] * -s, -d[0] * -s])  # perpendicular pointing to the outer/top edge
            if n_out[1] > 0:
                n_out = -n_out
            if g.kind == "tshirt":
                length = (0.09 + 0.1 * (g.sleeve_length - 0.4) / 0.25) * U
                cuff = 0.82 * root
            else:
                length = 0.43 * U * g.sleeve_length
                cuff = 0.36 * root
            mid_root = (r_out + r_in) / 2
            mid_cuff = mid_root + d * length
            c_out = mid_cuff + n_out * cuff / 2
            c_in = mid_cuff - n_out * cuff / 2
            fl.sleeves[side] = np.stack([r_out, r_in, c_in, c_out])
    return fl


def _dress_skirt_length(g: GarmentSpec) -> float:
    """A dress's skirt below the bodice hem, in units of the body height."""
    return 0.18 + 0.2 * g.drop  # mini to knee length (the frame ends near the knees)


def _dress_flare(g: GarmentSpec) -> float:
    return 0.04 + 0.1 * g.flare


# -- trapezoid pieces (lower garments, a dress's skirt): (y_top, y_bot, xl_top, xr_top, xl_bot, xr_bot); a worn piece
# maps onto its flat piece row by row (t from top to bottom) and across (u from left to right edge)
def _trap_poly(tr: np.ndarray, ext_top: float = 0.0, ext_bot: float = 0.0) -> np.ndarray:
    yt, yb, xlt, xrt, xlb, xrb = (float(v) for v in tr)
    return np.array([(xlt, yt - ext_top), (xrt, yt - ext_top), (xrb, yb + ext_bot), (xlb, yb + ext_bot)], np.float64)


def _trap_coords(tr: np.ndarray, X: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    yt, yb, xlt, xrt, xlb, xrb = (float(v) for v in tr)
    t = (Y - yt) / max(yb - yt, 1e-3)
    xl = xlt + t * (xlb - xlt)
    xr = xrt + t * (xrb - xrt)
    return t, (X - xl) / np.maximum(xr - xl, 1e-3)


def _trap_point(tr: np.ndarray, t: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    yt, yb, xlt, xrt, xlb, xrb = (float(v) for v in tr)
    xl = xlt + t * (xlb - xlt)
    xr = xrt + t * (xrb - xrt)
    return xl + u * (xr - xl), yt + t * (yb - yt)


def _pieces_layer(g: GarmentSpec, worn: list[np.ndarray], flat: list[np.ndarray], fcx: float, ftop: float, fU: float,
                  H: int, W: int, cylinder: bool) -> tuple[tuple[int, int, int, int], np.ndarray, np.ndarray]:
    """Coverage and colour of a garment made of trapezoid pieces (``worn[k]`` shows ``flat[k]``): ``(box, alpha,
    colour)``. Pieces overlap by ¾ pixel at their seams so that anti-aliasing leaves no line between them; a
    pixel takes its colour from the piece that contains it."""
    c = cv2()
    box = _box(np.concatenate([_trap_poly(w) for w in worn]), 2, H, W)
    x0, y0, x1, y1 = box
    h, w = max(y1 - y0, 0), max(x1 - x0, 0)
    alpha = np.zeros((h, w), np.float32)
    col = np.zeros((h, w, 3), np.float32)
    if h == 0 or w == 0:
        return box, alpha, col
    xs, ys = _grid(H, W)
    X, Y = xs[y0:y1, x0:x1], ys[y0:y1, x0:x1]
    got_any = np.zeros((h, w), bool)
    got_inside = np.zeros((h, w), bool)
    off = np.array([x0, y0], np.float64)
    buf = np.zeros((h, w), np.uint8)
    for k, (pw, pf) in enumerate(zip(worn, flat)):
        buf[:] = 0
        c.fillPoly(buf, [_pts(_trap_poly(pw, 0.75 if k else 0.0, 0.75) - off)], 255, c.LINE_AA, _SHIFT)
        a = buf.astype(np.float32) / 255
        cov = a > 0
        if not cov.any():
            continue
        np.maximum(alpha, a, out=alpha)
        t, u = _trap_coords(pw, X, Y)
        inside = cov & (t >= 0) & (t <= 1)
        sel = cov & ~got_inside & (inside | ~got_any)
        if not sel.any():
            continue
        Xf, Yf = _trap_point(pf, t[sel], u[sel])
        soft = max(1.0, (float(pf[1]) - float(pf[0])) / max(float(pw[1]) - float(pw[0]), 1e-3))
        fab = _pattern(g, (Xf - fcx).astype(np.float32), (Yf - ftop).astype(np.float32), fU, soft)
        if cylinder:
            fab = fab * _shade_cyl(np.clip(2 * u[sel] - 1, -1, 1), 0.72)[:, None]
        col[sel] = fab
        got_any |= cov
        got_inside |= inside
    return box, alpha, col


def _lower_pieces(g: GarmentSpec, cx: float, top: float, yh: float, U: float, ww: float, hw: float) -> list[np.ndarray]:
    """Trapezoid pieces of a lower garment from the waist row ``top`` (hips at ``yh``, half-widths ``ww`` at
    the waist and ``hw`` at the hips): trousers and shorts = waist-to-hip and hip-to-crotch bands + two legs;
    a skirt = waist-to-hip band + a flared panel."""
    crotch = yh + 0.075 * U
    if g.kind == "skirt":
        hem = yh + (0.1 + 0.2 * g.drop) * U
        hb = hw * 1.05 + (0.03 + 0.1 * g.flare) * U
        return [np.array([top, yh, cx - ww * 1.02, cx + ww * 1.02, cx - hw * 1.05, cx + hw * 1.05]),
                np.array([yh, hem, cx - hw * 1.05, cx + hw * 1.05, cx - hb, cx + hb])]  # fmt: skip
    if g.kind == "shorts":
        hem = crotch + (0.06 + 0.08 * g.drop) * U
    else:
        hem = yh + (0.42 + 0.06 * g.drop) * U
    ref = yh + 0.45 * U
    flare = 0.03 * g.flare * U

    def outer(y: float) -> float:
        return hw + (hw * 0.8 - hw) * (y - yh) / (ref - yh) + flare * max(0.0, (y - crotch) / (ref - crotch))

    f_in = (hem - crotch) / (ref - crotch)
    inner_hem = 0.004 * U + (0.03 * U - 0.004 * U) * f_in
    pieces = [np.array([top, yh, cx - ww * 1.02, cx + ww * 1.02, cx - hw, cx + hw]),
              np.array([yh, crotch, cx - hw, cx + hw, cx - outer(crotch), cx + outer(crotch)])]  # fmt: skip
    pieces.append(np.array([crotch, hem, cx - outer(crotch), cx - 0.004 * U, cx - outer(hem), cx - inner_hem]))
    pieces.append(np.array([crotch, hem, cx + 0.004 * U, cx + outer(crotch), cx + inner_hem, cx + outer(hem)]))
    return pieces


@lru_cache(maxsize=16)
def _lower_flat(g: GarmentSpec, H: int, W: int) -> tuple[tuple[np.ndarray, ...], float, float, float]:
    """The flat lay of a lower garment: its pieces on a body of mean proportions, scaled to fit the canvas →
    ``(pieces, cx, top, U)``."""
    unit = _lower_pieces(g, 0.0, 0.0, 0.09, 1.0, 0.105, 0.13)
    pts = np.concatenate([_trap_poly(p) for p in unit])
    height, half = float(pts[:, 1].max()), float(np.abs(pts[:, 0]).max())
    U = min((H - 6) / height, (0.47 * W - 2) / half, 1.3 * H)
    cx = W / 2 - 0.5
    top = (H - height * U) / 2
    return tuple(_lower_pieces(g, cx, top, top + 0.09 * U, U, 0.105 * U, 0.13 * U)), cx, top, U


def _render_lower_flat(g: GarmentSpec, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    H, W = size
    pieces, cx, top, U = _lower_flat(g, H, W)
    box, alpha, col = _pieces_layer(g, list(pieces), list(pieces), cx, top, U, H, W, cylinder=False)
    x0, y0, x1, y1 = box
    c = cv2()
    hard = (alpha > 0.5).astype(np.uint8)
    edge = (hard - c.erode(hard, np.ones((3, 3), np.uint8))).astype(np.float32)
    ys = _grid(H, W)[1][y0:y1, x0:x1]
    shade = (1 - 0.18 * edge) * (1.03 - 0.06 * (ys / H))
    a = alpha[..., None]
    img = col * shade[..., None] * a + 255 * (1 - a)
    out = np.full((H, W, 3), 255, np.uint8)
    out[y0:y1, x0:x1] = np.clip(img, 0, 255).round().astype(np.uint8)
    mask = np.zeros((H, W), np.uint8)
    mask[y0:y1, x0:x1] = hard * 255
    return out, mask


def _aa_edge(d: np.ndarray, soft: float) -> np.ndarray:
    """Coverage of a shape from a signed distance (positive inside), edge width ``soft`` pixels."""
    return np.clip(d / soft + 0.5, 0.0, 1.0)


def _stripes(w: np.ndarray, period: float, duty: float, soft: float) -> np.ndarray:
    f = np.mod(w / period, 1.0) - duty / 2
    dc = np.minimum(np.abs(f), 1 - np.abs(f)) * period
    return _aa_edge(duty * period / 2 - dc, soft)


def _pattern(g: GarmentSpec, fu: np.ndarray, fv: np.ndarray, U: float, soft: float, pattern: str | None = None) -> np.ndarray:
    """Fabric colour at fabric coordinates ``(fu, fv)`` (pixels of the flat image; ``soft`` = AA width)."""
    pattern = pattern or g.pattern
    base = np.asarray(g.color, np.float32)
    c2 = np.asarray(g.color2, np.float32)
    if pattern == "stripes" or (pattern == "logo" and g.logo_base == "stripes"):
        th = math.radians(g.stripe_angle)
        w = fv * math.cos(th) + fu * math.sin(th)
        a = _stripes(w, g.stripe_period * U, g.stripe_duty, soft)[..., None]
        if pattern == "logo":  # a quieter stripe under a logo
            c2 = base * 0.55 + c2 * 0.45
        return base * (1 - a) + c2 * a
    if pattern == "checks":
        p = g.stripe_period * U * 1.3
        a1 = _stripes(fu, p, 0.5, soft)[..., None]
        a2 = _stripes(fv, p, 0.5, soft)[..., None]
        mid = base * 0.5 + c2 * 0.5
        return base * (1 - a1) * (1 - a2) + mid * (a1 + a2 - 2 * a1 * a2) + c2 * (a1 * a2)
    if pattern == "dots":
        s = g.dot_spacing * U
        row = np.floor(fv / s)
        x = fu + (np.mod(row, 2) * 0.5) * s
        dx = np.mod(x, s) - s / 2
        dy = np.mod(fv, s) - s / 2
        a = _aa_edge(g.dot_radius * s - np.sqrt(dx * dx + dy * dy), soft)[..., None]
        return base * (1 - a) + c2 * a
    return np.broadcast_to(base, fu.shape + (3,)).copy()


def _logo_alpha(g: GarmentSpec, x: np.ndarray, y: np.ndarray, U: float, soft: float) -> np.ndarray:
    """Coverage of the printed logo; ``x, y`` relative to the logo centre, in pixels; ``soft`` in pixels."""
    s = g.logo_size * U
    u, v = x / s, y / s
    e = soft / s
    shape = g.logo_shape
    if shape == "circle":
        d = 1 - np.sqrt(u * u + v * v)
    elif shape == "ring":
        r = np.sqrt(u * u + v * v)
        d = np.minimum(1 - r, r - 0.62)
    elif shape == "diamond":
        d = (1 - np.abs(u) - np.abs(v)) * 0.7
    elif shape == "star":
        r = np.sqrt(u * u + v * v)
        th = np.arctan2(u, -v)
        rs = 0.5 + 0.5 * np.abs(np.cos(2.5 * th)) ** 2.2
        d = (rs - r) * 0.6
    elif shape == "bars":
        d = np.minimum(0.95 - np.abs(u), 0.16 - np.abs(np.mod(v + 0.95, 0.62) - 0.31) * 1.0)
        d = np.minimum(d, 0.95 - np.abs(v))
    else:  # triangle, apex up
        d = np.minimum(0.85 - v, (v + 0.95) * 0.45 - np.abs(u) * 0.9)
    return np.clip(d / e + 0.5, 0, 1)


def _garment_color(g: GarmentSpec, fl: _Flat, part: str, X: np.ndarray, Y: np.ndarray, soft: float) -> np.ndarray:
    """Colour of the garment at flat-image coordinates ``(X, Y)`` of ``part`` ("torso" or a sleeve side)."""
    U = fl.U
    if part in ("torso", "skirt"):
        fu, fv = X - fl.cx, Y - fl.y0
    else:
        r_out, r_in, c_in, c_out = fl.sleeves[part]
        mid = (r_out + r_in) / 2
        d = (c_in + c_out) / 2 - mid
        d = d / np.linalg.norm(d)
        n = np.array([-d[1], d[0]])
        # fabric coordinates in the sleeve frame (stripes run around the sleeve), offset to continue the torso
        fu = (X - mid[0]) * n[0] + (Y - mid[1]) * n[1]
        fv = (X - mid[0]) * d[0] + (Y - mid[1]) * d[1] + (mid[1] - fl.y0)
    col = _pattern(g, fu.astype(np.float32), fv.astype(np.float32), U, soft)
    shade = np.ones(X.shape, np.float32)
    if part == "torso":
        if g.pattern == "logo":
            lx, ly = X - fl.cx, Y - (fl.y0 + max(fl.nd, 0.06 * U) + 0.11 * U)
            a = _logo_alpha(g, lx, ly, U, soft)[..., None]
            col = col * (1 - a) + np.asarray(g.logo_color, np.float32) * a
        # neckline rib: a band just outside the front neckline curve
        if g.neckline == "v":
            q = np.abs(X - fl.cx) / fl.nw + (Y - fl.y0) / fl.nd
        else:
            q = np.sqrt(((X - fl.cx) / fl.nw) ** 2 + ((Y - fl.y0) / fl.nd) ** 2)
        band = 0.012 * U / max(fl.nd, fl.nw) * 1.6
        rib = ((q >= 1) & (q < 1 + band)).astype(np.float32)
        shade *= 1 - 0.12 * rib
        shade *= 1 - 0.08 * _aa_edge(Y - (fl.y1 - 0.016 * U), soft)  # hem band
    return col * shade[..., None]


def _flat_box(fl: _Flat) -> tuple[int, int, int, int]:
    pts = [fl.torso_poly] + list(fl.sleeves.values()) + ([_trap_poly(fl.skirt)] if fl.skirt is not None else [])
    return _box(np.concatenate(pts), 2, fl.H, fl.W)


@lru_cache(maxsize=16)
def _flat(g: GarmentSpec, H: int, W: int) -> tuple[_Flat, dict[str, np.ndarray]]:
    """Flat geometry and float coverage masks of the parts (torso, inside = back of the neckline,
    sleeves), full-frame. Cached: a garment is drawn flat and worn (maybe twice) per sample."""
    fl = _flat_geometry(g, H, W)
    x0, y0, x1, y1 = _flat_box(fl)
    c = cv2()
    off = np.array([x0, y0], np.float64)
    h, w = y1 - y0, x1 - x0
    buf = np.zeros((h, w), np.uint8)
    c.fillPoly(buf, [_pts(fl.torso_poly - off)], 255, c.LINE_AA, _SHIFT)
    torso = buf.astype(np.float32) / 255
    xs, ys = _grid(H, W)
    X, Y = xs[y0:y1, x0:x1], ys[y0:y1, x0:x1]
    if g.neckline == "v":
        q = np.abs(X - fl.cx) / fl.nw + (Y - fl.y0) / fl.nd
        cut = _aa_edge((1 - q) * min(fl.nw, fl.nd), 1.0) * (Y >= fl.y0 - 2)
    else:
        q = np.sqrt(((X - fl.cx) / fl.nw) ** 2 + ((Y - fl.y0) / fl.nd) ** 2)
        cut = _aa_edge((1 - q) * min(fl.nw, fl.nd), 1.0)
    qb = np.sqrt(((X - fl.cx) / fl.nw) ** 2 + ((Y - fl.y0 + 0.004 * fl.U) / fl.nd_back) ** 2)
    back_cut = _aa_edge((1 - qb) * fl.nd_back, 1.0)
    parts = {"inside": np.clip(cut - back_cut, 0, 1) * (Y > fl.y0 - 0.01 * fl.U) * (torso > 0), "torso": torso * (1 - cut)}
    for side, quad in fl.sleeves.items():
        buf[:] = 0
        c.fillPoly(buf, [_pts(quad - off)], 255, c.LINE_AA, _SHIFT)
        parts[side] = buf.astype(np.float32) / 255 * (1 - parts["torso"])
    if fl.skirt is not None:
        buf[:] = 0
        c.fillPoly(buf, [_pts(_trap_poly(fl.skirt) - off)], 255, c.LINE_AA, _SHIFT)
        parts["skirt"] = buf.astype(np.float32) / 255 * (1 - parts["torso"]) * (1 - parts["inside"])
    out = {}
    for k, v in parts.items():
        full = np.zeros((H, W), np.float32)
        full[y0:y1, x0:x1] = v
        full.setflags(write=False)
        out[k] = full
    return fl, out


def render_garment(g: GarmentSpec, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """The in-shop image (garment laid flat on white, ``H×W×3`` uint8) and its mask (``H×W`` uint8 0/255)."""
    if g.category == "lower":
        return _render_lower_flat(g, size)
    H, W = size
    fl, masks = _flat(g, H, W)
    x0, y0, x1, y1 = _flat_box(fl)
    xs, ys = _grid(H, W)
    X, Y = xs[y0:y1, x0:x1], ys[y0:y1, x0:x1]
    img = np.full((y1 - y0, x1 - x0, 3), 255.0, np.float32)
    alpha_all = np.zeros((y1 - y0, x1 - x0), np.float32)
    for part in ["torso"] + list(fl.sleeves) + (["skirt"] if fl.skirt is not None else []):
        poly = fl.torso_poly if part == "torso" else _trap_poly(fl.skirt) if part == "skirt" else fl.sleeves[part]
        bx0, by0, bx1, by1 = _box(poly, 2, H, W)
        sl = (slice(by0 - y0, by1 - y0), slice(bx0 - x0, bx1 - x0))
        m = masks[part][by0:by1, bx0:bx1]
        Xp, Yp = X[sl], Y[sl]
        col = _garment_color(g, fl, part, Xp, Yp, 1.0)
        if part not in ("torso", "skirt"):
            r_out, r_in, c_in, c_out = fl.sleeves[part]
            mid_r, mid_c = (r_out + r_in) / 2, (c_in + c_out) / 2
            d = mid_c - mid_r
            ln = float(np.linalg.norm(d))
            t = ((Xp - mid_r[0]) * d[0] + (Yp - mid_r[1]) * d[1]) / (ln * ln)
            col *= (1 - 0.1 * (t > 1 - 0.016 * fl.U / ln))[..., None]  # cuff band
            col *= (1 - 0.1 * np.clip(1 - t * ln / (0.01 * fl.U), 0, 1))[..., None]  # armhole seam
        a = m[..., None]
        img[sl] = img[sl] * (1 - a) + col * a
        np.maximum(alpha_all[sl], m, out=alpha_all[sl])
    inside = masks["inside"][y0:y1, x0:x1]
    img = img * (1 - inside[..., None]) + np.asarray(g.color, np.float32) * 0.72 * inside[..., None]
    np.maximum(alpha_all, inside, out=alpha_all)
    # a soft outline and a faint flat-lay light gradient; white background, anti-aliased edges
    c = cv2()
    hard = (alpha_all > 0.5).astype(np.uint8)
    edge = (hard - c.erode(hard, np.ones((3, 3), np.uint8))).astype(np.float32)
    shade = (1 - 0.18 * edge) * (1.03 - 0.06 * (Y / H))
    a = alpha_all[..., None]
    img = img * shade[..., None] * a + 255 * (1 - a)
    out = np.full((H, W, 3), 255, np.uint8)
    out[y0:y1, x0:x1] = np.clip(img, 0, 255).round().astype(np.uint8)
    mask = np.zeros((H, W), np.uint8)
    mask[y0:y1, x0:x1] = (alpha_all >= 0.5).astype(np.uint8) * 255
    return out, mask


# ------------------------------------------------------------------------------------------------
# person: rig and rendering
# ------------------------------------------------------------------------------------------------
@dataclass
class _Arm:
    side: float  # -1 image left (person's right), +1 image right
    S: np.ndarray
    E: np.ndarray
    Wr: np.ndarray
    tip: np.ndarray
    d1: np.ndarray
    d2: np.ndarray
    r: tuple[float, float, float]  # shoulder, elbow, wrist radii
    L1: float
    L2: float
    hand: float
    pose: ArmPose


@dataclass
class _Rig:
    U: float
    cx: float
    hx: float
    hy: float
    hrx: float
    hry: float
    ys: float  # shoulder line (neck base)
    nw: float
    sh: float
    ya: float
    yw: float
    yh: float
    cw: float
    ww: float
    hw: float
    arms: dict[str, _Arm]

    def half_width(self, y: np.ndarray) -> np.ndarray:
        return np.interp(y, [self.ys + 0.035 * self.U, self.ya, self.yw, self.yh, self.yh + 0.2 * self.U],
                         [self.sh, self.cw, self.ww, self.hw, self.hw]).astype(np.float32)  # fmt: skip


def _rig(p: PersonSpec, H: int, W: int) -> _Rig:
    U = H * p.height_scale
    cx = W / 2 - 0.5 + p.x_offset * W
    top = (0.035 + p.y_offset) * H
    hrx, hry = 0.06 * U * p.head_scale, 0.078 * U * p.head_scale
    hy = top + hry + 0.02 * U
    ys = hy + hry + 0.05 * U
    bw = p.body_width
    sh = 0.15 * U * p.shoulder_width * (0.6 + 0.4 * bw)
    ya, yw, yh = ys + 0.11 * U, ys + 0.25 * U, ys + 0.39 * U
    cw = 0.125 * U * bw
    ww = 0.11 * U * bw * p.waist
    hw = 0.13 * U * p.hip_width * (0.5 + 0.5 * bw)
    arms = {}
    rs = 0.037 * U * math.sqrt(bw)
    for name, side, pose in (("right", -1.0, p.right_arm), ("left", 1.0, p.left_arm)):
        S = np.array([cx + side * sh, ys + 0.035 * U])
        L1, L2, hand = 0.2 * U, 0.17 * U, 0.075 * U
        a1 = math.radians(pose.shoulder)
        d1 = np.array([side * math.sin(a1), math.cos(a1)])
        E = S + L1 * d1
        a2 = a1 - math.radians(pose.bend)
        d2 = np.array([side * math.sin(a2), math.cos(a2)])
        Wr = E + L2 * d2
        tip = Wr + hand * d2
        arms[name] = _Arm(side, S, E, Wr, tip, d1, d2, (rs, rs * 0.8, rs * 0.6), L1, L2, hand, pose)
    return _Rig(U, cx, cx, hy, hrx, hry, ys, 0.034 * U * math.sqrt(bw), sh, ya, yw, yh, cw, ww, hw, arms)


def _keypoints(p: PersonSpec, rig: _Rig, H: int, W: int) -> np.ndarray:
    """OpenPose BODY_25 keypoints in pixels (25×3)."""
    rng = np.random.default_rng([p.detail_seed, 7])
    kp = np.zeros((NUM_KEYPOINTS, 3), np.float32)
    U = rig.U

    def put(i: int, x: float, y: float) -> None:
        if 0 <= x < W and 0 <= y < H:
            kp[i] = (x, y, float(rng.uniform(0.62, 0.95)))

    r, lft = rig.arms["right"], rig.arms["left"]
    put(0, rig.hx, rig.hy + 0.012 * U)
    put(1, rig.cx, rig.ys + 0.03 * U)
    put(2, *r.S)
    put(3, *r.E)
    put(4, *r.Wr)
    put(5, *lft.S)
    put(6, *lft.E)
    put(7, *lft.Wr)
    put(8, rig.cx, rig.yh)
    put(9, rig.cx - rig.hw * 0.62, rig.yh)
    put(12, rig.cx + rig.hw * 0.62, rig.yh)
    knee = rig.yh + 0.25 * U
    put(10, rig.cx - rig.hw * 0.5, knee)
    put(13, rig.cx + rig.hw * 0.5, knee)
    ankle = rig.yh + 0.5 * U
    put(11, rig.cx - rig.hw * 0.45, ankle)
    put(14, rig.cx + rig.hw * 0.45, ankle)
    put(15, rig.hx - 0.024 * U, rig.hy - 0.008 * U)
    put(16, rig.hx + 0.024 * U, rig.hy - 0.008 * U)
    put(17, rig.hx - rig.hrx * 0.95, rig.hy + 0.002 * U)
    put(18, rig.hx + rig.hrx * 0.95, rig.hy + 0.002 * U)
    return kp


def background(p: PersonSpec, H: int, W: int) -> np.ndarray:
    xs, ys = _grid(H, W)
    c0, c1, c2 = (np.asarray(c, np.float32) for c in p.bg_colors)
    kind = p.background
    if kind == "solid":
        return np.broadcast_to(c0, (H, W, 3)).copy()
    if kind == "gradient":
        t = (ys / H)[..., None]
        return c0 * (1 - t) + c1 * t
    if kind == "wall":
        rng = np.random.default_rng([p.detail_seed, 3])
        yf = H * rng.uniform(0.72, 0.9)
        t = np.clip((ys - yf) / 2 + 0.5, 0, 1)[..., None]
        return c0 * (1 - t) + (c1 * 0.85) * t
    if kind == "vignette":
        r = np.sqrt(((xs - W / 2) / W) ** 2 + ((ys - H * 0.45) / H) ** 2)[..., None]
        return c0 * (1 - 0.35 * np.clip(r, 0, 1)) + c1 * 0.35 * np.clip(r, 0, 1)
    # blobs: a few large soft shapes, drawn small then upscaled
    rng = np.random.default_rng([p.detail_seed, 3])
    h, w = max(4, H // 8), max(3, W // 8)
    small = np.broadcast_to(c0, (h, w, 3)).copy()
    c = cv2()
    for k in range(4):
        col = (c1, c2)[k % 2]
        center = (int(rng.uniform(0, w)), int(rng.uniform(0, h)))
        axes = (int(rng.uniform(0.2, 0.6) * w) + 1, int(rng.uniform(0.15, 0.4) * h) + 1)
        c.ellipse(small, center, axes, float(rng.uniform(0, 180)), 0, 360, tuple(float(v) for v in col), -1)
    small = c.GaussianBlur(small, (0, 0), max(1.0, w / 10))
    return c.resize(small, (W, H), interpolation=c.INTER_LINEAR)


def _arm_field(arm: _Arm, box: tuple[int, int, int, int], full: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For pixels of ``box``: arclength along shoulder→elbow→wrist(→tip), distance to that polyline and
    the signed side (+1 = outer side of the arm when it hangs down)."""
    x0, y0, x1, y1 = box
    xs, ys = _grid(y1, x1)
    X, Y = xs[y0:y1, x0:x1], ys[y0:y1, x0:x1]
    pts = [arm.S, arm.E, arm.Wr] + ([arm.tip] if full else [])
    best_d = None
    best_l = best_s = None
    cum = 0.0
    for P0, P1 in zip(pts[:-1], pts[1:]):
        v = P1 - P0
        ln = float(np.hypot(*v))
        if ln < 1e-6:
            continue
        px, py = X - P0[0], Y - P0[1]
        t = np.clip((px * v[0] + py * v[1]) / (ln * ln), 0.0, 1.0)
        dx, dy = px - t * v[0], py - t * v[1]
        d = np.sqrt(dx * dx + dy * dy)
        cross = v[0] * py - v[1] * px
        sgn = np.where(cross >= 0, 1.0, -1.0).astype(np.float32) * (-arm.side)
        lpos = cum + t * ln
        if best_d is None:
            best_d, best_l, best_s = d, lpos, sgn
        else:
            m = d < best_d
            best_d = np.where(m, d, best_d)
            best_l = np.where(m, lpos, best_l)
            best_s = np.where(m, sgn, best_s)
        cum += ln
    return best_l.astype(np.float32), best_d.astype(np.float32), best_s.astype(np.float32)


def _arm_radius(arm: _Arm, l: np.ndarray) -> np.ndarray:
    rs, re, rw = arm.r
    return np.interp(l, [0, arm.L1, arm.L1 + arm.L2], [rs, re, rw]).astype(np.float32)


def _sleeve_length(arm: _Arm, g: GarmentSpec) -> float:
    if g.kind == "tank":
        return 0.0
    if g.kind == "tshirt":
        return arm.L1 * g.sleeve_length
    return (arm.L1 + arm.L2) * g.sleeve_length + 0.004 * arm.L1


def _shade_cyl(b: np.ndarray, lo: float = 0.74) -> np.ndarray:
    return (lo + (1 - lo) * np.sqrt(np.clip(1 - b * b, 0, 1))).astype(np.float32)


@dataclass
class Render:
    """A rendered person: image, canonical parse labels, BODY_25 keypoints (pixels), accessory mask."""

    image: np.ndarray  # H×W×3 uint8
    parse: np.ndarray  # H×W uint8 canonical labels
    keypoints: np.ndarray  # 25×3 float32 pixels
    accessory: np.ndarray  # H×W uint8 0/255


def render_person(p: PersonSpec, g: GarmentSpec, size: tuple[int, int]) -> Render:
    """Render person ``p`` wearing garment ``g`` at ``size = (H, W)``.

    An upper garment is worn with the person's own bottom (``p.bottom``); a lower garment with the person's
    own top (:func:`person_top`); a dress alone (bare legs below it)."""
    H, W = size
    cat = g.category
    top = person_top(p) if cat == "lower" else g  # what the torso and the arms wear
    top_label = L.DRESS if cat == "dress" else L.UPPER_CLOTHES
    rig = _rig(p, H, W)
    U = rig.U
    cv = _Canvas(background(p, H, W).astype(np.float32))
    skin = np.asarray(p.skin, np.float32)
    skin_dark = skin * 0.86
    cx = rig.cx
    arms = rig.arms

    def skin_label(side: float) -> int:
        return L.RIGHT_ARM if side < 0 else L.LEFT_ARM

    # -- hair behind the body
    if p.hair_style in ("long", "bob"):
        bottom = rig.ys + (0.12 if p.hair_style == "long" else 0.0) * U
        wid = rig.hrx * (1.28 if p.hair_style == "long" else 1.18)
        chin = rig.hy + rig.hry
        poly = [(rig.hx - wid, rig.hy - 0.01 * U), (rig.hx + wid, rig.hy - 0.01 * U), (rig.hx + wid * 1.04, chin)]
        poly += [(rig.hx + wid * 0.95 * math.cos(a), bottom - 0.04 * U + 0.04 * U * math.sin(a)) for a in np.linspace(0, math.pi, 9)]
        poly += [(rig.hx - wid * 1.04, chin)]
        cv.poly([poly], np.asarray(p.hair, np.float32) * 0.85, L.HAIR)

    # -- lower body
    bc = np.asarray(p.bottom_color, np.float32)
    yh, hw = rig.yh, rig.hw
    waist_y = rig.yw + 0.05 * U
    crotch = yh + 0.075 * U
    bottom_y = H + 2.0
    legs_skin = p.bottom != "pants" if cat == "upper" else True
    for side, lab_leg in ((-1.0, L.RIGHT_LEG), (1.0, L.LEFT_LEG)):
        outer_top = cx + side * rig.ww * 1.02
        outer_hip = cx + side * hw
        outer_bot = cx + side * hw * 0.8
        inner_bot = cx + side * 0.03 * U
        leg = [(cx, waist_y), (outer_top, waist_y), (outer_hip, yh), (outer_bot, bottom_y), (inner_bot, bottom_y),
               (cx + side * 0.004 * U, crotch), (cx, crotch)]  # fmt: skip
        if legs_skin:
            cv.poly([leg], skin_dark if side < 0 else skin * 0.92, lab_leg)
        if cat != "upper":
            continue
        if p.bottom == "pants":
            cv.poly([leg], bc * (0.92 if side < 0 else 1.0), L.PANTS)
        elif p.bottom == "shorts":
            cut = crotch + 0.09 * U
            f = (cut - yh) / (bottom_y - yh)
            sh_leg = [(cx, waist_y), (outer_top, waist_y), (outer_hip, yh),
                      (outer_hip + (outer_bot - outer_hip) * f, cut), (cx + side * 0.01 * U, cut), (cx, crotch)]  # fmt: skip
            cv.poly([sh_leg], bc * (0.92 if side < 0 else 1.0), L.PANTS)
    if cat == "lower":
        pieces, fcx, ftop, fU = _lower_flat(g, H, W)
        worn = _lower_pieces(g, cx, waist_y, yh, U, rig.ww, hw)
        box, alpha, col = _pieces_layer(g, worn, list(pieces), fcx, ftop, fU, H, W, cylinder=True)
        cv.paint(alpha, col, g.label, box)
    if cat == "upper" and p.bottom == "skirt":
        hem = yh + 0.2 * U
        skirt = [(cx - rig.ww * 1.02, waist_y), (cx + rig.ww * 1.02, waist_y), (cx + hw * 1.35, hem), (cx - hw * 1.35, hem)]
        cv.poly([skirt], bc, L.SKIRT)

    # -- skin of the upper body (shows at neck openings and tank tops), neck
    torso_skin = [(cx - rig.nw, rig.ys - 0.01 * U), (cx + rig.nw, rig.ys - 0.01 * U), (cx + rig.sh, rig.ys + 0.02 * U),
                  (cx + rig.cw, rig.ya + 0.02 * U), (cx + rig.ww, rig.yw), (cx - rig.ww, rig.yw), (cx - rig.cw, rig.ya + 0.02 * U),
                  (cx - rig.sh, rig.ys + 0.02 * U)]  # fmt: skip
    cv.poly([torso_skin], skin * 0.95, L.NECK)
    # shoulders beyond the neck region read as arms for a parser
    for side in (-1.0, 1.0):
        xin = cx + side * rig.cw * 0.62
        sh_poly = [(xin, rig.ys - 0.005 * U), (cx + side * rig.sh, rig.ys + 0.02 * U),
                   (cx + side * rig.cw, rig.ya + 0.02 * U), (xin, rig.ya + 0.02 * U)]
        cv.poly([sh_poly], skin * 0.93, skin_label(side))
    neck = [(cx - rig.nw, rig.hy), (cx + rig.nw, rig.hy), (cx + rig.nw * 1.08, rig.ys + 0.02 * U), (cx - rig.nw * 1.08, rig.ys + 0.02 * U)]
    cv.poly([neck], skin * 0.9, L.NECK)

    # -- torso garment
    fl, masks = _flat(top, H, W)
    if cat == "dress":  # the skirt first: the bodice's hem band then reads as the waist seam
        yp1, hw1 = _bodice_hem(g, rig)
        sk = fl.skirt
        grow = (float(sk[5]) - float(sk[3])) / fl.U * U
        worn = [np.array([yp1 - 1.0, yp1 + _dress_skirt_length(g) * U, cx - hw1, cx + hw1, cx - hw1 - grow, cx + hw1 + grow])]
        box, alpha, col = _pieces_layer(g, worn, [sk], fl.cx, fl.y0, fl.U, H, W, cylinder=True)
        cv.paint(alpha, col, L.DRESS, box)
    _draw_torso_garment(cv, p, top, rig, fl, masks, top_label)

    # -- accessories behind the arms: strap and bag
    if p.bag in ("crossbody", "shoulder"):
        _draw_bag(cv, p, rig)

    # -- arms (back-to-front), sleeves, hands, bracelets
    order = ["right", "left"]
    crossed = [n for n in order if arms[n].pose.kind == "crossed"]
    if len(crossed) == 2:
        order = [n for n in order if n != p.front_arm] + [p.front_arm]
    elif len(crossed) == 1:
        order = [n for n in order if n != crossed[0]] + crossed
    for name in order:
        _draw_arm(cv, p, top, rig, fl, arms[name], skin, top_label)
    if p.bag == "hand":
        _draw_bag(cv, p, rig)

    # -- head
    _draw_head(cv, p, rig, skin)

    img = np.clip(cv.img, 0, 255).round().astype(np.uint8)
    acc = (cv.acc >= 0.5).astype(np.uint8) * 255
    return Render(img, cv.lab, _keypoints(p, rig, H, W), acc)


def _bodice_hem(g: GarmentSpec, rig: _Rig) -> tuple[float, float]:
    """Row of a top's hem on the body and its half-width there."""
    U = rig.U
    # the hem lands between waist and hip according to the flat garment length
    yp1 = max(rig.ys + (0.35 + 0.08 * g.length) * U, rig.ya + 0.1 * U)
    return yp1, float(rig.half_width(np.array([yp1]))[0]) + g.ease * U * 1.8


def _draw_torso_garment(cv: _Canvas, p: PersonSpec, g: GarmentSpec, rig: _Rig, fl: _Flat, masks: dict[str, np.ndarray],
                        label: int = L.UPPER_CLOTHES) -> None:  # fmt: skip
    U = rig.U
    H, W = cv.H, cv.W
    c = cv2()
    yp0 = rig.ys - 0.012 * U
    ypa = rig.ya
    yp1 = _bodice_hem(g, rig)[0]
    hp_top = rig.sh - 0.25 * rig.arms["left"].r[0]
    ease = g.ease * U
    knots_y = [yp0, yp0 + 0.04 * U, ypa, rig.yw, max(yp1, rig.yw + 1), max(yp1, rig.yw + 1) + 0.1 * U]
    knots_w = [hp_top, rig.sh + ease * 0.3, rig.cw + ease, rig.ww + ease * 1.6, float(rig.half_width(np.array([yp1]))[0]) + ease * 1.8,
               float(rig.half_width(np.array([yp1]))[0]) + ease * 1.8]  # fmt: skip
    hmax = max(knots_w) * 1.08 + 2
    box = _box([(rig.cx - hmax, yp0 - 0.03 * U), (rig.cx + hmax, yp1 + 0.03 * U)], 1, H, W)
    x0, y0, x1, y1 = box
    if x1 <= x0 or y1 <= y0:
        return
    xs, ys = _grid(H, W)
    X, Y = xs[y0:y1, x0:x1], ys[y0:y1, x0:x1]
    hp = np.interp(Y[:, 0], knots_y, knots_w).astype(np.float32)[:, None]
    u = (X - rig.cx) / hp
    t = (Y - yp0) / (yp1 - yp0)
    rng = np.random.default_rng([g.detail_seed, p.detail_seed, 11])
    # cylinder: the fabric wraps around the body, compressing the pattern towards the sides
    k = 0.8
    ua = np.abs(u)
    uc = np.where(ua <= 1, np.arcsin(np.clip(ua * k, 0, 1)) / math.asin(k), 1 + (ua - 1) * (k / math.sqrt(1 - k * k)) / math.asin(k))
    uc = np.sign(u) * uc
    # chest sag (stripes arc over the chest) and drape at the hem, plus low-frequency folds
    s_top = rng.uniform(0.025, 0.05)
    s_bot = rng.uniform(-0.03, 0.01)
    sag = (s_top * (1 - t) + s_bot * t) * (1 - np.clip(uc * uc, 0, 1))
    f1, ph1, a1 = rng.uniform(1.0, 2.2), rng.uniform(0, 2 * math.pi), rng.uniform(0.006, 0.02)
    f2, ph2, a2 = rng.uniform(0.8, 1.8), rng.uniform(0, 2 * math.pi), rng.uniform(0.004, 0.012)
    fold_u = a1 * np.sin(2 * math.pi * f1 * t + ph1) * np.clip(t, 0, 1)
    fold_t = a2 * np.sin(math.pi * f2 * uc + ph2)
    uf = uc + fold_u
    tf = t + sag + fold_t * np.clip(t, 0, 1)
    # rows: piecewise-linear, armpit to armpit
    ta_p = (ypa - yp0) / (yp1 - yp0)
    Yf = np.where(tf < ta_p, fl.y0 + tf / ta_p * (fl.ya - fl.y0), fl.ya + (tf - ta_p) / (1 - ta_p) * (fl.y1 - fl.ya))
    Xf = fl.cx + uf * fl.hf(Yf)
    mx, my = Xf.astype(np.float32), Yf.astype(np.float32)
    alpha = c.remap(masks["torso"], mx, my, c.INTER_LINEAR, borderMode=c.BORDER_CONSTANT, borderValue=0)
    # flat pixels per person pixel (for anti-aliasing of the analytic pattern)
    scale = float(np.median(fl.hf(Yf[:, :1]) / hp)) if hp.size else 1.0
    col = _garment_color(g, fl, "torso", Xf, Yf, max(1.0, scale))
    shade = _shade_cyl(np.clip(u, -1, 1), 0.7) * (1 - 0.05 * np.sin(2 * math.pi * f1 * t + ph1) * np.clip(t, 0, 1))
    col = col * shade[..., None]
    cv.paint(alpha, col, label, box)


def _draw_arm(cv: _Canvas, p: PersonSpec, g: GarmentSpec, rig: _Rig, fl: _Flat, arm: _Arm, skin: np.ndarray,
              label: int = L.UPPER_CLOTHES) -> None:  # fmt: skip
    U = rig.U
    H, W = cv.H, cv.W
    lab = L.RIGHT_ARM if arm.side < 0 else L.LEFT_ARM
    r_sleeve = arm.r[0] * 1.16
    pts = [arm.S, arm.E, arm.Wr, arm.tip]
    box = _box(pts, r_sleeve + 3, H, W)
    x0, y0, x1, y1 = box
    if x1 <= x0 or y1 <= y0:
        return
    l, d, s = _arm_field(arm, box, full=False)
    r = _arm_radius(arm, l)
    # the top of the arm continues the shoulder line (no bump above the shoulder)
    xs, ys = _grid(y1, x1)
    X, Y = xs[y0:y1, x0:x1], ys[y0:y1, x0:x1]
    ax = np.abs(X - rig.cx)
    line = rig.ys - 0.012 * U + (ax - rig.nw) / max(rig.sh - rig.nw, 1.0) * 0.026 * U
    knee = rig.sh - 0.6 * arm.r[0]  # round the deltoid
    line = line + np.where(ax > knee, ((ax - knee) / arm.r[0]) ** 2 * 0.7 * arm.r[0], 0.0)
    behind = (X - arm.S[0]) * arm.d1[0] + (Y - arm.S[1]) * arm.d1[1] < 0  # the round cap above the joint

    def cap_clip(radius: float) -> np.ndarray:
        # never lower than the arm's own outline where the cap starts (raised arms keep a smooth top)
        edge0 = arm.S[1] - radius * abs(arm.d1[0])
        return np.where(behind, _aa_edge(Y - np.minimum(line, edge0), 1.0), 1.0).astype(np.float32)

    clip = cap_clip(arm.r[0])
    a_skin = _aa_edge(r - d, 1.0) * clip
    b = np.clip(d / np.maximum(r, 1e-3), 0, 1) * s
    shade = _shade_cyl(b, 0.72)[..., None]
    cv.paint(a_skin, skin * shade, lab, box)
    # hand: a rounded paddle along the forearm direction
    hc = arm.Wr + arm.d2 * arm.hand * 0.5
    ang = math.degrees(math.atan2(arm.d2[1], arm.d2[0]))
    cv.ellipse(hc, (arm.hand * 0.58, arm.r[2] * 1.25), ang, skin * 0.95, lab)
    thumb = arm.Wr + arm.d2 * arm.hand * 0.3 - np.array([arm.d2[1], -arm.d2[0]]) * arm.r[2] * 1.1 * (-arm.side)
    cv.ellipse(thumb, (arm.hand * 0.28, arm.r[2] * 0.5), ang + 25 * arm.side, skin * 0.9, lab)
    # sleeve
    Ls = _sleeve_length(arm, g)
    if Ls > 0:
        side_name = "right" if arm.side < 0 else "left"
        quad = fl.sleeves[side_name]
        r_out, r_in, c_in, c_out = quad
        if g.kind == "tshirt":
            r_end = max(r_sleeve * 0.9, float(_arm_radius(arm, np.array([Ls]))[0]) * 1.25)
            rad = np.interp(l, [0, Ls], [r_sleeve, r_end]).astype(np.float32)
        else:
            rad = np.interp(l, [0, arm.L1, Ls], [r_sleeve * 0.95, arm.r[1] * 1.3, arm.r[2] * 1.35]).astype(np.float32)
        a_sl = _aa_edge(rad - d, 1.0) * _aa_edge(Ls - l, 1.0) * cap_clip(float(rad.max()))
        if a_sl.any():
            al = np.clip(l / Ls, 0, 1)[..., None]
            bt = np.clip((1 - s * np.clip(d / np.maximum(rad, 1e-3), 0, 1)) / 2, 0, 1)[..., None]  # 0 outer, 1 inner
            P = (1 - al) * ((1 - bt) * r_out + bt * r_in) + al * ((1 - bt) * c_out + bt * c_in)
            Xf, Yf = P[..., 0], P[..., 1]
            col = _garment_color(g, fl, side_name, Xf, Yf, 1.0)
            # cuff band and a crease at the elbow for long sleeves
            tnorm = l / Ls
            col = col * (1 - 0.1 * (tnorm > 1 - 0.016 * fl.U / max(np.linalg.norm((c_in + c_out) / 2 - (r_out + r_in) / 2), 1)))[..., None]
            bb = np.clip(d / np.maximum(rad, 1e-3), 0, 1) * s
            sh = _shade_cyl(bb, 0.7)
            if g.kind == "longsleeve":
                sh = sh * (1 - 0.12 * np.exp(-(((l - arm.L1) / (0.02 * U)) ** 2)))
            sh = sh * (1 - 0.1 * np.exp(-((l / (0.012 * U)) ** 2)))  # armhole seam
            cv.paint(a_sl, col * sh[..., None], label, box)
    if p.bracelet == ("right" if arm.side < 0 else "left"):
        c = arm.Wr - arm.d2 * 0.012 * U
        ang = math.degrees(math.atan2(arm.d2[1], arm.d2[0]))
        rw = arm.r[2] * (1.35 if g.kind != "longsleeve" else 1.55)
        cv.ellipse(c, (0.011 * U, rw), ang, np.asarray(p.bracelet_color, np.float32), None, accessory=True)
        cv.ellipse(c - arm.d2 * 0.003 * U, (0.004 * U, rw * 0.8), ang, np.asarray(p.bracelet_color, np.float32) * 1.15, None,
                   accessory=True)


def _draw_bag(cv: _Canvas, p: PersonSpec, rig: _Rig) -> None:
    U = rig.U
    col = np.asarray(p.bag_color, np.float32)
    side = -1.0 if p.bag_side == "right" else 1.0  # strap shoulder / carrying hand
    strap_w = 0.011 * U
    if p.bag in ("crossbody", "shoulder"):
        top = np.array([rig.cx + side * (rig.sh * 0.62), rig.ys + 0.004 * U])
        if p.bag == "crossbody":
            bag_c = np.array([rig.cx - side * (rig.hw * 0.95), rig.yh - 0.02 * U])
        else:
            bag_c = np.array([rig.cx + side * (rig.hw * 1.08), rig.yh - 0.01 * U])
        v = bag_c - top
        n = np.array([-v[1], v[0]]) / np.linalg.norm(v) * strap_w / 2
        strap = [top + n, top - n, bag_c - n, bag_c + n]
        cv.poly([strap], col * 0.8, None, accessory=True)
        bw, bh = 0.07 * U, 0.06 * U
        bag = [(bag_c[0] - bw, bag_c[1] - bh * 0.2), (bag_c[0] + bw, bag_c[1] - bh * 0.2), (bag_c[0] + bw * 1.08, bag_c[1] + bh),
               (bag_c[0] - bw * 1.08, bag_c[1] + bh)]  # fmt: skip
        cv.poly([bag], col, None, accessory=True)
        flap = [(bag_c[0] - bw, bag_c[1] - bh * 0.2), (bag_c[0] + bw, bag_c[1] - bh * 0.2), (bag_c[0], bag_c[1] + bh * 0.45)]
        cv.poly([flap], col * 0.82, None, accessory=True)
        return
    arm = rig.arms["right" if side < 0 else "left"]
    hand = arm.Wr + arm.d2 * arm.hand * 0.55
    bw, bh = 0.075 * U, 0.075 * U
    top = hand[1] + 0.035 * U
    body = [(hand[0] - bw, top), (hand[0] + bw, top), (hand[0] + bw * 1.1, top + bh), (hand[0] - bw * 1.1, top + bh)]
    # handle: a thick arc from the bag's top corners through the hand
    c = cv2()
    x0, y0, x1, y1 = _box([(hand[0] - bw, hand[1] - 0.02 * U), (hand[0] + bw, top + bh)], 3, cv.H, cv.W)
    if x1 > x0 and y1 > y0:
        buf = np.zeros((y1 - y0, x1 - x0), np.uint8)
        ctr = (int(round((hand[0] - x0) * _ONE)), int(round((top - y0) * _ONE)))
        ax = (int(round(bw * 0.62 * _ONE)), int(round((top - hand[1] + 0.006 * U) * _ONE)))
        c.ellipse(buf, ctr, ax, 0, 180, 360, 255, max(1, int(round(0.012 * U))), c.LINE_AA, _SHIFT)
        cv.paint(buf.astype(np.float32) / 255, col * 0.8, None, (x0, y0, x1, y1), accessory=True)
    cv.poly([body], col, None, accessory=True)
    bottom = [(hand[0] - bw * 1.1, top + bh * 0.78), (hand[0] + bw * 1.1, top + bh * 0.78),
              (hand[0] + bw * 1.1, top + bh), (hand[0] - bw * 1.1, top + bh)]
    cv.poly([bottom], col * 0.8, None, accessory=True)


def _draw_head(cv: _Canvas, p: PersonSpec, rig: _Rig, skin: np.ndarray) -> None:
    U = rig.U
    hx, hy, rx, ry = rig.hx, rig.hy, rig.hrx, rig.hry
    hair = np.asarray(p.hair, np.float32)
    # ears (hidden by long hair)
    for s in (() if p.hair_style in ("long", "bob") else (-1, 1)):
        cv.ellipse((hx + s * rx * 0.97, hy + 0.006 * U), (0.012 * U, 0.02 * U), 0, skin * 0.9, L.FACE)

    def face_shade(box: tuple[int, int, int, int], col: np.ndarray) -> np.ndarray:
        x0, y0, x1, y1 = box
        xs, ys = _grid(y1, x1)
        X, Y = xs[y0:y1, x0:x1], ys[y0:y1, x0:x1]
        b = np.clip((X - hx) / rx, -1, 1)
        return col * (_shade_cyl(b, 0.8) * (1 - 0.06 * np.clip((Y - hy) / ry, 0, 1)))[..., None]

    cv.ellipse((hx, hy), (rx, ry), 0, skin, L.FACE, shade=face_shade)
    # hair cap: a big ellipse minus the face window
    top = hy - ry * 0.98
    if p.hair_style == "bun":
        cv.ellipse((hx, top - 0.012 * U), (0.032 * U, 0.028 * U), 0, hair * 0.92, L.HAIR)
    cap_box = _box([(hx - rx * 1.3, top - 0.03 * U), (hx + rx * 1.3, hy + ry)], 2, cv.H, cv.W)
    x0, y0, x1, y1 = cap_box
    if x1 > x0 and y1 > y0:
        xs, ys = _grid(y1, x1)
        X, Y = xs[y0:y1, x0:x1], ys[y0:y1, x0:x1]
        big = 1 - np.sqrt(((X - hx) / (rx * 1.1)) ** 2 + ((Y - (hy - 0.012 * U)) / (ry * 1.04)) ** 2)
        side_len = {"short": 0.15, "long": 0.55, "bob": 0.5, "bun": 0.2}[p.hair_style]
        win_c = hy + 0.035 * U
        win = 1 - np.sqrt(((X - hx) / (rx * 0.93)) ** 2 + ((Y - win_c) / (ry * 0.8)) ** 2)
        slant = 0.035 * U * (1 if p.detail_seed % 2 else -1) * (p.hair_style != "bob")
        fringe_y = hy - ry * (0.55 if p.hair_style != "bob" else 0.42) + slant * (X - hx) / rx + 0.012 * U * np.cos((X - hx) / rx * 2.2)
        fringe = (Y - fringe_y) / U
        # hair = inside big, and (above the forehead line or outside the face window), down to side_len
        inside = np.minimum(big * rx, np.maximum(-win * rx, -fringe * U))
        inside = np.minimum(inside, (hy + side_len * ry - Y))
        a = _aa_edge(inside, 1.0)
        cv.paint(a, hair * (0.9 + 0.1 * np.clip((hy - Y) / ry, 0, 1))[..., None], L.HAIR, cap_box)
    # face features (part of the face label)
    eye_y = hy + 0.004 * U
    for s in (-1, 1):
        ex = hx + s * 0.024 * U * p.head_scale
        cv.ellipse((ex, eye_y), (0.0085 * U, 0.005 * U), 0, (245, 245, 240), None)
        cv.ellipse((ex, eye_y), (0.0045 * U, 0.0045 * U), 0, np.asarray(p.eyes, np.float32), None)
        brow = [(ex - 0.012 * U, eye_y - 0.014 * U), (ex + 0.012 * U, eye_y - 0.016 * U - 0.002 * U * s),
                (ex + 0.012 * U, eye_y - 0.012 * U - 0.002 * U * s), (ex - 0.012 * U, eye_y - 0.011 * U)]  # fmt: skip
        cv.poly([brow], hair * 0.8, None)
    nose = [(hx - 0.004 * U, hy + 0.012 * U), (hx + 0.004 * U, hy + 0.012 * U),
            (hx + 0.007 * U, hy + 0.032 * U), (hx - 0.007 * U, hy + 0.032 * U)]
    cv.poly([nose], skin * 0.88, None)
    cv.ellipse((hx, hy + 0.05 * U), (0.014 * U, 0.0055 * U), 0, np.asarray(p.lips, np.float32), None)


# ------------------------------------------------------------------------------------------------
# dataset writer
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SynthConfig:
    n: int
    size: tuple[int, int] = (256, 192)
    seed: int = 0
    test_fraction: float = 0.1
    arms_crossed: float = 0.2
    accessories: float = 0.3
    jpeg_quality: int = 95
    categories: tuple[str, ...] = ("upper",)


def is_test(index: int, test_fraction: float) -> bool:
    """Whether sample ``index`` belongs to the test split (depends only on the index)."""
    if test_fraction <= 0:
        return False
    return math.floor((index + 1) * test_fraction + 1e-9) > math.floor(index * test_fraction + 1e-9)


def sample_name(index: int) -> str:
    return f"{index:06d}_00.jpg"


def unpaired_partners(test_indices: list[int]) -> dict[int, int]:
    """Person → garment index for the unpaired test list: swap consecutive test samples; an odd count
    closes with a 3-cycle (a single test sample keeps its own garment)."""
    out: dict[int, int] = {}
    n = len(test_indices)
    if n == 1:
        return {test_indices[0]: test_indices[0]}
    pairs_end = n if n % 2 == 0 else n - 3
    for k in range(0, pairs_end, 2):
        a, b = test_indices[k], test_indices[k + 1]
        out[a], out[b] = b, a
    if n % 2 == 1:
        a, b, c = test_indices[-3:]
        out[a], out[b], out[c] = b, c, a
    return out


def _encode_jpg(rgb: np.ndarray, quality: int) -> bytes:
    c = cv2()
    ok, buf = c.imencode(".jpg", np.ascontiguousarray(rgb[..., ::-1]), [c.IMWRITE_JPEG_QUALITY, int(quality)])
    assert ok
    return buf.tobytes()


def _encode_png(gray: np.ndarray) -> bytes:
    c = cv2()
    ok, buf = c.imencode(".png", gray, [c.IMWRITE_PNG_COMPRESSION, 1])
    assert ok
    return buf.tobytes()


def render_sample(cfg: SynthConfig, index: int, partner: int | None = None) -> dict[str, Any]:
    """Render sample ``index`` (and, for a test sample, its unpaired ground truth with ``partner``'s
    garment). Returns arrays: image, cloth, cloth_mask, parse, keypoints, accessory, unpaired_gt."""
    person = sample_person(cfg.seed, index, cfg.arms_crossed, cfg.accessories)
    category = sample_category(cfg.seed, index, cfg.categories)
    garment = sample_garment(cfg.seed, index, category)
    r = render_person(person, garment, cfg.size)
    cloth, cmask = render_garment(garment, cfg.size)
    out: dict[str, Any] = {
        "person_spec": person,
        "garment_spec": garment,
        "image": r.image,
        "cloth": cloth,
        "cloth_mask": cmask,
        "parse": r.parse,
        "keypoints": r.keypoints,
        "accessory": r.accessory,
    }
    if partner is not None:
        out["unpaired_gt"] = render_person(person, sample_garment(cfg.seed, partner, category), cfg.size).image
    return out


def _write_sample(root: Path, cfg: SynthConfig, index: int, split: str, partner: int | None) -> dict[str, Any]:
    s = render_sample(cfg, index, partner)
    name = sample_name(index)
    stem = name[:-4]
    d = root / split
    q = cfg.jpeg_quality
    (d / "image" / name).write_bytes(_encode_jpg(s["image"], q))
    (d / "cloth" / name).write_bytes(_encode_jpg(s["cloth"], q))
    (d / "cloth-mask" / name).write_bytes(_encode_jpg(np.repeat(s["cloth_mask"][..., None], 3, 2), q))
    (d / "image-parse-v3" / f"{stem}.png").write_bytes(L.encode_parse_png(s["parse"]))
    (d / "openpose_json" / f"{stem}_keypoints.json").write_text(json.dumps(openpose_json(s["keypoints"])))
    (d / "accessory-mask" / f"{stem}.png").write_bytes(_encode_png(s["accessory"]))
    if "unpaired_gt" in s:
        (d / "unpaired_gt" / name).write_bytes(_encode_jpg(s["unpaired_gt"], q))
    p, g = s["person_spec"], s["garment_spec"]
    return {
        "index": index,
        "name": name,
        "split": split,
        "unpaired_garment": sample_name(partner) if partner is not None else None,
        "arms_crossed": p.arms_crossed,
        "accessories": list(p.accessories),
        "category": g.category,
        "garment": g.garment_type,
        "pattern": g.pattern,
        "person_spec": asdict(p),
        "garment_spec": asdict(g),
    }


def _worker(args: tuple[str, SynthConfig, int, str, int | None]) -> dict[str, Any]:
    root, cfg, index, split, partner = args
    return _write_sample(Path(root), cfg, index, split, partner)


SUBFOLDERS = ("image", "cloth", "cloth-mask", "image-parse-v3", "openpose_json", "accessory-mask")


def generate(
    out: str | os.PathLike,
    n: int,
    size: tuple[int, int] = (256, 192),
    seed: int = 0,
    test_fraction: float = 0.1,
    arms_crossed: float = 0.2,
    accessories: float = 0.3,
    workers: int = 1,
    overwrite: bool = False,
    progress: bool = True,
    categories: tuple[str, ...] | list[str] | str = ("upper",),
) -> dict[str, Any]:
    """Write a synthetic dataset in the VITON-HD layout to ``out`` (atomically) and return its meta.

    Layout: ``{train,test}/{image, cloth, cloth-mask, image-parse-v3, openpose_json, accessory-mask}``,
    ``test/unpaired_gt/`` (person of the line wearing the unpaired garment), ``train_pairs.txt``,
    ``test_pairs.txt`` (paired), ``test_pairs_unpaired.txt``, ``synth_meta.json``,
    ``synth_samples.jsonl`` (both specs of every sample, to re-render any pair).

    ``categories`` (a subset of :data:`CATEGORIES`, or ``"upper,lower,dress"``): each sample's category is drawn
    uniformly among them (:func:`sample_category`); every record carries its ``category`` and the meta counts
    them. Unpaired partners are paired *within* a category (a skirt's unpaired ground truth is the person in
    another lower garment).
    """
    from tryon.fs import atomic_directory
    from tryon.errors import InputError

    cats = parse_categories(categories)
    cfg = SynthConfig(int(n), (int(size[0]), int(size[1])), int(seed), float(test_fraction), float(arms_crossed), float(accessories),
                      categories=cats)  # fmt: skip
    _validate(cfg, workers)
    out = Path(out)
    if out.exists() and not overwrite:
        raise InputError("--out", "a path that does not exist yet (or --overwrite)", f"existing {out}")
    t0 = time.perf_counter()
    with atomic_directory(out) as tmp:
        splits = {i: ("test" if is_test(i, cfg.test_fraction) else "train") for i in range(cfg.n)}
        test_idx = [i for i in range(cfg.n) if splits[i] == "test"]
        sample_cats = {i: sample_category(cfg.seed, i, cfg.categories) for i in range(cfg.n)}
        partners: dict[int, int] = {}
        for cat in cfg.categories:
            idx = [i for i in test_idx if sample_cats[i] == cat]
            partners.update(unpaired_partners(idx) if idx else {})
        for split in ("train", "test"):
            for sub in SUBFOLDERS:
                (tmp / split / sub).mkdir(parents=True, exist_ok=True)
        (tmp / "test" / "unpaired_gt").mkdir(parents=True, exist_ok=True)
        jobs = [(str(tmp), cfg, i, splits[i], partners.get(i)) for i in range(cfg.n)]
        records: list[dict[str, Any]] = [None] * cfg.n  # type: ignore[list-item]
        bar = _progress(cfg.n, progress)
        try:
            if workers > 1:
                import multiprocessing as mp

                ctx = mp.get_context("fork") if hasattr(os, "fork") else mp.get_context()
                with ctx.Pool(workers) as pool:
                    for rec in pool.imap_unordered(_worker, jobs, chunksize=8):
                        records[rec["index"]] = rec
                        bar.update(1)
            else:
                for job in jobs:
                    rec = _worker(job)
                    records[rec["index"]] = rec
                    bar.update(1)
        finally:
            bar.close()
        seconds = time.perf_counter() - t0
        train = [r for r in records if r["split"] == "train"]
        test = [r for r in records if r["split"] == "test"]
        (tmp / "train_pairs.txt").write_text("".join(f"{r['name']} {r['name']}\n" for r in train))
        (tmp / "test_pairs.txt").write_text("".join(f"{r['name']} {r['name']}\n" for r in test))
        (tmp / "test_pairs_unpaired.txt").write_text("".join(f"{r['name']} {r['unpaired_garment']}\n" for r in test))
        with open(tmp / "synth_samples.jsonl", "w") as f:
            for r in records:
                f.write(json.dumps(r) + "\n")
        meta = {
            "generator": "tryon_wuton.data.synth",
            "version": SYNTH_VERSION,
            "layout": "viton-hd",
            "seed": cfg.seed,
            "size": list(cfg.size),
            "n": cfg.n,
            "counts": {"train": len(train), "test": len(test)},
            "test_fraction": cfg.test_fraction,
            "arms_crossed": cfg.arms_crossed,
            "accessories": cfg.accessories,
            "categories": {k: sum(r["category"] == k for r in records) for k in cfg.categories},
            "stats": {
                "arms_crossed": sum(r["arms_crossed"] for r in records),
                "with_accessory": sum(bool(r["accessories"]) for r in records),
                "garments": {k: sum(r["garment"] == k for r in records) for c in cfg.categories for k in GARMENT_TYPES[c]},
                "patterns": {k: sum(r["pattern"] == k for r in records) for k in ("solid", "stripes", "checks", "dots", "logo")},
            },
            "label_set": "viton-hd image-parse-v3 (CIHP palette)",
            "keypoints": "openpose BODY_25 (pixels)",
            "accessory_rule": "accessories keep the parse label of what lies beneath them; exact pixels in accessory-mask/",
            "seconds": round(seconds, 3),
            "samples_per_second": round(cfg.n / max(seconds, 1e-9), 2),
            "workers": workers,
        }
        (tmp / "synth_meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    return meta


def parse_categories(value: tuple[str, ...] | list[str] | str) -> tuple[str, ...]:
    """``"upper,lower"`` or a sequence → the categories in :data:`CATEGORIES` order (raises
    :class:`tryon.errors.InputError` for an unknown or empty list)."""
    from tryon.errors import InputError

    words = [w.strip() for w in (value.split(",") if isinstance(value, str) else value) if w.strip()]
    bad = [w for w in words if w not in CATEGORIES]
    if bad or not words:
        given = value if isinstance(value, str) else ",".join(value)
        raise InputError("--categories", f"a comma-separated subset of {','.join(CATEGORIES)}", repr(given))
    return tuple(c for c in CATEGORIES if c in words)


def _validate(cfg: SynthConfig, workers: int) -> None:
    from tryon.errors import InputError

    if cfg.n < 1:
        raise InputError("--n", "a number of samples ≥ 1", str(cfg.n))
    h, w = cfg.size
    if not (32 <= h <= 2048 and 24 <= w <= 2048):
        raise InputError("--size", "HxW with 32 ≤ H ≤ 2048 and 24 ≤ W ≤ 2048 (e.g. 256x192)", f"{h}x{w}")
    if not 0.6 <= w / h <= 1.0:
        raise InputError("--size", "a portrait aspect ratio W/H between 0.6 and 1.0 (e.g. 256x192)", f"{h}x{w}")
    bounds = (("--test-fraction", cfg.test_fraction, 0.9), ("--arms-crossed", cfg.arms_crossed, 1.0),
              ("--accessories", cfg.accessories, 1.0))
    for name, v, hi in bounds:
        if not (0.0 <= v <= hi) or math.isnan(v):
            raise InputError(name, f"a fraction in [0, {hi:g}]", f"{v:g}")
    if workers < 1:
        raise InputError("--workers", "a number of processes ≥ 1", str(workers))


def _progress(total: int, enabled: bool) -> Any:
    """The :mod:`tryon.progress` display, seen through the ``update`` / ``close`` the loop calls."""
    from types import SimpleNamespace

    from tryon.progress import open_progress

    bar = open_progress(total, "synth", unit="sample", enabled=enabled)
    return SimpleNamespace(update=bar.advance, close=bar.close)


def parse_size(text: str) -> tuple[int, int]:
    """``"256x192"`` → ``(256, 192)`` (H×W) with :func:`tryon.sizes.parse_size`; raises
    :class:`tryon.errors.InputError` (``generate`` checks the bounds)."""
    import argparse

    from tryon.sizes import parse_size as core_parse_size
    from tryon.errors import InputError

    try:
        return core_parse_size(text, minimum=1)
    except argparse.ArgumentTypeError:
        raise InputError("--size", "HxW, e.g. 256x192", repr(text)) from None




def generate_once(out: str | os.PathLike, n: int, size: tuple[int, int], **options: Any) -> dict[str, Any]:
    """:func:`generate` unless ``out`` already holds a synthetic set (its ``synth_meta.json`` is returned): what a
    resumable demo or study calls, so that a second run trains on the same data."""
    meta = Path(out) / "synth_meta.json"
    if meta.is_file():
        return json.loads(meta.read_text())
    return generate(out, n, size=size, **options)


def contact_sheet(root: str | os.PathLike, out: str | os.PathLike, n: int = 12, split: str = "test") -> Path:
    """Rows of person | garment | parse (coloured) | other garment | unpaired GT for the first ``n`` samples of
    ``split`` (missing files are left as empty cells), drawn with :func:`tryon.report.grid_image`."""
    from PIL import Image

    from tryon.report import grid_image

    root = Path(root)
    pairs_file = root / f"{split}_pairs_unpaired.txt"
    words = pairs_file.read_text().split() if pairs_file.is_file() else []
    unpaired = dict(zip(words[0::2], words[1::2]))

    def rgb(path: Path | None) -> np.ndarray | None:
        return np.asarray(Image.open(path).convert("RGB")) if path is not None and path.is_file() else None

    def parse_map(path: Path) -> np.ndarray | None:
        return L.colorize(np.asarray(Image.open(path))) if path.is_file() else None

    rows = []
    for name in sorted(p.name for p in (root / split / "image").iterdir())[:n]:
        other = unpaired.get(name)
        rows.append([rgb(root / split / "image" / name), rgb(root / split / "cloth" / name),
                     parse_map(root / split / "image-parse-v3" / f"{Path(name).stem}.png"),
                     rgb(root / split / "cloth" / other) if other else None, rgb(root / split / "unpaired_gt" / name)])
    sheet = grid_image(rows, column_titles=["person", "garment", "parse", "other garment", "unpaired GT"])
    out = Path(out)
    sheet.save(out)
    return out
