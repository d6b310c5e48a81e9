"""The annotation formats of the public video datasets, read into one `VideoList`.

Every dataset ships its labels differently (a folder per class, Kinetics CSVs, UCF-101 and
HMDB-51 split lists, Something-Something JSON); the dataset builders only ever see a
`VideoList`, so supporting a new dataset is a parser here and nothing else. Pure Python: no
TensorFlow, so the lists can be built, filtered and inspected anywhere (Beam workers, CLIs).

Video folders are listed once per folder rather than probed with one `stat` per row: Kinetics
and Something-Something have hundreds of thousands of rows, often on network file systems.
"""
import csv
import dataclasses
import json
import logging
import os
import re

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mkv", ".webm", ".mov", ".mpg", ".mpeg", ".m4v", ".flv",
                    ".wmv")
MISSING_SHOWN = 5  # missing videos quoted in an error or log line

_LOG = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class VideoList:
    """Videos with their class indices: what every dataset builder consumes.

    `labels[i]` is an index into `class_names`, or -1 where the split has no labels (test
    sets). `video_ids` are stable per-video names (file stem, YouTube id, SSv2 id) for
    reports and multi-view averaging, which survive re-ordering and subsetting.
    """
    paths: tuple
    labels: tuple
    class_names: tuple
    video_ids: tuple

    def __post_init__(self):
        for field in ("paths", "labels", "class_names", "video_ids"):
            object.__setattr__(self, field, tuple(getattr(self, field)))
        object.__setattr__(self, "paths", tuple(os.fspath(p) for p in self.paths))
        object.__setattr__(self, "labels", tuple(int(label) for label in self.labels))
        object.__setattr__(self, "video_ids", tuple(str(v) for v in self.video_ids))
        sizes = {len(self.paths), len(self.labels), len(self.video_ids)}
        if len(sizes) != 1:
            raise ValueError(f"paths, labels and video_ids differ in length: {len(self.paths)}, "
                             f"{len(self.labels)}, {len(self.video_ids)}")
        bad = [label for label in self.labels if not -1 <= label < len(self.class_names)]
        if bad:
            raise ValueError(f"label {bad[0]} is outside [-1, {len(self.class_names)}) "
                             f"for {len(self.class_names)} class names")

    def __len__(self):
        return len(self.paths)

    def subset(self, indices):
        """The rows at `indices` (in that order), with the same class names."""
        indices = [int(i) for i in indices]
        return VideoList(tuple(self.paths[i] for i in indices),
                         tuple(self.labels[i] for i in indices), self.class_names,
                         tuple(self.video_ids[i] for i in indices))


def _normalize_extensions(extensions):
    if isinstance(extensions, str):
        extensions = (extensions,)
    return tuple(e.lower() if e.startswith(".") else "." + e.lower() for e in extensions)


def _require_dir(path, what):
    if not os.path.isdir(path):
        raise FileNotFoundError(f"{what} {os.fspath(path)} does not exist or is not a folder")


def _require_file(path, what):
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{what} {os.fspath(path)} does not exist")


def from_directory(root, class_names=None, extensions=VIDEO_EXTENSIONS):
    """One sub-folder per class, like `keras.utils.image_dataset_from_directory`.

    Class names are the sorted sub-folder names unless given (give them to fix the order or
    to take only some classes). Videos are found recursively inside each class folder and
    sorted, so the list is the same on every machine; hidden folders are ignored.
    """
    root = os.fspath(root)
    _require_dir(root, "video folder")
    extensions = _normalize_extensions(extensions)
    if class_names is None:
        class_names = sorted(entry.name for entry in os.scandir(root)
                             if entry.is_dir() and not entry.name.startswith("."))
        if not class_names:
            raise FileNotFoundError(f"no class sub-folders in {root}: expected one folder of "
                                    "videos per class")
    else:
        class_names = [str(name) for name in class_names]
        absent = [name for name in class_names if not os.path.isdir(os.path.join(root, name))]
        if absent:
            raise FileNotFoundError(f"no folder in {root} for the given class name(s) "
                                    f"{', '.join(map(repr, absent))}")
    paths, labels, ids = [], [], []
    for label, name in enumerate(class_names):
        class_dir = os.path.join(root, name)
        found = []
        for folder, subfolders, files in os.walk(class_dir, followlinks=True):
            subfolders[:] = [d for d in subfolders if not d.startswith(".")]
            found += [os.path.join(folder, f) for f in files
                      if os.path.splitext(f)[1].lower() in extensions]
        found.sort(key=lambda p: os.path.relpath(p, class_dir).replace(os.sep, "/"))
        paths += found
        labels += [label] * len(found)
        ids += [os.path.splitext(os.path.basename(p))[0] for p in found]
    if not paths:
        raise FileNotFoundError(f"no video files in the class folders of {root} (looked for "
                                f"{', '.join(extensions)})")
    return VideoList(paths, labels, class_names, ids)


