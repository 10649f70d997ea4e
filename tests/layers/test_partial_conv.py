"""Partial convolution (Liu et al. 2018): the renormalisation, hole handling and the UNet built from it."""

import numpy as np
import pytest
import tensorflow as tf

from tfssl.layers.partial_conv import PartialConv2D, partial_conv_encoder, partial_conv_unet


def _reference_partial_conv(x, valid, kernel, bias, stride):
    """Liu et al.'s formula, one window at a time (numpy): x [H, W, C], valid [H, W, C], kernel [k, k, C, F]."""
    k = kernel.shape[0]
    p = k // 2
    xp = np.pad(x * valid, [(p, p), (p, p), (0, 0)])
    vp = np.pad(valid, [(p, p), (p, p), (0, 0)])
    out_h = -(-x.shape[0] // stride)
    out = np.zeros((out_h, out_h, kernel.shape[-1]))
    new_valid = np.zeros((out_h, out_h, 1))
    for i in range(out_h):
        for j in range(out_h):
            window = xp[i * stride:i * stride + k, j * stride:j * stride + k]
            count = vp[i * stride:i * stride + k, j * stride:j * stride + k].sum()
            if count > 0:
                out[i, j] = np.einsum("hwc,hwcf->f", window, kernel) * kernel[..., 0].size / count + bias
                new_valid[i, j] = 1.0
    return out, new_valid


def _layer(filters, k, stride, channels, kernel=None, bias=None):
    layer = PartialConv2D(filters, k, stride, use_bias=bias is not None)
    layer.build((None, None, None, channels))
    rs = np.random.RandomState(1)
    layer.kernel.assign(kernel if kernel is not None else rs.randn(k, k, channels, filters).astype("float32"))
    if bias is not None:
        layer.bias.assign(bias)
    return layer


def test_renormalisation_on_a_hand_computed_window():
    # One 3x3 window over a 3x3 image, 2 channels of value 2, kernel of ones, bias 0.5; 4 of 9 pixels valid.
    # W^T (X . M) = 4 pixels * 2 channels * 2 = 16; sum(1) = 3*3*2 = 18; sum(M) = 4*2 = 8 -> 16 * 18/8 + 0.5 = 36.5.
    layer = _layer(1, 3, 1, 2, kernel=np.ones((3, 3, 2, 1), "float32"), bias=np.array([0.5], "float32"))
    features = np.full((1, 3, 3, 2), 2.0, "float32")
    valid = np.zeros((1, 3, 3, 1), "float32")
    valid[0, :2, :2] = 1.0
    out, new_valid = layer(features, valid)
    assert out.numpy()[0, 1, 1, 0] == pytest.approx(36.5)
    # The corner window (0, 0) sees the same 4 valid pixels but 5 of its 9 positions are zero padding: same value.
    assert out.numpy()[0, 0, 0, 0] == pytest.approx(36.5)
    np.testing.assert_array_equal(new_valid.numpy(), np.ones((1, 3, 3, 1)))


@pytest.mark.parametrize("stride,per_channel", [(1, False), (2, False), (2, True)])
def test_matches_the_formula_window_by_window(stride, per_channel):
    rs = np.random.RandomState(0)
    channels, k = 3, 5
    x = rs.randn(9, 9, channels).astype("float32")
    valid = (rs.rand(9, 9, channels if per_channel else 1) < 0.3).astype("float32")
    valid[:5, :5] = 0.0  # a hole wider than the kernel: some windows see nothing
    layer = _layer(4, k, stride, channels, bias=rs.randn(4).astype("float32"))
    out, new_valid = layer(x[None], valid[None])
    expected, expected_valid = _reference_partial_conv(x, np.broadcast_to(valid, x.shape), layer.kernel.numpy(),
                                                       layer.bias.numpy(), stride)
    np.testing.assert_allclose(out.numpy()[0], expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(new_valid.numpy()[0], expected_valid)


def test_an_all_hole_window_outputs_zero_with_new_mask_zero():
    layer = _layer(6, 3, 1, 2, bias=np.full((6,), 3.0, "float32"))
    features = np.random.RandomState(0).randn(1, 8, 8, 2).astype("float32") + 5.0
    valid = np.ones((1, 8, 8, 1), "float32")
    valid[0, 2:7, 2:7] = 0.0  # 5x5 hole: the 3x3 windows centred on its inner 3x3 see no valid input
    out, new_valid = layer(features, valid)
    np.testing.assert_array_equal(out.numpy()[0, 3:6, 3:6], 0.0)  # not even the bias
    np.testing.assert_array_equal(new_valid.numpy()[0, 3:6, 3:6, 0], 0.0)
    assert new_valid.numpy().sum() == 64 - 9
    assert np.all(out.numpy()[0, :3] != 0.0)


def test_holes_shrink_monotonically_layer_by_layer():
    valid = np.ones((1, 32, 32, 1), "float32")
    valid[0, 4:28, 6:30] = 0.0
    # Stride 1: every layer's hole lies inside the previous one and is strictly smaller until it is gone.
    x, v = tf.ones((1, 32, 32, 2)), tf.constant(valid)
    holes = [1.0 - valid[0, ..., 0]]
    for _ in range(14):
        x, v = _layer(2, 3, 1, 2)(x, v)
        holes.append(1.0 - v.numpy()[0, ..., 0])
    for before, after in zip(holes, holes[1:]):
        assert np.all(after <= before)
        assert after.sum() < before.sum() or after.sum() == 0
    assert holes[-1].sum() == 0
    # The UNet's stride-2 encoder: the hole fraction never grows from level to level, and the output is all valid.
    unet = partial_conv_unet(image_size=32, in_channels=4, widths=(4, 8, 8, 8, 8), kernel_sizes=(7, 5, 5, 3, 3))
    levels = unet.encode(tf.ones((1, 32, 32, 4)), tf.constant(valid))
    fractions = [1.0 - float(tf.reduce_mean(m)) for _, m in levels]
    assert fractions[0] > 0.5 and fractions[-1] == 0.0
    assert all(b <= a for a, b in zip(fractions, fractions[1:])), fractions
    _, out_valid = unet((tf.ones((1, 32, 32, 4)), tf.constant(valid)))
    np.testing.assert_array_equal(out_valid.numpy(), 1.0)


def test_unet_output_ignores_what_is_under_the_hole():
    unet = partial_conv_unet(image_size=32, in_channels=4, widths=(4, 8, 8, 8), kernel_sizes=(7, 5, 5, 3))
    rs = np.random.RandomState(0)
    features = rs.rand(2, 32, 32, 4).astype("float32")
    valid = np.ones((2, 32, 32, 1), "float32")
    valid[:, 8:20, 10:24] = 0.0
    changed = features.copy()
    changed[:, 8:20, 10:24] = rs.rand(2, 12, 14, 4) * 100.0
    out, _ = unet((features, valid), training=False)
    out_changed, _ = unet((changed, valid), training=False)
    assert out.shape == (2, 32, 32, 3)
    np.testing.assert_array_equal(out.numpy(), out_changed.numpy())


def test_depth_and_width_and_the_paper_architecture():
    narrow = partial_conv_unet(image_size=64, depth=5, width=0.25)
    assert narrow.widths == [16, 32, 64, 128, 128]
    assert [b.conv.kernel_size for b in narrow.encoder_blocks] == [7, 5, 5, 3, 3]
    paper = partial_conv_unet(image_size=256)
    assert paper.widths == [64, 128, 256, 512, 512, 512, 512]
    # Decoder: (512+512 -> 512) x3, 512+256 -> 256, 256+128 -> 128, 128+64 -> 64, 64+4 -> 3 (the reference's).
    assert [b.conv.kernel.shape[2:] for b in paper.decoder_blocks[::-1]] == [
        (1024, 512), (1024, 512), (1024, 512), (768, 256), (384, 128), (192, 64), (68, 3)]
    with pytest.raises(ValueError, match="multiple of 2 \\*\\* depth"):
        partial_conv_unet(image_size=48, depth=5)


def test_encoder_shares_the_generator_weights():
    unet = partial_conv_unet(image_size=32, widths=(4, 8, 16), kernel_sizes=(7, 5, 5))
    encoder = partial_conv_encoder(unet)
    images = np.random.RandomState(0).rand(3, 32, 32, 3).astype("float32")
    features = encoder(images).numpy()
    assert features.shape == (3, 16)
    # The same as pooling the generator's bottleneck for [RGB in [-1, 1], empty modal] with an all-ones mask.
    inputs = np.concatenate([images * 2 - 1, np.zeros((3, 32, 32, 1), "float32")], -1)
    bottleneck, _ = unet.encode(tf.constant(inputs), tf.ones((3, 32, 32, 1)))[-1]
    np.testing.assert_allclose(features, tf.reduce_mean(bottleneck, [1, 2]).numpy(), rtol=1e-5, atol=1e-6)
    assert {id(w) for w in encoder.weights} <= {id(w) for w in unet.weights}
