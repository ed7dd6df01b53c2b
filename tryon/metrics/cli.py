"""``tryon eval``: metrics for a folder of generated images against a folder of real ones.

``configure`` imports no torch (``tryon --help`` stays fast); ``run`` does the work through
:func:`tryon.metrics.evaluate.evaluate_folders` and writes a JSON file with the protocol recorded.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..sizes import parse_size
from ..errors import InputError
from ..fs import atomic_write_text
from .protocol import FID_METHODS, FID_RESIZE_MODES, LPIPS_NETS, RESIZE_FILTERS, SSIM_CHANNELS, SSIM_PADDING, preset_names

EPILOG = """\
metrics: fid, kid, prdc (precision/recall/density/coverage), is, ssim, psnr, lpips, proxy-lpips, masked_l1.
Default: what the inputs allow (fid/kid/prdc with --features; ssim/psnr when paired; lpips with a backbone;
masked_l1 with --masks). Metrics on proxy features are reported as proxy-fid, proxy-kid, proxy-precision, ...
Protocols: tryon (default), catvton (512x384, clean-fid style, KID x1000, LPIPS squeeze), pfafn (256x192,
pytorch-fid style, pytorch-ssim, LPIPS vgg). See tryon/metrics/PROTOCOL.md.
examples:
  tryon eval --real gt/ --fake out/ --features inception:pt_inception-2015-12-05-6726825d.pth
  tryon eval --real gt/ --fake out/ --features proxy:train --proxy-steps 300 --out eval.json
  tryon eval --real test/ --fake unpaired_out/ --unpaired --features proxy:my_proxy/ --protocol pfafn
