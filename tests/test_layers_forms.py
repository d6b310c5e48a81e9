"""Inside `layers.forms.native_3d()` every layer traces one native 3D op and computes what its
default (2D-over-frames) form computes."""
import numpy as np
import pytest
import tensorflow as tf

from keras_video.layers import (AveragePooling3D, Conv3D, DepthwiseConv3D, MaxPooling3D,
                                SelfGating, forms)


def traced_ops(layer, shape, native):
    """Op types of `layer` traced (not run) on `shape`, in the native form or the default."""
    function = tf.function(lambda x: layer(x), autograph=False)
    if native:
        with forms.native_3d():
            graph = function.get_concrete_function(tf.TensorSpec(shape)).graph
    else:
        graph = function.get_concrete_function(tf.TensorSpec(shape)).graph
    return {op.type for op in graph.get_operations()}


def native(layer, x, jit_compile=False):
    with forms.native_3d():
        return np.asarray(tf.function(layer, jit_compile=jit_compile, autograph=False)(x))


def test_scope_is_left_on_exit():
    with pytest.raises(RuntimeError):
        with forms.native_3d():
            assert forms.is_native_3d()
            raise RuntimeError
    assert not forms.is_native_3d()


@pytest.mark.parametrize("kernel,strides", [((1, 3, 3), (1, 2, 2)), ((3, 1, 1), (2, 1, 1)),
                                            ((3, 3, 3), (1, 1, 1)), ((3, 7, 7), (2, 2, 2))])
def test_conv3d_traces_one_3d_conv(kernel, strides, rng):
    layer = Conv3D(4, kernel, strides, padding="same")
    x = rng.normal(size=(2, 7, 11, 10, 3)).astype("float32")
    expected = np.asarray(layer(x))
    assert "Conv2D" in traced_ops(layer, x.shape, native=False)
    assert {"Conv3D"} & traced_ops(layer, x.shape, native=True) and \
        "Conv2D" not in traced_ops(layer, x.shape, native=True)
    np.testing.assert_allclose(native(layer, x), expected, atol=1e-5)


@pytest.mark.parametrize("size,strides,padding", [
    ((1, 3, 3), (1, 2, 2), "symmetric"), ((3, 3, 3), (2, 2, 2), "symmetric"),
    ((3, 3, 3), (1, 1, 1), "symmetric"), ((2, 2, 2), (2, 2, 2), "symmetric"),
    ((3, 3, 3), (2, 2, 2), "same"), ((2, 3, 3), (1, 2, 2), "valid")])
def test_max_pool_traces_one_3d_pool(size, strides, padding, rng):
    layer = MaxPooling3D(size, strides, padding=padding)
    x = rng.normal(size=(2, 8, 12, 11, 3)).astype("float32") - 5.0  # all negative: zeros would win
    expected = np.asarray(layer(x))
    ops = traced_ops(layer, x.shape, native=True)
    assert "MaxPool3D" in ops and "MaxPool" not in ops and "MirrorPad" not in ops
    np.testing.assert_allclose(native(layer, x), expected)


@pytest.mark.parametrize("size,strides", [((2, 7, 7), (1, 1, 1)), ((3, 3, 3), (2, 2, 2)),
                                          ((2, 1, 1), (1, 1, 1))])
def test_average_pool_traces_one_3d_pool(size, strides, rng):
    layer = AveragePooling3D(size, strides)
    x = rng.normal(size=(2, 7, 9, 10, 3)).astype("float32")
    expected = np.asarray(layer(x))
    assert traced_ops(layer, x.shape, native=True) & {"AvgPool3D"}
    np.testing.assert_allclose(native(layer, x), expected, atol=1e-6)


@pytest.mark.parametrize("kernel,strides,padding,dilation,multiplier", [
    ((3, 3, 3), (1, 1, 1), "same", (1, 1, 1), 1),
    ((3, 3, 3), (2, 2, 2), "same", (1, 1, 1), 1),
    ((3, 3, 3), (1, 2, 2), "valid", (1, 1, 1), 2),
    ((3, 3, 3), (1, 1, 1), "same", (2, 2, 2), 1),
])
def test_depthwise_conv_traces_one_grouped_conv(kernel, strides, padding, dilation, multiplier,
                                                rng):
    """TensorFlow's CPU kernels have no grouped 3D conv: the native form runs under XLA."""
    layer = DepthwiseConv3D(kernel, strides, padding, dilation, multiplier, use_bias=True,
                            bias_initializer="random_normal", implementation="depthwise2d")
    x = rng.normal(size=(2, 7, 11, 10, 6)).astype("float32")
    expected = np.asarray(layer(x))
    ops = traced_ops(layer, x.shape, native=True)
    assert "Conv3D" in ops and "DepthwiseConv2dNative" not in ops
    np.testing.assert_allclose(native(layer, x, jit_compile=True), expected, atol=1e-5)


@pytest.mark.parametrize("use_bias", [True, False])
def test_self_gating_traces_a_conv_of_the_pooled_clip(use_bias, rng):
    layer = SelfGating(use_bias=use_bias, kernel_initializer="random_normal")
    x = rng.normal(size=(2, 4, 5, 6, 8)).astype("float32")
    layer.build(x.shape)
    if use_bias:
        layer.transform.bias.assign(rng.normal(size=8).astype("float32"))
    expected = np.asarray(layer(x))
    ops = traced_ops(layer, x.shape, native=True)
    assert "Conv3D" in ops and "MatMul" not in ops
    np.testing.assert_allclose(native(layer, x), expected, atol=1e-6)
