"""PCNet: the spec's loss formulas and properties, the shared method contract, learning, and a smoke run."""

import json
import os

import gin
import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.conftest import REPO
from tests.method_checks import Returns, check_resume_equivalence, one_step, run_method_checks, strategy
from tfssl.errors import UserError
from tfssl.methods.pcnet import model as pcnet
from tfssl.methods.pcnet import PCNet

# 32 px, three-level networks a few channels wide: the contract, not the quality, is under test.
BINDINGS = [
    "tfssl.make_optimizer.total_steps = 10",
    "tfssl.make_optimizer.learning_rate = 0.01",
    "tfssl.layers.unet.widths = (4, 8, 8)",
    "tfssl.layers.partial_conv_unet.widths = (4, 8, 8)",
    "tfssl.layers.partial_conv_unet.kernel_sizes = (7, 5, 3)",
    "tfssl.layers.patchgan.widths = (4, 8)",
    "tfssl.layers.patchgan.strides = (2, 2)",
    "tfssl.methods.PCNet.perceptual = 'random'",
]
# gin/pcnet.gin + gin/smoke.gin at 32 px with BINDINGS' widths, the GAN term on (three optimizers, spectral norm), 12
# scenes in batches of 8 (the resume starts mid-epoch).
RESUME = ["IMAGE_SIZE = 32", "GLOBAL_BATCH = 8", "train/tfssl.data.scene_pair_dataset.max_examples = 12",
          "tfssl.layers.unet.width = 1.0", "tfssl.layers.partial_conv_unet.depth = 3",
          "tfssl.layers.partial_conv_unet.width = 1.0", "tfssl.layers.patchgan.width = 1.0",
          "tfssl.methods.PCNet.adversarial_weight = 0.1", *BINDINGS[2:7]]
# What the serving and TF-Lite endpoints' docstrings promise, per example, at 32 px.
ENDPOINTS = {"complete_mask": Returns((32, 32), 0.0, 1.0), "complete_content": Returns((32, 32, 3), 0.0, 1.0),
             "pcnet_m": Returns((32, 32), 0.0, 1.0)}
ENDPOINT_INPUTS = {"hole": "content_hole",
                   "masks": lambda batch: np.concatenate([batch["mask_input"], batch["eraser"]], axis=-1)}


def synthetic_batch(n=8, size=32, seed=0, use_category=False):
    """A training batch in tfssl.methods.pcnet_sample's format: a disc or square A, a surrogate occluder B; case 1
    (B in front) for about 80% of the examples, case 2 (B behind) for the rest."""
    rs = np.random.RandomState(seed)
    yy, xx = np.mgrid[:size, :size] + 0.5

    def shape():
        cy, cx = rs.uniform(0.3, 0.7, 2) * size
        r = rs.uniform(0.15, 0.3) * size
        if rs.rand() < 0.5:
            return (yy - cy) ** 2 + (xx - cx) ** 2 < r * r
        return (np.abs(yy - cy) < r) & (np.abs(xx - cx) < 0.8 * r)

    batch = {k: [] for k in ("image", "mask_input", "eraser", "target", "content_modal", "content_hole")}
    categories = rs.randint(1, 4, n)
    for i in range(n):
        a, b = shape(), shape()
        scale = categories[i] if use_category else 1
        case1 = rs.rand() < 0.8
        stripes = (0.8 + 0.2 * np.sin(xx / 2.0))[..., None]
        batch["image"].append(np.where(a[..., None], rs.uniform(0.5, 1, 3) * stripes, rs.uniform(0, 0.5, 3)))
        batch["mask_input"].append(((a & ~b) if case1 else a)[..., None] * scale)
        batch["eraser"].append((b if case1 else b & ~a)[..., None])
        batch["target"].append(a[..., None])
        batch["content_modal"].append((a & ~b)[..., None] * scale)
        batch["content_hole"].append((a & b)[..., None])
    batch = {k: np.asarray(v, np.float32) for k, v in batch.items()}
    batch["category"] = categories.astype(np.int32)
    batch["index"] = np.arange(n, dtype=np.int64) * 3
    return batch


