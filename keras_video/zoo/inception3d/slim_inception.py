"""TF-slim Inception-v1 ImageNet checkpoints -> `keras_video.zoo.InceptionV1`.

Slim names its variables `InceptionV1/SCOPE/weights` and `.../BatchNorm/{beta,moving_mean,
moving_variance}` (no gamma), the classifier `InceptionV1/Logits/Conv2d_0c_1x1/{weights,biases}`;
our layers are those scopes with `/` as `_`.
"""
import keras

from keras_video.weights import tf_checkpoints

_ANCHOR = "Conv2d_1a_7x7/weights"


def _scope(layer_name):
    return layer_name.replace("_Branch_", "/Branch_").replace("_Conv2d_0", "/Conv2d_0")


def variable_map(model):
    """`{checkpoint name without the InceptionV1/ prefix: Keras variable}`."""
    names = {}
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            names[_scope(layer.name) + "/weights"] = layer.kernel
            if layer.use_bias:
                names[_scope(layer.name) + "/biases"] = layer.bias
        elif isinstance(layer, keras.layers.BatchNormalization):
            scope = _scope(layer.name[: -len("_bn")]) + "/BatchNorm/"
            names.update({scope + "beta": layer.beta, scope + "moving_mean": layer.moving_mean,
                          scope + "moving_variance": layer.moving_variance})
        elif layer.weights:
            raise ValueError(f"layer {layer.name!r} has no TF-slim Inception-v1 counterpart")
    return names


def load_checkpoint(model, path):
    """Copies the slim checkpoint at `path` (e.g. `inception_v1.ckpt`) into `model`."""
    tf_checkpoints.assign(variable_map(model), path, _ANCHOR, "TF-slim Inception-v1")
    return model