"""


def _configure(p: argparse.ArgumentParser) -> None:
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.epilog = EPILOG
    p.add_argument("--real", metavar="DIR", help="real / ground-truth images (reference set)")
    p.add_argument("--fake", metavar="DIR", help="generated images")
    p.add_argument("--pairs", metavar="FILE", help="'REAL FAKE' name per line for paired metrics (default: same file names)")
    p.add_argument("--unpaired", action="store_true", help="no ground truth for the generated images: distribution metrics only")
    p.add_argument("--masks", metavar="DIR", help="edit masks (1 = edited) named like the generated images, for masked_l1")
    p.add_argument("--metrics", metavar="LIST", help="comma-separated metric names (default: automatic)")
    p.add_argument("--features", metavar="SPEC", help="inception:PATH | proxy:PATH | proxy:train (train a proxy on --real now)")
    p.add_argument("--protocol", choices=preset_names(), default="tryon", help="preset protocol (default: tryon)")
    p.add_argument("--size", type=parse_size, metavar="HxW", help="evaluation resolution (default: protocol's, else the generated images')")
    p.add_argument("--resize", choices=RESIZE_FILTERS, help="PIL filter to reach --size")
    p.add_argument("--fid-resize", choices=FID_RESIZE_MODES, help="how images reach 299x299 for Inception")
    p.add_argument("--fid-method", choices=FID_METHODS, help="trace of the matrix square root: eigh (default) or sqrtm (pytorch-fid)")
    p.add_argument("--kid-subset-size", type=int, metavar="N", help="KID subset size (clamped to the smaller set)")
    p.add_argument("--kid-subsets", type=int, metavar="N", help="number of KID subsets")
    p.add_argument("--kid-scale", type=float, metavar="S", help="KID multiplier (1 raw, 1000 as in CatVTON tables)")
    p.add_argument("--prdc-k", type=int, metavar="K", help="k of the k-NN balls (default 5)")
    p.add_argument("--is-splits", type=int, metavar="N", help="Inception Score splits (default 10)")
    p.add_argument("--ssim", dest="ssim_channels", choices=SSIM_CHANNELS, help="SSIM on RGB (default) or grey")
    p.add_argument("--ssim-padding", choices=SSIM_PADDING,
                   help="valid (skimage), same-reflect (torchmetrics 1.9) or same-zero (pytorch-ssim)")
    p.add_argument("--lpips-net", choices=LPIPS_NETS, help="LPIPS backbone")
    p.add_argument("--lpips-backbone", metavar="PATH", help="torchvision ImageNet weights of the LPIPS backbone (local file)")
    p.add_argument("--batch-size", type=int, metavar="N", help="images per batch (default 50)")
    p.add_argument("--proxy-steps", type=int, default=300, metavar="N", help="training steps for --features proxy:train")
    p.add_argument("--proxy-out", metavar="DIR", help="where proxy:train saves the proxy (default: next to --out)")
    p.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: cuda when available)")
    p.add_argument("--seed", type=int, default=0, help="seed for KID subsets and proxy training")
    p.add_argument("--out", metavar="FILE", default="eval.json", help="JSON result (default: eval.json)")
    p.add_argument("--json", action="store_true", help="print the JSON result instead of the table")


def _run(args: argparse.Namespace) -> int:
    from .evaluate import evaluate_folders
    from .protocol import preset

    missing = [f"--{name}" for name in ("real", "fake") if not getattr(args, name)]
    if missing:
        raise InputError("tryon eval", "--real DIR and --fake DIR (or a plugin's verb: tryon eval VERB)",
                         f"no {' and no '.join(missing)}")

    proto = preset(
        args.protocol,
        size=args.size,
        resize_filter=args.resize,
        fid_resize=args.fid_resize,
        fid_method=args.fid_method,
        kid_subset_size=args.kid_subset_size,
        kid_subsets=args.kid_subsets,
        kid_scale=args.kid_scale,
        kid_seed=args.seed,
        prdc_k=args.prdc_k,
        is_splits=args.is_splits,
        ssim_channels=args.ssim_channels,
        ssim_padding=args.ssim_padding,
        lpips_net=args.lpips_net,
        batch_size=args.batch_size,
    )
    out = Path(args.out)
    metrics = [m for m in args.metrics.split(",") if m.strip()] if args.metrics else None
    proxy_out = args.proxy_out or str(out.with_suffix("")) + ".proxy"
    quiet = args.json
    result = evaluate_folders(
        args.real,
        args.fake,
        metrics=metrics,
        features=args.features,
        pairs=args.pairs,
        masks=args.masks,
        unpaired=args.unpaired,
        protocol=proto,
        lpips_backbone=args.lpips_backbone,
        device=args.device,
        proxy_out=proxy_out,
        proxy_steps=args.proxy_steps,
        seed=args.seed,
        log=None if quiet else (lambda s: print(s, file=sys.stderr)),
    )
    text = json.dumps(result, indent=2, allow_nan=False)
    atomic_write_text(out, text + "\n")
    if args.json:
        print(text)
    else:
        _print_table(result, out)
    return 0


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def _print_table(result: dict[str, Any], out: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    proto = result["protocol"]
    feats = result.get("features") or {}
    table = Table(title=f"tryon eval — {result['setting']}, {result['num_fake']} generated vs {result['num_real']} real")
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_column("notes")
    for name, value in result["metrics"].items():
        note = ""
        if name.startswith("proxy-"):
            note = "proxy features: not comparable with Inception"
        elif name in ("fid", "kid", "precision", "recall", "density", "coverage", "is") and feats:
            note = f"{feats.get('backbone', '')} sha256 {str(feats.get('sha256', ''))[:12]}"
        elif name == "lpips":
            d = result["details"].get("lpips", {})
            note = f"{d.get('net')} v{d.get('version')}"
        elif name == "ssim":
            note = f"{proto['ssim_channels']}, {proto['ssim_padding']}, gauss {proto['ssim_window']}/{proto['ssim_sigma']}"
        elif name.startswith("kid"):
            note = f"×{proto['kid_scale']:g}"
        table.add_row(name, _fmt(value), note)
    console = Console(width=max(100, Console().width))
    console.print(table)
    h, w = proto["resolution"]
    console.print(
        f"protocol {proto['name']}: {h}×{w} ({proto['resize_filter']}), Inception resize {proto['fid_resize']}, "
        f"KID {proto['kid_subset_size']}×{proto['kid_subsets']}, resized {proto['resized'] or 'none'}"
    )
    for k, why in result.get("skipped", {}).items():
        console.print(f"[yellow]skipped[/] {k}: {why}")
    console.print(f"wrote {out}")


def register_cli(app: Any) -> None:
    """Add the ``eval`` verb to the ``tryon`` CLI (called by :func:`tryon.cli.build_app`)."""
    app.add_command(
        "eval",
        help="quality metrics (FID, KID, PRDC, IS, SSIM, PSNR, LPIPS, masked L1) of generated vs real images",
        configure=_configure,
        run=_run,
    )
