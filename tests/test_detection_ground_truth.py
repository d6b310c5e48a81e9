"""Ground truth of action detection: the community JHMDB-21 / UCF101-24 pickles (written here in
their real layout, the JHMDB one byte for byte as Python 2 wrote it), validation and repair,
media paths, and AVA's CSV files."""
import copy
import os
import pickle
import struct

import numpy as np
import pytest

from keras_video import detection

try:
    from numpy._core import multiarray
except ImportError:  # numpy 1.x
    from numpy.core import multiarray

JHMDB_LABELS = ["brush_hair", "catch", "clap", "climb_stairs", "golf", "jump", "kick_ball",
                "pick", "pour", "pullup", "push", "run", "shoot_ball", "shoot_bow", "shoot_gun",
                "sit", "stand", "swing_baseball", "throw", "walk", "wave"]
UCF24_LABELS = ["Basketball", "BasketballDunk", "Biking", "CliffDiving", "CricketBowling",
                "Diving", "Fencing", "FloorGymnastics", "GolfSwing", "HorseRiding", "IceDancing",
                "LongJump", "PoleVault", "RopeClimbing", "SalsaSpin", "SkateBoarding", "Skiing",
                "Skijet", "SoccerJuggling", "Surfing", "TennisSwing", "TrampolineJumping",
                "VolleyballSpiking", "WalkingWithDog"]


def _moving_tube(first, last, x, y, w, h, dx=1.5, dtype=np.float32):
    frames = np.arange(first, last + 1)
    shift = (frames - first) * dx
    return np.stack([frames, x + shift, np.full_like(shift, y), x + w + shift,
                     np.full_like(shift, y + h)], axis=1).astype(dtype)


def jhmdb_dict():
    """JHMDB-21's layout: one tube per video spanning all its frames, 320x240, 3 splits."""
    videos = {"brush_hair/April_09_brush_hair_u_nm_np1_ba_goo_0": (0, 40),
              "brush_hair/Brush_Hair_Again_hair_h_cm_np1_fr_goo_1": (0, 33),
              "wave/Wave_and_Say_Hi_wave_u_cm_np1_fr_med_0": (20, 25),
              "wave/wave_and_smile_wave_h_nm_np1_fr_goo_2": (20, 15)}
    tubes = {v: {label: [_moving_tube(1, n, 60.25 + i, 30.5, 120.75, 180.0)]}
             for i, (v, (label, n)) in enumerate(videos.items())}
    names = list(videos)
    return {"labels": list(JHMDB_LABELS), "gttubes": tubes,
            "nframes": {v: n for v, (_, n) in videos.items()},
            "resolution": {v: (240, 320) for v in videos},
            "train_videos": [[names[0], names[2]], [names[1], names[3]], [names[0], names[3]]],
            "test_videos": [[names[1], names[3]], [names[0], names[2]], [names[1], names[2]]]}


def ucf24_dict():
    """UCF101-24's layout: tubes inside their (untrimmed) video, several per video, one split."""
    basket, dance, bike = ("Basketball/v_Basketball_g01_c01", "IceDancing/v_IceDancing_g02_c03",
                           "Biking/v_Biking_g05_c02")
    return {
        "labels": list(UCF24_LABELS),
        "gttubes": {basket: {0: [_moving_tube(20, 63, 100, 40, 50, 120, dtype=np.float64)]},
                    dance: {10: [_moving_tube(1, 90, 80, 50, 60, 150, -0.5),
                                 _moving_tube(12, 120, 180, 55, 55, 140, 0.25)]},
                    bike: {2: [_moving_tube(5, 60, 10, 100, 80, 90, 2.0)]}},
        "nframes": {basket: 141, dance: 120, bike: 75},
        "resolution": {basket: (240, 320), dance: (240, 320), bike: (240, 320)},
        "train_videos": [[bike]], "test_videos": [[basket, dance]],
    }


