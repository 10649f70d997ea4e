"""Sanity tests for the weighted cosine kNN probe."""

import numpy as np
import pytest

from tfssl.evaluation import knn

_C = 10


def _clusters(n, rng, noise, dim=16):
    centers = np.random.default_rng(123).normal(size=(_C, dim))
    y = rng.integers(0, _C, size=n)
    return centers[y] + noise * rng.normal(size=(n, dim)), y


def test_oracle_clusters_score_perfectly():
    rng = np.random.default_rng(0)
    train_x, train_y = _clusters(1000, rng, noise=0.05)
    test_x, test_y = _clusters(500, rng, noise=0.05)
    result = knn.knn_classify(train_x, train_y, test_x, test_y, num_classes=_C)
    assert result == {"top1": 1.0, "num_train": 1000, "num_test": 500, "k": 20}


def test_random_features_score_at_chance():
    rng = np.random.default_rng(1)
    train_y, test_y = rng.integers(0, _C, 3000), rng.integers(0, _C, 3000)
    result = knn.knn_classify(
        rng.normal(size=(3000, 32)), train_y, rng.normal(size=(3000, 32)), test_y, num_classes=_C
    )
    # Chance is 0.1; the std of accuracy over 3000 independent test points is ~0.0055.
    assert abs(result["top1"] - 0.1) < 0.04


def test_one_nearest_neighbour_of_a_train_point_is_itself():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(300, 8)), rng.integers(0, _C, 300)  # labels unrelated to features
    np.testing.assert_array_equal(knn.knn_predict(x, y, x, k=1, num_classes=_C, chunk_size=64), y)
    assert knn.knn_classify(x, y, x, y, k=1, num_classes=_C, chunk_size=64)["top1"] == 1.0


def test_chunked_equals_unchunked():
    rng = np.random.default_rng(3)
    train_x, train_y = _clusters(203, rng, noise=1.5)  # overlapping clusters: neighbours of mixed classes
    test_x, _ = _clusters(97, rng, noise=1.5)
    kwargs = dict(k=10, num_classes=_C)
    whole = knn.knn_predict(train_x, train_y, test_x, chunk_size=10_000, **kwargs)
    for chunk_size in (1, 7, 64):  # 1 and 7 < k: train blocks grow to k rows
        np.testing.assert_array_equal(knn.knn_predict(train_x, train_y, test_x, chunk_size=chunk_size, **kwargs), whole)
    assert len(set(whole.tolist())) > 3  # a non-trivial prediction pattern was compared


def test_equal_similarities_go_to_the_lower_train_index_in_any_chunking():
    # One-hot features give exact similarities (0 or 1), so ties are exact.
    train_x = np.eye(4)[[2, 0, 2, 2, 1]]
    train_y = np.array([3, 0, 1, 2, 0])  # three points equal to e2, labelled 3, 1, 2
    test_x = np.eye(4)[[2]]
    for chunk_size in (1, 2, 100):
        assert knn.knn_predict(train_x, train_y, test_x, k=1, num_classes=4, chunk_size=chunk_size)[0] == 3
        # k=2: neighbours are train points 0 and 2 (labels 3 and 1) with equal weight: the lower class id wins.
        assert knn.knn_predict(train_x, train_y, test_x, k=2, num_classes=4, chunk_size=chunk_size)[0] == 1


def _two_against_one():
    """Query at angle 0; two class-0 points at cosine 0.5, one class-1 point at cosine 0.99, the rest opposite."""
    angle = lambda cos: np.array([cos, np.sqrt(1.0 - cos**2)])
    train_x = np.stack([angle(0.5), angle(0.5), angle(0.99), angle(-0.9), angle(-0.95), angle(-1.0)])
    train_y = np.array([0, 0, 1, 2, 2, 2])
    return train_x, train_y, np.array([[1.0, 0.0]])


def test_temperature_weighting_lets_one_close_neighbour_outvote_two_far_ones():
    train_x, train_y, query = _two_against_one()
    # T = 0.07: exp(0.99 / 0.07) = 1.4e6 > 2 exp(0.5 / 0.07) = 2.5e3.
    assert knn.knn_predict(train_x, train_y, query, k=3, num_classes=3, temperature=0.07)[0] == 1
    # T -> large: weights ~1, a plain 2-vs-1 majority vote.
    assert knn.knn_predict(train_x, train_y, query, k=3, num_classes=3, temperature=100.0)[0] == 0
    # A tiny temperature (exp(1/1e-3) overflows float32 unless shifted) still works and is ~1-NN.
    assert knn.knn_predict(train_x, train_y, query, k=3, num_classes=3, temperature=1e-3)[0] == 1


def test_cosine_ignores_feature_scale_and_k_is_clamped():
    train_x, train_y, query = _two_against_one()
    scaled = train_x * np.array([[1.0], [100.0], [0.01], [5.0], [1.0], [3.0]])
    assert knn.knn_predict(scaled, train_y, query * 1e3, k=3, num_classes=3)[0] == 1
    result = knn.knn_classify(train_x, train_y, query, np.array([2]), k=50, num_classes=3, temperature=100.0)
    assert result["k"] == 6 and result["top1"] == 1.0  # all six vote: class 2 has three


def test_one_trace_and_bad_inputs():
    rng = np.random.default_rng(4)
    for n, dim in [(50, 3), (31, 9)]:
        x, y = rng.normal(size=(n, dim)), rng.integers(0, 3, n)
        knn.knn_predict(x, y, x[:11], k=4, num_classes=3, chunk_size=8)
    assert knn._knn_block.experimental_get_tracing_count() == 1
    with pytest.raises(ValueError, match="-d"):
        knn.knn_predict(np.ones((4, 3)), np.zeros(4, int), np.ones((2, 5)), num_classes=2)
    with pytest.raises(ValueError, match="temperature"):
        knn.knn_predict(np.ones((4, 3)), np.zeros(4, int), np.ones((2, 3)), num_classes=2, temperature=0.0)
