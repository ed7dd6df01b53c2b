"""The seeds' claims table of ``docs/benchmarks.md``: generated from a registry and the results files, never typed.

The registry (``docs/claims.toml``) lists each quantitative claim of a seed this project can test: where the seed makes
it, what it says, the seed's number, and either where our measurement is — a results file a study wrote and a path
into it — or why there is none (``status``: a run whose results file was not kept, or "cannot be measured here" with
the reason). :func:`render_claims` turns that into one Markdown table; :func:`write_block` puts it between two marker
lines of a document, so a rerun of a study followed by ``make docs`` updates the table, and a test fails when the
document and the registry or the results disagree::

    [[claim]]
    source = "003 Table 3.1"
    claim = "MSE: VAE < AVAE (L_Z^a)"
    seed = "CelebA MSE: VAE .03 < AVAE-a .05 (all 5 sets)"
    results = "docs/results/avae-table31/results.json"
    path = ["orderings", {ordering = "MSE: VAE < AVAE (L_Z^a)", features = "classifier_fid"}]
    ours = "per_seed"          # a key of the selected entry (or a list of keys, or {label, path} tables), the figure
    verdict = "verdict"        # a key holding held / not held / mixed, or a fixed word with a rule in `note`

A path step is a key (dict), an index (list) or a table of ``key = value`` that selects the one list entry matching
all of them. Missing files, keys or several matching entries raise :class:`tryon.errors.InputError` naming the claim.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Sequence

from ..errors import InputError
from .verdicts import seed_verdict

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the same parser as a package (pyproject: tomli; python_version < "3.11")
    import tomli as tomllib  # type: ignore[no-redef]

BEGIN = "<!-- begin generated: seeds' claims (make docs; edit docs/claims.toml, not this table) -->"
END = "<!-- end generated: seeds' claims -->"
COLUMNS = ("source", "claim", "the seed", "ours", "verdict", "results")


def load_claims(path: str | os.PathLike) -> list[dict[str, Any]]:
    """The ``[[claim]]`` entries of a registry file, each with ``source``, ``claim`` and ``seed`` checked."""
    path = Path(path)
    try:
        doc = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise InputError(str(path), "a readable TOML claims registry", str(exc)) from None
    claims = doc.get("claim")
    if not isinstance(claims, list) or not claims:
        raise InputError(str(path), "[[claim]] entries", "none")
    for i, c in enumerate(claims):
        missing = [k for k in ("source", "claim", "seed") if not c.get(k)]
        if missing or not (c.get("results") or c.get("status")):
            raise InputError(f"{path} claim {i + 1} ({c.get('claim', '?')!r})", "source, claim, seed and results or status",
                             f"missing {', '.join(missing) or 'results/status'}")
    return claims


def _matching(entries: Any, match: dict[str, Any]) -> list[dict[str, Any]]:
    """The dict entries of a list whose keys equal every ``key = value`` of ``match`` (none when not a list)."""
    if not isinstance(entries, list):
        return []
    return [e for e in entries if isinstance(e, dict) and all(e.get(k) == v for k, v in match.items())]


def select(data: Any, path: Sequence[Any], where: str) -> Any:
    """Follow ``path`` (keys, indices, ``{key: value}`` list filters) into ``data``."""
    node = data
    for step in path:
        if isinstance(step, dict):
            hits = _matching(node, step)
            if len(hits) != 1:
                raise InputError(where, f"one list entry matching {step}", f"{len(hits)}")
            node = hits[0]
        else:
            try:
                node = node[step]
            except (KeyError, IndexError, TypeError):
                raise InputError(where, f"a key or index {step!r}", "none there") from None
    return node


def _figure(v: Any) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, list):
        return ", ".join(_figure(x) for x in v)
    return str(v)


def _labelled(node: Any, key: Any, where: str, label: bool) -> str:
    """One figure of ``ours``: a key of the selected entry, or ``{label = "...", path = [...]}`` (a path below it)."""
    if isinstance(key, dict):
        return f"{key.get('label', '')} {_figure(select(node, key.get('path', []), where))}".strip()
    figure = _figure(select(node, [key], where))
    return f"{key} {figure}" if label else figure


def resolve(claim: dict[str, Any], root: str | os.PathLike) -> dict[str, str]:
    """One table row: the seed's words, our figure and verdict read from the results file (or the status)."""
    row = {"source": claim["source"], "claim": claim["claim"], "the seed": claim["seed"]}
    where = f"claim {claim['claim']!r} ({claim['source']})"
    if not claim.get("results"):
        return {**row, "ours": "—", "verdict": "—", "results": claim["status"]}
    file = Path(root) / claim["results"]
    try:
        data = json.loads(file.read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"{where}: {claim['results']}", "a results file", str(exc)) from None
    if claim.get("figures"):
        ours, verdict = compare_figures(data, claim["figures"], claim.get("better", "lower"), where)
        if claim.get("note"):
            ours = f"{ours} ({claim['note']})"
        return {**row, "ours": ours, "verdict": verdict, "results": f"`{claim['results']}`"}
    node = select(data, claim.get("path", []), where)
    keys = claim.get("ours", [])
    keys = [keys] if isinstance(keys, (str, dict)) else list(keys)
    ours = "; ".join(_labelled(node, k, where, len(keys) > 1) for k in keys) if keys else _figure(node)
    verdict = claim.get("verdict", "")
    if verdict and isinstance(node, dict) and verdict in node:
        verdict = str(node[verdict])
    if claim.get("note"):
        ours = f"{ours} ({claim['note']})"
    return {**row, "ours": ours, "verdict": verdict or "—", "results": f"`{claim['results']}`"}


