"""De-occlusion inference (`tfssl.deocclusion`) with an oracle completer: the spec's properties."""

import itertools

import numpy as np
import pytest

from tfssl.methods.pcnet import inference as D
from tfssl.data.builders import tfssl_scenes

CONFIG = tfssl_scenes.TfsslScenes.BUILDER_CONFIGS[0]


def _scene(index, split="test"):
    ex = tfssl_scenes.scene_example(split, index, CONFIG)
    n = ex["num_objects"]
    return {"image": ex["image"] / 255.0, "modal": ex["modal"][:n].astype(bool),
            "amodal": ex["amodal"][:n].astype(bool), "order": ex["order"][:n, :n].astype(int),
            "category": ex["category"][:n]}


@pytest.fixture(scope="module")
def scenes():
    return [_scene(i) for i in range(24)]


def _square(size, top, left, side):
    m = np.zeros((size, size), bool)
    m[top:top + side, left:left + side] = True
    return m


def test_bordering_uses_a_cross_dilation():
    a = _square(16, 2, 2, 4)
    touching = _square(16, 2, 6, 3)  # shares an edge
    diagonal = _square(16, 6, 6, 3)  # touches a corner only: not bordering under a 3x3 cross
    apart = _square(16, 2, 7, 3)
    touch = D.bordering(np.stack([a, touching, diagonal, apart]))
    assert touch[0, 1] and not touch[0, 2] and not touch[0, 3]
    np.testing.assert_array_equal(touch, touch.T)
    assert not np.diag(touch).any()


def test_dilate_square_and_cross():
    point = np.zeros((7, 7), bool)
    point[3, 3] = True
    assert D.dilate(point, 1).sum() == 9 and D.dilate(point, 2).sum() == 25
    assert D.dilate(point, 1, cross=True).sum() == 5 and D.dilate(point, 2, cross=True).sum() == 13
    np.testing.assert_array_equal(D.dilate(point, 0), point)


def test_convex_hull_mask_contains_the_mask_and_fills_concavities():
    ring = _square(20, 3, 3, 12) & ~_square(20, 6, 6, 6)
    hull = D.convex_hull_mask(ring)
    assert not (ring & ~hull).any()
    np.testing.assert_array_equal(hull, _square(20, 3, 3, 12))


def test_order_matrix_properties_and_oracle_recovers_the_true_order(scenes):
    correct = total = 0
    for s in scenes:
        oracle = D.OracleCompleter(s["modal"], s["amodal"], 64)
        for completer in (oracle, D.ConvexHullCompleter(64)):
            order = D.order_matrix(completer, s["modal"])
            np.testing.assert_array_equal(order, -order.T)
            assert not np.diag(order).any() and np.isin(order, (-1, 0, 1)).all()
            assert not order[~D.bordering(s["modal"])].any(), "non-bordering pairs have no relation"
        order = D.order_matrix(oracle, s["modal"])
        related = np.triu((s["order"] != 0) & D.bordering(s["modal"]), 1)
        correct += int((order[related] == s["order"][related]).sum())
        total += int(related.sum())
    assert total > 30 and correct / total >= 0.95, (correct, total)


def test_relabelling_instances_permutes_the_order(scenes):
    for s in scenes[:6]:
        perm = np.random.RandomState(len(s["modal"])).permutation(len(s["modal"]))
        for make in (lambda m, a: D.OracleCompleter(m, a, 64), lambda m, a: D.ConvexHullCompleter(64)):
            order = D.order_matrix(make(s["modal"], s["amodal"]), s["modal"])
            permuted = D.order_matrix(make(s["modal"][perm], s["amodal"][perm]), s["modal"][perm])
            np.testing.assert_array_equal(permuted, order[np.ix_(perm, perm)])


def _closure(order):
    n = len(order)
    reach = order.T == 1  # reach[i, j]: j occludes i directly
    for k, i, j in itertools.product(range(n), repeat=3):
        reach[i, j] |= reach[i, k] and reach[k, j]
    return reach


def test_ancestors_are_the_transitive_closure_and_cycles_terminate():
    rs = np.random.RandomState(0)
    for _ in range(20):
        n = rs.randint(2, 7)
        upper = np.triu(rs.randint(-1, 2, (n, n)), 1)
        order = upper - upper.T  # may contain cycles
        reach = _closure(order)
        for i in range(n):
            assert D.ancestors(order, i) == sorted(np.nonzero(reach[i])[0].tolist())
    cycle = np.array([[0, 1, -1], [-1, 0, 1], [1, -1, 0]])  # 0 over 1, 1 over 2, 2 over 0
    assert D.ancestors(cycle, 0) == [0, 1, 2]
    assert D.occluders(cycle) == {0: [2], 1: [0], 2: [1]}


