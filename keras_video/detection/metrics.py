"""Frame-mAP and video-mAP of spatio-temporal action detection, as JHMDB-21 and UCF101-24
results are reported (ACT, MOC, MMAction2's MultiSports utilities), and AVA's frame-mAP.

Average precision, per class: detections by descending score (ties in input order); a
detection is a true positive when, at IoU >= the threshold, it matches a not yet matched
ground-truth box (frame-mAP) or tube (video-mAP) of its class in the same frame or video,
taking the unmatched one it overlaps most; every other detection is a false positive, so a
second detection of an already found box is one. AP is the VOC all-point interpolation: the
precision-recall curve with sentinels (recall 0 and 1, precision 0), its precision made
non-increasing from the right, summed over the recall steps. The mAP is the mean over the
classes that have ground truth in the evaluated videos: a class with ground truth and no
detections counts with AP 0, a class with detections and no ground truth is left out.

Matching among the unmatched boxes is ACT's and MOC's rule. Pascal VOC and AVA's evaluator
instead compare a detection with the box it overlaps most, matched or not, and count it false
when that box is taken; the two differ only where boxes of one class overlap each other in a
frame (never on JHMDB-21, which has one actor per video).

IoU of boxes uses continuous pixel coordinates, area (x2 - x1) (y2 - y1) (MMAction2's
MultiSports `iou2d_voc`; ACT and MOC add 1 to widths and heights, which moves an IoU by 0.01 or
less at the 40-150 pixel boxes of JHMDB-21 and UCF101-24). The spatio-temporal IoU of two
tubes is their temporal IoU, counted in frames (frames 3..7 and 5..9 overlap in 3 of 7), times
their mean per-frame IoU over the frames of the temporal overlap; a frame of the overlap where
one tube has no box (a gap) counts with IoU 0.
"""
import numpy as np

from keras_video.detection.ground_truth import AvaBoxes, as_ground_truth, read_ava_csv

VIDEO_THRESHOLDS = "0.5:0.95"


def _iou(a, b):
    """Element-wise IoU of broadcastable box arrays (..., 4)."""
    width = np.maximum(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0)
    height = np.maximum(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0)
    inter = width * height
    union = ((a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
             + (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1]) - inter)
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def box_iou(boxes1, boxes2):
    """IoU matrix (N, M) of boxes (N, 4) and (M, 4), x1, y1, x2, y2 in continuous
    coordinates; 0 where both boxes are empty."""
    a = np.asarray(boxes1, np.float64).reshape(-1, 4)
    b = np.asarray(boxes2, np.float64).reshape(-1, 4)
    return _iou(a[:, None], b[None])


def tube_iou(tube1, tube2):
    """Spatio-temporal IoU of two tubes, arrays (N, 5) of frame, x1, y1, x2, y2 with frames
    increasing: temporal IoU x the mean per-frame IoU over the temporal overlap."""
    a, b = np.asarray(tube1, np.float64), np.asarray(tube2, np.float64)
    start, end = max(a[0, 0], b[0, 0]), min(a[-1, 0], b[-1, 0])
    if end < start:
        return 0.0
    overlap = end - start + 1
    temporal = overlap / (max(a[-1, 0], b[-1, 0]) - min(a[0, 0], b[0, 0]) + 1)
    _, in_a, in_b = np.intersect1d(a[:, 0], b[:, 0], assume_unique=True, return_indices=True)
    return float(temporal * _iou(a[in_a, 1:], b[in_b, 1:]).sum() / overlap)


def average_precision(is_true_positive, num_ground_truth):
    """VOC all-point AP of detections ranked by descending score, given whether each is a
    true positive, against `num_ground_truth` (> 0) ground-truth objects."""
    hits = np.asarray(is_true_positive, bool)
    if num_ground_truth < 1 or hits.sum() > num_ground_truth:
        raise ValueError(f"{int(hits.sum())} true positives cannot match {num_ground_truth} "
                         "ground-truth objects (need >= 1 and >= the true positives)")
    true = np.cumsum(hits)
    recall = np.concatenate([[0.0], true / num_ground_truth, [1.0]])
    precision = np.concatenate([[0.0], true / np.arange(1, len(hits) + 1), [0.0]])
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    steps = np.flatnonzero(recall[1:] != recall[:-1])
    return float(np.sum((recall[steps + 1] - recall[steps]) * precision[steps + 1]))


