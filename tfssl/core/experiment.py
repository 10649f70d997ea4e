"""One experiment = a method, its training input, its evaluations and its exports, all bound in gin.

`experiment` is the single gin root of the CLIs (`tfssl.train`, `tfssl.evaluate`, `export/*`); the functions
below are the stages, each leaving files in `model_dir` that the next reads (disentanglement_lib's pattern):

  model_dir/ckpt/                   checkpoints            (train)
  model_dir/operative_config.gin    the config actually used
  model_dir/train/, model_dir/eval/ TensorBoard events; eval/<name>.json results
  model_dir/export/                 saved_model/, hub/, encoder.tflite, manifest.json
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import time
from typing import Callable, Sequence

import gin
import keras
import numpy as np
import tensorflow as tf

from tfssl.core import config, distribute
from tfssl.errors import ModelDirError
from tfssl.core.trainer import Trainer, fetch_batch


@gin.configurable(module="tfssl")
@dataclasses.dataclass
class Experiment:
    """The gin root.

    Attributes:
      method: the method class (e.g. `@Rotation`), built inside the strategy scope.
      train_input: a function `(skip_batches=0) -> tf.data.Dataset` of global batches (e.g. `@train/image_dataset`).
      evaluations: functions `(method) -> dict[str, float]`, run after training (e.g. `[@classification_probes]`).
      export: whether training ends with the exports.
      seed: seeds Python, NumPy and TensorFlow before the method is built (initial weights); benchmarks vary it.
    """

    method: Callable = gin.REQUIRED
    train_input: Callable = gin.REQUIRED
    evaluations: Sequence[Callable] = ()
    export: bool = True
    seed: int = 0


@gin.configurable(module="tfssl")
def study(run: Callable[[str], object] | None = None) -> Callable[[str], object] | None:
    """The gin root of a study: a job over many runs (e.g. `tfssl.study.run = @tfssl.evaluation.utility_study`).

    `python -m tfssl.evaluate` calls `run(model_dir)` instead of evaluating one run when a gin file binds it; the
    study reads its runs' directories itself (`load_run`) and writes its results into model_dir.
    """
    return run


@dataclasses.dataclass
class Session:
    """What the stages share: the config, the strategy, the trainer and the built (restored) method."""

    model_dir: str
    experiment: Experiment
    strategy: tf.distribute.Strategy
    trainer: Trainer

    @property
    def method(self):
        return self.trainer.method

    @functools.cached_property
    def train_dataset(self) -> tf.data.Dataset:
        """The training stream of global batches, built once per session; it starts at the restored step, so a
        resumed run continues with the batches the killed one had not seen yet."""
        with config.translate_call_errors():
            return self.experiment.train_input(skip_batches=self.trainer.step)

    @functools.cached_property
    def sample_batch(self) -> dict:
        """The first batch of `train_dataset` (numpy): images for TensorBoard and the export parity checks.

        It is read from the same dataset object training iterates, so the decoded examples the first batch needs
        (a fully shuffled stream reads the whole split for it) land in that dataset's cache once, not twice.
        """
        with config.translate_call_errors():
            return fetch_batch(self.train_dataset)


def setup(model_dir: str, gin_files: Sequence[str], gin_params: Sequence[str] = (),
          finalize: bool = True) -> Session:
    """Parses gin, builds strategy, trainer and method, and restores the latest checkpoint in model_dir.

    The configurables the gin files name must be registered first: callers import `tfssl.registry` (the CLIs do).
    """
    config.parse(gin_files, gin_params, finalize=finalize)
    with config.translate_call_errors():
        experiment = Experiment()
        strategy = distribute.make_strategy()
        trainer = Trainer(model_dir, strategy)
        keras.utils.set_random_seed(experiment.seed)
        trainer.build(experiment.method)
    return Session(model_dir, experiment, strategy, trainer)


def load_run(model_dir: str, trained: bool = True) -> Session:
    """A finished run, rebuilt from its model_dir/operative_config.gin (for benchmarks that study trained runs).

    trained=False builds the same method with the same seed and restores nothing: the run's untrained twin.
    """
    import tempfile

    keras.backend.clear_session()
    config_file = os.path.join(model_dir, "operative_config.gin")
    if trained:
        return setup(model_dir, [config_file], finalize=False)
    with tempfile.TemporaryDirectory() as empty:  # setup restores whatever checkpoint its model_dir holds
        return setup(empty, [config_file], finalize=False)


def _write_config(session: Session, folder: str | None = None) -> str:
    """Writes the operative config to `folder`/operative_config.gin (model_dir by default) and to TensorBoard."""
    text = config.operative_config()
    if session.trainer.is_chief:
        config.write_operative_config(folder or session.model_dir, text)
        writer = tf.summary.create_file_writer(os.path.join(session.model_dir, "train"))
        with writer.as_default(step=session.trainer.step):
            tf.summary.text("operative_config", config.config_as_markdown(text))
        writer.flush()
    return text


def train(session: Session) -> dict:
    """Trains to the configured step count (resuming if checkpoints exist). Returns the last train outputs."""
    summary_batch = session.sample_batch
    _write_config(session)
    with config.translate_call_errors():
        return session.trainer.train(session.train_dataset, summary_batch)


def restore_step(session: Session, step: int) -> None:
    """Restores the checkpoint the run saved at `step` (instead of the latest), e.g. to evaluate a learning curve.

    Only the checkpoints the run kept can be restored: `tfssl.Trainer.max_checkpoints` (3 by default) of them, every
    `tfssl.Trainer.checkpoint_every` steps. Raises ModelDirError naming the steps that exist otherwise.
    """
    manager = session.trainer.manager
    kept = {int(path.rsplit("-", 1)[-1]): path for path in manager.checkpoints}
    if step not in kept:
        raise ModelDirError(
            f"no checkpoint of step {step} in {session.model_dir}/ckpt (kept: {sorted(kept) or 'none'}); train with "
            f"tfssl.Trainer.checkpoint_every dividing {step} and tfssl.Trainer.max_checkpoints large enough to keep it")
    session.trainer.checkpoint.restore(kept[step]).assert_existing_objects_matched()


def evaluate(session: Session, folder: str | None = None) -> dict[str, dict]:
    """Runs every configured evaluation; writes eval/<name>.json and TensorBoard scalars under eval/.

    `folder` (default model_dir/eval) takes all of them instead, e.g. eval/step_500 for an earlier checkpoint.
    The config it ran with goes to eval/operative_config.gin: model_dir/operative_config.gin is the training run's
    record (with its input's bindings, which an evaluation alone never reads) and `run` updates it after evaluating.
    """
    results = {}
    if not session.trainer.is_chief:
        return results
    eval_dir = folder or os.path.join(session.model_dir, "eval")
    os.makedirs(eval_dir, exist_ok=True)
    writer = tf.summary.create_file_writer(eval_dir)
    step = session.trainer.step
    for evaluation in session.experiment.evaluations:
        name = getattr(evaluation, "__name__", type(evaluation).__name__)
        begun = time.time()
        with config.translate_call_errors():
            metrics = dict(evaluation(session.method))
        record = {"step": step, "seconds": time.time() - begun, **metrics}
        with open(os.path.join(eval_dir, f"{name}.json"), "w") as f:
            json.dump(record, f, indent=2, sort_keys=True)
        with writer.as_default(step=step):
            for key, value in metrics.items():
                if isinstance(value, (int, float)) and np.isfinite(value):
                    tf.summary.scalar(f"{name}/{key}", value)
        results[name] = record
        print(f"tfssl: {name} at step {step}: " + ", ".join(
            f"{k}={v:.4f}" for k, v in metrics.items() if isinstance(v, float)), flush=True)
    writer.flush()
    _write_config(session, eval_dir)
    return results


def export(session: Session, export_dir: str | None = None, tflite_variants: Sequence[str] = ("float32",)) -> dict:
    """Exports the method into model_dir/export (or export_dir) and checks every export against the live model."""
    from tfssl.core import exporting  # heavy (LiteRT converter); only the stages that export pay for it

    if not session.trainer.is_chief:
        return {}
    method = session.method
    sample = np.asarray(method.sample_images(session.sample_batch))[:8]
    size = list(sample.shape[1:3])
    preprocessing = {"dtype": "float32", "range": [0.0, 1.0], "layout": "NHWC", "size": size,
                     "note": "RGB images scaled to [0, 1]; the encoder normalises internally"}
    return exporting.export_all(method, export_dir or os.path.join(session.model_dir, "export"), sample,
                                operative_config=config.operative_config(), preprocessing=preprocessing,
                                tflite_variants=tuple(tflite_variants))


def run(model_dir: str, gin_files: Sequence[str], gin_params: Sequence[str] = (), finalize: bool = True) -> dict:
    """The whole job of `python -m tfssl.train`: train (or resume), evaluate, export. Returns a summary dict."""
    session = setup(model_dir, gin_files, gin_params, finalize=finalize)
    outputs = train(session)
    results = evaluate(session)
    _write_config(session)  # the training record, now with the evaluations' bindings too
    manifest = export(session) if session.experiment.export else {}
    return {"train": outputs, "eval": results, "export": manifest, "step": session.trainer.step,
            "session": session}
