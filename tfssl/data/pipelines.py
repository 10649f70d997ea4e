"""tf.data input functions shared by every method.

A dataset is named as TFDS names it (`tfssl_objects/tc0l`, `stl10`, `imagenet2012`); the tfssl builders are
registered on import. Examples come out as dicts:

  image: float32 [B, H, W, 3] in [0, 1]
  label: int32 [B]            (when the dataset has one)
  index: int64 [B]            the example's position in its split (a memory-bank key; enumerated if absent)

Images stay uint8 through `cache()` (4x less memory) and become float after batching. Training order is a pure
function of (seed, epoch), so a resumed run can start at the batch where the killed one stopped
(`skip_batches`) instead of replaying the data from the start.
"""

from __future__ import annotations

import os
from typing import Callable

import gin
import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

import tfssl.data.builders  # noqa: F401  (registers the tfssl builders with TFDS)
from tfssl.data.builders import penn_action, simple_human36m, tfssl_figures
from tfssl.data.render import figures
from tfssl.errors import DataError

# Files a user must place in manual_dir for the real datasets tfssl's paper-scale gin files use.
MANUAL_FILES = {
    "imagenet2012": ("ILSVRC2012_img_train.tar", "ILSVRC2012_img_val.tar"),
}

SIZES = ("small", "default", "large")


@gin.configurable(module="tfssl.data")
def data_dir(path: str | None = None) -> str | None:
    """Where TFDS prepares datasets: the gin binding, else $TFDS_DATA_DIR, else TFDS's ~/tensorflow_datasets."""
    return path or os.environ.get("TFDS_DATA_DIR") or None


@gin.configurable(module="tfssl.data")
def dataset_size(size: str = "default") -> str:
    """The size variant of tfssl's synthetic datasets; gin/smoke.gin binds 'small'."""
    if size not in SIZES:
        raise DataError(f"unknown dataset size '{size}'; use one of {', '.join(SIZES)}")
    return size


def resolve_name(name: str) -> str:
    """Appends the gin-chosen size to tfssl's synthetic dataset configs (`tfssl_objects/tc0l` -> `..._small`).

    Names that already carry a size, and non-tfssl datasets, are returned unchanged.
    """
    size = dataset_size()
    if not name.startswith("tfssl_") or size == "default":
        return name
    builder, _, config = name.partition("/")
    if config in ("", "default") and size in _config_names(builder):
        return f"{builder}/{size}"  # builders whose configs are the sizes themselves (tfssl_sprites/small)
    if not config or config in SIZES or any(config.endswith("_" + s) for s in SIZES):
        return name
    return f"{builder}/{config}_{size}"


def _config_names(builder: str) -> set[str]:
    try:
        return {c.name for c in tfds.builder_cls(builder).BUILDER_CONFIGS}
    except (tfds.core.registered.DatasetNotFoundError, ValueError):
        return set()


def _check_manual_files(builder_name: str, manual_dir: str | None) -> None:
    required = MANUAL_FILES.get(builder_name)
    if not required:
        return
    folder = manual_dir or os.path.join(data_dir() or os.path.expanduser("~/tensorflow_datasets"),
                                        "downloads", "manual")
    missing = [f for f in required if not os.path.exists(os.path.join(folder, f))]
    if missing:
        raise DataError(f"dataset '{builder_name}' needs {', '.join(missing)} in {folder}; download them from "
                        "the dataset's website into that folder (or bind tfssl.data.load_builder.manual_dir)")


@gin.configurable(module="tfssl.data")
def load_builder(name: str, manual_dir: str | None = None, prepare: bool = True) -> tfds.core.DatasetBuilder:
    """Returns the prepared TFDS builder for `name` (size resolved), preparing it on first use.

    Raises:
      DataError: unknown dataset, or files missing from manual_dir.
    """
    name = resolve_name(name)
    try:
        builder = tfds.builder(name, data_dir=data_dir())
    except (tfds.core.registered.DatasetNotFoundError, ValueError, AssertionError) as error:
        known = ", ".join(sorted(n for n in tfds.list_builders() if n.startswith("tfssl_")))
        raise DataError(f"unknown dataset '{name}' ({str(error).splitlines()[0][:120]}); use a TFDS name or one "
                        f"of tfssl's: {known}") from error
    _check_manual_files(name.split("/")[0].split(":")[0], manual_dir)
    if prepare:
        config = tfds.download.DownloadConfig(manual_dir=manual_dir) if manual_dir else None
        try:
            builder.download_and_prepare(download_config=config)
        except (tfds.download.DownloadError, OSError, AssertionError) as error:  # TFDS asserts a manual_dir
            raise DataError(f"could not prepare '{name}': {str(error).splitlines()[0]}") from error
    return builder


