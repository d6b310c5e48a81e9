"""Action tubes from per-frame detections: greedy linking by score and overlap.

The linking of ACT (Kalogeiton et al., "Action Tubelet Detector for Spatio-Temporal Action
Localization", ICCV 2017) and MOC (Li et al., ECCV 2020), for single-frame detections, itself
after Singh et al. (ICCV 2017), per video and class:
1. in each frame, the class's boxes by descending score, non-maximum suppression at
   `nms_iou`, the best `top_k` kept;
2. the open tubes by descending mean score each take, in turn, the highest-scoring box left in
   the frame whose IoU with the tube's last box is >= `iou`; a tube that takes none is closed;
   the boxes left start new tubes;
3. a tube's score is the mean score of its boxes; tubes spanning fewer than `min_length` frames
   are dropped, and of tubes overlapping by spatio-temporal IoU > `tube_nms_iou` only the
   higher-scored is kept (MOC's video-mAP does this at 0.3).
Frames are the video's frames that carry any detection (of any class), so a detector run on
key frames only (every k-th frame) links from key frame to key frame; a tube's boxes between
two of its key frames are interpolated linearly, making every tube one box per frame from its
first to its last frame. Ties (scores, mean scores) go by input order, so the result depends
only on the detections and their order. No temporal trimming (the label-consistency Viterbi
pass of Singh et al.) is done: a tube ends where the linking stops.
"""
import collections

import numpy as np

from keras_video.detection.metrics import _detection_rows, box_iou, tube_iou


class Tube(collections.namedtuple("Tube", "video label score boxes")):
    """An action tube: `video` (index into the test videos), `label` (index), `score`, and
    `boxes`, an array (N, 5) of frame, x1, y1, x2, y2 (frames 1-based, increasing)."""
    __slots__ = ()


def _nms(boxes, threshold, top_k):
    """Indices kept by greedy non-maximum suppression of boxes sorted by descending score."""
    keep, alive = [], np.ones(len(boxes), bool)
    overlaps = box_iou(boxes, boxes)
    for i in range(len(boxes)):
        if alive[i]:
            keep.append(i)
            if len(keep) == top_k:
                break
            alive &= overlaps[i] <= threshold
    return keep


def _build(video, label, links):
    """The `Tube` of `links`, [(frame, box, score)] in frame order, with boxes interpolated
    between linked frames."""
    frames = np.array([f for f, _, _ in links], np.float64)
    boxes = np.array([b for _, b, _ in links], np.float64)
    every = np.arange(frames[0], frames[-1] + 1)
    dense = np.stack([every] + [np.interp(every, frames, boxes[:, k]) for k in range(4)], axis=1)
    return Tube(video, label, float(np.mean([s for _, _, s in links])), dense)


def _link(candidates_by_frame, iou):
    """Greedy linking of one video and class: [(frame, boxes (K, 4), scores (K,))] in frame
    order, each frame's boxes by descending score -> lists of (frame, box, score)."""
    open_tubes, closed = [], []
    for frame, boxes, scores in candidates_by_frame:
        free = np.ones(len(boxes), bool)
        if open_tubes:
            open_tubes.sort(key=lambda links: -np.mean([s for _, _, s in links]))
            overlaps = (box_iou(np.array([links[-1][1] for links in open_tubes]), boxes)
                        if len(boxes) else np.zeros((len(open_tubes), 0)))
            still_open = []
            for links, row in zip(open_tubes, overlaps):
                matches = np.flatnonzero(free & (row >= iou))
                if len(matches):
                    best = int(matches[0])  # boxes are by descending score
                    links.append((frame, boxes[best], float(scores[best])))
                    free[best] = False
                    still_open.append(links)
                else:
                    closed.append(links)
            open_tubes = still_open
        open_tubes += [[(frame, boxes[i], float(scores[i]))] for i in np.flatnonzero(free)]
    return closed + open_tubes


def _suppress(tubes, threshold):
    """Tubes (of one video and class) by descending score, without those overlapping a
    higher-scored one by spatio-temporal IoU > `threshold`."""
    kept = []
    for tube in sorted(tubes, key=lambda t: -t.score):
        if all(tube_iou(tube.boxes, k.boxes) <= threshold for k in kept):
            kept.append(tube)
    return kept


def link_tubes(detections, iou=0.5, nms_iou=0.6, top_k=10, min_length=15, tube_nms_iou=0.3):
    """Action tubes of per-frame `detections`, rows (video index, frame, label index, score,
    x1, y1, x2, y2) as `frame_ap` takes them, linked as the module docstring says.

    Returns `Tube`s ordered by video, label and descending score, for `video_ap`.
    `tube_nms_iou=None` keeps overlapping tubes; `min_length=1` keeps every tube. Defaults
    are ACT's and MOC's (their tube length limit is 15 frames, JHMDB-21's shortest video).
    """
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
    for video in np.unique(rows[:, 0]):
        in_video = rows[rows[:, 0] == video]
        grid = np.unique(in_video[:, 1])
        for label in np.unique(in_video[:, 2]):
            mine = in_video[in_video[:, 2] == label]
            starts = np.searchsorted(mine[:, 1], grid, side="left")
            ends = np.searchsorted(mine[:, 1], grid, side="right")
            candidates = []
            for frame, start, end in zip(grid, starts, ends):
                frame_rows = mine[start:end]
                keep = _nms(frame_rows[:, 4:], nms_iou, int(top_k))
                candidates.append((frame, frame_rows[keep, 4:], frame_rows[keep, 3]))
            tubes = [_build(int(video), int(label), links)
                     for links in _link(candidates, iou)]
            tubes = [t for t in tubes if len(t.boxes) >= min_length]
            if tube_nms_iou is not None:
                tubes = _suppress(tubes, tube_nms_iou)
            result += sorted(tubes, key=lambda t: -t.score)
    return result
