"""Frame-mAP, video-mAP, tube IoU and tube linking: hand-worked cases (the expected numbers
worked out in the comments) and a plain re-implementation of the same definitions, compared on
random ground truth and detections."""
import json

import numpy as np
import pytest

from keras_video import detection

LABELS = ("run", "jump", "wave")
BOX = [10.0, 20.0, 50.0, 80.0]  # 40 x 60 pixels


def make_gt(videos, frames=20, test=None):
    """A ground-truth dict of `videos` {name: {label: [tube rows]}}, 320x240 pictures; one
    split whose test videos are `test` (default: all of them, in order)."""
    tubes = {v: {label: [np.array(t, np.float64) for t in ts] for label, ts in by_label.items()}
             for v, by_label in videos.items()}
    test = [list(videos)] if test is None else test
    return {"labels": list(LABELS), "gttubes": tubes, "nframes": {v: frames for v in videos},
            "resolution": {v: (240, 320) for v in videos},
            "train_videos": [[] for _ in test], "test_videos": test}


def tube(first, last, box=BOX, skip=()):
    return [[f, *box] for f in range(first, last + 1) if f not in skip]


def shifted(dx, box=BOX):
    return [box[0] + dx, box[1], box[2] + dx, box[3]]


# -- IoU ---------------------------------------------------------------------------------------

def test_box_iou_uses_continuous_coordinates():
    iou = detection.box_iou([[0, 0, 10, 10], [0, 0, 5, 10], [3, 3, 3, 3]],
                            [[0, 0, 10, 10], [5, 0, 15, 10], [3, 3, 3, 3]])
    # [0,0,10,10] vs [5,0,15,10]: 50 / (100 + 100 - 50) = 1/3 (with +1 widths: 66/176 = 0.375);
    # [0,0,5,10] vs [0,0,10,10]: 50 / 100; empty boxes overlap nothing, even each other.
    np.testing.assert_allclose(iou, [[1, 1 / 3, 0], [0.5, 0, 0], [0, 0, 0]], atol=1e-12)


def test_tube_iou_hand_worked():
    a = tube(1, 10, [0, 0, 10, 10])
    # Same boxes, frames 6..10 shared of 1..15: temporal IoU 5/15 (MMAction2's continuous
    # variant would give (10-6)/(15-1) = 4/14).
    assert detection.tube_iou(a, tube(6, 15, [0, 0, 10, 10])) == pytest.approx(1 / 3)
    # ... and half the box: 1/3 x 0.5.
    assert detection.tube_iou(a, tube(6, 15, [0, 0, 5, 10])) == pytest.approx(1 / 6)
    # A gap at frame 5 inside the overlap 1..10 counts as IoU 0 there: 9/10.
    assert detection.tube_iou(tube(1, 10, [0, 0, 10, 10], skip=(5,)), a) == pytest.approx(0.9)
    assert detection.tube_iou(a, a) == 1.0
    assert detection.tube_iou(a, tube(11, 12, [0, 0, 10, 10])) == 0.0


# -- average precision ------------------------------------------------------------------------

@pytest.mark.parametrize("hits, count, expected", [
    # precision 1, 1/2, 2/3 at recall 1/2, 1/2, 1: 1/2 x 1 + 1/2 x 2/3
    ([True, False, True], 2, 5 / 6),
    # precision 1, 1/2, 1/3, 1/2, 3/5 at recall 1/4, 1/4, 1/4, 1/2, 3/4: the envelope is
    # 1, 3/5, 3/5, 3/5, 3/5, so 1/4 x 1 + 1/4 x 3/5 + 1/4 x 3/5 (recall never reaches 1);
    # without the envelope it would be 0.525, with MOC's trapezoids 0.4.
    ([True, False, False, True, True], 4, 0.55),
    ([False, True], 1, 0.5),
    ([], 3, 0.0),
    ([False, False], 1, 0.0),
])
def test_average_precision_hand_worked(hits, count, expected):
    assert detection.average_precision(hits, count) == pytest.approx(expected, abs=1e-12)


def test_average_precision_rejects_impossible_counts():
    with pytest.raises(ValueError, match="cannot match"):
        detection.average_precision([True, True], 1)
    with pytest.raises(ValueError, match="cannot match"):
        detection.average_precision([], 0)


# -- frame-mAP hand-worked --------------------------------------------------------------------

def det(video, frame, label, score, box=BOX):
    return [video, frame, label, score, *box]


def test_frame_ap_duplicates_are_false_positives():
    gt = make_gt({"v0": {0: [tube(1, 2)]}})
    # Ranked: frame 1 (TP), frame 1 again (duplicate: FP), frame 2 (TP) of 2 boxes: 5/6.
    result = detection.frame_ap(gt, [det(0, 1, 0, 0.9), det(0, 1, 0, 0.8), det(0, 2, 0, 0.7)])
    assert result == {"mAP": pytest.approx(5 / 6), "per_class": {"run": pytest.approx(5 / 6)}}


