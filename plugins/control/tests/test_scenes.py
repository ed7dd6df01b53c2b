"""003 ch. 5 at toy scale: the scenes, the model's shapes, the w_pres skip rule and its object-VAE call count, the
AP / count-error metrics of 003 Table 5.1 on hand-made cases, the capacity analysis (R10), the edit task, a loss that
decreases, and bad input refused in one line."""

from __future__ import annotations

import json

import math

import pytest
import torch

from tryon.errors import InputError
from tryon.testing import StepTrainer
from tryon_control.scenes.capacity import no_overload_probability
from tryon_control.scenes.config import SceneTaskConfig
from tryon_control.scenes.data import ControlScenes
from tryon_control.scenes.detect import mask_box
from tryon_control.scenes.metrics import average_precision, count_error_rate, mean_average_precision
from tryon_control.scenes.model import SceneModel, skip_mask
from tryon_control.scenes.pipelines import SceneEditPipeline
from tryon_control.training.scenes import STAGES, check_task, scene_step


@pytest.fixture(scope="module")
def scenes() -> ControlScenes:
    return ControlScenes(6, size=48, seed=3)


def test_scenes_are_images_in_range_with_tight_boxes_around_their_sprites(scenes) -> None:
    assert len(scenes) == 6 and scenes[0].shape == (3, 48, 48)
    assert float(scenes.images.min()) >= -1 and float(scenes.images.max()) <= 1
    counts = scenes.counts()
    assert int(counts.min()) >= 2 and int(counts.max()) <= 6
    for i in range(len(scenes)):
        boxes, rotated = scenes.boxes(i), scenes.rotated_boxes(i)
        assert boxes.shape == (int(counts[i]), 4) and rotated.shape == (int(counts[i]), 5)
        assert bool((boxes[:, 2:] > boxes[:, :2]).all()) and float(boxes.min()) >= 0 and float(boxes.max()) <= 48
        # the sprite's centre lies in its tight box; the background (the median colour) is darker than every sprite
        cx, cy = rotated[:, 0], rotated[:, 1]
        assert bool(((cx >= boxes[:, 0]) & (cx <= boxes[:, 2]) & (cy >= boxes[:, 1]) & (cy <= boxes[:, 3])).all())
    again = ControlScenes(6, size=48, seed=3)
    assert torch.equal(again.images, scenes.images)
    assert not torch.equal(ControlScenes(6, size=48, seed=3, split="test").images, scenes.images)


def test_model_shapes_for_ours_and_the_space_like_ablation(scenes) -> None:
    x = scenes.images[:2]
    for grid, k in ((4, 4), (8, 1)):
        torch.manual_seed(0)
        model = SceneModel(size=48, grid=grid, k=k, glimpse=12, width=4, hidden=16).eval()
        with torch.no_grad():
            out = model(x)
        assert model.capacity == 64
        assert out.recon.shape == (2, 3, 48, 48) and out.fg_mask.shape == (2, 1, 48, 48)
        assert out.w_pres.shape == (2, 64) and out.shift.shape == (2, 64, 2) and out.angle.shape == (2, 64)
        assert out.q_mu.shape == out.p_mu.shape == (2, 64, 7)
        assert out.glimpse_alpha.shape == (out.calls, 1, 12, 12) and out.glimpse_rgb.shape == (out.calls, 3, 12, 12)
        # a convex mix of tanh outputs and the background: [-1, 1] up to float32 rounding
        assert float(out.recon.min()) >= -1 - 1e-5 and float(out.recon.max()) <= 1 + 1e-5
        # shifts stay inside their cell (003 §5.3: each cell proposes its own boxes)
        cell = model.cells.repeat_interleave(k, 0)
        assert float((out.shift - cell).abs().max()) <= 1.0 / grid + 1e-6


