"""3D max pooling that exports (2D pooling ops only) and takes PyTorch's symmetric padding."""
import keras
from keras import ops

from keras_video.layers import forms
from keras_video.layers.conv import padded_shape, symmetric_pads
from keras_video.layers.depthwise import every_nth_frame, static_or_dynamic


def repeat_edges(x, pads):
    """`x` (batch, time, height, width, channels) with its first and last frame, row and column
    repeated `(before, after)` times per axis of `pads`."""
    for axis, (before, after) in enumerate(pads, start=1):
        lead = (slice(None),) * axis
        parts = [x[lead + (slice(0, 1),)]] * before + [x] + [x[lead + (slice(-1, None),)]] * after
        x = ops.concatenate(parts, axis=axis) if len(parts) > 1 else x
    return x


@keras.saving.register_keras_serializable(package="keras_video")
class MaxPooling3D(keras.layers.MaxPooling3D):
    """`keras.layers.MaxPooling3D` computed as 2D max pooling over frames, then 2D max pooling
    with a `(pt, 1)` window over (time, pixels): the max over a box is the max over time of the
    max over space. TFLite has no MAX_POOL_3D builtin; this runs on its MAX_POOL_2D, which
    XNNPACK runs.

    `padding="symmetric"` pads `(k - 1) // 2` on both sides of each axis, as PyTorch's
    `MaxPool3d(padding=k // 2)` does; TF "SAME" pads the extra element at the end instead, which
    shifts every window when the stride is 2.

    That padding repeats the edge values instead of writing -inf: every window that reaches
    into the padding also holds the edge value itself (pads are shorter than a window), so the
    maxima are the same, and int8 quantization does not see an infinite range (with -inf, the
    calibrated TFLite S3D's probabilities were off by 0.5). The copies are slices and a
    concatenation, not a MIRROR_PAD, which XNNPACK does not run: each one split the TFLite graph
    between XNNPACK and TFLite's own kernels.

    Inside `keras_video.layers.forms.native_3d()` it traces one 3D max pool, after a -inf pad
    where the padding is symmetric (the ONNX export folds that pad into the pool's own pads).
    """

    def __init__(self, pool_size=(2, 2, 2), strides=None, padding="valid", **kwargs):
        self.symmetric = padding == "symmetric"
        super().__init__(pool_size, strides, "valid" if self.symmetric else padding, **kwargs)
        self.pads = symmetric_pads(self.pool_size, self.strides) if self.symmetric else None
        if self.pads is not None and not any(a or b for a, b in self.pads):
            self.pads = None  # even windows: PyTorch pads nothing, "valid" as it is
        elif self.symmetric and self.pads is None:  # stride 1, odd window: identical to SAME
            self.padding = "same"

    def call(self, x):
        if forms.is_native_3d():
            if self.pads:
                x = ops.pad(x, ((0, 0),) + self.pads + ((0, 0),), constant_values=float("-inf"))
            return ops.max_pool(x, self.pool_size, self.strides, self.padding)
        if self.pads:
            x = repeat_edges(x, self.pads)
        (pt, ph, pw), (st, sh, sw) = self.pool_size, self.strides
        if pt == 1 and st > 1:  # a 1-frame window keeps every st-th frame
            frames = static_or_dynamic(x, 1)
            x, st = every_nth_frame(x, 0, st, (frames - 1) // st + 1), 1
        b, t, h, w, c = ops.shape(x)
        if (ph, pw, sh, sw) != (1, 1, 1, 1):
            x = ops.max_pool(ops.reshape(x, (-1, h, w, c)), (ph, pw), (sh, sw), self.padding)
            _, h, w, _ = ops.shape(x)
        if pt == 1 and st == 1:
            return ops.reshape(x, (b, t, h, w, c))
        y = ops.max_pool(ops.reshape(x, (b, t, h * w, c)), (pt, 1), (st, 1), self.padding)
        return ops.reshape(y, (b, ops.shape(y)[1], h, w, c))

    def compute_output_shape(self, input_shape):
        return super().compute_output_shape(padded_shape(input_shape, self.pads))

    def get_config(self):
        config = super().get_config()
        if self.symmetric:
            config["padding"] = "symmetric"
        return config


@keras.saving.register_keras_serializable(package="keras_video")
class AveragePooling3D(keras.layers.AveragePooling3D):
    """`keras.layers.AveragePooling3D` with "valid" padding computed as 2D average pooling over
    frames, then 2D average pooling with a `(pt, 1)` window over (time, pixels) (a box's mean
    is the mean over time of the means over space). TFLite has no AVERAGE_POOL_3D builtin; this
    runs on AVERAGE_POOL_2D. ("same" padding would need per-window counts at the edges: not
    supported.) Inside `keras_video.layers.forms.native_3d()` it traces one 3D average pool."""

    def __init__(self, pool_size=(2, 2, 2), strides=None, padding="valid", **kwargs):
        if padding != "valid":
            raise ValueError(f"AveragePooling3D supports padding='valid' only, got {padding!r}")
        super().__init__(pool_size, strides, padding, **kwargs)

    def call(self, x):
        if forms.is_native_3d():
            return ops.average_pool(x, self.pool_size, self.strides, "valid")
        (pt, ph, pw), (st, sh, sw) = self.pool_size, self.strides
        if (ph, pw, sh, sw) != (1, 1, 1, 1):
            b, t, h, w, c = ops.shape(x)
            x = ops.average_pool(ops.reshape(x, (-1, h, w, c)), (ph, pw), (sh, sw), "valid")
            _, h2, w2, _ = ops.shape(x)
            x = ops.reshape(x, (b, t, h2, w2, c))
        if pt == 1 and st == 1:
            return x
        b, t, h, w, c = ops.shape(x)
        y = ops.average_pool(ops.reshape(x, (b, t, h * w, c)), (pt, 1), (st, 1), "valid")
        return ops.reshape(y, (b, ops.shape(y)[1], h, w, c))
