"""Which execution provider runs each node of an onnxruntime session, read from a profiling trace (no torch)."""

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


__all__ = ["node_providers_from_trace"]
