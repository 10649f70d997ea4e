"""LCI: the spec's properties, update scoping of F / D / classifier, the shared method contract and a smoke run."""

import json
import os

import gin
import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.conftest import REPO
from tests.method_checks import Returns, check_resume_equivalence, run_method_checks
from tfssl.core import experiment
from tfssl.layers import image_ops
from tfssl.methods.lci import (LCI, hinge_discriminator_loss, hinge_generator_loss, inpainted_examples, masked_mean,
                               masked_mse, pair_discriminator, pair_patches)

# SGD: its step is linear in the gradient, so float-rounding differences between replica layouts stay small (Adam's
# first step is lr * sign(g), which flips for near-zero gradients) and an F step's effect on the loss is first-order.
BINDINGS = ["tfssl.make_optimizer.total_steps = 10", "tfssl.layers.resnet9.width = 4",
            "tfssl.make_optimizer.learning_rate = 0.1"]
SMALL = dict(image_size=32, patch_size=16, erase_size=12, inpainter_depth=3, inpainter_width=8,
             discriminator_width=8)
# gin/lci.gin + gin/smoke.gin with SMALL's geometry, width 4, 12 images in batches of 8 (the resume starts mid-epoch).
RESUME = ["IMAGE_SIZE = 32", "GLOBAL_BATCH = 8", "train/tfssl.data.image_dataset.image_size = %IMAGE_SIZE",
          "train/tfssl.data.image_dataset.max_examples = 12", "tfssl.layers.resnet9.width = 4",
          *(f"tfssl.methods.LCI.{k} = {v}" for k, v in SMALL.items() if k != "image_size")]


def _batch(n=8, size=32, seed=0):
    rs = np.random.RandomState(seed)
    return {"image": rs.rand(n, size, size, 3).astype("float32"), "index": np.arange(n, dtype="int64") * 7 + 1,
            "label": rs.randint(0, 10, n).astype("int32")}


def _method(**overrides):
    gin.parse_config(BINDINGS)
    return LCI(**{**SMALL, **overrides})


def _identity(patches, training=False):
    return patches


# ---- sample synthesis ----------------------------------------------------------------------------------------------

def test_label_layout_counts_and_rotation_blocks():
    method, batch = _method(), _batch()
    views = method.synthesize(tf.constant(batch["image"]), tf.constant(batch["index"]), tf.constant(0))
    assert views["inputs"].shape == (48, 32, 32, 3)
    np.testing.assert_array_equal(views["labels"].numpy(), np.repeat(np.arange(6), 8))
    np.testing.assert_array_equal(np.bincount(views["class_ids"].numpy()), [8] * 6)
    blocks = views["inputs"].numpy().reshape(6, 8, 32, 32, 3)
    for cls, k in ((2, 1), (3, 2), (4, 3)):
        np.testing.assert_array_equal(blocks[cls], np.rot90(blocks[0], k, axes=(1, 2)))
    # Rotating four times returns the original: the 270-degree block turned once more is class 0.
    np.testing.assert_array_equal(np.rot90(blocks[4], 1, axes=(1, 2)), blocks[0])
    assert np.abs(views["inputs"].numpy()).max() <= 1.0 + 1e-6


def test_ablations_choose_the_classes_and_drop_the_inpainter_without_lci():
    method = _method(classes=(0, 2, 3, 4))
    assert method.networks == ("encoder",) and not hasattr(method, "inpainter")
    assert method.head.units == 4
    batch = _batch()
    views = method.synthesize(tf.constant(batch["image"]), tf.constant(batch["index"]), tf.constant(0))
    np.testing.assert_array_equal(views["class_ids"].numpy(), np.repeat([0, 2, 3, 4], 8))
    np.testing.assert_array_equal(views["labels"].numpy(), np.repeat(np.arange(4), 8))
    assert _method(classes=(0, 2, 3, 4, 5)).head.units == 5
    lci_only = _method(classes=(0, 1))
    views = lci_only.synthesize(tf.constant(batch["image"]), tf.constant(batch["index"]), tf.constant(0))
    np.testing.assert_array_equal(views["class_ids"].numpy(), np.repeat([0, 1], 8))
    with pytest.raises(ValueError, match="including 0"):
        _method(classes=(1, 2))


def test_identity_inpainter_autoencodes_exactly_and_lci_keeps_everything_but_the_centre():
    method, batch = _method(), _batch()
    method.inpainter = _identity
    images = 2.0 * tf.constant(batch["image"]) - 1.0
    out = method.limited_context_inpaint(images, tf.constant(batch["index"]), tf.constant(3))
    np.testing.assert_array_equal(out["autoencoded_image"].numpy(), images.numpy())
    changed = np.any(out["lci_image"].numpy() != images.numpy(), axis=-1)  # [B, H, W]
    erased = np.any(out["erased_patch"].numpy() != out["real_patch"].numpy(), axis=-1)
    assert np.all(changed.sum((1, 2)) == erased.sum((1, 2))) and np.all(erased.sum((1, 2)) > 0.9 * 12 * 12)
    assert np.all(erased.sum((1, 2)) <= 12 * 12)


