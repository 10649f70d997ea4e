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

from tfssl.layers.augment import NUM_ROTATIONS, random_flip, rotate_four
from tfssl.layers.resnet9 import resnet9
from tfssl.layers.rng import example_uniform
from tfssl.methods.base import Method, register

_FLIP_STREAM = 1


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
            images = random_flip(images, example_uniform(batch["index"], self.step, _FLIP_STREAM)[:, 0])
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
