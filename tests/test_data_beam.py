"""The TFRecord conversion as an Apache Beam pipeline (DirectRunner): the same records as the
in-process writer, bad videos listed instead of failing the job."""
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from keras_video import data
from keras_video.data import annotations
from test_data_decoding import frame_numbers, numbered_frames

beam = pytest.importorskip("apache_beam", reason="apache-beam is not installed (pip install keras-video[beam])")
from keras_video.data.beam import beam_write_tfrecords  # noqa: E402


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    root = tmp_path_factory.mktemp("beam_videos")
    for class_name in ("left", "right"):
        os.makedirs(root / class_name)
        for k, ext in enumerate(("mp4", "avi", "mkv")):
            data.write_video(root / class_name / f"{class_name}_{k}.{ext}",
                             numbered_frames(20, 36, 44), fps=20)
    (root / "left" / "broken.mp4").write_text("not a video")
    return annotations.from_directory(root)


def records_by_index(paths):
    """Serialized records of the shards, keyed by the video's row in the source list."""
    records = {}
    for serialized in tf.data.TFRecordDataset([str(p) for p in paths]):
        example = tf.train.SequenceExample.FromString(serialized.numpy())
        records[example.context.feature["index"].int64_list.value[0]] = example
    return records


def test_beam_shards_hold_the_same_records_as_the_in_process_writer(source, tmp_path):
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


def test_beam_shards_feed_the_tfrecord_reader(source, tmp_path):
    beam_write_tfrecords(source, tmp_path, num_shards=3, short_side=36)
    dataset = data.tfrecord_dataset(tmp_path, num_frames=4, stride=2, crop_size=24, batch_size=6,
                                    with_video_ids=True, deterministic=True)
    (clips, labels, ids), = [tuple(t.numpy() for t in batch) for batch in dataset]
    assert clips.shape == (6, 4, 24, 24, 3)
    # The centre clip of 20 frames: 4 frames every 2 from frame (20 - 7) // 2 = 6.
    np.testing.assert_array_equal(frame_numbers(clips.round().astype(np.uint8)),
                                  np.tile([6, 8, 10, 12], (6, 1)))
    expected = np.asarray(source.labels)[ids]
    np.testing.assert_array_equal(labels, expected)


def test_beam_argument_errors(source, tmp_path):
    with pytest.raises(ValueError, match="num_shards"):
        beam_write_tfrecords(source, tmp_path, num_shards=0)
    with pytest.raises(ValueError, match="empty"):
        beam_write_tfrecords(source.subset([]), tmp_path, num_shards=1)
