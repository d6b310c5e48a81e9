"""keras-video: video classification networks for Keras 3 and TensorFlow.

Public namespaces: `data` (decoding, clip sampling, augmentation and tf.data pipelines),
`layers` (reusable, serializable building blocks), `zoo` (model builders and their registry),
`weights` (loading pretrained and converted weights) and `profiling` (parameter and MAC
counting).
"""
__version__ = "0.1.0"

from keras_video import data, layers, profiling, weights, zoo  # noqa: E402,F401
