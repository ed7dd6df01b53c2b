"""Iterative torch pipelines behind the Open Inference Protocol: EdiBERT inpainting / compositing / denoising and
GAN-inversion editing as v2 models, each request with a step budget and a deadline.

``tryon serve --pipeline NAME=TASK:WEIGHTS_DIR`` (or ``create_app(pipelines={name: "TASK:WEIGHTS_DIR" or a
Pipeline})``) loads the pipeline with :func:`tryon.load` — torch is imported then, and only then: a server
without ``--pipeline`` never imports it. Inputs are the task's ``TaskSpec.inputs`` (``mask`` is a mask, the others
images), the output its first ``TaskSpec.outputs``; images are decoded by the same bounded decoder as the
exports' and the output has the size of the first input.

**Bounded cost.** These tasks loop (token sampling, latent optimisation), so a request carries

* ``steps`` (request parameter, default per task, at most ``max_steps`` = ``--max-steps``, 400 beyond): the
  task's iterations — EdiBERT inpainting / compositing: the MaskGIT sampler's steps per pass (two passes, no
  latent optimisation); EdiBERT denoising: the resampling steps; GAN inversion: the optimisation steps of the
  pipeline's inversion method. The planned model forwards (:attr:`TaskAdapter.forwards`) are a hard budget;
* ``timeout`` (request parameter in microseconds, Triton's name; ``InferenceServerClient.infer(timeout=)``):
  the deadline from the request's arrival, at most ``max_deadline_s`` = ``--max-deadline`` (the default).

Both are enforced at every model forward (a forward pre-hook on the module one step runs: EdiBERT's
``transformer``, the GAN's ``generator``): past the deadline the run stops and the request gets 504 (counted as
``tryon_serve_rejected_total{reason="deadline"}``); a run that would exceed its planned forwards stops with a
500. One request at a time runs a given pipeline (a lock, inside the app's slot gate).
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from ..errors import TryonError
from .handling import HTTPError
from .oip import InferRequest, OIPError
from .oip_models import Job, OIPModel, int_param

#: pixels an upload may decode to when no --max-pixels is given (these pipelines work at the input's size)
DEFAULT_PIXELS = 2**22


def _edibert_edit(pipe: Any, inputs: dict[str, list], steps: int, seed: int) -> Any:
    return pipe(**inputs, sampler="maskgit", sampler_options={"steps": steps}, optim_steps=0, seed=seed)


def _edibert_denoise(pipe: Any, inputs: dict[str, list], steps: int, seed: int) -> Any:
    return pipe(**inputs, steps=steps, seed=seed).image


def _gan_edit(pipe: Any, inputs: dict[str, list], steps: int, seed: int) -> Any:
    return pipe(**inputs, steps=steps, seed=seed)


@dataclass(frozen=True)
class TaskAdapter:
    """How one task is served: the module whose forward is one model step, the default ``steps``, the forwards
    ``steps`` may take at most (counted: EdiBERT MaskGIT 2 passes × steps; denoising steps + 1 likelihood pass;
    GAN inversion 1 per optimisation step (the hybrid objective's two terms share one generator pass) + the final
    decode + 2 shape probes), and the call."""

    module: str
    default_steps: int
    min_steps: int
    forwards: Callable[[int], int]
    call: Callable[[Any, dict[str, list], int, int], Any]
    steps_mean: str


_EDIT = TaskAdapter("transformer", 8, 1, lambda s: 2 * s, _edibert_edit, "MaskGIT steps per pass (2 passes)")
_GAN = TaskAdapter("generator", 100, 0, lambda s: s + 3, _gan_edit, "inversion optimisation steps")
ADAPTERS: dict[str, TaskAdapter] = {
    "edibert-inpaint": _EDIT,
    "edibert-composite": _EDIT,
    "edibert-crossover": _EDIT,
    "edibert-denoise": TaskAdapter("transformer", 50, 1, lambda s: s + 1, _edibert_denoise, "resampling steps"),
    "gan-inpaint": _GAN,
    "gan-composite": _GAN,
    "gan-crossover": _GAN,
}


def parse_pipeline_specs(specs: list[str] | tuple[str, ...]) -> dict[str, str]:
    """CLI ``--pipeline NAME=TASK:WEIGHTS_DIR`` values → ``{name: "TASK:WEIGHTS_DIR"}`` (names unique)."""
    out: dict[str, str] = {}
    for spec in specs:
        name, eq, rest = str(spec).partition("=")
        task, colon, weights = rest.partition(":")
        if not eq or not colon or not name.strip() or not task.strip() or not weights.strip():
            raise TryonError(f"--pipeline {spec!r}: expected NAME=TASK:WEIGHTS_DIR (a weights folder of the task, "
                             f"written by save_pretrained or a training run); tasks: {', '.join(ADAPTERS)}")
        if name in out:
            raise TryonError(f"--pipeline: the name {name!r} is used twice")
        out[name.strip()] = f"{task.strip()}:{weights.strip()}"
    return out


class StepGuard:
    """The budget of one run: at most ``max_forwards`` forwards of the step module, none after ``deadline``
    (:func:`time.monotonic`)."""

    def __init__(self, max_forwards: int, deadline: float, deadline_s: float, steps: int):
        self.max_forwards, self.deadline, self.deadline_s, self.steps = max_forwards, deadline, deadline_s, steps
        self.forwards = 0

    def tick(self) -> None:
        if time.monotonic() > self.deadline:
            raise HTTPError(504, f"deadline exceeded: the request's {self.deadline_s:g} s (parameters.timeout, at most "
                                 f"the server's --max-deadline) ran out after {self.forwards} model forwards of at most "
                                 f"{self.max_forwards} (steps={self.steps}); ask for fewer steps or a longer timeout",
                            reason="deadline")
        self.forwards += 1
        if self.forwards > self.max_forwards:
            raise HTTPError(500, f"step budget exceeded: the pipeline ran more than the {self.max_forwards} model "
                                 f"forwards planned for steps={self.steps}; stopped")


class PipelineModel(OIPModel):
    """A torch pipeline of one of :data:`ADAPTERS`' tasks as a v2 model."""

    parameters = ("steps", "timeout", "seed")

    def __init__(self, name: str, pipeline: Any, *, task: str | None = None, max_pixels: int | None = None,
                 max_batch: int = 8, max_steps: int = 300, max_deadline_s: float = 60.0, device: str = "cpu"):
        from ..plugins import tasks

        self.name = name
        if isinstance(pipeline, (str, os.PathLike)):
            task, _, weights = str(pipeline).partition(":")
            pipeline = self._load(task, weights, device)
        task = task or getattr(pipeline, "task", None)
        if task not in ADAPTERS:
            raise TryonError(f"pipeline {name!r}: task {task!r} is not served; tryon serve serves the iterative "
                             f"tasks {', '.join(ADAPTERS)} (exports: --model)")
        spec = tasks().get(task)
        self.task, self.pipe, self.adapter = task, pipeline, ADAPTERS[task]
        self.platform = "pytorch"
        self.input_names = list(spec.inputs)
        self.kinds = {n: "mask" if n == "mask" else "image" for n in self.input_names}
        self.output_name = spec.outputs[0]
        self.max_pixels = int(max_pixels or DEFAULT_PIXELS)
        self.max_batch, self.max_steps, self.max_deadline_s = int(max_batch), int(max_steps), float(max_deadline_s)
        self.default_steps = min(self.adapter.default_steps, self.max_steps)
        self._lock = threading.Lock()
        self._guard: StepGuard | None = None
        module = getattr(pipeline, self.adapter.module, None)
        if module is None or not hasattr(module, "register_forward_pre_hook"):
            raise TryonError(f"pipeline {name!r} ({task}): no {self.adapter.module!r} module to count model steps on")
        module.register_forward_pre_hook(self._on_forward)

    @staticmethod
    def _load(task: str, weights: str, device: str) -> Any:
        import tryon

        if not weights or not os.path.isdir(weights):
            raise TryonError(f"--pipeline {task}:{weights}: no such weights folder (save_pretrained or a training run "
                             "writes one)")
        return tryon.load(task, weights=weights, device=device)

    def _on_forward(self, module: Any, args: Any) -> None:
        guard = self._guard
        if guard is not None:
            guard.tick()

    def extra_metadata(self) -> dict[str, Any]:
        return {"task": self.task, "steps": f"{self.adapter.steps_mean}; default {self.default_steps}, at most "
                f"{self.max_steps}", "timeout": f"microseconds; at most {self.max_deadline_s:g} s (the default)"}

    def bind_options(self, req: InferRequest, job: Job) -> None:
        p = req.parameters
        steps = int_param(p, "steps", self.default_steps, self.adapter.min_steps, self.max_steps,
                          " (the server's --max-steps)")
        timeout_us = p.get("timeout")
        deadline_s = self.max_deadline_s
        if timeout_us is not None:
            if isinstance(timeout_us, bool) or not isinstance(timeout_us, int) or timeout_us <= 0:
                raise OIPError(f"parameters.timeout: expected a positive number of microseconds, got {timeout_us!r}")
            deadline_s = min(deadline_s, timeout_us / 1e6)
        job.options.update(steps=steps, seed=int_param(p, "seed", 0, 0, 2**31 - 1), deadline_s=deadline_s,
                           deadline=job.options["arrival"] + deadline_s)

    def decode_mask(self, mask: np.ndarray) -> np.ndarray:
        return mask.astype(np.float32)  # {0, 1}: the pipelines' masks

    def run(self, job: Job) -> tuple[list[np.ndarray], dict[str, float]]:
        o = job.options
        a = time.perf_counter()
        arrays = self.decode(job)
        b = time.perf_counter()
        guard = StepGuard(self.adapter.forwards(o["steps"]), o["deadline"], o["deadline_s"], o["steps"])
        with self._lock:
            guard.tick()  # a request whose deadline passed while it waited does not start
            guard.forwards = 0
            self._guard = guard
            try:
                out = self.adapter.call(self.pipe, arrays, o["steps"], o["seed"])
            finally:
                self._guard = None
        images = [np.ascontiguousarray(x, dtype=np.uint8) for x in (out if isinstance(out, list) else [out])]
        return images, {"decode": b - a, "infer": time.perf_counter() - b}


__all__ = ["PipelineModel", "TaskAdapter", "StepGuard", "ADAPTERS", "parse_pipeline_specs", "DEFAULT_PIXELS"]
