"""Export a trained method from its latest checkpoint: SavedModel + Hub + TF-Lite variants + manifest.json.

  python export/export_encoder.py --gin_file=gin/rotation.gin --model_dir=D [--export_dir=E] \
      [--tflite_variants=float32,float16,int8]

(`python -m tfssl.export` and the `tfssl-export` console script are the same tool.) Training already ends with
these exports; use this after training with `tfssl.Experiment.export = False`, for more TF-Lite variants, or to
export into another folder. float16 halves the TF-Lite file; int8 calibrates on real training images. Every export
is checked against the live model and its max abs difference recorded in manifest.json.
"""

from __future__ import annotations

import os

from absl import app, flags

from tfssl import cli

flags.DEFINE_string("export_dir", None, "Where to export (default: model_dir/export).")
flags.DEFINE_list("tflite_variants", ["float32"], "TF-Lite variants: float32, float16, int8.")


def _export(model_dir: str) -> None:
    import tfssl.registry  # noqa: F401
    from tfssl.core import experiment
    from tfssl.errors import ModelDirError

    session = experiment.setup(model_dir, cli.FLAGS.gin_file, cli.FLAGS.gin_param)
    if session.trainer.step == 0:
        raise ModelDirError(f"no checkpoint in {model_dir}/ckpt to export; train first")
    export_dir = cli.FLAGS.export_dir or os.path.join(model_dir, "export")
    manifest = experiment.export(session, export_dir, tflite_variants=cli.FLAGS.tflite_variants)
    print(f"tfssl: exported step {session.trainer.step} to {export_dir}: " + ", ".join(manifest.get("files", [])))


main = cli.run_tool(_export)


def console_main():
    app.run(main)


if __name__ == "__main__":
    console_main()
