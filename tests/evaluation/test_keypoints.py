"""Keypoint metrics: an oracle scores 0, the mean pose scores the baseline, flips and units are right; the linear
regressor recovers affine maps and mirrored detectors, its ridge shrinks only the weights, a constant detector scores
the mean training pose."""

import hashlib

import numpy as np
import pytest

from tfssl.data import pipelines
from tfssl.data.render import figures
from tfssl.errors import UserError
from tfssl.evaluation.keypoints import (apply_linear_regressor, fit_linear_regressor, keypoint_errors,
                                        keypoint_metrics, keypoint_regression, mean_pose)

VIDEOS, PRIOR = "tfssl_figures/base_small", "tfssl_figures/prior_small"


def test_keypoint_errors_units_and_flip():
    truth = np.random.default_rng(0).uniform(-0.8, 0.8, (5, figures.NUM_JOINTS, 2))
    np.testing.assert_array_equal(keypoint_errors(truth, truth, 64), 0.0)
    # One [-1, 1] unit is 31.5 px of a 64 px image: a shift of 2 / 63 (one pixel) is 1/64 of the image size.
    np.testing.assert_allclose(keypoint_errors(truth + [2.0 / 63, 0.0], truth, 64), 1.0 / 64)
    mirrored = truth[:, list(figures.FLIP)]
    assert (keypoint_errors(mirrored, truth, 64) > 0).all()
    np.testing.assert_allclose(keypoint_errors(mirrored, truth, 64, figures.FLIP), 0.0, atol=1e-12)


class _Oracle:
    """Returns the ground truth of frame_dataset's batches, in its order."""

    def __init__(self):
        self.batches = iter(pipelines.frame_dataset(128, name=VIDEOS, split="test"))

    def keypoints(self, images):
        batch = next(self.batches)
        np.testing.assert_array_equal(batch["image"], images)
        return batch["points"]


class _MeanPose:
    def keypoints(self, images):
        return np.broadcast_to(mean_pose(PRIOR), (images.shape[0], figures.NUM_JOINTS, 2))


def test_oracle_scores_zero_and_mean_pose_scores_the_baseline():
    oracle = keypoint_metrics(_Oracle(), dataset=VIDEOS, prior=PRIOR)
    assert oracle["keypoint_error"] == 0.0 and oracle["keypoint_error_flip"] == 0.0
    assert oracle["frames"] == 16 * 16
    assert 3.0 < oracle["mean_pose_error"] < 30.0  # % of the image size: poses and placement vary
    assert oracle["mean_pose_error_flip"] <= oracle["mean_pose_error"]
    constant = keypoint_metrics(_MeanPose(), dataset=VIDEOS, prior=PRIOR)
    np.testing.assert_allclose(constant["keypoint_error"], constant["mean_pose_error"], rtol=1e-6)


# --- The linear-regressor protocol of the unsupervised landmark baselines ---


def _random_poses(n, k, seed):
    return np.random.default_rng(seed).uniform(-0.8, 0.8, (n, k, 2))


def test_fit_recovers_a_known_affine_map_exactly():
    rng = np.random.default_rng(1)
    points = _random_poses(200, 10, seed=2)  # K = 10 detected points, J = 15 joints: a different count on purpose
    matrix, offset = rng.normal(size=(20, 30)), rng.normal(size=30)
    truth = (points.reshape(200, 20) @ matrix + offset).reshape(200, 15, 2)
    weights = fit_linear_regressor(points, truth)
    assert weights.shape == (21, 30)
    np.testing.assert_allclose(weights, np.concatenate([matrix, offset[None]]), atol=1e-9)
    held_out = _random_poses(50, 10, seed=3)
    expected = (held_out.reshape(50, 20) @ matrix + offset).reshape(50, 15, 2)
    assert keypoint_errors(apply_linear_regressor(weights, held_out), expected, 64).max() < 1e-10
    # Without a bias the offset is out of reach; with none to reach, the linear part alone is recovered.
    no_bias = fit_linear_regressor(points, truth, bias=False)
    assert no_bias.shape == (20, 30)
    assert keypoint_errors(apply_linear_regressor(no_bias, held_out), expected, 64).mean() > 0.01
    linear = (points.reshape(200, 20) @ matrix).reshape(200, 15, 2)
    np.testing.assert_allclose(fit_linear_regressor(points, linear, bias=False), matrix, atol=1e-9)


def test_regressor_fixes_a_mirrored_detector_whose_direct_error_is_large():
    truth = _random_poses(300, figures.NUM_JOINTS, seed=4)
    # A detector that learnt the mirror image: left and right joints swapped and x reflected, then shrunk and shifted.
    detected = truth[:, list(figures.FLIP)] * [-0.7, 0.7] + [0.1, -0.05]
    train, test = slice(0, 200), slice(200, 300)
    assert keypoint_errors(detected[test], truth[test], 64).mean() > 0.1  # > 10% of the image size
    weights = fit_linear_regressor(detected[train], truth[train])
    regressed = apply_linear_regressor(weights, detected[test])
    assert keypoint_errors(regressed, truth[test], 64).max() < 1e-10


