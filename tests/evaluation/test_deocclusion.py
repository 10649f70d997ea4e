"""De-occlusion metrics: formulas, the ground-truth order rule and the baselines through one code path."""

import numpy as np
import pytest
import tensorflow_datasets as tfds

import tfssl.data.builders  # noqa: F401
from tfssl.methods.pcnet import inference as D
from tfssl.data.builders import tfssl_scenes
from tfssl.evaluation import deocclusion as E

CONFIG = tfssl_scenes.TfsslScenes.BUILDER_CONFIGS[0]


def _scene(index):
    ex = tfssl_scenes.scene_example("test", index, CONFIG)
    n = ex["num_objects"]
    return (ex["image"] / 255.0, ex["modal"][:n], ex["amodal"][:n], ex["order"][:n, :n].astype(int),
            ex["layers"][:n] / 255.0)


def test_ground_truth_order_from_masks_agrees_with_the_rendered_depth_order():
    related = 0
    for index in range(60):
        _, modal, amodal, order, _ = _scene(index)
        from_masks = E.order_from_masks(modal, amodal)
        np.testing.assert_array_equal(from_masks, order * D.bordering(modal))
        related += int(np.abs(from_masks).sum()) // 2
    assert related > 60


def test_order_from_masks_rule_and_ties():
    modal = np.zeros((2, 6, 6), int)
    modal[0, 1:3, 1:3] = 1
    modal[1, 1:3, 3:5] = 1
    amodal = modal.copy()
    np.testing.assert_array_equal(E.order_from_masks(modal, amodal), 0)  # bordering, no overlap: no relation
    amodal[1, 1:3, 2] = 1  # 1 extends under 0: 0 is on top
    np.testing.assert_array_equal(E.order_from_masks(modal, amodal), [[0, 1], [-1, 0]])
    amodal[0, 1:3, 3] = 1  # and 0 under 1 equally: a tie goes to the lower index
    np.testing.assert_array_equal(E.order_from_masks(modal, amodal), [[0, 1], [-1, 0]])


def test_pairs_without_a_true_relation_are_ignored_and_accuracy_is_pooled():
    true = np.array([[0, 1, 0], [-1, 0, 0], [0, 0, 0]])
    predicted = np.array([[0, 1, 1], [-1, 0, -1], [-1, 1, 0]])  # wrong guesses on unrelated pairs
    assert E.order_counts(predicted, true) == (1, 1)
    assert E.order_counts(-predicted, true) == (0, 1)
    counts = {"order/pcnet": np.array([1, 1]) + np.array([0, 3])}  # one image 1/1, another 0/3
    assert E.metrics_from_counts(counts)["order_accuracy"] == pytest.approx(0.25)  # pooled, not (1 + 0) / 2


def test_raw_baseline_iou_is_visible_over_full_area():
    inter = union = 0
    modal_sum = amodal_sum = 0
    for index in range(10):
        _, modal, amodal, _, _ = _scene(index)
        c = E.iou_counts(modal, amodal, modal)
        inter, union = inter + c[0], union + c[1]
        assert c[2] == 0  # Raw predicts no invisible pixel
        modal_sum, amodal_sum = modal_sum + modal.sum(), amodal_sum + amodal.sum()
    assert inter / union == pytest.approx(modal_sum / amodal_sum)


def test_content_metrics_formulas():
    truth = np.zeros((1, 4, 4, 3))
    predicted = truth.copy()
    predicted[0, 0, 0] = 0.5
    predicted[0, 3, 3] = 1.0  # not hidden: ignored
    hidden = np.zeros((1, 4, 4), bool)
    hidden[0, 0, :2] = True
    c = E.content_counts(predicted, truth, hidden)
    np.testing.assert_allclose(c, [1.5, 0.75, 6])
    m = E.metrics_from_counts({"content/pcnet": c})
    assert m["content_l1"] == pytest.approx(0.25)
    assert m["content_psnr"] == pytest.approx(10 * np.log10(1 / 0.125))


