"""Where a trained PCNet's occlusion ordering goes wrong, as JSON (no training).

    python benchmarks/pcnet_ordering.py --gin_file=gin/pcnet.gin --model_dir=runs/benchmark_pcnet \\
        --out=benchmarks/results/pcnet_ordering.json

The ordering rule (`tfssl.deocclusion.order_matrix`) completes each instance of a bordering pair with the other as
eraser and calls the one that grows more into the other the occluded one. This script records, for every pair of
the held-out test scenes with a true relation, how much the truly FRONT instance grows into the back one (ideally 0:
PCNet-M should see that nothing of it is hidden) and how much the truly BACK instance grows into the front one
(ideally all of its hidden part), and reports:
  - accuracy of the rule with other decision statistics from the same probabilities: pixel counts above thresholds
    0.1 (the reference's), 0.3 and 0.5, and the summed probability inside the eraser (no threshold);
  - the same with the eraser dilated by one pixel;
  - error rate by the size of the occluded instance's hidden part;
  - on the wrong pairs, the median growth of the front and of the back instance (which of the two failures dominates).
The model is the one `benchmarks/pcnet.py` trained (same gin files, restored from --model_dir).
"""

from __future__ import annotations

import json
import os
import time

import numpy as np
from absl import app, flags

from tfssl import cli  # --gin_file (default here: gin/pcnet.gin), --gin_param, --model_dir

flags.DEFINE_string("out", "benchmarks/results/pcnet_ordering.json", "Where to write the JSON.")
flags.DEFINE_string("dataset", "tfssl_scenes/base", "Scene dataset with a true order.")
flags.DEFINE_integer("max_examples", 500, "Scenes evaluated (gin/pcnet.gin evaluates 500).")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    from tfssl.core import experiment
    from tfssl.core.errors import ModelDirError
    from tfssl.evaluation import deocclusion as metrics

    cli.quiet_logs()
    FLAGS.gin_file = FLAGS.gin_file or ["gin/pcnet.gin"]
    if not FLAGS.model_dir:
        raise app.UsageError("--model_dir: a model trained with the same gin files (e.g. by benchmarks/pcnet.py)")
    session = experiment.setup(FLAGS.model_dir, FLAGS.gin_file, FLAGS.gin_param)
    if session.trainer.step == 0:
        raise ModelDirError(f"no checkpoint in {FLAGS.model_dir}/ckpt; run benchmarks/pcnet.py first")
    method = session.method
    begun, parts = time.time(), []
    for scene in metrics.load_scenes(FLAGS.dataset, "test", FLAGS.max_examples):
        scene["category"] = scene["category"] if method.use_category else None
        parts.append(metrics.pair_growth_records(method, scene))
    records = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    result = {
        "command": "python benchmarks/pcnet_ordering.py " + " ".join(
            [f"--gin_file={f}" for f in FLAGS.gin_file] + [f"--model_dir={FLAGS.model_dir}"]),
        "model_step": int(session.trainer.step), "dataset": FLAGS.dataset, "max_examples": FLAGS.max_examples,
        "seconds": time.time() - begun,
        **metrics.summarize_pair_growth(records),
    }
    os.makedirs(os.path.dirname(FLAGS.out) or ".", exist_ok=True)
    with open(FLAGS.out, "w") as f:
        json.dump(result, f, indent=2, sort_keys=True)
    print(json.dumps(result, indent=2, sort_keys=True))


if __name__ == "__main__":
    app.run(main)
