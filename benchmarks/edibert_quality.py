"""EdiBERT quality run: train a small VQGAN + EdiBERT on built-in procedural scenes, then

* the inpainting ablation of 000 Table 4.2 (full method vs each component removed; free-form masks):
  masked L1, proxy-FID, density, coverage;
* one token per forward (spiral) vs the batched samplers (spiral-rings, least-likely) on the same inputs and
  masks: wall time, forwards, masked L1 and proxy-FID (target: ≥ 5× less wall time at masked L1 within 5 %).

Writes ``<out>/results.json`` and ``<out>/table.md`` (machine and date included) and the HTML report.

    .venv/bin/python benchmarks/edibert_quality.py --out runs/bench-edibert            # ≤ 30 min on 2 cores
    .venv/bin/python benchmarks/edibert_quality.py --out /tmp/b --tiny                  # smoke setting
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from tryon_edibert.experiments.demo import run_study

#: ≤ 30 min on 2 shared cores (one torch thread)
FULL = {"n_train": 512, "n_eval": 24, "size": (32, 32), "vq_steps": 1200, "bert_steps": 1200, "codes": 128, "ch": 32,
        "ch_mult": [1, 2, 2], "width": 128, "layers": 4, "heads": 4, "optim_steps": 50, "proxy_steps": 150}
TINY = {"n_train": 64, "n_eval": 16, "vq_steps": 60, "bert_steps": 60, "optim_steps": 5, "proxy_steps": 20}


def _md(rows: list[dict]) -> str:
    cols = list(rows[0])
    fmt = lambda v: f"{v:.4g}" if isinstance(v, float) else str(v)  # noqa: E731
    return "\n".join(["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
                     + ["| " + " | ".join(fmt(r[c]) for c in cols) + " |" for r in rows])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="runs/bench-edibert")
    p.add_argument("--tiny", action="store_true", help="smoke setting (a couple of minutes)")
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1, see `tryon demo edibert`)")
    args = p.parse_args()
    import torch

    torch.set_num_threads(max(1, args.threads))
    res = run_study(args.out, TINY if args.tiny else FULL, progress=False)
    env, v = res["environment"], res["timing_target"]
    text = (f"Setting: {'tiny' if args.tiny else 'full'} {json.dumps(res['settings'])}\n\n"
            f"Machine: {env['cpu']} ({', '.join(env['isa'])}), {env['cores']} cores, torch {env['torch']}, "
            f"{env['threads']} threads; {env['date']}; total {res['total_s']:.0f} s (training {res['train_s']:.0f} s)\n\n"
            f"### Inpainting ablation (000 Table 4.2; free-form masks, {res['settings']['n_eval']} images)\n\n"
            f"{_md(res['ablation'])}\n\n### One token per forward vs batched samplers\n\n{_md(res['timing'])}\n\n"
            f"Target ({v['target']}): {'met' if v['met'] else 'missed'}; best {v['sampler']}: {v['speed_up']}x faster, "
            f"masked L1 {v['l1_vs_one_token']}x. Stages (s): {json.dumps(res['stages_s'])}\n")
    (Path(args.out) / "table.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
