"""TFRecord shards of JPEG-encoded frames: decode each video once, then train from shards that
any tf.data reader (and TPU hosts, and object stores) streams fast.

Each video is a `tf.train.SequenceExample`: context `label`, `index` (its row in the source
list), `video_id`, `fps`; feature list `frames`, one JPEG per frame at the chosen short side and
frame rate. A `<prefix>.json` beside the shards records class names, counts and settings.
"""
import collections
import concurrent.futures
import json
import os

import numpy as np
import tensorflow as tf

from keras_video.data.datasets import AUTOTUNE, default_sampler, finish
from keras_video.data.decoding import VideoDecodeError, VideoReader
from keras_video.data.errors import DECODE_ERRORS
from keras_video.progress import bar as progress_bar


def encode_video(path, label, index, video_id, short_side=256, fps=None, jpeg_quality=90,
                 timeout=30.0):
    """The serialized SequenceExample of one video (raises VideoDecodeError)."""
    with VideoReader(path, fps=fps, short_side=short_side, timeout=timeout) as reader:
        jpegs = [tf.io.encode_jpeg(frame, quality=jpeg_quality).numpy()
                 for frame in reader.iter_frames()]
        rate = reader.fps
    context = tf.train.Features(feature={
        "label": _int64(label), "index": _int64(index), "fps": tf.train.Feature(
            float_list=tf.train.FloatList(value=[rate])),
        "video_id": tf.train.Feature(bytes_list=tf.train.BytesList(value=[str(video_id).encode()])),
    })
    frames = tf.train.FeatureList(feature=[
        tf.train.Feature(bytes_list=tf.train.BytesList(value=[jpeg])) for jpeg in jpegs])
    example = tf.train.SequenceExample(context=context,
                                       feature_lists=tf.train.FeatureLists(feature_list={"frames": frames}))
    return example.SerializeToString()


def _int64(value):
    return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(value)]))


def shard_names(prefix, num_shards):
    return [f"{prefix}-{k:05d}-of-{num_shards:05d}.tfrecord" for k in range(num_shards)]


