"""Action detection on a whole video: the detector on a clip around every key frame, the
per-frame detections linked into action tubes, and the video drawn with its tubes.

The video is decoded whole once (the task's videos are clips of seconds: JHMDB, UCF101-24) and
every clip is cut from memory; clip frames outside the video follow `edge` as in
`pipeline.clip_indices` ("pad" by default, so a video shorter than the clip still runs).
Boxes are the video's pixels `x1, y1, x2, y2`; frames are 1-based, as in the ground truth.
"""
import os

import numpy as np

from keras_video.detection import pipeline, training, tubes
from keras_video.detection.model import ActionDetector, class_names_of

# Tube colours by label (RGB), cycling where there are more classes.
_PALETTE = ((230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48),
            (145, 30, 180), (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212))


def load_detector(model):
    """An `ActionDetector` from a model, a preset directory / registered preset name or a
    `.keras` file, with its class names (`model.preset.class_names`, when it has them)."""
    if isinstance(model, ActionDetector):
        return model
    if not isinstance(model, (str, os.PathLike)):
        raise TypeError(f"model must be an ActionDetector, a preset or a .keras file, got "
                        f"{type(model).__name__}")
    path = os.fspath(model)
    if path.endswith(".keras"):
        import keras
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{path}: no such file")
        loaded = keras.saving.load_model(path)
    else:
        from keras_video import presets
        loaded = presets.load(path)
    if not isinstance(loaded, ActionDetector):
        raise ValueError(f"{path} holds a {type(loaded).__name__}, not an action detector")
    return loaded


def detect_video(model, path, *, class_names=None, stride=1, edge="pad", key_frame_step=1,
                 batch_size=8, min_score=0.05, link=None):
    """Detects the actions in the video (file or folder of frames) at `path`.

    `model`: anything `load_detector` takes, with learned proposals. The clip is the detector's input (`num_frames`
    every `stride` frames around the key frame, resized to its size); a key frame every
    `key_frame_step` frames. Detections scoring below `min_score` are dropped, the rest linked
    with `tubes.link_tubes` (keywords `link`; `min_length` capped at the video's length).

    Returns `{"video", "frames", "height", "width", "detections", "tubes"}`: `detections` the
    rows `(0, frame, label index, score, x1, y1, x2, y2)`, `tubes` a list of `{"label",
    "label_id", "score", "frames", "boxes"}` by descending score (frames 1-based, one box per
    frame from the tube's first to its last)."""
    model = load_detector(model)
    if model.proposals != "learned":
        raise ValueError("this detector takes external proposals (boxes from a person "
                         "detector); detect_video needs one that finds the actors itself")
    names = class_names_of(model, class_names)
    num_frames, height, width = tuple(model.backbone.inputs[0].shape[1:4])
    if num_frames is None or height is None or height != width:
        raise ValueError(f"the detector takes clips of shape {model.backbone.inputs[0].shape}; "
                         "detect_video needs a fixed number of frames and a square size")
    if int(key_frame_step) < 1:
        raise ValueError(f"key_frame_step must be >= 1, got {key_frame_step}")
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such file or directory")
    with pipeline.open_video(path) as reader:
        length = int(reader.num_frames)
        if length < 1:
            raise ValueError(f"{path} has no frames")
        frame_height, frame_width = reader.get(np.array([0])).shape[1:3]
    keys = np.arange(0, length, int(key_frame_step))
    name = os.path.basename(os.path.normpath(path))
    samples = pipeline.DetectionSamples(
        paths=[path] * len(keys), key_frames=keys, num_frames=[length] * len(keys),
        frame_sizes=[(frame_height, frame_width)] * len(keys),
        boxes=[np.zeros((0, 4), np.float32)] * len(keys),
        labels=[np.zeros((0,), np.int64)] * len(keys), videos=[name] * len(keys),
        class_names=names).validate()
    rows = training.detect(model, samples, [name], num_frames=int(num_frames), size=int(height),
                           stride=stride, edge=edge, batch_size=batch_size, cache=True,
                           min_score=min_score)
    link = {"min_length": min(15, len(keys)), **(link or {})}
    linked = tubes.link_tubes(rows, **link) if len(rows) else []
    linked = sorted(linked, key=lambda tube: -tube.score)
    return {"video": path, "frames": length, "height": int(frame_height),
            "width": int(frame_width), "detections": rows,
            "tubes": [{"label": names[int(t.label)], "label_id": int(t.label),
                       "score": float(t.score), "frames": t.boxes[:, 0].astype(int).tolist(),
                       "boxes": np.round(t.boxes[:, 1:], 2).tolist()} for t in linked]}


def draw_tubes(frames, found, top_k=None):
    """Copies of the uint8 `frames` `(T, H, W, 3)` with the boxes of `found["tubes"]` (the best
    `top_k`, default all) drawn, each labelled with its class and score."""
    from PIL import Image, ImageDraw

    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"frames must be uint8 (T, H, W, 3), got {frames.dtype} {frames.shape}")
    chosen = found["tubes"][:top_k] if top_k else found["tubes"]
    by_frame = {}
    for tube in chosen:
        for frame, box in zip(tube["frames"], tube["boxes"]):
            by_frame.setdefault(frame - 1, []).append((tube, box))
    out = frames.copy()
    line = max(1, round(min(frames.shape[1:3]) / 160))
    for index, entries in by_frame.items():
        if not 0 <= index < len(out):
            continue
        image = Image.fromarray(out[index])
        draw = ImageDraw.Draw(image)
        for tube, box in entries:
            colour = _PALETTE[tube["label_id"] % len(_PALETTE)]
            draw.rectangle([float(v) for v in box], outline=colour, width=line)
            text = f"{tube['label']} {tube['score']:.2f}"
            left, top = float(box[0]), max(0.0, float(box[1]) - 11)
            extent = draw.textbbox((left, top), text)
            draw.rectangle(extent, fill=colour)
            draw.text((left, top), text, fill=(0, 0, 0))
        out[index] = np.asarray(image)
    return out


def render_video(path, found, out, *, top_k=None, fps=None):
    """Writes the video at `path` to `out` (PyAV; the container follows the extension) with
    the tubes of `found` (`detect_video`'s result) drawn; `fps` defaults to the video's."""
    from keras_video.data.encoding import write_video

    with pipeline.open_video(path) as reader:
        frames = reader.get(np.arange(reader.num_frames))
        rate = fps or getattr(reader, "fps", None) or 25
    if frames.shape[1] % 2 or frames.shape[2] % 2:  # H.264 / MPEG-4 take even sizes only
        frames = frames[:, :frames.shape[1] // 2 * 2, :frames.shape[2] // 2 * 2]
    write_video(out, draw_tubes(frames, found, top_k), fps=rate)
    return os.fspath(out)
