"""From annotated videos to batched `(clip, {"boxes", "labels", "box_mask"})` in a
`tf.data.Dataset`, the detector's `fit` input.

A sample is a key frame of a video with its boxes: the clip is `num_frames` frames every
`stride` frames around it (the key frame at clip position `num_frames // 2`, the position the
detector's localisation head reads), and its targets are the key frame's boxes.

Conventions:
- Boxes go in as pixels `x1, y1, x2, y2` of the ground truth's frame size (`x2`, `y2` are
  right / bottom edges); they come out normalised to [0, 1] of the model's input frame, padded
  to `max_boxes` rows, with `box_mask` 1 for a real box. Labels are int32 class indices
  padded with -1, or with `multi_label` float32 multi-hot rows (the same box listed with
  several actions, as AVA's CSV does, becomes one row).
- The frame is resized to `size x size` whole (no aspect-preserving crop, so that no actor is
  cut at evaluation; ACT and MOC do the same). Training augmentation draws one geometry per
  clip: a random crop of a fraction `scale` of each side (scale jitter, the frame's aspect
  kept), which moves the boxes, clips them to the crop and drops those with less than
  `min_visible` of their area left, then a horizontal flip that mirrors them.
- Clip frames outside the video follow `edge`: "pad" repeats the first / last frame (the
  JHMDB detectors' clamping), "loop" wraps around (right for looping videos, such as
  `synthetic`'s), "error" raises. A video shorter than the clip is the same case.
- Bad input: boxes reaching outside the frame are clipped to it and counted
  (`DetectionSamples.clipped_boxes`, logged once); boxes empty after clipping are dropped and
  counted (`dropped_boxes`); inverted or non-finite boxes raise. Key frames without boxes
  ("empty frames") are negatives, kept by default (the localiser learns the background) or
  left out with `empty_frames="skip"`. More boxes on one key frame than `max_boxes` raises.
  Unreadable videos are skipped and logged (`keras_video.data.DECODE_ERRORS`), or raise with
  `strict=True`.
"""
import dataclasses
import os
import threading

import numpy as np
import tensorflow as tf
from absl import logging

from keras_video.data.annotations import VIDEO_EXTENSIONS
from keras_video.data.decoding import VideoDecodeError, VideoReader
from keras_video.data.errors import DECODE_ERRORS
from keras_video.detection.ground_truth import read_ava_csv

AUTOTUNE = tf.data.AUTOTUNE
EDGE_POLICIES = ("pad", "loop", "error")
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp")