def test_ridge_shrinks_the_weights_but_never_the_bias():
    rng = np.random.default_rng(5)
    points = _random_poses(100, 6, seed=6)
    truth = (points.reshape(100, 12) @ rng.normal(size=(12, 12)) + 3.0).reshape(100, 6, 2)
    np.testing.assert_allclose(fit_linear_regressor(points, truth, ridge=0.0),
                               np.linalg.lstsq(np.c_[points.reshape(100, 12), np.ones(100)], truth.reshape(100, 12),
                                               rcond=None)[0], atol=1e-12)
    norms, train_errors = [], []
    for ridge in (0.0, 1e-3, 1e-1, 10.0):
        weights = fit_linear_regressor(points, truth, ridge=ridge)
        norms.append(np.linalg.norm(weights[:-1]))
        train_errors.append(keypoint_errors(apply_linear_regressor(weights, points), truth, 64).mean())
    assert all(a > b for a, b in zip(norms, norms[1:])), norms  # more ridge, smaller weights
    assert all(a < b for a, b in zip(train_errors, train_errors[1:])), train_errors  # and a worse fit
    # A huge ridge leaves only the unpenalised bias: every frame gets the frames' mean pose.
    weights = fit_linear_regressor(points, truth, ridge=1e12)
    np.testing.assert_allclose(apply_linear_regressor(weights, points), np.broadcast_to(truth.mean(0), truth.shape),
                               atol=1e-6)
    # The ridge is per frame: the same frames twice give the same fit.
    twice = fit_linear_regressor(np.concatenate([points, points]), np.concatenate([truth, truth]), ridge=0.1)
    np.testing.assert_allclose(twice, fit_linear_regressor(points, truth, ridge=0.1), atol=1e-10)
    # A detector whose points are all equal: plain least squares stays finite (minimum norm), the bias = mean pose.
    constant = np.zeros((100, 6, 2))
    weights = fit_linear_regressor(constant, truth)
    np.testing.assert_allclose(apply_linear_regressor(weights, constant)[0], truth.mean(0), atol=1e-10)


def test_shape_errors_name_the_expected_shapes():
    points, truth = _random_poses(10, 4, 0), _random_poses(10, 5, 1)
    with pytest.raises(ValueError, match=r"points must be points \[N, K, 2\].*\(10, 8\)"):
        fit_linear_regressor(points.reshape(10, 8), truth)
    with pytest.raises(ValueError, match=r"truth must be points \[N, K, 2\].*\(10, 5, 3\)"):
        fit_linear_regressor(points, np.zeros((10, 5, 3)))
    with pytest.raises(ValueError, match="same frames, got 10 and 9"):
        fit_linear_regressor(points, truth[:9])
    with pytest.raises(ValueError, match="ridge must be >= 0"):
        fit_linear_regressor(points, truth, ridge=-1.0)
    with pytest.raises(ValueError, match="non-finite"):
        fit_linear_regressor(np.where(points > 0.7, np.nan, points), truth)
    weights = fit_linear_regressor(points, truth)
    with pytest.raises(ValueError, match=r"do not map 3 points: expected \[6 or 7 \(with bias\), 2J\]"):
        apply_linear_regressor(weights, _random_poses(2, 3, 2))


class _Lookup:
    """A detector that knows every frame's joints (both splits) and reports them through `transform`."""

    def __init__(self, transform):
        self.transform, self.table = transform, {}
        for split in ("train", "test"):
            for batch in pipelines.frame_dataset(128, name=VIDEOS, split=split):
                for image, points in zip(batch["image"].numpy(), batch["points"].numpy()):
                    self.table[hashlib.sha1(image.tobytes()).digest()] = points

    def keypoints(self, images):
        truth = np.stack([self.table[hashlib.sha1(image.tobytes()).digest()] for image in np.asarray(images)])
        return self.transform(truth).astype(np.float32)


def test_keypoint_regression_end_to_end_on_small_figures():
    mirrored = _Lookup(lambda truth: truth[:, list(figures.FLIP)] * [-0.7, 0.7] + [0.1, -0.05])
    direct = keypoint_metrics(mirrored, dataset=VIDEOS, prior=PRIOR)
    regressed = keypoint_regression(mirrored, dataset=VIDEOS, train_frames=100)
    assert direct["keypoint_error"] > 10.0
    assert regressed["regressed_error"] < 1e-4 and regressed["regressed_train_error"] < 1e-4
    assert regressed["train_frames"] == 100 and regressed["test_frames"] == 16 * 16
    # A detector that learnt nothing scores the fitted frames' mean pose, like the mean-pose baseline.
    constant = keypoint_regression(_Lookup(lambda truth: np.zeros_like(truth)), dataset=VIDEOS, train_frames=100)
    train_truth = np.concatenate([b["points"].numpy() for b in pipelines.frame_dataset(128, name=VIDEOS,
                                                                                       split="train")])[:100]
    test_truth = np.concatenate([b["points"].numpy() for b in pipelines.frame_dataset(128, name=VIDEOS)])
    expected = 100.0 * keypoint_errors(np.broadcast_to(train_truth.mean(0), test_truth.shape), test_truth, 64).mean()
    np.testing.assert_allclose(constant["regressed_error"], expected, rtol=1e-6)
    assert constant["regressed_error"] > 3.0
    with pytest.raises(UserError, match="raise train_frames to at least 31 or set ridge > 0"):
        keypoint_regression(mirrored, dataset=VIDEOS, train_frames=20)
