"""Classifying video files with any model form (`keras_video.export.load`): the video cut into
windows of the model's clip length, each window classified, a timeline and a video verdict."""
import os

import numpy as np

from keras_video.export.signatures import DEFAULT_FRAMES, DEFAULT_SIZE


def classify_video(predictor, path, *, window=None, stride=None, frame_stride=1, size=None,
                   fps=None, top_k=5, batch_size=8):
    """Top-k classes of the video at `path` and of each window of it.

    Windows are `window` frames (default: the model's clip length, else 16) taken every
    `frame_stride` frames, starting every `stride` frames (default: one window after the
    other), the last one ending at the video's end; frames are resized (short side) and
    centre-cropped to the model's size (else `size`, default 224). The video's scores are the
    mean of its windows'. Returns a dict with `top` and a `timeline` of windows (start and end
    in seconds, their own `top`).
    """
    from keras_video.data import DenseClipSampler, VideoReader, transforms

    frames, height, width = _clip_size(predictor.clip_shape, window, size)
    sampler = DenseClipSampler(frames, stride=frame_stride, step=stride, short_video="pad")
    with VideoReader(path, fps=fps, short_side=min(height, width)) as reader:
        windows = sampler(reader.num_frames, reader.fps)
        times, fps_used, duration = reader.timestamps, reader.fps, reader.duration
        scores = []
        for first in range(0, len(windows), batch_size):
            clips = [transforms.center_crop(reader.get(indices), (height, width)).numpy()
                     for indices in windows[first:first + batch_size]]
            scores.append(predictor(np.stack(clips)))
    scores = np.concatenate(scores)
    names = predictor.class_names
    timeline = [{"start_sec": round(float(times[w[0]]), 3),
                 "end_sec": round(float(times[w[-1]] + 1.0 / fps_used), 3),
                 "top": top_classes(s, names, top_k)} for w, s in zip(windows, scores)]
    return {"video": os.fspath(path), "fps": float(fps_used), "duration_sec": float(duration),
            "window": frames, "size": [height, width], "format": predictor.format,
            "top": top_classes(scores.mean(0), names, top_k), "timeline": timeline}


def top_classes(scores, class_names, k):
    order = np.argsort(-scores, kind="stable")[:k]
    return [{"class": class_names[i], "score": round(float(scores[i]), 6)} for i in order]


def _clip_size(clip_shape, window, size):
    fixed_t, fixed_h, fixed_w = clip_shape
    if window and fixed_t and window != fixed_t:
        raise ValueError(f"the model takes clips of {fixed_t} frames; window={window} does not "
                         "fit it (export with --frames to change the clip length)")
    if size and fixed_h and (size, size) != (fixed_h, fixed_w):
        raise ValueError(f"the model takes {fixed_h} x {fixed_w} frames; size={size} does not "
                         "fit it")
    frames = fixed_t or window or DEFAULT_FRAMES
    return frames, fixed_h or size or DEFAULT_SIZE, fixed_w or size or DEFAULT_SIZE
