"""Inception-v1 for images, as TF-slim's `inception_v1`: the 2D network that I3D, S3D and S3D-G
are inflated from (`keras_video.zoo.inflate`).

BatchNorm without scale (epsilon 1e-3), TF "SAME" padding, 1001 classes (0 is background), input
RGB in [0, 255] normalised to [-1, 1]. Layer names are slim's scopes with `/` as `_`
(`Mixed_5b_Branch_2_Conv2d_0a_3x3`), so that checkpoints map by name.
"""
import keras

from keras_video.zoo.inception3d.model import LAYOUT, MIXED


def _unit(x, filters, kernel, name, strides=1, width=lambda w: w):
    x = keras.layers.Conv2D(width(filters), kernel, strides, padding="same", use_bias=False,
                            name=name)(x)
    x = keras.layers.BatchNormalization(epsilon=1e-3, scale=False, name=name + "_bn")(x)
    return keras.layers.ReLU(name=name + "_relu")(x)


def _mixed(x, block, width):
    b0, b1a, b1, b2a, b2, b3 = MIXED[block]
    b2_name = "Conv2d_0a_3x3" if block == "Mixed_5b" else "Conv2d_0b_3x3"  # as slim
    branches = [
        _unit(x, b0, 1, f"{block}_Branch_0_Conv2d_0a_1x1", width=width),
        _unit(_unit(x, b1a, 1, f"{block}_Branch_1_Conv2d_0a_1x1", width=width), b1, 3,
              f"{block}_Branch_1_Conv2d_0b_3x3", width=width),
        _unit(_unit(x, b2a, 1, f"{block}_Branch_2_Conv2d_0a_1x1", width=width), b2, 3,
              f"{block}_Branch_2_{b2_name}", width=width),
        _unit(keras.layers.MaxPooling2D(3, 1, padding="same",
                                        name=f"{block}_Branch_3_MaxPool_0a_3x3")(x), b3, 1,
              f"{block}_Branch_3_Conv2d_0b_1x1", width=width),
    ]
    return keras.layers.Concatenate(name=block)(branches)


def InceptionV1(include_top=True, input_shape=(224, 224, 3), classes=1001, dropout_rate=0.2,
                include_preprocessing=True, width_multiplier=1.0, min_width=8,
                name="inception_v1"):
    """TF-slim Inception-v1 (GoogLeNet with BatchNorm). `include_top=False` returns the
    Mixed_5c feature map."""
    def width(w):
        return max(int(w * width_multiplier), min_width)

    inputs = keras.Input(input_shape, name="image")
    x = keras.layers.Rescaling(1 / 127.5, -1, name="preprocessing")(inputs) \
        if include_preprocessing else inputs
    for block in LAYOUT:
        scope = block.replace("3d", "2d").replace("MaxPool2d", "MaxPool")
        if block == "Conv3d_1a_7x7":
            x = _unit(x, 64, 7, scope, strides=2, width=width)
        elif block == "Conv3d_2b_1x1":
            x = _unit(x, 64, 1, scope, width=width)
        elif block == "Conv3d_2c_3x3":
            x = _unit(x, 192, 3, scope, width=width)
        elif block.startswith("MaxPool"):
            size = 2 if block.endswith("2x2") else 3
            x = keras.layers.MaxPooling2D(size, 2, padding="same", name=scope)(x)
        else:
            x = _mixed(x, block, width)
    if include_top:
        x = keras.layers.AveragePooling2D(7, 1, padding="valid", name="AvgPool_0a_7x7")(x)
        x = keras.layers.Dropout(dropout_rate, name="Dropout_0b")(x)
        x = keras.layers.Conv2D(classes, 1, name="Logits_Conv2d_0c_1x1")(x)
        x = keras.layers.Flatten(name="logits")(x)
        x = keras.layers.Activation("softmax", name="predictions")(x)
    return keras.Model(inputs, x, name=name)
