"""Ground truth of spatio-temporal action detection: the JHMDB-21 and UCF101-24 files the
community shares (`JHMDB-GT.pkl`, `UCF101v2-GT.pkl`, as ACT, MOC and MMAction2 read them), the
frames or videos they describe, and AVA's CSV files.

The pickles hold one dict:
- `labels`: the class names; a label index is a position in this list.
- `gttubes`: {video: {label index: [tube, ...]}}; a tube is an array (N, 5) of frame, x1, y1,
  x2, y2, one row per frame, frames numbered from 1.
- `nframes`: {video: number of frames}; `resolution`: {video: (height, width)}.
- `train_videos`, `test_videos`: one list of video names per split (JHMDB-21 has 3, UCF101-24
  one). A video name is a path below the frame root, e.g.
  `brush_hair/April_09_brush_hair_u_nm_np1_ba_goo_0`.

Boxes are continuous pixel coordinates: a box covers [x1, x2] x [y1, y2] of the picture
[0, width] x [0, height] and its area is (x2 - x1) (y2 - y1), with no "+1".

JHMDB-21 tubes span their whole video. UCF101-24 is temporally untrimmed: its tubes (Singh et
al.'s corrected annotations) start and end inside the video and a video may hold several,
overlapping in time. The community files have no tube with a gap (a missing frame between its
first and last); this reader accepts gaps, which the metrics treat as frames where that tube
has no box.

The files were written by Python 2, so their strings (and numpy's array bytes) are byte strings,
read here as latin1 as numpy's documentation prescribes. Unpickling can call any function a
file names: this reader resolves only numpy's array and scalar rebuild functions (and the
latin1 byte encoding Python 3 uses for bytes in old protocols), refusing anything else with
`UnsafeGroundTruthError` before it is called.

Validation, of files and of dicts given to the metrics alike: a video of a split without an
entry in `nframes`, `resolution` and `gttubes`, a tube of a video missing from `nframes`,
label indices outside `labels`, tubes that are not (N, 5) arrays of finite numbers, frames that
are not whole or not increasing, and boxes with x2 < x1 or y2 < y1 are errors. Two faults the
real annotation files are known to carry are repaired by default (`repair=True`), with one
warning that counts them: boxes reaching outside the picture are clipped to it, and rows whose
frame is outside 1..nframes, or whose box lies wholly outside the picture, are dropped (a tube
left without rows is dropped). `repair=False` raises on them instead.
"""
import codecs
import collections.abc
import csv
import dataclasses
import os
import pickle
import re
import warnings

import numpy as np

try:  # numpy >= 2 moved numpy.core to numpy._core; files name either
    from numpy._core import multiarray as _multiarray
except ImportError:  # pragma: no cover - numpy 1.x
    from numpy.core import multiarray as _multiarray

from keras_video.data.annotations import VIDEO_EXTENSIONS

FRAME_EXTENSIONS = (".jpg", ".png", ".jpeg")
_KEYS = ("labels", "gttubes", "nframes", "resolution", "train_videos", "test_videos")
_SHOWN = 5  # names quoted in an error


class UnsafeGroundTruthError(pickle.UnpicklingError):
    """The ground-truth pickle asks for a Python object other than arrays and containers."""


def _latin1_bytes(text, encoding="utf-8", errors="strict"):
    """`_codecs.encode`, which Python 3 pickles name for `bytes` at protocols 0 to 2, limited
    to the latin1 encoding those pickles use."""
    if not isinstance(text, str) or not isinstance(encoding, str) or \
            codecs.lookup(encoding).name != "iso8859-1":
        raise UnsafeGroundTruthError(f"refusing _codecs.encode({text!r:.40}, {encoding!r})")
    return text.encode("latin1", errors)


_ALLOWED = {
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): _latin1_bytes,
}
for _module in ("numpy.core.multiarray", "numpy._core.multiarray"):
    _ALLOWED[(_module, "_reconstruct")] = _multiarray._reconstruct
    _ALLOWED[(_module, "scalar")] = _multiarray.scalar


class _Unpickler(pickle.Unpickler):
    def __init__(self, file, source):
        super().__init__(file, encoding="latin1")
        self._source = source

    def find_class(self, module, name):
        if (module, name) not in _ALLOWED:
            raise UnsafeGroundTruthError(
                f"{self._source} asks for {module}.{name}; a ground-truth file holds only "
                "containers and numpy arrays, and nothing else is loaded so that reading it "
                "cannot run code")
        return _ALLOWED[(module, name)]


def _names(items):
    items = list(items)
    return ", ".join(map(repr, items[:_SHOWN])) + (", ..." if len(items) > _SHOWN else "")