def test_skip_rule_keeps_the_confident_boxes_plus_one_per_cell() -> None:
    w = torch.tensor([[0.9, 0.005, 0.5, 0.001],     # 2 confident -> ranks 0, 1 and the next one (0.005) run
                      [0.002, 0.003, 0.001, 0.004],  # none confident -> only the best one
                      [0.2, 0.3, 0.4, 0.5]])         # all confident -> all four
    kept = skip_mask(w)
    assert kept.tolist() == [[True, True, True, False], [False, False, False, True], [True, True, True, True]]


def test_the_object_vae_runs_once_per_kept_box(scenes) -> None:
    x = scenes.images[:3]
    torch.manual_seed(0)
    model = SceneModel(size=48, grid=4, k=4, glimpse=12, width=4, hidden=16).eval()
    calls = []
    for bias in (-12.0, 12.0):  # every w_pres ~ 0 (one box per cell) / ~ 1 (all K per cell)
        with torch.no_grad():
            model.proposer.pres.bias.fill_(bias)
        out = model(x)
        assert out.calls == int(out.kept.sum()) == out.glimpse_alpha.shape[0]
        calls.append(out.calls)
    assert calls == [3 * 16, 3 * 64]
    space_like = SceneModel(size=48, grid=8, k=1, glimpse=12, width=4, hidden=16).eval()
    assert space_like(x).calls == 3 * 64  # K = 1: every cell's box always runs


def _b(*rows):
    return torch.tensor(rows, dtype=torch.float32).reshape(-1, 4)


def test_average_precision_on_hand_made_cases() -> None:
    truth = [_b([0, 0, 10, 10], [20, 20, 30, 30]), _b([5, 5, 15, 15])]
    perfect = [t.clone() for t in truth]
    scores = [torch.tensor([0.9, 0.8]), torch.tensor([0.7])]
    assert average_precision(perfect, scores, truth, 0.5) == pytest.approx(1.0)
    assert mean_average_precision(perfect, scores, truth) == pytest.approx(1.0)
    # one object missed: recall stops at 2/3, precision 1 up to there -> 67 of the 101 recall points
    missed = [_b([0, 0, 10, 10], [20, 20, 30, 30]), _b()]
    assert average_precision(missed, [torch.tensor([0.9, 0.8]), torch.zeros(0)], truth, 0.5) == pytest.approx(67 / 101)
    # one false positive ranked first: precision 0 at rank 1, then 1/2, 2/3, 3/4 -> envelope 3/4 everywhere
    fp = [_b([40, 40, 45, 45], [0, 0, 10, 10], [20, 20, 30, 30]), _b([5, 5, 15, 15])]
    fp_scores = [torch.tensor([0.99, 0.9, 0.8]), torch.tensor([0.7])]
    assert average_precision(fp, fp_scores, truth, 0.5) == pytest.approx(0.75)
    # the same false positive ranked last costs nothing
    fp_scores_last = [torch.tensor([0.01, 0.9, 0.8]), torch.tensor([0.7])]
    assert average_precision(fp, fp_scores_last, truth, 0.5) == pytest.approx(1.0)
    # a box at IoU 0.6 counts at 0.5 but not at 0.75: [0, 0, 10, 10] vs [0, 0, 10, 6] -> IoU 0.6
    one = [_b([0, 0, 10, 10])]
    shifted = [_b([0, 0, 10, 6])]
    assert average_precision(shifted, [torch.tensor([0.9])], one, 0.5) == pytest.approx(1.0)
    assert average_precision(shifted, [torch.tensor([0.9])], one, 0.75) == pytest.approx(0.0)
    # over 0.5:0.05:0.95 it counts at 0.5, 0.55 and 0.6 only
    assert mean_average_precision(shifted, [torch.tensor([0.9])], one) == pytest.approx(0.3)
    assert count_error_rate([2, 1, 3], [2, 2, 3]) == pytest.approx(1 / 3)


