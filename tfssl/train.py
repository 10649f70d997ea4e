"""Train a method: `python -m tfssl.train --gin_file=gin/rotation.gin [--gin_file=gin/smoke.gin] [--model_dir=D]`.

Trains (or resumes from model_dir's latest checkpoint), runs the experiment's evaluations into
model_dir/eval/*.json, and exports into model_dir/export/ (SavedModel, Hub, TF-Lite, manifest.json).
"""

from absl import app

from tfssl import cli


def _train(model_dir: str) -> None:
    import tfssl.registry  # noqa: F401
    from tfssl.core import experiment

    result = experiment.run(model_dir, cli.FLAGS.gin_file, cli.FLAGS.gin_param)
    print(f"tfssl: done at step {result['step']}; results in {model_dir}", flush=True)


main = cli.run_tool(_train)


def console_main():
    app.run(main)


if __name__ == "__main__":
    console_main()
