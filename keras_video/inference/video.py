"""Whole videos through a model: cut into windows of the model's clip, each window classified
(a timeline and the video's verdict) or turned into a feature vector (for temporal action
localisation and retrieval, which consume clip features at a fixed stride)."""
import dataclasses
import os
import re

import keras
import numpy as np

from keras_video import presets
from keras_video.data import DenseClipSampler, VideoReader, transforms
from keras_video.inference.labels import check_top_k, top_classes
from keras_video.inference.models import keras_model
from keras_video.inference.predictors import load
from keras_video.suggestions import did_you_mean

FEATURE_FORMATS = ("npy", "npz")


def _clip_plan(clip, clip_shape, window, frame_stride, fps, size):
    """The ClipSpec to decode with, from the model's, the input shape it fixes (frames,
    height, width; None where open) and the caller's choices."""
    fixed_t, fixed_h, fixed_w = clip_shape
    if window and fixed_t and window != fixed_t:
        raise ValueError(f"the model takes clips of {fixed_t} frames; window={window} does not "
                         "fit it (export with --frames to change the clip length)")
    if size and fixed_h and (size, size) != (fixed_h, fixed_w):
        raise ValueError(f"the model takes {fixed_h} x {fixed_w} frames; size={size} does not "
                         "fit it")
    crop = (fixed_h, fixed_w) if fixed_h and fixed_w else ((size, size) if size else clip.crop)
    # Resize as the weights expect: the spec's short side for its own crop, scaled with it.
    short_side = round(clip.resize_to() * min(crop) / min(clip.crop))
    plan = dataclasses.replace(clip, frames=fixed_t or window or clip.frames, crop=crop,
                               short_side=max(short_side, min(crop)),
                               frame_stride=frame_stride or clip.frame_stride,
                               fps=fps or clip.fps)
    return plan


class VideoWindows:
    """The windows of one video, decoded as `clip` says (resampled to `clip.fps`, every
    `clip.frame_stride` frames, short side resized, centre crop). Windows start every `step`
    frames (default: one after the other); the last ends at the video's end; a short video is
    padded with its last frame. A context manager: the file stays open until it exits.

    `indices` (windows, frames) index the decoded frames; `start_sec` / `end_sec` per window;
    `fps`, `duration` of the decoding."""

    def __init__(self, path, clip, step=None):
        self.clip = clip
        sampler = DenseClipSampler(clip.frames, stride=clip.frame_stride, step=step,
                                   short_video="pad")
        self.reader = VideoReader(path, fps=clip.fps, short_side=clip.resize_to())
        self.indices = np.asarray(sampler(self.reader.num_frames, self.reader.fps))
        times = np.asarray(self.reader.timestamps, np.float64)
        self.fps, self.duration = float(self.reader.fps), float(self.reader.duration)
        self.start_sec = times[self.indices[:, 0]]
        self.end_sec = times[self.indices[:, -1]] + 1.0 / self.fps

    def batches(self, batch_size=8):
        """uint8 clip batches `(batch, frames, height, width, 3)`, in window order."""
        for first in range(0, len(self.indices), batch_size):
            yield np.stack([transforms.center_crop(self.reader.get(w), self.clip.crop).numpy()
                            for w in self.indices[first:first + batch_size]])

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.reader.close()