def test_r10_cell_capacity_reproduces_the_extract_table() -> None:
    """003 Fig. 5.2 / R10: P(no overloaded cell) = Q(K + 1, N / G)^G (the extract's table, N = 18 and others)."""
    # (N objects, G cells, K, the extract's value)
    table = [(18, 16, 4, 0.9088), (18, 32, 2, 0.5312), (18, 64, 1, 0.1178), (18, 256, 1, 0.5463), (4, 64, 1, 0.8869),
             (24, 16, 4, 0.7408), (8, 64, 4, 1.0)]
    for n, g, k, want in table:  # the table is printed to 4 decimals: half a unit of the last digit
        assert no_overload_probability(n, g, k) == pytest.approx(want, abs=5e-5), (n, g, k)
    # at equal capacity C = 64 the ordering of 003 §5.3: 4x4xK4 >> 32 cells x K2 >> 8x8xK1
    for n in (6, 8, 18, 24):
        assert no_overload_probability(n, 16, 4) > no_overload_probability(n, 32, 2) > no_overload_probability(n, 64, 1)


def _barycentre(layer: torch.Tensor) -> torch.Tensor:
    a = layer[0, 0]
    ys, xs = torch.meshgrid(torch.arange(a.shape[0]), torch.arange(a.shape[1]), indexing="ij")
    return torch.stack([(a * xs).sum(), (a * ys).sum()]) / a.sum()


def test_edit_moves_scales_and_removes_one_object(scenes) -> None:
    torch.manual_seed(0)
    pipe = SceneEditPipeline(size=48, grid=4, k=4, glimpse=12, width=4, hidden=16)
    with torch.no_grad():  # an untrained model made decisive: every box present, opaque glimpses
        pipe.model.proposer.pres.bias.fill_(8.0)
        pipe.model.objects.dec[-1].bias[3] = 6.0
    x = scenes.images[:1]
    dec = pipe.decompose_tensors(x)[1][0]
    centres = (dec.boxes[:, :2] + dec.boxes[:, 2:]) / 2
    obj = int(torch.argmin(((centres - 24) ** 2).sum(1)))  # an interior object: no clipping at the border
    edit = pipe(x, obj=obj, move=(3, -2))
    moved = _barycentre(edit.layer) - _barycentre(edit.layer_before)
    assert moved.tolist() == pytest.approx([3.0, -2.0], abs=0.05)
    # the box is moved by arithmetic: float32 rounding (the layer's barycentre, above, by resampling: 0.05 px)
    assert (edit.box_after[0, :2] - edit.box_before[0, :2]).tolist() == pytest.approx([3.0, -2.0], abs=1e-4)
    # the tight box of the object in the edited render (its layer's mask) moved by exactly the requested pixels
    before, after = mask_box(edit.layer_before[0, 0] > 0.5), mask_box(edit.layer[0, 0] > 0.5)
    assert ((after[:2] + after[2:]) / 2 - (before[:2] + before[2:]) / 2).tolist() == pytest.approx([3.0, -2.0], abs=0.51)
    assert not torch.equal(edit.image, edit.original)
    grown = pipe(x, obj=obj, scale=1.5, rotate=0.3)
    # measured 2.25x to within ~2 %: bilinear resampling of the glimpse at the new scale
    assert float(grown.layer.sum()) == pytest.approx(2.25 * float(grown.layer_before.sum()), rel=0.05)
    gone = pipe(x, obj=obj, remove=True)
    assert float((gone.image - gone.original).abs().sum()) > 0
    with pytest.raises(InputError, match="obj: expected an object index"):
        pipe(x, obj=99)


def test_a_few_staged_steps_lower_the_loss(scenes) -> None:
    torch.manual_seed(0)
    model = SceneModel(size=48, grid=4, k=4, glimpse=12, width=4, hidden=16)
    opts = {name: torch.optim.Adam([p for part in parts for p in getattr(model, part).parameters()], lr=3e-3)
            for name, parts in STAGES.items()}
    task = SceneTaskConfig(object_steps=3)
    trainer = StepTrainer({"model": model}, opts)
    step = scene_step(task)
    x = scenes.images[:2]
    before = {k: v.detach().clone() for k, v in model.prior.state_dict().items()}
    losses = []
    for i in range(8):
        trainer.step = i
        torch.manual_seed(100)  # the same latent noise every step: the loss is comparable
        logs = step(trainer, x)
        losses.append(logs["loss"])
        if i == 2:  # stage 1 (the object VAE alone) left the prior untouched
            assert all(torch.equal(before[k], v) for k, v in model.prior.state_dict().items())
    assert logs["stage"] == 2.0
    assert losses[-1] < losses[0] - 100, losses


