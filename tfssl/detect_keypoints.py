"""Keypoints on your own frames with a trained KeypointGAN:

  python -m tfssl.detect_keypoints --gin_file=gin/keypoints.gin --model_dir=D --frames=DIR --out=OUT
  python -m tfssl.detect_keypoints --gin_file=gin/keypoints.gin --model_dir=D --frames=a.png,b.jpg --out=OUT

Restores the latest checkpoint in model_dir (the gin files that trained it build the method), runs eta(Phi(x)) on
every frame and writes to --out:
  keypoints.json          per frame: its file, width and height, and K points (x, y) in pixels of that frame
                          (x to the right, y down, pixel (row r, column c) centred at (c + 0.5, r + 0.5)); once:
                          the model's image size, the skeleton's limbs and, for a tfssl_figures skeleton, the joint
                          names
  overlays/NNNN_NAME.png  each frame with the skeleton's limbs and points drawn on it (NNNN: its position)

--frames takes folders (their PNG and JPEG files, sorted by name: number frames with leading zeros) and files,
comma-separated. Frames must be S x S pixels, the model's image size (64 for gin/keypoints.gin), unless
--resize: then each frame is stretched to S x S (aspect ratio not kept) and the points are mapped back to its own
pixels. Refusing is the default because the model only ever saw square frames in which the figure fills most of
the picture; a 16:9 video frame stretched to a square gives poor points, so crop to a square around the person
first and pass --resize knowingly.

Every check on the inputs (missing or unreadable frames, an empty folder, wrongly sized frames, a model_dir without
a checkpoint or trained for another image size) runs before the model is built and ends with one line
`error: <cause and fix>`, exit status 2.
"""

from __future__ import annotations

import json
import os

from absl import app, flags

from tfssl import cli

flags.DEFINE_list("frames", [], "Frames to detect keypoints in: folders (their PNG / JPEG files, sorted by name) "
                  "and / or files, comma-separated.")
# tfssl.deocclude defines the same --out (same meaning); allow_override lets both tools live in one process (the
# test suite), whichever is imported first.
flags.DEFINE_string("out", None, "Output folder (created if missing).", allow_override=True)
flags.DEFINE_bool("resize", False, "Stretch frames that are not the model's image size to it and map the points "
                  "back to the frame's pixels (default: refuse such frames).")
flags.DEFINE_integer("batch_size", 32, "Frames per network call.", lower_bound=1)
FLAGS = flags.FLAGS

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")


# --------------------------------------------------------------------------------------------------------------
# Frames (every check before the model is built, so mistakes fail in seconds).


def list_frames(entries) -> list[str]:
    """The frame files named by --frames: a folder gives its PNG / JPEG files sorted by name (hidden files and
    other extensions skipped), a file gives itself. Raises DataError for a missing path, an empty folder or a
    folder without images."""
    from tfssl.errors import DataError

    if not entries:
        raise DataError("no --frames given; pass --frames=FOLDER of PNG or JPEG frames, or --frames=a.png,b.jpg")
    paths = []
    for entry in entries:
        if os.path.isfile(entry):
            paths.append(entry)
            continue
        if not os.path.isdir(entry):
            raise DataError(f"--frames entry {entry} does not exist; check the path")
        names = sorted(n for n in os.listdir(entry) if not n.startswith("."))
        images = [n for n in names if n.lower().endswith(IMAGE_EXTENSIONS)
                  and os.path.isfile(os.path.join(entry, n))]
        if not names:
            raise DataError(f"frames folder {entry} is empty; put the frames (PNG or JPEG) in it, or pass "
                            "--frames=a.png,b.jpg")
        if not images:
            others = f"{names[0]} and {len(names) - 1} more" if len(names) > 1 else names[0]
            raise DataError(f"frames folder {entry} holds no PNG or JPEG files (only {others}); save the frames as "
                            ".png or .jpg")
        paths += [os.path.join(entry, n) for n in images]
    return paths


