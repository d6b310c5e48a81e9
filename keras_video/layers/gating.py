"""Self-gating of S3D-G (Xie et al. 2018, eq. 2): features reweighted by a context-driven gate."""
import keras
from keras import ops

from keras_video.layers import forms


@keras.saving.register_keras_serializable(package="keras_video")
class SelfGating(keras.layers.Layer):
    """`y = sigmoid(W . mean_{t,h,w}(x) + b) * x`, one gate per channel and clip.

    As TF-slim's `s3dg.self_gating`: spatiotemporal average pooling, a 1x1x1 conv (a dense layer
    on the pooled vector; kernel `(C, C)`), sigmoid, multiply. Slim's conv has no bias; this
    one has a bias by default (`use_bias=False` gives slim's form), which S3D-G's registered
    weights expect: they are S3D's with every gate at `sigmoid(0) = 0.5` and the BatchNorm
    before it doubled, so the network computes S3D's function (`identity_gates` in
    `keras_video.zoo.inception3d.checkpoints`).
    """

    def __init__(self, use_bias=True, kernel_initializer=None, kernel_regularizer=None,
                 **kwargs):
        super().__init__(**kwargs)
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(
            kernel_initializer or keras.initializers.TruncatedNormal(stddev=0.01))
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)

    def build(self, input_shape):
        channels = input_shape[-1]
        self.transform = keras.layers.Dense(
            channels, use_bias=self.use_bias, kernel_initializer=self.kernel_initializer,
            kernel_regularizer=self.kernel_regularizer, name="transform")
        self.transform.build((None, channels))

    def call(self, x):
        if forms.is_native_3d():  # as slim: a 1x1x1 conv of the pooled clip, layout-agnostic
            pooled = ops.mean(x, axis=(1, 2, 3), keepdims=True)
            kernel = self.transform.kernel
            kernel = ops.reshape(kernel, (1, 1, 1) + tuple(kernel.shape))
            logits = ops.conv(pooled, kernel)
            if self.use_bias:
                logits = logits + self.transform.bias
            return x * ops.sigmoid(logits)
        gate = ops.sigmoid(self.transform(ops.mean(x, axis=(1, 2, 3))))
        return x * gate[:, None, None, None, :]

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(), "use_bias": self.use_bias,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
        }