def _whole(value, what):
    """`value` as an int when it is a whole number (Python or numpy, int or float)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a whole number, got {value!r}") from None
    if not number.is_integer():
        raise ValueError(f"{what} must be a whole number, got {value!r}")
    return int(number)


def _tube_list(tubes, where):
    if isinstance(tubes, (np.ndarray, str)) or not isinstance(tubes, collections.abc.Sequence):
        raise ValueError(f"{where}: expected a list of tubes, got {type(tubes).__name__}")
    return tubes


def _tube_array(tube, where):
    tube = np.array(tube, dtype=np.float64)
    if tube.ndim != 2 or tube.shape[1] != 5 or not len(tube):
        raise ValueError(f"{where}: a tube must be an array (N >= 1, 5) of frame, x1, y1, x2, "
                         f"y2, got shape {tube.shape}")
    if not np.isfinite(tube).all():
        raise ValueError(f"{where}: the tube holds NaN or infinite values")
    return tube


@dataclasses.dataclass(frozen=True, eq=False)
class GroundTruth:
    """Validated JHMDB-21 / UCF101-24 ground truth (see the module docstring for the layout).

    `tubes`: {video: {label index: tuple of float64 arrays (N, 5)}}; `num_frames`: {video: int};
    `resolution`: {video: (height, width)}; `train_videos` / `test_videos`: one tuple of video
    names per split. Build one with `read_ground_truth` or `GroundTruth.from_dict`; the metrics
    accept it or the community dict.
    """
    labels: tuple
    tubes: dict
    num_frames: dict
    resolution: dict
    train_videos: tuple
    test_videos: tuple

    def __post_init__(self):
        labels = tuple(self.labels)
        if not labels or not all(isinstance(name, str) for name in labels):
            raise ValueError(f"labels must be a non-empty list of class names, got {labels!r:.80}")
        if len(set(labels)) != len(labels):
            raise ValueError(f"labels repeat a class name: {labels}")
        num_frames = {v: _whole(n, f"nframes of {v!r}") for v, n in dict(self.num_frames).items()}
        bad = [v for v, n in num_frames.items() if n < 1]
        if bad:
            raise ValueError(f"nframes must be >= 1; not so for {_names(bad)}")
        resolution = {v: _resolution(v, r) for v, r in dict(self.resolution).items()}
        train, test = _splits(self.train_videos, "train_videos"), _splits(self.test_videos,
                                                                         "test_videos")
        if len(train) != len(test):
            raise ValueError(f"train_videos has {len(train)} splits but test_videos {len(test)}")
        tubes = {}
        for video, by_label in dict(self.tubes).items():
            if not isinstance(video, str):
                raise ValueError(f"gttubes: video names must be strings, got {video!r}")
            if video not in num_frames or video not in resolution:
                raise ValueError(f"gttubes names video {video!r}, which has no entry in "
                                 f"{'nframes' if video not in num_frames else 'resolution'}")
            if not isinstance(by_label, collections.abc.Mapping):
                raise ValueError(f"gttubes[{video!r}] must be a dict {{label index: [tubes]}}")
            tubes[video] = {}
            for label, video_tubes in by_label.items():
                label = _whole(label, f"a label index of video {video!r}")
                if not 0 <= label < len(labels):
                    raise ValueError(f"video {video!r}: label index {label} is outside the "
                                     f"{len(labels)} labels (0..{len(labels) - 1})")
                checked = tuple(_checked_tube(tube, f"video {video!r}, label {label}, tube {i}",
                                              num_frames[video], resolution[video])
                                for i, tube in enumerate(_tube_list(
                                    video_tubes, f"video {video!r}, label {label}")))
                if checked:
                    tubes[video][label] = checked
        for name, splits in (("train_videos", train), ("test_videos", test)):
            for split, videos in enumerate(splits):
                for field, table in (("nframes", num_frames), ("resolution", resolution),
                                     ("gttubes", tubes)):
                    absent = [v for v in videos if v not in table]
                    if absent:
                        raise ValueError(f"{name}[{split}] names {len(absent)} video(s) without "
                                         f"an entry in {field}: {_names(absent)}")
        for field, value in (("labels", labels), ("tubes", tubes), ("num_frames", num_frames),
                             ("resolution", resolution), ("train_videos", train),
                             ("test_videos", test)):
            object.__setattr__(self, field, value)

    @classmethod
    def from_dict(cls, data, repair=True, source="ground truth"):
        """The community dict (`labels`, `gttubes`, `nframes`, `resolution`, `train_videos`,
        `test_videos`), validated; `repair` as in the module docstring."""
        if not isinstance(data, collections.abc.Mapping):
            raise ValueError(f"{source} must be a dict with keys {', '.join(_KEYS)}, got "
                             f"{type(data).__name__}")
        absent = [key for key in _KEYS if key not in data]
        if absent:
            raise ValueError(f"{source} lacks the key(s) {', '.join(absent)} (a JHMDB / "
                             f"UCF101-24 ground truth has {', '.join(_KEYS)})")
        tubes = data["gttubes"]
        if not isinstance(tubes, collections.abc.Mapping):
            raise ValueError(f"{source}: gttubes must be a dict {{video: {{label: [tubes]}}}}")
        try:
            if repair:
                tubes = _repaired(tubes, data["nframes"], data["resolution"], source)
            return cls(labels=data["labels"], tubes=tubes, num_frames=data["nframes"],
                       resolution=data["resolution"], train_videos=data["train_videos"],
                       test_videos=data["test_videos"])
        except ValueError as error:
            raise ValueError(f"{source}: {error}") from None

    def to_dict(self):
        """The community layout, as `write_ground_truth` saves it."""
        return {
            "labels": list(self.labels),
            "gttubes": {v: {label: list(tubes) for label, tubes in by_label.items()}
                        for v, by_label in self.tubes.items()},
            "nframes": dict(self.num_frames),
            "resolution": dict(self.resolution),
            "train_videos": [list(videos) for videos in self.train_videos],
            "test_videos": [list(videos) for videos in self.test_videos],
        }

    @property
    def num_splits(self):
        return len(self.test_videos)

    def videos(self, split=0, subset="test"):
        """The video names of `subset` ("train" or "test") of `split` (0-based)."""
        if subset not in ("train", "test"):
            raise ValueError(f'subset must be "train" or "test", got {subset!r}')
        if isinstance(split, bool) or not isinstance(split, (int, np.integer)) or \
                not 0 <= split < self.num_splits:
            raise ValueError(f"split must be an index 0..{self.num_splits - 1} (the ground "
                             f"truth has {self.num_splits} split(s)), got {split!r}")
        return (self.train_videos if subset == "train" else self.test_videos)[split]


def _resolution(video, value):
    try:
        height, width = value
    except (TypeError, ValueError):
        raise ValueError(f"resolution of {video!r} must be (height, width), got {value!r}") \
            from None
    height, width = _whole(height, f"the height of {video!r}"), _whole(width,
                                                                      f"the width of {video!r}")
    if height < 1 or width < 1:
        raise ValueError(f"resolution of {video!r} must be positive, got {value!r}")
    return height, width


def _splits(value, name):
    if isinstance(value, (str, bytes)) or not isinstance(value, collections.abc.Sequence) or \
            not value or not all(isinstance(videos, collections.abc.Sequence) and
                                 not isinstance(videos, str) for videos in value):
        raise ValueError(f"{name} must be a non-empty list with one list of video names per "
                         f"split, got {value!r:.80}")
    splits = tuple(tuple(videos) for videos in value)
    for split, videos in enumerate(splits):
        if not all(isinstance(v, str) for v in videos):
            raise ValueError(f"{name}[{split}] must hold video names (strings)")
    return splits


def _checked_tube(tube, where, num_frames, resolution):
    tube = _tube_array(tube, where)
    frames, (x1, y1, x2, y2) = tube[:, 0], tube[:, 1:].T
    height, width = resolution
    fractional = frames != np.round(frames)
    if fractional.any():
        raise ValueError(f"{where}: frame numbers must be whole, got {frames[fractional][0]}")
    if (np.diff(frames) <= 0).any():
        at = int(np.flatnonzero(np.diff(frames) <= 0)[0])
        raise ValueError(f"{where}: frames must increase, but frame {frames[at]:g} is followed "
                         f"by {frames[at + 1]:g}")
    inverted = (x2 < x1) | (y2 < y1)
    if inverted.any():
        row = tube[inverted][0]
        raise ValueError(f"{where}, frame {row[0]:g}: box {row[1:].tolist()} has x2 < x1 or "
                         "y2 < y1 (boxes are x1, y1, x2, y2)")
    outside = (frames < 1) | (frames > num_frames)
    if outside.any():
        raise ValueError(f"{where}: frame {frames[outside][0]:g} is outside 1..{num_frames} "
                         "(nframes); repair=True drops such rows")
    beyond = (x1 < 0) | (y1 < 0) | (x2 > width) | (y2 > height)
    if beyond.any():
        row = tube[beyond][0]
        raise ValueError(f"{where}, frame {row[0]:g}: box {row[1:].tolist()} reaches outside the "
                         f"{width}x{height} picture; repair=True clips it")
    return tube


def _repaired(tubes, num_frames, resolution, source):
    """`tubes` with boxes clipped to the picture and rows outside the video or picture dropped;
    warns once with the counts. Entries the repair cannot judge are left for validation."""
    clipped, dropped, example = 0, 0, None
    repaired = {}
    for video, by_label in tubes.items():
        try:
            frames_in_video = _whole(num_frames[video], "nframes")
            height, width = _resolution(video, resolution[video])
        except (KeyError, TypeError, ValueError):
            repaired[video] = by_label
            continue
        if frames_in_video < 1 or not isinstance(by_label, collections.abc.Mapping):
            repaired[video] = by_label
            continue
        repaired[video] = {}
        for label, video_tubes in by_label.items():
            kept = []
            for i, tube in enumerate(_tube_list(video_tubes, f"video {video!r}, label {label}")):
                tube = _tube_array(tube, f"video {video!r}, label {label}, tube {i}")
                frames = tube[:, 0]
                boxes = np.clip(tube[:, 1:], 0, [width, height, width, height])
                changed = (boxes != tube[:, 1:]).any(axis=1)
                valid = tube[:, 1:][:, 2:] >= tube[:, 1:][:, :2]
                empty = changed & valid.all(axis=1) & (
                    (boxes[:, 2] <= boxes[:, 0]) | (boxes[:, 3] <= boxes[:, 1]))
                keep = (frames >= 1) & (frames <= frames_in_video) & ~empty
                clipped += int((changed & keep).sum())
                dropped += int((~keep).sum())
                if example is None and (changed | ~keep).any():
                    row = tube[changed | ~keep][0]
                    example = f"video {video!r} frame {row[0]:g} box {row[1:].tolist()}"
                if keep.any():
                    kept.append(np.concatenate([frames[keep, None], boxes[keep]], axis=1))
            repaired[video][label] = kept
    if clipped or dropped:
        warnings.warn(f"{source}: clipped {clipped} box(es) reaching outside their picture and "
                      f"dropped {dropped} row(s) outside their video's frames or picture (e.g. "
                      f"{example}); repair=False raises instead", stacklevel=3)
    return repaired


def as_ground_truth(ground_truth):
    """A `GroundTruth` as it is, or the community dict validated (and repaired) into one."""
    if isinstance(ground_truth, GroundTruth):
        return ground_truth
    return GroundTruth.from_dict(ground_truth)


def read_ground_truth(path, repair=True):
    """The `GroundTruth` of a `JHMDB-GT.pkl` / `UCF101v2-GT.pkl` style pickle."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"ground-truth file {path} does not exist")
    with open(path, "rb") as f:
        try:
            data = _Unpickler(f, path).load()
        except UnsafeGroundTruthError:
            raise
        except Exception as error:  # a truncated or foreign file fails in many ways
            raise ValueError(f"{path} is not a readable ground-truth pickle: "
                             f"{type(error).__name__}: {error}") from None
    return GroundTruth.from_dict(data, repair=repair, source=path)