def classify_video(predictor, path, *, window=None, stride=None, frame_stride=None, size=None,
                   fps=None, top_k=5, batch_size=8):
    """Top-k classes of the video at `path` and of each window of it, with any `Predictor`.

    Windows follow the model's clip spec (`predictor.clip`: frames, frame stride, fps, short
    side, crop), which `window`, `frame_stride`, `fps` and `size` (the crop) override where the
    model leaves them open; they start every `stride` frames (default: one after the other).
    The video's scores are the mean of its windows'. Returns a dict with `top` and a
    `timeline` of windows (start and end in seconds, their own `top`).
    """
    check_top_k(top_k)  # before the video is decoded
    clip = _clip_plan(predictor.clip, predictor.clip_shape, window, frame_stride, fps, size)
    with VideoWindows(path, clip, stride) as windows:
        scores = np.concatenate([predictor(batch) for batch in windows.batches(batch_size)])
    names = predictor.class_names
    timeline = [{"start_sec": round(float(start), 3), "end_sec": round(float(end), 3),
                 "top": top_classes(s, names, top_k)}
                for start, end, s in zip(windows.start_sec, windows.end_sec, scores)]
    return {"video": os.fspath(path), "fps": windows.fps, "duration_sec": windows.duration,
            "window": clip.frames, "frame_stride": clip.frame_stride,
            "size": list(clip.crop), "format": predictor.format,
            "top": top_classes(scores.mean(0), names, top_k), "timeline": timeline}


def feature_model(model, layer=None):
    """`model` up to `layer` (default: the zoo network's last backbone feature map), averaged
    over time and space: one vector per clip."""
    name = layer or getattr(model, "feature_layer", None)
    if name is None:
        raise ValueError(f"{model.name} names no feature layer: pass layer=NAME (one of its "
                         "layers)")
    try:
        output = model.get_layer(name).output
    except ValueError:
        raise ValueError(f"{model.name} has no layer {name!r}"
                         f"{did_you_mean(name, [l.name for l in model.layers])}") from None
    if len(output.shape) == 5:
        output = keras.layers.GlobalAveragePooling3D(name="feature_pool")(output)
    elif len(output.shape) != 2:
        raise ValueError(f"layer {name!r} gives {tuple(output.shape)}; features are taken from "
                         "5D feature maps (pooled) or vectors")
    return keras.Model(model.input, output, name=f"{model.name}_features")  # see outputs.py


def extract_features(model, path, *, layer=None, window=None, stride=None, frame_stride=None,
                     fps=None, size=None, batch_size=8, features=None):
    """One feature vector per window of the video at `path` (see `classify_video` for the
    windows): `{"features": (windows, channels) float32, "start_sec", "end_sec", ...}`.
    `features`: `feature_model(model, layer)` where it is built once for many videos."""
    features = feature_model(model, layer) if features is None else features
    clip = _clip_plan(presets.model_clip(model), model.inputs[0].shape[1:4], window,
                      frame_stride, fps, size)
    normalise = not clip.takes_pixels
    rows = []
    with VideoWindows(path, clip, stride) as windows:
        for batch in windows.batches(batch_size):
            batch = batch.astype(np.float32)
            if normalise:
                batch = (batch / 255.0 - np.asarray(clip.mean)) / np.asarray(clip.std)
            rows.append(np.asarray(features(batch, training=False), np.float32))
    return {"video": os.fspath(path), "features": np.concatenate(rows),
            "start_sec": windows.start_sec, "end_sec": windows.end_sec, "fps": windows.fps,
            "window": clip.frames, "frame_stride": clip.frame_stride, "stride": stride,
            "layer": layer or model.feature_layer}


def _check_format(fmt):
    if fmt not in FEATURE_FORMATS:
        raise ValueError(f"format must be one of {', '.join(FEATURE_FORMATS)}, got {fmt!r}")


def write_features(result, out_dir, fmt="npy"):
    """Writes `extract_features`' result for one video under `out_dir`: `NAME.npy` (windows x
    channels) and `NAME.timestamps.npy` (windows x 2: start, end in seconds), or one
    `NAME.npz` with `features`, `start_sec`, `end_sec`. Returns the paths written."""
    _check_format(fmt)
    os.makedirs(out_dir, exist_ok=True)
    stem = os.path.join(out_dir, os.path.splitext(os.path.basename(result["video"]))[0])
    if fmt == "npz":
        np.savez(stem + ".npz", features=result["features"], start_sec=result["start_sec"],
                 end_sec=result["end_sec"])
        return [stem + ".npz"]
    np.save(stem + ".npy", result["features"])
    np.save(stem + ".timestamps.npy", np.stack([result["start_sec"], result["end_sec"]], 1))
    return [stem + ".npy", stem + ".timestamps.npy"]


