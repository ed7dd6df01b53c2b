"""One line that says where a results file's numbers were measured — the header every study's report starts with."""

from __future__ import annotations

from typing import Any, Mapping

#: Versions named in the line when the record has them (the rest stay in ``results.json``).
SHOWN_VERSIONS = ("torch", "onnxruntime", "onnxruntime-gpu")


def machine_summary(record: Mapping[str, Any], versions: tuple[str, ...] = SHOWN_VERSIONS) -> str:
    """``AMD EPYC (avx2, fma), 2 cores, 23.5 GiB RAM, load 4.26 / 4.27 / 4.0; torch 2.14.1, onnxruntime 1.32.0;
    2026-12-07 03:17 UTC`` from a study's record (its ``machine``, ``versions`` and ``date``; missing facts are
    left out, so records of older runs still read)."""
    m = record.get("machine") or {}
    isa = ", ".join(m.get("isa") or []) or "no ISA flags read"
    parts = [(f"{m['cpu_class']}-class " if m.get("cpu_class") else "") + f"{m.get('cpu', 'unknown CPU')} ({isa}"
             + (f"; held to {m['isa_cap']}" if m.get("isa_cap") else "") + ")"]
    if m.get("physical_cores") or m.get("logical_cores"):
        parts.append(f"{m.get('physical_cores') or m.get('logical_cores')} cores")
    if m.get("ram_gb"):
        parts.append(f"{m['ram_gb']} GiB RAM")
    if m.get("gpu"):
        parts.append(f"GPU {m['gpu']}")
    if m.get("load_average"):
        parts.append("load " + " / ".join(str(v) for v in m["load_average"]))
    line = ", ".join(parts)
    v = record.get("versions") or {}
    shown = [f"{k} {v[k]}" for k in versions if v.get(k)]
    if shown:
        line += "; " + ", ".join(shown)
    date = str(record.get("date") or "")
    if date:
        line += f"; {date[:10]} {date[11:16]} UTC" if len(date) >= 16 else f"; {date}"
    return line


__all__ = ["SHOWN_VERSIONS", "machine_summary"]