def test_frame_ap_classes_with_and_without_ground_truth():
    gt = make_gt({"v0": {0: [tube(1, 2)], 1: [tube(1, 1, shifted(200))]}})
    detections = [det(0, 1, 0, 0.9), det(0, 1, 0, 0.8), det(0, 2, 0, 0.7),
                  det(0, 3, 2, 0.95)]  # "wave" has no ground truth: left out of the mean
    result = detection.frame_ap(gt, detections)
    # "jump" has ground truth and no detection: AP 0, and it counts: (5/6 + 0) / 2.
    assert result["per_class"] == {"run": pytest.approx(5 / 6), "jump": 0.0}
    assert result["mAP"] == pytest.approx(5 / 12)


@pytest.mark.parametrize("empty", [[], np.zeros((0, 8))])
def test_frame_ap_of_no_detections_is_zero(empty):
    gt = make_gt({"v0": {0: [tube(1, 2)], 2: [tube(3, 4)]}})
    assert detection.frame_ap(gt, empty) == {"mAP": 0.0, "per_class": {"run": 0.0, "wave": 0.0}}


def test_frame_ap_ties_keep_the_input_order():
    gt = make_gt({"v0": {0: [tube(1, 1)]}})
    hit, miss = det(0, 1, 0, 0.5), det(0, 2, 0, 0.5)
    # Tied scores are ranked as given: miss first is precision 0 then 1/2 at recall 1.
    assert detection.frame_ap(gt, [miss, hit])["mAP"] == pytest.approx(0.5)
    assert detection.frame_ap(gt, [hit, miss])["mAP"] == 1.0


def test_frame_ap_threshold_is_inclusive_and_iou_continuous():
    gt = make_gt({"v0": {0: [tube(1, 1, [0, 0, 10, 10])]}})
    detections = [det(0, 1, 0, 0.9, [5, 0, 15, 10])]  # IoU exactly 1/3 (0.375 with +1)
    assert detection.frame_ap(gt, detections, iou=1 / 3)["mAP"] == 1.0
    assert detection.frame_ap(gt, detections, iou=0.35)["mAP"] == 0.0


def test_frame_ap_needs_the_same_video_frame_and_class():
    gt = make_gt({"v0": {0: [tube(1, 1)]}, "v1": {1: [tube(1, 1)]}})
    # The right box, but in the other video or another frame: two FPs before the TP, so "run"
    # has precision 1/3 at recall 1; "jump" is detected in the wrong video only: AP 0.
    detections = [det(1, 1, 0, 0.9), det(0, 2, 0, 0.8), det(0, 1, 1, 0.7), det(0, 1, 0, 0.6)]
    result = detection.frame_ap(gt, detections)
    assert result["per_class"] == {"run": pytest.approx(1 / 3), "jump": 0.0}


def test_frame_ap_matches_the_best_box_not_yet_matched():
    g1, g2 = [0, 0, 40, 40], [20, 0, 60, 40]
    gt = make_gt({"v0": {0: [tube(1, 1, g1), tube(1, 1, g2)]}})
    # The second detection overlaps the taken g1 most (2/3) but g2 too (28 x 40 / 2080 =
    # 0.538): a TP for ACT / MOC's rule (VOC's would call it a duplicate: AP 0.5).
    detections = [det(0, 1, 0, 0.9, g1), det(0, 1, 0, 0.8, [8, 0, 48, 40])]
    assert detection.frame_ap(gt, detections)["mAP"] == 1.0


def test_frame_ap_evaluates_the_test_videos_of_the_split():
    gt = make_gt({"a": {0: [tube(1, 1)]}, "b": {0: [tube(1, 1, shifted(100))]}},
                 test=[["a"], ["b"]])
    hit_on_a = [det(0, 1, 0, 0.9)]
    assert detection.frame_ap(gt, hit_on_a, split=0)["mAP"] == 1.0
    assert detection.frame_ap(gt, hit_on_a, split=1)["mAP"] == 0.0  # index 0 is now "b"
    with pytest.raises(ValueError, match=r"split must be an index 0..1"):
        detection.frame_ap(gt, hit_on_a, split=2)


def test_frame_ap_several_thresholds():
    gt = make_gt({"v0": {0: [tube(1, 1)]}})
    result = detection.frame_ap(gt, [det(0, 1, 0, 0.9, shifted(8))], iou=[0.5, 0.7])
    # IoU 32/48 = 2/3: found at 0.5, missed at 0.7.
    assert result["mAP"] == pytest.approx(0.5)
    assert result["per_threshold"] == {0.5: {"mAP": 1.0, "per_class": {"run": 1.0}},
                                       0.7: {"mAP": 0.0, "per_class": {"run": 0.0}}}


