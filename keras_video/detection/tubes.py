"""Action tubes from per-frame detections: greedy linking by score and overlap.

The linking of ACT (Kalogeiton et al., "Action Tubelet Detector for Spatio-Temporal Action
Localization", ICCV 2017) and MOC (Li et al., "Actions as Moving Points", ECCV 2020) with
single-frame detections (ACT's K = 1), itself after Singh et al. (ICCV 2017), per video and
class:
1. in each frame, the class's boxes by descending score, non-maximum suppression at
   `nms_iou`, the best `top_k` kept;
2. the open tubes by descending mean score each take, in turn, the highest-scoring box left in
   the frame whose IoU with the tube's last box is >= `iou`; a tube that takes none is closed;
   the boxes left start new tubes;
3. a tube's score is the mean score of its boxes; tubes spanning fewer than `min_length` frames
   are dropped, and of tubes overlapping by spatio-temporal IoU > `tube_nms_iou` only the
   higher-scored is kept (MOC's video-mAP does this at 0.3).
With `method="viterbi"` step 2 is the dynamic programme of Gkioxari and Malik ("Finding
Action Tubes", CVPR 2015), which Peng and Schmid (ECCV 2016) and Saha et al. (BMVC 2016)
repeat to find several tubes: in each run of consecutive frames that carry the class, the
path of one box per frame that maximises the sum of its scores plus `overlap_weight` times
the IoUs of its consecutive boxes is a tube; its boxes are removed and the next path is
sought, `top_k` tubes at most, while every frame of the run has a box left. No overlap is
required, so an actor that moves by more than its size between frames still makes one tube;
the greedy linking breaks such a tube wherever IoU < `iou`.
Frames are the video's frames that carry any detection (of any class), so a detector run on
key frames only (every k-th frame) links from key frame to key frame; a tube's boxes between
two of its key frames are interpolated linearly, making every tube one box per frame from its
first to its last frame. Ties (scores, mean scores) go by input order, so the result depends
only on the detections and their order. No temporal trimming (the Viterbi labelling pass
some pipelines add after linking) is done: a tube ends where the linking stops.
"""
import collections
import itertools

import numpy as np

from keras_video.detection.metrics import _detection_rows, box_iou, tube_iou


class Tube(collections.namedtuple("Tube", "video label score boxes")):
    """An action tube: `video` (index into the test videos), `label` (index), `score`, and
    `boxes`, an array (N, 5) of frame, x1, y1, x2, y2 (frames 1-based, increasing)."""
    __slots__ = ()


def _runs(rows, column):
    """(value, rows) for each run of equal values in `column` of `rows` sorted by it."""
    values, starts = np.unique(rows[:, column], return_index=True)
    return [(value, rows[start:end])
            for value, start, end in zip(values, starts, np.r_[starts[1:], len(rows)])]


def _overlap(a, b):
    """`metrics.box_iou` of two boxes given as Python floats: linking compares a few boxes at
    a time, millions of times on UCF101-24, where numpy's cost per call would dominate."""
    width, height = min(a[2], b[2]) - max(a[0], b[0]), min(a[3], b[3]) - max(a[1], b[1])
    if width <= 0 or height <= 0:
        return 0.0
    inter = width * height
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def _nms(boxes, threshold, top_k):
    """Greedy non-maximum suppression of [(score, box)] sorted by descending score."""
    kept = []
    for score, box in boxes:
        if all(_overlap(box, other) <= threshold for _, other in kept):
            kept.append((score, box))
            if len(kept) == top_k:
                break
    return kept


def _build(video, label, links):
    """The `Tube` of `links`, [(frame, score, box)] in frame order, with boxes interpolated
    between linked frames."""
    frames = np.array([f for f, _, _ in links], np.float64)
    boxes = np.array([b for _, _, b in links], np.float64)
    every = np.arange(frames[0], frames[-1] + 1)
    dense = np.stack([every] + [np.interp(every, frames, boxes[:, k]) for k in range(4)], axis=1)
    return Tube(video, label, float(np.mean([s for _, s, _ in links])), dense)


def _link(candidates, iou):
    """Greedy linking of one video and class. `candidates`: [(grid position, frame, [(score,
    box)] by descending score)] in frame order, for the grid frames where the class has boxes
    (at the others every open tube closes). Returns lists of (frame, score, box)."""
    open_tubes, closed, previous = [], [], None  # a tube: [sum of its scores, links]
    for position, frame, boxes in candidates:
        if previous is not None and position > previous + 1:
            closed += open_tubes  # a grid frame without this class came in between
            open_tubes = []
        previous = position
        free = [True] * len(boxes)
        open_tubes.sort(key=lambda t: -t[0] / len(t[1]))
        still_open = []
        for tube in open_tubes:
            last = tube[1][-1][2]
            best = next((i for i, (_, box) in enumerate(boxes)
                         if free[i] and _overlap(last, box) >= iou), None)
            if best is None:
                closed.append(tube)
                continue
            free[best] = False
            tube[0] += boxes[best][0]
            tube[1].append((frame, *boxes[best]))
            still_open.append(tube)
        open_tubes = still_open + [[score, [(frame, score, box)]]
                                   for (score, box), unused in zip(boxes, free) if unused]
    return [links for _, links in closed + open_tubes]


