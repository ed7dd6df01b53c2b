"""Helpers for the tests of a plugin (first- or third-party): a stand-in for the trainer a training step receives, the
check that an editing pipeline keeps the user's pixels outside its mask, a study's re-render from its results, and a
torch thread count held for a block.

Plain functions and classes (no pytest fixture): ``from tryon.testing import StepTrainer, assert_pasted_back``.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np


class StepTrainer:
    """The members of :class:`tryon.train.Trainer` that a training step uses — ``modules``, ``optimizers``, ``step``,
    ``device``, ``unwrap``, ``autocast``, ``backward``, ``optimizer_step`` — without a run folder, precision or
    process group, so that a step (``step(trainer, batch) -> logs``) can be tested on its own. ``optimizer_step``
    takes an optimizer or its name; ``None`` for an optimizer the step must not use (stepping it raises)."""

    def __init__(self, modules: Mapping[str, Any], optimizers: Mapping[str, Any] | None = None, *, step: int = 0,
                 device: Any = "cpu") -> None:
        import torch

        self.modules = dict(modules)
        self.optimizers = dict(optimizers or {})
        self.step = int(step)
        self.device = torch.device(device)

    def unwrap(self, name: str) -> Any:
        return self.modules[name]

    def autocast(self) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()

    def backward(self, loss: Any) -> None:
        loss.backward()

    def optimizer_step(self, optimizer: Any, clip: bool = True) -> None:
        opt = self.optimizers[optimizer] if isinstance(optimizer, str) else optimizer
        if opt is None:
            raise AssertionError(f"the step used optimizer {optimizer!r}, which this test declared unused")
        opt.step()


def seam_regions(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(far, band)`` of an ``H×W`` mask (non-zero = edited): the pixels beyond the default seam
    (:func:`tryon.compose.seam_width` either side) and the band between the seam's outer edge and the mask."""
    import torch

    from tryon.compose import seam_width
    from tryon.geometry.masks import dilate

    edited = torch.from_numpy(np.asarray(mask) > 0).float()
    far = (dilate(edited, 2 * seam_width() + 1) == 0).numpy()
    return far, ~far & (np.asarray(mask) == 0)


def assert_pasted_back(source: np.ndarray, out: np.ndarray, raw: np.ndarray, mask: np.ndarray) -> None:
    """The paste-back contract of an editing pipeline (000 §4.2.4.2, î ⊙ (1 − m) = i ⊙ (1 − m)) on ``H×W×3`` uint8
    arrays: ``out`` (pasted) equals ``source`` beyond the seam, ``raw`` (``paste=False``) does not; inside the mask
    ``out`` is the decode; in the seam band ``out`` lies between source and decode (±1 for the one uint8 rounding)
    and is a blend somewhere, not a hard cut."""
    far, band = seam_regions(mask)
    edited = np.asarray(mask) > 0
    assert out.dtype == np.uint8 and out.shape == source.shape, (out.dtype, out.shape, source.shape)
    assert np.array_equal(out[far], source[far]), "pixels beyond the seam changed"
    assert not np.array_equal(raw[far], source[far]), "the raw decode equals the source: nothing was decoded"
    assert np.array_equal(out[edited], raw[edited]), "inside the mask the output is not the decode"
    lo = np.minimum(source, raw)[band].astype(int)
    hi = np.maximum(source, raw)[band].astype(int)
    got = out[band].astype(int)
    assert np.all((got >= lo - 1) & (got <= hi + 1)), "the seam band leaves the source–decode interval"
    assert np.any((got != source[band]) & (got != raw[band])), "the seam is a hard cut, not a blend"


@contextlib.contextmanager
def torch_threads(n: int = 1) -> Any:
    """Hold torch's intra-op thread count at ``n`` for the block and restore it after. Tiny test models run as fast on
    one thread, and CI's 2 cores are shared: oversubscribed OpenMP threads slow every job many-fold."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def rerender(out: str | Path, main: Callable[[list[str]], int], verb: Sequence[str],
             keep: Sequence[str] = ()) -> tuple[list[str], list[str]]:
    """Re-render a study's report from its results alone: remove everything under ``out`` but ``results.json`` and
    ``keep`` (the images the computation saved), run ``main([*verb, "--render-only", "--out", OUT])`` (e.g. the
    ``tryon`` command line's ``tryon.cli.main``) and return the lines of ``report.md`` after its title and date line,
    ``(before, after)``, for the caller to compare. Make the study's ``compute`` raise first (``monkeypatch``), so
    that a re-render that computes fails."""
    import shutil

    out = Path(out)
    before = (out / "report.md").read_text().splitlines()[3:]
    for p in out.iterdir():
        if p.name not in ("results.json", *keep):
            shutil.rmtree(p) if p.is_dir() else p.unlink()
    code = main([*verb, "--render-only", "--out", str(out)])
    if code != 0:
        raise AssertionError(f"{' '.join(verb)} --render-only exited {code}")
    if not (out / "report.html").is_file():
        raise AssertionError(f"{out}: --render-only wrote no report.html")
    return before, (out / "report.md").read_text().splitlines()[3:]


__all__ = ["StepTrainer", "assert_pasted_back", "rerender", "seam_regions", "torch_threads"]
