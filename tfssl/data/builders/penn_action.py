"""`penn_action`: Penn Action (Zhang, Zhu, Derpanis, "From Actemes to Action", ICCV 2013), one of KeypointGAN's
human datasets (Jakab et al., CVPR 2020), read from manual_dir. Nothing is downloaded.

Put in manual_dir the `Penn_Action/` folder of the release (Penn_Action.tar.gz, extracted), or its contents:
  frames/NNNN/000001.jpg ...   the RGB frames of sequence NNNN (0001..2326), numbered from 1, at most 640x480
  labels/NNNN.mat              one MATLAB struct per sequence: action (e.g. 'tennis_serve'), pose (coarse view),
                               x, y [nframes, 13] joint pixels, visibility [nframes, 13], bbox [nframes, 4] person
                               boxes (x0, y0, x1, y1) in pixels (some sequences have one row fewer: the last row is
                               repeated), dimensions [H, W, nframes], nframes, train (1: training, else test)
The 13 joints: head, then left/right shoulder, elbow, wrist, hip, knee, ankle (`JOINT_NAMES`).

The crop: per sequence, the union of its person boxes, made square around its centre (black where the square leaves
the frame), resized to the config's size; one box per sequence keeps the camera still within the sequence, as the
video pairs assume. Joints follow the crop ((x, y) pixels, pixel c centred at c + 0.5; the release's coordinates
are used as continuous pixel positions, its convention being undocumented: at most half a source pixel, under
a fifth of a pixel after the crop is shrunk to 128).

What the configs hold (`pose_videos` for the clip layout; the same protocol as `simple_human36m`, the reference code
for Penn Action never having been released):
  - `base` videos: train = the FIRST half of the frames of every training sequence, test = every frame of the test
    sequences. `visible` keeps the release's visibility flags.
  - `prior` poses: train = the frames of the SECOND half of every training sequence whose 13 joints are all visible
    (a prior pose must be complete), disjoint from `base`/train and never paired with it; validation = every 10th
    fully visible frame of the test sequences (held-out poses for eta's round trip; nothing trains on them).
Labels: `action` (ClassLabel of the 15 actions as the labels name them). The action subset and crop margins of the
paper's Penn Action experiment are not public and not reproduced: all 15 actions are used, with no margin.
"""

from __future__ import annotations

import os

import numpy as np
import tensorflow_datasets as tfds
from scipy import io as scipy_io

from tfssl.data.builders import pose_videos
from tfssl.errors import DataError

# The actions as the label files spell them.
ACTIONS = ("baseball_pitch", "baseball_swing", "bench_press", "bowl", "clean_and_jerk", "golf_swing", "jump_rope",
           "jumping_jacks", "pullup", "pushup", "situp", "squat", "strum_guitar", "tennis_forehand", "tennis_serve")
JOINT_NAMES = ("head", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
               "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle")
NUM_JOINTS = len(JOINT_NAMES)
_J = {name: i for i, name in enumerate(JOINT_NAMES)}
# No neck is annotated: the head hangs from both shoulders; the torso is the shoulder-hip quadrilateral.
LIMBS = tuple((_J[a], _J[b]) for a, b in (
    ("head", "left_shoulder"), ("head", "right_shoulder"), ("left_shoulder", "right_shoulder"),
    ("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist"),
    ("right_shoulder", "right_elbow"), ("right_elbow", "right_wrist"),
    ("left_shoulder", "left_hip"), ("right_shoulder", "right_hip"), ("left_hip", "right_hip"),
    ("left_hip", "left_knee"), ("left_knee", "left_ankle"), ("right_hip", "right_knee"), ("right_knee", "right_ankle"),
))
FLIP = tuple(_J[n.replace("right_", "@").replace("left_", "right_").replace("@", "left_")] for n in JOINT_NAMES)
PRIOR_VALIDATION_STRIDE = 10

_WHAT = ("extract Penn Action (Penn_Action.tar.gz) there, so that it holds frames/0001/000001.jpg ... and "
         "labels/0001.mat ...")


def find_root(manual_dir: str) -> str:
    """manual_dir/Penn_Action if it exists, else manual_dir."""
    nested = os.path.join(manual_dir, "Penn_Action")
    return nested if os.path.isdir(nested) else manual_dir


def _scalar(value) -> float:
    return float(np.asarray(value).ravel()[0])


def _text(value) -> str:
    return str(np.asarray(value).ravel()[0])


def read_label(path: str) -> dict:
    """A labels/NNNN.mat -> {action: int, train: bool, nframes: int, joints: float32 [T, 13, 2] (x, y) pixels,
    visible: bool [T, 13], bbox: float32 [T, 4] (x0, y0, x1, y1)}. Raises DataError on a bad file."""
    try:
        mat = scipy_io.loadmat(path)
        action, nframes = _text(mat["action"]), int(_scalar(mat["nframes"]))
        x, y = np.asarray(mat["x"], np.float32), np.asarray(mat["y"], np.float32)
        visible = np.asarray(mat["visibility"]).astype(bool)
        bbox = np.asarray(mat["bbox"], np.float32).reshape(-1, 4)
        train = _scalar(mat["train"]) == 1
    except (OSError, ValueError, KeyError, IndexError) as error:
        raise DataError(f"cannot read Penn Action label {path} ({error!r}); replace it with the release's file "
                        "(fields action, x, y, visibility, bbox, nframes, train)") from error
    if action not in ACTIONS:
        raise DataError(f"{path}: unknown action '{action}'; Penn Action's are {', '.join(ACTIONS)}")
    if x.shape != (nframes, NUM_JOINTS) or y.shape != x.shape or visible.shape != x.shape:
        raise DataError(f"{path}: x, y and visibility must be [nframes={nframes}, {NUM_JOINTS}], got {x.shape}, "
                        f"{y.shape}, {visible.shape}")
    if len(bbox) and len(bbox) < nframes:  # some label files have one box fewer than frames
        bbox = np.concatenate([bbox, np.repeat(bbox[-1:], nframes - len(bbox), axis=0)])
    return {"action": ACTIONS.index(action), "train": train, "nframes": nframes,
            "joints": np.stack([x, y], axis=-1), "visible": visible, "bbox": bbox[:nframes]}