@gin.configurable(module="tfssl.data")
def split_size(name: str = gin.REQUIRED, split: str = "train", max_examples: int | None = None) -> int:
    """The number of examples an input function numbers 0..n-1 (`index`): e.g. PIRL's memory-bank rows.

    Args:
      name: TFDS name (tfssl's synthetic sizes are resolved, so gin/smoke.gin's 'small' is honoured).
      split: the split, e.g. 'train' or 'train[:100]'.
      max_examples: the input's `image_dataset.max_examples`, if it reads only the first examples; it then numbers
        them 0..max_examples-1, so only that many count (a memory-bank row per unread example would stay a
        random vector forever: a wasted, trivially easy negative).
    """
    # tfssl's synthetic builders know their split sizes from the config: no need to render the data to count them.
    sizes = getattr(load_builder(name, prepare=False).builder_config, "split_sizes", None) or {}
    if split in sizes:
        size = int(sizes[split])
    else:
        size = int(load_builder(name).info.splits[split].num_examples)
    return size if max_examples is None else min(size, int(max_examples))


def _check_split(builder: tfds.core.DatasetBuilder, split: str) -> None:
    base = split.split("[")[0].split("+")[0]
    if base not in builder.info.splits:
        raise DataError(f"dataset '{builder.info.full_name}' has no split '{base}'; "
                        f"use one of {', '.join(sorted(builder.info.splits))}")


def _square(image: tf.Tensor, size: int) -> tf.Tensor:
    """Resizes the shorter side of a uint8 image to `size` and centre-crops to [size, size, 3]."""
    if image.shape[0] == size and image.shape[1] == size:
        return image
    shape = tf.cast(tf.shape(image)[:2], tf.float32)
    new_shape = tf.cast(tf.round(shape * size / tf.reduce_min(shape)), tf.int32)
    resized = tf.image.resize(image, new_shape, antialias=True)
    cropped = tf.image.resize_with_crop_or_pad(resized, size, size)
    return tf.cast(tf.clip_by_value(tf.round(cropped), 0, 255), tf.uint8)


def _standardize(example: dict, index: tf.Tensor | None, image_size: int | None, label_key: str) -> dict:
    """Keeps image (uint8 [H, W, 3], squared to image_size if given), label (int32) and index (int64)."""
    image = example["image"]
    if image.shape[-1] == 1:
        image = tf.image.grayscale_to_rgb(image)
    if image_size is not None:
        image = _square(image, image_size)
    out = {"image": image, "index": tf.cast(example["index"] if index is None else index, tf.int64)}
    if label_key in example:
        out["label"] = tf.cast(example[label_key], tf.int32)
    return out


