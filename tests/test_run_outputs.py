"""What `tryon run` writes for each output of a pipeline: images as image files, data (boxes, scores, counts) as JSON —
lists are data, never an image; anything that is neither is refused with the output's name."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tryon.errors import TryonError
from tryon.jobs.outputs import is_image, to_image, to_json


def test_images_stay_images_and_data_becomes_json() -> None:
    assert is_image(torch.zeros(1, 3, 8, 8)) and is_image(np.zeros((8, 8, 3), np.uint8)) and is_image(np.zeros((8, 8)))
    assert to_image(torch.zeros(3, 8, 8), "x").size == (8, 8)
    boxes = [torch.tensor([[1.0, 2.0, 5.0, 6.0]])]
    assert not is_image(boxes) and not is_image({"count": 3}) and not is_image(torch.zeros(5))
    assert to_json(boxes, "boxes") == [[[1.0, 2.0, 5.0, 6.0]]]
    assert to_json({"n": np.int64(3), "scores": np.array([0.5, 0.25])}, "d") == {"n": 3, "scores": [0.5, 0.25]}


def test_an_output_that_is_neither_names_itself() -> None:
    with pytest.raises(TryonError, match="task-x output 'thing': expected an image or data"):
        to_json([object()], "task-x output 'thing'")
