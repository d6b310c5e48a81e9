"""3D max pooling with PyTorch's symmetric padding, needed to reproduce torchvision models."""
import keras
from keras import ops

from keras_video.layers.conv import symmetric_pads


@keras.saving.register_keras_serializable(package="keras_video")
class MaxPooling3D(keras.layers.MaxPooling3D):
    """`keras.layers.MaxPooling3D` that also takes `padding="symmetric"`.

    "symmetric" pads `(k - 1) // 2` on both sides of each axis with -inf, as PyTorch's
    `MaxPool3d(padding=k // 2)` does; TF "SAME" pads the extra element at the end instead, which
    shifts every window when the stride is 2.
    """

    def __init__(self, pool_size=(2, 2, 2), strides=None, padding="valid", **kwargs):
        self.symmetric = padding == "symmetric"
        super().__init__(pool_size, strides, "valid" if self.symmetric else padding, **kwargs)
        self.pads = symmetric_pads(self.pool_size, self.strides) if self.symmetric else None
        if self.symmetric and self.pads is None:  # stride 1 and odd window: identical to SAME
            self.padding = "same"

    def call(self, x):
        if self.pads:
            x = ops.pad(x, ((0, 0),) + self.pads + ((0, 0),), constant_values=float("-inf"))
        return super().call(x)

    def compute_output_shape(self, input_shape):
        if self.pads:
            input_shape = [None if n is None else n + a + b
                           for n, (a, b) in zip(input_shape, ((0, 0),) + self.pads + ((0, 0),))]
        return super().compute_output_shape(input_shape)

    def get_config(self):
        config = super().get_config()
        if self.symmetric:
            config["padding"] = "symmetric"
        return config