def _runs_of_frames(candidates):
    """`candidates` split where a grid frame without the class comes in between."""
    runs = []
    for candidate in candidates:
        if not runs or candidate[0] > runs[-1][-1][0] + 1:
            runs.append([])
        runs[-1].append(candidate)
    return runs


def _viterbi(candidates, overlap_weight, max_tubes):
    """Paths of one box per frame through each run of `candidates` (as `_link` takes them)
    maximising scores plus `overlap_weight` times consecutive IoUs; lists of (frame, score,
    box). The IoUs of consecutive frames are computed once per run, as matrices, and shared
    by the run's tubes: boxes already taken are masked out."""
    found = []
    for run in _runs_of_frames(candidates):
        scores = [np.array([score for score, _ in boxes]) for _, _, boxes in run]
        boxes = [np.array([box for _, box in boxes], np.float64).reshape(-1, 4)
                 for _, _, boxes in run]
        gains = [overlap_weight * box_iou(boxes[t - 1], boxes[t]) for t in range(1, len(run))]
        free = [np.ones(len(s), bool) for s in scores]
        for _ in range(max_tubes):
            if not all(f.any() for f in free):
                break
            total = np.where(free[0], scores[0], -np.inf)  # best path value ending at each box
            back = []
            for t in range(1, len(run)):
                values = total[:, None] + gains[t - 1]  # (previous box, this box)
                came_from = values.argmax(axis=0)
                best = values[came_from, np.arange(len(came_from))]
                total = np.where(free[t], best + scores[t], -np.inf)
                back.append(came_from)
            pick = [int(total.argmax())]
            for came_from in reversed(back):
                pick.append(int(came_from[pick[-1]]))
            pick.reverse()
            found.append([(frame, float(scores[t][i]), boxes[t][i].tolist())
                          for t, ((_, frame, _), i) in enumerate(zip(run, pick))])
            for t, i in enumerate(pick):
                free[t][i] = False
    return found


def _suppress(tubes, threshold):
    """Tubes (of one video and class) by descending score, without those overlapping a
    higher-scored one by spatio-temporal IoU > `threshold`."""
    kept = []
    for tube in sorted(tubes, key=lambda t: -t.score):
        if all(tube_iou(tube.boxes, k.boxes) <= threshold for k in kept):
            kept.append(tube)
    return kept


def link_tubes(detections, iou=0.5, nms_iou=0.6, top_k=10, min_length=15, tube_nms_iou=0.3,
               method="greedy", overlap_weight=1.0):
    """Action tubes of per-frame `detections`, rows (video index, frame, label index, score,
    x1, y1, x2, y2) as `frame_ap` takes them, linked as the module docstring says: `method`
    "greedy" (ACT's and MOC's, by overlap >= `iou`) or "viterbi" (Gkioxari and Malik's, by
    scores plus `overlap_weight` times overlaps; `iou` unused).

    Returns `Tube`s ordered by video, label and descending score, for `video_ap`.
    `tube_nms_iou=None` keeps overlapping tubes; `min_length=1` keeps every tube. Defaults
    are ACT's and MOC's (their tube length limit is 15 frames, JHMDB-21's shortest video).
    """
    if method not in ("greedy", "viterbi"):
        raise ValueError(f"method must be 'greedy' or 'viterbi', got {method!r}")
    if not overlap_weight >= 0:
        raise ValueError(f"overlap_weight must be >= 0, got {overlap_weight!r}")
    for name, value in (("iou", iou), ("nms_iou", nms_iou)):
        if not 0 < value <= 1:
            raise ValueError(f"{name} must be in (0, 1], got {value!r}")
    if tube_nms_iou is not None and not 0 <= tube_nms_iou <= 1:
        raise ValueError(f"tube_nms_iou must be in [0, 1] or None, got {tube_nms_iou!r}")
    if int(top_k) < 1 or int(min_length) < 1:
        raise ValueError(f"top_k and min_length must be >= 1, got {top_k!r}, {min_length!r}")
    rows = _detection_rows(detections)
    rows = rows[np.lexsort((-rows[:, 3], rows[:, 1], rows[:, 2], rows[:, 0]))]  # stable
    result = []
    for video, in_video in _runs(rows, 0):
        grid = {frame: position for position, frame in enumerate(np.unique(in_video[:, 1]))}
        for label, mine in _runs(in_video, 2):
            candidates = []  # in frame order, each frame by descending score
            for frame, frame_rows in itertools.groupby(mine.tolist(), key=lambda r: r[1]):
                boxes = _nms([(r[3], r[4:]) for r in frame_rows], nms_iou, int(top_k))
                candidates.append((grid[frame], int(frame), boxes))
            linked = _link(candidates, iou) if method == "greedy" else \
                _viterbi(candidates, overlap_weight, int(top_k))
            tubes = [_build(int(video), int(label), links) for links in linked
                     if links[-1][0] - links[0][0] + 1 >= min_length]
            if tube_nms_iou is not None:
                tubes = _suppress(tubes, tube_nms_iou)
            result += sorted(tubes, key=lambda t: -t.score)
    return result