def compare_figures(data: Any, figures: Sequence[dict[str, Any]], better: str, where: str) -> tuple[str, str]:
    """Two (or more) figures read per seed — entries of the list at ``path`` matching ``match``, one per ``seed`` —
    shown as mean ± half-range; the verdict compares the first with the second in every seed (``better``: ``lower``
    or ``higher``) by :func:`tryon.study.seed_verdict`: held when it wins in every seed, mixed when it wins on the mean
    only, not held otherwise — the rule every study uses."""
    if better not in ("lower", "higher") or len(figures) < 2:
        raise InputError(where, "two or more figures and better = lower or higher", f"{len(figures)} figures, {better!r}")
    per_fig = []
    for f in figures:
        entries = _matching(select(data, f.get("path", []), where), f.get("match") or {})
        if not entries:
            raise InputError(where, f"entries matching {f.get('match')}", "none")
        per_fig.append({e.get("seed", 0): float(e[f["key"]]) for e in entries})
    seeds = sorted(set.intersection(*(set(v) for v in per_fig)))
    if not seeds:
        raise InputError(where, "the same seeds in every figure", "none in common")
    shown = []
    for f, vals in zip(figures, per_fig):
        xs = [vals[k] for k in seeds]
        shown.append(f"{f['label']} {sum(xs) / len(xs):.4g} ± {(max(xs) - min(xs)) / 2:.2g}")
    verdict = seed_verdict([per_fig[0][k] - per_fig[1][k] for k in seeds], higher_is_better=better == "higher")
    return f"{', '.join(shown)} ({len(seeds)} seed{'s' if len(seeds) > 1 else ''})", verdict


def render_claims(claims: Sequence[dict[str, Any]], root: str | os.PathLike) -> str:
    """The Markdown table of every claim, in the registry's order, with a count of what is measured."""
    rows = [resolve(c, root) for c in claims]
    measured = sum(r["ours"] != "—" for r in rows)
    lines = [f"{len(rows)} claims, {measured} read from a results file in this tree (verdict: held = in every seed, "
             "mixed = on the mean of the seeds only).", "",
             "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(r[c].replace("|", "\\|").replace("\n", " ") for c in COLUMNS) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def write_block(document: str | os.PathLike, text: str, *, check: bool = False) -> bool:
    """Put ``text`` between :data:`BEGIN` and :data:`END` in ``document`` (both markers must be there once); returns
    whether it changed. ``check``: change nothing, only say whether it would."""
    path = Path(document)
    doc = path.read_text()
    if doc.count(BEGIN) != 1 or doc.count(END) != 1 or doc.index(BEGIN) > doc.index(END):
        raise InputError(str(path), "the generated-table markers once each, begin before end", "not so")
    head, rest = doc.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    new = f"{head}{BEGIN}\n{text}{END}{tail}"
    if new == doc:
        return False
    if not check:
        from ..fs import atomic_write_text

        atomic_write_text(path, new)
    return True


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m tryon.study.claims [--check] REGISTRY DOCUMENT``: regenerate the table (``--check``: exit 1 when
    the document is out of date)."""
    import argparse

    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("registry", nargs="?", default="docs/claims.toml")
    ap.add_argument("document", nargs="?", default="docs/benchmarks.md")
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args(argv)
    root = Path(args.registry).resolve().parent.parent
    changed = write_block(args.document, render_claims(load_claims(args.registry), root), check=args.check)
    print(f"{args.document}: seeds' claims table {'out of date' if changed and args.check else 'updated' if changed else 'up to date'}")
    return 1 if changed and args.check else 0


if __name__ == "__main__":
    raise SystemExit(main())


__all__ = ["BEGIN", "END", "compare_figures", "load_claims", "main", "render_claims", "resolve", "select", "write_block"]
