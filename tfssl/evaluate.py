"""Evaluate a trained method: `python -m tfssl.evaluate --gin_file=gin/rotation.gin --model_dir=D`.

Restores the latest checkpoint in model_dir and runs the experiment's evaluations (linear probe, kNN, or the
method's own metric), writing model_dir/eval/<name>.json and TensorBoard scalars.

A gin file that binds `tfssl.study.run` (e.g. gin/utility.gin, the utility study of Newell & Deng) runs that study
instead, with model_dir as its output folder: `python -m tfssl.evaluate --gin_file=gin/utility.gin`.

`--checkpoint_step=N` evaluates the checkpoint saved at step N instead (one point of a learning curve) and writes
to model_dir/eval/step_N/. The run must have kept it: bind `tfssl.Trainer.checkpoint_every` to a divisor of N and
`tfssl.Trainer.max_checkpoints` high enough when training.
"""

import os

from absl import app, flags

from tfssl import cli

flags.DEFINE_integer("checkpoint_step", None, "Evaluate the checkpoint saved at this step instead of the latest "
                     "(written to model_dir/eval/step_<N>/).")


def _evaluate(model_dir: str) -> None:
    import tfssl.registry  # noqa: F401
    from tfssl.core import config, experiment
    from tfssl.errors import ModelDirError, UserError

    config.parse(cli.FLAGS.gin_file, cli.FLAGS.gin_param, finalize=False)
    with config.translate_call_errors():
        study = experiment.study()
        if study is not None:
            if cli.FLAGS.checkpoint_step is not None:
                raise UserError("--checkpoint_step does not apply to a study (its gin file binds tfssl.study.run); "
                                "drop the flag")
            study(model_dir)
            return
    session = experiment.setup(model_dir, cli.FLAGS.gin_file, cli.FLAGS.gin_param)
    if session.trainer.step == 0:
        raise ModelDirError(f"no checkpoint in {model_dir}/ckpt; train first with python -m tfssl.train "
                            f"--model_dir={model_dir} and the same gin files")
    step = cli.FLAGS.checkpoint_step
    if step is None:
        experiment.evaluate(session)
        return
    experiment.restore_step(session, step)
    experiment.evaluate(session, os.path.join(model_dir, "eval", f"step_{step}"))


main = cli.run_tool(_evaluate)


def console_main():
    app.run(main)


if __name__ == "__main__":
    console_main()
