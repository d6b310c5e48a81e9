"""Training-pipeline throughput: clips/s of 16 frames, stride 2, 224 crop, from a folder of 320p
H.264 files and from the same videos as TFRecord shards, beside a naive baseline that decodes
every video whole, and decord where it is importable.

    python benchmarks/data_pipeline.py [--videos 24] [--seconds 10] [--clips 96]

Each row reads the same videos through the same training transforms (scale jitter 256-320,
random 224 crop, flip) with the same parallelism; only the way frames are obtained differs.
"""
import argparse
import os
import tempfile
import time

import numpy as np
import tensorflow as tf

from keras_video import data
from keras_video.data import annotations, datasets


def write_videos(root, count, seconds, fps=25):
    """320p H.264 (568x320) at a typical web quality: textured patterns drifting by."""
    rng = np.random.default_rng(0)
    height, width = 320, 568
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    for k in range(count):
        class_dir = os.path.join(root, f"class_{k % 4}")
        os.makedirs(class_dir, exist_ok=True)
        freq = rng.uniform(0.02, 0.08, size=3)
        frames = np.empty((seconds * fps, height, width, 3), np.uint8)
        for t in range(len(frames)):
            for c in range(3):
                frames[t, ..., c] = 127 + 120 * np.sin(freq[c] * (x + 3 * t) + freq[c - 1] * (y - 2 * t))
        data.write_video(os.path.join(class_dir, f"video_{k:03d}.mp4"), frames, fps=fps, quality=23)


def naive_decoded_clips(source, sampler):
    """The baseline: decode each video whole at full size, then take the clip."""
    import av

    def decode(index, draw):
        with av.open(source.paths[int(index)]) as container:
            frames = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])
        indices = sampler(len(frames), 25.0, np.random.default_rng(int(draw) & 0x7FFFFFFF))
        return frames[indices]

    return _python_decoded(source, decode, sampler.num_frames)


def decord_decoded_clips(source, sampler):
    import decord

    def decode(index, draw):
        reader = decord.VideoReader(source.paths[int(index)], width=-1, height=-1)
        indices = sampler(len(reader), reader.get_avg_fps(), np.random.default_rng(int(draw) & 0x7FFFFFFF))
        return reader.get_batch(indices.reshape(-1)).asnumpy().reshape(indices.shape + (320, 568, 3))

    return _python_decoded(source, decode, sampler.num_frames)


def _python_decoded(source, decode, num_frames):
    rows = tf.data.Dataset.from_tensor_slices((np.arange(len(source), dtype=np.int64),
                                               np.asarray(source.labels, np.int32))).repeat()
    draws = tf.data.Dataset.random(seed=0)

    def op(row, draw):
        clips = tf.numpy_function(decode, [row[0], draw], tf.uint8, stateful=True)
        clips.set_shape([None, num_frames, None, None, 3])
        return clips, row[1], tf.cast(row[0], tf.int32)

    return tf.data.Dataset.zip(rows, draws).map(op, num_parallel_calls=data.datasets.AUTOTUNE)


def clips_per_second(dataset, clips, batch_size):
    iterator = iter(dataset)
    next(iterator)  # warm-up: graph building, first files
    start = time.perf_counter()
    for _ in range(clips // batch_size):
        next(iterator)
    return (clips // batch_size) * batch_size / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--videos", type=int, default=24)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--clips", type=int, default=96)
    parser.add_argument("--batch", type=int, default=8)
    args = parser.parse_args()
    transform = dict(training=True, crop_size=224, scale_jitter=(256, 320), batch_size=args.batch)
    sampler = data.RandomClipSampler(16, 2)
    with tempfile.TemporaryDirectory() as root:
        folder = os.path.join(root, "videos")
        start = time.perf_counter()
        write_videos(folder, args.videos, args.seconds)
        print(f"wrote {args.videos} videos of {args.seconds} s at 568x320 in "
              f"{time.perf_counter() - start:.0f} s")
        source = annotations.from_directory(folder)
        start = time.perf_counter()
        data.write_tfrecords(source, os.path.join(root, "shards"), num_shards=4, short_side=320,
                             progress=False)
        print(f"converted to TFRecord shards (short side 320, JPEG 90) in "
              f"{time.perf_counter() - start:.0f} s")

        rows = []
        rows.append(("video files, keras-video (seek + decode-time resize)", clips_per_second(
            data.video_dataset(source, num_frames=16, stride=2, repeat=True, **transform),
            args.clips, args.batch)))
        rows.append(("TFRecord shards of JPEG frames", clips_per_second(
            data.tfrecord_dataset(os.path.join(root, "shards"), num_frames=16, stride=2,
                                  repeat=True, **transform), args.clips, args.batch)))
        rows.append(("naive: decode whole video, then sample", clips_per_second(
            datasets.finish(naive_decoded_clips(source, sampler), num_classes=4, **transform),
            args.clips, args.batch)))
        try:
            import decord  # noqa: F401
        except ImportError:
            rows.append(("decord", None))
        else:
            rows.append(("decord VideoReader", clips_per_second(
                datasets.finish(decord_decoded_clips(source, sampler), num_classes=4, **transform),
                args.clips, args.batch)))
    baseline = rows[2][1]
    print(f"\n16 frames, stride 2, 224 crop, batch {args.batch}, {os.cpu_count()} cores\n")
    print(f"| pipeline | clips/s | vs naive |\n| --- | ---: | ---: |")
    for name, rate in rows:
        if rate is None:
            print(f"| {name} | not importable here | |")
        else:
            print(f"| {name} | {rate:.1f} | {rate / baseline:.2f}x |")


if __name__ == "__main__":
    main()
