"""keras-video: video understanding networks for Keras 3 and TensorFlow.

Public namespaces: `zoo` (model builders, one folder per family with its presets),
`presets` (everything needed to use a pretrained model, saved and loaded as directories),
`inference` (predictors for every format, whole videos, features, evaluation), `data`
(decoding, clip sampling, augmentation and tf.data pipelines), `layers`, `weights` (download,
cache and checkpoint machinery), `training` (recipes, `train`), `export` (SavedModel, TFLite,
ONNX) and `profiling` (parameter and MAC counting). Importing the package registers every
serializable class, the optimizers of `training` included, so `keras.saving.load_model` reads
any `.keras` file this package wrote.
"""
from keras_video.version import __version__  # noqa: F401
from keras_video import _startup  # noqa: E402

with _startup.quiet():  # TensorFlow loads here
    from keras_video import data, layers, presets, profiling, weights, zoo  # noqa: F401
    from keras_video import inference, training  # noqa: F401
    from keras_video.inference import decode_predictions  # noqa: F401
    _startup.probe_devices()
