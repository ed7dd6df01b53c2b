"""Try-on datasets declare their licences and an export states what its weights were trained on (issue 27 §4)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import tryon
from tryon.data.terms import terms_of
from tryon_wuton.data import TryOnDataset
from tryon_wuton.data.layouts import DressCodeLayout


def make_dresscode(root: Path) -> Path:
    import importlib.util

    spec = importlib.util.spec_from_file_location("_wuton_layout_fixtures", Path(__file__).with_name("layout_fixtures.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.make_dresscode(root)


def test_dresscode_is_non_commercial_and_a_declared_file_wins(tmp_path: Path) -> None:
    root = make_dresscode(tmp_path / "dc")
    terms = terms_of(TryOnDataset(root, "train", size=(64, 48), layout="dresscode"))
    assert terms.name == "DressCode" and terms.commercial is False and "non-commercial" in terms.licence
    (root / "DATA_TERMS.json").write_text('{"name": "our shoot", "licence": "ours", "commercial": true}')
    assert terms_of(TryOnDataset(root, "train", size=(64, 48), layout="dresscode")).commercial is True


def test_export_of_a_dresscode_run_tells_the_user_and_the_card(tmp_path: Path, capsys) -> None:
    pytest.importorskip("onnxruntime")
    from tryon.cli import main

    torch.manual_seed(0)
    pipe = tryon.load("wuton-student", device="cpu", size=[64, 48])
    pipe.provenance = {"data_terms": DressCodeLayout.data_terms.as_dict(), "steps_done": 1}
    pipe.save_pretrained(tmp_path / "run")
    out = tmp_path / "export"
    assert main(["export", "wuton-student", "--weights", str(tmp_path / "run"), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "trained on DressCode" in printed and "NOT for commercial use" in printed
    card = (out / "MODEL_CARD.md").read_text() if (out / "MODEL_CARD.md").exists() else "".join(
        p.read_text() for p in out.glob("*.md"))
    assert "## Training data" in card and "Trained on DressCode" in card and "NOT for commercial use" in card
