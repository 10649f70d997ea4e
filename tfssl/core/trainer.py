"""The training loop every method shares: `strategy.run(method.train_step)` inside one `tf.function`.

The trainer owns the loop (not Keras `fit`) because `fit` does not run under MultiWorkerMirroredStrategy
(keras-team/keras#20585). Per call of the compiled loop it runs up to `steps_per_loop` steps, averages the step
outputs over steps and replicas, and notes the first step whose outputs were not finite. Between calls it writes
scalars and images, saves `tf.train.CheckpointManager` checkpoints and shows progress.

Resume: running the same command again restores the latest checkpoint (networks, optimizer slots, step, hence the
learning-rate schedule) and restarts the input stream at the batch where the checkpoint was taken. A checkpoint
becomes "latest" only once fully written (the manager updates its state file last), so a kill mid-save leaves
the previous one in force. A non-finite loss stops training *without* saving, keeping the last good checkpoint.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import tempfile
import time
from typing import Callable

import gin
import keras
import numpy as np
import tensorflow as tf

from tfssl.core import distribute
from tfssl.errors import ModelDirError, NonFiniteLossError, UserError


class TrainingInterrupted(UserError):
    """SIGINT/SIGTERM: a checkpoint was saved; running the same command again resumes."""

    exit_code = 130


def check_writable(model_dir: str) -> None:
    """Creates model_dir if needed and proves it writable, or raises ModelDirError naming the fix."""
    try:
        os.makedirs(model_dir, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=model_dir, prefix=".write_test_"):
            pass
    except OSError as error:
        raise ModelDirError(f"model_dir '{model_dir}' is not writable ({error.strerror}); choose another "
                            "--model_dir or fix its permissions / free disk space") from error


def _format_seconds(seconds: float) -> str:
    seconds = int(max(0, seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


RUNS_FILE = "runs.jsonl"


def last_run(model_dir: str) -> dict:
    """The last finished training run in model_dir/runs.jsonl: steps, seconds, median step time, last outputs.

    Returns {} when no run has finished there.
    """
    path = os.path.join(model_dir, RUNS_FILE)
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        ends = [record for record in map(json.loads, f) if record.get("event") == "end"]
    return ends[-1] if ends else {}


@gin.configurable(module="tfssl", denylist=["model_dir", "strategy"])
class Trainer:
    """Runs a method's `train_step` for `train_steps` steps under a strategy, with checkpoints and summaries.

    Args:
      model_dir: where checkpoints (`ckpt/`), TensorBoard events (`train/`) and the run log live.
      strategy: a tf.distribute.Strategy (see core.distribute.make_strategy).
      train_steps: total optimisation steps (bind to the TRAIN_STEPS macro, which the schedules use too).
      steps_per_loop: steps per call of the compiled loop (fewer host round trips).
      log_every / image_every / checkpoint_every: in steps.
      max_checkpoints: checkpoints kept.
      jit_compile: XLA-compile the per-replica step (measured slower on CPU; see DESIGN "Speed rules").
      progress: show a progress line with losses and ETA.
    """

    def __init__(self, model_dir: str, strategy: tf.distribute.Strategy, train_steps: int = gin.REQUIRED,
                 steps_per_loop: int = 10, log_every: int = 10, image_every: int = 200,
                 checkpoint_every: int = 200, max_checkpoints: int = 3, jit_compile: bool = False,
                 progress: bool = True):
        self.model_dir = model_dir
        self.strategy = strategy
        self.train_steps = int(train_steps)
        self.steps_per_loop = max(1, int(steps_per_loop))
        self.log_every = max(1, int(log_every))
        self.image_every = int(image_every)
        self.checkpoint_every = max(1, int(checkpoint_every))
        self.max_checkpoints = max_checkpoints
        self.jit_compile = jit_compile
        self.progress = progress
        self.is_chief = distribute.is_chief(strategy)
        self.method = None
        self._stop_signal = None

    # ---- set-up ----------------------------------------------------------------------------------------------
    def build(self, method_fn: Callable[[], keras.Model]) -> keras.Model:
        """Builds the method inside the strategy scope and restores the latest checkpoint, if any."""
        if self.is_chief:
            check_writable(self.model_dir)
        with self.strategy.scope():
            self.method = method_fn()
            self.checkpoint = tf.train.Checkpoint(**self.method.checkpoint_items())
        # Only the chief keeps checkpoints; other workers must still take part in saving (collectives), so they
        # write to a private temporary folder.
        directory = (os.path.join(self.model_dir, "ckpt") if self.is_chief
                     else tempfile.mkdtemp(prefix="tfssl_worker_ckpt_"))
        self.manager = tf.train.CheckpointManager(self.checkpoint, directory, self.max_checkpoints,
                                                  step_counter=self.method.step)
        latest = tf.train.latest_checkpoint(os.path.join(self.model_dir, "ckpt"))
        if latest:
            try:
                self.checkpoint.restore(latest).assert_existing_objects_matched()
            except (AssertionError, ValueError, tf.errors.OpError) as error:
                raise ModelDirError(
                    f"checkpoint {latest} does not match the configured model ({str(error).splitlines()[0][:160]});"
                    " use a new --model_dir, or the gin config that wrote it") from error
        return self.method

    @property
    def step(self) -> int:
        return int(self.method.step.numpy())

    # ---- the compiled loop -----------------------------------------------------------------------------------
    def _make_loop(self):
        strategy, method = self.strategy, self.method
        step_fn = tf.function(method.train_step, jit_compile=True) if self.jit_compile else method.train_step

        def one_step(iterator):
            outputs = strategy.run(step_fn, (next(iterator),))
            outputs = {k: strategy.reduce(tf.distribute.ReduceOp.MEAN, v, axis=None) for k, v in outputs.items()}
            finite = tf.reduce_all([tf.reduce_all(tf.math.is_finite(tf.cast(v, tf.float32)))
                                    for v in outputs.values()])
            return outputs, finite

        @tf.function
        def loop(iterator, num_steps):
            """Runs num_steps steps; returns (mean outputs, offset of the first non-finite step or -1)."""
            outputs, finite = one_step(iterator)
            sums = {k: tf.cast(v, tf.float32) for k, v in outputs.items()}
            first_bad = tf.where(finite, -1, 0)
            for i in tf.range(1, num_steps):
                outputs, finite = one_step(iterator)
                sums = {k: sums[k] + tf.cast(v, tf.float32) for k, v in outputs.items()}
                first_bad = tf.where((first_bad < 0) & tf.logical_not(finite), i, first_bad)
            return {k: v / tf.cast(num_steps, tf.float32) for k, v in sums.items()}, first_bad

        return loop

    # ---- checkpoints, summaries, progress --------------------------------------------------------------------
    def save(self) -> str | None:
        try:
            return self.manager.save(checkpoint_number=self.step)
        except (OSError, tf.errors.ResourceExhaustedError, tf.errors.PermissionDeniedError,
                tf.errors.UnknownError) as error:
            raise ModelDirError(f"could not write a checkpoint into {self.manager.directory} "
                                f"({str(error).splitlines()[0][:160]}); free disk space or fix permissions, then "
                                "run the same command again to resume from the last complete checkpoint") from error

    def _write_images(self, writer, summary_batch) -> None:
        if summary_batch is None or not self.is_chief:
            return
        with self.strategy.scope(), writer.as_default(step=self.step):
            for name, images in self.method.summaries(summary_batch).items():
                tf.summary.image(name, tf.clip_by_value(tf.cast(images, tf.float32), 0.0, 1.0), max_outputs=16)

    def _log_run(self, record: dict) -> None:
        if self.is_chief:
            with open(os.path.join(self.model_dir, RUNS_FILE), "a") as f:
                f.write(json.dumps(record) + "\n")

    def _install_signal_handlers(self):
        def handler(signum, frame):
            self._stop_signal = signum
        previous = {}
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                previous[sig] = signal.signal(sig, handler)
            except ValueError:  # not the main thread (e.g. a notebook worker thread): no graceful stop
                pass
        return previous

    # ---- training --------------------------------------------------------------------------------------------
    def train(self, data: tf.data.Dataset | Callable[..., tf.data.Dataset], summary_batch: dict | None = None) -> dict:
        """Trains from the restored step to `train_steps`. Returns the last logged (step-averaged) outputs.

        Args:
          data: GLOBAL batches (dicts of tensors): a dataset that starts at the restored step, or a function called
            as `data(skip_batches=self.step)` that builds one.
          summary_batch: a fixed host batch for `method.summaries` (images in TensorBoard).
        Raises:
          NonFiniteLossError: a step output was NaN/Inf (nothing saved after the last good checkpoint).
          TrainingInterrupted: SIGINT/SIGTERM (a checkpoint was saved first).
        """
        start_step = self.step
        self._log_run({"event": "start", "step": start_step, "train_steps": self.train_steps, "time": time.time(),
                       "resumed": start_step > 0})
        if start_step >= self.train_steps:
            print(f"tfssl: {self.model_dir} is already trained to step {start_step}; skipping training.")
            return {}
        if start_step > 0:
            print(f"tfssl: resuming from checkpoint at step {start_step} in {self.model_dir}")
        with self.strategy.scope():
            self.method.prepare_training()
        dataset = data if isinstance(data, tf.data.Dataset) else data(skip_batches=start_step)
        iterator = iter(self.strategy.experimental_distribute_dataset(dataset))
        loop = self._make_loop()
        writer = (tf.summary.create_file_writer(os.path.join(self.model_dir, "train")) if self.is_chief
                  else tf.summary.create_noop_writer())
        previous_handlers = self._install_signal_handlers()
        bar = (keras.utils.Progbar(self.train_steps, unit_name="step") if self.progress and self.is_chief
               and sys.stdout.isatty() else None)
        last_outputs: dict = {}
        step_seconds: list[float] = []  # per loop call; the first includes tracing
        last_saved = start_step
        begun = time.time()
        step = start_step
        try:
            self._write_images(writer, summary_batch)
            while step < self.train_steps:
                num = min(self.steps_per_loop, self.train_steps - step)
                for every in (self.log_every, self.checkpoint_every, self.image_every):
                    if every > 0:
                        num = min(num, every - step % every)
                called = time.time()
                outputs, first_bad = loop(iterator, tf.constant(num, tf.int32))
                first_bad = int(first_bad.numpy())
                step_seconds.append((time.time() - called) / num)
                if first_bad >= 0:
                    raise NonFiniteLossError(
                        f"a loss became NaN/Inf at step {step + first_bad + 1}; training stopped and the last good "
                        f"checkpoint (step {last_saved}) in {self.manager.directory} was kept; lower the learning "
                        "rate, bind make_optimizer.clipnorm, or check the input data")
                step += num
                last_outputs = {k: float(v.numpy()) for k, v in outputs.items()}
                if step % self.log_every == 0 or step == self.train_steps:
                    with writer.as_default(step=step):
                        for name, value in last_outputs.items():
                            tf.summary.scalar(name, value)
                        tf.summary.scalar("steps_per_second", (step - start_step) / (time.time() - begun))
                    self._show_progress(bar, step, start_step, begun, last_outputs)
                if self.image_every > 0 and step % self.image_every == 0:
                    self._write_images(writer, summary_batch)
                if step % self.checkpoint_every == 0 or step == self.train_steps:
                    self.save()
                    last_saved = step
                if self._stop_signal is not None:
                    self.save()
                    raise TrainingInterrupted(f"stopped by signal {self._stop_signal} at step {step}; a checkpoint "
                                              "was saved: run the same command again to resume")
        finally:
            for sig, handler in previous_handlers.items():
                signal.signal(sig, handler)
            writer.flush()
        elapsed = time.time() - begun
        steady = step_seconds[1:] or step_seconds
        self._log_run({"event": "end", "step": step, "time": time.time(), "seconds": elapsed,
                       "steps_per_second": (step - start_step) / max(elapsed, 1e-9),
                       "median_step_seconds": float(np.median(steady)) if steady else None,
                       "outputs": last_outputs})
        return last_outputs

    def _show_progress(self, bar, step, start_step, begun, outputs) -> None:
        if not (self.progress and self.is_chief):
            return
        if bar is not None:
            bar.update(step, values=list(outputs.items()))
            return
        rate = (step - start_step) / max(time.time() - begun, 1e-9)
        eta = (self.train_steps - step) / max(rate, 1e-9)
        values = " ".join(f"{k}={v:.4g}" for k, v in outputs.items())
        print(f"step {step}/{self.train_steps} {values} ({rate:.2f} steps/s, ETA {_format_seconds(eta)})",
              flush=True)


def fetch_batch(dataset: tf.data.Dataset) -> dict:
    """The first batch of a dataset as numpy arrays (for image summaries and export parity checks)."""
    return {k: np.asarray(v) for k, v in next(iter(dataset)).items()}