def write_ground_truth(path, ground_truth, protocol=2):
    """Saves `ground_truth` (a `GroundTruth` or the dict) in the community layout; protocol 2
    keeps the file readable by the Python 2 tools of ACT."""
    with open(os.fspath(path), "wb") as f:
        pickle.dump(as_ground_truth(ground_truth).to_dict(), f, protocol=protocol)


def frame_paths(root, video, num_frames):
    """The `num_frames` frame files of `video`: `root/video/00001.jpg` ... as the community
    ships JHMDB-21 (`Frames/`, png) and UCF101-24 (`rgb-images/`, jpg) frames."""
    folder = os.path.join(os.fspath(root), video)
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"video {video!r} has no frame folder: {folder} does not exist")
    names = set(os.listdir(folder))
    extension = next((e for e in FRAME_EXTENSIONS if f"{1:05d}{e}" in names), None)
    if extension is None:
        raise FileNotFoundError(f"video {video!r}: {folder} has no first frame 00001 "
                                f"({', '.join(FRAME_EXTENSIONS)})")
    wanted = [f"{i:05d}{extension}" for i in range(1, num_frames + 1)]
    absent = [name for name in wanted if name not in names]
    if absent:
        raise FileNotFoundError(f"video {video!r} has {num_frames} frames in the ground truth "
                                f"but {folder} lacks {len(absent)} of them: {_names(absent)}")
    return [os.path.join(folder, name) for name in wanted]


