"""The normalised perceptual loss and its feature networks (no downloads)."""

import numpy as np
import pytest
import tensorflow as tf

from tests.method_checks import strategy as shared_strategy

from tfssl.errors import UserError
from tfssl.layers.perceptual import (NormalisedPerceptualLoss, load_pending_weights, pixel_pyramid_features,
                                     random_conv_features, vgg19_features)


def _pair(seed, scale=0.1):
    rng = np.random.default_rng(seed)
    target = rng.uniform(0, 1, (4, 16, 16, 3)).astype(np.float32)
    return np.clip(target + scale * rng.normal(size=target.shape), 0, 1).astype(np.float32), target


def test_equals_one_at_the_first_step_then_follows_the_running_mean():
    loss = NormalisedPerceptualLoss(network=random_conv_features(widths=(4, 8)))
    assert loss.num_terms == 3
    prediction, target = _pair(0)
    first = loss(prediction, target, training=True)
    assert first.shape == (4,)
    np.testing.assert_allclose(np.mean(first), 1.0, rtol=1e-5)  # the spec: lambda * 1 at step 1
    e1 = np.mean(loss.term_errors(prediction, target).numpy(), axis=0)
    np.testing.assert_allclose(loss.running_means.numpy(), e1, rtol=1e-5)
    worse, _ = _pair(1, scale=0.3)
    e2 = np.mean(loss.term_errors(worse, target).numpy(), axis=0)
    second = loss(worse, target, training=True)
    means = 0.99 * e1 + 0.01 * e2
    np.testing.assert_allclose(loss.running_means.numpy(), means, rtol=1e-5)
    np.testing.assert_allclose(np.mean(second), np.mean(e2 / means), rtol=1e-4)
    assert np.mean(second) > 2.0
    # Evaluation leaves the running means alone.
    loss(prediction, target, training=False)
    np.testing.assert_allclose(loss.running_means.numpy(), means, rtol=1e-6)


def test_gradient_flows_to_the_prediction_only_and_network_is_frozen():
    loss = NormalisedPerceptualLoss(network=pixel_pyramid_features(levels=2))
    prediction, target = (tf.constant(x) for x in _pair(2))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([prediction, target])
        value = tf.reduce_mean(loss(prediction, target, training=True))
    assert np.abs(tape.gradient(value, prediction).numpy()).max() > 0
    assert tape.gradient(value, target) is None
    assert not loss.trainable_weights
    assert not random_conv_features().trainable_weights


def test_feature_networks_shapes():
    x = np.zeros((1, 32, 32, 3), np.float32)
    assert [tuple(f.shape) for f in random_conv_features(widths=(4, 8, 16))(x)] == [
        (1, 32, 32, 4), (1, 16, 16, 8), (1, 8, 8, 16)]
    assert [tuple(f.shape) for f in pixel_pyramid_features(3)(x)] == [(1, 16, 16, 3), (1, 8, 8, 3), (1, 4, 4, 3)]
    # Seeded: the same seed gives the same features, another seed others.
    y = np.random.default_rng(0).uniform(0, 1, (1, 16, 16, 3)).astype(np.float32)
    a, b, c = (random_conv_features((4,), seed=s)(y)[0].numpy() for s in (0, 0, 1))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_vgg19_taps_without_weights():
    features = vgg19_features(weights=None)  # random weights: nothing is downloaded
    shapes = [tuple(f.shape) for f in features(np.zeros((1, 32, 32, 3), np.float32))]
    assert shapes == [(1, 32, 32, 64), (1, 16, 16, 128), (1, 8, 8, 256), (1, 4, 4, 512), (1, 2, 2, 512)]
    assert not features.trainable_weights


def test_vgg19_weights_are_read_when_training_starts_not_when_built(tmp_path):
    import keras

    source = keras.applications.VGG19(include_top=False, weights=None, input_shape=(None, None, 3))
    path = str(tmp_path / "vgg19_notop.weights.h5")
    source.save_weights(path)
    features = vgg19_features(weights=path)
    conv = features.get_layer("vgg19_taps").get_layer("block3_conv2")
    assert features.pending_weights == path
    assert not np.allclose(conv.get_weights()[0], source.get_layer("block3_conv2").get_weights()[0])
    load_pending_weights(features)
    np.testing.assert_array_equal(conv.get_weights()[0], source.get_layer("block3_conv2").get_weights()[0])
    assert features.pending_weights is None
    load_pending_weights(features)  # once only: a no-op now
    load_pending_weights(random_conv_features((4,)))  # networks without pending weights: a no-op


def test_vgg19_missing_local_file_is_one_clear_error(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        vgg19_features(weights=str(tmp_path / "vgg19.h5"))


def test_two_replicas_normalise_by_the_global_batch_mean():
    strategy = shared_strategy("mirrored")  # one per process: a second one collides with its collective keys
    with strategy.scope():
        loss = NormalisedPerceptualLoss(network=pixel_pyramid_features(levels=1))
    prediction, target = _pair(3)
    prediction[2:] = np.clip(prediction[2:] + 0.3, 0, 1)  # the two halves have different errors
    dataset = strategy.experimental_distribute_dataset(
        tf.data.Dataset.from_tensor_slices((prediction, target)).batch(4))
    per_replica = strategy.run(tf.function(lambda p, t: loss(p, t, training=True)), args=next(iter(dataset)))
    values = np.concatenate([v.numpy() for v in strategy.experimental_local_results(per_replica)])
    np.testing.assert_allclose(values.mean(), 1.0, rtol=1e-5)
    assert values[:2].mean() < 0.9 and values[2:].mean() > 1.1  # normalised by the global, not the half, mean
    replicas = strategy.experimental_local_results(loss.running_means.value)
    assert len(replicas) == 2
    for means in replicas:
        np.testing.assert_allclose(means.numpy(), loss.term_errors(prediction, target).numpy().mean(0), rtol=1e-5)