def _cross_entropy(logits, target):
    log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    return -np.take_along_axis(log_p, target[..., None].astype(int), -1)[..., 0]


# ---- losses ---------------------------------------------------------------------------------------------------


def test_weighted_mask_loss_is_the_papers_formula():
    rs = np.random.RandomState(0)
    logits = rs.randn(3, 8, 8, 2).astype("float32")
    target = (rs.rand(3, 8, 8, 1) < 0.5).astype("float32")
    eraser = (rs.rand(3, 8, 8, 1) < 0.3).astype("float32")
    ce = _cross_entropy(logits, target[..., 0])
    inside, outside = ce[eraser[..., 0] == 1].sum(), ce[eraser[..., 0] == 0].sum()
    expected = (5.0 * inside + outside) / (3 * 8 * 8)
    assert float(pcnet.weighted_mask_loss(logits, target, eraser)) == pytest.approx(expected, rel=1e-5)
    # An empty eraser gives the plain mean cross-entropy.
    plain = keras.losses.sparse_categorical_crossentropy(target[..., 0], logits, from_logits=True)
    empty = pcnet.weighted_mask_loss(logits, target, np.zeros_like(eraser))
    assert float(empty) == pytest.approx(float(tf.reduce_mean(plain)), rel=1e-5)


def test_eraser_accuracy_and_iou_count_only_the_eraser():
    logits = np.zeros((1, 2, 2, 2), "float32")
    logits[0, :, :, 1] = [[1.0, 1.0], [-1.0, 1.0]]  # predicted foreground: (0,0), (0,1), (1,1)
    target = np.array([[[1.0], [0.0]], [[1.0], [1.0]]], "float32")[None]
    eraser = np.array([[[1.0], [1.0]], [[1.0], [0.0]]], "float32")[None]
    accuracy, iou = pcnet.eraser_accuracy_and_iou(logits, target, eraser)
    # In the eraser: (0,0) right, (0,1) wrong, (1,0) wrong; foreground there: P = {(0,0), (0,1)}, T = {(0,0), (1,0)}.
    assert float(accuracy) == pytest.approx(1 / 3)
    assert float(iou) == pytest.approx(1 / 3)


def test_composite_equals_the_input_exactly_on_visible_pixels():
    rs = np.random.RandomState(0)
    image, output = rs.rand(2, 16, 16, 3).astype("float32"), rs.randn(2, 16, 16, 3).astype("float32") * 1e3
    hole = (rs.rand(2, 16, 16, 1) < 0.4).astype("float32")
    comp = pcnet.composite(image, output, hole).numpy()
    visible = np.broadcast_to(hole == 0, comp.shape)
    np.testing.assert_array_equal(comp[visible], image[visible])
    np.testing.assert_array_equal(comp[~visible], output[~visible])


def test_l1_gram_tv_and_gan_terms_on_hand_examples():
    output, target = np.zeros((1, 2, 2, 3), "float32"), np.ones((1, 2, 2, 3), "float32")
    hole = np.array([[[1.0], [0.0]], [[0.0], [0.0]]], "float32")[None]
    hole_l1, valid_l1 = pcnet.hole_and_valid_l1(output, target, hole)
    assert (float(hole_l1), float(valid_l1)) == pytest.approx((0.25, 0.75))  # means over all 12 values
    features = np.arange(8, dtype="float32").reshape(1, 2, 2, 2)  # channels (0, 2, 4, 6) and (1, 3, 5, 7)
    np.testing.assert_allclose(pcnet.gram_matrix(features).numpy()[0], np.array([[56, 68], [68, 84]]) / 8.0)
    ramp = np.tile(np.arange(3, dtype="float32")[None, :, None, None], (1, 1, 3, 1)) * 0.5  # rows 0, .5, 1
    assert float(pcnet.total_variation(ramp)) == pytest.approx(0.5)  # 0 across columns + 0.5 down rows
    zeros = np.zeros((2, 3, 3, 1), "float32")
    assert float(pcnet.discriminator_loss(zeros, zeros)) == pytest.approx(np.log(2.0), rel=1e-6)
    confident = np.full((2, 3, 3, 1), 20.0, "float32")
    assert float(pcnet.discriminator_loss(confident, -confident)) < 1e-6
    assert float(pcnet.generator_adversarial_loss(-confident)) == pytest.approx(20.0, rel=1e-6)


