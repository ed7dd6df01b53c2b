"""The EdiBERT objective (000 eq. 4.2.6, App. D.1.1): only rectangle tokens change, p_rand holds."""

import torch

from tryon_edibert.objective import edibert_loss, perturb, random_rectangles


def test_rectangles_have_intended_sides_and_are_rectangles():
    g = torch.Generator().manual_seed(0)
    rects = random_rectangles(200, (20, 10), generator=g)
    for r in rects:
        rows, cols = r.any(1).nonzero()[:, 0], r.any(0).nonzero()[:, 0]
        assert 4 <= len(rows) <= 10 and 2 <= len(cols) <= 5  # [0.2, 0.5] of 20 and of 10
        assert int(r.sum()) == len(rows) * len(cols)
    # not the reference bug (rectangle running to the bottom-right edge): many rectangles stop before it
    # a rectangle of h rows (4..10 of 20) reaches the last row with prob 1/(21 - h) <= 1/11, so about 0.9 stop before
    # it (measured 0.89, seeded, no float arithmetic); the reference bug gives 0, and 0.3 sits well between
    assert (~rects[:, -1, :].any(1)).float().mean() > 0.3


def test_only_rectangle_tokens_change_and_p_rand_statistics():
    g = torch.Generator().manual_seed(1)
    tokens = torch.randint(0, 1000, (400, 8, 8), generator=g)
    corrupted, rect, targets = perturb(tokens, 1000, p_rand=0.9, generator=g)
    assert torch.equal(corrupted[~rect], tokens[~rect])
    changed = (corrupted != tokens)[rect].float().mean().item()
    # a random code equals the old one with prob 1/1000: changed share ≈ 0.9 · 0.999, within 4 binomial σ
    # (σ² = 0.9 · 0.1 / n; measured |Δ| 0.0018 against 4σ = 0.020, seeded)
    n = int(rect.sum())
    assert abs(changed - 0.9 * 0.999) < 4 * (0.09 / n) ** 0.5
    assert torch.equal(targets[rect], tokens[rect]) and bool((targets[~rect] == -100).all())
    _, _, t0 = perturb(tokens, 1000, p_rand=0.0, generator=g)
    c0, r0, _ = perturb(tokens, 1000, p_rand=0.0, generator=torch.Generator().manual_seed(5))
    assert torch.equal(c0, tokens)


def test_loss_only_on_rectangle():
    logits = torch.randn(2, 4, 4, 10, requires_grad=True)
    targets = torch.full((2, 4, 4), -100)
    targets[0, 1, 1] = 3
    edibert_loss(logits, targets).backward()
    grad_positions = logits.grad.abs().sum(-1) > 0
    assert grad_positions.sum().item() == 1 and bool(grad_positions[0, 1, 1])