@dataclasses.dataclass
class DetectionSamples:
    """Key frames with their boxes, one row per sample.

    `paths[i]`: the sample's video file or folder of frames; `key_frames[i]` its 0-based key
    frame; `num_frames[i]` the video's length in frames; `frame_sizes[i]` its (height, width),
    the pixels of `boxes[i]` `(N, 4)`; `labels[i]` `(N,)` class indices; `videos[i]` the video's
    name; `proposals[i]` optional external boxes `(M, 4)` in the same pixels. Built by
    `samples_from_ground_truth`, or directly (then call `validate()`)."""
    paths: list
    key_frames: np.ndarray
    num_frames: np.ndarray
    frame_sizes: np.ndarray
    boxes: list
    labels: list
    videos: list
    class_names: list
    proposals: list = None
    clipped_boxes: int = 0
    dropped_boxes: int = 0

    def __len__(self):
        return len(self.paths)

    def validate(self):
        """Checks the rows, clips boxes to their frames and drops empty ones (counted)."""
        count = len(self.paths)
        self.key_frames = np.asarray(self.key_frames, np.int64).reshape(-1)
        self.num_frames = np.asarray(self.num_frames, np.int64).reshape(-1)
        self.frame_sizes = np.asarray(self.frame_sizes, np.int64).reshape(-1, 2)
        for name in ("key_frames", "num_frames", "frame_sizes", "boxes", "labels", "videos"):
            if len(getattr(self, name)) != count:
                raise ValueError(f"{name} has {len(getattr(self, name))} rows for {count} paths")
        if self.proposals is not None and len(self.proposals) != count:
            raise ValueError(f"proposals has {len(self.proposals)} rows for {count} paths")
        if count == 0:
            raise ValueError("no samples")
        bad = (self.key_frames < 0) | (self.key_frames >= self.num_frames)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(f"{self.videos[i]}: key frame {self.key_frames[i]} (0-based) is "
                             f"outside its {self.num_frames[i]} frames")
        boxes, labels, proposals = [], [], []
        for i in range(count):
            where = f"{self.videos[i]} frame {self.key_frames[i] + 1}"
            kept, label = self._clean(self.boxes[i], i, where, self.labels[i])
            boxes.append(kept)
            labels.append(label)
            if self.proposals is not None:
                proposals.append(self._clean(self.proposals[i], i, where + " (proposals)")[0])
        self.boxes, self.labels = boxes, labels
        self.proposals = proposals if self.proposals is not None else None
        if self.clipped_boxes or self.dropped_boxes:
            logging.warning("detection samples: %d boxes clipped to their frame, %d dropped "
                            "(empty after clipping)", self.clipped_boxes, self.dropped_boxes)
        return self

    def _clean(self, boxes, i, where, labels=None):
        boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        if labels is not None:
            labels = np.asarray(labels, np.int64).reshape(-1)
            if len(labels) != len(boxes):
                raise ValueError(f"{where}: {len(boxes)} boxes but {len(labels)} labels")
            if len(labels) and (labels.min() < 0 or labels.max() >= len(self.class_names)):
                raise ValueError(f"{where}: labels {labels.tolist()} outside the "
                                 f"{len(self.class_names)} classes")
        if not np.isfinite(boxes).all():
            raise ValueError(f"{where}: boxes are not finite: {boxes.tolist()}")
        if (boxes[:, 2:] < boxes[:, :2]).any():
            raise ValueError(f"{where}: boxes must be x1, y1, x2, y2 with x2 >= x1 and y2 >= y1, "
                             f"got {boxes.tolist()}")
        height, width = self.frame_sizes[i]
        limit = np.array([width, height, width, height], np.float32)
        clipped = np.clip(boxes, 0, limit)
        self.clipped_boxes += int((clipped != boxes).any(axis=1).sum())
        keep = (clipped[:, 2] > clipped[:, 0]) & (clipped[:, 3] > clipped[:, 1])
        self.dropped_boxes += int((~keep).sum())
        return clipped[keep], (labels[keep] if labels is not None else None)

    def subset(self, indices):
        indices = list(indices)
        pick = lambda values: [values[i] for i in indices]  # noqa: E731
        return dataclasses.replace(
            self, paths=pick(self.paths), key_frames=self.key_frames[indices],
            num_frames=self.num_frames[indices], frame_sizes=self.frame_sizes[indices],
            boxes=pick(self.boxes), labels=pick(self.labels), videos=pick(self.videos),
            proposals=pick(self.proposals) if self.proposals is not None else None)


def find_video(video_root, name, extension=None):
    """The file or frame folder of video `name` under `video_root`: `name + extension`, else a
    folder `name` (of frames), else `name` with a video extension."""
    base = os.path.join(os.fspath(video_root), name)
    if extension:
        path = base + "." + extension.lstrip(".")
        if not os.path.exists(path):
            raise FileNotFoundError(f"no video {path}")
        return path
    if os.path.isdir(base):
        return base
    for ext in VIDEO_EXTENSIONS:
        if os.path.isfile(base + ext):
            return base + ext
    raise FileNotFoundError(f"no video file or frame folder for {name!r} in {video_root}")


