"""Tests of the `tfssl_scenes` builder: layering ground truth is self-consistent, held out and deterministic."""

import numpy as np
import pytest
import tensorflow_datasets as tfds

import tfssl.data.builders  # noqa: F401  (registers the builders)
from tfssl.data.builders import tfssl_scenes
from tfssl.data.render import scenes, shapes

SIZES = {"train": 256, "validation": 64, "test": 128}


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    builder = tfds.builder("tfssl_scenes/base_small", data_dir=str(tmp_path_factory.mktemp("tfds_scenes")))
    builder.download_and_prepare()
    return builder


@pytest.fixture(scope="module")
def examples(prepared):
    return {split: sorted(tfds.as_numpy(prepared.as_dataset(split=split)), key=lambda e: int(e["index"]))
            for split in SIZES}


def test_configs_and_features(prepared, examples, tmp_path):
    assert {c.name for c in tfssl_scenes.TfsslScenes.BUILDER_CONFIGS} == {"base", "base_small", "base_large"}
    assert tfds.builder("tfssl_scenes", data_dir=str(tmp_path)).builder_config.split_sizes == {
        "train": 8000, "validation": 500, "test": 1000}
    assert {s: prepared.info.splits[s].num_examples for s in SIZES} == SIZES
    ex = examples["train"][0]
    k = tfssl_scenes.MAX_OBJECTS
    assert ex["image"].shape == ex["background"].shape == (64, 64, 3) and ex["image"].dtype == np.uint8
    assert ex["modal"].shape == ex["amodal"].shape == (k, 64, 64) and ex["modal"].dtype == np.uint8
    assert ex["layers"].shape == (k, 64, 64, 3) and ex["order"].shape == (k, k)
    assert [int(e["index"]) for e in examples["test"]] == list(range(SIZES["test"]))


def test_object_counts_and_padding(examples):
    counts = np.array([int(e["num_objects"]) for e in examples["train"]])
    assert counts.min() == 2 and counts.max() == 4 and len(np.unique(counts)) == 3
    for ex in examples["train"][:64]:
        n = int(ex["num_objects"])
        assert (ex["category"][:n] >= 1).all() and (ex["category"][:n] <= 10).all()
        assert sorted(ex["depth"][:n]) == list(range(n))
        assert not ex["modal"][n:].any() and not ex["amodal"][n:].any() and not ex["layers"][n:].any()
        assert (ex["category"][n:] == 0).all() and (ex["depth"][n:] == -1).all() and not ex["order"][n:].any()


def test_masks_image_and_layers_are_consistent(examples):
    for ex in examples["train"][:100]:
        n = int(ex["num_objects"])
        modal, amodal = ex["modal"][:n].astype(bool), ex["amodal"][:n].astype(bool)
        assert np.isin(ex["modal"], (0, 1)).all() and np.isin(ex["amodal"], (0, 1)).all()
        assert not (modal & ~amodal).any(), "modal must lie inside amodal"
        assert modal.sum(axis=0).max() <= 1, "modal masks must be disjoint"
        covered = amodal.any(axis=0)
        np.testing.assert_array_equal(modal.any(axis=0), covered)
        np.testing.assert_array_equal(ex["image"][~covered], ex["background"][~covered])
        front = np.argmin(np.where(amodal, ex["depth"][:n, None, None], 99), axis=0)
        for i in range(n):
            np.testing.assert_array_equal(modal[i], amodal[i] & (front == i))
            np.testing.assert_array_equal(ex["image"][modal[i]], ex["layers"][i][modal[i]])
            assert not ex["layers"][i][~amodal[i]].any()
            assert modal[i].sum() >= scenes.MIN_VISIBLE_PIXELS


def test_order_matrix_is_antisymmetric_and_follows_depth(examples):
    involved = total = 0
    for ex in examples["train"]:
        n = int(ex["num_objects"])
        order, depth = ex["order"][:n, :n].astype(int), ex["depth"][:n]
        modal, amodal = ex["modal"][:n].astype(int), ex["amodal"][:n].astype(int)
        np.testing.assert_array_equal(order, -order.T)
        assert np.isin(order, (-1, 0, 1)).all() and not np.diag(order).any()
        hides = np.einsum("ihw,jhw->ij", modal, amodal) > 0
        expected = hides & (depth[:, None] < depth[None, :])
        np.testing.assert_array_equal(order == 1, expected)
        involved += int((np.abs(order).sum(axis=1) > 0).sum())
        total += n
    assert involved / total > 0.85, "most objects should border (and occlude or be occluded by) another"


def test_splits_use_disjoint_shape_models(examples):
    for split, exs in examples.items():
        used = {int(m) for e in exs for m in e["model_id"][:int(e["num_objects"])]}
        assert used <= set(shapes.model_ids_for_split(split).tolist())


def test_examples_are_deterministic_and_match_the_prepared_data(examples):
    config = tfssl_scenes.TfsslScenes.BUILDER_CONFIGS[0]
    for index in (0, 17):
        a = tfssl_scenes.scene_example("test", index, config)
        b = tfssl_scenes.scene_example("test", index, config)
        stored = examples["test"][index]
        for key in ("image", "background", "modal", "amodal", "layers", "order", "category", "depth"):
            assert a[key].tobytes() == b[key].tobytes()
            np.testing.assert_array_equal(a[key], stored[key])
    assert not np.array_equal(examples["test"][0]["image"], examples["test"][1]["image"])
