"""3D max pooling that exports (2D pooling ops only) and takes PyTorch's symmetric padding."""
import keras
from keras import ops

from keras_video.layers.conv import symmetric_pads
from keras_video.layers.depthwise import time_taps


@keras.saving.register_keras_serializable(package="keras_video")
class MaxPooling3D(keras.layers.MaxPooling3D):
    """`keras.layers.MaxPooling3D` computed as 2D max pooling over frames, then a max over the
    temporal taps (the max over a box is the max over time of the max over space). TFLite has
    no MAX_POOL_3D builtin; this runs on its MAX_POOL_2D and MAXIMUM.

    `padding="symmetric"` pads `(k - 1) // 2` on both sides of each axis with -inf, as PyTorch's
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
        (pt, ph, pw), (st, sh, sw) = self.pool_size, self.strides
        b, t, h, w, c = ops.shape(x)
        y = ops.max_pool(ops.reshape(x, (-1, h, w, c)), (ph, pw), (sh, sw), self.padding)
        _, h2, w2, _ = ops.shape(y)
        y = ops.reshape(y, (b, t, h2, w2, c))
        if pt == 1 and st == 1:
            return y
        taps = time_taps(y, pt, st, 1, self.padding, pad_value=float("-inf"))
        out = taps[0]
        for tap in taps[1:]:
            out = ops.maximum(out, tap)
        return out

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