class _Python2Pickler(pickle._Pickler):
    """Writes what Python 2 wrote for these files: every string a byte string (SHORT_BINSTRING /
    BINSTRING, which Python 3 decodes with the encoding given to `pickle.load`), numpy's
    array bytes the same way, and numpy's pre-2.0 module names."""
    dispatch = dict(pickle._Pickler.dispatch)
    _GLOBALS = {id(np.ndarray): "numpy", id(np.dtype): "numpy",
                id(multiarray._reconstruct): "numpy.core.multiarray",
                id(multiarray.scalar): "numpy.core.multiarray"}

    def _save_byte_string(self, obj):
        data = obj.encode("latin1") if isinstance(obj, str) else obj
        if len(data) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(data)]) + data)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(data)) + data)
        self.memoize(obj)

    dispatch[str] = _save_byte_string
    dispatch[bytes] = _save_byte_string

    def save_global(self, obj, name=None):
        module = self._GLOBALS.get(id(obj))
        if module is None:
            return super().save_global(obj, name)
        self.write(pickle.GLOBAL + f"{module}\n{obj.__name__}\n".encode())
        self.memoize(obj)


def _python2_pickle(obj, path):
    with open(path, "wb") as f:
        _Python2Pickler(f, protocol=2).dump(obj)
    return path.read_bytes()


def _assert_same(gt, data):
    assert gt.labels == tuple(data["labels"])
    assert gt.num_frames == data["nframes"]
    assert gt.resolution == {v: tuple(r) for v, r in data["resolution"].items()}
    assert gt.train_videos == tuple(map(tuple, data["train_videos"]))
    assert gt.test_videos == tuple(map(tuple, data["test_videos"]))
    assert set(gt.tubes) == set(data["gttubes"])
    for video, by_label in data["gttubes"].items():
        assert set(gt.tubes[video]) == set(by_label)
        for label, tubes in by_label.items():
            assert len(gt.tubes[video][label]) == len(tubes)
            for mine, theirs in zip(gt.tubes[video][label], tubes):
                assert mine.dtype == np.float64
                np.testing.assert_array_equal(mine, theirs)


def test_reads_a_python2_jhmdb_pickle(tmp_path):
    data = jhmdb_dict()
    raw = _python2_pickle(data, tmp_path / "JHMDB-GT.pkl")
    assert b"numpy.core.multiarray\n_reconstruct" in raw and b"numpy._core" not in raw
    # The array bytes are byte strings: Python 3's default ASCII decoding cannot read them.
    with pytest.raises(UnicodeDecodeError):
        pickle.loads(raw)
    gt = detection.read_ground_truth(tmp_path / "JHMDB-GT.pkl")
    _assert_same(gt, data)
    assert gt.num_splits == 3
    assert gt.videos(2, "train") == tuple(data["train_videos"][2])
    first = gt.tubes["brush_hair/April_09_brush_hair_u_nm_np1_ba_goo_0"][0][0]
    assert first[0, 0] == 1 and first[-1, 0] == 40  # frames stay 1-based


def test_reads_a_python3_ucf101_24_pickle(tmp_path):
    data = ucf24_dict()
    path = tmp_path / "UCF101v2-GT.pkl"
    path.write_bytes(pickle.dumps(data, protocol=4))  # numpy 2's module names
    gt = detection.read_ground_truth(path)
    _assert_same(gt, data)
    assert gt.num_splits == 1
    assert len(gt.tubes["IceDancing/v_IceDancing_g02_c03"][10]) == 2
    with pytest.raises(ValueError, match=r"split must be an index 0..0 .*got 1"):
        gt.videos(1)


def test_write_then_read_is_the_same_ground_truth(tmp_path):
    # Protocol 2 from Python 3 stores bytes through _codecs.encode(text, "latin1").
    detection.write_ground_truth(tmp_path / "gt.pkl", ucf24_dict())
    assert b"_codecs" in (tmp_path / "gt.pkl").read_bytes()
    _assert_same(detection.read_ground_truth(tmp_path / "gt.pkl"), ucf24_dict())


