"""Garment categories (issue 27 part 1): synthetic lower garments and dresses, the category-aware agnostic
person, the dataset's ``category`` and DressCode's three folders, category-steered training pairs and the
per-category evaluation table."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tryon.errors import InputError
from tryon_wuton.agnostic import agnostic_mask, garment_mask, make_agnostic, normalise_category
from tryon_wuton.data import TryOnDataset
from tryon_wuton.data import labels as L
from tryon_wuton.data import synth

SIZE = (64, 48)
CATS = ("upper", "lower", "dress")


def _fixtures():
    spec = importlib.util.spec_from_file_location("_wuton_layout_fixtures_cat", Path(__file__).with_name("layout_fixtures.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def mixed(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cats") / "ds"
    synth.generate(out, n=24, size=SIZE, seed=5, test_fraction=0.5, categories="upper,lower,dress", progress=False)
    return out


def _render(category: str, index: int = 0, partner: int | None = None) -> dict:
    return synth.render_sample(synth.SynthConfig(4, SIZE, seed=2, categories=(category,)), index, partner)


# ------------------------------------------------------------------------------------------------ synthetic data
def test_records_meta_and_unpaired_partners_follow_the_category(mixed):
    meta = json.loads((mixed / "synth_meta.json").read_text())
    recs = [json.loads(line) for line in (mixed / "synth_samples.jsonl").read_text().splitlines()]
    assert set(meta["categories"]) == set(CATS) and sum(meta["categories"].values()) == 24
    assert all(meta["categories"][c] > 0 for c in CATS)
    assert {c: sum(r["category"] == c for r in recs) for c in CATS} == meta["categories"]
    for r in recs:
        assert r["garment"] in synth.GARMENT_TYPES[r["category"]]
        assert r["garment_spec"]["category"] == r["category"]
    by_name = {r["name"]: r["category"] for r in recs}
    pairs = [line.split() for line in (mixed / "test_pairs_unpaired.txt").read_text().splitlines()]
    assert pairs and all(by_name[a] == by_name[b] for a, b in pairs)  # a skirt's partner is a lower garment
    assert sum(meta["stats"]["garments"].values()) == 24


def test_each_category_wears_its_garment_labels_and_flat_lay():
    legs = 0
    for cat in CATS:
        for i in range(3):
            s = _render(cat, i)
            parse, cloth, mask = s["parse"], s["cloth"], s["cloth_mask"]
            worn = np.isin(parse, L.CATEGORY_GARMENT_LABELS[cat])
            assert worn.sum() > 40, (cat, i)
            if cat == "lower":  # the person keeps a top of their own
                assert (parse == L.UPPER_CLOTHES).sum() > 40 and not (parse == L.DRESS).any()
            if cat == "dress":  # one piece: no separate top or trousers
                assert not np.isin(parse, (L.UPPER_CLOTHES, L.PANTS, L.SKIRT)).any()
                legs += int(np.isin(parse, L.LEG_LABELS).any())
            # drawn flat on white: the mask covers the garment, white beyond its anti-aliased edge (1 px)
            assert 0.05 < (mask > 0).mean() < 0.8
            near = np.zeros(mask.shape, bool)
            for dy in (-1, 0, 1):
                for dx in (-1, 0, 1):
                    near |= np.roll(mask > 0, (dy, dx), (0, 1))
            # the back of a neckline (tops and dress bodices) can be a sub-pixel band at 64×48: a few stray pixels
            assert (cloth[~near].min(1) < 255).sum() <= 6
            assert s["garment_spec"].category == cat and s["garment_spec"].label in L.CATEGORY_GARMENT_LABELS[cat]
    assert legs > 0  # some dresses end above the frame's bottom: bare legs below them


def test_lower_unpaired_ground_truth_keeps_the_top_and_changes_the_bottom():
    s = _render("lower", 0, partner=1)
    other = synth.render_sample(synth.SynthConfig(4, SIZE, seed=2, categories=("lower",)), 1)
    gt, img, parse = s["unpaired_gt"].astype(int), s["image"].astype(int), s["parse"]
    top = parse == L.UPPER_CLOTHES
    for dy in (-1, 0, 1):  # its interior: edge pixels blend with what lies beneath
        for dx in (-1, 0, 1):
            top &= np.roll(parse == L.UPPER_CLOTHES, (dy, dx), (0, 1))
    bottom = np.isin(parse, L.LOWER_GARMENT_LABELS)
    top[np.nonzero(bottom.any(1))[0].min() - 1 :] = False  # and above its hem, which is soft over the waistband
    # the top is drawn after (over) the lower garment: its interior is the same in both renders, exactly
    assert top.sum() > 40 and (gt[top] == img[top]).all()
    if s["garment_spec"].color != other["garment_spec"].color:
        assert np.abs(gt[bottom] - img[bottom]).sum() > 0


def test_upper_only_data_is_what_it_was():
    """One category draws nothing from the category stream: the upper garment is the pre-category draw."""
    g = synth.sample_garment(7, 3)
    assert g == synth.sample_garment(7, 3, "upper") and g.category == "upper" and g.kind in synth.GARMENT_TYPES["upper"]
    assert synth.sample_category(7, 3) == "upper"
    assert synth.SynthConfig(1).categories == ("upper",)


def test_categories_option_and_its_errors(tmp_path, capsys):
    from tryon.cli import App
    from tryon_wuton.cli import register_cli

    assert synth.parse_categories("dress, upper") == ("upper", "dress")
    for bad in ("", "shoes", "upper,hat"):
        with pytest.raises(InputError, match="--categories"):
            synth.parse_categories(bad)
    app = App()
    register_cli(app)
    parser = app.build_parser()
    out = tmp_path / "cli"
    args = parser.parse_args(["data", "synth", "--n", "6", "--size", "64x48", "--out", str(out), "--no-progress",
                              "--categories", "lower,dress"])  # fmt: skip
    assert args._run(args) == 0
    assert "categories: lower " in capsys.readouterr().out
    assert set(json.loads((out / "synth_meta.json").read_text())["categories"]) == {"lower", "dress"}
    args = parser.parse_args(["data", "synth", "--n", "4", "--size", "64x48", "--out", str(tmp_path / "x"), "--no-progress",
                              "--categories", "socks"])  # fmt: skip
    with pytest.raises(InputError, match="--categories"):
        args._run(args)
    assert not (tmp_path / "x").exists()


# ------------------------------------------------------------------------------------------------ agnostic person
def _mask(parse: np.ndarray, category) -> np.ndarray:
    return agnostic_mask(torch.from_numpy(parse.astype(np.int64)), category=category)[0, 0].bool().numpy()


def test_agnostic_mask_follows_the_category():
    lower = _render("lower", 1)["parse"]
    m = _mask(lower, "lower")
    assert m[np.isin(lower, L.LOWER_GARMENT_LABELS + L.LEG_LABELS)].all()
    keep = np.isin(lower, (L.UPPER_CLOTHES,) + L.ARM_LABELS + (L.FACE, L.HAIR, L.NECK))
    assert keep.sum() > 40 and not m[keep].any()  # a lower-garment agnostic keeps the top, the arms and the neck
    up = _mask(lower, "upper")
    assert up[np.isin(lower, (L.UPPER_CLOTHES,) + L.ARM_LABELS)].all()
    assert not up[np.isin(lower, L.LOWER_GARMENT_LABELS + L.LEG_LABELS)].any()  # ... and the upper one the bottom
    dress = _render("dress", 2)["parse"]
    d = _mask(dress, "dress")
    assert d[np.isin(dress, (L.DRESS,) + L.ARM_LABELS + L.LEG_LABELS)].all()
    assert not d[np.isin(dress, (L.FACE, L.HAIR))].any()
    # DressCode's folder names are accepted; anything else is refused
    assert np.array_equal(_mask(lower, "lower_body"), m) and normalise_category("dresses") == "dress"
    with pytest.raises(InputError, match="category"):
        _mask(lower, "shoes")


def test_mixed_batch_masks_each_item_by_its_own_category():
    parses = torch.from_numpy(np.stack([_render(c, 0)["parse"] for c in CATS]).astype(np.int64))
    mixed = agnostic_mask(parses, category=list(CATS))
    for b, c in enumerate(CATS):
        assert torch.equal(mixed[b], agnostic_mask(parses[b : b + 1], category=c)[0])
    with pytest.raises(InputError, match="one per item"):
        agnostic_mask(parses, category=["upper", "lower"])
    gm = garment_mask(parses, list(CATS))
    for b, c in enumerate(CATS):
        assert torch.equal(gm[b, 0].bool(), torch.isin(parses[b], torch.tensor(L.CATEGORY_GARMENT_LABELS[c])))
    person = torch.zeros(3, 3, *SIZE)
    p_star = make_agnostic(person + 0.5, parses, list(CATS))
    assert torch.equal(p_star == 0, mixed.expand_as(p_star).bool())  # masked pixels are filled with 0


# ------------------------------------------------------------------------------------------------ dataset
def test_dataset_returns_and_filters_categories(mixed):
    recs = {json.loads(line)["name"]: json.loads(line)["category"] for line in (mixed / "synth_samples.jsonl").read_text().splitlines()}
    ds = TryOnDataset(mixed, "train", size=SIZE)
    assert [ds[i]["category"] for i in range(len(ds))] == [recs[r.name] for r in ds.records] == ds.categories
    lower = TryOnDataset(mixed, "test", "unpaired", size=SIZE, categories="lower")
    assert len(lower) > 0 and set(lower.categories) == {"lower"}
    with pytest.raises(InputError, match="categories"):
        TryOnDataset(mixed, "train", size=SIZE, categories="hats")


def test_dresscode_folders_read_together_or_one_at_a_time(tmp_path):
    F = _fixtures()
    root = F.make_dresscode(tmp_path / "dc")
    every = TryOnDataset(root, "train", size=SIZE, category="all")
    names = {"upper_body": "upper", "lower_body": "lower", "dresses": "dress"}
    assert sorted(set(every.categories)) == sorted(names.values())
    for folder, ours in names.items():
        one = TryOnDataset(root, "train", size=SIZE, category=folder)
        assert set(one.categories) == {ours} and one[0]["category"] == ours
        assert len(TryOnDataset(root, "train", size=SIZE, category=ours)) == len(one)  # our names work too
    assert len(every) == sum(len(TryOnDataset(root, "train", size=SIZE, category=f)) for f in names)
    only = TryOnDataset(root, "train", size=SIZE, category="all", categories=["dresses"])
    assert set(only.categories) == {"dress"}
    with pytest.raises(InputError, match="category"):
        TryOnDataset(root, "train", size=SIZE, category="shoes")


# ------------------------------------------------------------------------------------------------ training
def test_unpaired_training_pairs_stay_within_a_category(mixed):
    from tryon_wuton.data.dataset import category_partners
    from tryon_wuton.training.batches import UnpairedDataset
    from tryon_wuton.training.teacher import open_category_split, unpaired_within_categories

    base = open_category_split(mixed, "train", SIZE)
    cats = base.categories
    ds = unpaired_within_categories(UnpairedDataset(base, pairs_per_person=2, seed=1), base, 1)
    for perm in ds.partners:
        assert all(cats[int(perm[i])] == cats[i] and int(perm[i]) != i for i in range(len(cats)))
    assert category_partners(["upper"] * 5, 2, 0) is None  # one category: the existing pairs are kept
    only = open_category_split(mixed, "train", SIZE, "dress")
    assert set(only.categories) == {"dress"}


def test_teacher_batch_uses_each_items_category():
    from tryon_wuton.training.batches import batch_tensors
    from tryon_wuton.training.teacher import category_tensors

    parses = torch.from_numpy(np.stack([_render(c, 1)["parse"] for c in CATS]).astype(np.int64))
    person = torch.rand(3, 3, *SIZE) * 2 - 1
    batch = {"person": person, "parse": parses, "garment": torch.zeros(3, 3, *SIZE), "category": list(CATS)}
    t = category_tensors(batch_tensors(batch, "cpu"), batch)
    assert torch.equal(t["agnostic"], make_agnostic(person, parses, list(CATS)))
    worn = t["worn_garment"]
    m = garment_mask(parses, list(CATS)).expand_as(person).bool()
    assert torch.equal(worn[m], person[m]) and (worn[~m] == 1).all()
    upper = {**batch, "category": ["upper"] * 3}
    plain = batch_tensors(upper, "cpu")
    assert category_tensors(plain, upper) is plain  # upper-only batches keep the 000 rule untouched


def test_training_configs_take_categories():
    from tryon_wuton.training.config import StudentTaskConfig, TeacherTaskConfig

    assert TeacherTaskConfig(data="x").categories is None
    assert StudentTaskConfig(data="x", teacher_run="t", categories="lower").categories == "lower"


# ------------------------------------------------------------------------------------------------ evaluation
def test_evaluation_table_per_category(mixed, tmp_path):
    from tryon_wuton.experiments.evaluate import evaluate_tryon, table_columns
    from tryon_wuton.pipelines import WutonStudentPipeline

    torch.manual_seed(0)
    WutonStudentPipeline(size=SIZE).save_pretrained(tmp_path / "student")
    res = evaluate_tryon(mixed, tmp_path / "eval", students={"S": tmp_path / "student"}, max_pairs=12, batch_size=6,
                         proxy_steps=1, device="cpu")  # fmt: skip
    present = res["protocol"]["categories"]
    assert len(present) > 1
    conds = res["protocol"]["conditions"]
    rows = {(r["condition"], r["category"]): r for r in res["table"]}
    assert set(rows) == {(c, k) for c in conds for k in ["all", *present]}
    assert table_columns(res["table"])[:3] == ["condition", "model", "category"]
    # a single-category table keeps its columns
    assert "category" not in table_columns([{"model": "S", "condition": "gt-parse"}])
    Image.open(tmp_path / "eval" / f"grid_{conds[0]}.png").verify()
    cat_grid = next(g for g in res["grids"] if g["condition"] == "per category")
    assert cat_grid["categories"] == present and cat_grid["columns"] == ["category", "person", "garment", "S", "ground truth"]
    with Image.open(tmp_path / "eval" / cat_grid["path"]) as im:  # two rows per category, 64×48 cells
        assert im.height > 2 * len(present) * SIZE[0] and im.width > 4 * SIZE[1]


def test_one_teacher_per_category_and_one_student_on_all(mixed, tmp_path, monkeypatch):
    """``--categories lower`` trains a lower-garment teacher; a student distilled from it on every category
    runs its teacher with each item's own p* (a single step of each, batch 2)."""
    from tryon.train import TrainConfig
    from tryon_wuton.training.student import STUDENT_LOOP, StudentTaskConfig, distill_student
    from tryon_wuton.training.teacher import TEACHER_LOOP, TeacherTaskConfig, train_teacher

    common = {"batch_size": 2, "ckpt_every": 100, "log_every": 1, "device": "cpu", "progress": False, "max_steps": 1}
    teacher = tmp_path / "teacher"
    s = train_teacher(TrainConfig(**{**TEACHER_LOOP, **common, "out_dir": str(teacher)}),
                      TeacherTaskConfig(data=mixed, size=SIZE, pairs_per_person=1, categories="lower"))
    assert s["steps"] == 1
    assert json.loads((teacher / "train_info.json").read_text())["categories"] == "lower"
    from tryon_wuton.training import student as student_mod

    seen: list = []

    def spy(person, parse, category="upper"):
        seen.append(list(category) if not isinstance(category, str) else category)
        return make_agnostic(person, parse, category)

    monkeypatch.setattr(student_mod, "make_agnostic", spy)
    cache = tmp_path / "cache"
    s = distill_student(TrainConfig(**{**STUDENT_LOOP, **common, "out_dir": str(tmp_path / "student")}),
                        StudentTaskConfig(teacher_run=teacher, data=mixed, cache_teacher=cache, pairs_per_person=1))
    assert s["steps"] == 1 and len(list(cache.glob("*.safetensors"))) == 2
    recs = {json.loads(line)["name"]: json.loads(line)["category"] for line in (mixed / "synth_samples.jsonl").read_text().splitlines()}
    assert len(seen) == 1 and len(seen[0]) == 2 and set(seen[0]) <= set(recs.values())  # one name per item
    # what each run was trained on is recorded, and its pipeline refuses the other categories in one line
    from tryon_wuton.pipelines import WutonStudentPipeline, WutonTeacherPipeline, category_conditions

    trained = json.loads((teacher / "config.json").read_text())["training"]["trained_categories"]
    assert trained == ["lower"]
    student_cats = json.loads((tmp_path / "student" / "config.json").read_text())["training"]["trained_categories"]
    assert student_cats == sorted(set(recs.values()))
    t = WutonTeacherPipeline.from_pretrained(teacher)
    p = torch.rand(1, 3, *SIZE) * 2 - 1
    with pytest.raises(InputError, match=r"category: expected one of lower \(what this model was trained on\)"):
        t(p, p, category="upper")
    assert t(p, p, category="lower_body").shape == p.shape  # DressCode's folder name accepted
    st = WutonStudentPipeline.from_pretrained(tmp_path / "student")
    assert st.categories == tuple(student_cats) and category_conditions(st) == {"category": student_cats}
    assert torch.equal(st(p, p, category=student_cats[0]), st(p, p))  # the student only checks it
    assert WutonStudentPipeline(size=SIZE).categories is None and category_conditions(WutonStudentPipeline(size=SIZE)) == {}


def test_the_teachers_category_decides_what_its_agnostic_person_masks(monkeypatch):
    from tryon_wuton import pipelines as P

    seen: list = []
    real = P.make_agnostic
    monkeypatch.setattr(P, "make_agnostic", lambda person, parse, category="upper": seen.append(category) or real(person, parse, category))
    t = P.WutonTeacherPipeline(size=SIZE)
    p = torch.rand(1, 3, *SIZE) * 2 - 1
    t(p, p)
    t(p, p, category="dress")
    with pytest.raises(InputError, match="category"):
        t(p, p, category="hat")
    assert seen == ["upper", "dress"]
