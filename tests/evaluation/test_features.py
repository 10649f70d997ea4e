"""Tests for tfssl.evaluation.features: frozen-encoder extraction and the shared array checks."""

import gc

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfssl.evaluation import features

_N = 37  # not a multiple of the batch size used below: exercises the last partial batch
_BATCH = 16


def _encoder(seed=0):
    """Tiny Conv + BN + ReLU + global-pool encoder whose BN train and inference outputs clearly differ."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((8, 8, 3))
    h = keras.layers.Conv2D(4, 3, padding="same")(inputs)
    h = keras.layers.BatchNormalization()(h)
    h = keras.layers.ReLU()(h)
    outputs = keras.layers.GlobalAveragePooling2D()(h)
    model = keras.Model(inputs, outputs)
    bn = model.layers[2]
    rng = np.random.default_rng(seed)
    # Moving statistics far from what a batch gives, so training=True vs False is visible in the features.
    bn.moving_mean.assign(rng.normal(size=4).astype(np.float32))
    bn.moving_variance.assign(rng.uniform(2.0, 4.0, size=4).astype(np.float32))
    bn.beta.assign(np.full(4, 0.5, np.float32))
    return model


def _images(n=_N, seed=1):
    return np.random.default_rng(seed).uniform(size=(n, 8, 8, 3)).astype(np.float32)


def _dataset(images, label_key="label"):
    n = images.shape[0]
    return tf.data.Dataset.from_tensor_slices(
        {
            "image": images,
            label_key: np.arange(n, dtype=np.int32) % 3,
            "name": np.array([f"example_{i}" for i in range(n)]),  # extra keys are ignored
        }
    )


def test_returns_every_example_in_order_with_bn_in_inference_mode():
    encoder, images = _encoder(), _images()
    x, y = features.extract_features(encoder, _dataset(images), batch_size=_BATCH)
    assert x.shape == (_N, 4) and x.dtype == np.float32
    assert y.dtype == np.int64
    np.testing.assert_array_equal(y, np.arange(_N) % 3)
    np.testing.assert_allclose(x, encoder(images, training=False).numpy(), rtol=1e-5, atol=1e-6)
    # Batch statistics would give different features: the extraction really used the moving statistics.
    assert not np.allclose(x, encoder(images, training=True).numpy(), atol=1e-3)


def test_flip_appends_mirrored_features():
    encoder, images = _encoder(), _images()
    x, y = features.extract_features(encoder, _dataset(images), batch_size=_BATCH, flip=True)
    assert x.shape == (2 * _N, 4)
    np.testing.assert_array_equal(y, np.tile(np.arange(_N) % 3, 2))
    np.testing.assert_allclose(x[:_N], encoder(images, training=False).numpy(), rtol=1e-5, atol=1e-6)
    mirrored = tf.image.flip_left_right(images)
    np.testing.assert_allclose(x[_N:], encoder(mirrored, training=False).numpy(), rtol=1e-5, atol=1e-6)
    # The random conv kernel is not mirror-symmetric, so the flip must change the features.
    assert not np.allclose(x[:_N], x[_N:], atol=1e-4)


def test_encoder_is_frozen():
    encoder = _encoder()
    before = [w.numpy().copy() for w in encoder.weights]
    assert len(before) == 6  # conv kernel + bias, BN gamma, beta, moving mean, moving variance
    features.extract_features(encoder, _dataset(_images()), batch_size=_BATCH, flip=True)
    for w, old in zip(encoder.weights, before):
        np.testing.assert_array_equal(w.numpy(), old, err_msg=w.path)


def test_one_trace_per_shape_pattern_across_calls():
    encoder = _encoder()
    fn = features._feature_fn(encoder)
    assert features._feature_fn(encoder) is fn  # cached per encoder
    for _ in range(2):  # full batches of 16 and a last batch of 5, twice
        features.extract_features(encoder, _dataset(_images()), batch_size=_BATCH)
    features.extract_features(encoder, _dataset(_images(n=3)), batch_size=_BATCH)
    assert fn.experimental_get_tracing_count() == 1
    features.extract_features(encoder, _dataset(_images()), batch_size=_BATCH, flip=True)
    assert fn.experimental_get_tracing_count() == 2


def test_cache_does_not_keep_the_encoder_alive():
    encoder = _encoder()
    features.extract_features(encoder, _dataset(_images(n=4)), batch_size=_BATCH)
    gc.collect()
    cached = len(features._FEATURE_FNS)
    del encoder
    gc.collect()
    assert len(features._FEATURE_FNS) == cached - 1


def test_max_examples_and_label_key():
    encoder, images = _encoder(), _images()
    x, y = features.extract_features(encoder, _dataset(images, "digit"), label_key="digit", max_examples=10)
    assert x.shape == (10, 4)
    np.testing.assert_array_equal(y, np.arange(10) % 3)
    np.testing.assert_allclose(x, encoder(images[:10], training=False).numpy(), rtol=1e-5, atol=1e-6)


def test_bad_datasets_are_refused_with_clear_errors():
    encoder, images = _encoder(), _images(n=4)
    with pytest.raises(KeyError, match="'label'"):
        features.extract_features(encoder, _dataset(images, "digit"))
    with pytest.raises(ValueError, match="unbatched"):
        features.extract_features(encoder, _dataset(images).batch(2))
    uint8 = tf.data.Dataset.from_tensor_slices({"image": (images * 255).astype(np.uint8), "label": np.zeros(4)})
    with pytest.raises(ValueError, match="float"):
        features.extract_features(encoder, uint8)
    with pytest.raises(ValueError, match="empty"):
        features.extract_features(encoder, _dataset(images).take(0))


def test_shared_array_checks():
    x = features.as_features(np.ones((3, 2), np.float64))
    assert x.dtype == np.float32 and x.shape == (3, 2)
    with pytest.raises(ValueError, match="non-finite"):
        features.as_features(np.array([[1.0, np.nan]]))
    with pytest.raises(ValueError, match=r"\[N, D\]"):
        features.as_features(np.ones(3))
    np.testing.assert_array_equal(features.as_labels(np.array([0, 2], np.int32), 2, 3), [0, 2])
    with pytest.raises(ValueError, match="lie in"):
        features.as_labels(np.array([0, 3]), 2, 3)
    with pytest.raises(ValueError, match="shape"):
        features.as_labels(np.array([0, 1, 2]), 2, 3)
    assert features.top1_accuracy([0, 1, 1, 2], [0, 1, 2, 2]) == 0.75
