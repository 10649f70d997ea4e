"""Keypoint errors: KeypointGAN's direct error (Jakab et al., CVPR 2020, Sec. 4), the mean-pose baseline, and the
linear-regressor protocol of the unsupervised landmark baselines.

The detector's points are in the prior's own joint order, so they are compared with the ground truth directly, no
regressor: the mean over joints of the L2 distance, in % of the image size, averaged over frames; and the
left/right-flip-tolerant variant, the smaller of the errors of the prediction and of its left/right-swapped copy
per frame (a detector may learn a mirrored convention from the prior). The mean-pose baseline (every frame gets
the prior's mean pose) runs through the same code: a detector must beat it to have learnt anything.

(The paper averages per activity on Human3.6M; here frames are averaged over the test videos, whose six motion
kinds are about equally frequent.)

The regressor protocol (`keypoint_regression`) is how the baselines of the paper's Table 1 are scored (Thewlis et
al. 2017, Zhang et al. 2018, Jakab et al. 2018, Lorenz et al. 2019): their K discovered landmarks have no fixed
meaning, so a linear map from the K points (2K numbers) to the J annotated joints is fitted by least squares on
frames of the training split, with no gradient training, and the mapped points are scored on the test split with
`keypoint_errors`. IMM's released evaluation (github.com/tomasjakab/imm, scripts/test.py) fits every output
coordinate from every input coordinate jointly on the whole training set, by default without a bias (a flag adds
one); here the bias is on by default (`bias=True`), so a detector that has learnt nothing (constant points) scores
the training set's mean pose rather than the origin, and an optional ridge term damps the weights of nearly
collinear points (points that move together), which plain least squares would inflate to fit noise. Scoring
KeypointGAN this way puts it on the baselines' footing: the regressor can fix a permuted or mirrored joint
convention and any affine drift; when K = J the identity is one of its maps, so without a ridge its squared error
on the frames it was fitted on never exceeds the direct points' (the mean L2 distance that is reported is not what
least squares minimises, so that one can, slightly).
"""

from __future__ import annotations

from typing import Sequence

import gin
import keras
import numpy as np
import tensorflow as tf

from tfssl.data import pipelines
from tfssl.errors import UserError


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


def _traced_keypoints(method):
    """`method.keypoints` in a tf.function when the method is a Keras model: about 2.4 times faster than eager calls
    for KeypointGAN on the CPU (measured). reduce_retracing: the last, smaller batch relaxes the batch dimension
    instead of tracing once more per size (the image side must stay static: the networks resize by it). Other
    objects (test stubs) are called as they are."""
    if isinstance(method, keras.Model):
        return tf.function(method.keypoints, reduce_retracing=True)
    return method.keypoints


def detect_frames(method, *, dataset: str, split: str, max_examples: int | None = None,
                  max_frames: int | None = None, batch_size: int = 128) -> tuple[np.ndarray, np.ndarray, int]:
    """Runs `method.keypoints` on the frames of a video split, in `frame_dataset`'s order.

    Args:
      method: anything with `keypoints(images [B, S, S, 3] float32 in [0, 1]) -> points [B, K, 2] in [-1, 1]`.
      dataset, split: a video dataset with per-frame joints (`tfssl.data.frame_dataset`).
      max_examples: clips read (the first of the split); None: all.
      max_frames: frames kept (the first, whole clips first); None: all the clips' frames.
    Returns:
      predicted float32 [N, K, 2], truth float32 [N, J, 2] (both (x, y) in [-1, 1]) and the image side S.
    """
    if max_frames is not None and max_frames < 1:
        raise ValueError(f"max_frames must be >= 1 or None, got {max_frames}")
    detect = _traced_keypoints(method)
    predicted, truth, size, count = [], [], None, 0
    for batch in pipelines.frame_dataset(batch_size, name=dataset, split=split, max_examples=max_examples):
        size = int(batch["image"].shape[1])
        predicted.append(np.asarray(detect(batch["image"])))
        truth.append(batch["points"].numpy())
        count += len(truth[-1])
        if max_frames is not None and count >= max_frames:
            break  # the detector is the cost: stop reading once enough frames are in
    if not truth:
        raise ValueError(f"dataset '{dataset}' split '{split}' has no frames")
    return np.concatenate(predicted)[:max_frames], np.concatenate(truth)[:max_frames], size


