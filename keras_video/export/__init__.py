"""Leaving Keras: every zoo model as a TF Serving SavedModel, a TFLite (LiteRT) file or an ONNX
file, and one loader that runs any of them.

Every format takes RGB video `(batch, frames, height, width, 3)` in [0, 255] (uint8 for the
SavedModel) and applies the model's own preprocessing, so clips go in as decoded.

- `signatures`: the classifier's outputs (logits, probabilities) and the clip shape to export.
- `savedmodel`: `export_savedmodel`, TF Serving's `NAME/VERSION/` layout with warm-up requests.
- `tflite`: `export_tflite`, float32 / float16 / dynamic-range int8 / full-integer int8.
- `onnx`: `export_onnx`, tf2onnx with a dynamic batch axis.
- `runtimes`: `load(path)` for `.keras`, SavedModel, `.tflite` and `.onnx` alike.
"""
from keras_video.export.onnx import export_onnx
from keras_video.export.runtimes import Predictor, load
from keras_video.export.savedmodel import export_savedmodel
from keras_video.export.tflite import QUANTIZATIONS, export_tflite

FORMATS = ("savedmodel", "tflite", "onnx")

__all__ = ["FORMATS", "Predictor", "QUANTIZATIONS", "export_onnx", "export_savedmodel",
           "export_tflite", "load"]
