"""`simple_human36m`: Simplified Human3.6M (Zhang et al., "Unsupervised Discovery of Object Landmarks as Structural
Representations", CVPR 2018), the subset KeypointGAN (Jakab et al., CVPR 2020, Table 1) is measured on, read from
manual_dir. Nothing is downloaded.

Put in manual_dir the `human_images/` folder of Zhang et al.'s release (human_images.tar.gz, extracted), or its
contents. Layout, per subject S in S1, S5, S6, S7, S8, S9 (training) and S11 (test):
  S/WithBackground/<sequence>/<frame>.jpg   the frame, 128x128, the person centred
  S/BackgroudMask/<sequence>/<frame>.png    its foreground mask (the folder name's spelling is the release's)
  S/Landmarks/<sequence>/<frame>.mat        `keypoints_2d`: float [32, 2], (row, column) = (y, x) as fractions of
                                            the image side, Human3.6M's 32 points
where <sequence> is e.g. "Directions 1.54138969" (activity, take, camera) and <frame> an integer. The six activities
are directions, discussion, greeting, posing, waiting and walking; a sequence belongs to the activity its name
starts with (case-insensitive, as in KeypointGAN's reference loader), others are ignored.

What the configs hold (the reference code's protocol, `pose_videos` for the clip layout):
  - `base` videos: train = the FIRST half of the frames of every training-subject sequence, test = every frame of
    S11's sequences. Frames are multiplied by their foreground mask (the reference's default: the background is
    black), and resized to the config's size when that is not 128.
  - `prior` poses: train = every frame of the SECOND half of every training-subject sequence (disjoint from the
    frames of `base`/train, never paired with them); validation = every 10th frame of S11 (held-out poses for
    eta's round trip; nothing trains on them).
Joints: all 32 points, (x, y) = (column, row) x image size in pixels (pixel c centred at c + 0.5). The skeleton
(`LIMBS`) is the reference's 16 limbs over 17 of the points; the other 15 are learnt from the prior alone.
Labels: `activity` (ClassLabel of the six). Differences from the paper's evaluation: keypoint_metrics averages over
frames, the paper over activities (the six are of similar size).
"""

from __future__ import annotations

import os

import numpy as np
import tensorflow_datasets as tfds
from scipy import io as scipy_io

from tfssl.data.builders import pose_videos
from tfssl.errors import DataError

ACTIVITIES = ("directions", "discussion", "greeting", "posing", "waiting", "walking")
TRAIN_SUBJECTS = ("S1", "S5", "S6", "S7", "S8", "S9")
TEST_SUBJECTS = ("S11",)
FOLDERS = ("WithBackground", "BackgroudMask", "Landmarks")
SOURCE_SIZE = 128
PRIOR_VALIDATION_STRIDE = 10

# Human3.6M's 32 points in the files' order. Names of points that no limb uses are descriptive only.
JOINT_NAMES = (
    "hip", "right_hip", "right_knee", "right_ankle", "right_foot", "right_toes",
    "left_hip", "left_knee", "left_ankle", "left_foot", "left_toes",
    "pelvis", "thorax", "neck", "head_centre", "head",
    "left_clavicle", "left_shoulder", "left_elbow", "left_wrist", "left_wrist_end", "left_thumb", "left_hand",
    "left_hand_end",
    "right_clavicle", "right_shoulder", "right_elbow", "right_wrist", "right_wrist_end", "right_thumb", "right_hand",
    "right_hand_end",
)
NUM_JOINTS = len(JOINT_NAMES)
_J = {name: i for i, name in enumerate(JOINT_NAMES)}
# KeypointGAN's Simplified-Human3.6M skeleton: legs and arms hang from the pelvis and the neck, the head on the neck.
LIMBS = tuple((_J[a], _J[b]) for a, b in (
    ("right_hip", "pelvis"), ("right_knee", "right_hip"), ("right_ankle", "right_knee"), ("right_toes", "right_ankle"),
    ("left_hip", "pelvis"), ("left_knee", "left_hip"), ("left_ankle", "left_knee"), ("left_toes", "left_ankle"),
    ("neck", "pelvis"), ("head", "neck"),
    ("left_shoulder", "neck"), ("left_elbow", "left_shoulder"), ("left_wrist", "left_elbow"),
    ("right_shoulder", "neck"), ("right_elbow", "right_shoulder"), ("right_wrist", "right_elbow"),
))
# FLIP[j]: the joint that j becomes when left and right are swapped (the flip-tolerant error).
FLIP = tuple(_J[n.replace("right_", "@").replace("left_", "right_").replace("@", "left_")] for n in JOINT_NAMES)

