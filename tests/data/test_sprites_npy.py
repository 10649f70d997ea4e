"""Li & Mandt's Sprites npy files: parsing, labels and errors.

The fixtures are written by the test in the real format (np.save of the generator's arrays and file names): one
64x64x8 float32 clip is 393 KB, too large to commit 11 of them, so they are made in a temporary folder.
"""

import numpy as np
import pytest
import tensorflow_datasets as tfds

from tfssl.data import pipelines
from tfssl.data.builders import sprites_npy as N
from tfssl.errors import DataError


def _write_fixtures(folder, rng):
    """Train: one clip per (action, direction) file; test: one clip in the first two files, none in the others.
    Returns {split: [(action, frames float32 [8, 64, 64, 3], {body, bottom, top, hair})]} in file order."""
    folder.mkdir(parents=True)
    written = {}
    for split in N.SPLITS:
        written[split] = []
        for k, (action, frames_file, attributes_file) in enumerate(N.file_names(split)):
            n = 1 if split == "train" or k < 2 else 0
            frames = (rng.integers(0, 256, (n, 8, 64, 64, 3)) / 256.0).astype(np.float32)  # the generator's /256
            values = rng.integers(0, 6, (n, 4))
            attributes = np.zeros((n, 8, 4, 6), np.float32)
            for i in range(n):
                attributes[i, :, np.arange(4), values[i]] = 1.0
            np.save(folder / frames_file, frames)
            np.save(folder / attributes_file, attributes)
            for i in range(n):
                written[split].append((action, frames[i], dict(zip(N.FILE_ATTRIBUTES, values[i].tolist()))))
    return written


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    root = tmp_path_factory.mktemp("sprites_manual")
    written = _write_fixtures(root / "npy", np.random.default_rng(0))
    builder = tfds.builder("sprites_npy", data_dir=str(tmp_path_factory.mktemp("tfds_sprites_npy")))
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=str(root)))
    return builder, written


def test_clips_labels_and_pixels_are_read_exactly(prepared):
    builder, written = prepared
    assert {s: builder.info.splits[s].num_examples for s in N.SPLITS} == {"train": 9, "test": 2}
    assert pipelines.clip_label_keys(builder) == ("action", "body", "top", "bottom", "hair")
    for split in N.SPLITS:
        stored = sorted(tfds.as_numpy(builder.as_dataset(split=split)), key=lambda ex: ex["index"])
        assert [int(ex["action"]) for ex in stored] == [a for a, _, _ in written[split]]
        for ex, (_, frames, attrs) in zip(stored, written[split]):
            assert ex["video"].dtype == np.uint8 and ex["video"].shape == (8, 64, 64, 3)
            np.testing.assert_array_equal(ex["video"], np.round(frames * 256).astype(np.uint8))
            assert {k: int(ex[k]) for k in N.FILE_ATTRIBUTES} == attrs
    # label numbering: 3 * action + direction over walk/spellcard/slash x front/left/right
    assert [a for a, _, _ in written["train"]] == list(range(9))


def test_frame_scaling():
    np.testing.assert_array_equal(N.to_uint8(np.array([0.0, 128 / 256, 255 / 256])), [0, 128, 255])
    np.testing.assert_array_equal(N.to_uint8(np.array([0.0, 0.3, 1.0])), [0, 76, 255])  # x * 255 otherwise
    u = np.array([1, 2], np.uint8)
    assert N.to_uint8(u) is u


def test_attribute_shapes_are_checked():
    with pytest.raises(ValueError, match=r"one-hot \[N, T, 4, 6\]"):
        N.attribute_labels(np.zeros((2, 8, 4)))


def test_missing_files_are_named(tmp_path):
    (tmp_path / "walk_front_frames_train.npy").write_bytes(b"")
    with pytest.raises(DataError, match="35 Sprites files missing.*walk_front_attributes_train.npy"):
        pipelines.load_builder("sprites_npy", manual_dir=str(tmp_path))
