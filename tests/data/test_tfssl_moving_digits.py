"""Tests of the moving-digits renderer and the `tfssl_moving_digits` TFDS builder (small config)."""

import gin
import numpy as np
import pytest
import tensorflow_datasets as tfds

from tfssl.data import pipelines
from tfssl.data.builders import tfssl_moving_digits
from tfssl.data.render import moving_digits as M

SMALL = "tfssl_moving_digits/small"
SIZES = {"train": 512, "validation": 128, "test": 256}


@pytest.fixture(scope="module")
def examples():
    builder = pipelines.load_builder(SMALL)
    return builder, {split: {int(ex["index"]): ex for ex in tfds.as_numpy(builder.as_dataset(split=split))}
                     for split in SIZES}


def _centroid(frame):
    ys, xs = np.nonzero(frame[..., 0] > 0)
    weights = frame[ys, xs, 0].astype(np.float64)
    return np.array([np.average(xs, weights=weights), np.average(ys, weights=weights)])


def test_configs(tmp_path):
    configs = {c.name: c for c in tfssl_moving_digits.TfsslMovingDigits.BUILDER_CONFIGS}
    assert {n: c.num_frames for n, c in configs.items()} == {"default": 8, "small": 8, "t15": 15, "t15_small": 15}
    assert configs["small"].split_sizes == SIZES
    assert tfds.builder("tfssl_moving_digits", data_dir=str(tmp_path)).builder_config.name == "default"
    gin.parse_config(["tfssl.data.dataset_size.size = 'small'"])
    assert pipelines.resolve_name("tfssl_moving_digits/t15") == "tfssl_moving_digits/t15_small"
    assert pipelines.resolve_name("tfssl_moving_digits") == "tfssl_moving_digits/small"


def test_small_config_labels_are_balanced_and_true(examples):
    builder, exs = examples
    assert {s: builder.info.splits[s].num_examples for s in SIZES} == SIZES
    assert pipelines.clip_label_keys(builder) == ("digit", "direction")
    _, sklearn_labels = M.digit_images()
    for split, n in SIZES.items():
        assert sorted(exs[split]) == list(range(n))
        digits = np.array([e["digit"] for e in exs[split].values()])
        directions = np.array([e["direction"] for e in exs[split].values()])
        assert np.bincount(digits, minlength=10).min() >= n // 10
        assert np.bincount(directions, minlength=8).min() >= n // 8 - 10
        for e in exs[split].values():
            assert e["video"].shape == (8, 64, 64, 1) and e["video"].dtype == np.uint8
            assert sklearn_labels[e["image_id"]] == e["digit"]  # the label is scikit-learn's


def test_handwriting_is_disjoint_across_splits(examples):
    _, exs = examples
    used = {split: {int(e["image_id"]) for e in exs[split].values()} for split in SIZES}
    assert not used["train"] & used["test"] and not used["train"] & used["validation"]
    assert not used["validation"] & used["test"]


def test_the_digit_moves_straight_in_its_direction_and_stays_inside(examples):
    _, exs = examples
    for e in list(exs["train"].values())[:80]:
        step = np.array(M._STEPS[e["direction"]]) * e["speed"]
        mass = e["video"].reshape(8, -1).astype(np.int64).sum(1)
        assert (mass == mass[0]).all() and mass[0] > 0  # never clipped by the border
        centroids = np.array([_centroid(f) for f in e["video"]])
        np.testing.assert_allclose(np.diff(centroids, axis=0), np.broadcast_to(step, (7, 2)), atol=1e-6)


def test_stored_clips_equal_the_renderer_and_rerender_identically(examples):
    _, exs = examples
    for split in SIZES:
        for index in (0, 9, 101):
            fresh = M.render_moving_digit_example(split, index)
            np.testing.assert_array_equal(exs[split][index]["video"], fresh["video"])
            assert (exs[split][index]["digit"], exs[split][index]["direction"]) == (fresh["digit"], fresh["direction"])


def test_fifteen_frames_stay_inside():
    assert M.max_speed(15) == 2 and M.max_speed(8) == 4
    for index in range(0, 400, 7):
        video = M.render_moving_digit_example("test", index, num_frames=15)["video"]
        mass = video.reshape(15, -1).astype(np.int64).sum(1)
        assert video.shape == (15, 64, 64, 1) and (mass == mass[0]).all()
    with pytest.raises(ValueError, match="too long"):
        M.max_speed(60)


def test_upscale_keeps_constants_and_range():
    np.testing.assert_allclose(M.upscale(np.full((8, 8), 0.25)), 0.25)
    big = M.upscale(M.digit_images()[0][5])
    assert big.shape == (24, 24) and 0.0 <= big.min() and big.max() <= 1.0


def test_clip_dataset_reads_moving_digits_as_rgb():
    (batch,) = [{k: v.numpy() for k, v in b.items()}
                for b in pipelines.clip_dataset(4, name=SMALL, split="test").take(1)]
    assert set(batch) == {"video", "index", "digit", "direction"}
    assert batch["video"].shape == (4, 8, 64, 64, 3) and batch["video"].dtype == np.float32
    np.testing.assert_array_equal(batch["video"][..., 0], batch["video"][..., 2])
    assert batch["digit"].dtype == np.int64 and batch["direction"].max() < 8
