"""The tf.data datasets: from a folder of real files (and TFRecord shards) to batches, bad files
skipped during model.fit, multi-view evaluation."""
import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_video import data, inference
from keras_video.data import annotations, tfrecords
from keras_video.data.encoding import write_video
from test_data_decoding import frame_numbers, make_bad_files, numbered_frames

FPS = 20


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    """Two classes, three videos each, in mp4 / avi / mkv; 30 numbered frames of 36x44."""
    root = tmp_path_factory.mktemp("tree")
    for class_name, extensions in [("left", ["mp4", "avi", "mkv"]), ("right", ["avi", "mkv", "mp4"])]:
        os.makedirs(root / class_name)
        for k, ext in enumerate(extensions):
            write_video(root / class_name / f"{class_name}_{k}.{ext}", numbered_frames(30, 36, 44), fps=FPS)
    return root


def batches(dataset):
    return [tuple(t.numpy() for t in element) for element in dataset]


def test_training_batches_from_a_directory(tree):
    dataset = data.video_dataset_from_directory(
        tree, training=True, num_frames=4, stride=3, crop_size=24, scale_jitter=(28, 36),
        batch_size=4, seed=1)
    assert dataset.class_names == ["left", "right"]
    got = batches(dataset)
    assert [len(labels) for _, labels in got] == [4, 2]
    clips = np.concatenate([c for c, _ in got])
    assert clips.shape == (6, 4, 24, 24, 3) and clips.dtype == np.float32
    assert sorted(np.concatenate([l for _, l in got]).tolist()) == [0, 0, 0, 1, 1, 1]
    # Each clip is 4 frames every 3, from a random start, whatever the crop and flip.
    numbers = frame_numbers(clips.round().astype(np.uint8))
    np.testing.assert_array_equal(np.diff(numbers, axis=1), 3)
    assert len(set(numbers[:, 0])) > 1


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


def test_evaluation_views_are_the_uniform_clips_and_crops(tree):
    source = annotations.from_directory(tree)
    dataset = data.multiview_dataset(source, num_clips=2, num_crops=3, num_frames=4, stride=2,
                                     crop_size=20, batch_size=5, deterministic=True)
    views, labels, ids = (np.concatenate(parts) for parts in zip(*batches(dataset)))
    assert views.shape == (6 * 6, 4, 20, 20, 3)
    np.testing.assert_array_equal(ids, np.repeat(np.arange(6), 6))
    np.testing.assert_array_equal(labels, np.repeat(source.labels, 6))
    numbers = frame_numbers(views.round().astype(np.uint8))
    # Clip-major order: 2 clips (starts 0 and 30 - 7 = 23) x 3 crops each.
    expected = np.repeat([[0, 2, 4, 6], [23, 25, 27, 29]], 3, axis=0)
    np.testing.assert_array_equal(numbers, np.tile(expected, (6, 1)))
    # The three crops of the 20 px short side run along the width (scaled 20 x 24): the green
    # ramp rises from the left crop to the right one.
    green = views[:3, 0, 10, :, 1].mean(axis=-1)
    assert green[0] < green[1] < green[2]


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
def tree_with_bad_files(tmp_path_factory, tree):
    root = tmp_path_factory.mktemp("mixed")
    for class_name in ("left", "right"):
        os.makedirs(root / class_name)
        for name in os.listdir(tree / class_name):
            os.link(tree / class_name / name, root / class_name / name)
    bad = make_bad_files(root / "left", tree / "left" / "left_0.mp4")
    os.rmdir(bad["a_directory.mp4"])
    os.remove(root / "left" / "long.mkv")  # the good source of the truncated copy
    os.rename(bad["audio_only.m4a"], root / "left" / "audio_only.mp4")
    write_video(root / "right" / "short.mp4", numbered_frames(3, 36, 44), fps=FPS)
    return root


def test_bad_files_are_skipped_logged_once_and_counted(tree_with_bad_files):
    log = data.DecodeErrorLog()
    dataset = data.video_dataset_from_directory(
        tree_with_bad_files, training=True, num_frames=8, stride=1, crop_size=24,
        scale_jitter=None, batch_size=4, error_log=log, short_video="error", seed=0)
    for epoch in range(2):
        labels = np.concatenate([l for _, l in batches(dataset)])
        assert sorted(labels.tolist()) == [0, 0, 0, 1, 1, 1]
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
    history = model.fit(dataset, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2 and np.isfinite(history.history["loss"]).all()
    assert len(log) == 5 and log.count == 10  # the 3-frame video loops (the default policy)


def test_tfrecord_shards_round_trip(tree, tmp_path):
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
    numbers = frame_numbers(clips_b.round().astype(np.uint8))
    np.testing.assert_array_equal(frame_numbers(clips_a[order].round().astype(np.uint8)), numbers)
    # Both paths against the frames that were written, scaled and cropped the same way: the
    # shards add JPEG (quality 95, 4:2:0 again) to the codec's loss.
    written = tf.constant(numbered_frames(30, 36, 44)[numbers.reshape(-1)])
    truth = data.transforms.center_crop(data.transforms.short_side_scale(written, 24), 24)
    truth = tf.reshape(tf.cast(truth, tf.float32), clips_b.shape).numpy()
    assert np.abs(clips_b - truth).mean() < 3.0
    assert np.abs(clips_a[order] - truth).mean() < 3.0


def test_tfrecord_training_reader(tree, tmp_path):
    source = annotations.from_directory(tree)
    data.write_tfrecords(source, tmp_path, num_shards=3, short_side=36, progress=False)
    dataset = data.tfrecord_dataset(tmp_path, training=True, num_frames=4, stride=3, crop_size=24,
                                    scale_jitter=(28, 32), batch_size=6, seed=0)
    (clips, labels), = batches(dataset)
    assert clips.shape == (6, 4, 24, 24, 3) and sorted(labels.tolist()) == [0, 0, 0, 1, 1, 1]
    np.testing.assert_array_equal(np.diff(frame_numbers(clips.round().astype(np.uint8)), axis=1), 3)


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