def test_perceptual_and_style_losses_sum_output_and_composite_terms():
    rs = np.random.RandomState(0)
    target = [rs.rand(2, 4, 4, 3).astype("float32"), rs.rand(2, 2, 2, 5).astype("float32")]
    same = [t.copy() for t in target]
    perceptual, style = pcnet.perceptual_and_style_losses(same, same, target)
    assert float(perceptual) == 0.0 and float(style) == 0.0
    shifted = [t + 1.0 for t in target]
    perceptual, _ = pcnet.perceptual_and_style_losses(shifted, same, target)
    assert float(perceptual) == pytest.approx(2.0)  # 1 per stage from the output, 0 from the composite


# ---- the method -----------------------------------------------------------------------------------------------


def test_pcnet_method_contract(tmp_path):
    gin.parse_config(BINDINGS)
    run_method_checks(lambda: PCNet(image_size=32), synthetic_batch(), tmp_path / "export",
                      endpoints=ENDPOINTS, endpoint_inputs=ENDPOINT_INPUTS)


def test_pcnet_resumes_exactly_in_a_fresh_process(tmp_path):
    check_resume_equivalence(["gin/pcnet.gin", "gin/smoke.gin"], RESUME, tmp_path)


def test_train_outputs_every_term_and_only_mask_moves_without_content():
    gin.parse_config(BINDINGS)
    outputs = tf.function(PCNet(image_size=32).train_step)(synthetic_batch())
    assert set(outputs) == {
        "mask_loss", "mask_eraser_accuracy", "mask_eraser_iou", "content_hole", "content_valid", "content_perceptual",
        "content_style", "content_tv", "content_adversarial", "content_loss", "discriminator_loss"}
    method = PCNet(image_size=32, train_content=False, perceptual="none")
    assert list(method.optimizers) == ["mask"]
    before = [v.numpy() for v in method.variables]
    outputs = tf.function(method.train_step)(synthetic_batch())
    assert set(outputs) == {"mask_loss", "mask_eraser_accuracy", "mask_eraser_iou"}
    moved = {id(v) for v, b in zip(method.variables, before) if not np.array_equal(b, v.numpy())}
    assert moved and moved <= {id(v) for v in method.mask_net.variables}


def test_without_a_gan_term_there_is_no_discriminator_and_pcnet_c_still_trains():
    gin.parse_config(BINDINGS)
    method = PCNet(image_size=32, adversarial_weight=0.0)
    assert method.discriminator is None and list(method.optimizers) == ["mask", "content"]
    before = {id(v): v.numpy() for v in method.content_net.trainable_variables}
    outputs = tf.function(method.train_step)(synthetic_batch())
    assert "discriminator_loss" not in outputs and "content_adversarial" not in outputs
    assert any(not np.array_equal(before[id(v)], v.numpy()) for v in method.content_net.trainable_variables)


def test_pcnet_m_learns_on_a_fixed_batch():
    gin.parse_config(BINDINGS + ["tfssl.make_optimizer.schedule = 'constant'",
                                 "mask/tfssl.make_optimizer.name = 'adam'",
                                 "mask/tfssl.make_optimizer.learning_rate = 0.01"])
    keras.utils.set_random_seed(0)
    method = PCNet(image_size=32, train_content=False, perceptual="none")
    batch = synthetic_batch(8, seed=1)
    step = tf.function(method.train_step)
    first = step(batch)
    for _ in range(40):
        last = step(batch)
    assert float(last["mask_loss"]) < 0.3 * float(first["mask_loss"])
    assert float(last["mask_eraser_iou"]) > 0.8
    probabilities = method.mask_probabilities(batch["mask_input"], batch["eraser"]).numpy()
    assert probabilities.shape == (8, 32, 32) and probabilities.min() >= 0.0 and probabilities.max() <= 1.0