class _Mkdir:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return os.mkdir, (self.path,)


class _Rot13:
    def __reduce__(self):
        import codecs
        return codecs.encode, ("text", "rot13")


def test_refuses_pickles_that_would_run_code(tmp_path):
    target = tmp_path / "made_by_the_pickle"
    data = jhmdb_dict()
    data["labels"][0] = _Mkdir(str(target))
    (tmp_path / "evil.pkl").write_bytes(pickle.dumps(data, protocol=2))
    with pytest.raises(detection.UnsafeGroundTruthError, match=r"asks for (posix|nt)\.mkdir"):
        detection.read_ground_truth(tmp_path / "evil.pkl")
    assert not target.exists()
    data["labels"][0] = _Rot13()
    (tmp_path / "codec.pkl").write_bytes(pickle.dumps(data, protocol=2))
    with pytest.raises(detection.UnsafeGroundTruthError, match="rot13"):
        detection.read_ground_truth(tmp_path / "codec.pkl")


def test_unreadable_and_absent_files(tmp_path):
    (tmp_path / "text.pkl").write_text("labels: []\n")
    with pytest.raises(ValueError, match="not a readable ground-truth pickle"):
        detection.read_ground_truth(tmp_path / "text.pkl")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        detection.read_ground_truth(tmp_path / "absent.pkl")
    (tmp_path / "list.pkl").write_bytes(pickle.dumps([1, 2]))
    with pytest.raises(ValueError, match="must be a dict"):
        detection.read_ground_truth(tmp_path / "list.pkl")


BASKET = "Basketball/v_Basketball_g01_c01"


def test_boxes_outside_the_picture_are_clipped_with_one_warning(tmp_path):
    data = ucf24_dict()
    tube = data["gttubes"][BASKET][0][0]
    tube[3, 3] = 321.5  # x2 past the 320-pixel width
    tube[4, 2] = -2.0  # y1 above the top
    (tmp_path / "gt.pkl").write_bytes(pickle.dumps(data))
    with pytest.warns(UserWarning, match=r"clipped 2 box\(es\).*dropped 0 row"):
        gt = detection.read_ground_truth(tmp_path / "gt.pkl")
    repaired = gt.tubes[BASKET][0][0]
    assert repaired[3, 3] == 320 and repaired[4, 2] == 0
    np.testing.assert_array_equal(np.delete(repaired, [3, 4], 0), np.delete(tube, [3, 4], 0))
    with pytest.raises(ValueError, match=r"frame 23: box .* reaches outside the 320x240 picture"):
        detection.read_ground_truth(tmp_path / "gt.pkl", repair=False)


def test_rows_outside_the_video_or_picture_are_dropped_with_one_warning():
    data = ucf24_dict()
    tube = data["gttubes"][BASKET][0][0]
    tube[:, 0] += 90  # frames 110..153 of a 141-frame video: the last 12 rows are beyond it
    tube[0, 1:] = [330, 10, 350, 50]  # wholly right of the picture
    with pytest.warns(UserWarning, match=r"clipped 0 box\(es\).*dropped 13 row"):
        gt = detection.GroundTruth.from_dict(data)
    np.testing.assert_array_equal(gt.tubes[BASKET][0][0], tube[1:32])
    with pytest.raises(ValueError, match=r"frame 142 is outside 1..141"):
        detection.GroundTruth.from_dict(data, repair=False)
    data["gttubes"][BASKET][0][0] = tube[-5:]  # nothing left of this tube: it goes
    with pytest.warns(UserWarning, match="dropped 5 row"):
        assert detection.GroundTruth.from_dict(data).tubes[BASKET] == {}


def _set(path, value):
    def change(data):
        target = data
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return change


def _delete(path):
    def change(data):
        target = data
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]
    return change


def _edit_tube(row, column, value):
    def change(data):
        data["gttubes"][BASKET][0][0][row, column] = value
    return change


