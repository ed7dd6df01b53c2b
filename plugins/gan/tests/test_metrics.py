"""The GAN plugin's point-set metrics on sets whose values are known by hand: EMD (002 §4.1) and the Hausdorff
distance (000 App. A.2.2), and evaluate_points reporting both."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tryon.errors import InputError
from tryon_gan.data import gaussian_grid
from tryon_gan.metrics import emd, evaluate_points, hausdorff


def test_hausdorff_is_the_worst_point_of_either_set():
    a = np.array([[0.0, 0.0], [1.0, 0.0]])
    b = np.array([[0.0, 0.0], [1.0, 0.0], [4.0, 3.0]])  # b's extra point lies 5 from (0, 0), 4.24 from (1, 0)
    assert hausdorff(a, b) == pytest.approx(np.hypot(3.0, 3.0))  # both directions taken: a ⊂ b alone gives 0 one way
    assert hausdorff(b, a) == hausdorff(a, b) and hausdorff(a, a) == 0.0
    assert hausdorff(torch.tensor(a), torch.tensor(a) + torch.tensor([0.0, 2.0])) == pytest.approx(2.0)  # a shift
    with pytest.raises(InputError, match="hausdorff"):
        hausdorff(a, np.zeros((3, 3)))


def test_emd_of_a_shifted_set_is_the_shift():
    a = np.random.default_rng(0).normal(size=(50, 2))
    assert emd(a, a + np.array([3.0, 4.0])) == pytest.approx(5.0)  # every point matched to its own shifted copy


def test_evaluate_points_reports_hausdorff_and_one_outlier_moves_it():
    data = gaussian_grid(4, 4.0, 0.2, n=4000, seed=0)
    good = data.sample(500, seed=1)
    bad = good.clone()
    bad[0] = torch.tensor([40.0, 40.0])  # one far outlier: Hausdorff sees it, precision barely does
    m_good = evaluate_points(data, good, n=500, emd_n=200)
    m_bad = evaluate_points(data, bad, n=500, emd_n=200)
    # real vs real draws of a 4-mode grid (spacing 4, std 0.2): the worst point sits ~1 std into a tail of another
    # draw, measured 0.38; an outlier 40 away from a grid spanning [-2, 2]^2 puts it above 50
    assert m_good["hausdorff"] < 1.5 and m_bad["hausdorff"] > 50
    assert abs(m_bad["precision"] - m_good["precision"]) <= 0.01  # 1 point of 500 (0.002) moves precision at most that
