"""`tryon eval edibert` on a trained run folder: the Table 4.2 ablation rows, the sampler timing rows and the
report, a study whose report `--render-only` re-creates; the batched-sampler verdict. The demo: test_demo.py."""

import json
import shutil

from tryon.cli import main as tryon_main


def test_eval_verb_writes_ablation_timing_and_report(edibert_run, scenes, tmp_path, capsys, monkeypatch):
    from tryon_edibert.experiments import evaluate
    from tryon_edibert.experiments.evaluate import ABLATION

    out = tmp_path / "eval"
    assert tryon_main(["eval", "edibert", "--weights", edibert_run[0], "--data", scenes, "--n", "4",
                       "--optim-steps", "1", "--proxy-steps", "2", "--out", str(out)]) == 0
    res = json.loads((out / "results.json").read_text())
    assert res["study"] == "eval-edibert" and res["machine"]["cpu"] and res["versions"]["tryon"]
    assert res["settings"] == {"n": 4, "optim_steps": 1, "proxy_steps": 2} and res["artifacts"] == ["grid.png"]
    assert [r["variant"] for r in res["ablation"]] == [n for n, _ in ABLATION]
    assert res["size"] == [32, 32] and res["n"] == 4  # the training size recorded with the weights
    one, rings, least, least4 = res["timing"]
    assert one["sampler"].startswith("spiral (1 token")
    # one token per forward costs epochs × |region| forwards per batch; the batched samplers far fewer
    assert rings["forwards"] < one["forwards"] / 2 and least["forwards"] == 2 * 8
    assert least4["forwards"] == 2 * 4
    assert all(r["masked_l1"] >= 0 and r["proxy_fid"] == r["proxy_fid"] for r in res["ablation"] + res["timing"])
    assert (out / "report.html").is_file()
    assert "report" in json.loads(capsys.readouterr().out)

    def no_compute(*_a, **_k):
        raise AssertionError("--render-only computed")

    monkeypatch.setattr(evaluate, "compute", no_compute)
    for p in out.iterdir():
        if p.name not in ("results.json", "grid.png"):
            shutil.rmtree(p) if p.is_dir() else p.unlink()
    assert tryon_main(["eval", "edibert", "--render-only", "--out", str(out)]) == 0
    assert (out / "report.html").is_file() and json.loads(capsys.readouterr().out)["timing"] == res["timing"]


def test_timing_verdict():
    from tryon_edibert.experiments.demo import timing_verdict

    rows = [{"sampler": "one", "speed-up": 1.0, "l1_vs_one_token": 1.0},
            {"sampler": "fast-but-worse", "speed-up": 9.0, "l1_vs_one_token": 1.2},
            {"sampler": "ok", "speed-up": 6.0, "l1_vs_one_token": 1.04}]
    v = timing_verdict(rows)
    assert v["met"] and v["sampler"] == "ok"
    v = timing_verdict(rows[:2])
    assert not v["met"] and v["sampler"] == "fast-but-worse" and v["speed_up"] == 9.0
