"""The clip input pipeline: batch layout, labels, resumable order, frame selection, adapters and errors."""

import gin
import numpy as np
import pytest
import tensorflow as tf

from tfssl.core import distribute
from tfssl.data import pipelines
from tfssl.errors import DataError

SPRITES = "tfssl_sprites/small"
LABELS = ("action", "body", "top", "bottom", "hair")


def _take(ds, n):
    return [{k: v.numpy() for k, v in b.items()} for b in ds.take(n)]


def test_batches_have_the_clip_layout():
    (batch,) = _take(pipelines.clip_dataset(6, name=SPRITES), 1)
    assert set(batch) == {"video", "index", *LABELS}
    assert batch["video"].shape == (6, 8, 64, 64, 3) and batch["video"].dtype == np.float32
    assert 0.0 <= batch["video"].min() and batch["video"].max() <= 1.0
    for key in ("index", *LABELS):
        assert batch[key].dtype == np.int64 and batch[key].shape == (6,)
    assert batch["action"].max() < 9 and max(batch[k].max() for k in LABELS[1:]) < 6


def test_labels_belong_to_their_clips():
    clips = pipelines.load_clips(SPRITES, "validation")
    (batch,) = _take(pipelines.clip_dataset(72, name=SPRITES, split="validation", repeat=False), 1)
    by_index = {int(i): n for n, i in enumerate(batch["index"])}
    assert sorted(by_index) == sorted(clips["index"].tolist()) == list(range(72))
    for n in range(72):  # load_clips reads file order; the stream is shuffled: match them by index
        m = by_index[int(clips["index"][n])]
        np.testing.assert_array_equal(batch["video"][m], clips["video"][n])
        assert all(batch[k][m] == clips[k][n] for k in LABELS)


def test_an_epoch_visits_every_clip_once_and_resumes():
    whole = _take(pipelines.clip_dataset(48, name=SPRITES, cache=False), 14)  # 576 clips: crosses epoch 1 at 12
    np.testing.assert_array_equal(np.sort(np.concatenate([b["index"] for b in whole[:12]])), np.arange(576))
    resumed = _take(pipelines.clip_dataset(48, name=SPRITES, cache=False, skip_batches=11), 3)
    for a, b in zip(whole[11:], resumed):
        np.testing.assert_array_equal(a["index"], b["index"])
        np.testing.assert_array_equal(a["video"], b["video"])


def test_num_frames_keeps_the_first_frames():
    full = pipelines.load_clips(SPRITES, "test", max_examples=3)
    short = pipelines.load_clips(SPRITES, "test", max_examples=3, num_frames=5)
    assert short["video"].shape == (3, 5, 64, 64, 3)
    np.testing.assert_array_equal(short["video"], full["video"][:, :5])
    with pytest.raises(DataError, match="8 frames per clip.*num_frames=9"):
        pipelines.clip_dataset(2, name=SPRITES, num_frames=9)


def test_load_clips_uint8_and_float_agree():
    f = pipelines.load_clips(SPRITES, "test", max_examples=4)
    u = pipelines.load_clips(SPRITES, "test", max_examples=4, as_uint8=True)
    assert f["video"].dtype == np.float32 and u["video"].dtype == np.uint8
    np.testing.assert_allclose(f["video"], u["video"] / 255.0, atol=1e-7)
    np.testing.assert_array_equal(f["index"], np.arange(4))  # max_examples numbers the clips read


def test_smoke_size_resolves_size_named_configs():
    gin.parse_config(["tfssl.data.dataset_size.size = 'small'"])
    assert pipelines.resolve_name("tfssl_sprites") == "tfssl_sprites/small"
    assert pipelines.resolve_name("tfssl_sprites/default") == "tfssl_sprites/small"
    assert pipelines.resolve_name("tfssl_sprites/small") == "tfssl_sprites/small"
    assert pipelines.resolve_name("tfssl_objects") == "tfssl_objects"  # its default config is not a size
    assert pipelines.resolve_name("tfssl_objects/tc0l") == "tfssl_objects/tc0l_small"


def test_a_dataset_without_video_is_named():
    with pytest.raises(DataError, match="no 'video' feature"):
        pipelines.clip_dataset(2, name="tfssl_objects/tc0l_small")


def test_moving_mnist_adapter_on_an_in_memory_dataset():
    """TFDS moving_mnist stores image_sequence uint8 [20, 64, 64, 1] and nothing else."""
    sequences = np.random.default_rng(0).integers(0, 256, (3, 20, 64, 64, 1), dtype=np.uint8)
    ds = tf.data.Dataset.from_tensor_slices({"image_sequence": sequences}).enumerate()
    clips = [pipelines.standardize_clip(ex, (), adapter=pipelines.moving_mnist_clip, num_frames=15, index=i)
             for i, ex in ds]
    for i, clip in enumerate(clips):
        assert set(clip) == {"video", "index"} and int(clip["index"]) == i
        video = clip["video"].numpy()
        assert video.shape == (15, 64, 64, 3) and video.dtype == np.uint8
        for c in range(3):
            np.testing.assert_array_equal(video[..., c], sequences[i, :15, ..., 0])
    assert pipelines.CLIP_ADAPTERS["moving_mnist"] is pipelines.moving_mnist_clip


def test_a_two_replica_strategy_splits_the_global_batch():
    strategy = distribute.make_strategy("mirrored", devices=("/cpu:0", "/cpu:1"))
    batch = next(iter(strategy.experimental_distribute_dataset(pipelines.clip_dataset(8, name=SPRITES))))
    parts = strategy.experimental_local_results(batch)
    assert len(parts) == 2
    for part in parts:
        assert part["video"].shape == (4, 8, 64, 64, 3) and part["action"].shape == (4,)
    indices = np.concatenate([p["index"].numpy() for p in parts])
    assert len(set(indices.tolist())) == 8  # the replicas see different clips of one global batch


def test_tfds_own_dtype_deprecation_warning_is_dropped_and_nothing_else(caplog):
    from absl import logging as absl_logging

    import tfssl.data.builders  # noqa: F401  (installs the filter)

    with caplog.at_level("WARNING", logger="absl"):
        absl_logging.warning("`FeatureConnector.dtype` is deprecated. Please change your code ...")
        absl_logging.warning("a real warning")
    messages = [r.getMessage() for r in caplog.records]
    assert messages == ["a real warning"]