def test_oracle_scores_at_the_top_and_baselines_below():
    totals = {}
    for index in range(16):
        image, modal, amodal, order, layers = _scene(index)
        oracle = D.OracleCompleter(modal, amodal, 64)
        for key, value in E.scene_counts(oracle, image, modal, amodal, order, layers).items():
            totals[key] = totals.get(key, 0) + value
    m = E.metrics_from_counts(totals)
    assert m["order_accuracy"] >= 0.95
    assert m["order_accuracy"] > max(m["order_accuracy_area"], m["order_accuracy_yaxis"], m["order_accuracy_convex"])
    assert m["amodal_miou"] > 0.97 and m["amodal_miou"] > m["amodal_miou_convex"] > m["amodal_miou_raw"]
    assert m["invisible_iou_raw"] == 0.0 and m["invisible_iou"] > 0.85
    assert m["content_l1_mean_fill"] == pytest.approx(m["content_l1"])  # the oracle's content is the mean fill
    assert 0.0 < m["content_l1"] < 0.5


def test_deocclusion_metrics_end_to_end_with_the_convex_completer_as_method():
    tfds.builder("tfssl_scenes/base_small").download_and_prepare()
    m = E.deocclusion_metrics(D.ConvexHullCompleter(64), dataset="tfssl_scenes/base_small", max_examples=12)
    assert m["num_scenes"] == 12 and m["num_pairs"] > 5
    # The method *is* the convex baseline, so both go through the same code to the same numbers.
    assert m["order_accuracy"] == m["order_accuracy_convex"]
    assert m["amodal_miou"] == m["amodal_miou_convex"] and m["content_l1"] == m["content_l1_mean_fill"]
    for key in ("order_accuracy_area", "order_accuracy_yaxis", "amodal_miou_raw", "invisible_iou",
                "content_psnr"):
        assert np.isfinite(m[key])


def test_pair_growth_diagnosis_with_an_oracle_front_never_grows_back_regrows_its_hidden_part():
    # A (front) covers the top-left of B (back): 10 x 10 = 100 of B's pixels are hidden.
    amodal = np.zeros((2, 64, 64), bool)
    amodal[0, 10:30, 10:30] = True
    amodal[1, 20:40, 20:40] = True
    modal = amodal.copy()
    modal[1] &= ~amodal[0]
    order = np.array([[0, 1], [-1, 0]])
    oracle = D.OracleCompleter(modal, amodal, 64)
    records = E.pair_growth_records(oracle, {"modal": modal, "amodal": amodal, "order": order, "category": None})
    np.testing.assert_array_equal(records["true"], [1])
    np.testing.assert_array_equal(records["hidden"], [100])
    front_growth, back_growth = records["d0/count@0.1"][0]
    assert front_growth == 0 and abs(back_growth - 100) <= 10  # crops are resized: a few pixels either way
    assert E.order_from_growth(records["d0/count@0.1"])[0] == D.order_matrix(oracle, modal)[0, 1] == 1
    scene = {"modal": modal, "amodal": amodal, "order": order, "category": None}
    for rule, counts in E.order_rule_counts(oracle, scene, "soft").items():
        np.testing.assert_array_equal(counts, [1, 1], err_msg=rule)
    assert E.order_rule_counts(oracle, {**scene, "order": -order})["total_order"].tolist() == [0, 1]
    summary = E.summarize_pair_growth(records)
    assert summary["num_pairs"] == 1 and set(summary["accuracy"].values()) == {1.0}
    assert summary["reference_rule_wrong_pairs"]["count"] == 0
    assert summary["error_by_hidden_pixels"] == {"60-200": {"pairs": 1, "error": 0.0}}
    assert summary["error_by_front_category"] == summary["error_by_back_category"] == {"0": {"pairs": 1, "error": 0.0}}
    named = E.summarize_pair_growth(E.pair_growth_records(oracle, {**scene, "category": np.array([3, 7])}))
    assert set(named["error_by_front_category"]) == {"3"} and set(named["error_by_back_category"]) == {"7"}
    # A wrong decision is counted as such: swap the growths.
    swapped = {**records, "d0/count@0.1": records["d0/count@0.1"][:, ::-1]}
    assert E.summarize_pair_growth(swapped)["reference_rule_wrong_pairs"]["count"] == 1
