"""Network building blocks shared by the plugins (000 §4.3.3.1, App. E; 004 §3.3)."""

from tryon.nn.blocks import ConvEncoder, UNetDecoder, make_norm
from tryon.nn.discriminator import PatchGANDiscriminator, SANHead, SANOutput
from tryon.nn.vgg import VGG19_LAYER_NAMES, VGG19Features

__all__ = [
    "ConvEncoder",
    "PatchGANDiscriminator",
    "SANHead",
    "SANOutput",
    "UNetDecoder",
    "VGG19Features",
    "VGG19_LAYER_NAMES",
    "make_norm",
]