@pytest.mark.parametrize("paste", ["full", "center"])
def test_paste_modes(paste):
    method, batch = _method(paste=paste), _batch()
    method.inpainter = lambda patches, training=False: tf.fill(tf.shape(patches), 0.5)
    images = 2.0 * tf.constant(batch["image"]) - 1.0
    out = method.limited_context_inpaint(images, tf.constant(batch["index"]), tf.constant(0))
    window = np.any(out["lci_image"].numpy() != images.numpy(), axis=-1).sum((1, 2))
    np.testing.assert_array_equal(window, 16 * 16 if paste == "full" else 12 * 12)
    border = 1.0 - image_ops.center_mask(16, 12).numpy()[0, ..., 0]
    fake_border = out["fake_patch"].numpy()[:, border > 0]
    if paste == "full":
        np.testing.assert_array_equal(fake_border, 0.5)
    else:
        np.testing.assert_array_equal(fake_border, out["real_patch"].numpy()[:, border > 0])


@pytest.mark.parametrize("flip", [False, True])
def test_synthesis_is_a_pure_function_of_index_and_step_not_of_batch_layout(flip):
    method, batch = _method(flip=flip), _batch()
    method.inpainter = _identity
    images, index = tf.constant(batch["image"]), tf.constant(batch["index"])

    def run(sl, step):
        return method.synthesize(images[sl], index[sl], tf.constant(step))["inputs"].numpy().reshape(6, -1, 32, 32, 3)

    whole = run(slice(None), 5)
    halves = np.concatenate([run(slice(0, 4), 5), run(slice(4, 8), 5)], axis=1)
    # Equal up to float rounding (the warp's einsum sums in a batch-size dependent order).
    np.testing.assert_allclose(whole, halves, atol=1e-5)
    assert not np.array_equal(whole, run(slice(None), 6)), "a new step should draw new patches, warps and crops"


def test_flip_keeps_or_mirrors_each_source_image_and_mirrors_about_half():
    batch = _batch(n=32)

    def untransformed(flip):
        # No LCI class and an identity anti-shortcut augmentation (full crop, no small rotation): class 0 is the
        # source image itself, or its left-right mirror. The rotation classes are turns of it (label layout test).
        method = _method(flip=flip, classes=(0, 2, 3, 4), crop_fraction=1.0, max_angle=0.0)
        views = method.synthesize(tf.constant(batch["image"]), tf.constant(batch["index"]), tf.constant(2))
        return (views["inputs"].numpy()[:32] + 1.0) / 2.0

    flipped = untransformed(flip=True)
    same = np.all(np.isclose(flipped, batch["image"], atol=1e-5), axis=(1, 2, 3))
    mirrored = np.all(np.isclose(flipped, batch["image"][:, :, ::-1], atol=1e-5), axis=(1, 2, 3))
    assert np.all(same ^ mirrored), "each source should be kept or mirrored, nothing else"
    assert 8 <= mirrored.sum() <= 24
    np.testing.assert_allclose(untransformed(flip=False), batch["image"], atol=1e-5)


def test_odd_batches_and_wrong_image_sizes_are_refused_with_a_clear_message():
    method, batch = _method(), _batch(7)
    with pytest.raises(ValueError, match="even batch"):
        method.synthesize(tf.constant(batch["image"]), tf.constant(batch["index"]), tf.constant(0))
    batch = _batch(8, size=40)
    with pytest.raises(ValueError, match="built for 32 px"):
        method.synthesize(tf.constant(batch["image"]), tf.constant(batch["index"]), tf.constant(0))


# ---- losses and the discriminator ----------------------------------------------------------------------------------

def test_hinge_losses_match_closed_form():
    real, fake = np.array([[2.0], [0.5], [-1.0]], "float32"), np.array([[-2.0], [0.0], [1.5]], "float32")
    expected_d = np.mean(np.maximum(0, 1 - real)) + np.mean(np.maximum(0, 1 + fake))
    np.testing.assert_allclose(hinge_discriminator_loss(real, fake).numpy(), expected_d, rtol=1e-6)
    np.testing.assert_allclose(hinge_generator_loss(fake).numpy(), -np.mean(fake), rtol=1e-6)
    target, prediction = np.ones([2, 4, 4, 3], "float32"), np.zeros([2, 4, 4, 3], "float32")
    prediction[:, 0] = 3.0
    mask = np.zeros([1, 4, 4, 1], "float32")
    mask[:, 0] = 1.0
    np.testing.assert_allclose(masked_mse(target, prediction, mask).numpy(), 4.0)


