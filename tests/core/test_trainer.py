"""The Trainer: exact resume (weights, optimizer, schedule and data position), non-finite stop, scalars."""

import json
import os

import gin
import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.method_checks import strategy
from tfssl.errors import ModelDirError, NonFiniteLossError
from tfssl.core.trainer import Trainer
from tfssl.methods.base import Method


class _Regression(Method):
    """A tiny method: linear regression of the batch's `target` from its `image`; NaN loss from step `nan_at`."""

    def __init__(self, nan_at=-1, units=1):
        super().__init__(name="regression")
        self.dense = keras.layers.Dense(units)
        self.dense.build((None, 4))
        self.encoder = self.dense
        self.nan_at = nan_at
        self.add_optimizer("encoder", self.dense.trainable_variables)
        self.built = True

    def train_step(self, batch):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean((self.dense(batch["image"])[:, 0] - batch["target"]) ** 2)
            poison = tf.where(tf.equal(self.step, self.nan_at), np.nan, 0.0)
            loss = loss + poison
        self.minimize("encoder", loss, tape)
        return {"loss": loss}


def _input_fn(skip_batches=0, batch_size=4):
    """A deterministic stream where batch k holds examples 4k..4k+3, so the data position is observable."""
    x = np.random.RandomState(0).randn(400, 4).astype("float32")
    ds = tf.data.Dataset.from_tensor_slices({"image": x, "target": x.sum(-1) * 0.5}).repeat()
    return ds.skip(skip_batches * batch_size).batch(batch_size)


def _trainer(model_dir, steps, schedule_steps=None, **kwargs):
    gin.parse_config([f"tfssl.make_optimizer.total_steps = {schedule_steps or steps}",
                      "tfssl.make_optimizer.learning_rate = 0.05"])
    trainer = Trainer(str(model_dir), strategy("one_device"), train_steps=steps, steps_per_loop=3, log_every=2,
                      checkpoint_every=kwargs.pop("checkpoint_every", 4), image_every=0, progress=False, **kwargs)
    return trainer


def _weights(method):
    return [v.numpy() for v in method.variables]


def test_resume_continues_exactly(tmp_path):
    keras.utils.set_random_seed(1)
    straight = _trainer(tmp_path / "a", 8)
    straight.build(_Regression)
    straight.train(_input_fn)

    keras.utils.set_random_seed(1)
    first = _trainer(tmp_path / "b", 4, schedule_steps=8)  # as if killed after step 4 of 8
    first.build(_Regression)
    first.train(_input_fn)
    gin.clear_config()
    keras.utils.set_random_seed(99)  # a different init must be overwritten by the checkpoint
    second = _trainer(tmp_path / "b", 8)
    second.build(_Regression)
    assert second.step == 4
    second.train(_input_fn)
    assert second.step == 8
    for a, b in zip(_weights(straight.method), _weights(second.method)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    records = [json.loads(line) for line in open(tmp_path / "b" / "runs.jsonl")]
    assert [r["step"] for r in records if r["event"] == "start"] == [0, 4]


def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path):
    trainer = _trainer(tmp_path, 12, checkpoint_every=2)
    trainer.build(lambda: _Regression(nan_at=6))
    with pytest.raises(NonFiniteLossError) as info:
        trainer.train(_input_fn)
    message = str(info.value)
    assert "step 7" in message and "step 6" in message
    assert tf.train.latest_checkpoint(str(tmp_path / "ckpt")).endswith("ckpt-6")
    reader = tf.train.load_checkpoint(str(tmp_path / "ckpt"))
    for name in reader.get_variable_to_shape_map():
        if reader.get_variable_to_dtype_map()[name].is_floating:
            assert np.all(np.isfinite(reader.get_tensor(name))), f"checkpointed {name} is not finite"


def test_summaries_are_written(tmp_path):
    trainer = _trainer(tmp_path, 4)
    trainer.build(_Regression)
    outputs = trainer.train(_input_fn)
    assert np.isfinite(outputs["loss"])
    tags = set()
    for name in os.listdir(tmp_path / "train"):
        for event in tf.compat.v1.train.summary_iterator(str(tmp_path / "train" / name)):
            tags.update(v.tag for v in event.summary.value)
    assert {"loss", "steps_per_second"} <= tags


def test_checkpoint_of_another_model_is_refused(tmp_path):
    trainer = _trainer(tmp_path, 2)
    trainer.build(_Regression)
    trainer.train(_input_fn)
    gin.clear_config()
    other = _trainer(tmp_path, 2)
    with pytest.raises(ModelDirError, match="does not match"):
        other.build(lambda: _Regression(units=3))


def test_unwritable_model_dir(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    trainer = _trainer(blocker / "model", 2)
    with pytest.raises(ModelDirError, match="not writable"):
        trainer.build(_Regression)


def test_two_replicas_train_like_one_device(tmp_path):
    results = []
    for kind in ("one_device", "mirrored"):
        gin.clear_config()
        keras.utils.set_random_seed(3)
        trainer = _trainer(tmp_path / kind, 6)
        trainer.strategy = strategy(kind)
        trainer.build(_Regression)
        trainer.train(_input_fn)
        results.append(_weights(trainer.method))
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
