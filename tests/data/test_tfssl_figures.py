"""Tests of `tfssl_figures`: joints are true to the pixels, held-out pools are disjoint, everything is deterministic,
and the pair / prior input functions keep their contracts."""

import numpy as np
import pytest
import tensorflow_datasets as tfds

import tfssl.data.builders  # noqa: F401  (registers the builders)
from tfssl.data import pipelines
from tfssl.data.builders import tfssl_figures
from tfssl.data.render import figures

VIDEO_SIZES = {"train": 32, "validation": 8, "test": 16}
PRIOR_SIZES = {"train": 512, "validation": 128}
VIDEOS, PRIOR = "tfssl_figures/base_small", "tfssl_figures/prior_small"


@pytest.fixture(scope="module")
def clips():
    builder = pipelines.load_builder(VIDEOS)
    return {split: sorted(tfds.as_numpy(builder.as_dataset(split=split)), key=lambda e: int(e["index"]))
            for split in VIDEO_SIZES}


@pytest.fixture(scope="module")
def poses():
    builder = pipelines.load_builder(PRIOR)
    return {split: sorted(tfds.as_numpy(builder.as_dataset(split=split)), key=lambda e: int(e["index"]))
            for split in PRIOR_SIZES}


def test_configs_sizes_and_features(clips, poses, tmp_path):
    names = {c.name for c in tfssl_figures.TfsslFigures.BUILDER_CONFIGS}
    assert names == {"base", "base_small", "base_large", "prior", "prior_small", "prior_large"}
    assert tfds.builder("tfssl_figures", data_dir=str(tmp_path)).builder_config.split_sizes == {
        "train": 1000, "validation": 50, "test": 200}
    assert {s: len(v) for s, v in clips.items()} == VIDEO_SIZES
    assert {s: len(v) for s, v in poses.items()} == PRIOR_SIZES
    ex = clips["train"][0]
    assert ex["video"].shape == (16, 64, 64, 3) and ex["video"].dtype == np.uint8
    assert ex["joints"].shape == (16, figures.NUM_JOINTS, 2) and ex["joints"].dtype == np.float32
    assert poses["train"][0]["joints"].shape == (figures.NUM_JOINTS, 2)
    assert 10 <= figures.NUM_JOINTS <= 16 and len(figures.LIMBS) == figures.NUM_JOINTS - 1


def test_stored_examples_are_the_renderer_output_and_deterministic(clips, poses):
    for split in ("train", "test"):
        for ex in clips[split][:3]:
            again = figures.render_clip_example(split, int(ex["index"]), 16, 64)
            np.testing.assert_array_equal(ex["video"], again["video"])
            np.testing.assert_array_equal(ex["joints"], again["joints"])
            assert int(ex["figure_id"]) == again["figure_id"] and int(ex["motion_id"]) == again["motion_id"]
    for ex in poses["validation"][:5]:
        np.testing.assert_array_equal(ex["joints"], figures.prior_pose_example("validation", int(ex["index"]))["joints"])
    # Different indices are different clips.
    assert not np.array_equal(clips["train"][0]["video"], clips["train"][1]["video"])


def test_skeleton_tables_are_consistent():
    assert all(0 <= a < figures.NUM_JOINTS and 0 <= b < figures.NUM_JOINTS and a != b for a, b in figures.LIMBS)
    assert len(set(map(frozenset, figures.LIMBS))) == len(figures.LIMBS)
    reached = {0}  # the limbs connect every joint (a tree)
    for _ in figures.LIMBS:
        reached |= {b for a, b in figures.LIMBS if a in reached} | {a for a, b in figures.LIMBS if b in reached}
    assert reached == set(range(figures.NUM_JOINTS))
    flip = np.array(figures.FLIP)
    np.testing.assert_array_equal(flip[flip], np.arange(figures.NUM_JOINTS))
    assert figures.JOINT_NAMES[flip[figures.JOINT_NAMES.index("left_wrist")]] == "right_wrist"
    assert flip[0] == 0 and flip[2] == 2


def test_pools_are_disjoint_and_held_out_in_the_data(clips, poses):
    pools = {s: set(figures.figure_ids_for_split(s).tolist()) for s in figures.SPLITS}
    for a in figures.SPLITS:
        for b in figures.SPLITS:
            if a < b:
                assert not pools[a] & pools[b], (a, b)
        assert set(figures.motion_ids_for_split(a).tolist()) == pools[a]
    seen = {split: {(int(e["figure_id"]), int(e["motion_id"])) for e in clips[split]} for split in VIDEO_SIZES}
    for split, pairs in seen.items():
        assert all(f in pools[split] and m in pools[split] for f, m in pairs)
    prior = [(int(e["figure_id"]), int(e["motion_id"])) for s in PRIOR_SIZES for e in poses[s]]
    assert all(f in pools["prior"] and m in pools["prior"] for f, m in prior)
    # No prior pose equals any training frame's pose.
    train = np.concatenate([e["joints"] for e in clips["train"]]).reshape(-1, figures.NUM_JOINTS * 2)
    prior_joints = np.stack([e["joints"] for e in poses["train"]]).reshape(-1, figures.NUM_JOINTS * 2)
    nearest = np.min(np.abs(prior_joints[:, None] - train[None]).max(axis=-1), axis=1)
    assert nearest.min() > 0.1