@pytest.mark.parametrize("detections, message", [
    (np.zeros((2, 7)), r"shape \(N, 8\)"),
    ([det(0, 1, 0, np.nan)], "needs finite values"),
    ([det(0, 0, 0, 0.5)], "frame >= 1"),
    ([det(0, 1.5, 0, 0.5)], "whole"),
    ([det(0, 1, 0, 0.5, [50, 20, 10, 80])], "x1 <= x2"),
    ([det(3, 1, 0, 0.5)], "video index 3 is outside the 1 test videos of split 0"),
    ([det(0, 1, 3, 0.5)], "label index 3 is outside the 3 labels"),
    ([det(0, 21, 0, 0.5)], "frame 21 is beyond the 20 frames of 'v0'"),
])
def test_frame_ap_rejects_bad_detections(detections, message):
    with pytest.raises(ValueError, match=message):
        detection.frame_ap(make_gt({"v0": {0: [tube(1, 1)]}}), detections)


def test_no_ground_truth_in_the_split_is_an_error():
    gt = make_gt({"a": {0: [tube(1, 1)]}, "b": {}}, test=[["b"]])
    with pytest.raises(ValueError, match="no class has ground truth"):
        detection.frame_ap(gt, [])


@pytest.mark.parametrize("iou, expected", [
    ("0.5:0.95", (0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)),
    ("0.1:0.3:0.1", (0.1, 0.2, 0.3)), (0.2, (0.2,)), ([0.3, 0.6], (0.3, 0.6)),
])
def test_iou_thresholds(iou, expected):
    assert detection.iou_thresholds(iou) == expected


@pytest.mark.parametrize("iou", ["0.5", "0.9:0.5", "a:b", 0.0, 1.5, [], "0.5:0.9:0"])
def test_bad_iou_thresholds(iou):
    with pytest.raises(ValueError, match="iou must be a threshold in"):
        detection.iou_thresholds(iou)


# -- video-mAP hand-worked --------------------------------------------------------------------

def test_video_ap_hand_worked():
    gt = make_gt({"v0": {0: [tube(1, 10)]}, "v1": {0: [tube(1, 10)]}, "v2": {1: [tube(1, 5)]}})
    tubes = [detection.Tube(0, 0, 0.9, np.array(tube(1, 10))),  # exact: TP everywhere
             detection.Tube(0, 0, 0.8, np.array(tube(1, 10))),  # duplicate: FP
             (1, 0, 0.7, np.array(tube(1, 10, shifted(8)))),  # spatial IoU 32/48 = 2/3
             (2, 2, 0.6, np.array(tube(1, 5)))]  # "wave" has no ground truth: ignored
    # "run": hits T, F, T (5/6) while 2/3 >= the threshold, else T, F, F (1/2);
    # "jump": no tube, AP 0.
    at = {t: detection.video_ap(gt, tubes, t) for t in (0.2, 0.5, 0.7)}
    assert at[0.2]["per_class"] == at[0.5]["per_class"] == {"run": pytest.approx(5 / 6),
                                                             "jump": 0.0}
    assert at[0.7]["per_class"] == {"run": pytest.approx(0.5), "jump": 0.0}
    strict = detection.video_ap(gt, tubes, "0.5:0.95")
    # 0.5, 0.55, 0.6, 0.65 give 5/6; the six thresholds from 0.7 give 1/2.
    assert strict["per_class"]["run"] == pytest.approx((4 * 5 / 6 + 6 * 0.5) / 10)
    assert strict["mAP"] == pytest.approx((4 * 5 / 6 + 6 * 0.5) / 20)
    assert sorted(strict["per_threshold"]) == list(detection.iou_thresholds("0.5:0.95"))


def test_video_ap_temporal_overlap():
    gt = make_gt({"v0": {0: [tube(1, 10)]}})
    late = [(0, 0, 0.9, np.array(tube(6, 15)))]  # frames 6..10 of 1..15: IoU 1/3
    assert detection.video_ap(gt, late, 0.2)["mAP"] == 1.0
    assert detection.video_ap(gt, late, 0.5)["mAP"] == 0.0
    assert detection.video_ap(gt, [], 0.2)["mAP"] == 0.0