def video_path(root, video):
    """The video file of `video`: `root/video.<ext>` for the first of the usual extensions."""
    stem = os.path.join(os.fspath(root), video)
    for extension in VIDEO_EXTENSIONS:
        if os.path.isfile(stem + extension):
            return stem + extension
    raise FileNotFoundError(f"video {video!r} has no file {stem}.* (looked for "
                            f"{', '.join(VIDEO_EXTENSIONS)})")


# AVA: CSV rows `video_id, timestamp, x1, y1, x2, y2, action_id, person_id` (ground truth) or
# `..., action_id, score` (detections), boxes normalised to [0, 1], one row per person and action.

@dataclasses.dataclass(frozen=True, eq=False)
class AvaBoxes:
    """The rows of an AVA CSV: `video_ids` (str) and `timestamps` (int seconds) name the key
    frame, `boxes` (N, 4) its normalised x1, y1, x2, y2, `actions` the action ids as in the
    file; `scores` for detections, `person_ids` for ground truth (None when the file has no
    such column)."""
    video_ids: np.ndarray
    timestamps: np.ndarray
    boxes: np.ndarray
    actions: np.ndarray
    scores: np.ndarray = None
    person_ids: np.ndarray = None

    def __len__(self):
        return len(self.video_ids)


def read_ava_csv(path, detections=False):
    """An AVA ground-truth CSV, or with `detections=True` a detections CSV (8th column the
    score)."""
    path = os.fspath(path)
    video_ids, timestamps, boxes, actions, last = [], [], [], [], []
    with open(path, newline="", encoding="utf-8") as f:
        for number, row in enumerate(csv.reader(f), start=1):
            if not row or not "".join(row).strip():
                continue
            if len(row) not in ((8,) if detections else (7, 8)):
                raise ValueError(f"{path} line {number}: expected video_id, timestamp, x1, y1, "
                                 f"x2, y2, action_id, {'score' if detections else '[person_id]'}"
                                 f"; got {len(row)} columns")
            try:
                values = [float(v) for v in row[1:]]
            except ValueError:
                raise ValueError(f"{path} line {number}: non-numeric value in {row}") from None
            box = values[1:5]
            if not np.isfinite(values).all() or box[2] < box[0] or box[3] < box[1]:
                raise ValueError(f"{path} line {number}: box {box} must be finite x1, y1, x2, y2 "
                                 "with x1 <= x2 and y1 <= y2")
            if not detections and (min(box) < 0 or max(box) > 1):
                raise ValueError(f"{path} line {number}: box {box} is not normalised to [0, 1]")
            video_ids.append(row[0].strip())
            timestamps.append(_whole(values[0], f"{path} line {number}: the timestamp"))
            boxes.append(box)
            actions.append(_whole(values[5], f"{path} line {number}: the action id"))
            if len(row) == 8:
                last.append(values[6])
    if not video_ids:
        raise ValueError(f"{path} has no rows")
    extra = np.array(last, np.float64) if last else None
    if extra is not None and len(extra) != len(video_ids):
        raise ValueError(f"{path}: some rows have a person_id column and some not")
    return AvaBoxes(np.array(video_ids), np.array(timestamps, np.int64),
                    np.array(boxes, np.float64).reshape(-1, 4), np.array(actions, np.int64),
                    scores=extra if detections else None,
                    person_ids=None if detections or extra is None else extra.astype(np.int64))