def test_oracle_amodal_masks_are_close_to_the_truth(scenes):
    inter = union = raw = 0
    for s in scenes:
        oracle = D.OracleCompleter(s["modal"], s["amodal"], 64)
        amodal = D.amodal_masks(oracle, s["modal"], D.order_matrix(oracle, s["modal"]))
        assert not (s["modal"] & ~amodal).any()
        inter += (amodal & s["amodal"]).sum()
        union += (amodal | s["amodal"]).sum()
        raw += s["modal"].sum()
    total = sum(s["amodal"].sum() for s in scenes)
    assert inter / union > 0.97 and raw / total < 0.9


class _Recorder(D.ConvexHullCompleter):
    """Records the erasers it is given (to check that options reach PCNet-M) and the category scaling."""

    use_category = True

    def __init__(self):
        super().__init__(64)
        self.erasers, self.inputs = [], []

    def mask_probabilities(self, mask_input, eraser):
        self.erasers.append(np.asarray(eraser).sum())
        self.inputs.append(np.asarray(mask_input))
        return super().mask_probabilities(mask_input, eraser)


def test_eraser_dilation_grows_the_erasers_of_ordering_and_amodal_steps(scenes):
    s = next(s for s in scenes if np.abs(s["order"]).sum() > 0)
    areas = []
    for dilation in (0, 2):
        recorder = _Recorder()
        order = D.order_matrix(recorder, s["modal"], s["category"], eraser_dilation=dilation)
        D.amodal_masks(recorder, s["modal"], s["order"], s["category"], eraser_dilation=dilation)
        areas.append(recorder.erasers)
    assert len(areas[0]) == 2 and all(b > a for a, b in zip(*areas))
    values = np.unique(recorder.inputs[0])
    assert set(values.tolist()) <= {0.0} | set(s["category"].astype(float).tolist()) and values.max() > 1
    with pytest.raises(ValueError, match="categories"):
        D.order_matrix(_Recorder(), s["modal"])
    assert order.shape == s["order"].shape


def test_deocclude_layers_and_background(scenes):
    s = scenes[0]
    result = D.deocclude(D.OracleCompleter(s["modal"], s["amodal"], 64), s["image"], s["modal"])
    n = len(s["modal"])
    assert result.layers.shape == (n, 64, 64, 4) and result.background.shape == (64, 64, 3)
    np.testing.assert_array_equal(result.layers[..., 3], result.amodal)
    for i in range(n):
        hole = D.dilate(result.amodal[i] & ~s["modal"][i], D.HOLE_DILATION) & result.amodal[i]
        visible = s["modal"][i] & ~hole
        np.testing.assert_allclose(result.layers[i][visible][:, :3], s["image"][visible], atol=1e-6)
        assert not result.layers[i][~result.amodal[i]].any()
    objects = D.dilate(s["modal"].any(0), D.HOLE_DILATION)
    np.testing.assert_allclose(result.background[~objects], s["image"][~objects], atol=1e-6)
    assert 0.0 <= result.background.min() and result.background.max() <= 1.0
    assert set(result.ancestors) == set(range(n))


