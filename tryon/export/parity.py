"""Parity of an exported graph with its PyTorch module, by a criterion that holds on every CPU.

Why not a fixed bound. Two correct float32 implementations of one graph (torch eager, onnxruntime, OpenVINO)
differ by rounding, and how much depends on the kernels the CPU selects: accumulation order and FMA use
change between AVX2, AVX-512 and AMX code paths. A fixed ``max abs error ≤ 1e-4`` tuned on an AVX-512 CPU
refused a correct S-WUTON export on an AVX2-only EPYC (1.06e-4 on its 64×48 image output).

The criterion (:func:`fp32_parity`). The module is run once more in float64 (a deep copy, ``.double()``):
that output is the reference, exact to ~1e-16 for our purposes. torch's own float32 error against it,
``e_torch``, measures how much rounding this graph amplifies *on this machine, in this run*. The exported
model passes when, for every output,

    error vs float64  ≤  RATIO · e_torch  +  FLOOR_ULPS · eps32 · max(1, max |output|)

with ``e_torch`` and the error pooled (max) over every parity case of that output. Rationale: a second fp32
implementation of the same operations has rounding errors of the same order as the first — measured ratios
(exported error / torch's, pooled per output) were 1.0–1.3 on S-WUTON with AVX2 kernels and with torch held
to its scalar ``default`` kernels (``docs/portability.md``) — so :data:`RATIO` = 8 leaves a margin of about
6× over the worst ratio seen, and the floor (64 ulps of the output's scale, 7.6e-6 for images in
[-1, 1]) covers outputs that torch happens to compute almost exactly. A real export bug — a swapped input,
a wrong layout, a dropped op, a perturbed weight — moves outputs by 1e-3 to 1, orders of magnitude above
the bound (``tests/test_export_parity.py`` breaks graphs on purpose and checks that they fail).

Where a module cannot run in float64 (a custom op without a double kernel), the check falls back to
:data:`FALLBACK_TOLERANCE` · max(1, scale) against torch fp32 and the manifest says so (``criterion:
"fixed"``); an explicit ``tolerance`` does the same on request.

Reduced precision is judged by what a user sees: fp16 by its error against the float64 reference relative to
the output's scale (fp16 rounding does not depend on the ISA: ~11 significant bits on any CPU), int8 variants
(:func:`quantized_parity`) by SSIM against the fp32 model on the calibration images, real-looking inputs
rather than noise.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from ..errors import TryonError
from ..runtime import input_kind, input_norm, prepare_input
from .trace import root_cause

#: float32 machine epsilon (2^-23).
FP32_EPS = float(np.finfo(np.float32).eps)
#: Allowed ratio between the exported model's error and torch fp32's own error (both vs float64).
RATIO = 8.0
#: Floor of the bound, in float32 ulps of the output's scale (max(1, max |output|)).
FLOOR_ULPS = 64
#: Bound (× max(1, scale)) when no float64 reference exists: the pre-criterion default.
FALLBACK_TOLERANCE = 1e-4
#: Default bound of an fp16 variant: 5e-2 × max(1, scale) vs the float64 reference, i.e. 2.5 % of a [-1, 1]
#: image's range (6 grey levels of 255); measured 1e-3 – 1e-2 on the test models with the fp16 policy.
FP16_TOLERANCE = 5e-2


@dataclass
class ParityCase:
    """One parity input set: ``feeds`` (float32 arrays by input name), torch fp32 outputs ``ref`` and, when
    the module runs in double, the float64 outputs ``ref64``."""

    batch: int
    kind: str
    feeds: dict[str, np.ndarray]
    ref: list[np.ndarray]
    ref64: list[np.ndarray] | None


class Reference:
    """torch fp32 and float64 outputs of ``module`` on parity inputs (``case``). The float64 copy is made
    once; if it fails on the first case, every case goes without it and :attr:`float64_reason` says why."""

    def __init__(self, module: Any, out_names: Sequence[str], outputs_of: Callable[[Any, Sequence[str]], list[Any]]) -> None:
        self.module = module
        self.out_names = list(out_names)
        self._outputs_of = outputs_of
        self.float64_reason: str | None = None
        try:
            self.module64 = copy.deepcopy(module).double().eval()
        except Exception as exc:  # noqa: BLE001 - any failure → no float64 reference, recorded
            self.module64, self.float64_reason = None, root_cause(exc)
        self.cases: list[ParityCase] = []

    def case(self, batch: int, kind: str, inputs: dict[str, Any]) -> ParityCase:
        import torch

        with torch.inference_mode():
            ref = [t.detach().float().cpu().numpy() for t in self._outputs_of(self.module(*inputs.values()), self.out_names)]
            ref64 = None
            if self.module64 is not None:
                try:
                    args = [v.double() if torch.is_floating_point(v) else v for v in inputs.values()]
                    ref64 = [t.detach().double().cpu().numpy() for t in self._outputs_of(self.module64(*args), self.out_names)]
                except Exception as exc:  # noqa: BLE001
                    self.module64 = None
                    self.float64_reason = root_cause(exc)
                    for c in self.cases:
                        c.ref64 = None
        c = ParityCase(int(batch), kind, {k: v.numpy() for k, v in inputs.items()}, ref, ref64)
        self.cases.append(c)
        return c


# parity inputs: random draws in each input's range, and user images (check_inputs) batched
def random_like(example: dict[str, Any], norm: dict[str, Any], spec_shapes: dict[str, list], gen: Any) -> dict[str, Any]:
    import torch

    out = {}
    for name, t in example.items():
        if not torch.is_floating_point(t):
            out[name] = t
            continue
        kind = input_kind({"name": name, "shape": spec_shapes[name]}, norm)
        n = input_norm(norm, name)
        if kind == "mask" and "range" not in n:
            out[name] = (torch.rand(t.shape, generator=gen) > 0.5).to(t.dtype)
        else:
            lo, hi = n.get("range", [-1.0, 1.0]) if "mean" not in n else (-2.0, 2.0)
            out[name] = (torch.rand(t.shape, generator=gen) * (hi - lo) + lo).to(t.dtype)
    return out


def check_tensors(check_inputs: dict[str, Any], names: list[str], shapes: dict[str, list], resolution: list[int],
                   norm: dict[str, Any], batch: int) -> dict[str, Any]:
    """``check_inputs`` (``{name: tensor | image | list of images}``) → ``batch`` items per input (cycled)."""
    import torch

    missing = [n for n in names if n not in check_inputs]
    if missing:
        raise TryonError(f"check_inputs: missing {missing} (the component takes {names})")
    manifest_like = {"resolution": resolution, "normalisation": norm}
    out = {}
    for name in names:
        v = check_inputs[name]
        if torch.is_tensor(v):
            t = v.detach().float().cpu()
            t = t[None] if t.ndim == len(shapes[name]) - 1 else t
        else:
            items = list(v) if isinstance(v, (list, tuple)) else [v]
            arr, *_ = prepare_input(items, {"name": name, "shape": shapes[name]}, manifest_like)
            t = torch.from_numpy(arr)
        idx = [i % t.shape[0] for i in range(batch)]
        out[name] = t[idx]
    return out




def compare(got: Sequence[np.ndarray], ref: Sequence[np.ndarray], out_names: Sequence[str], where: str) -> dict[str, float]:
    """Per-output max abs error of ``got`` vs ``ref``; a shape mismatch or a non-finite value is an error."""
    errs = {}
    for name, o, r in zip(out_names, got, ref):
        o = np.asarray(o, dtype=np.float64)
        if o.shape != r.shape:
            raise TryonError(f"parity check ({where}): output {name!r} has shape {list(o.shape)} in the exported model "
                             f"but {list(r.shape)} in PyTorch")
        if not np.isfinite(o).all():
            raise TryonError(f"parity check ({where}): output {name!r} has non-finite values in the exported model")
        errs[name] = float(np.max(np.abs(o - r))) if o.size else 0.0
    return errs


def summarise(cases: list[dict[str, Any]], provider: str, reference: str) -> dict[str, Any]:
    """``{"reference", "provider", "max_abs_error", "by_batch", "by_output"}`` of per-case error dicts."""
    by_batch: dict[str, dict[str, float]] = {}
    by_output: dict[str, float] = {}
    for c in cases:
        e = max(c["errors"].values())
        by_batch.setdefault(str(c["batch"]), {})[c["inputs"]] = e
        for k, v in c["errors"].items():
            by_output[k] = max(by_output.get(k, 0.0), v)
    return {
        "reference": reference,
        "provider": provider,
        "max_abs_error": max(by_output.values()) if by_output else 0.0,
        "by_batch": by_batch,
        "by_output": by_output,
    }


def _scale(arrays: Sequence[np.ndarray]) -> float:
    return max((float(np.max(np.abs(a))) for a in arrays if a.size), default=0.0)


def fp32_parity(cases: Sequence[ParityCase], outputs: Sequence[Sequence[np.ndarray]], out_names: Sequence[str], *,
                where: str, label: str, provider: str, float64_reason: str | None = None,
                tolerance: float | None = None) -> dict[str, Any]:
    """Check a float32 candidate (``outputs[i]`` for ``cases[i]``) by the module doc's criterion; returns the
    parity record of the manifest, raises :class:`TryonError` naming the output, the numbers and the worst
    case when it fails. ``tolerance``: a fixed bound (× max(1, scale), vs torch fp32) instead of the criterion."""
    out_names = list(out_names)
    per_case = []
    for c, got in zip(cases, outputs):
        per_case.append({"batch": c.batch, "inputs": c.kind, "errors": compare(got, c.ref, out_names, f"{where} {label}, batch "
                                                                                                    f"{c.batch}, {c.kind} inputs")})
    record = summarise(per_case, provider, "torch eager fp32 (CPU)")
    have64 = tolerance is None and all(c.ref64 is not None for c in cases)
    bounds: dict[str, float] = {}
    if have64:
        err64: dict[str, float] = {}
        torch_err: dict[str, float] = {}
        worst_case: dict[str, tuple[int, str]] = {}
        for i, name in enumerate(out_names):
            for c, got in zip(cases, outputs):
                e = float(np.max(np.abs(np.asarray(got[i], np.float64) - c.ref64[i]))) if c.ref64[i].size else 0.0
                if e >= err64.get(name, -1.0):
                    err64[name], worst_case[name] = e, (c.batch, c.kind)
                torch_err[name] = max(torch_err.get(name, 0.0), float(np.max(np.abs(c.ref[i] - c.ref64[i]))) if c.ref64[i].size else 0.0)
            scale = max(1.0, _scale([c.ref64[i] for c in cases]))
            bounds[name] = RATIO * torch_err[name] + FLOOR_ULPS * FP32_EPS * scale
        record.update({
            "criterion": "float64",
            "rule": f"error vs float64 <= {RATIO:g} x torch fp32's own error vs float64 + {FLOOR_ULPS} ulp x max(1, |output|)",
            "error_vs_float64": err64, "torch_fp32_error": torch_err, "bound": bounds,
            "margin": min((bounds[n] / err64[n] for n in out_names if err64[n] > 0), default=float("inf")),
        })
        for name in out_names:
            if err64[name] > bounds[name]:
                b, kind = worst_case[name]
                raise TryonError(
                    f"{where}: {label} parity failed: output {name!r} differs from the float64 reference by {err64[name]:.3g} > "
                    f"bound {bounds[name]:.3g} ({RATIO:g} x torch fp32's own error {torch_err[name]:.3g} + {FLOOR_ULPS} ulp of the "
                    f"output scale; worst at batch {b}, {kind} inputs): the exported graph computes something else")
    else:
        tol = FALLBACK_TOLERANCE if tolerance is None else float(tolerance)
        for i, name in enumerate(out_names):
            bounds[name] = tol * max(1.0, _scale([c.ref[i] for c in cases]))
        record.update({
            "criterion": "fixed",
            "rule": f"max abs error vs torch fp32 <= {tol:g} x max(1, |output|)"
                    + (f" (no float64 reference: {float64_reason})" if tolerance is None else " (tolerance given)"),
            "bound": bounds,
            "margin": min((bounds[n] / record["by_output"][n] for n in out_names if record["by_output"][n] > 0), default=float("inf")),
        })
        for c in per_case:
            for name, e in c["errors"].items():
                if e > bounds[name]:
                    raise TryonError(f"{where}: {label} parity failed: output {name!r} max abs error {e:.3g} > {bounds[name]:.3g} "
                                     f"(batch {c['batch']}, {c['inputs']} inputs; {record['rule']})")
    return record


def reduced_parity(cases: Sequence[ParityCase], outputs: Sequence[Sequence[np.ndarray]], out_names: Sequence[str], *,
                   where: str, label: str, provider: str, tolerance: float = FP16_TOLERANCE) -> dict[str, Any]:
    """A reduced-precision (fp16) candidate: max abs error vs the float64 reference (torch fp32 where there is
    none) ≤ ``tolerance`` × max(1, scale) per output. Rounding to 11 bits dominates and does not depend on the
    ISA, so a bound relative to the output's scale is portable."""
    out_names = list(out_names)
    per_case = []
    for c, got in zip(cases, outputs):
        ref = c.ref64 if c.ref64 is not None else c.ref
        per_case.append({"batch": c.batch, "inputs": c.kind, "errors": compare(got, ref, out_names, f"{where} {label}")})
    use64 = all(c.ref64 is not None for c in cases)
    record = summarise(per_case, provider, "torch float64 (CPU)" if use64 else "torch eager fp32 (CPU)")
    bounds = {n: float(tolerance) * max(1.0, _scale([(c.ref64 if use64 else c.ref)[i] for c in cases])) for i, n in enumerate(out_names)}
    record.update({"criterion": "scale-relative", "rule": f"max abs error <= {tolerance:g} x max(1, |output|)", "bound": bounds})
    for name, e in record["by_output"].items():
        if e > bounds[name]:
            raise TryonError(f"{where}: {label} parity failed: output {name!r} max abs error {e:.3g} > {bounds[name]:.3g} "
                             f"({record['rule']}; export without it, or raise its tolerance)")
    return record