def load_examples(name: str, split: str, *, image_size: int | None = None, label_key: str = "label",
                  max_examples: int | None = None) -> tf.data.Dataset:
    """Unbatched examples in file order: dicts of image (uint8 [H, W, 3]), label, index.

    `index` is the dataset's own example index (0..N-1 over the split) when it has one and the whole split is read.
    With `max_examples` it is the position among the examples read, 0..max_examples-1: the first examples in file
    order are not the lowest stored indices, and a per-example table (PIRL's memory bank) should have exactly one row
    per example trained on.
    """
    builder = load_builder(name)
    _check_split(builder, split)
    ds = builder.as_dataset(split=split, shuffle_files=False)
    has_index = "index" in builder.info.features and max_examples is None
    if max_examples is not None:
        ds = ds.take(max_examples)
    if has_index:
        return ds.map(lambda ex: _standardize(ex, None, image_size, label_key), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.enumerate().map(lambda i, ex: _standardize(ex, i, image_size, label_key),
                              num_parallel_calls=tf.data.AUTOTUNE)


def to_float(batch: dict) -> dict:
    """uint8 images -> float32 in [0, 1], after batching (one vectorised cast per batch)."""
    return {**batch, "image": tf.cast(batch["image"], tf.float32) / 255.0}


def block_shuffle(ds: tf.data.Dataset, block: int, seed: int, epoch: tf.Tensor) -> tf.data.Dataset:
    """Permutes each run of `block` consecutive examples by stateless random keys of (seed, epoch, block id).

    With block >= the split size this is a full shuffle. Unlike `Dataset.shuffle`, whose per-epoch seed would have
    to be a tensor (which TF's seed logic rejects when the global seed is 0), the order is a pure function of
    (seed, epoch), so a resumed run can start directly at epoch e.
    """
    def permute(block_id: tf.Tensor, examples: dict) -> tf.data.Dataset:
        size = tf.shape(examples["index"])[0]
        key = tf.stack([tf.cast(seed, tf.int64), tf.cast(epoch, tf.int64) * 1_000_003 + block_id])
        order = tf.argsort(tf.random.stateless_uniform([size], seed=key))
        return tf.data.Dataset.from_tensor_slices(tf.nest.map_structure(lambda t: tf.gather(t, order), examples))

    # Examples of different shapes (clips of different lengths) cannot be stacked: ragged_batch keeps each one's.
    fixed = all(spec.shape.is_fully_defined() for spec in tf.nest.flatten(ds.element_spec))
    return (ds.batch(block) if fixed else ds.ragged_batch(block)).enumerate().flat_map(permute)


@gin.configurable(module="tfssl.data")
def image_dataset(batch_size: int, *, name: str = gin.REQUIRED, split: str = "train",
                  image_size: int | None = None, label_key: str = "label", shuffle_buffer: int = 20_000,
                  cache: bool = True, seed: int = 0, max_examples: int | None = None, skip_batches: int = 0,
                  repeat: bool = True) -> tf.data.Dataset:
    """The training stream: batches of {image float32 [B,H,W,3] in [0,1], label int32 [B], index int64 [B]}.

    Args:
      batch_size: the GLOBAL batch size (the strategy splits it over replicas).
      name, split: TFDS dataset and split.
      image_size: resize + centre-crop to a square of this side (None keeps the stored size).
      shuffle_buffer: examples permuted together (a block shuffle); >= the split size is a full shuffle.
      cache: keep decoded uint8 examples in memory after the first epoch (embedded datasets fit easily).
      seed: epoch e is shuffled with seed (seed, e), so the order is reproducible and resumable.
      max_examples: use only the first examples of the split (smoke runs, label budgets); `index` is then their
        position, 0..max_examples-1.
      skip_batches: batches already consumed by an earlier run of this stream (resume).
      repeat: cycle over epochs forever (training) or stop after one (evaluation).
    """
    base = load_examples(name, split, image_size=image_size, label_key=label_key, max_examples=max_examples)
    ds = _shuffled_batches(base, batch_size, cache=cache, shuffle_buffer=shuffle_buffer, seed=seed,
                           skip_batches=skip_batches, repeat=repeat)
    return _finish(ds.map(to_float, num_parallel_calls=tf.data.AUTOTUNE))


def _shuffled_batches(base: tf.data.Dataset, batch_size: int, *, cache: bool, shuffle_buffer: int, seed: int,
                      skip_batches: int, repeat: bool) -> tf.data.Dataset:
    """Batches of `base` (examples with an `index`) in an order that is a pure function of (seed, epoch), from
    batch `skip_batches` on; forever (`repeat`, full batches only) or one epoch."""
    if cache:
        base = base.cache()
    num_examples = int(base.cardinality()) if int(base.cardinality()) > 0 else None
    skip_examples = skip_batches * batch_size
    start_epoch, skip_in_epoch = (divmod(skip_examples, num_examples) if num_examples and repeat
                                  else (0, skip_examples))

    def epoch(e: tf.Tensor) -> tf.data.Dataset:
        if shuffle_buffer <= 1:
            return base
        return block_shuffle(base, shuffle_buffer, seed, e)

    epochs = tf.data.Dataset.range(start_epoch, start_epoch + 1 if not repeat else 2**62)
    ds = epochs.flat_map(epoch).skip(skip_in_epoch)
    return ds.batch(batch_size, drop_remainder=repeat)


def _finish(ds: tf.data.Dataset) -> tf.data.Dataset:
    """The options every training stream shares (sharding by data, determinism) and prefetching."""
    options = tf.data.Options()
    # Workers read the same files and keep every n-th element: TFDS files are too few to shard by file.
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    options.deterministic = True
    return ds.with_options(options).prefetch(tf.data.AUTOTUNE)


SCENE_KEYS = ("image", "modal", "category", "num_objects", "index")


def scene_examples(name: str, split: str, max_examples: int | None = None) -> tf.data.Dataset:
    """Scene dicts of an instance-segmented scene dataset (tfssl_scenes, cocoa, kins): image uint8 [H, W, 3],
    modal uint8 [K, H, W], category [K], num_objects, index (the scene's position in its split)."""
    builder = load_builder(name)
    _check_split(builder, split)
    ds = builder.as_dataset(split=split, shuffle_files=False)
    if max_examples is not None:
        ds = ds.take(max_examples)
    return ds.map(lambda ex: {k: ex[k] for k in SCENE_KEYS}, num_parallel_calls=tf.data.AUTOTUNE)


@gin.configurable(module="tfssl.data")
def scene_pair_dataset(batch_size: int, *, name: str = gin.REQUIRED, synthesize: Callable = gin.REQUIRED,
                       split: str = "train", skip_batches: int = 0, seed: int = 0, shuffle_buffer: int = 20_000,
                       max_examples: int | None = None, cache: bool = True, repeat: bool = True) -> tf.data.Dataset:
    """A training stream of samples synthesised from pairs of scenes, e.g. PCNet's (`tfssl.methods.pcnet_sample`).

    Sample p is `synthesize(scene, other_scene, key)`: `scene` walks the shuffled split, `other_scene` walks the
    same scenes in another order (a partner "from anywhere in the dataset"), and key = int64 [2] (seed, p) is the
    stateless seed of everything random in the sample. So the stream is a pure function of (seed, position): a
    resumed run (`skip_batches`) continues with exactly the samples the killed one would have seen.

    Args:
      batch_size: the GLOBAL batch size.
      name, split: a TFDS scene dataset (`scene_examples`).
      synthesize: (scene dict, scene dict, key int64 [2]) -> dict of tensors with fixed shapes.
      skip_batches: batches consumed by an earlier run (resume).
      seed: the order of epoch e and every key are pure functions of (seed, e, position).
      shuffle_buffer: scenes permuted together (`block_shuffle`); >= the split size is a full shuffle.
      max_examples: use only the first scenes of the split.
      cache: keep the decoded scenes in memory.
      repeat: cycle forever (training) or one pass.
    Returns:
      Batches of `synthesize`'s dicts, [B, ...].
    """
    base = scene_examples(name, split, max_examples)
    if cache:
        base = base.cache()
    num_scenes = int(base.cardinality())
    if num_scenes <= 0:
        num_scenes = int(base.reduce(0, lambda n, _: n + 1))
    skip_samples = skip_batches * batch_size
    start_epoch, skip_in_epoch = divmod(skip_samples, num_scenes) if repeat else (0, skip_samples)

    fixed_shapes = all(spec.shape.is_fully_defined() for spec in base.element_spec.values())

    def epoch_stream(stream_seed: int):
        if not fixed_shapes:
            # Real datasets (images of different sizes) cannot be block-shuffled (it batches scenes): a seeded
            # reshuffling buffer gives the same order on every run, and a resumed run skips what it consumed.
            order = base if shuffle_buffer <= 1 else base.shuffle(shuffle_buffer, seed=stream_seed,
                                                                  reshuffle_each_iteration=True)
            return order.repeat(None if repeat else 1).enumerate().skip(skip_samples)

        def epoch(e: tf.Tensor) -> tf.data.Dataset:
            order = base if shuffle_buffer <= 1 else block_shuffle(base, shuffle_buffer, stream_seed, e)
            return order.enumerate().map(lambda i, scene: (e * num_scenes + i, scene))
        last = start_epoch + 1 if not repeat else 2**62
        return tf.data.Dataset.range(start_epoch, last).flat_map(epoch).skip(skip_in_epoch)

    pairs = tf.data.Dataset.zip(epoch_stream(seed), epoch_stream(seed + 7919))

    def sample(a: tuple, b: tuple) -> dict:
        (position, scene), (_, other_scene) = a, b
        key = tf.stack([tf.cast(seed, tf.int64), tf.cast(position, tf.int64)])
        return synthesize(scene, other_scene, key)

    ds = pairs.map(sample, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    ds = ds.batch(batch_size, drop_remainder=repeat)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    options.deterministic = True
    return ds.with_options(options).prefetch(tf.data.AUTOTUNE)


# ---- clips: sequences of frames with per-clip labels (S3VAE, DSVAE) -------------------------------------------------
#
# A clip example is {video: uint8 [T, H, W, 3], index: int64, <label>: int64 ...}. The labels are the dataset's
# ClassLabel features (tfssl_sprites: action, body, top, bottom, hair; tfssl_moving_digits: digit, direction).
# Datasets stored otherwise get an adapter that maps their features to this contract (CLIP_ADAPTERS).


def moving_mnist_clip(example: dict) -> dict:
    """TFDS `moving_mnist` (image_sequence: uint8 [20, 64, 64, 1], no labels) -> a clip: video uint8 [20, 64, 64, 3].

    Moving MNIST has no labels (two digits per clip, unnamed) and only a `test` split of 10,000 clips: train on a
    slice of it (`split='test[:9000]'`). `num_frames` of the input function keeps the first T frames (the paper: 15).
    """
    return {"video": tf.image.grayscale_to_rgb(example["image_sequence"])}


CLIP_ADAPTERS: dict[str, Callable[[dict], dict]] = {"moving_mnist": moving_mnist_clip}


def clip_label_keys(builder: tfds.core.DatasetBuilder) -> tuple[str, ...]:
    """The per-clip labels a clip dataset yields: its top-level scalar ClassLabel features, in declaration order."""
    features = builder.info.features
    return tuple(k for k, f in features.items() if isinstance(f, tfds.features.ClassLabel))


def standardize_clip(example: dict, label_keys: tuple[str, ...], *, adapter: Callable[[dict], dict] | None = None,
                     num_frames: int | None = None, index: tf.Tensor | None = None) -> dict:
    """One stored example -> {video: uint8 [T, H, W, 3], index: int64, label: int64 for each of label_keys}."""
    clip = adapter(example) if adapter is not None else {"video": example["video"]}
    video = clip["video"]
    if video.shape[-1] == 1:
        video = tf.image.grayscale_to_rgb(video)
    if num_frames is not None:
        video = video[:num_frames]
    out = {"video": video, "index": tf.cast(example["index"] if index is None else index, tf.int64)}
    for key in label_keys:
        out[key] = tf.cast(example[key], tf.int64)
    return out


def clip_examples(name: str, split: str, *, num_frames: int | None = None,
                  max_examples: int | None = None) -> tf.data.Dataset:
    """Unbatched clips in file order (see `standardize_clip`); `index` as in `load_examples`.

    Raises:
      DataError: unknown dataset or split, no video feature, or fewer stored frames than num_frames.
    """
    builder = load_builder(name)
    _check_split(builder, split)
    features = builder.info.features
    adapter = CLIP_ADAPTERS.get(builder.name)
    if adapter is None and "video" not in features:
        raise DataError(f"dataset '{builder.info.full_name}' has no 'video' feature; use a clip dataset "
                        f"(tfssl_sprites, tfssl_moving_digits, sprites_npy, {', '.join(CLIP_ADAPTERS)})")
    stored = (features["video"].shape if adapter is None else None) or (None,)
    if num_frames is not None and stored[0] is not None and num_frames > stored[0]:
        raise DataError(f"dataset '{builder.info.full_name}' has {stored[0]} frames per clip, fewer than "
                        f"num_frames={num_frames}; bind tfssl.data.clip_dataset.num_frames to at most {stored[0]}")
    label_keys = clip_label_keys(builder)
    ds = builder.as_dataset(split=split, shuffle_files=False)
    has_index = "index" in features and max_examples is None
    if max_examples is not None:
        ds = ds.take(max_examples)
    kwargs = dict(adapter=adapter, num_frames=num_frames)
    if has_index:
        return ds.map(lambda ex: standardize_clip(ex, label_keys, **kwargs), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.enumerate().map(lambda i, ex: standardize_clip(ex, label_keys, index=i, **kwargs),
                              num_parallel_calls=tf.data.AUTOTUNE)


def clips_to_float(batch: dict) -> dict:
    """uint8 videos -> float32 in [0, 1], after batching."""
    return {**batch, "video": tf.cast(batch["video"], tf.float32) / 255.0}


@gin.configurable(module="tfssl.data")
def clip_dataset(batch_size: int, *, name: str = gin.REQUIRED, split: str = "train", num_frames: int | None = None,
                 shuffle_buffer: int = 20_000, cache: bool = True, seed: int = 0, max_examples: int | None = None,
                 skip_batches: int = 0, repeat: bool = True) -> tf.data.Dataset:
    """The training stream of a clip dataset: batches of
    {video: float32 [B, T, H, W, 3] in [0, 1], index: int64 [B], <label>: int64 [B] for each per-clip label}.

    Labels: tfssl_sprites: action (0..8), body, top, bottom, hair (0..5); tfssl_moving_digits: digit (0..9),
    direction (0..7); sprites_npy as tfssl_sprites; moving_mnist: none.

    Args:
      batch_size: the GLOBAL batch size (the strategy splits it over replicas).
      name, split: TFDS dataset and split (tfssl's synthetic sizes resolved as in `image_dataset`).
      num_frames: keep the first T frames of each clip (None: all stored frames).
      shuffle_buffer, cache, seed, max_examples, skip_batches, repeat: as in `image_dataset` (a cached default
        tfssl_sprites train split takes 0.9 GB of uint8 in memory).
    """
    base = clip_examples(name, split, num_frames=num_frames, max_examples=max_examples)
    ds = _shuffled_batches(base, batch_size, cache=cache, shuffle_buffer=shuffle_buffer, seed=seed,
                           skip_batches=skip_batches, repeat=repeat)
    return _finish(ds.map(clips_to_float, num_parallel_calls=tf.data.AUTOTUNE))


def load_clips(name: str, split: str = "test", max_examples: int | None = None, *, num_frames: int | None = None,
               as_uint8: bool = False) -> dict[str, np.ndarray]:
    """A whole split (or its first `max_examples` clips) in memory, in file order, for evaluation.

    Returns:
      video: float32 [N, T, H, W, 3] in [0, 1] (uint8 in [0, 255] with as_uint8: 4x less memory);
      index: int64 [N]; each label: int64 [N].
    """
    ds = clip_examples(name, split, num_frames=num_frames, max_examples=max_examples).batch(256)
    parts: dict[str, list] = {}
    for batch in ds.as_numpy_iterator():
        for key, value in batch.items():
            parts.setdefault(key, []).append(value)
    if not parts:
        raise DataError(f"split '{split}' of '{name}' has no clips")
    out = {key: np.concatenate(values) for key, values in parts.items()}
    if not as_uint8:
        out["video"] = out["video"].astype(np.float32) / np.float32(255.0)
    return out


# --------------------------------------------------------------------------------------------------------------
# Videos with 2D joints (tfssl_figures; KeypointGAN).


# builder -> (limbs, left/right flip permutation) of its joints.
SKELETONS = {
    "tfssl_figures": (figures.LIMBS, figures.FLIP),
    "simple_human36m": (simple_human36m.LIMBS, simple_human36m.FLIP),
    "penn_action": (penn_action.LIMBS, penn_action.FLIP),
}


def _skeleton(name: str) -> tuple:
    builder = name.split("/")[0].split(":")[0]
    if builder not in SKELETONS:
        raise DataError(f"no skeleton is known for dataset '{name}'; use one of {', '.join(SKELETONS)} or bind the "
                        "limbs directly")
    return SKELETONS[builder]


@gin.configurable(module="tfssl.data")
def skeleton_limbs(name: str = "tfssl_figures/base") -> tuple[tuple[int, int], ...]:
    """The limbs (joint-index pairs) of a keypoint dataset's skeleton, for a method's skeleton renderer to bind
    (`limbs = @tfssl.data.skeleton_limbs()`), so the method never imports the dataset."""
    return tuple(tuple(limb) for limb in _skeleton(name)[0])


def skeleton_flip(name: str = "tfssl_figures/base") -> tuple[int, ...]:
    """FLIP[j]: the joint that joint j of a keypoint dataset becomes when left and right are swapped."""
    return tuple(_skeleton(name)[1])


def pixels_to_unit(joints: tf.Tensor, size: int) -> tf.Tensor:
    """Joints in pixels (x, y; pixel c centred at c + 0.5) of a size x size frame -> [-1, 1] coordinates whose
    -1 and 1 are the centres of the first and last pixels (the skeleton renderer's linspace(-1, 1, size) grid)."""
    return (tf.cast(joints, tf.float32) - 0.5) * (2.0 / (size - 1)) - 1.0


def _position_stream(base: tf.data.Dataset, num: int, seed: int, shuffle_buffer: int, skip: int,
                     repeat: bool) -> tf.data.Dataset:
    """(position, example) pairs: epoch e is `block_shuffle(base, ..., seed, e)` and position = e * num + i, so the
    stream (and anything keyed by position) is a pure function of (seed, position) and resumes by skipping."""
    start_epoch, skip_in_epoch = divmod(skip, num) if repeat else (0, skip)

    def epoch(e: tf.Tensor) -> tf.data.Dataset:
        order = base if shuffle_buffer <= 1 else block_shuffle(base, shuffle_buffer, seed, e)
        return order.enumerate().map(lambda i, ex: (e * num + i, ex))

    last = start_epoch + 1 if not repeat else 2**62
    return tf.data.Dataset.range(start_epoch, last).flat_map(epoch).skip(skip_in_epoch)


def _clips(name: str, split: str, max_examples: int | None) -> tuple[tf.data.Dataset, int, int]:
    """Clips {video uint8 [T, S, S, 3], joints float32 [T, K, 2] pixels, index int64}, their count and S."""
    builder = load_builder(name)
    _check_split(builder, split)
    if "video" not in builder.info.features:
        raise DataError(f"dataset '{builder.info.full_name}' has no videos; name a video config such as "
                        "'tfssl_figures/base' (the '/prior' configs hold poses only)")
    size = int(builder.info.features["video"].shape[1])
    ds = builder.as_dataset(split=split, shuffle_files=False)
    if max_examples is not None:
        ds = ds.take(max_examples)
    ds = ds.map(lambda ex: {"video": ex["video"], "joints": ex["joints"], "index": ex["index"]},
                num_parallel_calls=tf.data.AUTOTUNE)
    count = int(ds.cardinality())
    return ds, (count if count > 0 else int(ds.reduce(0, lambda n, _: n + 1))), size


@gin.configurable(module="tfssl.data")
def frame_pair_dataset(batch_size: int, *, name: str = "tfssl_figures/base", split: str = "train",
                       skip_batches: int = 0, seed: int = 0, shuffle_buffer: int = 20_000,
                       max_examples: int | None = None, cache: bool = True, repeat: bool = True,
                       prior: str | None = None, prior_split: str = "train") -> tf.data.Dataset:
    """KeypointGAN's training stream: pairs (x, x') of two different frames of the same video, and optionally a
    batch of unpaired prior poses beside each batch of pairs.

    Pair p takes the clip at position p of the shuffled split and two distinct frames drawn with the stateless
    seed (seed, p), so the stream is a pure function of (seed, position) and a resumed run (`skip_batches`)
    continues with exactly the pairs the killed one would have seen.

    Args:
      batch_size: the GLOBAL batch size.
      name, split: a video dataset with per-frame joints (`tfssl_figures/base`).
      skip_batches: batches consumed by an earlier run (resume).
      seed: the clip order of epoch e and every frame choice are pure functions of (seed, e, position).
      shuffle_buffer: clips permuted together (`block_shuffle`); >= the split size is a full shuffle.
      max_examples: use only the first clips of the split.
      cache: keep the decoded clips in memory (uint8; `tfssl_figures/base` is about 200 MB).
      repeat: cycle forever (training) or one pass (one pair per clip).
      prior, prior_split: a pose dataset (`tfssl_figures/prior`) whose `pose_prior_dataset` batches (same batch
        size, seed and skip_batches) are zipped in as `prior_points`; None for pairs only. The prior is unpaired:
        its poses come from other sequences and are independent of the pairs beside them.
    Returns:
      Batches of
        image: float32 [B, S, S, 3] in [0, 1], the frame x whose pose is wanted.
        appearance: float32 [B, S, S, 3] in [0, 1], another frame x' of the same clip.
        points: float32 [B, K, 2], x's joints (x, y) in [-1, 1] (`pixels_to_unit`): ground truth for evaluation
          and summaries only; KeypointGAN never trains on them.
        frames: int32 [B, 2], the frame indices of x and x'.
        index: int64 [B], the clip's index in its split.
        prior_points: float32 [B, K, 2] in [-1, 1], with `prior` only.
    """
    base, num_clips, size = _clips(name, split, max_examples)
    if cache:
        base = base.cache()
    stream = _position_stream(base, num_clips, seed, shuffle_buffer, skip_batches * batch_size, repeat)

    def sample(position: tf.Tensor, clip: dict) -> dict:
        key = tf.stack([tf.cast(seed, tf.int64), tf.cast(position, tf.int64)])
        num_frames = tf.shape(clip["video"])[0]
        u = tf.random.stateless_uniform([2], seed=key)
        t = tf.minimum(tf.cast(u[0] * tf.cast(num_frames, tf.float32), tf.int32), num_frames - 1)
        # The other frame is uniform over the remaining T - 1: x' never equals x.
        gap = 1 + tf.minimum(tf.cast(u[1] * tf.cast(num_frames - 1, tf.float32), tf.int32), num_frames - 2)
        t_other = (t + gap) % num_frames
        return {"image": clip["video"][t], "appearance": clip["video"][t_other],
                "points": pixels_to_unit(clip["joints"][t], size), "frames": tf.stack([t, t_other]),
                "index": tf.cast(clip["index"], tf.int64)}

    def to_float_pair(batch: dict) -> dict:
        return {**batch, "image": tf.cast(batch["image"], tf.float32) / 255.0,
                "appearance": tf.cast(batch["appearance"], tf.float32) / 255.0}

    ds = stream.map(sample, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    ds = ds.batch(batch_size, drop_remainder=repeat).map(to_float_pair, num_parallel_calls=tf.data.AUTOTUNE)
    if prior is not None:
        poses = pose_prior_dataset(batch_size, name=prior, split=prior_split, skip_batches=skip_batches, seed=seed,
                                   cache=cache, repeat=True)
        ds = tf.data.Dataset.zip(ds, poses).map(lambda pairs, pose: {**pairs, "prior_points": pose["points"]})
    return _finish(ds)


@gin.configurable(module="tfssl.data")
def frame_dataset(batch_size: int, *, name: str = "tfssl_figures/base", split: str = "test",
                  max_examples: int | None = None) -> tf.data.Dataset:
    """Every frame of a video split, in order, once: for keypoint evaluation.

    Returns:
      Batches of image float32 [B, S, S, 3] in [0, 1], points float32 [B, K, 2] in [-1, 1] (x, y), index int64 [B]
      (the clip), frame int32 [B].
    """
    base, _, size = _clips(name, split, max_examples)

    def frames(clip: dict) -> tf.data.Dataset:
        num_frames = tf.shape(clip["video"])[0]
        return tf.data.Dataset.from_tensor_slices({
            "image": clip["video"], "points": pixels_to_unit(clip["joints"], size),
            "index": tf.fill([num_frames], tf.cast(clip["index"], tf.int64)), "frame": tf.range(num_frames)})

    ds = base.flat_map(frames).batch(batch_size).map(to_float, num_parallel_calls=tf.data.AUTOTUNE)
    return _finish(ds)


@gin.configurable(module="tfssl.data")
def pose_prior_dataset(batch_size: int, *, name: str = "tfssl_figures/prior", split: str = "train",
                       frame_size: int | None = None, skip_batches: int = 0, seed: int = 0,
                       shuffle_buffer: int = 100_000, cache: bool = True, repeat: bool = True,
                       key: str = "points") -> tf.data.Dataset:
    """The unpaired pose prior: batches of example poses from sequences other than the training videos'.

    Args:
      batch_size: the GLOBAL batch size.
      name, split: a pose dataset (`tfssl_figures/prior`: train = the prior, validation = held-out poses).
      frame_size: the side in pixels of the frames the poses are given in (default: the config's image_size, as
        the real pose builders have, else tfssl_figures' IMAGE_SIZE).
      skip_batches, seed, shuffle_buffer, cache, repeat: as `image_dataset` (the order is a pure function of
        (seed, epoch)).
      key: the name of the points in the batches ('prior_points' for KeypointGAN's eta pre-training).
    Returns:
      Batches of points float32 [B, K, 2] under `key`, (x, y) in [-1, 1] (`pixels_to_unit`), and index int64 [B].
    """
    builder = load_builder(name)
    _check_split(builder, split)
    if "joints" not in builder.info.features or "video" in builder.info.features:
        raise DataError(f"dataset '{builder.info.full_name}' is not a pose prior; name a poses-only config such "
                        "as 'tfssl_figures/prior'")
    size = frame_size or getattr(builder.builder_config, "image_size", None) or tfssl_figures.IMAGE_SIZE
    base = builder.as_dataset(split=split, shuffle_files=False).map(
        lambda ex: {"points": pixels_to_unit(ex["joints"], size), "index": ex["index"]},
        num_parallel_calls=tf.data.AUTOTUNE)
    if cache:
        base = base.cache()
    num = int(builder.info.splits[split].num_examples)
    stream = _position_stream(base, num, seed, shuffle_buffer, skip_batches * batch_size, repeat)
    ds = stream.map(lambda _, ex: {key: ex["points"], "index": ex["index"]}).batch(batch_size, drop_remainder=repeat)
    return _finish(ds)


InputFn = Callable[..., tf.data.Dataset]
