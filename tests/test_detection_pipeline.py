"""The detection data: synthetic orbit scenes and their JHMDB-layout ground truth, key-frame
samples with their boxes (bad boxes clipped, counted or refused), clips around key frames with
each edge policy, box-aware augmentation checked against the pixels it moves, and a JHMDB
ground-truth file written here going through the reader, the pipeline, one training step and
the evaluation."""
import os
import pickle
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_video.data import DecodeErrorLog, write_video
from keras_video.detection import pipeline, synthetic, training
from keras_video.detection.model import action_detector

from conftest import TINY


# --- synthetic scenes ------------------------------------------------------------------------

def test_orbit_classes_play_one_set_of_positions():
    """For one nuisance draw, each class shows the object at the same 8 positions in another
    order; frames 0 and 4 (what C2D keeps of a clip around key frame 0) are identical."""
    scenes = [synthetic.make_scene([c], 8, 64, synthetic.scene_rng(3, 7)) for c in range(4)]
    boxes = [b[0] for _, b in scenes]
    for c in range(1, 4):
        np.testing.assert_array_equal(np.sort(boxes[c], axis=0), np.sort(boxes[0], axis=0))
        assert not np.array_equal(boxes[c], boxes[0])  # ... in another order
        for t in (0, 4):
            np.testing.assert_array_equal(scenes[c][0][t], scenes[0][0][t])
    assert len({b.tobytes() for b in boxes}) == 4


