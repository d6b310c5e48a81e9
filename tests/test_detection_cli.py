"""Action detection on a whole video (`keras_video.detection.video`) and its commands:
`keras-video detect` on a detector saved as a preset directory (tubes as JSON, the video drawn
with them) and `keras-video demo --task detection`."""
import json
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from keras_video import cli, presets
from keras_video.data import VideoReader, write_video
from keras_video.detection import pipeline, synthetic, video
from keras_video.detection.model import action_detector

from conftest import TINY

FRAMES, SIZE, VIDEO_SIZE = 4, 32, 48  # the video is larger than the clip: boxes scale back
CLASSES = ["orbit_a", "orbit_b", "orbit_c", "orbit_d"]


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A tiny untrained detector saved as a preset directory, and an 8-frame scene video."""
    root = tmp_path_factory.mktemp("detect")
    import keras
    keras.utils.set_random_seed(1)
    model = action_detector("c2d", classes=len(CLASSES), input_shape=(FRAMES, SIZE, SIZE, 3),
                            max_boxes=2, roi_size=2, **TINY)
    presets.save(model, root / "detector", class_names=CLASSES)
    frames, _ = synthetic.make_scene([0], 8, VIDEO_SIZE, synthetic.scene_rng(0, 3))
    write_video(root / "scene.mp4", frames, fps=8)
    return model, root


def test_detections_are_the_models_outputs_at_each_frame(saved):
    """Each frame's rows are the detector's output on the clip centred there (first frame
    repeated before the start, last after the end), in the video's pixels."""
    model, root = saved
    found = video.detect_video(model, root / "scene.mp4", class_names=CLASSES, min_score=0.0,
                               link={"min_length": 1})
    rows = found["detections"]
    assert (found["frames"], found["height"], found["width"]) == (8, VIDEO_SIZE, VIDEO_SIZE)
    assert len(rows) == 8 * 2 * len(CLASSES) and set(rows[:, 1]) == set(range(1, 9))
    with VideoReader(str(root / "scene.mp4")) as reader:
        decoded = reader.get(np.arange(8))
    for key in (0, 5, 7):
        index = pipeline.clip_indices([key], [8], FRAMES, edge="pad")[0]
        clip = tf.image.resize(decoded[index], (SIZE, SIZE), antialias=True)[None]
        out = model.predict_on_batch(clip)
        want = np.concatenate([
            np.column_stack([np.zeros(len(CLASSES)), np.full(len(CLASSES), key + 1),
                             np.arange(len(CLASSES)), out["scores"][0, k] *
                             out["probabilities"][0, k],
                             np.tile(out["boxes"][0, k] * VIDEO_SIZE, (len(CLASSES), 1))])
            for k in range(2)])
        np.testing.assert_allclose(rows[rows[:, 1] == key + 1], want, rtol=1e-4, atol=1e-4)
    for tube in found["tubes"]:
        assert tube["label"] == CLASSES[tube["label_id"]]
        assert tube["frames"] == list(range(tube["frames"][0], tube["frames"][-1] + 1))
        assert np.shape(tube["boxes"]) == (len(tube["frames"]), 4)


def test_drawn_tubes_outline_their_boxes():
    frames = np.zeros((3, 40, 40, 3), np.uint8)
    found = {"tubes": [{"label": "b", "label_id": 1, "score": 0.5, "frames": [1, 2],
                        "boxes": [[5, 20, 30, 35], [10, 20, 35, 35]]}]}
    out = video.draw_tubes(frames, found)
    colour = video._PALETTE[1]
    for index, left in ((0, 5), (1, 10)):
        np.testing.assert_array_equal(out[index, 28, left], colour)       # left edge
        np.testing.assert_array_equal(out[index, 35, left + 12], colour)  # bottom edge
        np.testing.assert_array_equal(out[index, 28, left + 12], 0)       # inside: untouched
        assert (out[index, 10:20, left:left + 10] == colour).all(axis=-1).any()  # label tag
    assert not out[2].any() and not frames.any()  # frame 3 has no box; the input is kept
    with pytest.raises(ValueError, match="uint8"):
        video.draw_tubes(frames.astype(np.float32), found)


def test_detect_command_on_a_preset_directory(saved, tmp_path):
    """In a fresh process, as a user runs it: the preset loads back, the JSON tubes are the
    library's on the loaded model, and the rendered video has the input's frames."""
    _, root = saved
    out = tmp_path / "drawn.mp4"
    done = subprocess.run([sys.executable, "-m", "keras_video_cli", "detect",
                           str(root / "scene.mp4"), "--model", str(root / "detector"),
                           "--min-score", "0", "--json", "--render", str(out)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    loaded = presets.load(root / "detector")
    assert loaded.preset.class_names == tuple(CLASSES)
    want = video.detect_video(loaded, root / "scene.mp4", min_score=0.0)
    assert want["tubes"], "the untrained detector links no tube: nothing is compared"
    assert [t["label"] for t in result["tubes"]] == [t["label"] for t in want["tubes"][:10]]
    np.testing.assert_allclose([t["score"] for t in result["tubes"]],
                               [t["score"] for t in want["tubes"][:10]], rtol=1e-4)
    assert result["frames"] == 8 and result["rendered"] == str(out)
    with VideoReader(str(out)) as reader:
        assert reader.num_frames == 8
        assert reader.get(np.array([0])).shape == (1, VIDEO_SIZE, VIDEO_SIZE, 3)


def test_detect_command_errors(saved, tmp_path, capsys):
    _, root = saved
    status = cli.main(["detect", str(root / "scene.mp4")])
    assert status == 2 and "--model" in capsys.readouterr().err
    status = cli.main(["detect", str(tmp_path / "missing.mp4"), "--model",
                       str(root / "detector")])
    err = capsys.readouterr().err
    assert status == 1 and "missing.mp4" in err and len(err.strip().splitlines()) == 1
    status = cli.main(["detect", str(root / "scene.mp4"), "--model", str(root / "detector"),
                       "--min-score", "2"])
    assert status == 2 and "--min-score" in capsys.readouterr().err


def test_demo_task_detection_prints_the_detection_results(monkeypatch, capsys):
    from keras_video.detection import demo

    calls = []

    def fake_run(workdir=None, settings=None, verbose=True):
        calls.append(workdir)
        return {"s3dg_frame_map": 0.9, "c2d_frame_map": 0.3, "seconds": 12.5}

    monkeypatch.setattr(demo, "run", fake_run)
    assert cli.main(["demo", "--task", "detection", "--json", "--workdir", "w"]) == 0
    assert json.loads(capsys.readouterr().out) == {"s3dg_frame_map": 0.9,
                                                   "c2d_frame_map": 0.3, "seconds": 12.5}
    assert calls == ["w"]
    assert cli.main(["demo", "--task", "segmentation"]) == 2
    assert "--task" in capsys.readouterr().err