@pytest.mark.parametrize("tubes, message", [
    ([(0, 0, 0.5)], "expected \\(video index, label index, score"),
    ([(1, 0, 0.5, tube(1, 2))], "video index 1 is not one of the 1 test videos"),
    ([(0, 5, 0.5, tube(1, 2))], "label index 5 is not one of the 3 labels"),
    ([(0, 0, np.inf, tube(1, 2))], "not finite"),
    ([(0, 0, 0.5, np.zeros((0, 5)))], r"array \(N >= 1, 5\)"),
    ([(0, 0, 0.5, tube(1, 21))], r"within 1..20"),
    ([(0, 0, 0.5, tube(1, 2)[::-1])], "increasing"),
    ([(0, 0, 0.5, tube(1, 2, [50, 20, 10, 80]))], "x2 < x1"),
])
def test_video_ap_rejects_bad_tubes(tubes, message):
    with pytest.raises(ValueError, match=message):
        detection.video_ap(make_gt({"v0": {0: [tube(1, 10)]}}), tubes)


# -- a plain re-implementation, compared on random cases --------------------------------------

def reference_iou(a, b):
    width = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - width * height
    return width * height / union if union > 0 else 0.0


def reference_tube_iou(a, b):
    boxes_a = {int(row[0]): row[1:] for row in a}
    boxes_b = {int(row[0]): row[1:] for row in b}
    first, last = max(min(boxes_a), min(boxes_b)), min(max(boxes_a), max(boxes_b))
    if last < first:
        return 0.0
    span = max(max(boxes_a), max(boxes_b)) - min(min(boxes_a), min(boxes_b)) + 1
    spatial = sum(reference_iou(boxes_a[f], boxes_b[f]) for f in range(first, last + 1)
                  if f in boxes_a and f in boxes_b) / (last - first + 1)
    return (last - first + 1) / span * spatial


def reference_ap(detections, truth, overlap, threshold):
    """detections [(key, score, object)], truth {key: [objects]}: AP by walking the ranking,
    precision at each cut-off, and the all-point interpolation as a max over later cut-offs."""
    ranking = sorted(range(len(detections)), key=lambda i: -detections[i][1])
    taken = {key: [False] * len(objects) for key, objects in truth.items()}
    hits = []
    for i in ranking:
        key, _, thing = detections[i]
        best, best_j = -1.0, None
        for j, other in enumerate(truth.get(key, [])):
            if not taken[key][j] and overlap(thing, other) > best:
                best, best_j = overlap(thing, other), j
        hit = best_j is not None and best >= threshold
        if hit:
            taken[key][best_j] = True
        hits.append(hit)
    total = sum(len(objects) for objects in truth.values())
    precision = [sum(hits[:k + 1]) / (k + 1) for k in range(len(hits))]
    recall = [sum(hits[:k + 1]) / total for k in range(len(hits))]
    ap, reached = 0.0, 0.0
    for k in range(len(hits)):
        if recall[k] > reached:
            ap += (recall[k] - reached) * max(precision[k:])
            reached = recall[k]
    return ap


def reference_frame_ap(gt, detections, threshold):
    result = {}
    for c, name in enumerate(gt["labels"]):
        truth = {}
        for v, video in enumerate(gt["test_videos"][0]):
            for rows in gt["gttubes"][video].get(c, []):
                for row in rows:
                    truth.setdefault((v, int(row[0])), []).append(list(row[1:]))
        if truth:
            mine = [((int(d[0]), int(d[1])), d[3], list(d[4:])) for d in detections
                    if int(d[2]) == c]
            result[name] = reference_ap(mine, truth, reference_iou, threshold)
    return result


def reference_video_ap(gt, tubes, threshold):
    result = {}
    for c, name in enumerate(gt["labels"]):
        truth = {v: list(gt["gttubes"][video][c]) for v, video in enumerate(gt["test_videos"][0])
                 if c in gt["gttubes"][video]}
        if truth:
            mine = [(t[0], t[2], t[3]) for t in tubes if t[1] == c]
            result[name] = reference_ap(mine, truth, reference_tube_iou, threshold)
    return result


def random_ground_truth(rng, num_videos, frames):
    videos = {}
    for v in range(num_videos):
        by_label = {}
        for label in range(len(LABELS)):
            if rng.random() < 0.6 or v == label == 0:  # at least one tube
                by_label[label] = []
                for _ in range(rng.integers(1, 3)):
                    first = int(rng.integers(1, frames))
                    last = int(rng.integers(first, frames + 1))
                    x, y = rng.uniform(0, 200), rng.uniform(0, 120)
                    w, h = rng.uniform(20, 100), rng.uniform(20, 100)
                    drift = rng.normal(0, 2, size=(last - first + 1, 1)).cumsum(0) * [1, 0, 1, 0]
                    boxes = np.clip(np.array([x, y, x + w, y + h]) + drift, 0, [320, 240] * 2)
                    by_label[label].append(np.c_[np.arange(first, last + 1), boxes])
        videos[f"class_{v % 2}/video_{v}"] = by_label
    return make_gt(videos, frames=frames)


