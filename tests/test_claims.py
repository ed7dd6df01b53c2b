"""The seeds' claims table (tryon.study.claims): generated from docs/claims.toml and the results files — the committed
page must equal what the generator renders, and every rule of the generator fails when broken."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tryon.errors import InputError
from tryon.study.claims import BEGIN, END, compare_figures, load_claims, main, render_claims, select, write_block

ROOT = Path(__file__).resolve().parents[1]


def test_the_committed_table_is_what_the_registry_and_results_render() -> None:
    claims = load_claims(ROOT / "docs" / "claims.toml")
    assert len(claims) >= 40
    text = render_claims(claims, ROOT)
    assert not write_block(ROOT / "docs" / "benchmarks.md", text, check=True), "run `make docs` (docs/benchmarks.md is stale)"
    assert main(["--check", str(ROOT / "docs" / "claims.toml"), str(ROOT / "docs" / "benchmarks.md")]) == 0


def test_select_follows_keys_indices_and_filters() -> None:
    data = {"rows": [{"a": 1, "b": "x", "v": 0.5}, {"a": 2, "b": "x", "v": 0.25}]}
    assert select(data, ["rows", {"a": 2}, "v"], "c") == 0.25 and select(data, ["rows", 0, "b"], "c") == "x"
    with pytest.raises(InputError, match="one list entry matching"):
        select(data, ["rows", {"b": "x"}], "c")  # two match
    with pytest.raises(InputError, match="a key or index 'w'"):
        select(data, ["rows", 0, "w"], "c")


def test_ours_reads_keys_or_labelled_paths_below_the_selected_entry(tmp_path) -> None:
    from tryon.study.claims import resolve

    (tmp_path / "r.json").write_text(json.dumps({"claim": {"verdict": "mixed", "per_seed": {"0": {"s": [0.3, 0.2]},
                                                                                             "1": {"s": [0.2, 0.25]}}}}))
    claim = {"source": "003 Fig. 4.11", "claim": "c", "seed": "s", "results": "r.json", "path": ["claim"], "verdict": "verdict",
             "ours": [{"label": "seed 0", "path": ["per_seed", "0", "s"]}, {"label": "seed 1", "path": ["per_seed", "1", "s"]}]}
    row = resolve(claim, tmp_path)
    assert row["ours"] == "seed 0 0.3, 0.2; seed 1 0.2, 0.25" and row["verdict"] == "mixed"
    assert resolve({**claim, "ours": "verdict"}, tmp_path)["ours"] == "mixed"
    with pytest.raises(InputError, match="a key or index '2'"):
        resolve({**claim, "ours": [{"label": "seed 2", "path": ["per_seed", "2", "s"]}]}, tmp_path)


def test_figures_are_compared_seed_by_seed() -> None:
    rows = [{"seed": s, "m": m, "v": v} for s, m, v in ((0, "a", 0.1), (0, "b", 0.2), (1, "a", 0.3), (1, "b", 0.2))]
    figs = [{"label": "A", "path": ["rows"], "match": {"m": "a"}, "key": "v"},
            {"label": "B", "path": ["rows"], "match": {"m": "b"}, "key": "v"}]
    shown, verdict = compare_figures({"rows": rows}, figs, "lower", "c")
    assert verdict == "mixed" and shown == "A 0.2 ± 0.1, B 0.2 ± 0 (2 seeds)"
    assert compare_figures({"rows": rows[:2]}, figs, "lower", "c")[1] == "held"
    assert compare_figures({"rows": rows[:2]}, figs, "higher", "c")[1] == "not held"
    with pytest.raises(InputError):
        compare_figures({"rows": rows}, figs[:1], "lower", "c")


def test_registry_and_block_errors_name_the_problem(tmp_path) -> None:
    reg = tmp_path / "claims.toml"
    reg.write_text('[[claim]]\nsource = "000 Table 1"\nclaim = "x"\nseed = "1"\n')
    with pytest.raises(InputError, match="results or status|results/status"):
        load_claims(reg)
    reg.write_text('[[claim]]\nsource = "000 Table 1"\nclaim = "x"\nseed = "1"\nresults = "r.json"\npath = ["v"]\n')
    (tmp_path / "r.json").write_text(json.dumps({"v": 0.125}))
    text = render_claims(load_claims(reg), tmp_path)
    assert "| 000 Table 1 | x | 1 | 0.125 | — | `r.json` |" in text and text.startswith("1 claims, 1 read")
    doc = tmp_path / "doc.md"
    doc.write_text(f"intro\n{BEGIN}\nold\n{END}\nafter\n")
    assert write_block(doc, text, check=True) and doc.read_text().count("old") == 1  # check writes nothing
    assert write_block(doc, text) and not write_block(doc, text)
    assert doc.read_text() == f"intro\n{BEGIN}\n{text}{END}\nafter\n"
    doc.write_text("no markers\n")
    with pytest.raises(InputError, match="markers"):
        write_block(doc, text)
