"""The TFRecord conversion as an Apache Beam pipeline (DirectRunner): the same records as the
in-process writer, each holding its own video's frames beside that video's label and index
(the pixels name the video: `labelled_videos`), bad videos listed instead of failing the job."""
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from keras_video import data
from keras_video.data import annotations
from labelled_videos import assert_clips_match, read_codes, write_coded_videos

beam = pytest.importorskip("apache_beam", reason="apache-beam is not installed (pip install keras-video[beam])")
from keras_video.data.beam import beam_write_tfrecords  # noqa: E402


@pytest.fixture(scope="module")
def coded(tmp_path_factory):
    """Two classes of three 20-frame videos, each with its own code, and a broken file:
    (the video list, {path: code})."""
    root = tmp_path_factory.mktemp("beam_videos")
    codes = write_coded_videos(root, {"left": ["mp4", "avi", "mkv"],
                                      "right": ["mp4", "avi", "mkv"]}, count=20)
    (root / "left" / "broken.mp4").write_text("not a video")
    return annotations.from_directory(root), codes


@pytest.fixture(scope="module")
def source(coded):
    return coded[0]


def assert_record_is_its_videos(example, source, codes):
    """The record's frames are all its video's, and its label and index that video's."""
    context = example.context.feature
    frames = np.stack([tf.io.decode_jpeg(frame.bytes_list.value[0]).numpy() for frame in
                       example.feature_lists.feature_list["frames"].feature])
    assert_clips_match(frames[None], [context["label"].int64_list.value[0]], source, codes,
                       [context["index"].int64_list.value[0]])


def records_by_index(paths):
    """Serialized records of the shards, keyed by the video's row in the source list."""
    records = {}
    for serialized in tf.data.TFRecordDataset([str(p) for p in paths]):
        example = tf.train.SequenceExample.FromString(serialized.numpy())
        records[example.context.feature["index"].int64_list.value[0]] = example
    return records


def test_beam_shards_hold_the_same_records_as_the_in_process_writer(coded, tmp_path):
    source, codes = coded
    shards = beam_write_tfrecords(source, tmp_path / "beam", num_shards=2, short_side=36)
    assert [os.path.basename(s) for s in shards] == ["videos-00000-of-00002.tfrecord",
                                                     "videos-00001-of-00002.tfrecord"]
    assert all(os.path.getsize(s) > 0 for s in shards)
    metadata = json.loads((tmp_path / "beam" / "videos.json").read_text())
    assert metadata["num_videos"] == 6 and metadata["class_names"] == ["left", "right"]
    assert len(metadata["skipped"]) == 1 and "broken.mp4" in metadata["skipped"][0]

    local = data.write_tfrecords(source, tmp_path / "local", num_shards=2, short_side=36,
                                 progress=False, error_log=data.DecodeErrorLog())
    from_beam, from_local = records_by_index(shards), records_by_index(local)
    assert sorted(from_beam) == sorted(from_local) and len(from_beam) == 6
    for index, example in from_beam.items():
        assert example == from_local[index], f"record of video {index} differs"
        assert_record_is_its_videos(example, source, codes)


def test_beam_shards_feed_the_tfrecord_reader(coded, tmp_path):
    source, codes = coded
    beam_write_tfrecords(source, tmp_path, num_shards=3, short_side=36)
    dataset = data.tfrecord_dataset(tmp_path, num_frames=4, stride=2, crop_size=24, batch_size=6,
                                    with_video_ids=True, deterministic=True)
    (clips, labels, ids), = [tuple(t.numpy() for t in batch) for batch in dataset]
    assert clips.shape == (6, 4, 24, 24, 3)
    # The centre clip of 20 frames: 4 frames every 2 from frame (20 - 7) // 2 = 6.
    np.testing.assert_array_equal(read_codes(clips)[1], np.tile([6, 8, 10, 12], (6, 1)))
    assert len(set(assert_clips_match(clips, labels, source, codes, ids))) == 6  # each once


def test_beam_argument_errors(source, tmp_path):
    with pytest.raises(ValueError, match="num_shards"):
        beam_write_tfrecords(source, tmp_path, num_shards=0)
    with pytest.raises(ValueError, match="empty"):
        beam_write_tfrecords(source.subset([]), tmp_path, num_shards=1)
