"""COCOA and KINS builders on tiny fixtures in the real formats (tests/fixtures/), and tfssl's own mask decoding."""

import functools
import os
import shutil

import numpy as np
import pytest
import tensorflow_datasets as tfds

import tfssl.data.builders  # noqa: F401
from tests.conftest import REPO
from tfssl.errors import DataError
from tfssl.data import pipelines
from tfssl.methods.pcnet import samples as pcnet_samples
from tfssl.data.builders import coco_masks as C
from tfssl.data.builders import cocoa
from tfssl.evaluation import deocclusion as E

FIXTURES = os.path.join(REPO, "tests", "fixtures")
H, W = 24, 32


def _rect(x0, y0, x1, y1):
    m = np.zeros((H, W), np.uint8)
    m[y0:y1, x0:x1] = 1
    return m


def test_compressed_rle_known_strings_and_round_trip():
    np.testing.assert_array_equal(C.decode_rle({"size": [2, 2], "counts": "13"}), [[0, 1], [1, 1]])
    assert C.decode_counts("523O") == [5, 2, 3, 1]  # the fourth count is stored as a difference (1 - 2 = -1)
    assert C.encode_counts([5, 2, 3, 1]) == "523O"
    rs = np.random.RandomState(0)
    for _ in range(30):
        mask = (rs.rand(rs.randint(1, 30), rs.randint(1, 30)) > rs.rand()).astype(np.uint8)
        rle = C.encode_rle(mask)
        np.testing.assert_array_equal(C.decode_rle(rle), mask)
        runs = C.decode_counts(rle["counts"])
        np.testing.assert_array_equal(C.decode_mask({"size": rle["size"], "counts": runs}, *mask.shape), mask)
    with pytest.raises(ValueError, match="cover"):
        C.decode_rle({"size": [3, 3], "counts": [2, 2]})


def test_polygons_fill_pixel_centres_and_union():
    square = C.decode_polygons([4, 4, 16, 4, 16, 16, 4, 16], H, W)
    np.testing.assert_array_equal(square, _rect(4, 4, 16, 16))
    two = C.decode_mask([[0, 0, 3, 0, 3, 3, 0, 3], [10, 10, 12, 10, 12, 12, 10, 12]], H, W)
    np.testing.assert_array_equal(two, _rect(0, 0, 3, 3) | _rect(10, 10, 12, 12))
    triangle = C.decode_polygons([[0, 0, 8, 0, 0, 8]], H, W)
    assert triangle.sum() == 28 and triangle[0, 6] and not triangle[0, 7]  # centres strictly inside


def test_depth_constraint_strings():
    order = cocoa.parse_depth_constraint("1-2,3-1", 3)
    np.testing.assert_array_equal(order, [[0, 1, -1], [-1, 0, 0], [1, 0, 0]])
    assert not cocoa.parse_depth_constraint("", 2).any()


def _prepare(name, tmp_path, manual):
    builder = tfds.builder(name, data_dir=str(tmp_path / "data"))
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=manual))
    return builder


def test_cocoa_builder_reads_regions_visible_masks_and_order(tmp_path):
    builder = _prepare("cocoa", tmp_path, os.path.join(FIXTURES, "cocoa"))
    assert {s: builder.info.splits[s].num_examples for s in ("train", "validation")} == {"train": 2, "validation": 1}
    examples = sorted(tfds.as_numpy(builder.as_dataset(split="train")), key=lambda e: int(e["index"]))
    first = examples[0]
    front, back = _rect(4, 4, 16, 16), _rect(10, 8, 26, 20)
    assert first["image"].shape == (H, W, 3) and int(first["image_id"]) == 11
    assert int(first["num_objects"]) == 2, "the fully hidden region is dropped"
    np.testing.assert_array_equal(first["amodal"], np.stack([front, back]))
    np.testing.assert_array_equal(first["modal"], np.stack([front, back & (1 - front)]))
    np.testing.assert_array_equal(first["order"], [[0, 1], [-1, 0]])
    np.testing.assert_array_equal(first["category"], [1, 1])
    np.testing.assert_array_equal(first["order"], E.order_from_masks(first["modal"], first["amodal"]))
    np.testing.assert_array_equal(examples[1]["modal"], examples[1]["amodal"])  # no visible_mask: fully visible
    val = next(iter(tfds.as_numpy(builder.as_dataset(split="validation"))))
    np.testing.assert_array_equal(val["order"], [[0, -1], [1, 0]])  # "2-1": region 2 in front


