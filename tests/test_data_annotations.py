"""The annotation parsers, on small copies of each dataset's official files (same names, same
line formats, CRLF / trailing spaces where the originals have them) and empty video files."""
import json
import logging
import os
import subprocess
import sys

import numpy as np
import pytest

from keras_video.data import annotations
from keras_video.data.annotations import VideoList

LOGGER = "keras_video.data.annotations"


def touch(root, *relative):
    for name in relative:
        path = os.path.join(root, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        open(path, "wb").close()


def write(path, text, newline="\n"):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(text.replace("\n", newline))
    return str(path)


def relative(video_list, root):
    return [os.path.relpath(p, root).replace(os.sep, "/") for p in video_list.paths]


# --- VideoList -------------------------------------------------------------------------------

def test_video_list_is_frozen_tuples_and_subsets_rows_in_order():
    videos = VideoList(["a.mp4", "b.mp4", "c.mp4"], [0, 1, -1], ["x", "y"], ["a", "b", "c"])
    assert len(videos) == 3
    assert isinstance(videos.paths, tuple) and isinstance(videos.class_names, tuple)
    picked = videos.subset([2, 0])
    assert picked == VideoList(("c.mp4", "a.mp4"), (-1, 0), ("x", "y"), ("c", "a"))
    assert len(videos.subset([])) == 0
    with pytest.raises(AttributeError):
        videos.paths = ()


def test_video_list_coerces_arrays_and_path_objects_to_plain_values(tmp_path):
    videos = VideoList([tmp_path / "a.mp4"], np.array([1]), ["x", "y"], np.array([7]))
    assert videos.paths == (str(tmp_path / "a.mp4"),) and type(videos.paths[0]) is str
    assert videos.labels == (1,) and type(videos.labels[0]) is int
    assert videos.video_ids == ("7",)


def test_video_list_rejects_ragged_fields_and_labels_out_of_range():
    with pytest.raises(ValueError, match="differ in length"):
        VideoList(["a.mp4"], [0, 0], ["x"], ["a"])
    with pytest.raises(ValueError, match="label 2 is outside"):
        VideoList(["a.mp4"], [2], ["x", "y"], ["a"])
    with pytest.raises(ValueError, match="label -2 is outside"):
        VideoList(["a.mp4"], [-2], ["x"], ["a"])


def test_the_module_does_not_import_tensorflow():
    path = annotations.__file__
    code = ("import importlib.util, sys\n"
            f"spec = importlib.util.spec_from_file_location('annotations', {path!r})\n"
            "spec.loader.exec_module(importlib.util.module_from_spec(spec))\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('tensorflow', 'keras', 'numpy')))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --- from_directory --------------------------------------------------------------------------

def test_directory_classes_are_sorted_folders_and_videos_found_recursively(tmp_path):
    touch(tmp_path, "walk/b.mp4", "walk/a.AVI", "walk/deep/er/c.webm", "walk/notes.txt",
          "run/z.mkv", "run/.hidden/x.mp4", ".ipynb_checkpoints/y.mp4", "jump/readme.md")
    touch(tmp_path, "stray.mp4")  # beside the class folders: not in any class
    videos = annotations.from_directory(tmp_path)
    assert videos.class_names == ("jump", "run", "walk")
    assert relative(videos, tmp_path) == ["run/z.mkv", "walk/a.AVI", "walk/b.mp4",
                                          "walk/deep/er/c.webm"]
    assert videos.labels == (1, 2, 2, 2)
    assert videos.video_ids == ("z", "a", "b", "c")


def test_directory_given_class_names_fix_order_and_select_classes(tmp_path):
    touch(tmp_path, "a/1.mp4", "b/2.mp4", "c/3.mp4")
    videos = annotations.from_directory(tmp_path, class_names=["c", "a"])
    assert videos.class_names == ("c", "a")
    assert relative(videos, tmp_path) == ["c/3.mp4", "a/1.mp4"]
    assert videos.labels == (0, 1)


def test_directory_extensions_are_matched_case_insensitively_with_or_without_dot(tmp_path):
    touch(tmp_path, "a/1.MP4", "a/2.avi", "a/3.gif")
    assert relative(annotations.from_directory(tmp_path, extensions=("mp4", ".GIF")),
                    tmp_path) == ["a/1.MP4", "a/3.gif"]


def test_directory_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        annotations.from_directory(tmp_path / "nowhere")
    touch(tmp_path, "loose.mp4")
    with pytest.raises(FileNotFoundError, match="no class sub-folders"):
        annotations.from_directory(tmp_path)
    touch(tmp_path, "a/notes.txt")
    with pytest.raises(FileNotFoundError, match=r"no video files .*looked for \.mp4, \.avi"):
        annotations.from_directory(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"looked for \.ogv\)"):
        annotations.from_directory(tmp_path, extensions=[".ogv"])
    with pytest.raises(FileNotFoundError, match="class name.*'b', 'c'"):
        annotations.from_directory(tmp_path, class_names=["a", "b", "c"])


# --- Kinetics --------------------------------------------------------------------------------

K400_HEADER = "label,youtube_id,time_start,time_end,split,is_cc\n"


def test_kinetics_finds_every_downloader_layout(tmp_path):
    csv_path = write(tmp_path / "kinetics400" / "validate.csv", K400_HEADER +
                     "abseiling,AAAAAAAAAAA,17,27,val,0\n"
                     "air drumming,BBBBBBBBBBB,0,10,val,0\n"
                     '"passing American football (in game)",CCCCCCCCCCC,5,15,val,1\n'
                     "air drumming,DDDDDDDDDDD,120,130,val,0\n"
                     "abseiling,EEEEEEEEEEE,3,13,val,0\n"
                     "abseiling,FFFFFFFFFFF,1,11,val,0\n")
    root = tmp_path / "videos"
    touch(root,
          "abseiling/AAAAAAAAAAA_000017_000027.mp4",             # ActivityNet crawler
          "air_drumming/BBBBBBBBBBB_000000_000010.mp4",          # label folder with underscores
          "passing American football (in game)/CCCCCCCCCCC.mkv",  # youtube id under the label
          "DDDDDDDDDDD_000120_000130.webm",                       # flat clip name
          "EEEEEEEEEEE.MP4")                                      # flat youtube id
    # FFFFFFFFFFF is gone from YouTube.
    videos = annotations.from_kinetics_csv(csv_path, root, missing="skip")
    assert videos.class_names == ("abseiling", "air drumming",
                                  "passing American football (in game)")
    assert relative(videos, root) == [
        "abseiling/AAAAAAAAAAA_000017_000027.mp4",
        "air_drumming/BBBBBBBBBBB_000000_000010.mp4",
        "passing American football (in game)/CCCCCCCCCCC.mkv",
        "DDDDDDDDDDD_000120_000130.webm",
        "EEEEEEEEEEE.MP4"]
    assert videos.labels == (0, 1, 2, 1, 0)
    assert videos.video_ids == ("AAAAAAAAAAA", "BBBBBBBBBBB", "CCCCCCCCCCC", "DDDDDDDDDDD",
                                "EEEEEEEEEEE")


def test_kinetics_prefers_the_trimmed_clip_in_the_label_folder(tmp_path):
    csv_path = write(tmp_path / "train.csv", K400_HEADER + "abseiling,AAAAAAAAAAA,17,27,train,0\n")
    touch(tmp_path / "v", "AAAAAAAAAAA.mp4", "abseiling/AAAAAAAAAAA.mp4",
          "abseiling/AAAAAAAAAAA_000017_000027.mp4", "abseiling/AAAAAAAAAAA_000017_000027.avi")
    videos = annotations.from_kinetics_csv(csv_path, tmp_path / "v")
    assert relative(videos, tmp_path / "v") == ["abseiling/AAAAAAAAAAA_000017_000027.mp4"]


def test_kinetics_skip_logs_one_summary_line_with_the_count(tmp_path, caplog):
    rows = "".join(f"abseiling,{k:011d},0,10,train,0\n" for k in range(8))
    csv_path = write(tmp_path / "train.csv", K400_HEADER + rows)
    touch(tmp_path / "v", "abseiling/00000000002_000000_000010.mp4")
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        videos = annotations.from_kinetics_csv(csv_path, tmp_path / "v")
    assert videos.video_ids == ("00000000002",)
    records = [r for r in caplog.records if r.name == LOGGER]
    assert len(records) == 1
    message = records[0].getMessage()
    assert "7 of 8 videos" in message and "train.csv" in message and "skipped" in message
    assert "00000000000_000000_000010" in message and "00000000007" not in message


def test_kinetics_missing_error_lists_the_first_few(tmp_path):
    rows = "".join(f"abseiling,{k:011d},0,10,train,0\n" for k in range(8))
    csv_path = write(tmp_path / "train.csv", K400_HEADER + rows)
    touch(tmp_path / "v", "abseiling/00000000002_000000_000010.mp4")
    with pytest.raises(FileNotFoundError) as error:
        annotations.from_kinetics_csv(csv_path, tmp_path / "v", missing="error")
    message = str(error.value)
    assert "7 of 8 videos" in message
    assert os.path.join("abseiling", "00000000000_000000_000010.mp4") in message
    assert "00000000005_000000_000010" in message and "00000000006" not in message
    assert ", ..." in message and 'missing="skip" drops them' in message
    with pytest.raises(ValueError, match='missing must be "skip" or "error"'):
        annotations.from_kinetics_csv(csv_path, tmp_path / "v", missing="ignore")


def test_kinetics_with_no_video_found_raises_even_when_skipping(tmp_path):
    csv_path = write(tmp_path / "train.csv", K400_HEADER + "abseiling,AAAAAAAAAAA,0,10,train,0\n")
    os.makedirs(tmp_path / "v")
    with pytest.raises(FileNotFoundError, match="1 of 1 videos"):
        annotations.from_kinetics_csv(csv_path, tmp_path / "v")


def test_kinetics_official_class_names_keep_indices_stable(tmp_path):
    # K600-style CSV (no is_cc); the user passes the full list, some classes absent here.
    csv_path = write(tmp_path / "val.csv", "label,youtube_id,time_start,time_end,split\n"
                     "zumba,AAAAAAAAAAA,0,10,val\nabseiling,BBBBBBBBBBB,0,10,val\n")
    touch(tmp_path / "v", "AAAAAAAAAAA.mp4", "BBBBBBBBBBB.mp4")
    names = ["abseiling", "acting_in_play", "zumba"]
    videos = annotations.from_kinetics_csv(csv_path, tmp_path / "v", class_names=names)
    assert videos.class_names == tuple(names) and videos.labels == (2, 0)
    csv_path = write(tmp_path / "val2.csv", "label,youtube_id,time_start,time_end,split\n"
                     "acting in play,AAAAAAAAAAA,0,10,val\n"
                     '"""zumba""",BBBBBBBBBBB,0,10,val\n')
    videos = annotations.from_kinetics_csv(csv_path, tmp_path / "v", class_names=names)
    assert videos.labels == (1, 2)  # the same class spelled with spaces; quotes dropped
    with pytest.raises(ValueError, match=r"line 2: label 'acting in play' is not one of the 2"):
        annotations.from_kinetics_csv(csv_path, tmp_path / "v", class_names=["abseiling", "zumba"])


def test_kinetics_test_csv_has_no_labels(tmp_path):
    csv_path = write(tmp_path / "test.csv", "youtube_id,time_start,time_end,split\n"
                     "--65_UAU7ao,0,10,test\n--6zxbYq5M4,39,49,test\n-0AFA2OVzn0,19,29,test\n")
    touch(tmp_path / "v", "test/--65_UAU7ao_000000_000010.mp4", "--6zxbYq5M4_000039_000049.mp4",
          "-0AFA2OVzn0.mp4")
    videos = annotations.from_kinetics_csv(csv_path, tmp_path / "v")
    assert relative(videos, tmp_path / "v") == ["test/--65_UAU7ao_000000_000010.mp4",
                                                "--6zxbYq5M4_000039_000049.mp4",
                                                "-0AFA2OVzn0.mp4"]
    assert videos.labels == (-1, -1, -1) and videos.class_names == ()
    videos = annotations.from_kinetics_csv(csv_path, tmp_path / "v", class_names=["a", "b"])
    assert videos.labels == (-1, -1, -1) and videos.class_names == ("a", "b")


def test_kinetics_format_errors(tmp_path):
    os.makedirs(tmp_path / "v")
    with pytest.raises(FileNotFoundError, match="Kinetics CSV .*nothing.csv does not exist"):
        annotations.from_kinetics_csv(tmp_path / "nothing.csv", tmp_path / "v")
    csv_path = write(tmp_path / "a.csv", "label,video,start\nabseiling,x,0\n")
    with pytest.raises(ValueError, match="not a Kinetics CSV: no column.*time_end, time_start, "
                                         "youtube_id"):
        annotations.from_kinetics_csv(csv_path, tmp_path / "v")
    csv_path = write(tmp_path / "b.csv", K400_HEADER + "abseiling,AAAAAAAAAAA,x,10,val,0\n")
    with pytest.raises(ValueError, match="b.csv line 2: bad time_start"):
        annotations.from_kinetics_csv(csv_path, tmp_path / "v")
    with pytest.raises(FileNotFoundError, match="video folder .*absent does not exist"):
        annotations.from_kinetics_csv(csv_path, tmp_path / "absent")


# --- UCF-101 ---------------------------------------------------------------------------------

def ucf101(tmp_path):
    """The official ucfTrainTestlist files (CRLF line ends) for three classes."""
    splits = tmp_path / "ucfTrainTestlist"
    write(splits / "classInd.txt", "1 ApplyEyeMakeup\n2 ApplyLipstick\n3 HandstandPushups\n",
          newline="\r\n")
    write(splits / "trainlist01.txt",
          "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1\n"
          "HandstandPushups/v_HandStandPushups_g08_c01.avi 3\n"
          "ApplyLipstick/v_ApplyLipstick_g08_c01.avi 2\n", newline="\r\n")
    write(splits / "testlist01.txt",
          "ApplyLipstick/v_ApplyLipstick_g01_c01.avi\n"
          "HandstandPushups/v_HandStandPushups_g01_c01.avi\n"
          "ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi\n", newline="\r\n")
    write(splits / "trainlist02.txt", "ApplyLipstick/v_ApplyLipstick_g01_c01.avi 2\n",
          newline="\r\n")
    return splits


UCF_VIDEOS = ["ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi",
              "HandstandPushups/v_HandStandPushups_g08_c01.avi",
              "ApplyLipstick/v_ApplyLipstick_g08_c01.avi",
              "ApplyLipstick/v_ApplyLipstick_g01_c01.avi",
              "HandstandPushups/v_HandStandPushups_g01_c01.avi",
              "ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi"]


def test_ucf101_train_and_test_subsets(tmp_path):
    splits = ucf101(tmp_path)
    root = tmp_path / "UCF-101"
    touch(root, *UCF_VIDEOS)
    train = annotations.from_ucf101_split(root, splits, split=1, subset="train")
    assert train.class_names == ("ApplyEyeMakeup", "ApplyLipstick", "HandstandPushups")
    assert relative(train, root) == UCF_VIDEOS[:3]
    assert train.labels == (0, 2, 1)
    assert train.video_ids == ("v_ApplyEyeMakeup_g08_c01", "v_HandStandPushups_g08_c01",
                               "v_ApplyLipstick_g08_c01")
    test = annotations.from_ucf101_split(root, splits, split=1, subset="test")
    assert relative(test, root) == UCF_VIDEOS[3:]
    assert test.labels == (1, 2, 0)  # from the folder names through classInd
    other = annotations.from_ucf101_split(root, splits, split=2)
    assert relative(other, root) == ["ApplyLipstick/v_ApplyLipstick_g01_c01.avi"]
    assert other.labels == (1,)


def test_ucf101_flat_video_folder(tmp_path):
    splits = ucf101(tmp_path)
    touch(tmp_path / "flat", *(os.path.basename(v) for v in UCF_VIDEOS))
    test = annotations.from_ucf101_split(tmp_path / "flat", splits, subset="test")
    assert relative(test, tmp_path / "flat") == [os.path.basename(v) for v in UCF_VIDEOS[3:]]
    assert test.labels == (1, 2, 0)


def test_ucf101_errors(tmp_path):
    splits = ucf101(tmp_path)
    root = tmp_path / "UCF-101"
    touch(root, *UCF_VIDEOS[1:])
    with pytest.raises(ValueError, match="split must be 1, 2 or 3, got 4"):
        annotations.from_ucf101_split(root, splits, split=4)
    with pytest.raises(ValueError, match='subset must be "train" or "test", got \'val\''):
        annotations.from_ucf101_split(root, splits, subset="val")
    with pytest.raises(FileNotFoundError, match="split list .*testlist02.txt does not exist"):
        annotations.from_ucf101_split(root, splits, split=2, subset="test")
    with pytest.raises(FileNotFoundError, match="1 of 3 videos listed in .*trainlist01.txt .*"
                                                "v_ApplyEyeMakeup_g08_c01.avi"):
        annotations.from_ucf101_split(root, splits)
    assert len(annotations.from_ucf101_split(root, splits, missing="skip")) == 2
    write(splits / "testlist03.txt", "Surfing/v_Surfing_g01_c01.avi\n")
    with pytest.raises(ValueError, match="testlist03.txt line 1: folder 'Surfing'"):
        annotations.from_ucf101_split(root, splits, split=3, subset="test")
    write(splits / "trainlist03.txt", "ApplyLipstick/v_ApplyLipstick_g01_c01.avi 9\n")
    with pytest.raises(ValueError, match="trainlist03.txt line 1: class number '9' is not in 1..3"):
        annotations.from_ucf101_split(root, splits, split=3)
    write(splits / "classInd.txt", "1 ApplyEyeMakeup\n3 ApplyLipstick\n")
    with pytest.raises(ValueError, match="class numbers must run from 1 to 2"):
        annotations.from_ucf101_split(root, splits)
    with pytest.raises(FileNotFoundError, match="UCF-101 split folder"):
        annotations.from_ucf101_split(root, tmp_path / "absent")


# --- HMDB-51 ---------------------------------------------------------------------------------

def hmdb51(tmp_path):
    """The official testTrainMulti_7030_splits files (trailing spaces) for three classes."""
    splits = tmp_path / "testTrainMulti_7030_splits"
    lines = {
        "brush_hair": ["April_09_brush_hair_u_nm_np1_ba_goo_0.avi 1",
                       "April_09_brush_hair_u_nm_np1_ba_goo_1.avi 2",
                       "Aussie_Brush_Hair_brush_hair_h_cm_np2_le_goo_0.avi 0"],
        "shoot_ball": ["3-Pointer_shoot_ball_f_cm_np1_ba_med_0.avi 2",
                       "AmazingSoccerTricks_shoot_ball_f_cm_np1_fr_med_3.avi 1"],
        "clap": ["#20_Rhythm_clap_u_nm_np1_fr_goo_0.avi 1"],
    }
    for name, rows in lines.items():
        write(splits / f"{name}_test_split1.txt", "".join(r + " \n" for r in rows))
        # Split 2 swaps train and test.
        swapped = [r[:-1] + {"1": "2", "2": "1", "0": "0"}[r[-1]] for r in rows]
        write(splits / f"{name}_test_split2.txt", "".join(r + " \n" for r in swapped))
    return splits, lines


def test_hmdb51_class_names_keep_their_underscores(tmp_path):
    splits, lines = hmdb51(tmp_path)
    root = tmp_path / "hmdb51"
    touch(root, *(f"{name}/{row.split()[0]}" for name, rows in lines.items() for row in rows))
    train = annotations.from_hmdb51_split(root, splits, split=1, subset="train")
    assert train.class_names == ("brush_hair", "clap", "shoot_ball")
    assert relative(train, root) == [
        "brush_hair/April_09_brush_hair_u_nm_np1_ba_goo_0.avi",
        "clap/#20_Rhythm_clap_u_nm_np1_fr_goo_0.avi",
        "shoot_ball/AmazingSoccerTricks_shoot_ball_f_cm_np1_fr_med_3.avi"]
    assert train.labels == (0, 1, 2)
    assert train.video_ids[0] == "April_09_brush_hair_u_nm_np1_ba_goo_0"
    test = annotations.from_hmdb51_split(root, splits, split=1, subset="test")
    assert relative(test, root) == ["brush_hair/April_09_brush_hair_u_nm_np1_ba_goo_1.avi",
                                    "shoot_ball/3-Pointer_shoot_ball_f_cm_np1_ba_med_0.avi"]
    assert test.labels == (0, 2)
    # Split 2 selects its own files; tag 0 (unused) is in neither subset.
    assert (annotations.from_hmdb51_split(root, splits, split=2, subset="train").paths
            == test.paths)
    every = set(train.paths) | set(test.paths)
    assert not any("Aussie" in p for p in every)


def test_hmdb51_flat_video_folder(tmp_path):
    splits, lines = hmdb51(tmp_path)
    touch(tmp_path / "flat", *(row.split()[0] for rows in lines.values() for row in rows))
    test = annotations.from_hmdb51_split(tmp_path / "flat", splits, subset="test")
    assert relative(test, tmp_path / "flat") == [
        "April_09_brush_hair_u_nm_np1_ba_goo_1.avi", "3-Pointer_shoot_ball_f_cm_np1_ba_med_0.avi"]
    assert test.labels == (0, 2)


def test_hmdb51_errors(tmp_path):
    splits, _ = hmdb51(tmp_path)
    root = tmp_path / "hmdb51"
    os.makedirs(root)
    with pytest.raises(FileNotFoundError, match=r"no HMDB-51 split files \*_test_split3.txt"):
        annotations.from_hmdb51_split(root, splits, split=3)
    with pytest.raises(ValueError, match="split must be 1, 2 or 3"):
        annotations.from_hmdb51_split(root, splits, split=0)
    with pytest.raises(ValueError, match="subset must be"):
        annotations.from_hmdb51_split(root, splits, subset="validation")
    with pytest.raises(FileNotFoundError, match=r"3 of 3 videos listed in .*_test_split1.txt"):
        annotations.from_hmdb51_split(root, splits)
    write(splits / "clap_test_split1.txt", "#20_Rhythm_clap_u_nm_np1_fr_goo_0.avi train\n")
    with pytest.raises(ValueError, match=r"clap_test_split1.txt line 1: expected"):
        annotations.from_hmdb51_split(root, splits)


# --- Something-Something v2 ------------------------------------------------------------------

SSV2_LABELS = {"Approaching something with your camera": "0",
               "Holding something next to something": "2",
               "Putting something on a surface": "1"}


def ssv2(tmp_path):
    folder = tmp_path / "annotations"
    write(folder / "labels.json", json.dumps(SSV2_LABELS))
    write(folder / "train.json", json.dumps([
        {"id": "78687", "label": "holding potato next to vicks vaporub bottle",
         "template": "Holding [something] next to [something]",
         "placeholders": ["potato", "vicks vaporub bottle"]},
        {"id": "42326", "label": "putting a pen on a table",
         "template": "Putting [something] on a surface", "placeholders": ["a pen"]},
        {"id": "100904", "label": "approaching a tree with your camera",
         "template": "Approaching [something] with your camera", "placeholders": ["a tree"]}]))
    write(folder / "test.json", json.dumps([{"id": "1420"}, {"id": "73"}]))
    return folder


def test_something_something_maps_templates_without_brackets(tmp_path):
    folder = ssv2(tmp_path)
    root = tmp_path / "20bn-something-something-v2"
    touch(root, "78687.webm", "42326.webm", "100904.mp4", "100904.txt", "99.webm")
    videos = annotations.from_something_something(root, folder / "labels.json",
                                                  folder / "train.json")
    assert videos.class_names == ("Approaching something with your camera",
                                  "Putting something on a surface",
                                  "Holding something next to something")
    assert relative(videos, root) == ["78687.webm", "42326.webm", "100904.mp4"]
    assert videos.labels == (2, 1, 0)
    assert videos.video_ids == ("78687", "42326", "100904")


def test_something_something_test_set_has_no_labels(tmp_path):
    folder = ssv2(tmp_path)
    touch(tmp_path / "v", "1420.webm", "1420.mp4", "73.webm")
    videos = annotations.from_something_something(tmp_path / "v", folder / "labels.json",
                                                  folder / "test.json")
    assert relative(videos, tmp_path / "v") == ["1420.webm", "73.webm"]  # .webm preferred
    assert videos.labels == (-1, -1) and len(videos.class_names) == 3


def test_something_something_errors(tmp_path):
    folder = ssv2(tmp_path)
    root = tmp_path / "v"
    touch(root, "78687.webm", "42326.webm")
    with pytest.raises(FileNotFoundError, match=r"1 of 3 videos listed in .*train.json .*"
                                                r"100904\.webm"):
        annotations.from_something_something(root, folder / "labels.json", folder / "train.json")
    videos = annotations.from_something_something(root, folder / "labels.json",
                                                  folder / "train.json", missing="skip")
    assert videos.video_ids == ("78687", "42326")
    write(folder / "bad.json", json.dumps([{"id": "5", "template": "Tearing [something]"}]))
    with pytest.raises(ValueError, match="item 0 \\(id 5\\): template 'Tearing something' is "
                                         "not in .*labels.json"):
        annotations.from_something_something(root, folder / "labels.json", folder / "bad.json")
    write(folder / "noid.json", json.dumps([{"template": "Tearing [something]"}]))
    with pytest.raises(ValueError, match="item 0 has no 'id'"):
        annotations.from_something_something(root, folder / "labels.json", folder / "noid.json")
    write(folder / "gaps.json", json.dumps({"a": "0", "b": "2"}))
    with pytest.raises(ValueError, match="indices must run from 0 to 1"):
        annotations.from_something_something(root, folder / "gaps.json", folder / "test.json")
    write(folder / "broken.json", "[{")
    with pytest.raises(ValueError, match="broken.json is not valid JSON"):
        annotations.from_something_something(root, folder / "labels.json", folder / "broken.json")
    with pytest.raises(FileNotFoundError, match="labels file .*nothing.json does not exist"):
        annotations.from_something_something(root, folder / "nothing.json", folder / "test.json")