def sequence_box(label: dict) -> np.ndarray:
    """The square crop of a sequence: int64 (x0, y0, x1, y1) around the union of its valid person boxes (the visible
    joints' extent if it has none)."""
    boxes = label["bbox"]
    valid = boxes[np.all(np.isfinite(boxes), axis=1) & (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])] \
        if len(boxes) else boxes
    if len(valid):
        union = (valid[:, 0].min(), valid[:, 1].min(), valid[:, 2].max(), valid[:, 3].max())
    else:
        points = label["joints"][label["visible"]]
        if not len(points):
            points = label["joints"].reshape(-1, 2)
        union = (*points.min(axis=0), *points.max(axis=0))
    return pose_videos.square_box(union)


def list_labels(root: str) -> list[str]:
    folder = os.path.join(root, "labels")
    return sorted(f[:-4] for f in os.listdir(folder) if f.endswith(".mat") and f[:-4].isdigit())


def frame_path(root: str, sequence: str, t: int) -> str:
    """The file of frame t (0-based) of a sequence; DataError if it is missing."""
    path = os.path.join(root, "frames", sequence, f"{t + 1:06d}.jpg")
    if not os.path.exists(path):
        raise DataError(f"Penn Action frame {path} is missing (labels/{sequence}.mat names that frame); "
                        "re-extract Penn_Action.tar.gz")
    return path


class PennAction(tfds.core.GeneratorBasedBuilder):
    """Penn Action videos cropped around the person with 13 joints, and its unpaired pose prior (module docstring)."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Initial release."}
    BUILDER_CONFIGS = pose_videos.make_configs("Penn Action")
    DEFAULT_BUILDER_CONFIG_NAME = pose_videos.VIDEO_VARIANT
    MANUAL_DOWNLOAD_INSTRUCTIONS = (
        "Extract Penn Action (Penn_Action.tar.gz) into manual_dir, so that manual_dir/Penn_Action/frames/ and "
        "manual_dir/Penn_Action/labels/ (or manual_dir/frames/ and manual_dir/labels/) exist.")

    def _info(self) -> tfds.core.DatasetInfo:
        features = pose_videos.features(self.builder_config, NUM_JOINTS, "action", ACTIONS)
        return self.dataset_info_from_configs(description=__doc__, features=tfds.features.FeaturesDict(features),
                                              homepage="https://dreamdragon.github.io/PennAction/")

    def _split_generators(self, dl_manager):
        root = find_root(pose_videos.manual_root(dl_manager))
        pose_videos.require(root, ["frames", "labels"], "penn_action", _WHAT)
        sequences = list_labels(root)
        if not sequences:
            raise DataError(f"dataset 'penn_action' found no labels/NNNN.mat in {root}; {_WHAT}")
        labels = {s: read_label(os.path.join(root, "labels", s + ".mat")) for s in sequences}
        train = [s for s in sequences if labels[s]["train"]]
        test = [s for s in sequences if not labels[s]["train"]]
        if not train or not test:
            raise DataError(f"dataset 'penn_action' has no {'training' if not train else 'test'} sequences in "
                            f"{root}/labels (the 'train' field); {_WHAT}")
        first, second = (lambda n: pose_videos.halves(range(n))[0]), (lambda n: pose_videos.halves(range(n))[1])
        if self.builder_config.prior:
            return {"train": self._generate_examples(root, labels, train, second),
                    "validation": self._generate_examples(root, labels, test, range, PRIOR_VALIDATION_STRIDE)}
        return {"train": self._generate_examples(root, labels, train, first),
                "test": self._generate_examples(root, labels, test, range)}

    def _generate_examples(self, root: str, labels: dict, sequences, frames_of, stride: int = 1):
        """Clips of the frames `frames_of(nframes)` of each sequence, or their complete poses, every `stride`-th
        (prior)."""
        if self.builder_config.prior:
            yield from self._generate_poses(labels, sequences, frames_of, stride)
        else:
            yield from self._generate_clips(root, labels, sequences, frames_of)

    def _generate_clips(self, root: str, labels: dict, sequences, frames_of):
        config, index = self.builder_config, 0
        for sequence in sequences:
            label = labels[sequence]
            box = sequence_box(label)
            frames = list(frames_of(label["nframes"]))
            for j, positions in enumerate(pose_videos.interleaved_clips(len(frames), config.clip_length)):
                ts = [frames[p] for p in positions]
                video = np.stack([pose_videos.crop_square(pose_videos.read_rgb(frame_path(root, sequence, t)), box,
                                                          config.image_size) for t in ts])
                yield f"{sequence}/{j}", {
                    "video": video, "joints": pose_videos.joints_in_crop(label["joints"][ts], box, config.image_size),
                    "visible": label["visible"][ts], "action": label["action"], "index": index}
                index += 1

    def _generate_poses(self, labels: dict, sequences, frames_of, stride: int = 1):
        index = 0
        for sequence in sequences:
            label = labels[sequence]
            box = sequence_box(label)
            complete = [t for t in frames_of(label["nframes"]) if label["visible"][t].all()][::stride]
            for t in complete:
                yield f"{sequence}/{t}", {
                    "joints": pose_videos.joints_in_crop(label["joints"][t], box, self.builder_config.image_size),
                    "action": label["action"], "index": index}
                index += 1
