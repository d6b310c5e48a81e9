"""From a list of videos to batched, augmented `(clip, label)` in a `tf.data.Dataset`.

Two stages shared by every source (files or TFRecord shards):
1. `decoded_clips`: per video, the sampled clips as uint8 `(clips, T, H, W, 3)`, its label and
   index; decoding runs in parallel Python threads (PyAV releases the GIL) and bad videos are
   skipped, logged once and counted (`strict=True` raises instead).
2. `finish`: training or evaluation transforms as graph ops, views folded into the batch where
   there are several per video, batching, MixUp/CutMix, prefetch.
"""
import os

import numpy as np
import tensorflow as tf

from keras_video.data import annotations, transforms
from keras_video.data.decoding import VideoDecodeError, VideoReader
from keras_video.data.errors import DECODE_ERRORS, FailureStreak
from keras_video.data.sampling import ClipTooLong, RandomClipSampler, UniformClipSampler

AUTOTUNE = tf.data.AUTOTUNE


def default_sampler(training, num_frames, stride, seconds=None, num_clips=1, short_video="loop"):
    """A random clip for training; `num_clips` evenly spread clips for evaluation."""
    if training:
        return RandomClipSampler(num_frames, stride, seconds=seconds, short_video=short_video)
    return UniformClipSampler(num_frames, stride, num_clips=num_clips, seconds=seconds,
                              short_video=short_video)


def decoded_clips(source, sampler, *, fps=None, short_side=None, shuffle=False, seed=None,
                  repeat=False, num_parallel_calls=AUTOTUNE, deterministic=None, strict=False,
                  error_log=None, timeout=30.0, cache=None):
    """`(clips uint8 (C, T, H, W, 3), label int32, index int32)` per readable video of `source`
    (an `annotations.VideoList`); `index` is the video's row, its id for multi-view averaging.

    `cache` ("memory" or a file path prefix for `tf.data.Dataset.cache`) decodes each video once
    and replays its clips in later epochs, reshuffled: the clip drawn from a video in the first
    pass is the one it gives every epoch (spatial augmentation still varies). Worth it when
    decoding is a large share of the step and the videos are about as long as the clips.

    With `repeat`, once every video of the list has failed since the last one that decoded,
    the dataset raises `errors.NoVideoDecodes` (wrapped in a TensorFlow error) where it would
    otherwise search forever for a readable video."""
    error_log = DECODE_ERRORS if error_log is None else error_log
    paths = list(source.paths)
    if not paths:
        raise ValueError("the video list is empty")
    num_frames = sampler.num_frames
    streak = FailureStreak(paths, error_log) if repeat else None

    def decode(index, draw):
        path = paths[int(index)]
        try:
            with VideoReader(path, fps=fps, short_side=short_side, timeout=timeout) as reader:
                rng = np.random.default_rng(int(draw) & 0x7FFFFFFFFFFFFFFF)
                try:
                    indices = sampler(reader.num_frames, reader.fps, rng)
                except ClipTooLong as error:
                    raise VideoDecodeError(path, f"too short: {error}") from None
                frames = reader.get(indices.reshape(-1))
        except VideoDecodeError as error:
            if strict:
                raise
            error_log.record(path, error.reason)
            if streak is not None:
                streak.failed(path, error.reason)
            return np.zeros((0, num_frames, 1, 1, 3), np.uint8), False
        if streak is not None:
            streak.decoded()
        return frames.reshape(indices.shape + frames.shape[1:]), True

    def decode_op(index, draw, label):
        clips, ok = tf.numpy_function(decode, [index, draw], [tf.uint8, tf.bool], stateful=True)
        clips.set_shape([None, num_frames, None, None, 3])
        ok.set_shape([])
        return clips, label, tf.cast(index, tf.int32), ok

    if cache is not None and not isinstance(cache, (str, os.PathLike)):
        raise TypeError(f"cache must be None, 'memory' or a file path prefix, got {cache!r}")

    def order(dataset):
        if shuffle:
            dataset = dataset.shuffle(len(paths), seed=seed, reshuffle_each_iteration=True)
        return dataset.repeat() if repeat else dataset

    rows = tf.data.Dataset.from_tensor_slices((np.arange(len(paths), dtype=np.int64),
                                               np.asarray(source.labels, np.int32)))
    if cache is None:
        rows = order(rows)
    # One random draw per element, different every epoch, reproducible for a given seed.
    draws = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
    dataset = tf.data.Dataset.zip(rows, draws).map(
        lambda row, draw: decode_op(row[0], draw, row[1]),
        num_parallel_calls=num_parallel_calls, deterministic=deterministic)
    dataset = dataset.filter(lambda clips, label, index, ok: ok)
    dataset = dataset.map(lambda clips, label, index, ok: (clips, label, index))
    if cache is not None:
        dataset = order(dataset.cache("" if cache == "memory" else os.fspath(cache)))
    return dataset