def read_ava_label_map(path):
    """{action id: name} of an AVA label map (`ava_action_list_*.pbtxt`, `item { name: ...
    id: ... }`; ActivityNet's `label_id` spelling too)."""
    path = os.fspath(path)
    with open(path, encoding="utf-8") as f:
        text = f.read()
    label_map = {}
    for item in re.findall(r"item\s*\{(.*?)\}", text, re.DOTALL):
        name = re.search(r'\bname:\s*"([^"]*)"', item)
        number = re.search(r"\b(?:label_)?id:\s*(\d+)", item)
        if not name or not number:
            raise ValueError(f"{path}: an item lacks its name or id: {item.strip()!r}")
        label_map[int(number.group(1))] = name.group(1)
    if not label_map:
        raise ValueError(f"{path} holds no `item {{ name: ... id: ... }}` entries")
    return label_map


def read_ava_exclusions(path):
    """The (video_id, timestamp) key frames AVA leaves out of evaluation."""
    path = os.fspath(path)
    excluded = set()
    with open(path, newline="", encoding="utf-8") as f:
        for number, row in enumerate(csv.reader(f), start=1):
            if not row:
                continue
            if len(row) != 2:
                raise ValueError(f"{path} line {number}: expected video_id, timestamp")
            excluded.add((row[0].strip(), _whole(row[1], f"{path} line {number}: the timestamp")))
    return excluded
