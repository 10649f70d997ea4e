"""What the command-line tools share: gin flags, the default model_dir, and one-line errors.

Every tool ends a `UserError` (bad gin file or binding, missing data, unwritable model_dir, non-finite loss)
with `error: <cause and fix>` on stderr and a non-zero exit status, never a traceback.
"""

from __future__ import annotations

import os
import sys
from typing import Callable

# TensorFlow's C++ start-up chatter (CUDA probing, CPU features) hides the messages that matter to a user.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags  # noqa: E402

flags.DEFINE_multi_string("gin_file", [], "Gin files, in order; later ones override earlier ones.")
flags.DEFINE_multi_string("gin_param", [], "Gin bindings, e.g. --gin_param='Trainer.train_steps = 100'.")
flags.DEFINE_string("model_dir", None, "Where checkpoints, summaries, evaluations and exports go. "
                    "Default: runs/<name of the last gin file that is not common/smoke>.")
flags.DEFINE_bool("list_configurables", False, "Print the gin configurables tfssl registers and exit.")
FLAGS = flags.FLAGS


def default_model_dir(gin_files) -> str:
    names = [os.path.splitext(os.path.basename(f))[0] for f in gin_files]
    names = [n for n in names if n != "smoke"] or names or ["experiment"]
    return os.path.join("runs", names[-1])


def list_configurables() -> None:
    import gin

    import tfssl.registry  # noqa: F401  (imports every module that registers configurables)

    # gin keeps its registry in a SelectorMap (no public listing API): its items are (selector, configurable).
    # gin's own helpers (gin.macro, gin.constant, ...) are left out.
    for name in sorted({selector for selector, _ in gin.config._REGISTRY.items() if selector.startswith("tfssl.")}):
        print(name)


def one_line(error: BaseException) -> str:
    return (str(error).splitlines() or [type(error).__name__])[0]


def quiet_logs() -> None:
    """Keeps TensorFlow's and TFDS's INFO logging (SavedModel writer, dataset reader) off the console."""
    import logging

    from absl import logging as absl_logging

    absl_logging.set_verbosity(absl_logging.WARNING)
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    if not sys.stdout.isatty():  # progress bars in a log file are one line per refresh
        import tensorflow_datasets as tfds

        tfds.disable_progress_bar()


def run_tool(body: Callable[[str], None]) -> Callable:
    """Wraps a tool's body(model_dir) with flag checks and the one-line error policy, for absl.app.run."""

    def main(argv):
        quiet_logs()
        if len(argv) > 1:
            raise app.UsageError(f"unexpected arguments {argv[1:]}; pass options as --flag=value")
        if FLAGS.list_configurables:
            list_configurables()
            return
        if not FLAGS.gin_file:
            print("error: no --gin_file given; e.g. --gin_file=gin/rotation.gin", file=sys.stderr)
            sys.exit(2)
        from tfssl.errors import UserError

        model_dir = FLAGS.model_dir or default_model_dir(FLAGS.gin_file)
        try:
            body(model_dir)
        except UserError as error:
            print(f"error: {one_line(error)}", file=sys.stderr)
            sys.exit(error.exit_code)

    return main
