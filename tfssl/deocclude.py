"""De-occlude an image with a trained PCNet:

  python -m tfssl.deocclude --gin_file=gin/pcnet.gin --model_dir=D --image=img.png --masks=a.png,b.png \\
      [--categories=3,7] --out=DIR
  python -m tfssl.deocclude --gin_file=gin/pcnet.gin --model_dir=D --example=test:5 --out=DIR

Restores the latest checkpoint in model_dir (the gin files that trained it build the method) and writes to --out:
  order.json      the pairwise order matrix (O[i][j] = 1: instance i occludes j), the occlusion graph
                  (occluders of each instance) and every instance's ancestors
  amodal_XX.png   each instance's predicted full mask (0 / 255)
  layer_XX.png    each instance's completed appearance, RGBA (alpha = the amodal mask)
  background.png  the scene with every instance removed and inpainted
  image.png, modal_XX.png  (with --example) the input taken from the dataset
Masks are PNGs the size of the image, one instance each, 0 = background and 1 or 255 = the instance. Instance
XX is the position of its mask in --masks. `--eraser_dilation=2` helps with predicted (not ground-truth) masks
that leave gaps between touching objects.
"""

from __future__ import annotations

import json
import os

from absl import app, flags

from tfssl import cli

flags.DEFINE_string("image", None, "RGB image to de-occlude (PNG or JPEG).")
flags.DEFINE_list("masks", [], "Comma-separated modal (visible) mask PNGs, one per instance, image-sized.")
flags.DEFINE_list("categories", [], "Comma-separated category ids (1..K), one per mask; required when the "
                  "model was trained with use_category=True.")
flags.DEFINE_string("example", None, "Take image and masks from a dataset example instead, as SPLIT:INDEX "
                    "(e.g. test:5) of --dataset.")
flags.DEFINE_string("dataset", "tfssl_scenes/base", "Scene dataset for --example (its size follows the gin "
                    "files, e.g. base_small with gin/smoke.gin).")
flags.DEFINE_string("out", None, "Output folder (created if missing).")
flags.DEFINE_integer("eraser_dilation", 0, "Pixels by which erasers grow in the ordering and amodal steps.")
flags.DEFINE_float("occ_threshold", 0.1, "PCNet-M probability above which a pixel counts in the ordering step.")
flags.DEFINE_float("amodal_threshold", 0.2, "PCNet-M probability above which a pixel joins the amodal mask.")
flags.DEFINE_enum("order_score", "count", ["count", "soft"], "How much an instance grows into the other in the "
                  "ordering step: 'count' (pixels above --occ_threshold, the paper's) or 'soft' (summed probability).")
flags.DEFINE_bool("flip_average", False, "Average PCNet-M over each crop and its mirror image (2x the mask cost).")
flags.DEFINE_bool("total_order", False, "Decide all pairs together as one front-to-back ranking, which overrules "
                  "the weakest evidence on a cycle, instead of each pair alone (the paper's).")
flags.DEFINE_bool("content", True, "Also complete object layers and the background (PCNet-C).")
FLAGS = flags.FLAGS


# --------------------------------------------------------------------------------------------------------------
# Inputs (every check before the model is built, so mistakes fail in a second).


def _read_png(path: str, what: str):
    import numpy as np
    from PIL import Image, UnidentifiedImageError

    from tfssl.errors import DataError

    if not os.path.isfile(path):
        raise DataError(f"{what} file {path} does not exist; check the path")
    try:
        with Image.open(path) as f:
            return np.asarray(f)
    except (UnidentifiedImageError, OSError) as error:
        raise DataError(f"cannot read {what} {path} ({cli.one_line(error)}); save it as PNG or JPEG") from error


def read_mask(path: str, height: int, width: int):
    """A modal mask PNG -> bool [height, width]; accepts {0, 1} or {0, 255} greyscale (or RGB(A) of equal
    channels). Raises DataError naming the file for a wrong size, non-binary values or an empty mask."""
    import numpy as np

    from tfssl.errors import DataError

    mask = _read_png(path, "mask")
    if mask.ndim == 3:
        colour = mask[..., :3]
        if not (colour == colour[..., :1]).all():
            raise DataError(f"mask {path} has colours; save one greyscale PNG per instance (0 = background, "
                            "255 = instance)")
        mask = colour[..., 0]
    if mask.shape != (height, width):
        raise DataError(f"mask {path} is {mask.shape[1]}x{mask.shape[0]} but the image is {width}x{height}; "
                        "masks must have the image's size")
    values = np.unique(mask)
    if not (set(values.tolist()) <= {0, 1} or set(values.tolist()) <= {0, 255}):
        raise DataError(f"mask {path} is not binary (values {values[:6].tolist()}...); save it with 0 for the "
                        "background and 255 (or 1) for the instance")
    if not values.max(initial=0):
        raise DataError(f"mask {path} is empty; remove it from --masks or mark the instance's visible pixels")
    return mask > 0


def read_inputs(image_path: str, mask_paths, categories):
    """(image float32 [H, W, 3] in [0, 1], modal bool [N, H, W], categories int64 [N] or None) from files."""
    import numpy as np

    from tfssl.errors import DataError

    if not mask_paths:
        raise DataError("no --masks given; pass one visible-mask PNG per instance, e.g. --masks=a.png,b.png")
    image = _read_png(image_path, "image")
    if image.ndim == 2:
        image = np.stack([image] * 3, axis=-1)
    image = image[..., :3].astype(np.float32) / (65535.0 if image.dtype == np.uint16 else 255.0)
    modal = np.stack([read_mask(p, image.shape[0], image.shape[1]) for p in mask_paths])
    if not categories:
        return image, modal, None
    if len(categories) != len(mask_paths):
        raise DataError(f"{len(categories)} --categories for {len(mask_paths)} --masks; give one id per mask")
    try:
        ids = np.array([int(c) for c in categories], np.int64)
    except ValueError as error:
        raise DataError(f"--categories must be integers 1..K, got {','.join(categories)}") from error
    if (ids < 1).any():
        raise DataError(f"--categories must be >= 1 (0 means background), got {','.join(categories)}")
    return image, modal, ids


