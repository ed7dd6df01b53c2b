"""``tryon eval edibert``: the verb's options (torch-free: ``tryon --help`` builds every parser) and a run that
imports :mod:`tryon_edibert.evaluate` when called."""

from __future__ import annotations

import argparse
from typing import Any


def _configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--weights", required=True, help="EdiBERT run folder (`tryon train edibert`, or DIR/edibert of "
                   "`tryon demo edibert --out DIR`)")
    p.add_argument("--data", required=True, help="image folder of held-out images")
    p.add_argument("--n", type=int, default=64, help="images to edit (default 64)")
    p.add_argument("--size", default=None, help="HxW (default: the training size recorded with the weights)")
    p.add_argument("--masks", choices=("free-form", "rect"), default="free-form")
    p.add_argument("--optim-steps", type=int, default=200, help="final latent optimisation steps (000 eq. 4.2.7)")
    p.add_argument("--proxy-steps", type=int, default=150, help="training steps of the proxy feature net")
    p.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    p.add_argument("--out", required=True, help="folder for results.json and report.html")
    p.add_argument("--device", default="cpu")


def _run(args: argparse.Namespace) -> int:
    from .evaluate import run_cli

    return run_cli(args)


def register_cli(app: Any) -> None:
    app.add_command("eval edibert", help="inpainting ablation (000 Table 4.2) and batched-sampler timing of an EdiBERT run",
                    configure=_configure, run=_run)
