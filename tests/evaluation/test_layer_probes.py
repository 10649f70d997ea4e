"""Per-layer linear probes: pooling arithmetic, the probe model's columns, and an end-to-end run on tiny data."""

import math

import gin
import keras
import numpy as np
import pytest

from tfssl.data import pipelines
from tfssl.evaluation.layer_probes import layer_probes, pool_size_for, pooled_layers_model
from tfssl.layers.alexnet import alexnet


def test_pool_size_keeps_each_layer_under_the_dimension_cap():
    assert pool_size_for(16, 16, 96, 9216) == 2  # 8 x 8 x 96 = 6144
    assert pool_size_for(56, 56, 96, 9216) == 7  # a 6-window leaves 10 x 10 x 96 = 9600 > 9216
    assert pool_size_for(4, 4, 256, 9216) == 1
    assert pool_size_for(4, 4, 10_000, 9216) == 4


def test_pool_size_for_is_the_smallest_window_under_the_cap():
    for h, c, cap in [(16, 96, 9216), (56, 96, 9216), (8, 256, 4096), (13, 384, 9216)]:
        size = pool_size_for(h, h, c, cap)
        assert math.ceil(h / size) ** 2 * c <= cap
        assert size == 1 or math.ceil(h / (size - 1)) ** 2 * c > cap


def test_pooled_layers_model_columns_hold_each_layers_average_pooled_map():
    keras.utils.set_random_seed(0)
    net = alexnet(image_size=32, width=1 / 16, fc_units=256)
    model, columns = pooled_layers_model(net, ("conv1", "conv5"), max_dim=96)
    images = np.random.RandomState(0).rand(3, 32, 32, 3).astype("float32")
    merged = model(images, training=False).numpy()
    conv1 = keras.Model(net.inputs, net.get_layer("conv1").output)(images, training=False).numpy()  # [3, 8, 8, 6]
    # 6 channels, cap 96 -> a 4 x 4 grid of 2 x 2 averages.
    expected = conv1.reshape(3, 4, 2, 4, 2, 6).mean((2, 4)).reshape(3, -1)
    np.testing.assert_allclose(merged[:, columns["conv1"]], expected, rtol=1e-5, atol=1e-6)
    assert columns["conv5"].stop == merged.shape[1]
    with pytest.raises(ValueError, match="has no layer 'conv9'"):
        pooled_layers_model(net, ("conv9",))


def test_layer_probes_end_to_end_and_a_constant_layer_scores_at_chance():
    gin.parse_config(["tfssl.data.dataset_size.size = 'small'"])
    net = alexnet(image_size=64, width=1 / 16, fc_units=256)
    results = layer_probes(net, dataset="tfssl_objects/tc00", max_train_examples=128, max_test_examples=64,
                           linear_epochs=5)
    for name in ("conv1", "conv2", "conv3", "conv4", "conv5"):
        assert 0.0 <= results[f"{name}_linear_top1"] <= 1.0
    assert results["best_linear_top1"] == max(results[f"conv{i}_linear_top1"] for i in range(1, 6))
    assert results["num_train"] == 128 and results["num_test"] == 64

    images = keras.Input((64, 64, 3))
    constant = keras.layers.Conv2D(4, 3, kernel_initializer="zeros", name="constant")(images)
    flat = keras.layers.GlobalAveragePooling2D()(constant)
    chance = layer_probes(keras.Model(images, flat), dataset="tfssl_objects/tc00", layers=("constant",),
                          max_train_examples=128, max_test_examples=64, linear_epochs=5)
    # Every example has the same features: the probe predicts one class for all, scoring that class's frequency.
    labels = [int(ex["label"]) for ex in pipelines.load_examples("tfssl_objects/tc00", "test", max_examples=64)]
    frequencies = np.bincount(labels) / len(labels)
    assert any(np.isclose(chance["constant_linear_top1"], f) for f in frequencies)