def _seeds(seed):
    """A stream of stateless-op seeds `(2,)`, different every epoch, reproducible for a seed."""
    return tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)


def finish(dataset, *, training, crop_size=224, scale_jitter=(256, 320), flip=True, num_crops=1,
           num_classes=None, label_mode="int", batch_size=8, mix=None, seed=None,
           num_parallel_calls=AUTOTUNE, deterministic=None, drop_remainder=False,
           with_video_ids=False, dtype="float32"):
    """Transforms and batches `(clips, label, index)` elements from `decoded_clips`.

    Training: each clip gets scale jitter (short side uniform in `scale_jitter`; None keeps the
    size), a random `crop_size` crop and, with `flip`, a random horizontal flip. Evaluation:
    short side scaled to `crop_size`, then a centre crop (`num_crops=1`) or three crops along
    the long side (`num_crops=3`); every clip x crop is a view, folded into the batch.
    `label_mode` "int" gives int32 class indices, "categorical" one-hot float32 (needed by
    `mix`: "mixup" or "cutmix", applied per batch). `with_video_ids` adds each view's video
    index as a third element (multi-view evaluation averages predictions over it).
    """
    if label_mode not in ("int", "categorical"):
        raise ValueError(f"label_mode must be 'int' or 'categorical', got {label_mode!r}")
    if label_mode == "categorical" and not num_classes:
        raise ValueError("label_mode='categorical' needs num_classes")
    if mix not in (None, "mixup", "cutmix"):
        raise ValueError(f"mix must be None, 'mixup' or 'cutmix', got {mix!r}")
    if mix and label_mode != "categorical":
        raise ValueError(f"mix={mix!r} mixes labels: use label_mode='categorical'")
    if num_crops not in (1, 3):
        raise ValueError(f"num_crops must be 1 or 3, got {num_crops}")
    size = int(crop_size)

    def views(clips, label, index):  # every view of one video, as its own element
        count = tf.shape(clips)[0]
        return tf.data.Dataset.from_tensor_slices((clips, tf.fill([count], label),
                                                   tf.fill([count], index)))

    if training:
        def augment(element, seed_pair):
            (clip, label, index) = element
            seed_a, seed_b, seed_c = (seed_pair + k for k in (0, 1, 2))
            if scale_jitter is not None:
                clip = transforms.random_short_side_scale(clip, *scale_jitter, seed=seed_a)
            clip = transforms.random_crop(clip, size, seed=seed_b)
            clip = transforms.random_flip(clip, enabled=flip, seed=seed_c)
            return clip, label, index

        dataset = dataset.flat_map(views)
        dataset = tf.data.Dataset.zip(dataset, _seeds(seed)).map(
            augment, num_parallel_calls=num_parallel_calls, deterministic=deterministic)
    else:
        def crops(clips, label, index):
            shape = tf.shape(clips)
            frames = tf.reshape(clips, tf.concat([[-1], shape[2:]], 0))
            frames = transforms.short_side_scale(frames, size)
            if num_crops == 1:
                out = transforms.center_crop(frames, size)
            else:
                # (crops, clips * T, ...) -> (clips * crops, T, ...), clip-major order, with a
                # gather: TensorFlow's oneDNN build logs an error line for a uint8 Transpose.
                out = transforms.three_crop(frames, size)
                view = tf.range(num_crops * shape[0])
                out = tf.gather(tf.reshape(out, [num_crops * shape[0], -1]),
                                view % num_crops * shape[0] + view // num_crops)
            out = tf.reshape(out, [-1, shape[1], size, size, 3])
            count = tf.shape(out)[0]
            return out, tf.fill([count], label), tf.fill([count], index)

        dataset = dataset.map(crops, num_parallel_calls=num_parallel_calls,
                              deterministic=deterministic).unbatch()

    def labels_and_dtype(clip, label, index):
        clip = tf.cast(clip, dtype)
        if label_mode == "categorical":
            label = tf.one_hot(label, num_classes, dtype=tf.float32)
        return clip, label, index

    dataset = dataset.map(labels_and_dtype, num_parallel_calls=num_parallel_calls,
                          deterministic=deterministic)
    dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)
    if mix:
        mixer = transforms.mixup if mix == "mixup" else transforms.cutmix
        dataset = tf.data.Dataset.zip(dataset, _seeds(seed)).map(
            lambda batch, seed_pair: (*mixer(tf.cast(batch[0], "float32"), batch[1], seed=seed_pair),
                                      batch[2]),
            num_parallel_calls=num_parallel_calls, deterministic=deterministic)
    if not with_video_ids:
        dataset = dataset.map(lambda clip, label, index: (clip, label))
    return dataset.prefetch(AUTOTUNE)


