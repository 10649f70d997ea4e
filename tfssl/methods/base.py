"""The contract every tfssl method fulfils (DESIGN.md, "Method"), and the plumbing they share.

A method is a `keras.Model` that owns its networks, its optimizers and its losses. `train_step` is one
*per-replica* step: the trainer calls it through `strategy.run`, and Keras 3 optimizers all-reduce gradients with
SUM, so each loss that feeds a gradient is divided by the number of replicas (`minimize` does it). The values a
step returns are per-replica means in natural units; the trainer averages them over replicas for logging.
"""

from __future__ import annotations

import inspect

import gin
import keras
import tensorflow as tf

from tfssl.core.optimizers import make_optimizer


def register(cls=None, *, module: str = "tfssl.methods"):
    """`gin.configurable` for Keras classes.

    Gin replaces `__init__` by a `(*args, **kwargs)` wrapper, and Keras 3 reads the constructor's argument names
    from its signature when an object is created; restoring `__signature__` keeps both working.
    """
    def wrap(klass):
        signature = inspect.signature(klass.__init__)
        klass = gin.configurable(klass, module=module)
        klass.__init__.__signature__ = signature
        return klass
    return wrap(cls) if cls is not None else wrap


class Method(keras.Model):
    """Base class. Subclasses build `self.encoder` and call `self.add_optimizer(...)` for each network."""

    def __init__(self, name: str):
        super().__init__(name=name)
        self._optimizers: dict[str, tuple[keras.optimizers.Optimizer, list]] = {}

    # ---- networks and optimizers -------------------------------------------------------------------------
    def add_optimizer(self, name: str, variables: list) -> keras.optimizers.Optimizer:
        """Creates the gin-scoped optimizer `name` for `variables` and builds its slots now.

        Keras 3 optimizers only know the variables they were built with, and under a strategy their slots must be
        created inside `strategy.scope()` before the first traced step.
        """
        with gin.config_scope(name):
            optimizer = make_optimizer()
        optimizer.build(variables)
        self._optimizers[name] = (optimizer, variables)
        return optimizer

    @property
    def optimizers(self) -> dict[str, keras.optimizers.Optimizer]:
        return {name: opt for name, (opt, _) in self._optimizers.items()}

    def optimizer_variables(self, name: str) -> list:
        return self._optimizers[name][1]

    @property
    def step(self) -> tf.Variable:
        """Training steps taken: the first optimizer's update count (checkpointed with it)."""
        return next(iter(self._optimizers.values()))[0].iterations

    def minimize(self, name: str, loss: tf.Tensor, tape: tf.GradientTape) -> None:
        """One update of optimizer `name` from a per-replica mean loss (scaled so replicas SUM to the global mean)."""
        optimizer, variables = self._optimizers[name]
        scale = tf.distribute.get_strategy().num_replicas_in_sync
        grads = tape.gradient(loss, variables, output_gradients=tf.constant(1.0 / scale, loss.dtype))
        optimizer.apply_gradients(zip(grads, variables))

    def checkpoint_items(self) -> dict:
        """Everything a checkpoint must hold to resume exactly: networks and each optimizer's state."""
        return {"method": self, **{f"optimizer_{n}": opt for n, (opt, _) in self._optimizers.items()}}

    # ---- the contract --------------------------------------------------------------------------------------
    def call(self, images, training=False):
        """Encoder features: float32 [B, H, W, 3] in [0, 1] -> [B, D]."""
        return self.encoder(images, training=training)

    def train_step(self, batch):  # pragma: no cover - abstract
        raise NotImplementedError

    def prepare_training(self) -> None:
        """Work before the first step of a training run that building a config must not do (e.g. read weights).

        The trainer calls it in cross-replica context (inside `strategy.scope()`, outside any traced step), so an
        assignment reaches every replica's copy of a variable; `compile` calls it for `fit` on one device.
        """

    def sample_images(self, batch: dict):
        """The encoder's inputs in a training batch (export parity checks, endpoint tests): float32 [N, H, W, 3] in
        [0, 1]. Image methods read batch["image"]; a method whose batches hold something else (S3VAE: clips) says
        how its encoder's images come out of them."""
        return batch["image"]

    def summaries(self, batch: dict) -> dict[str, tf.Tensor]:
        """Images for TensorBoard: name -> float32 [N, H, W, 3] in [0, 1]."""
        return {}

    def serving_endpoints(self) -> dict:
        """Task-specific export signatures: name -> (fn, [tf.TensorSpec, ...])."""
        return {}

    def tflite_endpoints(self) -> dict:
        """Extra on-device models, each exported as `<name>.tflite` (float32) beside the encoder's and checked in
        LiteRT: name -> (fn, [one tf.TensorSpec with a None batch]); fn maps that one input to one output."""
        return {}

    def compile(self, **kwargs):
        """Plain `compile(); fit(ds)` on one device: the method already owns its optimizers and losses."""
        kwargs.setdefault("optimizer", next(iter(self.optimizers.values())))
        self.prepare_training()
        super().compile(**kwargs)
