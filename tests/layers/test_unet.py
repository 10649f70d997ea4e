"""PCNet-M's UNet: shapes, the paper's widths, skips."""

import numpy as np
import pytest

from tfssl.layers.unet import unet


def _convs(model):
    return [layer for layer in model.layers if "_conv" in layer.name]


def test_logits_per_pixel():
    model = unet(image_size=32, width=0.125)
    logits = model(np.random.rand(3, 32, 32, 2).astype("float32"), training=False)
    assert logits.shape == (3, 32, 32, 2)


def test_paper_widths_and_decoder():
    model = unet(image_size=64)
    filters = [c.filters for c in _convs(model)]
    # Encoder: double convs 32, 64, 128, 256, 256; decoder back up: 128, 64, 32, 32 (the reference's `unet2`).
    assert filters == [32, 32, 64, 64, 128, 128, 256, 256, 256, 256, 128, 128, 64, 64, 32, 32, 32, 32]
    # Decoder convs see [skip, upsampled]: 256 + 256, 128 + 128, 64 + 64, 32 + 32 input channels.
    assert [c.kernel.shape[2] for c in _convs(model)[10::2]] == [512, 256, 128, 64]
    assert model.get_layer("logits").kernel.shape == (1, 1, 32, 2)


def test_width_multiplier_and_explicit_widths():
    assert [c.filters for c in _convs(unet(image_size=32, width=0.25))][:10:2] == [8, 16, 32, 64, 64]
    model = unet(image_size=32, widths=(4, 8, 16))
    assert [c.filters for c in _convs(model)] == [4, 4, 8, 8, 16, 16, 4, 4, 4, 4]


def test_image_size_must_allow_every_pooling():
    with pytest.raises(ValueError, match="multiple of 16"):
        unet(image_size=40)
