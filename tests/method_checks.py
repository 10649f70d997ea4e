"""The safety net every method gets in three lines (STYLE.md, keras-hub's test drivers):

    def test_method_contract(tmp_path):
        gin.parse_config(BINDINGS)
        run_method_checks(lambda: MyMethod(image_size=32), make_batch(), tmp_path / "export",
                          endpoints={"predict": Returns((4,), 0.0, 1.0, unit="sum")})

    def test_resumes_exactly_in_a_fresh_process(tmp_path):
        check_resume_equivalence(["gin/my_method.gin", "gin/smoke.gin"], TINY_BINDINGS, tmp_path)

It checks, on a real batch:
  1. one step returns a non-empty dict of finite scalars;
  2. every optimizer moves all of its own variables, optimizers own disjoint variables, and no trainable
     variable outside the optimizers' lists moves;
  3. one step on 2 replicas (two logical CPUs) gives the same variables (trainable and not: BN statistics,
     memory banks) as one step on one device with the same global batch;
  4. plain `compile(); fit()` on one device runs and returns finite losses;
  5. a checkpoint of `checkpoint_items()`, taken after a step, restores every variable and every optimizer's state
     (iterations and slots) into a freshly built method (Keras 3 does not track layers kept in plain Python lists:
     such a network would silently come back at its initial values);
  6. `summaries(batch)` returns what `Method.summaries` promises: float32 images [N, H, W, 3] in [0, 1];
  7. the encoder and every serving / TF-Lite endpoint, called on inputs built from the batch through the traced
     `input_signature`, return finite float32 outputs with the batch dimension kept, and what each endpoint's
     docstring promises (`Returns`: per-example shape, value range, probabilities or unit vectors);
  8. the exports (SavedModel, Hub, TF-Lite) reproduce the live encoder and serving endpoints.

Beside it, `check_resume_equivalence` trains a gin experiment through the real Trainer in fresh processes and checks
that a run resumed from a checkpoint ends exactly where an uninterrupted run ends.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import shutil
import subprocess
import sys
import tempfile
from typing import Callable, Sequence, Union

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


def checkpoint_state(method) -> dict[str, np.ndarray]:
    """Every value a checkpoint must hold to resume exactly: the method's variables (networks, BN statistics, memory
    banks, frozen networks) and each optimizer's (iterations, learning-rate variable, slots), keyed by owner, position
    and path so that two builds of one configuration give the same keys (an optimizer's own name, uniquified by Keras
    per process as "sgd_3", is left out)."""
    state = {f"method/{i}:{v.path}": np.array(v.numpy()) for i, v in enumerate(method.variables)}
    for name, optimizer in method.optimizers.items():
        for i, v in enumerate(optimizer.variables):
            state[f"optimizer_{name}/{i}:{v.path.split('/', 1)[-1]}"] = np.array(v.numpy())
    return state


def check_checkpoint_round_trip(make_method, method, directory: str, seed: int = 0) -> None:
    """Every variable and every optimizer's iterations and slots of a trained method come back, exactly, in a fresh
    method (built with another seed) restored from its checkpoint."""
    for name, optimizer in method.optimizers.items():
        assert int(optimizer.iterations.numpy()) >= 1, f"optimizer '{name}' has not stepped: nothing to round-trip"
    path = tf.train.Checkpoint(**method.checkpoint_items()).save(os.path.join(directory, "ckpt"))
    fresh = _build(strategy("one_device"), make_method, seed + 1)
    tf.train.Checkpoint(**fresh.checkpoint_items()).restore(path).assert_consumed()
    saved, restored = checkpoint_state(method), checkpoint_state(fresh)
    assert saved.keys() == restored.keys(), f"variables differ: {sorted(set(saved) ^ set(restored))}"
    slots = [k for k in saved if k.startswith("optimizer_") and not k.endswith(("iteration", "learning_rate"))]
    assert slots, "no optimizer slot variables found: is the optimizer built (Method.add_optimizer)?"
    lost = [p for p in saved if not np.array_equal(saved[p], restored[p])]
    assert not lost, (f"not restored from the checkpoint (a layer kept in a Python list? an optimizer missing from "
                      f"checkpoint_items()?): {lost}")


SUMMARY_CHANNELS = (3,)  # Method.summaries: "name -> float32 [N, H, W, 3] in [0, 1]"


def _variables_unchanged(method, before: dict[str, np.ndarray], what: str) -> None:
    after = checkpoint_state(method)
    changed = [k for k in before if not np.array_equal(before[k], after[k])]
    assert not changed, f"{what} changed variables (it must only read the model): {changed}"


def check_summaries(method, batch: dict) -> dict[str, np.ndarray]:
    """`summaries(batch)` (as the Trainer calls it: eagerly, in the strategy scope, on a numpy batch) returns a dict of
    tag -> float32 [N >= 1, H, W, 3] images, finite and within [0, 1], and changes no variable."""
    before = checkpoint_state(method)
    with strategy("one_device").scope():
        summaries = method.summaries(batch)
    assert isinstance(summaries, dict), f"summaries() returned {type(summaries).__name__}, not a dict"
    images = {}
    for tag, value in summaries.items():
        assert isinstance(tag, str) and tag, f"summary tag {tag!r} is not a non-empty string"
        value = tf.convert_to_tensor(value)
        assert value.dtype == tf.float32, f"summary '{tag}' is {value.dtype.name}, not float32"
        assert value.shape.rank == 4, f"summary '{tag}' has shape {value.shape}, not [N, H, W, C]"
        n, h, w, c = value.shape
        assert n >= 1 and h >= 1 and w >= 1, f"summary '{tag}' is empty: {value.shape}"
        assert c in SUMMARY_CHANNELS, f"summary '{tag}' has {c} channels, not {SUMMARY_CHANNELS}"
        array = value.numpy()
        assert np.all(np.isfinite(array)), f"summary '{tag}' is not finite"
        assert array.min() >= 0.0 and array.max() <= 1.0, (
            f"summary '{tag}' lies in [{array.min():.4g}, {array.max():.4g}], not within [0, 1]")
        images[tag] = array
    _variables_unchanged(method, before, "summaries()")
    return images


@dataclasses.dataclass(frozen=True)
class Returns:
    """What an endpoint's docstring promises about its output.

    Attributes:
      shape: the shape of one example's output (after the batch dimension), or None to leave it unchecked.
      low, high: the closed range every value lies in.
      unit: "sum" (each example's values sum to 1: probabilities over classes), "l2" (each example is a unit vector),
        or None.
      dtype: the output's dtype.
    """

    shape: tuple[int, ...] | None = None
    low: float = -np.inf
    high: float = np.inf
    unit: str | None = None
    dtype: tf.DType = tf.float32

    def __post_init__(self):
        if self.unit not in (None, "sum", "l2"):
            raise ValueError(f"Returns.unit must be 'sum', 'l2' or None, not {self.unit!r}")


# How an endpoint input is made from the batch: a batch key, or a function of the batch.
InputSource = Union[str, Callable[[dict], np.ndarray]]


def _endpoint_input(spec: tf.TensorSpec, batch: dict, sources: dict[str, InputSource], endpoint: str) -> tf.Tensor:
    """The input named `spec.name`: from `sources`, else the batch key of that name or its singular ("images")."""
    name = spec.name
    source = sources.get(name, name if name in batch else name[:-1] if name.endswith("s") else name)
    if callable(source):
        value = source(batch)
    else:
        assert source in batch, (f"endpoint '{endpoint}': no batch key for input '{name}'; pass "
                                 f"endpoint_inputs={{'{name}': <batch key or fn(batch)>}}")
        value = batch[source]
    value = tf.convert_to_tensor(value, spec.dtype)
    assert spec.shape.is_compatible_with(value.shape), (
        f"endpoint '{endpoint}': input '{name}' built from the batch has shape {value.shape}, the signature "
        f"{spec.shape}")
    return value


def _check_output(name: str, output, batch_size: int, returns: Returns) -> None:
    outputs = tf.nest.flatten(output)
    assert outputs, f"endpoint '{name}' returned nothing"
    for value in outputs:
        value = tf.convert_to_tensor(value)
        assert value.dtype == returns.dtype, f"endpoint '{name}' returns {value.dtype.name}, not {returns.dtype.name}"
        assert value.shape.rank >= 1 and value.shape[0] == batch_size, (
            f"endpoint '{name}' returns shape {value.shape} for a batch of {batch_size}")
        if returns.shape is not None:
            assert tuple(value.shape[1:]) == tuple(returns.shape), (
                f"endpoint '{name}' returns [B, {', '.join(map(str, value.shape[1:]))}], documented [B, "
                f"{', '.join(map(str, returns.shape))}]")
        array = value.numpy()
        if not value.dtype.is_floating:
            continue
        assert np.all(np.isfinite(array)), f"endpoint '{name}' returns non-finite values"
        assert array.min() >= returns.low and array.max() <= returns.high, (
            f"endpoint '{name}' returns values in [{array.min():.4g}, {array.max():.4g}], documented "
            f"[{returns.low}, {returns.high}]")
        per_example = array.reshape(batch_size, -1)
        if returns.unit == "sum":
            np.testing.assert_allclose(per_example.sum(1), 1.0, rtol=1e-5, err_msg=f"endpoint '{name}': sum != 1")
        elif returns.unit == "l2":
            np.testing.assert_allclose(np.linalg.norm(per_example, axis=1), 1.0, rtol=1e-5,
                                       err_msg=f"endpoint '{name}': not unit vectors")


def check_endpoints(method, batch: dict, endpoints: dict[str, Returns] | None = None,
                    endpoint_inputs: dict[str, InputSource] | None = None) -> None:
    """The encoder and every serving and TF-Lite endpoint keep their promises on the batch.

    Each endpoint is traced with its own `input_signature` (a None batch dimension, as the exporter traces it) and
    called on inputs built from the batch. Every output: `dtype` (float32 by default), the batch dimension kept,
    finite. The encoder (`method(images)`, Method.call): [B, D]. With `endpoints` (name -> Returns; it must name
    every serving and TF-Lite endpoint the method has), each endpoint's documented per-example shape, range and
    unit. `endpoint_inputs` maps an input name of a signature to a batch key or a function of the batch, for inputs
    that are not a batch key (or its singular) as they stand.
    """
    sources = dict(endpoint_inputs or {})
    available = {**method.serving_endpoints(), **method.tflite_endpoints()}
    if endpoints is not None:
        assert set(endpoints) == set(available), (
            f"endpoints documented in the test {sorted(endpoints)} differ from the method's {sorted(available)}")
    before = checkpoint_state(method)
    images = tf.convert_to_tensor(method.sample_images(batch), tf.float32)
    features = method(images, training=False)
    _check_output("encoder", features, int(images.shape[0]), Returns())
    assert features.shape.rank == 2, f"the encoder returns shape {features.shape}, not [B, D] (Method.call)"
    for name, (fn, signature) in available.items():
        inputs = [_endpoint_input(spec, batch, sources, name) for spec in signature]
        output = tf.function(fn, input_signature=list(signature))(*inputs)
        _check_output(name, output, int(inputs[0].shape[0]), (endpoints or {}).get(name, Returns()))
    _variables_unchanged(method, before, "the encoder or a serving endpoint")


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

    manifest = exporting.export_all(method, export_dir, np.asarray(method.sample_images(batch))[:4],
                                    operative_config="# test", preprocessing={"range": [0, 1]})
    for name in ("saved_model", "hub", "encoder.tflite", "manifest.json"):
        assert os.path.exists(os.path.join(export_dir, name)), f"export is missing {name}"
    parity = manifest["parity"]
    assert "encoder.tflite" in parity and "hub/__call__" in parity, f"parity checks missing: {sorted(parity)}"
    for name, entry in parity.items():
        assert entry["max_abs_diff"] < atol, f"export {name} differs from the live model by {entry['max_abs_diff']}"
    return manifest


def run_method_checks(make_method: Callable[[], keras.Model], batch: dict, export_dir: str | None = None, *,
                      frozen_ok: tuple[str, ...] = (), seed: int = 0, check_fit_api: bool = True,
                      endpoints: dict[str, Returns] | None = None,
                      endpoint_inputs: dict[str, InputSource] | None = None) -> None:
    """All contract checks for one method. `make_method` builds a fresh method (gin already configured).

    `endpoints` and `endpoint_inputs`: see `check_endpoints`. Exports run only with an `export_dir`.
    """
    method = _build(strategy("one_device"), make_method, seed)
    before = _snapshot(method.variables)
    outputs = one_step(strategy("one_device"), method, batch)
    check_step_outputs(outputs)
    check_variable_scoping(method, before, frozen_ok)
    check_summaries(method, batch)
    check_endpoints(method, batch, endpoints, endpoint_inputs)
    check_replica_equivalence(make_method, batch, seed)
    with tempfile.TemporaryDirectory(prefix="tfssl_ckpt_round_trip_") as directory:
        check_checkpoint_round_trip(make_method, method, directory, seed)
    if check_fit_api:
        check_fit(make_method, batch, seed)
    if export_dir is not None:
        check_exports(method, batch, str(export_dir))


# ---- resume equivalence ----------------------------------------------------------------------------------------------

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _train_in_fresh_process(model_dir: str, gin_files: Sequence[str], params: Sequence[str], out: str,
                            timeout: float) -> subprocess.CompletedProcess:
    """`python -m tests.resume_worker`: trains (or resumes) the gin experiment in model_dir and saves its state."""
    args = [sys.executable, "-m", "tests.resume_worker", f"--model_dir={model_dir}", f"--out={out}",
            *(f"--gin_file={f}" for f in gin_files), *(f"--gin_param={p}" for p in params)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [REPO, os.environ.get("PYTHONPATH")]))}
    result = subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{' '.join(args)} failed:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
    return result


def check_resume_equivalence(gin_files: Sequence[str], params: Sequence[str], directory, steps: int = 2,
                             more_steps: int = 2, rtol: float = 1e-6, atol: float = 1e-7,
                             timeout: float = 600) -> None:
    """A run killed after `steps` steps and resumed in a fresh process ends where an uninterrupted run ends.

    Process 1 trains the experiment (gin files relative to the repository, plus `params`) for steps + more_steps
    steps through `experiment.setup`/`experiment.train` (the real Trainer, schedule, data pipeline) with op
    determinism on, keeping its checkpoint at `steps`; its final state is the uninterrupted run's. A copy of its
    model_dir whose latest checkpoint is the one at `steps` is what a run killed right after that checkpoint leaves.
    Process 2, which shares nothing in memory with process 1, builds the same experiment there, resumes (restore,
    learning-rate schedule, data stream at batch `steps`) and trains to steps + more_steps. Every variable of the
    method and every optimizer's state must then agree with process 1's (the same ops in the same order: in practice
    bit-identical; `rtol`/`atol` only absorb float reassociation).
    """
    directory = str(directory)
    total = steps + more_steps
    params = [*params, f"TRAIN_STEPS = {total}", f"tfssl.Trainer.checkpoint_every = {steps}",
              f"tfssl.Trainer.max_checkpoints = {total // steps + 1}", "tfssl.Trainer.progress = False"]
    straight_dir, resumed_dir = os.path.join(directory, "straight"), os.path.join(directory, "resumed")
    straight_out, resumed_out = os.path.join(directory, "straight.npz"), os.path.join(directory, "resumed.npz")
    _train_in_fresh_process(straight_dir, gin_files, params, straight_out, timeout)

    # What a kill right after the checkpoint at `steps` leaves: that checkpoint as the latest one.
    ckpt = os.path.join(resumed_dir, "ckpt")
    os.makedirs(ckpt)
    prefix = os.path.join(straight_dir, "ckpt", f"ckpt-{steps}")
    assert tf.io.gfile.glob(prefix + ".*"), f"the uninterrupted run saved no checkpoint at step {steps}"
    for path in tf.io.gfile.glob(prefix + ".*"):
        shutil.copy(path, ckpt)
    tf.compat.v1.train.update_checkpoint_state(ckpt, os.path.join(ckpt, f"ckpt-{steps}"))
    result = _train_in_fresh_process(resumed_dir, gin_files, params, resumed_out, timeout)
    assert f"resuming from checkpoint at step {steps}" in result.stdout, result.stdout[-2000:]

    straight, resumed = np.load(straight_out), np.load(resumed_out)
    assert set(straight.files) == set(resumed.files), (
        f"the two runs hold different state: {sorted(set(straight.files) ^ set(resumed.files))}")
    assert int(straight["step"]) == int(resumed["step"]) == total
    assert int(resumed["start/step"]) == steps, "the resumed run did not start from the checkpoint"
    moved = [k for k in resumed.files if k.startswith("end/")
             and not np.array_equal(resumed[k], resumed["start/" + k[len("end/"):]])]
    assert moved, f"the resumed run's {more_steps} steps changed nothing: the comparison would prove nothing"
    differ = []
    for key in sorted(k for k in straight.files if k.startswith("end/")):
        a, b = straight[key], resumed[key]
        if not np.allclose(a, b, rtol=rtol, atol=atol):
            differ.append(f"{key[len('end/'):]} (max |diff| {np.max(np.abs(a.astype(float) - b.astype(float))):.3g})")
    assert not differ, (f"resumed after step {steps} in a fresh process, {len(differ)} variables differ from the "
                        f"uninterrupted run's at step {total}: {differ[:10]}")
