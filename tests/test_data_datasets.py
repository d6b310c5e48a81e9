"""The tf.data datasets: from a folder of real files (and TFRecord shards) to batches, bad files
skipped during model.fit, multi-view evaluation. Every video's pixels carry its own code
(`labelled_videos`), so each test checks that every clip comes with its own video's label and
index, not only that the labels are the right multiset."""
import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_video import data, inference
from keras_video.data import annotations, tfrecords
from keras_video.data.encoding import write_video
from labelled_videos import assert_clips_match, coded_frames, read_codes, write_coded_videos
from test_data_decoding import frame_numbers, make_bad_files, numbered_frames

FPS = 20
LAYOUT = {"left": ["mp4", "avi", "mkv"], "right": ["avi", "mkv", "mp4"]}


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """Two classes, three videos each, in mp4 / avi / mkv; 30 frames of 36x44, each video's
    frames numbered from 30 x its code: (root, {path: code})."""
    root = tmp_path_factory.mktemp("tree")
    return root, write_coded_videos(root, LAYOUT, fps=FPS)


@pytest.fixture(scope="module")
def tree(written):
    return written[0]


@pytest.fixture(scope="module")
def codes(written):
    return written[1]


def batches(dataset):
    return [tuple(t.numpy() for t in element) for element in dataset]


def test_training_batches_from_a_directory(tree, codes):
    dataset = data.video_dataset_from_directory(
        tree, training=True, num_frames=4, stride=3, crop_size=24, scale_jitter=(28, 36),
        batch_size=4, seed=1)
    assert dataset.class_names == ["left", "right"]
    got = batches(dataset)
    assert [len(labels) for _, labels in got] == [4, 2]
    clips = np.concatenate([c for c, _ in got])
    assert clips.shape == (6, 4, 24, 24, 3) and clips.dtype == np.float32
    labels = np.concatenate([l for _, l in got])
    rows = assert_clips_match(clips, labels, annotations.from_directory(tree), codes)
    assert sorted(rows) == list(range(6))  # each video once
    # Each clip is 4 frames every 3, from a random start, whatever the crop and flip.
    _, positions = read_codes(clips)
    np.testing.assert_array_equal(np.diff(positions, axis=1), 3)
    assert len(set(positions[:, 0])) > 1


@pytest.mark.parametrize("variant", ["files", "memory_cache", "file_cache", "tfrecord_shards"])
def test_every_clip_keeps_its_videos_label_and_index(tree, codes, tmp_path, variant):
    """Shuffled, decoded in parallel with no ordering guarantee, over several epochs, from
    files, the caches and TFRecord shards (shuffled files, interleaved and shuffled records):
    every training clip is its video's, with that video's label and index."""
    source = annotations.from_directory(tree)
    kwargs = dict(training=True, num_frames=4, stride=3, crop_size=24, scale_jitter=(24, 32),
                  batch_size=4, seed=5, repeat=True, label_mode="categorical",
                  with_video_ids=True, num_parallel_calls=3, deterministic=False)
    if variant == "tfrecord_shards":
        data.write_tfrecords(source, tmp_path, num_shards=3, short_side=36, progress=False)
        dataset = data.tfrecord_dataset(tmp_path, shuffle_buffer=4, cycle_length=3, **kwargs)
    else:
        cache = {"files": None, "memory_cache": "memory",
                 "file_cache": str(tmp_path / "clips")}[variant]
        dataset = data.video_dataset(source, cache=cache, **kwargs)
    rows = [assert_clips_match(clips, labels, source, codes, ids)
            for clips, labels, ids in batches(dataset.take(9))]  # six epochs' worth of clips
    assert set(np.concatenate(rows)) == set(range(6))
    assert len({tuple(r) for r in rows}) > 1  # not one fixed order


def test_seeded_datasets_repeat_their_first_epoch_and_vary_between_epochs(tree):
    def make():
        return data.video_dataset_from_directory(tree, training=True, num_frames=4, crop_size=24,
                                                 scale_jitter=None, batch_size=6, seed=3,
                                                 deterministic=True)
    first = batches(make())[0][0]
    np.testing.assert_array_equal(first, batches(make())[0][0])
    dataset = make()
    epochs = [batches(dataset)[0][0] for _ in range(2)]
    assert not np.array_equal(epochs[0], epochs[1])


