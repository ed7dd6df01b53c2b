"""Pose keypoints: OpenPose BODY_25 (canonical), COCO-18 conversion, and the json formats in use.

* VITON-HD ``openpose_json/*_keypoints.json``: ``people[0].pose_keypoints_2d`` = 25 × (x, y, c), BODY_25,
  in pixels of the person image.
* VITON / CP-VTON ``pose/*_keypoints.json`` and PF-AFN ``*_pose``: ``people[0].pose_keypoints`` (old
  OpenPose key) = 18 × (x, y, c), COCO-18, pixels; converted to BODY_25 by :func:`coco18_to_body25`.
* DressCode ``keypoints/*_2.json``: ``keypoints`` = 18 × (x, y, c, id), COCO-18, in a 384×512 (W×H)
  frame whatever the image size (its loader scales by ``width / 384``); points with x ≤ 1 or y ≤ 1
  are missing.

The dataset returns ``K×3`` = 25 × (x, y, confidence) with x, y normalised to [-1, 1] in the
``align_corners=False`` convention (pixel centre ``i`` ↦ ``(2 i + 1) / W - 1``) and all zeros for a
missing point.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

BODY25_NAMES: tuple[str, ...] = (
    "Nose", "Neck", "RShoulder", "RElbow", "RWrist", "LShoulder", "LElbow", "LWrist", "MidHip", "RHip",
    "RKnee", "RAnkle", "LHip", "LKnee", "LAnkle", "REye", "LEye", "REar", "LEar", "LBigToe", "LSmallToe",
    "LHeel", "RBigToe", "RSmallToe", "RHeel",
)  # fmt: skip
K = len(BODY25_NAMES)
NOSE, NECK, R_SHOULDER, R_ELBOW, R_WRIST, L_SHOULDER, L_ELBOW, L_WRIST, MID_HIP = range(9)
R_HIP, R_KNEE, R_ANKLE, L_HIP, L_KNEE, L_ANKLE, R_EYE, L_EYE, R_EAR, L_EAR = range(9, 19)

#: COCO-18 index -> BODY_25 index (MidHip, toes and heels have no COCO-18 counterpart).
COCO18_TO_BODY25 = (0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18)


def coco18_to_body25(pts: np.ndarray) -> np.ndarray:
    """``18×3`` COCO-18 → ``25×3`` BODY_25; MidHip is the mean of the hips when both are present."""
    out = np.zeros((K, 3), np.float32)
    pts = np.asarray(pts, np.float32)[:18, :3]
    out[list(COCO18_TO_BODY25[: len(pts)])] = pts
    if out[R_HIP, 2] > 0 and out[L_HIP, 2] > 0:
        out[MID_HIP, :2] = (out[R_HIP, :2] + out[L_HIP, :2]) / 2
        out[MID_HIP, 2] = min(out[R_HIP, 2], out[L_HIP, 2])
    return out


def _clean(pts: np.ndarray) -> np.ndarray:
    """Zero points that OpenPose marks missing (confidence 0, or x, y ≤ 0 as CP-VTON/DressCode do)."""
    pts = np.asarray(pts, np.float32).copy()
    missing = (pts[:, 2] <= 0) | (pts[:, 0] <= 0) & (pts[:, 1] <= 0)
    pts[missing] = 0
    return pts


def read_openpose_json(path: str | Path) -> np.ndarray:
    """Read an OpenPose json (``pose_keypoints_2d`` BODY_25/COCO-18 or old ``pose_keypoints``).

    Returns ``25×3`` pixels + confidence (zeros when no person was detected). Raises ``ValueError``
    on an unknown structure.
    """
    data = json.loads(Path(path).read_text())
    people = data.get("people") if isinstance(data, dict) else None
    if people is None:
        raise ValueError("no 'people' list (not an OpenPose json)")
    if not people:
        return np.zeros((K, 3), np.float32)
    person = people[0]
    flat = person.get("pose_keypoints_2d", person.get("pose_keypoints"))
    if flat is None:
        raise ValueError("no 'pose_keypoints_2d' / 'pose_keypoints' in people[0]")
    arr = np.asarray(flat, np.float32)
    if arr.size == 0:
        return np.zeros((K, 3), np.float32)
    if arr.size % 3:
        raise ValueError(f"{arr.size} keypoint values is not a multiple of 3")
    arr = arr.reshape(-1, 3)
    if len(arr) == 18:
        return _clean(coco18_to_body25(arr))
    if len(arr) == K:
        return _clean(arr)
    raise ValueError(f"{len(arr)} keypoints (expected 25 BODY_25 or 18 COCO-18)")


DRESSCODE_FRAME = (512, 384)  # (H, W) of DressCode's keypoint coordinates


def read_dresscode_json(path: str | Path) -> np.ndarray:
    """Read a DressCode ``*_2.json`` (``keypoints``: 18 × [x, y, c, id] in a 384×512 frame).

    Returns ``25×3`` in **384×512 pixels** (normalise with :data:`DRESSCODE_FRAME`)."""
    data = json.loads(Path(path).read_text())
    if not isinstance(data, dict) or "keypoints" not in data:
        raise ValueError("no 'keypoints' list (not a DressCode keypoint json)")
    arr = np.asarray(data["keypoints"], np.float32)
    if arr.size % 4:
        raise ValueError(f"{arr.size} keypoint values is not a multiple of 4 (x, y, c, id)")
    arr = arr.reshape(-1, 4)[:, :3].copy()
    missing = (arr[:, 0] <= 1) | (arr[:, 1] <= 1)
    arr[missing] = 0
    arr[~missing & (arr[:, 2] <= 0), 2] = 1.0  # some releases store c = 0 for detected points
    return coco18_to_body25(arr)


def normalise(pts: np.ndarray, size_hw: tuple[int, int]) -> np.ndarray:
    """Pixel keypoints (``K×3``) in an image of ``size_hw`` → x, y in [-1, 1] (zeros stay zeros)."""
    h, w = size_hw
    out = np.asarray(pts, np.float32).copy()
    present = out[:, 2] > 0
    out[present, 0] = (2 * out[present, 0] + 1) / w - 1
    out[present, 1] = (2 * out[present, 1] + 1) / h - 1
    out[~present] = 0
    return out


def openpose_json(pts: np.ndarray) -> dict:
    """``25×3`` pixel keypoints → an OpenPose 1.3 json dict as in VITON-HD ``openpose_json``."""
    flat = [round(float(v), 3) for v in np.asarray(pts, np.float32).reshape(-1)]
    return {
        "version": 1.3,
        "people": [
            {
                "person_id": [-1],
                "pose_keypoints_2d": flat,
                "face_keypoints_2d": [],
                "hand_left_keypoints_2d": [],
                "hand_right_keypoints_2d": [],
                "pose_keypoints_3d": [],
                "face_keypoints_3d": [],
                "hand_left_keypoints_3d": [],
                "hand_right_keypoints_3d": [],
            }
        ],
    }
