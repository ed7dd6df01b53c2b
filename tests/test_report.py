"""tryon.report: HTML + Markdown reports with tables, PNG image grids and SVG loss curves."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tryon.errors import InputError
from tryon.report import (
    GRID_HEADER,
    GRID_PAD,
    Report,
    format_value,
    grid_image,
    markdown_to_html,
    moving_average,
    nice_ticks,
    read_curves,
)

H, W = 64, 48
SVG_NS = "{http://www.w3.org/2000/svg}"


def _solid(rgb: tuple[int, int, int]) -> torch.Tensor:
    """3xHxW tensor in [-1, 1] of one colour."""
    return (torch.tensor(rgb, dtype=torch.float32) / 127.5 - 1).view(3, 1, 1).expand(3, H, W).clone()


def _csv(path: Path, n: int = 30) -> Path:
    lines = ["step,wall_time,g_loss,d_loss"]
    for s in range(1, n + 1):
        lines.append(f"{s},{0.1 * s:.3f},{2.0 / s:.6f},{0.7 + 0.01 * (s % 3):.6f}")
    path.write_text("\n".join(lines) + "\n")
    return path


def _svgs(text: str) -> list[ET.Element]:
    return [ET.fromstring(m) for m in re.findall(r"<svg\b.*?</svg>", text, flags=re.S)]


def _curves(svg: ET.Element, cls: str = "curve") -> list[ET.Element]:
    return [p for p in svg.iter(f"{SVG_NS}polyline") if p.get("class") == cls]


def _points(poly: ET.Element) -> list[tuple[float, float]]:
    return [tuple(map(float, p.split(","))) for p in poly.get("points").split()]


def test_report_with_table_grid_and_curves(tmp_path: Path) -> None:
    colours = [[(255, 0, 0), (0, 255, 0), (0, 0, 255)], [(255, 255, 0), (0, 255, 255), (255, 0, 255)]]
    rows = [[_solid(c) for c in r] for r in colours]
    rows[1][0] = rows[1][0][None]  # 1x3xHxW works too
    rows[1][1] = np.full((H, W, 3), (0, 255, 255), np.uint8)  # HxWx3 uint8
    rows[1][2] = Image.new("RGB", (W, H), (255, 0, 255))  # PIL
    rep = Report(tmp_path / "rep", "Try-on <demo>")
    rep.add_text("Teacher vs **student**; see *Table 4.5* & `eval.json`.")
    rep.add_table("Quality", ["model", "ssim", "fid", "images"],
                  [["teacher", 0.79912345, 9.877, 12000], ["student", torch.tensor(0.801), float("nan"), 123456]])
    rep.add_image_grid("Samples", rows, ["person", "garment", "try-on"])
    rep.add_curves("Losses", _csv(tmp_path / "metrics.csv"))
    html_path = rep.write()

    assert html_path == tmp_path / "rep" / "report.html"
    html = html_path.read_text()
    md = (tmp_path / "rep" / "report.md").read_text()
    # table values, formatted
    for cell in ("teacher", "0.7991", "9.877", "12000", "0.801", "123,456", "—"):
        assert f">{cell}</td>" in html, cell
    assert "<strong>student</strong>" in html and "<em>Table 4.5</em>" in html and "<code>eval.json</code>" in html
    assert "<title>Try-on &lt;demo&gt;</title>" in html and "<demo>" not in html
    # one <svg> for the two curves, one polyline each, x spanning the steps 1..30 left to right
    svgs = _svgs(html)
    assert len(svgs) == 1
    curves = _curves(svgs[0])
    assert [c.get("data-name") for c in curves] == ["g_loss", "d_loss"]
    g = _points(curves[0])
    assert len(g) == 30 and all(a[0] < b[0] for a, b in zip(g, g[1:]))
    assert all(a[1] < b[1] for a, b in zip(g, g[1:]))  # g_loss = 2/step falls: SVG y grows downwards
    # the PNG grid: expected size, colours in the cells, titles drawn in the header strip
    pngs = sorted((tmp_path / "rep").glob("*.png"))
    assert len(pngs) == 1 and pngs[0].name in html and f"]({pngs[0].name})" in md
    img = np.asarray(Image.open(pngs[0]).convert("RGB"))
    assert img.shape == (GRID_HEADER + 2 * H + 3 * GRID_PAD, 3 * W + 4 * GRID_PAD, 3) == (162, 160, 3)
    for i in range(2):
        for j in range(3):
            y = GRID_HEADER + GRID_PAD + i * (H + GRID_PAD) + H // 2
            x = GRID_PAD + j * (W + GRID_PAD) + W // 2
            assert tuple(img[y, x]) == colours[i][j], (i, j)
    header = img[:GRID_HEADER]
    for j in range(3):  # dark text pixels above every column
        col = header[:, GRID_PAD + j * (W + GRID_PAD): GRID_PAD + j * (W + GRID_PAD) + W]
        assert (col.min(axis=2) < 100).sum() > 10, j
    assert (img[GRID_HEADER:, :GRID_PAD] == 255).all()  # white padding
    # markdown: the table with right-aligned numeric columns, the grid and the curve file linked
    assert "| model | ssim | fid | images |" in md and "|---|---:|---:|---:|" in md
    assert "| teacher | 0.7991 | 9.877 | 12000 |" in md
    svg_files = sorted((tmp_path / "rep").glob("*.svg"))
    assert len(svg_files) == 1 and f"]({svg_files[0].name})" in md
    assert len(_curves(ET.parse(svg_files[0]).getroot())) == 2
    assert not list((tmp_path / "rep").glob(".*.tmp"))


def test_everything_is_escaped(tmp_path: Path) -> None:
    evil = '<script>alert("x")</script>'
    rep = Report(tmp_path, evil)
    rep.add_text(evil + " [click](javascript:alert(1)) [ok](eval/a.png)")
    rep.add_table(evil, [evil], [[evil]])
    rep.add_image_grid(evil, [[_solid((0, 0, 0))]], [evil])
    rep.add_curves(evil, {evil: [(0, 1.0), (1, 2.0)]})
    html = rep.write().read_text()
    assert "<script" not in html and "javascript:" not in html
    assert html.count("&lt;script&gt;") >= 5
    assert '<a href="eval/a.png">ok</a>' in html
    for svg in _svgs(html):  # still well-formed XML
        assert len(_curves(svg)) == 1


def test_grid_inputs_and_layout() -> None:
    a = _solid((10, 20, 30))
    small = np.zeros((H // 2, W // 2, 3), np.uint8)
    img = grid_image([[a, small], [None, a]], ["x", "y"], row_titles=["first row", "2"], scale=2)
    arr = np.asarray(img)
    row_w = arr.shape[1] - (2 * 2 * W + 3 * GRID_PAD)
    assert row_w > 2 * GRID_PAD  # room for the row titles
    assert arr.shape[0] == GRID_HEADER + 2 * 2 * H + 3 * GRID_PAD
    cx = row_w + GRID_PAD + W  # centre of the first column (cells are 2W wide)
    assert tuple(arr[GRID_HEADER + GRID_PAD + H, cx]) == (10, 20, 30)
    # the half-size image is centred in its cell, white around it
    x1 = row_w + 2 * GRID_PAD + 2 * W
    y1 = GRID_HEADER + GRID_PAD
    assert tuple(arr[y1 + H, x1 + W]) == (0, 0, 0) and tuple(arr[y1 + 2, x1 + 2]) == (255, 255, 255)
    assert (arr[GRID_HEADER + 2 * GRID_PAD + 2 * H + H, cx] == 255).all()  # the None cell stays empty
    assert grid_image([[a]], None).size == (W + 2 * GRID_PAD, H + 2 * GRID_PAD)  # no header strip
    with pytest.raises(InputError):
        grid_image([[a, a]], ["only one title"])
    with pytest.raises(InputError):
        grid_image([[torch.zeros(2, 3, H, W)]], ["batch"])
    with pytest.raises(InputError):
        grid_image([["not an image"]], ["x"])


def test_curves_smoothing_log_scale_and_layout(tmp_path: Path) -> None:
    assert moving_average([1, 2, 3, 4, 5], 2) == [1, 1.5, 2.5, 3.5, 4.5]
    assert moving_average([1, 2], 0) == [1.0, 2.0]
    assert nice_ticks(0, 1, 5) == [0, 0.2, 0.4, 0.6, 0.8, 1.0]
    rep = Report(tmp_path, "curves")
    noisy = {"loss": [(s, 1.0 + (-1) ** s) for s in range(20)]}
    rep.add_curves("smoothed", noisy, smooth=4)
    rep.add_curves("log", {"a": [(0, 1.0), (1, 10.0), (2, 100.0), (3, 0.0)]}, log_scale=True)
    rep.add_curves("far apart", {"big": [(0, 500.0), (1, 400.0)], "small": [(0, 0.01), (1, 0.02)]})
    rep.add_curves("forced overlay", {"big": [(0, 500.0), (1, 400.0)], "small": [(0, 0.01), (1, 0.02)]}, separate=False)
    html = rep.write().read_text()
    svgs = _svgs(html)
    assert len(svgs) == 5
    # smoothing: one curve + the raw values faint; the smoothed curve is flatter than the raw one
    (sm,), (raw,) = _curves(svgs[0]), _curves(svgs[0], "raw")
    spread = lambda poly: np.ptp([y for _, y in _points(poly)[4:]])  # noqa: E731
    # a 4-point moving average of the ±1 alternation is exactly flat: measured spread 0 against 231 px raw
    assert spread(sm) < 0.2 * spread(raw)
    assert "moving average over 4 points" in html
    # log scale: 1, 10, 100 equally spaced vertically; the 0 is dropped and said so
    pts = _points(_curves(svgs[1])[0])
    # SVG coordinates are printed to 1 decimal (±0.05 each, float64 Python arithmetic: no CPU dependence); measured
    # equal spacing exactly (0 difference)
    assert len(pts) == 3 and pts[0][1] - pts[1][1] == pytest.approx(pts[1][1] - pts[2][1], abs=0.15)
    assert "non-positive values omitted: a (1)" in html
    # magnitudes 20x apart: one chart per series; forced overlay: one chart with both
    assert [len(_curves(s)) for s in svgs[2:]] == [1, 1, 2]
    assert len(list(tmp_path.glob("curves-*.svg"))) == 5  # one file per chart, linked from report.md
    with pytest.raises(InputError):
        rep.add_curves("bad", tmp_path / "missing.csv")
    with pytest.raises(InputError):
        rep.add_curves("bad", {"x": [(0, 1.0)]}, names=["y"])


def test_read_curves_skips_partial_lines(tmp_path: Path) -> None:
    p = tmp_path / "metrics.csv"
    p.write_text("step,wall_time,a,b\n1,0.1,0.5,\n2,0.2,0.25,3\n3,0.3,0.1")  # last line cut by a kill
    assert read_curves(p) == {"a": [(1.0, 0.5), (2.0, 0.25)], "b": [(2.0, 3.0)]}


def test_format_and_markdown_helpers() -> None:
    assert [format_value(v) for v in (3, 0.0, 1e-5, 2.5e9, True, None, float("-inf"), np.float32(0.5))] == [
        "3", "0", "1.000e-05", "2.500e+09", "yes", "—", "−∞", "0.5"]
    out = markdown_to_html("## Results\n\n- one\n- two <b>\n\n```\na < b\n```")
    assert out.replace("\n", "") == "<h4>Results</h4><ul><li>one</li><li>two &lt;b&gt;</li></ul><pre><code>a &lt; b</code></pre>"
    assert 'href="javascript' not in markdown_to_html("[x](javascript:alert(1))")
    assert markdown_to_html("**bold** `a<b`") == "<p><strong>bold</strong> <code>a&lt;b</code></p>"


def test_grid_titles_write_greek_letters_out() -> None:
    """The bundled grid font has no Greek glyphs: "λadv=0" is drawn as "lambda adv=0", not as a box."""
    import numpy as np

    from tryon.report import grid_image

    cell = np.full((40, 160, 3), 200, np.uint8)
    greek = np.asarray(grid_image([[cell]], column_titles=["S λadv=0"], row_titles=["θ"]))
    spelled = np.asarray(grid_image([[cell]], column_titles=["S lambda adv=0"], row_titles=["theta"]))
    boxed = np.asarray(grid_image([[cell]], column_titles=["S \u25a1adv=0"], row_titles=["\u25a1"]))
    assert np.array_equal(greek, spelled)
    assert not np.array_equal(greek, boxed)


def test_band_chart_draws_a_line_and_a_band_per_series_and_refuses_no_points() -> None:
    import re

    from tryon.errors import InputError
    from tryon.report import band_chart

    svg = band_chart("x against t", {"β = 1": [(-5, -0.3, 0.1), (0, 0.0, 0.2), (5, 0.3, 0.1)],
                                     "β = 20": [(-5, -0.35, 0.02), (0, 0.0, 0.05), (5, 0.35, 0.02)]},
                     x_label="t", y_range=(-0.5, 0.5))
    assert svg.count("<polyline") == 2 and svg.count("<polygon") == 2 and "β = 20" in svg
    # the first band spans mean ± spread: at t = 0 its top is at +0.2 and its bottom at −0.2, symmetric about the middle
    band = re.search(r'<polygon[^>]*points="([^"]+)"', svg).group(1).split()
    ys = [float(p.split(",")[1]) for p in band]
    assert abs((ys[1] + ys[4]) / 2 - (24 + (320 - 24 - 36) / 2)) < 0.2
    with pytest.raises(InputError, match="at least one point"):
        band_chart("empty", {})