_WHAT = ("extract Zhang et al.'s Simplified Human3.6M (human_images.tar.gz) there, so that it holds "
         "S1/WithBackground/<sequence>/<frame>.jpg, S1/BackgroudMask/.../<frame>.png and S1/Landmarks/.../<frame>.mat "
         "for S1, S5, S6, S7, S8, S9 and S11")


def find_root(manual_dir: str) -> str:
    """manual_dir/human_images if it exists, else manual_dir."""
    nested = os.path.join(manual_dir, "human_images")
    return nested if os.path.isdir(nested) else manual_dir


def activity_of(sequence: str) -> int | None:
    """The activity index of a sequence folder ("Directions 1.54138969" -> 0), None if not one of the six."""
    name = sequence.lower()
    return next((i for i, a in enumerate(ACTIVITIES) if name.startswith(a)), None)


def list_sequences(root: str, subjects) -> list[tuple[str, str, int, list[int]]]:
    """[(subject, sequence, activity, sorted frame numbers)] of the six activities, in name order."""
    out = []
    for subject in subjects:
        folder = os.path.join(root, subject, "WithBackground")
        for sequence in sorted(os.listdir(folder)):
            activity = activity_of(sequence)
            if activity is None or not os.path.isdir(os.path.join(folder, sequence)):
                continue
            frames = sorted(int(os.path.splitext(f)[0]) for f in os.listdir(os.path.join(folder, sequence))
                            if f.lower().endswith(".jpg") and os.path.splitext(f)[0].isdigit())
            out.append((subject, sequence, activity, frames))
    return out


def read_keypoints(path: str) -> np.ndarray:
    """A Landmarks .mat -> float32 [32, 2] (x, y) as fractions of the image side."""
    try:
        keypoints = np.asarray(scipy_io.loadmat(path)["keypoints_2d"], np.float32)
    except (OSError, ValueError, KeyError) as error:
        raise DataError(f"cannot read keypoints_2d from {path} ({error!r}); replace it with the release's "
                        "file") from error
    if keypoints.shape != (NUM_JOINTS, 2):
        raise DataError(f"{path}: keypoints_2d must be [{NUM_JOINTS}, 2] (y, x) fractions, got {keypoints.shape}")
    return keypoints[:, ::-1]  # (y, x) -> (x, y)


def read_mask(path: str) -> np.ndarray:
    """A foreground mask PNG -> float32 [H, W, 1] in [0, 1] (0/1 and 0/255 masks both read as 0/1)."""
    mask = pose_videos.read_rgb(path)[..., :1].astype(np.float32)
    return mask / 255.0 if mask.max() > 1.0 else mask


def read_frame(root: str, subject: str, sequence: str, frame: int, size: int, masked: bool = True) -> np.ndarray:
    """The masked frame, uint8 [size, size, 3]."""
    image = pose_videos.read_rgb(os.path.join(root, subject, "WithBackground", sequence, f"{frame}.jpg"))
    if masked:
        mask_path = os.path.join(root, subject, "BackgroudMask", sequence, f"{frame}.png")
        if not os.path.exists(mask_path):
            raise DataError(f"mask {mask_path} is missing; every frame of Simplified Human3.6M has one: re-extract "
                            "human_images.tar.gz")
        image = np.round(image * read_mask(mask_path)).astype(np.uint8)
    return pose_videos.resize(image, size)