def _flatten_points(points: np.ndarray, name: str) -> np.ndarray:
    """float [N, K, 2] -> float64 [N, 2K], with one clear message for any other shape or non-finite values."""
    points = np.asarray(points, np.float64)
    if points.ndim != 3 or points.shape[-1] != 2 or points.shape[0] < 1 or points.shape[1] < 1:
        raise ValueError(f"{name} must be points [N, K, 2] (x, y) with N, K >= 1, got shape {points.shape}")
    if not np.isfinite(points).all():
        raise ValueError(f"{name} contain non-finite values")
    return points.reshape(len(points), -1)


def fit_linear_regressor(points: np.ndarray, truth: np.ndarray, *, ridge: float = 0.0,
                         bias: bool = True) -> np.ndarray:
    """The landmark-to-joint regressor: least squares from a detector's K points to J annotated joints.

    Minimises mean_n |[x_n, 1] W - y_n|^2 + ridge * |W without its bias row|^2 over all frames at once, x_n the
    2K numbers (x1, y1, x2, y2, ...) of frame n and y_n its 2J joint coordinates: every output coordinate is
    regressed from every input coordinate, so permutations, mirrors and affine maps of the joints are all in its
    reach. The ridge is per frame (scaled by N), so one value suits any number of frames; the bias is never
    penalised (a constant detector then predicts the frames' mean pose).

    Args:
      points: float [N, K, 2], the detector's points.
      truth: float [N, J, 2], the annotated joints of the same frames.
      ridge: >= 0; 0 is plain least squares (the minimum-norm solution when the points are rank-deficient).
      bias: append a constant 1 to each frame's 2K numbers.
    Returns:
      float64 weights [2K + 1, 2J] with a bias (its last row), [2K, 2J] without.
    Raises:
      ValueError: shapes other than [N, K, 2] and [N, J, 2] with the same N, non-finite values, ridge < 0.
    """
    x, y = _flatten_points(points, "points"), _flatten_points(truth, "truth")
    if len(x) != len(y):
        raise ValueError(f"points and truth must hold the same frames, got {len(x)} and {len(y)} (shapes "
                         f"{np.shape(points)} and {np.shape(truth)})")
    if not ridge >= 0.0:
        raise ValueError(f"ridge must be >= 0, got {ridge}")
    if bias:
        x = np.concatenate([x, np.ones((len(x), 1))], axis=1)
    if ridge > 0.0:
        # Ridge as least squares on rows appended to the system: sqrt(N * ridge) * I for the weights (not the
        # bias) against zero targets; better conditioned than solving the normal equations.
        penalty = np.sqrt(len(x) * ridge) * np.eye(x.shape[1])
        if bias:
            penalty = penalty[:-1]
        x = np.concatenate([x, penalty])
        y = np.concatenate([y, np.zeros((len(penalty), y.shape[1]))])
    weights, *_ = np.linalg.lstsq(x, y, rcond=None)
    return weights