def read_frame(path: str):
    """A frame file -> uint8 [H, W, 3] RGB (grey, palette and 16-bit images converted, alpha dropped).

    The whole file is decoded, so a truncated or corrupt frame raises DataError naming it here, not mid-run.
    """
    import numpy as np
    from PIL import Image, UnidentifiedImageError

    from tfssl.errors import DataError

    try:
        with Image.open(path) as image:
            image.load()
            if image.mode in ("I", "I;16", "I;16B", "I;16L"):  # 16-bit grey: PIL's convert("RGB") would clip it
                grey = np.floor(np.asarray(image, np.float64) / 257.0 + 0.5).clip(0, 255).astype(np.uint8)
                return np.stack([grey] * 3, axis=-1)
            return np.asarray(image.convert("RGB"))
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise DataError(f"cannot read frame {path} ({cli.one_line(error)}); re-save it as PNG or JPEG, or remove "
                        "it") from error


def check_frames(paths, size: int, resize: bool) -> list[tuple[int, int]]:
    """Decodes every frame once and returns their (width, height); without `resize` refuses any frame that is
    not size x size, naming the first and how many more."""
    from tfssl.errors import DataError

    sizes = []
    for path in paths:
        frame = read_frame(path)
        sizes.append((int(frame.shape[1]), int(frame.shape[0])))
    wrong = [(p, s) for p, s in zip(paths, sizes) if s != (size, size)]
    if wrong and not resize:
        (path, (w, h)), more = wrong[0], len(wrong) - 1
        others = f" (and {more} more frame{'s' * (more > 1)})" if more else ""
        raise DataError(f"frame {path}{others} is {w}x{h} but the model takes {size}x{size} frames; pass "
                        f"--resize=true to stretch them to {size}x{size} (points are mapped back), or crop and "
                        "resize the frames yourself")
    return sizes


def model_input(frame, size: int):
    """uint8 [H, W, 3] -> float32 [size, size, 3] in [0, 1], stretched with PIL's antialiased bilinear filter when
    its size differs (the frame's corners stay the image's corners, which `to_frame_pixels` relies on)."""
    import numpy as np
    from PIL import Image

    if frame.shape[:2] != (size, size):
        frame = np.asarray(Image.fromarray(frame).resize((size, size), Image.Resampling.BILINEAR))
    return frame.astype(np.float32) / np.float32(255.0)


def to_frame_pixels(points, width: int, height: int, size: int):
    """Points [..., K, 2] (x, y) in pixels of the size x size model input -> pixels of the width x height frame.

    Both use continuous coordinates whose pixel c spans [c, c + 1) (centre c + 0.5) and a resize maps corner to
    corner, so x scales by width / size and y by height / size.
    """
    import numpy as np

    return np.asarray(points, np.float64) * np.array([width / size, height / size])


# --------------------------------------------------------------------------------------------------------------
# The model (read from the gin files and model_dir without building it).


def _bound(selector: str, default):
    """A gin binding's value (macros resolved), or `default` when the gin files leave it unbound."""
    import gin

    try:
        value = gin.query_parameter(selector)
    except ValueError:
        return default
    if isinstance(value, gin.config.ConfigurableReference) and value.evaluate:  # %MACRO or @f()
        value = value.scoped_configurable_fn()
    return value


def configured_model(gin_files, gin_params) -> int:
    """Parses the gin files and returns the image size of the KeypointGAN they build; raises UserError when they
    build another method."""
    import inspect

    from tfssl.core import config
    from tfssl.errors import UserError
    from tfssl.methods.keypoints import KeypointGAN

    config.parse(gin_files, gin_params, finalize=False)
    method = _bound("tfssl.Experiment.method", None)
    built = getattr(getattr(method, "configurable", None), "wrapped", None)
    if not (isinstance(built, type) and issubclass(built, KeypointGAN)):
        name = getattr(built, "__name__", "no method")
        raise UserError(f"the gin files build {name}, which detects no keypoints; pass the KeypointGAN gin files "
                        "that trained --model_dir (e.g. --gin_file=gin/keypoints.gin)")
    default = inspect.signature(KeypointGAN).parameters["image_size"].default
    return int(_bound("tfssl.methods.KeypointGAN.image_size", default))


