"""Tests of the `tfssl_objects` TFDS builder (small config prepared into a temporary data_dir)."""

import contextlib
import hashlib
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
    assert len(names) == len(set(names)) == 48 + 24  # 16 codes x 3 sizes, and the 8 Colour-on codes' pools
    assert {"tc0l", "tcvl", "0000", "0000_small", "tcvl_large", "t00l_small"} <= set(names)
    for name in ("0000_small", "tcvl_large", "0c0l", "tc00_pool_small"):
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


# ---- the appearance pool (issue #21) ---------------------------------------------------------------------------------
POOL = R.APPEARANCE_POOL


def _digest(ex: dict) -> str:
    h = hashlib.sha256()
    for key in ("image", "mask"):
        h.update(ex[key].tobytes())
    h.update(repr((ex["label"], ex["pose"], ex["angle"], ex["model_id"], ex["index"])).encode())
    return h.hexdigest()[:16]


# Computed before the appearance pool was added: the existing configs' examples must not change with it.
_BEFORE_POOL = {
    ("tc00", "train", 0): "dfcdf1778cd00d4d",
    ("tc00", "test", 7): "1b6e8b52a8ccf2d5",
    ("tc0l", "validation", 1): "d7d9778f9fcee602",
    ("0c00", "train", 123): "47bf247e77e8cc0e",
}
# Pool examples, pinned so that they are the same on every machine.
_POOL_GOLDEN = {("tc00", "train", 0): "775af979ab239f59", ("tc0l", "test", 5): "a5665636db9b8870"}


def _fill_key(fill) -> tuple:
    """What a fill looks like (its colours and pattern), independent of any id."""
    p = fill.pattern
    pattern = None if p is None else (p.kind, p.period, p.angle, p.phase_x, p.phase_y, p.duty, p.lattice.tobytes())
    return fill.colour_a.tobytes(), fill.colour_b.tobytes(), pattern


def _background_key(bg) -> tuple:
    return _fill_key(bg) + (bg.gradient_angle, bg.gradient_strength)


def test_existing_configs_examples_are_unchanged_by_the_pool():
    for (code, split, index), digest in _BEFORE_POOL.items():
        assert _digest(R.render_object_example(R.Factors.from_code(code), split, index)) == digest, (code, split)


def test_pool_configs_are_declared_for_the_colour_on_codes_with_every_size(tmp_path):
    pools = {c.name: c for c in tfssl_objects.TfsslObjects.BUILDER_CONFIGS if c.appearance_pool}
    codes = [f.code for f in R.ALL_FACTORS if f.colour]
    assert set(pools) == {code + "_pool" + suffix for code in codes for suffix in ("", "_small", "_large")}
    assert all(c.appearance_pool == POOL == 16 for c in pools.values())
    assert not any(c.appearance_pool for c in tfssl_objects.TfsslObjects.BUILDER_CONFIGS if c.name not in pools)
    config = tfds.builder("tfssl_objects/tc00_pool_small", data_dir=str(tmp_path)).builder_config
    assert config.factors == R.Factors.from_code("tc00") and config.split_sizes == SIZES
    assert tfds.builder("tfssl_objects/tc0l_pool", data_dir=str(tmp_path)).builder_config.num_train == 20000
    with pytest.raises(ValueError, match="Colour on"):
        R.render_object_example(R.Factors.from_code("t000"), "train", 0, appearance_pool=POOL)


def test_pool_examples_are_deterministic_pinned_and_what_the_builder_yields(tmp_path):
    for (code, split, index), digest in _POOL_GOLDEN.items():
        factors = R.Factors.from_code(code)
        first = R.render_object_example(factors, split, index, appearance_pool=POOL)
        R.shapes.shape_model.cache_clear()
        again = R.render_object_example(factors, split, index, appearance_pool=POOL)
        assert _digest(first) == _digest(again) == digest, (code, split, index)
    builder = tfds.builder("tfssl_objects/tc00_pool_small", data_dir=str(tmp_path))
    for index, ex in builder._generate_examples("test", 3):
        fresh = R.render_object_example(R.Factors.from_code("tc00"), "test", index, appearance_pool=POOL)
        np.testing.assert_array_equal(ex["image"], fresh["image"])
    # The pool changes the appearance only: class, shape, pose and mask are those of the same code without it.
    own = R.render_object_example(R.Factors.from_code("tc00"), "test", 2)
    assert not np.array_equal(own["image"], fresh["image"])
    np.testing.assert_array_equal(own["mask"], fresh["mask"])
    assert (own["label"], own["model_id"], own["angle"]) == (fresh["label"], fresh["model_id"], fresh["angle"])


def _pool_specs(code: str, n: int, split: str = "train"):
    return [R.sample_object_spec(R.Factors.from_code(code), split, i, appearance_pool=POOL) for i in range(n)]


@pytest.mark.parametrize("code", ["tc00", "0c0l"])
def test_pool_size_is_respected_and_every_entry_is_used(code):
    specs = _pool_specs(code, 500) + _pool_specs(code, 100, "test")
    fills = {_fill_key(s.fill) for s in specs}
    backgrounds = {_background_key(s.background) for s in specs}
    assert len(fills) == len(backgrounds) == POOL  # <= POOL: shared; == POOL: all of it in use
    assert {s.fill_id for s in specs} == {s.background_id for s in specs} == set(range(POOL))
    for s in specs:  # the ids name the entries, and the object stays visible
        assert _fill_key(s.fill) == _fill_key(R.pool_fill(R.Factors.from_code(code), s.fill_id))
        assert np.linalg.norm(s.background.mean_colour() - s.fill.mean_colour()) >= 0.3


def test_pool_appearance_is_independent_of_class():
    """Contingency of class x pool entry over 2,000 examples: chi-square below p = 0.001, every entry in every class.

    Fills are uniform over the pool; backgrounds are not quite (an entry that contrasts with fewer fills is drawn
    less often), but for either, which entry an example gets does not depend on its class.
    """
    specs = _pool_specs("tc00", 2000)
    classes = np.array([s.class_id for s in specs])
    for ids in (np.array([s.fill_id for s in specs]), np.array([s.background_id for s in specs])):
        table = np.zeros((R.NUM_CLASSES, POOL))
        np.add.at(table, (classes, ids), 1)
        expected = table.sum(1, keepdims=True) * table.sum(0, keepdims=True) / table.sum()
        chi2 = ((table - expected) ** 2 / expected).sum()
        dof = (R.NUM_CLASSES - 1) * (POOL - 1)
        z = 3.0902  # the normal's 0.999 quantile; Wilson-Hilferty's chi-square quantile for dof = 135: 191.6
        critical = dof * (1 - 2 / (9 * dof) + z * np.sqrt(2 / (9 * dof))) ** 3
        assert chi2 < critical, f"appearance depends on class: chi2 {chi2:.1f} >= {critical:.1f}\n{table}"
        assert (table > 0).all(), f"a pool entry never meets some class:\n{table}"  # each entry in every class
