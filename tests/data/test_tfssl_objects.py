"""Tests of the `tfssl_objects` TFDS builder (small config prepared into a temporary data_dir)."""

import contextlib
import io

import numpy as np
import pytest
import tensorflow_datasets as tfds

import tfssl.data.builders  # noqa: F401  (registers the builders)
from tfssl.data import render as R
from tfssl.data.builders import tfssl_objects

SMALL = "tfssl_objects/tc0l_small"
SIZES = {"train": 512, "validation": 128, "test": 256}


def _read(builder, split):
    """All examples of a split, keyed by `index`."""
    return {int(ex["index"]): ex for ex in tfds.as_numpy(builder.as_dataset(split=split))}


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    builder = tfds.builder(SMALL, data_dir=str(tmp_path_factory.mktemp("tfds_a")))
    with contextlib.redirect_stdout(io.StringIO()) as said:
        builder.download_and_prepare()
    builder.said_while_preparing = said.getvalue()
    return builder


@pytest.fixture(scope="module")
def examples(prepared):
    return {split: _read(prepared, split) for split in SIZES}


def test_configs_are_registered_with_legal_names(tmp_path):
    names = [c.name for c in tfssl_objects.TfsslObjects.BUILDER_CONFIGS]
    assert len(names) == len(set(names)) == 48
    assert {"tc0l", "tcvl", "0000", "0000_small", "tcvl_large", "t00l_small"} <= set(names)
    for name in ("0000_small", "tcvl_large", "0c0l"):
        builder = tfds.builder(f"tfssl_objects/{name}", data_dir=str(tmp_path))  # TFDS validates the name
        assert builder.builder_config.factors == R.Factors.from_code(name.split("_")[0])
        assert builder.builder_config.factors.code in builder.builder_config.description
    default = tfds.builder("tfssl_objects", data_dir=str(tmp_path))
    assert default.builder_config.name == "tc0l"
    assert default.builder_config.split_sizes == {"train": 20000, "validation": 1000, "test": 2000}
    large = tfds.builder("tfssl_objects/tcvl_large", data_dir=str(tmp_path)).builder_config
    assert large.split_sizes == {"train": 100000, "validation": 5000, "test": 10000}


def test_small_config_prepares_with_sizes_features_and_dtypes(prepared, examples):
    info = prepared.info
    assert str(info.version) == "1.0.0"
    assert {s: info.splits[s].num_examples for s in SIZES} == SIZES
    assert info.supervised_keys == ("image", "label")
    assert info.features["label"].names == list(R.CLASS_NAMES)
    assert info.features["pose"].num_classes == 5
    ex = examples["train"][0]
    assert ex["image"].shape == (64, 64, 3) and ex["image"].dtype == np.uint8
    assert ex["mask"].shape == (64, 64, 1) and ex["mask"].dtype == np.uint8
    assert ex["label"].dtype == np.int64 and ex["pose"].dtype == np.int64 and ex["index"].dtype == np.int64
    image, label = next(iter(tfds.as_numpy(prepared.as_dataset(split="test", as_supervised=True, batch_size=8))))
    assert image.shape == (8, 64, 64, 3) and label.shape == (8,)


def test_preparing_says_what_is_rendered_instead_of_tfds_download_line(prepared):
    lines = prepared.said_while_preparing.splitlines()
    assert lines[0] == "tfssl: rendering tfssl_objects/tc0l_small (896 images, once; a few seconds)", lines
    assert lines[-1].startswith("tfssl: rendered tfssl_objects/tc0l_small in ") and str(prepared.data_dir) in lines[-1]
    assert "Downloading and preparing" not in prepared.said_while_preparing
    assert "downloaded and prepared" not in prepared.said_while_preparing


def test_indices_run_over_each_split_and_labels_are_valid(examples):
    for split, n in SIZES.items():
        exs = examples[split]
        assert sorted(exs) == list(range(n))
        labels = np.array([e["label"] for e in exs.values()])
        poses = np.array([e["pose"] for e in exs.values()])
        assert labels.min() >= 0 and labels.max() < 10 and len(np.unique(labels)) == 10
        assert poses.min() >= 0 and poses.max() < 5
        for e in exs.values():
            assert np.isin(e["mask"], (0, 1)).all() and e["mask"].sum() > 50
            assert abs(e["angle"]) <= 15.0  # tc0l: viewpoint off
            assert e["pose"] == R.pose_class(float(e["angle"]), viewpoint=False)


def test_splits_use_disjoint_shape_models(examples):
    used = {split: {int(e["model_id"]) for e in exs.values()} for split, exs in examples.items()}
    for split, ids in used.items():
        assert ids <= set(R.model_ids_for_split(split).tolist())
    assert not used["train"] & used["validation"] and not used["train"] & used["test"]
    assert not used["validation"] & used["test"]


def test_stored_examples_equal_the_renderer(examples):
    factors = R.Factors.from_code("tc0l")
    for split in SIZES:
        for index in (0, 1, 77):
            stored, fresh = examples[split][index], R.render_object_example(factors, split, index)
            np.testing.assert_array_equal(stored["image"], fresh["image"])  # PNG storage is lossless
            np.testing.assert_array_equal(stored["mask"], fresh["mask"])
            assert (stored["label"], stored["pose"], stored["model_id"]) == (
                fresh["label"], fresh["pose"], fresh["model_id"])


def test_two_prepares_give_byte_identical_examples(examples, tmp_path):
    other = tfds.builder(SMALL, data_dir=str(tmp_path))
    other.download_and_prepare()
    for split in ("train", "test"):
        second = [ex for ex in tfds.as_numpy(other.as_dataset(split=split, shuffle_files=False).take(16))]
        assert len(second) == 16
        for ex in second:
            first = examples[split][int(ex["index"])]
            for key in ("image", "mask", "label", "pose", "model_id", "angle"):
                assert np.asarray(first[key]).tobytes() == np.asarray(ex[key]).tobytes(), (split, key)