class _VideoIndex:
    """The video files of `root` and of its direct sub-folders, each folder listed once.

    `find(folder, stem)` -> path of `root/folder/stem.<video extension>` (folder "" is root
    itself), preferring the extension asked for, then the order of VIDEO_EXTENSIONS.
    """

    def __init__(self, root):
        self.root = os.fspath(root)
        self._folders = {}

    def _stems(self, folder):
        if folder not in self._folders:
            stems = {}
            directory = os.path.join(self.root, folder) if folder else self.root
            try:
                entries = list(os.scandir(directory))
            except (FileNotFoundError, NotADirectoryError):
                entries = []
            for entry in entries:
                stem, ext = os.path.splitext(entry.name)
                if ext.lower() in VIDEO_EXTENSIONS and entry.is_file():
                    stems.setdefault(stem, []).append(entry.name)
            for names in stems.values():
                names.sort(key=lambda n: VIDEO_EXTENSIONS.index(os.path.splitext(n)[1].lower()))
            self._folders[folder] = stems
        return self._folders[folder]

    def find(self, folder, stem, prefer=None):
        names = self._stems(folder).get(stem)
        if not names:
            return None
        name = next((n for n in names if prefer and n.endswith(prefer)), names[0])
        return os.path.join(self.root, folder, name) if folder else os.path.join(self.root, name)


def _check_missing(missing):
    if missing not in ("skip", "error"):
        raise ValueError(f'missing must be "skip" or "error", got {missing!r}')


def _collect(rows, index, missing, class_names, source):
    """`rows`: (candidates [(folder, stem, preferred extension)], label, video id, expected
    path for messages). Keeps the rows whose video exists under the first candidate found."""
    paths, labels, ids, absent = [], [], [], []
    for candidates, label, video_id, expected in rows:
        path = next((p for p in (index.find(*c) for c in candidates) if p), None)
        if path is None:
            absent.append(expected)
            continue
        paths.append(path)
        labels.append(label)
        ids.append(video_id)
    if absent:
        shown = ", ".join(absent[:MISSING_SHOWN]) + (", ..." if len(absent) > MISSING_SHOWN else "")
        summary = (f"{len(absent)} of {len(rows)} videos listed in {source} are missing under "
                   f"{index.root}")
        if missing == "error" or not paths:
            raise FileNotFoundError(f"{summary}: {shown}" + (
                ' (missing="skip" drops them)' if missing == "error" else ""))
        _LOG.warning("%s; skipped them (e.g. %s)", summary, shown)
    return VideoList(paths, labels, class_names, ids)


def _kinetics_label(text):
    # Some releases quote labels ("passing American football (in game)"); folders never do.
    return text.replace('"', "").strip()


def _class_lookup(class_names):
    """name -> index, also matching the underscore / space spelling of the same name."""
    lookup = {name: index for index, name in enumerate(class_names)}
    for index, name in enumerate(class_names):
        for spelling in (name.replace("_", " "), name.replace(" ", "_")):
            lookup.setdefault(spelling, index)
    return lookup


