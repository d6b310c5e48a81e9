"""Running models, in one place: predictors over every format (`load`), whole videos by
windows (`classify_video`, `extract_features`), multi-view evaluation with its metrics and
report (`evaluate`), and class names for scores (`decode_predictions`).

- `models`: `keras_model(name_or_path)`: from what a user names a model by to Keras.
- `predictors`: `load(model)` -> a `Predictor` for Keras, presets, SavedModel, TFLite, ONNX.
- `metadata`: the labels, clip spec and digest every exported file carries.
- `video`: windows of a video through a model: timelines and features.
- `evaluation`: N clips x M crops per video, clip- and video-level accuracy, confusion matrix.
- `labels`: `decode_predictions`, `top_classes`.
"""
from keras_video.inference.evaluation import (average_by_video, evaluate, predict_videos,
                                              predict_views, report, top_k_accuracy,
                                              write_report)
from keras_video.inference.labels import decode_predictions, top_classes
from keras_video.inference.metadata import CorruptModelError
from keras_video.inference.models import keras_model, refuse_weights
from keras_video.inference.outputs import classifier_outputs
from keras_video.inference.predictors import FORMATS, Predictor, load
from keras_video.inference.video import (VideoWindows, classify_video, classify_videos,
                                         extract_features, feature_model, features_of_videos,
                                         one_line, write_features)

__all__ = ["FORMATS", "CorruptModelError", "Predictor", "VideoWindows", "average_by_video",
           "classifier_outputs", "classify_video", "classify_videos", "decode_predictions",
           "evaluate", "extract_features", "feature_model", "features_of_videos", "keras_model",
           "load", "one_line", "predict_videos", "predict_views", "refuse_weights", "report",
           "top_classes", "top_k_accuracy", "write_features", "write_report"]