def samples_from_ground_truth(ground_truth, video_root, subset="train", split=0,
                              extension=None, key_frame_step=1, empty_frames="keep"):
    """`DetectionSamples` of one subset ("train" or "test") of a JHMDB-layout ground truth
    (`labels`, `gttubes`, `nframes`, `resolution`, `train_videos`, `test_videos`; see
    `synthetic.jhmdb_ground_truth`): every `key_frame_step`-th frame of each video, with the
    boxes of every tube that has that frame. `split` indexes the split lists (0-based)."""
    if subset not in ("train", "test"):
        raise ValueError(f"subset must be 'train' or 'test', got {subset!r}")
    if empty_frames not in ("keep", "skip"):
        raise ValueError(f"empty_frames must be 'keep' or 'skip', got {empty_frames!r}")
    if int(key_frame_step) < 1:
        raise ValueError(f"key_frame_step must be >= 1, got {key_frame_step}")
    missing = {"labels", "gttubes", "nframes", "resolution", f"{subset}_videos"} - \
        set(ground_truth)
    if missing:
        raise ValueError(f"the ground truth has no {sorted(missing)}: expected the JHMDB layout")
    splits = ground_truth[f"{subset}_videos"]
    if not 0 <= split < len(splits):
        raise ValueError(f"split {split} is out of range: the ground truth has {len(splits)}")
    rows = dict(paths=[], key_frames=[], num_frames=[], frame_sizes=[], boxes=[], labels=[],
                videos=[])
    for video in splits[split]:
        path = find_video(video_root, video, extension)
        length = int(ground_truth["nframes"][video])
        by_frame = {}
        for label, tubes in ground_truth["gttubes"].get(video, {}).items():
            for tube in tubes:
                tube = np.asarray(tube, np.float32)
                if tube.ndim != 2 or tube.shape[1] != 5:
                    raise ValueError(f"{video}: a tube of label {label} has shape {tube.shape}; "
                                     "tubes are (N, 5) rows of frame, x1, y1, x2, y2")
                for row in tube:
                    frame = int(row[0])
                    if not 1 <= frame <= length:
                        raise ValueError(f"{video}: tube frame {frame} is outside 1..{length} "
                                         "(frames are 1-based)")
                    by_frame.setdefault(frame - 1, []).append((row[1:], int(label)))
        for key in range(0, length, int(key_frame_step)):
            entries = by_frame.get(key, [])
            if not entries and empty_frames == "skip":
                continue
            rows["paths"].append(path)
            rows["key_frames"].append(key)
            rows["num_frames"].append(length)
            rows["frame_sizes"].append(ground_truth["resolution"][video])
            rows["boxes"].append(np.array([b for b, _ in entries], np.float32).reshape(-1, 4))
            rows["labels"].append(np.array([c for _, c in entries], np.int64))
            rows["videos"].append(video)
    if not rows["paths"]:
        raise ValueError(f"split {split} {subset} has no samples")
    return DetectionSamples(class_names=list(ground_truth["labels"]), **rows).validate()


def samples_from_ava(ava, video_root, label_map=None, start_seconds=900, fps=None,
                     extension=None, excluded=()):
    """`DetectionSamples` of an AVA ground-truth CSV (its path, or `read_ava_csv`'s rows): one
    sample per key frame `(video_id, timestamp)`, frame `round((timestamp - start_seconds) *
    fps)` of the video `video_id` under `video_root`. AVA's 15-minute cuts start at second
    900 of their movie; pass 0 for whole movies. `fps` defaults to the video file's own rate
    (30, AVA's extraction rate, for folders of frames).

    Every (box, action) row is kept: `detection_dataset(..., multi_label=True)` makes a
    person's actions one multi-hot row. `label_map` ({action id: name},
    `read_ava_label_map`) picks and orders the classes, as AVA's 60-class evaluation list
    does, and rows of other actions are left out; without it the classes are the action ids
    present. `excluded` key frames (`read_ava_exclusions`) are left out, and so are key
    frames whose rows are all of other actions (their people are not background)."""
    ava = read_ava_csv(ava) if isinstance(ava, (str, os.PathLike)) else ava
    if ava.scores is not None:
        raise ValueError("samples_from_ava takes ground truth, not detections (a score column)")
    ids = sorted(label_map) if label_map is not None else sorted(set(ava.actions.tolist()))
    names = [label_map[i] for i in ids] if label_map is not None else [str(i) for i in ids]
    column = {action: c for c, action in enumerate(ids)}
    excluded = set(excluded)
    by_key = {}
    for row in range(len(ava)):
        key = (str(ava.video_ids[row]), int(ava.timestamps[row]))
        entry = by_key.setdefault(key, ([], []))
        action = int(ava.actions[row])
        if key not in excluded and action in column:
            entry[0].append(ava.boxes[row])
            entry[1].append(column[action])
    rows = dict(paths=[], key_frames=[], num_frames=[], frame_sizes=[], boxes=[], labels=[],
                videos=[])
    opened = {}
    for (video, timestamp), (boxes, labels) in sorted(by_key.items()):
        if not boxes:  # excluded, or no action of the classes: not a background frame
            continue
        if video not in opened:
            path = find_video(video_root, video, extension)
            with open_video(path) as reader:
                rate = fps or (reader.fps if isinstance(reader, VideoReader) else 30.0)
                height, width = reader.get([0]).shape[1:3]
                opened[video] = path, reader.num_frames, rate, (height, width)
        path, length, rate, (height, width) = opened[video]
        key = int(round((timestamp - start_seconds) * rate))
        if not 0 <= key < length:
            raise ValueError(f"{video}: timestamp {timestamp} is frame {key} at {rate:g} fps "
                             f"from second {start_seconds}, outside its {length} frames (is "
                             "start_seconds right?)")
        scale = np.array([width, height, width, height], np.float32)
        rows["paths"].append(path)
        rows["key_frames"].append(key)
        rows["num_frames"].append(length)
        rows["frame_sizes"].append((height, width))
        rows["boxes"].append(np.array(boxes, np.float32).reshape(-1, 4) * scale)
        rows["labels"].append(np.array(labels, np.int64))
        rows["videos"].append(video)
    if not rows["paths"]:
        raise ValueError("the AVA rows leave no key frames: all excluded, or none of "
                         "label_map's actions")
    return DetectionSamples(class_names=names, **rows).validate()