def from_kinetics_csv(csv_path, video_root, class_names=None, missing="skip"):
    """The official Kinetics-400/600/700 CSV (`label,youtube_id,time_start,time_end,split[,is_cc]`;
    test CSVs have no label: labels -1) with the videos the common downloaders write.

    A row's video is the first of, for each video extension:
    `{label}/{youtube_id}_{start:06d}_{end:06d}` (ActivityNet crawler; `test/` for unlabelled
    rows), the same directly in `video_root`, then `{label}/{youtube_id}` and `{youtube_id}`;
    label folders as written or with spaces as underscores. Class names default to the sorted
    labels of the CSV: pass the official list to keep indices stable across splits and
    partial downloads. Many videos are gone from YouTube: `missing="skip"` drops them with one
    warning, `missing="error"` raises.
    """
    _check_missing(missing)
    csv_path, video_root = os.fspath(csv_path), os.fspath(video_root)
    _require_file(csv_path, "Kinetics CSV")
    _require_dir(video_root, "video folder")
    with open(csv_path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f, skipinitialspace=True)
        fields = [name.strip() for name in reader.fieldnames or []]
        absent = {"youtube_id", "time_start", "time_end"} - set(fields)
        if absent:
            raise ValueError(f"{csv_path} is not a Kinetics CSV: no column(s) "
                             f"{', '.join(sorted(absent))} in its header {fields}")
        reader.fieldnames = fields
        records = [(reader.line_num, row) for row in reader if row.get("youtube_id")]
    labelled = "label" in fields
    if class_names is None:
        class_names = (sorted({_kinetics_label(r["label"]) for _, r in records})
                       if labelled else [])
    class_names = [str(name) for name in class_names]
    lookup = _class_lookup(class_names)
    rows = []
    for line, record in records:
        youtube_id = record["youtube_id"].strip()
        try:
            start, end = int(float(record["time_start"])), int(float(record["time_end"]))
        except (TypeError, ValueError):
            raise ValueError(f"{csv_path} line {line}: bad time_start / time_end "
                             f"{record['time_start']!r}, {record['time_end']!r}") from None
        clip = f"{youtube_id}_{start:06d}_{end:06d}"
        if labelled:
            text = _kinetics_label(record["label"])
            if text not in lookup:
                raise ValueError(f"{csv_path} line {line}: label {text!r} is not one of the "
                                 f"{len(class_names)} class names")
            label = lookup[text]
            folders = list(dict.fromkeys([text, text.replace(" ", "_")]))
        else:
            label, folders = -1, ["test"]
        candidates = ([(d, clip, None) for d in folders] + [("", clip, None)]
                      + [(d, youtube_id, None) for d in folders] + [("", youtube_id, None)])
        expected = os.path.join(video_root, folders[0], clip + ".mp4")
        rows.append((candidates, label, youtube_id, expected))
    return _collect(rows, _VideoIndex(video_root), missing, class_names, csv_path)


def _validate_split(split, subset):
    if split not in (1, 2, 3):
        raise ValueError(f"split must be 1, 2 or 3, got {split!r}")
    if subset not in ("train", "test"):
        raise ValueError(f'subset must be "train" or "test", got {subset!r}')


def _read_lines(path):
    """(line number, whitespace-split fields) of the non-empty lines (the official UCF-101
    lists end their lines with CRLF, HMDB-51's with a trailing space)."""
    with open(path, encoding="utf-8") as f:
        return [(number, line.split()) for number, line in enumerate(f, start=1) if line.strip()]


def from_ucf101_split(video_root, split_dir, split=1, subset="train", missing="error"):
    """UCF-101 from the official `ucfTrainTestlist` folder.

    `classInd.txt` numbers the classes from 1; `trainlist0{split}.txt` lines are
    `Class/v_Class_gXX_cYY.avi <class number>`, `testlist0{split}.txt` lines have no number,
    so the class comes from the folder name. Videos are `video_root/Class/<file>` or, for a
    flattened copy, `video_root/<file>`; a re-encoded copy with another video extension is
    found too.
    """
    _validate_split(split, subset)
    _check_missing(missing)
    video_root, split_dir = os.fspath(video_root), os.fspath(split_dir)
    _require_dir(split_dir, "UCF-101 split folder")
    _require_dir(video_root, "video folder")
    class_file = os.path.join(split_dir, "classInd.txt")
    list_file = os.path.join(split_dir, f"{subset}list{split:02d}.txt")
    _require_file(class_file, "UCF-101 class index")
    _require_file(list_file, "UCF-101 split list")
    numbered = {}
    for number, fields in _read_lines(class_file):
        if len(fields) != 2 or not fields[0].isdigit():
            raise ValueError(f"{class_file} line {number}: expected '<number> <class>', got "
                             f"{' '.join(fields)!r}")
        numbered[int(fields[0])] = fields[1]
    if sorted(numbered) != list(range(1, len(numbered) + 1)):
        raise ValueError(f"{class_file}: class numbers must run from 1 to {len(numbered)}")
    class_names = [numbered[i] for i in range(1, len(numbered) + 1)]
    by_folder = {name.lower(): i for i, name in enumerate(class_names)}
    rows = []
    for number, fields in _read_lines(list_file):
        relative = fields[0].replace("\\", "/")
        folder, name = os.path.split(relative)
        where = f"{list_file} line {number}"
        if len(fields) > 1:
            if not fields[1].isdigit() or not 1 <= int(fields[1]) <= len(class_names):
                raise ValueError(f"{where}: class number {fields[1]!r} is not in "
                                 f"1..{len(class_names)}")
            label = int(fields[1]) - 1
        elif folder.lower() in by_folder:
            label = by_folder[folder.lower()]
        else:
            raise ValueError(f"{where}: folder {folder!r} of {relative!r} is not a class of "
                             f"{class_file}")
        stem, ext = os.path.splitext(name)
        rows.append(([(folder, stem, ext), ("", stem, ext)], label, stem,
                     os.path.join(video_root, relative)))
    return _collect(rows, _VideoIndex(video_root), missing, class_names, list_file)