def iou_thresholds(iou):
    """`iou` as a tuple of thresholds: a float, a sequence of floats, or "start:stop[:step]"
    (step 0.05; "0.5:0.95" is 0.5, 0.55, ..., 0.95)."""
    try:
        if isinstance(iou, str):
            parts = [float(p) for p in iou.split(":")]
            if len(parts) not in (2, 3):
                raise ValueError
            start, stop, step = (parts + [0.05])[:3]
            if step <= 0 or stop < start:
                raise ValueError
            count = int(np.floor((stop - start) / step + 1e-9)) + 1
            thresholds = tuple(round(start + i * step, 10) for i in range(count))
        elif np.ndim(iou) == 0:
            thresholds = (float(iou),)
        else:
            thresholds = tuple(float(t) for t in iou)
    except (TypeError, ValueError):
        thresholds = ()
    if not thresholds or not all(0 < t <= 1 for t in thresholds):
        raise ValueError("iou must be a threshold in (0, 1], a sequence of them or "
                         f"'start:stop[:step]' such as '0.5:0.95', got {iou!r}")
    return thresholds


def _true_positives(keys, scores, truth, overlaps, thresholds):
    """Whether each detection, in rank order (descending score, ties in input order), is a
    true positive at each threshold: (len(thresholds), N). `truth`: the keys that have ground
    truth; `overlaps(indices)`: for each detection at `indices`, the list of its IoUs with the
    ground-truth objects of its key. The matching loop runs on Python lists: a key holds a
    handful of objects, where numpy's cost per call would dominate."""
    order = np.argsort(-np.asarray(scores, np.float64), kind="stable")
    ranked = np.asarray(keys)[order]
    hits = np.zeros((len(thresholds), len(order)), bool)
    found = np.flatnonzero(np.isin(ranked, np.fromiter(truth, np.int64)))
    groups = {}  # key -> [(rank position, IoUs)] in rank order
    for position, key, row in zip(found.tolist(), ranked[found].tolist(),
                                  overlaps(order[found])):
        groups.setdefault(key, []).append((position, row))
    for group in groups.values():
        for t, threshold in enumerate(thresholds):
            free = [True] * len(group[0][1])
            for position, row in group:
                best, best_iou = None, -1.0
                for j, value in enumerate(row):
                    if free[j] and value > best_iou:
                        best, best_iou = j, value
                if best is not None and best_iou >= threshold:
                    hits[t, position] = True
                    free[best] = False
    return hits


def _summary(names, per_class, thresholds):
    """{"mAP", "per_class"} from {name: [AP per threshold]}; several thresholds add
    "per_threshold" and report the mean over them."""
    if not per_class:
        raise ValueError("no class has ground truth in the evaluated videos")
    table = np.array([per_class[name] for name in names if name in per_class])
    shown = [name for name in names if name in per_class]
    each = [{"mAP": float(table[:, t].mean()),
             "per_class": {name: float(table[i, t]) for i, name in enumerate(shown)}}
            for t in range(len(thresholds))]
    if len(thresholds) == 1:
        return each[0]
    return {"mAP": float(np.mean([e["mAP"] for e in each])),
            "per_class": {name: float(table[i].mean()) for i, name in enumerate(shown)},
            "per_threshold": {round(t, 4): e for t, e in zip(thresholds, each)}}