def test_pairs_stack_neighbours_on_channels():
    patches = tf.reshape(tf.range(4 * 2 * 2 * 3, dtype=tf.float32), [4, 2, 2, 3])
    pairs = pair_patches(patches).numpy()
    assert pairs.shape == (2, 2, 2, 6)
    np.testing.assert_array_equal(pairs[1, ..., :3], patches[2].numpy())
    np.testing.assert_array_equal(pairs[1, ..., 3:], patches[3].numpy())


def test_spectral_norm_drives_every_top_singular_value_to_one():
    keras.utils.set_random_seed(0)
    discriminator = pair_discriminator(16, depth=3, width=8)
    pairs = tf.random.uniform([2, 16, 16, 6])
    for _ in range(30):
        discriminator(pairs, training=True)
    wrapped = [layer for layer in discriminator.layers if isinstance(layer, keras.layers.SpectralNormalization)]
    assert len(wrapped) == 6
    for layer in wrapped:
        kernel = layer.layer.kernel.numpy()
        sigma = np.linalg.svd(kernel.reshape(-1, kernel.shape[-1]), compute_uv=False)[0]
        assert abs(sigma - 1.0) < 0.02, f"{layer.name}: top singular value {sigma}"


# ---- update scoping ------------------------------------------------------------------------------------------------

def _values(method):
    return {v.path: v.numpy().copy() for v in method.variables}


def _changed(method, before):
    return {v.path for v in method.variables if not np.array_equal(before[v.path], v.numpy())}


def _paths(*networks):
    return {v.path for net in networks for v in net.variables}


def test_classifier_step_changes_only_the_classifier():
    method, batch = _method(), _batch()
    before = _values(method)
    method.update_step(batch, ("encoder",))
    changed = _changed(method, before)
    classifier = _paths(method.encoder, method.head)
    assert changed and changed <= classifier | {v.path for v in method.optimizers["encoder"].variables}
    assert not changed & _paths(method.inpainter, method.discriminator)
    assert {v.path for v in method.optimizer_variables("encoder")} <= changed


def test_discriminator_step_changes_only_the_discriminator():
    method, batch = _method(), _batch()
    before = _values(method)
    method.update_step(batch, ("discriminator",))
    changed = _changed(method, before)
    assert changed and changed <= _paths(method.discriminator) | {
        v.path for v in method.optimizers["discriminator"].variables}
    assert {v.path for v in method.optimizer_variables("discriminator")} <= changed


def test_inpainter_step_raises_the_classifier_loss_on_a_fixed_batch():
    # Only F's adversarial term against the classifier, so the direction of its step is what is tested.
    method, batch = _method(reconstruction_weight=0.0, adversarial_weight=0.0), _batch()
    before_values = _values(method)
    before = float(method.compute_losses(batch, ("inpainter",))["loss"])
    method.update_step(batch, ("inpainter",))
    after = float(method.compute_losses(batch, ("inpainter",))["loss"])
    assert after > before, f"an F step should raise the classifier's cross-entropy: {before} -> {after}"
    changed = _changed(method, before_values)
    assert not changed & _paths(method.encoder, method.head, method.discriminator)
    assert {v.path for v in method.optimizer_variables("inpainter")} <= changed


def test_inpainted_examples_are_the_lci_class_and_the_autoencoded_half_of_class_0():
    class_ids = tf.constant(np.repeat([0, 1, 2, 3, 4, 5], 4), tf.int32)
    chosen = inpainted_examples(class_ids, 4).numpy().reshape(6, 4)
    np.testing.assert_array_equal(chosen[0], [False, True, False, True])  # odd positions carry F's autoencoding
    assert chosen[1].all() and not chosen[2:].any()  # LCI class yes; rotations and warp no
    np.testing.assert_allclose(float(masked_mean(tf.constant([1.0, 2.0, 3.0]), tf.constant([True, False, True]))), 2.0)
    assert float(masked_mean(tf.constant([1.0]), tf.constant([False]))) == 0.0


