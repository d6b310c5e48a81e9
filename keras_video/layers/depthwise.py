"""Channel-separated (depthwise) 3D convolution that runs everywhere and exports everywhere.

`keras.layers.Conv3D(groups=C)` runs in TensorFlow but neither converts to TFLite (its CONV_3D
kernel rejects grouped filters) nor through tf2onnx. This layer computes the same function with
2D depthwise convolutions, which every runtime has: each of the `kt` temporal taps filters a
time-shifted view of the input with a 2D depthwise conv over frames, and the taps are summed.
Kernels keep their 3D shape `(kt, kh, kw, channels, depth_multiplier)`.

At ResNet stage sizes this form is faster than stacking the taps on channels into one
depthwise conv and far faster than `Conv3D(groups=C)`; XLA compiles depthwise convs poorly on
CPU, hence the "shifts" form below for traces under XLA (docs/benchmarks.md, "Depthwise 3D
convolution", has the figures; benchmarks/depthwise3d.py measures them).
"""
import keras
from keras import ops

from keras_video.layers import forms


def _triple(value):
    return (value,) * 3 if isinstance(value, int) else tuple(value)


def static_or_dynamic(x, axis):
    """The length of an axis as a Python int where it is known (static slices fuse better
    under XLA), else as a tensor."""
    return x.shape[axis] if x.shape[axis] is not None else ops.shape(x)[axis]


