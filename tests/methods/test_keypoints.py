"""KeypointGAN: update order and isolation, the bottleneck, eta pre-training, D shapes, and the method contract."""

import json

import gin
import numpy as np
import pytest
import tensorflow as tf

from tests.method_checks import Returns, check_replica_equivalence, run_method_checks
from tfssl.errors import ModelDirError
from tfssl.data.render import figures
from tfssl.methods.keypoints import KeypointGAN, lsgan_loss, unit_to_pixels

# SGD: its step is linear in the gradient, so 2 replicas match 1 device closely (Adam's first step is lr * sign(g)).
BINDINGS = ["tfssl.make_optimizer.total_steps = 10", "tfssl.make_optimizer.learning_rate = 0.01"]
K = figures.NUM_JOINTS
SMALL = dict(image_size=32, limbs=figures.LIMBS, num_points=K, width=0.125, heatmap_size=8, discriminator_scales=1,
             discriminator_width=0.125, pool_size=6)


def _batch(n=4, size=32, seed=0):
    rs = np.random.RandomState(seed)
    return {"image": rs.rand(n, size, size, 3).astype("float32"),
            "appearance": rs.rand(n, size, size, 3).astype("float32"),
            "prior_points": rs.uniform(-0.8, 0.8, (n, K, 2)).astype("float32"),
            "points": rs.uniform(-0.8, 0.8, (n, K, 2)).astype("float32"),
            "index": np.arange(n, dtype="int64") * 3 + 1}


def _method(**overrides):
    gin.parse_config(BINDINGS)
    return KeypointGAN(**{**SMALL, **overrides})


def _values(variables):
    return [v.numpy().copy() for v in variables]


def _changed(before, variables):
    return [not np.array_equal(b, v.numpy()) for b, v in zip(before, variables)]


def test_updates_run_g_then_d_then_eta_and_each_moves_only_its_network():
    method = _method()
    groups = {"eta": method.eta.trainable_variables, "discriminator": method.discriminator.trainable_variables,
              "generator": method.phi.trainable_variables + method.psi.trainable_variables}
    log = []
    apply = method._apply

    def recording(name, loss, tape):
        before = {g: _values(v) for g, v in groups.items()}
        apply(name, loss, tape)
        moved = {g for g, v in groups.items() if any(_changed(before[g], v))}
        log.append((name, moved))

    method._apply = recording
    outputs = method.train_step({k: tf.constant(v) for k, v in _batch().items()})
    assert [name for name, _ in log] == ["generator", "discriminator", "eta"]
    assert all(moved == {name} for name, moved in log), log  # eta does not change in the G step, etc.
    assert all(np.isfinite(v.numpy()) for v in outputs.values())


def test_psi_sees_x_only_through_the_points():
    method = _method(adversarial_weight=0.0)
    batch = _batch()
    x, appearance = tf.constant(batch["image"]), tf.constant(batch["appearance"])
    # With eta blind to its input (constant points), nothing of x reaches the reconstruction: no gradient to Phi,
    # and two different frames give the same reconstruction.
    eta = method.eta
    method.eta = lambda y, training=False: tf.zeros([tf.shape(y)[0], K, 2]) + 0.0 * tf.reduce_mean(y)
    with tf.GradientTape() as tape:
        losses = method.generator_losses(x, appearance, training=False)
    grads = tape.gradient(losses["perceptual"], method.phi.trainable_variables)
    assert all(g is None or not np.any(g.numpy()) for g in grads)
    other = method.generator_losses(tf.constant(_batch(seed=1)["image"]), appearance, training=False)
    np.testing.assert_allclose(losses["reconstruction"], other["reconstruction"], atol=1e-6)
    # With the real eta the gradient does reach Phi through eta and beta.
    method.eta = eta
    with tf.GradientTape() as tape:
        losses = method.generator_losses(x, appearance, training=False)
    grads = tape.gradient(losses["perceptual"], method.phi.trainable_variables)
    assert any(g is not None and np.any(g.numpy()) for g in grads)


