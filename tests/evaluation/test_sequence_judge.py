"""The sequence judge: its metrics on synthetic predictions, and a judge trained on real clips."""

import math
import time

import numpy as np
import pytest

from tfssl.data import pipelines
from tfssl.evaluation import sequence_judge as J

DIGITS = "tfssl_moving_digits/small"


def _one_hot(labels, c):
    return np.eye(c)[labels]


@pytest.mark.parametrize("c", [2, 9, 10])
def test_confident_balanced_predictions_score_the_top(c):
    probs = _one_hot(np.repeat(np.arange(c), 5), c)
    assert J.inception_score(probs) == pytest.approx(c)
    assert J.conditional_entropy(probs) == pytest.approx(0.0, abs=1e-12)
    assert J.marginal_entropy(probs) == pytest.approx(math.log(c))


def test_uniform_and_collapsed_predictions_score_the_bottom():
    uniform = np.full((40, 9), 1.0 / 9)
    assert J.inception_score(uniform) == pytest.approx(1.0)
    assert J.conditional_entropy(uniform) == pytest.approx(math.log(9))
    collapsed = _one_hot(np.zeros(40, int), 9)  # confident but always the same class
    assert J.inception_score(collapsed) == pytest.approx(1.0)
    assert J.marginal_entropy(collapsed) == pytest.approx(0.0, abs=1e-12)


def test_inception_score_is_the_mean_kl_to_the_marginal():
    probs = np.random.default_rng(0).dirichlet(np.ones(6) * 0.5, size=50)
    marginal = probs.mean(0)
    kl = np.sum(probs * (np.log(probs) - np.log(marginal)), axis=1).mean()
    assert J.inception_score(probs) == pytest.approx(math.exp(kl))
    assert 1.0 <= J.inception_score(probs) <= 6.0
    assert J.marginal_entropy(probs) <= math.log(6) + 1e-12
    with pytest.raises(ValueError, match=r"\[N, C\]"):
        J.inception_score(np.zeros((0, 3)))


def test_class_balanced_subset():
    labels = np.array([0] * 10 + [1] * 4 + [2] * 7)
    subset = J.class_balanced_subset(labels, per_class=4, seed=3)
    assert np.bincount(labels[subset]).tolist() == [4, 4, 4] and len(set(subset.tolist())) == 12
    np.testing.assert_array_equal(subset, J.class_balanced_subset(labels, per_class=4, seed=3))
    assert not np.array_equal(J.class_balanced_subset(labels, 4, seed=3), J.class_balanced_subset(labels, 4, seed=4))
    with pytest.raises(ValueError, match="class 1 has 4 examples"):
        J.class_balanced_subset(labels, per_class=5)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    cache = str(tmp_path_factory.mktemp("judge"))
    start = time.monotonic()
    judge = J.train_judge(DIGITS, ("digit", "direction"), steps=250, batch_size=32, cache_dir=cache)
    return judge, cache, time.monotonic() - start


def test_the_judge_learns_real_clips_and_generalises_to_unseen_handwriting(trained):
    judge, _, seconds = trained
    test = pipelines.load_clips(DIGITS, "test")
    accuracy = judge.accuracy(test["video"], {"digit": test["digit"], "direction": test["direction"]})
    print(f"judge on {DIGITS} test after 250 steps ({seconds:.0f} s): {accuracy}")
    # Measured on 2 cores: direction 0.94-0.96, digit 0.35 (chance 0.125 / 0.1). The digit of unseen handwriting
    # needs more than 250 steps on 512 clips; the bar is "far above chance", not "done".
    assert accuracy["direction"] >= 0.9 and accuracy["digit"] >= 0.25, accuracy
    probs = judge.predict(test["video"][:10])
    assert probs["digit"].shape == (10, 10) and probs["direction"].shape == (10, 8)
    np.testing.assert_allclose(probs["digit"].sum(1), 1.0, atol=1e-5)


def test_the_judge_is_cached_and_checks_its_inputs(trained):
    judge, cache, _ = trained
    clips = pipelines.load_clips(DIGITS, "validation", max_examples=16)
    start = time.monotonic()
    again = J.train_judge(DIGITS, ("digit", "direction"), steps=250, batch_size=32, cache_dir=cache)
    assert time.monotonic() - start < 10  # loaded, not trained
    for key, probs in judge.predict(clips["video"]).items():
        np.testing.assert_allclose(again.predict(clips["video"])[key], probs, atol=1e-6)
    with pytest.raises(ValueError, match=r"videos \[N, 8, 64, 64, 3\]"):
        judge.predict(clips["video"][:, :5])
    with pytest.raises(ValueError, match="no head for \\['action'\\]"):
        judge.accuracy(clips["video"], {"action": clips["digit"]})
    with pytest.raises(ValueError, match="no label \\['action'\\]"):
        J.train_judge(DIGITS, ("action",), steps=1)
