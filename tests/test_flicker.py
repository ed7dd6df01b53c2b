"""The flicker metric (tryon.metrics.flicker): warping error between consecutive outputs under the input clip's own
optical flow, on pixels where the forward-backward check trusts the flow. Torch-free; clips are a smooth random
texture seen through a moving window (whole-pixel and sub-pixel steps)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

cv2 = pytest.importorskip("cv2")

from tryon.errors import ImageSizeError, InputError  # noqa: E402
from tryon.metrics.flicker import flicker, optical_flow, reliable_mask, warp, warping_errors  # noqa: E402

H, W = 96, 72


@pytest.fixture(scope="module")
def texture() -> np.ndarray:
    rng = np.random.default_rng(0)
    t = cv2.GaussianBlur(rng.integers(0, 256, (260, 220, 3), dtype=np.uint8), (0, 0), 3)
    return cv2.normalize(t, None, 0, 255, cv2.NORM_MINMAX)


def window_clip(texture: np.ndarray, n: int, step: tuple[float, float]) -> list[np.ndarray]:
    """``n`` frames of ``texture`` through an H×W window moving ``step`` = (dx, dy) pixels per frame."""
    return [cv2.warpAffine(texture, np.float32([[1, 0, -40 - step[0] * t], [0, 1, -40 - step[1] * t]]), (W, H),
                           flags=cv2.INTER_LINEAR) for t in range(n)]


def test_a_static_clip_scores_zero(texture) -> None:
    frames = window_clip(texture, 5, (0, 0))
    r = warping_errors(frames, frames)
    # exact: identical frames give DIS an all-zero flow, the warp is the identity and the outputs are equal
    assert r["flicker"] == 0.0 and r["pairs_scored"] == 4 and r["coverage"] == [1.0] * 4
    # Farnebäck is not exactly zero on identical frames (its polynomial fit): measured 1.3e-6 here; 1e-4 is a
    # margin of ~75× and still over two orders below the shuffled clips of the next test (0.03-0.09)
    assert flicker(frames, frames, flow="farneback") < 1e-4


@pytest.mark.parametrize("step", [(3.0, 2.0), (0.4, 0.3)], ids=["whole-pixel", "sub-pixel"])
def test_outputs_that_follow_the_input_score_near_zero_and_shuffled_ones_worse(texture, step) -> None:
    frames = window_clip(texture, 8, step)
    outputs = [255 - f for f in frames]  # a "try-on" that moves exactly as the person does
    ordered = warping_errors(frames, outputs)
    # measured 1.0e-4 (whole pixels) and 2.3e-3 (sub-pixel: bilinear interpolation and DIS error) in [0, 1] units;
    # 0.01 leaves 4× over the worse one and stays ≥ 3× below the shuffled clips (0.03 sub-pixel, 0.09 whole-pixel)
    assert ordered["flicker"] < 0.01
    # most pixels are trusted, only the strip entering the window is not: measured ≥ 0.91 (a share, not a tolerance)
    assert min(ordered["coverage"]) > 0.5
    perm = np.random.default_rng(1).permutation(len(frames))
    while (perm == np.arange(len(frames))).any():  # every output moves away from its frame
        perm = np.random.default_rng(int(perm.sum()) + 1).permutation(len(frames))
    shuffled = flicker(frames, [outputs[i] for i in perm])
    assert shuffled > 5 * ordered["flicker"]


def test_flicker_is_measured_on_the_input_flow_not_the_output(texture) -> None:
    """Outputs that stay still while the person moves flicker (they do not follow the motion)."""
    frames = window_clip(texture, 6, (2.0, 0.0))
    frozen = [255 - frames[0]] * len(frames)
    assert flicker(frames, frozen) > 5 * flicker(frames, [255 - f for f in frames])
    assert flicker(frames, frozen, norm="l2") < flicker(frames, frozen)  # squared differences of values below 1


def test_flow_helpers_follow_opencv_conventions(texture) -> None:
    a, b = window_clip(texture, 2, (2.0, 1.0))
    back = optical_flow(b, a)  # a(x + back(x)) ≈ b(x): the window moved +2, +1, so back ≈ (+2, +1)
    inner = back[10:-10, 10:-10]
    # DIS on a smooth texture: measured median error 0.008 px; 0.25 px tells the right motion from a wrong one
    assert abs(float(np.median(inner[..., 0])) - 2.0) < 0.25 and abs(float(np.median(inner[..., 1])) - 1.0) < 0.25
    warped, inside = warp(a, back)
    # the inner pixels come from inside frame a, the last column and row (moved +2, +1) from outside it
    assert inside[5:-5, 5:-5].all() and not inside[:, -1].any() and not inside[-1].any()
    mask = reliable_mask(back, optical_flow(a, b))
    # measured 0.954 trusted: the strips entering the window (2 columns, 1 row) are the exception
    assert mask.dtype == bool and 0.8 < mask.mean() <= 1.0
    err = np.abs(warped.astype(np.float32) - b.astype(np.float32))[mask].mean() / 255
    # measured 4.7e-5 (whole-pixel step: near-exact resampling where the flow is right); 0.01 = the bound above
    assert err < 0.01


def test_bad_input_is_refused_with_one_clear_error(texture) -> None:
    frames = window_clip(texture, 3, (1.0, 0.0))
    with pytest.raises(InputError, match="one output per input frame"):
        flicker(frames, frames[:2])
    with pytest.raises(InputError, match="at least 2 frames"):
        flicker(frames[:1], frames[:1])
    with pytest.raises(InputError, match=r"outputs\[1\]: expected an H×W×3 uint8 RGB frame"):
        flicker(frames, [frames[0], frames[1].astype(np.float32), frames[2]])
    with pytest.raises(ImageSizeError, match=r"outputs\[2\]"):
        flicker(frames, [frames[0], frames[1], frames[2][:-2]])
    with pytest.raises(InputError, match="flow method"):
        flicker(frames, frames, flow="raft")
    with pytest.raises(InputError, match="norm"):
        flicker(frames, frames, norm="l3")


def test_registered_lazily_and_torch_free() -> None:
    code = ("import sys, tryon.metrics as m\n"
            "import tryon.metrics.flicker\n"
            "assert callable(m.flicker) and m.flicker.__name__ == 'flicker' and m.warping_errors.__name__ == 'warping_errors'\n"
            "import numpy as np\n"
            "f = [np.zeros((16, 12, 3), np.uint8)] * 2\n"
            "r = m.warping_errors(f, f)\n"
            "assert r['flicker'] == 0.0 and r['protocol']['flow']['method'] == 'dis', r\n"
            "assert 'torch' not in sys.modules, 'torch imported'\n")
    subprocess.run([sys.executable, "-c", code], check=True)