_HMDB_SPLIT_FILE = re.compile(r"^(?P<name>.+)_test_split(?P<split>\d+)\.txt$")
_HMDB_TAGS = {"train": "1", "test": "2"}


def from_hmdb51_split(video_root, split_dir, split=1, subset="train", missing="error"):
    """HMDB-51 from the official `testTrainMulti_7030_splits` folder.

    One file per class and split, `{class}_test_split{n}.txt`, lines `<video>.avi <tag>` with
    tag 1 = train, 2 = test, 0 = unused. Class names (which contain underscores, e.g.
    `brush_hair`) are the sorted file prefixes before `_test_split{n}.txt`. Videos are
    `video_root/{class}/{video}` or `video_root/{video}`.
    """
    _validate_split(split, subset)
    _check_missing(missing)
    video_root, split_dir = os.fspath(video_root), os.fspath(split_dir)
    _require_dir(split_dir, "HMDB-51 split folder")
    _require_dir(video_root, "video folder")
    files = {}
    for entry in os.scandir(split_dir):
        match = _HMDB_SPLIT_FILE.match(entry.name)
        if match and int(match["split"]) == split:
            files[match["name"]] = entry.path
    if not files:
        raise FileNotFoundError(f"no HMDB-51 split files *_test_split{split}.txt in {split_dir}")
    class_names = sorted(files)
    tag = _HMDB_TAGS[subset]
    rows = []
    for label, name in enumerate(class_names):
        for number, fields in _read_lines(files[name]):
            if len(fields) != 2 or fields[1] not in ("0", "1", "2"):
                raise ValueError(f"{files[name]} line {number}: expected '<video> <0|1|2>', got "
                                 f"{' '.join(fields)!r}")
            if fields[1] == tag:
                stem, ext = os.path.splitext(fields[0])
                rows.append(([(name, stem, ext), ("", stem, ext)], label, stem,
                             os.path.join(video_root, name, fields[0])))
    return _collect(rows, _VideoIndex(video_root), missing, class_names,
                    os.path.join(split_dir, f"*_test_split{split}.txt"))


def _load_json(path, what):
    _require_file(path, what)
    with open(path, encoding="utf-8") as f:
        try:
            return json.load(f)
        except json.JSONDecodeError as error:
            raise ValueError(f"{what} {path} is not valid JSON: {error}") from None


def from_something_something(video_root, labels_json, split_json, missing="error"):
    """Something-Something v2: `labels.json` maps each template to its index (a string);
    `train.json` / `validation.json` list `{"id", "label", "template", "placeholders"}`, whose
    class is the template with its brackets removed ("Holding [something] next to
    [something]" -> "Holding something next to something"), as in the official loaders;
    `test.json` lists only ids (labels -1). Videos are `{video_root}/{id}.webm` (or another
    video extension, e.g. a re-encoded .mp4).
    """
    _check_missing(missing)
    video_root, labels_json, split_json = map(os.fspath, (video_root, labels_json, split_json))
    _require_dir(video_root, "video folder")
    templates = _load_json(labels_json, "Something-Something labels file")
    if not isinstance(templates, dict):
        raise ValueError(f"{labels_json} must map templates to indices, got a "
                         f"{type(templates).__name__}")
    try:
        by_index = {int(index): name for name, index in templates.items()}
    except (TypeError, ValueError):
        raise ValueError(f"{labels_json}: indices must be integers (as strings)") from None
    if sorted(by_index) != list(range(len(templates))):
        raise ValueError(f"{labels_json}: indices must run from 0 to {len(templates) - 1} "
                         "without repeats")
    class_names = [by_index[i] for i in range(len(by_index))]
    items = _load_json(split_json, "Something-Something split file")
    if not isinstance(items, list):
        raise ValueError(f"{split_json} must be a list of videos, got a {type(items).__name__}")
    rows = []
    for position, item in enumerate(items):
        if not isinstance(item, dict) or "id" not in item:
            raise ValueError(f"{split_json} item {position} has no 'id': {item!r}")
        video_id = str(item["id"])
        if "template" in item:
            template = item["template"].replace("[", "").replace("]", "")
            if template not in templates:
                raise ValueError(f"{split_json} item {position} (id {video_id}): template "
                                 f"{template!r} is not in {labels_json}")
            label = int(templates[template])
        else:
            label = -1
        rows.append(([("", video_id, ".webm")], label, video_id,
                     os.path.join(video_root, video_id + ".webm")))
    return _collect(rows, _VideoIndex(video_root), missing, class_names, split_json)
