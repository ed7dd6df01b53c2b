"""benchmarks/wuton_quality.py: the ordering verdicts, the parser errors of the Fig. 4.10 rows,
and the whole evaluate-and-report path on untrained weights (fast); the real training run in smoke mode is
marked slow."""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[3] / "benchmarks" / "wuton_quality.py"


@pytest.fixture(scope="module")
def wq():
    spec = importlib.util.spec_from_file_location("_wuton_quality_bench", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def test_verdicts(wq):
    assert wq.check_ordering([0.1, 0.2], higher_is_better=True) == "held"
    assert wq.check_ordering([-0.1, -0.2], higher_is_better=False) == "held"
    assert wq.check_ordering([0.3, -0.1], higher_is_better=True) == "mixed"
    assert wq.check_ordering([0.1, -0.3], higher_is_better=True) == "not held"
    assert wq.check_ordering([0.1, -0.3], higher_is_better=False) == "mixed"
    assert wq.check_ordering([0.0], higher_is_better=True) == "not held"
    assert wq.check_ordering([float("nan"), 0.1], higher_is_better=True) == "n/a"
    assert wq.mean_spread([1.0, 3.0]) == (2.0, 1.0)
    assert wq.mean_spread([0.5]) == (0.5, 0.0)


def _fake_seed(t_ssim: float, s_fid: float, s0_fid: float) -> dict:
    def row(ssim, lp=0.5, fid=10.0, arms=0.3):
        return {"ssim": ssim, "proxy-lpips": lp, "proxy-fid": fid, "arms-l1": arms, "l1": 0.2}

    teachers = {"T-WUTON": row(t_ssim, 0.40, 9.0), "w/o L_adv": row(0.80, 0.45, 12.0),
                "paired L_adv": row(0.80, 0.38, 8.0), "not end-to-end": row(0.80, 0.50, 11.0)}
    unpaired = {**teachers, "S-WUTON": row(0.85, 0.3, s_fid, 0.1), "S-WUTON λadv=0": row(0.84, 0.3, s0_fid, 0.1)}
    curve = [{"px": 0, "ssim": t_ssim}, {"px": 4, "ssim": t_ssim - 0.1}]
    return {"paired": teachers, "unpaired": unpaired, "robustness": {"erode": curve}}


def test_orderings_read_the_seeds_directions(wq):
    by_seed = {0: _fake_seed(0.805, 7.0, 12.0), 1: _fake_seed(0.80, 13.0, 12.0)}
    verdicts = {o["id"]: o["verdict"] for o in wq.orderings(by_seed)}
    assert verdicts["E1-lpips-adv"] == "held"  # 0.40 < 0.45 in both seeds
    assert verdicts["E1-lpips-paired"] == "held"
    assert verdicts["E1-fid-adv"] == "held"
    assert verdicts["4.3-fid"] == "not held"  # student 7 and 13 vs teacher 9: mean 10 > 9
    assert verdicts["4.5-fid"] == "mixed"  # 7 < 12 in seed 0, 13 > 12 in seed 1, mean 10 < 12
    assert verdicts["E1-ssim-tie"] == "held"  # spans 0.005 and 0
    assert verdicts["4.10-erode-degrades"] == "held"
    assert verdicts["4.10-erode-student"] == "held"
    row = next(o for o in wq.orderings(by_seed) if o["id"] == "4.5-fid")
    assert row["per_seed"] == [-5.0, 1.0] and row["difference"] == -2.0 and row["difference_spread"] == 3.0


def test_parser_errors(wq):
    from tryon_wuton.data.labels import BACKGROUND, UPPER_CLOTHES

    parse = torch.full((1, 16, 12), BACKGROUND, dtype=torch.long)
    parse[:, 4:12, 3:9] = UPPER_CLOTHES
    shifted = wq.corrupted(parse, "shift", 2)
    assert torch.equal(shifted[:, :, 5:11], parse[:, :, 3:9]) and (shifted[:, :, :5] == BACKGROUND).all()
    assert torch.equal(wq.corrupted(parse, "erode", 0), parse)
    eroded = wq.corrupted(parse, "erode", 1)
    assert (eroded == UPPER_CLOTHES).sum() == 6 * 4  # 8x6 block loses a 1-px rim
    dilated = wq.corrupted(parse, "dilate", 1)
    assert (dilated == UPPER_CLOTHES).sum() == 10 * 8
    assert (parse == UPPER_CLOTHES).sum() == 48  # the input is untouched


def _untrained_runs(out: Path, size: tuple[int, int]) -> None:
    """The folders the benchmark would train, filled with untrained pipelines (it reuses finished runs)."""
    from tryon_wuton.pipelines import WutonParserPipeline, WutonStudentPipeline, WutonTeacherPipeline

    torch.manual_seed(0)
    WutonParserPipeline(size=list(size)).save_pretrained(out / "parser")
    for folder in ("teacher", "teacher_no_adv", "teacher_paired_adv", "teacher_not_e2e"):
        WutonTeacherPipeline(size=list(size)).save_pretrained(out / "seed0" / folder)
    for folder in ("student", "student_noadv"):
        WutonStudentPipeline(size=list(size)).save_pretrained(out / "seed0" / folder)


def test_evaluation_and_report_on_untrained_runs(wq, tmp_path):
    out = tmp_path / "q"
    _untrained_runs(out, (64, 48))
    assert wq.main(["--out", str(out), "--budget", "tiny", "--quiet", "--strengths", "0,3", "--distill-multiples", "0"]) == 0
    saved = json.loads((out / "results.json").read_text())
    assert set(saved["timings"]) == {"synthetic data", "proxy features", "evaluation"}  # no network trained
    for name in ("results.json", "table.md", "report.html", "grid_paired.png", "grid_unpaired.png", "grid_robustness.png"):
        assert (out / name).is_file(), name
    seed0 = saved["per_seed"]["0"]
    assert set(seed0["paired"]) == {"T-WUTON", "w/o L_adv", "paired L_adv", "not end-to-end"}
    assert set(seed0["unpaired"]) == set(seed0["paired"]) | {"S-WUTON", "S-WUTON λadv=0"}
    assert [p["px"] for p in seed0["robustness"]["shift"]] == [0, 3]
    n = saved["n_pairs"]["unpaired"]
    assert n >= 3 and all(math.isfinite(v["proxy-fid"]) for v in seed0["unpaired"].values())
    assert all(-1.0 <= v["ssim"] <= 1.0 for v in seed0["unpaired"].values())
    # strength 0 is the uncorrupted teacher (its unpaired row); 3 px changes its input, hence its output. The same
    # images through the same evaluation: measured identical SSIM (AVX2 and SSE4.1; 1e-6 allows another batching);
    # the 3 px erosion moves proxy-LPIPS by 6e-3 (both), 10^4x the 1e-7 that would count as unchanged
    erode = seed0["robustness"]["erode"]
    assert erode[0]["ssim"] == pytest.approx(seed0["unpaired"]["T-WUTON"]["ssim"], abs=1e-6)
    assert erode[1]["proxy-lpips"] != pytest.approx(erode[0]["proxy-lpips"], abs=1e-7)
    assert {o["verdict"] for o in saved["orderings"]} <= {"held", "mixed", "not held"}
    assert len(saved["orderings"]) == len(wq.ORDERINGS) + 1 + 2 * 3
    assert saved["machine"]["cpu"] and "torch" in saved["versions"]
    assert saved["protocol"]["proxy_trained"] is False  # 2 proxy steps: flagged, not silently used
    md = (out / "table.md").read_text()
    assert "did not train" in md
    assert "| 000 Table 4.5 | S-WUTON beats S-WUTON λadv=0 | proxy-fid |" in md


def test_bad_kind_is_one_clear_error(wq, tmp_path, capsys):
    with pytest.raises(SystemExit):
        wq.main(["--out", str(tmp_path / "x"), "--budget", "tiny", "--kinds", "blur"])
    assert "kinds" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


@pytest.mark.slow
def test_smoke_run_trains_every_network(wq, tmp_path):
    assert wq.main(["--out", str(tmp_path / "q"), "--budget", "tiny", "--quiet"]) == 0
    timings = json.loads((tmp_path / "q" / "results.json").read_text())["timings"]
    for key in ("parser", "seed 0 T-WUTON", "seed 0 not end-to-end", "seed 0 S-WUTON", "seed 0 S-WUTON λadv=0"):
        assert key in timings, key
    cfg = json.loads((tmp_path / "q" / "seed0" / "student_noadv" / "config.json").read_text())
    assert cfg["training"]["lambda_adv"] == 0.0
