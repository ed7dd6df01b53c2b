"""A defect of some CPUs' bf16 convolutions, the probe that finds it, and the guard that trains around it.

On an Intel Xeon with AMX (oneDNN's AMX "brgemm" convolution kernels, torch 2.14.1), a bfloat16 convolution of
stride 2 whose output is **one pixel wide** returns wrong values — relative errors near 1, sometimes ``inf`` or
NaN, different from call to call (uninitialised memory). Measured on 1,646 shapes (kernels 1–4, strides 1–2,
inputs up to 9×9, 16 and 128 channels): the 38 wrong ones all had a stride-2 output of width 1. WUTON's
encoders reach such a shape at 64×48 (level 5: 4×3 → 2×1), so a bf16 teacher there trained to NaN in one
step, at random. fp32, AVX-512 without AMX and AVX2 kernels compute these shapes correctly. The upstream
family: oneDNN's brgemm AMX convolution with strides (uxlfoundation/oneDNN #5494, fixed after the oneDNN
that torch 2.14.1 ships).

:func:`bf16_conv_fault` runs the faulty shapes once per process (a few ms) and says what it found;
:class:`NarrowConvsInFp32` then runs only the convolutions with a 1-wide or 1-high strided output in fp32 (and
the transposed convolutions with such an input, whose input gradient is that convolution) — the other
convolutions keep bf16 and the AMX speed. :class:`tryon.train.precision.MixedPrecision` installs it
inside its autocast when the probe finds the defect, and says so in the log.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

#: (input H, W, kernel, stride, padding) of the probe: stride-2 convolutions with a 1-wide output, as the encoders
#: of 000 App. E meet at small sizes (4×3 → 2×1), plus a taller one
PROBE_SHAPES = ((4, 3, 4, 2, 1), (8, 3, 4, 2, 1), (9, 2, 3, 2, 1))
#: relative error (max |bf16 − fp32| / max |fp32|) above which the bf16 result is wrong, not rounded: bf16 keeps
#: 8 bits of mantissa, so a sound 128-channel 4×4 convolution stays below ~1e-2; the defect gives ~1 or inf
FAULT_REL_ERROR = 0.1


@lru_cache(maxsize=1)
def bf16_conv_fault() -> str | None:
    """``None`` when bf16 convolutions under CPU autocast compute the probe's shapes right; else one line naming
    the first wrong shape and its error (cached: the answer is the process's kernels')."""
    gen = torch.Generator().manual_seed(0)
    for h, w, k, s, p in PROBE_SHAPES:
        x = torch.randn(4, 128, h, w, generator=gen)
        weight = torch.randn(128, 128, k, k, generator=gen) / (128 * k * k) ** 0.5
        with torch.no_grad():
            ref = F.conv2d(x, weight, stride=s, padding=p)
            for _ in range(3):  # the wrong values vary from call to call
                with torch.autocast("cpu", dtype=torch.bfloat16):
                    got = F.conv2d(x, weight, stride=s, padding=p).float()
                err = float((got - ref).nan_to_num(nan=float("inf")).abs().max() / ref.abs().max())
                if not err <= FAULT_REL_ERROR:
                    oh, ow = ref.shape[-2:]
                    return (f"bf16 convolution {h}x{w} -> {oh}x{ow} (kernel {k}, stride {s}) is wrong on this CPU: relative "
                            f"error {err:.3g} against fp32")
    return None


def _pair(v: Any) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[-1]))


def _narrow_transposed(args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    """Whether a ``conv_transpose2d(input, weight, bias, stride, ...)`` call has a stride above 1 and an input one
    pixel wide or high: its gradient with respect to the input is the faulty strided convolution."""
    x = args[0]
    stride = kwargs.get("stride", args[3] if len(args) > 3 else 1)
    return torch.is_tensor(x) and x.dim() >= 3 and max(_pair(stride)) > 1 and min(x.shape[-2:]) == 1


def _narrow_strided(args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    """Whether a ``conv2d(input, weight, bias, stride, padding, dilation, groups)`` call has a stride above 1 and an
    output one pixel wide or high."""
    x, weight = args[0], args[1]
    stride = kwargs.get("stride", args[3] if len(args) > 3 else 1)
    padding = kwargs.get("padding", args[4] if len(args) > 4 else 0)
    dilation = kwargs.get("dilation", args[5] if len(args) > 5 else 1)
    if not torch.is_tensor(x) or x.dim() < 3 or isinstance(padding, str):
        return False
    (sh, sw), (ph, pw), (dh, dw) = _pair(stride), _pair(padding), _pair(dilation)
    if max(sh, sw) <= 1:
        return False
    kh, kw = weight.shape[-2:]
    oh = (x.shape[-2] + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    ow = (x.shape[-1] + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    return min(oh, ow) == 1


class NarrowConvsInFp32(TorchFunctionMode):
    """Inside CPU bf16 autocast, run in fp32 the 2-D convolutions whose strided output is one pixel wide or high, and
    the transposed ones whose strided input is (their backward is such a convolution)
    (autocast off for that call; the result is cast back to bf16 so the next layers see what autocast would have
    given them). Every other call passes through unchanged. See the module doc for why."""

    def __torch_function__(self, func: Any, types: Any, args: tuple[Any, ...] = (), kwargs: dict[str, Any] | None = None):
        kwargs = kwargs or {}
        narrow = (func is F.conv2d and _narrow_strided(args, kwargs)) or \
            (func is F.conv_transpose2d and _narrow_transposed(args, kwargs))
        if narrow and torch.is_autocast_enabled("cpu"):
            floated = tuple(a.float() if torch.is_tensor(a) and a.is_floating_point() else a for a in args)
            with torch.autocast("cpu", enabled=False):
                out = func(*floated, **kwargs)
            return out.to(torch.get_autocast_dtype("cpu"))
        return func(*args, **kwargs)


__all__ = ["FAULT_REL_ERROR", "NarrowConvsInFp32", "PROBE_SHAPES", "bf16_conv_fault"]
