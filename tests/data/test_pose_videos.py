"""The real keypoint-video builders (Simplified Human3.6M, Penn Action) on tiny fixtures in the real formats, and the
KeypointGAN pipelines and metrics reading them.

The fixtures are written by the tests into temporary folders in the releases' layouts: JPEG frames, PNG masks
(1-bit, as Simplified Human3.6M's) and MATLAB .mat files written with scipy.io.savemat (scipy comes with
scikit-learn, a tfssl dependency).
"""

import os

import gin
import numpy as np
import pytest
import tensorflow_datasets as tfds
from PIL import Image
from scipy import io as scipy_io

from tfssl.data import pipelines
from tfssl.data.builders import penn_action as P
from tfssl.data.builders import pose_videos as V
from tfssl.data.builders import simple_human36m as H
from tfssl.errors import DataError
from tfssl.evaluation import keypoints as E

S = 64  # the `_64` configs
JPEG_TOLERANCE = 12  # mean absolute difference of a flat colour after JPEG and resizing


def _colour(k):
    return np.array([40 + 30 * (k % 6), 200 - 20 * (k % 7), 90 + 25 * (k % 5)], np.uint8)


def _jpeg(path, image):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(image).save(path, quality=95)


# ---- Simplified Human3.6M ----------------------------------------------------------------------------------------

H36M_SEQUENCES = {  # subject -> {sequence folder: frame numbers}; Eating is not one of the six activities
    "S1": {"Directions 1.54138969": [0, 5, 10, 15, 20, 25], "Eating.54138969": [0, 5],
           "Walking.55011271": [3, 4, 7, 9]},
    "S5": {"Posing.60457274": [1, 2]},
    "S11": {"Greeting.54138969": [0, 1, 2, 3]},
}


def write_h36m(root, rng):
    """human_images/ with 32x32 frames of a flat colour, a 1-bit mask (rows 8..23, columns 4..27) and keypoints_2d
    (y, x) fractions. Returns {(subject, sequence, frame): (colour, keypoints (y, x))}."""
    truth, k = {}, 0
    for subject in H.TRAIN_SUBJECTS + H.TEST_SUBJECTS:
        for folder in H.FOLDERS:
            os.makedirs(os.path.join(root, subject, folder), exist_ok=True)
        for sequence, frames in H36M_SEQUENCES.get(subject, {}).items():
            for frame in frames:
                colour, keypoints = _colour(k), rng.uniform(0.1, 0.9, (H.NUM_JOINTS, 2)).astype(np.float32)
                k += 1
                _jpeg(os.path.join(root, subject, "WithBackground", sequence, f"{frame}.jpg"),
                      np.broadcast_to(colour, (32, 32, 3)).copy())
                mask = np.zeros((32, 32), bool)
                mask[8:24, 4:28] = True
                os.makedirs(os.path.join(root, subject, "BackgroudMask", sequence), exist_ok=True)
                Image.fromarray(mask).save(os.path.join(root, subject, "BackgroudMask", sequence, f"{frame}.png"))
                os.makedirs(os.path.join(root, subject, "Landmarks", sequence), exist_ok=True)
                scipy_io.savemat(os.path.join(root, subject, "Landmarks", sequence, f"{frame}.mat"),
                                 {"keypoints_2d": keypoints.astype(np.float64)})
                truth[(subject, sequence, frame)] = (colour, keypoints)
    return truth


# ---- Penn Action -------------------------------------------------------------------------------------------------

PENN_H, PENN_W = 40, 60
# sequence -> (train flag, frames, per-frame bbox union (x0, y0, x1, y1), the frame whose wrist is not visible)
PENN_SEQUENCES = {
    "0001": (1, 6, (2.0, 0.0, 12.0, 40.0), None),   # the square (-13, 0, 27, 40) leaves the frame on the left
    "0002": (-1, 4, (20.0, 10.0, 40.0, 30.0), None),
    "0003": (1, 4, (10.0, 5.0, 30.0, 35.0), 3),     # square (5, 5, 35, 35); frame 3's left wrist invisible
}