def jittered(rng, boxes, scale):
    noisy = boxes + rng.normal(0, scale, size=boxes.shape)
    return np.c_[np.minimum(noisy[:, 0], noisy[:, 2]), np.minimum(noisy[:, 1], noisy[:, 3]),
                 np.maximum(noisy[:, 0], noisy[:, 2]), np.maximum(noisy[:, 1], noisy[:, 3])]


def random_detections(rng, gt, frames):
    rows = []
    for v, video in enumerate(gt["test_videos"][0]):
        for label, tubes in gt["gttubes"][video].items():
            for t in tubes:
                for _ in range(rng.integers(0, 3)):  # misses, hits and duplicates
                    keep = rng.random(len(t)) < 0.7
                    boxes = jittered(rng, t[keep, 1:], rng.choice([2.0, 8.0]))
                    labels = np.where(rng.random(keep.sum()) < 0.1, (label + 1) % 3, label)
                    rows += [[v, f, c, 0, *b] for f, c, b in zip(t[keep, 0], labels, boxes)]
    for _ in range(rng.integers(0, 15)):  # background
        x, y = rng.uniform(0, 250), rng.uniform(0, 170)
        rows.append([rng.integers(0, len(gt["test_videos"][0])), rng.integers(1, frames + 1),
                     rng.integers(0, 3), 0, x, y, x + rng.uniform(5, 70), y + rng.uniform(5, 70)])
    rows = np.array(rows, np.float64).reshape(-1, 8)
    rows[:, 3] = np.round(rng.random(len(rows)), 1)  # coarse scores: many ties
    return rows[rng.permutation(len(rows))]


@pytest.mark.parametrize("seed", range(25))
def test_frame_ap_matches_a_plain_reimplementation(seed):
    rng = np.random.default_rng(seed)
    gt = random_ground_truth(rng, num_videos=int(rng.integers(1, 5)), frames=8)
    detections = random_detections(rng, gt, frames=8)
    for threshold in (0.3, 0.5, 0.7):
        expected = reference_frame_ap(gt, detections, threshold)
        result = detection.frame_ap(gt, detections, iou=threshold)
        assert result["per_class"] == pytest.approx(expected, abs=1e-12)
        assert result["mAP"] == pytest.approx(np.mean(list(expected.values())), abs=1e-12)


def random_tubes(rng, gt, frames):
    tubes = []
    for v, video in enumerate(gt["test_videos"][0]):
        for label, truth in gt["gttubes"][video].items():
            for t in truth:
                for _ in range(rng.integers(0, 3)):
                    first = int(np.clip(t[0, 0] + rng.integers(-2, 3), 1, frames))
                    last = int(np.clip(t[-1, 0] + rng.integers(-2, 3), first, frames))
                    every = np.arange(first, last + 1)
                    boxes = jittered(rng, np.array([np.interp(every, t[:, 0], t[:, k])
                                                    for k in range(1, 5)]).T, 4.0)
                    keep = (rng.random(len(every)) < 0.9) | (every == first) | (every == last)
                    tubes.append((v, label, 0.0, np.c_[every, boxes][keep]))
    for _ in range(rng.integers(0, 4)):
        first = int(rng.integers(1, frames + 1))
        every = np.arange(first, int(rng.integers(first, frames + 1)) + 1)
        boxes = np.tile([50.0, 50.0, 120.0, 150.0], (len(every), 1))
        tubes.append((int(rng.integers(0, len(gt["test_videos"][0]))), int(rng.integers(0, 3)),
                      0.0, np.c_[every, boxes]))
    scores = np.round(rng.random(len(tubes)), 1)
    return [(v, c, float(s), b) for (v, c, _, b), s in zip(tubes, scores)]


@pytest.mark.parametrize("seed", range(25))
def test_video_ap_and_tube_iou_match_a_plain_reimplementation(seed):
    rng = np.random.default_rng(100 + seed)
    gt = random_ground_truth(rng, num_videos=int(rng.integers(1, 5)), frames=12)
    tubes = random_tubes(rng, gt, frames=12)
    for a in tubes[:6]:
        for b in tubes[:6]:
            assert detection.tube_iou(a[3], b[3]) == pytest.approx(reference_tube_iou(a[3], b[3]),
                                                                   abs=1e-12)
    thresholds = detection.iou_thresholds("0.2:0.9:0.1")
    result = detection.video_ap(gt, tubes, thresholds)
    for threshold in thresholds:
        expected = reference_video_ap(gt, tubes, threshold)
        assert result["per_threshold"][threshold]["per_class"] == pytest.approx(expected,
                                                                              abs=1e-12)


# -- tube linking -----------------------------------------------------------------------------