@pytest.mark.parametrize("cache", ["memory", "file"])
def test_cache_decodes_each_video_once_and_reshuffles_every_epoch(tree, tmp_path, monkeypatch,
                                                                  cache):
    from keras_video.data import datasets

    opened = []

    class CountingReader(datasets.VideoReader):
        def __init__(self, path, **kwargs):
            opened.append(path)
            super().__init__(path, **kwargs)

    monkeypatch.setattr(datasets, "VideoReader", CountingReader)
    dataset = data.video_dataset_from_directory(
        tree, training=True, num_frames=4, stride=3, crop_size=24, scale_jitter=None, flip=False,
        batch_size=6, seed=2, repeat=True,
        cache="memory" if cache == "memory" else str(tmp_path / "clips"))
    epochs = [next(iterator) for iterator in [iter(dataset)] for _ in range(3)]
    assert sorted(opened) == sorted(map(str, data.from_directory(tree).paths))  # once each
    frames = [frame_numbers(clips.numpy().round().astype(np.uint8)) for clips, _ in epochs]
    key = lambda numbers: sorted(map(tuple, numbers))  # noqa: E731
    assert key(frames[0]) == key(frames[1]) == key(frames[2])  # the first pass's clips...
    assert len({tuple(map(tuple, f)) for f in frames}) > 1  # ...in a new order
    if cache == "file":
        assert any(name.startswith("clips") for name in os.listdir(tmp_path))
        opened.clear()  # a second dataset on the same cache file decodes nothing
        again = data.video_dataset_from_directory(
            tree, training=True, num_frames=4, stride=3, crop_size=24, scale_jitter=None,
            flip=False, batch_size=6, seed=2, cache=str(tmp_path / "clips"))
        clips, _ = next(iter(again))
        assert opened == [] and key(frame_numbers(clips.numpy().round().astype(np.uint8))) == key(frames[0])
    with pytest.raises(TypeError, match="cache must be"):
        data.video_dataset_from_directory(tree, cache=True)


def test_each_training_shard_reads_its_own_videos_with_their_labels(tree, codes):
    """The trainer's input pipelines under a multi-worker strategy: two shards split the
    videos between them, and each clip keeps its video's label."""
    from keras_video.training import load_config, trainer

    config = load_config({"model": {"name": "c2d"}, "data": {
        "train": {"root": str(tree)}, "num_frames": 4, "stride": 3, "crop_size": 24,
        "scale_jitter": None}})
    source = annotations.from_directory(tree)
    shards = []
    for index in range(2):
        dataset = trainer.training_dataset(config, source, 1, index, 2)
        rows = [assert_clips_match(clips, labels, source, codes)
                for clips, labels in batches(dataset.take(6))]  # two epochs of the shard
        shards.append(set(np.concatenate(rows).tolist()))
    assert len(shards[0]) == len(shards[1]) == 3
    assert shards[0] | shards[1] == set(range(6))


def test_evaluation_views_are_the_uniform_clips_and_crops(tree, codes):
    source = annotations.from_directory(tree)
    dataset = data.multiview_dataset(source, num_clips=2, num_crops=3, num_frames=4, stride=2,
                                     crop_size=20, batch_size=5, deterministic=True)
    views, labels, ids = (np.concatenate(parts) for parts in zip(*batches(dataset)))
    assert views.shape == (6 * 6, 4, 20, 20, 3)
    np.testing.assert_array_equal(ids, np.repeat(np.arange(6), 6))
    np.testing.assert_array_equal(labels, np.repeat(source.labels, 6))
    assert_clips_match(views, labels, source, codes, ids)
    _, positions = read_codes(views)
    # Clip-major order: 2 clips (starts 0 and 30 - 7 = 23) x 3 crops each.
    expected = np.repeat([[0, 2, 4, 6], [23, 25, 27, 29]], 3, axis=0)
    np.testing.assert_array_equal(positions, np.tile(expected, (6, 1)))
    # The three crops of the 20 px short side run along the width (scaled 20 x 24): the green
    # ramp rises from the left crop to the right one.
    green = views[:3, 0, 10, :, 1].mean(axis=-1)
    assert green[0] < green[1] < green[2]
    # Decoded in parallel without an ordering guarantee, every view still names its video.
    unordered = data.multiview_dataset(source, num_clips=2, num_crops=3, num_frames=4, stride=2,
                                       crop_size=20, batch_size=5, num_parallel_calls=4,
                                       deterministic=False)
    views, labels, ids = (np.concatenate(parts) for parts in zip(*batches(unordered)))
    rows = assert_clips_match(views, labels, source, codes, ids)
    np.testing.assert_array_equal(np.bincount(rows), [6] * 6)