def _class_aps(gt_boxes, det_classes, det_keys, det_scores, det_boxes, classes, thresholds):
    """{class: [AP per threshold]} for the `classes` with ground truth; `gt_boxes`:
    {class: {key: boxes (M, 4)}}."""
    result = {}
    for c in classes:
        truth = gt_boxes.get(c)
        if not truth:
            continue
        mine = np.flatnonzero(det_classes == c)
        keys, boxes = det_keys[mine], det_boxes[mine]
        # Every key's boxes padded to the most any key has: one IoU call for all detections.
        truth_keys = np.array(sorted(truth), np.int64)
        counts = np.array([len(truth[k]) for k in truth_keys.tolist()])
        padded = np.zeros((len(truth_keys), counts.max(), 4))
        for i, k in enumerate(truth_keys.tolist()):
            padded[i, :counts[i]] = truth[k]

        def overlaps(indices):
            slots = np.searchsorted(truth_keys, keys[indices])
            matrix = _iou(boxes[indices][:, None], padded[slots])
            return [row[:n] for row, n in zip(matrix.tolist(), counts[slots].tolist())]

        hits = _true_positives(keys, det_scores[mine], truth, overlaps, thresholds)
        count = sum(len(b) for b in truth.values())
        result[c] = [average_precision(h, count) for h in hits]
    return result


def _detection_rows(detections):
    """Detections as a float64 array (N, 8): video index, frame, label index, score, x1, y1,
    x2, y2, checked for shape, finite values, whole indices and box order."""
    rows = np.asarray(detections, np.float64)
    if rows.size == 0:
        return np.zeros((0, 8))
    if rows.ndim != 2 or rows.shape[1] != 8:
        raise ValueError("detections must be rows (video index, frame, label index, score, x1, "
                         f"y1, x2, y2), shape (N, 8); got shape {rows.shape}")
    bad = ~np.isfinite(rows).all(axis=1)
    bad |= (rows[:, :3] != np.round(rows[:, :3])).any(axis=1) | (rows[:, [0, 2]] < 0).any(axis=1)
    bad |= (rows[:, 1] < 1) | (rows[:, 6] < rows[:, 4]) | (rows[:, 7] < rows[:, 5])
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"detection row {i} {rows[i].tolist()}: needs finite values, whole "
                         "video index >= 0, frame >= 1 and label index >= 0, and x1 <= x2, "
                         "y1 <= y2")
    return rows


def _check_range(what, values, limit, where):
    outside = values >= limit
    if outside.any():
        i = int(np.flatnonzero(outside)[0])
        raise ValueError(f"{what} {i}: {where(i)}")


def frame_ap(ground_truth, detections, iou=0.5, split=0):
    """Frame-mAP of per-frame `detections` on the test videos of `split`.

    `ground_truth`: a `GroundTruth` or the community dict. `detections`: rows (video index
    into `test_videos[split]`, frame (1-based), label index, score, x1, y1, x2, y2), boxes in
    pixels. Frames of a test video without a box of a class are negatives for it. Returns
    {"mAP": float in [0, 1], "per_class": {label: AP}}; `iou` may also be several thresholds
    (see `iou_thresholds`), which adds "per_threshold".
    """
    gt = as_ground_truth(ground_truth)
    videos = gt.videos(split, "test")
    thresholds = iou_thresholds(iou)
    rows = _detection_rows(detections)
    video_index = rows[:, 0].astype(np.int64)
    _check_range("detection row", video_index, len(videos), lambda i: (
        f"video index {video_index[i]} is outside the {len(videos)} test videos of split {split}"))
    _check_range("detection row", rows[:, 2].astype(np.int64), len(gt.labels), lambda i: (
        f"label index {int(rows[i, 2])} is outside the {len(gt.labels)} labels"))
    frames_of = np.array([gt.num_frames[v] for v in videos], np.int64)
    beyond = rows[:, 1] > frames_of[video_index] if len(rows) else np.zeros(0, bool)
    if beyond.any():
        i = int(np.flatnonzero(beyond)[0])
        raise ValueError(f"detection row {i}: frame {int(rows[i, 1])} is beyond the "
                         f"{frames_of[video_index[i]]} frames of {videos[video_index[i]]!r}")
    stride = int(frames_of.max()) + 1 if len(videos) else 1
    gathered = {}  # class -> ([keys], [boxes])
    for v, video in enumerate(videos):
        for label, tubes in gt.tubes[video].items():
            keys, boxes = gathered.setdefault(label, ([], []))
            for tube in tubes:
                keys.append(v * stride + tube[:, 0].astype(np.int64))
                boxes.append(tube[:, 1:])
    gt_boxes = {}
    for label, (keys, boxes) in gathered.items():
        keys, boxes = np.concatenate(keys), np.concatenate(boxes)
        order = np.argsort(keys, kind="stable")
        keys, boxes = keys[order], boxes[order]
        starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
        gt_boxes[label] = dict(zip(keys[starts].tolist(), np.split(boxes, starts[1:])))
    keys = video_index * stride + rows[:, 1].astype(np.int64)
    aps = _class_aps(gt_boxes, rows[:, 2].astype(np.int64), keys, rows[:, 3], rows[:, 4:],
                     range(len(gt.labels)), thresholds)
    return _summary(list(gt.labels), {gt.labels[c]: ap for c, ap in aps.items()}, thresholds)