def test_bad_input_is_refused_in_one_line(scenes) -> None:
    pipe = SceneEditPipeline(size=48, grid=4, k=4, glimpse=12, width=4, hidden=16)
    for bad, match in [(torch.zeros(1, 3, 32, 32), "image: expected a 3x48x48"),
                       (torch.full((1, 3, 48, 48), math.nan), "image: expected finite")]:
        with pytest.raises(InputError, match=match) as info:
            pipe(bad)
        assert "\n" not in str(info.value)
    with pytest.raises(InputError, match="move"):
        pipe(scenes.images[:1], move=(1, 2, 3))
    with pytest.raises(InputError, match="scenes size"):
        ControlScenes(2, size=10)
    with pytest.raises(InputError, match="--size / --grid"):
        check_task(SceneTaskConfig(grid=5))


def test_dataset_spec_and_train_verb_serve_the_three_tasks(tmp_path, capsys) -> None:
    import tryon
    import tryon.cli
    from tryon_control.specs import dataset_specs

    spec = {s.name: s for s in dataset_specs()}["control-scenes"]
    ds = spec.factory(None, n=3, seed=1)
    assert isinstance(ds, ControlScenes) and len(ds) == 3 and ds[0].shape == (3, 48, 48)
    run = tmp_path / "run"
    code = tryon.cli.main(["train", "scene-decompose", "--data", "scenes:n=8", "--steps", "2", "--batch-size", "4",
                           "--width", "4", "--hidden", "16", "--object-steps", "1", "--out", str(run), "--no-progress",
                           "--device", "cpu"])
    assert code == 0 and '"steps": 2' in capsys.readouterr().out
    dec = tryon.load("scene-decompose", weights=run, device="cpu")
    res = dec(ds.images[:2], min_presence=0.0)
    assert len(res.boxes) == 2 and res.reconstruction.shape == (2, 3, 48, 48) and res.presence.shape == (2, 64)
    assert all(layer.shape[1:] == (4, 48, 48) for layer in res.layers)
    gen = tryon.load("scene-generate", weights=run, device="cpu")
    samples = gen(n=2, seed=1).samples
    assert samples.shape == (2, 3, 48, 48) and torch.equal(samples, gen(n=2, seed=1).samples)
    assert tryon.load("scene-edit", weights=run, device="cpu").config["grid"] == 4
    # `tryon run` on a file: image outputs as PNG, data outputs (boxes, scores) as JSON with the same stem
    from PIL import Image

    Image.fromarray(ds.images[0].add(1).mul(127.5).round().byte().permute(1, 2, 0).numpy()).save(tmp_path / "scene.png")
    assert tryon.cli.main(["run", "scene-decompose", "--weights", str(run), "--image", str(tmp_path / "scene.png"),
                           "--set", "min_presence=0.0", "--out", str(tmp_path / "dec.png"), "--all-outputs"]) == 0
    boxes = json.loads((tmp_path / "dec_boxes.json").read_text())
    assert len(boxes) == 1 and all(len(b) == 4 for b in boxes[0]) and (tmp_path / "dec_reconstruction.png").is_file()
    assert len(json.loads((tmp_path / "dec_scores.json").read_text())[0]) == len(boxes[0])
    code = tryon.cli.main(["train", "scene-decompose", "--grid", "5", "--steps", "1", "--out", str(tmp_path / "bad"),
                           "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert code != 0 and "--size / --grid" in err and len(err.splitlines()) == 1
