"""The safety net every method gets in three lines (STYLE.md, keras-hub's test drivers):

    def test_method_contract(tmp_path):
        gin.parse_config(BINDINGS)
        run_method_checks(lambda: MyMethod(image_size=32), make_batch(), tmp_path)

It checks, on a real batch:
  1. one step returns a non-empty dict of finite scalars;
  2. every optimizer moves all of its own variables, optimizers own disjoint variables, and no trainable
     variable outside the optimizers' lists moves;
  3. one step on 2 replicas (two logical CPUs) gives the same variables (trainable and not: BN statistics,
     memory banks) as one step on one device with the same global batch;
  4. plain `compile(); fit()` on one device runs and returns finite losses;
  5. a checkpoint of `checkpoint_items()` restores every variable into a freshly built method (Keras 3 does not
     track layers kept in plain Python lists: such a network would silently come back at its initial values);
  6. the exports (SavedModel, Hub, TF-Lite) reproduce the live encoder and serving endpoints.
"""

from __future__ import annotations

import functools
import os
from typing import Callable

import keras
import numpy as np
import tensorflow as tf

from tfssl.core import distribute


@functools.lru_cache(maxsize=None)
def strategy(kind: str) -> tf.distribute.Strategy:
    """One strategy instance per kind for the whole test process.

    A second MirroredStrategy in one process restarts collective-op instance keys, which then collide with the
    first one's (synchronized BN all-reduces): "Shape mismatch in the collective instance".
    """
    if kind == "mirrored":
        return distribute.make_strategy("mirrored", devices=("/cpu:0", "/cpu:1"))
    return distribute.make_strategy("one_device")


def _snapshot(variables) -> list[np.ndarray]:
    return [np.array(v.numpy()) for v in variables]


def _build(strategy, make_method, seed: int):
    with strategy.scope():
        keras.utils.set_random_seed(seed)
        return make_method()


def one_step(strategy, method, batch: dict) -> dict:
    """One `train_step` under `strategy` on a GLOBAL batch, outputs averaged over replicas."""
    dataset = tf.data.Dataset.from_tensors(batch)
    distributed = strategy.experimental_distribute_dataset(dataset)

    @tf.function
    def step(b):
        outputs = strategy.run(method.train_step, (b,))
        return {k: strategy.reduce(tf.distribute.ReduceOp.MEAN, v, axis=None) for k, v in outputs.items()}

    return {k: float(v.numpy()) for k, v in step(next(iter(distributed))).items()}


def check_step_outputs(outputs: dict) -> None:
    assert outputs, "train_step returned no outputs"
    for name, value in outputs.items():
        assert np.isfinite(value), f"train_step output '{name}' is not finite: {value}"


def check_variable_scoping(method, before: list[np.ndarray], frozen_ok: tuple[str, ...] = ()) -> None:
    """Each optimizer moved its own variables; nothing trainable outside the optimizers' lists moved."""
    owned: dict[int, str] = {}
    for name, optimizer in method.optimizers.items():
        for v in method.optimizer_variables(name):
            assert id(v) not in owned, f"variable {v.path} is owned by optimizers '{owned[id(v)]}' and '{name}'"
            owned[id(v)] = name
    changed = {id(v): not np.array_equal(b, v.numpy()) for v, b in zip(method.variables, before)}
    for name in method.optimizers:
        still = [v.path for v in method.optimizer_variables(name)
                 if not changed[id(v)] and not any(p in v.path for p in frozen_ok)]
        assert not still, f"optimizer '{name}' did not move its variables: {still}"
    strays = [v.path for v in method.trainable_variables if changed[id(v)] and id(v) not in owned]
    assert not strays, f"trainable variables outside every optimizer moved: {strays}"