def _tube_entries(tubes, gt, videos, split):
    """(video indices, label indices, scores, tube arrays) of `tubes`, each a `Tube` or a
    tuple (video index, label index, score, array (N, 5) of frame, x1, y1, x2, y2)."""
    video_index, labels, scores, arrays = [], [], [], []
    for i, entry in enumerate(tubes):
        try:
            video, label, score, boxes = entry
        except (TypeError, ValueError):
            raise ValueError(f"tube {i}: expected (video index, label index, score, array (N, "
                             "5)), e.g. a keras_video.detection.Tube") from None
        where = f"tube {i}"
        video = _index(video, len(videos), f"{where}: video index", f"the {len(videos)} test "
                       f"videos of split {split}")
        label = _index(label, len(gt.labels), f"{where}: label index",
                       f"the {len(gt.labels)} labels")
        if not np.isfinite(float(score)):
            raise ValueError(f"{where}: score {score!r} is not finite")
        boxes = np.asarray(boxes, np.float64)
        if boxes.ndim != 2 or boxes.shape[1] != 5 or not len(boxes) or \
                not np.isfinite(boxes).all():
            raise ValueError(f"{where}: boxes must be a finite array (N >= 1, 5) of frame, x1, "
                             f"y1, x2, y2, got shape {boxes.shape}")
        frames = boxes[:, 0]
        if (frames != np.round(frames)).any() or (np.diff(frames) <= 0).any() or \
                frames[0] < 1 or frames[-1] > gt.num_frames[videos[video]]:
            raise ValueError(f"{where}: frames must be whole, increasing and within 1.."
                             f"{gt.num_frames[videos[video]]} ({videos[video]!r})")
        if ((boxes[:, 3] < boxes[:, 1]) | (boxes[:, 4] < boxes[:, 2])).any():
            raise ValueError(f"{where}: a box has x2 < x1 or y2 < y1")
        video_index.append(video)
        labels.append(label)
        scores.append(float(score))
        arrays.append(boxes)
    return (np.array(video_index, np.int64), np.array(labels, np.int64),
            np.array(scores, np.float64), arrays)


def _index(value, limit, what, among):
    whole = float(value)
    if not whole.is_integer() or not 0 <= whole < limit:
        raise ValueError(f"{what} {value!r} is not one of {among} (0..{limit - 1})")
    return int(whole)


def video_ap(ground_truth, tubes, iou=0.5, split=0):
    """Video-mAP of action `tubes` on the test videos of `split`.

    `tubes`: `Tube`s (or tuples) (video index into `test_videos[split]`, label index, score,
    array (N, 5) of frame, x1, y1, x2, y2). `iou`: a threshold, several, or "0.5:0.95" (the mean
    over 0.5, 0.55, ..., 0.95); several add "per_threshold" to the result, whose "mAP" and
    "per_class" are then the means over the thresholds.
    """
    gt = as_ground_truth(ground_truth)
    videos = gt.videos(split, "test")
    thresholds = iou_thresholds(iou)
    video_index, labels, scores, arrays = _tube_entries(tubes, gt, videos, split)
    per_class = {}
    for c in range(len(gt.labels)):
        truth = {v: gt.tubes[video][c] for v, video in enumerate(videos) if c in gt.tubes[video]}
        if not truth:
            continue
        mine = np.flatnonzero(labels == c)

        def overlaps(indices):
            return [[tube_iou(arrays[mine[i]], g) for g in truth[video_index[mine[i]]]]
                    for i in indices]

        hits = _true_positives(video_index[mine], scores[mine], truth, overlaps, thresholds)
        count = sum(len(t) for t in truth.values())
        per_class[gt.labels[c]] = [average_precision(h, count) for h in hits]
    return _summary(list(gt.labels), per_class, thresholds)