def test_joints_lie_on_the_figure_inside_the_frame():
    for index in range(6):
        clip = figures.sample_clip("train", index, 16, 64)
        assert (clip.joints > 0).all() and (clip.joints < 64).all()
        for t in (0, 7, 15):
            _, mask = figures.render_frame(clip, t, 64)
            cols, rows = np.floor(clip.joints[t]).astype(int).T
            assert (mask[rows, cols] > 0.5).all(), (index, t)
            assert 0.04 < mask.mean() < 0.5  # a figure, not a speck or the whole frame


def test_motions_are_smooth_varied_and_all_present(clips, poses):
    joints = np.stack([e["joints"] for e in clips["train"]])  # [N, T, K, 2]
    step = np.abs(np.diff(joints, axis=1)).max(axis=(2, 3))
    assert step.max() < 12.0  # pixels per frame at 64 px: smooth (median ~4)
    assert (np.ptp(joints, axis=1).max(axis=(1, 2)) > 2.0).all()  # every clip moves
    kinds = {int(e["motion"]) for e in clips["train"]} | {int(e["motion"]) for e in poses["train"]}
    assert kinds == set(range(len(figures.MOTIONS)))


def _take(ds, n):
    return [{k: v.numpy() for k, v in b.items()} for b in ds.take(n)]


def test_frame_pairs_come_from_one_clip_and_resume(clips):
    batches = _take(pipelines.frame_pair_dataset(8, name=VIDEOS), 6)
    b = batches[0]
    assert b["image"].shape == b["appearance"].shape == (8, 64, 64, 3) and b["image"].dtype == np.float32
    assert b["points"].shape == (8, figures.NUM_JOINTS, 2) and b["index"].dtype == np.int64
    for batch in batches:
        for i, (t, t_other) in enumerate(batch["frames"]):
            assert t != t_other
            clip = clips["train"][int(batch["index"][i])]
            np.testing.assert_allclose(batch["image"][i], clip["video"][t] / 255.0, atol=1e-6)
            np.testing.assert_allclose(batch["appearance"][i], clip["video"][t_other] / 255.0, atol=1e-6)
            np.testing.assert_allclose(batch["points"][i], (clip["joints"][t] - 0.5) * 2 / 63 - 1, atol=1e-5)
    indices = np.concatenate([b["index"] for b in batches[:4]])  # 32 clips: the first epoch visits each once
    np.testing.assert_array_equal(np.sort(indices), np.arange(32))
    resumed = _take(pipelines.frame_pair_dataset(8, name=VIDEOS, skip_batches=3), 3)
    for a, r in zip(batches[3:], resumed):
        np.testing.assert_array_equal(a["frames"], r["frames"])
        np.testing.assert_array_equal(a["image"], r["image"])


def test_pairs_with_the_prior_beside_them():
    (batch,) = _take(pipelines.frame_pair_dataset(8, name=VIDEOS, prior=PRIOR), 1)
    (poses,) = _take(pipelines.pose_prior_dataset(8, name=PRIOR), 1)
    np.testing.assert_array_equal(batch["prior_points"], poses["points"])
    assert batch["image"].shape == (8, 64, 64, 3)


def test_frame_dataset_visits_every_test_frame():
    batches = _take(pipelines.frame_dataset(64, name=VIDEOS, split="test"), 100)
    assert sum(len(b["index"]) for b in batches) == 16 * 16
    assert np.abs(np.concatenate([b["points"] for b in batches])).max() <= 1.0


def test_pose_prior_batches(poses):
    batches = _take(pipelines.pose_prior_dataset(128, name=PRIOR), 5)
    assert batches[0]["points"].shape == (128, figures.NUM_JOINTS, 2)
    indices = np.concatenate([b["index"] for b in batches[:4]])
    np.testing.assert_array_equal(np.sort(indices), np.arange(512))
    stored = np.stack([e["joints"] for e in poses["train"]])
    np.testing.assert_allclose(batches[0]["points"], (stored[batches[0]["index"]] - 0.5) * 2 / 63 - 1, atol=1e-5)
    assert np.abs(batches[0]["points"]).max() <= 1.0
    assert pipelines.skeleton_limbs() == figures.LIMBS


def test_wrong_config_kind_is_one_clear_error():
    with pytest.raises(pipelines.DataError, match="poses only"):
        pipelines.frame_pair_dataset(8, name=PRIOR)
    with pytest.raises(pipelines.DataError, match="not a pose prior"):
        pipelines.pose_prior_dataset(8, name=VIDEOS)
