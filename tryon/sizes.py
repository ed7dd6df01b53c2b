"""Image sizes written as text: ``"256x192"`` (H x W) — the one parser behind every ``--size`` / ``--sizes`` option
and every config field that holds a size (library code imports it from here, never from the CLI)."""

from __future__ import annotations

import argparse


def parse_size(text: str, minimum: int = 8) -> tuple[int, int]:
    """``"256x192"`` (H x W; ``×`` also accepted) → ``(256, 192)``, both sides ``>= minimum``.

    The one parser behind every ``--size``/``--sizes`` option; raises ``argparse.ArgumentTypeError`` so
    argparse reports it as a usage error naming the option.
    """
    parts = str(text).strip().lower().replace("×", "x").split("x")
    try:
        if len(parts) != 2:
            raise ValueError
        h, w = int(parts[0]), int(parts[1])
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected HxW like 256x192, got {text!r}") from None
    if h < minimum or w < minimum:
        raise argparse.ArgumentTypeError(f"expected H, W >= {minimum}, got {text!r}")
    return h, w


def parse_sizes(text: str, minimum: int = 8) -> list[tuple[int, int]]:
    """``"256x192,512x384"`` → ``[(256, 192), (512, 384)]`` (each checked by :func:`parse_size`)."""
    sizes = [parse_size(part, minimum) for part in str(text).split(",") if part.strip()]
    if not sizes:
        raise argparse.ArgumentTypeError(f"expected sizes like 256x192,512x384, got {text!r}")
    return sizes


__all__ = ["parse_size", "parse_sizes"]
