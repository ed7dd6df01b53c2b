"""The conv generator's batch-norm option (``g_norm``): DCGAN's layout, old checkpoints still load, and the setting
travels with a saved pipeline into the inversion pipeline."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from tryon.errors import InputError
from tryon_gan.models import ConvGenerator
from tryon_gan.pipelines import GanEncoderPipeline, GanPipeline


def test_batch_norm_after_each_hidden_conv_only():
    g = ConvGenerator(8, 16, 1, base=4, norm="batch")
    convs = [m for m in g.body if isinstance(m, nn.Conv2d)]
    norms = [m for m in g.body if isinstance(m, nn.BatchNorm2d)]
    assert [n.num_features for n in norms] == [c.out_channels for c in convs[:-1]]  # not after the output conv
    plain = ConvGenerator(8, 16, 1, base=4)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in plain.modules())
    # the default keeps the module indices generators were saved with before the option, so their weights still load
    assert sorted(k for k in plain.state_dict() if k.startswith("body.")) == sorted(
        f"body.{i}.{p}" for i in (0, 2, 5, 7, 10, 12) for p in ("weight", "bias"))
    with pytest.raises(InputError, match="g_norm"):
        ConvGenerator(8, 16, 1, base=4, norm="layer")


def test_g_norm_is_saved_and_read_back(tmp_path):
    pipe = GanPipeline(data_shape=[1, 16, 16], latent_dim=8, arch="conv", base=4, loss="hinge", g_norm="batch")
    with torch.no_grad():  # running statistics that differ from a fresh module's
        for m in pipe.generator.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.fill_(0.3)
    pipe.save_pretrained(tmp_path / "run")
    inv = GanEncoderPipeline.from_generator_run(tmp_path / "run")
    bn = [m for m in inv.generator.modules() if isinstance(m, nn.BatchNorm2d)]
    assert bn and all(float(m.running_mean[0]) == pytest.approx(0.3) for m in bn)
