"""Exception hierarchy. Every error a user can cause derives from :class:`TryonError`; the CLI prints
its message on one line and exits non-zero (no traceback unless ``--debug``)."""

from __future__ import annotations


class TryonError(Exception):
    """Base class of every error ``tryon`` raises on purpose."""


class InputError(TryonError, ValueError):
    """An input (image, mask, file, folder, argument) is not what was expected.

    Messages name the input, what was expected and what was found.
    """

    def __init__(self, what: str, expected: str, found: str, hint: str | None = None):
        self.what, self.expected, self.found, self.hint = what, expected, found, hint
        msg = f"{what}: expected {expected}, got {found}"
        if hint:
            msg += f" ({hint})"
        super().__init__(msg)


class UnsupportedOptionError(InputError):
    """A command-line option (or config field) the task at hand cannot honour: refused in one line that names
    the flag, the task and why, never silently dropped."""

    def __init__(self, flag: str, task: str, why: str):
        self.what, self.expected, self.found, self.hint = flag, f"an option {task} honours", "it set", why
        self.flag, self.task, self.why = flag, task, why
        ValueError.__init__(self, f"{flag} is not supported by {task}: {why}")


class UnreadableImageError(InputError):
    """Bytes or file that no decoder can read (corrupt, truncated, not an image)."""


class ImageSizeError(InputError):
    """Zero-sized image, image over the pixel limit, or sizes that must match and do not."""


class ImageModeError(InputError):
    """Image mode/dtype/layout that cannot be converted by the documented rules."""


class MaskError(InputError):
    """A mask that is not single-channel, not binary after thresholding, or of the wrong size."""


class DatasetError(InputError):
    """A dataset folder with a missing part, unmatched file names or wrongly encoded maps."""


class PluginError(TryonError):
    """A plugin could not be loaded or registered something invalid."""


class DuplicateNameError(PluginError):
    """Two plugins registered the same name."""


class UnknownNameError(TryonError, KeyError):
    """A task, dataset, sampler or metric name that no loaded plugin registered."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else ""


class WeightsError(TryonError):
    """A weights directory or checkpoint that is missing, incomplete or does not fit the model."""


class ProviderError(TryonError):
    """An ONNX Runtime execution provider was requested but is not the one running."""
