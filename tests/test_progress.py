"""tryon.progress: plain lines for logs, nothing when off, the TRYON_PROGRESS override."""

from __future__ import annotations

import io

import pytest

from tryon import progress as P
from tryon.progress import open_progress, progress, resolve_mode


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def _no_env(monkeypatch):
    monkeypatch.delenv(P.ENV_VAR, raising=False)


def _run(n: int, **kw) -> list[str]:
    out = io.StringIO()
    with progress(n, "train", unit="step", stream=out, **kw) as bar:
        for i in range(n - kw.get("completed", 0)):
            bar.advance(loss=1.0 / (i + 1))
    text = out.getvalue()
    assert "\r" not in text
    return text.splitlines()


def test_plain_writes_a_line_per_5_percent():
    lines = _run(1000)
    # the first update (1/1000) + one line per 5 % crossed (50, 100, ..., 1000): 1 + 20
    assert len(lines) == 21
    assert lines[0].startswith("train: 1/1000 (0%) ")
    assert lines[1].startswith("train: 50/1000 (5%) ")
    assert lines[-1].startswith("train: 1000/1000 (100%) ")
    assert " step/s " in lines[-1] and "elapsed " in lines[-1] and lines[-1].endswith("loss=0.001")
    assert "eta " in lines[1] and "loss=0.02" in lines[1]


def test_plain_resumed_run_counts_from_completed():
    lines = _run(1000, completed=500)
    # first update (501) + crossings 550, 600, ..., 1000: 1 + 10
    assert len(lines) == 11
    assert lines[0].startswith("train: 501/1000 (50%) ")
    assert lines[-1].startswith("train: 1000/1000 (100%) ")


def test_plain_close_writes_the_unwritten_last_state():
    out = io.StringIO()
    with progress(100, "synth", unit="sample", stream=out) as bar:
        for _ in range(7):
            bar.advance()
        assert (bar.total, bar.completed) == (100, 7)
    lines = out.getvalue().splitlines()
    # first update (1), crossing 5 % (5), then the last state (7) written at close
    assert [line.split(" ")[1] for line in lines] == ["1/100", "5/100", "7/100"]


def test_plain_unknown_total_writes_every_interval(monkeypatch):
    clock = iter(range(0, 1000, 3))  # each perf_counter call moves 3 s on
    monkeypatch.setattr(P.time, "perf_counter", lambda: float(next(clock)))
    out = io.StringIO()
    with progress(None, "scan", stream=out) as bar:
        for _ in range(10):
            bar.advance(failed=0)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("scan: 1 ")
    assert lines[-1].startswith("scan: 10 ") and "elapsed" in lines[-1]
    assert 2 < len(lines) < 10 and all("%" not in line for line in lines)


def test_off_writes_nothing_but_counts():
    out = io.StringIO()
    with progress(10, "x", stream=out, enabled=False) as bar:
        bar.advance(3, loss=0.5)
    assert out.getvalue() == ""
    assert (bar.total, bar.completed, bar.fields) == (10, 3, {"loss": 0.5})


@pytest.mark.parametrize("value, stream, mode", [
    ("off", io.StringIO(), "off"), ("plain", _Tty(), "plain"), ("rich", io.StringIO(), "rich"),
    (" PLAIN ", _Tty(), "plain"), ("auto", _Tty(), "rich"), ("bogus", io.StringIO(), "plain"),
])
def test_env_override(monkeypatch, value, stream, mode):
    monkeypatch.setenv(P.ENV_VAR, value)
    assert resolve_mode(True, stream) == mode
    assert resolve_mode(False, stream) == "off"  # enabled=False always wins


def test_env_off_silences_plain(monkeypatch):
    monkeypatch.setenv(P.ENV_VAR, "off")
    out = io.StringIO()
    with progress(10, "x", stream=out) as bar:
        bar.advance(10)
    assert out.getvalue() == ""


def test_detection_without_env():
    assert resolve_mode(True, io.StringIO()) == "plain"
    assert resolve_mode(True, _Tty()) == "rich"


def test_rich_mode_on_a_terminal_shows_the_bar():
    out = _Tty()
    with progress(5, "train", unit="step", stream=out) as bar:
        assert bar.mode == "rich"
        for _ in range(5):
            bar.advance(loss=0.25)
    text = out.getvalue()
    assert "train" in text and "5/5" in text and "loss=0.25" in text


def test_open_progress_close_is_idempotent():
    out = io.StringIO()
    bar = open_progress(2, "x", stream=out)
    bar.advance(2)
    bar.close()
    bar.close()
    assert len(out.getvalue().splitlines()) == 1  # the first update is also the final one
