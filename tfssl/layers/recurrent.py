"""Small recurrent cells unrolled over a static number of steps (sequence models of short clips, T <= ~20).

Keras' own RNN cells each create a dropout SeedGenerator whose state variable gets a process-wide auto-numbered name
("seed_generator_7"), so two builds of one model differ in variable paths, which tfssl's checkpoint and replica
checks compare. These cells have no dropout and only named weights. Gates follow Keras' LSTM (i, f, c, o; forget
bias initialised to 1).
"""

from __future__ import annotations

import keras
import tensorflow as tf


class LSTMCell(keras.layers.Layer):
    """One LSTM step: (x [B, F], (h, c) [B, units] each) -> (h, (h, c))."""

    def __init__(self, units: int, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        features = int(input_shape[-1])
        self.kernel = self.add_weight((features, 4 * self.units), initializer="glorot_uniform", name="kernel")
        self.recurrent_kernel = self.add_weight((self.units, 4 * self.units), initializer="orthogonal",
                                                name="recurrent_kernel")
        forget = tf.concat([tf.zeros([self.units]), tf.ones([self.units]), tf.zeros([2 * self.units])], 0)
        self.bias = self.add_weight((4 * self.units,), initializer=lambda shape, dtype=None: forget, name="bias")

    def initial_state(self, batch: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        zeros = tf.zeros([batch, self.units])
        return zeros, zeros

    def call(self, x, state):
        h, c = state
        z = tf.matmul(x, self.kernel) + tf.matmul(h, self.recurrent_kernel) + self.bias
        i, f, g, o = tf.split(z, 4, axis=-1)
        c = tf.sigmoid(f) * c + tf.sigmoid(i) * tf.tanh(g)
        h = tf.sigmoid(o) * tf.tanh(c)
        return h, (h, c)


class SimpleRNNCell(keras.layers.Layer):
    """One Elman step: (x [B, F], (h,) [B, units]) -> (h, (h,)), h = tanh(x W + h U + b)."""

    def __init__(self, units: int, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.kernel = self.add_weight((int(input_shape[-1]), self.units), initializer="glorot_uniform",
                                      name="kernel")
        self.recurrent_kernel = self.add_weight((self.units, self.units), initializer="orthogonal",
                                                name="recurrent_kernel")
        self.bias = self.add_weight((self.units,), initializer="zeros", name="bias")

    def initial_state(self, batch: tf.Tensor) -> tuple[tf.Tensor]:
        return (tf.zeros([batch, self.units]),)

    def call(self, x, state):
        h = tf.tanh(tf.matmul(x, self.kernel) + tf.matmul(state[0], self.recurrent_kernel) + self.bias)
        return h, (h,)


def unroll(cell: keras.layers.Layer, inputs: tf.Tensor, reverse: bool = False) -> tf.Tensor:
    """Runs `cell` over inputs [B, T, F] (T static) from a zero state -> outputs [B, T, units], time-aligned (with
    `reverse` the cell reads T-1 .. 0 and output t is the state after reading x_t .. x_{T-1})."""
    steps = inputs.shape[1]
    state = cell.initial_state(tf.shape(inputs)[0])
    outputs = [None] * steps
    for t in (reversed(range(steps)) if reverse else range(steps)):
        outputs[t], state = cell(inputs[:, t], state)
    return tf.stack(outputs, axis=1)


def unroll_stack(cells, inputs: tf.Tensor) -> tf.Tensor:
    """Stacked cells (each layer's outputs are the next one's inputs): [B, T, F] -> [B, T, units of the last]."""
    for cell in cells:
        inputs = unroll(cell, inputs)
    return inputs