def moving(frame, x0=10.0, speed=1.0, y=20.0, size=40.0):
    return [x0 + speed * frame, y, x0 + speed * frame + size, y + size]


def test_the_linking_overlap_is_box_iou(rng):
    from keras_video.detection import tubes

    corners = rng.uniform(0, 100, size=(300, 2, 2))
    boxes = np.c_[corners.min(1), corners.max(1)]
    boxes[:20, 2] = boxes[:20, 0]  # some empty
    expected = detection.box_iou(boxes[:150], boxes[150:]).diagonal()
    assert [tubes._overlap(a, b) for a, b in zip(boxes[:150].tolist(), boxes[150:].tolist())] \
        == pytest.approx(expected, abs=1e-12)


def test_link_tubes_hand_worked():
    rows = []
    for f in range(1, 21):
        rows.append(det(0, f, 0, 0.9, moving(f)))  # the actor
        rows.append(det(0, f, 0, 0.8, moving(f, x0=11)))  # a duplicate: IoU 39/41, suppressed
        rows.append(det(0, f, 1, 0.5, [200, 100, 240, 140]))  # another class, still
        if 5 <= f <= 8:
            rows.append(det(0, f, 0, 0.3, [250, 150, 290, 200]))  # a short false alarm
    tubes = detection.link_tubes(rows, min_length=1)
    assert [(t.video, t.label, len(t.boxes)) for t in tubes] == [(0, 0, 20), (0, 0, 4),
                                                                (0, 1, 20)]
    assert [t.score for t in tubes] == pytest.approx([0.9, 0.3, 0.5])
    np.testing.assert_allclose(tubes[0].boxes, [[f, *moving(f)] for f in range(1, 21)])
    np.testing.assert_allclose(tubes[1].boxes[:, 0], [5, 6, 7, 8])
    # ACT's default keeps tubes of 15 frames or more.
    assert [len(t.boxes) for t in detection.link_tubes(rows)] == [20, 20]
    # The duplicate never starts a tube of its own (the frame NMS removes it) ...
    assert len(detection.link_tubes(rows, min_length=1, tube_nms_iou=None)) == 3
    # ... and top_k=1 keeps only the actor's box of class 0 in each frame.
    assert [len(t.boxes) for t in detection.link_tubes(rows, min_length=1, top_k=1)] == [20, 20]


def test_viterbi_follows_an_actor_that_jumps_where_greedy_linking_breaks():
    """The demo's fast orbits: an actor whose consecutive boxes do not overlap at all."""
    far = [[0, 0, 10, 10], [50, 50, 60, 60]]
    rows = [det(0, f, 0, 0.9, far[f % 2]) for f in range(1, 11)]
    rows += [det(0, f, 0, 0.3, [100, 0, 110, 10]) for f in range(1, 11)]  # still, weaker
    greedy = detection.link_tubes(rows, min_length=1)
    assert max(len(t.boxes) for t in greedy if t.score > 0.5) == 1
    actor, still = detection.link_tubes(rows, min_length=1, method="viterbi")
    assert actor.score == pytest.approx(0.9) and still.score == pytest.approx(0.3)
    np.testing.assert_array_equal(actor.boxes[:, 1:], [far[f % 2] for f in range(1, 11)])
    np.testing.assert_array_equal(still.boxes[:, 1], [100] * 10)
    # A frame without the class splits the run, as in the greedy linking.
    cut = [r for r in rows if r[1] != 6] + [det(0, 6, 1, 0.5, [0, 0, 9, 9])]  # another class
    runs = detection.link_tubes(cut, min_length=1, method="viterbi")
    assert sorted((t.boxes[0, 0], t.boxes[-1, 0]) for t in runs if t.label == 0) == [
        (1, 5), (1, 5), (7, 10), (7, 10)]


def test_viterbi_weighs_overlap_against_score():
    a, near, far = [0, 0, 10, 10], [2, 0, 12, 10], [40, 40, 50, 50]  # IoU(a, near) = 2/3
    rows = [det(0, 1, 0, 0.6, a), det(0, 2, 0, 0.55, far), det(0, 2, 0, 0.5, near)]
    (first, *_) = detection.link_tubes(rows, min_length=1, tube_nms_iou=None, method="viterbi")
    np.testing.assert_array_equal(first.boxes[-1, 1:], near)  # 0.6 + 0.5 + 2/3 > 0.6 + 0.55
    (first, *_) = detection.link_tubes(rows, min_length=1, tube_nms_iou=None, method="viterbi",
                                       overlap_weight=0.0)
    np.testing.assert_array_equal(first.boxes[-1, 1:], far)
    with pytest.raises(ValueError, match="method must be"):
        detection.link_tubes(rows, method="hungarian")