# Keras wraps an error raised inside a layer as this line, a blank line, the error's own
# message (in bold: ANSI codes) and the layer's arguments.
_KERAS_LAYER_ERROR = re.compile(r"Exception encountered when calling (?:layer )?'?([\w.]+?)'?"
                                r"(?:\.call)?\(\)\.?$")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def one_line(error):
    """An exception as one line: its message's first line (for an error Keras raised inside a
    layer, the layer and the error's own first line), with its type where the message does not
    say it."""
    lines = [line.strip() for line in _ANSI.sub("", str(error)).splitlines() if line.strip()]
    text = lines[0] if lines else type(error).__name__
    inside = _KERAS_LAYER_ERROR.match(text)
    if inside and len(lines) > 1:
        text = f"{inside.group(1)}: {lines[1]}"
    return text if isinstance(error, (ValueError, OSError)) else f"{type(error).__name__}: {text}"


def _video_list(videos):
    """`videos` as a sequence of paths: one path is one video, not its characters."""
    return [videos] if isinstance(videos, (str, os.PathLike)) else videos


def _check_on_error(on_error):
    if on_error not in ("report", "raise"):
        raise ValueError(f"on_error must be 'report' or 'raise', got {on_error!r}")


def classify_videos(videos, model, *, class_names=None, weights=None, on_error="report",
                    **options):
    """`classify_video` for each of `videos` (paths, or one path) with one model (anything
    `load` takes), yielding each video's result, or `{"video", "error"}` for a video that
    fails (unreadable, too short, ...): one bad file costs only its own result.
    `on_error="raise"` raises the first failure instead (`--debug` shows its traceback)."""
    _check_on_error(on_error)
    if "top_k" in options:
        check_top_k(options["top_k"])  # one error, not one per video
    predictor = load(model, class_names=class_names, weights=weights)
    for video in _video_list(videos):
        try:
            yield classify_video(predictor, video, **options)
        except Exception as error:  # each video reports its own failure; the others go on
            if on_error == "raise":
                raise
            yield {"video": os.fspath(video), "error": one_line(error)}


def features_of_videos(videos, model, out_dir, *, weights=None, fmt="npy", on_error="report",
                       **options):
    """`extract_features` for each of `videos` (paths, or one path), written under `out_dir`
    (`write_features`); yields `{"video", "paths", "windows", "channels"}` or
    `{"video", "error"}` per video (`on_error="raise"`: raises the first failure)."""
    _check_on_error(on_error)
    _check_format(fmt)
    keras_net = keras_model(model, weights)
    # Built once: a wrong layer is one error, not one per video.
    features = feature_model(keras_net, options.get("layer"))
    named = {}  # file name without extension -> the video whose features have it
    for video in _video_list(videos):
        name = os.path.splitext(os.path.basename(os.fspath(video)))[0]
        if name in named:  # a/v.mp4 and b/v.mp4, or v.mp4 and v.mkv: one file name
            yield {"video": os.fspath(video), "error": f"not written: its features would "
                   f"replace those of {named[name]} ({name}.{fmt} in {out_dir}); give the "
                   "videos distinct names or separate output folders"}
            continue
        try:
            result = extract_features(keras_net, video, features=features, **options)
            paths = write_features(result, out_dir, fmt)
            named[name] = os.fspath(video)  # only a video whose files were written claims them
            yield {"video": os.fspath(video), "paths": paths,
                   "windows": int(result["features"].shape[0]),
                   "channels": int(result["features"].shape[1])}
        except Exception as error:  # each video reports its own failure; the others go on
            if on_error == "raise":
                raise
            yield {"video": os.fspath(video), "error": one_line(error)}
