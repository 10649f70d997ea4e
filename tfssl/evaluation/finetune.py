"""Fine-tuning an encoder (or training it from scratch) with a task head on a label budget (Newell & Deng, Sec. 4).

The downstream half of the utility study (`tfssl.evaluation.utility_study`): the same architecture, the same head,
the same optimizer and schedule for the pretrained and the scratch encoder, so the only difference between two runs
is where the encoder's weights start.

- Tasks (`TASKS`): object class (10-way) and pose (5-way) on `tfssl_objects`, whose test split holds shape models
  never seen in training; foreground segmentation (pixel accuracy) on `tfssl_scenes`, where the encoder is a dense
  trunk: its feature map before global pooling ([B, H/8, W/8, C] for ResNet9), a 1x1 convolution to class logits
  and a bilinear upsampling to the image size.
- Schedule: Adam, linear warm-up then linear decay to 0 (the paper's). A budget of n labels is tiled: the step's
  batch walks concatenated random permutations of the n examples, so a run of 100 labels gets as many steps as the
  schedule asks (the paper tiles short subsets to >= 10k samples an epoch).
- No augmentation: a horizontal flip changes the pose label (it mirrors the in-plane rotation), and the paper's
  comparison needs only the same treatment on both sides.

Differences from the reference (princeton-vl/selfstudy, PyTorch + Ray Tune), and why: the learning rate and step
count are gin-bound constants instead of a per-setting Ray Tune search (a CPU cannot afford the search; the same
constants on both sides keep the comparison fair, though possibly at a schedule that suits one side better); the
accuracy is the final model's on the test split rather than the best validation checkpoint's.

Speed: one `FineTuner` per (architecture, task) builds the model and traces its step once; every run then only
assigns weights (`run`), so 100 runs cost 100 trainings and one trace.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import time

import keras
import numpy as np
import tensorflow as tf

from tfssl.data import pipelines
from tfssl.errors import UserError

__all__ = ["Task", "TASKS", "load_task_arrays", "batch_indices", "warmup_linear_decay", "dense_trunk",
           "architecture", "build_encoder", "FineTuner"]


@dataclasses.dataclass(frozen=True)
class Task:
    """A downstream task.

    Attributes:
      name: the study's key ("class", "pose", "segmentation").
      builder: the TFDS builder the task reads ("tfssl_objects" or "tfssl_scenes").
      target: the label feature ("label", "pose") or "foreground" (any object's modal mask, per pixel).
      num_classes: C.
      dense: per-pixel targets [H, W] (a dense trunk and pixel accuracy) instead of one label per image.
    """

    name: str
    builder: str
    target: str
    num_classes: int
    dense: bool = False


TASKS = {
    "class": Task("class", "tfssl_objects", "label", 10),
    "pose": Task("pose", "tfssl_objects", "pose", 5),
    "segmentation": Task("segmentation", "tfssl_scenes", "foreground", 2, dense=True),
}


def get_task(name: str) -> Task:
    if name not in TASKS:
        raise UserError(f"unknown utility task '{name}'; use one of {', '.join(TASKS)}")
    return TASKS[name]


def load_task_arrays(task: Task, dataset: str, split: str, max_examples: int | None = None,
                     batch: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """A split of a task's dataset as arrays, in file order (the first n examples are a label budget of n).

    Args:
      task: the task (its `target` picks the labels).
      dataset: TFDS name, size already resolved (e.g. `tfssl_objects/tc00_small`).
      split: e.g. "train", "test".
      max_examples: read only the first examples.
    Returns:
      (images uint8 [N, H, W, 3], targets int32 [N] or, for dense tasks, uint8 [N, H, W] in [0, C)).
    """
    builder = pipelines.load_builder(dataset)
    if split not in builder.info.splits:
        raise UserError(f"dataset '{dataset}' has no split '{split}'; use one of {', '.join(builder.info.splits)}")
    ds = builder.as_dataset(split=split, shuffle_files=False)
    if max_examples is not None:
        ds = ds.take(max_examples)

    def select(example):
        if task.target == "foreground":
            # modal: uint8 [K, H, W], one visible mask per object slot (empty slots are 0).
            target = tf.cast(tf.reduce_max(example["modal"], axis=0) > 0, tf.uint8)
        else:
            target = tf.cast(example[task.target], tf.int32)
        return example["image"], target

    images, targets = [], []
    for image_batch, target_batch in ds.map(select, num_parallel_calls=tf.data.AUTOTUNE).batch(batch):
        images.append(image_batch.numpy())
        targets.append(target_batch.numpy())
    if not images:
        raise UserError(f"dataset '{dataset}' split '{split}' is empty")
    return np.concatenate(images), np.concatenate(targets)


def batch_indices(num_examples: int, batch_size: int, steps: int, seed: int) -> np.ndarray:
    """Which examples each step trains on: concatenated random permutations of range(n), cut into batches.

    The tiling of small label budgets: every example is seen the same number of times (+-1) whatever n, and the
    order is a pure function of (n, batch_size, steps, seed).

    Returns:
      int64 [steps, batch_size] in [0, num_examples).
    """
    if num_examples < 1 or batch_size < 1 or steps < 0:
        raise ValueError(f"need num_examples, batch_size >= 1 and steps >= 0, got {num_examples}, {batch_size}, "
                         f"{steps}")
    rng = np.random.default_rng(seed)
    needed = steps * batch_size
    epochs = -(-needed // num_examples) if needed else 0
    order = np.concatenate([rng.permutation(num_examples) for _ in range(epochs)] or [np.zeros(0, np.int64)])
    return order[:needed].reshape(steps, batch_size).astype(np.int64)


def warmup_linear_decay(step: int, total_steps: int, warmup_steps: int, peak: float) -> float:
    """The learning rate of step `step` (0-based): linear from peak/warmup to peak over the first warmup_steps,
    then linear down to 0 at total_steps (Newell & Deng's schedule). Always in [0, peak]."""
    if step < warmup_steps:
        return peak * (step + 1) / warmup_steps
    remaining = max(1, total_steps - warmup_steps)
    return peak * max(0.0, 1.0 - (step - warmup_steps) / remaining)


def architecture(encoder: keras.Model) -> dict:
    """The encoder's architecture as a plain dict (no weights): `build_encoder` makes fresh copies of it."""
    return keras.saving.serialize_keras_object(encoder)


def build_encoder(spec: dict) -> keras.Model:
    """A new encoder of the architecture `spec` (`architecture`), freshly initialised (seed with
    `keras.utils.set_random_seed` first)."""
    # Deserialisation consumes parts of the dict it is given: hand it a copy so the spec can be reused.
    return keras.saving.deserialize_keras_object(copy.deepcopy(spec))


def dense_trunk(encoder: keras.Model) -> keras.Model:
    """The encoder up to its global pooling: images [B, H, W, 3] -> feature map [B, h, w, C].

    Raises:
      UserError: the encoder has no GlobalAveragePooling2D / GlobalMaxPooling2D layer to cut before.
    """
    pools = [layer for layer in encoder.layers
             if isinstance(layer, (keras.layers.GlobalAveragePooling2D, keras.layers.GlobalMaxPooling2D))]
    if not pools:
        raise UserError(f"encoder '{encoder.name}' has no global pooling layer, so it cannot serve as a dense trunk "
                        "for segmentation; leave 'segmentation' out of the study's tasks")
    return keras.Model(encoder.inputs, pools[-1].input, name=f"{encoder.name}_trunk")


def _classifier(encoder: keras.Model, task: Task) -> tuple[keras.Model, keras.layers.Layer]:
    """encoder + task head: images float32 [B, H, W, 3] in [0, 1] -> logits [B, C] or [B, H, W, C]."""
    images = keras.Input(encoder.input_shape[1:], name="images")
    if task.dense:
        head = keras.layers.Conv2D(task.num_classes, 1, name="head")
        logits = head(dense_trunk(encoder)(images))
        # Bilinear upsampling of the coarse logits to every pixel (a dense trunk with the lightest head).
        logits = keras.layers.Resizing(images.shape[1], images.shape[2], interpolation="bilinear",
                                       name="upsample")(logits)
    else:
        head = keras.layers.Dense(task.num_classes, name="head")
        logits = head(encoder(images))
    return keras.Model(images, logits, name=f"{task.name}_model"), head


class FineTuner:
    """One model (a copy of an encoder architecture + a task head) and its traced train step, reused by every run.

    Args:
      encoder_spec: `architecture(encoder)` of a Keras encoder (images [B, H, W, 3] in [0, 1] -> [B, D]).
      task: the task (head and loss).
      batch_size: examples per step.
      learning_rate: Adam's peak learning rate (`warmup_linear_decay`).
      warmup_fraction: fraction of a run's steps spent warming up, in [0, 1).
      bn_momentum: the BatchNormalization momentum of the fine-tuned copy. Keras' 0.99 leaves a third of the
        initial (or pretraining) statistics in the moving averages after 100 steps, so a short run would be
        evaluated with statistics of another distribution; 0.9 forgets them within a few dozen steps.
    """

    def __init__(self, encoder_spec: dict, task: Task, *, batch_size: int, learning_rate: float,
                 warmup_fraction: float, bn_momentum: float = 0.9):
        self.encoder_spec = encoder_spec
        self.task = task
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.warmup_fraction = warmup_fraction
        self.encoder = build_encoder(encoder_spec)
        for layer in self.encoder.layers:
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.momentum = bn_momentum  # read when the step is traced (below), so set before
        self.model, self.head = _classifier(self.encoder, task)
        self.optimizer = keras.optimizers.Adam(learning_rate)
        self.optimizer.build(self.model.trainable_variables)
        self._train_step = tf.function(self._step, reduce_retracing=True)
        self._predict = tf.function(lambda images: tf.argmax(self.model(images, training=False), axis=-1),
                                    reduce_retracing=True)

    def fresh_weights(self, seed: int) -> list[np.ndarray]:
        """The weights of a freshly initialised encoder of this architecture (the scratch start), seeded."""
        keras.utils.set_random_seed(seed)
        return build_encoder(self.encoder_spec).get_weights()

    def _step(self, images, targets, learning_rate):
        self.optimizer.learning_rate.assign(learning_rate)
        with tf.GradientTape() as tape:
            logits = self.model(tf.cast(images, tf.float32) / 255.0, training=True)
            loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(targets, logits, from_logits=True))
        variables = self.model.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    def _reset(self, encoder_weights: list[np.ndarray], seed: int) -> None:
        """Encoder <- encoder_weights (moving BN statistics included), head <- a seeded fresh init, Adam <- zero."""
        self.encoder.set_weights(encoder_weights)
        for variable in self.head.weights:
            if "kernel" in variable.path:
                init = keras.initializers.GlorotUniform(seed=seed)(variable.shape)
            else:
                init = np.zeros(variable.shape, np.float32)
            variable.assign(init)
        for variable in self.optimizer.variables:
            if variable is not self.optimizer.learning_rate:
                variable.assign(tf.zeros_like(variable))

    def run(self, encoder_weights: list[np.ndarray], images: np.ndarray, targets: np.ndarray, *, steps: int,
            seed: int) -> dict:
        """Trains from `encoder_weights` on (images, targets) for `steps` steps; returns the training record.

        Args:
          encoder_weights: the encoder's start (`get_weights()` of a pretrained encoder, or `fresh_weights`).
          images: uint8 [n, H, W, 3], the label budget; targets: int [n] or [n, H, W].
          steps: optimizer steps (the schedule spans exactly these).
          seed: head init and batch order.
        Returns:
          {"steps", "final_loss" (mean of the last 10 steps' losses), "seconds"}.
        """
        if steps < 1:
            raise ValueError(f"a run needs at least one step, got {steps}")
        self._reset(encoder_weights, seed)
        order = batch_indices(len(images), self.batch_size, steps, seed)
        warmup = int(round(self.warmup_fraction * steps))
        begun, losses = time.time(), []
        for step, idx in enumerate(order):
            lr = warmup_linear_decay(step, steps, warmup, self.learning_rate)
            loss = self._train_step(tf.constant(images[idx]), tf.constant(targets[idx]), tf.constant(lr, tf.float32))
            losses.append(loss)
        last = [float(v) for v in losses[-10:]]
        final_loss = float(np.mean(last)) if last else math.nan
        if not np.isfinite(final_loss):
            raise UserError(f"fine-tuning diverged (loss {final_loss}); lower the study's learning_rate")
        return {"steps": int(steps), "final_loss": final_loss, "seconds": time.time() - begun}

    def accuracy(self, images: np.ndarray, targets: np.ndarray, batch: int = 500) -> float:
        """Top-1 accuracy in [0, 1] of the current model on (images, targets); pixel accuracy for dense tasks."""
        correct = 0
        for start in range(0, len(images), batch):
            predicted = self._predict(tf.cast(tf.constant(images[start:start + batch]), tf.float32) / 255.0).numpy()
            correct += int(np.sum(predicted == targets[start:start + batch]))
        return correct / float(targets.size)