def apply_linear_regressor(weights: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Maps a detector's points through `fit_linear_regressor`'s weights.

    Args:
      weights: float [2K + 1, 2J] (with a bias) or [2K, 2J] (without); an odd row count means a bias.
      points: float [N, K, 2].
    Returns:
      float64 [N, J, 2], (x, y) in the truth's units.
    Raises:
      ValueError: weights not 2-d with an even column count, or sized for another K.
    """
    x = _flatten_points(points, "points")
    weights = np.asarray(weights, np.float64)
    if weights.ndim != 2 or weights.shape[1] % 2 or weights.shape[0] not in (x.shape[1], x.shape[1] + 1):
        raise ValueError(f"weights of shape {weights.shape} do not map {np.shape(points)[1]} points: expected "
                         f"[{x.shape[1]} or {x.shape[1] + 1} (with bias), 2J] from fit_linear_regressor")
    if weights.shape[0] == x.shape[1] + 1:
        x = np.concatenate([x, np.ones((len(x), 1))], axis=1)
    return (x @ weights).reshape(len(x), -1, 2)


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
    predicted, truth, size = detect_frames(method, dataset=dataset, split=split, max_examples=max_examples,
                                           batch_size=batch_size)
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


@gin.configurable(module="tfssl.evaluation")
def keypoint_regression(method, *, dataset: str = "tfssl_figures/base", train_split: str = "train",
                        test_split: str = "test", train_frames: int | None = 2000, max_test_examples: int | None = None,
                        ridge: float = 0.0, bias: bool = True, batch_size: int = 128) -> dict[str, float]:
    """The baselines' protocol: `method.keypoints` mapped to the joints by a linear regressor fitted on training
    frames, scored on the test split, in % of the image size (`fit_linear_regressor`, `keypoint_errors`).

    A separate evaluation rather than more keys of `keypoint_metrics`: it reads another split (training frames,
    which cost as much to detect as the test frames), has knobs of its own (frames, ridge, bias), and is a
    different protocol from the paper's own direct one, so a gin file chooses it on its own and its JSON
    (`eval/keypoint_regression.json`) is not mistaken for the paper's number. The mean-pose baseline has no
    regressed twin: a regressor on a constant input is the mean training pose again.

    Args:
      method: anything with `keypoints(images)` (images [B, S, S, 3] in [0, 1] -> points [B, K, 2]); K may differ
        from the dataset's J joints.
      dataset: a video dataset with per-frame joints (`tfssl.data.frame_dataset`).
      train_split, train_frames: the regressor is fitted on the first `train_frames` frames of this split (whole
        clips first; fewer if the split is smaller; None: every frame, as IMM's evaluation, at the cost of
        detecting them all). The fit needs at least 2K + 1 frames unless ridge > 0.
      test_split, max_test_examples: scored on every frame of the first `max_test_examples` clips (None: all).
      ridge, bias: as `fit_linear_regressor`.
    Returns:
      regressed_error (test, %), regressed_error_flip (left/right-flip-tolerant, %), regressed_train_error (the
      fit's own frames, %: far below the test error means the fit memorised), train_frames, test_frames.
    Raises:
      UserError: too few training frames for an unregularised fit.
    """
    train_points, train_truth, _ = detect_frames(method, dataset=dataset, split=train_split,
                                                 max_frames=train_frames, batch_size=batch_size)
    unknowns = 2 * train_points.shape[1] + int(bias)
    if ridge == 0.0 and len(train_points) < unknowns:
        raise UserError(f"keypoint_regression: {len(train_points)} training frames cannot fit the {unknowns} "
                        f"weights per coordinate of {train_points.shape[1]} points; raise train_frames to at "
                        f"least {unknowns} or set ridge > 0")
    weights = fit_linear_regressor(train_points, train_truth, ridge=ridge, bias=bias)
    test_points, test_truth, size = detect_frames(method, dataset=dataset, split=test_split,
                                                  max_examples=max_test_examples, batch_size=batch_size)
    regressed = apply_linear_regressor(weights, test_points)
    train_fit = apply_linear_regressor(weights, train_points)
    flip = pipelines.skeleton_flip(dataset)
    return {"regressed_error": 100.0 * float(keypoint_errors(regressed, test_truth, size).mean()),
            "regressed_error_flip": 100.0 * float(keypoint_errors(regressed, test_truth, size, flip).mean()),
            "regressed_train_error": 100.0 * float(keypoint_errors(train_fit, train_truth, size).mean()),
            "train_frames": float(len(train_points)), "test_frames": float(len(test_points))}
