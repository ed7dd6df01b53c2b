"""Flicker of a video try-on: the warping error between consecutive outputs under the **input's own** optical flow.

A try-on that is stable in time moves its output the way the person moves in the input. So the previous output is
carried to the current frame along the optical flow of the *input* clip (never the output's own flow, which would
follow the flicker it should measure) and compared with the current output, on the pixels where that flow is
reliable::

    E_t = Σ_x M_t(x) · mean_c |out_t(x) − out_{t−1}(x + f_t(x))| / Σ_x M_t(x)          flicker = mean_t E_t

* ``f_t = flow(in_t → in_{t−1})`` (OpenCV DIS, ``medium`` preset, on BT.601 grey, by default; Farnebäck on request),
  so ``in_{t−1}(x + f_t(x)) ≈ in_t(x)``; the warp samples ``out_{t−1}`` bilinearly there (``cv2.remap``);
* ``M_t`` keeps a pixel when ``x + f_t(x)`` lies inside the frame and the forward and backward flows agree:
  ``|f_t(x) + g_t(x + f_t(x))|² ≤ 0.01 (|f_t|² + |g_t|²) + 0.5`` with ``g_t = flow(in_{t−1} → in_t)`` — the
  occlusion test of Sundaram et al. (ECCV 2010) as used for video style transfer by Ruder et al. (GCPR 2016);
  disoccluded pixels and pixels that leave the frame are not scored;
* values: uint8 RGB frames scaled to [0, 1]; ``norm="l1"`` (default) the mean absolute difference over the
  channels, ``norm="l2"`` the mean squared difference (the warping error of Lai et al., ECCV 2018, which also
  takes the flow and the occlusion mask from the input video).

A static clip scores 0 (zero flow, identical outputs); a clip whose outputs follow the input's motion scores near
0 (flow and interpolation error only); outputs that jump between frames score high. The same flow helpers
(:func:`optical_flow`, :func:`warp`, :func:`reliable_mask`) serve the flow-warp remedy of ``tryon video``
(:mod:`tryon.deploy.video`). Numbers are only comparable under the same protocol (recorded by
:func:`warping_errors`). No torch; OpenCV is imported when a function is called.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..errors import ImageSizeError, InputError

FLOW_METHODS = ("dis", "farneback")
DIS_PRESETS = ("ultrafast", "fast", "medium")
NORMS = ("l1", "l2")
#: forward–backward consistency (Sundaram et al. 2010; Ruder et al. 2016): |f + g|² ≤ A (|f|² + |g|²) + B
CONSISTENCY = (0.01, 0.5)
#: Farnebäck parameters (pyr_scale, levels, winsize, iterations, poly_n, poly_sigma): OpenCV's sample values
FARNEBACK = (0.5, 3, 15, 3, 5, 1.2)


def _cv2() -> Any:
    import cv2

    return cv2


def grey(rgb: np.ndarray) -> np.ndarray:
    """``H×W×3`` uint8 RGB → ``H×W`` uint8 BT.601 luma (``cv2.COLOR_RGB2GRAY``); ``H×W`` passes through."""
    return rgb if rgb.ndim == 2 else _cv2().cvtColor(rgb, _cv2().COLOR_RGB2GRAY)


class FlowEstimator:
    """Dense optical flow between two grey frames with one OpenCV method and fixed parameters.

    ``method="dis"`` (``cv2.DISOpticalFlow``, ``preset`` ultrafast / fast / medium) or ``"farneback"``
    (:data:`FARNEBACK`). ``flow(a, b)`` is ``H×W×2`` float32 with ``b(x + flow(x)) ≈ a(x)`` (OpenCV's convention).
    One estimator per thread (the DIS object keeps state between calls only as a cache).
    """

    def __init__(self, method: str = "dis", preset: str = "medium"):
        if method not in FLOW_METHODS:
            raise InputError("flow method", f"one of {', '.join(FLOW_METHODS)}", repr(method))
        if preset not in DIS_PRESETS:
            raise InputError("DIS preset", f"one of {', '.join(DIS_PRESETS)}", repr(preset))
        self.method, self.preset = method, preset
        cv2 = _cv2()
        self._dis = None
        if method == "dis":
            code = {"ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST, "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
                    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM}[preset]
            self._dis = cv2.DISOpticalFlow_create(code)

    def __call__(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        a, b = grey(a), grey(b)
        if self._dis is not None:
            return self._dis.calc(a, b, None)
        return _cv2().calcOpticalFlowFarneback(a, b, None, *FARNEBACK, 0)

    def describe(self) -> dict[str, Any]:
        if self.method == "dis":
            return {"method": "dis", "preset": self.preset, "implementation": "cv2.DISOpticalFlow"}
        keys = ("pyr_scale", "levels", "winsize", "iterations", "poly_n", "poly_sigma")
        return {"method": "farneback", "params": dict(zip(keys, FARNEBACK)), "implementation": "cv2.calcOpticalFlowFarneback"}


def optical_flow(a: np.ndarray, b: np.ndarray, method: str = "dis", preset: str = "medium") -> np.ndarray:
    """Flow from frame ``a`` to frame ``b`` (RGB or grey uint8): ``b(x + flow(x)) ≈ a(x)``, ``H×W×2`` float32."""
    return FlowEstimator(method, preset)(a, b)


def _grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return xs, ys


def warp(image: np.ndarray, flow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``image`` sampled at ``x + flow(x)`` (bilinear, ``cv2.remap``) and the mask of the pixels whose source lies
    inside the image. ``image``: ``H×W×C`` or ``H×W`` (any dtype OpenCV remaps); ``flow``: ``H×W×2``."""
    cv2 = _cv2()
    h, w = flow.shape[:2]
    xs, ys = _grid(h, w)
    mx, my = xs + flow[..., 0], ys + flow[..., 1]
    out = cv2.remap(image, mx, my, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    inside = (mx >= 0) & (mx <= w - 1) & (my >= 0) & (my <= h - 1)
    return out, inside


def reliable_mask(back: np.ndarray, fwd: np.ndarray, consistency: Sequence[float] = CONSISTENCY) -> np.ndarray:
    """Pixels of frame t where ``back = flow(t → t−1)`` is trusted: its target lies inside frame t−1 and
    ``fwd = flow(t−1 → t)`` sampled there brings it back (``|back + fwd∘(x + back)|² ≤ A(|back|² + |fwd|²) + B``)."""
    fwd_at, inside = warp(fwd, back)
    a, b = float(consistency[0]), float(consistency[1])
    bx, by, fx, fy = back[..., 0], back[..., 1], fwd_at[..., 0], fwd_at[..., 1]
    err = (bx + fx) ** 2 + (by + fy) ** 2  # per channel: numpy reduces a last axis of 2 ten times slower
    return inside & (err <= a * (bx * bx + by * by + fx * fx + fy * fy) + b)


def _frames(x: Any, name: str) -> list[np.ndarray]:
    seq = list(x) if not isinstance(x, np.ndarray) or x.ndim == 4 else None
    if seq is None:
        raise InputError(name, "a sequence of H×W×3 uint8 frames (or a T×H×W×3 array)", f"an array of shape {np.shape(x)}")
    out = []
    for i, f in enumerate(seq):
        f = np.asarray(f)
        if f.dtype != np.uint8 or f.ndim != 3 or f.shape[2] != 3:
            raise InputError(f"{name}[{i}]", "an H×W×3 uint8 RGB frame", f"{f.dtype} array of shape {f.shape}")
        out.append(np.ascontiguousarray(f))
    return out


def warping_errors(inputs: Any, outputs: Any, *, flow: str = "dis", preset: str = "medium", norm: str = "l1",
                   consistency: Sequence[float] = CONSISTENCY) -> dict[str, Any]:
    """The flicker of ``outputs`` under the motion of ``inputs`` (the module doc), with its details.

    ``inputs``, ``outputs``: equal-length sequences (≥ 2) of ``H×W×3`` uint8 RGB frames of one size (or
    ``T×H×W×3`` arrays). Returns ``{"flicker", "per_pair", "coverage", "pairs_scored", "protocol"}``:
    ``per_pair[t−1]`` is ``E_t`` (``None`` when no pixel of the pair is reliable), ``coverage[t−1]`` the share of
    reliable pixels, ``flicker`` the mean of the scored pairs (``nan`` when none is).
    """
    if norm not in NORMS:
        raise InputError("norm", f"one of {', '.join(NORMS)}", repr(norm))
    ins, outs = _frames(inputs, "inputs"), _frames(outputs, "outputs")
    if len(ins) != len(outs):
        raise InputError("outputs", f"one output per input frame ({len(ins)})", f"{len(outs)} frames")
    if len(ins) < 2:
        raise InputError("inputs", "at least 2 frames (flicker compares consecutive frames)", f"{len(ins)}")
    shape = ins[0].shape
    for name, seq in (("inputs", ins), ("outputs", outs)):
        for i, f in enumerate(seq):
            if f.shape != shape:
                raise ImageSizeError(f"{name}[{i}]", f"the size of inputs[0] {shape[1]}×{shape[0]} (W×H)",
                                     f"{f.shape[1]}×{f.shape[0]}")
    est = FlowEstimator(flow, preset)
    greys = [grey(f) for f in ins]
    per_pair: list[float | None] = []
    coverage: list[float] = []
    for t in range(1, len(ins)):
        back = est(greys[t], greys[t - 1])  # in_{t-1}(x + back(x)) ≈ in_t(x)
        fwd = est(greys[t - 1], greys[t])
        mask = reliable_mask(back, fwd, consistency)
        prev, _ = warp(outs[t - 1], back)
        diff = prev.astype(np.float32) / 255.0 - outs[t].astype(np.float32) / 255.0
        per_px = (np.abs(diff) if norm == "l1" else diff * diff).mean(-1)
        n = int(mask.sum())
        coverage.append(n / mask.size)
        per_pair.append(float(per_px[mask].mean()) if n else None)
    scored = [v for v in per_pair if v is not None]
    return {"flicker": float(np.mean(scored)) if scored else float("nan"), "per_pair": per_pair, "coverage": coverage,
            "pairs_scored": len(scored), "protocol": protocol(flow, preset, norm, consistency)}


def flicker(inputs: Any, outputs: Any, **kw: Any) -> float:
    """Mean warping error of ``outputs`` under the input clip's optical flow (lower = steadier); see
    :func:`warping_errors` for the arguments and the per-pair details."""
    return float(warping_errors(inputs, outputs, **kw)["flicker"])


def protocol(flow: str = "dis", preset: str = "medium", norm: str = "l1",
             consistency: Sequence[float] = CONSISTENCY) -> dict[str, Any]:
    """Every choice that changes the flicker value (recorded with each result; ``PROTOCOL.md`` explains them)."""
    import cv2

    return {"metric": "flicker (warping error under the input's optical flow)",
            "flow": FlowEstimator(flow, preset).describe(), "flow_direction": "in_t → in_{t-1} (backward warp of out_{t-1})",
            "grey": "BT.601 (cv2.COLOR_RGB2GRAY) on uint8", "warp": "cv2.remap bilinear, border replicate",
            "mask": {"inside_frame": True, "forward_backward": list(map(float, consistency))},
            "values": "uint8 RGB / 255 in [0, 1]", "norm": norm, "reduction": "masked mean per pair, then mean over pairs",
            "opencv": cv2.__version__}


__all__ = ["CONSISTENCY", "FLOW_METHODS", "FlowEstimator", "flicker", "grey", "optical_flow", "protocol", "reliable_mask",
           "warp", "warping_errors"]