def test_restricted_term_rewards_f_only_for_confusing_inpainted_with_autoencoded():
    method, batch = _method(classifier_term="inpainted"), _batch()
    losses = method.compute_losses(batch, ("inpainter",))
    views = method.synthesize(tf.constant(batch["image"]), tf.constant(batch["index"]), method.step,
                              training_inpainter=True)  # as compute_losses runs F when it updates it
    logits = method.transformation_logits(views["inputs"])
    per_example = keras.losses.sparse_categorical_crossentropy(views["labels"], logits, from_logits=True).numpy()
    chosen = inpainted_examples(views["class_ids"], 8).numpy()
    np.testing.assert_allclose(float(losses["inpainter_classifier_term"]), per_example[chosen].mean(), rtol=1e-4)
    own = float(losses["inpainter_adversarial"] + losses["inpainter_reconstruction"])
    np.testing.assert_allclose(float(losses["inpainter_loss"]), own - per_example[chosen].mean(), rtol=1e-4)
    # With F's own terms off, its step follows the restricted term alone: it raises that cross-entropy.
    method = _method(classifier_term="inpainted", reconstruction_weight=0.0, adversarial_weight=0.0)
    before = float(method.compute_losses(batch, ("inpainter",))["inpainter_classifier_term"])
    method.update_step(batch, ("inpainter",))
    after = float(method.compute_losses(batch, ("inpainter",))["inpainter_classifier_term"])
    assert after > before, (before, after)
    with pytest.raises(ValueError, match="classifier_term"):
        _method(classifier_term="rotations")


def test_classifier_weight_zero_makes_f_blind_to_the_classifier():
    batch = _batch()
    first = _method(classifier_weight=0.0)
    second = _method(classifier_weight=0.0)
    second.set_weights(first.get_weights())
    # A different classifier: F's step must not change, since nothing in its loss reads the classifier now.
    second.head.kernel.assign(second.head.kernel * -3.0 + 0.5)
    for method in (first, second):
        method.update_step(batch, ("inpainter",))
    for a, b in zip(first.inpainter.weights, second.inpainter.weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)
    # With the weight at 1 the same two classifiers do steer F differently.
    first, second = _method(), _method()
    second.set_weights(first.get_weights())
    second.head.kernel.assign(second.head.kernel * -3.0 + 0.5)
    for method in (first, second):
        method.update_step(batch, ("inpainter",))
    assert any(not np.allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)
               for a, b in zip(first.inpainter.weights, second.inpainter.weights))


def test_unknown_networks_are_refused():
    with pytest.raises(ValueError, match="unknown networks"):
        _method().update_step(_batch(), ("generator",))


# ---- contract, summaries, serving, smoke run -----------------------------------------------------------------------

def test_lci_method_contract(tmp_path):
    gin.parse_config(BINDINGS)
    run_method_checks(lambda: LCI(**SMALL), _batch(), tmp_path / "export",
                      endpoints={"predict_transformation": Returns((6,), 0.0, 1.0, unit="sum"),
                                 "inpaint_patch": Returns((16, 16, 3), 0.0, 1.0)},
                      endpoint_inputs={"patches": lambda batch: batch["image"][:, :16, :16]})
    manifest = json.load(open(tmp_path / "export" / "manifest.json"))
    assert {"saved_model/inpaint_patch", "saved_model/predict_transformation"} <= set(manifest["parity"])


def test_lci_resumes_exactly_in_a_fresh_process(tmp_path):
    check_resume_equivalence(["gin/lci.gin", "gin/smoke.gin"], RESUME, tmp_path)


def test_summaries_and_inpaint_patch_endpoint():
    method, batch = _method(paste="center"), _batch()
    shown = method.summaries(batch)
    assert {"erased_patch", "inpainted_patch", "autoencoded_patch", "lci_image", "warped_image", "class_2"} <= set(
        shown)
    for name, images in shown.items():
        assert 0.0 <= float(tf.reduce_min(images)) and float(tf.reduce_max(images)) <= 1.0, name
    fn, spec = method.serving_endpoints()["inpaint_patch"]
    patches = tf.constant(batch["image"][:, :16, :16])
    out = fn(patches).numpy()
    assert out.shape == (8, 16, 16, 3) and spec[0].shape[1:] == (16, 16, 3)
    border = 1.0 - image_ops.center_mask(16, 12).numpy()[0, ..., 0]
    np.testing.assert_allclose(out[:, border > 0], patches.numpy()[:, border > 0], atol=1e-6)


def test_smoke_training_run(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    result = experiment.run(str(tmp_path / "run"), ["gin/lci.gin", "gin/smoke.gin"], [
        "tfssl.Experiment.export = False", "tfssl.methods.LCI.inpainter_width = 8",
        "tfssl.methods.LCI.discriminator_width = 8", "tfssl.Trainer.progress = False"])
    assert result["step"] == 6
    outputs = result["train"]
    for key in ("loss", "classifier_accuracy", "inpainter_loss", "discriminator_loss", "lci_accuracy"):
        assert np.isfinite(outputs[key]), key
    probes = json.load(open(tmp_path / "run" / "eval" / "classification_probes.json"))
    assert 0.0 <= probes["linear_top1"] <= 1.0 and probes["step"] == 6
    assert os.path.exists(tmp_path / "run" / "operative_config.gin")
