"""AlexNet-BN: input-size aware shapes, the named conv layers the per-layer probes read, BN in inference mode."""

import numpy as np
import pytest

from tfssl.layers.alexnet import CONV_LAYERS, alexnet


@pytest.mark.parametrize("size, conv5_side", [(32, 2), (64, 4), (96, 6)])
def test_alexnet_adapts_fc6_to_the_input_size(size, conv5_side):
    net = alexnet(image_size=size, width=1 / 16, fc_units=512)
    assert net.output.shape == (None, 32)
    assert net.get_layer("conv5").output.shape[1:3] == (conv5_side, conv5_side)
    assert net.get_layer("fc6_conv").kernel.shape[:2] == (conv5_side, conv5_side)
    assert [net.get_layer(n).output.shape[-1] for n in CONV_LAYERS] == [6, 16, 24, 24, 16]


def test_alexnet_features_are_finite_and_inference_is_batch_independent():
    net = alexnet(image_size=32, width=1 / 16, fc_units=256)
    images = np.random.RandomState(0).rand(4, 32, 32, 3).astype("float32")
    features = net(images, training=False).numpy()
    assert features.shape == (4, 16) and np.all(np.isfinite(features))
    # BN in inference mode: an example's features do not depend on the rest of the batch.
    np.testing.assert_allclose(net(images[:1], training=False).numpy(), features[:1], rtol=1e-5, atol=1e-6)
