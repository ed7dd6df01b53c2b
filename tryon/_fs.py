"""Filesystem helpers shared by everything that writes a folder users load later.

:func:`atomic_directory` is the one place that implements "assemble in a temporary sibling, rename into
place": weights folders (``Pipeline.save_pretrained``), ONNX export folders and generated datasets use it,
so a crash, a failed check or Ctrl-C never leaves a half-written folder where a finished one is expected.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Iterator


@contextlib.contextmanager
def atomic_directory(out: str | os.PathLike) -> Iterator[Path]:
    """Yield an empty temporary folder next to ``out``; on a clean exit it replaces ``out``.

    An existing ``out`` is swapped out and deleted only after the new folder is in place. On any exception
    (``KeyboardInterrupt`` included) the temporary folder is removed and ``out`` is left untouched; a parent
    folder this call had to create is removed again. The temporary folder gets the permissions a plain
    ``mkdir`` would (``mkdtemp`` makes 0700).
    """
    out = Path(out)
    created_parent = not out.parent.exists()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)
    try:
        yield tmp
        if out.exists():
            old = out.parent / f".{out.name}.old-{os.getpid()}-{time.time_ns()}"
            os.replace(out, old)
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if created_parent:
            with contextlib.suppress(OSError):
                out.parent.rmdir()
        raise