def video_dataset(source, *, num_frames=16, stride=2, seconds=None, fps=None, training=False,
                  sampler=None, num_clips=1, short_video="loop", decode_short_side=None,
                  crop_size=224, scale_jitter=(256, 320), flip=True, num_crops=1,
                  label_mode="int", batch_size=8, shuffle=None, repeat=False, mix=None,
                  seed=None, num_parallel_calls=AUTOTUNE, deterministic=None,
                  drop_remainder=False, with_video_ids=False, strict=False, error_log=None,
                  timeout=30.0, dtype="float32", cache=None):
    """A `tf.data.Dataset` of `(clip, label)` batches from an `annotations.VideoList`.

    Clips are `num_frames` frames every `stride` frames (or spread over `seconds`), at the
    file's frame rate or resampled to `fps`. `training=True` samples a random clip per video
    and augments it (scale jitter, random crop, flip) and shuffles by default; otherwise
    `num_clips` evenly spread clips x `num_crops` crops per video (10 x 3 in the CSN paper).
    `decode_short_side` resizes while decoding, which is cheaper than resizing afterwards
    (default: the top of `scale_jitter` for training, `crop_size` for evaluation).
    Unreadable videos are skipped and recorded in `error_log` (default
    `keras_video.data.DECODE_ERRORS`), or raise with `strict=True`. `cache` keeps the decoded
    clips after the first pass (see `decoded_clips`).
    """
    if sampler is None:
        sampler = default_sampler(training, num_frames, stride, seconds, num_clips, short_video)
    if decode_short_side is None:
        decode_short_side = (scale_jitter[1] if scale_jitter else None) if training else crop_size
    shuffle = training if shuffle is None else shuffle
    clips = decoded_clips(source, sampler, fps=fps, short_side=decode_short_side,
                          shuffle=shuffle, seed=seed, repeat=repeat,
                          num_parallel_calls=num_parallel_calls, deterministic=deterministic,
                          strict=strict, error_log=error_log, timeout=timeout, cache=cache)
    return finish(clips, training=training, crop_size=crop_size, scale_jitter=scale_jitter,
                  flip=flip, num_crops=num_crops, num_classes=len(source.class_names),
                  label_mode=label_mode, batch_size=batch_size, mix=mix, seed=seed,
                  num_parallel_calls=num_parallel_calls, deterministic=deterministic,
                  drop_remainder=drop_remainder, with_video_ids=with_video_ids, dtype=dtype)


def video_dataset_from_directory(directory, *, class_names=None, **kwargs):
    """`video_dataset` over a folder with one sub-folder of videos per class, like
    `keras.utils.image_dataset_from_directory`; the dataset's `class_names` attribute lists
    them."""
    source = annotations.from_directory(directory, class_names=class_names)
    dataset = video_dataset(source, **kwargs)
    dataset.class_names = list(source.class_names)
    return dataset