def write_penn(root, rng):
    """Penn_Action/ with frames/NNNN/%06d.jpg (flat colours) and labels/NNNN.mat. The bbox field has one row
    fewer than frames for 0001 (as some release files). Returns {sequence: (colours [T, 3], joints [T, 13, 2])}."""
    truth, k = {}, 0
    os.makedirs(os.path.join(root, "labels"))
    for sequence, (train, n, (x0, y0, x1, y1), hidden) in PENN_SEQUENCES.items():
        colours = np.stack([_colour(k + t) for t in range(n)])
        k += n
        for t in range(n):
            _jpeg(os.path.join(root, "frames", sequence, f"{t + 1:06d}.jpg"),
                  np.broadcast_to(colours[t], (PENN_H, PENN_W, 3)).copy())
        joints = rng.uniform([x0, y0], [x1, y1], (n, P.NUM_JOINTS, 2))
        visibility = np.ones((n, P.NUM_JOINTS), np.uint8)
        if hidden is not None:
            visibility[hidden, P.JOINT_NAMES.index("left_wrist")] = 0
        boxes = np.array([[x0 + 1, y0, x1, y1 - 1], [x0, y0 + 1, x1 - 1, y1]] * n, np.float64)[:n]
        if sequence == "0001":
            boxes = boxes[:-1]
        scipy_io.savemat(os.path.join(root, "labels", f"{sequence}.mat"), {
            "action": "tennis_serve", "pose": "back", "x": joints[..., 0].astype(np.float64),
            "y": joints[..., 1].astype(np.float64), "visibility": visibility, "train": np.array([[train]]),
            "bbox": boxes, "dimensions": np.array([[PENN_H, PENN_W, n]]), "nframes": np.array([[n]])})
        truth[sequence] = (colours, joints.astype(np.float32))
    return truth


# ---- prepared builders -------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def h36m(tmp_path_factory):
    manual = tmp_path_factory.mktemp("h36m_manual")
    truth = write_h36m(str(manual / "human_images"), np.random.default_rng(0))
    for config in ("base_64", "prior_64"):  # into the session's TFDS_DATA_DIR, where the pipelines look
        pipelines.load_builder(f"simple_human36m/{config}", manual_dir=str(manual))
    return truth


@pytest.fixture(scope="module")
def penn(tmp_path_factory):
    manual = tmp_path_factory.mktemp("penn_manual")
    truth = write_penn(str(manual / "Penn_Action"), np.random.default_rng(1))
    for config in ("base_64", "prior_64"):
        pipelines.load_builder(f"penn_action/{config}", manual_dir=str(manual))
    return truth


def _examples(name, split):
    builder = pipelines.load_builder(name)
    return sorted(tfds.as_numpy(builder.as_dataset(split=split)), key=lambda e: int(e["index"]))


# ---- pure pieces ---------------------------------------------------------------------------------------------------

