"""Evaluate a trained method: `python -m tfssl.evaluate --gin_file=gin/rotation.gin --model_dir=D`.

Restores the latest checkpoint in model_dir and runs the experiment's evaluations (linear probe, kNN, or the
method's own metric), writing model_dir/eval/<name>.json and TensorBoard scalars.
"""

from absl import app

from tfssl import cli


def _evaluate(model_dir: str) -> None:
    import tfssl.registry  # noqa: F401
    from tfssl.core import experiment
    from tfssl.core.errors import ModelDirError

    session = experiment.setup(model_dir, cli.FLAGS.gin_file, cli.FLAGS.gin_param)
    if session.trainer.step == 0:
        raise ModelDirError(f"no checkpoint in {model_dir}/ckpt; train first with python -m tfssl.train "
                            f"--model_dir={model_dir} and the same gin files")
    experiment.evaluate(session)


main = cli.run_tool(_evaluate)


def console_main():
    app.run(main)


if __name__ == "__main__":
    console_main()