def clip_indices(key_frames, num_frames, clip_frames, stride=1, edge="pad"):
    """`(samples, clip_frames)` frame numbers: `clip_frames` frames every `stride` with the key
    frame at position `clip_frames // 2`; frames outside `[0, num_frames)` follow `edge`."""
    if edge not in EDGE_POLICIES:
        raise ValueError(f"edge must be one of {EDGE_POLICIES}, got {edge!r}")
    if int(clip_frames) < 1 or int(stride) < 1:
        raise ValueError(f"clip_frames and stride must be >= 1, got {clip_frames}, {stride}")
    key_frames = np.asarray(key_frames, np.int64)[:, None]
    length = np.asarray(num_frames, np.int64)[:, None]
    offsets = stride * (np.arange(clip_frames) - clip_frames // 2)
    indices = key_frames + offsets[None]
    outside = (indices < 0) | (indices >= length)
    if edge == "error" and outside.any():
        i = int(np.flatnonzero(outside.any(axis=1))[0])
        raise ValueError(f"sample {i}: the clip around key frame {key_frames[i, 0]} needs "
                         f"frames {indices[i, 0]}..{indices[i, -1]}, the video has "
                         f"{length[i, 0]} (edge='pad' or 'loop' to allow it)")
    if edge == "loop":
        return indices % length
    return np.clip(indices, 0, length - 1)


class FrameFolder:
    """A folder of frame images (JHMDB's and UCF101-24's distribution) read like a
    `VideoReader`: `num_frames`, `get(indices)`; files in name order."""

    def __init__(self, path, short_side=None):
        self.path, self.short_side = os.fspath(path), short_side
        self.files = sorted(f for f in os.listdir(self.path)
                            if f.lower().endswith(IMAGE_EXTENSIONS))
        if not self.files:
            raise VideoDecodeError(path, f"no frame images ({', '.join(IMAGE_EXTENSIONS)})")
        self.num_frames = len(self.files)

    def get(self, indices):
        from PIL import Image

        frames = {}
        for i in np.unique(indices):
            try:
                with Image.open(os.path.join(self.path, self.files[i])) as image:
                    image = image.convert("RGB")
                    if self.short_side:
                        scale = self.short_side / min(image.size)
                        image = image.resize((max(1, round(image.width * scale)),
                                              max(1, round(image.height * scale))),
                                             Image.BOX)
                    frames[i] = np.asarray(image)
            except OSError as error:
                raise VideoDecodeError(self.path, f"cannot read {self.files[i]}: {error}") \
                    from None
        return np.stack([frames[i] for i in indices])

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def open_video(path, short_side=None):
    if os.path.isdir(path):
        return FrameFolder(path, short_side)
    return VideoReader(path, short_side=short_side)


class ClipLoader:
    """uint8 clips `(T, H, W, 3)` of the samples' frame numbers `indices` `(samples, T)`.

    With `cache`, each video is decoded whole once, on its first sample, and kept in memory;
    later clips of it are cut from memory (thread-safe: tf.data loads in parallel). Without,
    each clip decodes only its own frames."""

    def __init__(self, samples, indices, short_side=None, cache=False):
        self.samples, self.indices, self.short_side = samples, indices, short_side
        self.cache = {} if cache else None
        self._lock = threading.Lock()

    def _check_length(self, reader, i):
        if reader.num_frames < self.samples.num_frames[i]:
            raise VideoDecodeError(self.samples.paths[i], f"the ground truth says "
                                   f"{self.samples.num_frames[i]} frames, the video has "
                                   f"{reader.num_frames}")

    def __call__(self, i):
        path = self.samples.paths[i]
        if self.cache is None:
            with open_video(path, self.short_side) as reader:
                self._check_length(reader, i)
                return reader.get(self.indices[i])
        with self._lock:
            frames = self.cache.get(path)
        if frames is None:
            with open_video(path, self.short_side) as reader:
                self._check_length(reader, i)
                frames = reader.get(np.arange(self.samples.num_frames[i]))
            with self._lock:
                self.cache[path] = frames
        return frames[self.indices[i]]


def padded_targets(samples, max_boxes, multi_label=False, proposals=False):
    """Normalised boxes `(S, max_boxes, 4)`, labels `(S, max_boxes)` int32 (-1 padding) or
    `(S, max_boxes, classes)` multi-hot, masks `(S, max_boxes)`, and with `proposals` the
    normalised proposals `(S, max_boxes, 4)`: the samples' own, or where they have none the
    ground-truth boxes (AVA practice trains the head on ground-truth person boxes)."""
    count, classes = len(samples), len(samples.class_names)
    boxes = np.zeros((count, max_boxes, 4), np.float32)
    mask = np.zeros((count, max_boxes), np.float32)
    labels = np.zeros((count, max_boxes, classes), np.float32) if multi_label else \
        np.full((count, max_boxes), -1, np.int32)
    extra = np.zeros((count, max_boxes, 4), np.float32) if proposals else None
    for i in range(count):
        height, width = samples.frame_sizes[i]
        scale = np.array([width, height, width, height], np.float32)
        rows, row_labels = samples.boxes[i], samples.labels[i]
        if multi_label:  # one row per distinct box, its actions as a multi-hot vector
            rows, inverse = np.unique(rows, axis=0, return_inverse=True)
            hot = np.zeros((len(rows), classes), np.float32)
            hot[inverse.reshape(-1), row_labels] = 1.0
            row_labels = hot
        if len(rows) > max_boxes:
            raise ValueError(f"{samples.videos[i]} frame {samples.key_frames[i] + 1} has "
                             f"{len(rows)} boxes, more than max_boxes={max_boxes}")
        boxes[i, :len(rows)] = rows / scale
        mask[i, :len(rows)] = 1.0
        labels[i, :len(rows)] = row_labels
        if proposals and samples.proposals is None:
            extra[i] = boxes[i]
        elif proposals:
            given = samples.proposals[i]
            if len(given) > max_boxes:
                raise ValueError(f"{samples.videos[i]} frame {samples.key_frames[i] + 1} has "
                                 f"{len(given)} proposals, more than max_boxes={max_boxes}")
            extra[i, :len(given)] = given / scale
    return boxes, labels, mask, extra


# --- box-aware augmentation (TensorFlow ops, one geometry per clip) ---------------------------

def crop_boxes(boxes, mask, window, min_visible=0.25):
    """Boxes (normalised to the frame) in the coordinates of the crop `window` `(x1, y1, x2,
    y2)` (normalised to the frame), clipped to it; a box keeps its mask where at least
    `min_visible` of its area stays inside. Returns `(boxes, mask)`; dropped rows are zeros."""
    x1, y1, x2, y2 = tf.unstack(window)
    low, high = tf.stack([x1, y1, x1, y1]), tf.stack([x2, y2, x2, y2])
    inside = tf.clip_by_value(boxes, low, high)
    area = lambda b: (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])  # noqa: E731
    visible = area(inside) / tf.maximum(area(boxes), 1e-12)
    keep = tf.cast((visible >= min_visible) & (area(inside) > 0), mask.dtype) * mask
    scale = tf.stack([x2 - x1, y2 - y1, x2 - x1, y2 - y1])
    moved = (inside - tf.stack([x1, y1, x1, y1])) / scale
    return moved * keep[:, None], keep