def detection_report(ground_truth, detections, tubes, split=0):
    """The numbers papers report for JHMDB-21 / UCF101-24, JSON-ready: frame-mAP@0.5 of
    `detections`, video-mAP@0.2, @0.5 and @0.5:0.95 of `tubes`, and each class's APs."""
    gt = as_ground_truth(ground_truth)
    frame = frame_ap(gt, detections, 0.5, split)
    strict = iou_thresholds(VIDEO_THRESHOLDS)
    video = video_ap(gt, tubes, (0.2,) + strict, split)["per_threshold"]
    columns = {"frame_AP@0.5": frame["per_class"], "video_AP@0.2": video[0.2]["per_class"],
               "video_AP@0.5": video[0.5]["per_class"],
               f"video_AP@{VIDEO_THRESHOLDS}": {
                   name: float(np.mean([video[round(t, 4)]["per_class"][name] for t in strict]))
                   for name in video[0.5]["per_class"]}}
    return {
        "split": int(split),
        "test_videos": len(gt.videos(split)),
        "frame_mAP@0.5": frame["mAP"],
        "video_mAP@0.2": video[0.2]["mAP"],
        "video_mAP@0.5": video[0.5]["mAP"],
        f"video_mAP@{VIDEO_THRESHOLDS}": float(np.mean([video[round(t, 4)]["mAP"]
                                                        for t in strict])),
        "per_class": {name: {column: values[name] for column, values in columns.items()}
                      for name in frame["per_class"]},
    }


def ava_frame_ap(ground_truth, detections, iou=0.5, label_map=None, excluded=()):
    """AVA frame-mAP: `ground_truth` and `detections` are `AvaBoxes` or CSV paths, matched per
    key frame (video_id, timestamp). `label_map` ({action id: name}, `read_ava_label_map`)
    limits the classes evaluated, as AVA's official 60-class list does, and names them;
    `excluded` key frames (`read_ava_exclusions`) are dropped from both sides."""
    truth = ground_truth if isinstance(ground_truth, AvaBoxes) else read_ava_csv(ground_truth)
    found = detections if isinstance(detections, AvaBoxes) else read_ava_csv(detections, True)
    if found.scores is None:
        raise ValueError("AVA detections need a score column (read_ava_csv(path, detections="
                         "True))")
    thresholds = iou_thresholds(iou)
    index = {}

    def keys_of(boxes):
        pairs = zip(boxes.video_ids.tolist(), boxes.timestamps.tolist())
        return np.array([index.setdefault(p, len(index)) for p in pairs], np.int64)

    truth_keys, found_keys = keys_of(truth), keys_of(found)
    skipped = np.array([index[p] for p in set(excluded) if p in index], np.int64)
    keep_truth, keep_found = ~np.isin(truth_keys, skipped), ~np.isin(found_keys, skipped)
    classes = sorted(label_map) if label_map is not None else sorted(set(truth.actions.tolist()))
    gt_boxes = {}
    for c in classes:
        mine = np.flatnonzero(keep_truth & (truth.actions == c))
        by_key = {}
        for i in mine:
            by_key.setdefault(int(truth_keys[i]), []).append(truth.boxes[i])
        gt_boxes[c] = {k: np.array(b) for k, b in by_key.items()}
    aps = _class_aps(gt_boxes, np.where(keep_found, found.actions, -1), found_keys,
                     found.scores, found.boxes, classes, thresholds)
    names = [label_map[c] if label_map is not None else int(c) for c in classes]
    return _summary(names, {names[classes.index(c)]: ap for c, ap in aps.items()}, thresholds)
