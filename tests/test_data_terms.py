"""What weights were trained on, and on what terms (issue 27 §4): datasets declare terms, training runs record them,
exports state them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from tryon.data.terms import (PROCEDURAL, TERMS_FILE, UNRECORDED, DataTerms, read_terms_file, terms_of, user_folder,
                              write_terms_file)
from tryon.errors import InputError

NC = DataTerms("SomeSet", "CC BY-NC 4.0", False, "example.org")


class _WithTerms:
    terms = NC


class _Wrapper:
    def __init__(self, base):
        self.base = base


class _Folder:
    def __init__(self, root):
        self.root = root


def test_terms_of_reads_attributes_wrappers_and_files(tmp_path: Path) -> None:
    assert terms_of(_WithTerms()) == NC
    assert terms_of(_Wrapper(_Wrapper(_WithTerms()))) == NC
    assert terms_of(type("D", (), {"terms": NC.as_dict()})()) == NC
    assert terms_of(object()) == UNRECORDED
    # a split folder finds the set's declaration one level up
    (tmp_path / "set" / "train").mkdir(parents=True)
    write_terms_file(tmp_path / "set", NC)
    assert terms_of(_Folder(tmp_path / "set" / "train")) == NC
    # a folder that declares nothing: its owner's terms, commercial use unknown (never guessed)
    (tmp_path / "mine").mkdir()
    mine = terms_of(_Wrapper(_Folder(tmp_path / "mine")))
    assert mine == user_folder(tmp_path / "mine") and mine.commercial is None


def test_malformed_terms_file_names_the_file(tmp_path: Path) -> None:
    (tmp_path / TERMS_FILE).write_text(json.dumps({"name": "x", "licence": "y", "commercial": "maybe"}))
    with pytest.raises(InputError, match=TERMS_FILE):
        read_terms_file(tmp_path)
    (tmp_path / TERMS_FILE).write_text("{not json")
    with pytest.raises(InputError, match="unreadable"):
        read_terms_file(tmp_path)


def test_sentences_say_what_a_deployer_needs() -> None:
    assert "NOT for commercial use" in NC.sentence() and NC.sentence().startswith("trained on SomeSet (CC BY-NC 4.0)")
    assert "commercial use allowed" in PROCEDURAL.sentence()
    assert "unknown" in UNRECORDED.sentence()


def test_photo_crops_declare_their_terms(tmp_path: Path) -> None:
    pytest.importorskip("skimage")
    from tryon.data import ImageFolderDataset
    from tryon.data.photos import TERMS, write_photo_crops

    write_photo_crops(tmp_path / "crops", size=16, train=4, test=2)
    assert terms_of(ImageFolderDataset(tmp_path / "crops" / "train")) == TERMS


def test_training_run_records_the_data_terms(tmp_path: Path) -> None:
    from tryon.train import TrainConfig, run

    class Data(torch.utils.data.Dataset):
        terms = NC

        def __len__(self):
            return 8

        def __getitem__(self, i):
            return torch.full((2,), float(i))

    net = torch.nn.Linear(2, 1)
    opt = torch.optim.SGD(net.parameters(), lr=0.01)

    def step(trainer, batch):
        loss = net(batch).pow(2).mean()
        trainer.backward(loss)
        trainer.optimizer_step("net")
        return {"loss": float(loss.detach())}

    cfg = TrainConfig(out_dir=str(tmp_path / "run"), max_steps=2, batch_size=4, progress=False, device="cpu")
    run(cfg, modules={"net": net}, optimizers={"net": opt}, dataset=Data(), step_fn=step)
    info = json.loads((tmp_path / "run" / "train_info.json").read_text())
    assert info["data_terms"] == NC.as_dict()


def test_repository_and_every_plugin_declare_a_licence() -> None:
    import tomllib

    root = Path(__file__).resolve().parent.parent
    assert "Apache License" in (root / "LICENSE").read_text(encoding="utf-8")[:200]
    projects = [root / "pyproject.toml", *sorted(root.glob("plugins/*/pyproject.toml")),
                root / "examples" / "plugin-template" / "pyproject.toml"]
    missing = [str(p.relative_to(root)) for p in projects
               if not tomllib.loads(p.read_text(encoding="utf-8"))["project"].get("license")]
    assert missing == []


def test_ensure_photo_crops_writes_once_and_reuses_a_finished_set(tmp_path: Path) -> None:
    pytest.importorskip("skimage")
    from tryon.data.photos import MANIFEST, ensure_photo_crops

    out = ensure_photo_crops(tmp_path / "crops", size=16, train=4, test=2)
    first = sorted(p.name for p in (out / "train").iterdir())
    stamp = (out / MANIFEST).stat().st_mtime_ns
    assert len(first) == 4 and ensure_photo_crops(out, size=16, train=8, test=2) == out
    assert sorted(p.name for p in (out / "train").iterdir()) == first and (out / MANIFEST).stat().st_mtime_ns == stamp
