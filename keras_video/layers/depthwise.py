"""Channel-separated (depthwise) 3D convolution that runs everywhere and exports everywhere.

`keras.layers.Conv3D(groups=C)` runs in TensorFlow but neither converts to TFLite (its CONV_3D
kernel rejects grouped filters) nor through tf2onnx. This layer computes the same function with
2D depthwise convolutions, which every runtime has: each of the `kt` temporal taps filters a
time-shifted view of the input with a 2D depthwise conv over frames, and the taps are summed.
Kernels keep their 3D shape `(kt, kh, kw, channels, depth_multiplier)`.

Measured on 2 CPU cores (benchmarks/depthwise3d.py): this form beats both stacking the taps on
channels into one depthwise conv (about 1.8x) and `Conv3D(groups=C)` (about 50x) at ResNet
stage sizes. XLA compiles depthwise convs poorly on CPU (about 10x slower than TF's kernels),
so models with this layer run best without `jit_compile`.
"""
import keras
from keras import ops


def _triple(value):
    return (value,) * 3 if isinstance(value, int) else tuple(value)


def pad_time_same(x, kernel_t, stride_t, dilation_t, value=0.0):
    """Pads time as TF "SAME" would for this temporal window (with `value`); returns the padded
    video and the number of output frames."""
    frames = ops.shape(x)[1]
    span = (kernel_t - 1) * dilation_t + 1
    out = (frames + stride_t - 1) // stride_t
    total = ops.maximum((out - 1) * stride_t + span - frames, 0)
    pads = ((0, 0), (total // 2, total - total // 2), (0, 0), (0, 0), (0, 0))
    return ops.pad(x, pads, constant_values=value), out


def time_taps(x, kernel_t, stride_t, dilation_t, padding, pad_value=0.0):
    """The `kernel_t` time-shifted views of `x` that a temporal window reads, each with the
    output's frame count."""
    if padding == "same":
        x, out = pad_time_same(x, kernel_t, stride_t, dilation_t, pad_value)
    else:
        out = (ops.shape(x)[1] - (kernel_t - 1) * dilation_t - 1) // stride_t + 1
    return [x[:, i * dilation_t: i * dilation_t + (out - 1) * stride_t + 1: stride_t]
            for i in range(kernel_t)]


@keras.saving.register_keras_serializable(package="keras_video")
class DepthwiseConv3D(keras.layers.Layer):
    """Depthwise 3D convolution: each input channel is filtered by its own
    `depth_multiplier` kernels of size `kernel_size`; same function as
    `Conv3D(channels * depth_multiplier, kernel_size, groups=channels)`.
    """

    def __init__(self, kernel_size=(3, 3, 3), strides=(1, 1, 1), padding="same",
                 dilation_rate=(1, 1, 1), depth_multiplier=1, use_bias=False,
                 kernel_initializer="he_normal", kernel_regularizer=None,
                 bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        if padding not in ("same", "valid"):
            raise ValueError(f"padding must be 'same' or 'valid', got {padding!r}")
        self.kernel_size, self.strides = _triple(kernel_size), _triple(strides)
        self.dilation_rate = _triple(dilation_rate)
        if any(s > 1 and d > 1 for s, d in zip(self.strides, self.dilation_rate)):
            raise ValueError("strides > 1 and dilation_rate > 1 cannot be combined on one axis")
        self.padding, self.depth_multiplier, self.use_bias = padding, depth_multiplier, use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.input_spec = keras.layers.InputSpec(ndim=5)

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is None:
            raise ValueError("DepthwiseConv3D needs a known number of input channels")
        self.kernel = self.add_weight(
            name="kernel", shape=self.kernel_size + (channels, self.depth_multiplier),
            initializer=self.kernel_initializer, regularizer=self.kernel_regularizer)
        self.bias = self.add_weight(name="bias", shape=(channels * self.depth_multiplier,),
                                    initializer=self.bias_initializer) if self.use_bias else None

    def call(self, x):
        kt = self.kernel_size[0]
        taps = time_taps(x, kt, self.strides[0], self.dilation_rate[0], self.padding)
        b, t, h, w, c = ops.shape(taps[0])
        y = None
        for i, tap in enumerate(taps):  # one 2D depthwise conv per temporal tap, summed
            out = ops.depthwise_conv(ops.reshape(tap, (-1, h, w, c)), self.kernel[i],
                                     strides=self.strides[1:], padding=self.padding,
                                     dilation_rate=self.dilation_rate[1:])
            y = out if y is None else y + out
        _, h2, w2, f = ops.shape(y)
        y = ops.reshape(y, (b, t, h2, w2, f))
        return y + self.bias if self.use_bias else y

    def compute_output_shape(self, input_shape):
        out = [input_shape[0]]
        for n, k, s, d in zip(input_shape[1:4], self.kernel_size, self.strides,
                              self.dilation_rate):
            if n is None:
                out.append(None)
            elif self.padding == "same":
                out.append((n + s - 1) // s)
            else:
                out.append((n - (k - 1) * d - 1) // s + 1)
        return tuple(out) + (input_shape[-1] * self.depth_multiplier,)

    def get_config(self):
        return {**super().get_config(), "kernel_size": self.kernel_size,
                "strides": self.strides, "padding": self.padding,
                "dilation_rate": self.dilation_rate, "depth_multiplier": self.depth_multiplier,
                "use_bias": self.use_bias,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer)}