def scores_by_video_and_clip(table, frames, size):
    """A stand-in classifier of known outputs: the scores `table[code, clip]` of the video
    whose code the pixels carry, `clip` 0 for a view starting at the video's first frame and
    1 for a later one (read from the first frame's blue and red levels)."""
    table = np.asarray(table, np.float32)
    flat = keras.ops.convert_to_tensor(table.reshape(-1, table.shape[-1]))

    def scores(x):
        red, blue = (keras.ops.mean(x[:, 0, :, :, c], axis=(1, 2)) for c in (0, 2))
        code = keras.ops.cast(keras.ops.round((blue - 40) / 8), "int32")
        later = keras.ops.cast(keras.ops.round((red - 20) / 8) > 0, "int32")
        return keras.ops.take(flat, code * table.shape[1] + later, axis=0)

    inputs = keras.Input((frames, size, size, 3))
    return keras.Model(inputs, keras.layers.Lambda(scores)(inputs))


# Per video code (layout order: left_0-2, right_0-2), the scores of its first clip and of its
# later clip; each is seen through 3 crops. Right (R) and wrong (W) per clip and of the mean:
SCORES = [[[0.9, 0.1], [0.4, 0.6]],    # left:  R W, mean left   (right)
          [[0.2, 0.8], [0.9, 0.1]],    # left:  W R, mean left   (right)
          [[0.4, 0.6], [0.45, 0.55]],  # left:  W W, mean right  (wrong)
          [[0.3, 0.7], [0.8, 0.2]],    # right: R W, mean left   (wrong)
          [[0.1, 0.9], [0.35, 0.65]],  # right: R R, mean right  (right)
          [[0.7, 0.3], [0.55, 0.45]]]  # right: W W, mean left   (wrong)


def test_evaluate_reports_exactly_what_the_views_scores_give(tree, codes):
    """`inference.evaluate` with a stand-in model of known outputs: clip- and video-level
    top-1, per-class accuracy, the confusion matrix (rows: true class) and each video's
    prediction, exactly."""
    source = annotations.from_directory(tree)
    model = scores_by_video_and_clip(SCORES, 4, 20)
    result = inference.evaluate(model, source, num_frames=4, stride=2, crop_size=20,
                                num_clips=2, num_crops=3, batch_size=5, verbose=False)
    assert result["videos"] == 6 and result["views_per_video"] == 6 and result["skipped"] == {}
    assert result["clip_top1"] == pytest.approx(5 / 12)  # 15 of 36 views
    assert result["video_top1"] == pytest.approx(3 / 6)
    assert result["per_class_accuracy"] == pytest.approx({"left": 2 / 3, "right": 1 / 3})
    assert result["mean_class_accuracy"] == pytest.approx(0.5)
    assert result["confusion_matrix"] == [[2, 1], [2, 1]]
    assert result["clip_top2"] == result["video_top2"] == 1.0
    code_of = {video: codes[os.fspath(path)] for video, path in zip(source.video_ids,
                                                                      source.paths)}
    codes_in_order = [code_of[name] for name in result["video_names"]]
    assert result["predictions"]["top1"] == [[0, 0, 1, 0, 1, 0][c] for c in codes_in_order]


def test_video_level_averaging():
    ids, mean = inference.average_by_video([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]], [7, 3, 7])
    np.testing.assert_array_equal(ids, [3, 7])
    np.testing.assert_allclose(mean, [[0.0, 1.0], [0.75, 0.25]])
    assert inference.top_k_accuracy(mean, [1, 1]) == 0.5
    assert inference.top_k_accuracy(mean, [1, 1], k=2) == 1.0