def landmarks_path(root: str, subject: str, sequence: str, frame: int) -> str:
    path = os.path.join(root, subject, "Landmarks", sequence, f"{frame}.mat")
    if not os.path.exists(path):
        raise DataError(f"landmarks {path} are missing; every frame of Simplified Human3.6M has them: re-extract "
                        "human_images.tar.gz")
    return path


class SimpleHuman36m(tfds.core.GeneratorBasedBuilder):
    """Simplified Human3.6M videos with 32 joints, and its unpaired pose prior (see the module docstring)."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Initial release."}
    BUILDER_CONFIGS = pose_videos.make_configs("Simplified Human3.6M")
    DEFAULT_BUILDER_CONFIG_NAME = pose_videos.VIDEO_VARIANT
    MANUAL_DOWNLOAD_INSTRUCTIONS = (
        "Extract Zhang et al.'s Simplified Human3.6M (human_images.tar.gz, from the lmdis-rep release) into "
        "manual_dir, so that manual_dir/human_images/S1/WithBackground/... (or manual_dir/S1/...) exists.")

    def _info(self) -> tfds.core.DatasetInfo:
        features = pose_videos.features(self.builder_config, NUM_JOINTS, "activity", ACTIVITIES)
        return self.dataset_info_from_configs(description=__doc__, features=tfds.features.FeaturesDict(features),
                                              homepage="https://github.com/YutingZhang/lmdis-rep")

    def _split_generators(self, dl_manager):
        root = find_root(pose_videos.manual_root(dl_manager))
        pose_videos.require(root, [os.path.join(s, f) for s in TRAIN_SUBJECTS + TEST_SUBJECTS for f in FOLDERS],
                            "simple_human36m", _WHAT)
        train, test = list_sequences(root, TRAIN_SUBJECTS), list_sequences(root, TEST_SUBJECTS)
        if not train or not test:
            raise DataError(f"dataset 'simple_human36m' found no {'training' if not train else 'test'} sequences of "
                            f"the activities {', '.join(ACTIVITIES)} in {root}; {_WHAT}")
        first = [(s, q, a, pose_videos.halves(f)[0]) for s, q, a, f in train]
        second = [(s, q, a, pose_videos.halves(f)[1]) for s, q, a, f in train]
        if self.builder_config.prior:
            held_out = [(s, q, a, f[::PRIOR_VALIDATION_STRIDE]) for s, q, a, f in test]
            return {"train": self._generate_examples(root, second),
                    "validation": self._generate_examples(root, held_out)}
        return {"train": self._generate_examples(root, first), "test": self._generate_examples(root, test)}

    def _generate_examples(self, root: str, sequences):
        """sequences: [(subject, sequence, activity, frame numbers)] -> clips, or one pose per frame (prior)."""
        if self.builder_config.prior:
            yield from self._generate_poses(root, sequences)
        else:
            yield from self._generate_clips(root, sequences)

    def _generate_clips(self, root: str, sequences):
        config, index = self.builder_config, 0
        for subject, sequence, activity, frames in sequences:
            for j, positions in enumerate(pose_videos.interleaved_clips(len(frames), config.clip_length)):
                numbers = [frames[p] for p in positions]
                video = np.stack([read_frame(root, subject, sequence, f, config.image_size) for f in numbers])
                joints = np.stack([read_keypoints(landmarks_path(root, subject, sequence, f)) for f in numbers])
                yield f"{subject}/{sequence}/{j}", {
                    "video": video, "joints": (joints * config.image_size).astype(np.float32),
                    "visible": np.ones(joints.shape[:2], np.bool_), "activity": activity, "index": index}
                index += 1

    def _generate_poses(self, root: str, sequences):
        index = 0
        for subject, sequence, activity, frames in sequences:
            for frame in frames:
                joints = read_keypoints(landmarks_path(root, subject, sequence, frame))
                yield f"{subject}/{sequence}/{frame}", {
                    "joints": (joints * self.builder_config.image_size).astype(np.float32), "activity": activity,
                    "index": index}
                index += 1
