"""The tokenizer's size-dependent defaults: `--data` and `--size` alone give a sensible VQGAN at any size."""

from __future__ import annotations

from tryon_edibert.training.config import VQGANTaskConfig, size_defaults


def test_small_images_get_a_small_tokenizer_without_adversarial_stage():
    c = VQGANTaskConfig(data="d", size=(32, 32))
    assert (c.factor, c.n_codes, c.ch) == (4, 128, 32) and c.channel_mult() == [1, 1, 2]  # an 8x8 token grid
    assert c.disc_start == -1 and not c.adversarial and c.perceptual_weight == 0.0
    # with real VGG weights the perceptual term is on; an explicit value always wins
    assert VQGANTaskConfig(data="d", size=(32, 32), perceptual_weights="vgg.pth").perceptual_weight == 1.0
    c = VQGANTaskConfig(data="d", size=(32, 32), factor=8, n_codes=512, disc_start=300, perceptual_weight=0.5)
    assert (c.factor, c.n_codes, c.disc_start, c.perceptual_weight) == (8, 512, 300, 0.5) and c.adversarial


def test_large_images_keep_the_seeds_settings():
    c = VQGANTaskConfig(data="d", size=(256, 256))
    assert (c.factor, c.n_codes, c.ch, c.disc_start, c.perceptual_weight) == (16, 1024, 64, 10000, 1.0) and c.adversarial
    assert [size_defaults((s, s), has_vgg=False)["factor"] for s in (32, 64, 128, 256, 512)] == [4, 4, 8, 16, 16]
    assert [size_defaults((s, s), has_vgg=False)["n_codes"] for s in (32, 64, 128, 256, 512)] == [128, 256, 512, 1024, 1024]


def test_negative_disc_start_never_starts_the_discriminator():
    import torch

    from tryon.testing import StepTrainer
    from tryon_edibert.pipelines import VQGANPipeline
    from tryon_edibert.training.vqgan import vqgan_step

    torch.manual_seed(0)
    pipe = VQGANPipeline(n_codes=16, embed_dim=8, ch=8, ch_mult=[1, 2])
    disc_called = []

    class Disc(torch.nn.Module):
        def forward(self, x):
            disc_called.append(1)
            return x.mean((1, 2, 3))

    trainer = StepTrainer({"vqgan": pipe.vqgan, "disc": Disc()},
                          {"vqgan": torch.optim.SGD(pipe.vqgan.parameters(), lr=0.0), "disc": None}, step=10_000)
    logs = vqgan_step(pipe, None, perceptual_weight=0.0, disc_start=-1, disc_weight=0.8)(trainer, torch.rand(2, 3, 16, 16) * 2 - 1)
    assert not disc_called and "l1" in logs