def test_interleaved_clips_cover_every_frame_once_in_time_order():
    for n in (2, 5, 15, 16, 17, 31, 32, 40, 100, 1001):
        clips = V.interleaved_clips(n, 16)
        assert sorted(p for clip in clips for p in clip) == list(range(n))
        assert all(clip == sorted(clip) for clip in clips)
        assert all(min(n, 16) <= len(clip) <= 31 for clip in clips), (n, [len(c) for c in clips])
        assert len(clips) == max(1, n // 16)
    assert V.interleaved_clips(1) == [] and V.interleaved_clips(0) == []
    assert V.interleaved_clips(40, 16) == [list(range(0, 40, 2)), list(range(1, 40, 2))]


def test_square_box_crop_and_joint_mapping():
    np.testing.assert_array_equal(V.square_box((2, 0, 12, 40)), [-13, 0, 27, 40])
    np.testing.assert_array_equal(V.square_box((10, 5, 30, 35)), [5, 5, 35, 35])
    image = np.full((40, 60, 3), 200, np.uint8)
    crop = V.crop_square(image, (-13, 0, 27, 40), 40)  # no resize: exact
    assert (crop[:, :13] == 0).all() and (crop[:, 13:] == 200).all()
    # The box's left/top edge goes to 0 and its right edge to the crop's size; the centre stays the centre.
    np.testing.assert_allclose(V.joints_in_crop([[5, 5], [35, 35], [20, 20]], (5, 5, 35, 35), 64),
                               [[0, 0], [64, 64], [32, 32]])


def test_skeletons_are_valid_and_flips_are_involutions():
    for module, k, limbs in ((H, 32, 16), (P, 13, 14)):
        assert module.NUM_JOINTS == k and len(module.LIMBS) == limbs
        assert all(0 <= j < k for limb in module.LIMBS for j in limb)
        assert sorted(module.FLIP) == list(range(k))
        assert all(module.FLIP[module.FLIP[j]] == j for j in range(k))
        flipped = {tuple(sorted((module.FLIP[a], module.FLIP[b]))) for a, b in module.LIMBS}
        assert flipped == {tuple(sorted(limb)) for limb in module.LIMBS}, "the skeleton is left/right symmetric"
    assert len({j for limb in H.LIMBS for j in limb}) == 17  # the reference's 16 limbs over 17 of the 32 points
    assert H.FLIP[H.JOINT_NAMES.index("left_wrist")] == H.JOINT_NAMES.index("right_wrist")
    assert pipelines.skeleton_limbs("simple_human36m/base") == H.LIMBS
    assert pipelines.skeleton_flip("penn_action/prior_64") == P.FLIP
    with pytest.raises(DataError, match="no skeleton is known for dataset 'cocoa'"):
        pipelines.skeleton_limbs("cocoa")


def test_activity_of_sequence_names():
    assert H.activity_of("Directions 1.54138969") == 0
    assert H.activity_of("walking.60457274") == H.ACTIVITIES.index("walking")
    assert H.activity_of("Eating 2.54138969") is None


# ---- Simplified Human3.6M ------------------------------------------------------------------------------------------

def test_h36m_clips_are_first_halves_masked_with_joints_in_pixels(h36m):
    train, test = _examples("simple_human36m/base_64", "train"), _examples("simple_human36m/base_64", "test")
    # First halves of the training sequences; Eating is not one of the six activities, and Posing's first half is
    # one frame, too few for a pair. The test clip is all of S11's sequence.
    expected = [(train, "S1", "Directions 1.54138969", [0, 5, 10]), (train, "S1", "Walking.55011271", [3, 4]),
                (test, "S11", "Greeting.54138969", [0, 1, 2, 3])]
    assert len(train) == 2 and len(test) == 1
    for example, (_, subject, sequence, frames) in zip(train + test, expected):
        assert example["video"].shape == (len(frames), S, S, 3) and example["video"].dtype == np.uint8
        assert example["joints"].shape == (len(frames), 32, 2) and example["visible"].all()
        assert int(example["activity"]) == H.activity_of(sequence)
        for t, frame in enumerate(frames):
            colour, keypoints = h36m[(subject, sequence, frame)]
            np.testing.assert_allclose(example["joints"][t], keypoints[:, ::-1] * S, rtol=1e-6)
            inside = example["video"][t, 20:44, 12:52].astype(float)  # the mask (rows 8..23, cols 4..27 of 32) x 2
            assert np.abs(inside - colour).mean() < JPEG_TOLERANCE
            assert example["video"][t, :12].mean() < 3 and example["video"][t, 52:].mean() < 3  # masked: black
    assert [int(e["index"]) for e in train] == [0, 1]


def test_h36m_prior_is_second_halves_and_validation_is_the_test_subject(h36m):
    train, validation = _examples("simple_human36m/prior_64", "train"), _examples("simple_human36m/prior_64",
                                                                                  "validation")
    second_halves = [("S1", "Directions 1.54138969", f) for f in (15, 20, 25)] + [
        ("S1", "Walking.55011271", f) for f in (7, 9)] + [("S5", "Posing.60457274", 2)]
    assert len(train) == len(second_halves)
    got = sorted(tuple(np.round(e["joints"].ravel(), 3)) for e in train)
    want = sorted(tuple(np.round((h36m[key][1][:, ::-1] * S).ravel(), 3)) for key in second_halves)
    assert got == want
    assert len(validation) == 1  # every 10th frame of S11's 4
    np.testing.assert_allclose(validation[0]["joints"], h36m[("S11", "Greeting.54138969", 0)][1][:, ::-1] * S,
                               rtol=1e-6)
    assert "video" not in validation[0]


# ---- Penn Action ---------------------------------------------------------------------------------------------------

def test_penn_clips_are_cropped_around_the_sequence_box(penn):
    train, test = _examples("penn_action/base_64", "train"), _examples("penn_action/base_64", "test")
    assert [len(e["video"]) for e in train] == [3, 2] and [len(e["video"]) for e in test] == [4]
    for example, sequence, frames in ((train[0], "0001", [0, 1, 2]), (train[1], "0003", [0, 1]),
                                      (test[0], "0002", [0, 1, 2, 3])):
        colours, joints = penn[sequence]
        box = V.square_box(PENN_SEQUENCES[sequence][2])
        np.testing.assert_allclose(example["joints"], V.joints_in_crop(joints[frames], box, S), rtol=1e-5)
        assert P.ACTIONS[example["action"]] == "tennis_serve"
        for t, frame in enumerate(frames):
            video = example["video"][t].astype(float)
            if sequence == "0001":  # the square (-13, 0, 27, 40) starts 13 of its 40 px left of the frame
                assert video[:, :19].mean() < 3
                assert np.abs(video[:, 24:] - colours[frame]).mean() < JPEG_TOLERANCE
            else:
                assert np.abs(video - colours[frame]).mean() < JPEG_TOLERANCE
    np.testing.assert_array_equal(V.square_box(PENN_SEQUENCES["0003"][2]), [5, 5, 35, 35])


def test_penn_prior_keeps_complete_poses_of_second_halves(penn):
    train = _examples("penn_action/prior_64", "train")
    validation = _examples("penn_action/prior_64", "validation")
    # 0001: frames 3..5; 0003: frames 2, 3 but frame 3 has an invisible wrist.
    expected = [("0001", t) for t in (3, 4, 5)] + [("0003", 2)]
    got = sorted(tuple(np.round(e["joints"].ravel(), 3)) for e in train)
    want = sorted(tuple(np.round(V.joints_in_crop(penn[s][1][t], V.square_box(PENN_SEQUENCES[s][2]), S).ravel(), 3))
                  for s, t in expected)
    assert got == want
    assert len(validation) == 1  # every 10th complete frame of the test sequence 0002


def test_penn_label_errors_are_named(tmp_path):
    path = str(tmp_path / "0001.mat")
    scipy_io.savemat(path, {"action": "tennis_serve", "x": np.zeros((2, 13)), "y": np.zeros((2, 12)),
                            "visibility": np.ones((2, 13)), "bbox": np.zeros((2, 4)), "nframes": 2, "train": 1})
    with pytest.raises(DataError, match=r"x, y and visibility must be \[nframes=2, 13\]"):
        P.read_label(path)
    scipy_io.savemat(path, {"action": "tennis_serve"})
    with pytest.raises(DataError, match="cannot read Penn Action label .*0001.mat"):
        P.read_label(path)


# ---- errors: a missing manual_dir or layout -------------------------------------------------------------------------

@pytest.mark.parametrize("name, expected", [
    ("simple_human36m/base_64", r"S1/WithBackground, S1/BackgroudMask, S1/Landmarks \(and 18 more\) in .*human.*"
                                r"extract Zhang et al.'s Simplified Human3.6M \(human_images.tar.gz\) there"),
    ("penn_action/prior_64", r"frames, labels in .*; extract Penn Action \(Penn_Action.tar.gz\) there"),
])
def test_missing_manual_files_are_one_clear_error(name, expected, tmp_path):
    gin.bind_parameter("tfssl.data.data_dir.path", str(tmp_path / "tfds"))
    empty = tmp_path / "human_images_manual"
    empty.mkdir()
    with pytest.raises(DataError, match=expected) as error:
        pipelines.load_builder(name, manual_dir=str(empty))
    # One line (gin appends its own "In call to configurable" line below it, which the CLIs drop).
    assert "tfssl.data.load_builder.manual_dir" in str(error.value).splitlines()[0]
    # No manual_dir at all: TFDS's default folder is named.
    with pytest.raises(DataError, match=r"downloads/manual"):
        pipelines.load_builder(name)


def test_a_missing_landmark_file_is_named(tmp_path):
    write_h36m(str(tmp_path / "manual"), np.random.default_rng(2))
    os.remove(tmp_path / "manual" / "S11" / "Landmarks" / "Greeting.54138969" / "2.mat")
    gin.bind_parameter("tfssl.data.data_dir.path", str(tmp_path / "tfds"))
    with pytest.raises(DataError, match=r"landmarks .*S11/Landmarks/Greeting.54138969/2.mat are missing"):
        pipelines.load_builder("simple_human36m/base_64", manual_dir=str(tmp_path / "manual"))


# ---- KeypointGAN's pipelines and metrics read them -----------------------------------------------------------------

@pytest.mark.parametrize("dataset, joints", [("simple_human36m", 32), ("penn_action", 13)])
def test_keypointgan_pipelines_read_the_builders(dataset, joints, h36m, penn):
    videos, prior = f"{dataset}/base_64", f"{dataset}/prior_64"
    batch = next(iter(pipelines.frame_pair_dataset(2, name=videos, prior=prior, cache=False)))
    assert batch["image"].shape == (2, S, S, 3) and batch["appearance"].shape == (2, S, S, 3)
    assert batch["points"].shape == (2, joints, 2) and batch["prior_points"].shape == (2, joints, 2)
    assert float(batch["image"].numpy().max()) <= 1.0
    assert np.abs(batch["points"].numpy()).max() <= 1.05 and np.abs(batch["prior_points"].numpy()).max() <= 1.05
    assert (batch["frames"].numpy()[:, 0] != batch["frames"].numpy()[:, 1]).all()
    poses = next(iter(pipelines.pose_prior_dataset(2, name=prior, key="prior_points")))
    assert poses["prior_points"].shape == (2, joints, 2)
    frames = list(pipelines.frame_dataset(3, name=videos, split="test"))
    assert sum(int(b["image"].shape[0]) for b in frames) == 4 and frames[0]["points"].shape[1:] == (joints, 2)


class _MeanPose:
    """A 'detector' that always answers the prior's mean pose, and whose eta inverts beta exactly."""

    image_size = S

    def __init__(self, pose):
        self.pose = pose

    def keypoints(self, images):
        return np.broadcast_to(self.pose, (images.shape[0],) + self.pose.shape)

    def render(self, points):
        return points

    def eta(self, points, training=False):
        return points


@pytest.mark.parametrize("dataset", ["simple_human36m", "penn_action"])
def test_keypoint_metrics_run_on_the_real_datasets(dataset, h36m, penn):
    prior = f"{dataset}/prior_64"
    method = _MeanPose(E.mean_pose(prior))
    out = E.keypoint_metrics(method, dataset=f"{dataset}/base_64", prior=prior)
    assert out["frames"] == 4.0
    assert out["keypoint_error"] == pytest.approx(out["mean_pose_error"])
    assert 0 <= out["keypoint_error_flip"] <= out["keypoint_error"]
    round_trip = E.prior_round_trip(method, prior=prior)
    assert round_trip["eta_round_trip_error"] == 0.0
