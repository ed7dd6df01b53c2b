"""What an onnxruntime profiling trace says (no torch): which execution provider runs each node
(:func:`node_providers_from_trace`) and where the kernel time goes, per op type and per node
(:func:`op_times_from_trace`, the per-op table of ``benchmarks/student_profile.py``)."""

from __future__ import annotations

from typing import Any

_SUFFIXES = ("_kernel_time", "_fence_before", "_fence_after")


def node_providers_from_trace(events: list[Any], providers: list[str]) -> dict[str, Any]:
    """The per-node provider assignment in an onnxruntime profiling trace (the JSON list ``end_profiling()``
    writes; node events carry ``args.provider``): ``{"source": "profiling", "providers", "by_provider": {provider:
    node count}, "by_op": {op: {provider: count}}, "nodes": {node: {"op", "provider"}}}``. ``providers``: the
    session's providers, reported alongside. Raises ``RuntimeError`` when the trace has no node events."""
    nodes: dict[str, dict[str, str]] = {}
    for ev in events:
        args = ev.get("args", {}) if isinstance(ev, dict) else {}
        if ev.get("cat") != "Node" or "provider" not in args:
            continue
        name = ev.get("name", "")
        for suffix in _SUFFIXES:
            if name.endswith(suffix):
                name = name[: -len(suffix)]
        nodes[name] = {"op": args.get("op_name", "?"), "provider": args["provider"]}
    if not nodes:
        raise RuntimeError("the profile has no node events")
    by_provider: dict[str, int] = {}
    by_op: dict[str, dict[str, int]] = {}
    for info in nodes.values():
        by_provider[info["provider"]] = by_provider.get(info["provider"], 0) + 1
        ops = by_op.setdefault(info["op"], {})
        ops[info["provider"]] = ops.get(info["provider"], 0) + 1
    return {
        "source": "profiling",
        "note": "nodes of the optimised graph (fused/reordered nodes appear under ORT's names)",
        "providers": providers,
        "by_provider": by_provider,
        "by_op": by_op,
        "nodes": nodes,
    }


def op_times_from_trace(events: list[Any], skip_runs: int = 0) -> dict[str, Any]:
    """Kernel time per op type and per node of an onnxruntime profiling trace, averaged over its runs.

    Returns ``{"runs", "kernel_ms", "by_op": {op: {"nodes", "ms", "share"}}, "nodes": {node: {"op", "ms"}}}``: ``ms``
    per run (the trace's ``model_run`` events count the runs), ``share`` of the summed kernel time. The first
    ``skip_runs`` runs (warm-up) are left out. Names and ops are those of the *optimised* graph (``FusedConv``, NCHWc
    ``Conv``, ``ReorderInput`` …). Raises ``RuntimeError`` when the trace has no kernel events."""
    run_events = sorted((ev for ev in events if isinstance(ev, dict) and ev.get("cat") == "Session"
                         and ev.get("name") == "model_run"), key=lambda ev: float(ev.get("ts", 0)))
    skip = min(int(skip_runs), len(run_events))
    after = float(run_events[skip - 1]["ts"]) + float(run_events[skip - 1].get("dur", 0)) if skip else float("-inf")
    runs = len(run_events) - skip
    nodes: dict[str, dict[str, Any]] = {}
    for ev in events:
        if not isinstance(ev, dict) or ev.get("cat") != "Node" or not str(ev.get("name", "")).endswith("_kernel_time"):
            continue
        if float(ev.get("ts", 0)) < after:
            continue
        name = ev["name"][: -len("_kernel_time")]
        info = nodes.setdefault(name, {"op": ev.get("args", {}).get("op_name", "?"), "us": 0.0})
        info["us"] += float(ev.get("dur", 0))
    if not nodes:
        raise RuntimeError("the profile has no kernel events")
    runs = max(1, runs)
    total_us = sum(v["us"] for v in nodes.values())
    by_op: dict[str, dict[str, Any]] = {}
    for info in nodes.values():
        agg = by_op.setdefault(info["op"], {"nodes": 0, "us": 0.0})
        agg["nodes"] += 1
        agg["us"] += info["us"]
    ordered = sorted(by_op.items(), key=lambda kv: -kv[1]["us"])
    return {
        "runs": runs,
        "kernel_ms": total_us / runs / 1e3,
        "by_op": {op: {"nodes": v["nodes"], "ms": v["us"] / runs / 1e3, "share": v["us"] / total_us} for op, v in ordered},
        "nodes": {n: {"op": v["op"], "ms": v["us"] / runs / 1e3} for n, v in sorted(nodes.items(), key=lambda kv: -kv[1]["us"])},
    }


__all__ = ["node_providers_from_trace", "op_times_from_trace"]
