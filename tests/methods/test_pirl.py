"""PIRL: the spec's properties (jigsaw, memory bank, sampler, losses, learning) and the shared method contract."""

import json

import gin
import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.multi_worker import assert_identical, run_two_workers
from tests.method_checks import Returns, check_resume_equivalence, run_method_checks
from tfssl.layers.rng import example_uniform
from tfssl.methods import pirl
from tfssl.methods.pirl import PIRL

BINDINGS = ["tfssl.make_optimizer.total_steps = 10", "tfssl.layers.resnet9.width = 4",
            "encoder/tfssl.make_optimizer.learning_rate = 0.1"]
BANK = 48
# gin/pirl.gin + gin/smoke.gin at 32 px, width 4, a 12-image bank in batches of 8 (the resume starts mid-epoch).
RESUME = ["IMAGE_SIZE = 32", "GLOBAL_BATCH = 8", "train/tfssl.data.image_dataset.image_size = %IMAGE_SIZE",
          "TRAIN_EXAMPLES = 12", "tfssl.methods.PIRL.num_negatives = 8", "tfssl.layers.resnet9.width = 4",
          "tfssl.methods.PIRL.negatives = 'bank'"]  # the bank's state is the harder resume (gin/pirl.gin: batch)
# Chi-square critical values at p = 0.001 by degrees of freedom (a uniform sampler fails 1 run in 1000).
CHI2_CRITICAL_0001 = {5: 20.515, 8: 26.124}


def _uniform_enough(counts) -> bool:
    counts = np.asarray(counts, float)
    expected = counts.sum() / len(counts)
    return ((counts - expected) ** 2 / expected).sum() < CHI2_CRITICAL_0001[len(counts) - 1]


def _batch(n=8, size=32, seed=0, stride=5):
    """Smooth random images (upsampled 4x4 noise), so patches of one image resemble each other."""
    rs = np.random.RandomState(seed)
    coarse = rs.rand(n, 4, 4, 3).astype("float32")
    images = tf.image.resize(coarse, [size, size], method="bicubic").numpy().clip(0, 1)
    return {"image": images, "index": np.arange(n, dtype="int64") * stride,
            "label": rs.randint(0, 10, n).astype("int32")}


def _method(**kwargs):
    keras.utils.set_random_seed(0)
    kwargs = {"image_size": 32, "bank_size": BANK, "num_negatives": 16, "bank_seed": 0, **kwargs}
    return PIRL(**kwargs)


# ---- jigsaw -------------------------------------------------------------------------------------------------------
def test_jigsaw_geometry_scales_the_papers_255_85_64():
    assert pirl.jigsaw_geometry(255) == (85, 64)
    assert pirl.jigsaw_geometry(64) == (21, 16)
    assert pirl.jigsaw_geometry(32) == (10, 8)
    with pytest.raises(ValueError, match="at least 24 px"):
        pirl.jigsaw_geometry(16)


def test_patches_have_the_right_size_lie_in_their_cells_and_write_back():
    cell, patch = 10, 8
    rs = np.random.RandomState(1)
    images = rs.rand(3, 30, 30, 3).astype("float32")
    offsets = pirl.random_offsets(tf.constant(rs.rand(3, 9, 2), tf.float32), cell, patch).numpy()
    assert offsets.min() >= 0 and offsets.max() <= cell - patch and len(np.unique(offsets)) == cell - patch + 1
    patches = pirl.extract_patches(tf.constant(images), tf.constant(offsets), cell, patch).numpy()
    assert patches.shape == (3, 9, patch, patch, 3)
    covered = np.zeros((3, 30, 30), bool)
    for b in range(3):
        for k in range(9):
            r, c = divmod(k, 3)
            top, left = r * cell + offsets[b, k, 0], c * cell + offsets[b, k, 1]
            # Inside its own cell: the patch's box never crosses a cell border.
            assert r * cell <= top and top + patch <= (r + 1) * cell
            assert c * cell <= left and left + patch <= (c + 1) * cell
            np.testing.assert_array_equal(patches[b, k], images[b, top:top + patch, left:left + patch])
            covered[b, top:top + patch, left:left + patch] = True
    written = pirl.write_patches(tf.zeros_like(images), tf.constant(patches), tf.constant(offsets), cell).numpy()
    np.testing.assert_array_equal(written[covered], images[covered])
    np.testing.assert_array_equal(written[~covered], 0.0)
    assert covered.sum() == 3 * 9 * patch * patch


