"""Keypoint metrics: an oracle scores 0, the mean pose scores the baseline, flips and units are right."""

import numpy as np

from tfssl.data import pipelines
from tfssl.data.render import figures
from tfssl.evaluation.keypoints import keypoint_errors, keypoint_metrics, mean_pose

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
