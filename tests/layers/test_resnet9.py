"""ResNet9: shapes, widths and the paper's parameter count."""

import numpy as np
import pytest

from tfssl.layers.resnet9 import resnet9


@pytest.mark.parametrize("width,projection,dim", [(8, True, 32), (8, False, 64), (16, True, 64)])
def test_feature_dimension(width, projection, dim):
    encoder = resnet9(image_size=32, width=width, projection=projection)
    features = encoder(np.random.rand(2, 32, 32, 3).astype("float32"), training=False)
    assert features.shape == (2, dim)


def test_full_width_matches_the_paper_architecture():
    encoder = resnet9(image_size=64, width=64)
    convs = [layer for layer in encoder.layers if layer.name.endswith("_conv")]
    assert [c.filters for c in convs] == [64, 128, 128, 128, 256, 512, 512, 512]
    assert encoder.output.shape[-1] == 256  # Newell & Deng's per-location 512 -> 256 linear layer
    # 3x3 convs without bias: 3*64 + 64*128 + 2*128*128 + 128*256 + 256*512 + 2*512*512 (x 9), BN and projection.
    conv_weights = 9 * (3 * 64 + 64 * 128 + 2 * 128 * 128 + 128 * 256 + 256 * 512 + 2 * 512 * 512)
    assert conv_weights < encoder.count_params() < conv_weights + 200_000


def test_inputs_in_unit_range_are_centred():
    encoder = resnet9(image_size=32, width=4)
    rescale = encoder.get_layer("to_signed")
    out = rescale(np.array([[0.0, 0.5, 1.0]], dtype="float32")).numpy()
    np.testing.assert_allclose(out, [[-1.0, 0.0, 1.0]])