def read_example(dataset: str, spec: str):
    """(image, modal, categories) of a dataset example named SPLIT:INDEX."""
    import numpy as np
    import tensorflow_datasets as tfds

    from tfssl.errors import DataError
    from tfssl.data import pipelines

    split, _, index = spec.partition(":")
    if not index.isdigit():
        raise DataError(f"--example={spec} is not SPLIT:INDEX; e.g. --example=test:5")
    builder = pipelines.load_builder(dataset)
    if split not in builder.info.splits:
        raise DataError(f"dataset {dataset} has no split {split}; use one of {', '.join(builder.info.splits)}")
    size = builder.info.splits[split].num_examples
    if int(index) >= size:
        raise DataError(f"--example={spec}: split {split} of {dataset} has {size} examples (0..{size - 1})")
    ex = next(iter(tfds.as_numpy(builder.as_dataset(split=f"{split}[{index}:{int(index) + 1}]"))))
    n = int(ex["num_objects"])
    return ex["image"].astype(np.float32) / 255.0, ex["modal"][:n] > 0, ex["category"][:n].astype(np.int64)


# --------------------------------------------------------------------------------------------------------------
# Outputs.


def write_outputs(out_dir: str, result, image=None, modal=None, category=None) -> list[str]:
    """Writes order.json, amodal_XX.png, layer_XX.png and background.png (and the inputs when given)."""
    import numpy as np
    from PIL import Image

    os.makedirs(out_dir, exist_ok=True)

    def save(name, array):
        Image.fromarray(np.asarray(array)).save(os.path.join(out_dir, name))
        return name

    def to_uint8(x):
        return np.floor(np.clip(x, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)

    record = {
        "order": result.order.tolist(),
        "order_meaning": "order[i][j] = 1: instance i occludes j; -1: j occludes i; 0: no relation",
        "occluders": {str(k): v for k, v in result.occluders.items()},
        "ancestors": {str(k): v for k, v in result.ancestors.items()},
    }
    if category is not None:
        record["categories"] = [int(c) for c in category]
    with open(os.path.join(out_dir, "order.json"), "w") as f:
        json.dump(record, f, indent=2)
    written = ["order.json"]
    for i, amodal in enumerate(result.amodal):
        written.append(save(f"amodal_{i:02d}.png", amodal.astype(np.uint8) * 255))
        if result.layers is not None:
            written.append(save(f"layer_{i:02d}.png", to_uint8(result.layers[i])))
    if result.background is not None:
        written.append(save("background.png", to_uint8(result.background)))
    if image is not None:
        written.append(save("image.png", to_uint8(image)))
        written += [save(f"modal_{i:02d}.png", m.astype(np.uint8) * 255) for i, m in enumerate(modal)]
    return written


def _deocclude(model_dir: str) -> None:
    import tfssl.registry  # noqa: F401  (every configurable a gin file may name)
    from tfssl.core import experiment
    from tfssl.methods.pcnet import inference as deocclusion
    from tfssl.errors import ModelDirError, UserError

    if not FLAGS.out:
        raise UserError("no --out given; name a folder for the results, e.g. --out=/tmp/deoccluded")
    if FLAGS.example:
        image, modal, category = read_example(FLAGS.dataset, FLAGS.example)
        inputs = {"image": image, "modal": modal}  # written out too: they came from the dataset
    elif FLAGS.image:
        image, modal, category = read_inputs(FLAGS.image, FLAGS.masks, FLAGS.categories)
        inputs = {}
    else:
        raise UserError("nothing to de-occlude; pass --image=... --masks=... or --example=SPLIT:INDEX")

    session = experiment.setup(model_dir, cli.FLAGS.gin_file, cli.FLAGS.gin_param)
    if session.trainer.step == 0:
        raise ModelDirError(f"no checkpoint in {model_dir}/ckpt; train first with python -m tfssl.train "
                            f"--model_dir={model_dir} and the same gin files")
    method = session.method
    if not hasattr(method, "mask_probabilities"):
        raise UserError(f"the gin files build {type(method).__name__}, which cannot de-occlude; use PCNet's "
                        "gin file (gin/pcnet.gin)")
    if method.use_category and category is None:
        raise UserError("this model was trained with categories; pass --categories with one id per mask")
    result = deocclusion.deocclude(method, image, modal, category if method.use_category else None,
                                   occ_threshold=FLAGS.occ_threshold, amodal_threshold=FLAGS.amodal_threshold,
                                   eraser_dilation=FLAGS.eraser_dilation, content=FLAGS.content,
                                   order_score=FLAGS.order_score, flip_average=FLAGS.flip_average,
                                   total_order=FLAGS.total_order)
    written = write_outputs(FLAGS.out, result, category=category, **inputs)
    print(f"tfssl: de-occluded {len(modal)} instances; wrote {len(written)} files to {FLAGS.out}", flush=True)


main = cli.run_tool(_deocclude)


def console_main():
    app.run(main)


if __name__ == "__main__":
    console_main()