def test_viterbi_paths_are_the_best_of_all_paths(rng):
    """Against brute force over every path (written here): each tube is the best path
    through the boxes its predecessors left."""
    import itertools

    from keras_video.detection.metrics import box_iou

    for _ in range(20):
        frames, per_frame = 4, 3
        corners = rng.uniform(0, 30, size=(frames, per_frame, 2, 2))
        boxes = np.concatenate([corners.min(2), corners.max(2) + 5], axis=-1)
        scores = rng.uniform(0.1, 1, size=(frames, per_frame))
        rows = [det(0, f + 1, 0, scores[f, i], boxes[f, i])
                for f in range(frames) for i in range(per_frame)]
        found = detection.link_tubes(rows, min_length=1, nms_iou=1.0, tube_nms_iou=None,
                                     method="viterbi")
        left = [list(range(per_frame)) for _ in range(frames)]
        expected = []
        for _ in range(per_frame):
            def energy(path):
                return sum(scores[f, i] for f, i in enumerate(path)) + sum(
                    box_iou(boxes[f, i][None], boxes[f + 1, j][None])[0, 0]
                    for f, (i, j) in enumerate(zip(path, path[1:])))
            best = max(itertools.product(*left), key=energy)
            expected.append(np.mean([scores[f, i] for f, i in enumerate(best)]))
            for f, i in enumerate(best):
                left[f].remove(i)
        assert sorted(t.score for t in found) == pytest.approx(sorted(expected))


def test_link_tubes_serves_the_higher_scored_tube_first():
    x, y = [0, 0, 10, 10], [4, 0, 14, 10]  # IoU 60/140: both survive the frame NMS
    rows = [det(0, f, 0, s, b) for f in (1, 2, 3) for s, b in ((0.9, x), (0.5, y))]
    rows.append(det(0, 4, 0, 0.7, [2, 0, 12, 10]))  # overlaps both by 2/3
    tubes = detection.link_tubes(rows, min_length=1, tube_nms_iou=None)
    assert [(t.score, t.boxes[-1, 0]) for t in tubes] == [
        (pytest.approx((0.9 * 3 + 0.7) / 4), 4), (pytest.approx(0.5), 3)]


def test_link_tubes_interpolates_between_key_frames():
    rows = [det(0, f, 0, 0.9, moving(f, speed=2)) for f in (1, 5, 9)]
    (only,) = detection.link_tubes(rows, min_length=1)
    np.testing.assert_allclose(only.boxes, [[f, *moving(f, speed=2)] for f in range(1, 10)])


def test_a_frame_without_the_class_ends_its_tubes():
    rows = [det(0, f, 1, 0.4, [200, 100, 240, 140]) for f in range(1, 11)]
    rows += [det(0, f, 0, 0.9, moving(f)) for f in range(1, 11) if f not in (6, 7)]
    tubes = detection.link_tubes(rows, min_length=1)
    assert [(t.label, t.boxes[0, 0], t.boxes[-1, 0]) for t in tubes] == [
        (0, 1, 5), (0, 8, 10), (1, 1, 10)]


def test_link_tubes_suppresses_overlapping_tubes():
    rows = [det(0, f, 0, 0.9, moving(f)) for f in range(1, 11)]
    rows += [det(0, f, 0, 0.6, moving(f, y=200)) for f in range(1, 11)]
    # Tubes far apart in space both stay; a third overlapping the first (frames 3..10 of 1..10,
    # boxes at IoU 0.975: 0.78) goes, though it scores higher than the second. The frame NMS
    # is relaxed so that the third tube's boxes survive it.
    rows += [det(0, f, 0, 0.85, moving(f, x0=10.5)) for f in range(3, 11)]
    tubes = detection.link_tubes(rows, min_length=1, nms_iou=0.99)
    assert [t.score for t in tubes] == pytest.approx([0.9, 0.6])
    assert len(detection.link_tubes(rows, min_length=1, nms_iou=0.99, tube_nms_iou=None)) == 3


def test_link_tubes_does_not_depend_on_the_row_order(rng):
    rows = []
    for video in range(2):
        for f in range(1, 16):
            for k in range(3):
                rows.append(det(video, f, k % 2, rng.random(), moving(f, x0=60 * k, speed=k)))
    rows = np.array(rows)
    first = detection.link_tubes(rows, min_length=1)
    again = detection.link_tubes(rows[rng.permutation(len(rows))], min_length=1)
    assert len(first) == len(again) >= 6
    for a, b in zip(first, again):
        assert (a.video, a.label, a.score) == (b.video, b.label, b.score)
        np.testing.assert_array_equal(a.boxes, b.boxes)


def test_link_tubes_of_no_detections_and_bad_settings():
    assert detection.link_tubes(np.zeros((0, 8))) == []
    with pytest.raises(ValueError, match="iou must be in"):
        detection.link_tubes([], iou=0)
    with pytest.raises(ValueError, match="top_k and min_length"):
        detection.link_tubes([], top_k=0)


