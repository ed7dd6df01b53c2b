"""The model card of an export folder (``MODEL_CARD.md``): what was exported, how it was checked, how to run it."""

from __future__ import annotations

import json
from typing import Any


def parity_sentence(p: dict[str, Any]) -> str:
    """One sentence for a parity record: the criterion, the worst error and the bound it met."""
    if p.get("criterion") == "float64":
        worst = max(p["error_vs_float64"], key=lambda n: p["error_vs_float64"][n] / p["bound"][n])
        return (f"error vs a float64 run **{p['error_vs_float64'][worst]:.2e}** on `{worst}` (torch fp32's own "
                f"{p['torch_fp32_error'][worst]:.2e}; bound {p['bound'][worst]:.2e}: {p['rule']}).")
    if p.get("bound"):
        return f"max abs error **{p['max_abs_error']:.2e}** ({p['rule']})."
    return f"max abs error **{p['max_abs_error']:.2e}**."


def training_data_sentence(recorded: dict[str, Any] | None) -> str:
    """What the exported weights were trained on and whether the data's terms allow commercial use."""
    from ..data.terms import UNRECORDED, DataTerms

    terms = DataTerms.from_dict(recorded) if recorded else UNRECORDED
    return terms.sentence()[0].upper() + terms.sentence()[1:] + (f" Source of the terms: {terms.source}." if terms.source else "")


def model_card(m: dict[str, Any]) -> str:
    H, W = m["resolution"] if m.get("resolution") else ("?", "?")
    p = m["parity"]
    lines = [
        f"# {m['task']} / {m['component']} — ONNX export",
        "",
        f"Exported by tryon {m['versions'].get('tryon', '?')} on {m['date']} with the {m['exporter']} exporter "
        f"(torch {m['versions'].get('torch', '?')}), opset {m['opset']}"
        + (f" (requested {m['opset_requested']})" if m["opset"] != m["opset_requested"] else "") + ".",
        "",
        "| input | shape | | output | shape |",
        "|---|---|---|---|---|",
    ]
    ins, outs = m["inputs"], m["outputs"]
    for i in range(max(len(ins), len(outs))):
        a = ins[i] if i < len(ins) else {"name": "", "shape": ""}
        b = outs[i] if i < len(outs) else {"name": "", "shape": ""}
        lines.append(f"| `{a['name']}` | {a['shape']} | | `{b['name']}` | {b['shape']} |")
    norm = {k: v for k, v in m["normalisation"].items()}
    call_args = ", ".join(f"{i['name']}=..." for i in ins)
    in_list = ", ".join(i["name"] for i in ins)
    files = ", ".join(f"`{e['file']}` ({k}, sha256 {e['sha256'][:12]}…)" for k, e in m["models"].items())
    lines += [
        "",
        f"Resolution {H}×{W} (H×W); images are letterboxed to it (aspect kept, white padding). "
        f"Normalisation: `{json.dumps(norm)}`. Batch is dynamic: {m['dynamic_batch']}.",
        "",
        "## Training data",
        "",
        training_data_sentence(m.get("training_data")),
        "",
        "## Parity",
        "",
        f"fp32 on {p['provider']}: {parity_sentence(p)} Max abs error vs torch fp32 by batch: "
        + ", ".join(f"B={b}: " + ", ".join(f"{k} {v:.1e}" for k, v in d.items()) for b, d in p["by_batch"].items()) + ".",
    ]
    for variant in ("fp16", "int8"):
        e = m["models"].get(variant)
        if e:
            q = e["parity"]
            lines.append(f"{variant} (`{e['file']}`, {q['provider']}, vs {q['reference']}): max {q['max_abs_error']:.2e}"
                         + (f", mean {q['mean_abs_error']:.2e}" if "mean_abs_error" in q else "")
                         + (f", SSIM {q['min_ssim']:.4f} on the calibration images" if q.get("min_ssim") is not None else "")
                         + f". {e.get('note', '')}")
    if m.get("graphs"):
        sp = m["split"]
        lines += [
            "",
            "## Split graphs (catalogue mode)",
            "",
            "| graph | file | role | inputs | outputs |",
            "|---|---|---|---|---|",
        ]
        for g in m["graphs"]:
            role = f"branch of `{g['branch_of']}`" if g.get("branch_of") else g.get("role", "")
            lines.append(f"| {g['name']} | `{g['file']}` | {role} | {len(g['inputs'])} | {len(g['outputs'])} |")
        lines += [
            "",
            (f"Chained graphs: {parity_sentence(sp['parity'])} Max abs difference from `{m['models']['fp32']['file']}`: "
             f"{sp['vs_model']['max_abs_error']:.2e}; with the cached values stored as float16: "
             f"{sp['fp16_features']['max_abs_error']:.2e}. Run with `tryon.runtime.CatalogueSession(\"<this folder>\")` "
             "(branch features cached per input)."),
        ]
    lines += [
        "",
        "## Run it (no torch needed)",
        "",
        "```python",
        "from tryon.runtime import ImageModelSession",
        "sess = ImageModelSession(\"<this folder>\")            # CPU; providers=[\"cuda\"] needs onnxruntime-gpu",
        f"out = sess({call_args})  # paths, PIL or numpy HxWx3 uint8",
        "```",
        "",
        f"Plain onnxruntime: feed float32 NCHW arrays named {in_list} to `{m['models']['fp32']['file']}`.",
        "",
        f"Files: {files}.",
        "",
        "Intended use: research and demos of the task above. Trained weights, their data and their limits are "
        "described with the weights; an export of random weights (no `weights` in the manifest) is for speed work only.",
        "",
    ]
    return "\n".join(lines)



__all__ = ["model_card", "parity_sentence"]
