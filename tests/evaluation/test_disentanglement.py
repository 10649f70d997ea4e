"""Disentanglement metrics with a fake judge: an oracle (disentangled) model scores 1, an entangled one at chance."""

import os

import numpy as np
import pytest
import tensorflow as tf

from tfssl.evaluation import disentanglement as dis

T, S, ACTIONS, ATTRIBUTES = 3, 4, 4, 5


class FakeMethod:
    """Codes written in pixels: channel 0 holds the attribute (z_f), channel 1 the action (z_t of every frame).

    Disentangled: decode writes z_f to channel 0 and z_t to channel 1. Entangled: the action is decoded from z_f
    too, so a resampled z_f loses it.
    """

    static_dim, dynamic_dim = 1, 1

    def __init__(self, entangled=False):
        self.entangled = entangled

    def posteriors(self, videos):
        z_f = videos[:, 0, 0, 0, 0:1] * 10.0
        z_t = videos[:, :, 0, 0, 1:2] * 10.0
        return {"static_mean": z_f, "dynamic_mean": z_t}

    def sample_prior(self, noise):
        return {"z_t": noise * 10.0}  # far from every action code

    def decode(self, z_f, z_t):
        z_f, z_t = np.asarray(z_f), np.asarray(z_t)
        n = len(z_f)
        action = np.repeat(z_f[:, None], T, 1) + 100 if self.entangled else z_t
        video = np.zeros((n, T, S, S, 3), np.float32)
        video[..., 0] = (z_f[:, None, None] / 10.0)
        video[..., 1] = (action[:, :, None] / 10.0)
        return tf.constant(video)


class FakeJudge:
    """Reads the codes back from the pixels (rounded, clipped): a perfect judge of the fake's clips."""

    def predict(self, videos):
        videos = np.asarray(videos)
        attribute = np.clip(np.round(videos[:, 0, 0, 0, 0] * 10), 0, ATTRIBUTES - 1).astype(int)
        action = np.clip(np.round(videos[:, 0, 0, 0, 1] * 10), 0, ACTIONS - 1).astype(int)
        return {"action": np.eye(ACTIONS)[action], "body": np.eye(ATTRIBUTES)[attribute]}

    def accuracy(self, videos, labels):
        probs = self.predict(videos)
        return {k: float(np.mean(np.argmax(p, -1) == labels[k])) for k, p in probs.items()}


def _clips(n=40, seed=0):
    rs = np.random.RandomState(seed)
    labels = {"action": rs.randint(0, ACTIONS, n), "body": rs.randint(0, ATTRIBUTES, n)}
    return FakeMethod().decode(labels["body"][:, None].astype(np.float32),
                               np.repeat(labels["action"][:, None, None], T, 1).astype(np.float32)).numpy(), labels


SCORES = {"mean_max_prob": lambda probs: float(np.mean(np.max(probs, -1))), "count": lambda probs: float(len(probs))}


def test_a_disentangled_model_keeps_the_fixed_factor_and_swaps_exactly():
    videos, labels = _clips()
    metrics, grid = dis.disentanglement_scores(FakeMethod(), FakeJudge(), videos, labels, action_key="action",
                                               static_keys=("body",), generation_scores=SCORES)
    assert metrics["judge_action_accuracy"] == metrics["judge_body_accuracy"] == 1.0
    assert metrics["fix_motion_accuracy"] == 1.0
    assert metrics["fix_content_body_accuracy"] == metrics["fix_content_accuracy"] == 1.0
    assert metrics["swap_action_accuracy"] == metrics["swap_content_accuracy"] == 1.0
    assert metrics["count"] == 40 and metrics["num_clips"] == 40
    assert grid.shape == (3 * 4 * S, T * S, 3) and grid.min() >= 0 and grid.max() <= 1


def test_an_entangled_model_loses_the_action_when_content_is_resampled():
    videos, labels = _clips()
    metrics, _ = dis.disentanglement_scores(FakeMethod(entangled=True), FakeJudge(), videos, labels,
                                            action_key="action", static_keys=("body",), generation_scores=SCORES)
    # The judge then sees the last action class for every clip: chance level for uniform labels.
    assert metrics["fix_motion_accuracy"] == pytest.approx(np.mean(labels["action"] == ACTIONS - 1))
    assert metrics["fix_motion_accuracy"] < 0.5


def test_generation_scores_use_the_balanced_subset():
    videos, labels = _clips()
    calls = []

    def subset(action_labels, per_class, seed):
        calls.append((per_class, seed))
        return np.concatenate([np.flatnonzero(action_labels == c)[:per_class] for c in range(ACTIONS)])

    metrics, _ = dis.disentanglement_scores(FakeMethod(), FakeJudge(), videos, labels, action_key="action",
                                            static_keys=("body",), generation_scores=SCORES, balanced_subset=subset,
                                            per_class=2, seed=3)
    assert calls == [(2, 3)] and metrics["count"] == 2 * ACTIONS


def test_swap_grid_rows_are_content_motion_swap_and_written_as_png(tmp_path):
    rs = np.random.RandomState(0)
    a, b, c = (rs.rand(2, T, S, S, 3).astype("float32") for _ in range(3))
    grid = dis.swap_grid(a, b, c)
    np.testing.assert_array_equal(grid[:S, S:2 * S], a[0, 1])
    np.testing.assert_array_equal(grid[S:2 * S, :S], b[0, 0])
    np.testing.assert_array_equal(grid[5 * S:6 * S, 2 * S:], c[1, 2])
    path = dis.write_grid(grid, str(tmp_path))
    decoded = tf.io.decode_png(tf.io.read_file(path)).numpy()
    assert decoded.shape == grid.shape
    assert np.abs(decoded / 255.0 - grid).max() <= 1 / 255.0 + 1e-6
    assert any(f.startswith("events.out.tfevents") for f in os.listdir(tmp_path))


def test_the_decoding_helpers_run_on_a_real_s3vae():
    from tests.methods.test_s3vae import DF, _batch, _method

    method = _method()
    videos = _batch(3)["video"]
    rng = np.random.default_rng(0)
    for clips in (dis.fix_motion_clips(method, videos, rng, batch_size=2),
                  dis.fix_content_clips(method, videos, rng, batch_size=2), dis.swap_clips(method, videos, videos)):
        assert clips.shape == videos.shape and clips.min() >= 0.0 and clips.max() <= 1.0
    # Content kept, motion from the clip itself: the swap of a clip with itself is its reconstruction.
    posterior = method.posteriors(videos)
    np.testing.assert_allclose(dis.swap_clips(method, videos, videos),
                               method.decode(posterior["static_mean"], posterior["dynamic_mean"]).numpy(), atol=1e-6)
    assert method.static_dim == DF


def test_load_clips_reads_each_clip_once_from_a_repeating_stream():
    videos, labels = _clips(10)

    def clip_input(batch_size, *, name, split, max_examples):
        assert (name, split) == ("toy", "test")
        data = {"video": videos, "index": np.arange(10, dtype=np.int64), **labels}
        return tf.data.Dataset.from_tensor_slices(data).repeat().batch(batch_size)

    loaded, loaded_labels = dis._load_clips(clip_input, "toy", "test", ["action", "body"], None, 4)
    np.testing.assert_array_equal(loaded, videos)
    np.testing.assert_array_equal(loaded_labels["action"], labels["action"])
    capped, _ = dis._load_clips(clip_input, "toy", "test", ["action"], 5, 4)
    assert len(capped) == 5