def test_shuffle_is_a_permutation_with_uniform_first_position():
    n = 9000
    u = example_uniform(tf.range(n), tf.constant(7), pirl._PERMUTATION_STREAM, pirl.NUM_PATCHES)
    permutation = pirl.random_permutations(u).numpy()
    np.testing.assert_array_equal(np.sort(permutation, axis=1), np.tile(np.arange(9), (n, 1)))
    counts = np.bincount(permutation[:, 0], minlength=9)
    assert _uniform_enough(counts), f"first-position counts not uniform: {counts}"
    assert len({tuple(p) for p in permutation}) > 0.95 * n, "permutations should rarely repeat (9! = 362880)"
    patches = tf.reshape(tf.range(4 * 9, dtype=tf.float32), [4, 9, 1, 1, 1])
    shuffled = pirl.shuffle_patches(patches, tf.constant(permutation[:4])).numpy()
    expected = patches.numpy()[np.arange(4)[:, None], permutation[:4], 0, 0, 0]
    np.testing.assert_array_equal(shuffled[:, :, 0, 0, 0], expected)


def test_jigsaw_view_is_layout_invariant_and_keeps_values_in_range():
    gin.parse_config(BINDINGS)
    method = _method()
    batch = _batch(6)
    images, index = tf.constant(batch["image"]), tf.constant(batch["index"])
    whole, crop, offsets, permutation = method.jigsaw_view(images, index, tf.constant(3))
    half = method.jigsaw_view(images[3:], index[3:], tf.constant(3))[0]
    np.testing.assert_array_equal(whole.numpy()[3:], half.numpy())
    assert whole.shape == (6, 9, 8, 8, 3) and crop.shape == (6, 30, 30, 3)
    assert 0.0 <= float(tf.reduce_min(whole)) and float(tf.reduce_max(whole)) <= 1.0
    view = method.image_view(images, index, tf.constant(3)).numpy()
    assert view.shape == (6, 32, 32, 3) and view.min() >= 0.0 and view.max() <= 1.0
    assert not np.array_equal(method.jigsaw_view(images, index, tf.constant(4))[0].numpy(), whole.numpy())


def test_blur_sigma_must_be_positive():
    with pytest.raises(ValueError, match="blur_sigma"):
        PIRL(image_size=32, bank_size=8, blur_sigma=(0.0, 1.0))