def image_outputs(manifest: dict[str, Any]) -> list[str]:
    """Outputs that are images (``B×C×H×W`` with 1 or 3 channels, at least 11×11 for SSIM's window)."""
    names = []
    for o in manifest["outputs"]:
        s = o["shape"]
        if len(s) == 4 and s[1] in (1, 3) and all(isinstance(d, int) and d >= 11 for d in s[2:]):
            names.append(o["name"])
    return names


def ssim_vs(got: np.ndarray, ref: np.ndarray, value_range: Sequence[float]) -> float:
    """Mean SSIM (the project's metric, :func:`tryon.metrics.ssim.ssim`) of ``got`` vs ``ref`` (``B×C×H×W``)."""
    import torch

    from ..metrics.ssim import ssim

    a, b = torch.from_numpy(np.asarray(got, np.float32)), torch.from_numpy(np.asarray(ref, np.float32))
    lo, hi = float(value_range[0]), float(value_range[1])
    return float(ssim(a.clamp(lo, hi), b.clamp(lo, hi), value_range=(lo, hi)))


def output_range(manifest: dict[str, Any], name: str) -> Sequence[float]:
    """The value range of an output: ``normalisation[name]["range"]`` when declared, else [-1, 1]."""
    return input_norm(manifest.get("normalisation", {}), name).get("range", [-1.0, 1.0])