def write_tfrecords(source, output_dir, *, num_shards=None, videos_per_shard=256, prefix="videos",
                    short_side=256, fps=None, jpeg_quality=90, num_workers=None, strict=False,
                    error_log=None, progress=True, timeout=30.0):
    """Converts an `annotations.VideoList` into TFRecord shards; returns the shard paths.

    Videos go round-robin to `num_shards` shards (default: `videos_per_shard` per shard), so
    every shard holds every class. `num_workers` threads decode and encode in parallel (PyAV and
    the JPEG encoder release the GIL). Unreadable videos are skipped and recorded in
    `error_log` (or raise with `strict=True`). Shards are written under temporary names and
    renamed at the end, so a failed run leaves no half-written shard behind.
    """
    error_log = DECODE_ERRORS if error_log is None else error_log
    total = len(source)
    if total == 0:
        raise ValueError("the video list is empty")
    num_shards = num_shards or max(1, -(-total // videos_per_shard))
    os.makedirs(output_dir, exist_ok=True)
    final = [os.path.join(output_dir, name) for name in shard_names(prefix, num_shards)]
    temporary = [path + ".incomplete" for path in final]
    writers = [tf.io.TFRecordWriter(path) for path in temporary]
    written, skipped = [0] * num_shards, []
    bar = progress_bar(total, unit_name="video") if progress else None

    def convert(row):
        return encode_video(source.paths[row], source.labels[row], row, source.video_ids[row],
                            short_side, fps, jpeg_quality, timeout)

    def store(row, future):
        try:
            record = future.result()
        except VideoDecodeError as error:
            if strict:
                raise
            error_log.record(error.path, error.reason)
            skipped.append(error.path)
        else:
            writers[row % num_shards].write(record)
            written[row % num_shards] += 1
        if bar is not None:
            bar.add(1)

    workers = num_workers or os.cpu_count()
    try:
        with concurrent.futures.ThreadPoolExecutor(workers) as pool:
            # A bounded window of videos in flight, written in order: memory stays flat and
            # shard contents do not depend on thread timing.
            pending = collections.deque()
            for row in range(total):
                pending.append((row, pool.submit(convert, row)))
                if len(pending) > 2 * workers:
                    store(*pending.popleft())
            while pending:
                store(*pending.popleft())
    except BaseException:
        for writer, path in zip(writers, temporary):
            writer.close()
            os.remove(path)
        raise
    for writer, path, name in zip(writers, temporary, final):
        writer.close()
        os.replace(path, name)
    metadata = dict(class_names=list(source.class_names), num_videos=sum(written),
                    shards=[os.path.basename(p) for p in final], videos_per_shard=written,
                    skipped=skipped, short_side=short_side, fps=fps, jpeg_quality=jpeg_quality)
    with open(os.path.join(output_dir, f"{prefix}.json"), "w") as f:
        json.dump(metadata, f, indent=1)
    return final


def read_metadata(output_dir, prefix="videos"):
    with open(os.path.join(output_dir, f"{prefix}.json")) as f:
        return json.load(f)


_CONTEXT = {"label": tf.io.FixedLenFeature([], tf.int64), "index": tf.io.FixedLenFeature([], tf.int64),
            "fps": tf.io.FixedLenFeature([], tf.float32),
            "video_id": tf.io.FixedLenFeature([], tf.string)}
_SEQUENCE = {"frames": tf.io.FixedLenSequenceFeature([], tf.string)}


def decoded_clips_from_shards(files, sampler, *, shuffle=False, shuffle_buffer=256, seed=None,
                              repeat=False, cycle_length=8, num_parallel_calls=AUTOTUNE,
                              deterministic=None):
    """`(clips uint8 (C, T, H, W, 3), label, index)` per video of the shards, the same elements
    as `datasets.decoded_clips`: shards are read with a parallel interleave, and only the JPEGs
    of the sampled frames are decoded, in the graph."""
    files = tf.data.Dataset.from_tensor_slices(list(files))
    if shuffle:
        files = files.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
    records = files.interleave(tf.data.TFRecordDataset, cycle_length=cycle_length,
                               num_parallel_calls=num_parallel_calls, deterministic=deterministic)
    if shuffle:
        records = records.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    if repeat:
        records = records.repeat()
    draws = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)

    def choose(count, fps, draw):
        return sampler(int(count), float(fps), np.random.default_rng(int(draw) & 0x7FFFFFFFFFFFFFFF))

    def decode(serialized, draw):
        context, sequence = tf.io.parse_single_sequence_example(serialized, _CONTEXT, _SEQUENCE)
        jpegs = sequence["frames"]
        indices = tf.numpy_function(choose, [tf.shape(jpegs)[0], context["fps"], draw], tf.int64,
                                    stateful=True)
        indices.set_shape([None, sampler.num_frames])
        frames = tf.map_fn(lambda jpeg: tf.io.decode_jpeg(jpeg, channels=3),
                           tf.gather(jpegs, tf.reshape(indices, [-1])),
                           fn_output_signature=tf.TensorSpec([None, None, 3], tf.uint8))
        shape = tf.concat([tf.shape(indices), tf.shape(frames)[1:]], 0)
        clips = tf.reshape(frames, shape)
        clips.set_shape([None, sampler.num_frames, None, None, 3])
        return clips, tf.cast(context["label"], tf.int32), tf.cast(context["index"], tf.int32)

    return tf.data.Dataset.zip(records, draws).map(decode, num_parallel_calls=num_parallel_calls,
                                                   deterministic=deterministic)


def tfrecord_dataset(directory, *, prefix="videos", num_frames=16, stride=2, seconds=None,
                     training=False, sampler=None, num_clips=1, short_video="loop",
                     shuffle=None, shuffle_buffer=256, repeat=False, seed=None, cycle_length=8,
                     num_parallel_calls=AUTOTUNE, deterministic=None, **finish_kwargs):
    """`video_dataset`'s batches, read from the shards `write_tfrecords` wrote to `directory`.

    Takes `video_dataset`'s clip, transform and batching arguments; the frame rate and decode
    size are those the shards were written with.
    """
    metadata = read_metadata(directory, prefix)
    files = [os.path.join(directory, name) for name in metadata["shards"]]
    if sampler is None:
        sampler = default_sampler(training, num_frames, stride, seconds, num_clips, short_video)
    shuffle = training if shuffle is None else shuffle
    clips = decoded_clips_from_shards(files, sampler, shuffle=shuffle, shuffle_buffer=shuffle_buffer,
                                      seed=seed, repeat=repeat, cycle_length=cycle_length,
                                      num_parallel_calls=num_parallel_calls,
                                      deterministic=deterministic)
    dataset = finish(clips, training=training, num_classes=len(metadata["class_names"]), seed=seed,
                     num_parallel_calls=num_parallel_calls, deterministic=deterministic,
                     **finish_kwargs)
    dataset.class_names = metadata["class_names"]
    return dataset