def test_content_completion_ignores_the_hidden_pixels():
    gin.parse_config(BINDINGS)
    method = PCNet(image_size=32)
    batch = synthetic_batch(4)
    hole = batch["content_hole"]
    changed = np.where(hole > 0, np.random.RandomState(0).rand(*batch["image"].shape), batch["image"])
    out = method.complete_content(batch["image"], batch["content_modal"], hole).numpy()
    out_changed = method.complete_content(changed.astype("float32"), batch["content_modal"], hole).numpy()
    np.testing.assert_array_equal(out, out_changed)
    assert out.shape == (4, 32, 32, 3) and out.min() >= 0.0 and out.max() <= 1.0


def test_visible_mean_colour_averages_visible_instance_pixels_else_every_known_pixel():
    image = np.zeros((2, 4, 4, 3), np.float32)
    image[:, :2] = [0.2, 0.4, 0.6]  # top half: the instance's colour
    image[:, 2:] = [1.0, 1.0, 1.0]
    modal = np.zeros((2, 4, 4, 1), np.float32)
    modal[0, :2] = 3.0  # category-scaled modal channel
    hole = np.zeros((2, 4, 4, 1), np.float32)
    hole[:, 0, 0] = 1.0
    image[:, 0, 0] = [9.0, 9.0, 9.0]  # hidden: must not count
    mean = pcnet.visible_mean_colour(image, modal, hole).numpy()
    assert mean.shape == (2, 1, 1, 3)
    np.testing.assert_allclose(mean[0, 0, 0], [0.2, 0.4, 0.6], atol=1e-6)
    # Nothing of the instance visible: the mean of every non-hole pixel (7 of the colour, 8 white).
    np.testing.assert_allclose(mean[1, 0, 0], (7 * np.array([0.2, 0.4, 0.6]) + 8.0) / 15, atol=1e-6)


def test_mean_colour_prior_adds_the_visible_mean_to_pcnet_c_and_still_ignores_hidden_pixels():
    gin.parse_config(BINDINGS)
    keras.utils.set_random_seed(0)
    plain = PCNet(image_size=32)
    keras.utils.set_random_seed(0)
    prior = PCNet(image_size=32, mean_colour_prior=True)
    batch = synthetic_batch(4)
    image, modal, hole = batch["image"], batch["content_modal"], batch["content_hole"]
    # Same weights: a zero network output means grey (0.5) without the prior and the visible mean with it.
    shift = pcnet.visible_mean_colour(image, modal, hole) - 0.5
    np.testing.assert_allclose(prior.content_output(image, modal, hole).numpy(),
                               (plain.content_output(image, modal, hole) + shift).numpy(), atol=1e-5)
    changed = np.where(hole > 0, 1.0 - image, image).astype("float32")
    np.testing.assert_array_equal(prior.complete_content(image, modal, hole).numpy(),
                                  prior.complete_content(changed, modal, hole).numpy())


def test_summaries_show_masks_and_completions():
    gin.parse_config(BINDINGS)
    images = PCNet(image_size=32).summaries(synthetic_batch(6, use_category=True))
    assert images["mask_completion"].shape == (4, 32, 128, 3)
    assert images["content_completion"].shape == (4, 32, 128, 3)
    for value in images.values():
        assert float(tf.reduce_min(value)) >= 0.0 and float(tf.reduce_max(value)) <= 1.0


def test_pcnet_m_converts_to_tflite(tmp_path):
    from tfssl.core import exporting

    gin.parse_config(BINDINGS)
    method = PCNet(image_size=32, train_content=False, perceptual="none")
    fn, signature = method.tflite_endpoints()["pcnet_m"]
    info = exporting.export_tflite(fn, tmp_path / "pcnet_m.tflite", input_signature=signature)
    batch = synthetic_batch(4)
    masks = np.concatenate([batch["mask_input"], batch["eraser"]], axis=-1)
    expected = method.mask_probabilities(batch["mask_input"], batch["eraser"]).numpy()
    np.testing.assert_allclose(exporting.run_tflite(tmp_path / "pcnet_m.tflite", masks), expected, atol=1e-4)
    assert info["input_shape"][1:] == [32, 32, 2]


