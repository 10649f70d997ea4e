"""Direct keypoint error of KeypointGAN (Jakab et al., CVPR 2020, Sec. 4) and the mean-pose baseline.

The detector's points are in the prior's own joint order, so they are compared with the ground truth directly, no
regressor: the mean over joints of the L2 distance, in % of the image size, averaged over frames; and the
left/right-flip-tolerant variant, the smaller of the errors of the prediction and of its left/right-swapped copy
per frame (a detector may learn a mirrored convention from the prior). The mean-pose baseline (every frame gets
the prior's mean pose) runs through the same code: a detector must beat it to have learnt anything.

(The paper averages per activity on Human3.6M; here frames are averaged over the test videos, whose six motion
kinds are about equally frequent.)
"""

from __future__ import annotations

from typing import Sequence

import gin
import numpy as np

from tfssl.data import pipelines


def keypoint_errors(predicted: np.ndarray, truth: np.ndarray, size: int,
                    flip: Sequence[int] | None = None) -> np.ndarray:
    """Per-frame mean joint error in units of the image size.

    Args:
      predicted, truth: float [N, K, 2], (x, y) in [-1, 1] (pixel centres at -1 and 1, as the skeleton renderer).
      size: image side in pixels (one [-1, 1] unit is (size - 1) / 2 pixels).
      flip: a left/right joint permutation; given, each frame's error is the smaller of the prediction's and its
        swapped copy's.
    Returns:
      float64 [N], fractions of the image size (x 100 for %).
    """
    scale = (size - 1) / (2.0 * size)
    predicted, truth = np.asarray(predicted, np.float64), np.asarray(truth, np.float64)
    error = np.linalg.norm(predicted - truth, axis=-1).mean(axis=-1) * scale
    if flip is not None:
        swapped = np.linalg.norm(predicted[:, list(flip)] - truth, axis=-1).mean(axis=-1) * scale
        error = np.minimum(error, swapped)
    return error


def mean_pose(prior: str = "tfssl_figures/prior", split: str = "train") -> np.ndarray:
    """The prior's mean pose: float32 [K, 2] in [-1, 1]."""
    total, count = 0.0, 0
    for batch in pipelines.pose_prior_dataset(1024, name=prior, split=split, repeat=False, shuffle_buffer=1):
        total = total + batch["points"].numpy().sum(axis=0)
        count += int(batch["points"].shape[0])
    return (total / count).astype(np.float32)


@gin.configurable(module="tfssl.evaluation")
def keypoint_metrics(method, *, dataset: str = "tfssl_figures/base", split: str = "test",
                     prior: str = "tfssl_figures/prior", max_examples: int | None = None,
                     batch_size: int = 128) -> dict[str, float]:
    """Direct keypoint error of `method.keypoints` (images [B, S, S, 3] in [0, 1] -> points [B, K, 2] in [-1, 1])
    on every frame of a video split, and the mean-pose baseline's, all in % of the image size.

    Args:
      method: a trained KeypointGAN (anything with `keypoints(images)`).
      dataset, split: a video dataset with per-frame joints (`tfssl.data.frame_dataset`).
      prior: the pose prior whose mean pose is the baseline.
      max_examples: clips evaluated (the first of the split); None: all.
    Returns:
      keypoint_error, keypoint_error_flip, mean_pose_error, mean_pose_error_flip (%), frames.
    """
    predicted, truth, size = [], [], None
    for batch in pipelines.frame_dataset(batch_size, name=dataset, split=split, max_examples=max_examples):
        size = int(batch["image"].shape[1])
        predicted.append(np.asarray(method.keypoints(batch["image"])))
        truth.append(batch["points"].numpy())
    predicted, truth = np.concatenate(predicted), np.concatenate(truth)
    baseline = np.broadcast_to(mean_pose(prior), truth.shape)
    flip = pipelines.skeleton_flip(dataset)
    out = {}
    for name, points in (("keypoint_error", predicted), ("mean_pose_error", baseline)):
        out[name] = 100.0 * float(keypoint_errors(points, truth, size).mean())
        out[f"{name}_flip"] = 100.0 * float(keypoint_errors(points, truth, size, flip).mean())
    out["frames"] = float(len(truth))
    return out


@gin.configurable(module="tfssl.evaluation")
def prior_round_trip(method, *, prior: str = "tfssl_figures/prior", split: str = "validation",
                     batch_size: int = 256) -> dict[str, float]:
    """eta's round trip on held-out prior poses: the error of eta(beta(y_bar)) against y_bar, in % of the image size
    (the spec asks < 1% after pre-training).

    Args:
      method: a KeypointGAN (anything with `render(points)`, `eta(images)` and `image_size`).
      prior, split: held-out poses (`tfssl_figures/prior` validation).
    Returns:
      eta_round_trip_error, eta_round_trip_error_flip (%).
    """
    errors, flipped = [], []
    flip = pipelines.skeleton_flip(prior)
    for batch in pipelines.pose_prior_dataset(batch_size, name=prior, split=split, repeat=False, shuffle_buffer=1):
        truth = batch["points"].numpy()
        predicted = np.asarray(method.eta(method.render(batch["points"]), training=False))
        errors.append(keypoint_errors(predicted, truth, method.image_size))
        flipped.append(keypoint_errors(predicted, truth, method.image_size, flip))
    return {"eta_round_trip_error": 100.0 * float(np.concatenate(errors).mean()),
            "eta_round_trip_error_flip": 100.0 * float(np.concatenate(flipped).mean())}