def trained_image_size(model_dir: str) -> int | None:
    """The image size model_dir's run was trained at (its operative_config.gin), or None when unknown.

    Convolutions do not care about the frame size, so a checkpoint may restore into a model built for another
    size without an error and then give wrong points; this catches it before the model is built.
    """
    from tfssl.core import config
    from tfssl.errors import UserError

    path = os.path.join(model_dir, "operative_config.gin")
    if not os.path.isfile(path):
        return None
    try:
        config.parse([path], finalize=False)
        size = _bound("tfssl.methods.KeypointGAN.image_size", None)
    except (UserError, ValueError, TypeError):
        return None  # unreadable record: the checkpoint restore still checks the variables' shapes
    return None if size is None else int(size)


def check_model_dir(model_dir: str, size: int) -> None:
    """Raises ModelDirError when model_dir holds no checkpoint or was trained for another image size."""
    import tensorflow as tf

    from tfssl.errors import ModelDirError

    if not tf.train.latest_checkpoint(os.path.join(model_dir, "ckpt")):
        raise ModelDirError(f"no checkpoint in {model_dir}/ckpt; point --model_dir at a trained KeypointGAN run, "
                            f"or train one with python -m tfssl.train --model_dir={model_dir} and the same gin files")
    trained = trained_image_size(model_dir)
    if trained is not None and trained != size:
        raise ModelDirError(f"{model_dir} holds a model trained on {trained}x{trained} frames but the gin files "
                            f"build one for {size}x{size}; pass the gin files that trained it (or "
                            f"--gin_param='tfssl.methods.KeypointGAN.image_size = {trained}')")


def joint_names(limbs, num_points: int) -> list[str] | None:
    """The joint names when the model's skeleton is tfssl_figures' (same K and limbs), else None: the method
    knows its limbs but not what its joints are called."""
    from tfssl.data.render import figures

    same = num_points == figures.NUM_JOINTS and tuple(map(tuple, limbs)) == tuple(map(tuple, figures.LIMBS))
    return list(figures.JOINT_NAMES) if same else None


# --------------------------------------------------------------------------------------------------------------
# Outputs.

_RIGHT, _LEFT, _CENTRE = (235, 50, 50), (50, 110, 240), (60, 210, 60)


def _side_colour(name: str | None):
    if name and name.startswith("right_"):
        return _RIGHT
    if name and name.startswith("left_"):
        return _LEFT
    return _CENTRE


def draw_overlay(frame, points, limbs, names=None):
    """uint8 [H, W, 3] frame with the limbs (lines) and points (dots) drawn on it -> uint8 [H, W, 3].

    points: [K, 2] (x, y) in the frame's pixels. With joint names, right-side joints and limbs are red, left-side
    blue and the rest green (so a left-right swap is visible); without, everything is green.
    """
    import numpy as np
    from PIL import Image, ImageDraw

    image = Image.fromarray(np.ascontiguousarray(frame))
    draw = ImageDraw.Draw(image)
    side = min(frame.shape[:2])
    width, radius = max(1, round(side / 128)), max(1, round(side / 100))
    outline = (0, 0, 0) if radius > 1 else None  # on a 3-pixel dot a dark ring would hide the colour
    colours = [_side_colour(names[k] if names else None) for k in range(len(points))]
    # ImageDraw truncates a float coordinate to the pixel that holds it, as the points' convention (pixel c spans
    # [c, c + 1)) wants; a dot is a (2 radius + 1)-pixel disc centred on that pixel (its box is inclusive).
    for a, b in limbs:
        colour = colours[b] if colours[b] != _CENTRE else colours[a]  # a limb takes its outer joint's side
        draw.line([tuple(map(float, points[a])), tuple(map(float, points[b]))], fill=colour, width=width)
    for (x, y), colour in zip(np.floor(np.asarray(points)).astype(int), colours):
        draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=colour, outline=outline)
    return np.asarray(image)