def test_predict_videos_averages_the_views_of_each_video(tree):
    source = annotations.from_directory(tree)
    dataset = data.multiview_dataset(source, num_clips=3, num_crops=1, num_frames=2, crop_size=16,
                                     batch_size=4)
    # A model whose "probabilities" are the mean red level: the average of a video's views.
    inputs = keras.Input((2, 16, 16, 3))
    red = keras.layers.Lambda(lambda x: keras.ops.mean(x[..., :1], axis=(1, 2, 3)))(inputs)
    model = keras.Model(inputs, keras.layers.Concatenate()([red, -red]))
    ids, labels, mean = inference.predict_videos(model, dataset)
    np.testing.assert_array_equal(ids, np.arange(6))
    np.testing.assert_array_equal(labels, source.labels)
    starts = np.round(np.linspace(0, 29 - 1, 3))  # clips of 2 frames, stride 1
    expected_red = 20 + 8 * np.mean(starts + 0.5)  # frames 0-29: red = 20 + 8 * number
    np.testing.assert_allclose(mean[:, 0], expected_red, atol=3)


@pytest.fixture(scope="module")
def bad_tree(tmp_path_factory, tree, codes):
    """The tree's videos (linked: same codes), a 3-frame video of code 6 and broken files:
    (root, {path: code} of the readable videos)."""
    root = tmp_path_factory.mktemp("mixed")
    good = {}
    for path, code in codes.items():
        linked = root / os.path.relpath(path, tree)
        os.makedirs(linked.parent, exist_ok=True)
        os.link(path, linked)
        good[str(linked)] = code
    bad = make_bad_files(root / "left", tree / "left" / "left_0.mp4")
    os.rmdir(bad["a_directory.mp4"])
    os.remove(root / "left" / "long.mkv")  # the good source of the truncated copy
    os.rename(bad["audio_only.m4a"], root / "left" / "audio_only.mp4")
    write_video(root / "right" / "short.mp4", coded_frames(6, 3), fps=FPS)
    good[str(root / "right" / "short.mp4")] = 6
    return root, good


@pytest.fixture(scope="module")
def tree_with_bad_files(bad_tree):
    return bad_tree[0]


def test_bad_files_are_skipped_logged_once_and_counted(bad_tree):
    tree_with_bad_files, good = bad_tree
    source = annotations.from_directory(tree_with_bad_files)
    log = data.DecodeErrorLog()
    dataset = data.video_dataset(
        source, training=True, num_frames=8, stride=1, crop_size=24, scale_jitter=None,
        batch_size=4, error_log=log, short_video="error", seed=0, with_video_ids=True)
    for epoch in range(2):  # the skipped files must not shift any label onto another clip
        clips, labels, ids = (np.concatenate(parts) for parts in zip(*batches(dataset)))
        rows = assert_clips_match(clips, labels, source, good, ids)
        assert sorted(labels.tolist()) == [0, 0, 0, 1, 1, 1] and len(set(rows)) == 6
    reasons = {os.path.basename(path): reason for path, reason in log.failures.items()}
    assert sorted(reasons) == ["audio_only.mp4", "not_a_video.mp4", "short.mp4", "truncated.mkv",
                               "truncated.mp4", "zero_byte.mp4"]
    assert "too short" in reasons["short.mp4"] and "empty file" in reasons["zero_byte.mp4"]
    assert log.count == 12  # each bad file once per epoch


def test_strict_mode_raises_naming_the_file(tree_with_bad_files):
    dataset = data.video_dataset_from_directory(tree_with_bad_files, num_frames=4, crop_size=24,
                                                batch_size=2, strict=True)
    with pytest.raises(tf.errors.OpError, match="(zero_byte|not_a_video|truncated|audio_only)"):
        batches(dataset)


def tiny_classifier(frames, size, classes=2):
    return keras.Sequential([
        keras.Input((frames, size, size, 3)), keras.layers.Rescaling(1 / 255),
        keras.layers.Conv3D(4, 3, padding="same", activation="relu"),
        keras.layers.GlobalAveragePooling3D(), keras.layers.Dense(classes, activation="softmax")])


def test_model_fit_runs_through_bad_files(tree_with_bad_files):
    log = data.DecodeErrorLog()
    dataset = data.video_dataset_from_directory(
        tree_with_bad_files, training=True, num_frames=4, crop_size=24, scale_jitter=(24, 30),
        batch_size=3, error_log=log, mix="mixup", label_mode="categorical")
    model = tiny_classifier(4, 24)
    model.compile("adam", "categorical_crossentropy")
    history = model.fit(dataset, epochs=2, shuffle=False, verbose=0)  # it shuffles itself
    assert len(history.history["loss"]) == 2 and np.isfinite(history.history["loss"]).all()
    assert len(log) == 5 and log.count == 10  # the 3-frame video loops (the default policy)