def test_kins_builder_reads_rle_polygon_and_uncompressed_masks(tmp_path):
    builder = _prepare("kins", tmp_path, os.path.join(FIXTURES, "kins"))
    assert {s: builder.info.splits[s].num_examples for s in ("train", "test")} == {"train": 2, "test": 1}
    examples = sorted(tfds.as_numpy(builder.as_dataset(split="train")), key=lambda e: int(e["index"]))
    car, person = _rect(2, 6, 20, 18), _rect(14, 2, 22, 22)
    first = examples[0]
    np.testing.assert_array_equal(first["category"], [4, 2])
    np.testing.assert_array_equal(first["amodal"], np.stack([car, person]))
    np.testing.assert_array_equal(first["modal"], np.stack([car & (1 - person), person]))
    np.testing.assert_array_equal(examples[1]["modal"][0], _rect(24, 10, 30, 18))
    assert "order" not in first
    np.testing.assert_array_equal(E.order_from_masks(first["modal"], first["amodal"]), [[0, -1], [1, 0]])

    # PCNet's sample synthesis reads real scenes of any size.
    import tensorflow as tf

    ds = builder.as_dataset(split="train", shuffle_files=False)
    scene = next(iter(ds))
    u = tf.random.stateless_uniform([pcnet_samples.NUM_UNIFORMS], seed=[0, 0])
    sample = pcnet_samples.synthesize_sample(scene["image"], scene["modal"][0], 4, scene["modal"][1], u, 16, True)
    assert sample["mask_input"].shape == (16, 16, 1) and float(tf.reduce_max(sample["target"])) == 1.0


def test_missing_manual_files_name_every_file_and_the_folder(tmp_path):
    manual = tmp_path / "manual"
    shutil.copytree(os.path.join(FIXTURES, "kins"), manual)
    os.remove(manual / "instances_val.json")
    shutil.rmtree(manual / "testing")
    with pytest.raises(DataError) as error:
        _prepare("kins", tmp_path, str(manual))
    message = str(error.value)
    assert "instances_val.json, testing/image_2" in message and str(manual) in message and "\n" not in message
    with pytest.raises(DataError, match="annotations/COCO_amodal_train2014.json"):
        _prepare("cocoa", tmp_path, str(tmp_path / "nowhere"))


def test_pcnet_pipeline_streams_real_scenes_of_varying_size_reproducibly():
    tfds.builder("kins").download_and_prepare(  # into the test session's TFDS dir, where load_builder looks
        download_config=tfds.download.DownloadConfig(manual_dir=os.path.join(FIXTURES, "kins")))

    def batches(skip, n):
        synthesize = functools.partial(pcnet_samples.pcnet_sample, image_size=16, use_category=True)
        it = iter(pipelines.scene_pair_dataset(2, name="kins", synthesize=synthesize, skip_batches=skip))
        return [next(it) for _ in range(n)]

    first = batches(0, 3)
    assert first[0]["image"].shape == (2, 16, 16, 3) and first[0]["mask_input"].shape == (2, 16, 16, 1)
    assert set(np.unique(np.concatenate([b["category"].numpy() for b in first]))) <= {1, 2, 4}
    resumed = batches(2, 1)[0]
    for key in ("image", "mask_input", "eraser", "target", "index"):
        np.testing.assert_array_equal(first[2][key], resumed[key])
