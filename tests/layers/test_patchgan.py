"""Spectral-norm PatchGAN: the reference's geometry and Keras' spectral normalisation."""

import keras
import numpy as np

from tfssl.layers.patchgan import patchgan


def test_patch_logits_geometry():
    # 64 -> 32 -> 16 -> 8 (stride 2, pad 1, k 4) -> 7 -> 6 (stride 1, pad 1, k 4), as the reference's 4x4 convs.
    model = patchgan(image_size=64, width=0.125)
    logits = model(np.random.rand(2, 64, 64, 4).astype("float32"))
    assert logits.shape == (2, 6, 6, 1)
    convs = [layer.layer for layer in model.layers if layer.name.endswith("_sn")]
    assert [c.filters for c in convs] == [8, 16, 32, 64, 1]
    assert [c.strides for c in convs] == [(2, 2)] * 3 + [(1, 1)] * 2
    assert [c.kernel.shape[2] for c in convs] == [4, 8, 16, 32, 64]  # conditioned: RGB + modal channel in


def test_spectral_norm_state_is_non_trainable_and_normalises_the_kernel():
    keras.utils.set_random_seed(0)  # power iteration's speed depends on the spectral gap of the random kernel
    model = patchgan(image_size=32, width=0.125)
    assert sorted(w.path for w in model.non_trainable_weights) == [f"conv{i}_sn/vector_u" for i in range(1, 6)]
    assert all("vector_u" not in w.path for w in model.trainable_weights)
    x = np.random.rand(2, 32, 32, 4).astype("float32")
    before = [w.numpy() for w in model.non_trainable_weights]
    for _ in range(60):  # power iteration: one step per training-mode call (20 left some seeds 8% off)
        model(x, training=True)
    assert not np.array_equal(before[0], model.non_trainable_weights[0].numpy())
    for layer in (layer for layer in model.layers if layer.name.endswith("_sn")):
        kernel = layer.layer.kernel.numpy().reshape(-1, layer.layer.filters)
        assert abs(np.linalg.svd(kernel, compute_uv=False)[0] - 1.0) < 0.05
    # Inference leaves the state alone.
    state = [w.numpy() for w in model.weights]
    model(x, training=False)
    for a, w in zip(state, model.weights):
        np.testing.assert_array_equal(a, w.numpy())


def test_multiscale_patchgan_output_shapes_and_instance_norm():
    from tfssl.layers.patchgan import multiscale_patchgan

    model = multiscale_patchgan(image_size=128, in_channels=1, width=0.0625)
    outputs = model(np.random.rand(2, 128, 128, 1).astype("float32"))
    assert [tuple(o.shape) for o in outputs] == [(2, 14, 14, 1), (2, 6, 6, 1), (2, 2, 2, 1)]  # the spec's sizes
    scales = [layer for layer in model.layers if layer.name.startswith("scale")]
    assert len(scales) == 3 and len({id(s) for s in scales}) == 3  # no shared weights
    norms = [layer.name for layer in scales[0].layers if layer.name.startswith("instance_norm")]
    assert norms == ["instance_norm2", "instance_norm3", "instance_norm4"]  # not after the first conv
    assert not any("_sn" in layer.name for layer in scales[0].layers)
    assert not model.non_trainable_weights
