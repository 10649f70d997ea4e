"""Rotation prediction (RotNet; Gidaris, Singh, Komodakis, ICLR 2018): the baseline every CVPR 2020 paper here uses.

Each image is shown at 0, 90, 180 and 270 degrees in the same batch and the network predicts which rotation it
sees (4-way cross-entropy). The encoder is tfssl's ResNet9, as in Newell & Deng's utility study; a linear head on
the pooled features predicts the rotation. Differences from the reference: a horizontal flip per example (seeded
by example index and step, so it is the same on any replica layout) is the only other augmentation.
"""

from __future__ import annotations

from typing import Callable

import keras
import tensorflow as tf

from tfssl.core.rng import example_uniform
from tfssl.layers.resnet9 import resnet9
from tfssl.methods.base import Method, register

NUM_ROTATIONS = 4
_FLIP_STREAM = 1


def rotate_four(images: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """All four rotations of every image.

    Args:
      images: [B, H, W, C] with H == W.
    Returns:
      rotated: [4B, H, W, C], rotation-major: rows k*B .. (k+1)*B - 1 are the batch rotated by k*90 degrees
        counter-clockwise.
      labels: int32 [4B], the k of each row.
    """
    rotated = tf.concat([tf.image.rot90(images, k) for k in range(NUM_ROTATIONS)], axis=0)
    batch = tf.shape(images)[0]
    labels = tf.repeat(tf.range(NUM_ROTATIONS, dtype=tf.int32), batch)
    return rotated, labels


def random_flip(images: tf.Tensor, index: tf.Tensor, step: tf.Tensor) -> tf.Tensor:
    """Flips each image left-right with probability 1/2, decided by (index, step): [B, H, W, C] -> same."""
    flip = example_uniform(index, step, _FLIP_STREAM)[:, 0] < 0.5
    return tf.where(flip[:, None, None, None], tf.image.flip_left_right(images), images)


@register
class Rotation(Method):
    """Predict which of four rotations an image shows.

    Batch in: {"image": float32 [B, H, W, 3] in [0, 1], "index": int64 [B]}.
    """

    def __init__(self, image_size: int = 64, encoder_fn: Callable[..., keras.Model] = resnet9,
                 flip: bool = True, name: str = "rotation"):
        super().__init__(name=name)
        self.image_size = image_size
        self.flip = flip
        self.encoder = encoder_fn(image_size=image_size)
        self.head = keras.layers.Dense(NUM_ROTATIONS, name="rotation_head")
        self.head.build(self.encoder.output.shape)
        self.add_optimizer("encoder", self.encoder.trainable_variables + self.head.trainable_variables)
        self.built = True

    def rotation_logits(self, images: tf.Tensor, training: bool = False) -> tf.Tensor:
        """float32 [B, H, W, 3] in [0, 1] -> logits [B, 4] over (0, 90, 180, 270) degrees."""
        return self.head(self.encoder(images, training=training))

    def train_step(self, batch):
        images = batch["image"]
        if self.flip:
            images = random_flip(images, batch["index"], self.step)
        rotated, labels = rotate_four(images)
        with tf.GradientTape() as tape:
            logits = self.rotation_logits(rotated, training=True)
            loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True))
        self.minimize("encoder", loss, tape)
        accuracy = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(logits, -1, output_type=tf.int32), labels), tf.float32))
        return {"loss": loss, "rotation_accuracy": accuracy}

    def summaries(self, batch):
        """The four rotations of up to 4 images, one row per rotation."""
        rotated, _ = rotate_four(batch["image"][:4])
        return {"rotations": rotated}

    def serving_endpoints(self):
        spec = [tf.TensorSpec([None, self.image_size, self.image_size, 3], tf.float32, name="images")]
        return {"predict_rotation": (lambda images: tf.nn.softmax(self.rotation_logits(images)), spec)}
