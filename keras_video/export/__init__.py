"""Leaving Keras: every zoo model as a TF Serving SavedModel, a TFLite (LiteRT) file or an ONNX
file, each carrying its class names, clip spec and a digest of its bytes in its own metadata.

Every format takes RGB video `(batch, frames, height, width, 3)` in [0, 255] (uint8 for the
SavedModel) and applies the model's own preprocessing, so clips go in as decoded.

- `signatures`: the clip shape to export, the metadata, atomic writes.
- `savedmodel`: `export_savedmodel`, TF Serving's `NAME/VERSION/` layout with warm-up requests.
- `tflite`: `export_tflite`, float32 / float16 / dynamic-range int8 / full-integer int8
  (`export_tflite_precisions`: several of them from one trace).
- `onnx`: `export_onnx`, tf2onnx with a dynamic batch axis.
`load(path)` (from `keras_video.inference`) runs any of them and reads their metadata back.
"""
import keras

from keras_video.export.onnx import export_onnx
from keras_video.export.savedmodel import export_savedmodel
from keras_video.export.tflite import QUANTIZATIONS, export_tflite, export_tflite_precisions
from keras_video.inference import Predictor, keras_model, load
from keras_video.progress import Stages

FORMATS = ("savedmodel", "tflite", "onnx")

__all__ = ["FORMATS", "Predictor", "QUANTIZATIONS", "export", "export_onnx",
           "export_savedmodel", "export_tflite", "export_tflite_precisions", "load"]


def export(model, fmt, out, *, quantize=None, frames=None, size=None, class_names=None,
           weights=None, classes=None, progress=False):
    """Exports `model` (a Keras model, a registered model or preset name, a preset directory
    or a `.keras` file; see `keras_video.inference.keras_model`) to `fmt` at `out`; returns
    `{"format", "path", ...}`. `progress`: a line on stderr per stage (building the model,
    tracing and converting), with its time."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    if quantize and fmt != "tflite":
        raise ValueError("quantize applies to the tflite format only")
    stages = Stages(2, enabled=progress)
    with stages("reading the model" if isinstance(model, keras.Model) else f"building {model}"):
        keras_net = keras_model(model, weights, frames, size, classes)
    with stages(f"tracing and converting to {fmt}" + (f" ({quantize})" if quantize else "")):
        if fmt == "savedmodel":
            return {"format": fmt, "path": export_savedmodel(
                keras_net, out, class_names=class_names, frames=frames, size=size)}
        if fmt == "tflite":
            return {"format": fmt, **export_tflite(keras_net, out, quantize=quantize,
                                                   frames=frames, size=size,
                                                   class_names=class_names)}
        return {"format": fmt, **export_onnx(keras_net, out, frames=frames, size=size,
                                             class_names=class_names)}