DANCE = "IceDancing/v_IceDancing_g02_c03"
BAD_GROUND_TRUTH = {
    "x2 before x1": (_edit_tube(2, 3, 90.0), r"frame 22: box .* has x2 < x1"),
    "frames not increasing": (_edit_tube(2, 0, 21.0), "frame 21 is followed by 21"),
    "fractional frame": (_edit_tube(2, 0, 22.5), "frame numbers must be whole"),
    "NaN": (_edit_tube(0, 2, np.nan), "NaN or infinite"),
    "flat tube": (_set(("gttubes", BASKET, 0, 0), np.zeros((4, 4))), r"\(N >= 1, 5\)"),
    "a tube instead of a list": (_set(("gttubes", BASKET, 0), np.zeros((4, 5))),
                                 "expected a list of tubes, got ndarray"),
    "empty tube": (_set(("gttubes", BASKET, 0, 0), np.zeros((0, 5))), r"\(N >= 1, 5\)"),
    "label out of range": (_set(("gttubes", DANCE, 24), []), "label index 24 is outside the 24"),
    "test video without nframes": (_delete(("nframes", BASKET)),
                                   f"gttubes names video '{BASKET}', which has no entry in "
                                   "nframes"),
    "split video without resolution": (
        lambda d: (d["resolution"].pop(BASKET), d["gttubes"].pop(BASKET)),
        rf"test_videos\[0\] names 1 video\(s\) without an entry in resolution: '{BASKET}'"),
    "split video without tubes": (_delete(("gttubes", BASKET)),
                                  rf"test_videos\[0\] .* in gttubes: '{BASKET}'"),
    "unknown split video": (lambda d: d["train_videos"][0].append("Biking/v_Biking_g99_c01"),
                            r"train_videos\[0\] .* nframes: 'Biking/v_Biking_g99_c01'"),
    "missing key": (_delete(("resolution",)), "lacks the key"),
    "split counts differ": (lambda d: d["test_videos"].append([]), "1 splits but test_videos 2"),
    "repeated label": (_set(("labels", 1), "Basketball"), "repeat a class name"),
    "no frames": (_set(("nframes", BASKET), 0), "nframes must be >= 1"),
    "bad resolution": (_set(("resolution", BASKET), 240), r"must be \(height, width\)"),
    "video name not a string": (lambda d: d["test_videos"][0].append(7), "video names"),
}


@pytest.mark.parametrize("case", sorted(BAD_GROUND_TRUTH))
def test_bad_ground_truth_is_a_clear_error(case):
    change, message = BAD_GROUND_TRUTH[case]
    data = copy.deepcopy(ucf24_dict())
    change(data)
    with pytest.raises(ValueError, match=message):
        detection.GroundTruth.from_dict(data)


def test_gaps_inside_a_tube_are_accepted():
    data = ucf24_dict()
    data["gttubes"][BASKET][0][0] = np.delete(data["gttubes"][BASKET][0][0], [5, 6, 7], axis=0)
    gt = detection.GroundTruth.from_dict(data)
    assert len(gt.tubes[BASKET][0][0]) == 41


def test_metrics_take_the_dict_or_the_ground_truth():
    data = ucf24_dict()
    assert detection.as_ground_truth(data).labels == tuple(UCF24_LABELS)
    gt = detection.GroundTruth.from_dict(data)
    assert detection.as_ground_truth(gt) is gt
    assert set(detection.GroundTruth.from_dict(gt.to_dict()).tubes) == set(gt.tubes)