# ---- memory bank ---------------------------------------------------------------------------------------------------
def test_bank_starts_with_seeded_random_unit_rows():
    gin.parse_config(BINDINGS)
    bank = _method().memory_bank.numpy()
    np.testing.assert_allclose(np.linalg.norm(bank, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(bank, _method().memory_bank.numpy())
    assert not np.array_equal(bank, _method(bank_seed=1).memory_bank.numpy())
    assert np.abs(bank @ bank.T - np.eye(BANK)).max() < 0.6, "rows should point in different directions"


def test_bank_update_changes_only_the_batch_rows_by_normalised_ema():
    gin.parse_config(BINDINGS)
    method = _method()
    old = method.memory_bank.numpy()
    index = np.array([3, 17, 40])
    new = tf.math.l2_normalize(tf.random.stateless_normal([3, 128], seed=[1, 2]), axis=-1).numpy()
    method.update_memory_bank(tf.constant(index), tf.constant(new))
    bank = method.memory_bank.numpy()
    others = np.setdiff1d(np.arange(BANK), index)
    np.testing.assert_array_equal(bank[others], old[others])
    expected = 0.5 * old[index] + 0.5 * new
    np.testing.assert_allclose(bank[index], expected / np.linalg.norm(expected, axis=1, keepdims=True), atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(bank, axis=1), 1.0, rtol=1e-5)


def test_bank_momentum_zero_stores_the_embedding_and_duplicates_are_averaged():
    gin.parse_config(BINDINGS)
    method = _method(bank_momentum=0.0)
    new = tf.math.l2_normalize(tf.random.stateless_normal([3, 128], seed=[3, 4]), axis=-1).numpy()
    method.update_memory_bank(tf.constant([5, 9, 5]), tf.constant(new))
    bank = method.memory_bank.numpy()
    np.testing.assert_allclose(bank[9], new[1], atol=1e-6)
    mean = new[0] + new[2]
    np.testing.assert_allclose(bank[5], mean / np.linalg.norm(mean), atol=1e-6)


def test_train_step_bank_update_lambda_nce_offset_and_index_check():
    """One traced step, many properties (tracing PIRL's step is the slow part of these tests)."""
    # A learning rate of 0 keeps the weights, so the embeddings the step wrote can be recomputed afterwards.
    gin.parse_config(BINDINGS + ["encoder/tfssl.make_optimizer.learning_rate = 0.0"])
    method = _method(jigsaw_weight=0.3)
    batch = _batch(4)
    images, index = tf.constant(batch["image"]), tf.constant(batch["index"])
    old = method.memory_bank.numpy()
    v_image = method.embed_image(method.image_view(images, index, tf.constant(0)), training=True).numpy()
    v_jigsaw = method.embed_jigsaw(method.jigsaw_view(images, index, tf.constant(0))[0], training=True).numpy()
    step = tf.function(method.train_step)
    out = {k: float(v) for k, v in step(batch).items()}

    # The bank learns normalise(0.5 old + 0.5 f(v_I)), never g(v_It), and only in the batch's rows.
    def ema(v):
        mixed = 0.5 * old[batch["index"]] + 0.5 * v
        return mixed / np.linalg.norm(mixed, axis=1, keepdims=True)

    bank = method.memory_bank.numpy()
    np.testing.assert_allclose(bank[batch["index"]], ema(v_image), atol=1e-5)
    assert np.abs(bank[batch["index"]] - ema(v_jigsaw)).max() > 1e-2
    others = np.setdiff1d(np.arange(BANK), batch["index"])
    np.testing.assert_array_equal(bank[others], old[others])
    # The final loss with lambda = 0.3.
    np.testing.assert_allclose(out["loss"], 0.3 * out["loss_jigsaw"] + 0.7 * out["loss_image"], rtol=1e-5)
    assert 0.0 < out["embedding_std"] < 1.0 and -1.0 <= out["image_jigsaw_similarity"] <= 1.0
    # NCE's normaliser: estimated on step 0 (random unit vectors: s/t ~ N(0, (1/sqrt(128)/0.07)^2), E[exp] ~ e^0.8)
    # and kept afterwards.
    offset = float(method.nce_offset.numpy())
    assert np.log(16) < offset < np.log(16) + 3
    step(_batch(4, seed=1))
    assert float(method.nce_offset.numpy()) == offset
    # An index outside the bank fails loudly, naming the cause.
    batch["index"][2] = BANK
    with pytest.raises(tf.errors.InvalidArgumentError, match="memory bank"):
        step(batch)


def test_bank_size_is_required():
    with pytest.raises(ValueError, match="bank_size"):
        PIRL(image_size=32, bank_size=None)


# ---- negatives and losses ------------------------------------------------------------------------------------------
def test_negative_sampler_puts_the_positive_first_and_never_among_negatives():
    index = tf.constant([0, 3, 6, 2], tf.int64)
    candidates = pirl.sample_negatives(index, tf.constant(5), bank_size=7, num_negatives=3000).numpy()
    assert candidates.shape == (4, 3001)
    np.testing.assert_array_equal(candidates[:, 0], index.numpy())
    for row in candidates:
        negatives = row[1:]
        assert row[0] not in negatives
        counts = np.bincount(negatives, minlength=7)
        others = np.delete(counts, row[0])
        assert _uniform_enough(others), f"negatives not uniform over the other rows: {counts}"
    again = pirl.sample_negatives(index[2:], tf.constant(5), bank_size=7, num_negatives=3000).numpy()
    np.testing.assert_array_equal(again, candidates[2:])


def test_logits_are_bounded_by_one_over_temperature():
    rs = np.random.RandomState(0)
    queries = tf.math.l2_normalize(tf.constant(rs.randn(5, 16), tf.float32), axis=-1)
    rows = tf.math.l2_normalize(tf.constant(rs.randn(5, 7, 16), tf.float32), axis=-1)
    rows = tf.concat([queries[:, None], -queries[:, None], rows], axis=1)
    logits = pirl.similarity_logits(queries, rows, 0.07).numpy()
    assert np.abs(logits).max() <= 1 / 0.07
    np.testing.assert_allclose(logits[:, 0], 1 / 0.07, rtol=1e-6)
    np.testing.assert_allclose(logits[:, 1], -1 / 0.07, rtol=1e-6)


@pytest.mark.parametrize("loss", ["nce", "infonce"])
def test_raising_the_positive_similarity_lowers_the_loss(loss):
    rs = np.random.RandomState(0)
    logits = tf.constant(rs.uniform(-5, 5, (6, 33)), tf.float32)
    offset = tf.constant(np.log(32.0), tf.float32)
    fn = (lambda x: pirl.binary_nce_loss(x, offset)) if loss == "nce" else pirl.info_nce_loss
    with tf.GradientTape() as tape:
        tape.watch(logits)
        value = fn(logits)
    grad = tape.gradient(value, logits).numpy()
    assert np.all(grad[:, 0] < 0) and np.all(grad[:, 1:] > 0)
    assert np.all(value.numpy() >= 0)
    higher = logits + tf.one_hot(tf.zeros(6, tf.int32), 33) * 2.0
    assert np.all(fn(higher).numpy() < value.numpy())


def test_losses_match_their_definitions():
    rs = np.random.RandomState(1)
    logits = rs.uniform(-3, 3, (4, 11)).astype("float32")
    n_data, z, negatives = 1000.0, 1234.0, 10
    offset = np.log(negatives * z / n_data)
    # The paper's h(v, m) = P / (P + N / n) with P = exp(s / t) / Z.
    p = np.exp(logits.astype("float64")) / z
    h = p / (p + negatives / n_data)
    expected = -np.log(h[:, 0]) - np.log(1 - h[:, 1:]).sum(1)
    np.testing.assert_allclose(pirl.binary_nce_loss(tf.constant(logits), tf.constant(offset, tf.float32)).numpy(),
                               expected, rtol=1e-4)
    softmax = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    np.testing.assert_allclose(pirl.info_nce_loss(tf.constant(logits)).numpy(), -np.log(softmax[:, 0]), rtol=1e-5)


def test_lambda_weights_the_two_terms_linearly():
    a, b = tf.constant(3.0), tf.constant(5.0)
    assert float(pirl.pirl_loss(a, b, 0.0)) == 5.0 and float(pirl.pirl_loss(a, b, 1.0)) == 3.0
    np.testing.assert_allclose(float(pirl.pirl_loss(a, b, 0.25)), 0.25 * 3 + 0.75 * 5)


# ---- the method ----------------------------------------------------------------------------------------------------
def test_pirl_method_contract(tmp_path):
    gin.parse_config(BINDINGS)
    run_method_checks(_method, _batch(), tmp_path / "export",
                      endpoints={"embed": Returns((128,), -1.0, 1.0, unit="l2")})


def test_pirl_resumes_exactly_in_a_fresh_process(tmp_path):
    check_resume_equivalence(["gin/pirl.gin", "gin/smoke.gin"], RESUME, tmp_path)


# ---- negatives='batch' (issue #21) ---------------------------------------------------------------------------------
def _batch_method(**kwargs):
    return _method(**{"negatives": "batch", "loss": "infonce", "bank_size": None, **kwargs})


def _unit(rs, *shape):
    x = rs.randn(*shape).astype("float32")
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def _numpy_batch_info_nce(queries, targets, positive, temperature):
    """-log softmax_j(cos(q_i, k_j) / t)[positive_i], float64."""
    logits = queries.astype("float64") @ targets.astype("float64").T / temperature
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_softmax = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return -log_softmax[np.arange(len(queries)), positive]


def test_batch_info_nce_matches_numpy_and_falls_when_the_positive_rises():
    rs = np.random.RandomState(2)
    queries, targets = _unit(rs, 3, 16), _unit(rs, 7, 16)  # 3 queries of one replica, a global batch of 7
    positive = np.array([2, 3, 4])  # this replica's examples sit at global positions 2..4
    logits = pirl.batch_logits(tf.constant(queries), tf.constant(targets), 0.07)
    assert logits.shape == (3, 7) and np.abs(logits.numpy()).max() <= 1 / 0.07
    loss = pirl.batch_info_nce_loss(logits, tf.constant(positive)).numpy()
    np.testing.assert_allclose(loss, _numpy_batch_info_nce(queries, targets, positive, 0.07), rtol=1e-5)
    assert np.all(loss >= 0)
    # With the positive in column 0 it is the bank mode's InfoNCE.
    np.testing.assert_allclose(pirl.batch_info_nce_loss(logits, tf.zeros(3, tf.int32)).numpy(),
                               pirl.info_nce_loss(logits).numpy(), rtol=1e-6)
    # Raising each positive's logit (and only it) lowers every loss; raising a negative's raises it.
    raised = logits + 2.0 * tf.one_hot(positive, 7)
    assert np.all(pirl.batch_info_nce_loss(raised, tf.constant(positive)).numpy() < loss)
    worse = logits + 2.0 * tf.one_hot([0, 0, 0], 7)
    assert np.all(pirl.batch_info_nce_loss(worse, tf.constant(positive)).numpy() > loss)
    # A target equal to its query gives the largest logit, so top-1 finds it.
    aligned = pirl.batch_logits(tf.constant(targets[2:5]), tf.constant(targets), 0.07)
    np.testing.assert_array_equal(pirl.top1(aligned, tf.constant(positive)).numpy(), 1.0)


def test_batch_negatives_need_no_bank_and_use_infonce():
    gin.parse_config(BINDINGS)
    method = _batch_method()
    assert method.memory_bank is None and method.nce_offset is None and method.bank_size is None
    assert not [v.path for v in method.variables if "memory_bank" in v.path]
    assert _batch_method(bank_size=BANK).memory_bank is None  # a bound bank_size (gin/pirl.gin) is ignored
    with pytest.raises(ValueError, match="infonce"):
        _batch_method(loss="nce")
    with pytest.raises(ValueError, match="negatives"):
        _method(negatives="queue")


def test_batch_negatives_step_contrasts_both_views_against_the_second_views():
    """The step's losses are lambda * InfoNCE(v_It, {v_I'}) + (1 - lambda) * InfoNCE(v_I, {v_I'}), recomputed."""
    gin.parse_config(BINDINGS + ["encoder/tfssl.make_optimizer.learning_rate = 0.0"])
    method = _batch_method(jigsaw_weight=0.3)
    batch = _batch(6)
    images, index, step = tf.constant(batch["image"]), tf.constant(batch["index"]), tf.constant(0)
    view = method.image_view(images, index, step)
    target_view = method.image_view(images, index, step, pirl.TARGET_VIEW_STREAMS)
    assert np.abs(view.numpy() - target_view.numpy()).max() > 0.1, "I' must be a second, different augmentation"
    both = method.embed_image(tf.concat([view, target_view], axis=0), training=True).numpy()
    v_image, v_target = both[:6], both[6:]
    v_jigsaw = method.embed_jigsaw(method.jigsaw_view(images, index, step)[0], training=True).numpy()
    out = {k: float(v) for k, v in tf.function(method.train_step)(batch).items()}
    own = np.arange(6)
    image_term = _numpy_batch_info_nce(v_image, v_target, own, 0.07).mean()
    jigsaw_term = _numpy_batch_info_nce(v_jigsaw, v_target, own, 0.07).mean()
    np.testing.assert_allclose(out["loss_image"], image_term, rtol=1e-4)
    np.testing.assert_allclose(out["loss_jigsaw"], jigsaw_term, rtol=1e-4)
    np.testing.assert_allclose(out["loss"], 0.3 * jigsaw_term + 0.7 * image_term, rtol=1e-4)
    np.testing.assert_allclose(out["positive_similarity"], np.sum(v_image * v_target, axis=1).mean(), atol=1e-5)
    assert 0.0 <= out["image_top1"] <= 1.0 and 0.0 <= out["jigsaw_top1"] <= 1.0 and 0.0 < out["embedding_std"]


def test_pirl_batch_negatives_method_contract(tmp_path):
    """Includes 2 replicas == 1 device: the targets are all-gathered (with their gradient), positives offset."""
    gin.parse_config(BINDINGS)
    run_method_checks(_batch_method, _batch(), tmp_path / "export")


def test_pirl_learns_invariance_on_a_tiny_dataset():
    """12 images, all in every batch: the loss falls and each jigsaw retrieves its own image among the 12."""
    gin.parse_config(BINDINGS + ["tfssl.make_optimizer.schedule = 'constant'",
                                 "encoder/tfssl.make_optimizer.name = 'adam'",
                                 "encoder/tfssl.make_optimizer.learning_rate = 0.003"])
    n = 12
    # Mild augmentation: these smooth noise images have no content that survives strong crops and colour jitter.
    method = _method(bank_size=n, num_negatives=8, loss="infonce", crop_area=(0.8, 1.0), jitter_strength=0.1,
                     patch_jitter_strength=0.1, grayscale_probability=0.0)
    batch = _batch(n, stride=1)
    step = tf.function(method.train_step)
    losses = [float(step(batch)["loss"]) for _ in range(60)]
    assert np.mean(losses[-5:]) < 0.5 * np.mean(losses[:5]), losses
    images, index = tf.constant(batch["image"]), tf.constant(batch["index"])
    v_image = method.embed_image(method.image_view(images, index, tf.constant(999)), training=True).numpy()
    v_jigsaw = method.embed_jigsaw(method.jigsaw_view(images, index, tf.constant(999))[0], training=True).numpy()
    similarity = v_jigsaw @ v_image.T  # [jigsaw of i, image j]
    own = np.diag(similarity)
    others = np.where(np.eye(n, dtype=bool), -np.inf, similarity).max(axis=1)
    assert np.mean(own > others) >= 0.5, f"own {own}, best other {others}"  # chance: 1/12


def test_outputs_summaries_and_embed_endpoint():
    gin.parse_config(BINDINGS)
    method = _method()
    batch = _batch(6)
    summaries = method.summaries(batch)
    assert summaries["image_views"].shape == (4, 32, 32, 3) and summaries["jigsaw_puzzles"].shape == (4, 30, 30, 3)
    for images in summaries.values():
        assert 0.0 <= float(tf.reduce_min(images)) and float(tf.reduce_max(images)) <= 1.0
    embed = method.serving_endpoints()["embed"][0](tf.constant(batch["image"])).numpy()
    assert embed.shape == (6, 128)
    np.testing.assert_allclose(np.linalg.norm(embed, axis=1), 1.0, rtol=1e-5)


def test_embedding_std_sees_collapse():
    assert float(pirl.embedding_std(tf.ones([8, 4]) / 2.0)) == 0.0
    spread = tf.math.l2_normalize(tf.random.stateless_normal([4096, 128], seed=[0, 1]), axis=-1)
    np.testing.assert_allclose(float(pirl.embedding_std(spread)), 1 / np.sqrt(128), rtol=0.05)


# ---- two workers ---------------------------------------------------------------------------------------------------
_WORKER = """
import json, sys
import gin, keras, numpy as np, tensorflow as tf
from tfssl.core import distribute
from tfssl.methods.pirl import PIRL
batch_file, bindings, bank_size, out = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
strategy = distribute.make_strategy("multi_worker")
assert strategy.num_replicas_in_sync == 2, strategy.num_replicas_in_sync
gin.parse_config(bindings)
keras.utils.set_random_seed(0)
with strategy.scope():
    method = PIRL(image_size=32, bank_size=bank_size, num_negatives=16, bank_seed=0)
batch = dict(np.load(batch_file))
half = len(batch["index"]) // 2

def worker_half(context):  # each worker reads its own half of the global batch
    start = half * context.input_pipeline_id
    return tf.data.Dataset.from_tensors({k: v[start:start + half] for k, v in batch.items()}).repeat()

iterator = iter(strategy.distribute_datasets_from_function(worker_half))

@tf.function
def step():
    return strategy.run(method.train_step, (next(iterator),))

for _ in range(2):
    step()
np.savez(out, *[v.numpy() for v in method.variables], bank=method.memory_bank.numpy())
"""


@pytest.mark.slow
def test_two_worker_step_leaves_identical_weights_and_banks(tmp_path):
    batch = _batch(8)
    np.savez(tmp_path / "batch.npz", **batch)
    run_two_workers(_WORKER, lambda task: [str(tmp_path / "batch.npz"), json.dumps(BINDINGS), str(BANK),
                                           str(tmp_path / f"w{task}.npz")],
                    timeout=300, env={"CUDA_VISIBLE_DEVICES": ""})
    assert_identical(tmp_path / "w0.npz", tmp_path / "w1.npz")
    w0 = np.load(tmp_path / "w0.npz")
    # Both workers wrote every example of the global batch, not only their own half.
    initial = pirl.unit_rows(BANK, 128, 0)
    changed = np.flatnonzero(np.any(w0["bank"] != initial, axis=1))
    np.testing.assert_array_equal(changed, batch["index"])
