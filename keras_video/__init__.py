"""keras-video: video classification networks for Keras 3 and TensorFlow.

Public namespaces: `data` (decoding, clip sampling, augmentation and tf.data pipelines),
`layers` (reusable, serializable building blocks), `zoo` (model builders and their registry),
`weights` (loading pretrained and converted weights), `training` (recipes, `train`,
`evaluate`) and `profiling` (parameter and MAC counting). Importing the package registers every
serializable class, the optimizers of `training` included, so `keras.saving.load_model` reads
any `.keras` file this package wrote.
"""
__version__ = "0.1.0"

from keras_video import data, layers, profiling, training, weights, zoo  # noqa: E402,F401
