"""Synthetic try-on clips with ground truth: the synthetic person of :mod:`.synth` moving in front of a still
background, and the same motion rendered with the person wearing another garment (what a perfect video try-on
would output).

Frame ``t`` of a clip (``P`` = ``period`` frames, ``s = sin(2πt/P)``):

* **translation** — the whole body moves ``sway · s`` pixels sideways and ``bob · sin(4πt/P)`` pixels vertically
  (``PersonSpec.x_offset`` / ``y_offset``: the rig, its keypoints and the garment's body-attached pattern move
  exactly by that many pixels, the background stays);
* **arm motion** — both upper arms swing by ``arms · s`` degrees (the right arm in phase, the left one against it)
  and the elbows bend by half of it (``ArmPose.shoulder`` / ``bend``), sleeves following the arm;
* **rotation** — the person turns by ``rotation · sin(2πt/P + π/2)`` degrees in the image plane about the
  mid-hip keypoint (BODY_25 #8): the rendered person (parse ≠ background, or an accessory pixel) is rotated with
  ``cv2.warpAffine`` and laid on the still background; the parse map is rotated with nearest neighbours and the
  keypoints exactly.

The ground truth renders the same person, pose and motion wearing ``garment`` (the in-shop image written next to
the frames) — the unpaired ground truth no real video has. Everything depends only on ``(seed, index, garment_index)``
and the motion knobs (:class:`ClipConfig`); ``clip.json`` records the per-frame motion and keypoints, so a test or a
benchmark can check what moved and by how much. ``tryon data wuton-clip`` writes a clip (:func:`write_clip`).
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from . import labels as L
from .synth import (
    ArmPose,
    GarmentSpec,
    PersonSpec,
    background,
    cv2,
    render_garment,
    render_person,
    sample_garment,
    sample_person,
)

CLIP_VERSION = "1.0"
#: keypoints that move with the body only (not with the arms): nose, neck, mid/right/left hip, knees, ankles, eyes, ears
BODY_KEYPOINTS = (0, 1, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18)


@dataclass(frozen=True)
class ClipConfig:
    """A clip: who (``seed``, ``index``: the person of :func:`synth.sample_person`), what they try on
    (``garment_index``: :func:`synth.sample_garment` of the same seed; default ``index + 1``), the size, the frame
    count and rate, and the motion amplitudes (pixels, degrees) over a ``period`` of frames."""

    frames: int = 48
    size: tuple[int, int] = (256, 192)
    seed: int = 0
    index: int = 0
    garment_index: int | None = None
    fps: float = 25.0
    period: float = 48.0
    sway: float = 12.0
    bob: float = 2.0
    rotation: float = 3.0
    arms: float = 12.0

    def validate(self) -> "ClipConfig":
        from tryon.errors import InputError

        h, w = self.size
        if not (32 <= h <= 2048 and 24 <= w <= 2048) or not 0.6 <= w / h <= 1.0:
            raise InputError("--size", "HxW with 32 ≤ H ≤ 2048, 24 ≤ W ≤ 2048 and W/H in [0.6, 1] (e.g. 256x192)", f"{h}x{w}")
        if self.frames < 1:
            raise InputError("--frames", "a number of frames ≥ 1", str(self.frames))
        for name, v, lo in (("--fps", self.fps, 0.0), ("--period", self.period, 0.0)):
            if not math.isfinite(v) or v <= lo:
                raise InputError(name, "a positive number", f"{v:g}")
        for name, v, hi in (("--sway", self.sway, w / 2), ("--bob", self.bob, h / 4), ("--rotation", self.rotation, 30.0),
                            ("--arms", self.arms, 40.0)):
            if not math.isfinite(v) or not 0.0 <= v <= hi:
                raise InputError(name, f"an amplitude in [0, {hi:g}]", f"{v:g}")
        if self.index < 0 or (self.garment_index is not None and self.garment_index < 0):
            raise InputError("--index", "a sample index ≥ 0", f"{self.index}, garment {self.garment_index}")
        return self

    @property
    def target_index(self) -> int:
        return self.index + 1 if self.garment_index is None else self.garment_index


@dataclass(frozen=True)
class FrameMotion:
    """The motion of one frame relative to the sampled pose: pixels, degrees."""

    t: int
    dx: float
    dy: float
    angle: float
    right_shoulder: float
    left_shoulder: float
    bend: float


def motion(cfg: ClipConfig, t: int) -> FrameMotion:
    """The motion of frame ``t`` (the module doc's formulas)."""
    ph = 2 * math.pi * t / cfg.period
    s = math.sin(ph)
    return FrameMotion(t, cfg.sway * s, cfg.bob * math.sin(2 * ph), cfg.rotation * math.sin(ph + math.pi / 2),
                       cfg.arms * s, -cfg.arms * s, 0.5 * cfg.arms * s)


def posed(p: PersonSpec, m: FrameMotion, size: tuple[int, int]) -> PersonSpec:
    """``p`` moved by ``m`` (translation and arms; the rotation is applied to the rendered image)."""
    H, W = size

    def arm(a: ArmPose, d_shoulder: float) -> ArmPose:
        return ArmPose(a.shoulder + d_shoulder, a.bend + m.bend, a.kind)

    return replace(p, x_offset=p.x_offset + m.dx / W, y_offset=p.y_offset + m.dy / H,
                   right_arm=arm(p.right_arm, m.right_shoulder), left_arm=arm(p.left_arm, m.left_shoulder))


def _rotate(image: np.ndarray, parse: np.ndarray, accessory: np.ndarray, keypoints: np.ndarray, background: np.ndarray,
            angle: float, pivot: tuple[float, float]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The rendered person turned by ``angle`` degrees (counter-clockwise on screen) about ``pivot``, laid on the
    still ``background``."""
    c = cv2()
    H, W = parse.shape
    M = c.getRotationMatrix2D((float(pivot[0]), float(pivot[1])), float(angle), 1.0)
    person = ((parse != L.BACKGROUND) | (accessory > 0)).astype(np.float32)
    rot_img = c.warpAffine(image.astype(np.float32), M, (W, H), flags=c.INTER_LINEAR, borderMode=c.BORDER_REPLICATE)
    alpha = c.warpAffine(person, M, (W, H), flags=c.INTER_LINEAR, borderValue=0.0)[..., None]
    img = np.clip(rot_img * alpha + background * (1 - alpha), 0, 255).round().astype(np.uint8)
    rot_parse = c.warpAffine(parse, M, (W, H), flags=c.INTER_NEAREST, borderValue=int(L.BACKGROUND))
    rot_acc = c.warpAffine(accessory, M, (W, H), flags=c.INTER_NEAREST, borderValue=0)
    kp = keypoints.copy()
    seen = kp[:, 2] > 0
    xy1 = np.concatenate([kp[seen, :2], np.ones((int(seen.sum()), 1), np.float32)], 1)
    kp[seen, :2] = xy1 @ M.T.astype(np.float32)
    return img, rot_parse, rot_acc, kp


def render_frame(cfg: ClipConfig, t: int, person: PersonSpec | None = None, own: GarmentSpec | None = None,
                 target: GarmentSpec | None = None) -> dict[str, Any]:
    """Frame ``t``: ``image`` (the person in their own garment), ``gt`` (wearing the target garment), ``parse``,
    ``gt_parse``, ``keypoints`` (BODY_25 pixels, 25×3) and the ``motion``."""
    p = person or sample_person(cfg.seed, cfg.index)
    own = own or sample_garment(cfg.seed, cfg.index)
    target = target or sample_garment(cfg.seed, cfg.target_index)
    m = motion(cfg, t)
    q = posed(p, m, cfg.size)
    r, g = render_person(q, own, cfg.size), render_person(q, target, cfg.size)
    out = {"motion": m, "image": r.image, "parse": r.parse, "keypoints": r.keypoints, "gt": g.image, "gt_parse": g.parse}
    if m.angle != 0.0:
        H, W = cfg.size
        bg = background(q, H, W).astype(np.float32)
        pivot = (float(r.keypoints[8, 0]), float(r.keypoints[8, 1]))
        out["image"], out["parse"], _, out["keypoints"] = _rotate(r.image, r.parse, r.accessory, r.keypoints, bg, m.angle, pivot)
        out["gt"], out["gt_parse"], _, _ = _rotate(g.image, g.parse, g.accessory, g.keypoints, bg, m.angle, pivot)
    return out


def render_clip(cfg: ClipConfig) -> dict[str, Any]:
    """Every frame in memory: ``frames``, ``gt``, ``parse`` (lists of arrays), ``keypoints`` (T×25×3), ``motion``
    (list of :class:`FrameMotion`), the in-shop ``garment`` image and its ``garment_mask``."""
    cfg.validate()
    p, own, target = sample_person(cfg.seed, cfg.index), sample_garment(cfg.seed, cfg.index), sample_garment(cfg.seed, cfg.target_index)
    frames = [render_frame(cfg, t, p, own, target) for t in range(cfg.frames)]
    cloth, cmask = render_garment(target, cfg.size)
    return {"frames": [f["image"] for f in frames], "gt": [f["gt"] for f in frames], "parse": [f["parse"] for f in frames],
            "keypoints": np.stack([f["keypoints"] for f in frames]), "motion": [f["motion"] for f in frames],
            "garment": cloth, "garment_mask": cmask, "person_spec": p, "garment_spec": own, "target_spec": target}


def _png(path: Path, arr: np.ndarray) -> None:
    c = cv2()
    img = arr if arr.ndim == 2 else c.cvtColor(arr, c.COLOR_RGB2BGR)
    if not c.imwrite(str(path), img):
        raise OSError(f"could not write {path}")


def write_clip(out: str | os.PathLike, cfg: ClipConfig, *, overwrite: bool = False, video: bool = True) -> dict[str, Any]:
    """Write a clip to the folder ``out`` atomically and return its record (``clip.json``).

    Layout: ``frames/NNNNN.png`` (the input clip), ``gt/NNNNN.png`` (ground truth: the same motion wearing the
    garment), ``parse/NNNNN.png`` (VITON-HD v3 labels of the input frames), ``garment.png`` / ``garment-mask.png``
    (the in-shop target garment), ``clip.mp4`` (the frames as an MPEG-4 video at ``fps``, for ``tryon video``; unless
    ``video=False``) and ``clip.json`` (config, specs, per-frame motion and keypoints).
    """
    from tryon.errors import InputError
    from tryon.fs import atomic_directory

    cfg.validate()
    out = Path(out)
    if out.exists() and not overwrite:
        raise InputError("--out", "a path that does not exist yet (or --overwrite)", f"existing {out}")
    t0 = time.perf_counter()
    clip = render_clip(cfg)
    H, W = cfg.size
    with atomic_directory(out) as tmp:
        for sub in ("frames", "gt", "parse"):
            (tmp / sub).mkdir()
        for t in range(cfg.frames):
            _png(tmp / "frames" / f"{t:05d}.png", clip["frames"][t])
            _png(tmp / "gt" / f"{t:05d}.png", clip["gt"][t])
            _png(tmp / "parse" / f"{t:05d}.png", clip["parse"][t])
        _png(tmp / "garment.png", clip["garment"])
        _png(tmp / "garment-mask.png", clip["garment_mask"])
        if video:
            c = cv2()
            writer = c.VideoWriter(str(tmp / "clip.mp4"), c.VideoWriter_fourcc(*"mp4v"), float(cfg.fps), (W, H))
            if not writer.isOpened():
                raise OSError("OpenCV could not open an MPEG-4 (mp4v) writer for clip.mp4")
            for f in clip["frames"]:
                writer.write(c.cvtColor(f, c.COLOR_RGB2BGR))
            writer.release()
        record = {
            "generator": "tryon_wuton.data.clips", "version": CLIP_VERSION, "config": asdict(cfg),
            "target_index": cfg.target_index, "size": [H, W], "frames": cfg.frames, "fps": cfg.fps,
            "video": "clip.mp4 (mp4v)" if video else None,
            "person_spec": asdict(clip["person_spec"]), "garment_spec": asdict(clip["garment_spec"]),
            "target_spec": asdict(clip["target_spec"]),
            "motion": [asdict(m) for m in clip["motion"]],
            "keypoints": np.round(clip["keypoints"], 3).tolist(), "keypoint_format": "openpose BODY_25 (pixels)",
            "seconds": round(time.perf_counter() - t0, 3),
        }
        (tmp / "clip.json").write_text(json.dumps(record, indent=1) + "\n")
    return record


__all__ = ["BODY_KEYPOINTS", "CLIP_VERSION", "ClipConfig", "FrameMotion", "motion", "posed", "render_clip", "render_frame",
           "write_clip"]