def test_vgg16_perceptual_network_loads_a_local_weights_file_when_training_starts(tmp_path):
    vgg = keras.applications.VGG16(include_top=False, weights=None, input_shape=(32, 32, 3))
    path = str(tmp_path / "vgg16_notop.weights.h5")
    vgg.save_weights(path)
    gin.parse_config(BINDINGS + ["tfssl.methods.PCNet.perceptual = 'vgg16'",
                                 f"tfssl.methods.PCNet.perceptual_weights = '{path}'"])
    mirrored = strategy("mirrored")
    with mirrored.scope():
        method = PCNet(image_size=32)  # building never reads the file
    conv = method.perceptual.get_layer("vgg16_pool1_3").get_layer("block3_conv3")
    expected = vgg.get_layer("block3_conv3").kernel.numpy()
    assert not np.array_equal(conv.kernel.numpy(), expected)
    with mirrored.scope():
        method.prepare_training()  # what the Trainer (and compile) call before the first step
    outputs = one_step(mirrored, method, synthetic_batch(4))
    # Loaded into both replicas' copies.
    copies = conv.kernel.value.values
    assert len(copies) == 2
    for copy in copies:
        np.testing.assert_array_equal(copy.numpy(), expected)
    assert np.isfinite(outputs["content_style"]) and outputs["content_perceptual"] > 0
    assert not method.perceptual.trainable_weights


def test_vgg16_without_weights_fails_with_one_clear_message(monkeypatch):
    def offline(*args, **kwargs):
        raise Exception("URL fetch failure: [Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(keras.src.utils.file_utils, "get_file", offline)
    gin.parse_config(BINDINGS + ["tfssl.methods.PCNet.perceptual = 'vgg16'"])
    method = PCNet(image_size=32)
    with pytest.raises(UserError) as error:
        method.prepare_training()
    message = str(error.value)
    assert "\n" not in message and "name resolution" in message
    assert "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5" in message and "'none'" in message


def test_unknown_perceptual_network_is_a_user_error():
    gin.parse_config(BINDINGS)
    with pytest.raises(UserError, match="vgg16, random, none"):
        PCNet(image_size=32, perceptual="alexnet")


# ---- the command a user runs ----------------------------------------------------------------------------------


def test_smoke_run_of_the_embedded_default(tmp_path, monkeypatch):
    from tfssl.core import experiment, exporting

    monkeypatch.chdir(REPO)
    result = experiment.run(str(tmp_path / "run"), ["gin/pcnet.gin", "gin/smoke.gin"], [
        "TRAIN_STEPS = 4",
        "GLOBAL_BATCH = 8", "tfssl.layers.unet.width = 0.125", "tfssl.layers.partial_conv_unet.width = 0.0625",
        "tfssl.layers.patchgan.width = 0.0625", "tfssl.evaluation.deocclusion_metrics.max_examples = 3"])
    assert result["step"] == 4
    assert np.isfinite(result["train"]["mask_loss"]) and np.isfinite(result["train"]["content_loss"])
    metrics = result["eval"]["deocclusion_metrics"]
    for key in ("order_accuracy", "amodal_miou", "content_l1", "order_accuracy_convex", "content_l1_mean_fill"):
        assert key in metrics
    with open(tmp_path / "run" / "export" / "manifest.json") as f:
        manifest = json.load(f)
    assert {"complete_mask", "complete_content", "serving_default"} <= {e["name"] for e in manifest["endpoints"]}
    assert os.path.exists(tmp_path / "run" / "export" / "encoder.tflite")
    # PCNet-M on device: written by the exporter, listed and checked in LiteRT against the live network.
    assert "pcnet_m.tflite" in manifest["files"] and manifest["parity"]["pcnet_m.tflite"]["ok"]
    assert manifest["tflite"]["pcnet_m"]["input_shape"][1:] == [64, 64, 2]
    masks = np.random.default_rng(1).uniform(size=(3, 64, 64, 2)).astype(np.float32)
    expected = result["session"].method.mask_probabilities(masks[..., :1], masks[..., 1:]).numpy()
    np.testing.assert_allclose(exporting.run_tflite(tmp_path / "run" / "export" / "pcnet_m.tflite", masks), expected,
                               atol=1e-4)
