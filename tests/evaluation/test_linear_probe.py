"""Sanity tests for the linear probe: oracle features score at the top, constant and random ones at chance."""

import numpy as np
import pytest

from tfssl.evaluation import linear_probe

_C = 10


def _balanced_labels(n, rng, num_classes=_C):
    return rng.permutation(np.arange(n) % num_classes)


def test_oracle_one_hot_features_score_perfectly():
    rng = np.random.default_rng(0)
    train_y, test_y = _balanced_labels(1000, rng), _balanced_labels(1000, rng)
    noisy_one_hot = lambda y: np.eye(_C)[y] + 0.05 * rng.normal(size=(y.size, _C))
    result = linear_probe.evaluate_linear_probe(
        noisy_one_hot(train_y), train_y, noisy_one_hot(test_y), test_y, num_classes=_C, epochs=20
    )
    assert result["top1"] >= 0.99
    assert result["train_top1"] >= 0.99
    assert result["num_train"] == 1000 and result["num_test"] == 1000


def test_rotated_one_hot_features_are_still_linearly_separable():
    rng = np.random.default_rng(1)
    dim = 32
    rotation, _ = np.linalg.qr(rng.normal(size=(dim, dim)))  # random orthogonal matrix: not axis-aligned

    def features(y):
        one_hot = np.zeros((y.size, dim))
        one_hot[np.arange(y.size), y] = 1.0
        # Rotated, scaled and shifted far from the origin; the probe standardises, so none of this matters.
        return (one_hot + 0.1 * rng.normal(size=one_hot.shape)) @ rotation * 50.0 + 7.0

    train_y, test_y = _balanced_labels(2000, rng), _balanced_labels(1000, rng)
    result = linear_probe.evaluate_linear_probe(
        features(train_y), train_y, features(test_y), test_y, num_classes=_C, epochs=20
    )
    assert result["top1"] >= 0.95


def test_constant_features_predict_the_majority_class():
    rng = np.random.default_rng(2)
    frequencies = [0.1, 0.5, 0.25, 0.15]  # majority class 1
    train_y = rng.choice(4, size=2000, p=frequencies)
    test_y = rng.choice(4, size=1000, p=frequencies)
    constant = lambda n: np.full((n, 8), 3.0, np.float32)
    probe = linear_probe.train_linear_probe(constant(2000), train_y, num_classes=4, epochs=10)
    np.testing.assert_array_equal(probe.predict(constant(1000)), np.ones(1000))
    result = linear_probe.evaluate_linear_probe(
        constant(2000), train_y, constant(1000), test_y, num_classes=4, epochs=10
    )
    assert result["top1"] == pytest.approx(np.mean(test_y == 1))
    assert result["top1"] == pytest.approx(0.5, abs=0.05)


def test_random_features_score_at_chance():
    rng = np.random.default_rng(3)
    train_y, test_y = _balanced_labels(2000, rng), _balanced_labels(4000, rng)
    result = linear_probe.evaluate_linear_probe(
        rng.normal(size=(2000, 64)), train_y, rng.normal(size=(4000, 64)), test_y, num_classes=_C, epochs=20
    )
    # Chance is 0.1; the std of accuracy over 4000 independent test points is ~0.005.
    assert abs(result["top1"] - 0.1) < 0.04
    # The probe does fit its train set (64-d, 2000 points): what it learned is noise, hence chance on test.
    assert result["train_top1"] > 0.2


def test_same_seed_same_probe_other_seed_other_probe():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(600, 16)).astype(np.float32)
    y = (x[:, 0] + 0.5 * rng.normal(size=600) > 0).astype(np.int64)
    kwargs = dict(num_classes=2, epochs=5, batch_size=64)
    first = linear_probe.train_linear_probe(x, y, seed=7, **kwargs)
    second = linear_probe.train_linear_probe(x, y, seed=7, **kwargs)
    other = linear_probe.train_linear_probe(x, y, seed=8, **kwargs)
    np.testing.assert_array_equal(first.weights, second.weights)
    np.testing.assert_array_equal(first.bias, second.bias)
    assert not np.array_equal(first.weights, other.weights)  # the seed drives the shuffling


def test_standardisation_makes_the_probe_invariant_to_per_dimension_affine_maps():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(500, 6)).astype(np.float32)
    y = (x @ rng.normal(size=(6, 3))).argmax(axis=1)
    scale = np.array([1e-3, 1.0, 10.0, 100.0, 0.5, 3e3], np.float32)
    shift = np.array([5.0, -2.0, 0.0, 1e3, 7.0, -50.0], np.float32)
    plain = linear_probe.train_linear_probe(x, y, num_classes=3, epochs=5)
    mapped = linear_probe.train_linear_probe(x * scale + shift, y, num_classes=3, epochs=5)
    np.testing.assert_allclose(mapped.weights, plain.weights, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(mapped.std, plain.std * scale, rtol=1e-4)
    np.testing.assert_array_equal(mapped.predict(x * scale + shift), plain.predict(x))


def test_probe_learns_beyond_chance_and_trains_in_one_graph_trace():
    rng = np.random.default_rng(6)
    for n, dim, classes in [(300, 5, 3), (257, 12, 4)]:  # different sizes and class counts reuse the trace
        x = rng.normal(size=(n, dim))
        y = (x[:, :classes] + 0.3 * rng.normal(size=(n, classes))).argmax(axis=1)
        probe = linear_probe.train_linear_probe(x, y, num_classes=classes, epochs=10, batch_size=64)
        assert probe.weights.shape == (dim, classes) and probe.bias.shape == (classes,)
        assert np.mean(probe.predict(x) == y) > 0.8
    assert linear_probe._sgd_logistic_regression.experimental_get_tracing_count() == 1


def test_bad_inputs_are_refused():
    x = np.zeros((4, 2), np.float32)
    with pytest.raises(ValueError, match="lie in"):
        linear_probe.train_linear_probe(x, np.array([0, 1, 2, 3]), num_classes=3)
    with pytest.raises(ValueError, match="non-finite"):
        linear_probe.train_linear_probe(x + np.inf, np.zeros(4, int), num_classes=3)
    probe = linear_probe.train_linear_probe(x, np.zeros(4, int), num_classes=3, epochs=1)
    with pytest.raises(ValueError, match="2-d features"):
        probe.predict(np.zeros((1, 5)))