def test_perfect_detections_give_perfect_scores():
    gt = make_gt({"a": {0: [tube(3, 18, moving(0))]}, "b": {1: [tube(1, 20, moving(5))],
                                                             2: [tube(2, 17, moving(1, y=150))]}})
    rows = [det(v, r[0], label, 0.8, r[1:])
            for v, video in enumerate(gt["test_videos"][0])
            for label, tubes in gt["gttubes"][video].items() for t in tubes for r in t]
    tubes = detection.link_tubes(rows)
    report = detection.detection_report(gt, rows, tubes)
    assert {k: v for k, v in report.items() if "mAP" in k} == {
        "frame_mAP@0.5": 1.0, "video_mAP@0.2": 1.0, "video_mAP@0.5": 1.0,
        "video_mAP@0.5:0.95": 1.0}


# -- the report -------------------------------------------------------------------------------

def test_detection_report_is_json_ready_and_agrees_with_the_metrics():
    rng = np.random.default_rng(7)
    gt = random_ground_truth(rng, num_videos=4, frames=12)
    rows = random_detections(rng, gt, frames=12)
    tubes = detection.link_tubes(rows, min_length=1)
    report = json.loads(json.dumps(detection.detection_report(gt, rows, tubes)))
    frame = detection.frame_ap(gt, rows)
    video = {t: detection.video_ap(gt, tubes, t) for t in (0.2, 0.5, "0.5:0.95")}
    assert report["frame_mAP@0.5"] == pytest.approx(frame["mAP"])
    for t in (0.2, 0.5, "0.5:0.95"):
        assert report[f"video_mAP@{t}"] == pytest.approx(video[t]["mAP"])
    assert set(report["per_class"]) == set(frame["per_class"])
    for name, row in report["per_class"].items():
        assert row == pytest.approx({"frame_AP@0.5": frame["per_class"][name],
                                     **{f"video_AP@{t}": video[t]["per_class"][name]
                                        for t in (0.2, 0.5, "0.5:0.95")}})
    assert report["split"] == 0 and report["test_videos"] == 4


# -- AVA --------------------------------------------------------------------------------------

def ava(rows, detections=False):
    rows = [r.split(",") for r in rows]
    return detection.AvaBoxes(
        np.array([r[0] for r in rows]), np.array([int(r[1]) for r in rows]),
        np.array([[float(v) for v in r[2:6]] for r in rows]), np.array([int(r[6]) for r in rows]),
        scores=np.array([float(r[7]) for r in rows]) if detections else None)


P1, P2, P3 = "0.10,0.10,0.40,0.90", "0.60,0.10,0.90,0.90", "0.30,0.20,0.50,0.70"


def test_ava_frame_ap_hand_worked(tmp_path):
    truth = ava([f"vid,902,{P1},12", f"vid,902,{P1},80", f"vid,902,{P2},12", f"vid,903,{P3},17"])
    found = ava([f"vid,902,{P1},12,0.9", f"vid,902,{P1},12,0.8", f"vid,902,{P2},12,0.7",
                 f"vid,902,{P2},80,0.6", f"vid,903,{P3},17,0.5"], detections=True)
    names = {12: "stand", 17: "ride", 80: "talk to"}
    # stand: T, F (duplicate), T of 2: 5/6; talk to: the detection is on the other person: 0;
    # ride: found at the key frame 903.
    result = detection.ava_frame_ap(truth, found, label_map=names)
    assert result["per_class"] == {"stand": pytest.approx(5 / 6), "ride": 1.0, "talk to": 0.0}
    # Excluding key frame 903 removes ride's only box and detection: ride leaves the mean.
    result = detection.ava_frame_ap(truth, found, label_map=names, excluded={("vid", 903)})
    assert result == {"mAP": pytest.approx(5 / 12),
                      "per_class": {"stand": pytest.approx(5 / 6), "talk to": 0.0}}
    # Only the classes of the label map count; without one, every class of the ground truth.
    assert detection.ava_frame_ap(truth, found, label_map={12: "stand"})["mAP"] == \
        pytest.approx(5 / 6)
    assert set(detection.ava_frame_ap(truth, found)["per_class"]) == {12, 17, 80}
    (tmp_path / "gt.csv").write_text("\n".join(f"{r},{i}" for i, r in enumerate(
        [f"vid,0902,{P1},12", f"vid,0902,{P2},12"])) + "\n")
    (tmp_path / "det.csv").write_text(f"vid,0902,{P2},12,0.9\n")
    assert detection.ava_frame_ap(tmp_path / "gt.csv", tmp_path / "det.csv")["mAP"] == 0.5
