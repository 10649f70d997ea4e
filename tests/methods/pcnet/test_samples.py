"""PCNet's training-sample synthesis: crop rule, occluder placement, the two cases, and the stream
`tfssl.data.scene_pair_dataset` makes of them."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from tfssl.data import pipelines
from tfssl.methods.pcnet import samples as P

SCENES = "tfssl_scenes/base_small"
KEYS = ("image", "mask_input", "eraser", "target", "content_modal", "content_hole")


def pcnet_stream(batch_size, *, image_size, use_category, case1_probability=P.CASE1_PROBABILITY, **stream):
    """PCNet's training stream as gin/pcnet.gin builds it."""
    def synthesize(scene, occluder_scene, key):
        return P.pcnet_sample(scene, occluder_scene, key, image_size=image_size, use_category=use_category,
                              case1_probability=case1_probability)
    return pipelines.scene_pair_dataset(batch_size, name=SCENES, synthesize=synthesize, **stream)


def _disc(size, cy, cx, r):
    y, x = np.mgrid[:size, :size] + 0.5
    return ((y - cy) ** 2 + (x - cx) ** 2 <= r * r).astype(np.float32)


@pytest.fixture(scope="module")
def prepared():
    tfds.builder(SCENES).download_and_prepare()  # the test session's TFDS dir (conftest)


def test_crop_box_contains_the_box_with_margin():
    rs = np.random.RandomState(0)
    y0, x0 = rs.uniform(0, 50, 200), rs.uniform(0, 50, 200)
    h, w = rs.uniform(1, 40, 200), rs.uniform(1, 40, 200)
    box = P.crop_box(np.stack([y0, x0, y0 + h, x0 + w], -1).astype(np.float32)).numpy()
    top, left, side = box.T
    assert np.all(side >= 1.1 * np.maximum(w, h) - 1e-4)
    np.testing.assert_allclose(side, np.maximum(np.sqrt(3 * w * h), 1.1 * np.maximum(w, h)), rtol=1e-5)
    assert np.all(top <= y0) and np.all(left <= x0)
    assert np.all(top + side >= y0 + h) and np.all(left + side >= x0 + w)
    np.testing.assert_allclose(top + side / 2, y0 + h / 2, atol=1e-4)  # centred without jitter
    shifted = P.crop_box([[10.0, 10.0, 30.0, 30.0]], [[0.2, -0.2]], [0.5]).numpy()[0]
    side0 = np.sqrt(3.0) * 20
    np.testing.assert_allclose(shifted, [20 + 0.2 * side0 - 0.25 * side0, 20 - 0.2 * side0 - 0.25 * side0,
                                         0.5 * side0], rtol=1e-5)


def test_crop_identity_box_and_paste_inverts_crop():
    image = np.random.RandomState(1).rand(1, 32, 32, 3).astype(np.float32)
    same = P.crop(image, [[0.0, 0.0, 32.0]], 32, "nearest").numpy()
    np.testing.assert_allclose(same, image, atol=1e-6)
    mask = _disc(32, 14, 17, 6)[None, ..., None]
    box = [[4.0, 6.0, 22.0]]
    up = P.crop(mask, box, 44, "nearest")  # a 2x upsampled crop, then back onto the canvas
    back = P.paste(up, box, 32, 32, "nearest").numpy()
    np.testing.assert_array_equal(back, mask)
    outside = P.crop(mask, [[-40.0, -40.0, 20.0]], 8, "bilinear").numpy()
    assert not outside.any(), "zero padding outside the image"


def test_occluder_offsets_split_the_overlap():
    overlap = tf.constant([0.4, 0.7, 1.0, 0.55])
    offsets = P.occluder_offsets(overlap, tf.constant([0.0, 0.3, 0.9, 0.99]), tf.constant([0.2, 0.8, 0.1, 0.6]))
    np.testing.assert_allclose(tf.reduce_sum(tf.abs(offsets), -1), 1.0 - overlap.numpy(), atol=1e-6)


def test_place_occluder_accepts_a_covered_fraction_in_range():
    target = tf.constant(_disc(32, 16, 16, 7))
    occluder = tf.constant(_disc(32, 12, 20, 9))
    fractions = []
    for seed in range(40):
        u = tf.random.stateless_uniform([P.NUM_TRIES, 3], seed=[seed, 0])
        placed, covered = P.place_occluder(target, occluder, u)
        expected = float(tf.reduce_sum(placed * target) / tf.reduce_sum(target))
        assert covered.numpy() == pytest.approx(expected)
        fractions.append(expected)
        assert float(tf.reduce_sum(placed)) <= float(tf.reduce_sum(occluder)), "placing only moves the occluder"
    fractions = np.array(fractions)
    assert np.all((fractions >= P.MIN_COVERED) & (fractions < P.MAX_COVERED))
    assert len(np.unique(fractions)) > 10, "placements should vary"
    # No acceptable try (an empty occluder covers nothing): the last try is kept.
    u = tf.random.stateless_uniform([P.NUM_TRIES, 3], seed=[1, 1])
    placed, covered = P.place_occluder(target, tf.zeros([32, 32]), u)
    assert float(covered) == 0.0 and not placed.numpy().any()


