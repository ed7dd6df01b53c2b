"""A study: one computation whose numbers go to an atomic ``results.json`` that a separate ``render`` turns into tables,
grids and reports — so a report is re-rendered from its results without recomputing anything.

A study has a name, an output folder and a *budget* (a named set of sizes: ``tiny`` for tests, the default for the
docs). Its computation fills :attr:`Study.results` with JSON values, times its sections with :meth:`Study.section`
and saves images with :meth:`Study.save_image` (their names are recorded, so ``render`` finds them). :meth:`Study.save`
writes ``results.json`` = the machine facts (:func:`tryon.study.facts.facts`), the budget, the command line, the
section timings, the artifacts and the results, atomically (a killed run never leaves a half-written file).
"""

from __future__ import annotations

import json
import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Mapping

from ..errors import InputError
from ..fs import atomic_write_json, json_safe
from .facts import facts, gpu_name

#: The format of ``results.json``; bumped when a reserved key changes meaning.
SCHEMA_VERSION = 1
RESULTS = "results.json"
#: Keys :meth:`Study.save` writes; a study's own results may not use them.
RESERVED = ("study", "schema_version", "date", "machine", "versions", "budget", "argv", "timings", "artifacts")


class Study:
    """The record of one run of a study.

    Args:
        name: the study's name (``real-inpaint``, ``demo-edibert``); stored as ``results["study"]``.
        out: the folder the results file and the artifacts go to (created).
        budget: the budget's name (``tiny``, ``default`` …) and its knobs, stored with the results.
        argv: the command line to record (default ``sys.argv``).
        log: print one plain line per finished section (on stderr).
    """

    def __init__(self, name: str, out: str | os.PathLike, *, budget: str = "default",
                 knobs: Mapping[str, Any] | None = None, argv: list[str] | None = None, log: bool = True) -> None:
        self.name = name
        self.out = Path(out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.budget = budget
        self.knobs: dict[str, Any] = dict(knobs or {})
        self.argv = list(sys.argv if argv is None else argv)
        self.results: dict[str, Any] = {}
        self.timings: dict[str, float] = {}
        self.artifacts: list[str] = []
        self.log = log
        self._facts = facts()

    @contextmanager
    def section(self, name: str) -> Iterator[None]:
        """Time the block as ``timings[name]`` (seconds, summed when a name repeats)."""
        t0 = time.perf_counter()
        try:
            yield
        finally:
            dt = time.perf_counter() - t0
            self.timings[name] = self.timings.get(name, 0.0) + dt
            if self.log:
                print(f"[{self.name}] {name}: {dt:.1f} s", file=sys.stderr, flush=True)

    def settings(self, args: Any = None) -> dict[str, Any]:
        """The budget's knobs, each replaced by the command-line value of the same name where one was given:
        ``args.<knob>`` when it is not None (an option that defaults to its budget's value is declared with
        ``default=None``). Record what a run used in its results; ``budget`` keeps the named knobs."""
        out = dict(self.knobs)
        for key in out:
            value = getattr(args, key, None) if args is not None else None
            if value is not None:
                out[key] = value
        return out

    def path(self, name: str) -> Path:
        """Where an artifact called ``name`` (relative, e.g. ``grids/rect.png``) is written; records it."""
        rel = Path(name)
        if rel.is_absolute() or ".." in rel.parts:
            raise InputError("artifact name", "a path relative to the study folder", repr(name))
        if name not in self.artifacts:
            self.artifacts.append(name)
        target = self.out / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def save_image(self, name: str, image: Any) -> Path:
        """Write a PIL image (or an ``H×W×3`` uint8 array) as the artifact ``name`` through a temporary file."""
        from PIL import Image

        target = self.path(name)
        img = image if hasattr(image, "save") else Image.fromarray(image)
        tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
        img.save(tmp, format=(target.suffix.lstrip(".") or "png").upper().replace("JPG", "JPEG"))
        os.replace(tmp, target)
        return target

    def record(self) -> dict[str, Any]:
        """The whole ``results.json`` content (reserved keys first, then the study's results)."""
        clash = sorted(set(self.results) & set(RESERVED))
        if clash:
            raise InputError(f"study {self.name!r} results", f"keys other than the reserved {list(RESERVED)}", str(clash))
        gpu = None if "gpu" in self._facts["machine"] else gpu_name()
        if gpu is not None:  # torch imported by the computation after the facts were read at the start
            self._facts["machine"]["gpu"] = gpu
        head = {"study": self.name, "schema_version": SCHEMA_VERSION, **self._facts,
                "budget": {"name": self.budget, **self.knobs}, "argv": self.argv,
                "timings": {k: round(v, 3) for k, v in self.timings.items()}, "artifacts": list(self.artifacts)}
        return json_safe({**head, **self.results})

    def save(self) -> Path:
        """Write ``results.json`` atomically and return its path."""
        return atomic_write_json(self.out / RESULTS, self.record())


def load_results(folder: str | os.PathLike) -> dict[str, Any]:
    """Read a study's ``results.json`` from ``folder`` (or the file itself); one clear error when it is missing or not
    a study's results."""
    path = Path(folder)
    if path.is_dir():
        path = path / RESULTS
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(str(path), "a results file", "no such file", "run the study without --render-only first") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(str(path), "a readable JSON results file", str(exc)) from None
    if not isinstance(data, dict) or "study" not in data:
        found = "no 'study' key" if isinstance(data, dict) else type(data).__name__
        raise InputError(str(path), "a study's results (a JSON object with a 'study' key)", found)
    return data


__all__ = ["RESERVED", "RESULTS", "SCHEMA_VERSION", "Study", "load_results"]
