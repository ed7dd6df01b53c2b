"""What ships (code, docs, examples, benchmarks) speaks to users: no machine paths, no tracker numbers, no
internal design-file names; sources are cited by their number (docs/references.md)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ["tryon", "plugins", "examples", "benchmarks", "docs", "exports", "README.md"]
FORBIDDEN = {
    "a machine path": re.compile(r"/work/|/tmp/brief|shared/(?:reference|seeds)"),
    "a tracker number": re.compile(r"\b[Ii]ssue\s*#?\d+"),
    "an internal design-file name": re.compile(r"\bDESIGN\b"),
}


def _shipped_files() -> list[Path]:
    files: list[Path] = []
    for top in SHIPPED:
        path = ROOT / top
        if path.is_file():
            files.append(path)
            continue
        for f in path.rglob("*"):
            if f.suffix in {".py", ".md", ".toml", ".txt"} and "tests" not in f.relative_to(ROOT).parts[:3] \
                    and not any(p.endswith(".egg-info") or p in {"build", "__pycache__"} for p in f.parts):
                files.append(f)
    return files


def test_shipped_text_has_no_internal_references():
    offenders = []
    for f in _shipped_files():
        for lineno, line in enumerate(f.read_text(errors="replace").splitlines(), 1):
            for what, pattern in FORBIDDEN.items():
                if pattern.search(line):
                    offenders.append(f"{f.relative_to(ROOT)}:{lineno}: {what}: {line.strip()[:100]}")
    assert not offenders, "\n".join(offenders)


def test_every_cited_source_is_in_the_references():
    refs = (ROOT / "docs" / "references.md").read_text()
    cited = set()
    for f in _shipped_files():
        cited |= set(re.findall(r"\b(00[0-9]) (?:§|App\.|Alg\.|Table|Fig\.|eq\.|ch\.)", f.read_text(errors="replace")))
    assert cited, "no citation found at all: the pattern is wrong"
    missing = sorted(c for c in cited if f"| {c} |" not in refs)
    assert not missing, f"sources cited but not listed in docs/references.md: {missing}"
