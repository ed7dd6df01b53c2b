"""Synthetic try-on clips (tryon_wuton.data.clips, ``tryon data wuton-clip``): frames differ by the stated motion
(translation moves every body keypoint and the person's pixels by exactly the stated pixels, rotation turns the
keypoints about the mid-hip, arm motion moves the wrists only), the ground truth wears the target garment with the
same motion, and a clip depends only on its seed and settings."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

cv2 = pytest.importorskip("cv2")

from tryon.cli import main  # noqa: E402
from tryon.errors import InputError  # noqa: E402
from tryon_wuton.data import labels as L  # noqa: E402
from tryon_wuton.data.clips import BODY_KEYPOINTS, ClipConfig, motion, render_clip, write_clip  # noqa: E402

SIZE = (64, 48)


def _visible(kp: np.ndarray, idx=BODY_KEYPOINTS) -> np.ndarray:
    return np.array([i for i in idx if kp[i, 2] > 0])


def test_translation_moves_the_person_by_the_stated_pixels() -> None:
    # whole pixels (period 4: s = 0, 1, 0, -1) so the rendered person can be compared pixel for pixel
    cfg = ClipConfig(frames=4, size=SIZE, period=4, sway=3.0, bob=0.0, rotation=0.0, arms=0.0)
    clip = render_clip(cfg)
    kp, m = clip["keypoints"], clip["motion"]
    assert [round(x.dx, 9) for x in m] == [0.0, 3.0, 0.0, -3.0] and all(x.angle == 0.0 for x in m)
    vis = _visible(kp[0])
    for t in range(4):
        # float32 keypoints moved by exactly dx (rig arithmetic in float64, stored as float32): measured 0 error;
        # 1e-4 px is a float32 rounding margin at 64 px
        assert np.abs(kp[t, vis, :2] - kp[0, vis, :2] - [m[t].dx, 0.0]).max() < 1e-4
        assert np.array_equal(kp[t, vis, 2], kp[0, vis, 2])
    # the person's pixels (parse ≠ background) in frame 1 are frame 0's moved 3 px right
    p0, p1 = clip["parse"][0], clip["parse"][1]
    assert np.array_equal(p1[:, 3:] != L.BACKGROUND, p0[:, :-3] != L.BACKGROUND)
    inside = (p0[:, :-3] != L.BACKGROUND) & (p1[:, 3:] != L.BACKGROUND)
    diff = np.abs(clip["frames"][1][:, 3:].astype(int) - clip["frames"][0][:, :-3].astype(int))[inside]
    # the body-attached pattern moves with the body; only anti-aliased edge pixels against the still background
    # could differ (measured: 100 % of the person's pixels identical at 64×48)
    assert (diff == 0).all(axis=-1).mean() > 0.95
    # the background stays: pixels that are background in every frame, 2 px away from the person's anti-aliased
    # edge, are equal in every frame
    bg = np.logical_and.reduce([p == L.BACKGROUND for p in clip["parse"]]).astype(np.uint8)
    bg = cv2.erode(bg, np.ones((5, 5), np.uint8)).astype(bool)
    assert all(np.array_equal(f[bg], clip["frames"][0][bg]) for f in clip["frames"])


def test_rotation_turns_the_keypoints_about_the_mid_hip() -> None:
    cfg = ClipConfig(frames=3, size=(128, 96), period=12, sway=0.0, bob=0.0, rotation=6.0, arms=0.0)
    clip = render_clip(cfg)
    flat = render_clip(ClipConfig(frames=1, size=(128, 96), sway=0.0, bob=0.0, rotation=0.0, arms=0.0))["keypoints"][0]
    for t in range(3):
        a = math.radians(motion(cfg, t).angle)
        assert motion(cfg, t).angle == pytest.approx(6.0 * math.cos(2 * math.pi * t / 12))  # exact formula (rel 1e-6 default)
        piv = flat[8, :2]
        vis = _visible(flat)
        rel = flat[vis, :2] - piv  # cv2's positive angle turns counter-clockwise on screen (y down)
        want = piv + np.stack([rel[:, 0] * math.cos(a) + rel[:, 1] * math.sin(a),
                               -rel[:, 0] * math.sin(a) + rel[:, 1] * math.cos(a)], 1)
        # float32 keypoints through a float64 affine matrix: measured 7.6e-6 px; 1e-3 px margin
        assert np.abs(clip["keypoints"][t, vis, :2] - want).max() < 1e-3
    # the rendered person turned too: frame 0 (6°) differs from the unturned render
    assert (clip["parse"][0] != render_clip(ClipConfig(frames=1, size=(128, 96), sway=0.0, bob=0.0, rotation=0.0,
                                                      arms=0.0))["parse"][0]).any()


def test_arm_motion_moves_the_wrists_not_the_body() -> None:
    cfg = ClipConfig(frames=2, size=(128, 96), period=4, sway=0.0, bob=0.0, rotation=0.0, arms=15.0)
    kp = render_clip(cfg)["keypoints"]
    body = _visible(kp[0])
    assert np.array_equal(kp[1, body], kp[0, body])  # exact: the torso, head and legs do not move
    wrists = [i for i in (4, 7) if kp[0, i, 2] > 0 and kp[1, i, 2] > 0]
    # 15° at the shoulder with a 0.2 U upper arm and a 7.5° elbow bend moves each wrist by several pixels at 128 px
    # (measured 5.5 and 15.4 px); 2 px separates a moved wrist from a still one
    assert wrists and all(np.hypot(*(kp[1, i, :2] - kp[0, i, :2])) > 2.0 for i in wrists)


def test_ground_truth_wears_the_target_garment_with_the_same_motion() -> None:
    clip = render_clip(ClipConfig(frames=3, size=SIZE, period=6))
    for t in range(3):
        assert clip["gt"][t].shape == clip["frames"][t].shape == (*SIZE, 3)
        assert not np.array_equal(clip["gt"][t], clip["frames"][t])  # another garment
    assert clip["target_spec"] != clip["garment_spec"] and clip["garment"].shape == (*SIZE, 3)


def test_a_clip_is_deterministic_and_written_atomically(tmp_path) -> None:
    cfg = ClipConfig(frames=3, size=SIZE, seed=7, period=6)
    a, b = render_clip(cfg), render_clip(cfg)
    assert all(np.array_equal(x, y) for x, y in zip(a["frames"] + a["gt"], b["frames"] + b["gt"]))
    other = render_clip(ClipConfig(frames=3, size=SIZE, seed=8, period=6))
    assert not np.array_equal(a["frames"][0], other["frames"][0])
    rec = write_clip(tmp_path / "clip", cfg)
    root = tmp_path / "clip"
    assert sorted(p.name for p in root.iterdir()) == ["clip.json", "clip.mp4", "frames", "garment-mask.png", "garment.png",
                                                      "gt", "parse"]
    assert len(list((root / "frames").iterdir())) == len(list((root / "gt").iterdir())) == 3
    saved = json.loads((root / "clip.json").read_text())
    assert saved["frames"] == rec["frames"] == 3 and len(saved["motion"]) == 3 and len(saved["keypoints"]) == 3
    cap = cv2.VideoCapture(str(root / "clip.mp4"))
    n = 0
    while cap.read()[0]:
        n += 1
    assert n == 3
    png = cv2.cvtColor(cv2.imread(str(root / "frames" / "00001.png")), cv2.COLOR_BGR2RGB)
    assert np.array_equal(png, a["frames"][1])
    with pytest.raises(InputError, match="--out"):
        write_clip(root, cfg)  # exists
    with pytest.raises(InputError, match="--frames"):
        write_clip(tmp_path / "x", ClipConfig(frames=0, size=SIZE))
    with pytest.raises(InputError, match="--rotation"):
        write_clip(tmp_path / "x", ClipConfig(frames=2, size=SIZE, rotation=90.0))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip"]  # nothing half-written


def test_the_cli_verb(tmp_path, capsys) -> None:
    out = tmp_path / "c"
    assert main(["data", "wuton-clip", "--out", str(out), "--frames", "2", "--size", "64x48", "--seed", "3"]) == 0
    assert "2-frame clip" in capsys.readouterr().out
    assert json.loads((out / "clip.json").read_text())["config"]["seed"] == 3
    assert main(["data", "wuton-clip", "--out", str(tmp_path / "d"), "--frames", "two"]) != 0
    assert "--frames: expected an integer" in capsys.readouterr().err