def pad_same(x, axis, kernel, stride, dilation, mode="constant"):
    """Pads one axis as TF "SAME" would for this window (zeros, or mirrored edge values with
    mode="symmetric"); returns the padded tensor and the output length along that axis."""
    size = static_or_dynamic(x, axis)
    span = (kernel - 1) * dilation + 1
    out = (size + stride - 1) // stride
    total = (out - 1) * stride + span - size
    total = max(total, 0) if isinstance(total, int) else ops.maximum(total, 0)
    pads = [(0, 0)] * 5
    pads[axis] = (total // 2, total - total // 2)
    return ops.pad(x, pads, mode=mode), out


def _in_xla_context():
    """True while tracing for XLA (`jit_compile=True`); False where TF cannot tell."""
    try:
        from tensorflow.python.framework import ops as tf_ops
        from tensorflow.python.ops import control_flow_util
    except ImportError:  # pragma: no cover - private TF API moved
        return False
    return control_flow_util.GraphOrParentsInXlaContext(tf_ops.get_default_graph())


def time_taps(x, kernel_t, stride_t, dilation_t, padding, pad_mode="constant"):
    """The `kernel_t` time-shifted views of `x` that a temporal window reads, each with the
    output's frame count."""
    if padding == "same":
        x, out = pad_same(x, 1, kernel_t, stride_t, dilation_t, pad_mode)
    else:
        out = (static_or_dynamic(x, 1) - (kernel_t - 1) * dilation_t - 1) // stride_t + 1
    return [every_nth_frame(x, i * dilation_t, stride_t, out) for i in range(kernel_t)]


def every_nth_frame(x, start, stride, count):
    """Frames `start, start + stride, ...` (`count` of them) of `x`: the strided slice
    `x[:, start:start + (count - 1) * stride + 1:stride]`. Where the shapes are static it is
    computed with unit-stride slices and reshapes (each row of `stride` frames, its first),
    which TFLite's XNNPACK runs; it runs no strided slice, and every one split the TFLite graph
    between XNNPACK and TFLite's own kernels."""
    if stride == 1:
        return x[:, start:start + count]
    frames, rest = x.shape[1], tuple(x.shape[2:])
    if frames is None or not isinstance(count, int) or None in rest:
        return x[:, start:start + (count - 1) * stride + 1:stride]
    end = start + count * stride  # the last row may reach past the clip by up to stride - 1
    x = x[:, start:min(end, frames)]
    if end > frames:
        x = ops.concatenate([x] + [x[:, -1:]] * (end - frames), axis=1)
    pixels = 1
    for n in rest:
        pixels *= n
    rows = ops.reshape(x, (-1, count, stride, pixels))
    return ops.reshape(rows[:, :, :1], (-1, count) + rest)


@keras.saving.register_keras_serializable(package="keras_video")
class DepthwiseConv3D(keras.layers.Layer):
    """Depthwise 3D convolution: each input channel is filtered by its own
    `depth_multiplier` kernels of size `kernel_size`; same function as
    `Conv3D(channels * depth_multiplier, kernel_size, groups=channels)`.

    `implementation`: "depthwise2d" (one 2D depthwise conv per temporal tap; exports to TFLite
    builtins and ONNX), "shifts" (a sum of `kt * kh * kw` shifted, channel-scaled copies of the
    input, which XLA fuses into one loop, where it compiles its own depthwise convs poorly),
    or "auto" (default): "shifts" when traced for XLA, "depthwise2d" otherwise.
    Inside `keras_video.layers.forms.native_3d()` any implementation traces one grouped 3D conv
    (`groups=channels`), which ONNX Runtime runs and TensorFlow runs under XLA only.
    """

    def __init__(self, kernel_size=(3, 3, 3), strides=(1, 1, 1), padding="same",
                 dilation_rate=(1, 1, 1), depth_multiplier=1, use_bias=False,
                 kernel_initializer="he_normal", kernel_regularizer=None,
                 bias_initializer="zeros", implementation="auto", **kwargs):
        super().__init__(**kwargs)
        if implementation not in ("auto", "depthwise2d", "shifts"):
            raise ValueError("implementation must be 'auto', 'depthwise2d' or 'shifts', got "
                             f"{implementation!r}")
        self.implementation = implementation
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
        if not self.use_bias:
            return self.convolution_op(x, self.kernel)
        return self.convolution_op(x, self.kernel, lambda y: y + self.bias)

    def convolution_op(self, x, kernel, epilogue=None):
        """The depthwise conv with `kernel` (this layer's shape); `epilogue` (elementwise) runs
        on the 2D ops' output before the reshape back to 5D, where converters fuse it."""
        if forms.is_native_3d():
            y = self._grouped(x, kernel)
        elif self.implementation == "shifts" or (self.implementation == "auto"
                                                  and _in_xla_context()):
            y = self._shifted_sum(x, kernel)
        else:
            return self._depthwise_2d(x, kernel, epilogue)
        return epilogue(y) if epilogue is not None else y

    def _shifted_sum(self, x, kernel):
        channels, multiplier = kernel.shape[-2:]
        if multiplier > 1:  # output channel c * M + m reads input channel c
            x = ops.repeat(x, multiplier, axis=-1)
        weights = ops.reshape(kernel, self.kernel_size + (channels * multiplier,))
        sizes = []
        for axis, (k, s, d) in enumerate(zip(self.kernel_size, self.strides,
                                              self.dilation_rate), 1):
            if self.padding == "same":
                x, n = pad_same(x, axis, k, s, d)
            else:
                n = (static_or_dynamic(x, axis) - (k - 1) * d - 1) // s + 1
            sizes.append(n)
        (nt, nh, nw), (st, sh, sw), (dt, dh, dw) = sizes, self.strides, self.dilation_rate
        y = None
        for t in range(self.kernel_size[0]):
            for i in range(self.kernel_size[1]):
                for j in range(self.kernel_size[2]):
                    view = x[:, t * dt: t * dt + (nt - 1) * st + 1: st,
                             i * dh: i * dh + (nh - 1) * sh + 1: sh,
                             j * dw: j * dw + (nw - 1) * sw + 1: sw]
                    term = view * weights[t, i, j]
                    y = term if y is None else y + term
        return y

    def _grouped(self, x, kernel):
        import tensorflow as tf  # Keras' own conv wraps grouped convs in a nested XLA function
        channels, multiplier = kernel.shape[-2:]
        # Grouped filter (kt, kh, kw, 1, C * M): output channel c * M + m reads input channel c.
        kernel = ops.reshape(kernel, self.kernel_size + (1, channels * multiplier))
        return tf.nn.convolution(x, kernel, self.strides, self.padding.upper(),
                                 dilations=self.dilation_rate)

    def _depthwise_2d(self, x, kernel, epilogue):
        kt = self.kernel_size[0]
        taps = time_taps(x, kt, self.strides[0], self.dilation_rate[0], self.padding)
        b, t, h, w, c = ops.shape(taps[0])
        y = None
        for i, tap in enumerate(taps):  # one 2D depthwise conv per temporal tap, summed
            out = ops.depthwise_conv(ops.reshape(tap, (-1, h, w, c)), kernel[i],
                                     strides=self.strides[1:], padding=self.padding,
                                     dilation_rate=self.dilation_rate[1:])
            y = out if y is None else y + out
        if epilogue is not None:
            y = epilogue(y)
        _, h2, w2, f = ops.shape(y)
        return ops.reshape(y, (b, t, h2, w2, f))

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
                "use_bias": self.use_bias, "implementation": self.implementation,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer)}