def test_case_1_and_case_2_masks():
    a, b = tf.constant(_disc(32, 16, 16, 8)), tf.constant(_disc(32, 10, 22, 8))
    one = {k: v.numpy()[..., 0] for k, v in P.make_mask_sample(a, b, tf.constant(True), 3, False).items()}
    two = {k: v.numpy()[..., 0] for k, v in P.make_mask_sample(a, b, tf.constant(False), 3, False).items()}
    assert not (one["mask_input"] > one["target"]).any(), "case 1: input ⊆ target"
    assert not (one["mask_input"] * one["eraser"]).any(), "case 1: input ∩ eraser = ∅"
    assert not ((one["target"] - one["mask_input"]) > one["eraser"]).any(), "case 1: target \\ input ⊆ eraser"
    assert (one["target"] - one["mask_input"]).sum() > 0
    np.testing.assert_array_equal(two["mask_input"], two["target"])
    assert not (two["eraser"] * a.numpy()).any(), "case 2: eraser ∩ A = ∅"
    for sample in (one, two):  # PCNet-C always sees the case-1 geometry
        np.testing.assert_array_equal(sample["content_hole"], a.numpy() * b.numpy())
        np.testing.assert_array_equal(sample["content_modal"], a.numpy() * (1 - b.numpy()))
    scaled = P.make_mask_sample(a, b, tf.constant(True), 3, True)
    np.testing.assert_array_equal(scaled["mask_input"].numpy()[..., 0], 3 * one["mask_input"])
    np.testing.assert_array_equal(scaled["content_modal"].numpy()[..., 0], 3 * one["content_modal"])


@pytest.fixture(scope="module")
def stream(prepared):
    return next(iter(pcnet_stream(384, image_size=32, use_category=False, repeat=True)))


def test_pipeline_batches_have_the_interface(prepared):
    batch = next(iter(pcnet_stream(6, image_size=32, use_category=True)))
    assert set(batch) == set(KEYS) | {"category", "index"}
    assert batch["image"].shape == (6, 32, 32, 3) and batch["image"].dtype == tf.float32
    for key in KEYS[1:]:
        assert batch[key].shape == (6, 32, 32, 1) and batch[key].dtype == tf.float32
    assert batch["category"].dtype == tf.int32 and batch["index"].dtype == tf.int64
    category = batch["category"].numpy().astype(np.float32)[:, None, None, None]
    assert np.isin(batch["mask_input"].numpy() / category, (0.0, 1.0)).all(), "input = binary mask x category"
    assert 0.0 <= float(tf.reduce_min(batch["image"])) and float(tf.reduce_max(batch["image"])) <= 1.0


def test_case1_probability_sets_how_often_the_occluder_is_in_front(prepared):
    for probability in (0.5, 1.0):
        batch = next(iter(pcnet_stream(256, image_size=32, use_category=False, case1_probability=probability)))
        inp, target = batch["mask_input"].numpy(), batch["target"].numpy()
        case1 = np.array([not np.array_equal(i, t) for i, t in zip(inp, target)])
        assert abs(case1.mean() - probability) < 0.08, (probability, case1.mean())


def test_pipeline_samples_obey_the_cases(stream):
    target, inp, eraser = (stream[k].numpy()[..., 0] for k in ("target", "mask_input", "eraser"))
    hole = stream["content_hole"].numpy()[..., 0]
    assert np.isin(inp, (0, 1)).all() and np.isin(target, (0, 1)).all()
    case1 = np.array([not np.array_equal(i, t) for i, t in zip(inp, target)])
    assert abs(case1.mean() - P.CASE1_PROBABILITY) < 0.07, case1.mean()
    for i in np.nonzero(case1)[0]:
        assert not (inp[i] > target[i]).any() and not (inp[i] * eraser[i]).any()
        assert not ((target[i] - inp[i]) > eraser[i]).any()
    for i in np.nonzero(~case1)[0]:
        assert not (eraser[i] * target[i]).any()
    covered = hole.sum((1, 2)) / target.sum((1, 2))
    in_range = (covered >= P.MIN_COVERED) & (covered < P.MAX_COVERED)
    assert in_range.mean() > 0.97, in_range.mean()
    assert len(np.unique(stream["index"].numpy())) > 300


def test_pipeline_is_deterministic_and_resumable(prepared):
    def batches(skip, n):
        it = iter(pcnet_stream(8, image_size=32, use_category=True, skip_batches=skip, seed=3, max_examples=64))
        return [next(it) for _ in range(n)]

    full = batches(0, 8)
    again = batches(0, 1)[0]
    resumed = batches(3, 1)[0]
    for key in KEYS + ("index",):
        np.testing.assert_array_equal(full[0][key], again[key])
        np.testing.assert_array_equal(full[3][key], resumed[key])
    # Past the end of an epoch (64 scenes = 8 batches) the stream continues with a new order and new samples.
    later = batches(9, 1)[0]
    assert not np.array_equal(later["index"], full[1]["index"])
    first_epoch = {int(i) // P.INDEX_STRIDE for b in full for i in b["index"].numpy()}
    assert len(first_epoch) == 64, "an epoch visits every scene once"
    assert set(later["index"].numpy() // P.INDEX_STRIDE) <= first_epoch
