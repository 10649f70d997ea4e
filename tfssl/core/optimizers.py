"""Optimizers and learning-rate schedules, bound by gin per network (scope = the network's name).

A method asks for `make_optimizer()` inside `gin.config_scope("encoder")`, so a gin file can give every network
of a GAN-style method its own optimizer: `encoder/make_optimizer.learning_rate = 0.1`.
"""

from __future__ import annotations

import gin
import keras

OPTIMIZERS = ("sgd", "adam", "adamw")


@gin.configurable(module="tfssl")
def make_optimizer(name: str = "sgd", learning_rate: float = 0.1, schedule: str = "cosine",
                   total_steps: int = gin.REQUIRED, warmup_steps: int = 0, end_fraction: float = 1e-3,
                   momentum: float = 0.9, nesterov: bool = False, beta_1: float = 0.9, beta_2: float = 0.999,
                   weight_decay: float | None = None, clipnorm: float | None = None) -> keras.optimizers.Optimizer:
    """Builds a Keras 3 optimizer.

    Args:
      name: "sgd" (with momentum), "adam" or "adamw".
      learning_rate: peak learning rate.
      schedule: "constant" or "cosine" (linear warm-up, then cosine decay to end_fraction * learning_rate).
      total_steps: training steps the schedule spans (bind to the TRAIN_STEPS macro).
      weight_decay: decoupled weight decay (Keras 3 applies `w -= lr * wd * w`), None for none.
    """
    if schedule == "cosine":
        decay_steps = max(1, total_steps - warmup_steps)
        lr = keras.optimizers.schedules.CosineDecay(
            learning_rate if warmup_steps == 0 else 0.0, decay_steps, alpha=end_fraction,
            warmup_target=learning_rate if warmup_steps else None, warmup_steps=warmup_steps)
    elif schedule == "constant":
        lr = learning_rate
    else:
        raise ValueError(f"unknown learning-rate schedule '{schedule}'; use 'cosine' or 'constant'")
    common = dict(learning_rate=lr, weight_decay=weight_decay, clipnorm=clipnorm)
    if name == "sgd":
        return keras.optimizers.SGD(momentum=momentum, nesterov=nesterov, **common)
    if name == "adam":
        return keras.optimizers.Adam(beta_1=beta_1, beta_2=beta_2, **common)
    if name == "adamw":
        return keras.optimizers.AdamW(beta_1=beta_1, beta_2=beta_2, **{**common, "weight_decay": weight_decay or 0.0})
    raise ValueError(f"unknown optimizer '{name}'; use one of {', '.join(OPTIMIZERS)}")