def flip_boxes(boxes, mask):
    """Boxes of the left-right mirrored frame (`x -> 1 - x`); padding rows stay zeros."""
    flipped = tf.stack([1.0 - boxes[:, 2], boxes[:, 1], 1.0 - boxes[:, 0], boxes[:, 3]], axis=1)
    return flipped * mask[:, None]


def random_crop_window(height, width, scale, seed):
    """A crop of a fraction `s ~ U(scale)` of each side at a uniform position, in whole
    pixels: `(top, left, crop height, crop width)` and its normalised `(x1, y1, x2, y2)`."""
    seeds = tf.random.experimental.stateless_split(seed, 3)
    s = tf.random.stateless_uniform([], seeds[0], scale[0], scale[1])
    h_f, w_f = tf.cast(height, tf.float32), tf.cast(width, tf.float32)
    crop_h = tf.clip_by_value(tf.cast(tf.round(s * h_f), tf.int32), 1, height)
    crop_w = tf.clip_by_value(tf.cast(tf.round(s * w_f), tf.int32), 1, width)
    top = tf.random.stateless_uniform([], seeds[1], 0, height - crop_h + 1, dtype=tf.int32)
    left = tf.random.stateless_uniform([], seeds[2], 0, width - crop_w + 1, dtype=tf.int32)
    window = tf.stack([tf.cast(left, tf.float32) / w_f, tf.cast(top, tf.float32) / h_f,
                       tf.cast(left + crop_w, tf.float32) / w_f,
                       tf.cast(top + crop_h, tf.float32) / h_f])
    return top, left, crop_h, crop_w, window