def test_two_objects_keep_to_their_halves_and_boxes_are_tight():
    for index in range(20):
        labels = [index % 4, (index // 4) % 4]
        frames, boxes = synthetic.make_scene(labels, 8, 64, synthetic.scene_rng(0, index))
        assert frames.shape == (8, 64, 64, 3) and frames.dtype == np.uint8
        axis = synthetic._sample(synthetic.scene_rng(0, index), 8, 64, 2)["split_axis"]
        first, second = boxes
        assert (first[:, 2 + axis] <= 32).all() and (second[:, axis] >= 32).all()
        for b in boxes:  # a rigid object: its box keeps its size within a pixel
            size = b[:, 2:] - b[:, :2]
            assert size.min() >= 6 and (size.max(axis=0) - size.min(axis=0)).max() <= 2


def test_written_videos_and_ground_truth(tmp_path):
    truth = synthetic.write_detection_videos(tmp_path, 3, 2, seed=4, workers=2)
    with open(tmp_path / "ground_truth.pkl", "rb") as f:
        assert pickle.load(f).keys() == truth.keys()
    assert truth["labels"] == list(synthetic.ORBIT_CLASSES)
    assert truth["train_videos"] == [["train_00000", "train_00001", "train_00002"]]
    assert truth["test_videos"] == [["test_00000", "test_00001"]]
    name = "test_00001"
    assert truth["nframes"][name] == 8 and truth["resolution"][name] == (64, 64)
    frames, boxes = synthetic.make_scene(synthetic.scene_labels(4, 4), 8, 64,
                                         synthetic.scene_rng(4, 4))
    tubes = [t for label in sorted(truth["gttubes"][name]) for t in truth["gttubes"][name][label]]
    assert len(tubes) == len(boxes)
    for tube in tubes:
        np.testing.assert_array_equal(tube[:, 0], np.arange(1, 9))
        assert any(np.array_equal(tube[:, 1:], b) for b in boxes)
    decoded = pipeline.open_video(str(tmp_path / f"{name}.mp4")).get(np.arange(8)).astype(int)
    # Near-lossless, but 4:2:0 chroma subsampling blurs the colour of fine textures.
    assert np.abs(decoded - frames).mean() < 6
    assert np.abs(decoded.mean(axis=-1) - frames.mean(axis=-1)).mean() < 3.5


# --- samples and clips ------------------------------------------------------------------------

def ground_truth(tubes, nframes=10, resolution=(48, 64), names=("a/v0",), labels=("x", "y")):
    return {"labels": list(labels), "gttubes": {n: t for n, t in zip(names, tubes)},
            "nframes": {n: nframes for n in names}, "resolution": {n: resolution for n in names},
            "train_videos": [list(names)], "test_videos": [list(names)]}


@pytest.fixture
def video_root(tmp_path):
    os.makedirs(tmp_path / "a")
    write_video(tmp_path / "a" / "v0.mp4", np.zeros((10, 48, 64, 3), np.uint8), fps=10)
    return tmp_path


def tube(frames, box):
    return np.array([[f, *box] for f in frames], np.float32)


def test_boxes_outside_the_frame_are_clipped_and_counted(video_root):
    truth = ground_truth([{0: [tube([1, 2], [-5, 10, 30, 40])],
                           1: [tube([2], [70, 0, 90, 20]), tube([2, 3], [10, 10, 20, 20])]}])
    samples = pipeline.samples_from_ground_truth(truth, video_root, "train")
    assert len(samples) == 10  # every frame, empty ones kept
    np.testing.assert_array_equal(samples.boxes[0], [[0, 10, 30, 40]])
    assert samples.clipped_boxes == 3 and samples.dropped_boxes == 1  # frame 2's x > 64 box
    assert len(samples.boxes[1]) == 2 and samples.labels[1].tolist() == [0, 1]
    assert len(samples.boxes[5]) == 0
    skipped = pipeline.samples_from_ground_truth(truth, video_root, "train",
                                                 empty_frames="skip")
    assert skipped.key_frames.tolist() == [0, 1, 2]


@pytest.mark.parametrize("bad,message", [
    ({0: [tube([1], [30, 10, 20, 40])]}, "x2 >= x1"),
    ({0: [tube([11], [1, 1, 5, 5])]}, "outside 1..10"),
    ({0: [np.array([[1, np.nan, 0, 4, 4]], np.float32)]}, "not finite"),
    ({2: [tube([1], [1, 1, 5, 5])]}, "outside the 2 classes"),
])
def test_bad_ground_truth_says_what_is_wrong(video_root, bad, message):
    with pytest.raises(ValueError, match=message):
        pipeline.samples_from_ground_truth(ground_truth([bad]), video_root, "train")


def test_too_many_boxes_and_multi_label_rows(video_root):
    boxes = [tube([1], [i, i, i + 5, i + 5]) for i in range(3)]
    samples = pipeline.samples_from_ground_truth(ground_truth([{0: boxes}]), video_root)
    with pytest.raises(ValueError, match="3 boxes, more than max_boxes=2"):
        pipeline.padded_targets(samples, 2)
    # One box listed with two actions (AVA's rows) is one multi-hot row.
    truth = ground_truth([{0: [tube([1], [1, 1, 9, 9])], 1: [tube([1], [1, 1, 9, 9])]}])
    samples = pipeline.samples_from_ground_truth(truth, video_root)
    boxes, labels, mask, _ = pipeline.padded_targets(samples, 2, multi_label=True)
    np.testing.assert_array_equal(mask[0], [1, 0])
    np.testing.assert_array_equal(labels[0], [[1, 1], [0, 0]])
    np.testing.assert_allclose(boxes[0, 0], [1 / 64, 1 / 48, 9 / 64, 9 / 48])


def test_ava_csv_makes_multi_label_samples(video_root):
    """AVA rows (a 15-minute cut from second 900, normalised boxes, one row per action) become
    key frames at the video's rate, in pixels, a person's actions one multi-hot row."""
    os.rename(video_root / "a" / "v0.mp4", video_root / "v0.mp4")
    (video_root / "gt.csv").write_text(
        "v0,0900,0.25,0.5,0.5,1.0,12,0\n"  # frame 0: a person standing and talking
        "v0,0900,0.25,0.5,0.5,1.0,80,0\n"
        "v0,0900,0.0,0.0,0.125,0.25,12,1\n"
        "v0,0902,0.5,0.0,1.0,0.5,17,0\n"  # 10 fps: frame 20 is past the 10 frames
        "v0,0901,0.1,0.1,0.2,0.2,3,0\n")  # only an action outside the label map
    label_map = {12: "stand", 17: "walk", 80: "talk"}
    with pytest.raises(ValueError, match="timestamp 902 is frame 20 at 10 fps"):
        pipeline.samples_from_ava(video_root / "gt.csv", video_root, label_map)
    samples = pipeline.samples_from_ava(video_root / "gt.csv", video_root, label_map,
                                        excluded={("v0", 902)})
    assert samples.class_names == ["stand", "walk", "talk"]
    assert samples.key_frames.tolist() == [0] and samples.videos == ["v0"]  # 901 left out
    np.testing.assert_array_equal(samples.boxes[0], [[16, 24, 32, 48], [16, 24, 32, 48],
                                                     [0, 0, 8, 12]])
    assert samples.labels[0].tolist() == [0, 2, 0]
    boxes, labels, mask, _ = pipeline.padded_targets(samples, 3, multi_label=True)
    np.testing.assert_array_equal(mask[0], [1, 1, 0])
    np.testing.assert_allclose(boxes[0, :2], [[0, 0, 0.125, 0.25], [0.25, 0.5, 0.5, 1.0]])
    np.testing.assert_array_equal(labels[0, :2], [[1, 0, 0], [1, 0, 1]])
    # Whole movies (start 0) at a given rate, the classes the ids present.
    (video_root / "movie.csv").write_text("v0,0,0.5,0.0,1.0,0.5,17,0\nv0,1,0.5,0,1,0.5,9,0\n")
    whole = pipeline.samples_from_ava(video_root / "movie.csv", video_root, start_seconds=0,
                                      fps=5)
    assert whole.class_names == ["9", "17"] and whole.key_frames.tolist() == [0, 5]
    with pytest.raises(ValueError, match="no key frames"):
        pipeline.samples_from_ava(video_root / "movie.csv", video_root, {1: "bend"})


def test_clip_indices_put_the_key_frame_in_the_middle():
    args = ([0, 5, 9], [10, 10, 10], 4, 2)
    np.testing.assert_array_equal(pipeline.clip_indices(*args, edge="pad"),
                                  [[0, 0, 0, 2], [1, 3, 5, 7], [5, 7, 9, 9]])
    np.testing.assert_array_equal(pipeline.clip_indices(*args, edge="loop"),
                                  [[6, 8, 0, 2], [1, 3, 5, 7], [5, 7, 9, 1]])
    with pytest.raises(ValueError, match="edge='pad' or 'loop'"):
        pipeline.clip_indices(*args, edge="error")


def test_short_video_follows_the_edge_policy(tmp_path):
    """A 3-frame video under 8-frame clips: padded or looped as asked; a video shorter than
    the ground truth says is skipped and logged, or raises with strict."""
    frames = np.stack([np.full((32, 32, 3), 40 * (i + 1), np.uint8) for i in range(3)])
    write_video(tmp_path / "v.avi", frames, fps=3)
    truth = ground_truth([{0: [tube([2], [4, 4, 20, 20])]}], nframes=3, resolution=(32, 32),
                         names=("v",))
    samples = pipeline.samples_from_ground_truth(truth, tmp_path, empty_frames="skip")
    levels = {}
    for edge in ("pad", "loop"):
        clip, _ = next(iter(pipeline.detection_dataset(samples, num_frames=8, size=32,
                                                       edge=edge, batch_size=1)))
        levels[edge] = np.round(clip.numpy()[0].mean(axis=(1, 2, 3)) / 40).astype(int).tolist()
    assert levels["pad"] == [1, 1, 1, 1, 2, 3, 3, 3]
    assert levels["loop"] == [1, 2, 3, 1, 2, 3, 1, 2]
    with pytest.raises(ValueError, match="needs frames -3..4"):
        pipeline.detection_dataset(samples, num_frames=8, size=32, edge="error")
    samples.num_frames[:] = 5  # the ground truth claims more frames than the file has
    log = DecodeErrorLog()
    dataset = pipeline.detection_dataset(samples, num_frames=2, size=32, error_log=log)
    assert len(list(dataset)) == 0 and "the video has 3" in list(log.failures.values())[0]
    with pytest.raises(tf.errors.UnknownError, match="the video has 3"):
        list(pipeline.detection_dataset(samples, num_frames=2, size=32, strict=True))


def test_frame_folder_reads_like_its_video(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (4, 12, 16, 3), np.uint8)
    os.makedirs(tmp_path / "clip")
    for i, frame in enumerate(frames):
        Image.fromarray(frame).save(tmp_path / "clip" / f"{i + 1:05d}.png")
    reader = pipeline.open_video(str(tmp_path / "clip"))
    assert reader.num_frames == 4
    np.testing.assert_array_equal(reader.get([3, 0, 3]), frames[[3, 0, 3]])
    assert pipeline.find_video(tmp_path, "clip") == str(tmp_path / "clip")


# --- box-aware augmentation against the pixels -------------------------------------------------

def painted_clip(box, height=48, width=64, frames=2):
    """A grey clip with a red rectangle at pixel box (x1, y1, x2, y2)."""
    clip = np.full((frames, height, width, 3), 128, np.uint8)
    x1, y1, x2, y2 = box
    clip[:, y1:y2, x1:x2] = (255, 0, 0)
    return clip


def red_extent(frame):
    red = (frame[..., 0] > 200) & (frame[..., 1] < 60)
    if not red.any():
        return None
    rows, columns = np.flatnonzero(red.any(axis=1)), np.flatnonzero(red.any(axis=0))
    return np.array([columns[0], rows[0], columns[-1] + 1, rows[-1] + 1], np.float32)


@pytest.mark.parametrize("seed", range(12))
def test_augmented_boxes_still_frame_their_pixels(seed):
    """Random crop (scale jitter), resize and flip: the output box frames the red pixels (to
    a pixel of resize blur) where at least min_visible of the rectangle stays in the crop, and
    the box is dropped where less does."""
    box = np.array([20, 12, 36, 30])  # pixels of a 64 x 48 frame
    clip = painted_clip(box)
    boxes = np.array([box / [64, 48, 64, 48], [0, 0, 0, 0]], np.float32)
    mask = np.array([1, 0], np.float32)
    seed = tf.constant([seed, 1], tf.int64)
    out, got, kept = pipeline.augment(tf.constant(clip), boxes, mask, 40, seed,
                                      scale=(0.4, 1.0), min_visible=0.3)
    out, got, kept = out.numpy(), got.numpy(), kept.numpy()
    assert out.shape == (2, 40, 40, 3) and kept[1] == 0 and not got[1].any()
    # The crop augment drew, for the expected visible share of the rectangle.
    crop_seed = tf.random.experimental.stateless_split(seed, 2)[0]
    top, left, height, width, _ = (int(v) if v.shape.rank == 0 else v for v in
                                   pipeline.random_crop_window(48, 64, (0.4, 1.0), crop_seed))
    inside = np.clip(box, [left, top, left, top], [left + width, top + height] * 2)
    visible = np.prod(inside[2:] - inside[:2]) / np.prod(box[2:] - box[:2])
    assert kept[0] == (visible >= 0.3)
    if kept[0]:
        np.testing.assert_allclose(got[0] * 40, red_extent(np.round(out[0]).astype(np.uint8)),
                                   atol=1.5)


def test_flip_mirrors_boxes_exactly():
    clip = painted_clip((4, 8, 20, 40))
    boxes = np.array([[4 / 64, 8 / 48, 20 / 64, 40 / 48]], np.float32)
    flipped = pipeline.flip_boxes(tf.constant(boxes), tf.constant([1.0])).numpy()
    mirrored = clip[0, :, ::-1]
    np.testing.assert_allclose(flipped[0] * [64, 48, 64, 48], red_extent(mirrored))


def test_crop_moves_clips_and_drops_boxes():
    boxes = tf.constant([[0.1, 0.1, 0.3, 0.3], [0.4, 0.4, 0.9, 0.9], [0.0, 0.0, 0.12, 0.12]])
    window = tf.constant([0.2, 0.2, 0.7, 0.7])
    moved, kept = pipeline.crop_boxes(boxes, tf.ones(3), window, min_visible=0.2)
    np.testing.assert_allclose(moved.numpy(), [[0, 0, 0.2, 0.2], [0.4, 0.4, 1, 1], [0, 0, 0, 0]],
                               atol=1e-6)
    np.testing.assert_array_equal(kept.numpy(), [1, 1, 0])  # 1/4 visible, 9/25 visible, none


# --- a JHMDB ground-truth file: reader, pipeline, a training step, evaluation ---------------------

def frame_ap_by_hand(truth, rows, iou=0.5):
    """Frame-mAP from its definition (VOC all-point AP), for the test's own check."""
    videos = truth["test_videos"][0]
    aps = []
    for c in range(len(truth["labels"])):
        gt = {}
        for v, name in enumerate(videos):
            for t in truth["gttubes"][name].get(c, []):
                for frame, *box in t:
                    gt.setdefault((v, int(frame)), []).append(box)
        if not gt:
            continue
        mine = sorted((r for r in rows if int(r[2]) == c), key=lambda r: -r[3])
        used, hits = set(), []
        for r in mine:
            key, best, pick = (int(r[0]), int(r[1])), iou, None
            for j, g in enumerate(gt.get(key, [])):
                w = max(0, min(r[6], g[2]) - max(r[4], g[0]))
                h = max(0, min(r[7], g[3]) - max(r[5], g[1]))
                union = (r[6] - r[4]) * (r[7] - r[5]) + (g[2] - g[0]) * (g[3] - g[1]) - w * h
                if (key, j) not in used and w * h / union >= best:
                    best, pick = w * h / union, j
            hits.append(pick is not None)
            if pick is not None:
                used.add((key, pick))
        total = sum(len(b) for b in gt.values())
        tp = np.cumsum(hits)
        recall = np.concatenate([[0], tp / total, [1]])
        precision = np.concatenate([[0], tp / np.arange(1, len(hits) + 1), [0]])
        precision = np.maximum.accumulate(precision[::-1])[::-1]
        aps.append(np.sum((recall[1:] - recall[:-1]) * precision[1:]))
    return float(np.mean(aps))


@pytest.fixture(scope="module")
def jhmdb(tmp_path_factory):
    """A JHMDB-layout dataset: class sub-folders, non-square frames, 1-based frame rows, one
    box reaching outside the picture; a rectangle per video whose colour is its class."""
    root = tmp_path_factory.mktemp("jhmdb")
    labels, names, tubes = ["red_walk", "blue_walk"], [], {}
    for v in range(6):
        label = v % 2
        name = f"{labels[label]}/clip_{v}"
        frames = np.full((12, 48, 64, 3), 100, np.uint8)
        rows = []
        for t in range(12):
            x = 4 + 3 * t + v
            frames[t, 10:34, x:x + 16] = (230, 30, 30) if label == 0 else (30, 30, 230)
            rows.append([t + 1, x, 10, x + 16, 34])
        rows[0][1] = -3.0  # outside the picture: clipped
        os.makedirs(root / labels[label], exist_ok=True)
        write_video(root / f"{name}.mp4", frames, fps=12)
        names.append(name)
        tubes[name] = {label: [np.array(rows, np.float32)]}
    truth = {"labels": labels, "gttubes": tubes, "nframes": {n: 12 for n in names},
             "resolution": {n: (48, 64) for n in names},
             "train_videos": [names[:4]], "test_videos": [names[4:]]}
    with open(root / "JHMDB-GT.pkl", "wb") as f:
        pickle.dump(truth, f, protocol=2)
    return root


def read_ground_truth(path):
    try:  # the ground-truth reader of keras_video.detection, where it is installed
        from keras_video.detection.ground_truth import read_ground_truth as reader
    except ImportError:
        with open(path, "rb") as f:
            return pickle.load(f)
    return reader(path).to_dict()


def test_jhmdb_file_trains_a_step_and_evaluates(jhmdb):
    with open(jhmdb / "JHMDB-GT.pkl", "rb") as f:
        raw = pickle.load(f)
    assert pipeline.samples_from_ground_truth(raw, jhmdb, "train").clipped_boxes == 4
    truth = read_ground_truth(jhmdb / "JHMDB-GT.pkl")
    train = pipeline.samples_from_ground_truth(truth, jhmdb, "train")
    assert len(train) == 48
    keras.utils.set_random_seed(0)
    model = action_detector("c2d", classes=2, input_shape=(4, 32, 32, 3), max_boxes=2,
                            roi_size=2, **TINY)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = training.fit_detector(model, train, num_frames=4, size=32, epochs=1,
                                        batch_size=4, steps_per_epoch=2, stride=2)
    assert not [w for w in caught if "shuffle" in str(w.message)]  # Keras' on a tf.data fit
    assert np.isfinite(history.history["loss"]).all()
    assert {"heatmap_loss", "classification_loss", "box_loss"} <= set(history.history)

    test = pipeline.samples_from_ground_truth(truth, jhmdb, "test")
    videos = truth["test_videos"][0]
    rows = training.detect(model, test, videos, num_frames=4, size=32, stride=2)
    assert rows.shape[1] == 8 and len(rows)
    assert set(rows[:, 0].astype(int)) <= {0, 1}
    assert set(rows[:, 1].astype(int)) <= set(range(1, 13))
    assert (rows[:, 4:] >= 0).all()
    assert (rows[:, [4, 6]] <= 64).all() and (rows[:, [5, 7]] <= 48).all()
    by_hand = frame_ap_by_hand(truth, rows)
    assert 0.0 <= by_hand <= 1.0
    try:
        from keras_video.detection import metrics
    except ImportError:
        return
    assert metrics.frame_ap(truth, rows)["mAP"] == pytest.approx(by_hand, abs=1e-9)
    report = training.evaluate_detector(model, truth, jhmdb, num_frames=4, size=32, stride=2)
    assert report["frame_mAP@0.5"] == pytest.approx(by_hand, abs=1e-9)
    assert {"video_mAP@0.5", "per_class", "seconds"} <= set(report)


def test_detection_rows_score_every_class_of_every_box():
    samples = pipeline.DetectionSamples(
        paths=["p"], key_frames=[4], num_frames=[9], frame_sizes=[(10, 20)],
        boxes=[np.zeros((0, 4))], labels=[np.zeros(0)], videos=["b"], class_names=["u", "v"])
    outputs = {"boxes": np.array([[[0.1, 0.2, 0.5, 0.6], [0, 0, 0, 0]]], np.float32),
               "scores": np.array([[0.5, 0.0]], np.float32),
               "probabilities": np.array([[[0.2, 0.8], [0.5, 0.5]]], np.float32)}
    rows = training.detection_rows(outputs, samples, [0], ["a", "b"])
    np.testing.assert_allclose(rows, [[1, 5, 0, 0.1, 2, 2, 10, 6], [1, 5, 1, 0.4, 2, 2, 10, 6]],
                               atol=1e-6)


@pytest.mark.slow
def test_external_multi_label_detector_trains_on_ground_truth_boxes(jhmdb):
    """AVA practice: boxes come from outside (here, with no proposals given, the ground-truth
    boxes), several actions per box (sigmoid)."""
    truth = read_ground_truth(jhmdb / "JHMDB-GT.pkl")
    train = pipeline.samples_from_ground_truth(truth, jhmdb, "train", empty_frames="skip")
    keras.utils.set_random_seed(0)
    model = action_detector("c2d", classes=2, input_shape=(4, 32, 32, 3), max_boxes=2,
                            roi_size=2, proposals="external", multi_label=True, **TINY)
    history = training.fit_detector(model, train, num_frames=4, size=32, epochs=1,
                                    batch_size=4, steps_per_epoch=2, stride=2)
    assert set(history.history) == {"loss", "classification_loss", "box_loss"}
    test = pipeline.samples_from_ground_truth(truth, jhmdb, "test")
    rows = training.detect(model, test, truth["test_videos"][0], num_frames=4, size=32,
                           stride=2, proposals=True)
    # One row per class of each ground-truth box given as a proposal, at its pixels.
    assert len(rows) == 2 * 24
    np.testing.assert_allclose(rows[rows[:, 1] == 5][0, 4:], test.boxes[4][0], atol=0.05)


@pytest.mark.slow
def test_tiny_detection_demo_reports_both_detectors(tmp_path):
    pytest.importorskip("keras_video.detection.metrics")
    from keras_video.detection import demo

    settings = dict(train_videos=8, test_videos=2, epochs=1, batch_size=8)
    result = demo.run(str(tmp_path), settings, verbose=False)
    for key in ("s3dg_frame_map", "c2d_frame_map", "s3dg_video_map", "c2d_video_map"):
        assert 0.0 <= result[key] <= 1.0, key
    # Per-class APs cover the classes with ground truth in the 2 test videos (metrics' rule).
    assert result["seconds"] > 0 and result["s3dg_per_class"]
    assert set(result["s3dg_per_class"]) <= set(result["classes"])
    assert os.path.isfile(tmp_path / "report_s3dg.json")
    assert os.path.isfile(tmp_path / "videos" / "ground_truth.pkl")


# --- recipes --------------------------------------------------------------------------------

def test_packaged_recipes_load_and_their_keys_reach_the_functions():
    import inspect

    for name in ("s3dg_jhmdb_split1", "s3dg_ucf101_24_split1"):
        recipe = training.load_recipe(name)
        assert recipe["model"]["backbone"] == "s3dg", name
        assert "Unverified at full scale here" in open(recipe["path"]).read(), name
        assert set(recipe["train"]) <= set(inspect.signature(training.fit_detector).parameters)
        assert set(recipe["model"]["kwargs"]) <= \
            set(inspect.signature(action_detector).parameters)
    assert training.load_recipe("s3dg_jhmdb_split1", {"train.epochs": 2})["train"]["epochs"] == 2
    with pytest.raises(ValueError, match=r"unknown train keys \['epoch'\]"):
        training.load_recipe("s3dg_jhmdb_split1", {"train.epoch": 2})
    with pytest.raises(FileNotFoundError, match="s3dg_jhmdb_split1"):
        training.load_recipe("no_such_recipe")


@pytest.mark.slow  # about 45 CPU-seconds: a detector built, trained, evaluated and saved
def test_recipe_trains_evaluates_and_saves_a_detector_preset(jhmdb, tmp_path):
    import json

    import yaml

    from keras_video import presets
    from keras_video.detection.model import ActionDetector

    recipe = {"task": "detection",
              "model": {"backbone": "c2d", "kwargs": {"max_boxes": 2, "roi_size": 2, **TINY}},
              "data": {"ground_truth": str(jhmdb / "JHMDB-GT.pkl"), "video_root": str(jhmdb),
                       "num_frames": 4, "size": 32, "stride": 2},
              "train": {"epochs": 1, "batch_size": 4, "steps_per_epoch": 2}}
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(recipe))
    report = training.train_recipe(str(path), tmp_path / "run")
    assert 0.0 <= report["frame_mAP@0.5"] <= 1.0
    assert json.loads((tmp_path / "run" / "report.json").read_text()) == \
        json.loads(json.dumps(report))
    loaded = presets.load(tmp_path / "run" / "detector")
    assert isinstance(loaded, ActionDetector)
    assert loaded.preset.class_names == ("red_walk", "blue_walk")
    assert (loaded.preset.clip.frames, loaded.preset.clip.frame_stride) == (4, 2)
    assert yaml.safe_load((tmp_path / "run" / "recipe.yaml").read_text())["train"]["epochs"] == 1
