"""The image history pool of a GAN discriminator (Shrivastava et al., CVPR 2017; CycleGAN's `ImagePool`).

The discriminator sees, for each generated image, either that image or (with probability 1/2, once the pool is full)
an older generated image that the new one replaces in the pool, so it keeps penalising what the generator produced a
while ago. KeypointGAN keeps 50 skeleton images.

`history_pool_query` is the pure function (exactly CycleGAN's sequential semantics, one image after another);
`HistoryPool` holds the state as non-trainable weights. Randomness is passed in (two uniforms per image, e.g. from
`layers.rng.example_uniform`) so a step does not depend on the device layout. Under a multi-replica strategy, call
it with the all-gathered global batch and the same uniforms on every replica: every replica then holds the same
pool, and each takes its own slice of the returned images.
"""

from __future__ import annotations

import gin
import keras
import tensorflow as tf


def history_pool_query(pool: tf.Tensor, count: tf.Tensor, images: tf.Tensor,
                       uniforms: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """Passes a batch through the pool, image by image.

    For image i: while the pool holds fewer than P images, it is stored and returned; afterwards, when
    uniforms[i, 0] >= 0.5 the image at slot floor(uniforms[i, 1] * P) is returned and replaced by image i,
    otherwise image i is returned and the pool is unchanged.

    Args:
      pool: float32 [P, H, W, C], the stored images (slots >= count are unused).
      count: int32 scalar in [0, P], how many slots are filled.
      images: float32 [B, H, W, C], the new generated images (gradients are stopped: the pool feeds only D).
      uniforms: float32 [B, 2] in [0, 1).
    Returns:
      (returned images float32 [B, H, W, C], the new pool, the new count).
    """
    images = tf.stop_gradient(tf.cast(images, pool.dtype))
    size = tf.shape(pool)[0]
    batch = tf.shape(images)[0]

    def body(i, pool, count, out):
        image = images[i]
        filling = count < size
        swap = tf.logical_and(tf.logical_not(filling), uniforms[i, 0] >= 0.5)
        slot = tf.where(filling, count,
                        tf.minimum(tf.cast(uniforms[i, 1] * tf.cast(size, tf.float32), tf.int32), size - 1))
        returned = tf.where(swap, pool[slot], image)
        stored = tf.where(tf.logical_or(filling, swap), image, pool[slot])
        pool = tf.tensor_scatter_nd_update(pool, [[slot]], stored[None])
        return i + 1, pool, count + tf.cast(filling, tf.int32), out.write(i, returned)

    out = tf.TensorArray(pool.dtype, size=batch, element_shape=images.shape[1:])
    _, pool, count, out = tf.while_loop(lambda i, *_: i < batch, body,
                                        (tf.constant(0), pool, tf.cast(count, tf.int32), out))
    return out.stack(), pool, count


class HistoryPool(keras.layers.Layer):
    """A pool of `size` past generated images (the paper: 50), as non-trainable weights `pool` and `count`.

    `call(images, uniforms)` returns the images D should see (`history_pool_query`) and updates the state.
    `size=0` disables the pool (images pass through).
    """

    def __init__(self, size: int = 50, **kwargs):
        super().__init__(**kwargs)
        self.size = int(size)

    def build(self, images_shape):
        # The same value on every replica (see the module docstring), so the first replica's write is everyone's.
        self.pool = self.add_weight(shape=(max(self.size, 1), *images_shape[1:]), initializer="zeros",
                                    trainable=False, name="pool", aggregation="only_first_replica")
        self.count = self.add_weight(shape=(), initializer="zeros", dtype="int32", trainable=False, name="count",
                                     aggregation="only_first_replica")

    def call(self, images, uniforms):
        if self.size == 0:
            return tf.stop_gradient(images)
        out, pool, count = history_pool_query(tf.convert_to_tensor(self.pool), tf.convert_to_tensor(self.count),
                                              images, uniforms)
        self.pool.assign(pool)
        self.count.assign(count)
        return out

    def get_config(self):
        return {**super().get_config(), "size": self.size}


@gin.configurable(module="tfssl.layers")
def history_pool(size: int = 50, name: str = "history_pool") -> HistoryPool:
    """The gin door to `HistoryPool` (gin cannot wrap a Keras layer class: Keras inspects its __init__)."""
    return HistoryPool(size=size, name=name)
