"""The Inception block of I3D / S3D / S3D-G, with per-block temporal kernel and gating switches."""
import keras
from keras import ops

from keras_video.layers.conv import SepConv3D, Unit3D, serialize_unit_kwargs
from keras_video.layers.gating import SelfGating
from keras_video.layers.pooling import MaxPooling3D


@keras.saving.register_keras_serializable(package="keras_video")
class InceptionBlock3D(keras.layers.Layer):
    """Four branches concatenated on channels (Inception-v1 "Mixed" block, inflated to video).

    `filters = (b0, b1_reduce, b1, b2_reduce, b2, b3)`: branch 0 a 1x1x1 unit; branches 1 and 2
    a 1x1x1 reduction then a `t x 3 x 3` conv (full 3D as I3D, or separable as S3D when
    `separable=True`; `temporal_kernel_size=1` makes it 2D); branch 3 a `tp x 3 x 3` max pool
    then a 1x1x1 unit. With `gating=True` each branch ends in a SelfGating (S3D-G).
    Extra keyword arguments (padding, BN options, factorize, ...) go to every unit.
    """

    def __init__(self, filters, temporal_kernel_size=3, separable=False, gating=False,
                 gating_use_bias=True, temporal_pool_size=3, name=None, **unit_kwargs):
        super().__init__(name=name, **{k: unit_kwargs.pop(k) for k in ("dtype", "trainable")
                                       if k in unit_kwargs})
        if len(filters) != 6:
            raise ValueError(f"filters needs 6 widths (b0, b1_reduce, b1, b2_reduce, b2, b3), "
                             f"got {filters}")
        self.filters = tuple(int(f) for f in filters)
        self.temporal_kernel_size = temporal_kernel_size
        self.separable, self.gating, self.gating_use_bias = separable, gating, gating_use_bias
        self.temporal_pool_size = temporal_pool_size
        self.unit_kwargs = unit_kwargs
        b0, b1a, b1b, b2a, b2b, b3 = self.filters
        kernel = (temporal_kernel_size, 3, 3)
        spatiotemporal = (lambda f, n: SepConv3D(f, kernel, name=n, **unit_kwargs)) if separable \
            else (lambda f, n: Unit3D(f, kernel, name=n, **unit_kwargs))
        self.branch_0 = [Unit3D(b0, 1, name="Branch_0_Conv3d_0a_1x1", **unit_kwargs)]
        self.branch_1 = [Unit3D(b1a, 1, name="Branch_1_Conv3d_0a_1x1", **unit_kwargs),
                         spatiotemporal(b1b, "Branch_1_Conv3d_0b_3x3")]
        self.branch_2 = [Unit3D(b2a, 1, name="Branch_2_Conv3d_0a_1x1", **unit_kwargs),
                         spatiotemporal(b2b, "Branch_2_Conv3d_0b_3x3")]
        self.branch_3 = [MaxPooling3D((temporal_pool_size, 3, 3), strides=1,
                                      padding=unit_kwargs.get("padding", "same"),
                                      name="Branch_3_MaxPool3d_0a_3x3"),
                         Unit3D(b3, 1, name="Branch_3_Conv3d_0b_1x1", **unit_kwargs)]
        if gating:
            for i, branch in enumerate(self.branches):
                branch.append(SelfGating(use_bias=gating_use_bias, name=f"Branch_{i}_gating"))

    @property
    def branches(self):
        return (self.branch_0, self.branch_1, self.branch_2, self.branch_3)

    def build(self, input_shape):
        for branch in self.branches:
            shape = input_shape
            for layer in branch:
                layer.build(shape)
                shape = layer.compute_output_shape(shape)

    def call(self, x):
        outputs = []
        for branch in self.branches:
            y = x
            for layer in branch:
                y = layer(y)  # Keras passes `training` down through the call context
            outputs.append(y)
        return ops.concatenate(outputs, axis=-1)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.filters[0] + self.filters[2] + self.filters[4]
                                          + self.filters[5],)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters,
                "temporal_kernel_size": self.temporal_kernel_size, "separable": self.separable,
                "gating": self.gating, "gating_use_bias": self.gating_use_bias,
                "temporal_pool_size": self.temporal_pool_size,
                **serialize_unit_kwargs(self.unit_kwargs)}
