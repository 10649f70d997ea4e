"""Strategy factory: one gin binding chooses how a run is spread over devices and hosts.

`auto` takes every local GPU through MirroredStrategy and otherwise one device; `multi_worker` reads TF_CONFIG
(one process per host). Keras 3 `fit` does not run under MultiWorkerMirroredStrategy (keras-team/keras#20585),
which is why `core.trainer` owns its `strategy.run` loop.
"""

from __future__ import annotations

import os

import gin
import tensorflow as tf

STRATEGIES = ("auto", "one_device", "mirrored", "multi_worker", "tpu")


@gin.configurable(module="tfssl")
def make_strategy(kind: str = "auto", devices: tuple[str, ...] | None = None,
                  communication: str = "auto") -> tf.distribute.Strategy:
    """Builds a `tf.distribute.Strategy`.

    Args:
      kind: one of `STRATEGIES`.
      devices: for `mirrored`/`one_device`, explicit device names (e.g. ("/cpu:0", "/cpu:1") for two logical
        CPUs in tests); default: all GPUs, or the CPU.
      communication: for `multi_worker`: "auto", "ring" or "nccl".
    """
    if kind not in STRATEGIES:
        raise ValueError(f"unknown strategy '{kind}'; use one of {', '.join(STRATEGIES)}")
    # Physical, not logical, devices: listing logical ones initialises the TF context, after which
    # MultiWorkerMirroredStrategy can no longer configure its collectives ("must be configured at startup").
    gpus = [f"/gpu:{i}" for i, _ in enumerate(tf.config.list_physical_devices("GPU"))]
    if kind == "auto":
        kind = "mirrored" if len(gpus) > 1 else "one_device"
    if kind == "one_device":
        device = (devices or (gpus[:1] or ["/cpu:0"]))[0]
        return tf.distribute.OneDeviceStrategy(device)
    if kind == "mirrored":
        return tf.distribute.MirroredStrategy(list(devices) if devices else (gpus or None))
    if kind == "multi_worker":
        if "TF_CONFIG" not in os.environ:
            raise ValueError("strategy 'multi_worker' needs the TF_CONFIG environment variable "
                             "(cluster and task of this worker); set it on every host")
        implementation = {
            "auto": tf.distribute.experimental.CommunicationImplementation.AUTO,
            "ring": tf.distribute.experimental.CommunicationImplementation.RING,
            "nccl": tf.distribute.experimental.CommunicationImplementation.NCCL,
        }[communication]
        options = tf.distribute.experimental.CommunicationOptions(implementation=implementation)
        return tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
    resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
    return tf.distribute.TPUStrategy(resolver)


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """True on the worker that writes summaries, evaluation and exports (the chief, or worker 0 without one)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    if resolver.task_type == "chief":
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return resolver.task_type == "worker" and resolver.task_id == 0 and not has_chief


def use_logical_cpus(n: int) -> None:
    """Splits the CPU into `n` logical devices so MirroredStrategy can be exercised without GPUs.

    Must run before TensorFlow initialises its devices (i.e. before the first op).
    """
    cpu = tf.config.list_physical_devices("CPU")[0]
    if len(tf.config.get_logical_device_configuration(cpu) or []) != n:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * n)


def gather_replicas(value: tf.Tensor) -> tf.Tensor:
    """The global batch of `value` (replica order) on every replica, the value itself without a strategy; called in
    replica context. Differentiable: all_gather's gradient is an all-reduce, so each replica's share comes back."""
    return tf.distribute.get_replica_context().all_gather(value, axis=0)


def replica_offset(local_size: tf.Tensor) -> tf.Tensor:
    """Where this replica's examples start in the global batch (all-gather's replica order): int32 scalar >= 0.

    The sum of the local batch sizes of the replicas before this one (0 without a strategy), so the offset is right
    even when the replicas hold different numbers of examples.
    """
    context = tf.distribute.get_replica_context()
    sizes = context.all_gather(tf.reshape(tf.cast(local_size, tf.int32), [1]), axis=0)
    return tf.reduce_sum(sizes[:context.replica_id_in_sync_group])