def test_eta_pretraining_trains_eta_alone_and_starts_a_joint_run(tmp_path):
    method = _method(phase="pretrain_eta")
    batch = {k: tf.constant(v) for k, v in _batch().items()}
    others = method.phi.trainable_variables + method.psi.trainable_variables + method.discriminator.trainable_variables
    before, eta_before = _values(others), _values(method.eta.trainable_variables)
    step = tf.function(method.train_step)
    for _ in range(2):
        outputs = step(batch)
    assert not any(_changed(before, others)) and all(_changed(eta_before, method.eta.trainable_variables))
    assert float(outputs["discriminator_loss"]) == 0.0 and float(outputs["eta_prior_mse"]) > 0.0
    tf.train.Checkpoint(**method.checkpoint_items()).save(str(tmp_path / "ckpt" / "ckpt"))
    # A joint run reads only eta from it, once, on a fresh start.
    joint = _method(eta_weights=str(tmp_path))
    phi = _values(joint.phi.variables)
    joint.prepare_training()
    for a, b in zip(method.eta.variables, joint.eta.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert not any(_changed(phi, joint.phi.variables))
    with pytest.raises(ModelDirError, match="no checkpoint"):
        _method(eta_weights=str(tmp_path / "missing")).prepare_training()


def test_discriminator_scales_and_lsgan():
    method = _method(image_size=64, heatmap_size=16, discriminator_scales=2)
    outputs = method.discriminator(np.zeros((2, 64, 64, 1), np.float32))
    assert [tuple(o.shape) for o in outputs] == [(2, 6, 6, 1), (2, 2, 2, 1)]
    np.testing.assert_allclose(lsgan_loss([tf.ones((2, 3)), tf.zeros((1, 2))], 1.0), 1.0)
    with pytest.raises(ValueError, match="limbs"):
        _method(limbs=())


def test_detect_keypoints_are_pixels_of_the_encoder_points():
    method = _method()
    x = tf.constant(_batch()["image"])
    points = method.keypoints(x)
    np.testing.assert_allclose(method.detect_keypoints(x), unit_to_pixels(points, 32), rtol=1e-5)
    np.testing.assert_allclose(method.encoder(x), tf.reshape(points, [-1, 2 * K]), rtol=1e-5)
    np.testing.assert_allclose(unit_to_pixels(tf.constant([-1.0, 1.0]), 32), [0.5, 31.5])


def test_keypointgan_method_contract(tmp_path):
    gin.parse_config(BINDINGS)
    run_method_checks(lambda: KeypointGAN(**SMALL), _batch(), tmp_path / "export",
                      endpoints={"detect_keypoints": Returns((K, 2), 0.0, 32.0)})


def test_pretraining_phase_matches_on_two_replicas():
    gin.parse_config(BINDINGS)
    check_replica_equivalence(lambda: KeypointGAN(**{**SMALL, "phase": "pretrain_eta"}), _batch())


def test_smoke_runs_pretrain_eta_then_joint(tmp_path, monkeypatch):
    from tests.conftest import REPO
    from tfssl.core import experiment

    monkeypatch.chdir(REPO)
    tiny = ["tfssl.methods.KeypointGAN.width = 0.125", "tfssl.methods.KeypointGAN.discriminator_width = 0.125",
            "tfssl.Trainer.progress = False"]
    eta = experiment.run(str(tmp_path / "eta"), ["gin/keypoints_eta.gin", "gin/smoke.gin"], tiny)
    assert eta["step"] == 6 and np.isfinite(eta["train"]["eta_prior_mse"])
    round_trip = json.load(open(tmp_path / "eta" / "eval" / "prior_round_trip.json"))
    assert 0.0 < round_trip["eta_round_trip_error"] < 100.0
    joint = experiment.run(str(tmp_path / "joint"), ["gin/keypoints.gin", "gin/smoke.gin"], tiny + [
        "tfssl.Experiment.export = False", "tfssl.evaluation.keypoint_metrics.max_examples = 2",
        f"tfssl.methods.KeypointGAN.eta_weights = '{tmp_path / 'eta'}'"])
    assert joint["step"] == 6
    for key in ("generator_loss", "discriminator_loss", "eta_loss", "perceptual"):
        assert np.isfinite(joint["train"][key]), key
    metrics = json.load(open(tmp_path / "joint" / "eval" / "keypoint_metrics.json"))
    assert metrics["mean_pose_error"] > 0 and np.isfinite(metrics["keypoint_error"])
    regression = json.load(open(tmp_path / "joint" / "eval" / "keypoint_regression.json"))
    assert regression["train_frames"] == 256 and np.isfinite(regression["regressed_error"])  # smoke.gin's cap
