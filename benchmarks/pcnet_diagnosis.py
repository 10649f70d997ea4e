"""Where a trained PCNet falls short, as JSON (no training): its occlusion ordering and content completion.

    python benchmarks/pcnet_diagnosis.py --gin_file=gin/pcnet.gin --model_dir=runs/benchmark_pcnet \\
        --out=benchmarks/results/pcnet/pcnet_diagnosis.json

Ordering ("ordering" in the JSON). The rule (`tfssl.methods.pcnet.inference.order_matrix`) completes each instance of a
bordering pair with the other as eraser and calls the one that grows more into the other the occluded one. For every
pair of the held-out test scenes (or --split=validation, to choose options) with a true relation, this records how
much the truly FRONT instance grows into the back one (ideally 0: nothing of it is hidden) and how much the truly
BACK instance grows into the front one (ideally all of its hidden part), and reports:
  - accuracy of the rule with other decision statistics from the same probabilities: pixel counts above thresholds
    0.1 (the reference's), 0.3 and 0.5, and the summed probability inside the eraser (no threshold);
  - the same with the eraser dilated by one pixel, and with PCNet-M averaged over each crop and its mirror image;
  - error rate by the size of the occluded instance's hidden part, and by the front and the back instance's category;
  - on the wrong pairs, the median growth of the front and of the back instance (which of the two failures dominates);
  - ("ordering_rules") with the --order_score / --flip_average evidence, the accuracy of deciding each pair alone
    (the reference) and of the total order that decides them together (`tfssl.methods.pcnet.inference.consistent_order`).
Amodal masks ("amodal_by_threshold"): pooled amodal mIoU and invisible-region IoU at amodal thresholds 0.1 .. 0.5,
with the ordering rule of --order_score / --flip_average / --total_order (choose the threshold on
--split=validation).
Content ("content_in_distribution"). PCNet-C's hidden-pixel L1 and the mean-colour fill's on training-style samples
(`tfssl.methods.pcnet_sample`, case 1: hole = A ∩ B of a surrogate occluder) from the validation scenes, i.e. on the
distribution it was trained on, to tell a weak inpainter from a shift between training samples and real occlusions.

The model is the one `benchmarks/pcnet.py` trained (same gin files, restored from --model_dir).
"""

from __future__ import annotations

import functools
import json
import os
import time

import numpy as np
from absl import app, flags

from tfssl import cli  # --gin_file (default here: gin/pcnet.gin), --gin_param, --model_dir

flags.DEFINE_string("out", "benchmarks/results/pcnet/pcnet_diagnosis.json", "Where to write the JSON.")
flags.DEFINE_string("dataset", "tfssl_scenes/base", "Scene dataset with a true order.")
flags.DEFINE_string("split", "test", "Scenes to diagnose: 'validation' to choose inference options, 'test' to report.")
flags.DEFINE_integer("max_examples", 500, "Scenes evaluated (gin/pcnet.gin evaluates 500).")
flags.DEFINE_enum("order_score", "count", ["count", "soft"], "Ordering rule behind the amodal-threshold sweep.")
flags.DEFINE_bool("flip_average", False, "Flip-averaged PCNet-M behind the amodal-threshold sweep.")
flags.DEFINE_bool("total_order", False, "Total order (not pairwise) behind the amodal-threshold sweep.")
flags.DEFINE_integer("content_batches", 8, "Batches of 64 training-style samples for the content check.")
FLAGS = flags.FLAGS