def check_replica_equivalence(make_method, batch: dict, seed: int = 0, rtol: float = 2e-2,
                              atol: float = 1e-5) -> None:
    """2 replicas x B/2 == 1 device x B, for every variable (trainable or not) after one step.

    Differences are measured relative to each variable's update in the step: Keras' synchronized BN computes
    the variance as E[x^2] - E[x]^2 while the one-device path does not, so ill-conditioned channels differ by
    float32 rounding amplified by 1/sigma (seen: 0.3% of the update at width 4). A real mistake (per-replica BN
    statistics, a loss not divided by the replica count, replica-dependent randomness) is off by far more.
    """
    results = {}
    for label, kind in (("1 device", "one_device"), ("2 replicas", "mirrored")):
        method = _build(strategy(kind), make_method, seed)
        initial = {v.path: v.numpy() for v in method.variables}
        outputs = one_step(strategy(kind), method, batch)
        results[label] = (outputs, initial, {v.path: v.numpy() for v in method.variables})
    (out1, init1, vars1), (out2, init2, vars2) = results["1 device"], results["2 replicas"]
    assert vars1.keys() == vars2.keys()
    for path in vars1:
        np.testing.assert_array_equal(init1[path], init2[path], err_msg=f"{path}: initial values differ")
        update = float(np.max(np.abs(vars1[path] - init1[path])))
        difference = float(np.max(np.abs(vars1[path] - vars2[path])))
        assert difference <= atol + rtol * update, (
            f"2-replica step differs from 1-device step in {path}: by {difference:.3g} for an update of {update:.3g}")
    for key in out1:
        assert np.isclose(out1[key], out2[key], rtol=1e-3, atol=1e-4), f"output {key}: {out1[key]} vs {out2[key]}"


def check_checkpoint_round_trip(make_method, method, directory: str, seed: int = 0) -> None:
    """Every variable of a trained method comes back, exactly, in a fresh method restored from its checkpoint."""
    path = tf.train.Checkpoint(**method.checkpoint_items()).save(os.path.join(directory, "ckpt"))
    fresh = _build(strategy("one_device"), make_method, seed + 1)
    tf.train.Checkpoint(**fresh.checkpoint_items()).restore(path).assert_existing_objects_matched()
    saved = {v.path: v.numpy() for v in method.variables}
    restored = {v.path: v.numpy() for v in fresh.variables}
    assert saved.keys() == restored.keys(), f"variables differ: {sorted(set(saved) ^ set(restored))}"
    lost = [p for p in saved if not np.array_equal(saved[p], restored[p])]
    assert not lost, f"not restored from the checkpoint (is a layer kept in a Python list?): {lost}"


def check_fit(make_method, batch: dict, seed: int = 0) -> None:
    keras.utils.set_random_seed(seed)
    method = make_method()
    method.compile()
    history = method.fit(tf.data.Dataset.from_tensors(batch).repeat(2), epochs=1, verbose=0)
    assert history.history, "fit returned no logs"
    for name, values in history.history.items():
        assert np.all(np.isfinite(values)), f"fit log {name} not finite: {values}"
    assert int(method.step.numpy()) == 2


def check_exports(method, batch: dict, export_dir: str, atol: float = 1e-4) -> dict:
    from tfssl.core import exporting

    manifest = exporting.export_all(method, export_dir, np.asarray(batch["image"])[:4],
                                    operative_config="# test", preprocessing={"range": [0, 1]})
    for name in ("saved_model", "hub", "encoder.tflite", "manifest.json"):
        assert os.path.exists(os.path.join(export_dir, name)), f"export is missing {name}"
    parity = manifest["parity"]
    assert "encoder.tflite" in parity and "hub/__call__" in parity, f"parity checks missing: {sorted(parity)}"
    for name, entry in parity.items():
        assert entry["max_abs_diff"] < atol, f"export {name} differs from the live model by {entry['max_abs_diff']}"
    return manifest


def run_method_checks(make_method: Callable[[], keras.Model], batch: dict, export_dir: str | None = None, *,
                      frozen_ok: tuple[str, ...] = (), seed: int = 0, check_fit_api: bool = True) -> None:
    """All contract checks for one method. `make_method` builds a fresh method (gin already configured)."""
    method = _build(strategy("one_device"), make_method, seed)
    before = _snapshot(method.variables)
    outputs = one_step(strategy("one_device"), method, batch)
    check_step_outputs(outputs)
    check_variable_scoping(method, before, frozen_ok)
    check_replica_equivalence(make_method, batch, seed)
    if export_dir is not None:
        check_checkpoint_round_trip(make_method, method, os.path.join(str(export_dir), "..", "ckpt_round_trip"), seed)
    if check_fit_api:
        check_fit(make_method, batch, seed)
    if export_dir is not None:
        check_exports(method, batch, str(export_dir))
