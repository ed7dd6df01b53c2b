"""Each adapter accepts what its dataset's official loader accepts (fixtures in ``layout_fixtures.py``):
``tryon data check --all`` passes and one teacher step trains on every layout; maps of another scale are
resized with nearest neighbour, another aspect ratio is refused in one line; an unrecognised folder names
the closest layout and the first part it lacks."""

from __future__ import annotations

import importlib.util
import json
import shutil
import types
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tryon.errors import DatasetError
from tryon_wuton.data import TryOnDataset, check_dataset, detect_layout
from tryon_wuton.data import labels as L
from tryon_wuton.data.layouts import same_aspect


def _load_fixtures() -> types.ModuleType:
    spec = importlib.util.spec_from_file_location("_wuton_layout_fixtures", Path(__file__).with_name("layout_fixtures.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


F = _load_fixtures()
SIZE = F.SIZE
CATEGORIES = ("upper_body", "lower_body", "dresses")


@pytest.fixture(scope="module")
def roots(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("official")
    pf_train, pf_test = F.make_pfafn(base / "pfafn")
    return {
        "viton-hd": F.make_viton_hd(base / "zalando-hd-resized"),
        "viton": F.make_viton(base / "cp-vton"),
        "viton+": F.make_viton(base / "cp-vton-plus", plus=True),
        "dresscode": F.make_dresscode(base / "DressCode"),
        "pfafn": pf_train,
        "pfafn-test": pf_test,
    }


def _cli(argv: list[str], capsys) -> str:
    from tryon.cli import App
    from tryon_wuton.cli import register_cli

    app = App()
    register_cli(app)
    args = app.build_parser().parse_args(argv)
    assert args._run(args) == 0
    return capsys.readouterr().out


# ------------------------------------------------------------------------------------------------
# tryon data check --all on each official-shaped fixture
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "key, layout, splits, label_set",
    [
        ("viton-hd", "viton-hd", {"train": (4, 0), "test": (4, 4)}, "cihp"),
        ("viton", "viton", {"train": (4, 0), "test": (4, 4)}, "lip"),
        ("viton+", "viton", {"train": (4, 0), "test": (4, 4)}, "lip"),
        ("pfafn", "pfafn", {"train": (4, 0)}, "acgpn"),
        ("pfafn-test", "pfafn", {"test": (4, 4)}, "acgpn"),
    ],
)
def test_data_check_all_passes(roots, capsys, key, layout, splits, label_set):
    out = _cli(["data", "check", str(roots[key]), "--all"], capsys)
    assert out.splitlines()[0].endswith("— OK") and f"layout {layout} " in out and f"labels {label_set}" in out
    s = check_dataset(roots[key], deep=None)
    assert s["layout"] == layout and set(s["splits"]) == set(splits)
    for split, (paired, unpaired) in splits.items():
        info = s["splits"][split]
        assert (info["paired"], info["unpaired"], info["checked"]) == (paired, unpaired, paired), (split, info)
        assert info["sizes"] == [f"{SIZE[0]}x{SIZE[1]}"] and info["resized"] == []
        has_parse = key != "pfafn-test"
        assert info["keypoints"] == (f"{paired}/{paired} items" if has_parse else f"0/{paired} items")
        if has_parse:
            assert {"face", "upper-clothes", "left-arm", "right-arm", "pants"} <= set(info["labels"])


def test_cpvton_plus_neck_label_and_same_pairs(roots):
    root = roots["viton+"]
    item = TryOnDataset(root, "train")[0]
    neck = F.body_labels(SIZE, {"neck": 1}).astype(bool)
    assert (item["parse"][torch.from_numpy(neck)] == L.NECK).all()  # image-parse-new label 20 → neck
    test = TryOnDataset(root, "test")
    assert [r.garment_name for r in test.records] == [f"{k + 100:06d}_1.jpg" for k in range(4)]  # test_pairs_same.txt
    assert TryOnDataset(root, "test", "unpaired")[0]["garment_name"] == "000101_1.jpg"
    viton = TryOnDataset(roots["viton"], "train")[0]  # plain CP-VTON: image-parse without a neck label
    assert not (viton["parse"] == L.NECK).any()


def test_dresscode_all_categories_half_size_label_maps(roots, capsys):
    root = roots["dresscode"]
    out = _cli(["data", "check", str(root), "--all"], capsys)
    assert "layout dresscode, categories upper_body, lower_body, dresses (labels atr" in out
    assert out.count("resized to the image size: parse map 64x48 → 128x96 (nearest)") == 6  # 3 categories × 2 splits
    s = check_dataset(root, deep=None)
    assert s["categories"] == list(CATEGORIES)
    for cat in CATEGORIES:
        assert (s["splits"][f"{cat}/train"]["paired"], s["splits"][f"{cat}/test"]["unpaired"]) == (2, 1)
        assert s["splits"][f"{cat}/train"]["sizes"] == ["128x96"]
        assert s["splits"][f"{cat}/train"]["keypoints"] == "2/2 items"
    assert "dress" in s["splits"]["dresses/train"]["labels"] and "upper-clothes" not in s["splits"]["dresses/train"]["labels"]
    one = check_dataset(root, category="lower_body")
    assert set(one["splits"]) == {"lower_body/train", "lower_body/test"}


@pytest.mark.parametrize("category", CATEGORIES)
def test_dresscode_parse_is_resized_with_nearest_neighbour(roots, category):
    root = roots["dresscode"]
    ds = TryOnDataset(root, "train", category=category)
    item = ds[0]
    rec = ds.records[0]
    raw = np.asarray(Image.open(rec.parse))
    assert raw.shape == (64, 48) and item["person"].shape == (3, 128, 96)
    expected = L.ATR.lut[np.repeat(np.repeat(raw, 2, 0), 2, 1)]  # each label pixel becomes a 2×2 block
    assert item["parse"].shape == (128, 96) and np.array_equal(item["parse"].numpy(), expected)
    assert item["accessory_mask"].shape == (1, 128, 96) and int(item["accessory_mask"].sum()) == 4 * int((raw == 16).sum())
    garment = {"upper_body": L.UPPER_CLOTHES, "lower_body": L.PANTS, "dresses": L.DRESS}[category]
    assert (item["parse"] == garment).any()
    # keypoints stay in the 384×512 frame whatever the image and label map sizes (1e-4: the json stores pixels to 3
    # decimals, <= 3e-6 normalised; measured 4e-8 -- a frame-size or half-pixel error is >= 2.6e-3)
    assert item["keypoints"][1, 0] == pytest.approx((2 * 0.5 * 384 + 1) / 384 - 1, abs=1e-4)
    assert (item["keypoints"][17:19] == 0).all()  # ears at -1 are missing
    small = TryOnDataset(root, "train", size=SIZE, category=category)[0]
    assert small["parse"].shape == SIZE and np.array_equal(small["parse"].numpy(), L.ATR.lut[raw])


def test_dresscode_full_size_label_maps_pass_too(tmp_path):
    root = F.make_dresscode(tmp_path / "dc", label_scale=1.0)
    s = check_dataset(root, deep=None)
    assert all(info["resized"] == [] for info in s["splits"].values())


# ------------------------------------------------------------------------------------------------
# one teacher step on each layout
# ------------------------------------------------------------------------------------------------
def _teacher() -> types.SimpleNamespace:
    try:  # the training subpackage (tryon_wuton.training), else the older flat module
        from tryon_wuton.training.batches import UnpairedDataset
        from tryon_wuton.training.teacher import ADAM_BETAS, TEACHER_LR, TeacherConfig, TeacherStep
    except ImportError:
        from tryon_wuton.teacher import ADAM_BETAS, TEACHER_LR, TeacherConfig, TeacherStep, UnpairedDataset
    return types.SimpleNamespace(UnpairedDataset=UnpairedDataset, TeacherStep=TeacherStep, TeacherConfig=TeacherConfig,
                                 TEACHER_LR=TEACHER_LR, ADAM_BETAS=ADAM_BETAS)  # fmt: skip


def _train_data(key: str, root: Path, T) -> tuple[torch.utils.data.Dataset, dict]:
    """Unpaired training triplets and their first batch: 2 persons; DressCode: one of each category."""
    if key != "dresscode":
        ds = T.UnpairedDataset(TryOnDataset(root, "train", size=SIZE), seed=0)
        return ds, next(iter(torch.utils.data.DataLoader(ds, batch_size=2, shuffle=False)))
    parts = [TryOnDataset(root, "train", size=SIZE, category=c) for c in CATEGORIES]
    assert [len(p) for p in parts] == [2, 2, 2]
    ds = torch.utils.data.Subset(T.UnpairedDataset(torch.utils.data.ConcatDataset(parts), seed=0), [0, 2, 4])
    return ds, next(iter(torch.utils.data.DataLoader(ds, batch_size=3)))


@pytest.mark.parametrize("key", ["viton-hd", "viton", "pfafn", "dresscode"])
def test_one_teacher_step(roots, tiny_features, tmp_path, key):
    from tryon.losses import PerceptualLoss
    from tryon.train import TrainConfig, Trainer
    from tryon_wuton.models import WUTON, build_discriminator

    T = _teacher()
    data, batch = _train_data(key, roots[key], T)
    n = 3 if key == "dresscode" else 2
    assert batch["person"].shape == (n, 3, *SIZE) and batch["parse"].shape == (n, *SIZE)
    assert all((p > 0).any() for p in batch["parse"])
    if key == "dresscode":
        assert [name[:6] for name in batch["name"]] == ["000000", "013563", "020714"]  # one per category
    torch.manual_seed(0)
    G, D = WUTON(size=SIZE), build_discriminator(base=16)
    modules = {"generator": G, "discriminator": D}
    opts = {k: torch.optim.Adam(m.parameters(), lr=T.TEACHER_LR, betas=T.ADAM_BETAS) for k, m in modules.items()}
    step = T.TeacherStep(T.TeacherConfig(adv="unpaired"), PerceptualLoss(tiny_features))
    cfg = TrainConfig(out_dir=str(tmp_path / "run"), max_steps=1, batch_size=n, device="cpu", progress=False, tensorboard=False)
    trainer = Trainer(cfg, modules, opts, data, step)
    before = [p.detach().clone() for p in G.parameters()]
    logs = step(trainer, batch)
    assert {"warp", "l1", "perceptual", "adv", "d", "total"} <= set(logs)
    assert all(np.isfinite(v) for v in logs.values()), logs
    assert logs["warp"] > 0 and logs["l1"] > 0
    assert any(not torch.equal(a, b) for a, b in zip(before, G.parameters()))


# ------------------------------------------------------------------------------------------------
# the size rule, the same in every layout
# ------------------------------------------------------------------------------------------------
def test_same_aspect_tolerance():
    assert same_aspect((512, 384), (1024, 768)) and same_aspect((341, 256), (1024, 768))  # 1/3 scale, rounded
    assert not same_aspect((352, 256), (1024, 768)) and not same_aspect((64, 52), (64, 48))
    assert not same_aspect((0, 10), (64, 48))


def _first_parse(key: str, root: Path) -> Path:
    return {
        "viton-hd": lambda: sorted((root / "train" / "image-parse-v3").iterdir())[0],
        "viton": lambda: sorted((root / "data" / "train" / "image-parse").iterdir())[0],
        "dresscode": lambda: sorted((root / "upper_body" / "label_maps").iterdir())[0],
        "pfafn": lambda: sorted((root / "train_label").iterdir())[0],
    }[key]()


def _rescale(path: Path, w: int, h: int) -> None:
    im = Image.open(path)
    pal = im.getpalette() if im.mode == "P" else None
    out = im.resize((w, h), Image.NEAREST)
    if pal:
        out.putpalette(pal)
    out.save(path)


@pytest.mark.parametrize("key", ["viton-hd", "viton", "dresscode", "pfafn"])
def test_other_scale_is_resized_other_aspect_is_refused(roots, tmp_path, capsys, key):
    root = shutil.copytree(roots[key], tmp_path / key)
    parse = _first_parse(key, root)
    ph, pw = (128, 96) if key == "dresscode" else SIZE
    # another scale, same aspect ratio → accepted and resized to the person image
    _rescale(parse, pw // 4, ph // 4)
    item = TryOnDataset(root, "train")[0]
    assert item["parse"].shape == (ph, pw)
    assert f"parse map {ph // 4}x{pw // 4} → {ph}x{pw} (nearest)" in _cli(["data", "check", str(root), "--split", "train"], capsys)
    # another aspect ratio → one line naming both sizes
    _rescale(parse, pw // 2 + 7, ph // 2)
    pattern = rf"parse map .*{parse.name}: expected the size of the person image {pw}×{ph} \(W×H\) .* got {pw // 2 + 7}×{ph // 2} "
    with pytest.raises(DatasetError, match=pattern) as err:
        TryOnDataset(root, "train")
    assert "\n" not in str(err.value)
    with pytest.raises(DatasetError, match=pattern):
        _cli(["data", "check", str(root), "--all"], capsys)


def test_garment_mask_of_another_scale(roots, tmp_path):
    root = shutil.copytree(roots["viton-hd"], tmp_path / "vhd")
    mask = sorted((root / "train" / "cloth-mask").iterdir())[0]
    full = np.asarray(Image.open(mask).convert("L")) >= 128
    Image.fromarray(full.astype(np.uint8) * 255).resize((SIZE[1] * 2, SIZE[0] * 2), Image.NEAREST).save(mask)
    item = TryOnDataset(root, "train")[0]
    assert item["garment_mask"].shape == (1, *SIZE) and np.array_equal(item["garment_mask"][0].numpy() > 0, full)
    Image.fromarray(full.astype(np.uint8) * 255).resize((SIZE[1], SIZE[0] * 2)).save(mask)
    with pytest.raises(DatasetError, match=rf"garment mask .* garment image {SIZE[1]}×{SIZE[0]} \(W×H\) .* got {SIZE[1]}×{SIZE[0] * 2} "):
        TryOnDataset(root, "train")[0]


# ------------------------------------------------------------------------------------------------
# folders no layout fits
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "make, closest, lacks",
    [
        (lambda r: [(r / "test_color").mkdir(), (r / "test_edge").mkdir()], r"pfafn \(2 of its 3 parts\)", "test_img/"),
        (lambda r: [(r / "train" / "image").mkdir(parents=True), (r / "train" / "cloth").mkdir()], r"viton-hd \(3 of its 5 parts\)",
         "train/cloth-mask/"),
        (lambda r: [(r / "test" / "image").mkdir(parents=True)], r"viton-hd \(2 of its 5 parts\)", "test/cloth/"),
    ],
)  # fmt: skip
def test_unrecognised_folder_names_closest_layout(tmp_path, capsys, make, closest, lacks):
    root = tmp_path / "mine"
    root.mkdir()
    make(root)
    tried = r"expected a folder in a supported layout \(tried viton-hd, viton, dresscode, pfafn\)"
    pattern = rf"{tried}, got closest is {closest}, which lacks {lacks}"
    with pytest.raises(DatasetError, match=pattern) as err:
        _cli(["data", "check", str(root)], capsys)
    assert "\n" not in str(err.value)
    with pytest.raises(DatasetError, match=pattern):
        detect_layout(root, None)


def test_detection_of_each_fixture(roots, tmp_path):
    assert {k: detect_layout(r, None) for k, r in roots.items()} == {
        "viton-hd": "viton-hd", "viton": "viton", "viton+": "viton", "dresscode": "dresscode", "pfafn": "pfafn", "pfafn-test": "pfafn",
    }  # fmt: skip
    assert detect_layout(roots["dresscode"] / "dresses") == "dresscode"  # a category folder on its own
    # a VITON folder without pose/ and data/ is still VITON when it has every part
    root = shutil.copytree(roots["viton"] / "data", tmp_path / "flat")
    shutil.rmtree(root / "train" / "pose")
    shutil.rmtree(root / "test" / "pose")
    assert detect_layout(root) == "viton"
    assert json.loads(json.dumps(check_dataset(root)))["layout"] == "viton"