def random_feeds(manifest: dict[str, Any], batch: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Uniform random float32 feeds in each input's declared range (``[-1, 1]`` by default)."""
    feeds = {}
    for spec in manifest["inputs"]:
        shape = [batch if not isinstance(d, int) else d for d in spec["shape"]]
        n = input_norm(manifest["normalisation"], spec["name"])
        lo, hi = n.get("range", [-1.0, 1.0]) if "mean" not in n else (-2.0, 2.0)
        feeds[spec["name"]] = rng.uniform(lo, hi, size=shape).astype(np.float32)
    return feeds


def quantized_parity(fp32_session: Any, run_quantized: Callable[[dict[str, np.ndarray]], list[np.ndarray]],
                     manifest: dict[str, Any], items: list[dict[str, np.ndarray]], parity_batches: Sequence[int], seed: int,
                     label: str, provider: str, min_ssim: float | None = None) -> dict[str, Any]:
    """A quantised model vs the fp32 ONNX model (onnxruntime CPU). Max and mean abs errors on random inputs and
    on calibration inputs at each batch of ``parity_batches`` (informative: int8 error on noise says little), and
    the figure a user judges it by: the SSIM of every image output over all the calibration inputs (real-looking
    images), ``ssim`` per output and ``min_ssim``. ``min_ssim``: refuse (:class:`TryonError`) below it."""
    out_names = [o["name"] for o in manifest["outputs"]]
    rng = np.random.default_rng(seed)
    cases = []
    for b in parity_batches:
        calibration = {k: np.concatenate([items[i % len(items)][k] for i in range(int(b))], 0)[: int(b)] for k in items[0]}
        for kind, feeds in (("random", random_feeds(manifest, int(b), rng)), ("calibration", calibration)):
            ref = [np.asarray(r, np.float32) for r in fp32_session.run(None, feeds)]
            got = [np.asarray(g, np.float32) for g in run_quantized(feeds)]
            errs = compare(got, ref, out_names, f"{label}, batch {b}, {kind} inputs")
            mean = {n: float(np.mean(np.abs(g - r))) for n, g, r in zip(out_names, got, ref)}
            cases.append({"batch": int(b), "inputs": kind, "errors": errs, "mean": mean})
    parity = summarise(cases, provider, "fp32 ONNX model (onnxruntime CPU)")
    parity["mean_abs_error"] = max(max(c["mean"].values()) for c in cases)
    images = image_outputs(manifest)
    scores: dict[str, float] = {}
    for i, name in enumerate(out_names):
        if name not in images:
            continue
        got_all, ref_all = [], []
        for item in items:
            ref_all.append(np.asarray(fp32_session.run(None, item)[i], np.float32))
            got_all.append(np.asarray(run_quantized(item)[i], np.float32))
        scores[name] = ssim_vs(np.concatenate(got_all), np.concatenate(ref_all), output_range(manifest, name))
    parity["ssim"] = scores
    parity["min_ssim"] = min(scores.values()) if scores else None
    parity["ssim_inputs"] = f"{len(items)} calibration inputs" if scores else "no image output"
    if min_ssim is not None and parity["min_ssim"] is not None and parity["min_ssim"] < min_ssim:
        worst = min(scores, key=scores.get)
        raise TryonError(f"{label}: SSIM of output {worst!r} vs the fp32 model is {scores[worst]:.4f} < {min_ssim:g} on "
                         f"{len(items)} calibration inputs (quantise with more/other calibration data or keep more layers float)")
    return parity


__all__ = ["check_tensors", "random_like",
           "FALLBACK_TOLERANCE", "FLOOR_ULPS", "FP16_TOLERANCE", "FP32_EPS", "ParityCase", "RATIO", "Reference", "compare",
           "fp32_parity", "image_outputs", "output_range", "quantized_parity", "random_feeds", "reduced_parity", "ssim_vs",
           "summarise"]