def content_in_distribution(method, dataset: str, batches: int) -> dict:
    """Hole L1 (per RGB value in [0, 1]) of PCNet-C and of the mean-colour fill on validation training samples."""
    from tfssl.data import pipelines
    from tfssl.methods.pcnet import inference as D
    from tfssl.methods.pcnet import pcnet_sample

    synthesize = functools.partial(pcnet_sample, image_size=method.image_size, use_category=method.use_category)
    samples = pipelines.scene_pair_dataset(64, name=dataset, split="validation", synthesize=synthesize, repeat=False)
    errors = {"pcnet": 0.0, "mean_fill": 0.0}
    values = 0
    for batch in samples.take(batches):
        image, modal, hole = (batch[k].numpy() for k in ("image", "content_modal", "content_hole"))
        hidden = np.broadcast_to(hole > 0, image.shape)
        fills = {"pcnet": method.complete_content(image, modal, hole),
                 "mean_fill": D.mean_colour_fill(image, modal, hole)}
        for name, fill in fills.items():
            errors[name] += float(np.abs(np.asarray(fill) - image)[hidden].sum())
        values += int(hidden.sum())
    return {"samples": 64 * batches, **{f"{k}_l1": v / max(values, 1) for k, v in errors.items()}}


def main(argv):
    del argv
    import tfssl.registry  # noqa: F401  (the configurables the gin files name)
    from tfssl.core import experiment
    from tfssl.errors import ModelDirError
    from tfssl.evaluation import deocclusion as metrics

    cli.quiet_logs()
    FLAGS.gin_file = FLAGS.gin_file or ["gin/pcnet.gin"]
    if not FLAGS.model_dir:
        raise app.UsageError("--model_dir: a model trained with the same gin files (e.g. by benchmarks/pcnet.py)")
    session = experiment.setup(FLAGS.model_dir, FLAGS.gin_file, FLAGS.gin_param)
    if session.trainer.step == 0:
        raise ModelDirError(f"no checkpoint in {FLAGS.model_dir}/ckpt; run benchmarks/pcnet.py first")
    method = session.method
    begun, parts, amodal, rules = time.time(), [], {}, {}
    for scene in metrics.load_scenes(FLAGS.dataset, FLAGS.split, FLAGS.max_examples):
        scene["category"] = scene["category"] if method.use_category else None
        parts.append(metrics.pair_growth_records(method, scene))
        for rule, counts in metrics.order_rule_counts(method, scene, FLAGS.order_score, FLAGS.flip_average).items():
            rules[rule] = rules.get(rule, 0) + counts
        for t, counts in metrics.amodal_threshold_counts(method, scene, order_score=FLAGS.order_score,
                                                         flip_average=FLAGS.flip_average,
                                                         total_order=FLAGS.total_order).items():
            amodal[t] = amodal.get(t, 0) + counts
    records = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    result = {
        "command": "python benchmarks/pcnet_diagnosis.py " + " ".join(
            [f"--out={FLAGS.out}"] + [f"--gin_file={f}" for f in FLAGS.gin_file]
            + [f"--gin_param={p}" for p in FLAGS.gin_param]
            + [f"--model_dir={FLAGS.model_dir}", f"--split={FLAGS.split}", f"--order_score={FLAGS.order_score}"]
            + (["--flip_average"] if FLAGS.flip_average else []) + (["--total_order"] if FLAGS.total_order else [])),
        "model_step": int(session.trainer.step), "dataset": FLAGS.dataset, "split": FLAGS.split,
        "max_examples": FLAGS.max_examples,
        "seconds": time.time() - begun,
        "ordering": metrics.summarize_pair_growth(records),
        "ordering_rules": {"order_score": FLAGS.order_score, "flip_average": FLAGS.flip_average,
                           **{rule: {"accuracy": c[0] / c[1], "pairs": int(c[1])} for rule, c in rules.items()}},
        "amodal_by_threshold": {
            "order_score": FLAGS.order_score, "flip_average": FLAGS.flip_average, "total_order": FLAGS.total_order,
            **{f"{t:g}": {"amodal_miou": c[0] / c[1], "invisible_iou": c[2] / c[3]} for t, c in amodal.items()}},
        "content_in_distribution": content_in_distribution(method, FLAGS.dataset, FLAGS.content_batches),
    }
    os.makedirs(os.path.dirname(FLAGS.out) or ".", exist_ok=True)
    with open(FLAGS.out, "w") as f:
        json.dump(result, f, indent=2, sort_keys=True)
    print(json.dumps(result, indent=2, sort_keys=True))


if __name__ == "__main__":
    app.run(main)