def augment(clip, boxes, mask, size, seed, scale=(0.6, 1.0), flip=True, min_visible=0.25,
            proposals=None):
    """Training geometry for one clip `(T, H, W, 3)` and its normalised boxes: a random crop
    (`random_crop_window`), resize to `size x size`, a horizontal flip with probability 0.5
    (`flip`). `proposals` (normalised boxes, all rows kept) move the same way. Returns the
    float32 clip, boxes, mask (and proposals)."""
    seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), 2)
    shape = tf.shape(clip)
    top, left, crop_h, crop_w, window = random_crop_window(shape[1], shape[2], scale, seeds[0])
    clip = clip[:, top:top + crop_h, left:left + crop_w]
    clip = tf.image.resize(clip, (size, size), antialias=True)
    boxes, mask = crop_boxes(boxes, mask, window, min_visible)
    if proposals is not None:
        proposal_mask = tf.cast(proposals[:, 2] > proposals[:, 0], tf.float32)
        proposals, _ = crop_boxes(proposals, proposal_mask, window, min_visible=0.0)
    if flip:
        mirror = tf.random.stateless_uniform([], seeds[1]) < 0.5
        clip = tf.cond(mirror, lambda: tf.reverse(clip, axis=[2]), lambda: clip)
        boxes = tf.cond(mirror, lambda: flip_boxes(boxes, mask), lambda: boxes)
        if proposals is not None:
            valid = tf.cast(proposals[:, 2] > proposals[:, 0], tf.float32)
            proposals = tf.cond(mirror, lambda: flip_boxes(proposals, valid), lambda: proposals)
    clip = tf.ensure_shape(clip, [None, size, size, 3])
    return (clip, boxes, mask) if proposals is None else (clip, boxes, mask, proposals)


