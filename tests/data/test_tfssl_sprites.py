"""Tests of the Sprites renderer and the `tfssl_sprites` TFDS builder (small config)."""

import hashlib

import numpy as np
import pytest
import tensorflow_datasets as tfds

from tfssl.data import pipelines
from tfssl.data.builders import tfssl_sprites
from tfssl.data.render import sprites as S

SMALL = "tfssl_sprites/small"
SIZES = {"train": 576, "validation": 72, "test": 144}


@pytest.fixture(scope="module")
def examples():
    builder = pipelines.load_builder(SMALL)  # the session's data_dir: shared with the pipeline and judge tests
    return builder, {split: {int(ex["index"]): ex for ex in tfds.as_numpy(builder.as_dataset(split=split))}
                     for split in SIZES}


def _spec(**overrides):
    base = dict(body=0, top=1, bottom=2, hair=3, action=0, phase=0, shift_x=0.0, shift_y=0.0)
    return S.SpriteSpec(**{**base, **overrides})


def test_configs_and_sizes(tmp_path):
    names = [c.name for c in tfssl_sprites.TfsslSprites.BUILDER_CONFIGS]
    assert names == ["default", "small"]
    default = tfds.builder("tfssl_sprites", data_dir=str(tmp_path)).builder_config
    assert default.name == "default" and default.split_sizes == {"train": 9000, "validation": 720, "test": 1944}
    # Li & Mandt's protocol: every training character in every action once.
    assert default.num_train == S.SPLIT_CHARACTERS["train"] * S.NUM_ACTIONS


def test_small_config_features_and_labels(examples):
    builder, exs = examples
    assert {s: builder.info.splits[s].num_examples for s in SIZES} == SIZES
    assert builder.info.features["action"].names == list(S.ACTIONS)
    assert pipelines.clip_label_keys(builder) == ("action", "body", "top", "bottom", "hair")
    for split, n in SIZES.items():
        assert sorted(exs[split]) == list(range(n))
        for index, ex in exs[split].items():
            assert ex["video"].shape == (8, 64, 64, 3) and ex["video"].dtype == np.uint8
            assert ex["action"] == index % 9
            assert all(0 <= ex[k] < 6 for k in S.ATTRIBUTES)
        # a block of 9 consecutive clips: one character in all 9 actions
        block = [exs[split][i] for i in range(9, 18)]
        assert len({int(e["character"]) for e in block}) == 1
        assert sorted(int(e["action"]) for e in block) == list(range(9))


def test_stored_clips_equal_the_renderer_and_are_pinned(examples):
    _, exs = examples
    for split in SIZES:
        for index in (0, 5, 40):
            fresh = S.render_sprite_example(split, index)
            np.testing.assert_array_equal(exs[split][index]["video"], fresh["video"])
            assert all(exs[split][index][k] == fresh[k] for k in ("action", "character", "phase", *S.ATTRIBUTES))
    # The same bytes on every machine (exact float operations only); changing the renderer changes this on purpose.
    digest = hashlib.sha256(S.render_sprite_example("test", 7)["video"].tobytes()).hexdigest()[:16]
    assert digest == hashlib.sha256(S.render_sprite_example("test", 7)["video"].tobytes()).hexdigest()[:16]
    assert digest == "7b5e7fbef5682b89"


def test_test_characters_are_held_out_combinations():
    chars = {split: {tuple(c) for c in S.split_characters(split).tolist()} for split in S.SPLIT_CHARACTERS}
    assert {k: len(v) for k, v in chars.items()} == S.SPLIT_CHARACTERS
    assert not chars["train"] & chars["test"] and not chars["train"] & chars["validation"]
    assert not chars["validation"] & chars["test"]
    assert len(set().union(*chars.values())) == 6 ** 4
    train = np.array(sorted(chars["train"]))
    for a in range(4):  # every single value is seen in training; only the combinations are new
        assert set(train[:, a].tolist()) == set(range(6))


def test_every_action_moves_and_actions_differ():
    clips = {a: S.render_frames(_spec(action=a)) for a in range(9)}
    for a, clip in clips.items():
        changed = np.abs(np.diff(clip, axis=0)).max(-1) > 0.1  # [7, H, W] pixels that change between frames
        assert changed.reshape(7, -1).sum(1).min() >= 15, (S.ACTIONS[a], changed.reshape(7, -1).sum(1))
    for a in range(9):
        for b in range(a + 1, 9):
            assert np.abs(clips[a] - clips[b]).max(-1).mean() > 0.01, (S.ACTIONS[a], S.ACTIONS[b])


def test_left_is_the_mirror_of_right():
    for motion in range(3):
        left = S.render_frames(_spec(action=S.action_id(motion, 1)))
        right = S.render_frames(_spec(action=S.action_id(motion, 2)))
        np.testing.assert_array_equal(left, right[:, :, ::-1])


@pytest.mark.parametrize("attribute", S.ATTRIBUTES)
def test_each_attribute_value_looks_different_in_every_frame(attribute):
    clips = [S.render_frames(_spec(**{attribute: v}, action=4)) for v in range(6)]
    for v in range(6):
        for w in range(v + 1, 6):
            per_frame = (np.abs(clips[v] - clips[w]).max(-1) > 0.1).reshape(8, -1).sum(1)
            assert per_frame.min() >= 8, (attribute, v, w, per_frame)


def test_attributes_are_static_within_a_clip():
    """The colours of a character are the same set in every frame: only the motion changes between frames."""
    clip = S.to_uint8(S.render_frames(_spec(action=0, top=3, bottom=0)))
    top = S.to_uint8(S.TOP[3]).tobytes()
    for frame in clip:
        colours = {bytes(px) for px in frame.reshape(-1, 3)}
        assert top in colours and S.to_uint8(S.BOTTOM[0]).tobytes() in colours
