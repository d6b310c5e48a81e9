"""Convolution units of the video networks: Conv3D, Unit3D (conv + BN + activation), SepConv3D.

Kernels are stored in their natural 3D shape `(kt, kh, kw, in, out)` so that checkpoints and
inflated 2D weights map one to one, but they run as 2D convolutions: `1 x kh x kw` over frames,
`kt x 1 x 1` over (time, pixels), and full `kt x kh x kw` over frames whose channels stack the
`kt` time-shifted inputs. On CPU, XLA compiles those much better than Conv3D: 1.9x for I3D,
1.7x for S3D (benchmarks/inception_family.py).
"""
import keras
from keras import ops

from keras_video.layers import forms
from keras_video.layers.depthwise import (DepthwiseConv3D, every_nth_frame, static_or_dynamic,
                                         time_taps)

PADDINGS = ("same", "valid", "symmetric")


def symmetric_pads(kernel_size, strides, dilation_rate=(1, 1, 1)):
    """Per-axis `(before, after)` zero padding of PyTorch's `padding=d*(k-1)//2` convention.

    Returns None where TF "SAME" padding already pads exactly that way (stride 1, odd kernel),
    so that no explicit padding op is needed.
    """
    pads = [d * (k - 1) // 2 for k, d in zip(kernel_size, dilation_rate)]
    if all(s == 1 and (k - 1) * d % 2 == 0 for k, s, d in zip(kernel_size, strides, dilation_rate)):
        return None
    return tuple((p, p) for p in pads)


# The most inputs of a CONCATENATION that TFLite's XNNPACK delegate ran (5 did, 7 did not).
XNNPACK_CONCAT_INPUTS = 5


def concatenate_channels(tensors):
    """`ops.concatenate(tensors, axis=-1)`, as nested concatenations of at most
    `XNNPACK_CONCAT_INPUTS` inputs each (I3D's 7-tap stem stacks seven), so that XNNPACK runs
    them instead of splitting the TFLite graph around one."""
    while len(tensors) > XNNPACK_CONCAT_INPUTS:
        tensors = [ops.concatenate(tensors[i:i + XNNPACK_CONCAT_INPUTS], axis=-1)
                   for i in range(0, len(tensors), XNNPACK_CONCAT_INPUTS)]
    return ops.concatenate(tensors, axis=-1)


def zero_pad(x, pads, axes):
    """`x` padded with zeros: `axes` maps an axis of `x` to the (time, height, width) entry of
    `pads` it takes; `x` itself where those pads are None or zero."""
    if not pads or not any(any(pads[i]) for i in axes.values()):
        return x
    widths = [(0, 0)] * len(x.shape)
    for axis, i in axes.items():
        widths[axis] = pads[i]
    return ops.pad(x, widths)


def padded_shape(shape, pads):
    """A 5D `shape` after `pads` (per (time, height, width) axis `(before, after)`, or None)."""
    if not pads:
        return shape
    return (shape[0], *(None if n is None else n + a + b for n, (a, b) in zip(shape[1:4], pads)),
            shape[4])


def serialize_unit_kwargs(unit_kwargs):
    """Unit3D keyword arguments that composite layers forward, made JSON-ready for get_config."""
    return {key: value if isinstance(value, (str, int, float, bool, tuple, list, type(None)))
            else keras.saving.serialize_keras_object(value) for key, value in unit_kwargs.items()}


@keras.saving.register_keras_serializable(package="keras_video")
class Conv3D(keras.layers.Conv3D):
    """`keras.layers.Conv3D` computed with 2D convolutions.

    A `1 x kh x kw` kernel is a 2D conv over `batch * time` frames; a `kt x 1 x 1` kernel is a 2D
    conv with a `(kt, 1)` kernel over `(batch, time, height * width)`; any other kernel is a 2D
    conv over frames with `kt * in` channels (the input and its time shifts). Weights, outputs
    and config are those of `keras.layers.Conv3D`; `factorize=False` uses the 3D op, as does
    tracing inside `keras_video.layers.forms.native_3d()`.

    `pads`: per-axis `(before, after)` zeros for (time, height, width) around a "valid" conv
    (what `Unit3D`'s "symmetric" padding needs). They pad the 2D op's input, where XNNPACK
    folds a PAD into the CONV_2D after it; a pad of the 5D tensor, before the reshape to the
    2D view, is a copy of the whole tensor that it cannot fold (S3D's TFLite file: 5-10%).
    """

    def __init__(self, *args, factorize=True, pads=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.factorize = factorize
        self.pads = tuple(tuple(p) for p in pads) if pads else None
        if self.pads and self.padding != "valid":
            raise ValueError(f"pads go with padding='valid', got {self.padding!r}")

    def convolution_op(self, inputs, kernel, epilogue=None):
        """The convolution; `epilogue` (an elementwise function: bias, activation) is applied
        to its output while that is still the 2D op's, before the reshape back to 5D, where
        converters fuse it into the conv."""
        if (not self.factorize or forms.is_native_3d() or self.groups != 1
                or self.data_format != "channels_last"):
            y = super().convolution_op(zero_pad(inputs, self.pads, {1: 0, 2: 1, 3: 2}), kernel)
            return epilogue(y) if epilogue is not None else y
        kt, kh, kw = self.kernel_size
        if kt == 1:
            return self._spatial(inputs, kernel[0], epilogue)
        if (kh, kw) == (1, 1):
            return self._temporal(inputs, kernel[:, 0], epilogue)
        return self._stacked_taps(inputs, kernel, epilogue)

    def _spatial(self, x, kernel_2d, epilogue):
        x = zero_pad(x, self.pads, {1: 0})  # a no-op for "symmetric" (no time pads for 1 tap)
        if self.strides[0] > 1:  # a 1-tap kernel with temporal stride keeps every st-th frame
            st, frames = self.strides[0], static_or_dynamic(x, 1)
            x = every_nth_frame(x, 0, st, (frames - 1) // st + 1)
        return self._spatial_strided(x, kernel_2d, epilogue)

    def _spatial_strided(self, x, kernel_2d, epilogue):
        """2D conv of every frame of `x` (batch and time folded together)."""
        sh, sw = self.strides[1:]
        b, t, h, w, c = ops.shape(x)
        frames = zero_pad(ops.reshape(x, (-1, h, w, c)), self.pads, {1: 1, 2: 2})
        y = ops.conv(frames, kernel_2d, strides=(sh, sw),
                     padding=self.padding, dilation_rate=self.dilation_rate[1:])
        if epilogue is not None:
            y = epilogue(y)
        _, h2, w2, f = ops.shape(y)
        return ops.reshape(y, (b, t, h2, w2, f))

    def _temporal(self, x, kernel_2d, epilogue):
        x = zero_pad(x, self.pads, {2: 1, 3: 2})  # a no-op for "symmetric" (none for 1 x 1)
        st, sh, sw = self.strides
        if sh > 1 or sw > 1:
            x = x[:, :, ::sh, ::sw]
        b, t, h, w, c = ops.shape(x)
        y = ops.conv(zero_pad(ops.reshape(x, (b, t, h * w, c)), self.pads, {1: 0}), kernel_2d,
                     strides=(st, 1), padding=self.padding,
                     dilation_rate=(self.dilation_rate[0], 1))
        if epilogue is not None:
            y = epilogue(y)
        return ops.reshape(y, (b, ops.shape(y)[1], h, w, self.filters))

    def _stacked_taps(self, x, kernel, epilogue):
        """A `kt x kh x kw` conv as one 2D conv over frames whose channels are the kt
        temporally shifted copies of the input (im2col along time only)."""
        kt, kh, kw, c, f = kernel.shape
        # The time taps are slices of the time-padded clip; height and width pad in 2D.
        taps = time_taps(zero_pad(x, self.pads, {1: 0}), kt, self.strides[0],
                         self.dilation_rate[0], self.padding)
        stacked = concatenate_channels(taps)
        kernel_2d = ops.reshape(ops.transpose(kernel, (1, 2, 0, 3, 4)), (kh, kw, kt * c, f))
        return self._spatial_strided(stacked, kernel_2d, epilogue)

    def compute_output_shape(self, input_shape):
        return super().compute_output_shape(padded_shape(input_shape, self.pads))

    def get_config(self):
        return {**super().get_config(), "factorize": self.factorize, "pads": self.pads}


@keras.saving.register_keras_serializable(package="keras_video")
class Unit3D(keras.layers.Layer):
    """Conv3D, optional BatchNorm and activation: the unit every block of the zoo is made of.

    `padding` is "same" (TensorFlow, as DeepMind's I3D), "valid", or "symmetric" (PyTorch's
    `k // 2` on both sides, as torchvision's models; needed to reproduce their outputs when a
    stride is 2). `bn_scale=False` gives DeepMind's BatchNorm without gamma. `depthwise=True`
    filters each channel on its own (`DepthwiseConv3D`; `filters` must equal the input
    channels), as the channel-separated networks do.
    """

    def __init__(self, filters, kernel_size=(1, 1, 1), strides=(1, 1, 1), padding="same",
                 dilation_rate=(1, 1, 1), use_bias=False, use_batch_norm=True, bn_scale=True,
                 bn_epsilon=1e-3, bn_momentum=0.99, activation="relu", factorize=True,
                 depthwise=False, kernel_initializer="he_normal", kernel_regularizer=None,
                 **kwargs):
        super().__init__(**kwargs)
        if padding not in PADDINGS:
            raise ValueError(f"padding must be one of {PADDINGS}, got {padding!r}")
        triple = lambda v: (v,) * 3 if isinstance(v, int) else tuple(v)  # noqa: E731
        self.filters = filters
        self.kernel_size, self.strides = triple(kernel_size), triple(strides)
        self.dilation_rate = triple(dilation_rate)
        self.padding = padding
        self.use_bias, self.use_batch_norm, self.bn_scale = use_bias, use_batch_norm, bn_scale
        self.bn_epsilon, self.bn_momentum = bn_epsilon, bn_momentum
        self.activation = keras.activations.get(activation)
        self.factorize, self.depthwise = factorize, depthwise
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)

        pads = symmetric_pads(self.kernel_size, self.strides, self.dilation_rate) \
            if padding == "symmetric" else None
        # A Conv3D pads inside its 2D views (see its `pads`); the depthwise conv is padded here.
        self.pad = keras.layers.ZeroPadding3D(pads, name="pad") if pads and depthwise else None
        conv_padding = "valid" if pads or padding == "valid" else "same"
        conv_args = dict(padding=conv_padding, dilation_rate=self.dilation_rate,
                         use_bias=use_bias, kernel_initializer=self.kernel_initializer,
                         kernel_regularizer=self.kernel_regularizer, name="conv")
        self.conv = (DepthwiseConv3D(self.kernel_size, self.strides, **conv_args) if depthwise
                     else Conv3D(filters, self.kernel_size, self.strides, factorize=factorize,
                                 pads=pads, **conv_args))
        self.bn = keras.layers.BatchNormalization(
            epsilon=bn_epsilon, momentum=bn_momentum, scale=bn_scale, name="bn"
        ) if use_batch_norm else None

    def build(self, input_shape):
        if self.depthwise and input_shape[-1] != self.filters:
            raise ValueError(f"{self.name}: a depthwise unit keeps its {input_shape[-1]} "
                             f"channels, but filters={self.filters}")
        if self.pad is not None:
            input_shape = self.pad.compute_output_shape(input_shape)
        self.conv.build(input_shape)
        if self.bn is not None:
            self.bn.build(self.conv.compute_output_shape(input_shape))

    def call(self, x, training=None):
        if self.pad is not None:
            x = self.pad(x)
        if self.bn is not None and not training and self.compute_dtype == "float32":
            return self._folded(x)
        x = self.conv(x)
        if self.bn is not None:
            x = self.bn(x, training=training)
        return self.activation(x)

    def _folded(self, x):
        """Inference with the BatchNorm folded into the conv: `conv(x, W * s) + shift` with
        `s = gamma / sqrt(var + eps)` and `shift = beta + (bias - mean) * s`, then the
        activation, all inside the conv's epilogue. Each unit is then one conv with bias and
        activation, which every runtime fuses (no separate multiply, add and ReLU over the
        feature map). Half precision keeps BatchNorm's own float32 arithmetic instead."""
        bn, conv = self.bn, self.conv
        scale = ops.rsqrt(bn.moving_variance + bn.epsilon)
        if bn.gamma is not None:
            scale = scale * bn.gamma
        shift = -bn.moving_mean * scale
        if bn.beta is not None:
            shift = shift + bn.beta
        if conv.use_bias:
            shift = shift + conv.bias * scale
        kernel = conv.kernel * ops.reshape(scale, conv.kernel.shape[-2:]) if self.depthwise \
            else conv.kernel * scale  # output channels: the kernel's last axis (x multiplier)
        return conv.convolution_op(x, kernel, lambda y: self.activation(y + shift))

    def compute_output_shape(self, input_shape):
        if self.pad is not None:
            input_shape = self.pad.compute_output_shape(input_shape)
        return self.conv.compute_output_shape(input_shape)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters, "kernel_size": self.kernel_size, "strides": self.strides,
            "padding": self.padding, "dilation_rate": self.dilation_rate,
            "use_bias": self.use_bias, "use_batch_norm": self.use_batch_norm,
            "bn_scale": self.bn_scale, "bn_epsilon": self.bn_epsilon,
            "bn_momentum": self.bn_momentum,
            "activation": keras.activations.serialize(self.activation),
            "factorize": self.factorize, "depthwise": self.depthwise,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
        }


@keras.saving.register_keras_serializable(package="keras_video")
class SepConv3D(keras.layers.Layer):
    """Separable spatiotemporal conv of S3D: a `1 x kh x kw` Unit3D, then a `kt x 1 x 1` Unit3D.

    Each part has its own BatchNorm and activation (torchvision's `TemporalSeparableConv`,
    TF-slim's `conv3d_spatiotemporal(separable=True)`). With `kt == 1` it is the spatial unit
    alone (strides included), as in the 2D blocks of the top-/bottom-heavy networks.
    Extra keyword arguments (padding, BN options, ...) go to both units.
    """

    def __init__(self, filters, kernel_size=(3, 3, 3), strides=(1, 1, 1), name=None,
                 **unit_kwargs):
        super().__init__(name=name, **{k: unit_kwargs.pop(k) for k in ("dtype", "trainable")
                                       if k in unit_kwargs})
        triple = lambda v: (v,) * 3 if isinstance(v, int) else tuple(v)  # noqa: E731
        self.filters, self.kernel_size, self.strides = filters, triple(kernel_size), triple(strides)
        self.unit_kwargs = unit_kwargs
        kt, kh, kw = self.kernel_size
        st, sh, sw = self.strides
        if kt == 1:
            self.spatial = Unit3D(filters, (1, kh, kw), (st, sh, sw), name="spatial",
                                  **unit_kwargs)
            self.temporal = None
        else:
            self.spatial = Unit3D(filters, (1, kh, kw), (1, sh, sw), name="spatial", **unit_kwargs)
            self.temporal = Unit3D(filters, (kt, 1, 1), (st, 1, 1), name="temporal",
                                   **unit_kwargs)

    def build(self, input_shape):
        self.spatial.build(input_shape)
        if self.temporal is not None:
            self.temporal.build(self.spatial.compute_output_shape(input_shape))

    def call(self, x, training=None):
        x = self.spatial(x, training=training)
        return x if self.temporal is None else self.temporal(x, training=training)

    def compute_output_shape(self, input_shape):
        shape = self.spatial.compute_output_shape(input_shape)
        return shape if self.temporal is None else self.temporal.compute_output_shape(shape)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters,
                "kernel_size": self.kernel_size, "strides": self.strides,
                **serialize_unit_kwargs(self.unit_kwargs)}