class _LeftBiased(D.ConvexHullCompleter):
    """Not mirror-equivariant: foreground probability 1 on the left half of every crop, 0 on the right."""

    def mask_probabilities(self, mask_input, eraser):
        out = np.zeros(np.asarray(mask_input).shape[:3], np.float32)
        out[:, :, : self.image_size // 2] = 1.0
        return out


def test_flip_averaged_completer_is_the_mean_of_the_two_views(scenes):
    s = next(s for s in scenes if np.abs(s["order"]).sum() > 0)
    crops = D.crop_masks(s["modal"], D.target_boxes(s["modal"]), 64)
    erasers = np.roll(crops, 1, axis=0)
    # A mirror-equivariant completer is unchanged by averaging ...
    hull = D.ConvexHullCompleter(64)
    np.testing.assert_allclose(D.FlipAveraged(hull).mask_probabilities(crops, erasers),
                               hull.mask_probabilities(crops, erasers))
    # ... and a view-dependent one is averaged with its mirrored answer: half everywhere.
    np.testing.assert_allclose(D.FlipAveraged(_LeftBiased(64)).mask_probabilities(crops, erasers), 0.5)
    # The oracle is perfect in both views, so flip-averaged inference recovers the true order too.
    oracle = D.FlipAveraged(D.OracleCompleter(s["modal"], s["amodal"], 64))
    np.testing.assert_array_equal(D.order_matrix(oracle, s["modal"]), s["order"] * D.bordering(s["modal"]))
    content = D.FlipAveraged(hull).complete_content(np.ones((1, 64, 64, 3)), crops[:1], np.zeros((1, 64, 64, 1)))
    np.testing.assert_allclose(content, 1.0)


def test_soft_order_score_sums_probabilities_and_recovers_the_oracle_order(scenes):
    probabilities = np.array([[[0.05, 0.5], [0.3, 1.0]]], np.float32)
    region = np.array([[[True, True], [False, True]]])
    assert D.growth_scores(probabilities, region, "soft") == pytest.approx(1.55)
    assert D.growth_scores(probabilities, region, "count", 0.1) == 2
    with pytest.raises(ValueError, match="order_score"):
        D.growth_scores(probabilities, region, "median")
    correct = total = 0
    for s in scenes:
        true = s["order"] * D.bordering(s["modal"])
        order = D.order_matrix(D.OracleCompleter(s["modal"], s["amodal"], 64), s["modal"], order_score="soft")
        np.testing.assert_array_equal(order, -order.T)
        correct += np.sum((order == true) & (true != 0))
        total += np.sum(true != 0)
    assert total > 0 and correct / total > 0.95


def _random_margins(rs, n, density=0.7):
    upper = np.triu(rs.normal(size=(n, n)) * (rs.uniform(size=(n, n)) < density), 1)
    return upper - upper.T


def _is_acyclic(order):
    return not any(np.diag(_closure(order)))


def test_consistent_order_is_the_best_ranking_by_brute_force():
    rs = np.random.RandomState(0)
    for _ in range(40):
        n = rs.randint(2, 7)
        margins = _random_margins(rs, n)
        best = max(D._ranking_score(margins, p) for p in itertools.permutations(range(n)))
        ranking = D._best_ranking(margins)
        assert sorted(ranking) == list(range(n))
        assert D._ranking_score(margins, ranking) == pytest.approx(best)
        order = D.consistent_order(margins)
        np.testing.assert_array_equal(order, -order.T)
        np.testing.assert_array_equal(order != 0, margins != 0)  # pairs without evidence stay unrelated
        assert _is_acyclic(order)


def test_consistent_order_overrules_the_weakest_edge_of_a_cycle_and_keeps_consistent_evidence():
    # 0 over 1 (margin 5), 1 over 2 (4), 2 over 0 (1): pairwise, a cycle; together, 0 over 2.
    margins = np.zeros((3, 3))
    for front, back, m in ((0, 1, 5.0), (1, 2, 4.0), (2, 0, 1.0)):
        margins[front, back], margins[back, front] = m, -m
    assert not _is_acyclic(D.pairwise_order(margins))
    expected = np.array([[0, 1, 1], [-1, 0, 1], [-1, -1, 0]])
    np.testing.assert_array_equal(D.consistent_order(margins), expected)
    # Evidence that already follows one depth order is left exactly as the pairwise rule decides it.
    rs = np.random.RandomState(1)
    for _ in range(20):
        n = rs.randint(2, 9)
        depth = rs.permutation(n)
        magnitude = rs.uniform(0.1, 2.0, (n, n)) * (rs.uniform(size=(n, n)) < 0.6)
        magnitude = np.triu(magnitude, 1) + np.triu(magnitude, 1).T
        margins = np.sign(depth[None, :] - depth[:, None]) * magnitude  # smaller depth is in front
        np.testing.assert_array_equal(D.consistent_order(margins), D.pairwise_order(margins))


def test_consistent_order_ranks_groups_apart_and_large_groups_greedily(monkeypatch):
    rs = np.random.RandomState(2)
    a, b = _random_margins(rs, 4, 1.0), _random_margins(rs, 3, 1.0)
    margins = np.zeros((7, 7))
    margins[:4, :4], margins[4:, 4:] = a, b
    perm = rs.permutation(7)
    order = D.consistent_order(margins[np.ix_(perm, perm)])
    np.testing.assert_array_equal(order, D.consistent_order(margins)[np.ix_(perm, perm)])  # relabelling
    np.testing.assert_array_equal(order[np.ix_(perm < 4, perm >= 4)], 0)  # no evidence across the groups
    # Above MAX_EXACT_ORDER instances the greedy ranking still gives an acyclic order with the same support.
    monkeypatch.setattr(D, "MAX_EXACT_ORDER", 2)
    big = _random_margins(rs, 9)
    greedy = D.consistent_order(big)
    assert _is_acyclic(greedy) and np.array_equal(greedy != 0, big != 0)


def test_total_order_with_the_oracle_and_through_deocclude(scenes):
    for s in scenes[:8]:
        oracle = D.OracleCompleter(s["modal"], s["amodal"], 64)
        margins = D.order_margins(oracle, s["modal"])
        np.testing.assert_array_equal(margins, -margins.T)
        np.testing.assert_array_equal(D.order_matrix(oracle, s["modal"]), D.pairwise_order(margins))
        total = D.order_matrix(oracle, s["modal"], total_order=True)
        np.testing.assert_array_equal(total, D.consistent_order(margins))
        result = D.deocclude(oracle, s["image"], s["modal"], content=False, total_order=True)
        np.testing.assert_array_equal(result.order, total)
        assert all(i not in result.ancestors[i] for i in range(len(s["modal"])))  # no cycles