def detection_dataset(samples, *, num_frames=16, stride=1, size=224, training=False,
                      max_boxes=8, multi_label=False, batch_size=8, scale=(0.6, 1.0),
                      flip=True, min_visible=0.25, edge="pad", shuffle=None, repeat=False,
                      seed=None, cache=False, decode_short_side=None, with_proposals=False,
                      with_ids=False, drop_remainder=False, strict=False, error_log=None,
                      num_parallel_calls=AUTOTUNE, deterministic=None, dtype="float32"):
    """A `tf.data.Dataset` of `(x, y)` batches for `ActionDetector.fit` / `predict`.

    `x` is the clip `(B, num_frames, size, size, 3)` in [0, 255] (with `with_proposals`, a dict
    `{"video", "boxes"}` of the clip and the samples' normalised proposals, or their
    ground-truth boxes where they have none; see `padded_targets`); `y` is
    `{"boxes" (B, max_boxes, 4), "labels", "box_mask" (B, max_boxes)}`. `with_ids` adds each
    sample's row in `samples` as a third element (`predict` on detections to evaluate).
    `training` augments (`augment`: `scale`, `flip`, `min_visible`) and shuffles by default.
    `cache=True` decodes each video whole once and cuts later clips from memory (worth it where
    videos are short and read many times, as over many epochs); `decode_short_side` resizes
    while decoding (default: no resize)."""
    if not len(samples):
        raise ValueError("no samples")
    if not 0 < scale[0] <= scale[1] <= 1:
        raise ValueError(f"scale must satisfy 0 < scale[0] <= scale[1] <= 1, got {scale}")
    error_log = DECODE_ERRORS if error_log is None else error_log
    indices = clip_indices(samples.key_frames, samples.num_frames, num_frames, stride, edge)
    boxes, labels, masks, proposals = padded_targets(samples, max_boxes, multi_label,
                                                     with_proposals)
    loader = ClipLoader(samples, indices, decode_short_side, cache)

    def load(index):
        try:
            return loader(int(index)), True
        except VideoDecodeError as error:
            if strict:
                raise
            error_log.record(samples.paths[int(index)], error.reason)
            return np.zeros((num_frames, 1, 1, 3), np.uint8), False

    def load_op(index):
        clip, ok = tf.numpy_function(load, [index], [tf.uint8, tf.bool], stateful=True)
        clip.set_shape([num_frames, None, None, 3])
        ok.set_shape([])
        return index, clip, ok

    tables = [tf.constant(boxes), tf.constant(labels), tf.constant(masks)]
    if with_proposals:
        tables.append(tf.constant(proposals))

    def transform(index, clip, draw):
        rows = [tf.gather(table, index) for table in tables]
        box, label, mask = rows[:3]
        extra = rows[3] if with_proposals else None
        if training:
            out = augment(clip, box, mask, size, draw, scale, flip, min_visible, extra)
            clip, box, mask = out[:3]
            extra = out[3] if with_proposals else None
            label = label * tf.cast(mask, label.dtype)[..., None] if multi_label else \
                tf.where(mask > 0, label, -1)
        else:
            clip = tf.image.resize(clip, (size, size), antialias=True)
            clip = tf.ensure_shape(clip, [num_frames, size, size, 3])
        x = tf.cast(clip, dtype) if not with_proposals else \
            {"video": tf.cast(clip, dtype), "boxes": extra}
        y = {"boxes": box, "labels": label, "box_mask": mask}
        return (x, y, tf.cast(index, tf.int32)) if with_ids else (x, y)

    shuffle = training if shuffle is None else shuffle
    rows = tf.data.Dataset.range(len(samples))
    if shuffle:
        rows = rows.shuffle(len(samples), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        rows = rows.repeat()
    dataset = rows.map(load_op, num_parallel_calls=num_parallel_calls,
                       deterministic=deterministic)
    dataset = dataset.filter(lambda index, clip, ok: ok)
    draws = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
    dataset = tf.data.Dataset.zip(dataset, draws).map(
        lambda element, draw: transform(element[0], element[1], draw),
        num_parallel_calls=num_parallel_calls, deterministic=deterministic)
    return dataset.batch(batch_size, drop_remainder=drop_remainder).prefetch(AUTOTUNE)
