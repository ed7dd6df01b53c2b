"""004's loss ordering with the DCGAN-style conv pair: does collapse, not the loss, decide it — and with batch norm in G?

    .venv/bin/python benchmarks/gan_conv_digits.py --out docs/results/gan-conv-digits [--budget tiny]

004 ranks SAN < hinge < vanilla < WGAN in FID with a DCGAN on 28×28 MNIST. Here: scikit-learn's digits upsampled to
16×16 (the closest size that CPU minutes allow), the GAN plugin's ``ConvGenerator``/``ConvDiscriminator`` (base 16,
latent 32, batch 64, Adam(0.5, 0.9) lr 2e-4), each loss trained ``steps`` steps per seed; "wgan" is the plugin's
weight-clipped WGAN, the seed's unmodified one. Each run once with the generator as it was (``g_norm="none"``) and
once with batch norm after its hidden convolutions (``g_norm="batch"``, DCGAN's generator). Reported per run: the
proxy-FID and precision/recall in the features of the digit classifier the toy benchmark trains
(``tryon_gan.experiments.toys``, at 8×8: samples are resized back), and the collapse measure — the per-pixel
standard deviation across 500 samples against the data's (a generator that draws one image scores 0). Writes
``results.json``, ``table.md`` and a grid of samples per loss (seed 0).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from tryon.study import Study, machine_summary, script

NAME = "gan-conv-digits"
BUDGETS = {
    "tiny": {"steps": 2, "n": 64, "seeds": [0], "losses": ["nonsaturating", "hinge"], "size": 16, "g_norms": ["none", "batch"]},
    "default": {"steps": 3000, "n": 500, "seeds": [0, 1], "losses": ["san", "hinge", "nonsaturating", "wgan"],
                "size": 16, "g_norms": ["none", "batch"]},
}


def compute(study: Study, args: argparse.Namespace) -> None:
    import torch
    import torch.nn.functional as F
    from tryon.data import DigitsDataset
    from tryon.metrics.fid import fid
    from tryon.metrics.prdc import prdc
    from tryon.report import grid_image
    from tryon_gan.data import DigitsData
    from tryon_gan.experiments.toys import digit_features, quiet_loop
    from tryon_gan.training import GAN_LOOP, GANTaskConfig, train_gan

    s = study.settings(args)
    torch.set_num_threads(2)
    size = int(s["size"])

    class Digits(DigitsDataset):
        """The digits at ``size``×``size``, with the sampling the GAN plugin's data classes offer."""

        kind = "images"

        def __init__(self) -> None:
            super().__init__(size=(size, size), channels=1, split="all", seed=0)
            self.name = f"digits{size}"

        def has_oracle(self) -> bool:
            return False

        def sample(self, n: int, seed: int = 0) -> Any:
            g = torch.Generator().manual_seed(int(seed))
            return torch.stack([self[int(i)] for i in torch.randint(len(self), (n,), generator=g)])

    data, small = Digits(), DigitsData()
    real_big = data.sample(s["n"], seed=1)
    data_std = float(real_big.std(0).mean())
    rows, grids, titles = [], [], []
    for seed in s["seeds"]:
        feat = digit_features(small, seed)
        real = feat(small.sample(s["n"], seed=seed + 1))
        for g_norm in s["g_norms"]:
            for loss in s["losses"]:
                run = study.out / "runs" / (f"{loss}-{seed}" + ("" if g_norm == "none" else f"-{g_norm}"))
                with study.section(f"{loss} g_norm {g_norm} seed {seed}"):
                    pipe, _ = train_gan(quiet_loop(GAN_LOOP, run, s["steps"], seed, batch_size=64, lr=2e-4),
                                        GANTaskConfig(data=data, loss=loss, arch="conv", latent_dim=32, base=16,
                                                      betas=(0.5, 0.9), g_norm=g_norm))
                    x = pipe(n=s["n"], seed=seed + 2).samples
                f = feat(F.interpolate(x, size=(8, 8), mode="area"))
                pr = prdc(real, f, k=5)
                spread = float(x.std(0).mean())
                rows.append({"seed": seed, "g_norm": g_norm, "loss": loss, "proxy_fid": fid(real, f),
                             "precision": pr["precision"], "recall": pr["recall"], "sample_std": spread,
                             "spread_vs_data": spread / data_std})
                if seed == s["seeds"][0]:
                    grids.append([x[i].clamp(-1, 1) for i in range(8)])  # grid_image reads tensors in [-1, 1]
                    titles.append(f"{loss}, G norm {g_norm}")
    study.save_image("samples.png", grid_image(grids, None, titles, scale=3))
    study.results.update({"settings": s, "data_sample_std": data_std, "rows": rows})


def render(out: Path, results: dict[str, Any]) -> str:
    from tryon.report import markdown_table

    s = results["settings"]
    md = [f"# 004's losses with the conv pair on {s['size']}x{s['size']} digits ({results['budget']['name']} budget)", "",
          f"Machine: {machine_summary(results)}; {s['steps']} steps per run, {s['n']} samples; the data's per-pixel "
          f"std across samples: {results['data_sample_std']:.3f}.", ""]
    md += [markdown_table(["seed", "G norm", "loss", "proxy-FID", "precision", "recall", "sample std", "spread vs data"],
                          [[r["seed"], r.get("g_norm", "none"), r["loss"], f"{r['proxy_fid']:.2f}", f"{r['precision']:.3f}",
                            f"{r['recall']:.3f}",
                            f"{r['sample_std']:.2e}", f"{r['spread_vs_data']:.3f}"] for r in results["rows"]]), ""]
    md += ["Samples of seed 0: `samples.png` (one row per loss and generator norm)."]
    return "\n".join(md) + "\n"


main = script(NAME, compute, render, BUDGETS, doc=__doc__, default_out="runs/gan-conv-digits")


if __name__ == "__main__":
    sys.exit(main())
