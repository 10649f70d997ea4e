"""Trains (or resumes) a gin experiment in a fresh process and saves its state, for
`tests.method_checks.check_resume_equivalence`:

    python -m tests.resume_worker --model_dir=DIR --out=STATE.npz --gin_file=gin/rotation.gin --gin_param='...'

It runs what `python -m tfssl.train` runs up to the end of training (`experiment.setup`, `experiment.train`: the
Trainer restores the latest checkpoint in DIR and restarts the input stream after the batches already consumed), with
TensorFlow's op determinism on, and writes STATE.npz: `start/<key>` after setup (the initial or restored state),
`end/<key>` after training, for every key of `tests.method_checks.checkpoint_state`, and `step`, `start/step`.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import app, flags  # noqa: E402

flags.DEFINE_string("model_dir", None, "where the run keeps its checkpoints", required=True)
flags.DEFINE_string("out", None, "the .npz file the state goes to", required=True)
flags.DEFINE_multi_string("gin_file", [], "gin files, in order")
flags.DEFINE_multi_string("gin_param", [], "gin bindings applied after the files")
FLAGS = flags.FLAGS


def main(argv) -> None:
    del argv
    tf.config.experimental.enable_op_determinism()
    import tfssl.registry  # noqa: F401  (a fresh process: register the configurables the gin files name)
    from tests.method_checks import checkpoint_state
    from tfssl.core import experiment

    session = experiment.setup(FLAGS.model_dir, FLAGS.gin_file, FLAGS.gin_param)
    start = {f"start/{k}": v for k, v in checkpoint_state(session.method).items()}
    start_step = session.trainer.step
    experiment.train(session)
    end = {f"end/{k}": v for k, v in checkpoint_state(session.method).items()}
    np.savez(FLAGS.out, **start, **end, **{"start/step": start_step, "step": session.trainer.step})


if __name__ == "__main__":
    app.run(main)