def test_tfrecord_shards_round_trip(tree, codes, tmp_path):
    source = annotations.from_directory(tree)
    shards = data.write_tfrecords(source, tmp_path / "shards", num_shards=2, short_side=36,
                                  jpeg_quality=95, progress=False)
    assert [os.path.basename(s) for s in shards] == ["videos-00000-of-00002.tfrecord",
                                                     "videos-00001-of-00002.tfrecord"]
    metadata = json.loads((tmp_path / "shards" / "videos.json").read_text())
    assert metadata["class_names"] == ["left", "right"] and metadata["videos_per_shard"] == [3, 3]
    kwargs = dict(num_frames=4, stride=2, num_clips=2, num_crops=1, crop_size=24, batch_size=4,
                  with_video_ids=True, deterministic=True)
    from_shards = batches(data.tfrecord_dataset(tmp_path / "shards", **kwargs))
    from_files = batches(data.video_dataset(source, **kwargs))
    clips_a, labels_a, ids_a = (np.concatenate(p) for p in zip(*from_shards))
    clips_b, labels_b, ids_b = (np.concatenate(p) for p in zip(*from_files))
    order = np.argsort(ids_a, kind="stable")  # shards interleave the videos
    np.testing.assert_array_equal(ids_a[order], ids_b)
    np.testing.assert_array_equal(labels_a[order], labels_b)
    assert_clips_match(clips_a, labels_a, source, codes, ids_a)
    assert_clips_match(clips_b, labels_b, source, codes, ids_b)
    numbers = frame_numbers(clips_b.round().astype(np.uint8))
    np.testing.assert_array_equal(frame_numbers(clips_a[order].round().astype(np.uint8)), numbers)
    # Both paths against the frames that were written, scaled and cropped the same way: the
    # shards add JPEG (quality 95, 4:2:0 again) to the codec's loss.
    written = tf.constant(numbered_frames(30 * 6, 36, 44)[numbers.reshape(-1)])
    truth = data.transforms.center_crop(data.transforms.short_side_scale(written, 24), 24)
    truth = tf.reshape(tf.cast(truth, tf.float32), clips_b.shape).numpy()
    assert np.abs(clips_b - truth).mean() < 3.0
    assert np.abs(clips_a[order] - truth).mean() < 3.0


def test_tfrecord_training_reader(tree, codes, tmp_path):
    source = annotations.from_directory(tree)
    data.write_tfrecords(source, tmp_path, num_shards=3, short_side=36, progress=False)
    dataset = data.tfrecord_dataset(tmp_path, training=True, num_frames=4, stride=3, crop_size=24,
                                    scale_jitter=(28, 32), batch_size=6, seed=0)
    (clips, labels), = batches(dataset)
    assert clips.shape == (6, 4, 24, 24, 3) and sorted(labels.tolist()) == [0, 0, 0, 1, 1, 1]
    assert sorted(assert_clips_match(clips, labels, source, codes)) == list(range(6))
    np.testing.assert_array_equal(np.diff(read_codes(clips)[1], axis=1), 3)


def test_a_failed_conversion_leaves_no_shards(tree, tmp_path, monkeypatch):
    source = annotations.from_directory(tree)
    calls = []

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("disk full")
        return b""

    monkeypatch.setattr(tfrecords, "encode_video", failing)
    with pytest.raises(RuntimeError, match="disk full"):
        data.write_tfrecords(source, tmp_path, num_shards=2, progress=False, num_workers=1)
    assert os.listdir(tmp_path) == []


def test_conversion_skips_bad_videos(tree_with_bad_files, tmp_path):
    log = data.DecodeErrorLog()
    source = annotations.from_directory(tree_with_bad_files)
    data.write_tfrecords(source, tmp_path, num_shards=1, short_side=36, progress=False,
                         error_log=log)
    metadata = data.tfrecords.read_metadata(tmp_path)
    assert metadata["num_videos"] == 7 and len(metadata["skipped"]) == 5 == len(log)


def test_argument_errors(tree):
    with pytest.raises(ValueError, match="label_mode='categorical'"):
        data.video_dataset_from_directory(tree, mix="cutmix")
    with pytest.raises(ValueError, match="num_crops"):
        data.video_dataset_from_directory(tree, num_crops=2)
    with pytest.raises(ValueError, match="label_mode"):
        data.video_dataset_from_directory(tree, label_mode="binary")