def test_frame_paths_and_video_paths(tmp_path):
    frames = tmp_path / "Frames" / "wave" / "clip_0"
    frames.mkdir(parents=True)
    for i in range(1, 6):
        (frames / f"{i:05d}.png").write_bytes(b"")
    paths = detection.frame_paths(tmp_path / "Frames", "wave/clip_0", 5)
    assert paths == [str(frames / f"{i:05d}.png") for i in range(1, 6)]
    with pytest.raises(FileNotFoundError, match=r"'wave/clip_0' has 7 frames .* lacks 2 of them: "
                                                r"'00006.png', '00007.png'"):
        detection.frame_paths(tmp_path / "Frames", "wave/clip_0", 7)
    with pytest.raises(FileNotFoundError, match="video 'wave/clip_1' has no frame folder"):
        detection.frame_paths(tmp_path / "Frames", "wave/clip_1", 5)
    (tmp_path / "Frames" / "jpg_clip").mkdir()
    (tmp_path / "Frames" / "jpg_clip" / "00001.jpg").write_bytes(b"")
    assert detection.frame_paths(tmp_path / "Frames", "jpg_clip", 1)[0].endswith("00001.jpg")
    (tmp_path / "videos" / "wave").mkdir(parents=True)
    (tmp_path / "videos" / "wave" / "clip_0.avi").write_bytes(b"")
    assert detection.video_path(tmp_path / "videos", "wave/clip_0") == str(
        tmp_path / "videos" / "wave" / "clip_0.avi")
    with pytest.raises(FileNotFoundError, match=r"video 'wave/clip_9' has no file .*clip_9\.\*"):
        detection.video_path(tmp_path / "videos", "wave/clip_9")


AVA_GT = """\
-5KQ66BBWC4,0902,0.077,0.151,0.283,0.811,80,1
-5KQ66BBWC4,0902,0.077,0.151,0.283,0.811,12,1
-5KQ66BBWC4,0903,0.332,0.194,0.481,0.891,17,0
"""
AVA_LABELS = """\
item {
  name: "bend/bow (at the waist)"
  id: 1
}
item {
  name: "stand"
  label_id: 12
  label_type: PERSON_MOVEMENT
}
"""


def test_ava_files(tmp_path):
    (tmp_path / "gt.csv").write_text(AVA_GT)
    gt = detection.read_ava_csv(tmp_path / "gt.csv")
    assert gt.video_ids.tolist() == ["-5KQ66BBWC4"] * 3
    assert gt.timestamps.tolist() == [902, 902, 903]
    assert gt.actions.tolist() == [80, 12, 17] and gt.person_ids.tolist() == [1, 1, 0]
    np.testing.assert_allclose(gt.boxes[2], [0.332, 0.194, 0.481, 0.891])
    assert gt.scores is None
    (tmp_path / "seven.csv").write_text("vid,0902,0.1,0.1,0.2,0.2,5\n")
    assert detection.read_ava_csv(tmp_path / "seven.csv").person_ids is None
    (tmp_path / "det.csv").write_text("vid,0902,0.1,0.1,0.2,0.2,5,0.75\n")
    assert detection.read_ava_csv(tmp_path / "det.csv", detections=True).scores.tolist() == [0.75]
    (tmp_path / "labels.pbtxt").write_text(AVA_LABELS)
    assert detection.read_ava_label_map(tmp_path / "labels.pbtxt") == {
        1: "bend/bow (at the waist)", 12: "stand"}
    (tmp_path / "excluded.csv").write_text("-5KQ66BBWC4,0902\nabc,1000\n")
    assert detection.read_ava_exclusions(tmp_path / "excluded.csv") == {
        ("-5KQ66BBWC4", 902), ("abc", 1000)}


@pytest.mark.parametrize("row, detections, message", [
    ("vid,0902,0.1,0.1,0.2,0.2,5", True, "got 7 columns"),
    ("vid,0902,0.3,0.1,0.2,0.2,5,1", False, "x1 <= x2"),
    ("vid,0902,0.1,0.1,1.2,0.2,5,1", False, r"not normalised to \[0, 1\]"),
    ("vid,0902,0.1,0.1,0.2,0.2,walk,1", False, "non-numeric"),
    ("vid,0902.5,0.1,0.1,0.2,0.2,5,1", False, "timestamp must be a whole number"),
])
def test_bad_ava_rows(tmp_path, row, detections, message):
    (tmp_path / "bad.csv").write_text(row + "\n")
    with pytest.raises(ValueError, match=message):
        detection.read_ava_csv(tmp_path / "bad.csv", detections=detections)