def overlay_name(position: int, path: str) -> str:
    """overlays/NNNN_<stem>.png: the position keeps names unique (a.png and a.jpg) and in the frames' order."""
    return os.path.join("overlays", f"{position:04d}_{os.path.splitext(os.path.basename(path))[0]}.png")


def write_keypoints_json(out_dir: str, record: dict) -> str:
    """Writes out_dir/keypoints.json: one line per top-level key and one per frame (json's indent would give every
    coordinate its own line)."""
    lines = [f"  {json.dumps(key)}: {json.dumps(value)}" for key, value in record.items() if key != "frames"]
    frames = ",\n".join(f"    {json.dumps(frame)}" for frame in record["frames"])
    lines.append(f'  "frames": [\n{frames}\n  ]')
    path = os.path.join(out_dir, "keypoints.json")
    with open(path, "w") as f:
        f.write("{\n" + ",\n".join(lines) + "\n}\n")
    return path


# --------------------------------------------------------------------------------------------------------------
# The tool.


def _detect_keypoints(model_dir: str) -> None:
    import tfssl.registry  # noqa: F401  (every configurable a gin file may name)
    from PIL import Image

    from tfssl.errors import UserError

    if not FLAGS.out:
        raise UserError("no --out given; name a folder for the results, e.g. --out=/tmp/keypoints")
    paths = list_frames(FLAGS.frames)
    size = configured_model(cli.FLAGS.gin_file, cli.FLAGS.gin_param)
    check_model_dir(model_dir, size)
    sizes = check_frames(paths, size, FLAGS.resize)

    import numpy as np
    import tensorflow as tf

    from tfssl.core import experiment

    session = experiment.setup(model_dir, cli.FLAGS.gin_file, cli.FLAGS.gin_param)
    method = session.method
    detect = tf.function(method.detect_keypoints,
                         input_signature=[tf.TensorSpec([None, size, size, 3], tf.float32)])
    names = joint_names(method.limbs, method.num_points)
    os.makedirs(os.path.join(FLAGS.out, "overlays"), exist_ok=True)
    records = []
    for start in range(0, len(paths), FLAGS.batch_size):
        chunk = paths[start:start + FLAGS.batch_size]
        frames = [read_frame(p) for p in chunk]
        points = detect(np.stack([model_input(f, size) for f in frames])).numpy()
        for i, (path, frame, model_points) in enumerate(zip(chunk, frames, points)):
            width, height = sizes[start + i]
            xy = to_frame_pixels(model_points, width, height, size)
            overlay = overlay_name(start + i, path)
            Image.fromarray(draw_overlay(frame, xy, method.limbs, names)).save(os.path.join(FLAGS.out, overlay))
            records.append({"file": path, "width": width, "height": height,
                            "points": np.round(xy, 3).tolist(), "overlay": overlay})
    write_keypoints_json(FLAGS.out, {
        "model_dir": model_dir, "checkpoint_step": session.trainer.step, "model_image_size": size,
        "resized": bool(FLAGS.resize), "num_points": method.num_points, "joint_names": names,
        "limbs": [list(limb) for limb in method.limbs],
        "coordinates": "points are (x, y) in pixels of each frame: x to the right, y down, pixel (row r, column c) "
                       "centred at (c + 0.5, r + 0.5)",
        "frames": records})
    print(f"tfssl: {method.num_points} keypoints in {len(paths)} frames; wrote {FLAGS.out}/keypoints.json and "
          f"{len(paths)} overlays", flush=True)


main = cli.run_tool(_detect_keypoints)


def console_main():
    app.run(main)


if __name__ == "__main__":
    console_main()
